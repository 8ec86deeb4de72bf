"""What every load and fault scenario shares: the outcome line, a thread-safe tally of
answers, retrying a POST with its idempotency key, and the per-scenario time limit."""

from __future__ import annotations

import http.client
import random
import re
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from bench.common import Browser, Reply, Server

REQUEST_TIMEOUT = 30.0  # seconds one request may take before it counts as "no answer"
NO_ANSWER = (OSError, http.client.HTTPException)  # reset, refused, timed out, cut short


@dataclass
class Context:
    """What every scenario gets: an app on the scratch database (for setting up and
    counting), its URL, the running server and a seeded random generator."""

    app: Any
    db_url: str
    server: Server
    workers: int
    rng: random.Random

    @property
    def port(self) -> int:
        return self.server.port


def until(seconds: float) -> float:
    """A deadline `seconds` from now, on the time.monotonic() clock."""
    return time.monotonic() + seconds


class ScenarioTimeout(Exception):
    """The scenario ran past its hard time limit."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise ScenarioTimeout in the main thread once `seconds` have passed."""

    def _expired(_signum, _frame):
        raise ScenarioTimeout(f"stopped after its {seconds:.0f} s limit")

    previous = signal.signal(signal.SIGALRM, _expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Outcome:
    """The result of one scenario, printed as one line."""

    sent: int = 0
    stored: int = 0
    lost: int = 0
    server_errors: int = 0
    p95_ms: float | None = None
    extra: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.problems or self.lost or self.server_errors)

    def add(self, other: Outcome) -> None:
        """Count `other` (another part of the same scenario) in this one."""
        self.sent += other.sent
        self.stored += other.stored
        self.lost += other.lost
        self.server_errors += other.server_errors
        self.extra += other.extra
        self.problems += other.problems

    def line(self, name: str) -> str:
        """`name: 200 sent, 200 stored, 0 lost, 0 server errors[, p95 N ms][, extras]`."""
        parts = [f"{self.sent} sent", f"{self.stored} stored", f"{self.lost} lost",
                 f"{self.server_errors} server errors"]
        if self.p95_ms is not None:
            parts.append(f"p95 {self.p95_ms:.0f} ms")
        parts += self.extra
        if self.failed:
            reasons = self.problems or ["see the counts"]
            more = f" (+{len(reasons) - 3} more)" if len(reasons) > 3 else ""
            parts.append("FAILED: " + "; ".join(reasons[:3]) + more)
        return f"{name}: " + ", ".join(parts)


def p95(latencies: list[float]) -> float | None:
    """The 95th percentile of latencies (seconds) in milliseconds, None when there are none."""
    if not latencies:
        return None
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1000


def visible_text(html: str) -> str:
    """The words of a page without its markup (for short diagnostics)."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def is_server_error(reply: Reply) -> bool:
    """A 5xx, except a 503 with Retry-After: that one is a deliberate "try again"."""
    return reply.status >= 500 and not (reply.status == 503 and "retry-after" in reply.headers)


class Tally:
    """Every answer of a scenario, counted from many threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.statuses: Counter[int] = Counter()
        self.latencies: list[float] = []
        self.server_errors = 0
        self.busy = 0  # 503 with Retry-After
        self.no_answer = 0
        self.retried_clients = 0
        self.notes: list[str] = []

    def record(self, reply: Reply, seconds: float) -> None:
        with self._lock:
            self.statuses[reply.status] += 1
            self.latencies.append(seconds)
            if is_server_error(reply):
                self.server_errors += 1
            elif reply.status == 503:
                self.busy += 1

    def failed_request(self, exc: BaseException) -> None:
        with self._lock:
            self.no_answer += 1
            if len(self.notes) < 5:
                self.notes.append(f"{type(exc).__name__}: {exc}")

    def retried(self) -> None:
        with self._lock:
            self.retried_clients += 1

    def timed(self, browser: Browser, method: str, path: str, body: dict | None = None,
              **kwargs) -> Reply:
        """One request, its answer recorded (no-answer errors propagate after counting)."""
        t0 = time.perf_counter()
        try:
            reply = browser.send(method, path, body, timeout=REQUEST_TIMEOUT, **kwargs)
        except NO_ANSWER as exc:
            self.failed_request(exc)
            raise
        self.record(reply, time.perf_counter() - t0)
        return reply


RETRYABLE = (502, 503, 504)
RETRY_AFTER_CAP = 3.0  # do not let a scenario sleep longer than this per retry


def post_until_answered(tally: Tally, browser: Browser, path: str, form: dict, *,
                        deadline: float, attempts: int = 8,
                        files: dict[str, tuple[str, bytes, str]] | None = None,
                        before_retry: Callable[[Reply | None], None] | None = None,
                        on_reply: Callable[[Reply], None] | None = None) -> Reply | None:
    """POST `form` (which carries its idempotency key) until the server gives a final
    answer: retried with the same form after no answer, 502, 503 or 504 (waiting
    Retry-After, capped), at most `attempts` times and not past `deadline`
    (time.monotonic()). Returns the final reply, or None when none came."""
    last: Reply | None = None
    for attempt in range(attempts):
        if attempt == 1:
            tally.retried()
        try:
            last = tally.timed(browser, "POST", path, form, files=files)
        except NO_ANSWER:
            last = None
        else:
            if on_reply is not None:
                on_reply(last)
            if last.status not in RETRYABLE:
                return last
        if time.monotonic() > deadline or attempt == attempts - 1:
            break
        if before_retry is not None:
            before_retry(last)
        wait = min(RETRY_AFTER_CAP, 0.25 * 2 ** attempt)
        if last is not None and last.headers.get("retry-after", "").isdigit():
            wait = min(RETRY_AFTER_CAP, float(last.headers["retry-after"]))
        time.sleep(max(0.0, min(wait, deadline - time.monotonic())))
    return last
