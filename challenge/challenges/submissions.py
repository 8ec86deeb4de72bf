"""Submissions: a team's draft as immutable versions, submitting an entry, who sees what.

Rules (ARCHITECTURE.md, issue 5):

- One submission per team (created on the first save). Any member edits the draft; every
  save that changes something appends an immutable `SubmissionVersion` (author, time, the
  names of the changed fields). A save that changes nothing appends nothing.
- "Submit" freezes the latest version as the entry: it stamps `submitted_at` and
  `content_hash` once, points `Submission.entry_version_id` at it, and sends every member a
  receipt through the outbox. Submitting the version that already is the entry again
  returns the first receipt (no second e-mail, the same hash).
- Server time decides (`challenge.clock.now()`): a save, upload, removal or submit at or
  after the team's deadline (`submission_deadline`, or the team's later
  `deadline_extension`) is refused, changes nothing, and the entry stays what it was.
- Summaries (and titles) are screened for adverse events whenever their text changes
  (METHODS.md section 10); an entry whose text has an open flag stays out of the gallery.

Services take a Session, raise `challenge.errors` domain errors and only flush; the view
commits.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from challenge import audit, clock, outbox
from challenge.accounts.models import User
from challenge.challenges import files as file_store
from challenge.challenges import services as challenge_services
from challenge.challenges import teams
from challenge.challenges.models import (
    Challenge,
    Membership,
    Submission,
    SubmissionFile,
    SubmissionVersion,
    Team,
)
from challenge.errors import Conflict, DomainError, NotFound, ValidationFailed
from challenge.safety.services import screen

TITLE_MAX = 200
SUMMARY_MAX = 20_000
URL_MAX = 500
# The fields a version records, in the order changes are listed.
FIELDS = ("title", "summary", "needs", "demo_url", "repo_url", "files")
FIELD_LABELS = {
    "title": "title",
    "summary": "summary",
    "needs": "guidelines addressed",
    "demo_url": "demo video link",
    "repo_url": "repository link",
    "files": "files",
}
SCREEN_SOURCE = "submission"


class DraftInvalid(ValidationFailed):
    """The draft has problems; `fields` maps a form field name to its messages."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        super().__init__([m for messages in fields.values() for m in messages])
        self.fields = fields


@dataclass(frozen=True)
class Draft:
    """What a member typed: the editable content of a version (files change separately)."""

    title: str
    summary: str = ""
    needs: Sequence[str] = ()
    demo_url: str = ""
    repo_url: str = ""


@dataclass(frozen=True)
class Receipt:
    """Proof of an entry: which version, its content hash, when (UTC)."""

    version_number: int
    content_hash: str
    submitted_at: datetime
    duplicate: bool = False  # True when this repeats an earlier receipt


@dataclass
class EditorState:
    """Everything the submission page shows about a team's submission."""

    challenge: Challenge
    team: Team
    submission: Submission | None
    latest: SubmissionVersion | None
    entry: SubmissionVersion | None
    files: list[SubmissionFile]
    deadline: datetime
    accepting: bool
    usage: int
    choices: list[tuple[str, str]] = field(default_factory=list)

    @property
    def unsubmitted_changes(self) -> bool:
        """The entry exists but later versions are not submitted."""
        return (self.entry is not None and self.latest is not None
                and self.latest.id != self.entry.id)


# ---------------------------------------------------------------------------------------
# Deadlines and membership
# ---------------------------------------------------------------------------------------


def deadline_for(challenge: Challenge, team: Team) -> datetime:
    """The team's deadline: the challenge's, or the team's extension when later."""
    return challenge_services.effective_deadline(challenge, team)


def accepting(challenge: Challenge, team: Team, now: datetime) -> bool:
    """Saves and submits are accepted strictly before the team's deadline.

    A request received exactly at the deadline is too late (issue 5: "at or after").
    """
    return challenge_services.submissions_open(challenge, team, now)


def _utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def iso_utc(moment: datetime | None) -> str:
    """ISO 8601 in UTC with a Z (microseconds kept), for receipts and pages."""
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else ""


def _require_open(session: Session, team: Team, submission: Submission | None,
                  now: datetime) -> None:
    challenge = team.challenge
    if accepting(challenge, team, now):
        return
    entry = entry_version(session, submission)
    still = (f" Your entry is still version {entry.number}." if entry is not None
             else " Your team has no submitted entry.")
    raise Conflict(f"The submission deadline passed at {_utc(deadline_for(challenge, team))} "
                   f"(server time); nothing was changed.{still}")


def team_of(session: Session, user: User | None, challenge: Challenge) -> Team | None:
    """The user's team in this challenge, or None."""
    return teams.team_for_user(session, user, challenge)


def _require_member(session: Session, user: User | None, team: Team) -> None:
    if not teams.is_member(session, user, team):
        raise NotFound("There is no such submission, or you are not in its team.")


# ---------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------


def submission_of(session: Session, team: Team) -> Submission | None:
    """The team's submission, if it has saved anything yet."""
    return session.scalar(select(Submission).where(Submission.team_id == team.id))


def get_submission(session: Session, submission_id: int) -> Submission:
    """A submission by id (NotFound otherwise; callers check who may see it)."""
    submission = session.get(Submission, submission_id)
    if submission is None:
        raise NotFound("There is no such submission.")
    return submission


def latest_version(session: Session, submission: Submission | None
                   ) -> SubmissionVersion | None:
    """The newest version (the draft as it stands)."""
    if submission is None:
        return None
    return session.scalar(select(SubmissionVersion)
                          .where(SubmissionVersion.submission_id == submission.id)
                          .order_by(SubmissionVersion.number.desc()).limit(1))


def entry_version(session: Session, submission: Submission | None) -> SubmissionVersion | None:
    """The submitted version that is the team's entry, if any."""
    if submission is None or submission.entry_version_id is None:
        return None
    return session.get(SubmissionVersion, submission.entry_version_id)


def files_by_id(session: Session, ids: Iterable[int]) -> dict[int, SubmissionFile]:
    """The file rows with these ids, in one query."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    return {f.id: f for f in session.scalars(select(SubmissionFile)
                                             .where(SubmissionFile.id.in_(wanted)))}


def files_of(session: Session, version: SubmissionVersion | None) -> list[SubmissionFile]:
    """The files of a version, in the order they were added."""
    if version is None:
        return []
    rows = files_by_id(session, version.file_ids)
    return [rows[i] for i in version.file_ids if i in rows]


def guideline_choices(session: Session, challenge: Challenge,
                      latest: SubmissionVersion | None = None) -> list[tuple[str, str]]:
    """(key, title) of the published guideline items, then keys the draft still cites
    that are no longer published (so a save does not silently drop them)."""
    doc = challenge_services.guideline_doc_for(session, challenge)
    choices = [(item.key, item.title) for item in doc.items] if doc is not None else []
    known = {key for key, _ in choices}
    for key in (latest.needs if latest is not None else []):
        if key not in known:
            choices.append((key, f"{key} (no longer in the published guidelines)"))
    return choices


def guideline_titles(session: Session, challenge: Challenge) -> dict[str, str]:
    """Published guideline titles by key (for pages that list addressed needs)."""
    return dict(guideline_choices(session, challenge))


def editor_state(session: Session, challenge: Challenge, team: Team,
                 now: datetime | None = None) -> EditorState:
    """What the team's submission page shows."""
    now = now or clock.now()
    submission = submission_of(session, team)
    latest = latest_version(session, submission)
    return EditorState(
        challenge=challenge, team=team, submission=submission, latest=latest,
        entry=entry_version(session, submission), files=files_of(session, latest),
        deadline=deadline_for(challenge, team), accepting=accepting(challenge, team, now),
        usage=file_store.team_usage(session, submission.id) if submission else 0,
        choices=guideline_choices(session, challenge, latest))


# ---------------------------------------------------------------------------------------
# Content hash
# ---------------------------------------------------------------------------------------


def content_hash(*, title: str, summary: str, needs: Sequence[str], demo_url: str,
                 repo_url: str, file_hashes: Iterable[str]) -> str:
    """SHA-256 of the canonical JSON of an entry's content.

    Canonical: keys sorted, no whitespace, UTF-8 (not ASCII-escaped); `needs` as stored
    (guideline order), `files` the files' SHA-256 digests sorted.
    """
    document = {"title": title, "summary": summary, "needs": list(needs),
                "demo_url": demo_url, "repo_url": repo_url, "files": sorted(file_hashes)}
    canonical = json.dumps(document, sort_keys=True, ensure_ascii=False,
                           separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def version_hash(session: Session, version: SubmissionVersion) -> str:
    """The content hash of any version (the stored one once it was submitted)."""
    if version.content_hash:
        return version.content_hash
    return content_hash(title=version.title, summary=version.summary, needs=version.needs,
                        demo_url=version.demo_url, repo_url=version.repo_url,
                        file_hashes=[f.sha256 for f in files_of(session, version)])


# ---------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def url_problem(url: str) -> str | None:
    """Why a link cannot be accepted (None when it is an http or https URL)."""
    if len(url) > URL_MAX:
        return f"Use at most {URL_MAX} characters."
    if _CONTROL.search(url) or any(ch.isspace() for ch in url):
        return "A link cannot contain spaces or control characters."
    try:
        parts = urlsplit(url)
    except ValueError:
        return "This is not a valid web address."
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return "Use a full web address starting with http:// or https://."
    return None


def _clean_draft(draft: Draft, allowed_needs: Sequence[str]) -> Draft:
    problems: dict[str, list[str]] = {}
    title = " ".join((draft.title or "").split())
    if not title:
        problems.setdefault("title", []).append("Give your project a title.")
    elif len(title) > TITLE_MAX:
        problems.setdefault("title", []).append(f"Use at most {TITLE_MAX} characters.")
    summary = (draft.summary or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if len(summary) > SUMMARY_MAX:
        problems.setdefault("summary", []).append(f"Use at most {SUMMARY_MAX} characters.")
    chosen = [str(k) for k in (draft.needs or ())]
    unknown = sorted(set(chosen) - set(allowed_needs))
    if unknown:
        problems.setdefault("needs", []).append(
            "Choose only items of the published guidelines (unknown: "
            + ", ".join(k[:40] for k in unknown[:5]) + ").")
    needs = [k for k in allowed_needs if k in set(chosen)]  # guideline order, no repeats
    links = {}
    for name in ("demo_url", "repo_url"):
        value = (getattr(draft, name) or "").strip()
        if value:
            problem = url_problem(value)
            if problem:
                problems.setdefault(name, []).append(problem)
        links[name] = value
    if problems:
        raise DraftInvalid(problems)
    return Draft(title=title, summary=summary, needs=tuple(needs), **links)


# ---------------------------------------------------------------------------------------
# Writing versions
# ---------------------------------------------------------------------------------------


def _get_or_create_submission(session: Session, team: Team, now: datetime) -> Submission:
    existing = submission_of(session, team)
    if existing is not None:
        return existing
    try:
        with session.begin_nested():
            submission = Submission(team_id=team.id, challenge_id=team.challenge_id,
                                    gallery_opt_in=False, created_at=now)
            session.add(submission)
    except IntegrityError:  # another member's first save won the race
        existing = submission_of(session, team)
        if existing is None:
            raise
        return existing
    return submission


def _lock(session: Session, submission: Submission) -> None:
    """Serialize writers of one submission (SQLite: BEGIN IMMEDIATE already does)."""
    session.execute(select(Submission.id).where(Submission.id == submission.id)
                    .with_for_update())


def _values(version: SubmissionVersion | None) -> dict[str, Any]:
    if version is None:
        return {"title": "", "summary": "", "needs": [], "demo_url": "", "repo_url": "",
                "files": []}
    return {"title": version.title, "summary": version.summary, "needs": list(version.needs),
            "demo_url": version.demo_url, "repo_url": version.repo_url,
            "files": list(version.file_ids)}


def _append_version(session: Session, submission: Submission, values: dict[str, Any],
                    changes: list[str], *, actor: User, now: datetime) -> SubmissionVersion:
    latest = latest_version(session, submission)
    number = (latest.number if latest is not None else 0) + 1
    version = SubmissionVersion(
        submission_id=submission.id, number=number, title=values["title"],
        summary=values["summary"], needs=list(values["needs"]), demo_url=values["demo_url"],
        repo_url=values["repo_url"], file_ids=list(values["files"]), changes=changes,
        author_id=actor.id, created_at=now)
    session.add(version)
    session.flush()
    if latest is None or {"title", "summary"} & set(changes):
        screen(session, source=SCREEN_SOURCE,
               source_ref=f"submission:{submission.id}/version:{number}",
               text=f"{version.title}\n\n{version.summary}")
    audit.record(session, "submission.saved", actor=actor, target=f"submission:{submission.id}",
                 version=number, changes=changes)
    return version


def save_draft(session: Session, team: Team, draft: Draft, *, actor: User,
               now: datetime | None = None) -> SubmissionVersion | None:
    """Save the draft as a new version; None when nothing changed (no version appended)."""
    now = now or clock.now()
    _require_member(session, actor, team)
    challenge = team.challenge
    _require_open(session, team, submission_of(session, team), now)
    latest = latest_version(session, submission_of(session, team))
    allowed = challenge_services.guideline_keys(session, challenge)
    allowed += [k for k in (latest.needs if latest is not None else []) if k not in allowed]
    clean = _clean_draft(draft, allowed)
    submission = _get_or_create_submission(session, team, now)
    _lock(session, submission)
    latest = latest_version(session, submission)
    before = _values(latest)
    after = {**before, "title": clean.title, "summary": clean.summary,
             "needs": list(clean.needs), "demo_url": clean.demo_url,
             "repo_url": clean.repo_url}
    changes = [name for name in FIELDS if before[name] != after[name]]
    if not changes:
        return None
    return _append_version(session, submission, after, changes, actor=actor, now=now)


def add_file(session: Session, team: Team, stream: BinaryIO, filename: str | None, *,
             actor: User, now: datetime | None = None) -> tuple[SubmissionFile,
                                                               SubmissionVersion]:
    """Store an upload and append a version that includes it."""
    now = now or clock.now()
    _require_member(session, actor, team)
    submission = submission_of(session, team)
    _require_open(session, team, submission, now)
    latest = latest_version(session, submission)
    if submission is None or latest is None:
        raise DomainError("Save your draft with a title first, then add files.")
    stored = file_store.store(session, submission, stream, filename, uploaded_by=actor.id,
                              now=now)
    latest = latest_version(session, submission)  # after the lock in store()
    values = _values(latest)
    values["files"] = [*values["files"], stored.id]
    version = _append_version(session, submission, values, ["files"], actor=actor, now=now)
    audit.record(session, "submission.file_added", actor=actor,
                 target=f"submission:{submission.id}", file_id=stored.id, kind=stored.kind,
                 size=stored.size, sha256=stored.sha256)
    return stored, version


def remove_file(session: Session, team: Team, file_id: int, *, actor: User,
                now: datetime | None = None) -> SubmissionVersion:
    """Append a version without the file (the stored file stays for earlier versions)."""
    now = now or clock.now()
    _require_member(session, actor, team)
    submission = submission_of(session, team)
    _require_open(session, team, submission, now)
    if submission is None:
        raise NotFound("That file is not in your draft.")
    _lock(session, submission)
    latest = latest_version(session, submission)
    if latest is None or file_id not in latest.file_ids:
        raise NotFound("That file is not in your draft.")
    values = _values(latest)
    values["files"] = [i for i in values["files"] if i != file_id]
    version = _append_version(session, submission, values, ["files"], actor=actor, now=now)
    audit.record(session, "submission.file_removed", actor=actor,
                 target=f"submission:{submission.id}", file_id=file_id)
    return version


def _members(session: Session, team: Team) -> list[User]:
    return list(session.scalars(select(User).join(Membership, Membership.user_id == User.id)
                                .where(Membership.team_id == team.id)
                                .order_by(Membership.id)))


def _receipt_body(challenge: Challenge, team: Team, version: SubmissionVersion,
                  version_files: list[SubmissionFile], deadline: datetime) -> str:
    lines = [
        f"Your team “{team.name}” submitted its entry to “{challenge.title}”.",
        "",
        f"Version: {version.number}",
        f"Title: {version.title}",
        f"Submitted at: {iso_utc(version.submitted_at)} (UTC, server time)",
        f"Content hash (SHA-256): {version.content_hash}",
    ]
    if version_files:
        lines += ["", "Files:"]
        lines += [f"- {f.original_name} ({f.size} bytes, SHA-256 {f.sha256})"
                  for f in version_files]
    lines += ["", "Keep this message: the content hash identifies exactly what you submitted.",
              "If you change the project, submit it again before the deadline "
              f"({_utc(deadline)}); until then this version stays your entry."]
    return "\n".join(lines)


def submit(session: Session, team: Team, *, actor: User, now: datetime | None = None
           ) -> Receipt:
    """Freeze the latest version as the team's entry and send every member a receipt."""
    now = now or clock.now()
    _require_member(session, actor, team)
    challenge = team.challenge
    submission = submission_of(session, team)
    if submission is not None:
        _lock(session, submission)
        session.refresh(submission)
    latest = latest_version(session, submission)
    if submission is not None and latest is not None and latest.submitted_at is not None:
        # A repeated submit of the entry (double click, retried POST): the first receipt.
        submission.entry_version_id = latest.id
        return Receipt(latest.number, latest.content_hash or "", latest.submitted_at,
                       duplicate=True)
    _require_open(session, team, submission, now)
    if submission is None or latest is None:
        raise DomainError("Save your draft first: there is nothing to submit yet.")
    version_files = files_of(session, latest)
    latest.content_hash = content_hash(
        title=latest.title, summary=latest.summary, needs=latest.needs,
        demo_url=latest.demo_url, repo_url=latest.repo_url,
        file_hashes=[f.sha256 for f in version_files])
    latest.submitted_at = now
    submission.entry_version_id = latest.id
    session.flush()
    body = _receipt_body(challenge, team, latest, version_files, deadline_for(challenge, team))
    subject = f"Receipt: “{challenge.title}” entry, version {latest.number}"[:200]
    for member in _members(session, team):
        outbox.send(session, member.email, subject, body, kind="receipt")
    audit.record(session, "submission.submitted", actor=actor,
                 target=f"submission:{submission.id}", version=latest.number,
                 content_hash=latest.content_hash)
    return Receipt(latest.number, latest.content_hash, now)


def set_gallery_opt_in(session: Session, team: Team, opt_in: bool, *, actor: User,
                       now: datetime | None = None) -> Submission:
    """Whether the team's entry may appear in the public gallery (any time: it is consent,
    not content, so it can be withdrawn after the deadline too)."""
    _require_member(session, actor, team)
    submission = _get_or_create_submission(session, team, now or clock.now())
    if submission.gallery_opt_in != bool(opt_in):
        submission.gallery_opt_in = bool(opt_in)
        session.flush()
        audit.record(session, "submission.gallery_opt_in", actor=actor,
                     target=f"submission:{submission.id}", opt_in=bool(opt_in))
    return submission


# ---------------------------------------------------------------------------------------
# Who may see what
# ---------------------------------------------------------------------------------------


def _team_of_submission(session: Session, submission: Submission) -> Team:
    return session.get(Team, submission.team_id)


def _is_member(session: Session, user: User | None, submission: Submission) -> bool:
    return teams.is_member(session, user, _team_of_submission(session, submission))


def _authenticated(user: User | None) -> bool:
    return user is not None and getattr(user, "is_authenticated", False) and (
        getattr(user, "id", None) is not None)


def can_view_drafts(session: Session, user: User | None, submission: Submission) -> bool:
    """Team members (to edit) and organizers (read-only) see every version."""
    if not _authenticated(user):
        return False
    return user.has_role("organizer") or _is_member(session, user, submission)


def _submitted_file_ids(session: Session, submission: Submission) -> set[int]:
    rows = session.scalars(select(SubmissionVersion.file_ids).where(
        SubmissionVersion.submission_id == submission.id,
        SubmissionVersion.submitted_at.is_not(None)))
    return {i for ids in rows for i in (ids or [])}


def register_reviewer_rule(app, rule) -> None:
    """Let the judging package say which judges may read an entry, without `challenges`
    importing it: rule(session, user, submission) -> bool (assigned and not conflicted)."""
    app.extensions.setdefault("submission_reviewer_rules", []).append(rule)


def _is_reviewer(session: Session, user: User, submission: Submission) -> bool:
    rules = current_app.extensions.get("submission_reviewer_rules", [])
    return user.has_role("judge") and any(rule(session, user, submission) for rule in rules)


def can_download(session: Session, user: User | None, submission: Submission,
                 file: SubmissionFile | None = None) -> bool:
    """Who may download a submission's files: its team's members, organizers, and the
    judges the judging package recognises as its reviewers (assigned, not conflicted; the
    judge role alone opens nothing). A judge sees entries only, never drafts: given `file`,
    a judge may download it only when it belongs to a submitted version.
    """
    if not _authenticated(user):
        return False
    if can_view_drafts(session, user, submission):
        return True
    if _is_reviewer(session, user, submission):
        return file is None or file.id in _submitted_file_ids(session, submission)
    return False


def visible_versions(session: Session, user: User | None, submission: Submission
                     ) -> list[SubmissionVersion]:
    """The versions `user` may see, newest first (NotFound when none).

    Members and organizers: all. Judges assigned to it: submitted versions only. Others:
    none.
    """
    stmt = (select(SubmissionVersion).where(SubmissionVersion.submission_id == submission.id)
            .order_by(SubmissionVersion.number.desc()))
    if not can_view_drafts(session, user, submission):
        blind = session.get(Challenge, submission.challenge_id).blind_judging
        if blind or not can_download(session, user, submission):  # a judge: entries only
            # In blind judging this page would name the team: judges use the scoring page.
            raise NotFound("There is no such submission, or you may not see it.")
        stmt = stmt.where(SubmissionVersion.submitted_at.is_not(None))
    versions = list(session.scalars(stmt))
    if not versions:
        raise NotFound("There is no such submission, or you may not see it.")
    return versions


def file_for_download(session: Session, user: User | None, file_id: int) -> SubmissionFile:
    """The file row if `user` may download it, else NotFound (nothing leaks)."""
    stored = session.get(SubmissionFile, file_id)
    if stored is None:
        raise NotFound("That file is not available.")
    submission = session.get(Submission, stored.submission_id)
    if submission is None or not can_download(session, user, submission, stored):
        raise NotFound("That file is not available.")
    return stored


def record_download(session: Session, user: User, stored: SubmissionFile, *,
                    ip: str | None = None) -> None:
    """Audit that `user` fetched a stored file: like every export, each copy of an
    entry's material that leaves the platform has its row (who, which file, when)."""
    audit.record(session, "submission.file_downloaded", actor=user,
                 target=f"submission:{stored.submission_id}", ip=ip, file_id=stored.id)


def people_by_id(session: Session, ids: Iterable[int | None]) -> dict[int, User]:
    """Users by id, in one query (authors of versions)."""
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    return {u.id: u for u in session.scalars(select(User).where(User.id.in_(wanted)))}
