"""Hold the database write lock from a separate process: `hold_lock.py DATABASE_URL SECONDS`.

SQLite: BEGIN IMMEDIATE on the database file (no other connection can write; WAL readers
carry on). PostgreSQL: an ACCESS EXCLUSIVE lock on the survey answers table. Prints
"locked" once the lock is held, sleeps, then rolls back and exits.
"""

from __future__ import annotations

import sqlite3
import sys
import time

from sqlalchemy.engine import make_url

ANSWERS_TABLE = "survey_answer"


def hold(url: str, seconds: float) -> None:
    """Take the lock, announce it on stdout, keep it `seconds`, let it go."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        conn = sqlite3.connect(parsed.database, isolation_level=None, timeout=30)
        conn.execute("BEGIN IMMEDIATE")
    else:
        import psycopg

        conn = psycopg.connect(parsed.set(drivername="postgresql")
                               .render_as_string(hide_password=False))
        conn.execute(f"LOCK TABLE {ANSWERS_TABLE} IN ACCESS EXCLUSIVE MODE")
    print("locked", flush=True)
    time.sleep(seconds)
    conn.execute("ROLLBACK")
    conn.close()


if __name__ == "__main__":
    hold(sys.argv[1], float(sys.argv[2]))
