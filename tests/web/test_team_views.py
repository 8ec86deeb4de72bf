"""Team pages through the test client: forms, invitations, authorization, deadlines."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from challenge import clock, create_app
from challenge.challenges import teams
from challenge.challenges.models import Invitation, JoinRequest, Membership, Team
from challenge.outbox import latest_to
from tests.conftest import csrf_token_from, login
from tests.services.test_teams import DEADLINE, NOW, TINY, make_challenge

SLUG = "glucose"
XSS = '<script>alert("x")</script>'


@pytest.fixture(autouse=True)
def frozen_now(app):
    clock.freeze(NOW)
    yield
    clock.freeze(None)


@pytest.fixture
def challenge(session):
    challenge = make_challenge(session, SLUG, team_max=3)
    session.commit()
    return challenge


@pytest.fixture
def people(make_user):
    for email in ("ana", "ben", "cai", "dan"):
        make_user(f"{email}@example.org", "entrant", name=email.title())
    make_user("org@example.org", "organizer", name="Olga")
    make_user("pat@example.org", "patient")


def client_for(app, email: str):
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client


@pytest.fixture
def ana(app, people):
    return client_for(app, "ana@example.org")


@pytest.fixture
def ben(app, people):
    return client_for(app, "ben@example.org")


@pytest.fixture
def cai(app, people):
    return client_for(app, "cai@example.org")


@pytest.fixture
def team_id(ana, challenge) -> int:
    response = ana.post(f"/c/{SLUG}/teams", data={"name": "GlucoGo"})
    assert response.status_code == 302
    return int(response.headers["Location"].rsplit("/", 1)[1])


def new_link(client, team_id: int) -> str:
    response = client.post(f"/teams/{team_id}/invitations/link")
    assert response.status_code == 302 and response.headers["Location"].endswith("#new-link")
    page = client.get(f"/teams/{team_id}").get_data(as_text=True)
    match = re.search(r'value="(http[^"]+/invite/team/([^"]+))"', page)
    assert match, "the new link is shown"
    return match.group(2)


def member_emails(session, team_id: int) -> set[str]:
    session.expire_all()
    rows = session.scalars(select(Membership).where(Membership.team_id == team_id))
    return {m.user.email for m in rows}


# --- forming a team -------------------------------------------------------------------------

def test_entrant_sees_how_to_form_a_team_and_creates_one(ana, challenge, session):
    page = ana.get(f"/c/{SLUG}/team")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Create a team" in html and "Have an invitation link?" in html and "No teams yet" in html
    created = ana.post(f"/c/{SLUG}/teams", data={"name": "  GlucoGo "})
    team = session.scalar(select(Team))
    assert created.headers["Location"].endswith(f"/teams/{team.id}")
    show = ana.get(f"/teams/{team.id}").get_data(as_text=True)
    assert "You are the captain of this team." in show and "Your team is created" in show
    assert "Invite by e-mail" in show and "Create an invitation link" in show
    assert 'data-confirm="Leave and delete the team?' in show
    # the challenge's team page now leads to the team
    assert ana.get(f"/c/{SLUG}/team").headers["Location"].endswith(f"/teams/{team.id}")


def test_team_form_errors_keep_what_was_typed(ana, ben, team_id):
    empty = ben.post(f"/c/{SLUG}/teams", data={"name": "   "})
    assert empty.status_code == 422 and b"Give the team a name." in empty.data
    clash = ben.post(f"/c/{SLUG}/teams", data={"name": "GLUCOGO"})
    html = clash.get_data(as_text=True)
    assert clash.status_code == 409
    assert "already has this name" in html and 'value="GLUCOGO"' in html
    assert 'aria-invalid="true"' in html
    assert ben.post(f"/c/{SLUG}/teams", data={"name": "x" * 121}).status_code == 422


def test_second_team_in_the_same_challenge_is_refused(ana, team_id, session):
    # the form is not shown to a member, but a forged POST gets a clear 409
    response = ana.post(f"/c/{SLUG}/teams", data={"name": "Second"})
    assert response.status_code == 409 and b"one team per person" in response.data
    assert session.scalar(select(func.count(Team.id))) == 1


def test_who_may_see_the_pages(app, people, challenge, session):
    anonymous = app.test_client()
    for path in (f"/c/{SLUG}/team", "/teams/1"):
        response = anonymous.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert anonymous.post(f"/c/{SLUG}/teams", data={"name": "x"}).status_code == 302
    patient = client_for(app, "pat@example.org")
    assert patient.get(f"/c/{SLUG}/team").status_code == 403
    entrant = client_for(app, "dan@example.org")
    assert entrant.get("/c/no-such-challenge/team").status_code == 404
    make_challenge(session, "hidden", published=False)
    session.commit()
    assert entrant.get("/c/hidden/team").status_code == 404
    assert entrant.get("/teams/999").status_code == 404


def test_xss_in_team_names_is_escaped(ana, ben, challenge, app):
    ana.post(f"/c/{SLUG}/teams", data={"name": XSS})
    for client, path in ((ana, "/dashboard"), (ben, f"/c/{SLUG}/team")):
        html = client.get(path).get_data(as_text=True)
        assert XSS not in html and "&lt;script&gt;" in html
    team_page = ana.get(ana.get(f"/c/{SLUG}/team").headers["Location"]).get_data(as_text=True)
    assert XSS not in team_page and "&lt;script&gt;alert" in team_page


# --- invitations -----------------------------------------------------------------------------

def test_email_invitation_round_trip(ana, ben, cai, team_id, session):
    bad = ana.post(f"/teams/{team_id}/invitations/email", data={"email": "not an address"})
    assert bad.status_code == 422
    assert b'value="not an address"' in bad.data and b"like name@example.org" in bad.data
    sent = ana.post(f"/teams/{team_id}/invitations/email", data={"email": "ben@example.org"})
    assert sent.status_code == 302
    page = ana.get(f"/teams/{team_id}").get_data(as_text=True)
    assert "An invitation was sent to ben@example.org" in page and "Revoke" in page
    body = latest_to(session, "ben@example.org").body
    link = re.search(r"http\S+/invite/team/(\S+)", body)
    token = link.group(1)
    # another account may not use it
    wrong = cai.get(f"/invite/team/{token}")
    assert wrong.status_code == 403 and b"different e-mail address" in wrong.data
    assert b"Join GlucoGo</button>" not in wrong.data
    assert cai.post(f"/invite/team/{token}").status_code == 403
    shown = ben.get(f"/invite/team/{token}")
    assert shown.status_code == 200 and b"Join GlucoGo</button>" in shown.data
    joined = ben.post(f"/invite/team/{token}")
    assert joined.headers["Location"].endswith(f"/teams/{team_id}")
    assert member_emails(session, team_id) == {"ana@example.org", "ben@example.org"}
    # single use: the link is gone now, with a clear page
    again = cai.get(f"/invite/team/{token}")
    assert again.status_code == 410 and b"already been used" in again.data


def test_link_is_shown_once_and_anonymous_visitor_logs_in_and_comes_back(
        app, ana, team_id, session, people):
    token = new_link(ana, team_id)
    assert "Your new invitation link" not in ana.get(f"/teams/{team_id}").get_data(as_text=True)
    assert session.scalar(select(Invitation.token_hash)) == teams.hash_token(token)
    visitor = app.test_client()
    landing = visitor.get(f"/invite/team/{token}")
    html = landing.get_data(as_text=True)
    assert landing.status_code == 200 and "GlucoGo" in html and "Log in to join" in html
    assert f"/login?next=/invite/team/{token}" in html
    assert visitor.post(f"/invite/team/{token}").status_code == 302  # to the login page
    logged_in = visitor.post(f"/login?next=/invite/team/{token}",
                             data={"email": "ben@example.org",
                                   "password": "correct horse battery staple"})
    assert logged_in.headers["Location"] == f"/invite/team/{token}"
    assert visitor.post(f"/invite/team/{token}").status_code == 302
    assert "ben@example.org" in member_emails(session, team_id)
    members_page = ana.get(f"/teams/{team_id}").get_data(as_text=True)
    assert "Ben" in members_page and "Members (2 of 3)" in members_page


@pytest.mark.parametrize("state,status,text", [
    ("unknown", 404, b"not valid"), ("revoked", 410, b"withdrawn"),
    ("expired", 410, b"expired")])
def test_unusable_invitations_get_a_clear_page(ana, ben, team_id, session, state, status, text):
    token = new_link(ana, team_id)
    if state == "unknown":
        token = token[::-1] + "x"
    elif state == "revoked":
        invitation = session.scalar(select(Invitation))
        assert ana.post(f"/teams/{team_id}/invitations/{invitation.id}/revoke").status_code == 302
    else:
        clock.advance(timedelta(days=7))
    for method in (ben.get, ben.post):
        response = method(f"/invite/team/{token}")
        assert response.status_code == status and text in response.data
    assert member_emails(session, team_id) == {"ana@example.org"}


def test_joining_from_another_team_or_without_the_entrant_role_is_refused(
        app, ana, ben, team_id, session):
    token = new_link(ana, team_id)
    dan = client_for(app, "dan@example.org")
    dan.post(f"/c/{SLUG}/teams", data={"name": "Dans"})
    other_team = dan.get(f"/invite/team/{token}")
    assert other_team.status_code == 409 and b"another team in this challenge" in other_team.data
    assert b"Join GlucoGo</button>" not in other_team.data
    assert dan.post(f"/invite/team/{token}").status_code == 409
    patient = client_for(app, "pat@example.org")
    assert patient.get(f"/invite/team/{token}").status_code == 403
    organizer = client_for(app, "org@example.org")
    refused = organizer.post(f"/invite/team/{token}")
    assert refused.status_code == 403 and b"Organizers cannot join" in refused.data
    assert member_emails(session, team_id) == {"ana@example.org"}
    assert ben.post(f"/invite/team/{token}").status_code == 302


def test_full_team_page_for_a_newcomer(app, ana, ben, cai, team_id, session, make_user):
    token = new_link(ana, team_id)
    ben.post(f"/invite/team/{token}")
    cai.post(f"/invite/team/{token}")
    make_user("fay@example.org", "entrant")
    fay = client_for(app, "fay@example.org")
    response = fay.get(f"/invite/team/{token}")
    assert response.status_code == 409 and b"This team is full" in response.data
    assert fay.post(f"/invite/team/{token}").status_code == 409
    assert len(member_emails(session, team_id)) == 3
    full_page = ana.get(f"/teams/{team_id}").get_data(as_text=True)
    assert "The team is full" in full_page and "Send the invitation" not in full_page


def test_pasted_invitation_link(ana, ben, team_id):
    token = new_link(ana, team_id)
    response = ben.post(f"/c/{SLUG}/team/invite-link",
                        data={"link": f"http://localhost/invite/team/{token}"})
    assert response.headers["Location"].endswith(f"/invite/team/{token}")
    garbage = ben.post(f"/c/{SLUG}/team/invite-link", data={"link": "hello there"})
    assert garbage.status_code == 422
    assert b"Paste the whole invitation link" in garbage.data
    assert b'value="hello there"' in garbage.data


# --- requests -----------------------------------------------------------------------------------

def test_request_to_join_accept_decline_cancel(ana, ben, cai, team_id, session):
    listing = ben.get(f"/c/{SLUG}/team").get_data(as_text=True)
    assert "GlucoGo" in listing and f"/teams/{team_id}/request" in listing
    assert "1 of 3" in listing
    form = ben.get(f"/teams/{team_id}/request")
    assert form.status_code == 200 and b"A message for the captain" in form.data
    too_long = ben.post(f"/teams/{team_id}/request", data={"message": "y" * 1001})
    assert too_long.status_code == 422 and b"y" * 1001 in too_long.data
    sent = ben.post(f"/teams/{team_id}/request", data={"message": XSS})
    assert sent.headers["Location"].endswith(f"/c/{SLUG}/team")
    assert b"Request sent" in ben.get(f"/c/{SLUG}/team").data
    assert ben.post(f"/teams/{team_id}/request", data={}).status_code == 409
    captain_page = ana.get(f"/teams/{team_id}").get_data(as_text=True)
    assert "&lt;script&gt;" in captain_page and XSS not in captain_page
    request_id = session.scalar(select(JoinRequest.id).where(JoinRequest.status == "pending"))
    # a member who is not captain cannot answer; an outsider does not see the team
    assert cai.post(f"/teams/{team_id}/requests/{request_id}/accept").status_code == 404
    assert ana.post(f"/teams/{team_id}/requests/{request_id}/accept").status_code == 302
    assert "ben@example.org" in member_emails(session, team_id)
    assert ben.get(f"/c/{SLUG}/team").headers["Location"].endswith(f"/teams/{team_id}")
    assert ben.post(f"/teams/{team_id}/requests/{request_id}/decline").status_code == 403

    cai.post(f"/teams/{team_id}/request", data={"message": ""})
    cai_request = session.scalar(select(JoinRequest.id).where(JoinRequest.status == "pending"))
    assert cai.post(f"/teams/{team_id}/request/cancel").status_code == 302
    assert cai.post(f"/teams/{team_id}/request/cancel").status_code == 404
    cai.post(f"/teams/{team_id}/request", data={"message": "again"})
    assert ana.post(f"/teams/{team_id}/requests/{cai_request}/decline").status_code == 302
    session.expire_all()
    assert session.get(JoinRequest, cai_request).status == "declined"
    assert "cai@example.org" not in member_emails(session, team_id)


# --- managing members -------------------------------------------------------------------------

@pytest.fixture
def trio(ana, ben, cai, team_id):
    token = new_link(ana, team_id)
    assert ben.post(f"/invite/team/{token}").status_code == 302
    assert cai.post(f"/invite/team/{token}").status_code == 302
    return team_id


def user_id(session, email: str) -> int:
    from challenge.accounts.models import User
    return session.scalar(select(User.id).where(User.email == email))


def test_captain_removes_hands_over_and_members_leave(ana, ben, cai, trio, session):
    ben_id, cai_id = user_id(session, "ben@example.org"), user_id(session, "cai@example.org")
    ana_id = user_id(session, "ana@example.org")
    member_page = ben.get(f"/teams/{trio}").get_data(as_text=True)
    assert "You are a member of this team." in member_page
    assert "Make captain" not in member_page and "Invitations" not in member_page
    assert 'data-confirm="Leave this team?' in member_page
    captain_page = ana.get(f"/teams/{trio}").get_data(as_text=True)
    assert "Make captain" in captain_page and 'data-confirm="Remove this member' in captain_page
    assert ben.post(f"/teams/{trio}/members/{cai_id}/remove").status_code == 403
    refused = ana.post(f"/teams/{trio}/members/{ana_id}/remove")
    assert refused.status_code == 409 and b"cannot remove yourself" in refused.data
    assert ana.post(f"/teams/{trio}/members/999/remove").status_code == 404
    assert ana.post(f"/teams/{trio}/members/{cai_id}/remove").status_code == 302
    assert member_emails(session, trio) == {"ana@example.org", "ben@example.org"}
    assert cai.get(f"/teams/{trio}").status_code == 404  # no longer a member
    captain_leaves = ana.post(f"/teams/{trio}/leave")
    assert captain_leaves.status_code == 409 and b"Hand over captaincy" in captain_leaves.data
    assert ana.post(f"/teams/{trio}/members/{ben_id}/captain").status_code == 302
    assert b"You are the captain" in ben.get(f"/teams/{trio}").data
    left = ana.post(f"/teams/{trio}/leave")
    assert left.headers["Location"].endswith(f"/c/{SLUG}/team")
    deleted = ben.post(f"/teams/{trio}/leave", follow_redirects=True)
    assert b"You left the team and it was deleted." in deleted.data
    assert session.scalar(select(func.count(Team.id))) == 0


def test_another_teams_page_and_ids(app, ana, ben, cai, team_id, session):
    other = ben.post(f"/c/{SLUG}/teams", data={"name": "Bens"})
    other_id = int(other.headers["Location"].rsplit("/", 1)[1])
    assert ana.get(f"/teams/{other_id}").status_code == 404
    assert cai.get(f"/teams/{team_id}").status_code == 404
    ben.post(f"/teams/{other_id}/invitations/link")
    foreign = session.scalar(select(Invitation.id).where(Invitation.team_id == other_id))
    # ana is captain of her own team, but the invitation is not hers
    assert ana.post(f"/teams/{team_id}/invitations/{foreign}/revoke").status_code == 404
    assert ana.post(f"/teams/{other_id}/invitations/{foreign}/revoke").status_code == 404
    ben_id = user_id(session, "ben@example.org")
    assert ana.post(f"/teams/{team_id}/members/{ben_id}/remove").status_code == 404
    assert ana.post(f"/teams/{other_id}/leave").status_code == 404
    session.expire_all()
    assert session.get(Invitation, foreign).revoked_at is None
    assert member_emails(session, other_id) == {"ben@example.org"}


def test_organizer_views_any_team_read_only(app, ana, trio, session):
    organizer = client_for(app, "org@example.org")
    listing = organizer.get(f"/c/{SLUG}/team").get_data(as_text=True)
    assert "All teams" in listing and f"/teams/{trio}" in listing
    assert "Create a team" not in listing
    page = organizer.get(f"/teams/{trio}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "read only" in html
    assert "Ana" in html and "Ben" in html and "Cai" in html
    for absent in ("Make captain", "Remove", "Send the invitation", "Leave the team",
                   "Create an invitation link", "<form method=\"post\" action=\"/teams"):
        assert absent not in html
    cai_id = user_id(session, "cai@example.org")
    assert organizer.post(f"/teams/{trio}/members/{cai_id}/remove").status_code == 403
    assert organizer.post(f"/teams/{trio}/invitations/link").status_code == 403
    assert organizer.post(f"/c/{SLUG}/teams", data={"name": "Org team"}).status_code == 403
    assert len(member_emails(session, trio)) == 3


# --- deadlines ------------------------------------------------------------------------------------

@pytest.mark.parametrize("delta,allowed", [(-TINY, True), (timedelta(0), False), (TINY, False)])
def test_leaving_at_the_deadline(app, trio, session, delta, allowed):
    session.get(Team, trio).deadline_extension = DEADLINE + timedelta(days=2)
    session.commit()
    clock.freeze(DEADLINE + delta)  # sessions started a month ago have ended: log in again
    ana, cai = client_for(app, "ana@example.org"), client_for(app, "cai@example.org")
    response = cai.post(f"/teams/{trio}/leave")
    if allowed:
        assert response.status_code == 302
        assert "cai@example.org" not in member_emails(session, trio)
    else:
        assert response.status_code == 409 and b"deadline has passed" in response.data
        assert "cai@example.org" in member_emails(session, trio)
        page = ana.get(f"/teams/{trio}").get_data(as_text=True)
        assert "can no longer be formed or changed" in page
        assert "Make captain" not in page and "Leave the team" not in page


@pytest.mark.parametrize("delta,status", [(-TINY, 302), (timedelta(0), 409), (TINY, 409)])
def test_creating_at_the_deadline(app, people, challenge, delta, status):
    clock.freeze(DEADLINE + delta)
    ana = client_for(app, "ana@example.org")
    assert ana.post(f"/c/{SLUG}/teams", data={"name": "Late"}).status_code == status
    if status == 409:
        assert b"has passed: teams can no longer be formed" in ana.get(f"/c/{SLUG}/team").data
        assert b"Create the team" not in ana.get(f"/c/{SLUG}/team").data


# --- dashboard and CSRF ---------------------------------------------------------------------

def test_dashboard_panel(ana, ben, team_id):
    empty = ben.get("/dashboard").get_data(as_text=True)
    assert "Your teams" in empty and "You are not in a team yet." in empty
    assert f"/c/{SLUG}/team" in empty and "Open for registration" in empty
    mine = ana.get("/dashboard").get_data(as_text=True)
    assert "GlucoGo" in mine and "Captain" in mine and "No submission yet" in mine
    assert f"/teams/{team_id}" in mine and "Open for registration" not in mine


def test_csrf_is_required_on_team_forms(app_config, people, challenge):
    app_config["WTF_CSRF_ENABLED"] = True
    application = create_app(app_config)
    try:
        client = application.test_client()
        token = csrf_token_from(client.get("/login").get_data(as_text=True))
        client.post("/login", data={"email": "ana@example.org", "csrf_token": token,
                                    "password": "correct horse battery staple"})
        refused = client.post(f"/c/{SLUG}/teams", data={"name": "No token"})
        assert refused.status_code == 400
        page = client.get(f"/c/{SLUG}/team").get_data(as_text=True)
        created = client.post(f"/c/{SLUG}/teams",
                              data={"name": "With token", "csrf_token": csrf_token_from(page)})
        assert created.status_code == 302
    finally:
        application.extensions["db_engine"].dispose()
