"""Shared fixtures: a clean database per test on SQLite or PostgreSQL, app, client, users.

SQLite: the schema is migrated once into a template file, copied for every test.
PostgreSQL (TEST_DATABASE_URL): the schema is migrated once, every table is emptied after
each test (TRUNCATE ... RESTART IDENTITY), so each test starts from a clean database.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from challenge import clock, create_app, migrate
from challenge.db import make_engine
from challenge.models import Base

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
ON_POSTGRES = TEST_DATABASE_URL.startswith("postgres")
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def _schema_template(tmp_path_factory) -> str:
    """Migrate an empty database once; return its URL (SQLite: the template file)."""
    if ON_POSTGRES:
        engine = make_engine(TEST_DATABASE_URL)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        migrate.upgrade(engine)
        engine.dispose()
        return TEST_DATABASE_URL
    path = tmp_path_factory.mktemp("schema") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()  # the last connection to close folds the WAL into the file
    assert not Path(f"{path}-wal").exists()
    return str(path)


@pytest.fixture
def database_url(_schema_template, tmp_path) -> Iterator[str]:
    """A clean, migrated database for one test."""
    if ON_POSTGRES:
        yield TEST_DATABASE_URL
        engine = make_engine(TEST_DATABASE_URL)
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


@pytest.fixture
def app(app_config):
    """The application, on a clean database."""
    application = create_app(app_config)
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

        yield db_session()


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
