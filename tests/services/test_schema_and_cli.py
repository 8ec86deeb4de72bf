"""The schema matches the models; the CLI commands of CONTRACTS.md for accounts and demo."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, inspect, select

from challenge.accounts.models import User
from challenge.audit import AuditEvent
from challenge.models import Base


def test_migrations_produce_exactly_the_models(app):
    engine = app.extensions["db_engine"]
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_partial_indexes_are_partial_in_the_migrated_schema(app):
    """Autogenerate does not compare an index's WHERE clause: check the one partial index
    (flagged answers only) directly, as the migrations left it."""
    engine = app.extensions["db_engine"]
    (index,) = [i for i in inspect(engine).get_indexes("survey_answer")
                if i["name"] == "ix_survey_answer_safety_flag_id"]
    where = index["dialect_options"][f"{engine.dialect.name}_where"]
    assert "safety_flag_id IS NOT NULL" in str(where)


def test_db_upgrade_is_safe_to_rerun(app):
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output


def test_users_create_reads_password_from_stdin(app, session):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create", "Ana@Example.org", "--role", "judge",
                                 "--role", "organizer", "--name", "Ana"],
                           input="a long judge passphrase\n")
    assert result.exit_code == 0, result.output
    user = session.scalar(select(User).where(User.email == "ana@example.org"))
    assert user.roles == {"judge", "organizer"} and user.name == "Ana"
    assert session.scalar(select(AuditEvent.action)) == "user.created"


def test_users_create_bad_input_exits_1_and_changes_nothing(app, session):
    runner = app.test_cli_runner()
    weak = runner.invoke(args=["users", "create", "a@example.org", "--role", "judge"],
                         input="password\n")
    assert weak.exit_code == 1 and "too common" in weak.stderr
    empty = runner.invoke(args=["users", "create", "a@example.org", "--role", "judge"], input="")
    assert empty.exit_code == 1 and "no password" in empty.stderr
    bad_role = runner.invoke(args=["users", "create", "a@example.org", "--role", "king"],
                             input="a long passphrase\n")
    assert bad_role.exit_code == 2
    ok = runner.invoke(args=["users", "create", "a@example.org", "--role", "judge"],
                       input="a long passphrase\n")
    assert ok.exit_code == 0
    again = runner.invoke(args=["users", "create", "A@example.org", "--role", "judge"],
                          input="a long passphrase\n")
    assert again.exit_code == 1 and "already exists" in again.stderr
    assert session.scalar(select(func.count(User.id))) == 1


def test_demo_load_prints_logins_and_is_idempotent(app, session):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "load"])
    assert first.exit_code == 0, first.output
    assert "organizer@demo.example" in first.stdout
    count = session.scalar(select(func.count(User.id)))
    second = runner.invoke(args=["demo", "load"])
    assert second.exit_code == 0
    assert session.scalar(select(func.count(User.id))) == count
    from challenge.challenges.models import Submission, SubmissionFile, Team
    from challenge.judging.models import ResultSnapshot, Review
    from surveys.models import GuidelineDocument, Response

    assert session.scalar(select(func.count(Response.id))) >= 300
    assert session.scalar(select(GuidelineDocument.status)) == "published"
    assert session.scalar(select(func.count(Team.id))) >= 12
    assert session.scalar(select(func.count(Submission.id)).where(
        Submission.entry_version_id.is_not(None))) >= 12
    assert session.scalar(select(func.count(SubmissionFile.id))) >= 1
    assert session.scalar(select(func.count(Review.id)).where(Review.status == "submitted")) > 0
    snapshot = session.scalar(select(ResultSnapshot))
    assert snapshot.feedback_released and snapshot.entries[0].award == "Grand prize"
    counts = [session.scalar(select(func.count(m.id))) for m in (Response, Team, Review)]
    runner.invoke(args=["demo", "load"])
    assert [session.scalar(select(func.count(m.id))) for m in (Response, Team, Review)] == counts


def test_demo_refused_in_production(app):
    app.config["DEMO_ALLOWED"] = False
    result = app.test_cli_runner().invoke(args=["demo", "load"])
    assert result.exit_code == 1 and "not allowed" in result.stderr


def test_migrations_downgrade_to_base_and_back(app):
    from alembic import command

    from challenge.migrate import alembic_config, current_revision

    engine = app.extensions["db_engine"]
    cfg = alembic_config(engine)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "base")
        command.upgrade(cfg, "head")
    assert current_revision(engine) is not None
