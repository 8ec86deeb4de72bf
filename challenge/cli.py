"""Flask CLI commands: thin wrappers that parse arguments, call a service and commit."""

from __future__ import annotations

import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from challenge import migrate
from challenge.db import db_session, get_engine
from challenge.errors import DomainError

db_cli = AppGroup("db", help="Database schema.")
users_cli = AppGroup("users", help="Accounts.")
demo_cli = AppGroup("demo", help="Demonstration data.")


def fail(problems: list[str] | str, code: int = 1):
    """Print one line per problem to stderr and exit with `code`."""
    for problem in [problems] if isinstance(problems, str) else problems:
        click.echo(f"error: {problem}", err=True)
    sys.exit(code)


def run_service(fn, *args, **kwargs):
    """Call a service in the command's session; commit on success, roll back on error."""
    session = db_session()
    try:
        result = fn(session, *args, **kwargs)
        session.commit()
        return result
    except DomainError as exc:
        session.rollback()
        fail(getattr(exc, "problems", [exc.message]))


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Create the schema or migrate it to the newest version (safe on every start)."""
    migrate.upgrade(get_engine())
    click.echo(f"database at revision {migrate.current_revision(get_engine())}", err=True)


@users_cli.command("create")
@click.argument("email")
@click.option("--role", "roles", multiple=True, required=True,
              type=click.Choice(["patient", "entrant", "judge", "organizer", "safety"]))
@click.option("--name", default="")
def users_create(email: str, roles: tuple[str, ...], name: str) -> None:
    """Create an account; the password is read from stdin (one line)."""
    from challenge.accounts import services

    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        fail("no password on stdin (give it as one line)")
    user = run_service(services.create_user, email, password=password, roles=list(roles),
                       name=name)
    click.echo(f"created {user.email} with roles {', '.join(sorted(user.roles))}", err=True)


@demo_cli.command("load")
def demo_load() -> None:
    """Load the demonstration data (idempotent) and print the demo logins."""
    from challenge import demo

    if not current_app.config.get("DEMO_ALLOWED"):
        fail("demo data is not allowed in this environment (APP_ENV=production)")
    logins = run_service(demo.load)
    click.echo("Demo logins (demo data only; never use these passwords elsewhere):")
    for login in logins:
        click.echo(f"  {login.role:<10} {login.email:<32} {login.password}")


def init_app(app: Flask) -> None:
    """Register the command groups."""
    from challenge.challenges.cli import challenges_cli
    from challenge.judging.cli import judging_cli
    from challenge.judging.results_cli import results_cli  # also adds `judging results`
    from challenge.judging.score_cli import import_scores_command  # noqa: F401 (`judging import-scores`)
    from challenge.safety.cli import safety_cli
    from surveys.cli import surveys_cli
    from surveys.insights_cli import insights_cli

    for group in (db_cli, users_cli, demo_cli, safety_cli, surveys_cli, insights_cli,
                  challenges_cli, results_cli, judging_cli):
        app.cli.add_command(group)
