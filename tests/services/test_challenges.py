"""Challenges: bundle validation, import/export, phase rules at the boundaries, figures."""

from __future__ import annotations

import copy
import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, event, func, select

from challenge import clock
from challenge.accounts.models import User, UserRole
from challenge.audit import AuditEvent
from challenge.challenges import bundle, services
from challenge.challenges.models import (
    Challenge,
    Invitation,
    JoinRequest,
    Membership,
    Submission,
    SubmissionFile,
    SubmissionVersion,
    Team,
)
from challenge.errors import NotFound, ValidationFailed
from challenge.outbox import OutboxMessage
from surveys import definition, guidelines, insights
from tests.services.test_guidelines import add_responses

DATA = Path(__file__).resolve().parents[1] / "data"
SURVEY_CONTRACT = json.loads((DATA / "survey_contract.json").read_text())
CONTRACT = json.loads((DATA / "challenge_contract.json").read_text())
SLUG = CONTRACT["slug"]
TABLES = (Challenge, Team, Membership, Invitation, JoinRequest, Submission, SubmissionVersion,
          SubmissionFile, User, UserRole, OutboxMessage, AuditEvent)

REGISTRATION = datetime(2027, 1, 10, tzinfo=UTC)
DEADLINE = datetime(2027, 3, 1, 17, 0, tzinfo=UTC)
JUDGING = datetime(2027, 4, 1, 17, 0, tzinfo=UTC)
RESULTS = datetime(2027, 4, 15, 17, 0, tzinfo=UTC)
TICK = timedelta(microseconds=1)


def publish_guidelines(session, survey_doc: dict | None = None):
    """The contract survey, with responses, a report and published guidelines ("exercise")."""
    survey, _ = definition.apply(session, copy.deepcopy(survey_doc or SURVEY_CONTRACT))
    add_responses(session, survey, [(5, 1)] * 20 + [(2, 4)] * 5)
    report = insights.refresh(session, survey)
    guidelines.publish(session, guidelines.generate_draft(session, survey, report))
    session.flush()
    return survey


def contract(**changes) -> dict:
    doc = copy.deepcopy(CONTRACT)
    doc.update(changes)
    return doc


def counts(session) -> dict[str, int]:
    """Rows in every table an import may touch."""
    return {m.__tablename__: session.scalar(select(func.count()).select_from(m))
            for m in TABLES}


@pytest.fixture
def survey(session):
    created = publish_guidelines(session)
    session.commit()  # make_user writes in its own session
    return created


@pytest.fixture
def imported(session, survey):
    result = bundle.apply(session, contract())
    session.commit()
    return result.challenge


# --- validation: one rule per test, each message names its JSON path ------------------------

def _mutate(path_setter):
    doc = contract()
    path_setter(doc)
    return doc


RULES = [
    ("unknown top-level key", lambda d: d.update(colour="blue"), "colour: unknown key"),
    ("unknown nested key", lambda d: d["rubric"]["criteria"][0].update(colour="x"),
     "rubric.criteria[0].colour: unknown key"),
    ("unknown phase", lambda d: d["phases"].update(demo_day="2027-04-02T10:00:00Z"),
     "phases.demo_day: unknown key"),
    ("unknown submission key", lambda d: d["teams"][0]["submission"].update(video="x"),
     "teams[0].submission.video: unknown key"),
    ("slug pattern", lambda d: d.update(slug="Bad Slug!"),
     "slug: must be 2-80 lower-case letters"),
    ("title required", lambda d: d.update(title="  "), "title: is required"),
    ("phases required", lambda d: d.pop("phases"), "phases: is required"),
    ("each phase required", lambda d: d["phases"].pop("results_at"),
     "phases.results_at: is required"),
    ("phases strictly increasing",
     lambda d: d["phases"].update(judging_closes=d["phases"]["submission_deadline"]),
     "phases.judging_closes: must be after submission deadline (2027-03-01 17:00 UTC)"),
    ("phase needs a time zone",
     lambda d: d["phases"].update(registration_opens="2027-01-10T00:00:00"),
     "phases.registration_opens: give a time zone"),
    ("phase must be ISO 8601", lambda d: d["phases"].update(results_at="next tuesday"),
     "phases.results_at: 'next tuesday' is not an ISO 8601 date-time"),
    ("team size min at least 1", lambda d: d.update(team_size={"min": 0, "max": 5}),
     "team_size.min: must be a whole number from 1 to 20"),
    ("team size max at most 20", lambda d: d.update(team_size={"min": 1, "max": 21}),
     "team_size.max: must be a whole number from 1 to 20"),
    ("team size min <= max", lambda d: d.update(team_size={"min": 4, "max": 2}),
     "team_size.max: must not be smaller than the minimum (4)"),
    ("survey must exist", lambda d: d.update(survey="no-such-survey"),
     "survey: there is no survey 'no-such-survey'"),
    ("criteria keys unique", lambda d: d["rubric"]["criteria"][1].update(key="impact"),
     "rubric.criteria[1].key: 'impact' is used twice"),
    ("weight > 0", lambda d: d["rubric"]["criteria"][2].update(weight=0),
     "rubric.criteria[2].weight: must be a number greater than 0 (got 0)"),
    ("min < max", lambda d: d["rubric"]["criteria"][1].update(min=5, max=5),
     "rubric.criteria[1].max: must be greater than min (5)"),
    ("levels inside the range", lambda d: d["rubric"]["criteria"][0]["levels"].update(
        {"7": "Beyond"}), "rubric.criteria[0].levels.7: outside the criterion's range 1..5"),
    ("criteria cite published guideline keys",
     lambda d: d["rubric"]["criteria"][0].update(guidelines=["exercise", "sleep"]),
     "rubric.criteria[0].guidelines[1]: 'sleep' is not a key of the published guidelines "
     "(known: exercise)"),
    ("citing without a survey", lambda d: d.update(survey=None),
     "rubric.criteria[0].guidelines: the challenge links no survey (survey), so there are "
     "no guidelines to cite"),
    ("normalization", lambda d: d.update(normalization="minmax"),
     "normalization: must be one of zscore, none (got 'minmax')"),
    ("reviews per entry at least 1", lambda d: d.update(reviews_per_entry=0),
     "reviews_per_entry: must be a whole number from 1 to 20 (got 0)"),
    ("reviews per entry at most 20", lambda d: d.update(reviews_per_entry=21),
     "reviews_per_entry: must be a whole number from 1 to 20 (got 21)"),
    ("panel weight > 0", lambda d: d.update(panels={"expert": 0}),
     "panels.expert: the weight must be a number greater than 0 (got 0)"),
    ("judge e-mail valid", lambda d: d["judges"][0].update(email="ana.example.org"),
     "judges[0].email: 'ana.example.org' is not a valid e-mail address"),
    ("judge panel known", lambda d: d["judges"][0].update(panel="patient"),
     "judges[0].panel: 'patient' is not one of the panels (expert)"),
    ("a judge without panel sits on expert",
     lambda d: (d.update(panels={"patient": 1.0}), d["judges"][0].pop("panel")),
     "judges[0].panel: 'expert' is not one of the panels (patient)"),
    ("team names unique", lambda d: d["teams"].append(
        {"name": "glucogo", "members": ["kim@example.org"]}),
     "teams[1].name: 'glucogo' is already the name of teams[0] (names ignore case)"),
    ("member e-mail valid", lambda d: d["teams"][0].update(members=["lee"]),
     "teams[0].members[0]: 'lee' is not a valid e-mail address"),
    ("a person in two teams", lambda d: d["teams"].append(
        {"name": "Second", "members": ["kim@example.org", "LEE@example.org"]}),
     "teams[1].members[1]: lee@example.org is already in teams[0]; a person can be in one "
     "team per challenge"),
    ("team size outside limits", lambda d: d["teams"][0].update(
        members=[f"m{i}@example.org" for i in range(6)]),
     "teams[0].members: a team has 1 to 5 members (team_size); this one has 6"),
    ("empty team", lambda d: d["teams"][0].update(members=[]),
     "teams[0].members: a team has 1 to 5 members (team_size); this one has 0"),
    ("submission needs are published keys",
     lambda d: d["teams"][0]["submission"].update(needs=["sleep"]),
     "teams[0].submission.needs[0]: 'sleep' is not a key of the published guidelines"),
    ("submission title required", lambda d: d["teams"][0]["submission"].pop("title"),
     "teams[0].submission.title: is required"),
]


@pytest.mark.parametrize(("rule", "mutate", "expected"), RULES, ids=[r[0] for r in RULES])
def test_each_rule_names_its_path(session, survey, rule, mutate, expected):
    problems = bundle.validate(session, _mutate(mutate))
    assert any(p.startswith(expected) for p in problems), (rule, problems)


def test_the_contract_example_is_valid(session, survey):
    assert bundle.validate(session, contract()) == []


def test_not_an_object(session):
    assert bundle.validate(session, []) == ["the document must be a JSON object"]


def test_citing_guidelines_of_a_survey_without_published_guidelines(session, survey):
    other = copy.deepcopy(SURVEY_CONTRACT)
    other["slug"] = "no-guidelines-yet"
    definition.apply(session, other)
    problems = bundle.validate(session, contract(survey="no-guidelines-yet"))
    assert "rubric.criteria[0].guidelines: survey 'no-guidelines-yet' has no published " \
           "guidelines yet; publish them before citing them" in problems
    assert any(p.startswith("teams[0].submission.needs: survey 'no-guidelines-yet'")
               for p in problems)


def test_every_problem_is_listed_at_once(session, survey):
    doc = contract(slug="X", normalization="rank", reviews_per_entry=99)
    assert len(bundle.validate(session, doc)) == 3


def test_people_already_in_an_unnamed_team_or_organizers(session, survey, imported,
                                                         make_user):
    make_user("org@example.org", "organizer")
    doc = contract(teams=[{"name": "Other team", "members": ["lee@example.org",
                                                             "org@example.org"]}])
    problems = bundle.validate(session, doc)
    assert ("teams[0].members[0]: lee@example.org is already in team 'GlucoGo' of this "
            "challenge, which this file does not name; a person can be in one team per "
            "challenge") in problems
    assert ("teams[0].members[1]: org@example.org is an organizer; organizers run the "
            "challenge and cannot be in a team") in problems


def test_apply_refuses_an_invalid_bundle_and_changes_nothing(session, survey):
    session.commit()
    before = counts(session)
    with pytest.raises(ValidationFailed) as refused:
        bundle.apply(session, contract(reviews_per_entry=0))
    assert refused.value.problems == ["reviews_per_entry: must be a whole number from 1 to 20 "
                                      "(got 0)"]
    session.rollback()
    assert counts(session) == before


# --- import ---------------------------------------------------------------------------------

def test_import_creates_challenge_accounts_team_and_submitted_entry(session, survey):
    with clock.frozen(datetime(2026, 12, 1, 9, 0, tzinfo=UTC)):
        result = bundle.apply(session, contract())
    assert result.created and result.changed and result.versions_added == 1
    assert result.accounts_created == ["ana@example.org", "lee@example.org"]
    challenge = result.challenge
    assert (challenge.title, challenge.survey_id, challenge.team_min, challenge.team_max) == (
        "Data Design Diabetes 2027", survey.id, 1, 5)
    assert challenge.phase_times() == {"registration_opens": REGISTRATION,
                                       "submission_deadline": DEADLINE,
                                       "judging_closes": JUDGING, "results_at": RESULTS}
    assert challenge.rubric == CONTRACT["rubric"] and challenge.panels == {"expert": 1.0}
    assert challenge.judges == [{"email": "ana@example.org", "name": "Ana", "panel": "expert"}]
    assert challenge.published is True
    ana = session.scalar(select(User).where(User.email == "ana@example.org"))
    lee = session.scalar(select(User).where(User.email == "lee@example.org"))
    assert (ana.roles, ana.name, ana.password_hash) == ({"judge"}, "Ana", None)
    assert (lee.roles, lee.password_hash) == ({"entrant"}, None)
    team = session.scalar(select(Team))
    assert team.name == "GlucoGo" and team.captain.email == "lee@example.org"
    submission = session.scalar(select(Submission))
    (version,) = session.scalars(select(SubmissionVersion)).all()
    assert submission.entry_version_id == version.id
    assert (version.number, version.title, version.summary, version.needs) == (
        1, "GlucoGo", "Markdown", ["exercise"])
    assert version.submitted_at == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert len(version.content_hash) == 64
    actions = list(session.scalars(select(AuditEvent.action).where(
        AuditEvent.action.like("challenge.%"))))
    assert actions == ["challenge.imported"]


def test_new_accounts_get_an_invitation_link_existing_ones_only_a_role(session, survey,
                                                                        make_user):
    make_user("ana@example.org", "patient", name="Ana Existing")
    result = bundle.apply(session, contract())
    assert result.accounts_created == ["lee@example.org"]
    assert result.roles_added == ["ana@example.org"]
    messages = session.scalars(select(OutboxMessage)).all()
    assert [m.to for m in messages] == ["lee@example.org"]
    invite = messages[0]
    assert invite.kind == "invite" and invite.subject == "You are invited to Data Design " \
                                                         "Diabetes 2027"
    assert "as a member of team “GlucoGo”" in invite.body
    assert "http://127.0.0.1:5000/invite/" in invite.body
    assert "http://127.0.0.1:5000/c/ddd-2027" in invite.body
    ana = session.scalar(select(User).where(User.email == "ana@example.org"))
    assert ana.roles == {"patient", "judge"} and ana.name == "Ana Existing"
    assert session.scalar(select(AuditEvent).where(
        AuditEvent.action == "roles.changed")).details["after"] == ["judge", "patient"]


def test_the_invitation_link_lets_the_person_set_a_password(app, session, survey):
    bundle.apply(session, contract())
    session.commit()
    body = session.scalar(select(OutboxMessage.body).where(
        OutboxMessage.to == "lee@example.org"))
    path = next(line for line in body.splitlines() if "/invite/" in line).replace(
        "http://127.0.0.1:5000", "")
    client = app.test_client()
    assert client.get(path).status_code == 200


def test_importing_twice_changes_nothing(session, survey, imported):
    exported = bundle.export(session, imported)
    before = counts(session)
    again = bundle.apply(session, contract())
    assert not again.created and not again.changed and again.accounts_created == []
    assert again.versions_added == 0
    session.commit()
    assert counts(session) == before
    from_export = bundle.apply(session, json.loads(json.dumps(exported)))
    assert not from_export.changed
    session.commit()
    assert counts(session) == before
    assert bundle.export(session, imported) == exported


def test_export_is_the_contract_document(session, imported):
    doc = bundle.export(session, imported)
    for key, value in CONTRACT.items():
        assert doc[key] == value, key
    assert {"published", "gallery_open", "blind_judging"} <= set(doc)


def test_export_then_import_into_an_empty_database_recreates_it(session, imported):
    exported = json.loads(json.dumps(bundle.export(session, imported)))
    session.execute(delete(Challenge))
    session.execute(delete(User).where(User.email.in_(["ana@example.org", "lee@example.org"])))
    session.commit()
    session.expunge_all()  # bulk deletes leave stale objects in the identity map
    assert session.scalar(select(func.count(Team.id))) == 0
    result = bundle.apply(session, exported)
    assert result.created and result.accounts_created == ["ana@example.org", "lee@example.org"]
    session.commit()
    assert bundle.export(session, result.challenge) == exported


def test_changed_content_adds_a_submitted_version_and_keeps_the_first(session, imported):
    doc = contract()
    doc["teams"][0]["submission"]["summary"] = "A better summary"
    doc["teams"][0]["members"] = ["kim@example.org", "lee@example.org"]
    result = bundle.apply(session, doc)
    assert result.changed and result.versions_added == 1
    assert result.accounts_created == ["kim@example.org"]
    first, second = session.scalars(select(SubmissionVersion)
                                    .order_by(SubmissionVersion.number)).all()
    assert (first.summary, second.summary) == ("Markdown", "A better summary")
    assert second.changes == ["summary"] and second.content_hash != first.content_hash
    assert session.scalar(select(Submission.entry_version_id)) == second.id
    team = session.scalar(select(Team))
    session.refresh(team)
    assert team.captain.email == "kim@example.org"
    assert [m.role for m in team.memberships] == ["member", "captain"]
    assert session.scalar(select(AuditEvent.action).order_by(AuditEvent.id.desc())) == \
        "challenge.updated"


def test_an_update_without_team_size_checks_against_the_stored_limits(session, imported):
    imported.team_max = 2
    doc = contract()
    del doc["team_size"]
    doc["teams"][0]["members"] = ["lee@example.org", "kim@example.org", "jo@example.org"]
    assert bundle.validate(session, doc) == [
        "teams[0].members: a team has 1 to 2 members (team_size); this one has 3"]
    doc["teams"][0]["members"].pop()
    bundle.apply(session, doc)
    assert (imported.team_min, imported.team_max) == (1, 2)


def test_a_member_moves_between_two_named_teams(session, imported):
    doc = contract()
    doc["teams"][0]["members"] = ["kim@example.org"]
    doc["teams"].append({"name": "Second", "members": ["lee@example.org"]})
    bundle.apply(session, doc)
    session.commit()
    rows = session.execute(select(Team.name, User.email)
                           .join(Membership, Membership.team_id == Team.id)
                           .join(User, User.id == Membership.user_id)
                           .order_by(Team.name)).all()
    assert rows == [("GlucoGo", "kim@example.org"), ("Second", "lee@example.org")]


def test_imported_summaries_are_screened_for_adverse_events(session, survey):
    from challenge.safety.models import Flag

    doc = contract()
    doc["teams"][0]["submission"]["summary"] = "Since Lantus I felt dizzy every morning."
    bundle.apply(session, doc)
    flag = session.scalar(select(Flag))
    assert flag is not None and flag.source == "submission"


# --- phase rules at the boundaries (T - 1 µs, T, T + 1 µs) ------------------------------------

def _at(moment: datetime):
    with clock.frozen(moment):
        return clock.now()


@pytest.mark.parametrize(("moment", "expected"), [
    (REGISTRATION - TICK, False), (REGISTRATION, True), (REGISTRATION + TICK, True),
    (DEADLINE - TICK, True), (DEADLINE, False), (DEADLINE + TICK, False),
])
def test_registration_open_at_the_boundaries(imported, moment, expected):
    assert services.registration_open(imported, _at(moment)) is expected


@pytest.mark.parametrize(("moment", "expected"), [
    (DEADLINE - TICK, True), (DEADLINE, False), (DEADLINE + TICK, False),
])
def test_team_changes_and_submissions_stop_at_the_deadline(imported, moment, expected):
    team = imported.teams[0]
    now = _at(moment)
    assert services.team_changes_allowed(imported, now) is expected
    assert services.submissions_open(imported, team, now) is expected
    assert services.submissions_open(imported, None, now) is expected


def test_an_extension_moves_only_that_teams_deadline(session, imported):
    team = imported.teams[0]
    extension = DEADLINE + timedelta(hours=6)
    services.grant_extension(session, team, extension, actor=None)
    assert services.effective_deadline(imported, team) == extension
    for moment, expected in ((DEADLINE, True), (extension - TICK, True), (extension, False),
                             (extension + TICK, False)):
        now = _at(moment)
        assert services.submissions_open(imported, team, now) is expected, moment
        assert services.team_changes_allowed(imported, now) is False
    assert services.submissions_open(imported, None, _at(DEADLINE)) is False


@pytest.mark.parametrize(("moment", "name", "upcoming"), [
    (REGISTRATION - TICK, "announced", "registration_opens"),
    (REGISTRATION, "registration_opens", "submission_deadline"),
    (DEADLINE - TICK, "registration_opens", "submission_deadline"),
    (DEADLINE, "submission_deadline", "judging_closes"),
    (DEADLINE + TICK, "submission_deadline", "judging_closes"),
    (JUDGING, "judging_closes", "results_at"),
    (RESULTS - TICK, "judging_closes", "results_at"),
    (RESULTS, "results_at", None),
])
def test_current_and_next_phase(imported, moment, name, upcoming):
    now = _at(moment)
    current = services.current_phase(imported, now)
    assert current.name == name
    assert current.label == services.PERIOD_LABELS[name]
    nxt = services.next_phase(imported, now)
    assert (nxt.name if nxt else None) == upcoming
    if nxt:
        assert nxt.at == imported.phase_times()[upcoming]


@pytest.mark.parametrize(("delta", "text"), [
    (timedelta(days=3, hours=4, minutes=59), "in 3 days 4 hours"),
    (timedelta(days=1), "in 1 day"),
    (timedelta(hours=5, minutes=1), "in 5 hours 1 minute"),
    (timedelta(minutes=12, seconds=30), "in 12 minutes"),
    (timedelta(seconds=59), "in less than a minute"),
    (timedelta(0), "now"),
])
def test_countdown_text(delta, text):
    assert services.countdown(DEADLINE - delta, DEADLINE) == text


# --- extensions ---------------------------------------------------------------------------

def test_extension_is_audited_and_must_fall_between_deadline_and_end_of_judging(
        session, imported, make_user):
    org = make_user("org@example.org", "organizer")
    team = imported.teams[0]
    with pytest.raises(ValidationFailed, match="after the submission deadline"):
        services.grant_extension(session, team, DEADLINE, actor=org)
    with pytest.raises(ValidationFailed, match="past the end of judging"):
        services.grant_extension(session, team, JUDGING + TICK, actor=org)
    services.grant_extension(session, team, DEADLINE + timedelta(days=1), actor=org)
    event_ = session.scalar(select(AuditEvent).where(
        AuditEvent.action == "team.extension_granted"))
    assert event_.actor_id == org.id and event_.target == f"team:{team.id}"
    assert event_.details["until"] == "2027-03-02T17:00:00Z"
    services.grant_extension(session, team, None, actor=org)
    assert team.deadline_extension is None
    assert session.scalar(select(func.count(AuditEvent.id)).where(
        AuditEvent.action == "team.extension_removed")) == 1


# --- finding and listing ----------------------------------------------------------------------

def test_get_challenge_and_public_list(session, imported):
    assert services.get_challenge(session, SLUG).id == imported.id
    with pytest.raises(NotFound):
        services.get_challenge(session, "nope")
    doc = contract(slug="older", title="Older", published=False)
    doc["teams"] = []
    doc["phases"] = {k: v.replace("2027", "2026") for k, v in doc["phases"].items()}
    bundle.apply(session, doc)
    newer = contract(slug="newer", title="Newer")
    newer["teams"] = []
    newer["phases"] = {k: v.replace("2027", "2028") for k, v in newer["phases"].items()}
    bundle.apply(session, newer)
    rows, total = services.list_public(session, limit=10, offset=0)
    assert [c.slug for c in rows] == ["newer", SLUG] and total == 2
    listed, total = services.list_for_organizers(session, limit=10, offset=0)
    assert [(r.challenge.slug, r.teams) for r in listed] == [("newer", 0), (SLUG, 1),
                                                             ("older", 0)]
    assert total == 3


def test_guidelines_of_the_challenge(session, imported):
    assert services.guideline_keys(session, imported) == ["exercise"]
    assert services.guideline_doc_for(session, imported).status == "published"
    imported.survey_id = None
    assert services.guideline_doc_for(session, imported) is None
    assert services.guideline_keys(session, imported) == []


# --- create and update from the form's data ------------------------------------------------------

def _data(**changes) -> services.ChallengeData:
    values = dict(title="Sleep 2028", slug="sleep-2028", description="Brief",
                  registration_opens=REGISTRATION, submission_deadline=DEADLINE,
                  judging_closes=JUDGING, results_at=RESULTS, survey="daily-life-2027")
    values.update(changes)
    return services.ChallengeData(**values)


def test_create_and_update(session, survey, make_user):
    org = make_user("org@example.org", "organizer")
    challenge = services.create_challenge(session, _data(), actor=org)
    assert challenge.survey_id == survey.id and challenge.published is False
    assert challenge.panels == {"expert": 1.0} and challenge.rubric == {"criteria": []}
    assert services.update_challenge(session, challenge, _data(), actor=org) is False
    assert services.update_challenge(session, challenge, _data(title="Sleep 2029"),
                                     actor=org) is True
    actions = list(session.scalars(select(AuditEvent.action).where(
        AuditEvent.action.like("challenge.%")).order_by(AuditEvent.id)))
    assert actions == ["challenge.created", "challenge.updated"]


def test_create_lists_every_problem_by_field(session, survey):
    with pytest.raises(services.ChallengeInvalid) as refused:
        services.create_challenge(session, _data(
            title="", slug="No Good", team_min=3, team_max=2, survey="nope",
            judging_closes=DEADLINE - timedelta(days=1)), actor=None)
    fields = refused.value.fields
    assert set(fields) == {"title", "slug", "team_max", "survey", "judging_closes"}
    assert fields["judging_closes"] == [
        "Must be after submission deadline (2027-03-01 17:00 UTC)."]


def test_update_protects_slug_team_sizes_and_cited_guidelines(session, imported):
    data = services.ChallengeData.of(session, imported)
    data.slug, data.survey = "renamed", None
    data.team_max = 1
    bundle.apply(session, contract(teams=[{"name": "GlucoGo", "members": [
        "lee@example.org", "kim@example.org"]}]))
    with pytest.raises(services.ChallengeInvalid) as refused:
        services.update_challenge(session, imported, data, actor=None)
    fields = refused.value.fields
    assert "Teams have already registered" in fields["slug"][0]
    assert fields["team_max"] == ["Team “GlucoGo” already has 2 members; the maximum "
                                  "cannot be lower than that."]
    assert "The rubric cites guideline items" in fields["survey"][0]


# --- organizer figures ------------------------------------------------------------------------

def _version(session, submission, number, *, at, submitted=False, title=None):
    version = SubmissionVersion(submission_id=submission.id, number=number,
                                title=title or f"v{number}", created_at=at,
                                submitted_at=at if submitted else None,
                                content_hash="f" * 64 if submitted else None)
    session.add(version)
    session.flush()
    if submitted:
        submission.entry_version_id = version.id
    return version


def _teams_in_every_state(session, challenge, extra: int = 0):
    """Teams with no submission, a draft, a submitted entry, a changed entry (+ extras)."""
    now = DEADLINE - timedelta(hours=3)
    states = {}
    for name in ["none", "draft", "submitted", "changed"] + [f"x{i}" for i in range(extra)]:
        team = Team(challenge_id=challenge.id, name=f"Team {name}", created_at=now)
        session.add(team)
        session.flush()
        user = User(email=f"{challenge.slug}-{name}@example.org", created_at=now)
        session.add(user)
        session.flush()
        session.add(Membership(team_id=team.id, challenge_id=challenge.id, user_id=user.id,
                               role="captain", joined_at=now))
        if name != "none":
            submission = Submission(team_id=team.id, challenge_id=challenge.id,
                                    created_at=now)
            session.add(submission)
            session.flush()
            _version(session, submission, 1, at=now, submitted=name != "draft")
            if name == "changed":
                _version(session, submission, 2, at=now + timedelta(hours=1))
        states[name] = team
    session.flush()
    return states


def test_team_rows_give_the_submission_status_of_each_team(session, imported):
    _teams_in_every_state(session, imported)
    rows = {r.name: r for r in services.team_rows(session, imported)}
    assert {name: r.status for name, r in rows.items()} == {
        "GlucoGo": "submitted", "Team changed": "changed", "Team draft": "draft",
        "Team none": "none", "Team submitted": "submitted"}
    assert rows["Team changed"].versions == 2 and rows["Team changed"].title == "v1"
    assert rows["Team draft"].title == "v1" and rows["Team draft"].submitted_at is None
    assert rows["GlucoGo"].members == [("lee@example.org", "", "captain")]
    assert rows["Team none"].member_count == 1 and rows["Team none"].title is None
    assert services.status_counts(list(rows.values())) == {
        "none": 1, "draft": 1, "submitted": 2, "changed": 1}


def test_team_rows_use_a_fixed_number_of_queries(app, session, imported):
    engine = app.extensions["db_engine"]
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    bigger = Challenge(slug="bigger", title="Bigger", created_at=DEADLINE,
                       updated_at=DEADLINE, **imported.phase_times())
    session.add(bigger)
    session.flush()
    _teams_in_every_state(session, imported)
    _teams_in_every_state(session, bigger, extra=20)
    session.commit()
    event.listen(engine, "before_cursor_execute", count)
    try:
        small = len(services.team_rows(session, imported))
        few = len(statements)
        statements.clear()
        large = len(services.team_rows(session, bigger))
        many = len(statements)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert (small, large) == (5, 24)
    assert few == many <= 2, statements


def test_last_minute_activity_is_counted_per_hour(session, imported):
    team = imported.teams[0]
    submission = session.scalar(select(Submission).where(Submission.team_id == team.id))
    stamps = [DEADLINE - timedelta(minutes=1), DEADLINE - timedelta(hours=1),
              DEADLINE - timedelta(hours=1) - TICK, DEADLINE - timedelta(hours=23, minutes=30),
              DEADLINE - timedelta(hours=24) - TICK, DEADLINE]
    for i, at in enumerate(stamps, start=2):
        _version(session, submission, i, at=at, submitted=i == 2)
    activity = services.last_minute(session, imported)
    by_hour = {h.hours_before: (h.saved, h.submitted) for h in activity.hours}
    assert len(activity.hours) == 24 and activity.hours[-1].hours_before == 1
    assert by_hour[1] == (2, 1)
    assert by_hour[2] == (1, 0)
    assert by_hour[24] == (1, 0)
    assert activity.saved == 4 and activity.submitted == 1
    assert (activity.saved_after, activity.submitted_after) == (1, 0)
    assert activity.hours[-1].start == DEADLINE - timedelta(hours=1)
    assert activity.hours[-1].end == DEADLINE


def test_csv_export_is_formula_safe(session, imported):
    bundle.apply(session, contract(teams=[
        {"name": "GlucoGo", "members": ["lee@example.org"],
         "submission": {"title": "@SUM(A1)", "summary": "x", "needs": []}},
        {"name": "=cmd()", "members": ["+kim@example.org"]}]))
    rows = list(csv.reader(io.StringIO(services.teams_csv(session, imported), newline="")))
    assert rows[0] == ["team", "members", "submission title", "status", "submitted_at",
                       "content_hash"]
    by_team = {row[0]: row for row in rows[1:]}
    assert by_team["'=cmd()"][1:4] == ["'+kim@example.org", "", "none"]
    glucogo = by_team["GlucoGo"]
    assert glucogo[2] == "'@SUM(A1)" and glucogo[3] == "submitted"
    assert glucogo[4].endswith("Z") and len(glucogo[5]) == 64
