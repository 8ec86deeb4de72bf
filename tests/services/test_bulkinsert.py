"""insert_rows: one statement on PostgreSQL, executemany elsewhere, the same rows stored."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from challenge.bulkinsert import insert_rows
from surveys.models import Answer, Question, Response
from tests.services.test_insights import make_survey, survey_doc


def _draft(session) -> tuple[Response, list[Question]]:
    survey = make_survey(session, survey_doc())
    response = Response(survey_id=survey.id, consent_version=1)
    session.add(response)
    session.flush()
    return response, session.scalars(select(Question).where(Question.survey_id == survey.id)
                                      .order_by(Question.id)).all()


def test_rows_with_gaps_of_every_column_type_are_stored_as_given_in_order(session):
    response, questions = _draft(session)
    rows = [  # not in question order: the ids must follow the order given
        {"response_id": response.id, "question_id": questions[1].id, "choice": None,
         "number": None, "text": None, "importance": 5, "satisfaction": 1},
        {"response_id": response.id, "question_id": questions[0].id, "choice": "ü-option",
         "number": 2.5, "text": None, "importance": None, "satisfaction": None},
        {"response_id": response.id, "question_id": questions[2].id, "choice": None,
         "number": None, "text": "Line one,\n'quoted' \"twice\", {braces} and \\ back",
         "importance": None, "satisfaction": None},
    ]
    insert_rows(session.connection(), Answer.__table__, rows)
    stored = session.execute(
        select(Answer.question_id, Answer.choice, Answer.number, Answer.text, Answer.importance,
               Answer.satisfaction).where(Answer.response_id == response.id)
        .order_by(Answer.id)).all()
    assert [tuple(r) for r in stored] == [
        (r["question_id"], r["choice"], r["number"], r["text"], r["importance"],
         r["satisfaction"]) for r in rows]


def test_no_rows_stores_nothing(session):
    insert_rows(session.connection(), Answer.__table__, [])
    assert session.scalar(select(Answer.id)) is None


def test_rows_must_share_their_columns(session):
    response, questions = _draft(session)
    with pytest.raises(ValueError, match="same columns"):
        insert_rows(session.connection(), Answer.__table__, [
            {"response_id": response.id, "question_id": questions[0].id, "choice": "a"},
            {"response_id": response.id, "question_id": questions[1].id, "text": "b"},
        ])
