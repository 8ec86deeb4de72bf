"""bench results: results.compute on E entries x R reviews x C criteria vs fetching the same
scores into Python lists."""

from __future__ import annotations

from common import (
    best_of,
    create_challenge,
    log,
    make_app,
    refresh_statistics,
    scaled,
    scratch_database,
)

ENTRIES = scaled(5000, 50)
REVIEWS = 5
CRITERIA = 6


def main() -> None:
    from sqlalchemy import select

    from challenge.db import db_session
    from challenge.judging import results
    from challenge.judging.models import CriterionScore, Review

    with scratch_database() as url:
        app = make_app(url)
        log(f"inserting {ENTRIES} entries x {REVIEWS} reviews x {CRITERIA} criteria")
        info = create_challenge(app, ENTRIES, REVIEWS, CRITERIA)
        refresh_statistics(app.extensions["db_engine"])
        with app.app_context():
            dbs = db_session()
            challenge = results.get_challenge(dbs, info.slug)

            def baseline() -> None:
                rows = dbs.execute(
                    select(Review.id, Review.submission_id, Review.user_id,
                           CriterionScore.criterion_key, CriterionScore.score)
                    .join(CriterionScore, CriterionScore.review_id == Review.id)
                    .where(Review.challenge_id == challenge.id, Review.status == "submitted")
                    .order_by(Review.id, CriterionScore.id)).all()
                columns = [list(c) for c in zip(*rows, strict=True)]
                assert len(columns[0]) == ENTRIES * REVIEWS * CRITERIA, len(columns[0])

            log("timing compute")
            computed = results.compute(dbs, challenge).as_json()
            assert len(computed["entries"]) == ENTRIES, len(computed["entries"])
            compute_s = best_of(lambda: results.compute(dbs, challenge), repeats=2)
            log("timing baseline")
            baseline_s = best_of(baseline, repeats=3)
            dbs.rollback()
        print(f"bench results: {ENTRIES} entries x {REVIEWS} reviews x {CRITERIA} criteria, "
              f"{compute_s:.2f} s; baseline fetch {baseline_s:.2f} s; "
              f"ratio {compute_s / baseline_s:.2f}")


if __name__ == "__main__":
    main()
