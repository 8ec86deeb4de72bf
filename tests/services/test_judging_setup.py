"""Judging set-up: access helpers, sync from the imported settings, rubrics, judges and
panels, conflicts, assignment and manual overrides.

Real database, no mocks; challenges, teams, memberships and submissions are built directly
with models and the clock is frozen. The builders at the top are shared with the web tests.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from challenge import clock
from challenge.accounts import services as accounts
from challenge.audit import AuditEvent
from challenge.challenges.models import (
    Challenge,
    Membership,
    Submission,
    SubmissionVersion,
    Team,
)
from challenge.errors import Conflict as ConflictError
from challenge.errors import Forbidden, NotFound
from challenge.judging import access, assignments, conflicts, judges, rubrics, setup
from challenge.judging.assignments import AssignmentImpossible
from challenge.judging.judges import FieldsInvalid
from challenge.judging.models import (
    Assignment,
    Conflict,
    Criterion,
    CriterionScore,
    JudgeSeat,
    Panel,
    Review,
    Rubric,
)
from challenge.judging.rubrics import CriterionInput, RubricInvalid
from challenge.outbox import OutboxMessage
from surveys.models import GuidelineDocument, GuidelineItem, Survey
from tests.conftest import PASSWORD

DEADLINE = datetime(2027, 3, 1, 17, 0, tzinfo=UTC)
JUDGING = DEADLINE + timedelta(days=2)
GUIDELINES = (("exercise", "Keep glucose steady during sport"),
              ("meals", "Plan meals without counting everything"),
              ("nights", "Sleep through the night"))
RUBRIC = {"criteria": [
    {"key": "impact", "name": "Impact on daily life", "weight": 40, "min": 1, "max": 5,
     "guidelines": ["exercise"], "levels": {"1": "No clear benefit",
                                            "5": "Transforms a daily routine"}},
    {"key": "feasibility", "name": "Feasibility", "weight": 30, "min": 1, "max": 5},
    {"key": "design", "name": "Design for real people", "weight": 30, "min": 1, "max": 5},
]}


# --- builders (shared with the web tests) ---------------------------------------------------

def make_challenge(session, slug: str = "ddd-2027", *, rubric=None, panels=None, judges=(),
                   reviews_per_entry: int = 3, blind: bool = False,
                   guidelines=GUIDELINES) -> Challenge:
    """A challenge linked to a survey with published guidelines, judging config as given."""
    now = clock.now()
    survey = Survey(slug=f"{slug}-survey", title="Daily life with diabetes", status="closed",
                    created_at=now, updated_at=now)
    session.add(survey)
    session.flush()
    if guidelines:
        doc = GuidelineDocument(survey_id=survey.id, version=1, status="published",
                                title="Guidelines", intro="", created_at=now, updated_at=now,
                                published_at=now)
        doc.items = [GuidelineItem(key=key, position=i, title=title, body="Why it matters.")
                     for i, (key, title) in enumerate(guidelines)]
        session.add(doc)
    challenge = Challenge(
        slug=slug, title="Data Design Diabetes 2027", description="Build for daily life.",
        survey_id=survey.id, registration_opens=DEADLINE - timedelta(days=60),
        submission_deadline=DEADLINE, judging_closes=DEADLINE + timedelta(days=30),
        results_at=DEADLINE + timedelta(days=45), created_at=now, updated_at=now,
        rubric=rubric if rubric is not None else RUBRIC,
        panels=panels if panels is not None else {"expert": 1.0},
        judges=list(judges), reviews_per_entry=reviews_per_entry, blind_judging=blind)
    session.add(challenge)
    session.flush()
    return challenge


def make_person(session, email: str, *roles: str, password: str | None = PASSWORD):
    return accounts.create_user(session, email, password=password,
                                roles=list(roles or ("entrant",)))


def make_team(session, challenge: Challenge, name: str, *users, submitted: bool = True):
    """A team with these members (first is captain) and, when `submitted`, an entry."""
    now = clock.now()
    team = Team(challenge_id=challenge.id, name=name, created_at=now)
    session.add(team)
    session.flush()
    for i, user in enumerate(users):
        session.add(Membership(team_id=team.id, challenge_id=challenge.id, user_id=user.id,
                               role="captain" if i == 0 else "member", joined_at=now))
    submission = Submission(team_id=team.id, challenge_id=challenge.id, created_at=now)
    session.add(submission)
    session.flush()
    version = SubmissionVersion(submission_id=submission.id, number=1, title=f"{name} app",
                                summary="", created_at=now,
                                submitted_at=now if submitted else None)
    session.add(version)
    session.flush()
    if submitted:
        submission.entry_version_id = version.id
    session.flush()
    session.refresh(team)
    return team


def submission_of(session, team: Team) -> Submission:
    return session.scalar(select(Submission).where(Submission.team_id == team.id))


def seat(session, challenge: Challenge, user, panel: str = "expert") -> JudgeSeat:
    """Seat `user` on `panel` (created with weight 1 if missing)."""
    row = session.scalar(select(Panel).where(Panel.challenge_id == challenge.id,
                                             Panel.name == panel))
    if row is None:
        row = Panel(challenge_id=challenge.id, name=panel, weight=1.0)
        session.add(row)
        session.flush()
    s = JudgeSeat(challenge_id=challenge.id, user_id=user.id, panel_id=row.id,
                  created_at=clock.now())
    session.add(s)
    session.flush()
    return s


def make_review(session, challenge: Challenge, user, submission: Submission, *,
                status: str = "submitted", scores: dict[str, float] | None = None) -> Review:
    rubric = access.current_rubric(session, challenge)
    now = clock.now()
    review = Review(challenge_id=challenge.id, user_id=user.id, submission_id=submission.id,
                    rubric_id=rubric.id, status=status, created_at=now, updated_at=now,
                    submitted_at=now if status == "submitted" else None)
    review.scores = [CriterionScore(criterion_key=k, score=v)
                     for k, v in (scores or {"impact": 4}).items()]
    session.add(review)
    session.flush()
    return review


def count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


@pytest.fixture(autouse=True)
def _frozen(app):
    clock.freeze(JUDGING)
    yield
    clock.freeze(None)


@pytest.fixture
def world(session):
    """A synced challenge; teams GlucoGo (ana, ben), Nightwatch (cy), Mealplan (dee), and
    Draftonly (eve, never submitted); judges j1, j2, j3 on the expert panel; organizer."""
    challenge = make_challenge(session)
    ana, ben, cy, dee, eve = (make_person(session, f"{n}@example.org")
                              for n in ("ana", "ben", "cy", "dee", "eve"))
    judges = [make_person(session, f"j{i}@example.org", "judge") for i in (1, 2, 3)]
    org = make_person(session, "org@example.org", "organizer")
    teams = [make_team(session, challenge, "GlucoGo", ana, ben),
             make_team(session, challenge, "Nightwatch", cy),
             make_team(session, challenge, "Mealplan", dee),
             make_team(session, challenge, "Draftonly", eve, submitted=False)]
    challenge.judges = [{"email": j.email, "name": "", "panel": "expert"} for j in judges]
    setup.sync_from_challenge(session, challenge)
    session.commit()
    return type("World", (), dict(challenge=challenge, ana=ana, ben=ben, cy=cy, dee=dee,
                                  eve=eve, judges=judges, org=org, teams=teams))


# --- access ---------------------------------------------------------------------------------

def test_access_helpers(session, world):
    c, (j1, j2, _j3) = world.challenge, world.judges
    glucogo, nightwatch = world.teams[0], world.teams[1]
    assert access.current_rubric(session, c).version == 1
    assert access.judge_seat(session, j1, c).panel.name == "expert"
    assert access.judge_seat(session, world.ana, c) is None
    assert access.judge_seat(session, None, c) is None
    # Membership is a conflict by itself; a Conflict row adds more.
    assert access.conflicted_team_ids(session, world.ana.id, c) == {glucogo.id}
    assert access.is_conflicted(session, world.ana.id, glucogo.id, c)
    assert not access.is_conflicted(session, j1.id, nightwatch.id, c)
    session.add(Conflict(challenge_id=c.id, user_id=j1.id, team_id=nightwatch.id,
                         source="declared", created_at=clock.now()))
    session.flush()
    assert access.conflicted_team_ids(session, j1.id, c) == {nightwatch.id}
    assert access.is_conflicted(session, j1.id, nightwatch.id, c)
    sub = submission_of(session, glucogo)
    assert not access.is_assigned(session, j2.id, sub.id)
    session.add(Assignment(challenge_id=c.id, user_id=j2.id, submission_id=sub.id,
                           source="manual", created_at=clock.now()))
    session.flush()
    assert access.is_assigned(session, j2.id, sub.id)
    assert access.assigned_submission_ids(session, j2.id, c) == {sub.id}
    assert access.assigned_submission_ids(session, j1.id, c) == set()


def test_current_rubric_is_the_highest_version(session, world):
    c = world.challenge
    session.add(Rubric(challenge_id=c.id, version=2, created_at=clock.now()))
    session.flush()
    assert access.current_rubric(session, c).version == 2
    other = make_challenge(session, "other-2027", rubric={"criteria": []})
    assert access.current_rubric(session, other) is None


# --- sync -----------------------------------------------------------------------------------

def test_sync_materialises_panels_rubric_and_seats(session, world):
    c = world.challenge
    panels = session.scalars(select(Panel).where(Panel.challenge_id == c.id)).all()
    assert [(p.name, p.weight) for p in panels] == [("expert", 1.0)]
    rubric = access.current_rubric(session, c)
    assert [cr.key for cr in rubric.criteria] == ["impact", "feasibility", "design"]
    impact = rubric.criteria[0]
    assert (impact.weight, impact.min_score, impact.max_score) == (40, 1, 5)
    assert impact.guidelines == ["exercise"] and impact.levels["5"].startswith("Transforms")
    assert count(session, JudgeSeat, JudgeSeat.challenge_id == c.id) == 3


def test_sync_is_idempotent(session, world):
    c = world.challenge
    before = count(session, AuditEvent)
    result = setup.sync_from_challenge(session, c)
    assert not result.changed
    assert count(session, AuditEvent) == before
    assert count(session, Rubric) == 1 and count(session, Criterion) == 3


def test_sync_adds_judge_role_panels_and_moves_seats(session, world):
    c = world.challenge
    newbie = make_person(session, "newbie@example.org", "patient")
    c.panels = {"expert": 0.7, "patient": 0.3}
    c.judges = [*c.judges[:2], {"email": "j3@example.org", "name": "", "panel": "patient"},
                {"email": "NEWBIE@example.org", "name": "", "panel": "patient"}]
    result = setup.sync_from_challenge(session, c)
    assert result.panels_added == ["patient"] and result.panels_changed == ["expert"]
    assert result.seats_added == ["newbie@example.org"]
    assert result.seats_moved == ["j3@example.org"]
    assert "judge" in newbie.roles
    assert access.judge_seat(session, newbie, c).panel.name == "patient"
    assert not setup.sync_from_challenge(session, c).changed


def test_sync_default_panel_when_none_configured(session):
    c = make_challenge(session, panels={}, rubric={"criteria": []})
    setup.sync_from_challenge(session, c)
    assert [(p.name, p.weight) for p in session.scalars(select(Panel))] == [("expert", 1.0)]
    assert access.current_rubric(session, c) is None


def test_sync_updates_in_place_until_scored_then_versions(session, world):
    c = world.challenge
    rubric = access.current_rubric(session, c)
    rubric.criteria[0].plain_description = "Does it make your day easier?"
    session.flush()
    c.rubric = {"criteria": [{**RUBRIC["criteria"][0], "weight": 50}, *RUBRIC["criteria"][1:]]}
    assert setup.sync_from_challenge(session, c).rubric == "updated"
    current = access.current_rubric(session, c)
    assert current.id == rubric.id and current.version == 1
    assert current.criteria[0].weight == 50
    assert current.criteria[0].plain_description == "Does it make your day easier?"
    # A score exists: the next change makes version 2; version 1 stays as it was.
    sub = submission_of(session, world.teams[1])
    make_review(session, c, world.judges[0], sub)
    c.rubric = {"criteria": RUBRIC["criteria"][:2]}
    assert setup.sync_from_challenge(session, c).rubric == "versioned"
    v2 = access.current_rubric(session, c)
    assert v2.version == 2 and [cr.key for cr in v2.criteria] == ["impact", "feasibility"]
    assert v2.criteria[0].plain_description == "Does it make your day easier?"
    session.expire_all()
    assert len(session.get(Rubric, rubric.id).criteria) == 3
    assert not setup.sync_from_challenge(session, c).changed


def test_membership_conflict_is_live(session, world):
    c, j1 = world.challenge, world.judges[0]
    nightwatch = world.teams[1]
    assert not access.is_conflicted(session, j1.id, nightwatch.id, c)
    session.add(Membership(team_id=nightwatch.id, challenge_id=c.id, user_id=j1.id,
                           role="member", joined_at=clock.now()))
    session.flush()
    assert access.is_conflicted(session, j1.id, nightwatch.id, c)
    assert access.conflicted_team_ids(session, j1.id, c) == {nightwatch.id}


# --- rubric editing -------------------------------------------------------------------------

def _inputs(session, challenge) -> list[CriterionInput]:
    return rubrics.inputs_of(access.current_rubric(session, challenge))


def test_parse_levels_keeps_commas_in_words():
    assert rubrics.parse_levels("1=No clear, measurable benefit, 5=Transforms a routine") == (
        {"1": "No clear, measurable benefit", "5": "Transforms a routine"}, None)
    assert rubrics.parse_levels("1 = Poor\n3: Fair\n5=Great")[0] == {
        "1": "Poor", "3": "Fair", "5": "Great"}
    assert rubrics.parse_levels("")[0] == {}
    assert rubrics.parse_levels("great stuff")[1]
    assert "twice" in rubrics.parse_levels("1=a, 1=b")[1]
    assert rubrics.format_levels({"5": "Top", "1": "Low"}) == "1=Low\n5=Top"


def test_rubric_validation_names_every_problem(session, world):
    c = world.challenge
    items = [
        CriterionInput(key="impact", name="Impact", weight=0, min=1, max=5,
                       levels={"0": "Below", "3": "Fine"}, guidelines=["exercise", "sleep"]),
        CriterionInput(key="impact", name="", weight=-1, min=5, max=5),
        CriterionInput(key="Bad Key", name="X", weight=None, min=None, max=3),
    ]
    with pytest.raises(RubricInvalid) as err:
        rubrics.save_rubric(session, c, items, actor=world.org)
    fields = err.value.fields
    assert set(fields[0]) == {"weight", "levels", "guidelines"}
    assert "outside the scale 1 to 5" in fields[0]["levels"][0]
    assert "“sleep” is not a published guideline key" in fields[0]["guidelines"][0]
    assert set(fields[1]) == {"key", "name", "weight", "max"}
    assert "already the key of criterion 1" in fields[1]["key"][0]
    assert set(fields[2]) == {"key", "weight", "min"}
    with pytest.raises(RubricInvalid) as err:
        rubrics.save_rubric(session, c, [], actor=world.org)
    assert err.value.general


def test_rubric_save_in_place_then_new_version(session, world):
    c = world.challenge
    items = _inputs(session, c)
    items[0].plain_description = "Does it make your day easier?"
    items[1].levels = {"1": "Only an idea", "5": "Works today"}
    items[1].guidelines = ["meals", "meals"]
    result = rubrics.save_rubric(session, c, items, actor=world.org)
    assert (result.what, result.rubric.version) == ("updated", 1)
    assert result.rubric.criteria[1].guidelines == ["meals"]
    # The challenge's settings follow (what export and the public page show) ...
    assert c.rubric["criteria"][1]["levels"] == {"1": "Only an idea", "5": "Works today"}
    assert "plain_description" not in c.rubric["criteria"][0]
    # ... so the sync that an import runs changes nothing.
    assert not setup.sync_from_challenge(session, c).changed
    assert rubrics.save_rubric(session, c, items, actor=world.org).what == ""
    assert not rubrics.is_locked(session, result.rubric)
    make_review(session, c, world.judges[0], submission_of(session, world.teams[1]))
    assert rubrics.is_locked(session, result.rubric)
    items[2].weight = 10
    again = rubrics.save_rubric(session, c, items, actor=world.org)
    assert (again.what, again.rubric.version) == ("versioned", 2)
    assert again.rubric.criteria[0].plain_description == "Does it make your day easier?"
    assert count(session, AuditEvent, AuditEvent.action == "rubric.saved") == 2


def test_rubric_text_for_patient_panel(session, world):
    c, (j1, j2, _j3) = world.challenge, world.judges
    judges.save_panel(session, c, "patient", 0.3, actor=world.org)
    judges.change_panel(session, access.judge_seat(session, j2, c), "patient", actor=world.org)
    criterion = access.current_rubric(session, c).criteria[0]
    criterion.description = "Effect on glycaemic variability in daily routines."
    criterion.plain_description = "Would it make your day easier?"
    assert rubrics.rubric_text_for(access.judge_seat(session, j1, c), criterion) == (
        "Effect on glycaemic variability in daily routines.")
    assert rubrics.rubric_text_for(access.judge_seat(session, j2, c), criterion) == (
        "Would it make your day easier?")
    criterion.plain_description = ""
    assert rubrics.rubric_text_for(access.judge_seat(session, j2, c), criterion).startswith(
        "Effect")


# --- judges and panels ----------------------------------------------------------------------

def test_invite_new_judge_creates_account_and_sends_link(session, world):
    c = world.challenge
    outcome = judges.invite_judge(session, c, " New.Judge@Example.org ", "expert",
                                  name="Nia", actor=world.org)
    assert outcome.account_created and outcome.link_sent
    user = outcome.seat.user
    assert user.email == "new.judge@example.org" and user.password_hash is None
    assert user.roles == {"judge"} and user.name == "Nia"
    msg = session.scalar(select(OutboxMessage).where(OutboxMessage.to == user.email))
    assert msg.kind == "invite"
    assert f"/judging/{c.slug}/conflicts" in msg.body
    token = re.search(r"/invite/(\S+)", msg.body).group(1)
    assert accounts.user_for_password_token(session, token, "invite").id == user.id
    assert {"email": "new.judge@example.org", "name": "Nia", "panel": "expert"} in c.judges
    assert not setup.sync_from_challenge(session, c).changed


def test_invite_existing_account_gets_role_and_notice(session, world):
    c = world.challenge
    pat = make_person(session, "pat@example.org", "patient")
    judges.save_panel(session, c, "patient", 0.3, actor=world.org)
    outcome = judges.invite_judge(session, c, "pat@example.org", "patient", actor=world.org)
    assert not outcome.account_created and not outcome.link_sent
    assert pat.roles == {"patient", "judge"}
    msg = session.scalar(select(OutboxMessage).where(OutboxMessage.to == "pat@example.org"))
    assert msg.kind == "notice" and "token" not in msg.body
    assert access.judge_seat(session, pat, c).panel.name == "patient"
    with pytest.raises(ConflictError) as err:
        judges.invite_judge(session, c, "pat@example.org", "expert", actor=world.org)
    assert err.value.field == "email"
    with pytest.raises(FieldsInvalid) as err:
        judges.invite_judge(session, c, "not-an-address", "expert", actor=world.org)
    assert "email" in err.value.fields
    with pytest.raises(NotFound):
        judges.invite_judge(session, c, "x@example.org", "jury", actor=world.org)


def test_invite_account_without_password_gets_a_link_again(session, world):
    make_person(session, "pending@example.org", "entrant", password=None)
    outcome = judges.invite_judge(session, world.challenge, "pending@example.org", "expert",
                                  actor=world.org)
    assert outcome.link_sent and not outcome.account_created


def test_panels_weights_validated_and_written_back(session, world):
    c = world.challenge
    judges.save_panel(session, c, "patient", 0.3, actor=world.org)
    judges.save_panel(session, c, "expert", 0.7, actor=world.org)
    assert c.panels == {"expert": 0.7, "patient": 0.3}
    for name, weight, bad in (("patient", 0, "weight"), ("Bad name", 1, "name"),
                              ("x", float("nan"), "weight")):
        with pytest.raises(FieldsInvalid) as err:
            judges.save_panel(session, c, name, weight, actor=world.org)
        assert bad in err.value.fields
    assert not setup.sync_from_challenge(session, c).changed


def test_remove_judge_only_without_reviews(session, world):
    c, (j1, j2, _j3) = world.challenge, world.judges
    assignments.assign(session, c, actor=world.org)
    judges.remove_judge(session, access.judge_seat(session, j1, c), actor=world.org)
    assert access.judge_seat(session, j1, c) is None
    assert access.assigned_submission_ids(session, j1.id, c) == set()
    assert [j["email"] for j in c.judges] == ["j2@example.org", "j3@example.org"]
    sub = next(iter(access.assigned_submission_ids(session, j2.id, c)))
    make_review(session, c, j2, session.get(Submission, sub), status="draft")
    with pytest.raises(ConflictError):
        judges.remove_judge(session, access.judge_seat(session, j2, c), actor=world.org)


# --- conflicts ------------------------------------------------------------------------------

def test_judge_declares_conflict_and_organizer_manages(session, world):
    c, (j1, j2, _j3) = world.challenge, world.judges
    nightwatch, mealplan = world.teams[1], world.teams[2]
    out = conflicts.declare(session, c, j1, nightwatch.id, "  My   cousin ")
    assert out.created and out.conflict.source == "declared" and out.conflict.reason == "My cousin"
    assert not conflicts.declare(session, c, j1, nightwatch.id).created  # idempotent
    with pytest.raises(Forbidden):
        conflicts.declare(session, c, world.cy, mealplan.id)  # not a judge here
    with pytest.raises(NotFound):
        conflicts.declare(session, c, j1, 999_999)
    added = conflicts.add(session, c, j2.id, mealplan.id, "Works there", actor=world.org)
    assert added.conflict.source == "organizer"
    rows = conflicts.list_conflicts(session, c)
    assert [(r.email, r.team_name, r.source) for r in rows] == [
        ("j1@example.org", "Nightwatch", "declared"), ("j2@example.org", "Mealplan", "organizer")]
    conflicts.remove(session, c, added.conflict.id, actor=world.org)
    assert not access.is_conflicted(session, j2.id, mealplan.id, c)
    actions = session.scalars(select(AuditEvent.action).where(
        AuditEvent.action.like("conflict.%")).order_by(AuditEvent.id)).all()
    assert actions == ["conflict.declared", "conflict.added", "conflict.removed"]
    assert all("reason" not in e.details for e in session.scalars(select(AuditEvent)))


def test_membership_conflicts_are_listed_and_not_rows(session, world):
    c = world.challenge
    # A judge who is also in a team: listed as automatic, cannot be declared again.
    session.add(Membership(team_id=world.teams[1].id, challenge_id=c.id,
                           user_id=world.judges[2].id, role="member", joined_at=clock.now()))
    session.flush()
    rows = conflicts.conflicts_of(session, c, world.judges[2].id)
    assert [(r.team_name, r.source, r.removable) for r in rows] == [
        ("Nightwatch", "membership", False)]
    with pytest.raises(ConflictError):
        conflicts.declare(session, c, world.judges[2], world.teams[1].id)
    assert count(session, Conflict) == 0


def test_conflict_withdraws_unreviewed_assignment(session, world):
    c, j1 = world.challenge, world.judges[0]
    assignments.assign(session, c, actor=world.org)
    assigned = access.assigned_submission_ids(session, j1.id, c)
    sub = session.get(Submission, sorted(assigned)[0])
    out = conflicts.declare(session, c, j1, sub.team_id)
    assert out.assignment_removed and not access.is_assigned(session, j1.id, sub.id)


# --- assignment -----------------------------------------------------------------------------

def _pairs(session, challenge) -> set[tuple[int, int]]:
    return set(session.execute(select(Assignment.user_id, Assignment.submission_id)
                               .where(Assignment.challenge_id == challenge.id)))


def _grid(session, n_judges: int, n_teams: int, reviews: int = 2):
    c = make_challenge(session, "grid-2027", reviews_per_entry=reviews)
    setup.sync_from_challenge(session, c)
    js = [make_person(session, f"g{i}@example.org", "judge") for i in range(n_judges)]
    for j in js:
        seat(session, c, j)
    teams = [make_team(session, c, f"Team {i:02d}",
                       make_person(session, f"m{i}@example.org")) for i in range(n_teams)]
    return c, js, teams


def test_assign_exact_reviews_no_conflicts_balanced(session):
    c, js, teams = _grid(session, 5, 7, reviews=3)
    result = assignments.assign(session, c)
    pairs = _pairs(session, c)
    per_entry = Counter(s for _j, s in pairs)
    assert set(per_entry.values()) == {3} and len(per_entry) == 7
    load = Counter(j for j, _s in pairs)
    assert max(load.values()) - min(load.values()) <= 1
    assert len(result.added) == 21 and result.kept == 0
    assert result.load_range == (4, 5)
    assert all(a.source == "auto" for a in result.added)
    # Idempotent: a second run adds nothing.
    assert assignments.assign(session, c).added == []


def test_assign_skips_unsubmitted_and_conflicted(session, world):
    c = world.challenge
    j1 = world.judges[0]
    session.add(Membership(team_id=world.teams[0].id, challenge_id=c.id, user_id=j1.id,
                           role="member", joined_at=clock.now()))
    conflicts.declare(session, c, world.judges[1], world.teams[1].id)
    c.reviews_per_entry = 1
    assignments.assign(session, c)
    pairs = _pairs(session, c)
    draft_sub = submission_of(session, world.teams[3])
    assert all(s != draft_sub.id for _j, s in pairs)
    assert len(pairs) == 3
    for j, s in pairs:
        team = session.get(Submission, s).team_id
        assert not access.is_conflicted(session, j, team, c)


def test_assign_keeps_existing_and_reviews_imply_assignments(session, world):
    c, (j1, j2, j3) = world.challenge, world.judges
    c.reviews_per_entry = 2
    glucogo, nightwatch = (submission_of(session, t) for t in world.teams[:2])
    assignments.add_assignment(session, c, j1.id, glucogo.id, actor=world.org)
    make_review(session, c, j2, nightwatch)  # no assignment row: implied
    result = assignments.assign(session, c)
    assert result.kept == 2
    pairs = _pairs(session, c)
    assert (j1.id, glucogo.id) in pairs and (j2.id, nightwatch.id) in pairs
    sources = dict(session.execute(select(Assignment.user_id, Assignment.source).where(
        Assignment.submission_id == nightwatch.id, Assignment.user_id == j2.id)).all())
    assert sources[j2.id] == "review"
    assert set(Counter(s for _j, s in pairs).values()) == {2}
    load = Counter(j for j, _s in pairs)
    assert max(load.values()) - min(load.values()) <= 1 and set(load) == {j1.id, j2.id, j3.id}


def test_assign_infeasible_names_entries_and_changes_nothing(session, world):
    c, (j1, j2, _j3) = world.challenge, world.judges
    conflicts.declare(session, c, j1, world.teams[1].id)
    conflicts.add(session, c, j2.id, world.teams[1].id, actor=world.org)
    conflicts.add(session, c, j2.id, world.teams[2].id, actor=world.org)
    session.commit()
    with pytest.raises(AssignmentImpossible) as err:
        assignments.assign(session, c)
    assert err.value.entries == ["Mealplan", "Nightwatch"]
    assert "Mealplan, Nightwatch" in err.value.message
    session.rollback()
    assert _pairs(session, c) == set()


def test_assign_without_judges_is_refused(session):
    c = make_challenge(session)
    make_team(session, c, "Solo", make_person(session, "solo@example.org"))
    with pytest.raises(AssignmentImpossible) as err:
        assignments.assign(session, c)
    assert err.value.entries == ["Solo"] and "no judges" in err.value.message


def test_manual_overrides(session, world):
    c, (j1, j2, _j3) = world.challenge, world.judges
    glucogo, nightwatch = (submission_of(session, t) for t in world.teams[:2])
    draft_sub = submission_of(session, world.teams[3])
    row = assignments.add_assignment(session, c, j1.id, glucogo.id, actor=world.org)
    assert row.source == "manual"
    with pytest.raises(ConflictError):  # twice
        assignments.add_assignment(session, c, j1.id, glucogo.id, actor=world.org)
    with pytest.raises(ConflictError):  # not submitted
        assignments.add_assignment(session, c, j1.id, draft_sub.id, actor=world.org)
    with pytest.raises(NotFound):  # not a judge
        assignments.add_assignment(session, c, world.ana.id, nightwatch.id, actor=world.org)
    with pytest.raises(ConflictError) as err:  # member of the team
        session.add(Membership(team_id=world.teams[1].id, challenge_id=c.id, user_id=j2.id,
                               role="member", joined_at=clock.now()))
        session.flush()
        assignments.add_assignment(session, c, j2.id, nightwatch.id, actor=world.org)
    assert "conflict" in err.value.message
    # Removing: a draft review goes with it; a submitted review blocks it.
    make_review(session, c, j1, glucogo, status="draft")
    assert assignments.remove_assignment(session, c, row.id, actor=world.org) is True
    assert count(session, Review) == 0
    row = assignments.add_assignment(session, c, j1.id, nightwatch.id, actor=world.org)
    make_review(session, c, j1, nightwatch)
    with pytest.raises(ConflictError):
        assignments.remove_assignment(session, c, row.id, actor=world.org)
    with pytest.raises(NotFound):
        assignments.remove_assignment(session, c, 999_999, actor=world.org)
    actions = session.scalars(select(AuditEvent.action).where(
        AuditEvent.action.like("assignment.%")).order_by(AuditEvent.id)).all()
    assert actions == ["assignment.added", "assignment.removed", "assignment.added"]


def test_loads_and_entry_rows(session, world):
    c, (j1, _j2, _j3) = world.challenge, world.judges
    c.reviews_per_entry = 2
    assignments.assign(session, c)
    sub = session.get(Submission, sorted(access.assigned_submission_ids(session, j1.id, c))[0])
    make_review(session, c, j1, sub)
    loads = assignments.loads(session, c)
    assert sum(v.assigned for v in loads.values()) == 6
    assert loads[j1.id].submitted == 1
    rows = assignments.entry_rows(session, c)
    assert [r.entry.team_name for r in rows] == ["GlucoGo", "Mealplan", "Nightwatch"]
    assert all(len(r.judges) == 2 for r in rows)


def test_entry_label_blind_and_open(session, world):
    c = world.challenge
    team = world.teams[0]
    sub = submission_of(session, team)
    assert assignments.entry_label(c, sub, team) == "GlucoGo"
    c.blind_judging = True
    assert assignments.entry_label(c, sub, team) == f"Entry #{sub.id}"


def test_assignments_document_sorted(session, world):
    c = world.challenge
    c.reviews_per_entry = 2
    assignments.assign(session, c)
    doc = assignments.assignments_document(session, c)
    assert doc["challenge"] == c.slug and len(doc["assignments"]) == 6
    keys = [(a["judge"], a["team"]) for a in doc["assignments"]]
    assert keys == sorted(keys)
