"""Conflicts of interest: declared by judges, added or removed by organizers, and the
automatic ones (a judge who is a member of a team never judges it).

A reason is for the organizers only: it is never shown to the team, and never copied into
the audit log. When a conflict is recorded, the judge's assignment to that team's entry is
withdrawn unless a review exists (organizers then decide; the scoring pages refuse it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from challenge import audit, clock
from challenge.accounts.models import User
from challenge.challenges.models import Challenge, Membership, Submission, Team
from challenge.errors import Conflict as ConflictError
from challenge.errors import Forbidden, NotFound
from challenge.judging import access
from challenge.judging.models import Assignment, Conflict, JudgeSeat, Review

REASON_MAX = 300
SOURCE_LABELS = {
    "declared": "Declared by the judge",
    "organizer": "Added by an organizer",
    "membership": "Member of the team (automatic)",
}


@dataclass(frozen=True)
class ConflictRow:
    """One conflict for display; `conflict_id` is None for automatic (membership) ones."""

    conflict_id: int | None
    user_id: int
    email: str
    judge_name: str
    team_id: int
    team_name: str
    source: str
    reason: str
    created_at: datetime | None

    @property
    def source_label(self) -> str:
        return SOURCE_LABELS.get(self.source, self.source)

    @property
    def removable(self) -> bool:
        return self.conflict_id is not None


@dataclass(frozen=True)
class RecordOutcome:
    """What recording a conflict did."""

    conflict: Conflict
    created: bool
    assignment_removed: bool
    review_exists: bool


def _rows(session: Session, challenge: Challenge, user_id: int | None) -> list[ConflictRow]:
    stmt = (select(Conflict, User.email, User.name, Team.name)
            .join(User, User.id == Conflict.user_id).join(Team, Team.id == Conflict.team_id)
            .where(Conflict.challenge_id == challenge.id))
    member = (select(Membership, User.email, User.name, Team.name)
              .join(User, User.id == Membership.user_id).join(Team, Team.id == Membership.team_id)
              .join(JudgeSeat, (JudgeSeat.user_id == Membership.user_id)
                    & (JudgeSeat.challenge_id == Membership.challenge_id))
              .where(Membership.challenge_id == challenge.id))
    if user_id is not None:
        stmt = stmt.where(Conflict.user_id == user_id)
        member = member.where(Membership.user_id == user_id)
    rows = [ConflictRow(c.id, c.user_id, email, name or "", c.team_id, team, c.source,
                        c.reason or "", c.created_at)
            for c, email, name, team in session.execute(stmt)]
    rows += [ConflictRow(None, m.user_id, email, name or "", m.team_id, team, "membership", "",
                         m.joined_at)
             for m, email, name, team in session.execute(member)]
    return sorted(rows, key=lambda r: (r.email, r.team_name.casefold(), r.source))


def list_conflicts(session: Session, challenge: Challenge) -> list[ConflictRow]:
    """Every judge's conflicts in the challenge (memberships of seated judges included)."""
    return _rows(session, challenge, None)


def conflicts_of(session: Session, challenge: Challenge, user_id: int) -> list[ConflictRow]:
    """One judge's conflicts (declared, organizer and membership)."""
    return _rows(session, challenge, user_id)


def teams(session: Session, challenge: Challenge) -> list[Team]:
    """The challenge's teams by name (what a conflict can name)."""
    return sorted(session.scalars(select(Team).where(Team.challenge_id == challenge.id)),
                  key=lambda t: t.name.casefold())


def _team(session: Session, challenge: Challenge, team_id: int | None) -> Team:
    team = session.get(Team, team_id) if team_id else None
    if team is None or team.challenge_id != challenge.id:
        raise NotFound("This challenge has no such team.", field="team_id")
    return team


def _withdraw_assignment(session: Session, challenge: Challenge, user_id: int,
                         team: Team) -> tuple[bool, bool]:
    """Drop the judge's assignment to the team's entry unless a review exists.
    Returns (assignment removed, review exists)."""
    submission_id = session.scalar(select(Submission.id).where(Submission.team_id == team.id))
    if submission_id is None:
        return False, False
    review = session.scalar(select(Review.id).where(Review.user_id == user_id,
                                                    Review.submission_id == submission_id))
    if review is not None:
        return False, True
    assignment = session.scalar(select(Assignment).where(
        Assignment.user_id == user_id, Assignment.submission_id == submission_id))
    if assignment is None:
        return False, False
    session.delete(assignment)
    return True, False


def _record(session: Session, challenge: Challenge, user_id: int, team: Team, reason: str,
            source: str, actor) -> RecordOutcome:
    reason = " ".join((reason or "").split())
    if len(reason) > REASON_MAX:
        raise ConflictError(f"Keep the reason under {REASON_MAX} characters.", field="reason")
    is_member = session.scalar(select(Membership.id).where(
        Membership.user_id == user_id, Membership.team_id == team.id)) is not None
    if is_member:
        raise ConflictError(f"Membership of {team.name} is already a conflict (automatic).",
                            field="team_id")
    existing = session.scalar(select(Conflict).where(
        Conflict.challenge_id == challenge.id, Conflict.user_id == user_id,
        Conflict.team_id == team.id))
    created = existing is None
    if existing is None:
        existing = Conflict(challenge_id=challenge.id, user_id=user_id, team_id=team.id,
                            source=source, reason=reason, created_at=clock.now(),
                            created_by=getattr(actor, "id", None))
        session.add(existing)
    elif reason and existing.reason != reason:
        existing.reason = reason
    session.flush()
    removed, reviewed = _withdraw_assignment(session, challenge, user_id, team)
    if created:
        audit.record(session, f"conflict.{'declared' if source == 'declared' else 'added'}",
                     actor=actor, target=f"challenge:{challenge.slug}", user=user_id,
                     team=team.id, assignment_removed=removed, review_exists=reviewed)
    session.flush()
    return RecordOutcome(existing, created, removed, reviewed)


def declare(session: Session, challenge: Challenge, user, team_id: int, reason: str = ""
            ) -> RecordOutcome:
    """A judge declares a conflict with a team of a challenge where they sit."""
    if access.judge_seat(session, user, challenge) is None:
        raise Forbidden("Only the judges of this challenge can declare conflicts here.")
    team = _team(session, challenge, team_id)
    return _record(session, challenge, user.id, team, reason, "declared", user)


def add(session: Session, challenge: Challenge, user_id: int, team_id: int, reason: str = "",
        *, actor) -> RecordOutcome:
    """An organizer records a conflict for a judge of the challenge."""
    seat = session.scalar(select(JudgeSeat).where(JudgeSeat.challenge_id == challenge.id,
                                                  JudgeSeat.user_id == user_id))
    if seat is None:
        raise NotFound("This challenge has no such judge.", field="user_id")
    team = _team(session, challenge, team_id)
    return _record(session, challenge, user_id, team, reason, "organizer", actor)


def remove(session: Session, challenge: Challenge, conflict_id: int, *, actor) -> None:
    """An organizer removes a declared or organizer conflict (memberships are not rows
    and cannot be removed)."""
    conflict = session.get(Conflict, conflict_id)
    if conflict is None or conflict.challenge_id != challenge.id:
        raise NotFound("This challenge has no such conflict.")
    audit.record(session, "conflict.removed", actor=actor, target=f"challenge:{challenge.slug}",
                 user=conflict.user_id, team=conflict.team_id, source=conflict.source)
    session.delete(conflict)
    session.flush()
