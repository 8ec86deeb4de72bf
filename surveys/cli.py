"""`flask --app challenge surveys ...`: survey definitions and responses (CONTRACTS.md).

Thin commands: read the file, call a service, commit once (or roll back and print one
line per problem to stderr, exit status 1). Documents and CSV go to stdout; summaries to
stderr.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import select

from challenge.cli import audit_export, fail, run_service
from challenge.db import db_session
from challenge.errors import NotFound, ValidationFailed

surveys_cli = AppGroup("surveys", help="Survey definitions and responses.")

_FILE = click.Path(exists=True, dir_okay=False)


def _read_text(path: str) -> str:
    """The file's text (UTF-8, with or without a byte-order mark), or exit 1."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        fail(f"{path}: cannot be read ({exc.strerror})")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        fail(f"{path}: not UTF-8 text (invalid byte at offset {exc.start}); "
             f"save it as UTF-8")


def _survey(session, slug: str):
    from surveys.models import Survey

    survey = session.scalar(select(Survey).where(Survey.slug == slug))
    if survey is None:
        raise NotFound(f"no survey with slug {slug!r}")
    return survey


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


@surveys_cli.command("import")
@click.argument("file", type=_FILE)
def import_survey(file: str) -> None:
    """Create or update a survey from FILE.json (idempotent)."""
    from surveys import definition
    from surveys.models import Survey

    text = _read_text(file)
    try:
        doc = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        fail(f"{file}: line {exc.lineno}, column {exc.colno}: {exc.msg}")
    except ValueError as exc:
        fail(f"{file}: {exc}")
    except RecursionError:  # thousands of nested [ or {: not a document anyone writes
        fail(f"{file}: nested too deeply to be read")
    problems = definition.validate(doc)
    if problems:
        fail([f"{file}: {problem}" for problem in problems])

    def _apply(session):
        existed = session.scalar(select(Survey.id).where(Survey.slug == doc["slug"]))
        try:
            survey, changed = definition.apply(session, doc)
        except ValidationFailed as exc:
            raise ValidationFailed([f"{file}: {p}" for p in exc.problems]) from exc
        return survey, changed, existed is not None

    survey, changed, existed = run_service(_apply)
    questions = len(survey.active_questions)
    if not existed:
        click.echo(f"created survey {survey.slug} ({questions} questions, {survey.status})",
                   err=True)
    elif changed:
        click.echo(f"updated survey {survey.slug} ({questions} questions, {survey.status})",
                   err=True)
    else:
        click.echo(f"survey {survey.slug} unchanged", err=True)


@surveys_cli.command("export")
@click.argument("slug")
def export_survey(slug: str) -> None:
    """Print survey SLUG as the JSON document `surveys import` reads."""
    from surveys import definition

    session = db_session()
    try:
        survey = _survey(session, slug)
    except NotFound as exc:
        fail(exc.message)
    document = json.dumps(definition.export(survey), indent=2, ensure_ascii=False)
    audit_export("survey.exported", f"survey:{survey.slug}", what="definition.json")
    click.echo(document)


@surveys_cli.command("import-responses")
@click.argument("slug")
@click.argument("file", type=_FILE)
def import_responses(slug: str, file: str) -> None:
    """Add submitted responses to survey SLUG from FILE.csv.

    Header: one column per question key (a need question K: K.importance and
    K.satisfaction; multi values joined by ';'), optional external_id. Rows with an
    external_id already imported are updated or left unchanged; rows without one are
    always added.
    """
    from surveys import responses_io

    text = _read_text(file)

    def _import(session):
        survey = _survey(session, slug)
        return responses_io.import_responses(session, survey, text, filename=file)

    result = run_service(_import)
    summary = (f"{file}: {result.added} added, {result.updated} updated, "
               f"{result.unchanged} unchanged")
    if result.flagged:
        plural = "s" if result.flagged != 1 else ""
        summary += f"; {result.flagged} text{plural} flagged for the safety team"
    click.echo(summary, err=True)


@surveys_cli.command("export-responses")
@click.argument("slug")
def export_responses(slug: str) -> None:
    """Print the submitted responses of survey SLUG as CSV (formula-safe)."""
    from surveys import responses_io

    session = db_session()
    try:
        survey = _survey(session, slug)
    except NotFound as exc:
        fail(exc.message)
    body = responses_io.export_responses_csv(session, survey)
    audit_export("survey.exported", f"survey:{survey.slug}", what="responses.csv")
    click.echo(body, nl=False)
