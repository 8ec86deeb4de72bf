"""Teams: creating, inviting, joining, requests, removing, handing over and leaving.

Services take a Session, only flush, and raise `challenge.errors` domain errors with a
message fit to show the person. The view commits. Rules:

- Only entrants (and never organizers) are in teams; one team per person per challenge
  (the database's unique constraint is the last line of defence and becomes a Conflict).
- Creating and joining need the challenge published and registration open
  (registration_opens <= now < submission_deadline); every other team change needs
  now < submission_deadline. A team's deadline extension is for its submission only.
- Invitation tokens are random (`secrets.token_urlsafe(24)`); only their sha256 is stored.
  E-mail invitations are single use and bound to the address; links are multi-use until
  they expire (INVITE_LINK_DAYS) or are revoked.
- Every change is audited with ids only, never names, e-mail addresses or messages.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app, has_app_context
from sqlalchemy import event, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from challenge import audit, clock, outbox
from challenge.accounts.models import User
from challenge.accounts.services import normalize_email
from challenge.challenges import files as file_store
from challenge.challenges import services as challenge_services
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
from challenge.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from challenge.links import external_url

NAME_MIN = 2
NAME_MAX = 120
MESSAGE_MAX = 1000
DEFAULT_INVITE_DAYS = 7
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Gone(DomainError):
    """An invitation that existed but can no longer be used (expired, revoked, used)."""

    status_code = 410


# --- phase rules (one source: challenge.challenges.services) ------------------------------
# registration_open: registration_opens <= now < submission_deadline (create, join);
# team_changes_allowed: now < submission_deadline (every change; extensions do not count).
registration_open = challenge_services.registration_open
team_changes_allowed = challenge_services.team_changes_allowed


def _require_registration_open(challenge: Challenge) -> None:
    now = clock.now()
    if not challenge.published:
        raise NotFound("This challenge is not open.")
    if now < challenge.registration_opens:
        raise Conflict("Registration for this challenge has not opened yet.")
    if not registration_open(challenge, now):
        raise Conflict("The submission deadline has passed: teams can no longer be formed "
                       "or joined.")


def _require_changes_allowed(challenge: Challenge) -> None:
    if not team_changes_allowed(challenge, clock.now()):
        raise Conflict("The submission deadline has passed: the team can no longer change.")


# --- looking things up --------------------------------------------------------------------

def get_challenge(session: Session, slug: str, viewer: User | None = None) -> Challenge:
    """A challenge by slug; unpublished ones exist only for organizers."""
    challenge = challenge_services.get_challenge(session, slug)
    if not challenge.published and not (viewer is not None and viewer.has_role("organizer")):
        raise NotFound("There is no challenge at this address.")
    return challenge


def get_team(session: Session, team_id: int) -> Team:
    """A team by id (NotFound when there is none)."""
    team = session.get(Team, team_id)
    if team is None:
        raise NotFound("There is no such team.")
    return team


def membership_for(session: Session, user: User | None, challenge: Challenge | int):
    """The user's Membership in this challenge, or None (also for anonymous users)."""
    if user is None or getattr(user, "id", None) is None:
        return None
    challenge_id = challenge if isinstance(challenge, int) else challenge.id
    return session.scalar(select(Membership).where(Membership.challenge_id == challenge_id,
                                                   Membership.user_id == user.id))


def team_for_user(session: Session, user: User | None, challenge: Challenge | int):
    """The user's Team in this challenge, or None."""
    membership = membership_for(session, user, challenge)
    return membership.team if membership is not None else None


def is_member(session: Session, user: User | None, team: Team) -> bool:
    """Whether the user is in the team (captain included)."""
    if user is None or getattr(user, "id", None) is None:
        return False
    return bool(session.scalar(select(exists().where(Membership.team_id == team.id,
                                                     Membership.user_id == user.id))))


def is_captain(session: Session, user: User | None, team: Team) -> bool:
    """Whether the user is the team's captain."""
    if user is None or getattr(user, "id", None) is None:
        return False
    return bool(session.scalar(select(exists().where(
        Membership.team_id == team.id, Membership.user_id == user.id,
        Membership.role == "captain"))))


def member_count(session: Session, team: Team) -> int:
    """How many people are in the team (counted in SQL)."""
    return session.scalar(select(func.count(Membership.id))
                          .where(Membership.team_id == team.id)) or 0


def access_level(session: Session, user: User | None, team: Team) -> str | None:
    """'captain', 'member', 'organizer' (read-only) or None (may not see the team)."""
    if user is None or not getattr(user, "is_authenticated", True):
        return None
    row = session.scalar(select(Membership.role).where(Membership.team_id == team.id,
                                                       Membership.user_id == user.id))
    if row is not None:
        return "captain" if row == "captain" else "member"
    if user.has_role("organizer"):
        return "organizer"
    return None


def require_member(session: Session, user: User | None, team: Team) -> str:
    """The viewer's access level; NotFound for anyone who may not see the team."""
    level = access_level(session, user, team)
    if level is None:
        raise NotFound("There is no such team, or you are not in it.")
    return level


def require_captain(session: Session, user: User | None, team: Team) -> None:
    """Only the captain manages the team (members get 403, others 404)."""
    level = require_member(session, user, team)
    if level != "captain":
        raise Forbidden("Only the team's captain can do this.")


def has_submitted_entry(session: Session, team: Team) -> bool:
    """Whether the team has ever submitted an entry (an entry version or a submitted one)."""
    entry = select(Submission.id).where(Submission.team_id == team.id,
                                        Submission.entry_version_id.is_not(None))
    submitted = (select(SubmissionVersion.id)
                 .join(Submission, SubmissionVersion.submission_id == Submission.id)
                 .where(Submission.team_id == team.id,
                        SubmissionVersion.submitted_at.is_not(None)))
    return bool(session.scalar(select(exists(entry))) or session.scalar(select(exists(submitted))))


# --- checks shared by every way of joining ------------------------------------------------

def _require_entrant(user: User, doing: str) -> None:
    if user.has_role("organizer"):
        raise Forbidden(f"Organizers cannot {doing}: they run the challenge.")
    if not user.has_role("entrant"):
        raise Forbidden(f"Only entrants can {doing}. Ask the organizers for the entrant role.")


def join_problem(session: Session, team: Team, user: User) -> DomainError | None:
    """Why `user` cannot join `team` now (None when they can). Never changes anything."""
    try:
        _check_can_join(session, team, user)
    except DomainError as exc:
        return exc
    return None


def _check_can_join(session: Session, team: Team, user: User) -> None:
    _require_entrant(user, "join teams")
    _require_registration_open(team.challenge)
    current = membership_for(session, user, team.challenge_id)
    if current is not None:
        if current.team_id == team.id:
            raise Conflict("You are already in this team.")
        raise Conflict("You are already in another team in this challenge. Leave it first "
                       "to join this one.")
    if member_count(session, team) >= team.challenge.team_max:
        raise Conflict(f"This team is full: it already has the maximum of "
                       f"{team.challenge.team_max} members.")


def _lock_team(session: Session, team: Team) -> None:
    # On PostgreSQL two joins of one team queue here, so the size check cannot be raced;
    # SQLite writes already queue (BEGIN IMMEDIATE) and ignores FOR UPDATE.
    session.execute(select(Team.id).where(Team.id == team.id).with_for_update())


def _add_member(session: Session, team: Team, user: User, *, via: str,
                actor: User | None = None, **details) -> Membership:
    _lock_team(session, team)
    _check_can_join(session, team, user)
    membership = Membership(team_id=team.id, challenge_id=team.challenge_id, user_id=user.id,
                            role="member", joined_at=clock.now())
    try:
        with session.begin_nested():
            session.add(membership)
            session.flush()
    except IntegrityError as exc:
        raise Conflict("You are already in a team in this challenge.") from exc
    # Pending requests to other teams of the challenge are moot now.
    for request in session.scalars(
            select(JoinRequest).join(Team, JoinRequest.team_id == Team.id)
            .where(JoinRequest.user_id == user.id, JoinRequest.status == "pending",
                   Team.challenge_id == team.challenge_id)):
        request.status = "accepted" if request.team_id == team.id else "withdrawn"
    session.expire(team, ["memberships"])
    audit.record(session, "team.joined", actor=actor or user, target=f"team:{team.id}",
                 challenge_id=team.challenge_id, user_id=user.id, via=via, **details)
    return membership


# --- creating a team ----------------------------------------------------------------------

def clean_team_name(name: str) -> str:
    """A team name trimmed, with inner whitespace collapsed; refused when unusable."""
    name = unicodedata.normalize("NFC", " ".join((name or "").split()))
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in name):
        raise DomainError("Use letters, digits and punctuation only.", field="name")
    if len(name) < NAME_MIN:
        raise DomainError(f"Give the team a name of at least {NAME_MIN} characters.",
                          field="name")
    if len(name) > NAME_MAX:
        raise DomainError(f"Use at most {NAME_MAX} characters.", field="name")
    return name


def _name_key(name: str) -> str:
    return unicodedata.normalize("NFKC", name).casefold()


def name_taken(session: Session, challenge: Challenge, name: str,
               *, except_team: int | None = None) -> bool:
    """Whether another team of the challenge has this name, ignoring case."""
    key = _name_key(name)
    # Only the name column of one challenge's teams: lower() in SQLite folds ASCII only.
    stmt = select(Team.id, Team.name).where(Team.challenge_id == challenge.id)
    return any(_name_key(n) == key for tid, n in session.execute(stmt) if tid != except_team)


def create_team(session: Session, challenge: Challenge, user: User, name: str) -> Team:
    """Create a team with `user` as its captain."""
    _require_entrant(user, "create teams")
    _require_registration_open(challenge)
    name = clean_team_name(name)
    current = membership_for(session, user, challenge)
    if current is not None:
        raise Conflict("You are already in a team in this challenge: one team per person.")
    if name_taken(session, challenge, name):
        raise Conflict("Another team in this challenge already has this name. "
                       "Choose another one.", field="name")
    now = clock.now()
    team = Team(challenge_id=challenge.id, name=name, created_at=now)
    try:
        with session.begin_nested():
            session.add(team)
            session.flush()
            session.add(Membership(team_id=team.id, challenge_id=challenge.id,
                                   user_id=user.id, role="captain", joined_at=now))
            session.flush()
    except IntegrityError as exc:
        if membership_for(session, user, challenge) is not None:
            raise Conflict("You are already in a team in this challenge: one team per "
                           "person.") from exc
        raise Conflict("Another team in this challenge already has this name. "
                       "Choose another one.", field="name") from exc
    for request in session.scalars(
            select(JoinRequest).join(Team, JoinRequest.team_id == Team.id)
            .where(JoinRequest.user_id == user.id, JoinRequest.status == "pending",
                   Team.challenge_id == challenge.id)):
        request.status = "withdrawn"
    session.refresh(team)
    audit.record(session, "team.created", actor=user, target=f"team:{team.id}",
                 challenge_id=challenge.id)
    return team


# --- invitations ----------------------------------------------------------------------------

def hash_token(token: str) -> str:
    """The stored form of an invitation token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _invite_days() -> int:
    if has_app_context():
        return int(current_app.config.get("INVITE_LINK_DAYS", DEFAULT_INVITE_DAYS))
    return DEFAULT_INVITE_DAYS


def invite_url(token: str) -> str:
    """The absolute link a person opens to accept an invitation."""
    return external_url("teams.accept_invite", token=token)


@dataclass(frozen=True)
class NewInvitation:
    """A created invitation and its token (shown or sent once, never stored)."""

    invitation: Invitation
    token: str

    @property
    def url(self) -> str:
        return invite_url(self.token)


def _new_invitation(session: Session, team: Team, actor: User, email: str | None):
    require_captain(session, actor, team)
    _require_changes_allowed(team.challenge)
    if member_count(session, team) >= team.challenge.team_max:
        raise Conflict(f"The team is full ({team.challenge.team_max} members): remove a "
                       f"member before inviting someone else.")
    token = secrets.token_urlsafe(24)
    now = clock.now()
    invitation = Invitation(team_id=team.id, email=email, token_hash=hash_token(token),
                            created_by=actor.id, created_at=now,
                            expires_at=now + timedelta(days=_invite_days()))
    session.add(invitation)
    session.flush()
    audit.record(session, "invitation.created", actor=actor, target=f"team:{team.id}",
                 invitation_id=invitation.id, kind="email" if email else "link")
    return NewInvitation(invitation, token)


def invite_by_email(session: Session, team: Team, actor: User, email: str) -> NewInvitation:
    """Send a single-use invitation to one address (through the outbox)."""
    email = normalize_email(email or "")
    if not _EMAIL.match(email) or len(email) > 320:
        raise DomainError("Enter an e-mail address like name@example.org.", field="email")
    member_emails = {m.user.email for m in team.memberships}
    if email in member_emails:
        raise Conflict("This person is already in the team.", field="email")
    # A new invitation to the same address replaces the one still pending.
    for old in active_invitations(session, team):
        if old.email == email:
            old.revoked_at = clock.now()
            audit.record(session, "invitation.revoked", actor=actor, target=f"team:{team.id}",
                         invitation_id=old.id, reason="replaced")
    created = _new_invitation(session, team, actor, email)
    challenge = team.challenge
    outbox.send(
        session, email, f"Join the team {team.name} in {challenge.title}",
        f"{actor.display_name} invites you to join the team \"{team.name}\" in the "
        f"challenge \"{challenge.title}\".\n\nOpen this link to join (it works once, for "
        f"this e-mail address, until {created.invitation.expires_at:%d %b %Y %H:%M} UTC):\n"
        f"{created.url}\n\nIf you have no account yet, create one as an entrant with this "
        f"e-mail address, then open the link again.\n",
        kind="team-invitation",
    )
    return created


def create_invite_link(session: Session, team: Team, actor: User) -> NewInvitation:
    """A shareable link anyone with an entrant account can use until it expires or is
    revoked."""
    return _new_invitation(session, team, actor, None)


def invitation_state(invitation: Invitation, now: datetime | None = None) -> str:
    """'active', 'revoked', 'used' or 'expired'."""
    now = now or clock.now()
    if invitation.revoked_at is not None:
        return "revoked"
    if invitation.email is not None and invitation.used_at is not None:
        return "used"
    if now >= invitation.expires_at:
        return "expired"
    return "active"


def active_invitations(session: Session, team: Team) -> list[Invitation]:
    """Invitations of the team that can still be used, newest first."""
    now = clock.now()
    rows = session.scalars(
        select(Invitation).where(Invitation.team_id == team.id,
                                 Invitation.revoked_at.is_(None),
                                 Invitation.expires_at > now,
                                 (Invitation.email.is_(None)) | (Invitation.used_at.is_(None)))
        .order_by(Invitation.id.desc()))
    return list(rows)


def revoke_invitation(session: Session, team: Team, invitation_id: int, actor: User) -> None:
    """The captain withdraws an invitation (allowed at any time: it only closes a door)."""
    require_captain(session, actor, team)
    invitation = session.get(Invitation, invitation_id)
    if invitation is None or invitation.team_id != team.id:
        raise NotFound("There is no such invitation in this team.")
    if invitation.revoked_at is not None:
        return
    invitation.revoked_at = clock.now()
    audit.record(session, "invitation.revoked", actor=actor, target=f"team:{team.id}",
                 invitation_id=invitation.id)


def invitation_for_token(session: Session, token: str) -> Invitation:
    """The invitation a token opens; NotFound (unknown) or Gone (expired, revoked, used)."""
    if not token or len(token) > 200:
        raise NotFound("This invitation link is not valid. Check that you copied all of it.")
    invitation = session.scalar(select(Invitation).where(
        Invitation.token_hash == hash_token(token)))
    if invitation is None:
        raise NotFound("This invitation link is not valid. Check that you copied all of it.")
    state = invitation_state(invitation)
    if state == "revoked":
        raise Gone("This invitation was withdrawn by the team's captain. Ask them for a "
                   "new one.")
    if state == "used":
        raise Gone("This invitation has already been used. Ask the team's captain for a "
                   "new one.")
    if state == "expired":
        raise Gone("This invitation has expired. Ask the team's captain for a new one.")
    return invitation


def invitation_problem(session: Session, invitation: Invitation, user: User):
    """Why `user` cannot accept this (valid) invitation now, or None."""
    if invitation.email is not None and normalize_email(user.email) != invitation.email:
        return Forbidden("This invitation was sent to a different e-mail address. Log in "
                         "with the account of the address it was sent to.")
    return join_problem(session, session.get(Team, invitation.team_id), user)


def accept_invitation(session: Session, token: str, user: User) -> Team:
    """Join a team through an invitation (e-mail invitations are then used up)."""
    invitation = invitation_for_token(session, token)
    team = get_team(session, invitation.team_id)
    _require_entrant(user, "join teams")
    if invitation.email is not None and normalize_email(user.email) != invitation.email:
        raise Forbidden("This invitation was sent to a different e-mail address. Log in "
                        "with the account of the address it was sent to.")
    _add_member(session, team, user, via="email" if invitation.email else "link",
                invitation_id=invitation.id)
    if invitation.email is not None:
        invitation.used_at = clock.now()
    return team


# --- join requests --------------------------------------------------------------------------

def pending_request(session: Session, team: Team, user: User | None) -> JoinRequest | None:
    """The user's pending request to join the team, or None."""
    if user is None or getattr(user, "id", None) is None:
        return None
    return session.scalar(select(JoinRequest).where(
        JoinRequest.team_id == team.id, JoinRequest.user_id == user.id,
        JoinRequest.status == "pending"))


def pending_requests(session: Session, team: Team) -> list[tuple[JoinRequest, User]]:
    """Pending requests to join the team, oldest first, with who asked."""
    rows = session.execute(
        select(JoinRequest, User).join(User, JoinRequest.user_id == User.id)
        .where(JoinRequest.team_id == team.id, JoinRequest.status == "pending")
        .order_by(JoinRequest.created_at, JoinRequest.id))
    return [(r, u) for r, u in rows]


def request_to_join(session: Session, team: Team, user: User, message: str = "") -> JoinRequest:
    """Ask the captain to let `user` in (with an optional message for the captain)."""
    _check_can_join(session, team, user)
    message = (message or "").strip()
    if len(message) > MESSAGE_MAX:
        raise DomainError(f"Keep the message under {MESSAGE_MAX} characters.", field="message")
    request = session.scalar(select(JoinRequest).where(JoinRequest.team_id == team.id,
                                                       JoinRequest.user_id == user.id))
    if request is not None and request.status == "pending":
        raise Conflict("You have already asked to join this team; the captain has not "
                       "answered yet.")
    if request is None:
        request = JoinRequest(team_id=team.id, user_id=user.id)
        session.add(request)
    request.status, request.message, request.created_at = "pending", message, clock.now()
    session.flush()
    audit.record(session, "join_request.created", actor=user, target=f"team:{team.id}",
                 request_id=request.id)
    captain = team.captain
    if captain is not None:
        outbox.send(
            session, captain.email, f"{user.display_name} asks to join {team.name}",
            f"{user.display_name} asks to join your team \"{team.name}\" in "
            f"\"{team.challenge.title}\".\n\nAccept or decline on the team page:\n"
            f"{external_url('teams.show', team_id=team.id)}\n",
            kind="team-request",
        )
    return request


def _request_of_team(session: Session, team: Team, request_id: int) -> JoinRequest:
    request = session.get(JoinRequest, request_id)
    if request is None or request.team_id != team.id:
        raise NotFound("There is no such request for this team.")
    if request.status != "pending":
        raise Conflict("This request has already been answered or withdrawn.")
    return request


def accept_request(session: Session, team: Team, request_id: int, actor: User) -> Membership:
    """The captain lets a requester in (with every joining check)."""
    require_captain(session, actor, team)
    request = _request_of_team(session, team, request_id)
    user = session.get(User, request.user_id)
    membership = _add_member(session, team, user, via="request", actor=actor,
                             request_id=request.id)
    request.status = "accepted"
    outbox.send(session, user.email, f"You are in the team {team.name}",
                f"Your request to join \"{team.name}\" in \"{team.challenge.title}\" was "
                f"accepted.\n\n{external_url('teams.show', team_id=team.id)}\n",
                kind="team-request")
    return membership


def decline_request(session: Session, team: Team, request_id: int, actor: User) -> None:
    """The captain declines a request."""
    require_captain(session, actor, team)
    request = _request_of_team(session, team, request_id)
    request.status = "declined"
    audit.record(session, "join_request.declined", actor=actor, target=f"team:{team.id}",
                 request_id=request.id)
    user = session.get(User, request.user_id)
    outbox.send(session, user.email, f"Your request to join {team.name}",
                f"The captain of \"{team.name}\" in \"{team.challenge.title}\" declined your "
                f"request. You can create your own team or ask another one.\n",
                kind="team-request")


def cancel_request(session: Session, team: Team, user: User) -> None:
    """The requester withdraws their pending request."""
    request = pending_request(session, team, user)
    if request is None:
        raise NotFound("You have no pending request to join this team.")
    request.status = "cancelled"
    audit.record(session, "join_request.cancelled", actor=user, target=f"team:{team.id}",
                 request_id=request.id)


# --- members ----------------------------------------------------------------------------------

def _membership_in(session: Session, team: Team, user_id: int) -> Membership:
    membership = session.scalar(select(Membership).where(Membership.team_id == team.id,
                                                         Membership.user_id == user_id))
    if membership is None:
        raise NotFound("This person is not in the team.")
    return membership


def remove_member(session: Session, team: Team, user_id: int, actor: User) -> None:
    """The captain removes a member (not themselves)."""
    require_captain(session, actor, team)
    _require_changes_allowed(team.challenge)
    if user_id == actor.id:
        raise Conflict("You cannot remove yourself. Hand over captaincy to another member, "
                       "then leave the team.")
    membership = _membership_in(session, team, user_id)
    removed = membership.user
    session.delete(membership)
    session.flush()
    session.expire(team, ["memberships"])
    audit.record(session, "team.member_removed", actor=actor, target=f"team:{team.id}",
                 challenge_id=team.challenge_id, user_id=user_id)
    outbox.send(session, removed.email, f"You are no longer in the team {team.name}",
                f"The captain of \"{team.name}\" removed you from the team in "
                f"\"{team.challenge.title}\". You can create or join another team while "
                f"registration is open.\n", kind="team-notice")


def hand_over(session: Session, team: Team, user_id: int, actor: User) -> None:
    """The captain makes another member captain (and becomes a member)."""
    require_captain(session, actor, team)
    _require_changes_allowed(team.challenge)
    if user_id == actor.id:
        raise Conflict("You are already the captain. Choose another member.")
    new_captain = _membership_in(session, team, user_id)
    old_captain = _membership_in(session, team, actor.id)
    old_captain.role = "member"
    new_captain.role = "captain"
    session.flush()
    audit.record(session, "team.captain_changed", actor=actor, target=f"team:{team.id}",
                 challenge_id=team.challenge_id, from_user_id=actor.id, to_user_id=user_id)


def _remove_files_after_commit(session: Session, team: Team) -> None:
    """Delete a deleted team's uploaded draft files from disk once the deletion commits
    (the rows go by ON DELETE CASCADE; a rollback keeps both)."""
    names = list(session.scalars(
        select(SubmissionFile.storage_name)
        .join(Submission, SubmissionFile.submission_id == Submission.id)
        .where(Submission.team_id == team.id)))
    if not names:
        return
    directory = file_store.upload_dir()
    paths = [directory / name for name in names if "/" not in name and "\\" not in name]

    @event.listens_for(session, "after_commit", once=True)
    def _unlink(_session) -> None:
        for path in paths:
            path.unlink(missing_ok=True)

    @event.listens_for(session, "after_soft_rollback", once=True)
    def _keep(_session, _previous) -> None:
        paths.clear()


@dataclass(frozen=True)
class LeaveResult:
    """What leaving did: whether the team was deleted with the last member."""

    team_deleted: bool


def leave(session: Session, team: Team, user: User) -> LeaveResult:
    """A member leaves. The captain hands over first, unless they are the last member:
    then the team is deleted, but only when it has no submitted entry."""
    membership = session.scalar(select(Membership).where(Membership.team_id == team.id,
                                                         Membership.user_id == user.id))
    if membership is None:
        raise NotFound("You are not in this team.")
    _require_changes_allowed(team.challenge)
    others = member_count(session, team) - 1
    if membership.role == "captain" and others > 0:
        raise Conflict("Hand over captaincy to another member before you leave the team.")
    if others == 0 and has_submitted_entry(session, team):
        raise Conflict("Your team has a submitted entry, so the team cannot be deleted. "
                       "Invite someone and hand over captaincy, or ask the organizers.")
    team_id, challenge_id = team.id, team.challenge_id
    if others == 0:
        _remove_files_after_commit(session, team)
        session.delete(team)  # invitations, requests and drafts go with it (ON DELETE CASCADE)
    else:
        session.delete(membership)
    session.flush()
    if others > 0:
        session.expire(team, ["memberships"])
    audit.record(session, "team.left", actor=user, target=f"team:{team_id}",
                 challenge_id=challenge_id, user_id=user.id, team_deleted=others == 0)
    return LeaveResult(team_deleted=others == 0)


# --- lists for pages and the dashboard --------------------------------------------------------

@dataclass(frozen=True)
class TeamSummary:
    """A team as listed for people looking for one."""

    id: int
    name: str
    members: int
    full: bool
    requested: bool


def open_teams(session: Session, challenge: Challenge, viewer: User | None) -> list[TeamSummary]:
    """Every team of the challenge with its member count (SQL), flagged full or requested."""
    return open_teams_page(session, challenge, viewer)[0]


def open_teams_page(session: Session, challenge: Challenge, viewer: User | None, *,
                    limit: int | None = None,
                    offset: int = 0) -> tuple[list[TeamSummary], int]:
    """One page of the challenge's teams by name (all when `limit` is None), each with its
    member count, flagged full or requested by the viewer; and how many teams there are.
    A fixed number of queries whatever the page size."""
    total = session.scalar(select(func.count(Team.id))
                           .where(Team.challenge_id == challenge.id)) or 0
    if not total:
        return [], 0
    stmt = (select(Team.id, Team.name).where(Team.challenge_id == challenge.id)
            .order_by(Team.name, Team.id).offset(offset))
    if limit is not None:
        stmt = stmt.limit(limit)
    page = session.execute(stmt).all()
    ids = [tid for tid, _ in page]
    counts = dict(session.execute(
        select(Membership.team_id, func.count(Membership.id))
        .where(Membership.challenge_id == challenge.id, Membership.team_id.in_(ids))
        .group_by(Membership.team_id)).all()) if ids else {}
    requested: set[int] = set()
    if ids and viewer is not None and getattr(viewer, "id", None) is not None:
        requested = set(session.scalars(
            select(JoinRequest.team_id)
            .where(JoinRequest.user_id == viewer.id, JoinRequest.status == "pending",
                   JoinRequest.team_id.in_(ids))))
    rows = []
    for tid, name in page:
        n = int(counts.get(tid, 0))
        rows.append(TeamSummary(tid, name, n, n >= challenge.team_max, tid in requested))
    return rows, total


@dataclass(frozen=True)
class MyTeam:
    """One line of the entrant's "Your teams" panel."""

    team: Team
    challenge: Challenge
    role: str
    submission_state: str | None  # None (no submission), 'draft', 'submitted', 'changed'


def teams_of(session: Session, user: User) -> list[MyTeam]:
    """The user's teams with their challenge, role and submission state."""
    rows = list(session.execute(
        select(Membership, Team, Challenge)
        .join(Team, Membership.team_id == Team.id)
        .join(Challenge, Team.challenge_id == Challenge.id)
        .where(Membership.user_id == user.id)
        .order_by(Challenge.submission_deadline.desc(), Challenge.id)))
    team_ids = [t.id for _, t, _ in rows]
    states: dict[int, str] = {}
    if team_ids:
        latest = (select(SubmissionVersion.submission_id,
                         func.max(SubmissionVersion.id).label("latest"))
                  .group_by(SubmissionVersion.submission_id).subquery())
        for team_id, entry, newest in session.execute(
                select(Submission.team_id, Submission.entry_version_id, latest.c.latest)
                .outerjoin(latest, latest.c.submission_id == Submission.id)
                .where(Submission.team_id.in_(team_ids))):
            if entry is None:
                states[team_id] = "draft"
            elif newest is not None and newest != entry:
                states[team_id] = "changed"
            else:
                states[team_id] = "submitted"
    return [MyTeam(t, c, m.role, states.get(t.id)) for m, t, c in rows]


def challenges_open_for_registration(session: Session, user: User | None,
                                     limit: int = 5) -> list[Challenge]:
    """Published challenges open for registration in which the user has no team."""
    now = clock.now()
    stmt = (select(Challenge).where(Challenge.published.is_(True),
                                    Challenge.registration_opens <= now,
                                    Challenge.submission_deadline > now)
            .order_by(Challenge.submission_deadline, Challenge.id).limit(limit))
    if user is not None and getattr(user, "id", None) is not None:
        stmt = stmt.where(~exists().where(Membership.challenge_id == Challenge.id,
                                          Membership.user_id == user.id))
    return list(session.scalars(stmt))


def token_from_link(text: str) -> str:
    """The token in a pasted invitation link (or the bare token itself)."""
    text = (text or "").strip()
    match = re.search(r"/invite/team/([A-Za-z0-9_\-]+)", text)
    token = match.group(1) if match else text
    if not re.fullmatch(r"[A-Za-z0-9_\-]{16,200}", token):
        raise ValidationFailed("Paste the whole invitation link, for example "
                               "https://…/invite/team/AbC…")
    return token
