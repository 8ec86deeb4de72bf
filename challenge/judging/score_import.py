"""`judging import-scores`: scores collected elsewhere (paper, a spreadsheet) as reviews.

File format (CONTRACTS.md "Judging"): CSV, UTF-8 (a byte-order mark is fine), header
``judge,team,criterion,score`` and optionally ``comment``, in any order and any case; one
row per judge x team x criterion. Cells that an export guarded against formulas (``'=..``,
``'-5``) are read back with `challenge.csvsafe.unguard`.

The whole file is checked before anything is written, and every problem is reported as
one line naming the file, the row (the header is row 1) and the column:

- the header: missing or repeated columns, unknown columns;
- `judge`: no account with that e-mail, or no judge seat in the challenge;
- `team`: no team of that name in the challenge (names compare ignoring case), or a team
  without a submitted entry;
- `criterion`: not a key of the challenge's current rubric;
- `score`: empty, not a number, or outside the criterion's scale;
- a judge with a conflict on the team (declared, organizer-added, or membership);
- the same judge x team x criterion twice.

Then, in the caller's transaction: missing assignments are created (source "import"), and
each judge x team becomes a review holding the file's scores. Its status is "submitted"
when the file scores every criterion of the current rubric for that judge x team, else
"draft"; a review that is already submitted stays submitted. A judge x team's comments (if
any) become the review's comment to organizers, distinct comments joined by blank lines
in file order. Importing the same file again changes nothing. Unlike scoring on the web,
an import is an organizer's action and is not bound to the judging window.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from challenge import audit, clock
from challenge.accounts.models import User
from challenge.accounts.services import normalize_email
from challenge.challenges.bundle import team_name_key
from challenge.challenges.models import Challenge, Submission, Team
from challenge.challenges.services import get_challenge
from challenge.csvsafe import unguard
from challenge.errors import ValidationFailed
from challenge.judging import access
from challenge.judging.models import Assignment, JudgeSeat
from challenge.judging.reviews import (
    create_review,
    parse_score,
    review_of,
    review_score_of,
    score_problem,
    stored_scores,
    write_scores,
)

REQUIRED = ("judge", "team", "criterion", "score")
OPTIONAL = ("comment",)
#: At most this many problems are listed; the rest are counted.
MAX_PROBLEMS = 200
COMMENT_MAX = 10_000


@dataclass
class _Row:
    line: int
    judge: User
    team: Team
    submission: Submission
    criterion: str
    score: float
    comment: str


@dataclass
class ImportResult:
    """What an import did (all zero when the file was already imported)."""

    rows: int = 0
    assignments_created: int = 0
    reviews_created: int = 0
    reviews_updated: int = 0
    submitted: int = 0
    drafts: int = 0
    unchanged: int = 0
    pairs: list[tuple[str, str]] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.assignments_created or self.reviews_created or self.reviews_updated)


def _decode(data: bytes | str, name: str) -> str:
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationFailed(f"{name}: the file is not UTF-8 text (byte {exc.start + 1} "
                               f"cannot be read). Save it as CSV UTF-8 and try again.") from None


def _where(name: str, row: int, column: str | None = None) -> str:
    return f"{name}: row {row}" + (f", column {column}" if column else "")


def _header(rows: list[tuple[int, list[str]]], name: str) -> dict[str, int]:
    if not rows:
        raise ValidationFailed(f"{name}: row 1: the file is empty; the first row must be the "
                               f"header {','.join(REQUIRED)}[,comment].")
    line, cells = rows[0]
    names = [unguard(c).strip().lower() for c in cells]
    problems = []
    columns: dict[str, int] = {}
    for i, column in enumerate(names):
        if column in columns:
            problems.append(f"{_where(name, line, column)}: the column is given twice.")
        elif column not in REQUIRED + OPTIONAL:
            shown = column[:40] or "(empty)"
            problems.append(f"{_where(name, line)}: unknown column “{shown}” (the columns "
                            f"are {', '.join(REQUIRED + OPTIONAL)}).")
        else:
            columns[column] = i
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        problems.append(f"{_where(name, line)}: missing column"
                        f"{'s' if len(missing) > 1 else ''} {', '.join(missing)}.")
    if problems:
        raise ValidationFailed(problems)
    return columns


def _read(text: str, name: str) -> list[tuple[int, list[str]]]:
    """(row number, cells) of the non-blank records; rows are numbered as a spreadsheet
    shows them (the header is row 1; a quoted line break stays within its row)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    rows = []
    try:
        for number, cells in enumerate(reader, start=1):
            if cells and any(c.strip() for c in cells):
                rows.append((number, cells))
    except csv.Error as exc:
        raise ValidationFailed(f"{name}: line {reader.line_num}: this is not valid CSV "
                               f"({exc}).") from None
    return rows


class _Lookup:
    """Judges, teams and the rubric of one challenge, each loaded once."""

    def __init__(self, session: Session, challenge: Challenge) -> None:
        self.session = session
        self.challenge = challenge
        self.rubric = access.current_rubric(session, challenge)
        self.criteria = {c.key: c for c in self.rubric.criteria} if self.rubric else {}
        seated = session.execute(
            select(User, JudgeSeat).join(JudgeSeat, JudgeSeat.user_id == User.id)
            .where(JudgeSeat.challenge_id == challenge.id))
        self.judges = {u.email.lower(): u for u, _seat in seated}
        self.teams = {team_name_key(t.name): t for t in session.scalars(
            select(Team).where(Team.challenge_id == challenge.id))}
        self.submissions = {s.team_id: s for s in session.scalars(
            select(Submission).where(Submission.challenge_id == challenge.id))}
        self._conflicts: dict[int, set[int]] = {}

    def user_exists(self, email: str) -> bool:
        return self.session.scalar(select(User.id).where(User.email == email)) is not None

    def conflicted(self, user: User, team: Team) -> bool:
        if user.id not in self._conflicts:
            self._conflicts[user.id] = access.conflicted_team_ids(self.session, user.id,
                                                                  self.challenge)
        return team.id in self._conflicts[user.id]


def _check_rows(lookup: _Lookup, rows: list[tuple[int, list[str]]], columns: dict[str, int],
                name: str) -> tuple[list[_Row], list[str]]:
    problems: list[str] = []
    good: list[_Row] = []
    seen: dict[tuple[int, int, str], int] = {}
    width = len(rows[0][1])
    for line, cells in rows[1:]:
        if len(cells) > width and any(c.strip() for c in cells[width:]):
            problems.append(f"{_where(name, line, str(width + 1))}: {len(cells)} cells, but "
                            f"the header has {width} columns.")
            continue
        cells = list(cells[:width]) + [""] * (width - len(cells))

        def cell(column: str, _cells=cells) -> str:
            return unguard(_cells[columns[column]]).strip() if column in columns else ""

        row_problems = []
        email = normalize_email(cell("judge"))
        judge = lookup.judges.get(email)
        if not email:
            row_problems.append(f"{_where(name, line, 'judge')}: the judge's e-mail is empty.")
        elif judge is None:
            why = ("has no judge seat in this challenge" if lookup.user_exists(email)
                   else "is not an account on this platform")
            row_problems.append(f"{_where(name, line, 'judge')}: “{email[:80]}” {why}.")
        team_name = cell("team")
        team = lookup.teams.get(team_name_key(team_name)) if team_name else None
        submission = None
        if not team_name:
            row_problems.append(f"{_where(name, line, 'team')}: the team name is empty.")
        elif team is None:
            row_problems.append(f"{_where(name, line, 'team')}: there is no team "
                                f"“{team_name[:80]}” in this challenge.")
        else:
            submission = lookup.submissions.get(team.id)
            if submission is None or submission.entry_version_id is None:
                row_problems.append(f"{_where(name, line, 'team')}: team “{team.name}” has no "
                                    f"submitted entry to score.")
                submission = None
        key = cell("criterion")
        criterion = lookup.criteria.get(key.lower())  # keys are lower-case by rule
        if not key:
            row_problems.append(f"{_where(name, line, 'criterion')}: the criterion is empty.")
        elif criterion is None:
            known = ", ".join(lookup.criteria) or "none: the challenge has no rubric"
            row_problems.append(f"{_where(name, line, 'criterion')}: unknown criterion "
                                f"“{key[:64]}” (the rubric's criteria: {known}).")
        score = None
        raw = cell("score")
        if not raw:
            row_problems.append(f"{_where(name, line, 'score')}: the score is empty.")
        elif criterion is None:
            try:
                parse_score(raw)
            except ValueError:
                row_problems.append(f"{_where(name, line, 'score')}: “{raw[:40]}” is not a "
                                    f"number.")
        else:
            score, problem = score_problem(criterion, raw)
            if problem:
                row_problems.append(f"{_where(name, line, 'score')}: {problem}")
        if judge is not None and team is not None and lookup.conflicted(judge, team):
            row_problems.append(f"{_where(name, line, 'judge')}: {judge.email} has a conflict "
                                f"of interest with team “{team.name}” and may not score it.")
        comment = cell("comment")
        if len(comment) > COMMENT_MAX:
            row_problems.append(f"{_where(name, line, 'comment')}: use at most {COMMENT_MAX} "
                                f"characters.")
        if judge is not None and team is not None and criterion is not None:
            first = seen.setdefault((judge.id, team.id, criterion.key), line)
            if first != line:
                row_problems.append(f"{_where(name, line)}: {judge.email} × “{team.name}” × "
                                    f"{criterion.key} is already given in row {first}.")
        if row_problems:
            problems.extend(row_problems)
        elif submission is not None and score is not None:
            good.append(_Row(line, judge, team, submission, criterion.key, score,
                             comment.replace("\r\n", "\n").replace("\r", "\n")))
    return good, problems


def _joined_comments(rows: list[_Row]) -> str | None:
    distinct = list(dict.fromkeys(r.comment for r in rows if r.comment))
    return "\n\n".join(distinct) if distinct else None


def import_scores(session: Session, slug: str, data: bytes | str, *, name: str,
                  actor=None, now: datetime | None = None) -> ImportResult:
    """Validate the whole file, then create assignments and reviews (flush only).

    Raises ValidationFailed listing every problem (one line each) and writes nothing then;
    NotFound for an unknown slug.
    """
    now = now or clock.now()
    challenge = get_challenge(session, slug)
    rows = _read(_decode(data, name), name)
    columns = _header(rows, name)
    lookup = _Lookup(session, challenge)
    if lookup.rubric is None or not lookup.criteria:
        raise ValidationFailed(f"{name}: challenge “{slug}” has no rubric yet, so there is "
                               f"nothing to score against.")
    good, problems = _check_rows(lookup, rows, columns, name)
    if problems:
        extra = len(problems) - MAX_PROBLEMS
        shown = problems[:MAX_PROBLEMS]
        if extra > 0:
            shown.append(f"{name}: … and {extra} more problem{'s' if extra > 1 else ''}.")
        raise ValidationFailed(shown)

    result = ImportResult(rows=len(good))
    rubric = lookup.rubric
    groups: dict[tuple[int, int], list[_Row]] = {}
    for row in good:
        groups.setdefault((row.judge.id, row.submission.id), []).append(row)
    assigned = {(a.user_id, a.submission_id) for a in session.scalars(
        select(Assignment).where(Assignment.challenge_id == challenge.id))}
    every_key = set(lookup.criteria)
    for (user_id, submission_id), group in groups.items():
        judge, team = group[0].judge, group[0].team
        result.pairs.append((judge.email, team.name))
        if (user_id, submission_id) not in assigned:
            session.add(Assignment(challenge_id=challenge.id, user_id=user_id,
                                   submission_id=submission_id, source="import",
                                   created_at=now))
            assigned.add((user_id, submission_id))
            result.assignments_created += 1
        review = review_of(session, user_id, submission_id, for_update=True)
        complete_in_file = {r.criterion for r in group} == every_key
        was_submitted = review is not None and review.status == "submitted"
        status = "submitted" if (complete_in_file or was_submitted) else "draft"
        before = stored_scores(review)
        values: dict[str, float | None] = {k: v for k, v in before.items() if k in every_key}
        values.update({r.criterion: r.score for r in group})
        if status == "submitted" and any(values.get(k) is None for k in every_key):
            # A review submitted under an earlier rubric version that lacks a newer
            # criterion: it cannot count under the current rubric until that is scored.
            status = "draft"
        comment = _joined_comments(group)
        created = review is None
        if created:
            review = create_review(session, challenge_id=challenge.id, user_id=user_id,
                                   submission_id=submission_id, rubric_id=rubric.id,
                                   status=status, now=now)
        changed = write_scores(session, review, values, rubric)
        comment_changed = comment is not None and review.comment_to_organizers != comment
        if comment_changed:
            review.comment_to_organizers = comment
        moved = review.rubric_id != rubric.id
        status_changed = review.status != status
        if not (created or changed or comment_changed or moved or status_changed):
            result.unchanged += 1
            continue
        review.rubric_id = rubric.id
        review.status = status
        review.updated_at = now
        if status == "submitted" and review.submitted_at is None:
            review.submitted_at = now
        session.flush()
        if created:
            result.reviews_created += 1
        else:
            result.reviews_updated += 1
        if status == "submitted":
            result.submitted += 1
        else:
            result.drafts += 1
        if was_submitted:
            audit.record(session, "review.edited", actor=actor, target=f"review:{review.id}",
                         submission_id=submission_id, rubric_version=rubric.version,
                         score_before=review_score_of(rubric, before),
                         score_after=review_score_of(rubric, values),
                         criteria_changed=sorted(set(changed)),
                         comments_changed=comment_changed, source="import")
    if result.changed:
        audit.record(session, "scores.imported", actor=actor,
                     target=f"challenge:{challenge.slug}", rows=result.rows,
                     assignments_created=result.assignments_created,
                     reviews_created=result.reviews_created,
                     reviews_updated=result.reviews_updated)
    session.flush()
    return result


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def describe(result: ImportResult, name: str) -> str:
    """A one-line summary for the command's stderr."""
    if not result.changed:
        return f"{name}: {_n(result.rows, 'row')} checked; nothing changed (already imported)."
    return (f"{name}: {_n(result.rows, 'row')} imported: "
            f"{_n(result.assignments_created, 'assignment')} created, "
            f"{_n(result.reviews_created, 'review')} created, {result.reviews_updated} "
            f"updated ({result.submitted} submitted, {_n(result.drafts, 'draft')}), "
            f"{result.unchanged} unchanged.")


__all__ = ["ImportResult", "describe", "import_scores"]
