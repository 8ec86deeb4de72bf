"""Insight reports: from stored answers to opportunity scores, segments and themes.

Counting happens in SQL, in one statement (see `insight_counts`); Python receives 2x2
top-box tables per need and per segment cell, cell sizes, and the texts the theme model
needs. Every number goes through the suppression rules of METHODS.md section 2 before it is
stored, so whatever reads a stored report (pages, JSON, guidelines) can only publish what is
allowed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, bindparam, func, select
from sqlalchemy.orm import Session, aliased, defer

from challenge import audit, clock
from challenge.errors import NotFound
from challenge.safety.models import OPEN_STATUSES, Flag
from surveys import stats, themes
from surveys.insight_counts import NO_ANSWER, AnswerCounts, count_answers
from surveys.models import Answer, InsightReport, Question, Response, Survey

# Report-level reasons for "insufficient data" (an extra key of the report).
TOO_FEW_RESPONDENTS = "too few respondents"
NO_RATED_NEEDS = "no need has enough ratings"
NO_NEEDS = "no need questions"


def _submitted(survey: Survey):
    return and_(Response.survey_id == survey.id, Response.status == "submitted")


def submitted_count(session: Session, survey: Survey) -> int:
    """How many submitted responses the survey has now (one SQL count)."""
    # count(*) rather than count(id), so the (survey_id, status) index alone answers it.
    return session.scalar(select(func.count()).select_from(Response)
                          .where(_submitted(survey))) or 0


def theme_texts(session: Session, survey: Survey) -> list[tuple[str, str]]:
    """(respondent, text) of submitted text answers, leaving out texts under an open
    adverse-event flag (they stay out of every publication until reviewed)."""
    text_ids = [q.id for q in survey.active_questions if q.type == "text"]
    if not text_ids:
        return []
    # The response is checked per text (a primary-key lookup), not joined: a join leaves
    # the order to the planner, and PostgreSQL without statistics on fresh tables chose to
    # walk every response and intersect the answer indexes for each (minutes at 100 000).
    status = (select(Response.status)
              .where(Response.id == Answer.response_id, Response.survey_id == survey.id)
              .scalar_subquery())
    rows = session.execute(
        select(Answer.response_id, Answer.text)
        .outerjoin(Flag, Flag.id == Answer.safety_flag_id)
        .where(Answer.question_id.in_(text_ids), Answer.text.is_not(None),
               status == "submitted",
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


def compute(session: Session, survey: Survey, *, resamples: int = stats.DEFAULT_RESAMPLES
            ) -> dict[str, Any]:
    """The publishable report of a survey (CONTRACTS.md shape plus a few extra keys)."""
    return _compute(session, survey, resamples=resamples, now=clock.now())[0]


def _compute(session: Session, survey: Survey, *, resamples: int, now
             ) -> tuple[dict[str, Any], int]:
    """The report and the number of submitted responses it covers.

    All counts come from one statement, so they describe one state of the answers even on
    PostgreSQL, where each statement sees the answers committed when it starts: a response
    submitted meanwhile is either in every number or in none. (Themes are counted from the
    texts separately; nothing is derived from both.)
    """
    needs_q = [q for q in survey.active_questions if q.type == "need"]
    segments = [q for q in survey.active_questions if q.segment and q.type == "single"]
    counts = count_answers(session, survey, [q.id for q in needs_q], [q.id for q in segments])
    return _report(session, survey, counts, needs_q, segments, resamples, now), counts.respondents


def _report(session: Session, survey: Survey, counts: AnswerCounts, needs_q: list[Question],
            segments: list[Question], resamples: int, now) -> dict[str, Any]:
    min_cell = survey.min_cell_size
    respondents = counts.respondents
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

    report["needs"] = _sort_needs([
        _need_entry(q, stats.score_table(counts.needs[q.id], min_cell, resamples))
        for q in needs_q
    ])
    if not any("opportunity" in need for need in report["needs"]):
        # Nothing to rank: no need question, or none rated by enough people. Segment sizes
        # and themes may still be shown.
        report["status"] = stats.INSUFFICIENT
        report["reason"] = NO_RATED_NEEDS if needs_q else NO_NEEDS
    for segment in segments:
        report["segments"] += _segment_cells(survey, segment, needs_q, counts, resamples)
    found = themes.extract_themes(theme_texts(session, survey), min_cell)
    report["themes"] = [t.as_dict() for t in found.themes]
    report["keywords"] = [{"term": term, "respondents": n} for term, n in found.keywords]
    report["themes_mode"] = found.mode
    return report


def _segment_cells(survey, segment, needs_q, counts: AnswerCounts, resamples):
    """The cells of one segment question, suppressed as METHODS.md section 2 says."""
    min_cell = survey.min_cell_size
    sizes = counts.sizes[segment.id]  # every cell with respondents, "no answer" included
    hidden = stats.suppress_cells(sizes, min_cell)
    per_cell = counts.cells[segment.id]
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


def _survey_and_newest_report():
    newer = aliased(InsightReport)
    newest = (select(func.max(newer.id)).where(newer.survey_id == Survey.id)
              .correlate(Survey).scalar_subquery())
    return (select(Survey, InsightReport)
            .outerjoin(InsightReport, InsightReport.id == newest)
            .options(defer(InsightReport.data))
            .where(Survey.slug == bindparam("slug")))


# Built once: the organizer's report page runs it on every view, and building it (an
# aliased entity, a correlated subquery) cost more than executing it.
_SURVEY_AND_NEWEST = _survey_and_newest_report()


def survey_and_latest(session: Session, slug: str) -> tuple[Survey, InsightReport | None]:
    """A survey by slug and its newest stored report, in one statement; the report's JSON
    document is left unloaded (read only when needed). NotFound for an unknown slug."""
    row = session.execute(_SURVEY_AND_NEWEST, {"slug": slug}).first()
    if row is None:
        raise NotFound(f"unknown survey {slug!r}")
    return row[0], row[1]


def get_survey(session: Session, slug: str) -> Survey:
    """A survey by slug, or NotFound."""
    survey = session.scalar(select(Survey).where(Survey.slug == slug))
    if survey is None:
        raise NotFound(f"unknown survey {slug!r}")
    return survey
