"""Survey scenarios: a burst of 200 submits, the same with a worker killed, double posts,
the write lock held 2 s and 10 s, and a soak with the workers' memory watched."""

from __future__ import annotations

import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from bench.common import Browser, Reply, create_survey, log, rss_kib
from loadtest.faults import holding_write_lock, kill_worker, wait_for_workers
from loadtest.harness import (
    NO_ANSWER,
    Context,
    Outcome,
    Tally,
    p95,
    post_until_answered,
    until,
    visible_text,
)
from loadtest.people import Patient, prepare_all, release_together, survey_outcome

BURST = 200
DOUBLE_POSTERS = 20  # per kind: at once, and in a row
LOCKED_PATIENTS = 30
KILL_AFTER = 0.3  # seconds into the burst
SOAK_SECONDS = 60.0
SOAK_REQUESTS = 1200  # five minutes at 4 requests a second
SOAK_CONCURRENCY = 16
MEMORY_GROWTH_LIMIT = 10.0  # per cent, warm point to end
SUBMIT_SECONDS = 60.0  # how long a patient keeps retrying


def _patients(ctx: Context, name: str, count: int) -> tuple[list[Patient], Tally]:
    info = create_survey(ctx.app, f"lt-{name}-{uuid.uuid4().hex[:6]}", two_pages=True)
    patients = [Patient(ctx.port, info, ctx.rng) for _ in range(count)]
    prep = Tally()
    log(f"{name}: {count} patients give consent and fill page 1")
    prepare_all(patients, prep)
    return patients, prep


def burst(ctx: Context) -> Outcome:
    """200 patients submit at the same instant."""
    patients, prep = _patients(ctx, "burst", BURST)
    tally = Tally()
    deadline = until(SUBMIT_SECONDS)
    log(f"burst: {BURST} submits released together")
    release_together(patients, lambda p: p.submit(tally, deadline))
    outcome = survey_outcome(ctx.app, patients[0].info, patients, prep, tally)
    outcome.p95_ms = p95(tally.latencies)
    return outcome


def worker_kill(ctx: Context) -> Outcome:
    """The burst, with one worker SIGKILLed while it runs; failed requests are retried with
    the same idempotency key."""
    patients, prep = _patients(ctx, "kill", BURST)
    tally = Tally()
    deadline = until(SUBMIT_SECONDS)
    killed: list[int] = []

    def kill() -> None:
        time.sleep(KILL_AFTER)
        killed.append(kill_worker(ctx.server))
        log(f"worker-kill: worker {killed[0]} killed {KILL_AFTER} s into the burst")

    log(f"worker-kill: {BURST} submits released together")
    release_together(patients, lambda p: p.submit(tally, deadline), during=kill)
    outcome = survey_outcome(ctx.app, patients[0].info, patients, prep, tally)
    outcome.extra.append(f"{tally.retried_clients} retried")
    if not wait_for_workers(ctx.server, ctx.workers, killed[0]):
        outcome.problems.append("gunicorn did not replace the killed worker")
    return outcome


def duplicate_posts(ctx: Context) -> Outcome:
    """Each patient's submit sent twice at once (a double click) or twice in a row (a
    resend after the answer): both answers are the thank-you redirect, one response."""
    at_once, prep = _patients(ctx, "double", DOUBLE_POSTERS * 2)
    in_a_row, at_once = at_once[DOUBLE_POSTERS:], at_once[:DOUBLE_POSTERS]
    tally = Tally()
    deadline = until(SUBMIT_SECONDS)
    replies: dict[tuple[int, int], Reply | None] = {}  # (patient, 1st or 2nd) -> answer
    second: dict[int, Reply | None] = {}  # patient -> answer to the repeat

    def one_of_two(item: tuple[Patient, int]) -> None:
        patient, n = item
        replies[id(patient), n] = post_until_answered(
            tally, patient.browser, patient.path(2), patient.submit_form(), deadline=deadline)

    def twice_in_a_row(patient: Patient) -> None:
        first = patient.submit(tally, deadline)
        second[id(patient)] = patient.submit(tally, deadline)
        patient.final = first

    log(f"duplicate-posts: {DOUBLE_POSTERS} double clicks, {DOUBLE_POSTERS} resends")
    release_together([(p, n) for p in at_once for n in (0, 1)], one_of_two)
    for patient in at_once:
        patient.final, second[id(patient)] = replies[id(patient), 0], replies[id(patient), 1]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(twice_in_a_row, in_a_row))
    everyone = at_once + in_a_row
    outcome = survey_outcome(ctx.app, everyone[0].info, everyone, prep, tally)
    unlike = [p for p in everyone if not p.thanked(second[id(p)])]
    if unlike:
        reply = second[id(unlike[0])]
        seen = f"HTTP {reply.status} to {reply.location or '-'}" if reply else "no answer"
        outcome.problems.append(f"{len(unlike)} repeated survey submits did not get the same "
                                f"redirect (e.g. {seen})")
    return outcome


def _locked(ctx: Context, seconds: float) -> tuple[Outcome, Tally]:
    """Submits released together while another process holds the write lock `seconds`;
    a patient answered 503 waits for the lock to go, then retries with the same key."""
    patients, prep = _patients(ctx, f"lock{seconds:.0f}", LOCKED_PATIENTS)
    tally = Tally()
    deadline = until(SUBMIT_SECONDS)
    kept_answers = {"refused": 0, "kept": 0}
    counting = threading.Lock()

    def check(patient: Patient, reply: Reply) -> None:
        if reply.status != 503:
            return
        kept = patient.marker in reply.body
        with counting:
            kept_answers["refused"] += 1
            kept_answers["kept"] += kept
            if not kept and kept_answers["refused"] - kept_answers["kept"] == 1:
                log(f"lock-{seconds:.0f}s: a 503 page without the typed answers: "
                    f"{visible_text(reply.body)[:600]}")

    log(f"lock-{seconds:.0f}s: the write lock held {seconds:.0f} s; "
        f"{LOCKED_PATIENTS} submits meanwhile")
    with holding_write_lock(ctx.db_url, seconds) as released:
        release_together(patients, lambda p: p.submit(
            tally, deadline, before_retry=lambda _r: released.wait(seconds + 15),
            on_reply=lambda r, p=p: check(p, r)))
    outcome = survey_outcome(ctx.app, patients[0].info, patients, prep, tally)
    outcome.p95_ms = p95(tally.latencies)
    if kept_answers["kept"] < kept_answers["refused"]:
        outcome.problems.append(f"{kept_answers['refused'] - kept_answers['kept']} of "
                                f"{kept_answers['refused']} 503 pages lost what was typed")
    return outcome, tally


def lock_2s(ctx: Context) -> Outcome:
    """The write lock held 2 s by another process: every submit succeeds, only slower."""
    outcome, tally = _locked(ctx, 2.0)
    if tally.busy:
        outcome.problems.append(f"{tally.busy} submits refused (503) during a 2 s lock")
    return outcome


def lock_10s(ctx: Context) -> Outcome:
    """The write lock held 10 s: submits get a clear 503 with Retry-After on a page that
    keeps the answers; after the lock is released the retries store every response."""
    outcome, tally = _locked(ctx, 10.0)
    if not tally.busy:
        outcome.problems.append("no submit was refused with 503 while the lock was held "
                                "10 s (is the lock wait limited?)")
    return outcome


def soak(ctx: Context) -> Outcome:
    """A steady mix of survey submits and page reads at a fixed rate: the requests of five
    minutes at 4 a second, sent in about a minute; worker memory must not grow 10%."""
    flows = SOAK_REQUESTS // 8  # a flow is 4 requests; 4 page reads go with each
    info = create_survey(ctx.app, f"lt-soak-{uuid.uuid4().hex[:6]}", two_pages=True)
    rng = random.Random(7)
    patients = [Patient(ctx.port, info, ctx.rng) for _ in range(flows)]
    pages = ["/surveys", f"/s/{info.slug}", "/challenges", "/healthz"]
    tasks: list[Patient | str] = [*patients, *(rng.choice(pages) for _ in range(flows * 4))]
    rng.shuffle(tasks)
    tally = Tally()
    deadline = until(SOAK_SECONDS * 2)
    reader = Browser(ctx.port)

    def run(task: Patient | str) -> None:
        if isinstance(task, str):
            try:
                reply = tally.timed(reader, "GET", task)
            except NO_ANSWER:
                return
            if reply.status != 200:
                tally.notes.append(f"GET {task}: HTTP {reply.status}")
            return
        try:
            task.prepare(tally)
        except (*NO_ANSWER, RuntimeError) as exc:
            tally.notes.append(str(exc))
            return
        task.submit(tally, deadline)

    interval = SOAK_SECONDS / len(tasks)
    warm_at = len(tasks) // 5
    warm: dict[int, int] = {}
    log(f"soak: {len(tasks)} tasks ({flows} submits, {flows * 4} page reads, "
        f"{SOAK_REQUESTS} requests) over {SOAK_SECONDS:.0f} s")
    start = time.monotonic()
    with ThreadPoolExecutor(SOAK_CONCURRENCY) as pool:
        futures = []
        try:
            for i, task in enumerate(tasks):
                time.sleep(max(0.0, start + i * interval - time.monotonic()))
                if i == warm_at:
                    warm = {pid: rss_kib(pid) for pid in ctx.server.worker_pids()}
                futures.append(pool.submit(run, task))
            for future in futures:
                future.result()
        except BaseException:
            pool.shutdown(cancel_futures=True)  # a time limit: drop what has not started
            raise
    elapsed = time.monotonic() - start
    end = {pid: rss_kib(pid) for pid in ctx.server.worker_pids()}
    log(f"soak: worker RSS KiB at the warm point {warm}, at the end {end}")
    outcome = survey_outcome(ctx.app, info, patients, tally)
    outcome.p95_ms = p95(tally.latencies)
    requests = sum(tally.statuses.values()) + tally.no_answer
    growth = 100.0 * (sum(end.values()) - sum(warm.values())) / max(1, sum(warm.values()))
    outcome.extra.append(f"memory {growth:+.1f}% ({sum(warm.values()) / 1024:.0f} to "
                         f"{sum(end.values()) / 1024:.0f} MiB in {len(end)} workers)")
    outcome.extra.append(f"{requests} requests in {elapsed:.0f} s")
    if set(end) != set(warm):
        outcome.problems.append("a worker was replaced during the soak")
    elif growth >= MEMORY_GROWTH_LIMIT:
        outcome.problems.append(f"worker memory grew {growth:.1f}%")
    if tally.notes:
        outcome.problems.append(f"{len(tally.notes)} requests failed (e.g. {tally.notes[0]})")
    return outcome
