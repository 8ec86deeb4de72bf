"""Database plumbing: declarative Base, engine, and one Session per request.

Plain SQLAlchemy 2.x (not Flask-SQLAlchemy). Services receive a Session and only
flush; views and CLI commands commit. On SQLite the connection gets foreign keys, WAL
and a busy timeout, and a transaction that will write begins IMMEDIATE so two writers
queue on the lock instead of failing half-way with "database is locked".

How long a statement waits for a lock is bounded (`DB_LOCK_TIMEOUT_SECONDS`: SQLite's
busy_timeout, PostgreSQL's lock_timeout); past it the statement fails and
`is_lock_timeout` recognises the error, so the person gets "busy, try again" (503).
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from flask import Flask, current_app, g, request
from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base for every model, with a constraint naming convention for Alembic."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every engine.

    SQLite has no time zone type and returns naive datetimes; this type stores UTC and
    always hands back an aware value, so comparisons with `clock.now()` work everywhere.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where a UTC datetime is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# Whether the current unit of work intends to write; read when SQLite begins a transaction.
_write_intent: contextvars.ContextVar[bool] = contextvars.ContextVar("write_intent", default=True)


def set_write_intent(value: bool) -> None:
    """Declare whether transactions begun from now on in this context will write."""
    _write_intent.set(value)


DEFAULT_LOCK_TIMEOUT_SECONDS = 5.0


def reads_first(view):
    """Mark a view that changes state but reads (and checks) first without the write lock,
    then calls `begin_writing` for the few statements that store: on SQLite other writers
    wait only for those, and a busy database fails the write alone, after the reads."""
    view.reads_first = True
    return view


def begin_writing(session: Session) -> None:
    """From here on the Session writes. On SQLite the read transaction ends and the next
    statement begins BEGIN IMMEDIATE (loaded objects stay usable: nothing is expired); on
    PostgreSQL, where readers and writers do not block each other, it simply goes on."""
    if session.in_transaction() and session.get_bind().dialect.name == "sqlite":
        session.commit()
    set_write_intent(True)


def _configure_sqlite(engine: Engine, lock_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # Let SQLAlchemy emit BEGIN itself (pysqlite's own transaction handling is off).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={lock_timeout_ms:d}")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if _write_intent.get() else "BEGIN")


def make_engine(url: str, lock_timeout: float = DEFAULT_LOCK_TIMEOUT_SECONDS) -> Engine:
    """Create an engine for `url`, with the SQLite settings the house rules ask for; a
    statement waits at most `lock_timeout` seconds for a lock."""
    lock_timeout_ms = max(1, round(float(lock_timeout) * 1000))
    # A failed statement's error names the statement but never its parameters: they may
    # be a patient's answers, and errors end up in logs.
    private = {"hide_parameters": True}
    if url.startswith("sqlite"):
        kwargs: dict = {"connect_args": {"check_same_thread": False}, **private}
        if url in ("sqlite://", "sqlite:///:memory:"):
            kwargs["poolclass"] = StaticPool
        engine = create_engine(url, **kwargs)
        _configure_sqlite(engine, lock_timeout_ms)
        return engine
    if url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url[len("postgres://"):]
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return create_engine(url, pool_pre_ping=True, **private,
                         connect_args={"options": f"-c lock_timeout={lock_timeout_ms:d}"})


def is_lock_timeout(exc: BaseException) -> bool:
    """Whether `exc` is a statement that gave up waiting for a lock (SQLite "database is
    locked"/"busy", PostgreSQL lock_not_available): the request may simply be retried."""
    if not isinstance(exc, OperationalError):
        return False
    original = exc.orig
    if getattr(original, "sqlstate", None) == "55P03":  # PostgreSQL lock_not_available
        return True
    code = getattr(original, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (5, 6)  # SQLITE_BUSY, SQLITE_LOCKED (and their extended codes)
    message = str(original).lower()
    return "database is locked" in message or "database is busy" in message


def init_app(app: Flask) -> None:
    """Attach an engine and a session factory to the app; close the session after each request."""
    engine = make_engine(app.config["DATABASE_URL"],
                         app.config.get("DB_LOCK_TIMEOUT_SECONDS", DEFAULT_LOCK_TIMEOUT_SECONDS))
    app.extensions["db_engine"] = engine
    app.extensions["db_sessionmaker"] = sessionmaker(bind=engine, expire_on_commit=False)

    @app.before_request
    def _declare_write_intent() -> None:
        # GET and HEAD never change state, so they need no write lock on SQLite; a
        # `reads_first` view takes it itself when it is ready to store.
        view = app.view_functions.get(request.endpoint) if request.endpoint else None
        set_write_intent(request.method not in ("GET", "HEAD", "OPTIONS")
                         and not getattr(view, "reads_first", False))

    @app.teardown_appcontext
    def _close_session(_exc) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()


def end_failed_transaction() -> None:
    """Roll back the request's Session after a failed statement (a lock wait that timed
    out); whatever the request still reads begins without a write lock."""
    session = g.get("db_session")
    if session is not None:
        session.rollback()
    set_write_intent(False)


def get_engine() -> Engine:
    """The current app's engine."""
    return current_app.extensions["db_engine"]


def db_session() -> Session:
    """The Session of the current request or CLI command (created on first use)."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["db_sessionmaker"]()
    return g.db_session


@contextmanager
def session_scope(app: Flask) -> Iterator[Session]:
    """A standalone Session outside requests (scripts, tests): commit on success."""
    session = app.extensions["db_sessionmaker"]()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
