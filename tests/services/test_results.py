"""Results: computing from the database, publishing immutable snapshots, feedback, CLI.

Real database, no mocks: every challenge, judge and review is built directly with the
models. The builders at the top are shared with the web and browser tests.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, func, select

from challenge import clock
from challenge.accounts import services as accounts
from challenge.accounts.models import User
from challenge.audit import AuditEvent
from challenge.challenges.models import (
    Challenge,
    Membership,
    Submission,
    SubmissionVersion,
    Team,
)
from challenge.errors import Conflict, DomainError, ValidationFailed
from challenge.judging import results, scoring
from challenge.judging.models import (
    Criterion,
    CriterionScore,
    JudgeSeat,
    Panel,
    ResultEntry,
    ResultSnapshot,
    Review,
    Rubric,
)
from surveys.models import GuidelineDocument, GuidelineItem, Survey
from tests.conftest import PASSWORD
from tests.conftest import golden as load_golden

NOW = datetime(2027, 4, 10, 12, 0, tzinfo=UTC)
GUIDELINES = (("exercise", "Keep glucose steady during sport"),
              ("nights", "Sleep through the night"))
ENTRY_KEYS = {"team", "title", "rank", "reviews", "raw_score", "normalized_score", "spread",
              "flagged"}
JUDGE_KEYS = {"email", "reviews", "mean", "leniency"}


# --- builders (shared) --------------------------------------------------------------------

def make_challenge(session, slug: str = "ddd-2027", *, normalization: str = "zscore",
                   criteria: Iterable[tuple[str, float, float, float]] = (("overall", 1, 1, 10),),
                   panels: Mapping[str, float] | None = None, published: bool = True,
                   with_survey: bool = False) -> Challenge:
    """A challenge whose judging closed before NOW, with a rubric of `criteria`
    (key, weight, min, max) and Panel rows for `panels` (default: expert 1.0)."""
    now = clock.now()
    survey_id = None
    if with_survey:
        survey = Survey(slug=f"{slug}-survey", title="Daily life with diabetes",
                        status="closed", created_at=now, updated_at=now)
        session.add(survey)
        session.flush()
        doc = GuidelineDocument(survey_id=survey.id, version=1, status="published",
                                title="Guidelines", intro="", created_at=now, updated_at=now,
                                published_at=now)
        doc.items = [GuidelineItem(key=k, position=i, title=t, body="Why it matters.")
                     for i, (k, t) in enumerate(GUIDELINES)]
        session.add(doc)
        survey_id = survey.id
    challenge = Challenge(
        slug=slug, title="Data Design Diabetes 2027", survey_id=survey_id,
        registration_opens=datetime(2027, 1, 10, tzinfo=UTC),
        submission_deadline=datetime(2027, 3, 1, 17, tzinfo=UTC),
        judging_closes=datetime(2027, 4, 1, 17, tzinfo=UTC),
        results_at=datetime(2027, 4, 15, 17, tzinfo=UTC), published=published,
        normalization=normalization, panels=dict(panels or {"expert": 1.0}),
        created_at=now, updated_at=now)
    session.add(challenge)
    session.flush()
    rubric = Rubric(challenge_id=challenge.id, version=1, created_at=now)
    rubric.criteria = [Criterion(key=k, name=k.title(), weight=w, min_score=lo, max_score=hi,
                                 position=i)
                       for i, (k, w, lo, hi) in enumerate(criteria)]
    session.add(rubric)
    for name, weight in (panels or {"expert": 1.0}).items():
        session.add(Panel(challenge_id=challenge.id, name=name, weight=weight))
    session.flush()
    return challenge


def add_judge(session, challenge: Challenge, email: str, panel: str | None = "expert"):
    """A judge account with a seat on `panel` (None: no seat at all)."""
    user = session.scalar(select(User).where(User.email == email))
    if user is None:
        user = accounts.create_user(session, email, password=PASSWORD, roles=["judge"])
    if panel is not None:
        row = session.scalar(select(Panel).where(Panel.challenge_id == challenge.id,
                                                 Panel.name == panel))
        session.add(JudgeSeat(challenge_id=challenge.id, user_id=user.id, panel_id=row.id,
                              created_at=clock.now()))
    session.flush()
    return user


def add_entry(session, challenge: Challenge, team: str, title: str | None = None, *,
              needs: Iterable[str] = (), submitted: bool = True, members=()) -> Submission:
    """A team with a submission; its version 1 is the entry when `submitted`."""
    now = clock.now()
    row = Team(challenge_id=challenge.id, name=team, created_at=now)
    session.add(row)
    session.flush()
    for i, user in enumerate(members):
        session.add(Membership(team_id=row.id, challenge_id=challenge.id, user_id=user.id,
                               role="captain" if i == 0 else "member", joined_at=now))
    submission = Submission(team_id=row.id, challenge_id=challenge.id, created_at=now)
    session.add(submission)
    session.flush()
    version = SubmissionVersion(submission_id=submission.id, number=1, title=title or team,
                                needs=list(needs), created_at=now,
                                submitted_at=now if submitted else None)
    session.add(version)
    session.flush()
    if submitted:
        submission.entry_version_id = version.id
        session.flush()
    return submission


def add_review(session, judge, submission: Submission, scores: Mapping[str, float], *,
               status: str = "submitted", feedback: str = "") -> Review:
    """A review with these criterion scores."""
    now = clock.now()
    rubric = session.scalar(select(Rubric).where(Rubric.challenge_id == submission.challenge_id)
                            .order_by(Rubric.version.desc()))
    review = Review(challenge_id=submission.challenge_id, user_id=judge.id,
                    submission_id=submission.id, rubric_id=rubric.id, status=status,
                    feedback_to_team=feedback, created_at=now, updated_at=now,
                    submitted_at=now if status == "submitted" else None)
    review.scores = [CriterionScore(criterion_key=k, score=v) for k, v in scores.items()]
    session.add(review)
    session.flush()
    return review


def golden_challenge(session, slug: str = "ddd-2027", normalization: str = "zscore"):
    """The golden zscore set: judges A, B, C; entries E1-E4; one criterion 1..10."""
    golden = load_golden("scoring.json")["zscore"]
    challenge = make_challenge(session, slug, normalization=normalization)
    judges = {j: add_judge(session, challenge, f"{j.lower()}@example.org")
              for j in sorted({j for j, _e, _s in golden["scores"]})}
    subs = {e: add_entry(session, challenge, e, f"Project {e}", needs=["exercise"])
            for e in sorted({e for _j, e, _s in golden["scores"]})}
    for judge, entry, score in golden["scores"]:
        add_review(session, judges[judge], subs[entry], {"overall": score})
    session.commit()
    return challenge, golden


def organizer(session, email: str = "org@example.org"):
    user = accounts.create_user(session, email, password=PASSWORD, roles=["organizer"])
    session.commit()
    return user


@pytest.fixture(autouse=True)
def _frozen(app):
    clock.freeze(NOW)
    yield
    clock.freeze(None)


def _count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


# --- computing ----------------------------------------------------------------------------

def test_golden_zscore_set_through_the_database(session):
    challenge, golden = golden_challenge(session)
    computed = results.compute(session, challenge)
    got = {e.entry: e.normalized_score for e in computed.results.entries}
    assert got == pytest.approx(golden["normalized_score"], abs=1e-12)
    assert [e.entry for e in computed.results.entries] == golden["ranking"]
    assert [e.rank for e in computed.results.entries] == [1, 2, 3, 4]
    doc = computed.as_json()
    assert doc["challenge"] == "ddd-2027" and doc["normalization"] == "zscore"
    first = doc["entries"][0]
    assert first["team"] == "E1" and first["title"] == "Project E1" and first["reviews"] == 2
    # E1: scores 8 (A) and 5 (B) on 1..10 -> 77.78 and 44.44
    assert first["raw_score"] == pytest.approx(100 * (7 / 9 + 4 / 9) / 2)
    assert first["spread"] == pytest.approx(100 * 3 / 9)
    assert first["flagged"] is False
    assert [j["email"] for j in doc["judges"]] == ["a@example.org", "b@example.org",
                                                   "c@example.org"]
    assert doc["unscored"] == [] and doc["incomplete_reviews"] == 0


def test_raw_mode_ranks_by_raw_score(session):
    challenge, golden = golden_challenge(session, normalization="none")
    computed = results.compute(session, challenge)
    assert [e.entry for e in computed.results.entries] == golden["raw_ranking_would_be"]
    for e in computed.results.entries:
        assert e.normalized_score == e.raw_score


def test_panels_weight_the_entry_score(session):
    challenge = make_challenge(session, normalization="none",
                               criteria=(("overall", 1, 0, 10),),
                               panels={"expert": 0.7, "patient": 0.3})
    expert = add_judge(session, challenge, "ex@example.org", "expert")
    patient = add_judge(session, challenge, "pa@example.org", "patient")
    both = add_entry(session, challenge, "Both")
    experts_only = add_entry(session, challenge, "ExpertsOnly")
    add_review(session, expert, both, {"overall": 8})
    add_review(session, patient, both, {"overall": 4})
    add_review(session, expert, experts_only, {"overall": 6})
    session.commit()
    computed = results.compute(session, challenge)
    by_team = {e.entry: e for e in computed.results.entries}
    assert by_team["Both"].raw_score == pytest.approx(0.7 * 80 + 0.3 * 40)
    # only the panels that reviewed an entry count (weights renormalised)
    assert by_team["ExpertsOnly"].raw_score == pytest.approx(60)
    assert computed.judge_panels == {"ex@example.org": "expert", "pa@example.org": "patient"}
    assert computed.as_json()["panels"] == {"expert": 0.7, "patient": 0.3}


def test_panel_weights_fall_back_to_the_challenge_settings(session):
    challenge = make_challenge(session, normalization="none", panels={"expert": 1.0})
    session.execute(Panel.__table__.delete())  # no Panel rows: Challenge.panels decides
    judge = add_judge(session, challenge, "ex@example.org", None)  # no seat: expert
    add_review(session, judge, add_entry(session, challenge, "Solo"), {"overall": 10})
    session.commit()
    computed = results.compute(session, challenge)
    assert computed.panels == {"expert": 1.0}
    assert computed.results.entries[0].raw_score == pytest.approx(100.0)


def test_ties_are_broken_by_the_heaviest_criterion_then_shared(session):
    challenge = make_challenge(session, normalization="none",
                               criteria=(("impact", 40, 1, 5), ("feasibility", 40, 1, 5),
                                         ("design", 20, 1, 5)))
    judge = add_judge(session, challenge, "ex@example.org")
    # Same weighted score (impact and feasibility weigh the same: impact, first, breaks).
    add_review(session, judge, add_entry(session, challenge, "Steady"),
               {"impact": 3, "feasibility": 5, "design": 3})
    add_review(session, judge, add_entry(session, challenge, "Bold"),
               {"impact": 5, "feasibility": 3, "design": 3})
    add_review(session, judge, add_entry(session, challenge, "Twin"),
               {"impact": 5, "feasibility": 3, "design": 3})
    add_review(session, judge, add_entry(session, challenge, "Low"),
               {"impact": 1, "feasibility": 1, "design": 1})
    session.commit()
    entries = results.compute(session, challenge).results.entries
    assert [(e.entry, e.rank) for e in entries] == [("Bold", 1), ("Twin", 1), ("Steady", 3),
                                                    ("Low", 4)]


def test_only_submitted_complete_reviews_count(session):
    challenge = make_challenge(session, criteria=(("impact", 1, 1, 5), ("design", 1, 1, 5)))
    a = add_judge(session, challenge, "a@example.org")
    b = add_judge(session, challenge, "b@example.org")
    scored = add_entry(session, challenge, "Scored")
    draft_only = add_entry(session, challenge, "DraftOnly")
    half = add_entry(session, challenge, "Half")
    add_entry(session, challenge, "Nobody")
    add_entry(session, challenge, "NotSubmitted", submitted=False)
    add_review(session, a, scored, {"impact": 5, "design": 4})
    add_review(session, b, scored, {"impact": 4, "design": 4})
    add_review(session, a, draft_only, {"impact": 5, "design": 5}, status="draft")
    add_review(session, b, half, {"impact": 5})  # submitted under an older rubric, say
    session.commit()
    computed = results.compute(session, challenge)
    assert [e.entry for e in computed.results.entries] == ["Scored"]
    assert [e.team for e in computed.unscored] == ["DraftOnly", "Half", "Nobody"]
    assert computed.incomplete_reviews == 1
    assert computed.as_json()["unscored"] == [
        {"team": "DraftOnly", "title": "DraftOnly"}, {"team": "Half", "title": "Half"},
        {"team": "Nobody", "title": "Nobody"}]


def test_scores_outside_the_current_rubric_make_a_review_incomplete(session):
    challenge = make_challenge(session, normalization="none",
                               criteria=(("impact", 1, 1, 5),))
    judge = add_judge(session, challenge, "a@example.org")
    old = add_entry(session, challenge, "Old")
    add_review(session, judge, old, {"impact": 9, "retired": 3})  # 9: an older 1..10 scale
    session.commit()
    computed = results.compute(session, challenge)
    assert computed.results.entries == () and computed.incomplete_reviews == 1
    assert [e.team for e in computed.unscored] == ["Old"]


def test_no_rubric_is_a_clear_error(session):
    now = clock.now()
    challenge = Challenge(slug="bare", title="Bare", registration_opens=now,
                          submission_deadline=now, judging_closes=now, results_at=now,
                          created_at=now, updated_at=now)
    session.add(challenge)
    session.commit()
    with pytest.raises(DomainError, match="no rubric"):
        results.compute(session, challenge)


def test_database_results_equal_the_pure_computation(session):
    challenge = make_challenge(session, criteria=(("impact", 0.4, 1, 5), ("design", 0.6, 0, 10)),
                               panels={"expert": 0.7, "patient": 0.3})
    judges = [add_judge(session, challenge, f"j{i}@example.org", ("expert", "patient")[i % 2])
              for i in range(5)]
    judges.append(add_judge(session, challenge, "noseat@example.org", None))  # expert
    expected = []
    for n in range(12):
        sub = add_entry(session, challenge, f"Team {n:02d}")
        for i, judge in enumerate(judges):
            if (n + i) % 4 == 0:
                continue
            scores = {"impact": 1 + (n * i) % 5, "design": ((n + 2 * i) % 21) / 2}
            if (n, i) == (3, 2):
                scores = {"impact": 4}  # incomplete: left out
            status = "draft" if (n, i) == (5, 2) else "submitted"
            add_review(session, judge, sub, scores, status=status)
            if status == "submitted":
                panel = "expert" if judge.email == "noseat@example.org" else (
                    ("expert", "patient")[i % 2])
                expected.append(scoring.ReviewInput(judge.email, f"Team {n:02d}", scores, panel))
    session.commit()
    computed = results.compute(session, challenge)
    criteria = [scoring.Criterion("impact", 0.4, 1, 5), scoring.Criterion("design", 0.6, 0, 10)]
    pure = scoring.compute_results(criteria, expected, "zscore",
                                   {"expert": 0.7, "patient": 0.3})
    assert computed.results == pure  # bit for bit
    assert computed.incomplete_reviews == 1
    assert len(computed.reviews) == len(expected)
    assert computed.judge_panels["noseat@example.org"] == "expert"
    by_judge = computed.scores_by_judge()
    assert sorted(by_judge) == sorted(j.judge for j in pure.judges)
    assert {k: len(v) for k, v in by_judge.items()} == {j.judge: j.reviews for j in pure.judges}


def _queries(engine, fn) -> int:
    seen = []

    def count(*_args, **_kw):
        seen.append(1)

    event.listen(engine, "before_cursor_execute", count)
    try:
        fn()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(seen)


def _many(session, slug: str, entries: int):
    challenge = make_challenge(session, slug, criteria=(("impact", 2, 1, 5),
                                                        ("design", 1, 1, 5)))
    judges = [add_judge(session, challenge, f"{slug}-{i}@example.org") for i in range(3)]
    for n in range(entries):
        sub = add_entry(session, challenge, f"Team {n:02d}")
        for i, judge in enumerate(judges):
            add_review(session, judge, sub, {"impact": 1 + (n + i) % 5, "design": 1 + n % 5})
    session.commit()
    return challenge


def test_computing_takes_the_same_number_of_queries_for_5_and_50_entries(app, session):
    small, large = _many(session, "small", 5), _many(session, "large", 50)
    engine = app.extensions["db_engine"]
    session.commit()
    session.expire_all()
    n_small = _queries(engine, lambda: results.compute(session, small))
    session.commit()
    session.expire_all()
    n_large = _queries(engine, lambda: results.compute(session, large))
    assert n_small == n_large
    assert len(results.compute(session, large).results.entries) == 50


# --- publishing ---------------------------------------------------------------------------

def test_publish_writes_an_immutable_snapshot(session):
    challenge, golden = golden_challenge(session)
    org = organizer(session)
    snapshot = results.publish(session, challenge, org, {"E1": "  Grand   prize "})
    session.commit()
    assert snapshot.version == 1 and snapshot.published_by == org.id
    assert snapshot.published_at == NOW and snapshot.feedback_released is False
    assert [(e.rank, e.team_name, e.title, e.award) for e in snapshot.entries] == [
        (1, "E1", "Project E1", "Grand prize"), (2, "E3", "Project E3", ""),
        (3, "E4", "Project E4", ""), (4, "E2", "Project E2", "")]
    assert snapshot.entries[0].needs == ["exercise"]
    assert snapshot.entries[0].normalized_score == pytest.approx(1.0)
    assert snapshot.data["entries"][0]["team"] == "E1"
    assert snapshot.data["awards"] == {"E1": "Grand prize"} and snapshot.data["version"] == 1
    judge_a = session.scalar(select(User).where(User.email == "a@example.org"))
    assert snapshot.data["judges"][0]["judge_id"] == judge_a.id
    assert "@" not in json.dumps(snapshot.data["judges"])  # no e-mail kept for ever
    event_row = session.scalar(select(AuditEvent).where(AuditEvent.action == "results.published"))
    assert event_row.actor_id == org.id and event_row.details["version"] == 1

    snapshot.entries[0].award = "Something else"
    with pytest.raises(RuntimeError, match="immutable"):
        session.flush()
    session.rollback()
    snapshot = results.latest_snapshot(session, challenge)
    snapshot.version = 7
    with pytest.raises(RuntimeError, match="immutable"):
        session.flush()
    session.rollback()
    snapshot = results.latest_snapshot(session, challenge)
    session.delete(snapshot)
    with pytest.raises(RuntimeError, match="never deleted"):
        session.flush()
    session.rollback()
    assert results.latest_snapshot(session, challenge).entries[0].award == "Grand prize"


def test_second_publication_is_version_2_and_version_1_stays(session):
    challenge, _ = golden_challenge(session)
    org = organizer(session)
    first = results.publish(session, challenge, org, {"E1": "Grand prize"})
    session.commit()
    # A late review lifts E4 before the second publication.
    late = add_judge(session, challenge, "d@example.org")
    e4 = session.scalar(select(Submission).join(Team).where(Team.name == "E4"))
    add_review(session, late, e4, {"overall": 10})
    session.commit()
    second = results.publish(session, challenge, org, {"E1": "Runner-up"})
    session.commit()
    assert second.version == 2 and second.id != first.id
    old = results.snapshot_version(session, challenge, 1)
    assert [e.team_name for e in old.entries] == ["E1", "E3", "E4", "E2"]
    assert old.entries[0].award == "Grand prize"
    assert results.latest_snapshot(session, challenge).version == 2
    assert [v.version for v in results.history(session, challenge)] == [2, 1]
    assert _count(session, ResultSnapshot) == 2


def test_unscored_entries_are_refused_unless_confirmed(session):
    challenge, _ = golden_challenge(session)
    add_entry(session, challenge, "Forgotten", "Left behind")
    add_entry(session, challenge, "Also Forgotten")
    session.commit()
    org = organizer(session)
    with pytest.raises(results.UnscoredEntries) as refused:
        results.publish(session, challenge, org)
    session.rollback()
    assert "Also Forgotten, Forgotten" in refused.value.message
    assert refused.value.teams == ["Also Forgotten", "Forgotten"]
    assert _count(session, ResultSnapshot) == 0 and _count(session, ResultEntry) == 0

    snapshot = results.publish(session, challenge, org, confirm_unscored=True)
    session.commit()
    assert [e.team_name for e in snapshot.entries] == ["E1", "E3", "E4", "E2"]
    assert [u["team"] for u in snapshot.data["unscored"]] == ["Also Forgotten", "Forgotten"]


def test_awards_are_checked(session):
    challenge, _ = golden_challenge(session)
    add_entry(session, challenge, "Forgotten")
    session.commit()
    with pytest.raises(ValidationFailed) as bad:
        results.publish(session, challenge, None,
                        {"Nope": "Grand prize", "Forgotten": "Runner-up", "E1": "x" * 121,
                         "E2": "   "}, confirm_unscored=True)
    session.rollback()
    text = " ".join(bad.value.problems)
    assert "'Nope'" in text and "'Forgotten'" in text and "at most 120" in text
    assert len(bad.value.problems) == 3  # the empty award is simply no award
    assert _count(session, ResultSnapshot) == 0


def test_nothing_to_publish_without_a_complete_review(session):
    challenge = make_challenge(session)
    add_entry(session, challenge, "Alone")
    session.commit()
    with pytest.raises(DomainError, match="nothing to publish"):
        results.publish(session, challenge, None, confirm_unscored=True)


def test_a_stale_form_does_not_publish_twice(session):
    challenge, _ = golden_challenge(session)
    org = organizer(session)
    results.publish(session, challenge, org, based_on=0)
    session.commit()
    with pytest.raises(results.AlreadyPublished) as again:
        results.publish(session, challenge, org, based_on=0)
    session.rollback()
    assert again.value.snapshot.version == 1 and _count(session, ResultSnapshot) == 1
    assert results.publish(session, challenge, org, based_on=1).version == 2


# --- feedback -----------------------------------------------------------------------------

def test_feedback_only_after_release_and_only_the_teams_own(session):
    challenge = make_challenge(session)
    ana = accounts.create_user(session, "ana@example.org", password=PASSWORD, roles=["entrant"])
    j1, j2 = (add_judge(session, challenge, f"j{i}@example.org") for i in (1, 2))
    mine = add_entry(session, challenge, "Mine", members=[ana])
    theirs = add_entry(session, challenge, "Theirs")
    add_review(session, j1, mine, {"overall": 8}, feedback="Great use of CGM data.")
    add_review(session, j2, mine, {"overall": 6}, feedback="")
    add_review(session, j1, theirs, {"overall": 5}, feedback="Their secret feedback.")
    add_review(session, j2, theirs, {"overall": 7}, feedback="Draft words", status="draft")
    session.commit()
    team = results.team_of(session, ana, challenge)
    assert team.name == "Mine"
    assert results.team_feedback(session, team) is None  # nothing published
    org = organizer(session)
    snapshot = results.publish(session, challenge, org)
    session.commit()
    assert results.team_feedback(session, team) is None  # published, not released
    results.release_feedback(session, snapshot, org)
    session.commit()
    assert results.team_feedback(session, team) == ["Great use of CGM data."]
    other = session.scalar(select(Team).where(Team.name == "Theirs"))
    assert results.team_feedback(session, other) == ["Their secret feedback."]
    released = session.scalars(select(AuditEvent).where(
        AuditEvent.action == "results.feedback_released")).all()
    assert len(released) == 1 and released[0].actor_id == org.id
    results.release_feedback(session, snapshot, org)  # again: nothing new
    session.commit()
    assert session.scalar(select(func.count()).where(
        AuditEvent.action == "results.feedback_released")) == 1

    # A new version starts unreleased; only the newest can be released.
    second = results.publish(session, challenge, org)
    session.commit()
    assert results.team_feedback(session, team) is None
    with pytest.raises(Conflict):
        results.release_feedback(session, results.snapshot_version(session, challenge, 1), org)
    session.rollback()
    results.release_feedback(session, second, org)
    session.commit()
    assert results.team_feedback(session, team) == ["Great use of CGM data."]


# --- CLI ----------------------------------------------------------------------------------

def _cli(app, *args):
    """Run a command like an organizer would, after the test's own changes are committed
    (and its read transaction ended, so SQLite's write lock is free)."""
    test_session = app.extensions.get("test_session")
    if test_session is not None:
        test_session.commit()
        test_session.expire_all()
    return app.test_cli_runner().invoke(args=list(args))


def test_cli_results_json_has_exactly_the_contract_shape(app, session):
    challenge, golden = golden_challenge(session)
    result = _cli(app, "judging", "results", "ddd-2027", "--format", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert {"challenge", "normalization", "entries", "reliability", "judges"} <= set(doc)
    assert doc["challenge"] == "ddd-2027" and doc["normalization"] == "zscore"
    assert [e["team"] for e in doc["entries"]] == golden["ranking"]
    for entry in doc["entries"]:
        assert set(entry) == ENTRY_KEYS
        assert isinstance(entry["raw_score"], float) and isinstance(entry["rank"], int)
        assert isinstance(entry["flagged"], bool) and isinstance(entry["reviews"], int)
    assert {e["team"]: e["normalized_score"] for e in doc["entries"]} == pytest.approx(
        golden["normalized_score"])
    assert set(doc["reliability"]) == {"krippendorff_alpha", "per_criterion"}
    assert set(doc["reliability"]["per_criterion"]) == {"overall"}
    assert isinstance(doc["reliability"]["krippendorff_alpha"], float)
    for judge in doc["judges"]:
        assert set(judge) == JUDGE_KEYS
    assert "reviews_for_alpha_08" in doc and doc["unscored"] == []
    assert _count(session, ResultSnapshot) == 0  # computing publishes nothing

    text = _cli(app, "judging", "results", "ddd-2027")
    assert text.exit_code == 0 and "1. E1: Project E1" in text.stdout
    missing = _cli(app, "judging", "results", "nope", "--format", "json")
    assert missing.exit_code == 1 and missing.stdout == ""
    assert "no challenge" in missing.stderr
    assert _cli(app, "judging", "results", "ddd-2027", "--format", "xml").exit_code == 2
    for command in ("publish", "export"):
        unknown = _cli(app, "results", command, "nope")
        assert unknown.exit_code == 1 and "no challenge" in unknown.stderr


def test_cli_publish_with_awards_and_confirmation(app, session):
    challenge, _ = golden_challenge(session)
    add_entry(session, challenge, "Forgotten")
    session.commit()
    refused = _cli(app, "results", "publish", "ddd-2027", "--award", "E1=Grand prize")
    assert refused.exit_code == 1 and "Forgotten" in refused.stderr
    assert "--confirm-unscored" in refused.stderr
    assert _count(session, ResultSnapshot) == 0
    unknown = _cli(app, "results", "publish", "ddd-2027", "--award", "Nope=Prize",
                   "--confirm-unscored")
    assert unknown.exit_code == 1 and "'Nope'" in unknown.stderr
    malformed = _cli(app, "results", "publish", "ddd-2027", "--award", "E1 Grand prize")
    assert malformed.exit_code == 1 and "TEAM=AWARD" in malformed.stderr
    ok = _cli(app, "results", "publish", "ddd-2027", "--award", "E1=Grand prize",
              "--award", "E3=Patient panel's choice", "--confirm-unscored")
    assert ok.exit_code == 0, ok.stderr
    assert "published version 1" in ok.stderr and ok.stdout == ""
    session.expire_all()
    snapshot = results.latest_snapshot(session, challenge)
    assert {e.team_name: e.award for e in snapshot.entries if e.award} == {
        "E1": "Grand prize", "E3": "Patient panel's choice"}
    assert session.scalar(select(AuditEvent.actor_label).where(
        AuditEvent.action == "results.published")) == "cli"


def test_cli_export_is_formula_safe(app, session):
    challenge = make_challenge(session, normalization="none")
    a, b = add_judge(session, challenge, "a@example.org"), add_judge(session, challenge,
                                                                     "b@example.org")
    evil = add_entry(session, challenge, "=HYPERLINK(1)", "+SUM(A1)")
    plain = add_entry(session, challenge, "Plain", "Plain title")
    add_review(session, a, evil, {"overall": 10})
    add_review(session, b, evil, {"overall": 1})
    add_review(session, a, plain, {"overall": 5})
    session.commit()
    none_yet = _cli(app, "results", "export", "ddd-2027")
    assert none_yet.exit_code == 1 and "no results are published" in none_yet.stderr
    assert _cli(app, "results", "publish", "ddd-2027",
                "--award", "=HYPERLINK(1)=@Grand prize").exit_code == 0
    out = _cli(app, "results", "export", "ddd-2027")
    assert out.exit_code == 0, out.stderr
    rows = list(csv.reader(io.StringIO(out.stdout)))
    assert rows[0] == ["rank", "team", "title", "reviews", "raw_score", "normalized_score",
                       "spread", "flagged", "award"]
    assert rows[1] == ["1", "'=HYPERLINK(1)", "'+SUM(A1)", "2", "50.0", "50.0", "100.0",
                       "true", "'@Grand prize"]
    assert rows[2][1:3] == ["Plain", "Plain title"] and rows[2][7:] == ["false", ""]
    assert _cli(app, "results", "export", "ddd-2027", "--version", "2").exit_code == 1


# --- chart geometry and explanations (pure helpers used by the dashboard) -----------------

def test_chart_geometry_places_scores_on_the_0_100_axis():
    from challenge.judging import charts

    strips = charts.judge_strips([charts.JudgeScores("a@example.org", (0.0, 50.0, 50.0, 100.0)),
                                  charts.JudgeScores("b@example.org", ())])
    left, right = strips.left, strips.right
    a, b = strips.rows
    assert [d.cx for d in a.dots] == [left, (left + right) / 2, (left + right) / 2, right]
    assert a.dots[1].cy != a.dots[2].cy  # equal scores do not hide each other
    assert a.mean == 50.0 and a.mean_x == (left + right) / 2
    assert b.dots == () and b.mean is None and b.mean_x is None
    assert b.y > a.y and strips.height > strips.bottom
    assert [t.label for t in strips.ticks] == ["0", "20", "40", "60", "80", "100"]

    # Beyond MAX_DOTS reviews a row is a box plot (inclusive quartiles) without dots.
    many = tuple(float(v) for v in range(charts.MAX_DOTS + 1))  # 0, 1, ..., 40
    (busy,) = charts.judge_strips([charts.JudgeScores("c@example.org", many)]).rows
    assert busy.dots == () and busy.count == charts.MAX_DOTS + 1
    box = busy.box
    assert (box.low, box.q1, box.median, box.q3, box.high) == (0.0, 10.0, 20.0, 30.0, 40.0)
    assert box.low_x < box.q1_x < box.median_x < box.q3_x < box.high_x
    assert a.box is None and a.count == 4

    spreads = charts.entry_spreads([
        charts.EntryRow(1, "A very long team name that will not fit", 70.0, 90.0, 40.0, True)])
    row = spreads.rows[0]
    assert row.x1 < row.cx < row.x2 and (row.low, row.high) == (40.0, 90.0)
    assert row.label.endswith("…") and row.full_label.startswith("1. A very long")
    assert row.flagged


def test_alpha_explanation_reads_plainly():
    assert "cannot be measured yet" in results.alpha_explanation(None, None)
    assert "good" in results.alpha_explanation(0.85, 1)
    assert "reach alpha" not in results.alpha_explanation(0.85, 1)
    low = results.alpha_explanation(0.2, 16)
    assert "low" in low and "About 16 reviews per entry would reach alpha 0.8" in low
    assert "no more than chance" in results.alpha_explanation(-0.1, None)
