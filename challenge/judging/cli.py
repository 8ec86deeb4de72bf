"""`flask --app challenge judging ...`: judge assignment (CONTRACTS.md "Judging").

The `judging` group is shared: scoring and results add their commands to it from their
own modules. Documents go to stdout, summaries and errors to stderr.
"""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup
from sqlalchemy import select

from challenge.challenges.models import Challenge
from challenge.cli import audit_export, fail, run_service
from challenge.db import db_session

judging_cli = AppGroup("judging", help="Judging: assignments, scores and results.")


def _challenge_or_fail(session, slug: str):
    challenge = session.scalar(select(Challenge).where(Challenge.slug == slug))
    if challenge is None:
        fail(f"there is no challenge {slug!r}")
    return challenge


@judging_cli.command("assign")
@click.argument("slug")
def assign_command(slug: str) -> None:
    """Assign judges: `reviews_per_entry` per submitted entry, no conflicts, balanced loads.

    Existing assignments and reviews are kept; only the missing ones are added. When the
    conflicts leave some entries without enough judges, nothing changes and the entries
    are named (exit status 1).
    """
    from challenge.judging import assignments

    def _assign(session):
        return assignments.assign(session, _challenge_or_fail(session, slug))

    result = run_service(_assign)
    low, high = result.load_range
    click.echo(f"{slug}: {len(result.added)} new assignment{'s' if len(result.added) != 1 else ''}"
               f", {result.kept} kept; {result.entries} entries, {result.judges} judges, "
               f"{low}-{high} entries per judge", err=True)


@judging_cli.command("assignments")
@click.argument("slug")
@click.option("--format", "fmt", type=click.Choice(["json", "text"]), default="text",
              show_default=True)
def assignments_command(slug: str, fmt: str) -> None:
    """Print the assignment: one judge and team per line, or JSON (--format json)."""
    from challenge.judging import assignments

    session = db_session()
    doc = assignments.assignments_document(session, _challenge_or_fail(session, slug))
    session.rollback()
    audit_export("judging.assignments_exported", f"challenge:{slug}", format=fmt,
                 assignments=len(doc["assignments"]))
    if fmt == "json":
        click.echo(json.dumps(doc, ensure_ascii=False, indent=2))
        return
    for item in doc["assignments"]:
        click.echo(f"{item['judge']}\t{item['team']}")
    click.echo(f"{len(doc['assignments'])} assignments", err=True)
