"""The one source of "now": timezone-aware UTC, replaceable in tests.

Deadlines and phases are decided by the server's clock, never the browser's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

_frozen: datetime | None = None
_offset = timedelta(0)


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    if _frozen is not None:
        return _frozen
    return datetime.now(UTC) + _offset


def today_utc():
    """Today's date in UTC."""
    return now().date()


@contextmanager
def frozen(at: datetime) -> Iterator[None]:
    """Freeze `now()` at `at` (aware) for the duration of the block."""
    global _frozen
    if at.tzinfo is None:
        raise ValueError("frozen() needs an aware datetime")
    previous, _frozen = _frozen, at.astimezone(UTC)
    try:
        yield
    finally:
        _frozen = previous


def freeze(at: datetime | None) -> None:
    """Freeze `now()` at `at`, or unfreeze with None (for fixtures spanning many requests)."""
    global _frozen
    _frozen = at.astimezone(UTC) if at is not None else None


def advance(delta: timedelta) -> None:
    """Move the clock by `delta` (frozen or not)."""
    global _frozen, _offset
    if _frozen is not None:
        _frozen = _frozen + delta
    else:
        _offset += delta
