"""bench pages: p95 latency of the organizer report page, the public results page and the
gallery at full data sizes, against /healthz, on gunicorn (wrk when installed)."""

from __future__ import annotations

import os

from common import (
    ORGANIZER_EMAIL,
    ORGANIZER_PASSWORD,
    create_challenge,
    create_survey,
    ensure_organizer,
    fill_survey,
    gunicorn,
    http_load,
    log,
    login,
    make_app,
    p95_ms,
    refresh_statistics,
    request,
    scaled,
    scratch_database,
)

RESPONDENTS = scaled(100_000, 200)
TEXTS = scaled(20_000, 100)
ENTRIES = scaled(5000, 50)
SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))


def prepare(app) -> tuple[str, str]:
    from challenge.db import db_session, get_engine
    from challenge.judging import results
    from surveys import insights

    info = create_survey(app)
    log(f"inserting {RESPONDENTS} respondents; {ENTRIES} entries x 5 reviews x 6 criteria")
    fill_survey(app, info, RESPONDENTS, TEXTS)
    chal = create_challenge(app, ENTRIES, 5, 6)
    with app.app_context():
        refresh_statistics(get_engine())
        dbs = db_session()
        organizer = ensure_organizer(dbs)
        log("storing snapshots (insights report, published results)")
        insights.refresh(dbs, insights.get_survey(dbs, info.slug), actor=organizer)
        results.publish(dbs, results.get_challenge(dbs, chal.slug), organizer, {},
                        confirm_unscored=True)
        dbs.commit()
        # The first report rewrote every response's row (its tally): vacuum as autovacuum
        # would within a minute, so the pages are measured in the steady state.
        refresh_statistics(get_engine())
    return info.slug, chal.slug


def main() -> None:
    with scratch_database() as url:
        app = make_app(url)
        survey_slug, challenge_slug = prepare(app)
        with gunicorn(url) as port:
            browser = login(port, ORGANIZER_EMAIL, ORGANIZER_PASSWORD)
            pages = {
                "report": (f"/organize/surveys/{survey_slug}/insights", browser.cookie),
                "results": (f"/c/{challenge_slug}/results", ""),
                "gallery": (f"/c/{challenge_slug}/gallery", ""),
                "healthz": ("/healthz", ""),
            }
            p95 = {}
            for name, (path, cookie) in pages.items():
                status, _, body = request(port, "GET", path, cookie=cookie)
                if status != 200:
                    raise RuntimeError(f"{name}: GET {path} gave HTTP {status}")
                log(f"{name}: {len(body) // 1024} KiB; loading for {SECONDS:.0f} s")
                load = http_load(port, path, cookie=cookie, seconds=SECONDS, connections=8,
                                 max_requests=500)
                if load.ok != load.requests:
                    raise RuntimeError(f"{name}: {load.requests - load.ok} failed requests")
                p95[name] = p95_ms(load)
                log(f"{name}: {load.requests} requests, {load.rps:.0f} req/s, "
                    f"p95 {p95[name]:.1f} ms")
    worst = max(p95["report"], p95["results"], p95["gallery"])
    print(f"bench pages: report p95 {p95['report']:.0f} ms, results p95 "
          f"{p95['results']:.0f} ms, gallery p95 {p95['gallery']:.0f} ms; healthz p95 "
          f"{p95['healthz']:.0f} ms; ratio {worst / p95['healthz']:.1f}")


if __name__ == "__main__":
    main()
