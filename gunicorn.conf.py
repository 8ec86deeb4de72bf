"""gunicorn settings: the production worker setup (README "Production"; `make bench`).

Run from the repository root: `gunicorn -c gunicorn.conf.py` (gunicorn also reads this file
by itself when started here). Command-line options (`-w`, `-b`) override what is below.

- Sync workers, as many as `WEB_CONCURRENCY` says, else one per CPU core plus one: requests
  are short and mostly CPU, and the extra worker runs while another waits for the database.
  On a 2-core machine five workers served no more survey submissions than three (SQLite
  and PostgreSQL) and spent about a fifth more CPU on each (SQLite: contending for the
  write lock).
- The app is built once in the master and forked (`preload_app`): workers start at once,
  share memory, and get caches warmed in the master (the adverse-event lexicon); each
  worker then opens its own database connections.
"""

from __future__ import annotations

import multiprocessing
import os

wsgi_app = "challenge:create_app()"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY") or multiprocessing.cpu_count() + 1)
worker_class = "sync"
preload_app = True
timeout = 30
graceful_timeout = 10


def when_ready(server) -> None:
    """Compile what every worker needs once, before forking them."""
    app = server.app.wsgi()
    with app.app_context():
        from challenge.safety.services import lexicon_for_app

        lexicon_for_app()


def post_fork(server, worker) -> None:
    """Never share the master's database connections (if any) with a forked worker."""
    app = worker.app.wsgi()
    app.extensions["db_engine"].dispose(close=False)
