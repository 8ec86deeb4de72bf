"""Everything the insight report counts, in one SQL statement.

The report needs the top-box table (important? x satisfied?) of every need question among
the respondents who rated both parts, overall and within every cell of every segment
question, and the number of respondents in each cell. All of it comes from ONE statement:
on PostgreSQL (READ COMMITTED, one snapshot per statement) the numbers therefore always
describe one state of the answers, and the cells of a segment question add up to the
totals even while responses arrive.

How, without a self-join per segment question:

1. One row per submitted response: the value chosen for each segment question, and the
   response's need ratings packed into integers, 3 bits per need (0 = not rated, 1..4 = the
   top-box combination), twenty needs to a 64-bit integer. SQLite walks each response's
   answers through the response_id index in rowid order, so its GROUP BY rowid streams
   without sorting. PostgreSQL groups the survey's answers by response_id first, which it
   splits across parallel workers (a hash aggregate per worker, then one that merges), and
   only then joins the 100 000 per-response rows to the submitted responses: joining before
   grouping probes the response table once per answer, 24 times as often.
2. GROUP BY the segment values (the cross-tabulation of all segment questions): the
   respondents, and per need and combination a count, unpacked with shifts and masks.

Python then adds the cross-tabulation up into the cells of each segment question.

The packing relies on one answer row per need question and response, which every writer
keeps (`answers.answer_rows` gives one row for a need; saving a page and importing replace
a question's rows). Were it ever broken, a response would still count at most once per
need, so no published count could exceed the people behind it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import (
    BigInteger,
    Integer,
    and_,
    case,
    cast,
    func,
    literal,
    literal_column,
    select,
    text,
)
from sqlalchemy.orm import Session

from surveys.models import Answer, Response, Survey
from surveys.stats import TopBoxTable

NO_ANSWER = "__no_answer__"  # the cell of respondents who did not answer a segment question

_BITS = 3  # bits per need: codes 0..4
_MASK = (1 << _BITS) - 1
_NEEDS_PER_WORD = 20  # 60 of the 63 value bits of a signed 64-bit integer
# The code of one rated need is 1 + 2*important + satisfied (0 stays "not rated"); listed
# in the field order of TopBoxTable: both, important_only, satisfied_only, neither.
_CODES = (4, 3, 2, 1)
_TOP_BOX = 4  # a rating of 4 or 5 is "important" / "satisfied"


@dataclass(frozen=True)
class AnswerCounts:
    """What the report is computed from (cell keys are option values or NO_ANSWER)."""

    respondents: int
    needs: dict[int, TopBoxTable]  # need question id -> table over all respondents
    sizes: dict[int, dict[str, int]]  # segment question id -> cell -> respondents (> 0)
    cells: dict[int, dict[str, dict[int, TopBoxTable]]]  # segment id -> cell -> need id -> table


def _submitted(survey: Survey):
    return and_(Response.survey_id == survey.id, Response.status == "submitted")


def _words(need_ids: Sequence[int]) -> list[Sequence[int]]:
    return [need_ids[i:i + _NEEDS_PER_WORD] for i in range(0, len(need_ids), _NEEDS_PER_WORD)]


def _per_response_columns(need_ids: Sequence[int], segment_ids: Sequence[int],
                          pack=func.sum) -> list:
    """Aggregates over one response's answers: segment values s0.., packed ratings w0..

    `pack` adds up a response's need codes; each need has its own bits, so any aggregate
    that combines disjoint bits will do (PostgreSQL's sum of bigint is numeric, bit_or
    stays a bigint and is cheaper)."""
    columns = [func.max(case((Answer.question_id == qid, Answer.choice))).label(f"s{k}")
               for k, qid in enumerate(segment_ids)]
    code = (1 + case((Answer.importance >= _TOP_BOX, 2), else_=0)
            + case((Answer.satisfaction >= _TOP_BOX, 1), else_=0))
    rated = and_(Answer.importance.is_not(None), Answer.satisfaction.is_not(None))
    for w, word in enumerate(_words(need_ids)):
        # The need's place in the word; NULL (left out of `pack`) for any other question.
        place = case({qid: literal(1 << (_BITS * j), BigInteger) for j, qid in enumerate(word)},
                     value=Answer.question_id)
        columns.append(cast(pack(case((rated, code * place))), BigInteger).label(f"w{w}"))
    return columns


def _per_response(session: Session, survey: Survey, need_ids: list[int],
                  segment_ids: list[int]):
    """One row per submitted response of `survey` (see the module docstring, step 1)."""
    if session.get_bind().dialect.name == "sqlite":
        # Both indexes that can find the responses (survey_id, status) list them in rowid
        # order, so grouping by rowid needs no sort of the answers.
        return (select(*_per_response_columns(need_ids, segment_ids)).select_from(Response)
                .outerjoin(Answer, Answer.response_id == Response.id)
                .where(_submitted(survey))
                .group_by(literal_column(f"{Response.__tablename__}.rowid"))
                .subquery("per_response"))
    answers = (select(Answer.response_id,
                      *_per_response_columns(need_ids, segment_ids, func.bit_or))
               .where(Answer.question_id.in_(need_ids + segment_ids))
               .group_by(Answer.response_id).subquery("answers_of"))
    # An outer join: a submitted response without any of these answers is still a
    # respondent (in the NO_ANSWER cell of every segment question, rated no need).
    return (select(*(c for c in answers.c if c.name != "response_id")).select_from(Response)
            .outerjoin(answers, answers.c.response_id == Response.id)
            .where(_submitted(survey)).subquery("per_response"))


def _statement(session: Session, survey: Survey, need_ids: list[int], segment_ids: list[int]):
    """The counting statement (see the module docstring, step 2)."""
    per = _per_response(session, survey, need_ids, segment_ids)
    values = [per.c[f"s{k}"] for k in range(len(segment_ids))]
    counts = [func.count()]
    for w, word in enumerate(_words(need_ids)):
        for j in range(len(word)):
            # (PostgreSQL shifts a bigint by an integer only.)
            slot = per.c[f"w{w}"].bitwise_rshift(literal(_BITS * j, Integer)).bitwise_and(_MASK)
            counts += [func.count().filter(slot == code) for code in _CODES]
    return select(*values, *counts).group_by(*values)


def count_answers(session: Session, survey: Survey, need_ids: Sequence[int],
                  segment_ids: Sequence[int]) -> AnswerCounts:
    """Respondents, need tables and segment cells of the submitted responses (one query)."""
    need_ids, segment_ids = list(need_ids), list(segment_ids)
    if session.get_bind().dialect.name == "postgresql":
        # The per-response aggregate's cost estimate is high enough to trigger JIT
        # compilation, which took about 0.5 s of a 1.7 s count at 100 000 respondents and
        # saved nothing. Its hash tables (about 35 MB at 100 000 respondents) must fit in
        # work_mem, or the planner sorts and spills to disk instead (1.5 s instead of 1.1 s).
        # SET LOCAL limits both to the current transaction.
        session.execute(text("SET LOCAL jit = off"))
        session.execute(text("SET LOCAL work_mem = '64MB'"))
    rows = session.execute(_statement(session, survey, need_ids, segment_ids)).all()

    # One vector per row of the cross-tabulation: respondents, then the four counts of each
    # need (need_ids order); the cells of a segment question are sums of such vectors.
    vectors = [np.array(row[len(segment_ids):], dtype=np.int64) for row in rows]
    width = 1 + len(_CODES) * len(need_ids)
    sizes: dict[int, dict[str, int]] = {}
    cells: dict[int, dict[str, dict[int, TopBoxTable]]] = {}
    for k, qid in enumerate(segment_ids):
        totals: dict[str, np.ndarray] = {}
        for row, vector in zip(rows, vectors, strict=True):
            cell = NO_ANSWER if row[k] is None else row[k]
            totals[cell] = totals.get(cell, 0) + vector
        sizes[qid] = {cell: int(total[0]) for cell, total in totals.items()}
        cells[qid] = {cell: _tables(total, need_ids) for cell, total in totals.items()}
    overall = sum(vectors, np.zeros(width, dtype=np.int64))
    return AnswerCounts(int(overall[0]), _tables(overall, need_ids), sizes, cells)


def _tables(counts: np.ndarray, need_ids: Sequence[int]) -> dict[int, TopBoxTable]:
    per_need = len(_CODES)
    return {qid: TopBoxTable(*(int(c) for c in counts[1 + per_need * j:1 + per_need * (j + 1)]))
            for j, qid in enumerate(need_ids)}
