"""Results: reviews from the database through `scoring.compute_results`, and publication.

- `compute(session, challenge)` loads the submitted reviews in one query (one plain row per
  review: its entry, its judge and its score on each current criterion), lays them out as
  a `scoring.ReviewTable` (numpy columns) and returns a `Computed` whose `as_json()` is the
  `judging results` document of CONTRACTS.md. A fixed handful of queries, whatever the
  size of the challenge.
- `publish(...)` writes a new, immutable `ResultSnapshot` version with its `ResultEntry`
  rows; public pages read snapshots only and never recompute. `release_feedback` is the one
  change a snapshot accepts afterwards; `team_feedback` is what a team may then read.

Decisions (see also the docstrings):

- Only reviews with status "submitted" count; drafts are work in progress.
- The current rubric (highest version) scores every review. A review written under an
  earlier version counts when it scores every current criterion within its current range;
  otherwise it is reported as incomplete (`incomplete_reviews`) and does not count.
- A review's panel is its judge's seat panel ("expert" for a judge without a seat, the
  CONTRACTS.md default). Panel weights come from Panel rows, else `Challenge.panels`.
- Entries are keyed by team name (unique in a challenge), judges by e-mail address.
- A publication that would change nothing is still a new version when asked for (the CLI
  is explicit); the web form sends the version it was shown (`based_on`), so a double
  click or a stale page cannot publish twice.
- A new version starts with feedback not released: releasing is a decision about the
  reviews as they stand, so the organizer takes it again for each version.
"""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

import numpy as np
from sqlalchemy import case, event, func, inspect, select
from sqlalchemy.orm import Session

from challenge import audit, clock
from challenge.accounts.models import User
from challenge.challenges.models import (
    Challenge,
    Membership,
    Submission,
    SubmissionVersion,
    Team,
)
from challenge.csvsafe import safe_row
from challenge.errors import Conflict, DomainError, NotFound, ValidationFailed
from challenge.judging import access, scoring
from challenge.judging.models import (
    CriterionScore,
    JudgeSeat,
    Panel,
    ResultEntry,
    ResultSnapshot,
    Review,
)

SUBMITTED = "submitted"
DEFAULT_PANEL = "expert"
AWARD_MAX = 120
AWARD_SUGGESTIONS = ("Grand prize", "Runner-up", "Patient panel's choice")
EXPORT_HEADER = ("rank", "team", "title", "reviews", "raw_score", "normalized_score",
                 "spread", "flagged", "award")


# --------------------------------------------------------------------------- errors


class UnscoredEntries(Conflict):
    """Publishing would leave submitted entries unranked, and nobody confirmed it."""

    def __init__(self, teams: list[str]) -> None:
        names = ", ".join(teams)
        super().__init__(
            f"These entries have no complete review: {names}. Publish only if you confirm "
            f"that they stay unranked.", field="confirm_unscored")
        self.teams = teams


class AlreadyPublished(Conflict):
    """The form was made for an older version: someone (or a double click) published."""

    def __init__(self, snapshot: ResultSnapshot) -> None:
        super().__init__(f"Version {snapshot.version} was published in the meantime. "
                         f"Check it below before publishing again.")
        self.snapshot = snapshot


# --------------------------------------------------------------------------- finding


def get_challenge(session: Session, slug: str) -> Challenge:
    """The challenge with this slug (published or not; callers decide who may see it)."""
    challenge = session.scalar(select(Challenge).where(Challenge.slug == slug))
    if challenge is None:
        raise NotFound("There is no challenge at this address.")
    return challenge


def latest_snapshot(session: Session, challenge: Challenge | int) -> ResultSnapshot | None:
    """The newest published version, or None before the first publication."""
    cid = challenge if isinstance(challenge, int) else challenge.id
    return session.scalar(select(ResultSnapshot).where(ResultSnapshot.challenge_id == cid)
                          .order_by(ResultSnapshot.version.desc()).limit(1))


def snapshot_version(session: Session, challenge: Challenge, version: int,
                     *options) -> ResultSnapshot:
    """One published version (NotFound when there is no such version); `options` are
    loader options, e.g. to leave the entries and the document unloaded."""
    snapshot = session.scalar(select(ResultSnapshot).options(*options).where(
        ResultSnapshot.challenge_id == challenge.id, ResultSnapshot.version == version))
    if snapshot is None:
        raise NotFound(f"There is no published version {version} of these results.")
    return snapshot


@dataclass(frozen=True)
class VersionInfo:
    """A line of the publication history (no entries loaded)."""

    version: int
    published_at: datetime
    published_by: str | None
    feedback_released: bool
    entries: int


def history(session: Session, challenge: Challenge) -> list[VersionInfo]:
    """Every published version, newest first, in one query."""
    counts = (select(ResultEntry.snapshot_id, func.count(ResultEntry.id).label("n"))
              .group_by(ResultEntry.snapshot_id).subquery())
    rows = session.execute(
        select(ResultSnapshot.version, ResultSnapshot.published_at, User.email,
               ResultSnapshot.feedback_released, func.coalesce(counts.c.n, 0))
        .outerjoin(User, User.id == ResultSnapshot.published_by)
        .outerjoin(counts, counts.c.snapshot_id == ResultSnapshot.id)
        .where(ResultSnapshot.challenge_id == challenge.id)
        .order_by(ResultSnapshot.version.desc()))
    return [VersionInfo(v, at, by, bool(released), int(n)) for v, at, by, released, n in rows]


# --------------------------------------------------------------------------- computing


@dataclass(frozen=True)
class EntryInfo:
    """A team's entry as the results name it."""

    submission_id: int
    team_id: int
    team: str
    title: str
    needs: tuple[str, ...]
    submitted: bool


@dataclass(frozen=True)
class ReviewScore:
    """One submitted review's rubric score (None when incomplete), for the charts."""

    judge: str
    team: str
    panel: str
    score: float | None


@dataclass(frozen=True)
class Computed:
    """Results computed now from the reviews as they stand (not published).

    ``table`` holds every submitted review, oldest first (judges by e-mail address, entries
    by team name), and ``review_scores`` their rubric scores (NaN when incomplete).
    """

    challenge: Challenge
    rubric_version: int
    criteria: tuple[scoring.Criterion, ...]
    criterion_names: dict[str, str]
    panels: dict[str, float]
    results: scoring.Results
    entries: dict[str, EntryInfo]  # by team name: every entry reviewed or submitted
    table: scoring.ReviewTable = field(repr=False, compare=False)
    review_scores: np.ndarray = field(repr=False, compare=False)
    judge_panels: dict[str, str] = field(default_factory=dict)
    unscored: tuple[EntryInfo, ...] = ()  # submitted entries with no complete review
    incomplete_reviews: int = 0
    judge_ids: Mapping[str, int] = field(default_factory=dict)  # e-mail -> user id

    @cached_property
    def reviews(self) -> tuple[ReviewScore, ...]:
        """Every submitted review with its rubric score (None when incomplete), oldest
        first."""
        t = self.table
        return tuple(
            ReviewScore(t.judges[j], t.entries[e], t.panels[p], None if math.isnan(s) else s)
            for j, e, p, s in zip(t.judge.tolist(), t.entry.tolist(), t.panel.tolist(),
                                  self.review_scores.tolist(), strict=True))

    def _scores_by(self, codes: np.ndarray, labels: tuple) -> dict[str, list[float]]:
        out: dict[str, list[float]] = defaultdict(list)
        for code, score in zip(codes.tolist(), self.review_scores.tolist(), strict=True):
            if not math.isnan(score):
                out[labels[code]].append(score)
        return out

    def scores_by_judge(self) -> dict[str, list[float]]:
        """Each judge's complete review scores, oldest first."""
        return self._scores_by(self.table.judge, self.table.judges)

    def scores_by_entry(self) -> dict[str, list[float]]:
        """Each entry's complete review scores (by team name), oldest first."""
        return self._scores_by(self.table.entry, self.table.entries)

    def as_json(self) -> dict[str, Any]:
        """The `judging results --format json` document (CONTRACTS.md), unrounded."""
        res = self.results
        return {
            "challenge": self.challenge.slug,
            "normalization": res.normalization,
            "entries": [
                {"team": e.entry, "title": self.entries[e.entry].title, "rank": e.rank,
                 "reviews": e.reviews, "raw_score": e.raw_score,
                 "normalized_score": e.normalized_score, "spread": e.spread,
                 "flagged": e.flagged}
                for e in res.entries
            ],
            "reliability": {
                "krippendorff_alpha": res.reliability.krippendorff_alpha,
                "per_criterion": dict(res.reliability.per_criterion),
            },
            "judges": [
                {"email": j.judge, "reviews": j.reviews, "mean": j.mean,
                 "leniency": j.leniency}
                for j in res.judges
            ],
            # Extra keys (CONTRACTS.md welcomes them).
            "reviews_for_alpha_08": res.reviews_for_alpha_08,
            "unscored": [{"team": e.team, "title": e.title} for e in self.unscored],
            "panels": dict(self.panels),
            "rubric_version": self.rubric_version,
            "incomplete_reviews": self.incomplete_reviews,
        }


def _panel_weights(session: Session, challenge: Challenge) -> dict[str, float]:
    rows = session.execute(select(Panel.name, Panel.weight)
                           .where(Panel.challenge_id == challenge.id)
                           .order_by(Panel.id)).all()
    if rows:
        return {name: float(weight) for name, weight in rows}
    configured = challenge.panels or {}
    if configured:
        return {str(k): float(v) for k, v in configured.items()}
    return dict(scoring.DEFAULT_PANELS)


def _entries(session: Session, challenge: Challenge) -> dict[int, EntryInfo]:
    """Every submission of the challenge with its team and entry version, by submission id."""
    rows = session.execute(
        select(Submission.id, Team.id, Team.name, Submission.entry_version_id,
               SubmissionVersion.title, SubmissionVersion.needs)
        .join(Team, Team.id == Submission.team_id)
        .outerjoin(SubmissionVersion, SubmissionVersion.id == Submission.entry_version_id)
        .where(Submission.challenge_id == challenge.id))
    return {
        sid: EntryInfo(submission_id=sid, team_id=tid, team=name, title=title or name,
                       needs=tuple(needs or ()), submitted=entry_id is not None)
        for sid, tid, name, entry_id, title, needs in rows
    }


def _review_rows(session: Session, challenge: Challenge, keys: list[str]) -> list:
    """Every submitted review of the challenge, oldest first, as one plain row: submission
    id, judge's user id, then its score on each of `keys` (None when not scored)."""
    per_key = [func.max(case((CriterionScore.criterion_key == key, CriterionScore.score)))
               for key in keys]
    return session.execute(
        select(Review.submission_id, Review.user_id, *per_key)
        .join(Submission, Submission.id == Review.submission_id)
        .outerjoin(CriterionScore, CriterionScore.review_id == Review.id)
        .where(Review.challenge_id == challenge.id, Review.status == SUBMITTED,
               Submission.challenge_id == challenge.id)
        .group_by(Review.id, Review.submission_id, Review.user_id)
        .order_by(Review.id)).all()


def _reviewers(session: Session, challenge: Challenge) -> dict[int, tuple[str, str]]:
    """User id -> (e-mail, seat panel) of everybody with a submitted review."""
    reviewers = select(Review.user_id).where(Review.challenge_id == challenge.id,
                                             Review.status == SUBMITTED)
    rows = session.execute(
        select(User.id, User.email, Panel.name)
        .outerjoin(JudgeSeat, (JudgeSeat.challenge_id == challenge.id)
                   & (JudgeSeat.user_id == User.id))
        .outerjoin(Panel, Panel.id == JudgeSeat.panel_id)
        .where(User.id.in_(reviewers)))
    return {uid: (email, panel or DEFAULT_PANEL) for uid, email, panel in rows}


def compute(session: Session, challenge: Challenge) -> Computed:
    """Compute the results of `challenge` from its submitted reviews (nothing is written).

    Raises DomainError when the challenge has no rubric yet or its set-up cannot be scored
    (for example a panel weight of 0).
    """
    rubric = access.current_rubric(session, challenge)
    if rubric is None or not rubric.criteria:
        raise DomainError(f"Challenge {challenge.slug} has no rubric yet, so there is "
                          f"nothing to compute.")
    try:
        criteria = tuple(scoring.Criterion(key=c.key, weight=float(c.weight),
                                           min=float(c.min_score), max=float(c.max_score))
                         for c in rubric.criteria)
    except ValueError as exc:
        raise DomainError(f"The rubric cannot be used: {exc}") from exc
    panels = _panel_weights(session, challenge)
    entries = _entries(session, challenge)
    reviewers = _reviewers(session, challenge)
    rows = _review_rows(session, challenge, [c.key for c in criteria])

    columns = list(zip(*rows, strict=True)) or [()] * (2 + len(criteria))
    submission_ids = np.array(columns[0], dtype=np.int64)
    user_ids = np.array(columns[1], dtype=np.int64)
    scores = np.array(columns[2:], dtype=float).T.reshape(-1, len(criteria))
    # Scores of criteria the current rubric no longer has, or outside its range, come from
    # an earlier rubric version: the review is incomplete under this one.
    lows = np.array([c.min for c in criteria])
    highs = np.array([c.max for c in criteria])
    scores[~((scores >= lows) & (scores <= highs))] = np.nan

    submissions, entry = np.unique(submission_ids, return_inverse=True)
    users, judge = np.unique(user_ids, return_inverse=True)
    judge, entry = judge.reshape(-1), entry.reshape(-1)
    emails = [reviewers[uid][0] for uid in users.tolist()]
    seat_panels = [reviewers[uid][1] for uid in users.tolist()]
    # Judges (and their panels) in the order of their first review.
    first_review = np.unique(judge, return_index=True)[1]
    in_order = np.argsort(first_review, kind="stable").tolist()
    judge_ids = {emails[j]: int(users[j]) for j in in_order}
    judge_panels = {emails[j]: seat_panels[j] for j in in_order}
    panel_names = list(dict.fromkeys(judge_panels.values()))
    for name in panel_names:
        if name not in panels:
            panels[name] = float((challenge.panels or {}).get(name, 1.0))
    panel_of_judge = np.array([panel_names.index(p) for p in seat_panels], dtype=np.int64)

    table = scoring.ReviewTable(
        judges=tuple(emails), entries=tuple(entries[s].team for s in submissions.tolist()),
        panels=tuple(panel_names), judge=judge, entry=entry,
        panel=panel_of_judge[judge], scores=scores)
    try:
        review_scores = scoring.review_scores(criteria, scores)
        results = scoring.compute_table(criteria, table, challenge.normalization or "zscore",
                                        panels)
    except ValueError as exc:
        raise DomainError(f"The results cannot be computed: {exc}") from exc

    by_team = {info.team: info for info in entries.values()}
    ranked = {e.entry for e in results.entries}
    unscored = tuple(sorted((info for info in entries.values()
                             if info.submitted and info.team not in ranked),
                            key=lambda i: i.team.casefold()))
    return Computed(
        challenge=challenge, rubric_version=rubric.version, criteria=criteria,
        criterion_names={c.key: c.name for c in rubric.criteria}, panels=panels,
        results=results, entries=by_team, table=table, review_scores=review_scores,
        judge_panels=judge_panels, unscored=unscored,
        incomplete_reviews=int(np.isnan(review_scores).sum()), judge_ids=judge_ids)


def alpha_explanation(alpha: float | None, reviews_needed: int | None) -> str:
    """What the reliability figure means, in plain words, for organizers."""
    if alpha is None:
        return ("Agreement between judges cannot be measured yet: it needs entries that at "
                "least two judges have reviewed, with some difference between scores.")
    if alpha >= scoring.TARGET_ALPHA:
        level = "good: the judges largely agree on which entries are stronger"
    elif alpha >= 0.667:
        level = "fair: the judges agree in broad lines, but single reviews still vary a lot"
    elif alpha > 0:
        level = ("low: the judges often disagree, so the ranking depends noticeably on who "
                 "reviewed which entry")
    else:
        level = ("none: the judges agree no more than chance would, so the ranking mostly "
                 "reflects who reviewed which entry")
    text = (f"Krippendorff's alpha is {alpha:.2f} (1 = perfect agreement, 0 = no more than "
            f"chance). Agreement is {level}.")
    if reviews_needed is not None and alpha < scoring.TARGET_ALPHA:
        text += (f" About {reviews_needed} reviews per entry would reach alpha 0.8 "
                 f"(Spearman–Brown prediction from the agreement of single reviews).")
    return text


# --------------------------------------------------------------------------- publishing


def parse_award_options(session: Session, challenge: Challenge,
                        options: Iterable[str]) -> dict[str, str]:
    """`TEAM=AWARD` strings to a dict. A team name may itself contain "=": the split is
    made after the longest prefix that names a team of the challenge (else at the first
    "="). Raises ValidationFailed naming every option without "="."""
    names = set(session.scalars(select(Team.name).where(Team.challenge_id == challenge.id)))
    awards: dict[str, str] = {}
    problems = []
    for option in options:
        if "=" not in option:
            problems.append(f"--award {option!r}: write it as TEAM=AWARD")
            continue
        cuts = [i for i, ch in enumerate(option) if ch == "="]
        known = [i for i in cuts if option[:i] in names]
        cut = known[-1] if known else cuts[0]
        awards[option[:cut]] = option[cut + 1:]
    if problems:
        raise ValidationFailed(problems)
    return awards


def clean_awards(awards: Mapping[str, str] | None, computed: Computed) -> dict[str, str]:
    """Awards by team name, trimmed; empty ones dropped. Every problem is named."""
    ranked = {e.entry for e in computed.results.entries}
    unscored = {e.team for e in computed.unscored}
    out: dict[str, str] = {}
    problems = []
    for team, award in (awards or {}).items():
        text = " ".join(str(award or "").split())
        if not text:
            continue
        if team in unscored:
            problems.append(f"Award for {team!r}: this entry has no complete review, so it "
                            f"has no rank to award.")
        elif team not in ranked:
            problems.append(f"Award for {team!r}: no ranked entry of "
                            f"{computed.challenge.slug} has this team name.")
        elif len(text) > AWARD_MAX:
            problems.append(f"Award for {team!r}: use at most {AWARD_MAX} characters.")
        else:
            out[team] = text
    if problems:
        raise ValidationFailed(problems)
    return out


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def publish(session: Session, challenge: Challenge, actor=None,
            awards: Mapping[str, str] | None = None, confirm_unscored: bool = False, *,
            based_on: int | None = None) -> ResultSnapshot:
    """Write a new snapshot version of the results as computed now (immutable).

    `awards` maps team names to the award text shown beside them. When submitted entries
    have no complete review the publication is refused (UnscoredEntries, naming them)
    unless `confirm_unscored`; they are then left out of the ranking and listed in the
    snapshot's data. `based_on` is the latest version the person saw (the web form): when
    a newer one exists, AlreadyPublished is raised and nothing is written.
    """
    # Serialise publications of one challenge (PostgreSQL row lock; SQLite's writes begin
    # IMMEDIATE already), so two cannot take the same version number.
    session.execute(select(Challenge.id).where(Challenge.id == challenge.id).with_for_update())
    latest = latest_snapshot(session, challenge)
    if based_on is not None and latest is not None and latest.version != based_on:
        raise AlreadyPublished(latest)
    computed = compute(session, challenge)
    cleaned = clean_awards(awards, computed)
    if not computed.results.entries:
        raise DomainError("There is nothing to publish yet: no entry has a complete review.")
    if computed.unscored and not confirm_unscored:
        raise UnscoredEntries([e.team for e in computed.unscored])

    now = clock.now()
    version = (latest.version if latest else 0) + 1
    data = computed.as_json()
    # The snapshot outlives accounts: judges are kept by user id, not by e-mail address.
    data["judges"] = [{"judge_id": computed.judge_ids.get(j.pop("email")), **j}
                      for j in data["judges"]]
    data.update({"title": challenge.title, "version": version,
                 "published_at": now.isoformat().replace("+00:00", "Z"), "awards": cleaned})
    snapshot = ResultSnapshot(
        challenge_id=challenge.id, version=version, published_at=now,
        published_by=getattr(actor, "id", None), normalization=computed.results.normalization,
        feedback_released=False, data=data)
    snapshot.entries = [
        ResultEntry(
            team_id=computed.entries[e.entry].team_id, team_name=e.entry,
            title=computed.entries[e.entry].title[:200], rank=e.rank, reviews=e.reviews,
            raw_score=_finite(e.raw_score), normalized_score=_finite(e.normalized_score),
            spread=_finite(e.spread), flagged=e.flagged, award=cleaned.get(e.entry, ""),
            needs=list(computed.entries[e.entry].needs))
        for e in computed.results.entries
    ]
    session.add(snapshot)
    session.flush()
    audit.record(session, "results.published", actor=actor,
                 actor_label=None if actor is not None else "cli",
                 target=f"challenge:{challenge.slug}", version=version,
                 entries=len(snapshot.entries), unranked=len(computed.unscored),
                 awards=len(cleaned))
    return snapshot


def release_feedback(session: Session, snapshot: ResultSnapshot, actor=None) -> ResultSnapshot:
    """Let each team read the feedback its reviews carry (audited; idempotent).

    Only the newest version can be released: teams read feedback under the newest one.
    """
    latest = latest_snapshot(session, snapshot.challenge_id)
    if latest is None or latest.id != snapshot.id:
        raise Conflict("Only the newest published version can release feedback.")
    if snapshot.feedback_released:
        return snapshot
    snapshot.feedback_released = True
    session.flush()
    audit.record(session, "results.feedback_released", actor=actor,
                 actor_label=None if actor is not None else "cli",
                 target=f"result_snapshot:{snapshot.id}", version=snapshot.version)
    return snapshot


def team_of(session: Session, user, challenge: Challenge) -> Team | None:
    """The user's team in this challenge, or None (anonymous users have none)."""
    if user is None or getattr(user, "id", None) is None:
        return None
    return session.scalar(select(Team).join(Membership, Membership.team_id == Team.id).where(
        Membership.challenge_id == challenge.id, Membership.user_id == user.id))


def team_feedback(session: Session, team: Team) -> list[str] | None:
    """The feedback texts of the team's submitted reviews, oldest review first, once the
    newest snapshot of its challenge has feedback released; None before that. No judge
    is named, and reviews without feedback are left out."""
    latest = latest_snapshot(session, team.challenge_id)
    if latest is None or not latest.feedback_released:
        return None
    texts = session.scalars(
        select(Review.feedback_to_team)
        .join(Submission, Submission.id == Review.submission_id)
        .where(Submission.team_id == team.id, Review.status == SUBMITTED,
               Review.feedback_to_team != "")
        .order_by(Review.id))
    return [t for t in texts if t.strip()]


# --------------------------------------------------------------------------- export


def export_csv(snapshot: ResultSnapshot) -> str:
    """A snapshot as CSV (EXPORT_HEADER), every cell formula-safe; numbers unrounded."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_HEADER)
    for e in snapshot.entries:
        writer.writerow(safe_row([
            e.rank, e.team_name, e.title, e.reviews,
            "" if e.raw_score is None else repr(e.raw_score),
            "" if e.normalized_score is None else repr(e.normalized_score),
            "" if e.spread is None else repr(e.spread),
            "true" if e.flagged else "false", e.award]))
    return out.getvalue()


# --------------------------------------------------------------------------- immutability


@event.listens_for(ResultEntry, "before_update")
def _entry_is_frozen(_mapper, _connection, _target) -> None:
    raise RuntimeError("published result entries are immutable")


@event.listens_for(ResultEntry, "before_delete")
def _entry_is_kept(_mapper, _connection, _target) -> None:
    raise RuntimeError("published result entries are never deleted")


@event.listens_for(ResultSnapshot, "before_update")
def _snapshot_is_frozen(mapper, _connection, target) -> None:
    state = inspect(target)
    changed = [attr.key for attr in mapper.column_attrs
               if attr.key != "feedback_released" and state.attrs[attr.key].history.has_changes()]
    if changed:
        raise RuntimeError(f"published results are immutable (tried to change "
                           f"{', '.join(changed)})")


@event.listens_for(ResultSnapshot, "before_delete")
def _snapshot_is_kept(_mapper, _connection, _target) -> None:
    raise RuntimeError("published results are never deleted")
