"""Survey responses as CSV (CONTRACTS.md, `surveys import-responses` / `export-responses`).

Layout: one column per active question key, in question order, except that a need
question ``K`` has two columns ``K.importance`` and ``K.satisfaction``; a multi question's
values are joined by ``;``; an empty cell means "not answered". An optional
``external_id`` column (the first column of an export) identifies a response across
imports.

Import rules:

* The whole file is checked before anything is written, and every problem is reported
  as one line naming the file, the row (as a spreadsheet numbers it: the header is row 1)
  and the column. Any problem rejects the whole file.
* The answers follow the same rules as the web form (`surveys.answers.clean`), including
  ``show_if``: a required question must be answered when it is shown, and an answer to a
  question that is hidden for that row is a problem (the web form would never collect it).
* Rows whose cells are all empty are skipped. Columns of the file may come in any order;
  a missing column means nobody answered that question (a required question that is
  always shown cannot be missing).
* Idempotency comes from ``external_id``: a row whose ``external_id`` is already stored
  with the same answers is left unchanged; with different answers, that response's answers
  are replaced (its date and consent version are kept). A row **without** ``external_id``
  has no identity, so it is always added as a new response: re-importing such a file adds
  its rows again.
* Imported responses are submitted, have source "import", no user, the survey's current
  consent version and today's date (UTC). Importing into a draft or closed survey is
  allowed (answers collected on paper or in another tool).
* Every text answer is screened for adverse events exactly like a web answer.

Cells are read through `challenge.csvsafe.unguard` and written through `formula_safe`, so
an export imports back into a copy of the survey with the same answers.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from challenge import audit, clock
from challenge.csvsafe import safe_row, unguard
from challenge.errors import Conflict, ValidationFailed
from surveys import answers as rules
from surveys.models import Answer, Question, Response, Survey, random_id
from surveys.services import add_answer

EXTERNAL_ID = "external_id"
EXTERNAL_ID_MAX = 120  # Response.external_id column length
NEED_PARTS = ("importance", "satisfaction")
REQUIRED = "an answer is required"
_CHUNK = 500  # ids per IN (...) list


@dataclass(frozen=True)
class ImportResult:
    """What an import did: rows added, updated (answers replaced), unchanged; texts flagged."""

    added: int
    updated: int
    unchanged: int
    flagged: int = 0


def columns(survey: Survey) -> list[str]:
    """The answer columns of the survey's active questions, in question order."""
    names: list[str] = []
    for question in survey.active_questions:
        if question.type == "need":
            names += [f"{question.key}.{part}" for part in NEED_PARTS]
        else:
            names.append(question.key)
    return names


# --- reading ----------------------------------------------------------------------------

@dataclass
class _Row:
    number: int  # spreadsheet row number (header = 1)
    external_id: str | None
    values: dict[str, Any]  # question key -> cleaned value (answered questions only)


def _records(csv_text: str, filename: str) -> list[list[str]]:
    reader = csv.reader(io.StringIO(csv_text, newline=""), strict=True)
    try:
        return list(reader)
    except csv.Error as exc:
        raise ValidationFailed(
            f"{filename}: line {reader.line_num}: not valid CSV ({exc})") from exc


def _blank(raw: Any) -> bool:
    if raw is None:
        return True
    if isinstance(raw, tuple):
        return all(_blank(part) for part in raw)
    return str(raw).strip() == ""


def _chain(question: Question, by_key: dict[str, Question]) -> list[dict]:
    """The show_if conditions `question` depends on, nearest first."""
    conditions, seen = [], set()
    condition = question.show_if
    while condition and condition.get("key") not in seen:
        seen.add(condition.get("key"))
        conditions.append(condition)
        parent = by_key.get(condition.get("key"))
        condition = parent.show_if if parent is not None else None
    return conditions


def _hidden_because(question: Question, values: dict[str, Any],
                    by_key: dict[str, Question]) -> str:
    """Why `question` is hidden, for the problem line."""
    for condition in _chain(question, by_key):
        given = values.get(condition["key"])
        shown = (condition["equals"] in given) if isinstance(given, list) else (
            given == condition["equals"])
        if not shown:
            return (f"the question is only shown when {condition['key']} is "
                    f"{condition['equals']!r}, so leave it empty")
    return "the question is hidden for this row, so leave it empty"


def _problem_column(question: Question, raw: Any, problem: str) -> str:
    """The column a problem belongs to (a need question has two)."""
    if question.type != "need":
        return question.key
    importance, satisfaction = (f"{question.key}.{part}" for part in NEED_PARTS)
    if problem.startswith("satisfaction"):
        return satisfaction
    if problem.startswith("importance"):
        return importance
    if problem != REQUIRED and isinstance(raw, tuple) and not _blank(raw[0]):
        return satisfaction  # "rate both": the satisfaction half is the empty one
    return importance


def _read_header(survey: Survey, header: list[str], filename: str, problems: list[str]):
    """Check the header; return (column index by name, external_id index, question
    accessors by key, keys whose columns are unusable, keys exempt from row-level
    "required" checks because the header already reported them)."""
    where = f"{filename}: row 1"
    questions = survey.active_questions
    known = {}
    for question in questions:
        if question.type == "need":
            for part in NEED_PARTS:
                known[f"{question.key}.{part}"] = question
        else:
            known[question.key] = question
    archived = {q.key for q in survey.questions if q.archived}
    need_keys = {q.key for q in questions if q.type == "need"}

    index: dict[str, int] = {}
    for i, raw_name in enumerate(header):
        name = raw_name.strip().lstrip("\ufeff")
        if not name:
            problems.append(f"{where}, column {i + 1}: the column has no name")
            continue
        if name in index:
            problems.append(f"{where}, column {name}: appears twice (columns "
                            f"{index[name] + 1} and {i + 1})")
            continue
        index[name] = i
        if name == EXTERNAL_ID or name in known:
            continue
        base = name.split(".", 1)[0]
        if name in need_keys:
            problems.append(f"{where}, column {name}: {name} is a need question; give two "
                            f"columns {name}.importance and {name}.satisfaction")
        elif name in archived or base in archived:
            problems.append(f"{where}, column {name}: the question {base!r} is archived; "
                            f"remove the column")
        else:
            problems.append(f"{where}, column {name}: unknown column (not a question of "
                            f"survey {survey.slug!r})")

    broken: set[str] = set()
    header_required: set[str] = set()
    for question in questions:
        names = ([f"{question.key}.{part}" for part in NEED_PARTS]
                 if question.type == "need" else [question.key])
        present = [n for n in names if n in index]
        if present and len(present) < len(names):
            for missing in (n for n in names if n not in index):
                problems.append(f"{where}, column {missing}: missing (a need question has "
                                f"both {names[0]} and {names[1]})")
            broken.add(question.key)
        elif not present and question.required and not question.show_if:
            problems.append(f"{where}, column {' and '.join(names)}: missing, and the "
                            f"question is required")
            header_required.add(question.key)
    return index, index.get(EXTERNAL_ID), broken, header_required


def _raw(question: Question, cells: Sequence[str], index: dict[str, int]) -> Any:
    def cell(name: str) -> str | None:
        i = index.get(name)
        return unguard(cells[i]) if i is not None else None

    if question.type == "need":
        parts = tuple(cell(f"{question.key}.{part}") for part in NEED_PARTS)
        return None if all(p is None for p in parts) else parts
    return cell(question.key)


def _parse(survey: Survey, csv_text: str, filename: str) -> list[_Row]:
    """Every row of the file, cleaned; raises ValidationFailed listing every problem."""
    records = _records(csv_text, filename)
    if not records or not any(cell.strip() for cell in records[0]):
        raise ValidationFailed(f"{filename}: row 1: no header row (expected columns such as "
                               f"{', '.join([EXTERNAL_ID, *columns(survey)][:4])})")
    problems: list[str] = []
    header = records[0]
    width = len(header)
    index, ext_index, broken, header_required = _read_header(survey, header, filename,
                                                             problems)
    questions = survey.active_questions
    by_key = {q.key: q for q in questions}
    seen_ids: dict[str, int] = {}
    rows: list[_Row] = []
    for number, cells in enumerate(records[1:], start=2):
        if not any(cell.strip() for cell in cells):
            continue
        where = f"{filename}: row {number}"
        if len(cells) > width and any(cell.strip() for cell in cells[width:]):
            problems.append(f"{where}, column {width + 1}: {len(cells)} cells, but the header "
                            f"has {width} columns")
            continue
        cells = list(cells[:width]) + [""] * (width - len(cells))

        external_id = None
        if ext_index is not None:
            external_id = unguard(cells[ext_index]).strip() or None
            if external_id is not None and len(external_id) > EXTERNAL_ID_MAX:
                problems.append(f"{where}, column {EXTERNAL_ID}: keep it under "
                                f"{EXTERNAL_ID_MAX + 1} characters")
            elif external_id is not None and external_id in seen_ids:
                problems.append(f"{where}, column {EXTERNAL_ID}: {external_id!r} is also on "
                                f"row {seen_ids[external_id]}")
            elif external_id is not None:
                seen_ids[external_id] = number

        values: dict[str, Any] = {}
        uncertain: set[str] = set(broken)  # answers we could not read
        for question in questions:
            if question.key in broken:
                continue
            raw = _raw(question, cells, index)
            depends = {c["key"] for c in _chain(question, by_key)}
            if depends & uncertain:
                visible = None  # unknown: a condition's answer has a problem of its own
            else:
                visible = rules.is_visible(question, values, by_key)
            if visible is False:
                if not _blank(raw):
                    column = question.key
                    if isinstance(raw, tuple):
                        part = NEED_PARTS[0] if not _blank(raw[0]) else NEED_PARTS[1]
                        column = f"{question.key}.{part}"
                    problems.append(f"{where}, column {column}: "
                                    f"{_hidden_because(question, values, by_key)}")
                continue
            cleaned = rules.clean(question, raw)
            if cleaned.problem is not None:
                uncertain.add(question.key)
                if cleaned.problem == REQUIRED and (
                    visible is None or question.key in header_required
                ):
                    continue
                column = _problem_column(question, raw, cleaned.problem)
                problems.append(f"{where}, column {column}: {cleaned.problem}")
                continue
            if cleaned.value is not None and cleaned.value != []:
                values[question.key] = cleaned.value
        rows.append(_Row(number, external_id, values))
    if problems:
        raise ValidationFailed(problems)
    return rows


# --- writing ----------------------------------------------------------------------------

def _comparable(question: Question, value: Any) -> Any:
    if question.type == "multi":
        return tuple(sorted(set(value)))
    if question.type in ("scale", "number"):
        return float(value)
    return value


def _same(questions: Iterable[Question], new: dict[str, Any], old: dict[str, Any]) -> bool:
    return all(
        (new.get(q.key) is None) == (old.get(q.key) is None)
        and (new.get(q.key) is None
             or _comparable(q, new[q.key]) == _comparable(q, old[q.key]))
        for q in questions
    )


def _chunks(items: Sequence, size: int = _CHUNK):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _stored_values(session: Session, questions: Sequence[Question],
                   response_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Current answers (question key -> value) of the given responses."""
    by_id = {q.id: q for q in questions}
    grouped: dict[str, dict[int, list]] = defaultdict(lambda: defaultdict(list))
    for chunk in _chunks(list(response_ids)):
        for row in session.execute(
            select(Answer.response_id, Answer.question_id, Answer.choice, Answer.number,
                   Answer.text, Answer.importance, Answer.satisfaction)
            .where(Answer.response_id.in_(chunk), Answer.question_id.in_(list(by_id)))
            .order_by(Answer.id)
        ):
            grouped[row.response_id][row.question_id].append(row)
    return {
        response_id: {by_id[qid].key: rules.value_from_rows(by_id[qid], rows)
                      for qid, rows in per_question.items()}
        for response_id, per_question in grouped.items()
    }


def _add_answers(session: Session, survey: Survey, response_id: str,
                 questions: Sequence[Question], values: dict[str, Any]) -> int:
    """Insert the Answer rows of one response; screen its texts. Returns texts flagged."""
    flagged = 0
    for question in questions:
        rows = add_answer(session, response_id, question, values.get(question.key),
                          source="survey-import")
        flagged += sum(1 for row in rows if row.safety_flag_id is not None)
    return flagged


def import_responses(session: Session, survey: Survey, csv_text: str, *,
                     filename: str) -> ImportResult:
    """Import submitted responses from CSV text (see the module docstring for the rules).

    Raises ValidationFailed listing every problem (nothing is written then), or Conflict
    when a concurrent import stored the same external ids first. Flushes only.
    """
    rows = _parse(survey, csv_text, filename)
    questions = survey.active_questions
    wanted_ids = {row.external_id for row in rows if row.external_id is not None}
    existing: dict[str, str] = {}
    if wanted_ids:
        existing = {
            external_id: response_id
            for external_id, response_id in session.execute(
                select(Response.external_id, Response.id).where(
                    Response.survey_id == survey.id, Response.external_id.is_not(None)))
            if external_id in wanted_ids
        }
    stored = _stored_values(session, questions, list(existing.values()))

    added = updated = unchanged = flagged = 0
    replace: list[tuple[str, _Row]] = []
    today = clock.today_utc()
    try:
        for row in rows:
            response_id = existing.get(row.external_id) if row.external_id else None
            if response_id is not None:
                if _same(questions, row.values, stored.get(response_id, {})):
                    unchanged += 1
                else:
                    replace.append((response_id, row))
                continue
            response_id = random_id()
            session.add(Response(
                id=response_id, survey_id=survey.id, user_id=None, status="submitted",
                source="import", consent_version=survey.consent_version or 1,
                submitted_on=today, external_id=row.external_id,
            ))
            flagged += _add_answers(session, survey, response_id, questions, row.values)
            added += 1
        question_ids = [q.id for q in questions]
        for chunk in _chunks(replace):
            chunk_ids = [response_id for response_id, _ in chunk]
            session.execute(delete(Answer).where(Answer.response_id.in_(chunk_ids),
                                                 Answer.question_id.in_(question_ids)))
            # Their condensed copies for the insight report are stale now (see
            # surveys/insight_counts.py): the next report rewrites them.
            session.execute(update(Response.__table__)
                            .where(Response.id.in_(chunk_ids)).values(tally_layout=None))
        for response_id, row in replace:
            flagged += _add_answers(session, survey, response_id, questions, row.values)
            updated += 1
        if added or updated:
            audit.record(session, "survey.responses_imported", target=f"survey:{survey.slug}",
                         added=added, updated=updated, unchanged=unchanged, flagged=flagged)
        session.flush()
    except IntegrityError as exc:
        raise Conflict(f"{filename}: another import stored some of these external ids at "
                       f"the same time; nothing was imported, please try again") from exc
    return ImportResult(added=added, updated=updated, unchanged=unchanged, flagged=flagged)


# --- export -----------------------------------------------------------------------------

def export_responses_csv(session: Session, survey: Survey) -> str:
    """Submitted responses as CSV in the import layout, `external_id` first, formula-safe.

    One row per response, ordered by submission date then id; answers to archived
    questions are left out. Loads every answer in one query.
    """
    questions = survey.active_questions
    responses = session.execute(
        select(Response.id, Response.external_id)
        .where(Response.survey_id == survey.id, Response.status == "submitted")
        .order_by(Response.submitted_on, Response.id)
    ).all()
    grouped: dict[str, dict[int, list]] = defaultdict(lambda: defaultdict(list))
    if responses and questions:
        for row in session.execute(
            select(Answer.response_id, Answer.question_id, Answer.choice, Answer.number,
                   Answer.text, Answer.importance, Answer.satisfaction)
            .join(Response, Answer.response_id == Response.id)
            .where(Response.survey_id == survey.id, Response.status == "submitted",
                   Answer.question_id.in_([q.id for q in questions]))
            .order_by(Answer.id)
        ):
            grouped[row.response_id][row.question_id].append(row)

    out = io.StringIO()
    # CRLF (RFC 4180) like every other export: the csv module quotes a cell holding any
    # character of the line terminator, so a lone CR inside an answer stays in its quoted
    # cell instead of starting a new spreadsheet row with an unguarded formula.
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(safe_row([EXTERNAL_ID, *columns(survey)]))
    for response in responses:
        answers = grouped.get(response.id, {})
        cells: list[str] = [response.external_id or ""]
        for question in questions:
            text = rules.as_text(question, rules.value_from_rows(question,
                                                                 answers.get(question.id, [])))
            cells.extend(text if isinstance(text, tuple) else (text,))
        writer.writerow(safe_row(cells))
    return out.getvalue()
