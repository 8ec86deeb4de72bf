"""Shared helpers for `make bench`: a scratch database, generated data, a gunicorn server on
127.0.0.1 and a small bounded load generator.

Data is bulk-inserted with SQLAlchemy Core executemany; the few small objects (accounts,
survey, questions, challenge, rubric, panels) go through the ORM so defaults stay right.
`BENCH_SCALE` (default 1.0) shrinks every size for a quick run.
"""

from __future__ import annotations

import http.client
import io
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, insert, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

SECRET = "bench-secret-key-not-for-production"
ORGANIZER_EMAIL = "organizer@bench.example"
ORGANIZER_PASSWORD = "bench-organizer-password-2027"  # noqa: S105 - scratch database only
SCALE = float(os.environ.get("BENCH_SCALE", "1.0"))
CHUNK = 20_000


def scaled(n: int, minimum: int = 1) -> int:
    """`n` times BENCH_SCALE, at least `minimum`."""
    return max(minimum, int(round(n * SCALE)))


def log(message: str) -> None:
    """Progress on stderr, so stdout keeps only the result lines."""
    print(f"  [{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- scratch database ----------------------------------------------------------------------

@contextmanager
def scratch_database() -> Iterator[str]:
    """A fresh, migrated database URL: a SQLite file in a temp dir, or (when DATABASE_URL
    points at PostgreSQL) a scratch database created beside it and dropped afterwards."""
    from challenge.db import make_engine
    from challenge.migrate import upgrade

    base = os.environ.get("DATABASE_URL", "")
    tmp = tempfile.mkdtemp(prefix="bench-")
    admin = None
    name = None
    try:
        if base.startswith("postgresql"):
            url = make_url(base)
            name = f"bench_{uuid.uuid4().hex[:12]}"
            admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            db_url = url.set(database=name).render_as_string(hide_password=False)
        else:
            db_url = f"sqlite:///{tmp}/bench.db"
        engine = make_engine(db_url)
        upgrade(engine)
        engine.dispose()
        yield db_url
    finally:
        if admin is not None and name is not None:
            with admin.connect() as conn:
                conn.execute(text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :n AND pid <> pg_backend_pid()"), {"n": name})
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            admin.dispose()
        shutil.rmtree(tmp, ignore_errors=True)


def refresh_statistics(engine) -> None:
    """VACUUM ANALYZE after bulk writes (PostgreSQL), as autovacuum does on a live database
    within a minute: measurements see the steady state, not a planner that still believes the
    freshly filled tables are empty, nor the dead row versions of a bulk update (this
    machine's PostgreSQL runs without autovacuum)."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")


def make_app(db_url: str, **overrides):
    """An app bound to the scratch database (production settings, no rate limits);
    `overrides` replace any other setting."""
    from challenge import create_app

    settings = {"APP_ENV": "production", "SECRET_KEY": SECRET, "DATABASE_URL": db_url,
                "RATELIMIT_ENABLED": False, **overrides}
    settings.setdefault("UPLOAD_DIR", tempfile.mkdtemp())
    return create_app(settings)


def _bulk(conn, table, rows: list[dict]) -> None:
    keys: set[str] = set()
    for row in rows:
        keys.update(row)
    rows = [row if len(row) == len(keys) else {k: row.get(k) for k in keys} for row in rows]
    for start in range(0, len(rows), CHUNK):
        conn.execute(insert(table), rows[start:start + CHUNK])


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def ensure_organizer(session):
    """The organizer account the page benchmarks log in with."""
    from challenge.accounts import services as accounts

    return accounts.find_user(session, ORGANIZER_EMAIL) or accounts.create_user(
        session, ORGANIZER_EMAIL, password=ORGANIZER_PASSWORD, roles=["organizer"],
        name="Bench organizer")


# --- survey data ---------------------------------------------------------------------------

NEEDS = 20
SEGMENTS = {"age": ["18-34", "35-54", "55-74", "75+"],
            "region": ["north", "south", "east", "west", "centre"],
            "diagnosis": ["recent", "years", "decade"]}
WORDS = ("waiting appointment nurse pain medication side effects travel hospital parking "
         "letter results phone app reminder family carer fatigue diet exercise sleep cost "
         "insurance pharmacy refill doctor listen explain time night weekend support group "
         "information leaflet online portal video call anxiety worry transport").split()


@dataclass
class SurveyInfo:
    slug: str
    survey_id: int
    need_keys: list[str]
    segment_keys: list[str]
    text_key: str


def create_survey(app, slug: str = "bench-survey", *, two_pages: bool = False) -> SurveyInfo:
    """An open anonymous survey: 20 needs, 3 segment questions, one free text, all on one
    page (one section); with `two_pages`, the needs on page 1 and the rest on page 2."""
    from challenge.db import db_session
    from surveys.models import Question, Survey

    with app.app_context():
        dbs = db_session()
        now = _now()
        survey = Survey(slug=slug, title="Bench survey", intro="Generated.", status="open",
                        anonymous=True, consent_text="I agree.", consent_version=1,
                        min_cell_size=11, created_at=now, updated_at=now)
        dbs.add(survey)
        dbs.flush()
        position = 0
        need_keys = []
        needs_section, rest = ("Needs", "About you") if two_pages else ("All", "All")
        for i in range(NEEDS):
            key = f"need_{i:02d}"
            need_keys.append(key)
            dbs.add(Question(survey_id=survey.id, key=key, type="need",
                             text=f"Need number {i}", section=needs_section,
                             category=f"cat{i % 4}", required=True, position=position))
            position += 1
        for key, values in SEGMENTS.items():
            dbs.add(Question(survey_id=survey.id, key=key, type="single", text=f"Your {key}",
                             section=rest, segment=True, required=False, position=position,
                             options=[{"value": v, "label": v.title()} for v in values]))
            position += 1
        dbs.add(Question(survey_id=survey.id, key="story", type="text", section=rest,
                         text="Anything else?", required=False, position=position))
        dbs.commit()
        return SurveyInfo(slug, survey.id, need_keys, list(SEGMENTS), "story")


def random_text(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 25))) + "."


def fill_survey(app, info: SurveyInfo, respondents: int, texts: int, seed: int = 1) -> None:
    """Submitted responses with all needs, the segments (some left blank) and `texts`
    free texts, bulk-inserted."""
    from challenge.db import get_engine
    from surveys.models import Answer, Question, Response

    rng = random.Random(seed)
    with app.app_context():
        engine = get_engine()
        with engine.begin() as conn:
            qids = dict(conn.execute(select(Question.key, Question.id)
                                     .where(Question.survey_id == info.survey_id)).all())
            today = date.today()
            need_bias = [rng.uniform(-1.0, 1.0) for _ in range(NEEDS)]
            done = 0
            while done < respondents:
                batch = min(5_000, respondents - done)
                responses, answers = [], []
                for n in range(batch):
                    rid = uuid.uuid4().hex
                    responses.append({"id": rid, "survey_id": info.survey_id,
                                      "status": "submitted", "consent_version": 1,
                                      "quote_consent": False, "page_reached": 1,
                                      "submitted_on": today, "source": "web"})
                    for i, key in enumerate(info.need_keys):
                        imp = min(5, max(1, round(rng.gauss(3.4 + need_bias[i], 1.1))))
                        sat = min(5, max(1, round(rng.gauss(3.0 - need_bias[i], 1.1))))
                        answers.append({"response_id": rid, "question_id": qids[key],
                                        "importance": imp, "satisfaction": sat})
                    for key, values in SEGMENTS.items():
                        if rng.random() < 0.95:
                            answers.append({"response_id": rid, "question_id": qids[key],
                                            "choice": rng.choice(values)})
                    if done + n < texts:
                        answers.append({"response_id": rid, "question_id": qids["story"],
                                        "text": random_text(rng)})
                _bulk(conn, Response.__table__, responses)
                _bulk(conn, Answer.__table__, answers)
                done += batch


# --- challenge data ------------------------------------------------------------------------

@dataclass
class ChallengeInfo:
    slug: str
    challenge_id: int


def create_challenge(app, entries: int, reviews: int, criteria: int, *,
                     slug: str = "bench-challenge", judges: int = 60,
                     seed: int = 2) -> ChallengeInfo:
    """A finished challenge with `entries` submitted entries (all in the gallery), each
    reviewed by `reviews` judges on `criteria` criteria (two panels)."""
    from challenge.accounts.models import User
    from challenge.challenges.models import Challenge, Submission, SubmissionVersion, Team
    from challenge.db import db_session, get_engine
    from challenge.judging.models import (
        Criterion,
        CriterionScore,
        JudgeSeat,
        Panel,
        Review,
        Rubric,
    )

    rng = random.Random(seed)
    now = _now()
    judges = max(judges, reviews)
    with app.app_context():
        dbs = db_session()
        challenge = Challenge(
            slug=slug, title="Bench challenge", description="Generated.",
            registration_opens=now - timedelta(days=90),
            submission_deadline=now - timedelta(days=30),
            judging_closes=now - timedelta(days=10), results_at=now - timedelta(days=1),
            published=True, gallery_open=True, normalization="zscore",
            reviews_per_entry=reviews, created_at=now, updated_at=now)
        dbs.add(challenge)
        dbs.flush()
        rubric = Rubric(challenge_id=challenge.id, version=1, created_at=now)
        dbs.add(rubric)
        dbs.flush()
        keys = [f"c{i}" for i in range(criteria)]
        for i, key in enumerate(keys):
            dbs.add(Criterion(rubric_id=rubric.id, key=key, name=f"Criterion {i}",
                              weight=1.0, min_score=1, max_score=5, position=i))
        panels = [Panel(challenge_id=challenge.id, name="expert", weight=1.0),
                  Panel(challenge_id=challenge.id, name="patient", weight=1.0)]
        dbs.add_all(panels)
        dbs.flush()
        challenge_id, rubric_id = challenge.id, rubric.id
        panel_ids = [p.id for p in panels]
        dbs.commit()

        engine = get_engine()
        with engine.begin() as conn:
            base_email = f"judge-{slug}-"
            _bulk(conn, User.__table__, [
                {"email": f"{base_email}{j}@bench.example", "name": f"Judge {j}",
                 "password_hash": None, "created_at": now}
                for j in range(judges)])
            judge_ids = list(conn.scalars(select(User.id).where(
                User.email.like(f"{base_email}%")).order_by(User.id)))
            _bulk(conn, JudgeSeat.__table__, [
                {"challenge_id": challenge_id, "user_id": uid,
                 "panel_id": panel_ids[k % 2], "created_at": now}
                for k, uid in enumerate(judge_ids)])
            _bulk(conn, Team.__table__, [
                {"challenge_id": challenge_id, "name": f"Team {e:05d}", "created_at": now}
                for e in range(entries)])
            team_ids = list(conn.scalars(select(Team.id).where(
                Team.challenge_id == challenge_id).order_by(Team.id)))
            _bulk(conn, Submission.__table__, [
                {"team_id": tid, "challenge_id": challenge_id, "gallery_opt_in": True,
                 "created_at": now} for tid in team_ids])
            subs = list(conn.execute(select(Submission.id, Submission.team_id).where(
                Submission.challenge_id == challenge_id).order_by(Submission.id)))
            _bulk(conn, SubmissionVersion.__table__, [
                {"submission_id": sid, "number": 1, "title": f"Entry of team {tid}",
                 "summary": "A generated entry. " + random_text(rng), "needs": ["need_01"],
                 "file_ids": [], "changes": [], "created_at": now,
                 "submitted_at": now - timedelta(days=31)} for sid, tid in subs])
            versions = dict(conn.execute(select(SubmissionVersion.submission_id,
                                                SubmissionVersion.id).where(
                SubmissionVersion.submission_id.in_(
                    select(Submission.id).where(Submission.challenge_id == challenge_id)))).all())
            for start in range(0, len(subs), CHUNK):
                conn.execute(
                    Submission.__table__.update()
                    .where(Submission.__table__.c.id == _bindparam("sid"))
                    .values(entry_version_id=_bindparam("vid")),
                    [{"sid": sid, "vid": versions[sid]} for sid, _ in subs[start:start + CHUNK]])
            review_rows = []
            for k, (sid, _tid) in enumerate(subs):
                for r in range(reviews):
                    uid = judge_ids[(k * reviews + r) % len(judge_ids)]
                    review_rows.append({
                        "challenge_id": challenge_id, "user_id": uid, "submission_id": sid,
                        "rubric_id": rubric_id, "status": "submitted",
                        "comment_to_organizers": "", "feedback_to_team": "Well done.",
                        "created_at": now, "updated_at": now, "submitted_at": now})
            _bulk(conn, Review.__table__, review_rows)
            review_ids = list(conn.execute(select(Review.id, Review.submission_id).where(
                Review.challenge_id == challenge_id).order_by(Review.id)))
            quality = {sid: rng.uniform(1.5, 4.5) for sid, _ in subs}
            score_rows = [
                {"review_id": rid, "criterion_key": key,
                 "score": float(min(5, max(1, round(rng.gauss(quality[sid], 0.8)))))}
                for rid, sid in review_ids for key in keys]
            _bulk(conn, CriterionScore.__table__, score_rows)
        return ChallengeInfo(slug, challenge_id)


def _bindparam(name: str):
    from sqlalchemy import bindparam

    return bindparam(name)


# --- gunicorn ------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A running gunicorn: its port, master pid, upload directory and log file."""

    port: int
    pid: int
    upload_dir: Path
    log_path: Path

    def worker_pids(self) -> list[int]:
        """The master's children (its workers), read from /proc."""
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):  # the process ended meanwhile
                continue
            if int(fields[1]) == self.pid:
                children.append(int(stat.parent.name))
        return sorted(children)


def rss_kib(pid: int) -> int:
    """Resident memory of a process in KiB (VmRSS from /proc; 0 once it has ended)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


@contextmanager
def serve(db_url: str, workers: int | None = None, env: dict[str, str] | None = None
          ) -> Iterator[Server]:
    """Serve the app on 127.0.0.1 with the production worker setup (gunicorn.conf.py;
    `workers` overrides its count, as WEB_CONCURRENCY would), in its own process
    group with its own upload directory; `env` adds settings. At the end (or on any error)
    the whole group is stopped and its upload directory and log removed (after a failure
    the log's last lines are printed first)."""
    port = free_port()
    upload_dir = Path(tempfile.mkdtemp(prefix="bench-uploads-"))
    settings = dict(os.environ, APP_ENV="production", SECRET_KEY=SECRET, DATABASE_URL=db_url,
                    RATELIMIT_ENABLED="0", UPLOAD_DIR=str(upload_dir))
    settings.update(env or {})
    logfile = tempfile.NamedTemporaryFile(prefix="bench-gunicorn-", suffix=".log",
                                          delete=False)
    proc = subprocess.Popen(  # noqa: S603 - fixed argument list
        [str(ROOT / ".venv" / "bin" / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"),
         *(["-w", str(workers)] if workers else []), "-b", f"127.0.0.1:{port}",
         "--graceful-timeout", "10", "challenge:create_app()"],
        cwd=ROOT, env=settings, stdout=logfile, stderr=subprocess.STDOUT,
        start_new_session=True)
    server = Server(port, proc.pid, upload_dir, Path(logfile.name))
    failed = True
    try:
        deadline = time.monotonic() + 60  # four workers import the app on a busy machine
        while True:
            try:
                status, _, _ = request(port, "GET", "/healthz")
                if status == 200:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not start")
            time.sleep(0.2)
        # Warm every worker up (each opens its own database connection on first use).
        for _ in range(max(len(server.worker_pids()), workers or 0, 1) * 8):
            request(port, "GET", "/healthz")
        yield server
        failed = False
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        try:  # workers left behind by a master that died first
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        logfile.close()
        shutil.rmtree(upload_dir, ignore_errors=True)
        if failed:
            for line in server.log_path.read_text(errors="replace").splitlines()[-20:]:
                log(f"gunicorn: {line[:300]}")
        os.unlink(logfile.name)


@contextmanager
def gunicorn(db_url: str, workers: int | None = None) -> Iterator[int]:
    """Serve the app on 127.0.0.1 with the production worker setup; yields the port."""
    with serve(db_url, workers) as server:
        yield server.port


# --- HTTP client ---------------------------------------------------------------------------

@dataclass
class Reply:
    """One HTTP answer: status, headers (lower-case names), cookies set, body text."""

    status: int
    headers: dict[str, str]
    cookies: dict[str, str]
    body: str

    @property
    def location(self) -> str:
        """The redirect target as a path (scheme and host dropped), or ''."""
        target = self.headers.get("location", "")
        return urlsplit(target)._replace(scheme="", netloc="").geturl()


def exchange(port: int, method: str, path: str, *, body: dict | None = None,
             files: dict[str, tuple[str, bytes, str]] | None = None, cookie: str = "",
             headers: dict[str, str] | None = None, timeout: float = 30.0) -> Reply:
    """One request on a new loopback connection: a form `body` (urlencoded, or multipart
    with `files` as field -> (file name, content, content type)). Cookies are passed by
    hand: production cookies are Secure, which a cookie jar would not send over HTTP."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        sent = {"Host": f"127.0.0.1:{port}", **(headers or {})}
        payload: str | bytes | None = None
        if cookie:
            sent["Cookie"] = cookie
        if files:
            from werkzeug.datastructures import FileStorage
            from werkzeug.test import encode_multipart

            fields: dict = dict(body or {})
            for name, (filename, content, content_type) in files.items():
                fields[name] = FileStorage(io.BytesIO(content), filename=filename,
                                           content_type=content_type)
            boundary, payload = encode_multipart(fields)
            sent["Content-Type"] = f"multipart/form-data; boundary={boundary}"
        elif body is not None:
            payload = urlencode(body, doseq=True)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=payload, headers=sent)
        resp = conn.getresponse()
        data = resp.read().decode("utf-8", "replace")
        cookies, names = {}, {}
        for name, value in resp.getheaders():
            if name.lower() == "set-cookie":
                pair = value.split(";", 1)[0]
                k, _, v = pair.partition("=")
                cookies[k.strip()] = v.strip()
            names[name.lower()] = value
        return Reply(resp.status, names, cookies, data)
    finally:
        conn.close()


def request(port: int, method: str, path: str, *, body: dict | None = None,
            cookie: str = "", timeout: float = 30.0) -> tuple[int, dict[str, str], str]:
    """One request on a new loopback connection: (status, cookies set, body text)."""
    reply = exchange(port, method, path, body=body, cookie=cookie, timeout=timeout)
    return reply.status, reply.cookies, reply.body


class Browser:
    """A tiny cookie-keeping client for one simulated person."""

    def __init__(self, port: int):
        self.port = port
        self.cookies: dict[str, str] = {}

    @property
    def cookie(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def send(self, method: str, path: str, body: dict | None = None, *,
             files: dict[str, tuple[str, bytes, str]] | None = None,
             timeout: float = 30.0) -> Reply:
        """One request with this person's cookies; the cookies it sets are kept."""
        reply = exchange(self.port, method, path, body=body, files=files, cookie=self.cookie,
                         timeout=timeout)
        self.cookies.update(reply.cookies)
        return reply

    def go(self, method: str, path: str, body: dict | None = None) -> tuple[int, str]:
        reply = self.send(method, path, body)
        return reply.status, reply.body


_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(html: str) -> str:
    match = _CSRF.search(html)
    if not match:
        raise RuntimeError("no CSRF token on the page")
    return match.group(1)


def login(port: int, email: str, password: str) -> Browser:
    browser = Browser(port)
    status, html = browser.go("GET", "/login")
    status, _ = browser.go("POST", "/login", {"csrf_token": csrf_token(html), "email": email,
                                              "password": password})
    if status != 302:
        raise RuntimeError(f"login failed with HTTP {status}")
    return browser


# --- load generation -----------------------------------------------------------------------

@dataclass
class Load:
    requests: int
    ok: int
    seconds: float
    latencies: list[float]

    @property
    def rps(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    @property
    def p95_ms(self) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1000


def combined(loads: list[Load]) -> Load:
    """Several rounds of one measurement as one (requests, time and latencies added up)."""
    return Load(sum(x.requests for x in loads), sum(x.ok for x in loads),
                sum(x.seconds for x in loads), [t for x in loads for t in x.latencies])


def python_load(calls: list[Callable[[], bool]], concurrency: int = 8,
                max_seconds: float = 120.0) -> Load:
    """Run each call once on a thread pool (bounded in count and time); a call returns
    whether it succeeded."""
    latencies: list[float] = []
    ok = 0
    lock = threading.Lock()
    deadline = time.monotonic() + max_seconds

    def run(call: Callable[[], bool]) -> None:
        nonlocal ok
        if time.monotonic() > deadline:
            return
        t0 = time.perf_counter()
        try:
            good = call()
        except OSError:
            good = False
        elapsed = time.perf_counter() - t0
        with lock:
            latencies.append(elapsed)
            ok += bool(good)

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(run, calls))
    return Load(len(latencies), ok, time.perf_counter() - start, latencies)


WRK_SCRIPT = """
done = function(summary, latency, requests)
  io.write(string.format("BENCH %d %d %d %f\\n", summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout, summary.duration,
    latency:percentile(95)))
end
"""


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def http_load(port: int, path: str, *, cookie: str = "", seconds: float = 5.0,
              connections: int = 8, max_requests: int = 2000) -> Load:
    """Requests per second and p95 latency of GET `path`: wrk when installed, else a Python
    thread pool with a fixed request count."""
    if have_wrk():
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(WRK_SCRIPT)
        cmd = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{max(1, int(seconds))}s",
               "--timeout", "30s", "-s", script.name]
        if cookie:
            cmd += ["-H", f"Cookie: {cookie}"]
        cmd.append(f"http://127.0.0.1:{port}{path}")
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60,  # noqa: S603
                             check=True).stdout
        os.unlink(script.name)
        line = next(x for x in out.splitlines() if x.startswith("BENCH "))
        _, total, errors, micros, p95 = line.split()
        secs = int(micros) / 1e6
        load = Load(int(total), int(total) - int(errors), secs, [])
        load.__dict__["_p95"] = float(p95) / 1000
        return load

    def call() -> bool:
        status, _, _ = request(port, "GET", path, cookie=cookie)
        return 200 <= status < 300

    return python_load([call] * max_requests, concurrency=connections, max_seconds=seconds * 4)


def p95_ms(load: Load) -> float:
    return load.__dict__.get("_p95", None) or load.p95_ms


@contextmanager
def timer() -> Iterator[list[float]]:
    box: list[float] = []
    t0 = time.perf_counter()
    yield box
    box.append(time.perf_counter() - t0)


def best_of(fn: Callable[[], object], repeats: int = 3, max_seconds: float = 300.0) -> float:
    """The fastest of up to `repeats` runs (stops early once `max_seconds` are spent)."""
    times = []
    spent = time.perf_counter()
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if time.perf_counter() - spent > max_seconds:
            break
    return min(times)
