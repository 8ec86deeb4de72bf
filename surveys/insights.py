"""Insight reports: from stored answers to opportunity scores, segments and themes.

Counting happens in SQL (GROUP BY); Python only receives 2x2 top-box tables per need (and
per segment cell), cell sizes, and the texts the theme model needs. Every number goes
through the suppression rules of METHODS.md section 2 before it is stored, so whatever
reads a stored report (pages, JSON, guidelines) can only publish what is allowed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session, aliased

from challenge import audit, clock
from challenge.errors import Conflict, NotFound
from challenge.safety.models import OPEN_STATUSES, Flag
from surveys import stats, themes
from surveys.models import Answer, InsightReport, Question, Response, Survey

NO_ANSWER = "__no_answer__"  # the cell of respondents who did not answer a segment question
_COMBOS = ("both", "important_only", "satisfied_only", "neither")
# Report-level reasons for "insufficient data" (an extra key of the report).
TOO_FEW_RESPONDENTS = "too few respondents"
NO_RATED_NEEDS = "no need has enough ratings"
NO_NEEDS = "no need questions"
# How often compute() starts again when answers changed while it was counting (see compute()).
_ATTEMPTS = 3


@dataclass
class _Tables:
    """Top-box tables by need question id (optionally by segment value)."""

    counts: dict[Any, dict[str, int]]

    def table(self, key) -> stats.TopBoxTable:
        c = self.counts.get(key, {})
        return stats.TopBoxTable(*(c.get(name, 0) for name in _COMBOS))


def _submitted(survey: Survey):
    return and_(Response.survey_id == survey.id, Response.status == "submitted")


def submitted_count(session: Session, survey: Survey) -> int:
    """How many submitted responses the survey has now (one SQL count)."""
    return session.scalar(select(func.count(Response.id)).where(_submitted(survey))) or 0


def _fingerprint(session: Session, survey: Survey) -> tuple[int, ...]:
    """The state of the submitted answers, in one statement: respondents, answer rows, and
    the largest and the sum of their ids. Answer ids only grow, so a response submitted,
    deleted or re-imported (answers replaced) between two calls changes the fingerprint."""
    row = session.execute(
        select(func.count(func.distinct(Response.id)), func.count(Answer.id),
               func.coalesce(func.max(Answer.id), 0), func.coalesce(func.sum(Answer.id), 0))
        .select_from(Response).outerjoin(Answer, Answer.response_id == Response.id)
        .where(_submitted(survey))
    ).one()
    return tuple(int(value) for value in row)


def _combo_columns(answer):
    imp = case((answer.importance >= 4, 1), else_=0)
    sat = case((answer.satisfaction >= 4, 1), else_=0)
    return imp.label("imp"), sat.label("sat")


def _combo_name(imp: int, sat: int) -> str:
    return {(1, 1): "both", (1, 0): "important_only", (0, 1): "satisfied_only",
            (0, 0): "neither"}[(int(imp), int(sat))]


def need_tables(session: Session, survey: Survey, need_ids: list[int]) -> _Tables:
    """Overall top-box tables per need, counted in SQL."""
    imp, sat = _combo_columns(Answer)
    rows = session.execute(
        select(Answer.question_id, imp, sat, func.count())
        .join(Response, Response.id == Answer.response_id)
        .where(_submitted(survey), Answer.question_id.in_(need_ids),
               Answer.importance.is_not(None), Answer.satisfaction.is_not(None))
        .group_by(Answer.question_id, imp, sat)
    )
    counts: dict[Any, dict[str, int]] = defaultdict(dict)
    for question_id, i, s, n in rows:
        counts[question_id][_combo_name(i, s)] = n
    return _Tables(counts)


def segment_need_tables(session: Session, survey: Survey, segment: Question,
                        need_ids: list[int]) -> _Tables:
    """Top-box tables per (segment value, need), counted in SQL with a self-join."""
    seg = aliased(Answer)
    imp, sat = _combo_columns(Answer)
    rows = session.execute(
        select(seg.choice, Answer.question_id, imp, sat, func.count())
        .join(Response, Response.id == Answer.response_id)
        .join(seg, and_(seg.response_id == Answer.response_id, seg.question_id == segment.id,
                        seg.choice.is_not(None)))
        .where(_submitted(survey), Answer.question_id.in_(need_ids),
               Answer.importance.is_not(None), Answer.satisfaction.is_not(None))
        .group_by(seg.choice, Answer.question_id, imp, sat)
    )
    counts: dict[Any, dict[str, int]] = defaultdict(dict)
    for value, question_id, i, s, n in rows:
        counts[(value, question_id)][_combo_name(i, s)] = n
    return _Tables(counts)


def segment_sizes(session: Session, survey: Survey, segment: Question) -> dict[str, int]:
    """Respondents per answer value of a segment question (SQL GROUP BY)."""
    rows = session.execute(
        select(Answer.choice, func.count(func.distinct(Answer.response_id)))
        .join(Response, Response.id == Answer.response_id)
        .where(_submitted(survey), Answer.question_id == segment.id, Answer.choice.is_not(None))
        .group_by(Answer.choice)
    )
    return {value: n for value, n in rows}


def theme_texts(session: Session, survey: Survey) -> list[tuple[str, str]]:
    """(respondent, text) of submitted text answers, leaving out texts under an open
    adverse-event flag (they stay out of every publication until reviewed)."""
    text_ids = [q.id for q in survey.active_questions if q.type == "text"]
    if not text_ids:
        return []
    rows = session.execute(
        select(Answer.response_id, Answer.text)
        .join(Response, Response.id == Answer.response_id)
        .outerjoin(Flag, Flag.id == Answer.safety_flag_id)
        .where(_submitted(survey), Answer.question_id.in_(text_ids), Answer.text.is_not(None),
               (Answer.safety_flag_id.is_(None)) | (Flag.status.not_in(OPEN_STATUSES)))
    )
    return [(rid, text) for rid, text in rows]


def _need_entry(question: Question, scored: stats.ScoredNeed) -> dict[str, Any]:
    entry = {"key": question.key, "text": question.text, "category": question.category}
    entry.update(scored.as_report_fields())
    return entry


def _sort_needs(needs: list[dict]) -> list[dict]:
    return sorted(needs, key=lambda n: (n.get("opportunity") is None,
                                        -(n.get("opportunity") or 0.0), n["key"]))


def _subtract(total: stats.TopBoxTable, parts: list[stats.TopBoxTable]) -> stats.TopBoxTable:
    return stats.TopBoxTable(*(
        getattr(total, name) - sum(getattr(p, name) for p in parts) for name in _COMBOS))


def compute(session: Session, survey: Survey, *, resamples: int = stats.DEFAULT_RESAMPLES
            ) -> dict[str, Any]:
    """The publishable report of a survey (CONTRACTS.md shape plus a few extra keys)."""
    return _compute(session, survey, resamples=resamples, now=clock.now())[0]


def _compute(session: Session, survey: Survey, *, resamples: int, now
             ) -> tuple[dict[str, Any], int]:
    """The report and the number of submitted responses it covers.

    The report is counted by several statements. On PostgreSQL (READ COMMITTED) each one
    sees the answers committed when it starts, so a response submitted (or a CSV import
    replacing answers) between two of them would make the cells disagree with the totals:
    the "no answer" cell, found by subtraction, could go negative or reveal a hidden count.
    So the answers' fingerprint is taken before and after; if it moved, count again.
    (On SQLite a transaction is already one snapshot and the fingerprint never moves.)
    """
    for _ in range(_ATTEMPTS):
        before = _fingerprint(session, survey)
        report = _compute_once(session, survey, before[0], resamples, now)
        if _fingerprint(session, survey) == before:
            return report, before[0]
    raise Conflict("Responses kept changing while the report was being computed. "
                   "Please try again in a moment.")


def _compute_once(session: Session, survey: Survey, respondents: int, resamples: int, now
                  ) -> dict[str, Any]:
    min_cell = survey.min_cell_size
    needs_q = [q for q in survey.active_questions if q.type == "need"]
    need_ids = [q.id for q in needs_q]
    publishable = stats.is_publishable(respondents, min_cell)
    report: dict[str, Any] = {
        "survey": survey.slug,
        "title": survey.title,
        "respondents": respondents if publishable else None,
        "min_cell_size": min_cell,
        "status": "ok" if publishable else stats.INSUFFICIENT,
        "needs": [],
        "segments": [],
        "themes": [],
        "keywords": [],
        "computed_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if not publishable:
        report["reason"] = TOO_FEW_RESPONDENTS
        report["needs"] = [{"key": q.key, "text": q.text, "category": q.category,
                            "status": stats.INSUFFICIENT} for q in needs_q]
        return report

    overall = need_tables(session, survey, need_ids) if need_ids else _Tables({})
    report["needs"] = _sort_needs([
        _need_entry(q, stats.score_table(overall.table(q.id), min_cell, resamples))
        for q in needs_q
    ])
    if not any("opportunity" in need for need in report["needs"]):
        # Nothing to rank: no need question, or none rated by enough people. Segment sizes
        # and themes may still be shown.
        report["status"] = stats.INSUFFICIENT
        report["reason"] = NO_RATED_NEEDS if needs_q else NO_NEEDS
    for segment in (q for q in survey.active_questions if q.segment and q.type == "single"):
        report["segments"] += _segment_cells(session, survey, segment, needs_q, overall,
                                             respondents, resamples)
    found = themes.extract_themes(theme_texts(session, survey), min_cell)
    report["themes"] = [t.as_dict() for t in found.themes]
    report["keywords"] = [{"term": term, "respondents": n} for term, n in found.keywords]
    report["themes_mode"] = found.mode
    return report


def _segment_cells(session, survey, segment, needs_q, overall, respondents, resamples):
    """The cells of one segment question, suppressed as METHODS.md section 2 says."""
    min_cell = survey.min_cell_size
    sizes = segment_sizes(session, survey, segment)
    sizes[NO_ANSWER] = respondents - sum(sizes.values())
    sizes = {value: n for value, n in sizes.items() if n > 0}
    hidden = stats.suppress_cells(sizes, min_cell)
    tables = segment_need_tables(session, survey, segment, [q.id for q in needs_q])
    # Need-level tables per cell, the "no answer" cell by subtraction from the overall table.
    per_cell: dict[str, dict[int, stats.TopBoxTable]] = {}
    for value in sizes:
        if value == NO_ANSWER:
            continue
        per_cell[value] = {q.id: tables.table((value, q.id)) for q in needs_q}
    if NO_ANSWER in sizes:
        per_cell[NO_ANSWER] = {
            q.id: _subtract(overall.table(q.id), [per_cell[v][q.id] for v in per_cell
                                                  if v != NO_ANSWER])
            for q in needs_q
        }
    # Within a need, cells whose raters are too few must not be recoverable from the
    # overall numbers either: the same complementary rule, applied per need.
    hidden_need: dict[int, set[str]] = {
        q.id: hidden | stats.suppress_cells(
            {v: per_cell[v][q.id].n for v in per_cell if per_cell[v][q.id].n > 0 or v in hidden},
            min_cell, forced=hidden)
        for q in needs_q
    }
    cells = []
    for value in sorted(sizes, key=lambda v: (v == NO_ANSWER, segment.option_values.index(v)
                                              if v in segment.option_values else 99, v)):
        label = "No answer" if value == NO_ANSWER else segment.option_label(value)
        cell_value = None if value == NO_ANSWER else value
        if value in hidden:
            cells.append({"question": segment.key, "value": cell_value, "label": label,
                          "suppressed": True})
            continue
        needs = []
        for q in needs_q:
            if value in hidden_need[q.id]:
                needs.append({"key": q.key, "text": q.text, "category": q.category,
                              "status": stats.INSUFFICIENT})
            else:
                needs.append(_need_entry(q, stats.score_table(per_cell[value][q.id], min_cell,
                                                              resamples)))
        cells.append({"question": segment.key, "value": cell_value, "label": label,
                      "n": sizes[value], "suppressed": False, "needs": _sort_needs(needs)})
    return cells


# --- stored snapshots ---------------------------------------------------------------------

def refresh(session: Session, survey: Survey, *, trigger: str = "manual", actor=None
            ) -> InsightReport:
    """Compute and store a new report snapshot (flushes only)."""
    now = clock.now()
    data, count = _compute(session, survey, resamples=stats.DEFAULT_RESAMPLES, now=now)
    report = InsightReport(survey_id=survey.id, computed_at=now,
                           response_count=count, trigger=trigger, data=data)
    session.add(report)
    audit.record(session, "insights.computed", actor=actor, target=f"survey:{survey.slug}",
                 trigger=trigger)
    session.flush()
    return report


def latest(session: Session, survey: Survey) -> InsightReport | None:
    """The newest stored report of a survey, if any."""
    return session.scalar(select(InsightReport).where(InsightReport.survey_id == survey.id)
                          .order_by(InsightReport.id.desc()).limit(1))


def get_survey(session: Session, slug: str) -> Survey:
    """A survey by slug, or NotFound."""
    survey = session.scalar(select(Survey).where(Survey.slug == slug))
    if survey is None:
        raise NotFound(f"unknown survey {slug!r}")
    return survey
