"""`flask judging import-scores SLUG FILE.csv` (CONTRACTS.md "Judging").

Driven through the real command (Flask's CLI runner, in its own app context, like a
separate process); the world is built directly with models and the clock is frozen.
"""

from __future__ import annotations

import contextvars
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from challenge import clock
from challenge.audit import AuditEvent
from challenge.judging import reviews
from challenge.judging.models import Assignment, CriterionScore, Review
from tests.services.test_reviews import (
    CLOSES,
    DURING,
    build_world,
    expected_score,
    make_person,
    make_seat,
    make_team,
)

HEADER = "judge,team,criterion,score"


@pytest.fixture(autouse=True)
def _frozen(app):
    clock.freeze(DURING)
    yield
    clock.freeze(None)


@pytest.fixture
def world(session):
    return build_world(session)


def run(app, session, *args):
    """Invoke the command in a fresh context (its own app context and Session)."""
    session.commit()
    result = contextvars.Context().run(
        app.test_cli_runner().invoke, args=["judging", *[str(a) for a in args]])
    session.expire_all()
    return result


def write(tmp_path: Path, *rows: str, header: str = HEADER, name: str = "scores.csv",
          raw: bytes | None = None) -> Path:
    path = tmp_path / name
    if raw is not None:
        path.write_bytes(raw)
    else:
        path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def state(session) -> dict:
    """Everything an import may touch, comparable before and after."""
    session.expire_all()
    return {
        "assignments": sorted((a.user_id, a.submission_id, a.source)
                              for a in session.scalars(select(Assignment))),
        "reviews": sorted((r.user_id, r.submission_id, r.status, r.comment_to_organizers,
                           r.updated_at, r.rubric_id) for r in session.scalars(select(Review))),
        "scores": sorted((s.review_id, s.criterion_key, s.score)
                         for s in session.scalars(select(CriterionScore))),
        "audit": [(e.action, e.target) for e in session.scalars(
            select(AuditEvent).order_by(AuditEvent.id))],
    }


FULL_ROWS = (
    "ana@example.org,GlucoGo Team,impact,4",
    "ana@example.org,GlucoGo Team,feasibility,3",
    "ana@example.org,GlucoGo Team,design,80",
)


# --- success ------------------------------------------------------------------------------

def test_import_creates_assignments_and_submitted_or_draft_reviews(app, session, world,
                                                                   tmp_path):
    path = write(tmp_path, *FULL_ROWS,
                 "olga@example.org,nightwatch,impact,2",  # team names ignore case
                 "OLGA@example.org,Nightwatch,design,55.5",
                 header="judge,team,criterion,score")
    result = run(app, session, "import-scores", world.challenge.slug, path)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert "5 rows imported" in result.stderr and "1 assignment created" in result.stderr

    ana = reviews.review_of(session, world.ana.id, world.sub_a.id)
    assert ana.status == "submitted" and ana.submitted_at == DURING
    assert reviews.stored_scores(ana) == {"impact": 4.0, "feasibility": 3.0, "design": 80.0}
    assert reviews.review_score_of(world.rubric, reviews.stored_scores(ana)) == pytest.approx(
        expected_score({"impact": 4, "feasibility": 3, "design": 80}))
    olga = reviews.review_of(session, world.olga.id, world.sub_b.id)
    assert olga.status == "draft" and olga.submitted_at is None
    assert reviews.stored_scores(olga) == {"impact": 2.0, "design": 55.5}
    sources = {(a.user_id, a.submission_id): a.source
               for a in session.scalars(select(Assignment))}
    assert sources[(world.olga.id, world.sub_b.id)] == "import"
    assert sources[(world.ana.id, world.sub_a.id)] == "manual"  # existing one kept
    [event] = session.scalars(select(AuditEvent).where(AuditEvent.action == "scores.imported"))
    assert event.details["reviews_created"] == 2 and event.details["assignments_created"] == 1


def test_importing_the_same_file_twice_changes_nothing(app, session, world, tmp_path):
    path = write(tmp_path, *FULL_ROWS, "olga@example.org,Nightwatch,impact,2")
    assert run(app, session, "import-scores", world.challenge.slug, path).exit_code == 0
    before = state(session)
    clock.advance(timedelta(hours=1))
    again = run(app, session, "import-scores", world.challenge.slug, path)
    assert again.exit_code == 0, again.stderr
    assert "nothing changed" in again.stderr
    assert state(session) == before


def test_comments_become_the_comment_to_organizers(app, session, world, tmp_path):
    path = write(tmp_path,
                 "ana@example.org,GlucoGo Team,impact,4,Strong evidence",
                 "ana@example.org,GlucoGo Team,feasibility,3,",
                 "ana@example.org,GlucoGo Team,design,80,\"Clean, simple\"",
                 header="judge,team,criterion,score,comment")
    assert run(app, session, "import-scores", world.challenge.slug, path).exit_code == 0
    review = reviews.review_of(session, world.ana.id, world.sub_a.id)
    assert review.comment_to_organizers == "Strong evidence\n\nClean, simple"
    assert review.feedback_to_team == ""


def test_formula_guarded_cells_are_read_back(app, session, world, tmp_path):
    path = write(tmp_path,
                 "ana@example.org,GlucoGo Team,impact,4,'=1+1 is not a formula",
                 "ana@example.org,GlucoGo Team,feasibility,3,",
                 "ana@example.org,GlucoGo Team,design,'+80,'-dash first",
                 header="judge,team,criterion,score,comment")
    result = run(app, session, "import-scores", world.challenge.slug, path)
    assert result.exit_code == 0, result.stderr
    review = reviews.review_of(session, world.ana.id, world.sub_a.id)
    assert reviews.stored_scores(review)["design"] == 80.0
    assert review.comment_to_organizers == "=1+1 is not a formula\n\n-dash first"


def test_columns_in_any_order_and_a_byte_order_mark_are_fine(app, session, world, tmp_path):
    text = "\ufeffScore,Criterion,Team,Judge\r\n4,impact,GlucoGo Team,ana@example.org\r\n"
    path = write(tmp_path, raw=text.encode("utf-8"))
    result = run(app, session, "import-scores", world.challenge.slug, path)
    assert result.exit_code == 0, result.stderr
    assert reviews.stored_scores(reviews.review_of(session, world.ana.id,
                                                   world.sub_a.id)) == {"impact": 4.0}


def test_an_import_updates_a_web_review_and_audits_a_submitted_one(app, session, world,
                                                                    tmp_path):
    first = reviews.save_review(session, world.ana, world.sub_a.id,
                                scores={"impact": "5", "feasibility": "5", "design": "100"},
                                comment_to_organizers="typed on the web", submit=True)
    session.commit()
    path = write(tmp_path, "ana@example.org,GlucoGo Team,impact,1")  # a partial file
    result = run(app, session, "import-scores", world.challenge.slug, path)
    assert result.exit_code == 0, result.stderr
    review = reviews.review_of(session, world.ana.id, world.sub_a.id)
    assert review.id == first.review.id and review.status == "submitted"  # stays submitted
    assert reviews.stored_scores(review) == {"impact": 1.0, "feasibility": 5.0,
                                             "design": 100.0}
    assert review.comment_to_organizers == "typed on the web"  # no comment column: kept
    [event] = session.scalars(select(AuditEvent).where(AuditEvent.action == "review.edited"))
    assert event.details["score_before"] == 100.0
    assert event.details["score_after"] == pytest.approx(60.0)


def test_import_is_not_bound_to_the_judging_window(app, session, world, tmp_path):
    clock.freeze(CLOSES)
    path = write(tmp_path, *FULL_ROWS)
    assert run(app, session, "import-scores", world.challenge.slug, path).exit_code == 0
    assert reviews.review_of(session, world.ana.id, world.sub_a.id).status == "submitted"


# --- bad input: one line per problem, exit 1, nothing changed -----------------------------

def assert_refused(app, session, world, path, *expected: str, slug: str | None = None):
    before = state(session)
    result = run(app, session, "import-scores", slug or world.challenge.slug, path)
    assert result.exit_code == 1, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    for text in expected:
        assert any(text in line for line in lines), (text, lines)
    assert state(session) == before
    return lines


def test_unknown_judge_or_judge_without_a_seat(app, session, world, tmp_path):
    make_person(session, "nobody-judges@example.org", "judge")
    path = write(tmp_path, *FULL_ROWS, "ghost@example.org,GlucoGo Team,impact,3",
                 "nobody-judges@example.org,GlucoGo Team,impact,3")
    lines = assert_refused(
        app, session, world, path,
        f"{path}: row 5, column judge: “ghost@example.org” is not an account",
        f"{path}: row 6, column judge: “nobody-judges@example.org” has no judge seat")
    assert len(lines) == 2


def test_unknown_team_or_team_without_an_entry(app, session, world, tmp_path):
    make_team(session, world.challenge, "No Entry Yet", make_person(session, "ne@example.org"))
    path = write(tmp_path, "ana@example.org,Ghost Team,impact,3",
                 "ana@example.org,No Entry Yet,impact,3")
    assert_refused(app, session, world, path,
                   f"{path}: row 2, column team: there is no team “Ghost Team”",
                   f"{path}: row 3, column team: team “No Entry Yet” has no submitted entry")


def test_unknown_criterion(app, session, world, tmp_path):
    path = write(tmp_path, "ana@example.org,GlucoGo Team,novelty,3")
    assert_refused(app, session, world, path,
                   f"{path}: row 2, column criterion: unknown criterion “novelty”")


@pytest.mark.parametrize(("score", "message"), [
    ("6", "6 is outside the scale 1–5"),
    ("0", "0 is outside the scale 1–5"),
    ("abc", "“abc” is not a number"),
    ("nan", "is not a number"),
    ("", "the score is empty"),
])
def test_bad_scores(app, session, world, tmp_path, score, message):
    path = write(tmp_path, *FULL_ROWS[1:], f"ana@example.org,GlucoGo Team,impact,{score}")
    assert_refused(app, session, world, path, f"{path}: row 4, column score:", message)


def test_a_conflicted_judge_rejects_the_whole_file(app, session, world, tmp_path):
    path = write(tmp_path, *FULL_ROWS, "cy@example.org,GlucoGo Team,impact,3")
    assert_refused(app, session, world, path,
                   f"{path}: row 5, column judge: cy@example.org has a conflict")


def test_team_membership_is_a_conflict_too(app, session, world, tmp_path):
    make_seat(session, world.challenge, world.lee, world.expert)
    path = write(tmp_path, "lee@example.org,GlucoGo Team,impact,3")
    assert_refused(app, session, world, path, "lee@example.org has a conflict")


def test_duplicate_rows(app, session, world, tmp_path):
    path = write(tmp_path, *FULL_ROWS, "ana@example.org,glucogo team,impact,5")
    assert_refused(app, session, world, path,
                   f"{path}: row 5: ana@example.org × “GlucoGo Team” × impact is already "
                   f"given in row 2")


def test_every_problem_is_listed_at_once(app, session, world, tmp_path):
    path = write(tmp_path, "ghost@example.org,GlucoGo Team,impact,3",
                 "ana@example.org,GlucoGo Team,impact,9",
                 "ana@example.org,GlucoGo Team,novelty,3", "ana@example.org,GlucoGo Team")
    lines = assert_refused(app, session, world, path, "row 2", "row 3", "row 4",
                           "row 5, column criterion: the criterion is empty",
                           "row 5, column score: the score is empty")
    assert len(lines) == 5 and all(line.startswith(f"error: {path}: row") for line in lines)


def test_ragged_rows_trailing_empty_cells_are_fine_extra_values_are_not(app, session, world,
                                                                       tmp_path):
    path = write(tmp_path, "ana@example.org,GlucoGo Team,impact,4,,",
                 "ana@example.org,GlucoGo Team,design,80,,extra")
    assert_refused(app, session, world, path,
                   f"{path}: row 3, column 5: 6 cells, but the header has 4 columns")
    path = write(tmp_path, "ana@example.org,GlucoGo Team,impact,4,,", name="ok.csv")
    assert run(app, session, "import-scores", world.challenge.slug, path).exit_code == 0


def test_rows_are_numbered_as_a_spreadsheet_shows_them(app, session, world, tmp_path):
    path = write(tmp_path, 'ana@example.org,GlucoGo Team,impact,4,"two\nlines"',
                 "ana@example.org,GlucoGo Team,novelty,4,",
                 header="judge,team,criterion,score,comment")
    assert_refused(app, session, world, path, f"{path}: row 3, column criterion")


@pytest.mark.parametrize(("header", "message"), [
    ("judge,team,criterion", "missing column score"),
    ("judge,team,score,score", "column score: the column is given twice"),
    ("judge,team,criterion,score,weight", "unknown column “weight”"),
])
def test_bad_headers(app, session, world, tmp_path, header, message):
    path = write(tmp_path, header=header)
    assert_refused(app, session, world, path, f"{path}: row 1", message)


def test_empty_and_non_utf8_files(app, session, world, tmp_path):
    empty = write(tmp_path, raw=b"", name="empty.csv")
    assert_refused(app, session, world, empty, f"{empty}: row 1: the file is empty")
    latin = write(tmp_path, raw="judge,team,criterion,score\nana@example.org,Caf\xe9,impact,3\n"
                  .encode("latin-1"), name="latin.csv")
    assert_refused(app, session, world, latin, f"{latin}: the file is not UTF-8")


def test_unknown_slug_and_missing_file(app, session, world, tmp_path):
    path = write(tmp_path, *FULL_ROWS)
    assert_refused(app, session, world, path, "there is no challenge with slug “nope”",
                   slug="nope")
    assert_refused(app, session, world, tmp_path / "missing.csv", "missing.csv: cannot be read")


def test_usage_errors_exit_2(app, session, world):
    result = run(app, session, "import-scores", world.challenge.slug)
    assert result.exit_code == 2


def test_a_challenge_without_a_rubric(app, session, world, tmp_path):
    session.delete(world.rubric)
    path = write(tmp_path, *FULL_ROWS)
    assert_refused(app, session, world, path, "has no rubric yet")


def test_a_file_of_only_a_header_imports_nothing(app, session, world, tmp_path):
    path = write(tmp_path)
    before = state(session)
    result = run(app, session, "import-scores", world.challenge.slug, path)
    assert result.exit_code == 0 and "nothing changed" in result.stderr
    assert state(session) == before
