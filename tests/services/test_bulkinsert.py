"""insert_rows: one statement on PostgreSQL, executemany elsewhere, the same rows stored;
writes that ride along run once, in the same statement on PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import bindparam, delete, event, insert, select

from challenge.bulkinsert import insert_rows
from surveys.models import Answer, Question, Response
from tests.conftest import ON_POSTGRES
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


_DROP = delete(Answer.__table__).where(Answer.response_id == bindparam("drop_of"))
_NOTE = insert(Answer.__table__).values(response_id=bindparam("note_of"),
                                        question_id=bindparam("note_question"),
                                        text=bindparam("note"))


def _row(response, question, choice):
    return {"response_id": response.id, "question_id": question.id, "choice": choice}


def _statements(session, action) -> list[str]:
    seen: list[str] = []
    engine = session.get_bind()

    def _record(conn, cursor, statement, *_):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", _record)
    try:
        action()
    finally:
        event.remove(engine, "before_cursor_execute", _record)
    return seen


def test_writes_along_run_once_and_never_meet_the_rows_inserted(session):
    """A DELETE along the rows removes what was there before, not the rows inserted; an
    INSERT along them is stored too: one statement on PostgreSQL, three elsewhere."""
    response, questions = _draft(session)
    insert_rows(session.connection(), Answer.__table__, [_row(response, questions[0], "old")])
    along = [(_DROP, {"drop_of": response.id}),
             (_NOTE, {"note_of": response.id, "note_question": questions[2].id,
                      "note": "along"})]
    rows = [_row(response, questions[0], "new"), _row(response, questions[1], "newer")]
    statements = _statements(session, lambda: insert_rows(
        session.connection(), Answer.__table__, rows, along=along))
    assert len(statements) == (1 if ON_POSTGRES else 3)
    stored = session.execute(select(Answer.choice, Answer.text)
                             .where(Answer.response_id == response.id)).all()
    assert sorted(map(tuple, stored), key=str) == sorted(
        [("new", None), ("newer", None), (None, "along")], key=str)


def test_writes_along_no_rows_still_run(session):
    response, questions = _draft(session)
    insert_rows(session.connection(), Answer.__table__, [_row(response, questions[0], "old")])
    insert_rows(session.connection(), Answer.__table__, [],
                columns=("response_id", "question_id", "choice"),
                along=[(_DROP, {"drop_of": response.id})])
    assert session.scalar(select(Answer.id).where(Answer.response_id == response.id)) is None


@pytest.mark.skipif(not ON_POSTGRES, reason="only PostgreSQL merges the parameters")
def test_writes_along_need_parameters_named_apart_from_the_arrays(session):
    response, questions = _draft(session)
    with pytest.raises(ValueError, match="named apart"):
        insert_rows(session.connection(), Answer.__table__, [_row(response, questions[0], "a")],
                    along=[(_DROP, {"drop_of": response.id, "choice_array": "clash"})])
