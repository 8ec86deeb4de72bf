"""A team's "submit" sent twice (double click, a retry after a lost answer, two members at
once with one form): one frozen version, one set of receipts, the same answer back."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from challenge.challenges import submission_views
from challenge.challenges.models import Submission, SubmissionVersion
from challenge.outbox import OutboxMessage
from tests.web.test_submission_views import (  # noqa: F401 - fixtures used by name
    EDITOR,
    _frozen,
    as_user,
    save,
    world,
)

KEY = re.compile(r'name="idempotency_key" value="([^"]+)"')


def submit_form(client) -> dict:
    html = client.get(EDITOR).get_data(as_text=True)
    match = KEY.search(html[html.index("/submission/submit"):])
    assert match, "the submit form carries no idempotency key"
    return {"idempotency_key": match.group(1)}


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


@pytest.mark.usefixtures("world")
def test_double_submit_gives_one_version_and_the_same_receipt(client, session):
    as_user(client, "ana@example.org")
    save(client, summary="v1")
    form = submit_form(client)
    first = client.post(f"{EDITOR}/submit", data=form)
    receipt_page = client.get(EDITOR).get_data(as_text=True)
    # Meanwhile a teammate saves a new draft; the retried click must not submit it.
    save(client, summary="v2")
    second = client.post(f"{EDITOR}/submit", data=form)
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]

    entry_hash = session.scalar(select(SubmissionVersion.content_hash).where(
        SubmissionVersion.number == 1))
    assert f"Receipt: content hash {entry_hash}" in receipt_page
    again = client.get(EDITOR).get_data(as_text=True)
    assert f"Version 1 was already submitted at 2027-02-28T17:00:00Z. Receipt: content hash " \
           f"{entry_hash}" in again
    submitted = session.scalars(select(SubmissionVersion.number).where(
        SubmissionVersion.submitted_at.is_not(None))).all()
    assert submitted == [1]
    entry = session.scalar(select(Submission.entry_version_id))
    assert entry == session.scalar(select(SubmissionVersion.id).where(
        SubmissionVersion.number == 1))
    assert count(session, OutboxMessage) == 2  # one receipt per member, not two


@pytest.mark.usefixtures("world")
def test_concurrent_double_submit_collides_on_the_key(client, session, monkeypatch):
    as_user(client, "ana@example.org")
    save(client, summary="v1")
    form = submit_form(client)
    first = client.post(f"{EDITOR}/submit", data=form)
    real_replay = submission_views.idempotency.replay
    looks = []

    def replay_blind_once(dbs, key):  # the second click looked before the first committed
        looks.append(key)
        return None if len(looks) == 1 else real_replay(dbs, key)

    monkeypatch.setattr(submission_views.idempotency, "replay", replay_blind_once)
    second = client.post(f"{EDITOR}/submit", data=form)
    assert len(looks) == 2
    assert second.headers["Location"] == first.headers["Location"]
    assert count(session, OutboxMessage) == 2
    assert "was already submitted" in client.get(EDITOR).get_data(as_text=True)
