"""Adverse-event screening and the moderation queue (METHODS.md section 10).

Every free text a patient or entrant writes goes through `screen`: a text that mentions
a medicine and a side effect becomes a Flag at once (`first_seen` starts the reporting
clock). Safety officers and organizers move flags through `change_status`; every change
is appended to the flag's history and to the audit log. Flags are never deleted.

Services take a Session and only flush; the view or CLI command commits. The screened
text itself is never logged and never put in the audit log: only the flag's excerpt is
stored, for the safety queue.
"""

from __future__ import annotations

import functools
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, lazyload

from challenge import audit, clock
from challenge.accounts.models import User
from challenge.errors import Conflict, Forbidden, NotFound, ValidationFailed
from challenge.safety import lexicon as lx
from challenge.safety.models import (
    FLAG_STATUSES,
    OPEN_STATUSES,
    STATUS_LABELS,
    TRANSITIONS,
    Flag,
    FlagEvent,
)

log = logging.getLogger(__name__)

SOURCE_MAX = 40  # Flag.source column length
SOURCE_REF_MAX = 200  # Flag.source_ref column length
NOTE_MAX = 2000
# Statuses in which the person making a change is recorded as the flag's reviewer.
REVIEW_STATUSES = ("reviewed", "not_adverse_event")
# Queue filters besides the statuses themselves.
FILTERS = ("open", "overdue")
REVIEWER_ROLES = ("organizer", "safety")


# ---------------------------------------------------------------------------------------
# Lexicon
# ---------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=16)
def _lexicon_with(sponsor_products: tuple[str, ...]) -> lx.Lexicon:
    return lx.build_lexicon(products=lx.DEFAULT_PRODUCTS + sponsor_products)


def lexicon_for_app() -> lx.Lexicon:
    """The default lists plus the app's configured SPONSOR_PRODUCTS (compiled once per set).

    SPONSOR_PRODUCTS may be a list of names or one comma/newline-separated string.
    """
    sponsor = lx.parse_terms(current_app.config.get("SPONSOR_PRODUCTS") or ())
    return _lexicon_with(tuple(sponsor))


# ---------------------------------------------------------------------------------------
# Screening
# ---------------------------------------------------------------------------------------


def screen(
    session: Session,
    *,
    source: str,
    source_ref: str,
    text: str | None,
    lexicon: lx.Lexicon | None = None,
) -> Flag | None:
    """Flag `text` when it mentions a product and an event; return the Flag, else None.

    `source` is the kind of text ("survey-response", "survey-import", "submission");
    `source_ref` points at it (for example "response:<id>/<question key>"). Screening the
    same text again (a re-saved draft) returns the existing flag of that source and
    reference with the identical excerpt, whatever its status, instead of a duplicate.
    """
    if not source or len(source) > SOURCE_MAX:
        raise ValueError(f"source must be 1 to {SOURCE_MAX} characters")
    if not source_ref or len(source_ref) > SOURCE_REF_MAX:
        raise ValueError(f"source_ref must be 1 to {SOURCE_REF_MAX} characters")
    if not text:
        return None
    found = lx.match(lexicon or lexicon_for_app(), text)
    if not found.flagged:
        return None
    snippet = lx.excerpt(text, found)
    existing = session.scalar(
        select(Flag)
        .where(Flag.source == source, Flag.source_ref == source_ref, Flag.excerpt == snippet)
        .order_by(Flag.id)
        .limit(1)
    )
    if existing is not None:
        return existing
    now = clock.now()
    flag = Flag(
        source=source,
        source_ref=source_ref,
        excerpt=snippet,
        products=list(found.products),
        events=list(found.events),
        first_seen=now,
        status="new",
    )
    flag.history.append(FlagEvent(at=now, actor_id=None, from_status=None, to_status="new",
                                  note=""))
    session.add(flag)
    session.flush()
    # Ids and term counts only: never the text.
    log.info("safety flag %s raised from %s (%d product, %d event terms)", flag.id, source,
             len(found.products), len(found.events))
    return flag


# ---------------------------------------------------------------------------------------
# Review
# ---------------------------------------------------------------------------------------


def status_label(status: str | None) -> str:
    """Human name of a status ("Not an adverse event")."""
    return STATUS_LABELS.get(status or "", status or "—")


def allowed_transitions(flag: Flag) -> tuple[str, ...]:
    """The statuses `flag` may move to next (empty once it is final)."""
    return TRANSITIONS.get(flag.status, ())


def get_flag(session: Session, flag_id: int, *, for_update: bool = False) -> Flag:
    """The flag with `flag_id` (NotFound otherwise); `for_update` locks its row."""
    stmt = select(Flag).where(Flag.id == flag_id)
    if for_update:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    flag = session.scalar(stmt)
    if flag is None:
        raise NotFound("There is no such flag.")
    return flag


def change_status(
    session: Session,
    flag: Flag,
    to_status: str,
    *,
    actor: User,
    note: str = "",
    expected_status: str | None = None,
) -> FlagEvent:
    """Move `flag` to `to_status` along TRANSITIONS; return the appended history event.

    `expected_status` is the status the person saw when choosing (the form sends it): if
    someone else changed the flag meanwhile, the change is refused rather than applied
    to a state the person never saw, except that re-sending the very same change (a
    double-clicked button) returns the first change's event.
    """
    if not actor.has_role(*REVIEWER_ROLES):
        raise Forbidden("Only safety officers and organizers can review flags.")
    if to_status not in FLAG_STATUSES:
        raise ValidationFailed(
            f"Unknown status {to_status!r}; choose one of: "
            + ", ".join(STATUS_LABELS[s] for s in FLAG_STATUSES) + "."
        )
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise ValidationFailed(f"Keep the note under {NOTE_MAX} characters.")
    current = flag.status
    if expected_status and expected_status != current:
        last = flag.history[-1] if flag.history else None
        if (last is not None and current == to_status and last.from_status == expected_status
                and last.actor_id == actor.id):
            return last  # the same change sent twice: the first one stands
        raise Conflict(
            f"Flag #{flag.id} was changed to “{status_label(current)}” while you were "
            "looking at it. Check its history and choose again."
        )
    if to_status == current:
        raise Conflict(f"Flag #{flag.id} is already “{status_label(current)}”.")
    allowed = TRANSITIONS.get(current, ())
    if to_status not in allowed:
        if allowed:
            options = " or ".join(f"“{status_label(s)}”" for s in allowed)
            hint = f"It can only become {options}."
        else:
            hint = "That status is final."
        raise Conflict(
            f"A flag that is “{status_label(current)}” cannot become "
            f"“{status_label(to_status)}”. {hint}"
        )
    now = clock.now()
    flag.status = to_status
    if to_status in REVIEW_STATUSES or (to_status == "forwarded" and flag.reviewed_at is None):
        # Forwarding straight from "new" is a review too: record who made that call.
        flag.reviewer_id = actor.id
        flag.reviewed_at = now
    if to_status == "forwarded":
        flag.forwarded_at = now
    event = FlagEvent(at=now, actor_id=actor.id, from_status=current, to_status=to_status,
                      note=note)
    flag.history.append(event)
    # Statuses, the reviewer and whether a note was added: no flag text and no note itself
    # (it may quote the patient).
    audit.record(session, "safety.flag_status", actor=actor, target=f"flag:{flag.id}",
                 before=current, after=to_status, reviewer_id=flag.reviewer_id,
                 note_added=bool(note))
    session.flush()
    return event


# ---------------------------------------------------------------------------------------
# The queue
# ---------------------------------------------------------------------------------------


def is_overdue(flag: Flag, now: datetime | None = None) -> bool:
    """An open flag first seen more than one business day before `now` (default: now)."""
    if flag.status not in OPEN_STATUSES:
        return False
    return lx.business_days_overdue(flag.first_seen, now or clock.now())


def reporting_deadline(flag: Flag) -> datetime:
    """When `flag` becomes overdue if it is still open."""
    return lx.reporting_deadline(flag.first_seen)


def overdue_cutoff(now: datetime) -> datetime:
    """The earliest `first_seen` that is not yet overdue at `now`.

    An open flag is overdue exactly when its `first_seen` is before this moment, so the
    database can count and filter overdue flags. It relies on the reporting deadline
    never decreasing as `first_seen` grows, and finds the boundary to the microsecond
    (the resolution of stored times) by bisection between now minus 4 days (always
    overdue: the longest business day spans 3 calendar days) and now (never overdue).
    """
    now = now.astimezone(UTC)
    low = now - timedelta(days=4)
    step = timedelta(microseconds=1)
    overdue, not_overdue = 0, (now - low) // step
    while not_overdue - overdue > 1:
        middle = (overdue + not_overdue) // 2
        if lx.business_days_overdue(low + middle * step, now):
            overdue = middle
        else:
            not_overdue = middle
    return low + not_overdue * step


def _filtered(stmt, status: str | None, now: datetime):
    if not status:
        return stmt
    if status == "open":
        return stmt.where(Flag.status.in_(OPEN_STATUSES))
    if status == "overdue":
        return stmt.where(Flag.status.in_(OPEN_STATUSES), Flag.first_seen < overdue_cutoff(now))
    if status in FLAG_STATUSES:
        return stmt.where(Flag.status == status)
    raise ValidationFailed(
        f"Unknown status filter {status!r}; use one of: {', '.join(FILTERS + FLAG_STATUSES)}."
    )


def list_flags(
    session: Session,
    *,
    status: str | None = None,
    limit: int,
    offset: int,
    now: datetime | None = None,
) -> tuple[list[Flag], int]:
    """A page of flags, newest first, and how many match in all.

    `status` is a flag status, "open" (new or reviewed), "overdue", or None for all.
    """
    now = now or clock.now()
    total = session.scalar(_filtered(select(func.count(Flag.id)), status, now)) or 0
    rows = session.scalars(
        _filtered(select(Flag), status, now)
        .options(lazyload(Flag.history))
        .order_by(Flag.first_seen.desc(), Flag.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows), total


def flag_counts(session: Session, now: datetime | None = None) -> dict[str, int]:
    """How many flags are new, open, overdue, and in all (one SQL query)."""
    now = now or clock.now()
    is_open = Flag.status.in_(OPEN_STATUSES)
    row = session.execute(
        select(
            func.count(Flag.id),
            func.count(case((Flag.status == "new", 1))),
            func.count(case((is_open, 1))),
            func.count(case(((is_open) & (Flag.first_seen < overdue_cutoff(now)), 1))),
        )
    ).one()
    return {"total": row[0], "new": row[1], "open": row[2], "overdue": row[3]}


def highlight(text: str, lexicon: lx.Lexicon | None = None) -> list[tuple[str, bool]]:
    """`text` cut into (piece, is_a_matched_term) pieces, for highlighting on a page."""
    found = lx.match(lexicon or lexicon_for_app(), text)
    pieces: list[tuple[str, bool]] = []
    position = 0
    for start, end in found.spans:
        if start > position:
            pieces.append((text[position:start], False))
        pieces.append((text[start:end], True))
        position = end
    if position < len(text):
        pieces.append((text[position:], False))
    return pieces


def people_by_id(session: Session, ids) -> dict[int, User]:
    """Users by id, for naming reviewers and history actors (one query)."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {u.id: u for u in session.scalars(select(User).where(User.id.in_(wanted)))}


def iso_utc(moment: datetime | None) -> str | None:
    """'2027-01-12T10:00:00Z' (UTC, to the second)."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def flags_json(session: Session, *, status: str | None = None,
               now: datetime | None = None) -> dict[str, Any]:
    """Every flag (optionally filtered as in `list_flags`), oldest first, as in CONTRACTS.md:

    {"flags": [{"id", "source", "excerpt", "products", "events", "first_seen", "status",
    plus "source_ref", "overdue", "reviewed_at", "forwarded_at"}]}.
    """
    now = now or clock.now()
    cutoff = overdue_cutoff(now)
    stmt = _filtered(
        select(Flag.id, Flag.source, Flag.source_ref, Flag.excerpt, Flag.products,
               Flag.events, Flag.first_seen, Flag.status, Flag.reviewed_at,
               Flag.forwarded_at),
        status, now,
    ).order_by(Flag.id)
    flags = []
    for row in session.execute(stmt):
        flags.append({
            "id": row.id,
            "source": row.source,
            "excerpt": row.excerpt,
            "products": list(row.products or []),
            "events": list(row.events or []),
            "first_seen": iso_utc(row.first_seen),
            "status": row.status,
            "source_ref": row.source_ref,
            "overdue": row.status in OPEN_STATUSES and row.first_seen < cutoff,
            "reviewed_at": iso_utc(row.reviewed_at),
            "forwarded_at": iso_utc(row.forwarded_at),
        })
    return {"flags": flags}
