"""The public gallery: submitted entries of the teams that opted in.

Open once the organizer opens it (`Challenge.gallery_open`) or once results are due
(`results_at` reached). Only entry versions appear, never drafts. An entry whose text has
an adverse-event flag still open (new or reviewed) stays out until the flag is settled
(METHODS.md section 10: flagged text is kept out of every publication).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from challenge import clock
from challenge.challenges.models import Challenge, Submission, SubmissionVersion, Team
from challenge.safety.models import OPEN_STATUSES, Flag


@dataclass(frozen=True)
class GalleryEntry:
    """One project as the gallery shows it."""

    team_name: str
    version: SubmissionVersion


def is_open(challenge: Challenge, now: datetime | None = None) -> bool:
    """Whether the gallery is public now."""
    now = now or clock.now()
    return bool(challenge.gallery_open) or now >= challenge.results_at


def _text_origins(session: Session, submission_ids: list[int]) -> dict[tuple[int, int], int]:
    """For each (submission, version number): the number of the version that introduced
    its title and summary (the one screened for that text)."""
    rows = session.execute(
        select(SubmissionVersion.submission_id, SubmissionVersion.number,
               SubmissionVersion.changes)
        .where(SubmissionVersion.submission_id.in_(submission_ids))
        .order_by(SubmissionVersion.submission_id, SubmissionVersion.number))
    origins: dict[tuple[int, int], int] = {}
    current: dict[int, int] = {}
    for submission_id, number, changes in rows:
        if submission_id not in current or {"title", "summary"} & set(changes or ()):
            current[submission_id] = number
        origins[(submission_id, number)] = current[submission_id]
    return origins


def entries(session: Session, challenge: Challenge) -> list[GalleryEntry]:
    """The opted-in entries, by team name (flagged texts held back)."""
    rows = list(session.execute(
        select(Team.name, SubmissionVersion)
        .join(Submission, Submission.team_id == Team.id)
        .join(SubmissionVersion, SubmissionVersion.id == Submission.entry_version_id)
        .where(Submission.challenge_id == challenge.id,
               Submission.gallery_opt_in.is_(True),
               SubmissionVersion.submitted_at.is_not(None))
        .order_by(Team.name, Team.id)))
    if not rows:
        return []
    origins = _text_origins(session, [v.submission_id for _, v in rows])
    refs = {v.id: f"submission:{v.submission_id}/version:"
                  f"{origins.get((v.submission_id, v.number), v.number)}" for _, v in rows}
    held = set(session.scalars(select(Flag.source_ref).where(
        Flag.source == "submission", Flag.source_ref.in_(set(refs.values())),
        Flag.status.in_(OPEN_STATUSES))))
    return [GalleryEntry(name, version) for name, version in rows
            if refs[version.id] not in held]
