"""Challenge use cases: finding, phases and their rules, create/update, organizer figures.

Services take a Session, raise domain errors and only flush; the view or CLI commits.

Phase rules (server time decides, `challenge.clock.now()`). Every phase starts at its
time and runs until the next one: half-open intervals [start, end), so at exactly a
deadline the deadline has passed.

- registration is open from `registration_opens` until `submission_deadline`;
- team changes are allowed until `submission_deadline` (one microsecond before it is in
  time; at the deadline itself it is too late);
- a team may save and submit until `submission_deadline`, or until its own
  `deadline_extension` when an organizer granted a later one.

Other packages (teams, submissions, judging) call `registration_open`,
`team_changes_allowed`, `submissions_open` and `effective_deadline` rather than comparing
times themselves, so every page and command agrees on the boundaries.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import and_, case, exists, func, select
from sqlalchemy.orm import Session, aliased

from challenge import audit, clock
from challenge.accounts.models import User
from challenge.challenges.models import (
    PHASE_LABELS,
    PHASES,
    Challenge,
    Membership,
    Submission,
    SubmissionVersion,
    Team,
)
from challenge.csvsafe import safe_row
from challenge.errors import NotFound, ValidationFailed
from surveys import guidelines
from surveys.definition import SLUG_RE  # the same rule as survey slugs
from surveys.models import GuidelineDocument, Survey

TEAM_SIZE_LIMITS = (1, 20)
TITLE_MAX = 200
TEXT_MAX = 50_000
TEXT_FIELDS = ("description", "rules", "ip_terms", "sponsor_disclosure")

# What is going on after each phase time has been reached ("announced" before the first).
PERIOD_LABELS = {
    "announced": "Announced: registration is not open yet",
    "registration_opens": "Registration and submissions open",
    "submission_deadline": "Judging",
    "judging_closes": "Results being prepared",
    "results_at": "Results announced",
}

SUBMISSION_STATUS_LABELS = {
    "none": "No submission",
    "draft": "Draft, never submitted",
    "submitted": "Submitted",
    "changed": "Changed since submitted",
}


# --- finding --------------------------------------------------------------------------------

def get_challenge(session: Session, slug: str, *, for_update: bool = False) -> Challenge:
    """The challenge with this slug, published or not (callers decide who may see it)."""
    stmt = select(Challenge).where(Challenge.slug == slug)
    if for_update:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    challenge = session.scalar(stmt)
    if challenge is None:
        raise NotFound("There is no challenge at this address.")
    return challenge


def get_team(session: Session, challenge: Challenge, team_id: int) -> Team:
    """A team of this challenge, by id."""
    team = session.get(Team, team_id)
    if team is None or team.challenge_id != challenge.id:
        raise NotFound("This challenge has no such team.")
    return team


def list_public(session: Session, *, limit: int, offset: int) -> tuple[list[Challenge], int]:
    """A page of published challenges, newest registration first, and their total."""
    rows = session.scalars(
        select(Challenge).where(Challenge.published.is_(True))
        .order_by(Challenge.registration_opens.desc(), Challenge.id.desc())
        .limit(limit).offset(offset))
    total = session.scalar(select(func.count(Challenge.id))
                           .where(Challenge.published.is_(True))) or 0
    return list(rows), total


@dataclass(frozen=True)
class ChallengeRow:
    """One line of the organizer's challenge list."""

    challenge: Challenge
    teams: int
    survey_slug: str | None


def list_for_organizers(session: Session, *, limit: int, offset: int
                        ) -> tuple[list[ChallengeRow], int]:
    """A page of every challenge (published or not) with its team count, in one query."""
    teams = (select(Team.challenge_id.label("challenge_id"), func.count(Team.id).label("n"))
             .group_by(Team.challenge_id).subquery())
    stmt = (select(Challenge, func.coalesce(teams.c.n, 0), Survey.slug)
            .outerjoin(teams, teams.c.challenge_id == Challenge.id)
            .outerjoin(Survey, Survey.id == Challenge.survey_id)
            .order_by(Challenge.registration_opens.desc(), Challenge.id.desc())
            .limit(limit).offset(offset))
    rows = [ChallengeRow(c, int(n), s) for c, n, s in session.execute(stmt)]
    return rows, session.scalar(select(func.count(Challenge.id))) or 0


# --- phases ---------------------------------------------------------------------------------

class Phase(NamedTuple):
    """A phase by its CONTRACTS.md name, a label for people, and when it starts (UTC)."""

    name: str
    label: str
    at: datetime | None


def current_phase(challenge: Challenge, now: datetime) -> Phase:
    """What is going on now: the period begun by the last phase time reached (at <= now).

    Before `registration_opens` it is ("announced", ..., None).
    """
    current = Phase("announced", PERIOD_LABELS["announced"], None)
    for name, at in challenge.phase_times().items():
        if now < at:
            break
        current = Phase(name, PERIOD_LABELS[name], at)
    return current


def next_phase(challenge: Challenge, now: datetime) -> Phase | None:
    """The next phase time not reached yet (for the countdown), or None after results."""
    for name, at in challenge.phase_times().items():
        if now < at:
            return Phase(name, PHASE_LABELS[name], at)
    return None


def registration_open(challenge: Challenge, now: datetime) -> bool:
    """Teams can be created and joined: registration_opens <= now < submission_deadline."""
    return challenge.registration_opens <= now < challenge.submission_deadline


def team_changes_allowed(challenge: Challenge, now: datetime) -> bool:
    """Invitations, joining, leaving, removing, captaincy: now < submission_deadline."""
    return now < challenge.submission_deadline


def effective_deadline(challenge: Challenge, team: Team | None) -> datetime:
    """The team's deadline: the challenge's, or its extension when that is later."""
    extension = team.deadline_extension if team is not None else None
    if extension is not None and extension > challenge.submission_deadline:
        return extension
    return challenge.submission_deadline


def submissions_open(challenge: Challenge, team: Team | None, now: datetime) -> bool:
    """The team may save and submit: now < its effective deadline."""
    return now < effective_deadline(challenge, team)


def countdown(now: datetime, at: datetime) -> str:
    """'in 3 days 4 hours', 'in 5 hours 2 minutes', 'in 12 minutes' (rounded down)."""
    seconds = int((at - now).total_seconds())
    if seconds <= 0:
        return "now"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60

    def unit(n: int, word: str) -> str:
        return f"{n} {word}{'' if n == 1 else 's'}"

    if days:
        parts = [unit(days, "day")] + ([unit(hours, "hour")] if hours else [])
    elif hours:
        parts = [unit(hours, "hour")] + ([unit(minutes, "minute")] if minutes else [])
    elif minutes:
        parts = [unit(minutes, "minute")]
    else:
        return "in less than a minute"
    return "in " + " ".join(parts)


# --- guidelines -----------------------------------------------------------------------------

def linked_survey(session: Session, challenge: Challenge) -> Survey | None:
    """The survey whose guidelines the challenge builds on, if any."""
    return session.get(Survey, challenge.survey_id) if challenge.survey_id else None


def guideline_doc_for(session: Session, challenge: Challenge) -> GuidelineDocument | None:
    """The published guideline document of the linked survey, or None."""
    survey = linked_survey(session, challenge)
    return guidelines.published(session, survey) if survey is not None else None


def guideline_keys(session: Session, challenge: Challenge) -> list[str]:
    """Keys of the published guideline items entrants and rubric criteria can cite."""
    doc = guideline_doc_for(session, challenge)
    return [item.key for item in doc.items] if doc is not None else []


def rubric_guideline_keys(challenge: Challenge) -> set[str]:
    """Every guideline key some rubric criterion cites."""
    return {key for c in (challenge.rubric or {}).get("criteria", [])
            for key in c.get("guidelines", [])}


def rubric_criteria(challenge: Challenge) -> list[dict[str, Any]]:
    """The rubric's criteria for display, each with `level_list`: (score, text) in order."""
    criteria = []
    for criterion in (challenge.rubric or {}).get("criteria", []):
        levels = sorted((int(k), v) for k, v in (criterion.get("levels") or {}).items())
        criteria.append({**criterion, "level_list": levels})
    return criteria


def survey_choices(session: Session) -> list[tuple[str, str]]:
    """(slug, label) of every survey, saying which have published guidelines (one query)."""
    rows = session.execute(
        select(Survey.slug, Survey.title, GuidelineDocument.version)
        .outerjoin(GuidelineDocument, and_(GuidelineDocument.survey_id == Survey.id,
                                           GuidelineDocument.status == "published"))
        .order_by(Survey.title, Survey.slug))
    return [(slug, f"{title} ({slug}): "
                   + (f"guidelines version {version} published" if version
                      else "no published guidelines yet"))
            for slug, title, version in rows]


# --- rules shared by the form and the bundle ------------------------------------------------

def slug_problem(slug: Any) -> str | None:
    """Why `slug` cannot be a challenge's address, or None."""
    if not isinstance(slug, str) or not SLUG_RE.match(slug):
        return (f"must be 2-80 lower-case letters, digits or hyphens, starting with a letter "
                f"or digit (got {slug!r})")
    return None


def team_size_problems(low: Any, high: Any) -> dict[str, str]:
    """Problems with team size limits, by "min" / "max"."""
    lo_limit, hi_limit = TEAM_SIZE_LIMITS
    problems = {}
    for name, value in (("min", low), ("max", high)):
        if isinstance(value, bool) or not isinstance(value, int) or not (
                lo_limit <= value <= hi_limit):
            problems[name] = f"must be a whole number from {lo_limit} to {hi_limit}"
    if not problems and low > high:
        problems["max"] = f"must not be smaller than the minimum ({low})"
    return problems


def phase_order_problems(times: dict[str, datetime | None]) -> dict[str, str]:
    """Each phase must come strictly after the one before it (missing ones are skipped)."""
    problems = {}
    for earlier, later in zip(PHASES, PHASES[1:], strict=False):
        if times.get(earlier) and times.get(later) and times[later] <= times[earlier]:
            problems[later] = (f"must be after {PHASE_LABELS[earlier].lower()} "
                               f"({times[earlier].strftime('%Y-%m-%d %H:%M UTC')})")
    return problems


@dataclass
class ChallengeData:
    """What the organizer's form (or a caller) sets on a challenge; times are aware."""

    title: str
    slug: str
    description: str = ""
    rules: str = ""
    ip_terms: str = ""
    sponsor_disclosure: str = ""
    team_min: int = 1
    team_max: int = 5
    registration_opens: datetime | None = None
    submission_deadline: datetime | None = None
    judging_closes: datetime | None = None
    results_at: datetime | None = None
    survey: str | None = None  # the linked survey's slug
    published: bool = False
    gallery_open: bool = False
    blind_judging: bool = False

    @classmethod
    def of(cls, session: Session, challenge: Challenge) -> ChallengeData:
        survey = linked_survey(session, challenge)
        return cls(**{name: getattr(challenge, name) for name in (
            "title", "slug", *TEXT_FIELDS, "team_min", "team_max", *PHASES, "published",
            "gallery_open", "blind_judging")}, survey=survey.slug if survey else None)


class ChallengeInvalid(ValidationFailed):
    """Refused challenge settings; `fields` maps ChallengeData names to messages."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        super().__init__([f"{name}: {m}" for name, ms in fields.items() for m in ms])
        self.fields = fields


def _check(session: Session, data: ChallengeData, challenge: Challenge | None
           ) -> tuple[dict[str, list[str]], Survey | None]:
    fields: dict[str, list[str]] = {}

    def add(name: str, message: str) -> None:
        fields.setdefault(name, []).append(message)

    if not data.title.strip():
        add("title", "Give the challenge a title.")
    elif len(data.title) > TITLE_MAX:
        add("title", f"Keep it under {TITLE_MAX} characters.")
    problem = slug_problem(data.slug)
    if problem:
        add("slug", f"The address {problem}.")
    else:
        taken = session.scalar(select(Challenge.id).where(Challenge.slug == data.slug))
        if taken is not None and (challenge is None or taken != challenge.id):
            add("slug", "Another challenge already uses this address.")
        elif challenge is not None and data.slug != challenge.slug and session.scalar(
                select(exists().where(Team.challenge_id == challenge.id))):
            add("slug", "Teams have already registered, so the address stays as it is: the "
                        "links they were given must keep working.")
    for name in TEXT_FIELDS:
        if len(getattr(data, name) or "") > TEXT_MAX:
            add(name, f"Keep it under {TEXT_MAX} characters.")
    for name, message in team_size_problems(data.team_min, data.team_max).items():
        add(f"team_{name}", message[0].upper() + message[1:] + ".")
    if challenge is not None and not fields.get("team_max"):
        biggest = session.execute(
            select(Team.name, func.count(Membership.id).label("n"))
            .join(Membership, Membership.team_id == Team.id)
            .where(Team.challenge_id == challenge.id).group_by(Team.id, Team.name)
            .order_by(func.count(Membership.id).desc()).limit(1)).first()
        if biggest is not None and biggest.n > data.team_max:
            add("team_max", f"Team “{biggest.name}” already has {biggest.n} members; the "
                            f"maximum cannot be lower than that.")
    times = {name: getattr(data, name) for name in PHASES}
    for name, value in times.items():
        if value is None:
            add(name, "Enter a date and time.")
        elif value.tzinfo is None:
            add(name, "Give the time with its time zone.")
    for name, message in phase_order_problems(times).items():
        add(name, message[0].upper() + message[1:] + ".")
    survey = None
    if data.survey:
        survey = session.scalar(select(Survey).where(Survey.slug == data.survey))
        if survey is None:
            add("survey", f"There is no survey {data.survey!r}.")
    if challenge is not None and "survey" not in fields:
        cited = rubric_guideline_keys(challenge)
        available = set(guidelines.published_keys(session, survey)) if survey else set()
        missing = sorted(cited - available)
        if missing:
            add("survey", "The rubric cites guideline items that this survey's published "
                          f"guidelines do not have: {', '.join(missing)}.")
    return fields, survey


def _assign(challenge: Challenge, data: ChallengeData, survey: Survey | None) -> list[str]:
    values = {name: getattr(data, name) for name in (
        "slug", *PHASES, "team_min", "team_max", "published", "gallery_open", "blind_judging")}
    values["title"] = data.title.strip()
    values.update({name: getattr(data, name) or "" for name in TEXT_FIELDS})
    values["survey_id"] = survey.id if survey is not None else None
    changed = [name for name, value in values.items() if getattr(challenge, name) != value]
    for name in changed:
        setattr(challenge, name, values[name])
    return changed


# Publication switches: each flip is its own audit event besides "challenge.updated".
VISIBILITY_EVENTS = {("published", True): "challenge.published",
                     ("published", False): "challenge.unpublished",
                     ("gallery_open", True): "challenge.gallery_opened",
                     ("gallery_open", False): "challenge.gallery_closed"}


def audit_visibility(session: Session, challenge: Challenge, before: dict[str, bool], *,
                     actor) -> None:
    """Record each publication switch (`published`, `gallery_open`) that `before` lacks."""
    for name in ("published", "gallery_open"):
        now_on = bool(getattr(challenge, name))
        if name in before and bool(before[name]) != now_on:
            audit.record(session, VISIBILITY_EVENTS[(name, now_on)], actor=actor,
                         target=f"challenge:{challenge.slug}")


def create_challenge(session: Session, data: ChallengeData, *, actor) -> Challenge:
    """A new challenge from the organizer's form; ChallengeInvalid lists every problem."""
    fields, survey = _check(session, data, None)
    if fields:
        raise ChallengeInvalid(fields)
    now = clock.now()
    challenge = Challenge(created_at=now, updated_at=now, rubric={"criteria": []},
                          panels={"expert": 1.0}, judges=[], normalization="zscore",
                          reviews_per_entry=3)
    _assign(challenge, data, survey)
    session.add(challenge)
    session.flush()
    audit.record(session, "challenge.created", actor=actor, target=f"challenge:{challenge.slug}",
                 published=challenge.published, gallery_open=challenge.gallery_open)
    return challenge


def update_challenge(session: Session, challenge: Challenge, data: ChallengeData, *,
                     actor) -> bool:
    """Change a challenge's settings; returns whether anything changed (audited if so)."""
    fields, survey = _check(session, data, challenge)
    if fields:
        raise ChallengeInvalid(fields)
    before = {"published": challenge.published, "gallery_open": challenge.gallery_open}
    changed = _assign(challenge, data, survey)
    if not changed:
        return False
    challenge.updated_at = clock.now()
    session.flush()
    audit.record(session, "challenge.updated", actor=actor, target=f"challenge:{challenge.slug}",
                 fields=sorted(changed))
    audit_visibility(session, challenge, before, actor=actor)
    return True


# --- extensions -----------------------------------------------------------------------------

def grant_extension(session: Session, team: Team, until: datetime | None, *, actor) -> Team:
    """Give one team a later deadline (or remove it with None); audited.

    The extension must fall after the challenge's deadline and no later than the end of
    judging, so the team's entry can still be judged.
    """
    challenge = team.challenge
    if until is not None:
        if until.tzinfo is None:
            raise ValidationFailed("Give the extension's time with its time zone.")
        if until <= challenge.submission_deadline:
            raise ValidationFailed("An extension must end after the submission deadline ("
                                   f"{challenge.submission_deadline:%Y-%m-%d %H:%M} UTC).")
        if until > challenge.judging_closes:
            raise ValidationFailed("An extension cannot run past the end of judging ("
                                   f"{challenge.judging_closes:%Y-%m-%d %H:%M} UTC).")
    before = team.deadline_extension
    team.deadline_extension = until
    session.flush()
    if until is None:
        audit.record(session, "team.extension_removed", actor=actor, target=f"team:{team.id}",
                     challenge=challenge.slug, team_name=team.name,
                     before=_iso(before))
    else:
        audit.record(session, "team.extension_granted", actor=actor, target=f"team:{team.id}",
                     challenge=challenge.slug, team_name=team.name, until=_iso(until),
                     before=_iso(before))
    return team


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


# --- organizer figures ----------------------------------------------------------------------

@dataclass
class TeamRow:
    """A team as the organizer's overview shows it."""

    id: int
    name: str
    deadline_extension: datetime | None
    member_count: int
    status: str  # none | draft | submitted | changed
    title: str | None  # the entry's title, else the latest draft's
    submitted_at: datetime | None
    content_hash: str | None
    versions: int
    last_saved_at: datetime | None
    members: list[tuple[str, str, str]] = field(default_factory=list)  # email, name, role

    @property
    def status_label(self) -> str:
        return SUBMISSION_STATUS_LABELS[self.status]


def submission_status(versions: int, entry_number: int | None) -> str:
    """none / draft / submitted / changed (since submitted) from the version numbers."""
    if not versions:
        return "none"
    if entry_number is None:
        return "draft"
    return "submitted" if entry_number >= versions else "changed"


def _latest_numbers(challenge: Challenge, team_ids=None):
    """Subquery: each submission's highest version number (of these teams, when given)."""
    stmt = (select(SubmissionVersion.submission_id.label("submission_id"),
                   func.max(SubmissionVersion.number).label("number"))
            .join(Submission, Submission.id == SubmissionVersion.submission_id)
            .where(Submission.challenge_id == challenge.id))
    if team_ids is not None:
        stmt = stmt.where(Submission.team_id.in_(team_ids))
    return stmt.group_by(SubmissionVersion.submission_id).subquery()


def team_rows(session: Session, challenge: Challenge, *, limit: int | None = None,
              offset: int = 0) -> list[TeamRow]:
    """The teams by name (all, or one page of `limit`) with members and submission status:
    a fixed number of queries, whatever the count; a page only reads its own teams."""
    team_ids = None
    if limit is not None:
        team_ids = list(session.scalars(
            select(Team.id).where(Team.challenge_id == challenge.id)
            .order_by(Team.name, Team.id).limit(limit).offset(offset)))
        if not team_ids:
            return []
    member_filter = [Membership.challenge_id == challenge.id]
    if team_ids is not None:
        member_filter.append(Membership.team_id.in_(team_ids))
    members = (select(Membership.team_id.label("team_id"), func.count(Membership.id).label("n"))
               .where(*member_filter).group_by(Membership.team_id).subquery())
    latest = _latest_numbers(challenge, team_ids)
    entry = aliased(SubmissionVersion)
    last = aliased(SubmissionVersion)
    stmt = (
        select(Team.id, Team.name, Team.deadline_extension, func.coalesce(members.c.n, 0),
               func.coalesce(latest.c.number, 0), entry.number, entry.title,
               entry.submitted_at, entry.content_hash, last.title, last.created_at)
        .outerjoin(members, members.c.team_id == Team.id)
        .outerjoin(Submission, Submission.team_id == Team.id)
        .outerjoin(entry, entry.id == Submission.entry_version_id)
        .outerjoin(latest, latest.c.submission_id == Submission.id)
        .outerjoin(last, and_(last.submission_id == Submission.id,
                              last.number == latest.c.number))
        .where(Team.challenge_id == challenge.id)
        .order_by(Team.name, Team.id)
    )
    if team_ids is not None:
        stmt = stmt.where(Team.id.in_(team_ids))
    rows = {}
    for (team_id, name, extension, n, versions, entry_number, entry_title, submitted_at,
         content_hash, last_title, last_saved) in session.execute(stmt):
        rows[team_id] = TeamRow(
            id=team_id, name=name, deadline_extension=extension, member_count=int(n),
            status=submission_status(int(versions), entry_number),
            title=entry_title if entry_number is not None else last_title,
            submitted_at=submitted_at, content_hash=content_hash, versions=int(versions),
            last_saved_at=last_saved)
    people = session.execute(
        select(Membership.team_id, User.email, User.name, Membership.role)
        .join(User, User.id == Membership.user_id)
        .where(*member_filter)
        .order_by(Membership.team_id, case((Membership.role == "captain", 0), else_=1),
                  Membership.id))
    for team_id, email, person, role in people:
        if team_id in rows:
            rows[team_id].members.append((email, person, role))
    return list(rows.values())


def status_counts(rows: list[TeamRow]) -> dict[str, int]:
    """How many teams are in each submission status (in label order)."""
    return {status: sum(1 for r in rows if r.status == status)
            for status in SUBMISSION_STATUS_LABELS}


def team_status_counts(session: Session, challenge: Challenge) -> dict[str, int]:
    """How many teams of the challenge are in each submission status (in label order),
    counted in SQL: one query, whatever the number of teams."""
    latest = _latest_numbers(challenge)
    entry = aliased(SubmissionVersion)
    versions = func.coalesce(latest.c.number, 0)
    counts = dict.fromkeys(SUBMISSION_STATUS_LABELS, 0)
    for n_versions, entry_number, n in session.execute(
            select(versions, entry.number, func.count(Team.id))
            .outerjoin(Submission, Submission.team_id == Team.id)
            .outerjoin(entry, entry.id == Submission.entry_version_id)
            .outerjoin(latest, latest.c.submission_id == Submission.id)
            .where(Team.challenge_id == challenge.id)
            .group_by(versions, entry.number)):
        counts[submission_status(int(n_versions), entry_number)] += int(n)
    return counts


def team_position(session: Session, challenge: Challenge, team: Team) -> int:
    """How many teams come before `team` in the overview's order (name, then id)."""
    return session.scalar(select(func.count(Team.id)).where(
        Team.challenge_id == challenge.id,
        (Team.name < team.name) | and_(Team.name == team.name, Team.id < team.id))) or 0


@dataclass(frozen=True)
class HourBucket:
    """Activity in one hour before the deadline: [start, end) in UTC."""

    hours_before: int  # 1 = the last hour before the deadline
    start: datetime
    end: datetime
    saved: int
    submitted: int


@dataclass(frozen=True)
class LastMinute:
    """Versions saved and submitted per hour over the last day before the deadline."""

    deadline: datetime
    hours: list[HourBucket]
    saved_after: int  # saved from the deadline on (teams with an extension)
    submitted_after: int

    @property
    def saved(self) -> int:
        return sum(h.saved for h in self.hours)

    @property
    def submitted(self) -> int:
        return sum(h.submitted for h in self.hours)


LAST_MINUTE_HOURS = 24


def _hour_index(column, deadline: datetime):
    """SQL: 0 from the deadline on, i for [deadline - i h, deadline - (i - 1) h), else NULL."""
    whens = [(column >= deadline, 0)]
    whens += [(column >= deadline - timedelta(hours=i), i)
              for i in range(1, LAST_MINUTE_HOURS + 1)]
    return case(*whens, else_=None)


def last_minute(session: Session, challenge: Challenge) -> LastMinute:
    """Saves and submissions in each of the 24 hours before the deadline, counted in SQL.

    Portable across engines: the hour is a CASE over bound times, grouped by the database.
    """
    deadline = challenge.submission_deadline
    counts: dict[str, dict[int, int]] = {}
    for label, column in (("saved", SubmissionVersion.created_at),
                          ("submitted", SubmissionVersion.submitted_at)):
        bucket = _hour_index(column, deadline).label("bucket")
        inner = (select(bucket)
                 .join(Submission, Submission.id == SubmissionVersion.submission_id)
                 .where(Submission.challenge_id == challenge.id,
                        column >= deadline - timedelta(hours=LAST_MINUTE_HOURS))
                 .subquery())
        stmt = select(inner.c.bucket, func.count()).group_by(inner.c.bucket)
        counts[label] = {int(b): int(n) for b, n in session.execute(stmt) if b is not None}
    hours = [HourBucket(i, deadline - timedelta(hours=i), deadline - timedelta(hours=i - 1),
                        counts["saved"].get(i, 0), counts["submitted"].get(i, 0))
             for i in range(LAST_MINUTE_HOURS, 0, -1)]
    return LastMinute(deadline, hours, counts["saved"].get(0, 0),
                      counts["submitted"].get(0, 0))


CSV_HEADER = ("team", "members", "submission title", "status", "submitted_at", "content_hash")


def teams_csv(session: Session, challenge: Challenge) -> str:
    """The teams as CSV (formula-safe): one row per team, members joined by '; '."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for row in team_rows(session, challenge):
        writer.writerow(safe_row([
            row.name, "; ".join(email for email, _, _ in row.members), row.title or "",
            row.status, _iso(row.submitted_at) or "", row.content_hash or ""]))
    return out.getvalue()
