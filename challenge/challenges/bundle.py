"""Challenge bundles as JSON (CONTRACTS.md "Challenges"): validate, apply, export.

`validate` returns every problem, each naming its JSON path (``teams[1].members[0]: ...``).
`apply` creates or updates a challenge with its judging set-up, accounts, teams,
memberships and submissions in the given Session (flush only; the caller commits once).
`export` returns the same document, so a challenge can be re-run from its export.

Re-importing a file changes nothing: values are only assigned when they differ, accounts
and invitations are created only for people not known yet, and a submission gets a new
version only when the file's content differs from its latest version.

Decisions (also in the organizer's documentation):

- Teams are matched by name (ignoring case). A team the file does not name is left as it
  is (an import never deletes a team); a named team's members become exactly the file's,
  the first one captain.
- An imported submission is an entry: its version is submitted (stamped with the time and
  the content hash of `submissions.content_hash`) and becomes the team's entry, as imported
  responses are submitted ones for surveys. Its title and summary are screened for adverse
  events like a saved draft.
- Accounts named as judges or members are created without a password and invited through
  the outbox; existing accounts get the judge or entrant role if they lack it.
"""

from __future__ import annotations

import copy
import math
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from challenge import audit, clock, outbox
from challenge.accounts.models import User, UserRole
from challenge.accounts.services import (
    create_user,
    find_user,
    make_password_token,
    normalize_email,
)
from challenge.challenges import services, submissions
from challenge.challenges.models import (
    PHASES,
    Challenge,
    Membership,
    Submission,
    SubmissionFile,
    SubmissionVersion,
    Team,
)
from challenge.errors import ValidationFailed
from challenge.links import external_url
from challenge.safety.services import screen
from surveys import guidelines
from surveys.models import Survey

TOP_KEYS = (
    "slug", "title", "description", "rules", "ip_terms", "sponsor_disclosure", "survey",
    "team_size", "phases", "rubric", "normalization", "reviews_per_entry", "panels",
    "judges", "teams", "published", "gallery_open", "blind_judging",
)
FLAGS = ("published", "gallery_open", "blind_judging")
CRITERION_KEYS = ("key", "name", "description", "weight", "min", "max", "guidelines",
                  "levels")
JUDGE_KEYS = ("email", "name", "panel")
TEAM_KEYS = ("name", "members", "submission")
SUBMISSION_KEYS = ("title", "summary", "needs", "demo_url", "repo_url")
CONTENT_FIELDS = ("title", "summary", "needs", "demo_url", "repo_url")
NORMALIZATIONS = ("zscore", "none")
KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
PANEL_RE = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
DEFAULT_PANEL = "expert"
TEAM_NAME_MAX = 120
REVIEWS_LIMITS = (1, 20)


# --- validation -----------------------------------------------------------------------------

def _is_number(value: Any) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(doc: dict, name: str, path: str, problems: list[str], *, required: bool = False,
          limit: int = services.TEXT_MAX) -> None:
    value = doc.get(name)
    if name not in doc and not required:
        return  # absent; an explicit null is not text (the code below reads it as text)
    if not isinstance(value, str) or (required and not value.strip()):
        problems.append(f"{path}: is required (text)" if required else f"{path}: must be text")
    elif len(value) > limit:
        problems.append(f"{path}: keep it under {limit} characters")


def _unknown(obj: dict, allowed: tuple[str, ...], prefix: str, problems: list[str]) -> None:
    for key in sorted(set(obj) - set(allowed)):
        problems.append(f"{prefix}{key}: unknown key")


def parse_time(value: Any, path: str, problems: list[str]) -> datetime | None:
    """An ISO 8601 date-time with a time zone, as UTC; a problem otherwise."""
    if not isinstance(value, str):
        problems.append(f"{path}: must be an ISO 8601 date-time with a time zone, such as "
                        f"2027-01-10T00:00:00Z")
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        problems.append(f"{path}: {value!r} is not an ISO 8601 date-time")
        return None
    if parsed.tzinfo is None:
        problems.append(f"{path}: give a time zone (for example a trailing Z for UTC)")
        return None
    return parsed.astimezone(UTC)


def email_problem(value: Any) -> str | None:
    """Why `value` is not a usable e-mail address, or None."""
    if not isinstance(value, str):
        return f"must be an e-mail address (got {value!r})"
    try:
        validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError:
        return f"{value!r} is not a valid e-mail address"
    return None


def team_name_key(name: str) -> str:
    """Team names are compared ignoring case and Unicode look-alike forms."""
    return unicodedata.normalize("NFKC", " ".join(name.split())).casefold()


@dataclass
class _Citable:
    """Which guideline keys the bundle may cite, or why there are none."""

    keys: set[str] | None
    why_not: str = ""

    def check(self, values: Any, path: str, problems: list[str]) -> None:
        if values is None:
            return
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            problems.append(f"{path}: must be a list of guideline keys")
            return
        for j, value in enumerate(values):
            if values.index(value) != j:
                problems.append(f"{path}[{j}]: {value!r} is listed twice")
        if not values:
            return
        if self.keys is None:
            if self.why_not:
                problems.append(f"{path}: {self.why_not}")
            return
        for j, value in enumerate(values):
            if value not in self.keys:
                known = ", ".join(sorted(self.keys)) or "none"
                problems.append(f"{path}[{j}]: {value!r} is not a key of the published "
                                f"guidelines (known: {known})")


def _citable(session: Session, doc: dict) -> _Citable:
    slug = doc.get("survey")
    if slug is None:
        return _Citable(None, "the challenge links no survey (survey), so there are no "
                              "guidelines to cite")
    if not isinstance(slug, str):
        return _Citable(None)  # reported at "survey"
    survey = session.scalar(select(Survey).where(Survey.slug == slug))
    if survey is None:
        return _Citable(None)  # reported at "survey"
    doc_ = guidelines.published(session, survey)
    if doc_ is None:
        return _Citable(None, f"survey {slug!r} has no published guidelines yet; publish "
                              f"them before citing them")
    return _Citable({item.key for item in doc_.items})


def _validate_phases(phases: Any, problems: list[str]) -> None:
    if not isinstance(phases, dict):
        problems.append(f"phases: is required: an object with {', '.join(PHASES)}")
        return
    _unknown(phases, PHASES, "phases.", problems)
    times = {}
    for name in PHASES:
        if name not in phases:
            problems.append(f"phases.{name}: is required")
            continue
        times[name] = parse_time(phases[name], f"phases.{name}", problems)
    for name, message in services.phase_order_problems(times).items():
        problems.append(f"phases.{name}: {message}")


def _validate_rubric(rubric: Any, citable: _Citable, problems: list[str]) -> None:
    if not isinstance(rubric, dict):
        problems.append("rubric: must be an object with a list of criteria")
        return
    _unknown(rubric, ("criteria",), "rubric.", problems)
    criteria = rubric.get("criteria", [])
    if not isinstance(criteria, list):
        problems.append("rubric.criteria: must be a list")
        return
    seen: set[str] = set()
    for i, c in enumerate(criteria):
        path = f"rubric.criteria[{i}]"
        if not isinstance(c, dict):
            problems.append(f"{path}: must be an object")
            continue
        _unknown(c, CRITERION_KEYS, f"{path}.", problems)
        key = c.get("key")
        if not isinstance(key, str) or not KEY_RE.match(key):
            problems.append(f"{path}.key: must be lower-case letters, digits or _ and start "
                            f"with a letter (got {key!r})")
        elif key in seen:
            problems.append(f"{path}.key: {key!r} is used twice")
        else:
            seen.add(key)
        _text(c, "name", f"{path}.name", problems, required=True, limit=200)
        _text(c, "description", f"{path}.description", problems)
        weight = c.get("weight")
        if not _is_number(weight) or weight <= 0:
            problems.append(f"{path}.weight: must be a number greater than 0 (got {weight!r})")
        low, high = c.get("min"), c.get("max")
        bounds_ok = True
        for name, value in (("min", low), ("max", high)):
            if not _is_whole(value):
                problems.append(f"{path}.{name}: must be a whole number (got {value!r})")
                bounds_ok = False
        if bounds_ok and low >= high:
            problems.append(f"{path}.max: must be greater than min ({low})")
            bounds_ok = False
        levels = c.get("levels")
        if levels is not None:
            if not isinstance(levels, dict):
                problems.append(f"{path}.levels: must map a score to its description")
            else:
                for level, text in levels.items():
                    lpath = f"{path}.levels.{level}"
                    if not re.fullmatch(r"-?\d+", level):
                        problems.append(f"{lpath}: a level must be a whole-number score")
                    elif bounds_ok and not low <= int(level) <= high:
                        problems.append(f"{lpath}: outside the criterion's range {low}..{high}")
                    if not isinstance(text, str) or not text.strip():
                        problems.append(f"{lpath}: must describe the level (text)")
        citable.check(c.get("guidelines"), f"{path}.guidelines", problems)


def _validate_judges(doc: dict, problems: list[str]) -> None:
    panels = doc.get("panels", {DEFAULT_PANEL: 1.0})
    if not isinstance(panels, dict) or not panels:
        problems.append("panels: must map at least one panel name to its weight")
        panels = {}
    else:
        for name, weight in panels.items():
            if not PANEL_RE.match(name):
                problems.append(f"panels.{name}: a panel name is lower-case letters, digits, "
                                f"- or _ (at most 40)")
            if not _is_number(weight) or weight <= 0:
                problems.append(f"panels.{name}: the weight must be a number greater than 0 "
                                f"(got {weight!r})")
    judges = doc.get("judges", [])
    if not isinstance(judges, list):
        problems.append("judges: must be a list")
        return
    seen: set[str] = set()
    for i, judge in enumerate(judges):
        path = f"judges[{i}]"
        if not isinstance(judge, dict):
            problems.append(f"{path}: must be an object with an email")
            continue
        _unknown(judge, JUDGE_KEYS, f"{path}.", problems)
        problem = email_problem(judge.get("email"))
        if problem:
            problems.append(f"{path}.email: {problem}")
        else:
            email = normalize_email(judge["email"])
            if email in seen:
                problems.append(f"{path}.email: {email} is listed twice")
            seen.add(email)
        _text(judge, "name", f"{path}.name", problems, limit=120)
        panel = judge.get("panel", DEFAULT_PANEL)
        if panels and (not isinstance(panel, str) or panel not in panels):
            problems.append(f"{path}.panel: {panel!r} is not one of the panels "
                            f"({', '.join(map(str, panels))})")


def _validate_teams(session: Session, doc: dict, citable: _Citable,
                    problems: list[str]) -> None:
    teams = doc.get("teams", [])
    if not isinstance(teams, list):
        problems.append("teams: must be a list")
        return
    size = doc.get("team_size")
    if size is None:  # an update keeps the stored limits; a new challenge gets 1 to 5
        stored = session.execute(select(Challenge.team_min, Challenge.team_max).where(
            Challenge.slug == doc.get("slug"))).first() if isinstance(doc.get("slug"), str) \
            else None
        size = {"min": stored[0], "max": stored[1]} if stored else {"min": 1, "max": 5}
    low, high = (size.get("min"), size.get("max")) if isinstance(size, dict) else (None, None)
    limits_ok = isinstance(size, dict) and not services.team_size_problems(low, high)
    names: dict[str, int] = {}
    placed: dict[str, str] = {}  # email -> path of the team it is in
    for i, team in enumerate(teams):
        path = f"teams[{i}]"
        if not isinstance(team, dict):
            problems.append(f"{path}: must be an object with a name and members")
            continue
        _unknown(team, TEAM_KEYS, f"{path}.", problems)
        name = team.get("name")
        if not isinstance(name, str) or len(" ".join(name.split())) < 2:
            problems.append(f"{path}.name: is required (at least 2 characters)")
        elif len(name) > TEAM_NAME_MAX:
            problems.append(f"{path}.name: keep it under {TEAM_NAME_MAX} characters")
        elif name != " ".join(name.split()) or any(
                unicodedata.category(ch) in ("Cc", "Cf") for ch in name):
            problems.append(f"{path}.name: no leading, trailing, repeated or invisible spaces "
                            f"or control characters")
        elif team_name_key(name) in names:
            problems.append(f"{path}.name: {name!r} is already the name of "
                            f"teams[{names[team_name_key(name)]}] (names ignore case)")
        else:
            names[team_name_key(name)] = i
        members = team.get("members")
        if not isinstance(members, list):
            problems.append(f"{path}.members: must be a list of e-mail addresses, the captain "
                            f"first")
            members = []
        elif limits_ok and not low <= len(members) <= high:
            problems.append(f"{path}.members: a team has {low} to {high} members "
                            f"(team_size); this one has {len(members)}")
        for j, member in enumerate(members):
            problem = email_problem(member)
            if problem:
                problems.append(f"{path}.members[{j}]: {problem}")
                continue
            email = normalize_email(member)
            if email in placed:
                where = placed[email]
                problems.append(
                    f"{path}.members[{j}]: {email} is listed twice in this team" if where == path
                    else f"{path}.members[{j}]: {email} is already in {where}; a person can be "
                         f"in one team per challenge")
            else:
                placed[email] = path
        submission = team.get("submission")
        if submission is None:
            continue
        spath = f"{path}.submission"
        if not isinstance(submission, dict):
            problems.append(f"{spath}: must be an object with a title")
            continue
        _unknown(submission, SUBMISSION_KEYS, f"{spath}.", problems)
        _text(submission, "title", f"{spath}.title", problems, required=True,
              limit=services.TITLE_MAX)
        _text(submission, "summary", f"{spath}.summary", problems)
        for name in ("demo_url", "repo_url"):
            value = submission.get(name)
            if value not in (None, "") and (not isinstance(value, str) or len(value) > 500
                                            or not re.match(r"^https?://\S+$", value)):
                problems.append(f"{spath}.{name}: must be an http(s) address under 500 "
                                f"characters")
        citable.check(submission.get("needs"), f"{spath}.needs", problems)
    _check_people_against_database(session, doc, teams, placed, names, problems)


def _check_people_against_database(session, doc, teams, placed, names, problems) -> None:
    """People already in a team the file does not name; organizers named as members."""
    if not placed:
        return
    users = {u.email: u for u in session.scalars(select(User).where(User.email.in_(placed)))}
    for email, user in users.items():
        if user.has_role("organizer"):
            problems.append(f"{_member_path(teams, email)}: {email} is an organizer; "
                            f"organizers run the challenge and cannot be in a team")
    slug = doc.get("slug")
    if not isinstance(slug, str) or not users:
        return
    rows = session.execute(
        select(User.email, Team.name)
        .join(Membership, Membership.user_id == User.id)
        .join(Team, Team.id == Membership.team_id)
        .join(Challenge, Challenge.id == Membership.challenge_id)
        .where(Challenge.slug == slug, User.id.in_([u.id for u in users.values()])))
    for email, team_name in rows:
        if team_name_key(team_name) not in names:
            problems.append(f"{_member_path(teams, email)}: {email} is already in team "
                            f"{team_name!r} of this challenge, which this file does not name; "
                            f"a person can be in one team per challenge")


def _member_path(teams: list, email: str) -> str:
    for i, team in enumerate(teams):
        members = team.get("members") if isinstance(team, dict) else None
        for j, member in enumerate(members if isinstance(members, list) else []):
            if isinstance(member, str) and normalize_email(member) == email:
                return f"teams[{i}].members[{j}]"
    return "teams"


def validate(session: Session, doc: Any) -> list[str]:
    """Every problem in a challenge bundle, each naming its JSON path (empty when valid)."""
    if not isinstance(doc, dict):
        return ["the document must be a JSON object"]
    problems: list[str] = []
    _unknown(doc, TOP_KEYS, "", problems)
    slug_problem = services.slug_problem(doc.get("slug"))
    if slug_problem:
        problems.append(f"slug: {slug_problem}")
    _text(doc, "title", "title", problems, required=True, limit=services.TITLE_MAX)
    for name in services.TEXT_FIELDS:
        _text(doc, name, name, problems)
    for name in FLAGS:
        if name in doc and not isinstance(doc[name], bool):
            problems.append(f"{name}: must be true or false")
    survey = doc.get("survey")
    if survey is not None:
        if not isinstance(survey, str):
            problems.append("survey: must be the slug of a survey, or null")
        elif session.scalar(select(Survey.id).where(Survey.slug == survey)) is None:
            problems.append(f"survey: there is no survey {survey!r} (import it first)")
    size = doc.get("team_size")
    if size is not None:
        if not isinstance(size, dict):
            problems.append("team_size: must be {\"min\": ..., \"max\": ...}")
        else:
            _unknown(size, ("min", "max"), "team_size.", problems)
            for name, message in services.team_size_problems(size.get("min"),
                                                             size.get("max")).items():
                problems.append(f"team_size.{name}: {message}")
    _validate_phases(doc.get("phases"), problems)
    citable = _citable(session, doc)
    if "rubric" in doc:
        _validate_rubric(doc["rubric"], citable, problems)
    if doc.get("normalization", "zscore") not in NORMALIZATIONS:
        problems.append(f"normalization: must be one of {', '.join(NORMALIZATIONS)} "
                        f"(got {doc['normalization']!r})")
    reviews = doc.get("reviews_per_entry", 3)
    if not _is_whole(reviews) or not REVIEWS_LIMITS[0] <= reviews <= REVIEWS_LIMITS[1]:
        problems.append(f"reviews_per_entry: must be a whole number from {REVIEWS_LIMITS[0]} "
                        f"to {REVIEWS_LIMITS[1]} (got {reviews!r})")
    _validate_judges(doc, problems)
    _validate_teams(session, doc, citable, problems)
    return problems


# --- applying -------------------------------------------------------------------------------

@dataclass
class ImportResult:
    """What an import did (for the command's summary line)."""

    challenge: Challenge
    created: bool
    changed: bool
    accounts_created: list[str] = field(default_factory=list)
    roles_added: list[str] = field(default_factory=list)  # existing accounts given a role
    versions_added: int = 0


def _set(obj, name: str, value) -> None:
    if getattr(obj, name) != value:
        setattr(obj, name, value)


def _judges(doc: dict) -> list[dict[str, Any]]:
    judges = []
    for judge in doc.get("judges", []):
        item = {"email": normalize_email(judge["email"]), "name": judge.get("name", "").strip(),
                "panel": judge.get("panel", DEFAULT_PANEL)}
        judges.append(item)
    return judges


def _people(doc: dict) -> dict[str, tuple[set[str], str]]:
    """email -> (roles wanted, name) for everyone the bundle names, in order."""
    people: dict[str, tuple[set[str], str]] = {}
    for judge in _judges(doc):
        people.setdefault(judge["email"], (set(), judge["name"]))[0].add("judge")
    for team in doc.get("teams", []):
        for member in team["members"]:
            people.setdefault(normalize_email(member), (set(), ""))[0].add("entrant")
    return people


def _accounts(session: Session, doc: dict, actor
              ) -> tuple[dict[str, User], list[User], list[str]]:
    users: dict[str, User] = {}
    created: list[User] = []
    promoted: list[str] = []
    for email, (roles, name) in _people(doc).items():
        user = find_user(session, email)
        if user is None:
            user = create_user(session, email, password=None, roles=sorted(roles), name=name,
                               actor=actor)
            created.append(user)
        else:
            missing = sorted(roles - user.roles)
            if missing:
                before = sorted(user.roles)
                user.role_rows.extend(UserRole(role=r) for r in missing)
                audit.record(session, "roles.changed", actor=actor, target=f"user:{user.id}",
                             before=before, after=sorted(user.roles), via="challenge import")
                promoted.append(email)
        users[email] = user
    return users, created, promoted


def _sync_teams(session: Session, challenge: Challenge, doc: dict, users: dict[str, User],
                now: datetime) -> dict[str, Team]:
    existing = {team_name_key(t.name): t for t in session.scalars(
        select(Team).where(Team.challenge_id == challenge.id))}
    teams: dict[str, Team] = {}
    for item in doc.get("teams", []):
        team = existing.get(team_name_key(item["name"]))
        if team is None:
            team = Team(challenge_id=challenge.id, name=item["name"], created_at=now)
            session.add(team)
        else:
            _set(team, "name", item["name"])
        teams[item["name"]] = team
    session.flush()
    wanted = {name: [users[normalize_email(m)].id for m in item["members"]]
              for name, item in ((i["name"], i) for i in doc.get("teams", []))}
    # Leave first, then join: someone moving between two named teams never is in both.
    for name, team in teams.items():
        for membership in list(team.memberships):
            if membership.user_id not in wanted[name]:
                team.memberships.remove(membership)
    session.flush()
    for name, team in teams.items():
        current = {m.user_id: m for m in team.memberships}
        for position, user_id in enumerate(wanted[name]):
            role = "captain" if position == 0 else "member"
            membership = current.get(user_id)
            if membership is None:
                team.memberships.append(Membership(challenge_id=challenge.id, user_id=user_id,
                                                   role=role, joined_at=now))
            else:
                _set(membership, "role", role)
    session.flush()
    return teams


def _content(version: SubmissionVersion | None) -> dict[str, Any] | None:
    if version is None:
        return None
    return {"title": version.title, "summary": version.summary or "",
            "needs": list(version.needs or []), "demo_url": version.demo_url or "",
            "repo_url": version.repo_url or ""}


def _wanted_content(item: dict) -> dict[str, Any]:
    return {"title": item["title"].strip(), "summary": item.get("summary", ""),
            "needs": list(item.get("needs") or []), "demo_url": item.get("demo_url", "") or "",
            "repo_url": item.get("repo_url", "") or ""}


def _latest(session: Session, submission: Submission) -> SubmissionVersion | None:
    return session.scalar(select(SubmissionVersion)
                          .where(SubmissionVersion.submission_id == submission.id)
                          .order_by(SubmissionVersion.number.desc()).limit(1))


def _sync_submission(session: Session, challenge: Challenge, team: Team, item: dict,
                     now: datetime) -> bool:
    """Give the team's submission the file's content as a new submitted version if it
    differs from the latest version; returns whether a version was added."""
    wanted = _wanted_content(item)
    submission = session.scalar(select(Submission).where(Submission.team_id == team.id))
    if submission is None:
        submission = Submission(team_id=team.id, challenge_id=challenge.id, created_at=now)
        session.add(submission)
        session.flush()
    latest = _latest(session, submission)
    before = _content(latest)
    if before == wanted:
        return False
    file_ids = list(latest.file_ids or []) if latest is not None else []
    file_hashes = list(session.scalars(select(SubmissionFile.sha256).where(
        SubmissionFile.id.in_(file_ids)))) if file_ids else []
    version = SubmissionVersion(
        submission_id=submission.id, number=(latest.number + 1) if latest else 1,
        file_ids=file_ids, author_id=None, created_at=now, submitted_at=now,
        changes=[name for name in CONTENT_FIELDS
                 if wanted[name] != (before[name] if before is not None else type(wanted[name])())],
        content_hash=submissions.content_hash(**wanted, file_hashes=file_hashes), **wanted)
    session.add(version)
    session.flush()
    if before is None or before["title"] != wanted["title"] or (
            before["summary"] != wanted["summary"]):
        screen(session, source=submissions.SCREEN_SOURCE,
               source_ref=f"submission:{submission.id}/version:{version.number}",
               text=f"{version.title}\n\n{version.summary}")
    submission.entry_version_id = version.id
    session.flush()
    return True


def _invite(session: Session, user: User, challenge: Challenge, doc: dict) -> None:
    roles = []
    if any(j["email"] == user.email for j in _judges(doc)):
        roles.append("as a judge")
    team = next((t["name"] for t in doc.get("teams", [])
                 if user.email in {normalize_email(m) for m in t["members"]}), None)
    if team is not None:
        roles.append(f"as a member of team “{team}”")
    days = max(1, current_app.config["INVITE_MAX_AGE"] // 86400)
    link = external_url("accounts.accept_invite", token=make_password_token(user, "invite"))
    page = external_url("challenges.detail", slug=challenge.slug)
    outbox.send(
        session, user.email, f"You are invited to {challenge.title}",
        f"An organizer added you to the challenge “{challenge.title}” "
        f"{' and '.join(roles)}.\n\nSet your password to log in (the link works once and "
        f"expires in {days} days):\n{link}\n\nThe challenge: {page}\n\nIf you did not expect "
        f"this message, ignore it: no one can log in to the account without this link.",
        kind="invite")


def register_import_step(app, step) -> None:
    """Let a package above (judging) act on every imported challenge, without `challenges`
    importing it: step(session, challenge, actor=...) runs at the end of `apply`."""
    app.extensions.setdefault("challenge_import_steps", []).append(step)


def apply(session: Session, doc: dict, *, actor=None) -> ImportResult:
    """Create or update the challenge a bundle describes (ValidationFailed on any problem)."""
    problems = validate(session, doc)
    if problems:
        raise ValidationFailed(problems)
    now = clock.now()
    challenge = session.scalar(select(Challenge).where(Challenge.slug == doc["slug"]))
    before = export(session, challenge) if challenge is not None else None
    switches = {name: getattr(challenge, name) for name in ("published", "gallery_open")
                } if challenge is not None else {}
    users, created, promoted = _accounts(session, doc, actor)
    survey_id = None
    if doc.get("survey") is not None:
        survey_id = session.scalar(select(Survey.id).where(Survey.slug == doc["survey"]))
    if challenge is None:
        challenge = Challenge(slug=doc["slug"], created_at=now, updated_at=now, published=True,
                              gallery_open=False, blind_judging=False)
    size = doc.get("team_size") or {}
    values: dict[str, Any] = {
        "title": doc["title"].strip(),
        "survey_id": survey_id,
        "team_min": size.get("min", challenge.team_min or 1),
        "team_max": size.get("max", challenge.team_max or 5),
        **{name: parse_time(doc["phases"][name], name, []) for name in PHASES},
        **{name: doc.get(name, getattr(challenge, name) or "") for name in services.TEXT_FIELDS},
        **{name: doc.get(name, getattr(challenge, name)) for name in FLAGS},
        "normalization": doc.get("normalization", challenge.normalization or "zscore"),
        "reviews_per_entry": doc.get("reviews_per_entry", challenge.reviews_per_entry or 3),
        "panels": dict(doc.get("panels", challenge.panels or {DEFAULT_PANEL: 1.0})),
        "rubric": copy.deepcopy(doc.get("rubric", challenge.rubric or {"criteria": []})),
        "judges": _judges(doc) if "judges" in doc else (challenge.judges or []),
    }
    for name, value in values.items():
        _set(challenge, name, value)
    session.add(challenge)
    session.flush()
    teams = _sync_teams(session, challenge, doc, users, now)
    versions = sum(_sync_submission(session, challenge, teams[item["name"]], item["submission"],
                                    now)
                   for item in doc.get("teams", []) if item.get("submission") is not None)
    for user in created:
        _invite(session, user, challenge, doc)
    session.flush()
    changed = before != export(session, challenge)
    if changed:
        challenge.updated_at = now
        audit.record(session, "challenge.imported" if before is None else "challenge.updated",
                     actor=actor, target=f"challenge:{challenge.slug}", teams=len(teams),
                     versions_added=versions, accounts_created=len(created), via="import",
                     published=challenge.published, gallery_open=challenge.gallery_open)
        services.audit_visibility(session, challenge, switches, actor=actor)
        session.flush()
    for step in current_app.extensions.get("challenge_import_steps", []):
        step(session, challenge, actor=actor)  # e.g. judging materialises rubric and seats
    return ImportResult(challenge, created=before is None, changed=changed,
                        accounts_created=[u.email for u in created], roles_added=promoted,
                        versions_added=versions)


# --- export ---------------------------------------------------------------------------------

def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def export(session: Session, challenge: Challenge) -> dict[str, Any]:
    """The challenge as a CONTRACTS.md bundle; importing it back changes nothing."""
    survey = services.linked_survey(session, challenge)
    doc: dict[str, Any] = {
        "slug": challenge.slug,
        "title": challenge.title,
        **{name: getattr(challenge, name) or "" for name in services.TEXT_FIELDS},
        "survey": survey.slug if survey is not None else None,
        "team_size": {"min": challenge.team_min, "max": challenge.team_max},
        "phases": {name: _iso(getattr(challenge, name)) for name in PHASES},
        "rubric": challenge.rubric or {"criteria": []},
        "normalization": challenge.normalization,
        "reviews_per_entry": challenge.reviews_per_entry,
        "panels": challenge.panels or {DEFAULT_PANEL: 1.0},
        "judges": [dict(j) for j in challenge.judges or []],
        **{name: bool(getattr(challenge, name)) for name in FLAGS},
        "teams": _export_teams(session, challenge),
    }
    return doc


def _export_teams(session: Session, challenge: Challenge) -> list[dict[str, Any]]:
    """Teams in creation order, members captain first, each submission's latest version."""
    teams = list(session.scalars(select(Team).where(Team.challenge_id == challenge.id)
                                 .order_by(Team.id)))
    if not teams:
        return []
    emails = dict(session.execute(
        select(Membership.id, User.email).join(User, User.id == Membership.user_id)
        .where(Membership.challenge_id == challenge.id)).all())
    newest = (select(SubmissionVersion.submission_id.label("submission_id"),
                     func.max(SubmissionVersion.number).label("number"))
              .group_by(SubmissionVersion.submission_id).subquery())
    latest = dict(session.execute(
        select(Submission.team_id, SubmissionVersion)
        .join(SubmissionVersion, SubmissionVersion.submission_id == Submission.id)
        .join(newest, and_(newest.c.submission_id == SubmissionVersion.submission_id,
                           newest.c.number == SubmissionVersion.number))
        .where(Submission.challenge_id == challenge.id)).all())
    result = []
    for team in teams:
        members = sorted(team.memberships, key=lambda m: (m.role != "captain", m.id))
        item: dict[str, Any] = {"name": team.name,
                                "members": [emails[m.id] for m in members]}
        content = _content(latest.get(team.id))
        if content is not None:
            item["submission"] = {
                "title": content["title"], "summary": content["summary"],
                "needs": content["needs"],
                **{name: content[name] for name in ("demo_url", "repo_url") if content[name]}}
        result.append(item)
    return result
