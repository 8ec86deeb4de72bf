"""Heavy pages read a fixed number of SQL statements, whatever the amount of data.

Each test builds a small data set, counts the statements one GET runs (SQLAlchemy's
`before_cursor_execute` on the app's engine), grows the data tenfold and counts again: the
count must not change. A page that queried once per row (an N+1) or loaded a whole list to
show one page of it would fail here long before it is slow in production. The pagination
of the long lists (page numbers, a bad `?page=`) is checked alongside.
"""

from __future__ import annotations

import re
import secrets
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event

from challenge import audit, clock
from challenge.accounts.models import User
from challenge.challenges.models import Invitation, JoinRequest, Membership, Team
from challenge.judging import results
from challenge.judging.models import Assignment
from challenge.pagination import PER_PAGE
from challenge.safety import services as safety
from surveys import insights
from tests.conftest import login
from tests.services.test_insights import add_responses, make_survey, survey_doc
from tests.services.test_results import (
    NOW,
    add_entry,
    add_judge,
    add_review,
    make_challenge,
)

SMALL, LARGE = 3, 30
SLUG = "ddd-2027"
FLAGGED_TEXT = "Since Lantus I get dizzy spells at work."


@pytest.fixture(autouse=True)
def _frozen(app):
    clock.freeze(NOW)
    yield
    clock.freeze(None)


@contextmanager
def counting(app):
    """Collect the SQL statements the app's engine runs inside the block."""
    statements: list[str] = []
    engine = app.extensions["db_engine"]

    def before(_conn, _cursor, statement, _params, _context, _many):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)


def statements_for(app, client, url: str) -> int:
    """How many statements one GET of `url` runs (it must answer 200)."""
    with counting(app) as statements:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(statements)


def as_user(app, make_user, email: str, *roles: str):
    make_user(email, *roles)
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client


def plain_user(session, email: str) -> User:
    """An account without a password (no hashing: these never log in)."""
    user = User(email=email, name=email.split("@")[0].title(), password_hash=None,
                created_at=clock.now())
    session.add(user)
    session.flush()
    return user


# --- a challenge with entries, judges, reviews, a publication ------------------------------

class ChallengeWorld:
    """A finished challenge that grows: each entry has a team of two, is in the gallery,
    assigned to and reviewed by both judges; `publish()` writes a new results version."""

    def __init__(self, session):
        self.session = session
        self.challenge = make_challenge(session, SLUG, criteria=(("impact", 1, 1, 10),
                                                                 ("feasibility", 1, 1, 10)))
        self.challenge.gallery_open = True
        self.judges = [add_judge(session, self.challenge, f"judge{i}@example.org")
                       for i in range(2)]
        self.entries = []
        session.commit()

    def grow(self, n: int) -> None:
        session = self.session
        while len(self.entries) < n:
            i = len(self.entries)
            members = [plain_user(session, f"m{i}-{k}@example.org") for k in range(2)]
            submission = add_entry(session, self.challenge, f"Team {i:03d}", f"Project {i}",
                                   needs=["exercise"], members=members)
            submission.gallery_opt_in = True
            for k, judge in enumerate(self.judges):
                session.add(Assignment(challenge_id=self.challenge.id, user_id=judge.id,
                                       submission_id=submission.id, created_at=clock.now()))
                add_review(session, judge, submission,
                           {"impact": 1 + (i + k) % 10, "feasibility": 1 + (i * 3 + k) % 10},
                           feedback="Clear and useful.")
            self.entries.append(submission)
        # One entry's text waits for the safety team: the gallery holds it back.
        safety.screen(session, source="submission",
                      source_ref=f"submission:{self.entries[-1].id}/version:1",
                      text=FLAGGED_TEXT)
        session.commit()

    def publish(self) -> None:
        results.publish(self.session, self.challenge, None,
                        {"Team 000": "Grand prize", "Team 001": "Patient panel's choice"})
        self.session.commit()


@pytest.fixture
def world(session):
    return ChallengeWorld(session)


def _grows_not(app, client, world, url: str, *, publish: bool = False) -> tuple[int, int]:
    counts = []
    for n in (SMALL, LARGE):
        world.grow(n)
        if publish:
            world.publish()
        counts.append(statements_for(app, client, url))
    return counts[0], counts[1]


def test_public_results_page(app, world):
    small, large = _grows_not(app, app.test_client(), world, f"/c/{SLUG}/results",
                              publish=True)
    assert small == large <= 8


def test_organizer_results_dashboard(app, make_user, world):
    client = as_user(app, make_user, "org@example.org", "organizer")
    small, large = _grows_not(app, client, world, f"/organize/challenges/{SLUG}/results",
                              publish=True)
    assert small == large <= 16


def test_gallery(app, world):
    small, large = _grows_not(app, app.test_client(), world, f"/c/{SLUG}/gallery")
    assert small == large <= 10


def test_submissions_overview(app, make_user, world):
    client = as_user(app, make_user, "org@example.org", "organizer")
    small, large = _grows_not(app, client, world, f"/organize/challenges/{SLUG}")
    assert small == large <= 13


def test_team_list(app, make_user, world):
    client = as_user(app, make_user, "org@example.org", "organizer")
    small, large = _grows_not(app, client, world, f"/c/{SLUG}/team")
    assert small == large <= 12


def test_judge_queue(app, world):
    client = app.test_client()
    assert login(client, world.judges[0].email).status_code == 302
    small, large = _grows_not(app, client, world, "/judging")
    assert small == large <= 15


def test_team_page_for_its_captain(app, session, world, make_user):
    world.grow(1)
    captain = make_user("captain@example.org", "entrant")
    team = Team(challenge_id=world.challenge.id, name="Night owls", created_at=clock.now())
    session.add(team)
    session.flush()
    session.add(Membership(team_id=team.id, challenge_id=world.challenge.id,
                           user_id=captain.id, role="captain", joined_at=clock.now()))
    session.commit()
    client = app.test_client()
    assert login(client, "captain@example.org").status_code == 302
    counts = []
    for n in (SMALL, LARGE):
        while session.query(JoinRequest).filter_by(team_id=team.id).count() < n:
            k = session.query(JoinRequest).filter_by(team_id=team.id).count()
            asker = plain_user(session, f"asker{k}@example.org")
            session.add(JoinRequest(team_id=team.id, user_id=asker.id, message="Hello!",
                                    created_at=clock.now()))
            session.add(Invitation(team_id=team.id, email=f"invited{k}@example.org",
                                   token_hash=secrets.token_hex(32), created_by=captain.id,
                                   created_at=clock.now(),
                                   expires_at=clock.now() + timedelta(days=7)))
        session.commit()
        counts.append(statements_for(app, client, f"/teams/{team.id}"))
    assert counts[0] == counts[1] <= 13


# --- surveys ------------------------------------------------------------------------------

def _answers(i: int) -> dict:
    return {"role": "patient" if i % 3 else "carer", "dtype": "t1" if i % 3 else None,
            "n1": (1 + i % 5, 1 + (i * 2) % 5), "n2": (1 + (i * 3) % 5, 4),
            "n3": (5, 1 + i % 5), "story": "night lows wake me"}


@pytest.fixture
def survey(session):
    created = make_survey(session, survey_doc("insights-2027", min_cell_size=3))
    session.commit()
    return created


def _survey_pages_grow_not(app, client, session, survey, url: str, *, refresh: bool) -> None:
    counts = []
    have = 0
    for n in (SMALL, LARGE):
        add_responses(session, survey, [_answers(i) for i in range(have, n)])
        add_responses(session, survey, [_answers(i) for i in range(have, n)], status="draft")
        have = n
        if refresh:
            insights.refresh(session, survey)
        session.commit()
        counts.append(statements_for(app, client, url))
    assert counts[0] == counts[1] <= 12, counts


def test_organizer_insight_report(app, make_user, session, survey):
    client = as_user(app, make_user, "org@example.org", "organizer")
    _survey_pages_grow_not(app, client, session, survey,
                           "/organize/surveys/insights-2027/insights", refresh=True)


def test_survey_responses_overview(app, make_user, session, survey):
    client = as_user(app, make_user, "org@example.org", "organizer")
    _survey_pages_grow_not(app, client, session, survey,
                           "/organize/surveys/insights-2027/responses", refresh=False)


# --- safety queue and audit log -----------------------------------------------------------

def test_safety_queue(app, make_user, session):
    client = as_user(app, make_user, "officer@example.org", "safety")
    counts = []
    have = 0
    for n in (SMALL, LARGE):
        for i in range(have, n):
            safety.screen(session, source="survey-response", source_ref=f"survey:s/r{i}/story",
                          text=FLAGGED_TEXT)
        have = n
        session.commit()
        counts.append(statements_for(app, client, "/safety/flags"))
    assert counts[0] == counts[1] <= 12


def test_audit_log(app, make_user, session):
    client = as_user(app, make_user, "org@example.org", "organizer")
    counts = []
    have = 0
    for n in (SMALL, LARGE):
        for i in range(have, n):
            audit.record(session, "challenge.updated", actor_label="cli",
                         target=f"challenge:c{i}")
        have = n
        session.commit()
        counts.append(statements_for(app, client, "/admin/audit"))
    assert counts[0] == counts[1] <= 12


# --- pagination ---------------------------------------------------------------------------

def _ranked(html: str) -> list[tuple[int, str]]:
    """(rank, project) of the rows of the ranking table."""
    return [(int(rank), title) for rank, title in re.findall(
        r'<td class="num">(\d+)</td>\s*<th scope="row">([^<]+)</th>', html)]


def test_results_and_gallery_are_paginated_with_awards_on_the_first_page(app, session):
    world = ChallengeWorld(session)
    world.grow(PER_PAGE + 5)
    world.publish()
    client = app.test_client()

    first = client.get(f"/c/{SLUG}/results").get_data(as_text=True)
    top = _ranked(first)
    assert len(top) == PER_PAGE and [r for r, _ in top] == sorted(r for r, _ in top)
    assert 'aria-label="Ranking pages"' in first and 'aria-current="page"' in first
    assert f"Page 1 of 2 ({PER_PAGE + 5} in all)" in first
    assert "Grand prize" in first and "Patient panel" in first

    second = client.get(f"/c/{SLUG}/results?page=2").get_data(as_text=True)
    rest = _ranked(second)
    assert len(rest) == 5 and rest[0][0] >= top[-1][0]
    assert not {title for _, title in rest} & {title for _, title in top}
    assert 'rel="prev"' in second and 'id="awards-h"' not in second

    for bad in ("abc", "0", "-4", "1.5"):  # not a page number: page 1
        assert _ranked(client.get(f"/c/{SLUG}/results?page={bad}").get_data(
            as_text=True)) == top
    assert client.get(f"/c/{SLUG}/results?page=3").status_code == 404
    assert client.get(f"/c/{SLUG}/results?page=99999999999999999999").status_code == 404

    gallery = client.get(f"/c/{SLUG}/gallery").get_data(as_text=True)
    assert gallery.count('class="panel gallery-entry"') == PER_PAGE
    assert 'aria-label="Gallery pages"' in gallery
    more = client.get(f"/c/{SLUG}/gallery?page=2").get_data(as_text=True)
    # 55 entries, the last held back by its open safety flag: 54 shown.
    assert more.count('class="panel gallery-entry"') == 4
    assert "Team 054" not in more
    assert client.get(f"/c/{SLUG}/gallery?page=3").status_code == 404


def _award_fields(html: str) -> dict[str, str]:
    """Team name -> award input id on the dashboard's publish form."""
    return dict((team, field) for field, team in re.findall(
        r'<label for="(award-\d+)">Award for ([^<]+?) <span', html))


def test_dashboard_award_form_keeps_awards_given_on_other_pages(app, make_user, session):
    world = ChallengeWorld(session)
    world.grow(PER_PAGE + 5)
    client = as_user(app, make_user, "org@example.org", "organizer")
    admin = f"/organize/challenges/{SLUG}/results"
    first = client.get(admin).get_data(as_text=True)
    assert 'aria-label="Ranking pages"' in first and len(_award_fields(first)) == PER_PAGE
    second = client.get(f"{admin}?page=2").get_data(as_text=True)
    later = _award_fields(second)
    assert len(later) == 5 and not set(later) & set(_award_fields(first))
    team = next(iter(later))
    sent = client.post(f"{admin}/publish?page=2", data={"based_on": "0",
                                                        later[team]: "Patient panel's choice"})
    assert sent.status_code == 302
    # Page 1 now offers that award too, so publishing from page 1 keeps it.
    first = client.get(admin).get_data(as_text=True)
    fields = _award_fields(first)
    assert team in fields and len(fields) == PER_PAGE + 1
    assert 'value="Patient panel&#39;s choice"' in first
    data = {"based_on": "1", **{field: "" for field in fields.values()}}
    data[fields[team]] = "Patient panel's choice"
    assert client.post(f"{admin}/publish", data=data).status_code == 302
    snapshot = results.latest_snapshot(session, world.challenge)
    assert snapshot.version == 2
    assert {e.team_name: e.award for e in snapshot.entries if e.award} == {
        team: "Patient panel's choice"}


def test_submissions_overview_is_paginated_and_an_extension_returns_to_its_page(
        app, make_user, session):
    world = ChallengeWorld(session)
    world.grow(PER_PAGE + 2)
    client = as_user(app, make_user, "org@example.org", "organizer")
    admin = f"/organize/challenges/{SLUG}"
    first = client.get(admin).get_data(as_text=True)
    assert f"Teams ({PER_PAGE + 2})" in first and 'aria-label="Team pages"' in first
    assert first.count('<tr id="team-') == PER_PAGE
    last = world.entries[-1].team_id
    second = client.get(f"{admin}?page=2").get_data(as_text=True)
    assert second.count('<tr id="team-') == 2 and f'id="team-{last}"' in second
    granted = client.post(f"{admin}/teams/{last}/extension", data={
        f"t{last}-until": "2027-03-02T10:00", f"t{last}-timezone": "UTC"})
    assert granted.status_code == 302
    assert granted.location.endswith(f"{admin}?page=2#team-{last}")
    assert client.get(f"{admin}?page=3").status_code == 404


def test_unranked_entries_follow_the_last_page_of_the_ranking(app, session):
    world = ChallengeWorld(session)
    world.grow(PER_PAGE + 1)
    add_entry(session, world.challenge, "Late owls", "Unreviewed project")
    session.commit()
    results.publish(session, world.challenge, None, {}, confirm_unscored=True)
    session.commit()
    client = app.test_client()
    first = client.get(f"/c/{SLUG}/results").get_data(as_text=True)
    last = client.get(f"/c/{SLUG}/results?page=2").get_data(as_text=True)
    assert "Not ranked" not in first
    assert "Not ranked (no complete review):" in last and "Late owls" in last
