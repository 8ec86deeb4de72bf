"""Scoring: a judge's queue, the scoring page, and saving or submitting a review.

Rules (issue 6, "Scoring"):

- A judge sees and scores only the entries they are **assigned** to. Anyone else (another
  judge, an entrant, an organizer using the judge pages) gets NotFound: the page never
  reveals that the entry exists.
- A judge with a **conflict** on the entry's team (declared, added by an organizer, or
  membership) is refused with Forbidden and a message, even when an assignment exists.
- **Server time decides** (`challenge.clock.now()`): saves are accepted strictly before
  `Challenge.judging_closes`; at that instant and after, nothing changes.
- Scores are numbers within each criterion's scale. A draft may be partial; submitting
  needs every criterion of the current rubric (a review counts only when complete). A
  submitted review stays submitted: it can be edited until judging closes, never back to
  a draft, and each edit is audited as "review.edited" with the review score before and
  after (never the comments).
- One review per judge per entry: the unique constraint decides; a concurrent insert
  becomes a Conflict, never a second review.

Services take a Session, raise `challenge.errors` domain errors and only flush; the view
commits.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from challenge import audit, clock
from challenge.challenges import submissions as submission_services
from challenge.challenges.models import (
    Challenge,
    Submission,
    SubmissionFile,
    SubmissionVersion,
    Team,
)
from challenge.errors import Conflict, Forbidden, NotFound, ValidationFailed
from challenge.judging import access, scoring
from challenge.judging.assignments import entry_label
from challenge.judging.models import (
    Assignment,
    Criterion,
    CriterionScore,
    JudgeSeat,
    Review,
    Rubric,
)
from challenge.judging.rubrics import rubric_text_for

COMMENT_MAX = 10_000
#: Integer scales with at most this many steps are shown as radio buttons.
RADIO_MAX_STEPS = 11
STATUS_LABELS = {"not_started": "Not started", "draft": "Draft", "submitted": "Submitted"}
NOT_FOUND = "There is no entry here for you to score."

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")


class ReviewInvalid(ValidationFailed):
    """Scores or comments that cannot be accepted.

    `fields` maps a criterion key (or "comment_to_organizers" / "feedback_to_team") to its
    messages; `general` holds problems that belong to no field (a tampered criterion key).
    """

    def __init__(self, fields: Mapping[str, list[str]], general: Iterable[str] = ()) -> None:
        self.fields = {k: list(v) for k, v in fields.items()}
        self.general = list(general)
        super().__init__(self.general + [m for ms in self.fields.values() for m in ms])


# ---------------------------------------------------------------------------------------
# Scores
# ---------------------------------------------------------------------------------------


def parse_score(raw: object) -> float | None:
    """A typed score as a float; None when empty. ValueError when it is not a plain number.

    Accepted: digits with an optional sign and decimal point ("4", "3.5", " 2 "). Refused:
    text, exponents, "nan", "inf", booleans.
    """
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise ValueError("not a number")
    if isinstance(raw, int | float):
        value = float(raw)
    else:
        text = str(raw).strip()
        if not text:
            return None
        if len(text) > 32 or not _NUMBER.fullmatch(text):
            raise ValueError("not a number")
        value = float(text)
    if not math.isfinite(value):
        raise ValueError("not a number")
    return value


def format_score(value: float | None) -> str:
    """A stored score as typed: "4" for whole numbers, "3.5" otherwise, "" for None."""
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _scale(criterion: Criterion) -> str:
    return f"{format_score(criterion.min_score)}–{format_score(criterion.max_score)}"


def score_problem(criterion: Criterion, raw: object) -> tuple[float | None, str | None]:
    """(value, None) for an acceptable score (None when empty), else (None, message)."""
    try:
        value = parse_score(raw)
    except ValueError:
        shown = str(raw).strip()[:40]
        return None, f"{criterion.name}: “{shown}” is not a number. Use a number from " \
                     f"{_scale(criterion)}."
    if value is not None and not criterion.min_score <= value <= criterion.max_score:
        return None, (f"{criterion.name}: {format_score(value)} is outside the scale "
                      f"{_scale(criterion)}.")
    return value, None


def pure_criteria(rubric: Rubric) -> list[scoring.Criterion]:
    """The rubric's criteria as the pure scoring module's dataclasses."""
    return [scoring.Criterion(key=c.key, weight=c.weight, min=c.min_score, max=c.max_score)
            for c in rubric.criteria]


def review_score_of(rubric: Rubric, scores: Mapping[str, float | None]) -> float | None:
    """The review's 0-100 score under `rubric` (METHODS 5); None unless complete.

    Scores for keys the rubric does not have are ignored (a review kept from an older
    rubric version); the caller has validated the rest.
    """
    known = {c.key for c in rubric.criteria}
    try:
        return scoring.review_score(pure_criteria(rubric),
                                    {k: v for k, v in scores.items() if k in known})
    except ValueError:
        return None


def stored_scores(review: Review | None) -> dict[str, float]:
    """criterion key -> score of a stored review."""
    return {s.criterion_key: s.score for s in review.scores} if review is not None else {}


def _clean_text(value: str | None) -> str:
    return (value or "").replace("\r\n", "\n").replace("\r", "\n").strip()


# ---------------------------------------------------------------------------------------
# Who may score what
# ---------------------------------------------------------------------------------------


@dataclass
class Target:
    """An entry a judge may open: everything the checks loaded."""

    challenge: Challenge
    seat: JudgeSeat
    submission: Submission
    team: Team
    entry: SubmissionVersion | None


def _authenticated(user) -> bool:
    return user is not None and getattr(user, "is_authenticated", False) and (
        getattr(user, "id", None) is not None)


def load_target(session: Session, user, submission_id: int) -> Target:
    """The entry `user` is assigned to score, or a domain error.

    NotFound (never revealing the entry) unless the user holds the judge role, a seat in
    the entry's challenge and an assignment to it; Forbidden when the user has a conflict
    with the team; NotFound when the team has no submitted entry.
    """
    if not _authenticated(user) or not user.has_role("judge"):
        raise NotFound(NOT_FOUND)
    submission = session.get(Submission, submission_id)
    if submission is None:
        raise NotFound(NOT_FOUND)
    challenge = session.get(Challenge, submission.challenge_id)
    seat = access.judge_seat(session, user, challenge)
    if seat is None or not access.is_assigned(session, user.id, submission.id):
        raise NotFound(NOT_FOUND)
    team = session.get(Team, submission.team_id)
    if access.is_conflicted(session, user.id, team.id, challenge):
        raise Forbidden("You have a conflict of interest with this entry's team, so you may "
                        "not see or score it. Nothing was changed. Please tell the "
                        "organizers so they can assign it to another judge.")
    entry = submission_services.entry_version(session, submission)
    if entry is None:
        raise NotFound("This team has not submitted an entry, so there is nothing to score.")
    return Target(challenge=challenge, seat=seat, submission=submission, team=team,
                  entry=entry)


def judging_open(challenge: Challenge, now: datetime) -> bool:
    """Reviews are accepted strictly before `judging_closes` (at that instant: closed)."""
    return now < challenge.judging_closes


def _utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def require_open(challenge: Challenge, now: datetime) -> None:
    """Conflict when judging has closed (server time)."""
    if not judging_open(challenge, now):
        raise Conflict(f"Judging closed at {_utc(challenge.judging_closes)} (server time); "
                       f"reviews can no longer be saved or changed. Nothing was changed.")


def require_rubric(session: Session, challenge: Challenge) -> Rubric:
    """The current rubric (Conflict while the challenge has none)."""
    rubric = access.current_rubric(session, challenge)
    if rubric is None or not rubric.criteria:
        raise Conflict("This challenge has no rubric yet, so entries cannot be scored. "
                       "Please ask the organizers.")
    return rubric


def review_of(session: Session, user_id: int, submission_id: int, *,
              for_update: bool = False) -> Review | None:
    """The judge's review of the entry, if any."""
    stmt = select(Review).where(Review.user_id == user_id,
                                Review.submission_id == submission_id)
    if for_update:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return session.scalar(stmt)


def status_of(review: Review | None) -> str:
    """not_started | draft | submitted."""
    return "not_started" if review is None else review.status


# ---------------------------------------------------------------------------------------
# The queue
# ---------------------------------------------------------------------------------------


@dataclass
class QueueEntry:
    """One assigned entry in a judge's queue."""

    submission_id: int
    label: str
    title: str
    status: str
    conflicted: bool
    has_entry: bool
    score: float | None = None
    updated_at: datetime | None = None

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]


@dataclass
class ChallengeQueue:
    """A judge's work in one challenge."""

    challenge: Challenge
    seat: JudgeSeat
    entries: list[QueueEntry]
    open: bool
    rubric: Rubric | None
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def closes(self) -> datetime:
        return self.challenge.judging_closes

    @property
    def assigned(self) -> int:
        return len(self.entries)


def queue_for(session: Session, user, now: datetime | None = None) -> list[ChallengeQueue]:
    """Every challenge where `user` holds a judge seat, with the assigned entries.

    Ordered by closing time (soonest first); entries by label. Each entry carries its
    progress (not started / draft / submitted) and, when complete, the review score.
    """
    now = now or clock.now()
    if not _authenticated(user):
        return []
    seats = list(session.execute(
        select(JudgeSeat, Challenge).join(Challenge, Challenge.id == JudgeSeat.challenge_id)
        .where(JudgeSeat.user_id == user.id)
        .order_by(Challenge.judging_closes, Challenge.id)))
    if not seats:
        return []
    rows = session.execute(
        select(Assignment.challenge_id, Submission, Team, SubmissionVersion, Review)
        .join(Submission, Submission.id == Assignment.submission_id)
        .join(Team, Team.id == Submission.team_id)
        .outerjoin(SubmissionVersion, SubmissionVersion.id == Submission.entry_version_id)
        .outerjoin(Review, and_(Review.submission_id == Submission.id,
                                Review.user_id == user.id))
        .where(Assignment.user_id == user.id,
               Assignment.challenge_id.in_([c.id for _s, c in seats])))
    by_challenge: dict[int, list] = {}
    for challenge_id, submission, team, version, review in rows:
        by_challenge.setdefault(challenge_id, []).append((submission, team, version, review))
    queues = []
    for seat, challenge in seats:
        rubric = access.current_rubric(session, challenge)
        conflicted = access.conflicted_team_ids(session, user.id, challenge)
        entries = []
        for submission, team, version, review in by_challenge.get(challenge.id, []):
            score = None
            if review is not None and rubric is not None:
                score = review_score_of(rubric, stored_scores(review))
            entries.append(QueueEntry(
                submission_id=submission.id, label=entry_label(challenge, submission, team),
                title=version.title if version is not None else "",
                status=status_of(review), conflicted=team.id in conflicted,
                has_entry=version is not None, score=score,
                updated_at=review.updated_at if review is not None else None))
        entries.sort(key=lambda e: (e.label.casefold(), e.submission_id))
        counts = {key: 0 for key in STATUS_LABELS}
        for entry in entries:
            counts[entry.status] += 1
        queues.append(ChallengeQueue(challenge=challenge, seat=seat, entries=entries,
                                     open=judging_open(challenge, now), rubric=rubric,
                                     counts=counts))
    return queues


# ---------------------------------------------------------------------------------------
# The scoring page
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CriterionView:
    """A criterion as a judge sees it beside the entry."""

    key: str
    name: str
    text: str
    weight: float
    share: float  # percent of the review score
    min: float
    max: float
    levels: tuple[tuple[str, str], ...]
    guidelines: tuple[tuple[str, str], ...]  # (key, title)
    choices: tuple[int, ...]  # whole-number levels, when shown as radio buttons

    @property
    def radio(self) -> bool:
        return bool(self.choices)

    def level_word(self, value: int) -> str:
        return dict(self.levels).get(str(value), "")


def _whole(value: float) -> bool:
    return float(value).is_integer()


def criterion_views(rubric: Rubric, seat: JudgeSeat | None,
                    titles: Mapping[str, str]) -> list[CriterionView]:
    """The rubric's criteria for display; the text is chosen for the judge's panel."""
    total = sum(c.weight for c in rubric.criteria) or 1.0
    views = []
    for c in rubric.criteria:
        levels = tuple(sorted(((str(k), v) for k, v in (c.levels or {}).items()),
                              key=lambda kv: float(kv[0])))
        choices: tuple[int, ...] = ()
        if (_whole(c.min_score) and _whole(c.max_score)
                and c.max_score - c.min_score < RADIO_MAX_STEPS):
            choices = tuple(range(int(c.min_score), int(c.max_score) + 1))
        views.append(CriterionView(
            key=c.key, name=c.name, text=rubric_text_for(seat, c), weight=c.weight,
            share=100 * c.weight / total, min=c.min_score, max=c.max_score, levels=levels,
            guidelines=tuple((k, titles.get(k, k)) for k in (c.guidelines or [])),
            choices=choices))
    return views


@dataclass
class ScoringPage:
    """Everything the scoring page shows."""

    challenge: Challenge
    seat: JudgeSeat
    submission: Submission
    team: Team
    label: str
    blind: bool
    entry: SubmissionVersion
    files: list[SubmissionFile]
    needs: list[tuple[str, str]]
    members: list[str]
    rubric: Rubric | None
    criteria: list[CriterionView]
    review: Review | None
    values: dict[str, str]
    open: bool
    score: float | None

    @property
    def status(self) -> str:
        return status_of(self.review)

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def closes(self) -> datetime:
        return self.challenge.judging_closes

    @property
    def older_rubric(self) -> bool:
        """The review was made under an earlier rubric version than the current one."""
        return (self.review is not None and self.rubric is not None
                and self.review.rubric_id != self.rubric.id)


def scoring_page(session: Session, user, submission_id: int,
                 now: datetime | None = None) -> ScoringPage:
    """The entry, the rubric beside it and the judge's review (refusals as `load_target`)."""
    now = now or clock.now()
    target = load_target(session, user, submission_id)
    challenge = target.challenge
    titles = submission_services.guideline_titles(session, challenge)
    rubric = access.current_rubric(session, challenge)
    review = review_of(session, user.id, target.submission.id)
    scores = stored_scores(review)
    criteria = criterion_views(rubric, target.seat, titles) if rubric is not None else []
    blind = bool(challenge.blind_judging)
    members = [] if blind else [m.user.display_name for m in target.team.memberships]
    return ScoringPage(
        challenge=challenge, seat=target.seat, submission=target.submission,
        team=target.team, label=entry_label(challenge, target.submission, target.team),
        blind=blind, entry=target.entry,
        files=submission_services.files_of(session, target.entry),
        needs=[(k, titles.get(k, k)) for k in target.entry.needs],
        members=members, rubric=rubric, criteria=criteria, review=review,
        values={c.key: format_score(scores.get(c.key)) for c in criteria},
        open=judging_open(challenge, now),
        score=review_score_of(rubric, scores) if (rubric and review) else None)


# ---------------------------------------------------------------------------------------
# Saving
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SaveOutcome:
    """What a save did: "created" / "draft_saved" / "submitted" / "edited" / "unchanged"."""

    review: Review
    action: str
    score: float | None


def validate_scores(rubric: Rubric, scores: Mapping[str, object], *,
                    complete: bool) -> dict[str, float | None]:
    """Check typed scores against the rubric; return key -> value (None = not scored).

    Unknown (tampered) criterion keys, text, non-finite numbers and scores outside a scale
    are refused; `complete` also requires every criterion. Raises ReviewInvalid with every
    problem found.
    """
    by_key = {c.key: c for c in rubric.criteria}
    general = []
    unknown = sorted(str(k) for k in scores if k not in by_key)
    if unknown:
        shown = ", ".join(f"“{k[:64]}”" for k in unknown[:5])
        general.append(f"The form named criteria this rubric does not have ({shown}). "
                       f"Please reload the page and score again; nothing was changed.")
    problems: dict[str, list[str]] = {}
    values: dict[str, float | None] = {}
    for c in rubric.criteria:
        value, problem = score_problem(c, scores.get(c.key))
        if problem:
            problems.setdefault(c.key, []).append(problem)
        values[c.key] = value
    if complete:
        for c in rubric.criteria:
            if values[c.key] is None and c.key not in problems:
                problems.setdefault(c.key, []).append(
                    f"{c.name}: give a score from {_scale(c)} before submitting.")
    if general or problems:
        raise ReviewInvalid(problems, general)
    return values


def _validate_comments(comment: str, feedback: str) -> None:
    problems = {}
    if len(comment) > COMMENT_MAX:
        problems["comment_to_organizers"] = [f"Use at most {COMMENT_MAX} characters."]
    if len(feedback) > COMMENT_MAX:
        problems["feedback_to_team"] = [f"Use at most {COMMENT_MAX} characters."]
    if problems:
        raise ReviewInvalid(problems)


def create_review(session: Session, *, challenge_id: int, user_id: int, submission_id: int,
                  rubric_id: int, status: str, now: datetime) -> Review:
    """Insert a new review (flushed). The (user, submission) unique constraint decides a
    race: the loser gets Conflict and its savepoint is rolled back."""
    review = Review(challenge_id=challenge_id, user_id=user_id, submission_id=submission_id,
                    rubric_id=rubric_id, status=status, comment_to_organizers="",
                    feedback_to_team="", created_at=now, updated_at=now,
                    submitted_at=now if status == "submitted" else None)
    try:
        with session.begin_nested():
            session.add(review)
    except IntegrityError:
        raise Conflict("A review of this entry by you was saved at the same moment (another "
                       "window or a repeated click). Nothing was changed by this request; "
                       "please reload the page to see the saved review.") from None
    return review


def write_scores(session: Session, review: Review, values: Mapping[str, float | None],
                 rubric: Rubric) -> list[str]:
    """Make the review's scores exactly `values` (None = not scored); drop scores of keys
    the rubric no longer has. Returns the criterion keys whose score changed."""
    known = {c.key for c in rubric.criteria}
    existing = {s.criterion_key: s for s in review.scores}
    changed = []
    for key, row in list(existing.items()):
        if key not in known or values.get(key) is None:
            review.scores.remove(row)
            changed.append(key)
    session.flush()  # deletes before inserts (the review x key unique constraint)
    for key in [c.key for c in rubric.criteria]:
        value = values.get(key)
        if value is None:
            continue
        row = existing.get(key)
        if row is not None and row in review.scores:
            if row.score != value:
                row.score = value
                changed.append(key)
        else:
            review.scores.append(CriterionScore(criterion_key=key, score=value))
            changed.append(key)
    session.flush()
    return changed


def save_review(session: Session, user, submission_id: int, *,
                scores: Mapping[str, object], comment_to_organizers: str = "",
                feedback_to_team: str = "", submit: bool = False,
                now: datetime | None = None) -> SaveOutcome:
    """Save the judge's review of an entry as a draft, or submit it.

    `scores` maps criterion keys to what was typed ("" or None = not scored). A submitted
    review stays submitted: saving it again (with either button) edits it, requires every
    criterion, and is audited as "review.edited" with the score before and after. A save
    that changes nothing writes nothing ("unchanged"). Raises NotFound / Forbidden (see
    `load_target`), Conflict after judging closes, ReviewInvalid for bad scores.
    """
    now = now or clock.now()
    target = load_target(session, user, submission_id)
    challenge = target.challenge
    require_open(challenge, now)
    rubric = require_rubric(session, challenge)
    comment = _clean_text(comment_to_organizers)
    feedback = _clean_text(feedback_to_team)
    _validate_comments(comment, feedback)
    review = review_of(session, user.id, target.submission.id, for_update=True)
    was_submitted = review is not None and review.status == "submitted"
    values = validate_scores(rubric, scores, complete=submit or was_submitted)
    score_after = review_score_of(rubric, values)
    target_status = "submitted" if (submit or was_submitted) else "draft"

    if review is None:
        review = create_review(session, challenge_id=challenge.id, user_id=user.id,
                               submission_id=target.submission.id, rubric_id=rubric.id,
                               status=target_status, now=now)
        score_before = None
        created = True
    else:
        score_before = review_score_of(rubric, stored_scores(review)) if was_submitted \
            else None
        created = False

    changed = write_scores(session, review, values, rubric)
    comments_changed = (review.comment_to_organizers != comment
                        or review.feedback_to_team != feedback)
    review.comment_to_organizers = comment
    review.feedback_to_team = feedback
    moved = review.rubric_id != rubric.id
    review.rubric_id = rubric.id
    status_changed = review.status != target_status
    if not (created or changed or comments_changed or moved or status_changed):
        return SaveOutcome(review, "unchanged", score_after)
    review.status = target_status
    review.updated_at = now
    if target_status == "submitted" and review.submitted_at is None:
        review.submitted_at = now
    session.flush()
    ref = f"review:{review.id}"
    facts = dict(submission_id=target.submission.id, rubric_version=rubric.version)
    if was_submitted:
        audit.record(session, "review.edited", actor=user, target=ref, **facts,
                     score_before=score_before, score_after=score_after,
                     criteria_changed=sorted(set(changed)),
                     comments_changed=comments_changed)
        action = "edited"
    elif target_status == "submitted":
        audit.record(session, "review.submitted", actor=user, target=ref, **facts,
                     score=score_after)
        action = "submitted"
    else:
        action = "draft_saved"
    return SaveOutcome(review, action, score_after)
