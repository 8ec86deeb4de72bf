"""Survey definitions as JSON (CONTRACTS.md): validate the whole document, then apply it.

Used by `surveys import`/`export` and by the organizer's builder, so both follow the same
rules. `validate` returns every problem with its JSON path; `apply` creates or updates a
survey and its questions in the given Session (flush only).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from challenge import clock
from challenge.errors import ValidationFailed
from surveys.models import QUESTION_TYPES, SURVEY_STATUSES, Answer, Question, Survey

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,79}$")
KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
SURVEY_KEYS = {
    "slug", "title", "intro", "anonymous", "status", "min_cell_size", "questions",
    "sponsor_disclosure", "usage", "consent_text", "opens_at", "closes_at",
}
QUESTION_KEYS = {
    "key", "type", "text", "segment", "required", "options", "show_if", "category", "min",
    "max", "section", "help", "min_label", "max_label",
}
CHOICE_TYPES = ("single", "multi")
TEXT_LIMITS = {"category": 64, "section": 120, "help": 2000, "min_label": 80, "max_label": 80}

DEFAULT_CONSENT = (
    "I agree to take part. My answers will be used to find what daily life with the "
    "condition lacks, and shared only as counts of at least the minimum group size. "
    "If I mention a medicine together with a side effect, that sentence will be passed to "
    "the sponsor's safety team, as the law requires. I can stop at any time."
)


def _parse_time(value: Any, path: str, problems: list[str]) -> datetime | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        problems.append(f"{path}: must be an ISO 8601 date-time such as 2027-01-10T00:00:00Z")
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        problems.append(f"{path}: {value!r} is not an ISO 8601 date-time")
        return None
    if parsed.tzinfo is None:
        problems.append(f"{path}: give a time zone (for example a trailing Z for UTC)")
        return None
    return parsed


def _validate_question(q: Any, i: int, earlier: dict[str, dict], problems: list[str]) -> None:
    path = f"questions[{i}]"
    if not isinstance(q, dict):
        problems.append(f"{path}: must be an object")
        return
    for unknown in sorted(set(q) - QUESTION_KEYS):
        problems.append(f"{path}.{unknown}: unknown key")
    key = q.get("key")
    if not isinstance(key, str) or not KEY_RE.match(key):
        problems.append(f"{path}.key: must be lower-case letters, digits or _ and start with "
                        f"a letter (got {key!r})")
    elif key in earlier:
        problems.append(f"{path}.key: {key!r} is used twice")
    elif key == "external_id":
        problems.append(f"{path}.key: 'external_id' is reserved (a column of response CSV)")
    qtype = q.get("type")
    if qtype not in QUESTION_TYPES:
        problems.append(f"{path}.type: must be one of {', '.join(QUESTION_TYPES)} "
                        f"(got {qtype!r})")
    text = q.get("text")
    if not isinstance(text, str) or not text.strip():
        problems.append(f"{path}.text: is required")
    elif len(text) > 1000:
        problems.append(f"{path}.text: keep it under 1000 characters")
    for flag in ("segment", "required"):
        if flag in q and not isinstance(q[flag], bool):
            problems.append(f"{path}.{flag}: must be true or false")
    options = q.get("options")
    if qtype in CHOICE_TYPES:
        if not isinstance(options, list) or not options:
            problems.append(f"{path}.options: a {qtype} question needs at least one option")
        else:
            values = set()
            for j, opt in enumerate(options):
                opath = f"{path}.options[{j}]"
                if not isinstance(opt, dict) or set(opt) - {"value", "label"}:
                    problems.append(f"{opath}: must be {{\"value\": ..., \"label\": ...}}")
                    continue
                value, label = opt.get("value"), opt.get("label", opt.get("value"))
                if not isinstance(value, str) or not value.strip() or ";" in value or (
                    len(value) > 120
                ):
                    problems.append(f"{opath}.value: must be non-empty text without ';'")
                elif value in values:
                    problems.append(f"{opath}.value: {value!r} is used twice")
                else:
                    values.add(value)
                if not isinstance(label, str) or not label.strip():
                    problems.append(f"{opath}.label: must be non-empty text")
    elif options not in (None, []):
        problems.append(f"{path}.options: only single and multi questions have options")
    if q.get("segment") and qtype != "single":
        problems.append(f"{path}.segment: only single-choice questions can be segments")
    if qtype in ("scale", "number"):
        low, high = q.get("min"), q.get("max")
        for name, bound in (("min", low), ("max", high)):
            if bound is not None and (isinstance(bound, bool)
                                      or not isinstance(bound, int | float)):
                problems.append(f"{path}.{name}: must be a number")
        if qtype == "scale":
            low = 1 if low is None else low
            high = 5 if high is None else high
            if not (isinstance(low, int) and isinstance(high, int)) or not 0 <= low < high <= 10:
                problems.append(f"{path}: a scale runs between whole numbers, min < max, "
                                f"within 0..10")
        elif isinstance(low, int | float) and isinstance(high, int | float) and low > high:
            problems.append(f"{path}: min must not be greater than max")
    elif "min" in q or "max" in q:
        problems.append(f"{path}: only scale and number questions have min and max")
    show_if = q.get("show_if")
    if show_if is not None:
        if not isinstance(show_if, dict) or set(show_if) != {"key", "equals"}:
            problems.append(f"{path}.show_if: must be {{\"key\": ..., \"equals\": ...}}")
        else:
            # the key may be any JSON value, the target's options too (already reported)
            target = earlier.get(show_if["key"]) if isinstance(show_if["key"], str) else None
            options_of_target = target.get("options") if target is not None else None
            if not isinstance(options_of_target, list):
                options_of_target = []
            if target is None:
                problems.append(f"{path}.show_if.key: {show_if['key']!r} is not an earlier "
                                f"question")
            elif target.get("type") not in CHOICE_TYPES:
                problems.append(f"{path}.show_if.key: {show_if['key']!r} must be a single or "
                                f"multi question")
            elif show_if["equals"] not in [o.get("value") for o in options_of_target
                                           if isinstance(o, dict)]:
                problems.append(f"{path}.show_if.equals: {show_if['equals']!r} is not an option "
                                f"of {show_if['key']!r}")
    for name, limit in TEXT_LIMITS.items():
        if name in q and not isinstance(q[name], str):
            problems.append(f"{path}.{name}: must be text")
        elif name in q and len(q[name]) > limit:
            problems.append(f"{path}.{name}: keep it under {limit} characters")


def validate(doc: Any) -> list[str]:
    """Every problem in a survey document, each naming its JSON path (empty when valid)."""
    if not isinstance(doc, dict):
        return ["the document must be a JSON object"]
    problems: list[str] = []
    for unknown in sorted(set(doc) - SURVEY_KEYS):
        problems.append(f"{unknown}: unknown key")
    slug = doc.get("slug")
    if not isinstance(slug, str) or not SLUG_RE.match(slug):
        problems.append(f"slug: must be 2-80 lower-case letters, digits or hyphens (got {slug!r})")
    title = doc.get("title")
    if not isinstance(title, str) or not title.strip():
        problems.append("title: is required")
    elif len(title) > 200:
        problems.append("title: keep it under 200 characters")
    for name in ("intro", "sponsor_disclosure", "usage", "consent_text"):
        if name in doc and not isinstance(doc[name], str):
            problems.append(f"{name}: must be text (Markdown)")
    if "anonymous" in doc and not isinstance(doc["anonymous"], bool):
        problems.append("anonymous: must be true or false")
    if doc.get("status", "draft") not in SURVEY_STATUSES:
        problems.append(f"status: must be one of {', '.join(SURVEY_STATUSES)}")
    size = doc.get("min_cell_size", 11)
    if isinstance(size, bool) or not isinstance(size, int) or not 3 <= size <= 1000:
        problems.append("min_cell_size: must be a whole number from 3 to 1000")
    opens = _parse_time(doc.get("opens_at"), "opens_at", problems)
    closes = _parse_time(doc.get("closes_at"), "closes_at", problems)
    if opens and closes and closes <= opens:
        problems.append("closes_at: must be after opens_at")
    questions = doc.get("questions", [])
    if not isinstance(questions, list):
        problems.append("questions: must be a list")
        return problems
    earlier: dict[str, dict] = {}
    for i, q in enumerate(questions):
        _validate_question(q, i, earlier, problems)
        if isinstance(q, dict) and isinstance(q.get("key"), str):
            earlier.setdefault(q["key"], q)
    return problems


def _question_fields(q: dict, position: int) -> dict:
    qtype = q["type"]
    return {
        "type": qtype,
        "text": q["text"].strip(),
        "help": q.get("help", ""),
        "section": q.get("section", ""),
        "category": q.get("category", ""),
        "options": [{"value": o["value"], "label": o.get("label", o["value"])}
                    for o in q.get("options") or []],
        "min_value": (q.get("min", 1) if qtype == "scale" else q.get("min")),
        "max_value": (q.get("max", 5) if qtype == "scale" else q.get("max")),
        "min_label": q.get("min_label", ""),
        "max_label": q.get("max_label", ""),
        "required": bool(q.get("required", False)),
        "segment": bool(q.get("segment", False)),
        "show_if": q.get("show_if"),
        "position": position,
        "archived": False,
    }


def answered_question_ids(session: Session, survey: Survey) -> set[int]:
    """Ids of the survey's questions that have at least one stored answer."""
    if survey.id is None:
        return set()
    ids = [q.id for q in survey.questions]
    if not ids:
        return set()
    return set(session.scalars(select(Answer.question_id).where(
        Answer.question_id.in_(ids)).group_by(Answer.question_id)))


def answered_options(session: Session, question: Question) -> set[str]:
    """Option values of a choice question that some answer uses."""
    return set(session.scalars(select(Answer.choice).where(
        Answer.question_id == question.id, Answer.choice.is_not(None)).group_by(Answer.choice)))


def apply(session: Session, doc: dict, *, actor=None) -> tuple[Survey, bool]:
    """Create or update the survey described by `doc`; returns (survey, changed).

    Questions are matched by key. A question that has answers is never deleted: if the
    document drops it, it is archived; its type cannot change and its answered options
    cannot be removed. Raises ValidationFailed listing every problem.
    """
    problems = validate(doc)
    if problems:
        raise ValidationFailed(problems)
    survey = session.scalar(select(Survey).where(Survey.slug == doc["slug"]))
    before = export(survey) if survey is not None else None
    now = clock.now()
    if survey is None:
        survey = Survey(slug=doc["slug"], created_at=now, updated_at=now, consent_version=1,
                        consent_text=DEFAULT_CONSENT)
        session.add(survey)
    answered = answered_question_ids(session, survey)
    by_key = {q.key: q for q in survey.questions}
    problems = []
    for i, q in enumerate(doc.get("questions", [])):
        existing = by_key.get(q["key"])
        if existing is not None and existing.id in answered:
            if existing.type != q["type"]:
                problems.append(f"questions[{i}].type: {q['key']!r} already has answers, so "
                                f"its type cannot change")
            elif q["type"] in CHOICE_TYPES:
                kept = {o["value"] for o in q.get("options") or []}
                lost = sorted(answered_options(session, existing) - kept)
                if lost:
                    problems.append(f"questions[{i}].options: {q['key']!r} has answers using "
                                    f"{', '.join(map(repr, lost))}; keep those options")
    if problems:
        raise ValidationFailed(problems)

    survey.title = doc["title"].strip()
    survey.intro = doc.get("intro", survey.intro or "")
    survey.sponsor_disclosure = doc.get("sponsor_disclosure", survey.sponsor_disclosure or "")
    survey.usage = doc.get("usage", survey.usage or "")
    new_consent = doc.get("consent_text", survey.consent_text or DEFAULT_CONSENT)
    if survey.consent_text and new_consent != survey.consent_text and before is not None:
        survey.consent_version = (survey.consent_version or 1) + 1
    survey.consent_text = new_consent
    survey.anonymous = doc.get("anonymous", True if before is None else survey.anonymous)
    survey.status = doc.get("status", survey.status or "draft")
    survey.min_cell_size = doc.get("min_cell_size", survey.min_cell_size or 11)
    survey.opens_at = _parse_time(doc.get("opens_at"), "", [])
    survey.closes_at = _parse_time(doc.get("closes_at"), "", [])

    wanted = [q["key"] for q in doc.get("questions", [])]
    for position, q in enumerate(doc.get("questions", [])):
        fields = _question_fields(q, position)
        question = by_key.get(q["key"])
        if question is None:
            question = Question(key=q["key"], **fields)
            survey.questions.append(question)
        else:
            for name, value in fields.items():
                setattr(question, name, value)
    for question in list(survey.questions):
        if question.key in wanted:
            continue
        if question.id in answered:
            if not question.archived:  # archive once: re-imports must not move it again
                question.archived = True
                question.position = len(wanted) + question.position
        else:
            survey.questions.remove(question)
    survey.questions.sort(key=lambda q: q.position)
    session.flush()
    changed = before != export(survey)
    if changed:
        # Always later than before, even on a frozen or stepped-back clock: answering pages
        # cache the questions by this stamp (surveys/snapshot.py).
        earlier = survey.updated_at if before is not None else None
        survey.updated_at = (now if earlier is None or now > earlier
                             else earlier + timedelta(microseconds=1))
        from challenge import audit

        audit.record(session, "survey.imported" if before is None else "survey.updated",
                     actor=actor, target=f"survey:{survey.slug}")
    return survey, changed


def _iso(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def export(survey: Survey) -> dict:
    """The survey as a CONTRACTS.md document (importing it back changes nothing)."""
    doc: dict[str, Any] = {
        "slug": survey.slug,
        "title": survey.title,
        "intro": survey.intro or "",
        "anonymous": bool(survey.anonymous),
        "status": survey.status,
        "min_cell_size": survey.min_cell_size,
        "sponsor_disclosure": survey.sponsor_disclosure or "",
        "usage": survey.usage or "",
        "consent_text": survey.consent_text or "",
        "opens_at": _iso(survey.opens_at),
        "closes_at": _iso(survey.closes_at),
        "questions": [],
    }
    for q in sorted(survey.active_questions, key=lambda q: q.position):
        item: dict[str, Any] = {"key": q.key, "type": q.type, "text": q.text}
        if q.required:
            item["required"] = True
        if q.segment:
            item["segment"] = True
        if q.options:
            item["options"] = [dict(o) for o in q.options]
        if q.show_if:
            item["show_if"] = dict(q.show_if)
        if q.category:
            item["category"] = q.category
        if q.type in ("scale", "number"):
            for name, value in (("min", q.min_value), ("max", q.max_value)):
                if value is not None:
                    item[name] = int(value) if float(value).is_integer() else value
        for name in ("section", "help", "min_label", "max_label"):
            if getattr(q, name):
                item[name] = getattr(q, name)
        doc["questions"].append(item)
    return doc


def count_questions(session: Session, survey: Survey) -> int:
    """How many active questions a survey has (SQL count)."""
    return session.scalar(select(func.count(Question.id)).where(
        Question.survey_id == survey.id, Question.archived.is_(False))) or 0
