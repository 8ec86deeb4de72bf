"""Who may judge what: the current rubric, judge seats, conflicts and assignments.

Small read-only helpers shared by the judging set-up, scoring and results code. Each
takes the caller's Session and only reads.

A judge is conflicted with a team when a Conflict row says so (declared by the judge or
added by an organizer) *or* when the judge is a member of that team; membership is read
live from Membership, so joining a team makes the conflict at once.
"""

from __future__ import annotations

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from challenge.challenges.models import Challenge, Membership, Submission
from challenge.judging.models import Assignment, Conflict, JudgeSeat, Rubric


def _challenge_id(challenge: Challenge | int) -> int:
    return challenge if isinstance(challenge, int) else challenge.id


def _user_id(user) -> int:
    return user if isinstance(user, int) else user.id


def current_rubric(session: Session, challenge: Challenge | int) -> Rubric | None:
    """The challenge's rubric with the highest version, or None before any exists."""
    return session.scalars(
        select(Rubric)
        .where(Rubric.challenge_id == _challenge_id(challenge))
        .order_by(Rubric.version.desc())
        .limit(1)
    ).first()


def judge_seat(session: Session, user, challenge: Challenge | int) -> JudgeSeat | None:
    """The user's seat in the challenge (with its panel), or None when not a judge there.

    ``user`` may be a User or a user id; anonymous users have no seat.
    """
    if user is None or getattr(user, "is_anonymous", False):
        return None
    return session.scalars(
        select(JudgeSeat).where(
            JudgeSeat.challenge_id == _challenge_id(challenge),
            JudgeSeat.user_id == _user_id(user),
        )
    ).first()


def conflicted_team_ids(session: Session, user_id: int, challenge: Challenge | int) -> set[int]:
    """Ids of the challenge's teams the user must not judge: Conflict rows (declared or
    organizer) plus the team the user is a member of."""
    cid = _challenge_id(challenge)
    declared = session.scalars(
        select(Conflict.team_id).where(Conflict.challenge_id == cid,
                                       Conflict.user_id == user_id)
    ).all()
    member = session.scalars(
        select(Membership.team_id).where(Membership.challenge_id == cid,
                                         Membership.user_id == user_id)
    ).all()
    return set(declared) | set(member)


def is_conflicted(session: Session, user_id: int, team_id: int,
                  challenge: Challenge | int) -> bool:
    """True when the user must not judge the team (a Conflict row or membership)."""
    cid = _challenge_id(challenge)
    declared = exists().where(Conflict.challenge_id == cid, Conflict.user_id == user_id,
                              Conflict.team_id == team_id)
    member = exists().where(Membership.challenge_id == cid, Membership.user_id == user_id,
                            Membership.team_id == team_id)
    return bool(session.scalar(select(declared | member)))


def is_assigned(session: Session, user_id: int, submission_id: int) -> bool:
    """True when the judge is assigned to review the submission."""
    return bool(session.scalar(select(exists().where(
        Assignment.user_id == user_id, Assignment.submission_id == submission_id))))


def assigned_submission_ids(session: Session, user_id: int,
                            challenge: Challenge | int) -> set[int]:
    """Ids of the challenge's submissions the judge is assigned to."""
    return set(session.scalars(
        select(Assignment.submission_id)
        .join(Submission, Submission.id == Assignment.submission_id)
        .where(Assignment.user_id == user_id,
               Assignment.challenge_id == _challenge_id(challenge),
               Submission.challenge_id == _challenge_id(challenge))
    ).all())
