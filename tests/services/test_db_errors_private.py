"""A failed statement's error, which may reach a log, never carries the answers in it."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from surveys.models import Answer

SECRET = "my insulin pump failed at night"


def test_a_failed_insert_names_the_statement_but_not_the_answer(app, session, caplog):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(IntegrityError) as failed:
        # No such response: the foreign key refuses the row.
        session.execute(insert(Answer), {"response_id": "no-such-response",
                                         "question_id": 999_999, "text": SECRET})
        session.flush()
    session.rollback()
    message = str(failed.value)
    assert "INSERT INTO survey_answer" in message
    assert SECRET not in message
    assert "parameters hidden" in message
    assert SECRET not in caplog.text
