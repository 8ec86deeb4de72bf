"""`flask --app challenge insights ...`: insight reports (CONTRACTS.md "Insights").

`insights report SLUG` computes a new report snapshot, stores it (commit), and prints it:
`--format json` prints exactly the stored report as one JSON document on stdout (numbers
unrounded) and nothing else there; `--format text` (the default) prints a readable summary.
Problems go to stderr, one line each, with exit status 1.
"""

from __future__ import annotations

import json
from typing import Any

import click
from flask.cli import AppGroup

from challenge.cli import audit_export, run_service

insights_cli = AppGroup("insights", help="Insight reports: needs, segments and themes.")


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _ci(values: list[float] | None) -> str:
    return f"[{values[0]:.1f}, {values[1]:.1f}]" if values else ""


def render_text(data: dict[str, Any], response_count: int) -> str:
    """A readable rendering of a stored report (numbers rounded to one decimal)."""
    lines = [f"{data.get('title') or data['survey']} ({data['survey']})",
             f"computed {data.get('computed_at', '?')} from {response_count} submitted "
             f"responses; minimum group size {data['min_cell_size']}"]
    if data.get("respondents") is None:
        lines.append("status: insufficient data (fewer respondents than the minimum group "
                     "size): no numbers are published")
    elif data.get("status") != "ok":
        lines.append(f"status: {data.get('status')} ({data.get('reason', '')})")
    lines.append("")
    lines.append("needs (by opportunity):")
    for rank, need in enumerate(data.get("needs", []), start=1):
        if need.get("opportunity") is None:
            lines.append(f"  -  {need['key']}: {need['status']}")
            continue
        robust = ", robust" if need.get("robust") else ""
        lines.append(f"  {rank}. {need['key']}: O {_fmt(need['opportunity'])} "
                     f"{_ci(need.get('opportunity_ci'))}  I {_fmt(need['importance'])}  "
                     f"S {_fmt(need['satisfaction'])}  n {need['n']}  "
                     f"{need['status']}{robust}")
    if data.get("segments"):
        lines.append("")
        lines.append("segments:")
        for cell in data["segments"]:
            name = f"{cell['question']}={cell.get('value') or '(no answer)'}"
            if cell.get("suppressed"):
                lines.append(f"  {name}: fewer than {data['min_cell_size']} (suppressed)")
                continue
            scored = [n for n in cell.get("needs", []) if n.get("opportunity") is not None]
            top = (f"; top need {scored[0]['key']} O {_fmt(scored[0]['opportunity'])}"
                   if scored else "")
            lines.append(f"  {name}: n {cell['n']}{top}")
    if data.get("themes"):
        lines.append("")
        lines.append("themes:")
        lines += [f"  {t['label']} ({t['respondents']} respondents): {', '.join(t['terms'])}"
                  for t in data["themes"]]
    elif data.get("keywords"):
        lines.append("")
        lines.append("keywords (fewer than 50 texts, no themes):")
        lines += [f"  {k['term']} ({k['respondents']})" for k in data["keywords"]]
    return "\n".join(lines)


@insights_cli.command("report")
@click.argument("slug")
@click.option("--format", "fmt", type=click.Choice(["json", "text"]), default="text",
              show_default=True, help="json: the stored report as one JSON document.")
def report(slug: str, fmt: str) -> None:
    """Compute and store a new report of survey SLUG, then print it."""
    from surveys import insights

    def _refresh(session):
        survey = insights.get_survey(session, slug)
        return insights.refresh(session, survey, trigger="cli")

    stored = run_service(_refresh)
    audit_export("insights.exported", f"survey:{slug}", format=fmt, report_id=stored.id)
    if fmt == "json":
        click.echo(json.dumps(stored.data, indent=2, ensure_ascii=False, allow_nan=False))
    else:
        click.echo(render_text(stored.data, stored.response_count))
