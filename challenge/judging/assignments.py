"""Judge assignment for a challenge: the automatic fill, manual overrides, and what the
organizer overview and the CLI show.

`assign` hands the pure min-cost flow (`judging/assignment.py`) the submitted entries, the
seated judges, every conflict (declared, organizer, membership) and the assignments that
already exist; it writes only the new pairs. An existing pair counts toward an entry's
`reviews_per_entry` unless it is conflicted (its judge then has a conflict recorded after
the assignment; it stays for the organizer to resolve, but another judge is found). A
review without an assignment row (for example from an import) counts as an assignment and
gets its row.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from challenge import audit, clock
from challenge.accounts.models import User
from challenge.challenges.models import Challenge, Submission, SubmissionVersion, Team
from challenge.errors import Conflict, DomainError, NotFound
from challenge.judging import access
from challenge.judging.assignment import AssignmentInfeasible
from challenge.judging.assignment import assign as solve
from challenge.judging.models import Assignment, JudgeSeat, Review

SUBMITTED = "submitted"


class AssignmentImpossible(DomainError):
    """No conflict-free assignment gives every entry enough judges; `entries` names the
    teams whose entries fall short."""

    status_code = 409

    def __init__(self, entries: list[str], message: str) -> None:
        super().__init__(message)
        self.entries = entries
        self.problems = [message]


@dataclass(frozen=True)
class Entry:
    submission_id: int
    team_id: int
    team_name: str
    title: str


@dataclass
class AssignResult:
    """What `assign` did: pairs added and kept, and the resulting judge loads."""

    added: list[Assignment] = field(default_factory=list)
    kept: int = 0
    entries: int = 0
    judges: int = 0
    loads: dict[int, int] = field(default_factory=dict)

    @property
    def load_range(self) -> tuple[int, int]:
        values = list(self.loads.values()) or [0]
        return min(values), max(values)


def entry_label(challenge: Challenge, submission: Submission, team: Team | None) -> str:
    """How judges see an entry: "Entry #<submission id>" in blind judging, else the team."""
    if challenge.blind_judging or team is None:
        return f"Entry #{submission.id}"
    return team.name


def entries(session: Session, challenge: Challenge) -> list[Entry]:
    """Submitted entries (a submission with an entry version), by team name."""
    rows = session.execute(
        select(Submission.id, Team.id, Team.name, SubmissionVersion.title)
        .join(Team, Team.id == Submission.team_id)
        .join(SubmissionVersion, SubmissionVersion.id == Submission.entry_version_id)
        .where(Submission.challenge_id == challenge.id,
               Submission.entry_version_id.is_not(None)))
    return sorted((Entry(*row) for row in rows), key=lambda e: (e.team_name.casefold(),
                                                                e.submission_id))


def _judge_ids(session: Session, challenge: Challenge) -> list[int]:
    return list(session.scalars(select(JudgeSeat.user_id)
                                .where(JudgeSeat.challenge_id == challenge.id)))


def _conflicts(session: Session, challenge: Challenge, judge_ids: list[int],
               team_of: dict[int, int]) -> set[tuple[int, int]]:
    """(judge id, submission id) pairs that must not be assigned."""
    submission_of_team = {team: sub for sub, team in team_of.items()}
    pairs = set()
    for judge in judge_ids:
        for team in access.conflicted_team_ids(session, judge, challenge):
            if team in submission_of_team:
                pairs.add((judge, submission_of_team[team]))
    return pairs


def assign(session: Session, challenge: Challenge, *, actor=None) -> AssignResult:
    """Fill the assignment so every entry has `reviews_per_entry` judges (see the module
    docstring); AssignmentImpossible names the entries that cannot be covered."""
    # One assignment run per challenge at a time (PostgreSQL: row lock; SQLite: writes
    # are serialised by BEGIN IMMEDIATE already).
    session.execute(select(Challenge.id).where(Challenge.id == challenge.id).with_for_update())
    entry_list = entries(session, challenge)
    judge_ids = _judge_ids(session, challenge)
    team_of = {e.submission_id: e.team_id for e in entry_list}
    names = {e.submission_id: e.team_name for e in entry_list}
    now = clock.now()

    # Reviews imply assignments: give a review without an assignment row its row.
    assigned = set(session.execute(select(Assignment.user_id, Assignment.submission_id)
                                   .where(Assignment.challenge_id == challenge.id)))
    reviewed = set(session.execute(select(Review.user_id, Review.submission_id)
                                   .where(Review.challenge_id == challenge.id)))
    seated = set(judge_ids)
    for user_id, submission_id in sorted(reviewed - assigned):
        if user_id not in seated or submission_id not in team_of:
            continue
        session.add(Assignment(challenge_id=challenge.id, user_id=user_id,
                               submission_id=submission_id, source="review", created_at=now))
        assigned.add((user_id, submission_id))
    session.flush()

    conflicts = _conflicts(session, challenge, judge_ids, team_of)
    existing = {(j, s) for j, s in assigned
                if j in seated and s in team_of and (j, s) not in conflicts}
    if entry_list and not judge_ids:
        raise AssignmentImpossible(
            sorted(names.values(), key=str.casefold),
            "This challenge has no judges yet: invite judges before assigning entries.")
    try:
        pairs = solve([str(s) for s in team_of], [str(j) for j in judge_ids],
                      challenge.reviews_per_entry,
                      {(str(j), str(s)) for j, s in conflicts},
                      {(str(j), str(s)) for j, s in existing})
    except AssignmentInfeasible as exc:
        short = sorted((names[int(e)] for e in exc.entries), key=str.casefold)
        raise AssignmentImpossible(
            short, f"Not enough judges without a conflict to give each entry "
                   f"{challenge.reviews_per_entry} reviews. Short: {', '.join(short)}. "
                   f"Invite more judges or lower the reviews per entry.") from None

    result = AssignResult(kept=len(existing), entries=len(entry_list), judges=len(judge_ids))
    for j, s in pairs:
        pair = (int(j), int(s))
        if pair in existing:
            continue
        row = Assignment(challenge_id=challenge.id, user_id=pair[0], submission_id=pair[1],
                         source="auto", created_at=now)
        session.add(row)
        result.added.append(row)
    load: dict[int, int] = dict.fromkeys(judge_ids, 0)
    for j, _s in pairs:
        load[int(j)] += 1
    result.loads = load
    session.flush()
    audit.record(session, "judging.assigned", actor=actor, target=f"challenge:{challenge.slug}",
                 added=len(result.added), kept=result.kept, entries=result.entries,
                 judges=result.judges, reviews_per_entry=challenge.reviews_per_entry)
    session.flush()
    return result


# --- manual overrides -----------------------------------------------------------------------

def _entry(session: Session, challenge: Challenge, submission_id: int | None) -> Submission:
    submission = session.get(Submission, submission_id) if submission_id else None
    if submission is None or submission.challenge_id != challenge.id:
        raise NotFound("This challenge has no such entry.", field="submission_id")
    if submission.entry_version_id is None:
        raise Conflict("This team has not submitted an entry yet.", field="submission_id")
    return submission


def add_assignment(session: Session, challenge: Challenge, user_id: int | None,
                   submission_id: int | None, *, actor) -> Assignment:
    """Assign one judge to one entry by hand; refused for a conflicted pair."""
    seat = session.scalar(select(JudgeSeat).where(JudgeSeat.challenge_id == challenge.id,
                                                  JudgeSeat.user_id == user_id))
    if seat is None:
        raise NotFound("This challenge has no such judge.", field="user_id")
    submission = _entry(session, challenge, submission_id)
    team = session.get(Team, submission.team_id)
    if access.is_conflicted(session, seat.user_id, team.id, challenge):
        raise Conflict(f"{seat.user.email} has a conflict with {team.name}: they cannot "
                       f"judge this entry.", field="user_id")
    if access.is_assigned(session, seat.user_id, submission.id):
        raise Conflict(f"{seat.user.email} is already assigned to {team.name}.",
                       field="user_id")
    row = Assignment(challenge_id=challenge.id, user_id=seat.user_id,
                     submission_id=submission.id, source="manual", created_at=clock.now())
    session.add(row)
    session.flush()
    audit.record(session, "assignment.added", actor=actor, target=f"challenge:{challenge.slug}",
                 user=seat.user_id, submission=submission.id)
    session.flush()
    return row


def remove_assignment(session: Session, challenge: Challenge, assignment_id: int, *,
                      actor) -> bool:
    """Remove one assignment by hand; refused when the judge submitted a review of the
    entry. A draft review is deleted with it. Returns whether a draft was deleted."""
    row = session.get(Assignment, assignment_id)
    if row is None or row.challenge_id != challenge.id:
        raise NotFound("This challenge has no such assignment.")
    review = session.scalar(select(Review).where(Review.user_id == row.user_id,
                                                 Review.submission_id == row.submission_id))
    if review is not None and review.status == SUBMITTED:
        raise Conflict("This judge has submitted a review of the entry; the assignment "
                       "cannot be removed.")
    draft = review is not None
    if draft:
        session.delete(review)
    audit.record(session, "assignment.removed", actor=actor,
                 target=f"challenge:{challenge.slug}", user=row.user_id,
                 submission=row.submission_id, source=row.source, draft_deleted=draft)
    session.delete(row)
    session.flush()
    return draft


# --- reading for pages and the CLI ---------------------------------------------------------

@dataclass(frozen=True)
class Load:
    assigned: int
    submitted: int


def loads(session: Session, challenge: Challenge) -> dict[int, Load]:
    """Per judge: entries assigned and reviews submitted (one grouped query)."""
    submitted = func.sum(case((Review.status == SUBMITTED, 1), else_=0))
    rows = session.execute(
        select(Assignment.user_id, func.count(Assignment.id), submitted)
        .outerjoin(Review, and_(Review.user_id == Assignment.user_id,
                                Review.submission_id == Assignment.submission_id))
        .where(Assignment.challenge_id == challenge.id)
        .group_by(Assignment.user_id))
    return {user_id: Load(n or 0, int(done or 0)) for user_id, n, done in rows}


@dataclass(frozen=True)
class AssignedJudge:
    assignment_id: int
    user_id: int
    email: str
    name: str
    source: str
    review_status: str | None
    conflicted: bool


@dataclass(frozen=True)
class EntryRow:
    entry: Entry
    judges: list[AssignedJudge]


def entry_rows(session: Session, challenge: Challenge) -> list[EntryRow]:
    """Every submitted entry with its assigned judges and their review status."""
    entry_list = entries(session, challenge)
    by_submission: dict[int, list[AssignedJudge]] = defaultdict(list)
    rows = session.execute(
        select(Assignment.id, Assignment.user_id, Assignment.submission_id, Assignment.source,
               User.email, User.name, Review.status)
        .join(User, User.id == Assignment.user_id)
        .outerjoin(Review, and_(Review.user_id == Assignment.user_id,
                                Review.submission_id == Assignment.submission_id))
        .where(Assignment.challenge_id == challenge.id)
        .order_by(User.email))
    team_of = {e.submission_id: e.team_id for e in entry_list}
    conflicted: dict[int, set[int]] = {}
    for aid, uid, sid, source, email, name, status in rows:
        if uid not in conflicted:
            conflicted[uid] = access.conflicted_team_ids(session, uid, challenge)
        by_submission[sid].append(AssignedJudge(aid, uid, email, name or "", source, status,
                                                team_of.get(sid) in conflicted[uid]))
    return [EntryRow(e, by_submission.get(e.submission_id, [])) for e in entry_list]


def assignments_document(session: Session, challenge: Challenge) -> dict:
    """CONTRACTS.md `judging assignments --format json`: pairs sorted by judge then team."""
    rows = session.execute(
        select(User.email, Team.name, Assignment.source)
        .select_from(Assignment)
        .join(User, User.id == Assignment.user_id)
        .join(Submission, Submission.id == Assignment.submission_id)
        .join(Team, Team.id == Submission.team_id)
        .where(Assignment.challenge_id == challenge.id)).all()
    pairs = sorted(rows, key=lambda r: (r[0], r[1]))
    return {"challenge": challenge.slug,
            "assignments": [{"judge": email, "team": team, "source": source}
                            for email, team, source in pairs]}
