"""Idempotency records: one per key and path, nothing that links a person, purged after a
day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, inspect, select

from challenge import clock, idempotency
from challenge.idempotency import IdempotencyKey

NOON = datetime(2027, 1, 12, 12, 34, 56, 789, tzinfo=UTC)


def test_remember_then_lookup_and_duplicates(app, session):
    clock.freeze(NOON)
    with app.test_request_context("/s/x/page/1", method="POST"):
        idempotency.remember(session, "a" * 20, "/s/x/thanks")
        session.commit()
        assert idempotency.lookup(session, "a" * 20) == idempotency.Outcome(302, "/s/x/thanks")
        assert idempotency.lookup(session, "b" * 20) is None
        assert idempotency.lookup(session, "a" * 20, "/s/y/page/1") is None  # per path
        with pytest.raises(idempotency.Duplicate):
            idempotency.remember(session, "a" * 20, "/elsewhere")
        session.rollback()
        idempotency.remember(session, None, "/ignored")  # no key: nothing to remember
    row = session.scalar(select(IdempotencyKey))
    assert row.created_at == NOON.replace(minute=0, second=0, microsecond=0)  # hour only
    assert "a" * 20 not in (row.key_hash, row.endpoint)
    columns = {c["name"] for c in inspect(session.connection()).get_columns("idempotency_key")}
    assert columns == {"key_hash", "endpoint", "status_code", "location", "created_at"}


def test_purge_keeps_a_day(app, session):
    with app.test_request_context("/c/x/submission/submit", method="POST"):
        for hours_ago in (0, 23, 26, 50):
            clock.freeze(NOON - timedelta(hours=hours_ago))
            idempotency.remember(session, f"key-{hours_ago:02d}-" + "x" * 16, "/c/x/submission")
        session.commit()
        assert idempotency.purge(session, NOON) == 2
        session.commit()
    assert session.scalar(select(func.count()).select_from(IdempotencyKey)) == 2
