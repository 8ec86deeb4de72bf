"""Team scenarios: 60 teams submitting around the deadline, and double-posted submits.

Accounts and teams are created in the scratch database through the services; everything
a team does afterwards (log in, save its draft, upload, submit) goes through the server.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bench.common import Browser, Reply, csrf_token, log, random_text
from loadtest.harness import Context, Outcome, Tally, p95, post_until_answered, until
from loadtest.people import release_together

PASSWORD = "loadtest-entrant-password-2027"  # noqa: S105 - scratch database only
DEADLINE_TEAMS = 60
DEADLINE_SPREAD = 6.0  # seconds of submits, half before and half after the deadline
DEADLINE_LEAD = 2.0  # seconds between setting the deadline and the first submit
DOUBLE_TEAMS = 5  # per kind: at once, and in a row
SUBMIT_SECONDS = 60.0
_RECEIPT = re.compile(r"content hash ([0-9a-f]{64})")
_ENTRY_HASH = re.compile(r'id="entry-hash">([0-9a-f]{64})<')


@dataclass
class Entrant:
    """A one-person team: its browser, what it saved and sends, and what came back."""

    email: str
    team_id: int
    browser: Browser
    slug: str
    title: str
    summary: str
    token: str = ""
    file: bytes = b""
    file_sha256: str = ""
    file_accepted: bool = False
    submit_reply: Reply | None = None
    submit_sent: float = 0.0  # wall clock, the same clock the server uses
    submit_answered: float = 0.0
    receipt: str = ""
    entry_hash: str = ""

    @property
    def editor(self) -> str:
        return f"/c/{self.slug}/submission"

    def expected_hash(self) -> str:
        """SHA-256 of the canonical JSON of what this team sent (the receipt's hash)."""
        document = {"title": self.title, "summary": self.summary, "needs": [],
                    "demo_url": "", "repo_url": "",
                    "files": [self.file_sha256] if self.file_accepted else []}
        canonical = json.dumps(document, sort_keys=True, ensure_ascii=False,
                               separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def submit(self, tally: Tally, deadline: float) -> Reply | None:
        """The submit POST (one idempotency key, kept on retries)."""
        form = {"csrf_token": self.token, "idempotency_key": uuid.uuid4().hex}
        return post_until_answered(tally, self.browser, f"{self.editor}/submit", form,
                                   deadline=deadline)

    def read_receipt(self, tally: Tally, reply: Reply) -> None:
        """Follow the submit's redirect: the receipt shown (if any) and the entry's hash."""
        page = tally.timed(self.browser, "GET", reply.location)
        found = _RECEIPT.search(page.body)
        self.receipt = self.receipt or (found.group(1) if found else "")
        found = _ENTRY_HASH.search(page.body)
        self.entry_hash = found.group(1) if found else ""


def create_challenge(app, slug: str, deadline: datetime) -> int:
    """A published challenge open for registration and submissions until `deadline`."""
    from challenge.challenges.models import Challenge
    from challenge.db import db_session

    now = datetime.now(UTC)
    with app.app_context():
        dbs = db_session()
        challenge = Challenge(
            slug=slug, title=f"Load test {slug}", description="Generated.",
            registration_opens=now - timedelta(days=1), submission_deadline=deadline,
            judging_closes=now + timedelta(days=30), results_at=now + timedelta(days=40),
            published=True, created_at=now, updated_at=now)
        dbs.add(challenge)
        dbs.commit()
        return challenge.id


def set_deadline(app, challenge_id: int, deadline: datetime) -> None:
    from challenge.challenges.models import Challenge
    from challenge.db import db_session

    with app.app_context():
        dbs = db_session()
        dbs.get(Challenge, challenge_id).submission_deadline = deadline
        dbs.commit()


def enrol(ctx: Context, slug: str, count: int, prep: Tally) -> list[Entrant]:
    """`count` entrants, each captain of a team of one (through the services), then
    logged in with a saved draft (through the server)."""
    from challenge.accounts import services as accounts
    from challenge.challenges import teams
    from challenge.challenges.models import Challenge
    from challenge.db import db_session

    rng = random.Random(slug)
    entrants = []
    with ctx.app.app_context():
        dbs = db_session()
        challenge = dbs.scalar(select(Challenge).where(Challenge.slug == slug))
        for i in range(count):
            email = f"entrant-{i:03d}@{slug}.loadtest.example"
            user = accounts.create_user(dbs, email, password=PASSWORD, roles=["entrant"],
                                        name=f"Entrant {i}")
            team = teams.create_team(dbs, challenge, user, f"Load team {i:03d}")
            entrants.append(Entrant(email, team.id, Browser(ctx.port), slug,
                                    title=f"Project {i:03d} {uuid.uuid4().hex[:8]}",
                                    summary=random_text(rng)))
        dbs.commit()

    def start(entrant: Entrant) -> None:
        page = prep.timed(entrant.browser, "GET", "/login")
        reply = prep.timed(entrant.browser, "POST", "/login", {
            "csrf_token": csrf_token(page.body), "email": entrant.email,
            "password": PASSWORD})
        if reply.status != 302:
            raise RuntimeError(f"login of {entrant.email}: HTTP {reply.status}")
        page = prep.timed(entrant.browser, "GET", entrant.editor)
        entrant.token = csrf_token(page.body)
        reply = prep.timed(entrant.browser, "POST", entrant.editor, {
            "csrf_token": entrant.token, "title": entrant.title,
            "summary": entrant.summary, "demo_url": "", "repo_url": "",
            "idempotency_key": uuid.uuid4().hex})
        if reply.status != 302:
            raise RuntimeError(f"draft of {entrant.email}: HTTP {reply.status}")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(start, entrants))
    return entrants


def _rows(app, challenge_id: int):
    """(submissions by team, versions by submission, file rows, receipts by address)."""
    from challenge.challenges.models import Submission, SubmissionFile, SubmissionVersion
    from challenge.db import db_session
    from challenge.outbox import OutboxMessage

    with app.app_context():
        dbs = db_session()
        submissions = {s.team_id: s for s in dbs.scalars(
            select(Submission).where(Submission.challenge_id == challenge_id))}
        ids = [s.id for s in submissions.values()]
        versions: dict[int, list] = {}
        for v in dbs.scalars(select(SubmissionVersion)
                             .where(SubmissionVersion.submission_id.in_(ids))):
            versions.setdefault(v.submission_id, []).append(v)
        files = list(dbs.scalars(select(SubmissionFile)))
        receipts = Counter(dbs.scalars(select(OutboxMessage.to)
                                       .where(OutboxMessage.kind == "receipt")))
        return submissions, versions, files, receipts


def _half_rows(submissions, versions) -> int:
    """Versions stamped half-way, and entries pointing at unsubmitted versions."""
    by_id = {v.id: v for vs in versions.values() for v in vs}
    half = sum(1 for v in by_id.values() if (v.submitted_at is None) != (v.content_hash is None))
    for submission in submissions.values():
        if submission.entry_version_id is not None:
            entry = by_id.get(submission.entry_version_id)
            half += entry is None or entry.submitted_at is None
    return half


def _check_upload_dir(ctx: Context, files, outcome: Outcome) -> None:
    """Every stored file has its row and its bytes, and nothing else is there."""
    directory = ctx.server.upload_dir
    on_disk = {p.name for p in directory.iterdir()}
    temps = {n for n in on_disk if n.startswith(".upload-")}
    rows = {f.storage_name: f for f in files}
    orphans = on_disk - temps - set(rows)
    missing = set(rows) - on_disk
    wrong = [n for n, f in rows.items() if n in on_disk and hashlib.sha256(
        (directory / n).read_bytes()).hexdigest() != f.sha256]
    for count, what in ((len(orphans), "orphan files"), (len(temps), "temporary files left"),
                        (len(missing), "file rows without their file"),
                        (len(wrong), "stored files whose bytes differ from their hash")):
        if count:
            outcome.problems.append(f"{count} {what} in UPLOAD_DIR")


def deadline(ctx: Context) -> Outcome:
    """60 teams upload a file and submit, staggered over 6 s across the deadline (set a few
    seconds ahead in server time): on-time entries stored with the hash of what was sent,
    late ones refused with a clear 409, no orphan file, no half row."""
    slug = f"lt-deadline-{uuid.uuid4().hex[:6]}"
    challenge_id = create_challenge(ctx.app, slug, datetime.now(UTC) + timedelta(hours=1))
    prep, tally = Tally(), Tally()
    log(f"deadline: {DEADLINE_TEAMS} teams log in and save a draft")
    entrants = enrol(ctx, slug, DEADLINE_TEAMS, prep)
    for e in entrants:
        e.file = (f"Notes of {e.title}\n".encode() + random_text(random.Random(e.email))
                  .encode() * 40)
        e.file_sha256 = hashlib.sha256(e.file).hexdigest()
    cutoff = time.time() + DEADLINE_LEAD + DEADLINE_SPREAD / 2
    set_deadline(ctx.app, challenge_id, datetime.fromtimestamp(cutoff, UTC))
    starts = [cutoff - DEADLINE_SPREAD / 2 + DEADLINE_SPREAD * i / (len(entrants) - 1)
              for i in range(len(entrants))]
    random.Random(5).shuffle(starts)
    until_done = until(SUBMIT_SECONDS)
    uploads: dict[int, Reply | None] = {}

    def run(item: tuple[Entrant, float]) -> None:
        entrant, start = item
        time.sleep(max(0.0, start - time.time()))
        uploads[entrant.team_id] = up = post_until_answered(
            tally, entrant.browser, f"{entrant.editor}/files",
            {"csrf_token": entrant.token, "idempotency_key": uuid.uuid4().hex},
            files={"file": (f"notes-{entrant.team_id}.txt", entrant.file, "text/plain")},
            deadline=until_done)
        entrant.file_accepted = up is not None and up.status == 302
        entrant.submit_sent = time.time()
        entrant.submit_reply = reply = entrant.submit(tally, until_done)
        entrant.submit_answered = time.time()
        if reply is not None and reply.status == 302:
            entrant.read_receipt(tally, reply)

    log(f"deadline: {len(entrants)} upload+submit pairs over {DEADLINE_SPREAD:.0f} s "
        f"around a deadline {DEADLINE_LEAD + DEADLINE_SPREAD / 2:.0f} s ahead")
    with ThreadPoolExecutor(len(entrants)) as pool:
        list(pool.map(run, zip(entrants, starts, strict=True)))

    submissions, versions, files, receipts = _rows(ctx.app, challenge_id)
    by_id = {v.id: v for vs in versions.values() for v in vs}
    outcome = Outcome(sent=len(entrants), server_errors=prep.server_errors + tally.server_errors)
    on_time = [e for e in entrants if e.submit_reply and e.submit_reply.status == 302]
    late = [e for e in entrants if e.submit_reply and e.submit_reply.status == 409]
    other = [e for e in entrants if e not in on_time and e not in late]
    deadline_at = datetime.fromtimestamp(cutoff, UTC)
    wrong_entry = 0
    for e in on_time:
        sub = submissions.get(e.team_id)
        entry = by_id.get(sub.entry_version_id) if sub and sub.entry_version_id else None
        expected = e.expected_hash()
        if (entry is not None and entry.content_hash == expected
                and entry.submitted_at < deadline_at and e.entry_hash == expected
                and e.receipt == expected and receipts[e.email] == 1):
            outcome.stored += 1
        else:
            wrong_entry += 1
    outcome.lost = wrong_entry
    if wrong_entry:
        outcome.problems.append(f"{wrong_entry} accepted submits not stored as sent "
                                f"(entry, hash, time or receipt)")
    if other:
        seen = other[0].submit_reply
        outcome.problems.append(f"{len(other)} submits neither accepted nor refused as late "
                                f"(e.g. {f'HTTP {seen.status}' if seen else 'no answer'})")
    unclear = sum(1 for e in late if "deadline" not in e.submit_reply.body)
    early = sum(1 for e in late if e.submit_answered < cutoff)
    tardy = sum(1 for e in on_time if e.submit_sent > cutoff)
    kept = sum(1 for e in late if (sub := submissions.get(e.team_id)) is not None
               and sub.entry_version_id is not None)
    uploads_after_refusal = sum(1 for e in on_time if not e.file_accepted)
    for count, what in ((unclear, "late refusals without a clear message"),
                        (early, "submits refused before the deadline"),
                        (tardy, "submits accepted although sent after the deadline"),
                        (kept, "late teams with an entry stored"),
                        (uploads_after_refusal, "submits accepted after a late upload"),
                        (sum(receipts[e.email] for e in late), "receipts sent to late teams"),
                        (_half_rows(submissions, versions), "half-written rows")):
        if count:
            outcome.problems.append(f"{count} {what}")
    if not on_time or not late:
        outcome.problems.append("the submits did not straddle the deadline")
    _check_upload_dir(ctx, files, outcome)
    outcome.p95_ms = p95(tally.latencies)
    outcome.extra.append(f"{len(on_time)} on time, {len(late)} refused late (409)")
    return outcome


def duplicate_submits(ctx: Context) -> Outcome:
    """Each team's submit sent twice at once or twice in a row: the same redirect back,
    one submitted version, one receipt, the hash of what was sent."""
    slug = f"lt-double-{uuid.uuid4().hex[:6]}"
    challenge_id = create_challenge(ctx.app, slug, datetime.now(UTC) + timedelta(hours=1))
    prep, tally = Tally(), Tally()
    entrants = enrol(ctx, slug, DOUBLE_TEAMS * 2, prep)
    at_once, in_a_row = entrants[:DOUBLE_TEAMS], entrants[DOUBLE_TEAMS:]
    forms = {e.team_id: {"csrf_token": e.token, "idempotency_key": uuid.uuid4().hex}
             for e in entrants}
    replies: dict[tuple[int, int], Reply | None] = {}
    done_by = until(SUBMIT_SECONDS)

    def one(item: tuple[Entrant, int]) -> None:
        entrant, n = item
        replies[entrant.team_id, n] = post_until_answered(
            tally, entrant.browser, f"{entrant.editor}/submit", forms[entrant.team_id],
            deadline=done_by)

    log(f"duplicate-posts: {DOUBLE_TEAMS} teams double-click submit, {DOUBLE_TEAMS} resend")
    release_together([(e, n) for e in at_once for n in (0, 1)], one)
    for entrant in in_a_row:
        one((entrant, 0))
        one((entrant, 1))
    for entrant in entrants:
        first = replies[entrant.team_id, 0]
        if first is not None and first.status == 302:
            entrant.read_receipt(tally, first)

    submissions, versions, _files, receipts = _rows(ctx.app, challenge_id)
    outcome = Outcome(sent=len(entrants), server_errors=prep.server_errors + tally.server_errors)
    different = 0
    for e in entrants:
        first, second = replies[e.team_id, 0], replies[e.team_id, 1]
        if not (first and second and first.status == second.status == 302
                and first.location == second.location):
            different += 1
        sub = submissions.get(e.team_id)
        submitted = [v for v in versions.get(sub.id, []) if v.submitted_at] if sub else []
        if (len(submitted) == 1 and submitted[0].content_hash == e.expected_hash()
                and e.entry_hash == e.expected_hash() and receipts[e.email] == 1):
            outcome.stored += 1
        elif len(submitted) > 1 or receipts[e.email] > 1:
            outcome.problems.append(f"team {e.team_id} submitted {len(submitted)} times, "
                                    f"{receipts[e.email]} receipts")
    outcome.lost = outcome.sent - outcome.stored
    if different:
        outcome.problems.append(f"{different} repeated team submits did not get the same "
                                f"redirect")
    return outcome
