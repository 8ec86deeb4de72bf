"""Stored XSS: hostile text in every free-text field, every page rendered, nothing executes.

One world is built once for the module, through the real imports (surveys import,
import-responses, challenges import, judging import-scores), the services and the pages,
with a script/handler/attribute-breakout payload (tests/html_safety.py) in every text a
person or a file can fill: names of people, teams and panels, survey titles, intros,
question texts, help, labels, options, sections and categories, free-text answers, consent
and usage texts, guideline titles and bodies, challenge descriptions, rules, IP terms and
sponsor disclosures, rubric names, descriptions and level texts, entry titles, summaries and
file names, join-request messages, judge comments and feedback, conflict reasons, awards,
safety notes, and e-mail addresses where the platform accepts them. Then every GET route
of `app.url_map` is rendered for every kind of visitor of the authorization matrix (plus
the pages only reachable with particular ids or query strings), and each page is parsed:
no tag, event handler or script URL may come from the payload. Escaped payloads must be
visible on the main pages (so the test is not vacuous).
"""

from __future__ import annotations

import contextvars
import copy
import csv
import io
import json
import re
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from flask import url_for
from sqlalchemy import select

from challenge import clock
from challenge.accounts.models import User
from tests.conftest import login
from tests.html_safety import ESCAPED_MARK, PAYLOAD, SHORT_PAYLOAD, unsafe_markup
from tests.web.test_authorization_matrix import (
    EMAILS,
    VISITORS,
    close_world,
    url_args,
    visitor_clients,
    world_app,
)
from tests.web.test_survey_answering import CONTRACT as SURVEY_FILE

P = PAYLOAD
# No "/" (a path separator); no '"' either, which the test client cannot put in a multipart
# file name (a browser sends %22): that one is added through the service the form uses.
FILE_PAYLOAD = "'><img src=x onerror=alert(1)><svg onload=alert(1)>"
QUOTED_FILE_PAYLOAD = "\"'><img src=x onerror=alert(1)><svg onload=alert(1)>"
MD = P + "\n\n[link](javascript:alert(1)) ![i](https://evil.example/x.png) **bold**"

REGISTERED = datetime(2027, 1, 11, 9, tzinfo=UTC)  # registration open, survey open
DRAFTING = datetime(2027, 2, 1, 9, tzinfo=UTC)  # before the submission deadline
JUDGING = datetime(2027, 3, 10, 9, tzinfo=UTC)  # deadline passed, judging open
RESULTS = datetime(2027, 4, 16, 9, tzinfo=UTC)  # judging closed, results time
CHALLENGE = "ddd-2027"
SURVEY = "daily-life-2027"
SECOND_SURVEY = "named-2027"


def named(text: str, limit: int) -> str:
    """The payload, or the short one when the field is shorter."""
    return text if len(text) <= limit else SHORT_PAYLOAD


def run(app, *args, input: str | None = None):  # noqa: A002 - click's own name
    result = contextvars.Context().run(app.test_cli_runner().invoke,
                                       args=[str(a) for a in args], input=input)
    assert result.exit_code == 0, (args, result.stderr)
    return result


def write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


def _survey_doc() -> dict:
    doc = json.loads(SURVEY_FILE.read_text())
    doc.update(title=P, intro=MD, sponsor_disclosure=MD, usage=MD, consent_text=P)
    for i, question in enumerate(doc["questions"]):
        question["section"] = P if i < 4 else f"Second {SHORT_PAYLOAD}"
        question["text"] = f"{P} {question['text']}"
        question["help"] = P
        for option in question.get("options", []):
            option["label"] = f"{P} {option['label']}"
        if question["type"] in ("scale", "need"):
            question["min_label"] = named(P, 80)
            question["max_label"] = named(P, 80)
        if question["type"] == "need":
            question["category"] = named(P, 64)
    return doc


def _responses_csv() -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["external_id", "role", "dtype", "exercise.importance",
                     "exercise.satisfaction", "devices", "stress", "age", "story"])
    for i in range(30):
        story = (f"Night hypo sleep lows {P}" if i % 2 else
                 f"After Ozempic I felt dizzy {P}" if i == 0 else f"Sport lows scare {P}")
        rating = ("5", "1") if i < 24 else ("2", "4")
        writer.writerow([f"{named(P, 120)}-{i}" if i < 3 else f"r-{i}", "patient", "t1",
                         *rating, "cgm", "4", "40", story])
    return out.getvalue()


def _challenge_doc() -> dict:
    return {
        "slug": CHALLENGE, "title": P, "description": MD, "rules": MD, "ip_terms": MD,
        "sponsor_disclosure": MD, "survey": SURVEY, "team_size": {"min": 1, "max": 5},
        "phases": {"registration_opens": "2027-01-10T00:00:00Z",
                   "submission_deadline": "2027-03-01T17:00:00Z",
                   "judging_closes": "2027-04-01T17:00:00Z",
                   "results_at": "2027-04-15T17:00:00Z"},
        "rubric": {"criteria": [
            {"key": "impact", "name": P, "description": MD, "weight": 40, "min": 1, "max": 5,
             "guidelines": ["exercise"], "levels": {"1": P, "5": P}},
            {"key": "feasibility", "name": f"Feasibility {P}", "weight": 30, "min": 1,
             "max": 5},
            {"key": "design", "name": f"Design {P}", "weight": 30, "min": 1, "max": 5}]},
        "normalization": "zscore", "reviews_per_entry": 2,
        "panels": {"expert": 1.0, "patient": 0.5},
        "judges": [{"email": EMAILS[k], "name": f"{k} {P}", "panel": "expert"}
                   for k in ("judge_assigned", "judge_unassigned", "judge_conflicted")],
        "teams": [
            {"name": f"A {named(P, 110)}", "members": [EMAILS["member_a"]],
             "submission": {"title": f"Entry A {P}", "summary": f"{MD} Ozempic dizzy",
                            "needs": ["exercise"], "demo_url": "https://example.org/a?x=\""
                            "'><svg/onload=alert(1)>"}},
            {"name": f"B {named(P, 110)}", "members": [EMAILS["member_b"]],
             "submission": {"title": f"Entry B {P}", "summary": MD, "needs": ["exercise"]}},
        ],
    }


def _answer_survey(client, slug: str, story: str) -> None:
    """Consent, then every page with every answer, to the end."""
    client.post(f"/s/{slug}", data={"consent": "yes", "quote": "yes"})
    answers = {"q_role": "patient", "q_dtype": "t1", "q_exercise.importance": "5",
               "q_exercise.satisfaction": "2", "q_devices": ["cgm"], "q_stress": "4",
               "q_age": "41", "q_story": story}
    number = 1
    while number < 10:
        page = client.get(f"/s/{slug}/page/{number}")
        assert page.status_code == 200, (slug, number, page.status_code)
        total = int(re.search(r"Page \d+ of (\d+)", page.get_data(as_text=True)).group(1))
        action = "submit" if number == total else "next"
        done = client.post(f"/s/{slug}/page/{number}", data={**answers, "action": action})
        assert done.status_code == 302, (slug, number, done.get_data(as_text=True)[:300])
        if action == "submit":
            return
        number += 1


def _build(app, tmp_path) -> SimpleNamespace:
    from challenge.accounts import services as accounts
    from challenge.challenges import submissions
    from challenge.challenges import teams as team_services
    from challenge.challenges.models import SubmissionFile, Team
    from challenge.db import session_scope
    from challenge.judging import conflicts, judges, results, reviews
    from challenge.judging.models import Assignment, JudgeSeat
    from challenge.judging.models import Conflict as ConflictRow
    from challenge.safety import services as safety
    from challenge.safety.models import Flag
    from surveys import guidelines, insights
    from surveys.models import Survey

    def session_for():
        return session_scope(app)

    clock.freeze(REGISTERED)
    with app.app_context(), session_for() as s:
        for kind, email in EMAILS.items():
            role = {"patient": ["patient"], "organizer": ["organizer"], "safety": ["safety"],
                    "judge_assigned": ["judge"], "judge_unassigned": ["judge"],
                    "judge_conflicted": ["judge"]}.get(kind, ["entrant"])
            accounts.create_user(s, email, password="correct horse battery staple",
                                 roles=role, name=f"{kind} {named(P, 100)}"
                                 if kind not in PLAIN_NAMES else f"Plain {kind}")
        accounts.create_user(s, "joiner@example.org", password="correct horse battery staple",
                             roles=["entrant"], name=named(P, 120))
    # the survey and its answers, through the imports and the pages
    run(app, "surveys", "import", write(tmp_path / "survey.json", json.dumps(_survey_doc())))
    run(app, "surveys", "import-responses", SURVEY, write(tmp_path / "r.csv", _responses_csv()))
    named_doc = _survey_doc()
    named_doc.update(slug=SECOND_SURVEY, anonymous=False)
    run(app, "surveys", "import", write(tmp_path / "named.json", json.dumps(named_doc)))
    patient = app.test_client()
    login(patient, EMAILS["patient"])
    _answer_survey(patient, SURVEY, f"After Ozempic I was dizzy {P}")
    _answer_survey(patient, SECOND_SURVEY, f"My own words {P}")
    stranger = app.test_client()
    stranger.post(f"/s/{SURVEY}", data={"consent": "yes"})
    page = stranger.get(f"/s/{SURVEY}/page/1").get_data(as_text=True)
    resume_token = re.search(rf"/s/{SURVEY}/resume/([A-Za-z0-9_\-]+)", page).group(1)
    # registration through the form, with a hostile name
    newcomer = app.test_client()
    registered = newcomer.post("/register", data={
        "name": named(P, 120), "email": "newcomer@example.org",
        "password": "correct horse battery staple",
        "confirm": "correct horse battery staple", "role": "entrant", "accept": "y"})
    assert registered.status_code == 302
    with app.app_context(), session_for() as s:
        survey = s.scalar(select(Survey).where(Survey.slug == SURVEY))
        report = insights.refresh(s, survey)
        doc = guidelines.generate_draft(s, survey, report)
        guidelines.update_draft(s, doc, title=P, intro=MD, items=[
            guidelines.ItemEdit(key=item.key, title=f"{P} {item.title}", body=MD)
            for item in doc.items])
        guidelines.publish(s, doc)
        draft = guidelines.new_version_from_published(s, survey)
        guidelines.update_draft(s, draft, title=f"Draft {P}", intro=MD, items=[
            guidelines.ItemEdit(key=item.key, title=f"Draft {P}", body=MD)
            for item in draft.items])
        survey_id = survey.id
    # the challenge, its teams, entries and judges, through the import
    run(app, "challenges", "import", write(tmp_path / "c.json", json.dumps(_challenge_doc())))
    # teams at work before the deadline: a file with a hostile name, a new team, a request,
    # an invitation by e-mail
    clock.freeze(DRAFTING)
    lee = app.test_client()
    login(lee, EMAILS["member_a"])
    uploaded = lee.post(f"/c/{CHALLENGE}/submission/files", content_type="multipart/form-data",
                        data={"file": (io.BytesIO(b"%PDF-1.4\n%%EOF\n"), FILE_PAYLOAD + ".pdf")})
    assert uploaded.status_code == 302, uploaded.status_code
    assert lee.post(f"/c/{CHALLENGE}/submission/submit").status_code == 302
    lee.post(f"/c/{CHALLENGE}/submission/gallery", data={"choice": "yes"})
    with app.app_context(), session_for() as s:
        challenge = team_services.get_challenge(s, CHALLENGE)
        team_a = s.scalar(select(Team).where(Team.name.like("A %")))
        team_b = s.scalar(select(Team).where(Team.name.like("B %")))
        entrant = accounts.find_user(s, EMAILS["entrant"])
        team_services.create_team(s, challenge, entrant, f"C {named(P, 110)}")
        joiner = accounts.find_user(s, "joiner@example.org")
        team_services.request_to_join(s, team_a, joiner, message=P)
        captain = accounts.find_user(s, EMAILS["member_a"])
        team_services.invite_by_email(s, team_a, captain, "invited@example.org")
        submissions.add_file(s, team_b, io.BytesIO(b"%PDF-1.4\n%%EOF\n"),
                             QUOTED_FILE_PAYLOAD + ".pdf",
                             actor=accounts.find_user(s, EMAILS["member_b"]))
        submissions.submit(s, team_b, actor=accounts.find_user(s, EMAILS["member_b"]))
        team_ids = (team_a.id, team_b.id)
    # judging: assignments, conflicts with hostile reasons, reviews with hostile texts, a
    # panel with a hostile-free name (panel names are slugs)
    clock.freeze(JUDGING)
    run(app, "judging", "assign", CHALLENGE)
    with app.app_context(), session_for() as s:
        challenge = team_services.get_challenge(s, CHALLENGE)
        org = accounts.find_user(s, EMAILS["organizer"])
        cy = accounts.find_user(s, EMAILS["judge_conflicted"])
        olga = accounts.find_user(s, EMAILS["judge_unassigned"])
        conflicts.declare(s, challenge, cy, team_ids[0], reason=named(P, 300))
        conflicts.add(s, challenge, olga.id, team_ids[1], reason=named(P, 300), actor=org)
        judges.save_panel(s, challenge, "lay", 0.25, actor=org)
        ana = accounts.find_user(s, EMAILS["judge_assigned"])
        for (sub_id,) in s.execute(select(Assignment.submission_id).where(
                Assignment.user_id == ana.id)):
            reviews.save_review(s, ana, sub_id, scores={"impact": "4", "feasibility": "3",
                                                        "design": "5"},
                                comment_to_organizers=MD, feedback_to_team=MD, submit=True)
        pairs = s.execute(select(User.email, Team.name).join(
            Assignment, Assignment.user_id == User.id).join(
            Team, Team.id == select(submissions.Submission.team_id).where(
                submissions.Submission.id == Assignment.submission_id).scalar_subquery())
            .where(User.email != EMAILS["judge_assigned"])).all()
    scores = io.StringIO()
    writer = csv.writer(scores, lineterminator="\r\n")
    writer.writerow(["judge", "team", "criterion", "score", "comment"])
    for email, team in pairs:
        for key in ("impact", "feasibility", "design"):
            writer.writerow([email, team, key, "3", P])
    if pairs:
        run(app, "judging", "import-scores", CHALLENGE,
            write(tmp_path / "scores.csv", scores.getvalue()))
    # results with hostile awards, feedback released; a safety note
    clock.freeze(RESULTS)
    with app.app_context(), session_for() as s:
        challenge = team_services.get_challenge(s, CHALLENGE)
        org = accounts.find_user(s, EMAILS["organizer"])
        team_names = [n for (n,) in s.execute(select(Team.name).where(
            Team.id.in_(team_ids)))]
        snapshot = results.publish(s, challenge, org, {n: named(P, 120) for n in team_names},
                                   confirm_unscored=True)
        results.release_feedback(s, snapshot, org)
        officer = accounts.find_user(s, EMAILS["safety"])
        flags = s.scalars(select(Flag).order_by(Flag.id)).all()
        assert flags, "the lexicon flagged nothing"
        safety.change_status(s, flags[0], safety.allowed_transitions(flags[0])[0],
                             actor=officer, note=P)
        seat = s.scalar(select(JudgeSeat).where(JudgeSeat.user_id == ana.id))
        assignment = s.scalar(select(Assignment).where(Assignment.user_id == ana.id,
                                                       Assignment.submission_id.in_(
                                                           select(submissions.Submission.id)
                                                           .where(submissions.Submission
                                                                  .team_id == team_ids[0]))))
        conflict = s.scalar(select(ConflictRow).order_by(ConflictRow.id))
        sub_a = submissions.submission_of(s, s.get(Team, team_ids[0]))
        sub_b = submissions.submission_of(s, s.get(Team, team_ids[1]))
        file_a = s.scalar(select(SubmissionFile).where(SubmissionFile.submission_id == sub_a.id))
        users = {u.email: u.id for u in s.scalars(select(User))}
        ids = SimpleNamespace(
            challenge=CHALLENGE, survey=SURVEY, challenge_survey=SURVEY, team_a=team_ids[0],
            team_b=team_ids[1], sub_a=sub_a.id, sub_b=sub_b.id, file_a=file_a.id,
            flag=flags[0].id, flags=[f.id for f in flags], seat=seat.id,
            assignment=assignment.id if assignment else 1, conflict=conflict.id,
            org=users[EMAILS["organizer"]], lee=users[EMAILS["member_a"]],
            max=users[EMAILS["member_b"]], survey_id=survey_id, resume_token=resume_token,
            users=sorted(users.values()), file_name=file_a.original_name)
    ids.stranger = stranger
    return ids


@pytest.fixture(scope="module")
def world(_schema_template, tmp_path_factory):
    app, url = world_app(_schema_template, tmp_path_factory)
    ids = _build(app, tmp_path_factory.mktemp("files"))
    yield SimpleNamespace(app=app, ids=ids, clients=visitor_clients(app))
    close_world(app, url)


@pytest.fixture(autouse=True)
def _frozen():
    clock.freeze(RESULTS)
    yield


def _get_paths(world) -> list[str]:
    """Every GET route with the world's ids, and the pages reached only with other ids or
    query strings."""
    app, ids = world.app, world.ids
    paths = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if rule.endpoint == "static" or "GET" not in rule.methods:
                continue
            paths.append(url_for(rule.endpoint, **url_args(rule, ids)))
        paths += [url_for("admin.user_roles", user_id=uid) for uid in ids.users]
        paths += [url_for("safety.flag", flag_id=fid) for fid in ids.flags]
        paths += [url_for("teams.show", team_id=tid) for tid in (ids.team_a, ids.team_b)]
        paths += [url_for("submissions.versions", submission_id=sid)
                  for sid in (ids.sub_a, ids.sub_b)]
        paths += [url_for("judge.review", submission_id=sid) for sid in (ids.sub_a, ids.sub_b)]
        paths += [url_for("guidelines.show", slug=SURVEY, version=2),
                  url_for("guidelines.edit", slug=SURVEY, version=2),
                  url_for("results.public", slug=CHALLENGE, version=1),
                  url_for("results_admin.dashboard", slug=CHALLENGE, version=1),
                  url_for("survey_admin.survey", slug=SECOND_SURVEY),
                  url_for("survey_admin.responses", slug=SECOND_SURVEY),
                  url_for("survey_admin.preview", slug=SECOND_SURVEY),
                  url_for("survey_admin.edit_question", slug=SURVEY, key="story"),
                  url_for("survey_admin.edit_question", slug=SURVEY, key="exercise"),
                  url_for("survey_admin.edit_question", slug=SURVEY, key="devices"),
                  url_for("surveys.landing", slug=SECOND_SURVEY),
                  url_for("safety.queue", status="all"),
                  url_for("admin.users", q="example"),
                  url_for("admin.audit", page=2), url_for("admin.outbox", page=2),
                  url_for("surveys.page", slug=SURVEY, number=2)]
    return sorted(set(paths))


ORGANIZE_C, ORGANIZE_S = f"/organize/challenges/{CHALLENGE}", f"/organize/surveys/{SURVEY}"
PAGES_THAT_MUST_SHOW_IT = {  # (visitor, path): the escaped payload must be on the page
    "organizer": [ORGANIZE_C, f"{ORGANIZE_C}/results", f"{ORGANIZE_C}/judging",
                  f"{ORGANIZE_S}/responses", f"{ORGANIZE_S}/insights", f"{ORGANIZE_S}/questions",
                  "/safety/flags", "/admin/outbox", "/admin/users",
                  f"/c/{CHALLENGE}", f"/c/{CHALLENGE}/results", f"/c/{CHALLENGE}/gallery",
                  f"/s/{SURVEY}", f"/s/{SURVEY}/guidelines"],
    "member_a": [f"/c/{CHALLENGE}/submission", f"/c/{CHALLENGE}/results/feedback"],
    "judge_assigned": ["/judging", f"/judging/{CHALLENGE}/conflicts"],
    "safety": ["/safety/flags"],
}
PLAIN_NAMES = ("organizer", "judge_assigned", "member_a", "safety")


@pytest.mark.parametrize("visitor", VISITORS)
def test_no_page_lets_the_payload_run(world, visitor):
    client = world.clients[visitor]
    problems = {}
    for path in _get_paths(world):
        response = client.get(path)
        assert response.status_code < 500, (visitor, path, response.status_code)
        if response.mimetype != "text/html":
            continue
        found = unsafe_markup(response.get_data(as_text=True))
        if found:
            problems[path] = found[:3]
    assert problems == {}, f"{visitor}: {problems}"


@pytest.mark.parametrize("visitor", sorted(PAGES_THAT_MUST_SHOW_IT))
def test_the_payload_is_shown_as_text(world, visitor):
    """Not vacuous: the hostile texts reach the pages, escaped (these visitors' own names
    hold no payload, so the navigation does not count)."""
    for path in PAGES_THAT_MUST_SHOW_IT[visitor]:
        html = world.clients[visitor].get(path).get_data(as_text=True)
        assert ESCAPED_MARK in html or "&lt;svg onload=alert(1)&gt;" in html, (visitor, path)


def test_survey_pages_of_a_draft(world):
    """The answering pages themselves (the accountless visitor's draft, every page)."""
    clock.freeze(REGISTERED)
    stranger = world.ids.stranger
    shown = 0
    for number in range(1, 4):
        response = stranger.get(f"/s/{SURVEY}/page/{number}")
        assert response.status_code in (200, 302, 404), number
        html = response.get_data(as_text=True)
        assert unsafe_markup(html) == [], number
        shown += html.count(ESCAPED_MARK)
    assert shown > 0
    refused = stranger.post(f"/s/{SURVEY}/page/1", data={"q_role": P, "q_age": P,
                                                         "q_story": P, "action": "next"})
    assert refused.status_code < 500
    assert unsafe_markup(refused.get_data(as_text=True)) == []


def test_pages_before_the_deadline_too(world):
    """Team pages, invitations and the editor look different while teams may still work."""
    clock.freeze(DRAFTING)
    for visitor in ("member_a", "member_b", "entrant", "organizer"):
        for path in (f"/c/{CHALLENGE}/team", f"/c/{CHALLENGE}/submission",
                     f"/teams/{world.ids.team_a}", f"/teams/{world.ids.team_a}/request",
                     f"/c/{CHALLENGE}", "/dashboard", f"/organize/challenges/{CHALLENGE}"):
            response = world.clients[visitor].get(path)
            assert response.status_code < 500, (visitor, path)
            assert unsafe_markup(response.get_data(as_text=True)) == [], (visitor, path)


def test_file_name_and_answers_are_kept_as_typed(world):
    """The payload is stored as given (escaping happens on output), not mangled."""
    assert world.ids.file_name == FILE_PAYLOAD + ".pdf"
    html = world.clients["organizer"].get(
        f"/submissions/{world.ids.sub_a}/versions").get_data(as_text=True)
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_my_data_shows_own_answers_escaped(world):
    page = world.clients["patient"].get("/account/data")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert unsafe_markup(html) == []
    download = world.clients["patient"].get("/account/data.json")
    assert download.mimetype == "application/json"
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert "My own words" in download.get_data(as_text=True)


def test_error_pages_and_redisplayed_forms_escape_what_was_sent(world):
    """A refused form shows what was typed again (rule 7): escaped."""
    organizer, lee = world.clients["organizer"], world.clients["member_a"]
    clock.freeze(DRAFTING)
    sent = [
        (lee, f"/c/{CHALLENGE}/submission", {"title": "", "summary": P,
                                             "demo_url": "javascript:alert(1)//" + P}),
        (lee, f"/c/{CHALLENGE}/submission", {"title": P * 4, "summary": P,
                                             "demo_url": "https://x.org/\"" + P}),
        (organizer, f"/organize/surveys/{SURVEY}/settings", {"title": "", "intro": P,
                                                              "slug": P}),
        (organizer, "/organize/surveys/new", {"title": P, "slug": P, "min_cell_size": P}),
        (organizer, "/organize/challenges/new", {"title": P, "slug": P, "description": P}),
        (organizer, f"/organize/challenges/{CHALLENGE}/judging/judges/invite",
         {"email": P, "panel": P}),
        (organizer, f"/organize/challenges/{CHALLENGE}/judging/panels", {"name": P,
                                                                         "weight": P}),
        (organizer, f"/organize/challenges/{CHALLENGE}/judging/rubric", {"name": P}),
        (world.clients["entrant"], f"/c/{CHALLENGE}/teams", {"name": P * 3}),
        (world.clients["safety"], f"/safety/flags/{world.ids.flag}",
         {"status": P, "note": P * 40, "expected_status": P}),
        (world.app.test_client(), "/login", {"email": P, "password": P}),
        (world.app.test_client(), "/register", {"email": P, "name": P * 3, "password": "x"}),
        (world.app.test_client(), "/password/forgot", {"email": P}),
    ]
    for client, path, data in sent:
        response = client.post(path, data=data)
        assert response.status_code < 500, (path, response.status_code)
        if response.status_code == 302:
            response = client.get(response.headers["Location"])
        assert unsafe_markup(response.get_data(as_text=True)) == [], path
    # flashed messages that repeat what was sent: a file name, a team name
    joiner = world.app.test_client()
    assert login(joiner, "joiner@example.org").status_code == 302
    for client, path, data in (
            (lee, f"/c/{CHALLENGE}/submission/files",
             {"file": (io.BytesIO(b"%PDF-1.4\n%%EOF\n"), "Z" + FILE_PAYLOAD + ".pdf")}),
            (joiner, f"/c/{CHALLENGE}/teams", {"name": f"D {named(P, 110)}"})):
        response = client.post(path, data=data, follow_redirects=True)
        assert response.status_code < 500, path
        html = response.get_data(as_text=True)
        assert unsafe_markup(html) == [], path
        assert "onerror=alert(1)&gt;" in html or "onload=alert(1)&gt;" in html, path
    for path in (f"/c/{P}", f"/s/{P}", f"/organize/surveys/{P}/questions", f"/teams/{P}",
                 "/c/" + CHALLENGE + "/results?version=" + P, "/admin/users?q=" + P,
                 "/safety/flags?status=" + P, "/challenges?page=" + P):
        response = organizer.get(path)
        assert response.status_code < 500, path
        assert unsafe_markup(response.get_data(as_text=True)) == [], path


def test_users_create_refuses_an_address_that_is_not_an_email(world):
    """The CLI is the one way in where no form checks the address."""
    result = contextvars.Context().run(
        world.app.test_cli_runner().invoke,
        args=["users", "create", "\"'><svg onload=alert(1)>@example.org", "--role",
              "patient"], input="correct horse battery staple\n")
    assert result.exit_code == 1, result.output
    assert "e-mail" in result.stderr.lower() or "email" in result.stderr.lower()
    from challenge.db import session_scope

    with world.app.app_context(), session_scope(world.app) as s:
        assert s.scalar(select(User).where(User.email.like("%svg%"))) is None


def test_survey_definition_copy_keeps_payload_as_data(world, tmp_path):
    """The export of a hostile survey is JSON (not HTML): the payload is kept verbatim."""
    result = run(world.app, "surveys", "export", SURVEY)
    doc = json.loads(result.stdout)
    assert doc["title"] == P
    again = copy.deepcopy(doc)
    assert again["questions"][0]["text"].startswith(P)
