"""Team services on a real database: forming, invitations, requests, members, deadlines."""

from __future__ import annotations

import hashlib
import secrets
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from challenge import clock
from challenge.accounts import services as accounts
from challenge.audit import AuditEvent
from challenge.challenges import teams
from challenge.challenges.models import (
    Challenge,
    Invitation,
    JoinRequest,
    Membership,
    Submission,
    SubmissionFile,
    SubmissionVersion,
    Team,
)
from challenge.errors import Conflict, DomainError, Forbidden, NotFound
from challenge.outbox import OutboxMessage, latest_to
from tests.conftest import ON_POSTGRES

OPENS = datetime(2027, 1, 10, tzinfo=UTC)
DEADLINE = datetime(2027, 3, 1, 17, 0, tzinfo=UTC)
NOW = datetime(2027, 2, 1, 12, 0, tzinfo=UTC)  # inside registration
TINY = timedelta(microseconds=1)


def make_challenge(session, slug: str = "glucose", *, team_max: int = 4, team_min: int = 1,
                   published: bool = True, opens: datetime = OPENS,
                   deadline: datetime = DEADLINE) -> Challenge:
    """A challenge row written directly with the model."""
    challenge = Challenge(
        slug=slug, title=f"Challenge {slug}", team_min=team_min, team_max=team_max,
        registration_opens=opens, submission_deadline=deadline,
        judging_closes=deadline + timedelta(days=30), results_at=deadline + timedelta(days=45),
        published=published, created_at=opens - timedelta(days=30),
        updated_at=opens - timedelta(days=30))
    session.add(challenge)
    session.flush()
    return challenge


def person(session, email: str, *roles: str):
    return accounts.create_user(session, email, password=None, roles=list(roles or ("entrant",)),
                                name=email.split("@")[0].title())


@pytest.fixture(autouse=True)
def frozen_now(app):
    clock.freeze(NOW)
    yield
    clock.freeze(None)


@pytest.fixture
def challenge(session):
    return make_challenge(session)


@pytest.fixture
def ana(session):
    return person(session, "ana@example.org")


@pytest.fixture
def ben(session):
    return person(session, "ben@example.org")


@pytest.fixture
def cai(session):
    return person(session, "cai@example.org")


@pytest.fixture
def team(session, challenge, ana):
    return teams.create_team(session, challenge, ana, "GlucoGo")


def events(session, action: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                .order_by(AuditEvent.id)))


def members(session, team) -> dict[str, str]:
    rows = session.execute(select(Membership).where(Membership.team_id == team.id))
    return {m.user.email: m.role for (m,) in rows}


# --- creating teams -------------------------------------------------------------------------

def test_entrant_creates_a_team_and_becomes_captain(session, challenge, ana):
    team = teams.create_team(session, challenge, ana, "  Gluco   Go  ")
    assert team.name == "Gluco Go"
    assert members(session, team) == {"ana@example.org": "captain"}
    assert team.captain.id == ana.id
    assert teams.team_for_user(session, ana, challenge).id == team.id
    assert teams.membership_for(session, ana, challenge).role == "captain"
    assert teams.is_member(session, ana, team) and teams.is_captain(session, ana, team)
    (event,) = events(session, "team.created")
    assert event.actor_id == ana.id and event.target == f"team:{team.id}"
    assert event.details == {"challenge_id": challenge.id}  # no team name (free text)


@pytest.mark.parametrize("roles", [("organizer",), ("organizer", "entrant"), ("patient",),
                                   ("judge",)])
def test_only_entrants_who_are_not_organizers_create_teams(session, challenge, roles):
    someone = person(session, "someone@example.org", *roles)
    with pytest.raises(Forbidden):
        teams.create_team(session, challenge, someone, "Mine")
    assert session.scalar(select(func.count(Team.id))) == 0


def test_unpublished_challenge_is_not_found(session, ana):
    hidden = make_challenge(session, "hidden", published=False)
    with pytest.raises(NotFound):
        teams.create_team(session, hidden, ana, "Mine")
    with pytest.raises(NotFound):
        teams.get_challenge(session, "hidden", ana)
    organizer = person(session, "org@example.org", "organizer")
    assert teams.get_challenge(session, "hidden", organizer).id == hidden.id
    with pytest.raises(NotFound):
        teams.get_challenge(session, "no-such-thing")


@pytest.mark.parametrize("name,message", [
    ("", "at least 2"), ("x", "at least 2"), ("x" * 121, "at most 120"),
    ("bad\u0000name", "letters"), ("zero\u200bwidth", "letters")])
def test_bad_team_names_are_refused_beside_the_field(session, challenge, ana, name, message):
    with pytest.raises(DomainError, match=message) as caught:
        teams.create_team(session, challenge, ana, name)
    assert caught.value.field == "name"


def test_team_names_are_unique_per_challenge_ignoring_case(session, challenge, ana, ben, cai):
    teams.create_team(session, challenge, ana, "GlucoGo")
    for clash in ("glucogo", "GLUCOGO", " GlucoGo "):
        with pytest.raises(Conflict, match="already has this name") as caught:
            teams.create_team(session, challenge, ben, clash)
        assert caught.value.field == "name"
    other = make_challenge(session, "other")
    assert teams.create_team(session, other, ben, "glucogo").name == "glucogo"
    assert teams.create_team(session, challenge, cai, "Äpfel").name == "Äpfel"
    with pytest.raises(Conflict):
        teams.create_team(session, challenge, person(session, "d@example.org"), "äPFEL")


def test_one_team_per_person_per_challenge(session, challenge, ana, team):
    with pytest.raises(Conflict, match="one team per person"):
        teams.create_team(session, challenge, ana, "Second")
    other = make_challenge(session, "other")
    assert teams.create_team(session, other, ana, "Second").challenge_id == other.id
    assert session.scalar(select(func.count(Membership.id))
                          .where(Membership.user_id == ana.id)) == 2


def test_database_refuses_a_second_membership_in_a_challenge(session, challenge, ana, team):
    second = Team(challenge_id=challenge.id, name="Other", created_at=NOW)
    session.add(second)
    session.flush()
    with pytest.raises(IntegrityError):
        with session.begin_nested():
            session.add(Membership(team_id=second.id, challenge_id=challenge.id,
                                   user_id=ana.id, role="captain", joined_at=NOW))
            session.flush()


@pytest.mark.skipif(not ON_POSTGRES, reason="SQLite queues writers (BEGIN IMMEDIATE), so the "
                                            "check and the insert cannot interleave there")
def test_concurrent_team_creation_becomes_a_conflict(app, session, challenge, ana):
    session.commit()
    maker = app.extensions["db_sessionmaker"]
    first, second = maker(), maker()
    outcome = {}
    try:
        teams.create_team(first, first.get(Challenge, challenge.id),
                          first.get(type(ana), ana.id), "First")

        def racer():
            try:
                teams.create_team(second, second.get(Challenge, challenge.id),
                                  second.get(type(ana), ana.id), "Second")
            except Conflict as exc:
                outcome["error"] = exc
            second.rollback()

        thread = threading.Thread(target=racer)
        thread.start()
        thread.join(timeout=1)
        assert thread.is_alive()  # waiting on the unique index until the first commits
        first.commit()
        thread.join(timeout=10)
        assert not thread.is_alive()
        assert "one team per person" in outcome["error"].message
    finally:
        first.close()
        second.close()
    session.expire_all()
    assert session.scalar(select(func.count(Team.id))) == 1


@pytest.mark.parametrize("at,allowed", [
    (OPENS - TINY, False), (OPENS, True), (DEADLINE - TINY, True), (DEADLINE, False),
    (DEADLINE + TINY, False)])
def test_teams_are_formed_only_while_registration_is_open(session, challenge, ana, at, allowed):
    clock.freeze(at)
    if allowed:
        assert teams.create_team(session, challenge, ana, "Edge").id
    else:
        with pytest.raises(Conflict, match="not opened yet|deadline has passed"):
            teams.create_team(session, challenge, ana, "Edge")


# --- invitations ---------------------------------------------------------------------------

def test_email_invitation_is_sent_hashed_and_single_use(app, session, challenge, team, ana, ben):
    created = teams.invite_by_email(session, team, ana, " Ben@Example.org ")
    inv = created.invitation
    assert inv.email == "ben@example.org"
    assert inv.token_hash == hashlib.sha256(created.token.encode()).hexdigest()
    assert created.token not in (inv.token_hash, inv.email)
    assert inv.expires_at == NOW + timedelta(days=7)
    message = latest_to(session, "ben@example.org")
    assert message.kind == "team-invitation" and f"/invite/team/{created.token}" in message.body
    assert "GlucoGo" in message.subject
    (event,) = events(session, "invitation.created")
    assert event.details == {"invitation_id": inv.id, "kind": "email"}
    assert "ben@" not in str(event.details)

    joined = teams.accept_invitation(session, created.token, ben)
    assert joined.id == team.id and members(session, team)["ben@example.org"] == "member"
    assert inv.used_at == NOW
    (event,) = events(session, "team.joined")
    assert event.details == {"challenge_id": challenge.id, "user_id": ben.id, "via": "email",
                             "invitation_id": inv.id}
    teams.leave(session, team, ben)
    with pytest.raises(teams.Gone, match="already been used"):
        teams.accept_invitation(session, created.token, ben)


def test_email_invitation_must_match_the_account(session, team, ana, ben, cai):
    created = teams.invite_by_email(session, team, ana, "ben@example.org")
    with pytest.raises(Forbidden, match="different e-mail address"):
        teams.accept_invitation(session, created.token, cai)
    assert isinstance(teams.invitation_problem(session, created.invitation, cai), Forbidden)
    assert created.invitation.used_at is None
    assert "cai@example.org" not in members(session, team)


def test_inviting_the_same_address_again_replaces_the_pending_invitation(session, team, ana):
    first = teams.invite_by_email(session, team, ana, "ben@example.org")
    second = teams.invite_by_email(session, team, ana, "ben@example.org")
    assert first.invitation.revoked_at == NOW and second.invitation.revoked_at is None
    assert [i.id for i in teams.active_invitations(session, team)] == [second.invitation.id]
    with pytest.raises(teams.Gone):
        teams.invitation_for_token(session, first.token)


def test_invite_refuses_bad_addresses_and_members(session, team, ana):
    for bad in ("", "not-an-address", "a@b"):
        with pytest.raises(DomainError) as caught:
            teams.invite_by_email(session, team, ana, bad)
        assert caught.value.field == "email"
    with pytest.raises(Conflict, match="already in the team"):
        teams.invite_by_email(session, team, ana, "ANA@example.org")


def test_shareable_link_is_multi_use_until_revoked(session, challenge, team, ana, ben, cai):
    link = teams.create_invite_link(session, team, ana)
    assert link.invitation.email is None and "/invite/team/" in link.url
    teams.accept_invitation(session, link.token, ben)
    dan = person(session, "dan@example.org")
    teams.revoke_invitation(session, team, link.invitation.id, ana)
    assert [e.details["invitation_id"] for e in events(session, "invitation.revoked")] == [
        link.invitation.id]
    with pytest.raises(teams.Gone, match="withdrawn"):
        teams.accept_invitation(session, link.token, dan)
    assert set(members(session, team)) == {"ana@example.org", "ben@example.org"}
    second = teams.create_invite_link(session, team, ana)
    teams.accept_invitation(session, second.token, cai)
    assert len(members(session, team)) == 3


def test_link_expires_after_the_configured_days(app, session, team, ana, ben):
    app.config["INVITE_LINK_DAYS"] = 2
    link = teams.create_invite_link(session, team, ana)
    assert link.invitation.expires_at == NOW + timedelta(days=2)
    clock.freeze(NOW + timedelta(days=2) - TINY)
    assert teams.invitation_for_token(session, link.token).id == link.invitation.id
    clock.freeze(NOW + timedelta(days=2))
    with pytest.raises(teams.Gone, match="expired"):
        teams.accept_invitation(session, link.token, ben)
    assert teams.active_invitations(session, team) == []


@pytest.mark.parametrize("token", ["", "x", "A" * 32, "A" * 500])
def test_unknown_tokens_are_not_found(session, token):
    with pytest.raises(NotFound, match="not valid"):
        teams.invitation_for_token(session, token)


def test_joining_a_full_team_is_refused(session, challenge, ana, ben, cai):
    small = make_challenge(session, "small", team_max=2)
    team = teams.create_team(session, small, ana, "Pair")
    link = teams.create_invite_link(session, team, ana)
    teams.accept_invitation(session, link.token, ben)
    with pytest.raises(Conflict, match="full"):
        teams.accept_invitation(session, link.token, cai)
    with pytest.raises(Conflict, match="full"):
        teams.create_invite_link(session, team, ana)
    with pytest.raises(Conflict, match="full"):
        teams.request_to_join(session, team, cai)
    assert teams.member_count(session, team) == 2


def test_joining_a_second_team_in_the_same_challenge_is_refused(session, challenge, team, ana,
                                                                ben):
    own = teams.create_team(session, challenge, ben, "Bens")
    link = teams.create_invite_link(session, team, ana)
    with pytest.raises(Conflict, match="another team in this challenge"):
        teams.accept_invitation(session, link.token, ben)
    assert teams.team_for_user(session, ben, challenge).id == own.id
    with pytest.raises(Conflict, match="already in this team"):
        teams.accept_invitation(session, link.token, ana)


def test_organizers_cannot_accept_invitations(session, team, ana):
    link = teams.create_invite_link(session, team, ana)
    organizer = person(session, "org@example.org", "organizer")
    with pytest.raises(Forbidden, match="Organizers"):
        teams.accept_invitation(session, link.token, organizer)


def test_only_the_captain_manages_invitations(session, challenge, team, ana, ben, cai):
    teams.accept_invitation(session, teams.create_invite_link(session, team, ana).token, ben)
    with pytest.raises(Forbidden):
        teams.create_invite_link(session, team, ben)
    with pytest.raises(NotFound):
        teams.invite_by_email(session, team, cai, "x@example.org")
    link = teams.create_invite_link(session, team, ana)
    with pytest.raises(Forbidden):
        teams.revoke_invitation(session, team, link.invitation.id, ben)
    other = teams.create_team(session, challenge, cai, "Other")
    foreign = teams.create_invite_link(session, other, cai)
    with pytest.raises(NotFound):
        teams.revoke_invitation(session, team, foreign.invitation.id, ana)
    assert foreign.invitation.revoked_at is None


# --- join requests -------------------------------------------------------------------------------

def test_request_accept_decline_and_cancel(session, challenge, team, ana, ben, cai):
    request = teams.request_to_join(session, team, ben, "  I build apps  ")
    assert request.message == "I build apps" and request.status == "pending"
    assert "asks to join" in latest_to(session, "ana@example.org").subject
    with pytest.raises(Conflict, match="already asked"):
        teams.request_to_join(session, team, ben)
    assert [u.email for _, u in teams.pending_requests(session, team)] == ["ben@example.org"]
    with pytest.raises(NotFound):
        teams.accept_request(session, team, request.id, ben)  # ben is not in the team
    teams.accept_request(session, team, request.id, ana)
    assert request.status == "accepted" and "ben@example.org" in members(session, team)
    assert events(session, "team.joined")[-1].details["via"] == "request"

    declined = teams.request_to_join(session, team, cai, "secret plan")
    teams.decline_request(session, team, declined.id, ana)
    assert declined.status == "declined"
    assert "declined" in latest_to(session, "cai@example.org").body
    again = teams.request_to_join(session, team, cai)  # asking again after a decline is fine
    assert again.id == declined.id and again.status == "pending"
    teams.cancel_request(session, team, cai)
    assert again.status == "cancelled"
    with pytest.raises(NotFound):
        teams.cancel_request(session, team, cai)
    with pytest.raises(Conflict, match="already been answered"):
        teams.accept_request(session, team, again.id, ana)
    for action in ("join_request.created", "join_request.declined", "join_request.cancelled"):
        assert all("message" not in e.details for e in events(session, action))
    assert "secret plan" not in str([e.details for e in session.scalars(select(AuditEvent))])


def test_requests_are_checked_again_when_accepted(session, challenge, team, ana, ben, cai):
    request = teams.request_to_join(session, team, ben)
    own = teams.create_team(session, challenge, cai, "Cais")
    teams.accept_invitation(session, teams.create_invite_link(session, own, cai).token, ben)
    # ben joined another team: his pending request was withdrawn with it
    assert request.status == "withdrawn"
    with pytest.raises(Conflict):
        teams.accept_request(session, team, request.id, ana)
    assert "ben@example.org" not in members(session, team)


def test_accepting_a_request_into_a_full_team_is_refused(session, ana, ben, cai):
    small = make_challenge(session, "small", team_max=2)
    team = teams.create_team(session, small, ana, "Pair")
    first = teams.request_to_join(session, team, ben)
    second = teams.request_to_join(session, team, cai)
    teams.accept_request(session, team, first.id, ana)
    with pytest.raises(Conflict, match="full"):
        teams.accept_request(session, team, second.id, ana)
    assert second.status == "pending"


def test_request_of_another_team_is_not_found(session, challenge, team, ana, ben, cai):
    other = teams.create_team(session, challenge, cai, "Other")
    request = teams.request_to_join(session, other, ben)
    with pytest.raises(NotFound):
        teams.accept_request(session, team, request.id, ana)
    with pytest.raises(NotFound):
        teams.decline_request(session, team, request.id, ana)


def test_members_and_organizers_cannot_request(session, team, ana):
    with pytest.raises(Conflict, match="already in this team"):
        teams.request_to_join(session, team, ana)
    organizer = person(session, "org@example.org", "organizer")
    with pytest.raises(Forbidden):
        teams.request_to_join(session, team, organizer)
    with pytest.raises(DomainError, match="under 1000") as caught:
        teams.request_to_join(session, team, person(session, "e@example.org"), "x" * 1001)
    assert caught.value.field == "message"


# --- members -----------------------------------------------------------------------------------

@pytest.fixture
def trio(session, team, ana, ben, cai):
    link = teams.create_invite_link(session, team, ana)
    teams.accept_invitation(session, link.token, ben)
    teams.accept_invitation(session, link.token, cai)
    return team


def test_captain_removes_members_but_not_themselves(session, trio, ana, ben, cai):
    with pytest.raises(Forbidden):
        teams.remove_member(session, trio, cai.id, ben)
    with pytest.raises(Conflict, match="cannot remove yourself"):
        teams.remove_member(session, trio, ana.id, ana)
    teams.remove_member(session, trio, cai.id, ana)
    assert set(members(session, trio)) == {"ana@example.org", "ben@example.org"}
    assert "no longer in the team" in latest_to(session, "cai@example.org").subject
    (event,) = events(session, "team.member_removed")
    assert event.details["user_id"] == cai.id and event.actor_id == ana.id
    with pytest.raises(NotFound):
        teams.remove_member(session, trio, cai.id, ana)
    outsider = person(session, "out@example.org")
    with pytest.raises(NotFound):
        teams.remove_member(session, trio, ben.id, outsider)


def test_hand_over_captaincy(session, trio, ana, ben, cai):
    with pytest.raises(Forbidden):
        teams.hand_over(session, trio, cai.id, ben)
    with pytest.raises(Conflict, match="already the captain"):
        teams.hand_over(session, trio, ana.id, ana)
    outsider = person(session, "out@example.org")
    with pytest.raises(NotFound):
        teams.hand_over(session, trio, outsider.id, ana)
    teams.hand_over(session, trio, ben.id, ana)
    assert members(session, trio) == {"ana@example.org": "member", "ben@example.org": "captain",
                                      "cai@example.org": "member"}
    (event,) = events(session, "team.captain_changed")
    assert event.details == {"challenge_id": trio.challenge_id, "from_user_id": ana.id,
                             "to_user_id": ben.id}
    with pytest.raises(Forbidden):
        teams.remove_member(session, trio, cai.id, ana)


def test_leaving(session, challenge, trio, ana, ben, cai):
    teams.leave(session, trio, cai)
    assert "cai@example.org" not in members(session, trio)
    with pytest.raises(Conflict, match="Hand over captaincy"):
        teams.leave(session, trio, ana)
    with pytest.raises(NotFound):
        teams.leave(session, trio, cai)
    teams.hand_over(session, trio, ben.id, ana)
    assert teams.leave(session, trio, ana).team_deleted is False
    team_id = trio.id
    link = teams.create_invite_link(session, trio, ben)
    teams.request_to_join(session, trio, cai)
    assert teams.leave(session, trio, ben).team_deleted is True
    session.expire_all()
    assert session.get(Team, team_id) is None
    assert session.scalar(select(func.count(Invitation.id))) == 0
    assert session.scalar(select(func.count(JoinRequest.id))) == 0
    assert [e.details.get("team_deleted") for e in events(session, "team.left")] == [
        False, False, True]
    with pytest.raises(NotFound):
        teams.invitation_for_token(session, link.token)
    # the team's name is free again
    assert teams.create_team(session, challenge, cai, "GlucoGo").id


def _submit(session, team, *, submitted: bool) -> Submission:
    sub = Submission(team_id=team.id, challenge_id=team.challenge_id, created_at=NOW)
    session.add(sub)
    session.flush()
    version = SubmissionVersion(submission_id=sub.id, number=1, title="T", created_at=NOW,
                                submitted_at=NOW if submitted else None)
    session.add(version)
    session.flush()
    if submitted:
        sub.entry_version_id = version.id
        session.flush()
    return sub


def test_last_member_cannot_delete_a_team_with_a_submitted_entry(session, team, ana):
    _submit(session, team, submitted=True)
    with pytest.raises(Conflict, match="submitted entry"):
        teams.leave(session, team, ana)
    assert teams.is_member(session, ana, team)


def _stored_file(session, sub) -> Path:
    directory = Path(current_app.config["UPLOAD_DIR"])
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{secrets.token_hex(16)}.txt"
    (directory / name).write_text("draft notes")
    session.add(SubmissionFile(submission_id=sub.id, storage_name=name, original_name="n.txt",
                               kind="txt", size=11, sha256="0" * 64, uploaded_at=NOW))
    session.flush()
    return directory / name


def test_last_member_deletes_a_team_with_only_a_draft_and_its_files(session, team, ana):
    sub = _submit(session, team, submitted=False)
    stored = _stored_file(session, sub)
    assert teams.leave(session, team, ana).team_deleted
    assert stored.exists()  # until the deletion commits
    session.commit()
    assert not stored.exists()
    assert session.scalar(select(func.count(Submission.id))) == 0
    assert session.scalar(select(func.count(SubmissionFile.id))) == 0


def test_a_rolled_back_team_deletion_keeps_the_files(session, team, ana):
    sub = _submit(session, team, submitted=False)
    stored = _stored_file(session, sub)
    session.commit()
    teams.leave(session, team, ana)
    session.rollback()
    session.commit()
    assert stored.exists() and session.get(Team, team.id) is not None


# --- deadlines: no team change from the submission deadline on ------------------------------

def _changes(session, trio, ana, ben, cai):
    return {
        "invite": lambda: teams.create_invite_link(session, trio, ana),
        "email": lambda: teams.invite_by_email(session, trio, ana, "new@example.org"),
        "remove": lambda: teams.remove_member(session, trio, cai.id, ana),
        "hand_over": lambda: teams.hand_over(session, trio, ben.id, ana),
        "leave": lambda: teams.leave(session, trio, cai),
    }


@pytest.mark.parametrize("change", ["invite", "email", "remove", "hand_over", "leave"])
@pytest.mark.parametrize("delta,allowed", [(-TINY, True), (timedelta(0), False), (TINY, False)])
def test_team_changes_stop_at_the_deadline(session, trio, ana, ben, cai, change, delta, allowed):
    trio.deadline_extension = DEADLINE + timedelta(days=3)  # does not extend team changes
    session.flush()
    before = members(session, trio)
    clock.freeze(DEADLINE + delta)
    action = _changes(session, trio, ana, ben, cai)[change]
    if allowed:
        action()
    else:
        with pytest.raises(Conflict, match="deadline has passed"):
            action()
        session.expire_all()
        assert members(session, trio) == before


@pytest.mark.parametrize("delta,allowed", [(-TINY, True), (timedelta(0), False), (TINY, False)])
def test_joining_stops_at_the_deadline(session, team, ana, ben, cai, delta, allowed):
    clock.freeze(DEADLINE - timedelta(days=1))  # the link is still valid at the deadline
    link = teams.create_invite_link(session, team, ana)
    request = teams.request_to_join(session, team, cai)
    team.deadline_extension = DEADLINE + timedelta(days=3)
    clock.freeze(DEADLINE + delta)
    if allowed:
        teams.accept_invitation(session, link.token, ben)
        teams.accept_request(session, team, request.id, ana)
        assert teams.member_count(session, team) == 3
    else:
        with pytest.raises(Conflict, match="deadline has passed"):
            teams.accept_invitation(session, link.token, ben)
        with pytest.raises(Conflict, match="deadline has passed"):
            teams.accept_request(session, team, request.id, ana)
        with pytest.raises(Conflict, match="deadline has passed"):
            teams.request_to_join(session, team, person(session, "late@example.org"))
        assert teams.member_count(session, team) == 1


def test_revoking_stays_possible_after_the_deadline(session, team, ana):
    link = teams.create_invite_link(session, team, ana)
    clock.freeze(DEADLINE + TINY)
    teams.revoke_invitation(session, team, link.invitation.id, ana)
    assert link.invitation.revoked_at == DEADLINE + TINY


# --- lists --------------------------------------------------------------------------------------

def test_open_teams_counts_members_and_marks_requests(session, challenge, team, ana, ben, cai):
    teams.accept_invitation(session, teams.create_invite_link(session, team, ana).token, ben)
    other = teams.create_team(session, challenge, cai, "Alpha")
    viewer = person(session, "dan@example.org")
    teams.request_to_join(session, other, viewer)
    rows = teams.open_teams(session, challenge, viewer)
    assert [(r.name, r.members, r.full, r.requested) for r in rows] == [
        ("Alpha", 1, False, True), ("GlucoGo", 2, False, False)]


def test_teams_of_reports_role_and_submission_state(session, challenge, ana, ben):
    first = teams.create_team(session, challenge, ana, "One")
    second_challenge = make_challenge(session, "second", deadline=DEADLINE + timedelta(days=9))
    second = teams.create_team(session, second_challenge, ben, "Two")
    teams.accept_invitation(session, teams.create_invite_link(session, second, ben).token, ana)
    third_challenge = make_challenge(session, "third", deadline=DEADLINE - timedelta(days=9))
    third = teams.create_team(session, third_challenge, ana, "Three")
    assert [(m.team.name, m.role, m.submission_state) for m in teams.teams_of(session, ana)] == [
        ("Two", "member", None), ("One", "captain", None), ("Three", "captain", None)]
    _submit(session, first, submitted=False)
    sub = _submit(session, second, submitted=True)
    _submit(session, third, submitted=True)
    session.add(SubmissionVersion(submission_id=sub.id, number=2, title="T2", created_at=NOW))
    session.flush()
    states = {m.team.name: m.submission_state for m in teams.teams_of(session, ana)}
    assert states == {"One": "draft", "Two": "changed", "Three": "submitted"}


def test_open_challenges_for_the_panel(session, challenge, ana):
    make_challenge(session, "later", opens=NOW + timedelta(days=1))
    make_challenge(session, "hidden", published=False)
    make_challenge(session, "over", opens=NOW - timedelta(days=60),
                   deadline=NOW - timedelta(days=1))
    assert [c.slug for c in teams.challenges_open_for_registration(session, ana)] == ["glucose"]
    teams.create_team(session, challenge, ana, "Mine")
    assert teams.challenges_open_for_registration(session, ana) == []


@pytest.mark.parametrize("text,token", [
    ("https://site.example/invite/team/AbCdEfGhIjKlMnOpQrStUvWx", "AbCdEfGhIjKlMnOpQrStUvWx"),
    ("  AbCdEfGhIjKlMnOpQrStUvWx-_ ", "AbCdEfGhIjKlMnOpQrStUvWx-_"),
])
def test_token_from_a_pasted_link(text, token):
    assert teams.token_from_link(text) == token


@pytest.mark.parametrize("text", ["", "https://site.example/", "../../etc/passwd", "short"])
def test_unusable_pasted_links(text):
    with pytest.raises(DomainError):
        teams.token_from_link(text)


def test_no_outbox_message_carries_a_hash(session, team, ana):
    created = teams.invite_by_email(session, team, ana, "ben@example.org")
    bodies = " ".join(session.scalars(select(OutboxMessage.body)))
    assert created.invitation.token_hash not in bodies
