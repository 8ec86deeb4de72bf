"""Organizer pages for insight reports: the newest stored snapshot, and computing a new one.

GET only reads the stored snapshot (published means immutable: pages never recompute);
POST computes a new snapshot, commits, and redirects back. Every route is for organizers.
The helpers below turn a stored report (plain data) into what the template shows.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_login import current_user
from markupsafe import Markup
from werkzeug.routing import BuildError

from challenge import pagecache
from challenge.db import db_session
from challenge.errors import DomainError
from challenge.security import role_required
from surveys import charts, insights
from surveys.admin_services import STATUS_LABELS
from surveys.models import InsightReport, Survey

bp = Blueprint("insights", __name__, url_prefix="/organize/surveys")

ORGANIZER = "organizer"
INSUFFICIENT = "insufficient data"
TRIGGER_LABELS = {
    "manual": "by an organizer",
    "cli": "from the command line",
    "closed": "when the survey closed",
}


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _has_numbers(need: dict[str, Any]) -> bool:
    return need.get("opportunity") is not None


# --- what the page shows, from the stored report ------------------------------------------

def summary(data: dict[str, Any], response_count: int) -> list[str]:
    """A few plain-language sentences about a stored report."""
    min_cell = data.get("min_cell_size")
    needs = data.get("needs", [])
    scored = [n for n in needs if _has_numbers(n)]
    unscored = len(needs) - len(scored)
    respondents = data.get("respondents")
    if respondents is None:
        return [f"This report covers {_plural(response_count, 'submitted response')}: fewer "
                f"than the minimum group size of {min_cell}, so no results are shown. Every "
                f"number would describe too few people to keep them anonymous."]
    if not needs:
        return [f"Of {respondents} respondents: this survey has no need questions, so there "
                f"is nothing to rank."]
    if not scored:
        return [f"Of {respondents} respondents, no need was rated (importance and "
                f"satisfaction) by at least {min_cell} people, so no need can be scored yet."]
    underserved = [n for n in scored if n.get("status") == "underserved"]
    top = scored[0]
    gap = (f"“{top['text']}” (opportunity {top['opportunity']:.1f} of 20: "
           f"{top['importance'] * 10:.0f}% of the {top['n']} who rated it find it important, "
           f"{top['satisfaction'] * 10:.0f}% are satisfied today)")
    if underserved:
        verb = "is" if len(underserved) == 1 else "are"
        sentences = [f"Of {respondents} respondents, {_plural(len(underserved), 'need')} "
                     f"{verb} underserved; the largest gap is {gap}."]
        robust = sum(1 for n in underserved if n.get("robust"))
        if robust:
            sentences.append(
                f"{robust} of them {'is' if robust == 1 else 'are'} robust: even the low end "
                f"of the bootstrap interval of the opportunity is 10 or more.")
    else:
        sentences = [f"Of {respondents} respondents, no need is underserved (opportunity 10 "
                     f"or more); the highest opportunity is {gap}."]
    if unscored:
        sentences.append(f"{_plural(unscored, 'need')} had fewer than {min_cell} ratings and "
                         f"{'is' if unscored == 1 else 'are'} not scored.")
    return sentences


def chart_for(data: dict[str, Any]) -> charts.Chart | None:
    """The opportunity chart of the needs that have numbers (None when there are none)."""
    points = [
        charts.NeedPoint(
            key=n["key"], text=n["text"], importance=n["importance"],
            satisfaction=n["satisfaction"], importance_ci=tuple(n["importance_ci"]),
            satisfaction_ci=tuple(n["satisfaction_ci"]), opportunity=n["opportunity"],
            status=n.get("status", ""), robust=bool(n.get("robust")),
        )
        for n in data.get("needs", []) if _has_numbers(n)
    ]
    return charts.opportunity_chart(points) if points else None


@dataclass
class SegmentColumn:
    label: str
    n: int | None  # None when the cell is suppressed
    suppressed: bool
    needs: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class SegmentTable:
    """One segment question: columns = its cells, rows = the needs in overall rank order."""

    key: str
    title: str
    columns: list[SegmentColumn]
    rows: list[tuple[dict[str, Any], list[tuple[str, dict[str, Any] | None]]]]

    @property
    def any_suppressed(self) -> bool:
        return any(c.suppressed for c in self.columns)

    @property
    def any_insufficient(self) -> bool:
        return any(kind == "insufficient" for _, cells in self.rows for kind, _ in cells)


def segment_tables(data: dict[str, Any], survey: Survey) -> list[SegmentTable]:
    """Per segment question, a table of its cells (suppressed ones carry no numbers); rows
    are the needs scored overall (a need too few rated overall is too few rated in every
    group)."""
    texts = {q.key: q.text for q in survey.questions}
    tables: dict[str, SegmentTable] = {}
    for cell in data.get("segments", []):
        key = cell["question"]
        table = tables.setdefault(key, SegmentTable(key, texts.get(key, key), [], []))
        suppressed = bool(cell.get("suppressed"))
        table.columns.append(SegmentColumn(
            label=cell.get("label") or cell.get("value") or "No answer",
            n=None if suppressed else cell.get("n"), suppressed=suppressed,
            needs={} if suppressed else {n["key"]: n for n in cell.get("needs", [])}))
    for table in tables.values():
        for need in (n for n in data.get("needs", []) if _has_numbers(n)):
            cells: list[tuple[str, dict[str, Any] | None]] = []
            for column in table.columns:
                entry = column.needs.get(need["key"])
                if column.suppressed:
                    cells.append(("suppressed", None))
                elif entry is not None and _has_numbers(entry):
                    cells.append(("value", entry))
                else:
                    cells.append(("insufficient", None))
            table.rows.append((need, cells))
    return list(tables.values())


def _guidelines_url(slug: str) -> str | None:
    try:
        return url_for("guidelines.index", slug=slug)
    except BuildError:  # the guidelines pages are optional for this page
        return None


# --- routes ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Rendered:
    html: Markup
    min_cell_size: Any


#: How many rendered reports each app keeps (see _report_sections).
_RENDERED_MAX = 16
_RENDERED_LOCK = threading.Lock()


def _rendered_cache() -> OrderedDict[tuple, _Rendered]:
    """This app's rendered reports, by (report id and time, segment question titles). A
    stored report never changes, so its HTML is rendered once per process, not per request
    (kept per app: another app in the same process has another database)."""
    return current_app.extensions.setdefault("insight_report_html", OrderedDict())


def _report_sections(survey: Survey, stored: InsightReport) -> _Rendered:
    """The HTML of the report's sections (summary, needs, groups, themes), from the cache
    when this report was rendered before and the survey's questions have not changed
    since (the group tables show segment question titles; every change to a question
    moves `survey.updated_at`, see `definition.apply`)."""
    key = (stored.id, stored.computed_at, survey.id, survey.updated_at)
    cache = _rendered_cache()
    with _RENDERED_LOCK:
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
    data = stored.data or {}
    needs = data.get("needs", [])
    html = Markup(render_template(  # noqa: S704 - rendered by Jinja with autoescape on
        "surveys/insights/_report_body.html", data=data,
        summary=summary(data, stored.response_count), chart=chart_for(data),
        scored=[n for n in needs if _has_numbers(n)],
        unscored=[n for n in needs if not _has_numbers(n)],
        tables=segment_tables(data, survey)))
    rendered = _Rendered(html, data.get("min_cell_size"))
    with _RENDERED_LOCK:
        cache[key] = rendered
        while len(cache) > _RENDERED_MAX:
            cache.popitem(last=False)
    return rendered


#: Counting this many submitted responses takes milliseconds (an index scan): from here on
#: the figure is counted again at most every COUNT_SECONDS per process.
LARGE_COUNT = 10_000
COUNT_SECONDS = 5.0


def _submitted_now(dbs, survey: Survey, stored: InsightReport | None) -> int:
    """How many submitted responses the survey has now. A large figure may be a few
    seconds old (it only says how far the report is behind); a new report counts again."""
    # One entry per survey and report: (the clock slice it was counted in, the count).
    key = ("submitted-count", survey.id, stored.id if stored else None)
    bucket = pagecache.time_bucket(COUNT_SECONDS)
    cached = pagecache.get(key)
    if cached is not None and cached[0] == bucket:
        return cached[1]
    count = insights.submitted_count(dbs, survey)
    if count >= LARGE_COUNT:
        pagecache.put(key, (bucket, count))
    return count


@bp.get("/<slug>/insights")
@role_required(ORGANIZER)
def report(slug: str):
    """The newest stored report (never recomputed here), and how current it is."""
    dbs = db_session()
    survey, stored = insights.survey_and_latest(dbs, slug)
    current = _submitted_now(dbs, survey, stored)
    context: dict[str, Any] = {"survey": survey, "stored": stored, "current": current,
                               "labels": STATUS_LABELS, "triggers": TRIGGER_LABELS,
                               "guidelines_url": _guidelines_url(survey.slug)}
    if stored is not None:
        sections = _report_sections(survey, stored)
        context.update(body=sections.html, min_cell_size=sections.min_cell_size,
                       since=current - stored.response_count)
    return render_template("surveys/insights/report.html", **context)


@bp.post("/<slug>/insights/refresh")
@role_required(ORGANIZER)
def refresh(slug: str):
    """Compute and store a new snapshot from the answers submitted so far."""
    dbs = db_session()
    survey = insights.get_survey(dbs, slug)
    try:
        stored = insights.refresh(dbs, survey, trigger="manual",
                                  actor=current_user._get_current_object())
    except DomainError as exc:
        dbs.rollback()
        flash(exc.message, "error")
    else:
        dbs.commit()
        flash(f"Report computed from {_plural(stored.response_count, 'submitted response')}.",
              "success")
    return redirect(url_for("insights.report", slug=slug))
