"""Simulated patients answering a two-page anonymous survey, and counting in the database
what they stored.

Each patient writes a private marker into the free-text answer, so the database can say
how many submitted responses each one has (exactly one is right, whatever was retried).
"""

from __future__ import annotations

import random
import re
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy import func, select

from bench.common import SEGMENTS, Browser, Reply, SurveyInfo, csrf_token, random_text
from loadtest.harness import Outcome, Tally, post_until_answered

MARKER = re.compile(r"\blt[0-9a-f]{16}\b")
PREPARE_CONCURRENCY = 8
T = TypeVar("T")


class Patient:
    """One anonymous respondent: a browser, answers for both pages, a marker in the free
    text and one idempotency key for the submit (the same on every retry)."""

    def __init__(self, port: int, info: SurveyInfo, rng: random.Random):
        self.browser = Browser(port)
        self.info = info
        self.marker = f"lt{uuid.uuid4().hex[:16]}"
        self.key = uuid.uuid4().hex
        self.token = ""
        self.needs = {}
        for key in info.need_keys:
            self.needs[f"q_{key}.importance"] = str(rng.randint(1, 5))
            self.needs[f"q_{key}.satisfaction"] = str(rng.randint(1, 5))
        self.about = {f"q_{key}": rng.choice(values) for key, values in SEGMENTS.items()}
        self.about[f"q_{info.text_key}"] = f"{random_text(rng)} Reference {self.marker}"
        self.final: Reply | None = None

    def path(self, number: int | None = None) -> str:
        base = f"/s/{self.info.slug}"
        return base if number is None else f"{base}/page/{number}"

    @property
    def thanks(self) -> str:
        return f"/s/{self.info.slug}/thanks"

    def prepare(self, tally: Tally) -> None:
        """Landing page, consent, page 1 filled in: ready to submit page 2."""
        reply = tally.timed(self.browser, "GET", self.path())
        self.token = csrf_token(reply.body)
        reply = tally.timed(self.browser, "POST", self.path(),
                            {"csrf_token": self.token, "consent": "yes",
                             "idempotency_key": uuid.uuid4().hex})
        _expect_redirect(reply, self.path(1), "consent")
        reply = tally.timed(self.browser, "POST", self.path(1),
                            {"csrf_token": self.token, "action": "next",
                             "idempotency_key": uuid.uuid4().hex, **self.needs})
        _expect_redirect(reply, self.path(2), "page 1")

    def submit_form(self) -> dict:
        """The submit POST of page 2, with this patient's idempotency key."""
        return {"csrf_token": self.token, "action": "submit", "idempotency_key": self.key,
                **self.about}

    def submit(self, tally: Tally, deadline: float, **retry) -> Reply | None:
        """Submit page 2, retrying with the same key until a final answer."""
        self.final = post_until_answered(tally, self.browser, self.path(2),
                                         self.submit_form(), deadline=deadline, **retry)
        return self.final

    def thanked(self, reply: Reply | None = None) -> bool:
        """Whether `reply` (default: the final one) is the redirect to the thank-you page."""
        reply = reply if reply is not None else self.final
        return reply is not None and reply.status in (302, 303) and reply.location == self.thanks


def _expect_redirect(reply: Reply, target: str, step: str) -> None:
    if reply.status not in (302, 303) or reply.location != target:
        raise RuntimeError(f"{step}: HTTP {reply.status} to {reply.location or '-'} "
                           f"(expected a redirect to {target})")


def prepare_all(patients: list[Patient], tally: Tally) -> None:
    """Bring every patient to the submit page, a few at a time."""
    with ThreadPoolExecutor(PREPARE_CONCURRENCY) as pool:
        list(pool.map(lambda p: p.prepare(tally), patients))


def release_together(items: list[T], call: Callable[[T], object],
                     during: Callable[[], None] | None = None) -> None:
    """Start `call(item)` for every item at the same instant (one thread each, behind a
    barrier); run `during()` in this thread once they are released; wait for all."""
    barrier = threading.Barrier(len(items) + 1, timeout=120)

    def client(item: T) -> None:
        barrier.wait()
        call(item)

    with ThreadPoolExecutor(len(items)) as pool:
        futures = [pool.submit(client, item) for item in items]
        try:
            barrier.wait()
            if during is not None:
                during()
            for future in futures:
                future.result()
        except BaseException:
            barrier.abort()  # a time limit or an error: nobody waits at the barrier
            raise


def stored_per_marker(app, survey_id: int) -> tuple[Counter[str], int]:
    """Submitted responses per marker in the survey, and how many (response, question)
    pairs have more than one answer row (a half-merged double write)."""
    from challenge.db import db_session
    from surveys.models import Answer, Response

    with app.app_context():
        dbs = db_session()
        texts = dbs.scalars(
            select(Answer.text).join(Response, Answer.response_id == Response.id)
            .where(Response.survey_id == survey_id, Response.status == "submitted",
                   Answer.text.is_not(None)))
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(set(MARKER.findall(text)))
        # The load-test survey has no multiple-choice question: one row per question.
        repeated = (select(Answer.response_id)
                    .join(Response, Answer.response_id == Response.id)
                    .where(Response.survey_id == survey_id)
                    .group_by(Answer.response_id, Answer.question_id)
                    .having(func.count() > 1))
        doubled = dbs.scalar(select(func.count()).select_from(repeated.subquery()))
        return counts, doubled or 0


def survey_outcome(app, info: SurveyInfo, patients: list[Patient], *tallies: Tally,
                   check_final: bool = True) -> Outcome:
    """Sent, stored (in the database), lost, server errors; a problem for every patient
    with more than one stored response or without the thank-you page."""
    counts, doubled = stored_per_marker(app, info.survey_id)
    outcome = Outcome(sent=len(patients))
    outcome.stored = sum(1 for p in patients if counts[p.marker] >= 1)
    outcome.lost = outcome.sent - outcome.stored
    outcome.server_errors = sum(t.server_errors for t in tallies)
    twice = sum(1 for p in patients if counts[p.marker] > 1)
    if twice:
        outcome.problems.append(f"{twice} patients stored more than once")
    if doubled:
        outcome.problems.append(f"{doubled} answers stored twice within one response")
    if check_final:
        unthanked = [p for p in patients if not p.thanked()]
        if unthanked:
            example = unthanked[0].final
            seen = (f"HTTP {example.status} to {example.location or '-'}" if example
                    else "no answer")
            outcome.problems.append(f"{len(unthanked)} patients did not get the thank-you "
                                    f"redirect (e.g. {seen})")
    no_answer = sum(t.no_answer for t in tallies)
    if no_answer:
        outcome.extra.append(f"{no_answer} requests without answer")
    busy = sum(t.busy for t in tallies)
    if busy:
        outcome.extra.append(f"{busy} answered 503 Retry-After")
    return outcome
