"""The public gallery: submitted entries of the teams that opted in.

Open once the organizer opens it (`Challenge.gallery_open`) or once results are due
(`results_at` reached). Only entry versions appear, never drafts. An entry whose text has
an adverse-event flag still open (new or reviewed) stays out until the flag is settled
(METHODS.md section 10: flagged text is kept out of every publication).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, load_only

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


_REF = re.compile(r"submission:(\d+)/version:(\d+)")


def _held_back(session: Session, challenge: Challenge) -> set[int]:
    """Submission ids of this challenge whose entry text is under an open flag.

    Open flags are few (the safety team clears them within a business day), so they are
    read first and only the flagged submissions' histories are looked at; the page query
    then leaves those submissions out in SQL, which keeps the count and the pages right.
    """
    flagged: dict[int, set[int]] = {}
    for ref in session.scalars(select(Flag.source_ref).where(
            Flag.source == "submission", Flag.status.in_(OPEN_STATUSES))):
        match = _REF.fullmatch(ref or "")
        if match:
            flagged.setdefault(int(match[1]), set()).add(int(match[2]))
    if not flagged:
        return set()
    entry_numbers = dict(session.execute(
        select(Submission.id, SubmissionVersion.number)
        .join(SubmissionVersion, SubmissionVersion.id == Submission.entry_version_id)
        .where(Submission.challenge_id == challenge.id, Submission.id.in_(flagged))).all())
    if not entry_numbers:
        return set()
    origins = _text_origins(session, list(entry_numbers))
    return {sid for sid, number in entry_numbers.items()
            if origins.get((sid, number), number) in flagged[sid]}


def held_back(session: Session, challenge: Challenge) -> frozenset[int]:
    """Submission ids of this challenge kept out of the gallery now (open flags)."""
    return frozenset(_held_back(session, challenge))


def entries(session: Session, challenge: Challenge) -> list[GalleryEntry]:
    """Every opted-in entry, by team name (flagged texts held back)."""
    return page(session, challenge)[0]


def _entries(challenge: Challenge, held: frozenset[int]) -> list:
    """Conditions on Submission for the gallery's entries: opted in, with an entry (the
    entry version is always a submitted one), not held back."""
    conditions = [Submission.challenge_id == challenge.id,
                  Submission.gallery_opt_in.is_(True),
                  Submission.entry_version_id.is_not(None)]
    if held:
        conditions.append(Submission.id.not_in(held))
    return conditions


def _count(session: Session, challenge: Challenge, held: frozenset[int]) -> int:
    """How many entries the gallery lists (one table, one index-friendly count)."""
    return session.scalar(select(func.count()).select_from(Submission)
                          .where(*_entries(challenge, held))) or 0


def _listed(challenge: Challenge, held: frozenset[int], *columns):
    """`columns` of the gallery's entries with their teams, in the gallery's order."""
    # Filtering on the team's challenge too lets the database walk the teams' unique
    # (challenge, name) index in order and stop after one page, instead of sorting all.
    return (select(*columns).select_from(Team)
            .join(Submission, Submission.team_id == Team.id)
            .where(Team.challenge_id == challenge.id, *_entries(challenge, held))
            .order_by(Team.name, Team.id))


def _window(stmt, limit: int | None, offset: int):
    stmt = stmt.offset(offset)
    return stmt if limit is None else stmt.limit(limit)


def page_key(session: Session, challenge: Challenge, *, limit: int, offset: int,
             held: frozenset[int]) -> tuple:
    """Exactly what decides one page's entries, read cheaply: how many entries there are
    in all, and each listed entry's team name and entry version id (a submitted version
    never changes, so its id stands for its texts). Two small statements; no version's
    texts are read."""
    listed = _window(_listed(challenge, held, Team.name, Submission.entry_version_id),
                     limit, offset)
    return (_count(session, challenge, held),
            tuple(tuple(row) for row in session.execute(listed)))


def page(session: Session, challenge: Challenge, *, limit: int | None = None,
         offset: int = 0, held: frozenset[int] | None = None) -> tuple[list[GalleryEntry], int]:
    """One page of the opted-in entries, by team name (flagged texts held back: `held`
    when the caller read them already), and how many there are in all. A fixed number of
    queries whatever the page size."""
    if held is None:
        held = held_back(session, challenge)
    total = _count(session, challenge, held)
    if not total:
        return [], 0
    listed = (_listed(challenge, held, Team.name, SubmissionVersion)
              .join(SubmissionVersion, SubmissionVersion.id == Submission.entry_version_id)
              # Only what the gallery shows (the file list and change notes stay unread).
              .options(load_only(
                  SubmissionVersion.submission_id, SubmissionVersion.number,
                  SubmissionVersion.title, SubmissionVersion.summary, SubmissionVersion.needs,
                  SubmissionVersion.demo_url, SubmissionVersion.repo_url)))
    return ([GalleryEntry(name, version)
             for name, version in session.execute(_window(listed, limit, offset))], total)
