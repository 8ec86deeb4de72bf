"""`flask --app challenge safety ...`: the adverse-event flags (CONTRACTS.md, Safety)."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from challenge.cli import audit_export
from challenge.db import db_session, set_write_intent
from challenge.safety import services
from challenge.safety.models import FLAG_STATUSES

safety_cli = AppGroup("safety", help="Adverse-event flags.")


@safety_cli.command("flags")
@click.option("--format", "fmt", type=click.Choice(["json", "text"]), default="text",
              show_default=True, help="json prints one JSON document to stdout.")
@click.option("--status", type=click.Choice([*services.FILTERS, *FLAG_STATUSES]),
              default=None, help="Only flags with this status (open = new or reviewed).")
def flags(fmt: str, status: str | None) -> None:
    """List the flags, oldest first: {"flags": [...]} with --format json."""
    set_write_intent(False)  # read only: no write lock on SQLite
    try:
        data = services.flags_json(db_session(), status=status)
    finally:
        set_write_intent(True)
    audit_export("safety.flags_exported", "safety:flags", format=fmt, status=status,
                 flags=len(data["flags"]))
    if fmt == "json":
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    if not data["flags"]:
        click.echo("no flags")
        return
    for f in data["flags"]:
        overdue = " OVERDUE" if f["overdue"] else ""
        click.echo(f"#{f['id']} {f['status']}{overdue} first seen {f['first_seen']} "
                   f"({f['source']} {f['source_ref']})")
        click.echo(f"    medicines: {', '.join(f['products'])}; "
                   f"effects: {', '.join(f['events'])}")
        click.echo(f"    {f['excerpt']}")
