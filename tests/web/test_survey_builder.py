"""The organizer's survey builder through the real pages: access, journeys, errors, safety."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime
from html import unescape

import pytest
from sqlalchemy import event, select

from challenge.audit import AuditEvent
from surveys import admin_services
from surveys.admin_services import QuestionData, SurveySettings
from surveys.models import Answer, Question, Response, Survey
from tests.conftest import login

XSS = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"

SETTINGS = {
    "title": "Daily life 2027",
    "slug": "",
    "intro": "Tell us **what is missing**.",
    "sponsor_disclosure": "Run by the organizers.",
    "usage": "Counts only.",
    "consent_text": "I agree.",
    "anonymous": "y",
    "opens_at": "",
    "closes_at": "",
    "min_cell_size": "11",
}

# One form post per question type, as an organizer would fill the question form.
QUESTIONS = [
    {"text": "Which describes you?", "type": "single", "key": "role", "required": "y",
     "segment": "y", "options": "patient|I live with diabetes\ncarer|I care for someone"},
    {"text": "Which type?", "type": "single", "key": "dtype", "show_if": "role:patient",
     "options": "t1|Type 1\nt2|Type 2\nOther or not sure"},
    {"text": "Which devices do you use?", "type": "multi", "key": "devices",
     "options": "cgm|Continuous glucose monitor\npump|Insulin pump"},
    {"text": "How stressful is meal planning?", "type": "scale", "key": "stress",
     "min_value": "1", "max_value": "7", "min_label": "Not stressful",
     "max_label": "Very stressful"},
    {"text": "Keeping my glucose steady when I exercise", "type": "need", "key": "exercise",
     "category": "activity"},
    {"text": "How old are you?", "type": "number", "key": "age", "min_value": "0",
     "max_value": "120", "section": "About you"},
    {"text": "What else should innovators know?", "type": "text", "key": "story",
     "help": "In your own words."},
]


@pytest.fixture
def organizer(client, make_user):
    user = make_user("org@example.org", "organizer")
    login(client, "org@example.org")
    return user


def make_survey(app, organizer, title="Daily life 2027", questions=(), status="draft"):
    """A survey made through the services (the web journey is tested separately)."""
    from challenge.db import session_scope

    with app.app_context(), session_scope(app) as s:
        survey = admin_services.create_survey(s, SurveySettings(title=title), actor=organizer)
        for data in questions:
            admin_services.add_question(s, survey, data, actor=organizer)
        if status != "draft":
            admin_services.set_status(s, survey, "open", actor=organizer)
        if status == "closed":
            admin_services.set_status(s, survey, "closed", actor=organizer)
        return survey.slug


def role_question(text="Which describes you?") -> QuestionData:
    return QuestionData(text=text, type="single", key="role",
                        options=[{"value": "patient", "label": "Patient"},
                                 {"value": "carer", "label": "Carer"}])


def submit_response(session, slug, answers: dict[str, dict], *, on=date(2027, 1, 12),
                    status="submitted", page_reached=0):
    """Insert a response with answers by question key (as the respondent side stores them)."""
    survey = session.scalar(select(Survey).where(Survey.slug == slug))
    by_key = {q.key: q for q in survey.questions}
    response = Response(survey_id=survey.id, status=status, consent_version=1,
                        submitted_on=on if status == "submitted" else None,
                        page_reached=page_reached)
    for key, columns in answers.items():
        response.answers.append(Answer(question_id=by_key[key].id, **columns))
    session.add(response)
    session.commit()
    return response


# --- access ---------------------------------------------------------------------------------

def _pages(slug: str) -> list[str]:
    base = "/organize/surveys"
    return [f"{base}/", f"{base}/new", f"{base}/{slug}/questions", f"{base}/{slug}/settings",
            f"{base}/{slug}/questions/new", f"{base}/{slug}/questions/role/edit",
            f"{base}/{slug}/preview", f"{base}/{slug}/responses",
            f"{base}/{slug}/responses.csv"]


def _posts(slug: str) -> list[str]:
    base = f"/organize/surveys/{slug}"
    return [f"{base}/open", f"{base}/close", f"{base}/questions/role/move/down",
            f"{base}/questions/role/remove", f"{base}/settings", f"{base}/questions/new",
            "/organize/surveys/new"]


def test_every_page_is_for_organizers_only(app, client, make_user):
    org = make_user("org@example.org", "organizer")
    slug = make_survey(app, org, questions=[role_question()])
    for path in _pages(slug):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path
    for path in _posts(slug):
        response = client.post(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path
    for role in ("patient", "entrant", "judge", "safety"):
        make_user(f"{role}@example.org", role)
        login(client, f"{role}@example.org")
        for path in _pages(slug):
            assert client.get(path).status_code == 403, (role, path)
        for path in _posts(slug):
            assert client.post(path).status_code == 403, (role, path)
        client.post("/logout")
    login(client, "org@example.org")
    for path in _pages(slug):
        assert client.get(path).status_code == 200, path
    endpoints = {r.endpoint for r in app.url_map.iter_rules()
                 if r.endpoint.startswith("survey_admin.")}
    assert len(endpoints) == 13
    for endpoint in endpoints:
        assert app.view_functions[endpoint].allowed_roles == ("organizer",), endpoint


def test_unknown_survey_or_question_is_404(client, organizer, app):
    slug = make_survey(app, organizer, questions=[role_question()])
    for path in ("/organize/surveys/nope/questions", "/organize/surveys/nope/settings",
                 "/organize/surveys/nope/preview", "/organize/surveys/nope/responses",
                 "/organize/surveys/nope/responses.csv",
                 f"/organize/surveys/{slug}/questions/nope/edit"):
        assert client.get(path).status_code == 404, path
    assert client.post("/organize/surveys/nope/open").status_code == 404
    assert client.post(f"/organize/surveys/{slug}/questions/nope/remove").status_code == 404
    assert client.post(f"/organize/surveys/{slug}/questions/nope/move/up").status_code == 404


def test_navigation_and_dashboard_panel_for_organizers(client, organizer):
    dashboard = client.get("/dashboard").get_data(as_text=True)
    assert 'href="/organize/surveys/"' in dashboard
    assert "No surveys yet." in dashboard


def test_empty_list_tells_what_to_do(client, organizer):
    html = client.get("/organize/surveys/").get_data(as_text=True)
    assert "Create your first survey" in html
    assert "flask --app challenge surveys import FILE.json" in html


# --- the whole journey --------------------------------------------------------------------------

def test_create_add_every_type_preview_and_open(client, organizer, session):
    form = client.get("/organize/surveys/new").get_data(as_text=True)
    assert "UTC" in form and 'type="datetime-local"' in form
    created = client.post("/organize/surveys/new", data={**SETTINGS,
                                                           "closes_at": "2027-03-01T17:00"})
    assert created.status_code == 302
    assert created.headers["Location"].endswith("/organize/surveys/daily-life-2027/questions")
    survey = session.scalar(select(Survey).where(Survey.slug == "daily-life-2027"))
    assert survey.status == "draft"
    assert survey.closes_at == datetime(2027, 3, 1, 17, 0, tzinfo=UTC)

    refused = client.post("/organize/surveys/daily-life-2027/open", follow_redirects=True)
    assert "A survey without questions cannot be opened" in refused.get_data(as_text=True)

    for data in QUESTIONS:
        page = client.get(f"/organize/surveys/daily-life-2027/questions/new?type={data['type']}")
        assert page.status_code == 200
        response = client.post("/organize/surveys/daily-life-2027/questions/new", data=data)
        assert response.status_code == 302, (data["key"], response.get_data(as_text=True))

    session.expire_all()
    survey = session.scalar(select(Survey).where(Survey.slug == "daily-life-2027"))
    assert [q.key for q in survey.active_questions] == [q["key"] for q in QUESTIONS]
    dtype = next(q for q in survey.questions if q.key == "dtype")
    assert dtype.show_if == {"key": "role", "equals": "patient"}
    assert dtype.options[-1] == {"value": "Other or not sure", "label": "Other or not sure"}
    stress = next(q for q in survey.questions if q.key == "stress")
    assert (stress.min_value, stress.max_value, stress.max_label) == (1, 7, "Very stressful")

    builder = client.get("/organize/surveys/daily-life-2027/questions").get_data(as_text=True)
    for data in QUESTIONS:
        assert data["text"] in builder
    assert "only if role is “patient”" in builder

    preview = client.get("/organize/surveys/daily-life-2027/preview").get_data(as_text=True)
    assert "Preview — answers are not saved" in preview
    for data in QUESTIONS:
        assert data["text"] in preview
    assert 'name="q_exercise.importance"' in preview and 'name="q_stress"' in preview
    assert "Very stressful" in preview and "Page 4 of 4" in preview
    assert "<h2>About you</h2>" in preview
    assert "<form" not in preview.split('id="main"')[1]  # nothing can be sent from here
    assert 'type="submit"' not in preview.split('id="main"')[1]

    opened = client.post("/organize/surveys/daily-life-2027/open", follow_redirects=True)
    assert "The survey is open" in opened.get_data(as_text=True)
    session.expire_all()
    assert session.scalar(select(Survey.status).where(Survey.slug == "daily-life-2027")) == "open"
    assert client.get("/s/daily-life-2027").status_code == 200  # respondents see it now
    closed = client.post("/organize/surveys/daily-life-2027/close", follow_redirects=True)
    assert "The survey is closed" in closed.get_data(as_text=True)
    reopened = client.post("/organize/surveys/daily-life-2027/open", follow_redirects=True)
    assert "The survey is open" in reopened.get_data(as_text=True)
    listing = client.get("/organize/surveys/").get_data(as_text=True)
    assert "Daily life 2027" in listing and "Open" in listing


def test_edit_move_and_remove_through_the_pages(client, organizer, app, session):
    slug = make_survey(app, organizer, questions=[
        role_question(), QuestionData(text="Age", type="number", key="age")])
    edit = client.get(f"/organize/surveys/{slug}/questions/role/edit").get_data(as_text=True)
    assert "patient|Patient" in edit
    saved = client.post(f"/organize/surveys/{slug}/questions/role/edit", data={
        "text": "Who are you?", "type": "single", "key": "role",
        "options": "patient|Patient\ncarer|Carer\nother|Someone else"})
    assert saved.status_code == 302
    moved = client.post(f"/organize/surveys/{slug}/questions/age/move/up")
    assert moved.status_code == 302
    session.expire_all()
    survey = session.scalar(select(Survey).where(Survey.slug == slug))
    assert [q.key for q in survey.active_questions] == ["age", "role"]
    assert survey.active_questions[1].option_values == ["patient", "carer", "other"]
    first = client.post(f"/organize/surveys/{slug}/questions/age/move/up",
                        follow_redirects=True)
    assert "already the first question" in first.get_data(as_text=True)
    removed = client.post(f"/organize/surveys/{slug}/questions/age/remove",
                          follow_redirects=True)
    assert "Question “age” removed." in removed.get_data(as_text=True)
    session.expire_all()
    assert session.scalar(select(Question).where(Question.key == "age")) is None


def test_settings_edit_keeps_values_and_protects_answered_surveys(client, organizer, app,
                                                                  session):
    slug = make_survey(app, organizer, questions=[role_question()], status="open")
    page = client.get(f"/organize/surveys/{slug}/settings").get_data(as_text=True)
    assert 'value="daily-life-2027"' in page and "readonly" not in page
    submit_response(session, slug, {"role": {"choice": "carer"}})
    page = client.get(f"/organize/surveys/{slug}/settings").get_data(as_text=True)
    assert "readonly" in page
    refused = client.post(f"/organize/surveys/{slug}/settings", data={
        k: v for k, v in {**SETTINGS, "slug": slug, "title": "Renamed title"}.items()
        if k != "anonymous"})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "cannot switch between anonymous" in html
    assert 'value="Renamed title"' in html
    slug_change = client.post(f"/organize/surveys/{slug}/settings",
                              data={**SETTINGS, "slug": "another-address"})
    assert slug_change.status_code == 422
    assert "address cannot change" in slug_change.get_data(as_text=True)
    ok = client.post(f"/organize/surveys/{slug}/settings", data={**SETTINGS, "slug": slug,
                                                                 "title": "Renamed title"})
    assert ok.status_code == 302
    session.expire_all()
    survey = session.scalar(select(Survey).where(Survey.slug == slug))
    assert survey.title == "Renamed title" and survey.anonymous is True


# --- invalid input ---------------------------------------------------------------------------

def test_invalid_settings_rerender_with_typed_values_and_field_errors(client, organizer,
                                                                      session):
    response = client.post("/organize/surveys/new", data={
        **SETTINGS, "title": "Times", "slug": "Bad Slug", "opens_at": "2027-02-01T09:00",
        "closes_at": "2027-01-01T09:00", "intro": "Typed intro"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'value="Times"' in html and "Typed intro" in html
    assert 'value="2027-02-01T09:00"' in html
    assert "Must be after opens_at." in html
    assert "lower-case letters" in html
    assert 'aria-invalid="true"' in html
    bad = client.post("/organize/surveys/new", data={**SETTINGS, "title": "",
                                                     "opens_at": "tomorrow",
                                                     "min_cell_size": "two"})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert "Give the survey a title." in html and "Enter a date and time" in html
    assert 'value="tomorrow"' in html
    assert session.scalar(select(Survey.id)) is None


def test_taken_slug_is_refused_on_create(client, organizer, app):
    make_survey(app, organizer)
    response = client.post("/organize/surveys/new", data={**SETTINGS, "title": "Other",
                                                           "slug": "daily-life-2027"})
    assert response.status_code == 422
    assert "Another survey already uses “daily-life-2027”" in response.get_data(as_text=True)


@pytest.mark.parametrize(("data", "messages"), [
    ({"text": "Pick one", "type": "single", "key": "pick", "options": ""},
     ["A single question needs at least one option."]),
    ({"text": "Pick some", "type": "multi", "key": "pick", "options": "a;b|A or B"},
     ["Option 1: value must be non-empty text without ';'."]),
    ({"text": "Rate it", "type": "scale", "key": "rate", "min_value": "5", "max_value": "2"},
     ["A scale runs between whole numbers"]),
    ({"text": "Rate it", "type": "scale", "key": "rate", "min_value": "abc"},
     ["Enter a number, for example 5 or 2.5."]),
    ({"text": "Say it", "type": "text", "key": "Say It", "segment": "y"},
     ["Must be lower-case letters", "Only single-choice questions can be segments."]),
    ({"text": "", "type": "need", "key": "n1"}, ["Write the question."]),
    ({"text": "Odd", "type": "emoji", "key": "odd"}, ["Not a valid choice"]),
    ({"text": "Later", "type": "text", "key": "later", "show_if": "role:nobody"},
     ["'nobody' is not an option of 'role'."]),
])
def test_invalid_question_rerenders_with_typed_values_and_errors(client, organizer, app, data,
                                                                 messages):
    slug = make_survey(app, organizer, questions=[role_question()])
    response = client.post(f"/organize/surveys/{slug}/questions/new", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422, html
    for message in messages:
        assert message in unescape(html)
    if data["text"]:
        assert data["text"] in html
    assert f'value="{data["key"].lower()}"' in html  # keys are lower-cased as typed
    assert "error-summary" in html


def test_answered_question_is_archived_not_deleted(client, organizer, app, session):
    slug = make_survey(app, organizer, questions=[
        role_question(), QuestionData(text="Tell us more", type="text", key="story")])
    submit_response(session, slug, {"role": {"choice": "patient"},
                                    "story": {"text": "Mornings are hard"}})
    builder = client.get(f"/organize/surveys/{slug}/questions").get_data(as_text=True)
    assert "Has answers" in builder and "archived, not deleted" in builder
    change_type = client.post(f"/organize/surveys/{slug}/questions/story/edit", data={
        "text": "Tell us more", "type": "number", "key": "story"})
    assert change_type.status_code == 422
    assert "already has answers, so its type cannot change" in change_type.get_data(
        as_text=True)
    response = client.post(f"/organize/surveys/{slug}/questions/story/remove",
                           follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "has answers, so it was archived" in html
    assert "Archived questions" in html
    session.expire_all()
    story = session.scalar(select(Question).where(Question.key == "story"))
    assert story.archived is True
    assert session.scalar(select(Answer.text).where(Answer.question_id == story.id)) == (
        "Mornings are hard")
    preview = client.get(f"/organize/surveys/{slug}/preview").get_data(as_text=True)
    assert "Tell us more" not in preview


def test_anonymity_can_change_before_anyone_answered(client, organizer, app, session):
    slug = make_survey(app, organizer)
    data = {k: v for k, v in SETTINGS.items() if k != "anonymous"} | {"slug": slug}
    response = client.post(f"/organize/surveys/{slug}/settings", data=data)
    assert response.status_code == 302
    assert session.scalar(select(Survey.anonymous).where(Survey.slug == slug)) is False


# --- responses and export ----------------------------------------------------------------------

def test_responses_overview_counts_chart_and_table(client, organizer, app, session):
    slug = make_survey(app, organizer, questions=[role_question()], status="open")
    empty = client.get(f"/organize/surveys/{slug}/responses").get_data(as_text=True)
    assert "No responses submitted yet." in empty
    for day in (date(2027, 1, 10), date(2027, 1, 10), date(2027, 1, 12)):
        submit_response(session, slug, {"role": {"choice": "patient"}}, on=day)
    submit_response(session, slug, {}, status="draft", page_reached=1)
    response = client.get(f"/organize/surveys/{slug}/responses")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert re.search(r"<dt>Submitted</dt><dd>3</dd>", html)
    assert re.search(r"<dt>Drafts[^<]*</dt><dd>1</dd>", html)
    assert "75.0%" in html
    assert "<svg" in html and "<title id=\"per-day-title\">" in html and "<desc" in html
    assert html.count('class="bar"') == 3  # 10, 11 (zero) and 12 January
    assert "<td>2027-01-10</td><td class=\"num\">2</td>" in html
    assert "<td>2027-01-11</td><td class=\"num\">0</td>" in html
    assert "Page 1" in html
    assert "style=" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)  # no inline scripts
    assert "Download responses (CSV)" in html


def test_csv_download_is_formula_safe_and_audited(client, organizer, app, session):
    slug = make_survey(app, organizer, questions=[
        role_question(), QuestionData(text="Tell us more", type="text", key="story")],
        status="open")
    submit_response(session, slug, {"role": {"choice": "carer"},
                                    "story": {"text": "=HYPERLINK(\"http://x\")"}})
    response = client.get(f"/organize/surveys/{slug}/responses.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert f"{slug}-responses-" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    header, row = rows[0], rows[1]
    assert row[header.index("story")] == "'=HYPERLINK(\"http://x\")"
    assert row[header.index("role")] == "carer"
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "survey.exported"))
    assert event.target == f"survey:{slug}" and event.actor_label == "org@example.org"


# --- safety ---------------------------------------------------------------------------------

def test_titles_and_question_texts_are_escaped(client, organizer, app):
    slug = make_survey(app, organizer, title=f"Title {XSS}", questions=[
        role_question(text=f"Question {XSS}"),
        QuestionData(text=f"Free {XSS}", type="text", key="story", help=f"Help {XSS}")])
    for path in ("/organize/surveys/", f"/organize/surveys/{slug}/questions",
                 f"/organize/surveys/{slug}/preview", f"/organize/surveys/{slug}/responses",
                 f"/organize/surveys/{slug}/settings",
                 f"/organize/surveys/{slug}/questions/role/edit"):
        html = client.get(path).get_data(as_text=True)
        assert XSS not in html, path
        assert ESCAPED in html, path


def test_index_paginates_with_a_constant_number_of_queries(client, organizer, app):
    def count_queries(path: str) -> int:
        seen = []

        def on_execute(*_args):
            seen.append(1)

        engine = app.extensions["db_engine"]
        event.listen(engine, "before_cursor_execute", on_execute)
        try:
            assert client.get(path).status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", on_execute)
        return len(seen)

    make_survey(app, organizer, title="Survey 0", questions=[role_question()])
    few = count_queries("/organize/surveys/")
    for i in range(1, 30):
        make_survey(app, organizer, title=f"Survey {i}")
    many = count_queries("/organize/surveys/")
    assert many == few
    first = client.get("/organize/surveys/").get_data(as_text=True)
    assert "Page 1 of 2" in first and "Survey 29" in first
    second = client.get("/organize/surveys/?page=2").get_data(as_text=True)
    assert "Survey 0" in second and "Survey 29" not in second
