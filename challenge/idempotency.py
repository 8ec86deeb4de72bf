"""Idempotent form posts: a retried or double-clicked POST gets the first outcome back.

Every form that changes something important carries a fresh random key in the hidden
field `idempotency_key` (API clients and load tests may send an `Idempotency-Key` header
instead; the header wins when both are given). A view

1. asks `replay()` first: when the key was already used on this path, the stored redirect
   (same status, same Location) is the answer and nothing is done again;
2. otherwise does its work and calls `remember()` before its own commit, so the record
   and the effect commit together. A concurrent duplicate then fails on the primary key:
   `remember()` raises `Duplicate`, the view rolls back and answers `replay()`.

A hot view may skip step 1 and let step 2 recognise repeats (one query less per post),
provided that every way out that would refuse the post (a missing draft, invalid answers,
a closed survey) asks `replay()` before refusing; the survey pages do so. It may also
store the record in one of its own statements (`record_for`, `RECORD`, `is_duplicate`):
the survey pages insert it along with the answers.

A request killed before its commit leaves neither the effect nor the record, so its retry
simply runs. Only successful redirects are remembered; a refused form (422, 409, 503) can
be sent again with the same key.

Anonymity: a row holds a hash of (path, key), the status and Location and a time rounded
down to the hour, nothing that points at a person or at a response. Rows live at least a
day and are purged lazily (at most every few minutes per process).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Flask, Response, redirect, request
from sqlalchemy import Integer, String, bindparam, delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from challenge import clock
from challenge.db import Base, UTCDateTime
from challenge.errors import ValidationFailed

FIELD = "idempotency_key"
HEADER = "Idempotency-Key"
KEY_PATTERN = re.compile(r"[A-Za-z0-9_.:~-]{16,128}")
KEEP = timedelta(days=1)
PURGE_EVERY_SECONDS = 600.0
LOCATION_MAX = 500

_last_purge: float | None = None  # monotonic time of this process's last purge


class IdempotencyKey(Base):
    """The outcome of one form post, found again by the hash of its key."""

    __tablename__ = "idempotency_key"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    endpoint: Mapped[str] = mapped_column(String(300))
    status_code: Mapped[int] = mapped_column(Integer)
    location: Mapped[str] = mapped_column(String(LOCATION_MAX))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


@dataclass(frozen=True)
class Outcome:
    """What the first request answered: a redirect."""

    status_code: int
    location: str

    def response(self) -> Response:
        """The same redirect again."""
        return redirect(self.location, code=self.status_code)


class Duplicate(Exception):
    """Another request with the same key committed first: roll back, answer `replay()`."""


def new_key() -> str:
    """A fresh random key for one rendered form (templates: `{{ idempotency_key() }}`)."""
    return secrets.token_urlsafe(18)


def key_from_request() -> str | None:
    """The request's key (header, else hidden field), None when it sent none.

    A malformed key is refused (422) rather than ignored: the client expects protection.
    """
    raw = (request.headers.get(HEADER) or request.form.get(FIELD) or "").strip()
    if not raw:
        return None
    if not KEY_PATTERN.fullmatch(raw):
        raise ValidationFailed("The form's idempotency key is malformed: use 16 to 128 "
                               "letters, digits or - _ . : ~. Please reload the page.")
    return raw


def _hash(endpoint: str, key: str) -> str:
    return hashlib.sha256(f"{endpoint}\n{key}".encode()).hexdigest()


_T = IdempotencyKey.__table__
# Built once: every protected post runs them (building a statement costs more than running it).
_LOOKUP = select(_T.c.status_code, _T.c.location).where(_T.c.key_hash == bindparam("key_hash"))
# Its parameters are named after the columns (the values: see `record_for`).
RECORD = insert(_T).values({c.name: bindparam(c.name) for c in _T.c})
_PURGE = delete(_T).where(_T.c.created_at < bindparam("cutoff", type_=UTCDateTime))


def lookup(session: Session, key: str, endpoint: str | None = None) -> Outcome | None:
    """The stored outcome of `key` on `endpoint` (default: this request's path)."""
    row = session.connection().execute(
        _LOOKUP, {"key_hash": _hash(endpoint or request.path, key)}).first()
    return Outcome(row.status_code, row.location) if row is not None else None


def replay(session: Session, key: str | None) -> Response | None:
    """The stored redirect for `key` on this request's path, or None (also for no key)."""
    if not key:
        return None
    outcome = lookup(session, key)
    return outcome.response() if outcome is not None else None


def record_for(session: Session, key: str | None, location: str, status_code: int = 302,
               *, endpoint: str | None = None) -> dict | None:
    """The row that records `key` on this path answering a redirect to `location` (None
    without a key), for `remember` or for a view that stores it along with its effect in
    one statement (`RECORD` with these values; map an IntegrityError for which
    `is_duplicate` holds to `Duplicate`). Now and then purges old rows first."""
    if not key:
        return None
    if len(location) > LOCATION_MAX:
        raise ValueError("location too long to remember")
    now = clock.now()
    _purge_now_and_then(session, now)
    endpoint = endpoint or request.path
    return {"key_hash": _hash(endpoint, key), "endpoint": endpoint, "status_code": status_code,
            "location": location, "created_at": now.replace(minute=0, second=0, microsecond=0)}


def is_duplicate(exc: IntegrityError) -> bool:
    """Whether `exc` refused a second record of one key (and not some other constraint)."""
    diag = getattr(exc.orig, "diag", None)  # psycopg names the table
    if diag is not None:
        return diag.table_name == IdempotencyKey.__tablename__
    return f"{IdempotencyKey.__tablename__}." in str(exc.orig)  # SQLite: "table.column"


def remember(session: Session, key: str | None, location: str, status_code: int = 302,
             *, endpoint: str | None = None) -> None:
    """Record that `key` on this path answers a redirect to `location`; call it before the
    commit that stores the effect. Raises `Duplicate` when another request holds the key
    (on PostgreSQL this waits for that request's transaction to end first)."""
    row = record_for(session, key, location, status_code, endpoint=endpoint)
    if row is None:
        return
    try:
        session.connection().execute(RECORD, row)
    except IntegrityError as exc:
        raise Duplicate() from exc


def purge(session: Session, now: datetime | None = None) -> int:
    """Delete records older than a day (and an hour, as times are rounded down)."""
    cutoff = (now or clock.now()) - KEEP - timedelta(hours=1)
    result = session.connection().execute(_PURGE, {"cutoff": cutoff})
    return result.rowcount or 0


def _purge_now_and_then(session: Session, now: datetime) -> None:
    global _last_purge
    moment = time.monotonic()
    if _last_purge is None or moment - _last_purge >= PURGE_EVERY_SECONDS:
        _last_purge = moment
        purge(session, now)


def init_app(app: Flask) -> None:
    """Make `idempotency_key()` available to templates (a fresh key per call)."""
    app.add_template_global(new_key, "idempotency_key")
