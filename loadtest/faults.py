"""The faults the scenarios inject: a killed gunicorn worker and a database write lock held
by another process."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.common import Server

HOLD_LOCK = Path(__file__).resolve().parent / "hold_lock.py"


def kill_worker(server: Server) -> int:
    """SIGKILL one worker of `server` (a child of the master); return its pid."""
    workers = server.worker_pids()
    if not workers:
        raise RuntimeError("gunicorn has no workers to kill")
    victim = workers[0]
    os.kill(victim, signal.SIGKILL)
    return victim


def wait_for_workers(server: Server, count: int, gone: int, timeout: float = 20.0) -> bool:
    """Whether the master is back to `count` workers, none of them `gone`, in time."""
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        pids = server.worker_pids()
        if len(pids) == count and gone not in pids:
            return True
        time.sleep(0.2)
    return False


@contextmanager
def holding_write_lock(db_url: str, seconds: float) -> Iterator[threading.Event]:
    """Another process holds the write lock for `seconds` from when this block starts;
    yields an Event set once that process has let go (and ended)."""
    proc = subprocess.Popen([sys.executable, str(HOLD_LOCK), db_url, str(seconds)],
                            stdout=subprocess.PIPE, text=True, start_new_session=True)
    released = threading.Event()
    finished = False
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 20)
        if not ready or proc.stdout.readline().strip() != "locked":
            raise RuntimeError("the lock-holding process did not get the lock")

        def _watch() -> None:
            proc.wait()
            released.set()

        threading.Thread(target=_watch, daemon=True).start()
        yield released
        finished = True
    finally:
        if not finished:  # an error or a time limit: let go of the lock now
            proc.kill()
        try:
            proc.wait(timeout=seconds + 15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        released.set()
