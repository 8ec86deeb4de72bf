"""Organizer judging pages and a judge's conflicts page, through the test client."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from challenge import clock, create_app
from challenge.accounts.services import create_user, find_user
from challenge.audit import AuditEvent
from challenge.challenges.models import Membership
from challenge.db import session_scope
from challenge.judging import access
from challenge.judging.models import Assignment, Conflict, JudgeSeat, Panel, Rubric
from challenge.outbox import latest_to
from tests.conftest import PASSWORD, IsolatedClient, csrf_token_from, login
from tests.services.test_judging_setup import (
    JUDGING,
    make_challenge,
    make_review,
    make_team,
    setup,
    submission_of,
)

SLUG = "ddd-2027"
BASE = f"/organize/challenges/{SLUG}/judging"


@pytest.fixture(autouse=True)
def _frozen(app):
    clock.freeze(JUDGING)
    yield
    clock.freeze(None)


@pytest.fixture
def world(session, make_user):
    """A synced challenge with judges j1, j2 (expert), teams GlucoGo (ana), Nightwatch (cy),
    and accounts for an organizer, a patient and an entrant."""
    make_user("org@example.org", "organizer")
    make_user("pat@example.org", "patient")
    make_user("ent@example.org", "entrant")
    make_user("j1@example.org", "judge", name="Jo")
    make_user("j2@example.org", "judge")
    make_user("j9@example.org", "judge")  # a judge, but not of this challenge
    make_user("ana@example.org", "entrant")
    make_user("cy@example.org", "entrant")
    c = make_challenge(session, SLUG, reviews_per_entry=1, judges=[
        {"email": "j1@example.org", "name": "Jo", "panel": "expert"},
        {"email": "j2@example.org", "name": "", "panel": "expert"}])
    teams = [make_team(session, c, "GlucoGo", find_user(session, "ana@example.org")),
             make_team(session, c, "Nightwatch", find_user(session, "cy@example.org"))]
    setup.sync_from_challenge(session, c)
    session.commit()
    return type("World", (), dict(challenge=c, teams=teams,
                                  user=lambda email: find_user(session, email)))


def client_for(app, email: str):
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client


@pytest.fixture
def org(app, world):
    return client_for(app, "org@example.org")


def html(response) -> str:
    return response.get_data(as_text=True)


def count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


PAGES = ("", "/rubric", "/judges/invite", "/panels", "/conflicts")
POSTS = ("/sync", "/rubric", "/judges/invite", "/judges/1/panel", "/judges/1/remove",
         "/panels", "/conflicts", "/conflicts/1/remove", "/assign", "/assignments",
         "/assignments/1/remove")


# --- authorization --------------------------------------------------------------------------

def test_pages_are_for_organizers_only(app, world, client):
    for path in PAGES:
        response = client.get(BASE + path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path
    for path in POSTS:
        assert client.post(BASE + path).status_code == 302, path
    for email in ("pat@example.org", "ent@example.org", "j1@example.org"):
        other = client_for(app, email)
        for path in PAGES:
            assert other.get(BASE + path).status_code == 403, (email, path)
        for path in POSTS:
            assert other.post(BASE + path).status_code == 403, (email, path)
    organizer = client_for(app, "org@example.org")
    for path in PAGES:
        assert organizer.get(BASE + path).status_code == 200, path
    assert organizer.get("/organize/challenges/nope/judging").status_code == 404
    endpoints = {r.endpoint for r in app.url_map.iter_rules()
                 if r.endpoint.startswith("judging_admin.")}
    assert len(endpoints) == 12
    for endpoint in endpoints:
        assert app.view_functions[endpoint].allowed_roles == ("organizer",), endpoint


def test_overview_shows_judges_loads_entries_and_conflicts(org, world, session):
    c = world.challenge
    j1 = world.user("j1@example.org")
    sub = submission_of(session, world.teams[0])
    session.add(Assignment(challenge_id=c.id, user_id=j1.id, submission_id=sub.id,
                           source="manual", created_at=clock.now()))
    make_review(session, c, j1, sub)
    session.add(Conflict(challenge_id=c.id, user_id=world.user("j2@example.org").id,
                         team_id=world.teams[1].id, source="declared", reason="Cousin",
                         created_at=clock.now()))
    session.commit()
    page = html(org.get(BASE))
    assert "Panel expert" in page and "j1@example.org" in page and "j2@example.org" in page
    row = page[page.index("j1@example.org"):page.index("j2@example.org")]
    assert "<td>1</td>" in row  # one assigned, one submitted
    assert "GlucoGo" in page and "Reviewed" in page and "1 missing" in page
    assert "Declared by the judge" in page and "Cousin" not in page


# --- rubric ---------------------------------------------------------------------------------

def _rubric_form(session, world, **changes) -> dict[str, str]:
    rubric = access.current_rubric(session, world.challenge)
    data: dict[str, str | list[str]] = {}
    for i, c in enumerate(rubric.criteria):
        data.update({f"criteria-{i}-key": c.key, f"criteria-{i}-name": c.name,
                     f"criteria-{i}-description": c.description,
                     f"criteria-{i}-weight": f"{c.weight:g}",
                     f"criteria-{i}-min": f"{c.min_score:g}",
                     f"criteria-{i}-max": f"{c.max_score:g}",
                     f"criteria-{i}-levels": "\n".join(f"{k}={v}" for k, v in c.levels.items()),
                     f"criteria-{i}-guidelines": list(c.guidelines)})
    data.update(changes)
    return data


def test_rubric_editor_keeps_typed_values_beside_errors(org, world, session):
    page = html(org.get(BASE + "/rubric"))
    assert 'value="impact"' in page and "Transforms a daily routine" in page
    assert "saving changes it in place" in page
    data = _rubric_form(session, world, **{
        "criteria-1-key": "impact", "criteria-1-weight": "zero", "criteria-2-max": "0",
        "criteria-0-levels": "1=Low, 9=Too high", "criteria-0-guidelines": ["nights", "sleep"],
        "criteria-3-key": "", "criteria-3-name": ""})
    response = org.post(BASE + "/rubric", data=data)
    assert response.status_code == 422
    page = html(response)
    assert 'value="zero"' in page and "9=Too high" in page
    for message in ("already the key of criterion 1", "The weight must be a number greater",
                    "must be greater than the lowest", "Level 9 is outside the scale",
                    "“sleep” is not a published guideline key"):
        assert message in page, message
    assert access.current_rubric(session, world.challenge).criteria[1].key == "feasibility"


def test_rubric_editor_saves_in_place_then_versions(org, world, session):
    data = _rubric_form(session, world, **{
        "criteria-0-plain_description": "Would it make your day easier?",
        "criteria-2-remove": "y",
        "criteria-3-key": "fun", "criteria-3-name": "Fun", "criteria-3-weight": "10",
        "criteria-3-min": "0", "criteria-3-max": "3", "criteria-3-levels": "0=Dull, 3=Great"})
    response = org.post(BASE + "/rubric", data=data, follow_redirects=True)
    assert response.status_code == 200 and "Rubric version 1 saved." in html(response)
    session.expire_all()
    rubric = access.current_rubric(session, world.challenge)
    assert [c.key for c in rubric.criteria] == ["impact", "feasibility", "fun"]
    assert rubric.criteria[0].plain_description == "Would it make your day easier?"
    assert rubric.criteria[2].levels == {"0": "Dull", "3": "Great"}
    # A score: the page says so, and saving makes version 2.
    make_review(session, world.challenge, world.user("j1@example.org"),
                submission_of(session, world.teams[1]))
    session.commit()
    page = html(org.get(BASE + "/rubric"))
    assert "Saving creates version 2" in page
    data = _rubric_form(session, world, **{"criteria-0-weight": "55"})
    response = org.post(BASE + "/rubric", data=data, follow_redirects=True)
    assert "rubric version 2" in html(response)
    assert count(session, Rubric) == 2


def test_add_row_button_adds_a_blank_criterion(org, world, session):
    data = _rubric_form(session, world, add_row="1")
    page = html(org.post(BASE + "/rubric", data=data))
    assert 'name="criteria-3-key"' in page and 'name="criteria-4-key"' not in page
    assert count(session, AuditEvent, AuditEvent.action == "rubric.saved") == 0


# --- judges and panels ----------------------------------------------------------------------

def test_invite_a_judge(org, world, session):
    response = org.post(BASE + "/judges/invite",
                        data={"email": "nia@", "name": "Nia", "panel": "expert"})
    assert response.status_code == 422
    assert 'value="nia@"' in html(response) and 'value="Nia"' in html(response)
    response = org.post(BASE + "/judges/invite", data={"email": "nia@example.org", "name": "Nia",
                                                       "panel": "expert"},
                        follow_redirects=True)
    assert "an invitation to set a password is in the outbox" in html(response)
    message = latest_to(session, "nia@example.org")
    assert message.kind == "invite" and "/invite/" in message.body
    response = org.post(BASE + "/judges/invite", data={"email": "nia@example.org",
                                                       "panel": "expert"})
    assert response.status_code == 409 and "already a judge" in html(response)


def test_panels_move_and_remove(org, world, session):
    response = org.post(BASE + "/panels", data={"new-name": "patient", "new-weight": "0"})
    assert response.status_code == 422 and "greater than 0" in html(response)
    assert 'value="patient"' in html(response)
    org.post(BASE + "/panels", data={"new-name": "patient", "new-weight": "0,3"})
    expert = session.scalar(select(Panel).where(Panel.name == "expert"))
    org.post(BASE + "/panels", data={"panel_id": expert.id, f"p{expert.id}-weight": "0.7"})
    session.expire_all()
    assert world.challenge.panels == {"expert": 0.7, "patient": 0.3}
    seat = access.judge_seat(session, world.user("j2@example.org"), world.challenge)
    org.post(f"{BASE}/judges/{seat.id}/panel", data={f"s{seat.id}-panel": "patient"})
    session.expire_all()
    assert access.judge_seat(session, world.user("j2@example.org"),
                             world.challenge).panel.name == "patient"
    response = org.post(f"{BASE}/judges/{seat.id}/remove", follow_redirects=True)
    assert "no longer a judge" in html(response)
    assert count(session, JudgeSeat) == 1


# --- conflicts ------------------------------------------------------------------------------

def test_organizer_adds_and_removes_conflicts(org, world, session):
    j1 = world.user("j1@example.org")
    glucogo = world.teams[0]
    response = org.post(BASE + "/conflicts", data={"user_id": j1.id, "team_id": glucogo.id,
                                                   "reason": "Former colleague"},
                        follow_redirects=True)
    assert "Conflict recorded." in html(response) and "Former colleague" in html(response)
    conflict = session.scalar(select(Conflict))
    assert conflict.source == "organizer"
    org.post(f"{BASE}/conflicts/{conflict.id}/remove")
    assert count(session, Conflict) == 0
    # Membership is automatic: listed, not removable, not addable.
    session.add(Membership(team_id=world.teams[1].id, challenge_id=world.challenge.id,
                           user_id=j1.id, role="member", joined_at=clock.now()))
    session.commit()
    page = html(org.get(BASE + "/conflicts"))
    assert "Member of the team (automatic)" in page and "Automatic" in page
    response = org.post(BASE + "/conflicts", data={"user_id": j1.id,
                                                   "team_id": world.teams[1].id})
    assert response.status_code == 409 and "already a conflict" in html(response)


def test_judge_declares_a_conflict(app, world, session, client):
    assert client.get(f"/judging/{SLUG}/conflicts").status_code == 302
    outsider = client_for(app, "j9@example.org")
    assert outsider.get(f"/judging/{SLUG}/conflicts").status_code == 403
    assert client_for(app, "ana@example.org").get(f"/judging/{SLUG}/conflicts").status_code == 403
    judge = client_for(app, "j1@example.org")
    page = html(judge.get(f"/judging/{SLUG}/conflicts"))
    assert "GlucoGo" in page and "Nightwatch" in page and "None declared" in page
    response = judge.post(f"/judging/{SLUG}/conflicts",
                          data={"team_id": world.teams[1].id, "reason": "My cousin"},
                          follow_redirects=True)
    assert "you will not be asked to judge Nightwatch" in html(response)
    conflict = session.scalar(select(Conflict))
    assert (conflict.source, conflict.reason) == ("declared", "My cousin")
    response = judge.post(f"/judging/{SLUG}/conflicts", data={"team_id": 99999})
    assert response.status_code == 422
    # The team never sees the reason: the team's own pages do not mention it.
    team_page = client_for(app, "cy@example.org").get(f"/c/{SLUG}/team")
    assert "My cousin" not in html(team_page)


# --- assignment -----------------------------------------------------------------------------

def test_assign_button_and_overrides(org, world, session):
    j1, j2 = world.user("j1@example.org"), world.user("j2@example.org")
    response = org.post(BASE + "/assign", follow_redirects=True)
    assert "2 new assignments (0 kept); each judge has 1 entry." in html(response)
    assert count(session, Assignment) == 2
    # Manual: a member of the team cannot be assigned; the error sits beside the field.
    mine = access.assigned_submission_ids(session, j2.id, world.challenge)
    team = next(t for t in world.teams if submission_of(session, t).id not in mine)
    session.add(Membership(team_id=team.id, challenge_id=world.challenge.id,
                           user_id=j2.id, role="member", joined_at=clock.now()))
    session.commit()
    target = submission_of(session, team)
    response = org.post(BASE + "/assignments", data={"user_id": j2.id,
                                                     "submission_id": target.id})
    assert response.status_code == 409
    page = html(response)
    assert f"has a conflict with {team.name}" in page
    assert page.index("has a conflict") > page.index('id="override-h"')
    glucogo = submission_of(session, world.teams[0])
    existing = session.scalar(select(Assignment).where(Assignment.submission_id == glucogo.id))
    # Remove one, add it back by hand.
    response = org.post(f"{BASE}/assignments/{existing.id}/remove", follow_redirects=True)
    assert "Assignment removed." in html(response)
    response = org.post(BASE + "/assignments", data={"user_id": j1.id,
                                                     "submission_id": glucogo.id},
                        follow_redirects=True)
    assert "Assignment added." in html(response)
    assert session.scalar(select(Assignment.source).where(
        Assignment.submission_id == glucogo.id)) == "manual"


def test_assign_infeasible_is_a_clear_409(org, world, session):
    for email in ("j1@example.org", "j2@example.org"):
        session.add(Conflict(challenge_id=world.challenge.id, user_id=world.user(email).id,
                             team_id=world.teams[1].id, source="organizer",
                             created_at=clock.now()))
    session.commit()
    response = org.post(BASE + "/assign")
    assert response.status_code == 409 and "Short: Nightwatch." in html(response)
    assert count(session, Assignment) == 0


def test_forms_need_csrf_tokens(app_config):
    """With CSRF on (as in production) every form carries a token and a POST without one
    is refused."""
    app_config["WTF_CSRF_ENABLED"] = True
    application = create_app(app_config)
    application.test_client_class = IsolatedClient
    try:
        with application.app_context(), session_scope(application) as s:
            create_user(s, "org@example.org", password=PASSWORD, roles=["organizer"])
            c = make_challenge(s, SLUG)
            setup.sync_from_challenge(s, c)
        client = application.test_client()
        token = csrf_token_from(html(client.get("/login")))
        client.post("/login", data={"email": "org@example.org", "password": PASSWORD,
                                    "csrf_token": token})
        for path in PAGES:
            page = html(client.get(BASE + path))
            forms = page.count('<form method="post"')
            assert page.count('csrf_token"') >= forms > 0, path
        token = csrf_token_from(page)
        assert client.post(BASE + "/assign").status_code == 400
        assert client.post(BASE + "/panels", data={"new-name": "patient",
                                                   "new-weight": "1"}).status_code == 400
        response = client.post(BASE + "/panels", data={"new-name": "patient",
                                                       "new-weight": "1",
                                                       "new-csrf_token": token})
        assert response.status_code == 302
    finally:
        application.extensions["db_engine"].dispose()
