"""Reading published results for pages, one page of the ranking at a time.

`results` writes snapshots; this module only reads them, cheaply: a snapshot row without
its entries (the relationship would load every ranked entry) and without its JSON document
(large: every entry and judge again), then the rows a page shows, with LIMIT/OFFSET in SQL.
The few values a page needs from the document (the unranked teams) are extracted by the
database. Nothing here recomputes anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session, defer, lazyload

from challenge.challenges.models import Challenge
from challenge.judging import results
from challenge.judging.models import ResultEntry, ResultSnapshot

# Loader options that leave out the entries and the JSON document.
_LIGHT = (lazyload(ResultSnapshot.entries), defer(ResultSnapshot.data))


def _light():
    """A snapshot query that loads neither the entries nor the JSON document."""
    return select(ResultSnapshot).options(*_LIGHT)


def newest(session: Session, challenge: Challenge) -> ResultSnapshot | None:
    """The newest published version (entries and document not loaded), or None."""
    return session.scalar(_light().where(ResultSnapshot.challenge_id == challenge.id)
                          .order_by(ResultSnapshot.version.desc()).limit(1))


def version(session: Session, challenge: Challenge, number: int) -> ResultSnapshot:
    """One published version (entries and document not loaded); NotFound when missing."""
    return results.snapshot_version(session, challenge, number, *_LIGHT)


@dataclass(frozen=True)
class Version:
    """A line of the public list of published versions."""

    version: int
    published_at: datetime


def versions(session: Session, challenge: Challenge) -> list[Version]:
    """Every published version, newest first (one small query)."""
    return [Version(v, at) for v, at in session.execute(
        select(ResultSnapshot.version, ResultSnapshot.published_at)
        .where(ResultSnapshot.challenge_id == challenge.id)
        .order_by(ResultSnapshot.version.desc()))]


#: The columns a ranking row shows (plain rows: no ORM objects for a read-only list).
_ROW = (ResultEntry.id, ResultEntry.rank, ResultEntry.title, ResultEntry.team_name,
        ResultEntry.reviews, ResultEntry.raw_score, ResultEntry.normalized_score,
        ResultEntry.spread, ResultEntry.flagged, ResultEntry.award)


def ranking(session: Session, snapshot: ResultSnapshot, *, limit: int,
            offset: int = 0) -> tuple[list[Row], int]:
    """One page of the snapshot's ranked entries, by rank, and how many there are."""
    total = session.scalar(select(func.count(ResultEntry.id))
                           .where(ResultEntry.snapshot_id == snapshot.id)) or 0
    rows = list(session.execute(
        select(*_ROW).where(ResultEntry.snapshot_id == snapshot.id)
        .order_by(ResultEntry.rank, ResultEntry.id).limit(limit).offset(offset))) if total else []
    return rows, total


def awarded(session: Session, snapshot: ResultSnapshot) -> list[Row]:
    """The entries that won an award, by rank (few: they stay on the first page)."""
    return list(session.execute(
        select(*_ROW).where(ResultEntry.snapshot_id == snapshot.id, ResultEntry.award != "")
        .order_by(ResultEntry.rank, ResultEntry.id)))


def entry_of_team(session: Session, snapshot: ResultSnapshot | None,
                  team_id: int) -> ResultEntry | None:
    """The team's ranked entry in this snapshot, if it has one."""
    if snapshot is None:
        return None
    return session.scalar(select(ResultEntry).where(ResultEntry.snapshot_id == snapshot.id,
                                                    ResultEntry.team_id == team_id).limit(1))


def unranked(session: Session, snapshot: ResultSnapshot) -> list[dict[str, Any]]:
    """The entries published without a rank (no complete review): [{"team", "title"}].

    Read from the stored document by the database (JSON path), not by decoding it here.
    """
    value = session.scalar(select(ResultSnapshot.data["unscored"])
                           .where(ResultSnapshot.id == snapshot.id))
    return [u for u in value or [] if isinstance(u, dict)]


def top_entries(session: Session, snapshot_ids: list[int],
                top: int) -> dict[int, list[ResultEntry]]:
    """By snapshot: the entries ranked `top` or better, and every award, by rank."""
    out: dict[int, list[ResultEntry]] = {sid: [] for sid in snapshot_ids}
    if not snapshot_ids:
        return out
    for entry in session.scalars(
            select(ResultEntry).where(ResultEntry.snapshot_id.in_(snapshot_ids),
                                      (ResultEntry.rank <= top) | (ResultEntry.award != ""))
            .order_by(ResultEntry.snapshot_id, ResultEntry.rank, ResultEntry.id)):
        out[entry.snapshot_id].append(entry)
    return out
