"""Scoring services: the judge's queue, the scoring page, drafts, submitting and editing.

Real database, no mocks; the challenge, teams, entries, judge seats and assignments are
built directly (entries through the real submission services, before the deadline); the
clock is frozen inside the judging window. The builders at the top are shared with the
web tests.
"""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from flask_login import AnonymousUserMixin
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from challenge import clock
from challenge.accounts.models import UserRole
from challenge.audit import AuditEvent
from challenge.challenges import submissions
from challenge.challenges.models import Submission
from challenge.errors import Conflict, Forbidden, NotFound
from challenge.judging import reviews
from challenge.judging.models import (
    Assignment,
    Criterion,
    CriterionScore,
    JudgeSeat,
    Panel,
    Review,
    Rubric,
)
from challenge.judging.models import Conflict as ConflictRow
from tests.services.test_submissions import (
    BEFORE,
    DEADLINE,
    PDF,
    make_challenge,
    make_person,
    make_team,
)

CLOSES = DEADLINE + timedelta(days=30)  # make_challenge's judging_closes
DURING = DEADLINE + timedelta(days=2)
US = timedelta(microseconds=1)

CRITERIA = (
    # key, name, weight, min, max, levels, guidelines, description, plain description
    ("impact", "Impact on daily life", 40, 1, 5,
     {"1": "No clear benefit", "5": "Transforms a daily routine"}, ["exercise"],
     "Expected effect on **patient-reported** outcomes.", "Would this make your day easier?"),
    ("feasibility", "Feasibility", 30, 1, 5, {}, [], "Can it be built and used?", ""),
    ("design", "Design for real people", 30, 0, 100, {}, ["meals"], "Usability.", ""),
)
FULL = {"impact": "4", "feasibility": "3", "design": "80"}


def expected_score(scores: dict[str, float]) -> float:
    """METHODS.md 5, written out independently of the code under test."""
    total = 0.0
    for key, _name, weight, low, high, *_rest in CRITERIA:
        total += weight * (scores[key] - low) / (high - low)
    return 100 * total / sum(c[2] for c in CRITERIA)


# --- builders (shared) --------------------------------------------------------------------

def make_rubric(session, challenge, criteria=CRITERIA, version: int = 1) -> Rubric:
    rubric = Rubric(challenge_id=challenge.id, version=version, created_at=clock.now())
    rubric.criteria = [
        Criterion(key=key, name=name, weight=float(weight), min_score=float(low),
                  max_score=float(high), levels=dict(levels), guidelines=list(cited),
                  description=text, plain_description=plain, position=i)
        for i, (key, name, weight, low, high, levels, cited, text, plain) in enumerate(criteria)]
    session.add(rubric)
    session.flush()
    return rubric


def make_panel(session, challenge, name: str = "expert", weight: float = 1.0) -> Panel:
    panel = Panel(challenge_id=challenge.id, name=name, weight=weight)
    session.add(panel)
    session.flush()
    return panel


def make_seat(session, challenge, user, panel) -> JudgeSeat:
    seat = JudgeSeat(challenge_id=challenge.id, user_id=user.id, panel_id=panel.id,
                     created_at=clock.now())
    session.add(seat)
    session.flush()
    return seat


def make_entry(session, team, author, *, title: str = "GlucoGo", summary: str = "Helps.",
               needs=("exercise",), demo_url: str = "", files=()) -> Submission:
    """Save and submit an entry through the real services, before the deadline."""
    with clock.frozen(BEFORE):
        submissions.save_draft(session, team, submissions.Draft(
            title=title, summary=summary, needs=tuple(needs), demo_url=demo_url),
            actor=author)
        for name, content in files:
            submissions.add_file(session, team, io.BytesIO(content), name, actor=author)
        submissions.submit(session, team, actor=author)
    session.flush()
    return submissions.submission_of(session, team)


def make_assignment(session, judge, submission, source: str = "manual") -> Assignment:
    row = Assignment(challenge_id=submission.challenge_id, user_id=judge.id,
                     submission_id=submission.id, source=source, created_at=clock.now())
    session.add(row)
    session.flush()
    return row


def make_conflict(session, challenge, judge, team, reason: str = "Advises the team"):
    row = ConflictRow(challenge_id=challenge.id, user_id=judge.id, team_id=team.id,
                      source="declared", reason=reason, created_at=clock.now())
    session.add(row)
    session.flush()
    return row


def build_world(session, *, blind: bool = False, title_a: str = "GlucoGo",
                summary_a: str = "Helps **runners**."):
    """A challenge with a rubric, two panels, two teams with entries (team A with a PDF),
    judges ana (expert; assigned A and B), pat (patient; assigned A), olga (expert; not
    assigned), cy (expert; assigned A but declared a conflict with A), and an organizer."""
    with clock.frozen(BEFORE - timedelta(days=2)):
        challenge = make_challenge(session)
    challenge.blind_judging = blind
    rubric = make_rubric(session, challenge)
    expert, patient = make_panel(session, challenge), make_panel(session, challenge,
                                                                 "patient", 0.5)
    lee = make_person(session, "lee@example.org")
    max_ = make_person(session, "max@example.org")
    team_a = make_team(session, challenge, "GlucoGo Team", lee)
    team_b = make_team(session, challenge, "Nightwatch", max_)
    sub_a = make_entry(session, team_a, lee, title=title_a, summary=summary_a,
                       needs=("exercise", "meals"), demo_url="https://video.example.org/a",
                       files=[("deck.pdf", PDF)])
    sub_b = make_entry(session, team_b, max_, title="Night owl", needs=("nights",))
    ana = make_person(session, "ana@example.org", "judge")
    pat = make_person(session, "pat@example.org", "judge")
    olga = make_person(session, "olga@example.org", "judge")
    cy = make_person(session, "cy@example.org", "judge")
    org = make_person(session, "org@example.org", "organizer")
    for judge, panel in ((ana, expert), (pat, patient), (olga, expert), (cy, expert)):
        make_seat(session, challenge, judge, panel)
    for judge, sub in ((ana, sub_a), (ana, sub_b), (pat, sub_a), (cy, sub_a)):
        make_assignment(session, judge, sub)
    make_conflict(session, challenge, cy, team_a)
    session.commit()
    return type("World", (), dict(
        challenge=challenge, rubric=rubric, expert=expert, patient=patient, lee=lee,
        max=max_, team_a=team_a, team_b=team_b, sub_a=sub_a, sub_b=sub_b, ana=ana, pat=pat,
        olga=olga, cy=cy, org=org))


def count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def audit_events(session, action: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                .order_by(AuditEvent.id)))


# --- fixtures -----------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def _frozen(app):
    clock.freeze(DURING)
    yield
    clock.freeze(None)


@pytest.fixture
def world(session):
    return build_world(session)


def save(session, world_or_judge, submission, scores=None, *, submit=False, comment="",
         feedback="", now=None):
    return reviews.save_review(session, world_or_judge, submission.id,
                               scores=FULL if scores is None else scores,
                               comment_to_organizers=comment, feedback_to_team=feedback,
                               submit=submit, now=now)


# --- parsing ------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "value"), [
    ("4", 4.0), (" 3.5 ", 3.5), ("+2", 2.0), ("-1", -1.0), (".5", 0.5), ("", None),
    ("   ", None), (None, None), (3, 3.0), (2.5, 2.5),
])
def test_parse_score_accepts_plain_numbers(raw, value):
    assert reviews.parse_score(raw) == value


@pytest.mark.parametrize("raw", ["abc", "4a", "1e3", "nan", "inf", "-inf", "NaN", "3,5", "½",
                                 "0x10", "1" * 40, True, float("nan"), float("inf")])
def test_parse_score_refuses_everything_else(raw):
    with pytest.raises(ValueError):
        reviews.parse_score(raw)


# --- the queue ----------------------------------------------------------------------------

def test_queue_lists_assigned_entries_with_progress_and_counts(session, world):
    [queue] = reviews.queue_for(session, world.ana)
    assert queue.challenge.id == world.challenge.id and queue.open
    assert queue.closes == CLOSES and queue.seat.panel.name == "expert"
    assert [(e.label, e.title, e.status) for e in queue.entries] == [
        ("GlucoGo Team", "GlucoGo", "not_started"), ("Nightwatch", "Night owl", "not_started")]
    assert queue.counts == {"not_started": 2, "draft": 0, "submitted": 0}

    save(session, world.ana, world.sub_a, {"impact": "2"})
    save(session, world.ana, world.sub_b, submit=True)
    session.commit()
    [queue] = reviews.queue_for(session, world.ana)
    assert [(e.status, e.score) for e in queue.entries] == [
        ("draft", None), ("submitted", pytest.approx(expected_score(
            {"impact": 4, "feasibility": 3, "design": 80})))]
    assert queue.counts == {"not_started": 0, "draft": 1, "submitted": 1}
    assert queue.entries[1].updated_at == DURING


def test_queue_is_empty_for_unassigned_judges_and_people_without_a_seat(session, world):
    [queue] = reviews.queue_for(session, world.olga)
    assert queue.entries == [] and queue.counts["not_started"] == 0
    assert reviews.queue_for(session, world.lee) == []
    assert reviews.queue_for(session, world.org) == []
    assert reviews.queue_for(session, AnonymousUserMixin()) == []
    assert reviews.queue_for(session, None) == []


def test_queue_marks_conflicted_assignments_and_the_closed_window(session, world):
    [queue] = reviews.queue_for(session, world.cy)
    assert [(e.label, e.conflicted) for e in queue.entries] == [("GlucoGo Team", True)]
    [closed] = reviews.queue_for(session, world.ana, CLOSES)
    assert not closed.open
    [still] = reviews.queue_for(session, world.ana, CLOSES - US)
    assert still.open


def test_queue_in_blind_mode_shows_entry_numbers_not_team_names(session):
    world = build_world(session, blind=True)
    [queue] = reviews.queue_for(session, world.ana)
    labels = [e.label for e in queue.entries]
    assert labels == sorted([f"Entry #{world.sub_a.id}", f"Entry #{world.sub_b.id}"])
    assert not any("GlucoGo Team" in label or "Nightwatch" in label for label in labels)


# --- the scoring page: who may see it -----------------------------------------------------

def test_scoring_page_shows_the_entry_and_the_rubric_to_an_assigned_judge(session, world):
    page = reviews.scoring_page(session, world.ana, world.sub_a.id)
    assert page.label == "GlucoGo Team" and not page.blind
    assert page.members == ["lee"]
    assert page.entry.title == "GlucoGo" and page.entry.demo_url.endswith("/a")
    assert [f.original_name for f in page.files] == ["deck.pdf"]
    assert page.files[0].sha256 and len(page.files[0].sha256) == 64
    assert page.needs == [("exercise", "Keep glucose steady during sport"),
                          ("meals", "Plan meals without counting everything")]
    assert [c.key for c in page.criteria] == ["impact", "feasibility", "design"]
    impact, _feasibility, design = page.criteria
    assert impact.choices == (1, 2, 3, 4, 5) and impact.radio
    assert impact.levels == (("1", "No clear benefit"), ("5", "Transforms a daily routine"))
    assert impact.guidelines == (("exercise", "Keep glucose steady during sport"),)
    assert impact.share == pytest.approx(40.0)
    assert impact.text == "Expected effect on **patient-reported** outcomes."
    assert design.choices == () and not design.radio  # 0-100: a number input
    assert page.review is None and page.status == "not_started" and page.open
    assert page.values == {"impact": "", "feasibility": "", "design": ""}


def test_patient_panel_judges_read_the_plain_language_text(session, world):
    page = reviews.scoring_page(session, world.pat, world.sub_a.id)
    texts = {c.key: c.text for c in page.criteria}
    assert texts["impact"] == "Would this make your day easier?"
    assert texts["feasibility"] == "Can it be built and used?"  # no plain text: description
    expert = reviews.scoring_page(session, world.ana, world.sub_a.id)
    assert expert.criteria[0].text.startswith("Expected effect")


def test_blind_mode_hides_team_name_and_members_on_the_scoring_page(session):
    world = build_world(session, blind=True)
    page = reviews.scoring_page(session, world.ana, world.sub_a.id)
    assert page.blind and page.label == f"Entry #{world.sub_a.id}" and page.members == []


@pytest.mark.parametrize("who", ["olga", "lee", "org", "anonymous", "none"])
def test_scoring_page_is_not_found_for_anyone_not_assigned(session, world, who):
    others = {"anonymous": AnonymousUserMixin(), "none": None}
    user = others[who] if who in others else getattr(world, who)
    with pytest.raises(NotFound) as caught:
        reviews.scoring_page(session, user, world.sub_a.id)
    assert caught.value.status_code == 404
    assert "GlucoGo" not in caught.value.message
    with pytest.raises(NotFound):
        save(session, user, world.sub_a, submit=True)
    session.rollback()
    assert count(session, Review) == 0


def test_a_seat_without_the_judge_role_opens_nothing(session, world):
    world.ana.role_rows.clear()
    session.commit()
    with pytest.raises(NotFound):
        reviews.scoring_page(session, world.ana, world.sub_a.id)


def test_scoring_page_is_not_found_for_a_missing_entry_or_another_challenges_judge(session,
                                                                                  world):
    with pytest.raises(NotFound):
        reviews.scoring_page(session, world.ana, 99999)
    other = make_challenge(session, "other-2027")
    make_seat(session, other, world.olga, make_panel(session, other))
    with pytest.raises(NotFound):
        reviews.scoring_page(session, world.olga, world.sub_a.id)


def test_conflicted_judge_is_refused_with_a_message_even_when_assigned(session, world):
    with pytest.raises(Forbidden) as caught:
        reviews.scoring_page(session, world.cy, world.sub_a.id)
    assert caught.value.status_code == 403 and "conflict" in caught.value.message
    with pytest.raises(Forbidden):
        save(session, world.cy, world.sub_a, submit=True)
    session.rollback()
    assert count(session, Review) == 0


def test_team_membership_is_a_conflict(session, world):
    world.lee.role_rows.append(UserRole(role="judge"))
    make_seat(session, world.challenge, world.lee, world.expert)
    make_assignment(session, world.lee, world.sub_a)
    session.commit()
    with pytest.raises(Forbidden):
        save(session, world.lee, world.sub_a, submit=True)
    session.rollback()
    assert count(session, Review) == 0


# --- drafts and submitting ----------------------------------------------------------------

def test_a_draft_may_be_partial_and_does_not_count(session, world):
    outcome = save(session, world.ana, world.sub_a, {"impact": "5", "design": ""},
                   comment="Check the data claims", feedback="Nice start")
    session.commit()
    review = outcome.review
    assert outcome.action == "draft_saved" and outcome.score is None
    assert review.status == "draft" and review.submitted_at is None
    assert review.rubric_id == world.rubric.id and review.challenge_id == world.challenge.id
    assert reviews.stored_scores(review) == {"impact": 5.0}
    assert review.comment_to_organizers == "Check the data claims"
    assert review.feedback_to_team == "Nice start"
    page = reviews.scoring_page(session, world.ana, world.sub_a.id)
    assert page.values == {"impact": "5", "feasibility": "", "design": ""}
    assert audit_events(session, "review.submitted") == []


def test_submit_requires_every_criterion_and_changes_nothing_otherwise(session, world):
    save(session, world.ana, world.sub_a, {"impact": "5"})
    session.commit()
    with pytest.raises(reviews.ReviewInvalid) as caught:
        save(session, world.ana, world.sub_a, {"impact": "4", "feasibility": "2"},
             submit=True)
    session.rollback()
    assert set(caught.value.fields) == {"design"}
    assert "before submitting" in caught.value.fields["design"][0]
    review = reviews.review_of(session, world.ana.id, world.sub_a.id)
    assert review.status == "draft" and reviews.stored_scores(review) == {"impact": 5.0}


def test_submit_stores_every_score_and_the_weighted_review_score(session, world):
    save(session, world.ana, world.sub_a, {"impact": "2"})
    outcome = save(session, world.ana, world.sub_a, {"impact": "4", "feasibility": "3",
                                                     "design": "72.5"}, submit=True)
    session.commit()
    assert outcome.action == "submitted"
    assert outcome.score == pytest.approx(expected_score(
        {"impact": 4, "feasibility": 3, "design": 72.5}))
    review = outcome.review
    assert review.status == "submitted" and review.submitted_at == DURING
    assert reviews.stored_scores(review) == {"impact": 4.0, "feasibility": 3.0,
                                             "design": 72.5}
    [event] = audit_events(session, "review.submitted")
    assert event.actor_id == world.ana.id and event.details["score"] == pytest.approx(
        outcome.score)
    assert count(session, Review) == 1


@pytest.mark.parametrize(("scores", "key", "message"), [
    ({"impact": "6"}, "impact", "outside the scale 1–5"),
    ({"impact": "0"}, "impact", "outside the scale 1–5"),
    ({"impact": "-1"}, "impact", "outside the scale 1–5"),
    ({"design": "100.5"}, "design", "outside the scale 0–100"),
    ({"design": "-0.1"}, "design", "outside the scale 0–100"),
    ({"impact": "abc"}, "impact", "is not a number"),
    ({"impact": "nan"}, "impact", "is not a number"),
    ({"design": "inf"}, "design", "is not a number"),
    ({"design": "1e2"}, "design", "is not a number"),
])
@pytest.mark.parametrize("submit", [False, True])
def test_bad_scores_are_refused_and_nothing_changes(session, world, scores, key, message,
                                                    submit):
    save(session, world.ana, world.sub_a, {"impact": "3"}, comment="first")
    session.commit()
    with pytest.raises(reviews.ReviewInvalid) as caught:
        save(session, world.ana, world.sub_a, {**FULL, **scores}, submit=submit,
             comment="second")
    session.rollback()
    assert caught.value.status_code == 422
    assert message in " ".join(caught.value.fields[key])
    review = reviews.review_of(session, world.ana.id, world.sub_a.id)
    assert reviews.stored_scores(review) == {"impact": 3.0}
    assert review.comment_to_organizers == "first" and review.status == "draft"


def test_scores_at_the_ends_of_each_scale_are_accepted(session, world):
    low = save(session, world.ana, world.sub_a, {"impact": "1", "feasibility": "1",
                                                 "design": "0"}, submit=True)
    assert low.score == 0.0
    high = save(session, world.ana, world.sub_a, {"impact": "5", "feasibility": "5",
                                                  "design": "100"})
    assert high.score == 100.0 and high.action == "edited"


@pytest.mark.parametrize("tampered", [
    {"impact_x": "3"}, {"": "3"}, {"<script>": "1"}, {"design ": "4"},
])
def test_tampered_criterion_keys_are_refused(session, world, tampered):
    with pytest.raises(reviews.ReviewInvalid) as caught:
        save(session, world.ana, world.sub_a, {**FULL, **tampered}, submit=True)
    session.rollback()
    assert caught.value.general and "does not have" in caught.value.general[0]
    assert count(session, Review) == 0 and count(session, CriterionScore) == 0


def test_comments_longer_than_the_limit_are_refused(session, world):
    with pytest.raises(reviews.ReviewInvalid) as caught:
        save(session, world.ana, world.sub_a, feedback="x" * (reviews.COMMENT_MAX + 1))
    session.rollback()
    assert "feedback_to_team" in caught.value.fields
    assert count(session, Review) == 0


# --- the judging window ------------------------------------------------------------------

def test_saves_are_accepted_until_one_microsecond_before_judging_closes(session, world):
    outcome = save(session, world.ana, world.sub_a, submit=True, now=CLOSES - US)
    session.commit()
    assert outcome.review.submitted_at == CLOSES - US


@pytest.mark.parametrize("offset", [timedelta(0), US, timedelta(days=3)])
@pytest.mark.parametrize("submit", [False, True])
def test_saves_at_or_after_judging_closes_are_refused(session, world, offset, submit):
    with pytest.raises(Conflict) as caught:
        save(session, world.ana, world.sub_a, submit=submit, now=CLOSES + offset)
    session.rollback()
    assert "Judging closed at 2027-03-31 17:00:00 UTC" in caught.value.message
    assert count(session, Review) == 0


def test_the_frozen_clock_decides_when_no_time_is_given(session, world):
    clock.freeze(CLOSES)
    with pytest.raises(Conflict):
        save(session, world.ana, world.sub_a, submit=True)
    session.rollback()
    clock.freeze(CLOSES - US)
    assert save(session, world.ana, world.sub_a, submit=True).action == "submitted"


def test_a_submitted_review_cannot_be_edited_after_judging_closes(session, world):
    save(session, world.ana, world.sub_a, submit=True)
    session.commit()
    with pytest.raises(Conflict):
        save(session, world.ana, world.sub_a, {**FULL, "impact": "1"}, now=CLOSES)
    session.rollback()
    review = reviews.review_of(session, world.ana.id, world.sub_a.id)
    assert review.status == "submitted" and reviews.stored_scores(review)["impact"] == 4.0
    assert audit_events(session, "review.edited") == []
    page = reviews.scoring_page(session, world.ana, world.sub_a.id, CLOSES)
    assert not page.open and page.status == "submitted"  # still readable, read-only


# --- editing a submitted review -----------------------------------------------------------

def test_editing_a_submitted_review_keeps_it_submitted_and_audits_the_scores(session, world):
    first = save(session, world.ana, world.sub_a, submit=True, comment="secret reasons",
                 feedback="private feedback")
    session.commit()
    clock.advance(timedelta(hours=1))
    edited = save(session, world.ana, world.sub_a, {**FULL, "impact": "2"},
                  comment="changed secret reasons", feedback="private feedback")
    session.commit()
    assert edited.action == "edited" and edited.review.id == first.review.id
    review = edited.review
    assert review.status == "submitted" and review.submitted_at == DURING
    assert review.updated_at == DURING + timedelta(hours=1)
    assert review.comment_to_organizers == "changed secret reasons"
    [event] = audit_events(session, "review.edited")
    assert event.details["score_before"] == pytest.approx(first.score)
    assert event.details["score_after"] == pytest.approx(expected_score(
        {"impact": 2, "feasibility": 3, "design": 80}))
    assert event.details["criteria_changed"] == ["impact"]
    assert event.details["comments_changed"] is True
    assert "secret" not in repr(event.details) and "private" not in repr(event.details)


def test_a_submitted_review_cannot_become_partial_again(session, world):
    save(session, world.ana, world.sub_a, submit=True)
    session.commit()
    with pytest.raises(reviews.ReviewInvalid) as caught:
        save(session, world.ana, world.sub_a, {"impact": "3", "feasibility": "",
                                               "design": "50"})
    session.rollback()
    assert set(caught.value.fields) == {"feasibility"}
    review = reviews.review_of(session, world.ana.id, world.sub_a.id)
    assert review.status == "submitted" and len(review.scores) == 3


def test_a_save_that_changes_nothing_writes_nothing(session, world):
    save(session, world.ana, world.sub_a, submit=True, comment="ok")
    session.commit()
    clock.advance(timedelta(minutes=5))
    again = save(session, world.ana, world.sub_a, {"impact": "4.0", "feasibility": " 3 ",
                                                   "design": "80"}, submit=True,
                 comment="ok")
    session.commit()
    assert again.action == "unchanged" and again.review.updated_at == DURING
    assert audit_events(session, "review.edited") == []
    assert len(audit_events(session, "review.submitted")) == 1


# --- one review per judge per entry -------------------------------------------------------

def test_the_database_allows_one_review_per_judge_per_entry(session, world):
    save(session, world.ana, world.sub_a, submit=True)
    session.commit()
    duplicate = Review(challenge_id=world.challenge.id, user_id=world.ana.id,
                       submission_id=world.sub_a.id, rubric_id=world.rubric.id,
                       status="draft", created_at=DURING, updated_at=DURING)
    session.add(duplicate)
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()
    assert count(session, Review) == 1


def test_a_concurrent_second_review_becomes_a_conflict_and_changes_nothing(session, world):
    save(session, world.ana, world.sub_a, submit=True)
    session.commit()
    # What the losing request of a race does: it found no review and inserts one.
    with pytest.raises(Conflict) as caught:
        reviews.create_review(session, challenge_id=world.challenge.id, user_id=world.ana.id,
                              submission_id=world.sub_a.id, rubric_id=world.rubric.id,
                              status="submitted", now=DURING)
    assert "same moment" in caught.value.message
    session.rollback()
    assert count(session, Review) == 1
    assert count(session, CriterionScore) == 3


def test_each_judge_has_their_own_review(session, world):
    save(session, world.ana, world.sub_a, submit=True)
    save(session, world.pat, world.sub_a, {"impact": "2"})
    session.commit()
    assert count(session, Review) == 2
    assert reviews.review_of(session, world.pat.id, world.sub_a.id).status == "draft"


def test_a_review_from_an_older_rubric_moves_to_the_current_one_when_saved(session, world):
    old = save(session, world.ana, world.sub_a, submit=True).review
    session.commit()
    newer = make_rubric(session, world.challenge, CRITERIA[:2], version=2)
    session.commit()
    page = reviews.scoring_page(session, world.ana, world.sub_a.id)
    assert page.older_rubric and [c.key for c in page.criteria] == ["impact", "feasibility"]
    outcome = save(session, world.ana, world.sub_a, {"impact": "4", "feasibility": "3"})
    session.commit()
    assert outcome.review.id == old.id and outcome.review.rubric_id == newer.id
    assert reviews.stored_scores(outcome.review) == {"impact": 4.0, "feasibility": 3.0}
    assert outcome.action == "edited" and outcome.review.status == "submitted"


def test_no_rubric_means_nothing_can_be_scored(session, world):
    session.delete(world.rubric)
    session.commit()
    page = reviews.scoring_page(session, world.ana, world.sub_a.id)
    assert page.criteria == [] and page.rubric is None
    with pytest.raises(Conflict) as caught:
        save(session, world.ana, world.sub_a, submit=True)
    assert "no rubric" in caught.value.message


# --- file downloads -----------------------------------------------------------------------

def test_only_assigned_judges_may_download_an_entrys_files(session, world):
    stored = submissions.files_of(session, submissions.entry_version(session, world.sub_a))[0]
    assert submissions.can_download(session, world.ana, world.sub_a, stored)
    assert submissions.file_for_download(session, world.pat, stored.id) == stored
    assert not submissions.can_download(session, world.olga, world.sub_a, stored)
    with pytest.raises(NotFound):
        submissions.file_for_download(session, world.olga, stored.id)
    # ana is assigned to B, not to A's files through B.
    assert not submissions.can_download(session, world.olga, world.sub_b)
    assert submissions.can_download(session, world.ana, world.sub_b)
    assert submissions.can_download(session, world.lee, world.sub_a, stored)  # a member
    assert submissions.can_download(session, world.org, world.sub_a, stored)  # organizer
    assert not submissions.can_download(session, world.max, world.sub_a, stored)


def test_the_judge_role_alone_does_not_open_another_challenges_entries(session, world):
    stranger = make_person(session, "stranger@example.org", "judge")
    session.commit()
    stored = submissions.files_of(session, submissions.entry_version(session, world.sub_a))[0]
    assert not submissions.can_download(session, stranger, world.sub_a, stored)
    with pytest.raises(NotFound):
        submissions.visible_versions(session, stranger, world.sub_a)
    assert submissions.visible_versions(session, world.ana, world.sub_a)
