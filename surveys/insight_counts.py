"""Everything the insight report counts, from one condensed row per submitted response.

The report needs the top-box table (important? x satisfied?) of every need question among
the respondents who rated both parts, overall and within every cell of every segment
question, and the number of respondents in each cell.

1. **Tallies.** Each submitted response carries its answers condensed into a few columns
   of its own row (`Response.tally_*`): the values chosen for the segment questions, joined
   by ";" (which no option value contains), and its need ratings packed into integers,
   3 bits per need (0 = not rated, 1..4 = the top-box combination), twenty needs to a
   64-bit integer, four integers at most. `tally_layout` names the questions a tally was
   made for (a hash of the need and segment question ids); a tally is stale when it is
   NULL or names another layout (questions added, archived, or made segments since).
2. **Refreshing.** Before counting, the stale tallies of the survey are rewritten from the
   answers, by grouping those responses' answers (`_per_response_columns`). Each response
   is condensed once, when the first report after its submission is computed; regrouping
   all two dozen answers of every response on every recomputation was what made a report
   cost far more than one scan of the answers.
3. **Counting.** ONE statement reads the tallies and groups them by segment values (the
   cross-tabulation of all segment questions): respondents, and per need and combination
   a count, unpacked with shifts and masks. One statement means one snapshot on
   PostgreSQL, so the cells of a segment question add up to the totals even while
   responses arrive. It also counts tallies that are stale: a response submitted or
   re-imported between steps 2 and 3. Then steps 2 and 3 are repeated, and should that
   keep happening, the report counts from the answers directly (the same statement over
   `_per_response_columns` instead of the tallies), as it does for surveys with more needs
   than four integers hold.

Python then adds the cross-tabulation up into the cells of each segment question.

Rewriting a stale tally first marks it "pending" (one UPDATE, which takes the row locks,
waiting for any transaction that is changing the row), and only then condenses the
answers, in a statement that starts after the locks are held: on PostgreSQL a statement
reads the data committed when it starts, so a tally computed in the marking statement
itself could be made from answers that a concurrent import had just replaced. Whoever
replaces the answers of a submitted response sets its tally stale in the same transaction
(`responses_io`); submitted responses are otherwise never changed.

The packing relies on one answer row per need question and response, which every writer
keeps (`answers.answer_rows` gives one row for a need; saving a page and importing replace
a question's rows). Were it ever broken, a response would still count at most once per
need, so no published count could exceed the people behind it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import (
    BigInteger,
    Integer,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    update,
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

_R = Response.__table__
_TALLY_WORDS = (_R.c.tally_w0, _R.c.tally_w1, _R.c.tally_w2, _R.c.tally_w3)
TALLY_MAX_NEEDS = _NEEDS_PER_WORD * len(_TALLY_WORDS)
_PENDING = "pending"  # a stale tally this transaction is rewriting (never a layout hash)
_SEPARATOR = ";"  # between segment values in a tally; option values never contain it
_ATTEMPTS = 3  # refresh-and-count rounds before counting from the answers directly


@dataclass(frozen=True)
class AnswerCounts:
    """What the report is computed from (cell keys are option values or NO_ANSWER)."""

    respondents: int
    needs: dict[int, TopBoxTable]  # need question id -> table over all respondents
    sizes: dict[int, dict[str, int]]  # segment question id -> cell -> respondents (> 0)
    cells: dict[int, dict[str, dict[int, TopBoxTable]]]  # segment id -> cell -> need id -> table


def layout_key(need_ids: Sequence[int], segment_ids: Sequence[int]) -> str | None:
    """The name of a tally layout (None when the needs do not fit in a tally).

    Tallies list needs and segments in id order, so reordering questions keeps them."""
    if len(need_ids) > TALLY_MAX_NEEDS:
        return None
    layout = f"needs {sorted(need_ids)} segments {sorted(segment_ids)}"
    return hashlib.sha256(layout.encode()).hexdigest()[:32]


def _submitted(survey: Survey):
    return and_(Response.survey_id == survey.id, Response.status == "submitted")


def _words(need_ids: Sequence[int]) -> list[Sequence[int]]:
    return [need_ids[i:i + _NEEDS_PER_WORD] for i in range(0, len(need_ids), _NEEDS_PER_WORD)]


def _per_response_columns(need_ids: Sequence[int], segment_ids: Sequence[int],
                          pack=func.sum) -> list:
    """Aggregates over one response's answers: its segment values joined by ";" (an
    empty value for a question not answered), and its packed ratings w0, w1...

    `pack` adds up a response's need codes; each need has its own bits, so any aggregate
    that combines disjoint bits will do (PostgreSQL's sum of bigint is numeric, bit_or
    stays a bigint and is cheaper)."""
    segments = literal("", String)
    for k, qid in enumerate(segment_ids):
        value = func.coalesce(func.max(case((Answer.question_id == qid, Answer.choice))), "")
        segments = value if k == 0 else segments.concat(_SEPARATOR).concat(value)
    columns = [segments.label("segments")]
    code = (1 + case((Answer.importance >= _TOP_BOX, 2), else_=0)
            + case((Answer.satisfaction >= _TOP_BOX, 1), else_=0))
    rated = and_(Answer.importance.is_not(None), Answer.satisfaction.is_not(None))
    for w, word in enumerate(_words(need_ids)):
        # The need's place in the word; NULL (left out of `pack`) for any other question.
        place = case({qid: literal(1 << (_BITS * j), BigInteger) for j, qid in enumerate(word)},
                     value=Answer.question_id)
        columns.append(cast(pack(case((rated, code * place))), BigInteger).label(f"w{w}"))
    return columns


def _stale(key: str):
    """A tally not made for layout `key` (never made, pending, or for other questions)."""
    return or_(_R.c.tally_layout.is_(None), _R.c.tally_layout != key)


def _pack(session: Session):
    return func.bit_or if session.get_bind().dialect.name == "postgresql" else func.sum


def refresh_tallies(session: Session, survey: Survey, need_ids: Sequence[int],
                    segment_ids: Sequence[int], key: str) -> int:
    """Rewrite the stale tallies of the survey's submitted responses for layout `key`
    (ids in id order); returns how many were rewritten."""
    marked = session.execute(
        update(_R).where(_R.c.survey_id == survey.id, _R.c.status == "submitted", _stale(key))
        .values(tally_layout=_PENDING)).rowcount
    if not marked:
        return 0
    pending = and_(_R.c.survey_id == survey.id, _R.c.tally_layout == _PENDING)
    per = (select(Answer.response_id,
                  *_per_response_columns(need_ids, segment_ids, _pack(session)))
           .join(_R, _R.c.id == Answer.response_id)
           .where(pending, Answer.question_id.in_([*need_ids, *segment_ids]))
           .group_by(Answer.response_id).subquery("condensed"))
    words = len(_words(need_ids))
    rewritten = session.execute(
        update(_R).where(_R.c.id == per.c.response_id)
        .values(tally_layout=key, tally_segments=per.c.segments,
                **{c.name: (per.c[f"w{w}"] if w < words else None)
                   for w, c in enumerate(_TALLY_WORDS)})).rowcount
    if rewritten < marked:
        # Responses without an answer to any of these questions: respondents all the same.
        session.execute(update(_R).where(pending).values(
            tally_layout=key, tally_segments=_SEPARATOR.join([""] * len(segment_ids)),
            **{c.name: (0 if w < words else None) for w, c in enumerate(_TALLY_WORDS)}))
    return marked


def _from_answers(session: Session, survey: Survey, need_ids: list[int],
                  segment_ids: list[int]):
    """One row per submitted response, condensed from its answers as a tally is."""
    if session.get_bind().dialect.name == "sqlite":
        # Both indexes that can find the responses (survey_id, status) list them in rowid
        # order, so grouping by rowid needs no sort of the answers.
        return (select(*_per_response_columns(need_ids, segment_ids)).select_from(Response)
                .outerjoin(Answer, Answer.response_id == Response.id)
                .where(_submitted(survey))
                .group_by(literal_column(f"{Response.__tablename__}.rowid"))
                .subquery("per_response"))
    # PostgreSQL groups the answers by response first (in parallel workers), and joins
    # only the per-response rows to the submitted responses.
    answers = (select(Answer.response_id,
                      *_per_response_columns(need_ids, segment_ids, func.bit_or))
               .where(Answer.question_id.in_(need_ids + segment_ids))
               .group_by(Answer.response_id).subquery("answers_of"))
    # An outer join: a submitted response without any of these answers is still a
    # respondent (in the NO_ANSWER cell of every segment question, rated no need).
    return (select(*(c for c in answers.c if c.name != "response_id")).select_from(Response)
            .outerjoin(answers, answers.c.response_id == Response.id)
            .where(_submitted(survey)).subquery("per_response"))


def _cross_tab(segments, words: Sequence, n_needs: int, stale=None):
    """GROUP BY the segment values: [stale tallies,] respondents, then the four counts of
    each need, from per-response `segments` and packed `words`."""
    counts = [func.count()]
    for j in range(n_needs):
        word, place = words[j // _NEEDS_PER_WORD], j % _NEEDS_PER_WORD
        # (PostgreSQL shifts a bigint by an integer only.)
        slot = word.bitwise_rshift(literal(_BITS * place, Integer)).bitwise_and(_MASK)
        counts += [func.count().filter(slot == code) for code in _CODES]
    extra = [] if stale is None else [func.count().filter(stale)]
    return select(segments, *extra, *counts).group_by(segments)


def _count_tallies(session: Session, survey: Survey, n_needs: int, key: str):
    """The cross-tabulation from the tallies, and how many of them were stale."""
    statement = _cross_tab(_R.c.tally_segments, _TALLY_WORDS, n_needs, _stale(key)).where(
        _R.c.survey_id == survey.id, _R.c.status == "submitted")
    rows = session.execute(statement).all()
    return [(row[0], row[2:]) for row in rows], sum(row[1] for row in rows)


def _count_from_answers(session: Session, survey: Survey, need_ids: list[int],
                        segment_ids: list[int]):
    per = _from_answers(session, survey, need_ids, segment_ids)
    words = [per.c[f"w{w}"] for w in range(len(_words(need_ids)))]
    rows = session.execute(_cross_tab(per.c.segments, words, len(need_ids))).all()
    return [(row[0], row[1:]) for row in rows]


def count_answers(session: Session, survey: Survey, need_ids: Sequence[int],
                  segment_ids: Sequence[int]) -> AnswerCounts:
    """Respondents, need tables and segment cells of the submitted responses, counted in
    one statement (stale tallies are rewritten first; see the module docstring)."""
    need_ids, segment_ids = sorted(need_ids), sorted(segment_ids)
    if session.get_bind().dialect.name == "postgresql":
        # Condensing answers (stale tallies, or counting from the answers) groups them by
        # response, with a cost estimate high enough to trigger JIT
        # compilation, which took about 0.5 s of a 1.7 s count at 100 000 respondents and
        # saved nothing. Its hash tables (about 35 MB at 100 000 respondents) must fit in
        # work_mem, or the planner sorts and spills to disk instead (1.5 s instead of 1.1 s).
        # SET LOCAL limits both to the current transaction.
        session.execute(text("SET LOCAL jit = off"))
        session.execute(text("SET LOCAL work_mem = '64MB'"))
    key = layout_key(need_ids, segment_ids)
    rows = None
    if key is not None:
        for _ in range(_ATTEMPTS):
            refresh_tallies(session, survey, need_ids, segment_ids, key)
            counted, stale = _count_tallies(session, survey, len(need_ids), key)
            if not stale:
                rows = counted
                break
    if rows is None:
        rows = _count_from_answers(session, survey, need_ids, segment_ids)
    return _add_up(rows, need_ids, segment_ids)


def _segment_values(joined: str | None, n: int) -> list[str | None]:
    """The segment values of a cross-tab row: option values, None for no answer."""
    if n == 0:
        return []
    parts = joined.split(_SEPARATOR) if joined is not None else [""] * n
    return [part or None for part in parts]


def _add_up(rows, need_ids: list[int], segment_ids: list[int]) -> AnswerCounts:
    """The cells of each segment question from the cross-tabulation's (segments, counts)."""
    # One vector per row of the cross-tabulation: respondents, then the four counts of each
    # need (need_ids order); the cells of a segment question are sums of such vectors.
    keyed = [(_segment_values(joined, len(segment_ids)), np.array(counts, dtype=np.int64))
             for joined, counts in rows]
    width = 1 + len(_CODES) * len(need_ids)
    sizes: dict[int, dict[str, int]] = {}
    cells: dict[int, dict[str, dict[int, TopBoxTable]]] = {}
    for k, qid in enumerate(segment_ids):
        totals: dict[str, np.ndarray] = {}
        for values, vector in keyed:
            cell = NO_ANSWER if values[k] is None else values[k]
            totals[cell] = totals.get(cell, 0) + vector
        sizes[qid] = {cell: int(total[0]) for cell, total in totals.items()}
        cells[qid] = {cell: _tables(total, need_ids) for cell, total in totals.items()}
    overall = sum((vector for _, vector in keyed), np.zeros(width, dtype=np.int64))
    return AnswerCounts(int(overall[0]), _tables(overall, need_ids), sizes, cells)


def _tables(counts: np.ndarray, need_ids: Sequence[int]) -> dict[int, TopBoxTable]:
    per_need = len(_CODES)
    return {qid: TopBoxTable(*(int(c) for c in counts[1 + per_need * j:1 + per_need * (j + 1)]))
            for j, qid in enumerate(need_ids)}
