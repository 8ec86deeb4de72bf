"""Answering surveys when things go wrong: a database held locked by another connection
(503 with Retry-After, nothing typed is lost, the retry stores it) and retried or
double-clicked posts (idempotency keys: one stored result, the same answer back).

On SQLite the lock is a second connection's BEGIN IMMEDIATE; on PostgreSQL an ACCESS
EXCLUSIVE lock on the answers table taken in another connection.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from challenge.db import make_engine
from challenge.idempotency import IdempotencyKey
from surveys import definition
from surveys.models import Answer, Participation, Response
from tests.conftest import ON_POSTGRES, login

CONTRACT = Path(__file__).resolve().parents[1] / "data" / "survey_contract.json"
PAGE1 = {"q_role": "patient", "q_dtype": "t1", "q_exercise.importance": "5",
         "q_exercise.satisfaction": "2", "q_devices": ["cgm"], "action": "next"}
PAGE2 = {"q_stress": "4", "q_age": "41", "q_story": "Night lows scare me.", "action": "submit"}
KEY = re.compile(r'name="idempotency_key" value="([^"]+)"')


@pytest.fixture
def app_config(app_config):
    """A short lock wait, so a blocked write gives up quickly."""
    return {**app_config, "DB_LOCK_TIMEOUT_SECONDS": 0.3}


@pytest.fixture
def survey(app):
    from challenge.db import session_scope

    doc = json.loads(CONTRACT.read_text())
    doc["questions"][0]["required"] = True
    with app.app_context(), session_scope(app) as s:
        created, _ = definition.apply(s, doc)
        return created.slug


@contextmanager
def database_locked(app) -> Iterator[None]:
    """Another connection holds the lock a survey write needs, until the block ends."""
    url = app.config["DATABASE_URL"]
    if ON_POSTGRES:
        engine = make_engine(url)
        conn = engine.connect()
        try:
            conn.execute(text("LOCK TABLE survey_answer IN ACCESS EXCLUSIVE MODE"))
            yield
        finally:
            conn.rollback()
            conn.close()
            engine.dispose()
        return
    conn = sqlite3.connect(url[len("sqlite:///"):], isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield
    finally:
        conn.rollback()
        conn.close()


def key_in(html: str) -> str:
    match = KEY.search(html)
    assert match, "no idempotency key in the form"
    return match.group(1)


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def start(client, slug: str) -> None:
    landing = client.get(f"/s/{slug}").get_data(as_text=True)
    started = client.post(f"/s/{slug}", data={"consent": "yes",
                                              "idempotency_key": key_in(landing)})
    assert started.status_code == 302


def test_forms_carry_a_fresh_idempotency_key(client, survey):
    first, second = (key_in(client.get(f"/s/{survey}").get_data(as_text=True))
                     for _ in range(2))
    assert first != second
    start(client, survey)
    page = client.get(f"/s/{survey}/page/1")
    assert key_in(page.get_data(as_text=True))
    assert page.headers["Cache-Control"] == "no-store"


def test_locked_database_keeps_typed_answers_and_the_retry_stores_them(app, client, survey,
                                                                       session):
    start(client, survey)
    assert client.post(f"/s/{survey}/page/1", data=PAGE1).status_code == 302
    key = key_in(client.get(f"/s/{survey}/page/2").get_data(as_text=True))
    form = {**PAGE2, "idempotency_key": key}

    with database_locked(app):
        busy = client.post(f"/s/{survey}/page/2", data=form)
    html = busy.get_data(as_text=True)
    assert busy.status_code == 503
    assert int(busy.headers["Retry-After"]) > 0
    assert "the platform is very busy; your answers are still here" in html.lower()
    assert "Night lows scare me." in html
    assert 'value="41"' in html and re.search(r'value="4"\s+checked', html)
    assert key_in(html)  # the page can be sent again as it is

    reloaded = client.get(f"/s/{survey}/page/2").get_data(as_text=True)
    assert "Night lows scare me." in reloaded and "were not saved yet" in reloaded

    retry = client.post(f"/s/{survey}/page/2", data=form)
    assert retry.status_code == 302 and retry.headers["Location"].endswith(f"/s/{survey}/thanks")
    again = client.post(f"/s/{survey}/page/2", data=form)
    assert (again.status_code, again.headers["Location"]) == (302, retry.headers["Location"])

    assert count(session, Response) == 1
    assert session.scalar(select(Response.status)) == "submitted"
    texts = session.scalars(select(Answer.text).where(Answer.text.is_not(None))).all()
    assert texts == ["Night lows scare me."]
    assert count(session, Answer) == 7
    assert count(session, IdempotencyKey) == 2
    # once stored, the copy kept in the session is gone
    with client.session_transaction() as browser_session:
        assert "survey_unsaved" not in browser_session


def test_locked_database_keeps_a_logged_in_persons_answers_too(app, client, survey, session,
                                                                make_user):
    make_user("pat@example.org", "patient")
    login(client, "pat@example.org")
    start(client, survey)
    with database_locked(app):
        busy = client.post(f"/s/{survey}/page/1", data=PAGE1)
    html = busy.get_data(as_text=True)
    assert busy.status_code == 503 and "Retry-After" in busy.headers
    assert re.search(r'value="t1"\s+checked', html) and "Log out" in html  # still logged in
    assert client.post(f"/s/{survey}/page/1", data=PAGE1).status_code == 302
    assert session.scalar(select(Response.page_reached)) == 1


def test_double_submit_stores_one_response_and_answers_the_same(client, survey, session,
                                                                make_user):
    make_user("pat@example.org", "patient")
    login(client, "pat@example.org")
    start(client, survey)
    client.post(f"/s/{survey}/page/1", data=PAGE1)
    form = {**PAGE2, "idempotency_key": key_in(client.get(f"/s/{survey}/page/2")
                                               .get_data(as_text=True))}
    first = client.post(f"/s/{survey}/page/2", data=form)
    second = client.post(f"/s/{survey}/page/2", data=form)
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert count(session, Response) == 1 and count(session, Participation) == 1
    assert count(session, Answer) == 7


def test_repeat_of_a_stored_page_collides_on_its_key_and_changes_nothing(client, survey,
                                                                         session):
    """A page post repeated while the draft is still a draft (a double click on "Save and
    continue", or a retry racing the first): its record collides with the first one's, it
    answers the stored outcome, and its (here different) answers are not stored."""
    start(client, survey)
    form = {**PAGE1, "idempotency_key": "k" * 24}
    first = client.post(f"/s/{survey}/page/1", data=form)
    assert first.status_code == 302
    stored = count(session, Answer)
    second = client.post(f"/s/{survey}/page/1", data={**form, "q_role": "carer"})
    assert second.status_code == 302 and second.headers["Location"] == first.headers["Location"]
    assert count(session, Answer) == stored
    assert session.scalar(select(func.count()).where(Answer.choice == "carer")) == 0
    invalid = client.post(f"/s/{survey}/page/1", data={**form, "q_age": "nonsense",
                                                        "q_role": "nobody"})
    assert invalid.headers["Location"] == first.headers["Location"]  # not a 422 either
    assert session.scalar(select(func.count()).where(
        IdempotencyKey.endpoint == f"/s/{survey}/page/1")) == 1


def test_idempotency_key_header_and_malformed_keys(client, survey, session):
    start(client, survey)
    headers = {"Idempotency-Key": "load-test-0001-abcdef"}
    first = client.post(f"/s/{survey}/page/1", data=PAGE1, headers=headers)
    changed = client.post(f"/s/{survey}/page/1", data={**PAGE1, "q_role": "carer"},
                          headers=headers)
    assert first.headers["Location"] == changed.headers["Location"]
    roles = session.scalars(select(Answer.choice).where(Answer.choice == "patient")).all()
    assert roles == ["patient"]  # the repeat did nothing
    bad = client.post(f"/s/{survey}/page/1", data={**PAGE1, "idempotency_key": "short"})
    assert bad.status_code == 422 and b"idempotency key" in bad.data


def test_retried_consent_after_a_lost_answer_continues_the_same_draft(app, survey, session):
    first = app.test_client()
    key = key_in(first.get(f"/s/{survey}").get_data(as_text=True))
    assert first.post(f"/s/{survey}", data={"consent": "yes", "idempotency_key": key}
                      ).status_code == 302
    # The answer (and its cookie) never arrived: the same browser sends the form again.
    lost = app.test_client()
    retried = lost.post(f"/s/{survey}", data={"consent": "yes", "idempotency_key": key})
    assert retried.status_code == 302 and retried.headers["Location"].endswith("/page/1")
    assert lost.post(f"/s/{survey}/page/1", data=PAGE1).status_code == 302
    assert count(session, Response) == 1
    assert session.scalar(select(Response.page_reached)) == 1


def test_locked_database_on_other_writes_is_a_clear_503(app, client, survey, session):
    key = key_in(client.get(f"/s/{survey}").get_data(as_text=True))
    form = {"consent": "yes", "idempotency_key": key}
    with database_locked(app) if not ON_POSTGRES else _responses_locked(app):
        busy = client.post(f"/s/{survey}", data=form)
    assert busy.status_code == 503 and int(busy.headers["Retry-After"]) > 0
    assert b"very busy" in busy.data
    assert count(session, Response) == 0
    assert client.post(f"/s/{survey}", data=form).status_code == 302
    assert count(session, Response) == 1


@contextmanager
def _responses_locked(app) -> Iterator[None]:
    engine = make_engine(app.config["DATABASE_URL"])
    conn = engine.connect()
    try:
        conn.execute(text("LOCK TABLE survey_response IN ACCESS EXCLUSIVE MODE"))
        yield
    finally:
        conn.rollback()
        conn.close()
        engine.dispose()


def test_a_changed_survey_is_never_served_stale(app, client, survey, session):
    from datetime import UTC, datetime

    from challenge import clock
    from surveys.models import Survey

    clock.freeze(datetime(2027, 1, 12, 10, 0, tzinfo=UTC))  # every edit at the same moment
    start(client, survey)
    for wording in ("Who are you?", "Who are you, really?"):
        doc = definition.export(session.scalar(select(Survey)))
        doc["questions"][0]["text"] = wording
        definition.apply(session, doc)
        session.commit()
        page = client.get(f"/s/{survey}/page/1").get_data(as_text=True)
        assert wording in page
