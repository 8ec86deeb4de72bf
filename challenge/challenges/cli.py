"""`flask --app challenge challenges ...`: challenge bundles (CONTRACTS.md "Challenges").

Thin commands, like `surveys import`/`export`: read the file, validate the whole document,
apply it in one transaction and commit once (or roll back and print one line per problem
to stderr, prefixed with the file name, exit status 1). Documents go to stdout; summaries
to stderr.
"""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from challenge.cli import audit_export, fail, run_service
from challenge.db import db_session
from challenge.errors import NotFound, ValidationFailed
from surveys.cli import _FILE, _read_text, _reject_constant

challenges_cli = AppGroup("challenges", help="Challenges: import and export bundles.")


def _teams(n: int) -> str:
    return f"{n} team{'' if n == 1 else 's'}"


@challenges_cli.command("import")
@click.argument("file", type=_FILE)
def import_challenge(file: str) -> None:
    """Create or update a challenge (with teams, submissions and judges) from FILE.json.

    Idempotent: importing the same file again changes nothing. People named as judges or
    members who have no account get one without a password and an invitation e-mail.
    """
    from challenge.challenges import bundle

    text = _read_text(file)
    try:
        doc = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        fail(f"{file}: line {exc.lineno}, column {exc.colno}: {exc.msg}")
    except ValueError as exc:
        fail(f"{file}: {exc}")
    except RecursionError:  # thousands of nested [ or {: not a document anyone writes
        fail(f"{file}: nested too deeply to be read")

    def _apply(session):
        try:
            return bundle.apply(session, doc)
        except ValidationFailed as exc:
            raise ValidationFailed([f"{file}: {p}" for p in exc.problems]) from exc

    result = run_service(_apply)
    challenge = result.challenge
    teams = len(challenge.teams)
    if result.created:
        summary = f"created challenge {challenge.slug} ({_teams(teams)})"
    elif result.changed:
        summary = f"updated challenge {challenge.slug} ({_teams(teams)})"
    else:
        summary = f"challenge {challenge.slug} unchanged"
    if result.versions_added:
        n = result.versions_added
        summary += f"; {n} submission version{'' if n == 1 else 's'} added"
    if result.accounts_created:
        n = len(result.accounts_created)
        summary += (f"; {n} account{'' if n == 1 else 's'} created and invited: "
                    f"{', '.join(result.accounts_created)}")
    if result.roles_added:
        n = len(result.roles_added)
        summary += (f"; judge or entrant role added to {n} existing account"
                    f"{'' if n == 1 else 's'}: {', '.join(result.roles_added)}")
    click.echo(summary, err=True)


@challenges_cli.command("export")
@click.argument("slug")
def export_challenge(slug: str) -> None:
    """Print challenge SLUG as the JSON bundle `challenges import` reads."""
    from challenge.challenges import bundle, services

    session = db_session()
    try:
        challenge = services.get_challenge(session, slug)
    except NotFound:
        fail(f"no challenge with slug {slug!r}")
    document = json.dumps(bundle.export(session, challenge), indent=2, ensure_ascii=False)
    audit_export("challenge.exported", f"challenge:{challenge.slug}", what="bundle.json")
    click.echo(document)
