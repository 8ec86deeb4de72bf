"""Submissions: versions, submitting with receipts, deadlines by server time, who sees what.

Real database and real files (UPLOAD_DIR under the test's tmp_path); the clock is frozen.
The builders at the top are shared with the web and browser tests.
"""

from __future__ import annotations

import hashlib
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from flask_login import AnonymousUserMixin
from sqlalchemy import func, select

from challenge import clock
from challenge.accounts import services as accounts
from challenge.audit import AuditEvent
from challenge.challenges import gallery, submissions
from challenge.challenges.models import (
    Challenge,
    Membership,
    Submission,
    SubmissionFile,
    SubmissionVersion,
    Team,
)
from challenge.errors import Conflict, DomainError, NotFound
from challenge.outbox import OutboxMessage
from challenge.safety import services as safety
from challenge.safety.models import Flag
from surveys.models import GuidelineDocument, GuidelineItem, Survey
from tests.conftest import PASSWORD

DEADLINE = datetime(2027, 3, 1, 17, 0, tzinfo=UTC)
BEFORE = DEADLINE - timedelta(days=1)
US = timedelta(microseconds=1)
GUIDELINES = (("exercise", "Keep glucose steady during sport"),
              ("meals", "Plan meals without counting everything"),
              ("nights", "Sleep through the night"))
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


# --- builders (shared) --------------------------------------------------------------------

def make_challenge(session, slug: str = "ddd-2027", *, deadline: datetime = DEADLINE,
                   guidelines=GUIDELINES, gallery_open: bool = False) -> Challenge:
    """A published challenge linked to a survey whose guidelines are published."""
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
        survey_id=survey.id, registration_opens=deadline - timedelta(days=60),
        submission_deadline=deadline, judging_closes=deadline + timedelta(days=30),
        results_at=deadline + timedelta(days=45), gallery_open=gallery_open,
        created_at=now, updated_at=now)
    session.add(challenge)
    session.flush()
    return challenge


def make_person(session, email: str, *roles: str):
    """A user with a password (roles default to entrant)."""
    return accounts.create_user(session, email, password=PASSWORD,
                                roles=list(roles or ("entrant",)))


def make_team(session, challenge: Challenge, name: str, *users) -> Team:
    """A team with these members (the first is captain), created directly."""
    now = clock.now()
    team = Team(challenge_id=challenge.id, name=name, created_at=now)
    session.add(team)
    session.flush()
    for i, user in enumerate(users):
        session.add(Membership(team_id=team.id, challenge_id=challenge.id, user_id=user.id,
                               role="captain" if i == 0 else "member", joined_at=now))
    session.flush()
    session.refresh(team)
    return team


def assign(session, judge, submission) -> None:
    """Assign a judge to review a submission (what the judging package does)."""
    from challenge.judging.models import Assignment

    session.add(Assignment(challenge_id=submission.challenge_id, user_id=judge.id,
                           submission_id=submission.id, source="manual",
                           created_at=clock.now()))
    session.flush()


def draft(title: str = "GlucoGo", **kw) -> submissions.Draft:
    return submissions.Draft(title=title, **kw)


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


# --- fixtures -----------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def _frozen(app):
    clock.freeze(BEFORE)
    yield
    clock.freeze(None)


@pytest.fixture
def world(session):
    """A challenge, team A (ana, ben), team B (cy), a judge, an organizer, a patient."""
    challenge = make_challenge(session)
    ana, ben, cy = (make_person(session, f"{n}@example.org") for n in ("ana", "ben", "cy"))
    judge = make_person(session, "judge@example.org", "judge")
    other_judge = make_person(session, "judge2@example.org", "judge")
    org = make_person(session, "org@example.org", "organizer")
    pat = make_person(session, "pat@example.org", "patient")
    team_a = make_team(session, challenge, "GlucoGo", ana, ben)
    team_b = make_team(session, challenge, "Nightwatch", cy)
    session.commit()
    return type("World", (), dict(challenge=challenge, ana=ana, ben=ben, cy=cy, judge=judge,
                                  other_judge=other_judge, org=org, pat=pat, team_a=team_a,
                                  team_b=team_b))


# --- drafts and versions ------------------------------------------------------------------

def test_first_save_creates_the_submission_and_version_one(session, world):
    assert submissions.submission_of(session, world.team_a) is None
    version = submissions.save_draft(
        session, world.team_a,
        draft(summary="Helps **runners**", needs=["meals", "exercise", "exercise"],
              demo_url="https://video.example.org/x", repo_url="http://git.example.org/y"),
        actor=world.ana)
    session.commit()
    sub = submissions.submission_of(session, world.team_a)
    assert sub.challenge_id == world.challenge.id and sub.entry_version_id is None
    assert version.number == 1 and version.author_id == world.ana.id
    assert version.created_at == BEFORE and version.submitted_at is None
    assert version.needs == ["exercise", "meals"]  # guideline order, no repeats
    assert version.changes == ["title", "summary", "needs", "demo_url", "repo_url"]
    assert session.scalar(select(AuditEvent.details).where(
        AuditEvent.action == "submission.saved")) == {"version": 1, "changes": version.changes}


def test_every_change_is_a_new_version_and_no_change_makes_none(session, world):
    submissions.save_draft(session, world.team_a, draft(summary="One"), actor=world.ana)
    same = submissions.save_draft(session, world.team_a, draft(summary="One  "),
                                  actor=world.ben)
    assert same is None
    clock.advance(timedelta(minutes=5))
    second = submissions.save_draft(session, world.team_a, draft(summary="Two"),
                                    actor=world.ben)
    third = submissions.save_draft(session, world.team_a, draft("GlucoGo 2", summary="Two"),
                                   actor=world.ana)
    session.commit()
    assert (second.number, second.changes, second.author_id) == (2, ["summary"], world.ben.id)
    assert second.created_at == BEFORE + timedelta(minutes=5)
    assert (third.number, third.changes) == (3, ["title"])
    rows = session.scalars(select(SubmissionVersion).order_by(SubmissionVersion.number)).all()
    assert [(v.number, v.title, v.summary) for v in rows] == [
        (1, "GlucoGo", "One"), (2, "GlucoGo", "Two"), (3, "GlucoGo 2", "Two")]


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"title": "   "}, "title", "Give your project a title."),
    ({"title": "x" * 201}, "title", "at most 200"),
    ({"needs": ["exercise", "world-peace"]}, "needs", "world-peace"),
    ({"demo_url": "javascript:alert(1)"}, "demo_url", "http:// or https://"),
    ({"demo_url": "ftp://files.example.org/a"}, "demo_url", "http:// or https://"),
    ({"repo_url": "data:text/html,<b>x</b>"}, "repo_url", "http:// or https://"),
    ({"repo_url": "https://"}, "repo_url", "http:// or https://"),
    ({"repo_url": "https://example.org/a b"}, "repo_url", "spaces"),
    ({"repo_url": "www.example.org"}, "repo_url", "http:// or https://"),
    ({"summary": "y" * 20_001}, "summary", "at most"),
])
def test_bad_drafts_are_refused_with_the_field_and_nothing_is_stored(session, world, changes,
                                                                      field, message):
    fields = {"title": "GlucoGo", **changes}
    with pytest.raises(submissions.DraftInvalid) as caught:
        submissions.save_draft(session, world.team_a, submissions.Draft(**fields),
                               actor=world.ana)
    session.rollback()
    assert message in " ".join(caught.value.fields[field])
    assert caught.value.status_code == 422
    assert count(session, Submission) == 0 and count(session, SubmissionVersion) == 0


def test_needs_refused_when_no_guidelines_are_published(session):
    challenge = make_challenge(session, "no-guides", guidelines=())
    ana = make_person(session, "ana@example.org")
    team = make_team(session, challenge, "Solo", ana)
    with pytest.raises(submissions.DraftInvalid):
        submissions.save_draft(session, team, draft(needs=["exercise"]), actor=ana)
    assert submissions.save_draft(session, team, draft(), actor=ana).number == 1


def test_a_key_dropped_from_newer_guidelines_can_be_kept_but_not_added(session, world):
    submissions.save_draft(session, world.team_a, draft(needs=["nights"]), actor=world.ana)
    doc = session.scalar(select(GuidelineDocument))
    doc.items = [i for i in doc.items if i.key != "nights"]
    session.flush()
    kept = submissions.save_draft(session, world.team_a, draft("Renamed", needs=["nights"]),
                                  actor=world.ana)
    assert kept.needs == ["nights"]
    choices = dict(submissions.guideline_choices(session, world.challenge, kept))
    assert "no longer in the published guidelines" in choices["nights"]
    with pytest.raises(submissions.DraftInvalid):
        submissions.save_draft(session, world.team_b, draft(needs=["nights"]), actor=world.cy)


def test_someone_outside_the_team_cannot_save_upload_or_submit(session, world):
    submissions.save_draft(session, world.team_a, draft(), actor=world.ana)
    for actor in (world.cy, world.org, world.judge):
        with pytest.raises(NotFound):
            submissions.save_draft(session, world.team_a, draft("Hijack"), actor=actor)
        with pytest.raises(NotFound):
            submissions.submit(session, world.team_a, actor=actor)
        with pytest.raises(NotFound):
            submissions.add_file(session, world.team_a, io.BytesIO(PDF), "x.pdf", actor=actor)
    assert count(session, SubmissionVersion) == 1 and count(session, SubmissionFile) == 0


def test_summary_and_title_are_screened_when_their_text_changes(session, world):
    text = "Since metformin I feel nausea every morning."
    first = submissions.save_draft(session, world.team_a, draft(summary=text), actor=world.ana)
    flag = session.scalar(select(Flag))
    assert flag.source == "submission"
    assert flag.source_ref == f"submission:{first.submission_id}/version:1"
    submissions.save_draft(session, world.team_a, draft(summary=text, needs=["meals"]),
                           actor=world.ana)  # text unchanged: not screened again
    assert count(session, Flag) == 1
    submissions.save_draft(session, world.team_a, draft("Glucophage nausea fix", summary="x"),
                           actor=world.ana)
    refs = session.scalars(select(Flag.source_ref).order_by(Flag.id)).all()
    assert refs[-1].endswith("/version:3") and len(refs) == 2


# --- submitting ---------------------------------------------------------------------------

def _upload(session, team, actor, content=PDF, name="deck.pdf"):
    return submissions.add_file(session, team, io.BytesIO(content), name, actor=actor)


def test_submit_freezes_the_latest_version_and_sends_every_member_a_receipt(session, world):
    submissions.save_draft(session, world.team_a,
                           draft(summary="Ünïcode **ok**", needs=["exercise"],
                                 demo_url="https://v.example.org/1"), actor=world.ana)
    stored, _ = _upload(session, world.team_a, world.ben)
    receipt = submissions.submit(session, world.team_a, actor=world.ben)
    session.commit()
    sub = submissions.submission_of(session, world.team_a)
    entry = submissions.entry_version(session, sub)
    assert (receipt.version_number, receipt.duplicate, receipt.submitted_at) == (2, False,
                                                                                  BEFORE)
    assert entry.number == 2 and entry.submitted_at == BEFORE
    canonical = json.dumps({"title": "GlucoGo", "summary": "Ünïcode **ok**",
                            "needs": ["exercise"], "demo_url": "https://v.example.org/1",
                            "repo_url": "", "files": [hashlib.sha256(PDF).hexdigest()]},
                           sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert entry.content_hash == receipt.content_hash == hashlib.sha256(
        canonical.encode()).hexdigest()
    assert stored.sha256 == hashlib.sha256(PDF).hexdigest()
    mails = session.scalars(select(OutboxMessage).order_by(OutboxMessage.to)).all()
    assert [m.to for m in mails] == ["ana@example.org", "ben@example.org"]
    for mail in mails:
        assert mail.kind == "receipt"
        assert receipt.content_hash in mail.body
        assert "2027-02-28T17:00:00Z (UTC" in mail.body and "Version: 2" in mail.body
        assert f"deck.pdf ({len(PDF)} bytes, SHA-256 {stored.sha256})" in mail.body
    assert session.scalar(select(AuditEvent.details).where(
        AuditEvent.action == "submission.submitted"))["content_hash"] == receipt.content_hash


def test_duplicate_submit_returns_the_first_receipt_and_sends_nothing(session, world):
    submissions.save_draft(session, world.team_a, draft(), actor=world.ana)
    first = submissions.submit(session, world.team_a, actor=world.ana)
    session.commit()
    clock.advance(timedelta(seconds=2))
    again = submissions.submit(session, world.team_a, actor=world.ben)
    session.commit()
    assert again.duplicate and again.content_hash == first.content_hash
    assert again.submitted_at == first.submitted_at == BEFORE
    assert count(session, OutboxMessage) == 2  # one per member, once


def test_edits_after_submitting_make_a_new_version_until_submitted_again(session, world):
    submissions.save_draft(session, world.team_a, draft(summary="v1"), actor=world.ana)
    first = submissions.submit(session, world.team_a, actor=world.ana)
    submissions.save_draft(session, world.team_a, draft(summary="v2"), actor=world.ben)
    session.commit()
    state = submissions.editor_state(session, world.challenge, world.team_a)
    assert state.unsubmitted_changes and state.entry.number == 1 and state.latest.number == 2
    assert state.entry.content_hash == first.content_hash  # the entry did not move
    second = submissions.submit(session, world.team_a, actor=world.ben)
    session.commit()
    state = submissions.editor_state(session, world.challenge, world.team_a)
    assert not state.unsubmitted_changes and state.entry.number == 2
    assert second.content_hash != first.content_hash
    v1 = session.scalar(select(SubmissionVersion).where(SubmissionVersion.number == 1))
    assert v1.content_hash == first.content_hash and v1.submitted_at == BEFORE


def test_nothing_to_submit_before_a_first_save(session, world):
    with pytest.raises(DomainError, match="Save your draft first"):
        submissions.submit(session, world.team_a, actor=world.ana)


def test_content_hash_ignores_file_order_and_depends_on_every_field():
    base = dict(title="T", summary="S", needs=["a"], demo_url="", repo_url="",
                file_hashes=["b" * 64, "a" * 64])
    h = submissions.content_hash(**base)
    assert h == submissions.content_hash(**{**base, "file_hashes": ["a" * 64, "b" * 64]})
    for key, value in (("title", "U"), ("summary", "s"), ("needs", ["b"]),
                       ("demo_url", "https://x.org"), ("repo_url", "https://y.org"),
                       ("file_hashes", ["a" * 64])):
        assert submissions.content_hash(**{**base, key: value}) != h


# --- deadlines by server time ---------------------------------------------------------------

@pytest.mark.parametrize(("offset", "accepted"), [(-US, True), (timedelta(0), False),
                                                  (US, False)])
def test_save_at_the_deadline(session, world, offset, accepted):
    submissions.save_draft(session, world.team_a, draft(summary="first"), actor=world.ana)
    submissions.submit(session, world.team_a, actor=world.ana)
    session.commit()
    clock.freeze(DEADLINE + offset)
    if accepted:
        assert submissions.save_draft(session, world.team_a, draft(summary="late"),
                                      actor=world.ana).number == 2
        return
    with pytest.raises(Conflict) as caught:
        submissions.save_draft(session, world.team_a, draft(summary="late"), actor=world.ana)
    session.rollback()
    assert "deadline passed at 2027-03-01 17:00:00 UTC" in caught.value.message
    assert "nothing was changed" in caught.value.message
    assert "Your entry is still version 1" in caught.value.message
    assert count(session, SubmissionVersion) == 1


@pytest.mark.parametrize(("offset", "accepted"), [(-US, True), (timedelta(0), False),
                                                  (US, False)])
def test_submit_at_the_deadline(session, world, offset, accepted):
    submissions.save_draft(session, world.team_a, draft(summary="first"), actor=world.ana)
    submissions.submit(session, world.team_a, actor=world.ana)
    submissions.save_draft(session, world.team_a, draft(summary="second"), actor=world.ana)
    session.commit()
    clock.freeze(DEADLINE + offset)
    if accepted:
        receipt = submissions.submit(session, world.team_a, actor=world.ben)
        assert receipt.version_number == 2 and receipt.submitted_at == DEADLINE - US
        return
    with pytest.raises(Conflict, match="Your entry is still version 1"):
        submissions.submit(session, world.team_a, actor=world.ben)
    session.rollback()
    sub = submissions.submission_of(session, world.team_a)
    assert submissions.entry_version(session, sub).number == 1
    assert session.scalar(select(SubmissionVersion.submitted_at)
                          .where(SubmissionVersion.number == 2)) is None
    assert count(session, OutboxMessage) == 2  # only the first receipt


def test_uploads_and_removals_also_stop_at_the_deadline(session, world, app):
    submissions.save_draft(session, world.team_a, draft(), actor=world.ana)
    stored, _ = _upload(session, world.team_a, world.ana)
    session.commit()
    clock.freeze(DEADLINE)
    with pytest.raises(Conflict):
        _upload(session, world.team_a, world.ana, name="late.pdf")
    with pytest.raises(Conflict):
        submissions.remove_file(session, world.team_a, stored.id, actor=world.ana)
    session.rollback()
    assert count(session, SubmissionFile) == 1 and count(session, SubmissionVersion) == 2
    from pathlib import Path
    assert len(list(Path(app.config["UPLOAD_DIR"]).iterdir())) == 1


def test_a_duplicate_submit_after_the_deadline_still_returns_the_receipt(session, world):
    submissions.save_draft(session, world.team_a, draft(), actor=world.ana)
    first = submissions.submit(session, world.team_a, actor=world.ana)
    session.commit()
    clock.freeze(DEADLINE + timedelta(hours=1))
    again = submissions.submit(session, world.team_a, actor=world.ana)
    assert again.duplicate and again.content_hash == first.content_hash


def test_an_extension_lets_that_team_work_until_it(session, world):
    world.team_a.deadline_extension = DEADLINE + timedelta(hours=2)
    session.commit()
    clock.freeze(DEADLINE + timedelta(hours=2) - US)
    submissions.save_draft(session, world.team_a, draft(), actor=world.ana)
    assert submissions.submit(session, world.team_a, actor=world.ana).version_number == 1
    with pytest.raises(Conflict):  # the other team has no extension
        submissions.save_draft(session, world.team_b, draft("Late"), actor=world.cy)
    clock.freeze(DEADLINE + timedelta(hours=2))
    with pytest.raises(Conflict, match="2027-03-01 19:00:00 UTC"):
        submissions.save_draft(session, world.team_a, draft("Later"), actor=world.ana)


def test_an_extension_earlier_than_the_deadline_changes_nothing(session, world):
    world.team_a.deadline_extension = DEADLINE - timedelta(days=2)
    assert submissions.deadline_for(world.challenge, world.team_a) == DEADLINE
    assert submissions.accepting(world.challenge, world.team_a, DEADLINE - US)


# --- files in versions --------------------------------------------------------------------

def test_files_need_a_saved_draft_first(session, world):
    with pytest.raises(DomainError, match="title first"):
        _upload(session, world.team_a, world.ana)


def test_removing_a_file_makes_a_version_without_it_and_keeps_the_stored_file(session, world,
                                                                              app):
    submissions.save_draft(session, world.team_a, draft(), actor=world.ana)
    stored, with_file = _upload(session, world.team_a, world.ana)
    removed = submissions.remove_file(session, world.team_a, stored.id, actor=world.ben)
    session.commit()
    assert (with_file.number, with_file.changes, with_file.file_ids) == (2, ["files"],
                                                                        [stored.id])
    assert (removed.number, removed.changes, removed.file_ids) == (3, ["files"], [])
    from challenge.challenges import files
    assert files.path_of(stored).read_bytes() == PDF
    with pytest.raises(NotFound):  # not in the draft any more
        submissions.remove_file(session, world.team_a, stored.id, actor=world.ben)
    with pytest.raises(NotFound):  # another team's file is not in this team's draft
        submissions.save_draft(session, world.team_b, draft("B"), actor=world.cy)
        submissions.remove_file(session, world.team_b, stored.id, actor=world.cy)


# --- who sees what ------------------------------------------------------------------------

def test_can_download_members_organizers_and_assigned_judges_for_entries_only(session,
                                                                             world):
    submissions.save_draft(session, world.team_a, draft(), actor=world.ana)
    entry_file, _ = _upload(session, world.team_a, world.ana, name="entry.pdf")
    submissions.submit(session, world.team_a, actor=world.ana)
    draft_file, _ = _upload(session, world.team_a, world.ana, name="draft.pdf")
    sub = submissions.submission_of(session, world.team_a)
    assign(session, world.judge, sub)
    session.commit()
    allowed = {world.ana, world.ben, world.org}
    for user in (world.ana, world.ben, world.org, world.judge, world.other_judge, world.cy,
                 world.pat, AnonymousUserMixin(), None):
        for stored in (entry_file, draft_file):
            expected = user in allowed or (user is world.judge and stored is entry_file)
            assert submissions.can_download(session, user, sub, stored) is expected, (user,
                                                                                     stored)
            if expected:
                assert submissions.file_for_download(session, user, stored.id) == stored
            else:
                with pytest.raises(NotFound):
                    submissions.file_for_download(session, user, stored.id)
    assert submissions.can_download(session, world.judge, sub)
    assert not submissions.can_download(session, world.other_judge, sub)
    with pytest.raises(NotFound):
        submissions.file_for_download(session, world.ana, 99999)


def test_visible_versions_drafts_for_team_and_organizers_entries_for_judges(session,
                                                                            world):
    submissions.save_draft(session, world.team_a, draft(summary="1"), actor=world.ana)
    sub = submissions.submission_of(session, world.team_a)
    assign(session, world.judge, sub)
    with pytest.raises(NotFound):  # nothing submitted yet: a judge sees nothing
        submissions.visible_versions(session, world.judge, sub)
    submissions.submit(session, world.team_a, actor=world.ana)
    submissions.save_draft(session, world.team_a, draft(summary="2"), actor=world.ana)
    session.commit()
    for user in (world.ana, world.org):
        assert [v.number for v in submissions.visible_versions(session, user, sub)] == [2, 1]
    assert [v.number for v in submissions.visible_versions(session, world.judge, sub)] == [1]
    for user in (world.cy, world.pat, world.other_judge, AnonymousUserMixin()):
        with pytest.raises(NotFound):
            submissions.visible_versions(session, user, sub)


# --- gallery ------------------------------------------------------------------------------

def test_gallery_shows_opted_in_entries_only_never_drafts(session, world):
    dan = make_person(session, "dan@example.org")
    team_c = make_team(session, world.challenge, "Alpha", dan)
    submissions.save_draft(session, world.team_a, draft("Entry A"), actor=world.ana)
    submissions.submit(session, world.team_a, actor=world.ana)
    submissions.save_draft(session, world.team_a, draft("Draft A (secret)"), actor=world.ana)
    submissions.set_gallery_opt_in(session, world.team_a, True, actor=world.ben)
    submissions.save_draft(session, world.team_b, draft("Entry B"), actor=world.cy)
    submissions.submit(session, world.team_b, actor=world.cy)  # not opted in
    submissions.save_draft(session, team_c, draft("Never submitted"), actor=dan)
    submissions.set_gallery_opt_in(session, team_c, True, actor=dan)
    session.commit()
    shown = gallery.entries(session, world.challenge)
    assert [(e.team_name, e.version.title) for e in shown] == [("GlucoGo", "Entry A")]
    assert session.scalar(select(AuditEvent.details).where(
        AuditEvent.action == "submission.gallery_opt_in")) == {"opt_in": True}


def test_gallery_opens_with_the_switch_or_at_results(session, world):
    assert not gallery.is_open(world.challenge, world.challenge.results_at - US)
    assert gallery.is_open(world.challenge, world.challenge.results_at)
    world.challenge.gallery_open = True
    assert gallery.is_open(world.challenge, BEFORE)


def test_gallery_holds_back_an_entry_with_an_open_safety_flag(session, world):
    officer = make_person(session, "safety@example.org", "safety")
    submissions.save_draft(session, world.team_a,
                           draft(summary="With metformin I had nausea."), actor=world.ana)
    submissions.save_draft(session, world.team_a,
                           draft(summary="With metformin I had nausea.", needs=["meals"]),
                           actor=world.ana)  # version 2 carries version 1's text
    submissions.submit(session, world.team_a, actor=world.ana)
    submissions.set_gallery_opt_in(session, world.team_a, True, actor=world.ana)
    session.commit()
    assert gallery.entries(session, world.challenge) == []
    flag = session.scalar(select(Flag))
    safety.change_status(session, flag, "not_adverse_event", actor=officer)
    session.commit()
    assert [e.version.number for e in gallery.entries(session, world.challenge)] == [2]
