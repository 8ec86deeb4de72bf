"""Flask CLI commands: thin wrappers that parse arguments, call a service and commit."""

from __future__ import annotations

import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from challenge import audit, migrate
from challenge.db import db_session, get_engine, set_write_intent
from challenge.errors import DomainError

db_cli = AppGroup("db", help="Database schema.")
users_cli = AppGroup("users", help="Accounts.")
demo_cli = AppGroup("demo", help="Demonstration data.")


def fail(problems: list[str] | str, code: int = 1):
    """Print one line per problem to stderr and exit with `code`.

    Line breaks and other control characters quoted from a file (a cell of a broken CSV)
    are shown escaped, so each problem stays on its one line.
    """
    for problem in [problems] if isinstance(problems, str) else problems:
        click.echo(f"error: {_one_line(str(problem))}", err=True)
    sys.exit(code)


def _one_line(text: str) -> str:
    return "".join(ch if ch.isprintable() or ch == " " else repr(ch)[1:-1] for ch in text)


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


def audit_export(action: str, target: str, **details) -> None:
    """Record that a command is printing data out of the platform (one commit of its own).

    Called once the document is ready and before it is printed, so every export that
    leaves the platform has its row; the actor is "cli".
    """
    session = db_session()
    session.commit()  # end the read transaction: the write below begins IMMEDIATE (SQLite)
    set_write_intent(True)
    audit.record(session, action, target=target, **details)
    session.commit()


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
    from email_validator import EmailNotValidError, validate_email

    from challenge.accounts import services

    try:  # the one way in where no form checks the address
        validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        fail(f"{email}: not a valid e-mail address ({exc})")
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
