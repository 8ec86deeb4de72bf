"""The login limit holds across gunicorn workers when the counters live in Redis.

A real gunicorn (3 sync workers, production settings, CSRF on) serves a migrated database
on a free 127.0.0.1 port, with `RATELIMIT_STORAGE_URI` pointing at Redis and a key prefix
unique to this run. Every request goes on a new connection, so the workers share the
attempts between them; the access log (through `challenge.logredact.GunicornLogger`, with
the worker's pid in each line) shows which worker answered what. More failed logins than
the per-account limit allows are sent; after them the account is refused (429) by every
worker, also one that counted none of the failures itself, and the correct password is
refused too while the limit lasts.

With `memory://` storage (each worker its own counters) the same test fails: the
limited-by-every-worker assertion sees a 401 or 302 from a worker whose own count is below
the limit (see `test_the_limit_holds_across_workers`' `storage` parameter and the report
of issue 7: run with LIMIT_STORAGE_UNDER_TEST=memory:// to watch it fail).

Redis is at 127.0.0.1:6379 in development and CI; without it the test is skipped, unless
REQUIRE_REDIS=1, when it fails instead. The keys of this run are deleted afterwards.
"""

from __future__ import annotations

import http.client
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from challenge import create_app
from tests.conftest import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
ACCOUNT_LIMIT = 4
EMAIL = "lee@example.org"
SECRET_KEY = "workers-test-secret-key-not-for-production"
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
# the access log: worker pid, request line, status (see GunicornLogger for the redaction)
ACCESS_FORMAT = '%(p)s "%(r)s" %(s)s "%(f)s"'


def _redis():
    """A Redis client for REDIS_URL, or a skip (a failure when REQUIRE_REDIS=1)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        reason = f"Redis is not reachable at {REDIS_URL} ({exc.__class__.__name__})"
        if os.environ.get("REQUIRE_REDIS") == "1":
            pytest.fail(f"REQUIRE_REDIS=1 but {reason}")
        pytest.skip(reason)
    return client


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix unique to this run; its keys are deleted afterwards."""
    client = _redis()
    prefix = f"test-login-{uuid.uuid4().hex[:12]}"
    yield prefix
    for key in client.scan_iter(match=f"*{prefix}*", count=500):
        client.delete(key)
    assert not list(client.scan_iter(match=f"*{prefix}*", count=500))
    client.close()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _request(port: int, method: str, path: str, *, body: dict | None = None,
             cookie: str = "", headers: dict | None = None) -> tuple[int, str, str]:
    """One request on a new connection: (status, body, the session cookie set or '').

    Production cookies are Secure, so they are passed by hand over plain HTTP."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        sent = {"Host": f"127.0.0.1:{port}", **(headers or {})}
        if cookie:
            sent["Cookie"] = f"session={cookie}"
        payload = None
        if body is not None:
            payload = urlencode(body)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=payload, headers=sent)
        response = conn.getresponse()
        text = response.read().decode("utf-8", "replace")
        set_cookie = ""
        for name, value in response.getheaders():
            if name.lower() == "set-cookie" and value.startswith("session="):
                set_cookie = value.split(";", 1)[0].split("=", 1)[1]
        return response.status, text, set_cookie
    finally:
        conn.close()


def _login_form(port: int) -> tuple[str, str]:
    """The login form's CSRF token and the session cookie it belongs to."""
    status, page, cookie = _request(port, "GET", "/login")
    assert status == 200, status
    return _CSRF.search(page).group(1), cookie


def _attempts_together(port: int, password: str, n: int) -> list[tuple[int, str]]:
    """`n` logins posted at the same moment, each on its own connection: while one worker
    checks a password (scrypt) the next connection goes to another, so the attempts are
    spread over the workers rather than left to whichever worker accepts first."""
    forms = [_login_form(port) for _ in range(n)]
    start = threading.Barrier(n)

    def post(form: tuple[str, str]) -> tuple[int, str]:
        token, cookie = form
        start.wait(timeout=30)
        status, text, _ = _request(port, "POST", "/login", cookie=cookie, body={
            "csrf_token": token, "email": EMAIL, "password": password})
        return status, text

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(post, forms))


@contextmanager
def _gunicorn(database_url: str, storage: str, prefix: str, tmp_path: Path,
              workers: int = 3) -> Iterator[tuple[int, Path]]:
    """gunicorn serving `challenge:create_app()`; yields the port and the access log."""
    port = _free_port()
    access_log = tmp_path / "access.log"
    env = dict(os.environ, APP_ENV="production", SECRET_KEY=SECRET_KEY,
               DATABASE_URL=database_url, UPLOAD_DIR=str(tmp_path / "uploads"),
               RATELIMIT_ENABLED="1", RATELIMIT_STORAGE_URI=storage,
               RATELIMIT_KEY_PREFIX=prefix,
               LOGIN_RATE_LIMIT_ACCOUNT=f"{ACCOUNT_LIMIT} per minute",
               LOGIN_RATE_LIMIT_IP="1000 per minute")
    server_log = (tmp_path / "gunicorn.log").open("wb")
    proc = subprocess.Popen(  # noqa: S603 - a fixed argument list
        [sys.executable, "-m", "gunicorn", "--workers", str(workers),
         "--bind", f"127.0.0.1:{port}", "--access-logfile", str(access_log),
         "--access-logformat", ACCESS_FORMAT,
         "--logger-class", "challenge.logredact.GunicornLogger", "challenge:create_app()"],
        cwd=ROOT, env=env, stdout=server_log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if _request(port, "GET", "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                server_log.flush()
                pytest.fail("gunicorn did not start:\n"
                            + (tmp_path / "gunicorn.log").read_text()[-3000:])
            time.sleep(0.2)
        _wait_for_every_worker(port, access_log, workers)
        yield port, access_log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        server_log.close()


def _wait_for_every_worker(port: int, access_log: Path, workers: int) -> None:
    """Each worker loads the app itself: wait (bounded) until every one has answered."""
    deadline = time.monotonic() + 90
    with ThreadPoolExecutor(max_workers=workers) as pool:
        while len({pid for pid, line, _ in _served(access_log) if "/healthz" in line}) < workers:
            if time.monotonic() > deadline:
                pytest.fail(f"not every gunicorn worker answered: {_served(access_log)}")
            list(pool.map(lambda _: _request(port, "GET", "/healthz"), range(workers)))
            time.sleep(0.1)


def _served(access_log: Path) -> list[tuple[str, str, int]]:
    """(worker pid, request line, status) of every access-log line, in order."""
    rows = []
    for line in access_log.read_text().splitlines():
        match = re.match(r'<(\d+)> "([^"]*)" (\d{3})', line)
        if match:
            rows.append((match.group(1), match.group(2), int(match.group(3))))
    return rows


def _make_user(database_url: str, tmp_path: Path) -> None:
    from challenge.accounts import services
    from challenge.db import session_scope

    app = create_app({"APP_ENV": "test", "DATABASE_URL": database_url,
                      "UPLOAD_DIR": str(tmp_path / "uploads")})
    with app.app_context(), session_scope(app) as s:
        services.create_user(s, EMAIL, password=PASSWORD, roles=["entrant"])
    app.extensions["db_engine"].dispose()


def _logins_succeeded(database_url: str, tmp_path: Path) -> int:
    from sqlalchemy import func

    from challenge.audit import AuditEvent
    from challenge.db import session_scope

    app = create_app({"APP_ENV": "test", "DATABASE_URL": database_url,
                      "UPLOAD_DIR": str(tmp_path / "uploads")})
    with app.app_context(), session_scope(app) as s:
        count = s.scalar(select(func.count(AuditEvent.id)).where(
            AuditEvent.action == "login.succeeded"))
    app.extensions["db_engine"].dispose()
    return count


def _counts(access_log: Path) -> tuple[Counter, Counter]:
    """Per worker pid: failed logins (401) it answered, and refusals (429) it answered."""
    logins = [(pid, status) for pid, line, status in _served(access_log)
              if line.startswith("POST /login")]
    return (Counter(pid for pid, status in logins if status == 401),
            Counter(pid for pid, status in logins if status == 429))


@pytest.mark.parametrize("storage", [os.environ.get("LIMIT_STORAGE_UNDER_TEST", REDIS_URL)])
def test_the_limit_holds_across_workers(database_url, redis_prefix, tmp_path, storage):
    _make_user(database_url, tmp_path)
    with _gunicorn(database_url, storage, redis_prefix, tmp_path) as (port, access_log):
        # The failures the limit allows.
        failures = _attempts_together(port, "a wrong password", ACCOUNT_LIMIT)
        assert [status for status, _ in failures] == [401] * ACCOUNT_LIMIT, failures
        # Then the correct password, until a worker that itself answered fewer failures
        # than the limit has refused (bounded): every answer must be a refusal.
        proof = None
        for _round in range(10):
            for status, text in _attempts_together(port, PASSWORD, 3):
                assert status == 429, (
                    f"{storage}: after {ACCOUNT_LIMIT} failed logins the correct password "
                    f"got {status}; failures per worker {dict(_counts(access_log)[0])}")
                assert "Too many attempts" in text
            failed_by, refused_by = _counts(access_log)
            proof = next((pid for pid in refused_by if failed_by[pid] < ACCOUNT_LIMIT), None)
            if proof is not None:
                break
        assert proof is not None, f"every refusal came from the one worker that counted " \
                                  f"all failures: {dict(failed_by)}, {dict(refused_by)}"
        # Something the access log must not keep: a link token in the path and Referer.
        _request(port, "GET", "/s/any-survey/resume/Resume-Token-0123456789",
                 headers={"Referer": f"http://127.0.0.1:{port}/password/reset/Reset-Tok-987"})
    assert _logins_succeeded(database_url, tmp_path) == 0
    if storage.startswith("redis"):  # the counters were in Redis, under this run's prefix
        client = _redis()
        assert list(client.scan_iter(match=f"*{redis_prefix}*account:{EMAIL}*"))
        client.close()
    text = access_log.read_text()
    assert "Resume-Token-0123456789" not in text and "Reset-Tok-987" not in text
    assert "/resume/[redacted]" in text and "/password/reset/[redacted]" in text
