"""bench survey-submit: req/s of the POST that submits one complete anonymous response
(CSRF, idempotency key, 20 needs, 3 segments, one screened free text, consent, participation)
on gunicorn, against /healthz on the same server, with the same Python load generator."""

from __future__ import annotations

import os
import random
import secrets

from common import (
    SEGMENTS,
    Browser,
    combined,
    create_survey,
    csrf_token,
    gunicorn,
    log,
    make_app,
    python_load,
    random_text,
    request,
    scaled,
    scratch_database,
)

RESPONDENTS = scaled(2000, 50)
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "8"))
ROUNDS = 4


def main() -> None:
    from sqlalchemy import func, select

    from challenge.db import db_session
    from surveys.models import Response

    rng = random.Random(3)
    with scratch_database() as url:
        app = make_app(url)
        info = create_survey(app)
        with gunicorn(url) as port:
            log(f"{RESPONDENTS} respondents: landing page and consent")
            people: list[tuple[Browser, str]] = []

            def start(browser: Browser) -> bool:
                status, html = browser.go("GET", f"/s/{info.slug}")
                token = csrf_token(html)
                status, _ = browser.go("POST", f"/s/{info.slug}",
                                       {"csrf_token": token, "consent": "yes"})
                if status == 302:
                    people.append((browser, token))
                return status == 302

            prep = python_load([lambda b=Browser(port): start(b) for _ in range(RESPONDENTS)],
                               concurrency=CONCURRENCY, max_seconds=600)
            if prep.ok != RESPONDENTS:
                raise RuntimeError(f"only {prep.ok} of {RESPONDENTS} respondents started")

            def form(token: str) -> dict:
                # As the page's form sends it: CSRF token, a fresh idempotency key, answers.
                body = {"csrf_token": token, "idempotency_key": secrets.token_urlsafe(18),
                        "action": "submit", f"q_{info.text_key}": random_text(rng)}
                for key in info.need_keys:
                    body[f"q_{key}.importance"] = str(rng.randint(1, 5))
                    body[f"q_{key}.satisfaction"] = str(rng.randint(1, 5))
                for key, values in SEGMENTS.items():
                    body[f"q_{key}"] = rng.choice(values)
                return body

            jobs = [(browser, form(token)) for browser, token in people]

            def submit(browser: Browser, body: dict) -> bool:
                status, _ = browser.go("POST", f"/s/{info.slug}/page/1", body)
                return status in (302, 303) or 200 <= status < 300

            def health() -> bool:
                return request(port, "GET", "/healthz")[0] == 200

            # Submits and healthz take turns, a round of each at a time, so that a machine
            # that speeds up or slows down during the run (a shared VM does) moves both
            # sides of the ratio alike.
            log(f"submitting {len(jobs)} responses in {ROUNDS} rounds, {CONCURRENCY} at a "
                f"time; as many healthz requests between them")
            submits, checks = [], []
            for r in range(ROUNDS):
                batch = jobs[r::ROUNDS]
                submits.append(python_load([lambda b=b, f=f: submit(b, f) for b, f in batch],
                                           concurrency=CONCURRENCY, max_seconds=600))
                checks.append(python_load([health] * len(batch), concurrency=CONCURRENCY,
                                          max_seconds=600))
            load, hz = combined(submits), combined(checks)

        with app.app_context():
            stored = db_session().scalar(select(func.count(Response.id)).where(
                Response.survey_id == info.survey_id, Response.status == "submitted"))
        log(f"submit: {load.ok}/{load.requests} ok, stored {stored}; "
            f"healthz {hz.ok}/{hz.requests} ok")
        if stored != load.ok:
            raise RuntimeError(f"{load.ok} submissions succeeded but {stored} were stored")
        if load.ok != load.requests:
            raise RuntimeError(f"{load.requests - load.ok} submissions failed")
    print(f"bench survey-submit: {load.rps:.0f} req/s; healthz {hz.rps:.0f} req/s; "
          f"ratio {load.rps / hz.rps:.2f}")


if __name__ == "__main__":
    main()
