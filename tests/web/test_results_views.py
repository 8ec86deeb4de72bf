"""Results pages: the organizer's dashboard and publication, the public results page,
team feedback and the survey's outcome page, through the test client."""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import event, func, select

from challenge import clock
from challenge.accounts import services as accounts
from challenge.audit import AuditEvent
from challenge.judging import results
from challenge.judging.models import ResultSnapshot
from tests.conftest import PASSWORD, login
from tests.services.test_results import (
    NOW,
    add_entry,
    add_judge,
    add_review,
    golden_challenge,
    make_challenge,
)

SLUG = "ddd-2027"
ADMIN = f"/organize/challenges/{SLUG}/results"
PUBLIC = f"/c/{SLUG}/results"


@pytest.fixture(autouse=True)
def _frozen(app):
    clock.freeze(NOW)
    yield
    clock.freeze(None)


@pytest.fixture
def people(session):
    for email, role in (("org@example.org", "organizer"), ("judge@example.org", "judge"),
                        ("lee@example.org", "entrant")):
        accounts.create_user(session, email, password=PASSWORD, roles=[role])
    session.commit()


def _as(app, email: str):
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client


def _snapshots(session) -> int:
    return session.scalar(select(func.count()).select_from(ResultSnapshot))


# --- authorization ------------------------------------------------------------------------

def test_dashboard_is_for_organizers_only(app, session, people):
    golden_challenge(session)
    anonymous = app.test_client().get(ADMIN)
    assert anonymous.status_code == 302 and "/login" in anonymous.location
    for email in ("judge@example.org", "lee@example.org"):
        client = _as(app, email)
        assert client.get(ADMIN).status_code == 403
        assert client.post(f"{ADMIN}/publish", data={"based_on": "0"}).status_code == 403
        assert client.get(f"{ADMIN}/export.csv").status_code == 403
    assert _snapshots(session) == 0
    assert _as(app, "org@example.org").get("/organize/challenges/nope/results").status_code == 404


def test_public_page_is_readable_anonymously(app, session):
    golden_challenge(session)
    page = app.test_client().get(PUBLIC)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Results are not published yet; they are due" in text and "2027" in text
    results.publish(session, results.get_challenge(session, SLUG), None, {"E1": "Grand prize"})
    session.commit()
    text = app.test_client().get(PUBLIC).get_data(as_text=True)
    assert "Grand prize" in text and "Project E1" in text and "Version 1" in text
    assert app.test_client().get(f"{PUBLIC}?version=9").status_code == 404
    assert app.test_client().get(f"{PUBLIC}?version=x").status_code == 404
    assert app.test_client().get("/c/nope/results").status_code == 404


def test_unpublished_challenge_results_are_hidden(app, session, people):
    make_challenge(session, published=False)
    session.commit()
    assert app.test_client().get(PUBLIC).status_code == 404
    assert _as(app, "org@example.org").get(PUBLIC).status_code == 200


# --- dashboard ----------------------------------------------------------------------------

def test_dashboard_shows_tables_reliability_and_charts(app, session, people):
    golden_challenge(session)
    text = _as(app, "org@example.org").get(ADMIN).get_data(as_text=True)
    # the entries table in rank order, raw and normalised scores
    assert [m for m in re.findall(r'<th scope="row">(E\d)</th>', text)] == [
        "E1", "E3", "E4", "E2"]
    assert '<td class="num">1.00</td>' in text  # E1's normalised score (golden: 1.0)
    assert "alpha is 0.20" in text and "About 16 reviews per entry would reach alpha 0.8" in text
    for email in ("a@example.org", "b@example.org", "c@example.org"):
        assert email in text
    assert text.count('role="img"') == 2
    assert '<title id="judges-chart-title">' in text
    assert '<desc id="entries-chart-desc">' in text
    # the charts' numbers are the tables' numbers
    assert "1. E1: raw score 61.1, lowest review 44.4, highest 77.8" in text
    assert "Publish results" in text and 'data-confirm="Publish these results' in text
    assert "Grand prize" in text  # suggested awards
    assert 'name="confirm_unscored"' not in text  # no unscored entries: no checkbox
    assert "style=" not in text and "<script>" not in text  # CSP: no inline style or script


def test_judges_with_many_reviews_are_drawn_as_boxes(app, session, people):
    """60 reviews a judge: each judge's row is a box plot (quartiles, median, whiskers),
    not 60 dots; the chart's description gives the quartiles instead of every score."""
    _published(session, "busy", 60)
    text = _as(app, "org@example.org").get(
        "/organize/challenges/busy/results").get_data(as_text=True)
    start = text.index('<title id="judges-chart-title">')
    judges = text[start:text.index("</figure>", start)]
    assert judges.count('class="score-box"') == 2
    assert "<circle" not in judges
    assert "busy-0@example.org: 60 reviews, mean" in judges
    assert "quartiles" in judges and ", scores " not in judges


def test_publish_from_the_dashboard(app, session, people):
    golden_challenge(session)
    org = _as(app, "org@example.org")
    page = org.get(ADMIN).get_data(as_text=True)
    field = re.search(r'<label for="(award-\d+)">Award for E1 ', page).group(1)
    sent = org.post(f"{ADMIN}/publish", data={"based_on": "0", field: "Grand prize"})
    assert sent.status_code == 302 and sent.location.endswith(f"{ADMIN}#history")
    after = org.get(ADMIN).get_data(as_text=True)
    assert "Version 1 of the results is published." in after
    assert "Release feedback to teams" in after and 'value="Grand prize"' in after
    # a double click sends the same form again: the first publication is the answer
    again = org.post(f"{ADMIN}/publish", data={"based_on": "0", field: "Grand prize"})
    assert again.status_code == 302 and _snapshots(session) == 1
    public = app.test_client().get(PUBLIC).get_data(as_text=True)
    assert re.search(r"<td class=\"num\">1</td>\s*<th scope=\"row\">Project E1</th>", public)
    assert "Grand prize" in public
    assert session.scalar(select(func.count()).where(
        AuditEvent.action == "results.published")) == 1


def test_a_second_version_keeps_the_first_visible(app, session, people):
    golden_challenge(session)
    org = _as(app, "org@example.org")
    assert org.post(f"{ADMIN}/publish", data={"based_on": "0"}).status_code == 302
    assert org.post(f"{ADMIN}/publish", data={"based_on": "1"}).status_code == 302
    assert _snapshots(session) == 2
    current = app.test_client().get(PUBLIC).get_data(as_text=True)
    assert "Version 2" in current and f"{PUBLIC}?version=1" in current
    old = app.test_client().get(f"{PUBLIC}?version=1").get_data(as_text=True)
    assert "This is an earlier version" in old
    history = org.get(ADMIN).get_data(as_text=True)
    assert f"{PUBLIC}?version=1" in history and f"{PUBLIC}?version=2" in history


def test_publishing_with_unscored_entries_needs_the_checkbox(app, session, people):
    challenge, _ = golden_challenge(session)
    add_entry(session, challenge, "Forgotten Team")
    session.commit()
    org = _as(app, "org@example.org")
    page = org.get(ADMIN).get_data(as_text=True)
    assert 'name="confirm_unscored"' in page
    assert "publish although these entries have no complete review" in page.lower()
    field = re.search(r'<label for="(award-\d+)">Award for E1 ', page).group(1)
    refused = org.post(f"{ADMIN}/publish", data={"based_on": "0", field: "Grand prize"})
    assert refused.status_code == 409 and _snapshots(session) == 0
    text = refused.get_data(as_text=True)
    assert "These entries have no complete review: Forgotten Team" in text
    assert 'value="Grand prize"' in text  # what was typed is kept
    ok = org.post(f"{ADMIN}/publish", data={"based_on": "0", field: "Grand prize",
                                            "confirm_unscored": "yes"})
    assert ok.status_code == 302 and _snapshots(session) == 1
    assert "Forgotten Team" in app.test_client().get(PUBLIC).get_data(as_text=True)


def test_a_too_long_award_is_refused_and_kept(app, session, people):
    golden_challenge(session)
    org = _as(app, "org@example.org")
    page = org.get(ADMIN).get_data(as_text=True)
    field = re.search(r'<label for="(award-\d+)">Award for E1 ', page).group(1)
    refused = org.post(f"{ADMIN}/publish", data={"based_on": "0", field: "x" * 121})
    assert refused.status_code == 422 and "at most 120" in refused.get_data(as_text=True)
    assert _snapshots(session) == 0


def test_dashboard_without_rubric_or_reviews(app, session, people):
    from challenge.challenges.models import Challenge

    now = clock.now()
    session.add(Challenge(slug="bare", title="Bare", registration_opens=now,
                          submission_deadline=now, judging_closes=now, results_at=now,
                          created_at=now, updated_at=now))
    make_challenge(session, "empty")
    session.commit()
    org = _as(app, "org@example.org")
    bare = org.get("/organize/challenges/bare/results")
    assert bare.status_code == 200 and "has no rubric yet" in bare.get_data(as_text=True)
    empty = org.get("/organize/challenges/empty/results").get_data(as_text=True)
    assert "No entry has a complete submitted review yet." in empty
    assert "Publish results" not in empty


def test_export_download_is_formula_safe_and_audited(app, session, people):
    challenge = make_challenge(session, normalization="none")
    judge = add_judge(session, challenge, "a@example.org")
    add_review(session, judge, add_entry(session, challenge, "=HYPERLINK(1)"), {"overall": 9})
    session.commit()
    results.publish(session, challenge, None)
    session.commit()
    org = _as(app, "org@example.org")
    got = org.get(f"{ADMIN}/export.csv")
    assert got.status_code == 200 and got.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(got.get_data(as_text=True))))
    assert rows[1][1] == "'=HYPERLINK(1)"
    assert session.scalar(select(func.count()).where(
        AuditEvent.action == "results.exported")) == 1


# --- query count and escaping ---------------------------------------------------------------

def _published(session, slug: str, entries: int):
    challenge = make_challenge(session, slug)
    judges = [add_judge(session, challenge, f"{slug}-{i}@example.org") for i in range(2)]
    for n in range(entries):
        sub = add_entry(session, challenge, f"Team {n:02d}", needs=["exercise"])
        for i, judge in enumerate(judges):
            add_review(session, judge, sub, {"overall": 1 + (n * 3 + i) % 10})
    session.commit()
    results.publish(session, challenge, None, {"Team 00": "Grand prize"})
    session.commit()


def test_public_page_queries_do_not_grow_with_entries(app, session):
    _published(session, "five", 5)
    _published(session, "fifty", 50)
    engine = app.extensions["db_engine"]

    def queries(path: str) -> int:
        seen = []

        def count(*_args, **_kw):
            seen.append(1)

        event.listen(engine, "before_cursor_execute", count)
        try:
            response = app.test_client().get(path)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert response.status_code == 200
        return len(seen)

    five, fifty = queries("/c/five/results"), queries("/c/fifty/results")
    assert five == fifty
    assert "Team 49" in app.test_client().get("/c/fifty/results").get_data(as_text=True)


def test_titles_team_names_and_awards_are_escaped(app, session, people):
    challenge = make_challenge(session, normalization="none")
    judge = add_judge(session, challenge, "a@example.org")
    add_review(session, judge,
               add_entry(session, challenge, "<script>alert('team')</script>",
                         "<img src=x onerror=alert(1)>"), {"overall": 9})
    session.commit()
    results.publish(session, challenge, None,
                    {"<script>alert('team')</script>": "<b onmouseover=alert(2)>Prize</b>"})
    session.commit()
    for text in (app.test_client().get(PUBLIC).get_data(as_text=True),
                 _as(app, "org@example.org").get(ADMIN).get_data(as_text=True)):
        assert "<script>alert" not in text and "<img src=x" not in text
        assert "<b onmouseover" not in text
        assert "&lt;script&gt;" in text and "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "&lt;b onmouseover=alert(2)&gt;Prize&lt;/b&gt;" in app.test_client().get(
        PUBLIC).get_data(as_text=True)


# --- feedback -----------------------------------------------------------------------------

def test_team_feedback_page(app, session, people):
    challenge = make_challenge(session)
    ana = accounts.create_user(session, "ana@example.org", password=PASSWORD,
                               roles=["entrant"])
    j1, j2 = (add_judge(session, challenge, f"j{i}@example.org") for i in (1, 2))
    mine = add_entry(session, challenge, "Mine", "My project", members=[ana])
    theirs = add_entry(session, challenge, "Theirs")
    add_review(session, j1, mine, {"overall": 9}, feedback="Lovely <em>idea</em>.")
    add_review(session, j2, mine, {"overall": 7})
    add_review(session, j1, theirs, {"overall": 4}, feedback="Not for the other team.")
    add_review(session, j2, theirs, {"overall": 3})
    session.commit()
    path = f"/c/{SLUG}/results/feedback"
    assert app.test_client().get(path).status_code == 302  # log in first
    assert _as(app, "lee@example.org").get(path).status_code == 403  # in no team
    member = _as(app, "ana@example.org")
    before = member.get(path)
    assert before.status_code == 200
    assert "not released yet" in before.get_data(as_text=True)
    assert "Lovely" not in before.get_data(as_text=True)

    org = _as(app, "org@example.org")
    assert org.post(f"{ADMIN}/publish", data={"based_on": "0"}).status_code == 302
    assert "not released yet" in member.get(path).get_data(as_text=True)
    released = org.post(f"{ADMIN}/versions/1/release-feedback")
    assert released.status_code == 302
    assert "Feedback is released" in org.get(ADMIN).get_data(as_text=True)
    text = member.get(path).get_data(as_text=True)
    assert "Lovely &lt;em&gt;idea&lt;/em&gt;." in text and "Not for the other team" not in text
    assert "j1@example.org" not in text and "j2@example.org" not in text
    assert "ranked <strong>1</strong>" in text
    assert "Feedback for your team" in member.get(PUBLIC).get_data(as_text=True)
    assert "Feedback for your team" not in app.test_client().get(PUBLIC).get_data(as_text=True)
    # judges and entrants cannot release feedback
    assert _as(app, "judge@example.org").post(
        f"{ADMIN}/versions/1/release-feedback").status_code == 403


# --- what your answers led to --------------------------------------------------------------

def test_outcomes_page_lists_winning_projects_and_their_guidelines(app, session):
    challenge = make_challenge(session, with_survey=True, normalization="none")
    judge = add_judge(session, challenge, "a@example.org")
    for n, (team, needs) in enumerate((("GlucoGo", ["exercise"]),
                                       ("Nightwatch", ["nights", "exercise"]),
                                       ("Third", []), ("Fourth", ["nights"]))):
        add_review(session, judge, add_entry(session, challenge, team, f"{team} app",
                                             needs=needs), {"overall": 10 - n})
    session.commit()
    outcomes = f"/s/{SLUG}-survey/outcomes"
    assert "winning projects" not in app.test_client().get(outcomes).get_data(as_text=True)
    results.publish(session, challenge, None, {"Nightwatch": "Patient panel's choice"})
    session.commit()
    text = app.test_client().get(outcomes).get_data(as_text=True)
    assert "The winning projects that address these guidelines" in text
    assert "GlucoGo app" in text and "Nightwatch app" in text and "Third app" in text
    assert "Fourth app" not in text  # top three (and any award) only
    assert "Patient panel&#39;s choice" in text
    assert "Sleep through the night" in text and 'href="#g-nights"' in text
    assert f'href="/c/{SLUG}/results"' in text
