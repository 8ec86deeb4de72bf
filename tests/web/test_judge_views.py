"""Judge pages through the test client: the queue, the scoring page, drafts, submitting,
editing, refusals (unassigned, conflicted, closed window, bad scores, tampered keys),
blind judging, plain-language rubric text, file downloads and hostile input.

Real database and files; the world is built directly with models (entries through the
real submission services) and the clock is frozen inside the judging window.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from challenge import clock
from challenge.audit import AuditEvent
from challenge.challenges import submissions
from challenge.judging import reviews
from challenge.judging.models import CriterionScore, Review
from tests.conftest import csrf_token_from, login
from tests.services.test_reviews import (
    CLOSES,
    DURING,
    US,
    build_world,
    count,
    expected_score,
)

FULL = {"score_impact": "4", "score_feasibility": "3", "score_design": "80"}


@pytest.fixture(autouse=True)
def _frozen(app):
    clock.freeze(DURING)
    yield
    clock.freeze(None)


@pytest.fixture
def world(session):
    return build_world(session)


def as_user(client, email: str):
    client.post("/logout")
    login(client, email)
    return client


def page_url(world, which: str = "sub_a") -> str:
    return f"/judging/reviews/{getattr(world, which).id}"


def post(client, url: str, data: dict, *, submit: bool = False, follow: bool = False):
    button = {"submit_review": "Submit review"} if submit else {"save_draft": "Save draft"}
    return client.post(url, data={**data, **button}, follow_redirects=follow)


def text_of(response) -> str:
    return response.get_data(as_text=True)


def review_state(session) -> list[tuple]:
    session.expire_all()
    return sorted(
        [(r.user_id, r.submission_id, r.status, r.comment_to_organizers, r.feedback_to_team,
          r.updated_at) for r in session.scalars(select(Review))]
        + [(s.review_id, s.criterion_key, s.score)
           for s in session.scalars(select(CriterionScore))], key=repr)


# --- the queue ----------------------------------------------------------------------------

def test_anonymous_visitors_are_sent_to_log_in(client, world):
    for url in ("/judging", page_url(world)):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    response = client.post(page_url(world), data={**FULL, "submit_review": "1"})
    assert response.status_code == 302
    assert count(client.application.extensions["test_session"], Review) == 0


def test_queue_shows_assigned_entries_progress_and_closing_time_in_my_zone(client, session,
                                                                          world):
    world.ana.timezone = "Europe/Paris"
    session.commit()
    html = text_of(as_user(client, "ana@example.org").get("/judging"))
    assert "Data Design Diabetes 2027" in html
    assert "GlucoGo Team" in html and "Nightwatch" in html and "Night owl" in html
    assert html.count("Not started") == 2 and "2 not started" in html
    assert "0 of 2" in html
    # 2027-03-31 17:00 UTC is 19:00 summer time in Paris.
    assert "Wed 31 Mar 2027, 19:00 CEST (17:00 UTC)" in html
    assert f'href="/judging/reviews/{world.sub_a.id}"' in html


def test_queue_counts_follow_progress(client, session, world):
    as_user(client, "ana@example.org")
    post(client, page_url(world), {"score_impact": "2"})
    post(client, page_url(world, "sub_b"), FULL, submit=True)
    html = text_of(client.get("/judging"))
    assert "1 of 2" in html and "1 draft" in html and "0 not started" in html
    score = expected_score({"impact": 4, "feasibility": 3, "design": 80})
    assert f"{score:.1f}" in html


def test_queue_empty_states(client, world):
    html = text_of(as_user(client, "lee@example.org").get("/judging"))
    assert "You are not judging any challenge yet." in html
    html = text_of(as_user(client, "olga@example.org").get("/judging"))
    assert "No entries are assigned to you yet." in html


def test_conflicted_entry_in_the_queue_has_no_link(client, world):
    html = text_of(as_user(client, "cy@example.org").get("/judging"))
    assert "Conflict" in html and f"/judging/reviews/{world.sub_a.id}" not in html


# --- the scoring page ---------------------------------------------------------------------

def test_scoring_page_shows_the_entry_files_and_the_rubric(client, world):
    response = as_user(client, "ana@example.org").get(page_url(world))
    assert response.status_code == 200
    html = text_of(response)
    assert "Score GlucoGo Team" in html and "<h2 id=\"entry-h\">GlucoGo</h2>" in html
    assert "Team <strong>GlucoGo Team</strong>: lee" in html
    assert "Helps <strong>runners</strong>." in html  # Markdown rendered
    assert "Keep glucose steady during sport" in html  # a guideline it addresses
    assert "Plan meals without counting everything" in html
    assert 'href="https://video.example.org/a"' in html
    stored = submissions.files_of(client.application.extensions["test_session"],
                                  submissions.entry_version(
                                      client.application.extensions["test_session"],
                                      world.sub_a))[0]
    assert f'href="/files/{stored.id}"' in html and stored.sha256 in html
    # The rubric beside it: names, weights, level words, cited guidelines, the description.
    assert "Impact on daily life" in html and "weight 40 · 40%" in html
    assert "1 – No clear benefit" in html and "5 – Transforms a daily routine" in html
    assert "Expected effect on <strong>patient-reported</strong> outcomes." in html
    assert 'type="radio"' in html and 'name="score_impact"' in html
    assert re.search(r'<input[^>]*name="score_design"[^>]*type="number"|'
                     r'<input[^>]*type="number"[^>]*name="score_design"', html)
    assert "Save draft" in html and "Submit review" in html


def test_patient_panel_judges_see_the_plain_language_text(client, world):
    html = text_of(as_user(client, "pat@example.org").get(page_url(world)))
    assert "Would this make your day easier?" in html
    assert "patient-reported" not in html
    html = text_of(as_user(client, "ana@example.org").get(page_url(world)))
    assert "Would this make your day easier?" not in html


def test_blind_judging_hides_team_names_and_members(client, session):
    world = build_world(session, blind=True)
    as_user(client, "ana@example.org")
    for url in ("/judging", page_url(world), page_url(world, "sub_b")):
        html = text_of(client.get(url))
        assert "GlucoGo Team" not in html and "Nightwatch" not in html, url
        assert "lee@example.org" not in html and "max@example.org" not in html
        assert ": lee" not in html and "Team <strong>" not in html
    html = text_of(client.get(page_url(world)))
    assert f"Score Entry #{world.sub_a.id}" in html
    assert "Blind judging: the team is not shown." in html


@pytest.mark.parametrize("email", ["olga@example.org", "lee@example.org", "org@example.org",
                                   "max@example.org"])
def test_unassigned_people_get_404_and_learn_nothing(client, session, world, email):
    as_user(client, email)
    response = client.get(page_url(world))
    assert response.status_code == 404
    assert "GlucoGo" not in text_of(response)
    response = post(client, page_url(world), FULL, submit=True)
    assert response.status_code == 404
    assert count(session, Review) == 0
    assert client.get("/judging/reviews/99999").status_code == 404


def test_conflicted_judge_is_refused_with_a_message(client, session, world):
    as_user(client, "cy@example.org")
    response = client.get(page_url(world))
    assert response.status_code == 403
    assert "conflict of interest" in text_of(response)
    assert post(client, page_url(world), FULL, submit=True).status_code == 403
    assert count(session, Review) == 0


# --- saving -------------------------------------------------------------------------------

def test_save_a_partial_draft_then_submit(client, session, world):
    as_user(client, "ana@example.org")
    response = post(client, page_url(world), {"score_impact": "5",
                                              "comment_to_organizers": "Check claims",
                                              "feedback_to_team": "Good start"})
    assert response.status_code == 302 and response.headers["Location"].endswith(
        page_url(world))
    html = text_of(client.get(page_url(world)))
    assert "Draft saved" in html
    assert re.search(r'<input[^>]*checked[^>]*value="5"|<input[^>]*value="5"[^>]*checked',
                     html)
    assert "Check claims" in html and "Good start" in html
    review = reviews.review_of(session, world.ana.id, world.sub_a.id)
    assert review.status == "draft" and reviews.stored_scores(review) == {"impact": 5.0}

    response = post(client, page_url(world), {**FULL, "comment_to_organizers": "Check claims"},
                    submit=True)
    assert response.status_code == 302 and response.headers["Location"].endswith("/judging")
    html = text_of(client.get("/judging"))
    assert "is submitted" in html and "Submitted" in html
    session.expire_all()
    review = reviews.review_of(session, world.ana.id, world.sub_a.id)
    assert review.status == "submitted" and review.submitted_at == DURING
    assert review.feedback_to_team == ""  # the second post cleared it


def test_submit_without_every_score_is_refused_and_keeps_what_was_typed(client, session,
                                                                       world):
    as_user(client, "ana@example.org")
    response = post(client, page_url(world), {"score_impact": "3", "score_design": "",
                                              "comment_to_organizers": "typed text"},
                    submit=True)
    assert response.status_code == 422
    html = text_of(response)
    assert "Feasibility (1–5)</a>: Give a score from 1–5 before submitting." in html
    assert 'id="score_feasibility-error">Give a score from 1–5 before submitting.' in html
    assert "Design for real people (0–100)</a>: Give a score" in html
    assert "typed text" in html
    assert re.search(r'<input[^>]*checked[^>]*value="3"|<input[^>]*value="3"[^>]*checked',
                     html)
    assert count(session, Review) == 0


@pytest.mark.parametrize(("data", "message"), [
    ({"score_design": "101"}, "101 is outside the scale 0–100."),
    ({"score_design": "-5"}, "-5 is outside the scale 0–100."),
    ({"score_design": "abc"}, "“abc” is not a number."),
    ({"score_design": "NaN"}, "“NaN” is not a number."),
    ({"score_impact": "7"}, "Choose one of the levels shown."),
    ({"score_impact": "3.5"}, "Choose one of the levels shown."),
])
@pytest.mark.parametrize("submit", [False, True])
def test_bad_scores_are_refused_and_nothing_changes(client, session, world, data, message,
                                                    submit):
    as_user(client, "ana@example.org")
    post(client, page_url(world), {"score_impact": "2"})
    before = review_state(session)
    response = post(client, page_url(world), {**FULL, **data}, submit=submit)
    assert response.status_code == 422
    html = text_of(response)
    assert message in html
    assert review_state(session) == before


def test_tampered_criterion_keys_are_refused(client, session, world):
    as_user(client, "ana@example.org")
    response = post(client, page_url(world), {**FULL, "score_originality": "5"}, submit=True)
    assert response.status_code == 422
    assert "does not have" in text_of(response) and "originality" in text_of(response)
    response = client.post(page_url(world), data=MultiDict(
        [*FULL.items(), ("score_impact", "2"), ("submit_review", "1")]))
    assert response.status_code == 422 and "more than one score" in text_of(response)
    assert count(session, Review) == 0


def test_a_submitted_review_can_be_edited_until_judging_closes(client, session, world):
    as_user(client, "ana@example.org")
    post(client, page_url(world), {**FULL, "comment_to_organizers": "private words"},
         submit=True)
    html = text_of(client.get(page_url(world)))
    assert "Save changes (stays submitted)" in html and "Save draft" not in html
    clock.advance(timedelta(minutes=30))
    response = post(client, page_url(world), {**FULL, "score_impact": "1",
                                              "comment_to_organizers": "other words"},
                    submit=True)
    assert response.status_code == 302
    assert "Your submitted review was updated" in text_of(client.get(page_url(world)))
    review = reviews.review_of(session, world.ana.id, world.sub_a.id)
    assert review.status == "submitted" and reviews.stored_scores(review)["impact"] == 1.0
    [event] = session.scalars(select(AuditEvent).where(AuditEvent.action == "review.edited"))
    assert event.details["score_before"] == pytest.approx(
        expected_score({"impact": 4, "feasibility": 3, "design": 80}))
    assert event.details["score_after"] == pytest.approx(
        expected_score({"impact": 1, "feasibility": 3, "design": 80}))
    assert "words" not in repr(event.details)


def test_a_repeated_post_changes_nothing(client, session, world):
    as_user(client, "ana@example.org")
    post(client, page_url(world), FULL, submit=True)
    before = review_state(session)
    clock.advance(timedelta(minutes=1))
    response = post(client, page_url(world), FULL, submit=True, follow=True)
    assert "Nothing changed" in text_of(response)
    assert review_state(session) == before
    assert count(session, Review) == 1


# --- the judging window -------------------------------------------------------------------

def test_a_save_one_microsecond_before_judging_closes_is_accepted(client, session, world):
    clock.freeze(CLOSES - US)
    as_user(client, "ana@example.org")
    assert post(client, page_url(world), FULL, submit=True).status_code == 302
    assert reviews.review_of(session, world.ana.id, world.sub_a.id).submitted_at == \
        CLOSES - US


@pytest.mark.parametrize("offset", [timedelta(0), US])
def test_saves_at_and_after_judging_closes_are_refused(client, session, world, offset):
    as_user(client, "ana@example.org")
    post(client, page_url(world), {"score_impact": "2"})
    before = review_state(session)
    clock.freeze(CLOSES + offset)
    as_user(client, "ana@example.org")  # a fresh login: the clock jumped weeks ahead
    response = post(client, page_url(world), FULL, submit=True)
    assert response.status_code == 409
    html = text_of(response)
    assert "Judging closed at 2027-03-31 17:00:00 UTC" in html and "Nothing was changed" in html
    assert review_state(session) == before
    page = client.get(page_url(world))
    assert page.status_code == 200
    assert "reviews can no longer be saved or changed" in text_of(page)
    assert "Submit review" not in text_of(page)
    assert "Closed" in text_of(client.get("/judging"))


# --- files --------------------------------------------------------------------------------

def test_assigned_judges_download_entry_files_and_others_get_404(client, session, world):
    stored = submissions.files_of(session, submissions.entry_version(session, world.sub_a))[0]
    as_user(client, "ana@example.org")
    response = client.get(f"/files/{stored.id}")
    assert response.status_code == 200 and response.data.startswith(b"%PDF-")
    as_user(client, "olga@example.org")  # a judge in the challenge, not assigned to A
    assert client.get(f"/files/{stored.id}").status_code == 404
    assert client.get(f"/submissions/{world.sub_a.id}/versions").status_code == 404
    as_user(client, "max@example.org")  # another team's member
    assert client.get(f"/files/{stored.id}").status_code == 404


# --- hostile input ------------------------------------------------------------------------

XSS = "<script>alert('x')</script>"


def test_entry_title_summary_and_feedback_are_escaped(client, session):
    world = build_world(session, title_a=f"{XSS}Glu",
                        summary_a=("Hi <img src=x onerror=alert(1)> [click](javascript:alert(2))"
                                   f" {XSS}"))
    as_user(client, "ana@example.org")
    response = post(client, page_url(world),
                    {"score_impact": "9", "feedback_to_team": f"</textarea>{XSS}",
                     "comment_to_organizers": f"{XSS}"})
    assert response.status_code == 422  # re-rendered with everything typed
    for html in (text_of(response), text_of(client.get(page_url(world))),
                 text_of(client.get("/judging"))):
        assert "<script>alert" not in html
        assert "onerror=" not in html.replace("onerror=alert(1)&gt;", "")
        assert 'href="javascript:' not in html
        assert "<img" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;Glu" in text_of(response)
    post(client, page_url(world), {"score_impact": "2", "feedback_to_team": f"</textarea>{XSS}"})
    html = text_of(client.get(page_url(world)))
    assert "&lt;/textarea&gt;&lt;script&gt;" in html


def test_forms_need_a_csrf_token_when_protection_is_on(client, session, world):
    client.application.config["WTF_CSRF_ENABLED"] = True
    client.post("/logout")
    login_page = text_of(client.get("/login"))
    client.post("/login", data={"email": "ana@example.org",
                                "password": "correct horse battery staple",
                                "csrf_token": csrf_token_from(login_page)})
    response = post(client, page_url(world), FULL, submit=True)
    assert response.status_code == 400
    assert count(session, Review) == 0
    token = csrf_token_from(text_of(client.get(page_url(world))))
    response = post(client, page_url(world), {**FULL, "csrf_token": token}, submit=True)
    assert response.status_code == 302
    assert count(session, Review) == 1
