"""`make loadtest`: a bounded load and fault suite against a real server.

Starts gunicorn (4 sync workers) on 127.0.0.1 over a fresh scratch database (SQLite in WAL
mode in a temp dir; with `DATABASE_URL=postgresql+psycopg://...` a scratch PostgreSQL
database created beside that one and dropped afterwards), then runs:

  load survey-burst     200 patients (consent and page 1 done) submit at the same instant
  fault worker-kill     the same while one worker is SIGKILLed; failed requests are retried
                        with the same idempotency key
  load duplicate-posts  survey and team submits sent twice at once and twice in a row
  load deadline         60 teams upload and submit, staggered across a deadline set a few
                        seconds ahead in server time
  fault lock-2s         another process holds the write lock 2 s: every submit succeeds
  fault lock-10s        ... 10 s: clear 503 + Retry-After keeping the answers; retries store
  load soak             5 minutes' worth of submits and page reads at a fixed rate in about
                        a minute; worker memory (RSS from /proc) must grow less than 10%

Each scenario prints one line to stdout,

    load survey-burst: 200 sent, 200 stored, 0 lost, 0 server errors, p95 640 ms

where "stored" is counted in the database (every patient writes a private marker into
their free-text answer, so each must have exactly one submitted response), "lost" is what
should have been stored and was not, and "server errors" counts 5xx answers other than a
503 with Retry-After. A failed scenario ends its line with "FAILED: reasons". The last line
is `loadtest: N scenarios, F failed, ...`; the exit status is 1 when any scenario failed.
Progress goes to stderr.

Bounded: fixed request counts, a hard time limit per scenario (60-120 s), 30 s per
request, loopback only. The server's process group, the scratch database and every temp
file are removed at the end, also after a failure, Ctrl-C or SIGTERM.

    .venv/bin/python loadtest/run.py              # every scenario
    .venv/bin/python loadtest/run.py burst soak   # the scenarios whose names contain these
"""

from __future__ import annotations

import os
import random
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import log, make_app, scratch_database, serve  # noqa: E402
from loadtest import survey_scenarios as surveys  # noqa: E402
from loadtest import team_scenarios as teams  # noqa: E402
from loadtest.harness import Context, Outcome, time_limit  # noqa: E402

WORKERS = 4
# The load test measures requests, not password hashing: its accounts use a cheap hash.
FAST_HASH = "pbkdf2:sha256:1000"
SERVER_ENV = {"DB_LOCK_TIMEOUT_SECONDS": "5"}


def duplicate_posts(ctx: Context) -> Outcome:
    """Survey submits and team submits, each sent twice."""
    outcome = surveys.duplicate_posts(ctx)
    outcome.add(teams.duplicate_submits(ctx))
    outcome.extra.insert(0, "each sent twice")
    return outcome


# (name, scenario, hard time limit in seconds)
SCENARIOS = [
    ("load survey-burst", surveys.burst, 90),
    ("fault worker-kill", surveys.worker_kill, 90),
    ("load duplicate-posts", duplicate_posts, 90),
    ("load deadline", teams.deadline, 90),
    ("fault lock-2s", surveys.lock_2s, 60),
    ("fault lock-10s", surveys.lock_10s, 75),
    ("load soak", surveys.soak, 120),
]


def run_one(ctx: Context, name: str, scenario, limit: float) -> Outcome:
    """One scenario under its time limit; an exception is a failed scenario."""
    started = time.monotonic()
    try:
        with time_limit(limit):
            outcome = scenario(ctx)
    except Exception as exc:  # any error fails this scenario only
        outcome = Outcome(problems=[f"{type(exc).__name__}: {exc}"])
    log(f"{name}: {time.monotonic() - started:.1f} s")
    if outcome.server_errors:
        for line in ctx.server.log_path.read_text(errors="replace").splitlines()[-400:]:
            if "unhandled" in line or "Error" in line:
                log(f"server: {line[:300]}")
    return outcome


def _stop(signum, _frame) -> None:
    # SIGTERM (a CI time limit, kill): unwind like Ctrl-C so every `finally` cleans up.
    raise SystemExit(128 + signum)


def main(words: list[str]) -> int:
    """Run the scenarios whose names contain one of `words` (all without words); print
    their lines and the summary; return the exit status."""
    signal.signal(signal.SIGTERM, _stop)
    selected = [s for s in SCENARIOS if not words or any(w in s[0] for w in words)]
    engine = "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgres") \
        else "sqlite"
    printed: set[str] = set()
    failed = 0
    started = time.monotonic()
    setup_error = ""
    try:
        with tempfile.TemporaryDirectory(prefix="loadtest-") as work, \
                scratch_database() as url:
            app = make_app(url, UPLOAD_DIR=work, PASSWORD_HASH_METHOD=FAST_HASH)
            if engine == "sqlite":
                with app.extensions["db_engine"].connect() as conn:
                    mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
                log(f"scratch SQLite database in journal mode {mode}")
            with serve(url, WORKERS, env=SERVER_ENV) as server:
                ctx = Context(app, url, server, WORKERS, random.Random(2027))
                for name, scenario, limit in selected:
                    outcome = run_one(ctx, name, scenario, limit)
                    print(outcome.line(name), flush=True)
                    printed.add(name)
                    failed += outcome.failed
                log("stopping the server")
            app.extensions["db_engine"].dispose()
            log("removing the scratch database")
        log("cleaned up")
    except Exception as exc:  # reported as failed scenarios below
        setup_error = f"{type(exc).__name__}: {exc}"
        log(f"setup failed: {setup_error}")
    except (KeyboardInterrupt, SystemExit):  # cleaned up on the way out; report and stop
        setup_error = "interrupted"
    for name, _scenario, _limit in selected:
        if name not in printed:
            print(Outcome(problems=[f"not run ({setup_error or 'stopped'})"]).line(name),
                  flush=True)
            failed += 1
    print(f"loadtest: {len(selected)} scenarios, {failed} failed, {engine}, "
          f"{time.monotonic() - started:.0f} s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
