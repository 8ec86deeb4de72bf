"""Response tallies (surveys/insight_counts.py): each submitted response is condensed once,
tallies made for another question layout or whose answers were replaced are rewritten,
and counting the tallies always equals counting the answers themselves."""

from __future__ import annotations

import random
import threading
import time

import pytest
from sqlalchemy import delete, func, insert, select, text, update

from surveys import definition, insight_counts, responses_io
from surveys.models import Answer, Response, Survey
from tests.conftest import ON_POSTGRES
from tests.services.test_insights import add_responses, make_survey, survey_doc


def _ids(survey: Survey) -> tuple[list[int], list[int]]:
    active = survey.active_questions
    return ([q.id for q in active if q.type == "need"],
            [q.id for q in active if q.type == "single" and q.segment])


def _from_answers(session, survey: Survey) -> insight_counts.AnswerCounts:
    """The same counts, straight from the answers (the path that bypasses tallies)."""
    needs, segments = sorted(_ids(survey)[0]), sorted(_ids(survey)[1])
    rows = insight_counts._count_from_answers(session, survey, needs, segments)
    return insight_counts._add_up(rows, needs, segments)


def _count(session, survey: Survey) -> insight_counts.AnswerCounts:
    return insight_counts.count_answers(session, survey, *_ids(survey))


def _refresh(session, survey: Survey) -> int:
    needs, segments = sorted(_ids(survey)[0]), sorted(_ids(survey)[1])
    return insight_counts.refresh_tallies(session, survey, needs, segments,
                                          insight_counts.layout_key(needs, segments))


def _layouts(session, survey: Survey) -> dict[str | None, int]:
    return dict(session.execute(
        select(Response.tally_layout, func.count()).where(Response.survey_id == survey.id)
        .group_by(Response.tally_layout)).all())


def _random_rows(rng: random.Random, n: int, needs=("n1", "n2", "n3")) -> list[dict]:
    rows = []
    for _ in range(n):
        row: dict = {}
        if rng.random() < 0.8:
            row["role"] = rng.choice(["patient", "carer"])
            if row["role"] == "patient" and rng.random() < 0.8:
                row["dtype"] = rng.choice(["t1", "t2", "other"])
        for key in needs:
            if rng.random() < 0.85:
                row[key] = (rng.randint(1, 5), rng.choice([rng.randint(1, 5), None]))
        rows.append(row)
    return rows + [{}]  # a respondent who answered none of these questions


def test_counting_tallies_equals_counting_answers(session):
    """Random answers (gaps, half-rated needs, a response without any answer): every
    table and cell counted from the tallies equals the count from the answers."""
    survey = make_survey(session, survey_doc(min_cell_size=3))
    add_responses(session, survey, _random_rows(random.Random(7), 150))
    add_responses(session, survey, _random_rows(random.Random(8), 20), status="draft")
    counts = _count(session, survey)
    assert counts.respondents == 151
    assert counts == _from_answers(session, survey)
    key = insight_counts.layout_key(*_ids(survey))
    assert _layouts(session, survey) == {key: 151, None: 21}  # drafts get no tally


def test_each_response_is_condensed_once(session):
    """A second report rewrites no tally; one after new submissions only theirs."""
    survey = make_survey(session, survey_doc(min_cell_size=3))
    add_responses(session, survey, _random_rows(random.Random(1), 30))
    assert _refresh(session, survey) == 31
    assert _refresh(session, survey) == 0
    add_responses(session, survey, _random_rows(random.Random(2), 4))
    assert _refresh(session, survey) == 5
    assert _count(session, survey) == _from_answers(session, survey)


def test_a_changed_question_layout_rewrites_every_tally(session):
    """Archiving a need and making a question a segment (or not) changes the layout: the
    next count rewrites every tally and still equals the count from the answers.
    Reordering questions keeps the layout."""
    doc = survey_doc(min_cell_size=3)
    survey = make_survey(session, doc)
    add_responses(session, survey, _random_rows(random.Random(3), 60))
    first = insight_counts.layout_key(*_ids(survey))
    _count(session, survey)
    assert _layouts(session, survey) == {first: 61}

    role, dtype, *needs, story = doc["questions"]
    reordered = {**doc, "questions": [role, dtype, *reversed(needs), story]}
    definition.apply(session, reordered)
    session.flush()
    assert insight_counts.layout_key(*_ids(survey)) == first
    assert _refresh(session, survey) == 0

    questions = [dict(q) for q in doc["questions"] if q["key"] != "n2"]  # n2 is archived
    for q in questions:
        if q["key"] == "dtype":
            q["segment"] = False
    definition.apply(session, {**doc, "questions": questions})
    session.flush()
    second = insight_counts.layout_key(*_ids(survey))
    assert second != first
    counts = _count(session, survey)
    assert _layouts(session, survey) == {second: 61}
    assert counts == _from_answers(session, survey)
    assert set(counts.sizes) == set(_ids(survey)[1])  # role only


def test_replaced_answers_make_their_tally_stale(session):
    """Re-importing a response with other answers replaces them and marks its tally
    stale, so the next report counts the new answers."""
    survey = make_survey(session, survey_doc(needs=("n1",), segments=False, text=False,
                                             min_cell_size=3))
    header = "external_id,n1.importance,n1.satisfaction\n"
    first = header + "".join(f"p{i},5,1\n" for i in range(6))
    responses_io.import_responses(session, survey, first, filename="first.csv")
    need = _ids(survey)[0][0]
    assert _count(session, survey).needs[need].important_only == 6

    second = header + "p0,2,5\np1,2,5\n"
    result = responses_io.import_responses(session, survey, second, filename="second.csv")
    assert result.updated == 2
    assert _layouts(session, survey) == {insight_counts.layout_key(*_ids(survey)): 4, None: 2}
    table = _count(session, survey).needs[need]
    assert (table.important_only, table.satisfied_only) == (4, 2)


def test_a_stale_tally_left_by_another_writer_is_rewritten(session):
    """Tallies set stale or left pending (a transaction that ended half-way) are rewritten
    before counting; nothing stale is ever counted."""
    survey = make_survey(session, survey_doc(min_cell_size=3))
    ids = add_responses(session, survey, _random_rows(random.Random(4), 40))
    expected = _count(session, survey)
    session.execute(update(Response).where(Response.id.in_(ids[:5]))
                    .values(tally_layout=None, tally_w0=0, tally_segments=""))
    session.execute(update(Response).where(Response.id.in_(ids[5:8]))
                    .values(tally_layout="pending", tally_w0=0))
    assert _count(session, survey) == expected
    assert _refresh(session, survey) == 0


def _wait_for_a_lock_wait(engine, seconds: float = 10.0) -> None:
    """Until some backend of the test database waits for a row lock."""
    deadline = time.monotonic() + seconds
    with engine.connect() as watcher:
        while time.monotonic() < deadline:
            waiting = watcher.scalar(text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND datname = current_database()"))
            watcher.rollback()
            if waiting:
                return
            time.sleep(0.02)
    raise AssertionError("the report never waited for the importer's lock")


@pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL: an import runs during a compute")
def test_a_tally_is_never_condensed_from_answers_being_replaced(session):
    """An import (another connection) has replaced a response's answers and marked its
    tally stale, and has not committed yet: the report waits for it, and condenses the
    new answers, not the ones its statements saw when they started."""
    survey = make_survey(session, survey_doc(needs=("n1",), segments=False, text=False,
                                             min_cell_size=3))
    ids = add_responses(session, survey, [{"n1": (5, 1)}] * 6)
    session.commit()
    need = _ids(survey)[0][0]
    engine = session.get_bind()
    result: dict = {}

    def report() -> None:
        try:
            result["counts"] = _count(session, survey)
        except Exception as exc:  # handed to the test's thread
            result["error"] = exc

    with engine.connect() as importer:
        importer.execute(delete(Answer).where(Answer.response_id == ids[0]))
        importer.execute(insert(Answer).values(response_id=ids[0], question_id=need,
                                               importance=2, satisfaction=5))
        importer.execute(update(Response).where(Response.id == ids[0])
                         .values(tally_layout=None))
        worker = threading.Thread(target=report)
        worker.start()
        try:
            _wait_for_a_lock_wait(engine)
        finally:
            importer.commit()
            worker.join(30)
    session.rollback()
    assert "error" not in result, result.get("error")
    table = result["counts"].needs[need]
    assert (table.important_only, table.satisfied_only) == (5, 1)
