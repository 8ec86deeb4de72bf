"""bench insights-report: insights.compute on N respondents x 20 needs vs one bare SQL scan."""

from __future__ import annotations

from common import (
    best_of,
    create_survey,
    fill_survey,
    log,
    make_app,
    refresh_statistics,
    scaled,
    scratch_database,
)
from sqlalchemy import text

RESPONDENTS = scaled(100_000, 200)
TEXTS = scaled(20_000, 100)

BASELINE = text("""
SELECT a.question_id,
       SUM(CASE WHEN a.importance >= 4 THEN 1 ELSE 0 END),
       SUM(CASE WHEN a.satisfaction >= 4 THEN 1 ELSE 0 END),
       COUNT(*)
FROM survey_answer a JOIN survey_response r ON r.id = a.response_id
WHERE r.survey_id = :sid AND r.status = 'submitted'
  AND a.importance IS NOT NULL AND a.satisfaction IS NOT NULL
GROUP BY a.question_id
""")


def main() -> None:
    from challenge.db import db_session
    from surveys import insights, themes

    with scratch_database() as url:
        app = make_app(url)
        info = create_survey(app)
        log(f"inserting {RESPONDENTS} respondents, {TEXTS} texts")
        fill_survey(app, info, RESPONDENTS, TEXTS)
        refresh_statistics(app.extensions["db_engine"])
        with app.app_context():
            dbs = db_session()
            survey = insights.get_survey(dbs, info.slug)

            def baseline() -> None:
                rows = dbs.execute(BASELINE, {"sid": survey.id}).all()
                assert len(rows) == 20, rows

            def texts_only():
                return themes.extract_themes(insights.theme_texts(dbs, survey),
                                             survey.min_cell_size)

            log("timing themes")
            themes_s = best_of(texts_only, repeats=1)
            n_texts = len(insights.theme_texts(dbs, survey))
            print(f"bench insights-themes: {n_texts} texts, {themes_s:.2f} s")

            # The report without themes (timed above), so the line compares counting work.
            real = themes.extract_themes
            themes.extract_themes = lambda texts, min_cell: real([], min_cell)
            try:
                # The first report condenses every response into its tally (once per
                # response, see surveys/insight_counts.py); timed and shown on its own.
                log("timing the first compute (writes the tallies)")
                first_s = best_of(lambda: insights.compute(dbs, survey), repeats=1)
                dbs.commit()
                refresh_statistics(app.extensions["db_engine"])
                print(f"bench insights-first-report: {RESPONDENTS} responses condensed, "
                      f"{first_s:.2f} s")
                log("timing compute")
                report = insights.compute(dbs, survey)
                assert report["respondents"] == RESPONDENTS, report["respondents"]
                compute_s = best_of(lambda: insights.compute(dbs, survey), repeats=2)
            finally:
                themes.extract_themes = real
            log("timing baseline")
            baseline_s = best_of(baseline, repeats=3)
            dbs.rollback()
        print(f"bench insights-report: {RESPONDENTS} respondents x 20 needs, "
              f"{compute_s:.2f} s; baseline scan {baseline_s:.2f} s; "
              f"ratio {compute_s / baseline_s:.2f}")


if __name__ == "__main__":
    main()
