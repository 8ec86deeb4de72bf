"""Shared fixtures: a clean database per test on SQLite or PostgreSQL, app, client, users.

SQLite: the schema is migrated once into a template file, copied for every test.
PostgreSQL (TEST_DATABASE_URL): the schema is migrated once, every table is emptied after
each test (TRUNCATE ... RESTART IDENTITY), so each test starts from a clean database.
"""

from __future__ import annotations

import contextvars
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import make_url, text

from challenge import clock, create_app, migrate
from challenge.db import make_engine
from challenge.models import Base

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
ON_POSTGRES = TEST_DATABASE_URL.startswith("postgres")
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def _schema_template(tmp_path_factory) -> Iterator[str]:
    """Migrate an empty database once; yield its URL (SQLite: the template file).

    On PostgreSQL each test session creates its own database next to TEST_DATABASE_URL's
    and drops it at the end, so concurrent runs on one server never meet.
    """
    if ON_POSTGRES:
        admin = make_engine(TEST_DATABASE_URL).execution_options(isolation_level="AUTOCOMMIT")
        name = f"test_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(TEST_DATABASE_URL).set(database=name)
        engine = make_engine(url.render_as_string(hide_password=False))
        migrate.upgrade(engine)
        engine.dispose()
        yield url.render_as_string(hide_password=False)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        return
    path = tmp_path_factory.mktemp("schema") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()  # the last connection to close folds the WAL into the file
    assert not Path(f"{path}-wal").exists()
    yield str(path)


@pytest.fixture
def database_url(_schema_template, tmp_path) -> Iterator[str]:
    """A clean, migrated database for one test."""
    if ON_POSTGRES:
        yield _schema_template
        engine = make_engine(_schema_template)
        names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        engine.dispose()
        return
    target = tmp_path / "test.db"
    shutil.copyfile(_schema_template, target)
    yield f"sqlite:///{target}"


@pytest.fixture
def app_config(database_url, tmp_path) -> dict:
    """Settings for the app under test; tests may change them before using `app`."""
    return {
        "APP_ENV": "test",
        "DATABASE_URL": database_url,
        "UPLOAD_DIR": str(tmp_path / "uploads"),
    }


class IsolatedClient(FlaskClient):
    """A test client whose every request runs in a fresh context, like a real server.

    Without this, a request made while a test holds an app context would share that
    context's `g` (its database session and Flask-Login's cached user). Before each
    request the test's own Session commits and forgets what it loaded, so the request
    sees the test's changes, SQLite's write lock is free, and later reads are fresh.
    """

    def open(self, *args, **kwargs):
        test_session = self.application.extensions.get("test_session")
        if test_session is not None:
            test_session.commit()
            test_session.expire_all()
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture
def app(app_config):
    """The application, on a clean database."""
    application = create_app(app_config)
    application.test_client_class = IsolatedClient
    yield application
    clock.freeze(None)
    application.extensions["db_engine"].dispose()


@pytest.fixture
def client(app):
    """A test client (cookies kept between requests)."""
    return app.test_client()


@pytest.fixture
def session(app):
    """A database Session inside an app context (what services receive)."""
    with app.app_context():
        from challenge.db import db_session

        test_session = db_session()
        app.extensions["test_session"] = test_session
        yield test_session
        app.extensions.pop("test_session", None)


@pytest.fixture
def make_user(app):
    """Create a committed user: make_user("a@x.org", "patient", "judge")."""

    def _make(email: str, *roles: str, password: str | None = PASSWORD, name: str = ""):
        from challenge.accounts import services
        from challenge.db import session_scope

        with app.app_context(), session_scope(app) as s:
            user = services.create_user(s, email, password=password, roles=list(roles),
                                        name=name)
            s.flush()
            return user

    return _make


def login(client, email: str, password: str = PASSWORD, follow: bool = False):
    """Log in through the real form."""
    return client.post("/login", data={"email": email, "password": password},
                       follow_redirects=follow)


def csrf_token_from(html: str) -> str:
    """The CSRF token in a rendered form."""
    match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html)
    assert match, "no csrf token in page"
    return match.group(1)


def shared_dir() -> Path:
    """The shared/ folder beside the repository (golden vectors, contracts)."""
    return Path(__file__).resolve().parents[2] / "shared"


VENDORED_GOLDEN = Path(__file__).resolve().parent / "data" / "golden"


def golden(name: str):
    """A golden-vector file: from ../shared/golden when the repository sits beside it (the
    source of truth, as in CI), else from the copy in tests/data/golden, so `make test`
    passes in a clone on its own (test_golden_copies keeps the copy equal to the source)."""
    path = shared_dir() / "golden" / name
    if not path.exists():
        path = VENDORED_GOLDEN / name
    return json.loads(path.read_text())
