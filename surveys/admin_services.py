"""Organizer use cases for surveys: the builder, status changes and response figures.

Every change to a survey definition goes through `surveys.definition`: the current survey is
exported as a CONTRACTS.md document, the document is changed, and `definition.apply`
validates and stores it. The builder and `flask surveys import` therefore follow exactly the
same rules, and the messages a person sees come from `definition.validate`.

`BuilderInvalid` carries those messages sorted by form field, so a page can show each one
beside the field it concerns; what cannot be placed goes to the form's error summary.

Services take a Session, only flush, and raise `challenge.errors` domain errors.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from challenge import audit
from challenge.errors import Conflict, NotFound, ValidationFailed
from surveys import answers as rules
from surveys import definition, insights
from surveys.models import Question, Response, Survey

SETTINGS_FIELDS = (
    "slug", "title", "intro", "sponsor_disclosure", "usage", "consent_text", "anonymous",
    "min_cell_size", "opens_at", "closes_at",
)
# Where a problem about one question (its path in the document) is shown on the question form.
QUESTION_FIELD_OF = {
    "key": "key", "type": "type", "text": "text", "help": "help", "section": "section",
    "category": "category", "options": "options", "required": "required",
    "segment": "segment", "show_if": "show_if", "min": "min_value", "max": "max_value",
    "min_label": "min_label", "max_label": "max_label", "": "min_value",
}
# How a part of a question is named in a message shown away from its field.
PART_NAMES = {
    "show_if": "condition", "min": "lowest value", "max": "highest value",
    "min_label": "label of the lowest point", "max_label": "label of the highest point",
    "help": "help text",
}
TRANSITIONS = {("draft", "open"): "opened", ("open", "closed"): "closed",
               ("closed", "open"): "reopened"}
STATUS_LABELS = {"draft": "Draft", "open": "Open", "closed": "Closed"}
TYPE_LABELS = {
    "single": "Single choice", "multi": "Multiple choice", "scale": "Scale",
    "need": "Need (importance and satisfaction)", "text": "Free text", "number": "Number",
}
FILL_DAYS_UP_TO = 92  # responses per day: show days without submissions as 0 up to this span


# --- problems, placed on fields ----------------------------------------------------------

def _sentence(message: str) -> str:
    message = message.strip()
    if not message:
        return message
    message = message[0].upper() + message[1:]
    return message if message[-1] in ".!?)" else message + "."


_QUESTION_PATH = re.compile(r"^questions\[(\d+)\](.*)$")


class BuilderInvalid(ValidationFailed):
    """A change the survey rules refuse; `fields` maps form fields to their messages and
    `general` holds the messages that belong to no field of the form being sent."""

    def __init__(self, problems: list[str], *, fields: dict[str, list[str]] | None = None,
                 general: list[str] | None = None) -> None:
        super().__init__(problems)
        self.fields = fields or {}
        self.general = general or []

    @classmethod
    def on_field(cls, name: str, message: str) -> BuilderInvalid:
        """One refusal about one field."""
        return cls([message], fields={name: [message]})

    @classmethod
    def from_problems(cls, problems: list[str], doc: dict,
                      question_index: int | None = None) -> BuilderInvalid:
        """Sort `definition.validate` messages: settings fields when `question_index` is
        None, else the fields of the question at that index of `doc["questions"]`."""
        fields: dict[str, list[str]] = {}
        general: list[str] = []
        questions = doc.get("questions") or []
        for problem in problems:
            path, _, message = problem.partition(": ")
            if not message:
                general.append(_sentence(problem))
                continue
            match = _QUESTION_PATH.match(path)
            if match is None:
                if question_index is None and path in SETTINGS_FIELDS:
                    fields.setdefault(path, []).append(_sentence(message))
                else:
                    general.append(_sentence(f"{path.replace('_', ' ')}: {message}"))
                continue
            index, rest = int(match.group(1)), match.group(2).lstrip(".")
            part = re.split(r"[.\[]", rest, maxsplit=1)[0]
            option = re.match(r"options\[(\d+)\]\.?(\w*)", rest)
            if option:
                what = f"option {int(option.group(1)) + 1}"
                message = f"{what}: {option.group(2) + ' ' if option.group(2) else ''}{message}"
            if index == question_index and part in QUESTION_FIELD_OF:
                fields.setdefault(QUESTION_FIELD_OF[part], []).append(_sentence(message))
                continue
            key = questions[index].get("key") if index < len(questions) and isinstance(
                questions[index], dict) else None
            name = f"Question {index + 1}" + (f" “{key}”" if key else "")
            part_name = PART_NAMES.get(part, part.replace("_", " "))
            general.append(_sentence(f"{name}, {part_name}: {message}" if part and not option
                                     else f"{name}: {message}"))
        return cls(problems, fields=fields, general=general)


# --- finding ------------------------------------------------------------------------------

def get_survey(session: Session, slug: str, *, for_update: bool = False) -> Survey:
    """The survey with this slug, in any status (organizers see drafts too).

    `for_update` locks the survey row until commit (PostgreSQL; SQLite writers are already
    serialized), so two organizers editing at once cannot each apply a document built
    from a state the other has just changed.
    """
    stmt = select(Survey).where(Survey.slug == slug)
    if for_update:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    survey = session.scalar(stmt)
    if survey is None:
        raise NotFound("There is no survey at this address.")
    return survey


def get_question(survey: Survey, key: str) -> Question:
    """An active question of the survey, by key."""
    for question in survey.active_questions:
        if question.key == key:
            return question
    raise NotFound("This survey has no such question.")


def response_count(session: Session, survey: Survey) -> int:
    """How many responses (drafts included) the survey has."""
    return session.scalar(select(func.count(Response.id)).where(
        Response.survey_id == survey.id)) or 0


def has_responses(session: Session, survey: Survey) -> bool:
    """Whether anyone has started (or submitted) the survey."""
    return response_count(session, survey) > 0


@dataclass(frozen=True)
class SurveyRow:
    """One line of the organizer's survey list."""

    survey: Survey
    questions: int
    submitted: int
    drafts: int


def list_surveys(session: Session, *, limit: int, offset: int) -> tuple[list[SurveyRow], int]:
    """A page of surveys, newest first, with question and response counts.

    Counts come from grouped subqueries joined to the page in one statement.
    """
    responses = (
        select(
            Response.survey_id.label("survey_id"),
            func.count(case((Response.status == "submitted", 1))).label("submitted"),
            func.count(case((Response.status == "draft", 1))).label("drafts"),
        ).group_by(Response.survey_id).subquery()
    )
    questions = (
        select(Question.survey_id.label("survey_id"), func.count(Question.id).label("n"))
        .where(Question.archived.is_(False)).group_by(Question.survey_id).subquery()
    )
    stmt = (
        select(Survey, func.coalesce(questions.c.n, 0), func.coalesce(responses.c.submitted, 0),
               func.coalesce(responses.c.drafts, 0))
        .outerjoin(questions, questions.c.survey_id == Survey.id)
        .outerjoin(responses, responses.c.survey_id == Survey.id)
        .order_by(Survey.created_at.desc(), Survey.id.desc())
        .limit(limit).offset(offset)
    )
    rows = [SurveyRow(s, int(q), int(sub), int(dr)) for s, q, sub, dr in session.execute(stmt)]
    total = session.scalar(select(func.count(Survey.id))) or 0
    return rows, total


def status_counts(session: Session) -> dict[str, int]:
    """How many surveys are in each status (one grouped query)."""
    counts = dict.fromkeys(STATUS_LABELS, 0)
    for status, n in session.execute(select(Survey.status, func.count(Survey.id))
                                     .group_by(Survey.status)):
        counts[status] = int(n)
    return counts


# --- suggestions ---------------------------------------------------------------------------

def _ascii_words(text: str) -> list[str]:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.findall(r"[a-z0-9]+", plain)


def suggest_slug(session: Session, title: str) -> str:
    """A free web address made from the title: 'Living with X: 2027' → 'living-with-x-2027'."""
    base = ""
    for word in _ascii_words(title):
        if len(base) + len(word) + 1 > 60:
            break
        base = f"{base}-{word}" if base else word
    if len(base) < 2:
        base = "survey"
    taken = set(session.scalars(select(Survey.slug).where(Survey.slug.like(f"{base}%"))))
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


def suggest_key(survey: Survey, text: str) -> str:
    """A question key made from its text, not used by any question (archived included)."""
    base = ""
    for word in _ascii_words(text):
        if len(base) + len(word) + 1 > 30:
            break
        base = f"{base}_{word}" if base else word
    if not base or not base[0].isalpha():
        base = f"q_{base}" if base else "q"
    taken = {q.key for q in survey.questions}
    key, n = base, 2
    while key in taken:
        key, n = f"{base}_{n}", n + 1
    return key


# --- settings --------------------------------------------------------------------------------

@dataclass
class SurveySettings:
    """What the settings form edits (times are aware UTC datetimes)."""

    title: str
    slug: str = ""
    intro: str = ""
    sponsor_disclosure: str = ""
    usage: str = ""
    consent_text: str = definition.DEFAULT_CONSENT
    anonymous: bool = True
    min_cell_size: int = 11
    opens_at: datetime | None = None
    closes_at: datetime | None = None

    @classmethod
    def of(cls, survey: Survey) -> SurveySettings:
        return cls(**{name: getattr(survey, name) for name in SETTINGS_FIELDS})

    def to_doc(self) -> dict[str, Any]:
        doc = {name: getattr(self, name) for name in SETTINGS_FIELDS}
        doc["opens_at"] = _iso(self.opens_at)
        doc["closes_at"] = _iso(self.closes_at)
        return doc


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("survey times must be aware (UTC) datetimes")
    return value.isoformat()


def _apply(session: Session, doc: dict, *, actor, question_index: int | None = None) -> Survey:
    problems = definition.validate(doc)
    if problems:
        raise BuilderInvalid.from_problems(problems, doc, question_index)
    try:
        survey, _changed = definition.apply(session, doc, actor=actor)
    except ValidationFailed as exc:
        raise BuilderInvalid.from_problems(exc.problems, doc, question_index) from exc
    return survey


def create_survey(session: Session, settings: SurveySettings, *, actor) -> Survey:
    """A new draft survey without questions; the slug is made from the title if empty."""
    slug = settings.slug or suggest_slug(session, settings.title)
    if session.scalar(select(Survey.id).where(Survey.slug == slug)) is not None:
        raise BuilderInvalid.on_field(
            "slug", f"Another survey already uses “{slug}”. Choose a different address.")
    doc = settings.to_doc() | {"slug": slug, "status": "draft", "questions": []}
    try:
        return _apply(session, doc, actor=actor)
    except IntegrityError as exc:  # created by someone else a moment ago
        raise BuilderInvalid.on_field(
            "slug", f"Another survey already uses “{slug}”. Choose a different address."
        ) from exc


def update_settings(session: Session, survey: Survey, settings: SurveySettings, *,
                    actor) -> Survey:
    """Change the survey's settings. Once anyone has answered, the address and anonymity
    stay as they are: links already given must keep working, and answers given under one
    privacy promise cannot move under another."""
    responded = has_responses(session, survey)
    new_slug = settings.slug or survey.slug
    problems: dict[str, list[str]] = {}
    if new_slug != survey.slug:
        if responded:
            problems["slug"] = ["People have already answered this survey, so its address "
                                "cannot change: the links they were given must keep working."]
        elif session.scalar(select(Survey.id).where(Survey.slug == new_slug)) is not None:
            problems["slug"] = [f"Another survey already uses “{new_slug}”. "
                                f"Choose a different address."]
    if settings.anonymous != survey.anonymous and responded:
        problems["anonymous"] = [
            "People have already answered this survey, so it cannot switch between anonymous "
            "and linked to accounts: their answers were given under the current promise. "
            "Create a new survey instead."]
    if problems:
        messages = [m for ms in problems.values() for m in ms]
        raise BuilderInvalid(messages, fields=problems)
    doc = definition.export(survey) | settings.to_doc() | {"slug": new_slug}
    if _same_text(settings.consent_text, survey.consent_text):
        # Only a real change of wording starts a new consent version, not line endings or
        # surrounding blanks that a browser's textarea altered.
        doc["consent_text"] = survey.consent_text
    problems_found = definition.validate(doc)
    if problems_found:
        raise BuilderInvalid.from_problems(problems_found, doc)
    old_slug = survey.slug
    if new_slug != old_slug:
        survey.slug = new_slug
        session.flush()
        audit.record(session, "survey.slug_changed", actor=actor, target=f"survey:{new_slug}",
                     before=old_slug)
    return _apply(session, doc, actor=actor)


def _same_text(a: str | None, b: str | None) -> bool:
    def norm(text: str | None) -> str:
        return (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()

    return norm(a) == norm(b)


def set_status(session: Session, survey: Survey, target: str, *, actor) -> Survey:
    """draft → open → closed, and closed → open to reopen. Opening needs questions."""
    verb = TRANSITIONS.get((survey.status, target))
    if verb is None:
        raise Conflict(f"This survey is {STATUS_LABELS.get(survey.status, survey.status).lower()}"
                       f"; it cannot become {STATUS_LABELS.get(target, target).lower()}.")
    if target == "open" and not survey.active_questions:
        raise Conflict("A survey without questions cannot be opened. Add at least one "
                       "question first.")
    before = survey.status
    doc = definition.export(survey) | {"status": target}
    survey = _apply(session, doc, actor=actor)
    audit.record(session, f"survey.{verb}", actor=actor, target=f"survey:{survey.slug}",
                 before=before, after=target)
    if target == "closed":  # the final answers: store the report they give
        insights.refresh(session, survey, trigger="closed", actor=actor)
    return survey


# --- questions ---------------------------------------------------------------------------------

@dataclass
class QuestionData:
    """What the question form edits, in the document's vocabulary."""

    text: str
    type: str
    key: str = ""
    help: str = ""
    section: str = ""
    category: str = ""
    options: list[dict[str, str]] = field(default_factory=list)
    required: bool = False
    segment: bool = False
    show_if: dict[str, str] | None = None
    min: int | float | None = None
    max: int | float | None = None
    min_label: str = ""
    max_label: str = ""

    @classmethod
    def of(cls, question: Question) -> QuestionData:
        def whole(value):
            return int(value) if value is not None and float(value).is_integer() else value

        return cls(
            text=question.text, type=question.type, key=question.key, help=question.help or "",
            section=question.section or "", category=question.category or "",
            options=[dict(o) for o in question.options or []], required=question.required,
            segment=question.segment, show_if=dict(question.show_if) if question.show_if
            else None, min=whole(question.min_value), max=whole(question.max_value),
            min_label=question.min_label or "", max_label=question.max_label or "",
        )

    def to_doc(self) -> dict[str, Any]:
        """The question as a document item, with only what was given: a value the chosen
        type does not take (options on a text question, say) is kept, so that
        `definition.validate` names the problem instead of the value vanishing."""
        item: dict[str, Any] = {"key": self.key, "type": self.type, "text": self.text}
        for name in ("help", "section", "category", "min_label", "max_label"):
            if getattr(self, name):
                item[name] = getattr(self, name)
        if self.options:
            item["options"] = [dict(o) for o in self.options]
        if self.required:
            item["required"] = True
        if self.segment:
            item["segment"] = True
        if self.show_if:
            item["show_if"] = dict(self.show_if)
        for name in ("min", "max"):
            if getattr(self, name) is not None:
                item[name] = getattr(self, name)
        return item


def _position(doc: dict, key: str) -> int:
    for i, item in enumerate(doc["questions"]):
        if item["key"] == key:
            return i
    raise NotFound("This survey has no such question.")


def _archived_keys(survey: Survey) -> set[str]:
    return {q.key for q in survey.questions if q.archived}


def _refuse_archived_key(survey: Survey, key: str) -> None:
    if key in _archived_keys(survey):
        raise BuilderInvalid.on_field(
            "key", f"“{key}” belonged to a removed question whose answers are kept. "
                   f"Choose another key, so old and new answers are not mixed.")


def _find(survey: Survey, key: str) -> Question:
    return next(q for q in survey.active_questions if q.key == key)


def add_question(session: Session, survey: Survey, data: QuestionData, *, actor) -> Question:
    """Add a question at the end; its key is made from the text when none is given."""
    item = data.to_doc()
    if not item["key"]:
        item["key"] = suggest_key(survey, data.text)
    else:
        _refuse_archived_key(survey, item["key"])
    doc = definition.export(survey)
    doc["questions"].append(item)
    survey = _apply(session, doc, actor=actor, question_index=len(doc["questions"]) - 1)
    return _find(survey, item["key"])


def update_question(session: Session, survey: Survey, key: str, data: QuestionData, *,
                    actor) -> Question:
    """Change a question. A key can change only while the question has no answers; the
    conditions of later questions follow the new key."""
    doc = definition.export(survey)
    index = _position(doc, key)
    item = data.to_doc()
    new_key = item["key"] or key
    item["key"] = new_key
    if new_key != key:
        question = get_question(survey, key)
        if question.id in definition.answered_question_ids(session, survey):
            raise BuilderInvalid.on_field(
                "key", "This question already has answers, so its key cannot change: "
                       "exports and reports use it.")
        _refuse_archived_key(survey, new_key)
        for other in doc["questions"]:
            if (other.get("show_if") or {}).get("key") == key:
                other["show_if"]["key"] = new_key
    doc["questions"][index] = item
    survey = _apply(session, doc, actor=actor, question_index=index)
    return _find(survey, new_key)


def move_question(session: Session, survey: Survey, key: str, direction: str, *,
                  actor) -> None:
    """Move a question one place up or down."""
    doc = definition.export(survey)
    index = _position(doc, key)
    other = index - 1 if direction == "up" else index + 1
    if direction not in ("up", "down") or not 0 <= other < len(doc["questions"]):
        raise Conflict(f"“{key}” is already the {'first' if direction == 'up' else 'last'} "
                       f"question.")
    questions = doc["questions"]
    upper, lower = sorted((index, other))
    if (questions[lower].get("show_if") or {}).get("key") == questions[upper]["key"]:
        raise Conflict(f"“{questions[lower]['key']}” is shown only after an answer to "
                       f"“{questions[upper]['key']}”, so it must stay below it.")
    questions[index], questions[other] = questions[other], questions[index]
    _apply(session, doc, actor=actor)


def remove_question(session: Session, survey: Survey, key: str, *, actor) -> bool:
    """Remove a question; one that has answers is archived instead (its answers stay in
    exports and reports). Returns True when the question was archived."""
    doc = definition.export(survey)
    index = _position(doc, key)
    dependants = [q["key"] for q in doc["questions"] if (q.get("show_if") or {}).get("key") == key]
    if dependants:
        names = ", ".join(f"“{k}”" for k in dependants)
        raise Conflict(f"{names} {'is' if len(dependants) == 1 else 'are'} shown only after an "
                       f"answer to “{key}”. Change or remove that condition first.")
    if survey.status == "open" and len(doc["questions"]) == 1:
        raise Conflict("This is the only question of an open survey. Close the survey or add "
                       "another question first.")
    question = get_question(survey, key)
    archived = question.id in definition.answered_question_ids(session, survey)
    del doc["questions"][index]
    survey = _apply(session, doc, actor=actor)
    audit.record(session, "survey.question_archived" if archived else "survey.question_removed",
                 actor=actor, target=f"survey:{survey.slug}", key=key)
    return archived


@dataclass(frozen=True)
class ConditionGroup:
    """An earlier choice question whose options can decide whether a question shows."""

    key: str
    text: str
    options: list[tuple[str, str]]


def condition_groups(survey: Survey, before_key: str | None = None) -> list[ConditionGroup]:
    """The single and multi questions placed before `before_key` (all, when None)."""
    groups = []
    for question in sorted(survey.active_questions, key=lambda q: q.position):
        if question.key == before_key:
            break
        if question.type in definition.CHOICE_TYPES:
            groups.append(ConditionGroup(question.key, question.text,
                                         [(o["value"], o.get("label", o["value"]))
                                          for o in question.options or []]))
    return groups


# --- what respondents have done ------------------------------------------------------------

@dataclass(frozen=True)
class Overview:
    """Operational counts about a survey's responses (not results: no answers in here)."""

    submitted: int
    drafts: int
    per_day: list[tuple[date, int]]
    dropoff: list[tuple[int, int]]
    pages: int

    @property
    def completion_rate(self) -> float | None:
        """Submitted / (submitted + drafts), or None before anyone started."""
        started = self.submitted + self.drafts
        return self.submitted / started if started else None


def _fill_days(rows: list[tuple[date, int]]) -> list[tuple[date, int]]:
    if not rows:
        return []
    first, last = rows[0][0], rows[-1][0]
    if (last - first).days > FILL_DAYS_UP_TO:
        return rows
    counts = dict(rows)
    return [(first + timedelta(days=i), counts.get(first + timedelta(days=i), 0))
            for i in range((last - first).days + 1)]


def response_overview(session: Session, survey: Survey) -> Overview:
    """Submitted and draft counts, submissions per day, and drafts by the page reached,
    each counted by a grouped SQL query."""
    by_status = dict(session.execute(
        select(Response.status, func.count(Response.id))
        .where(Response.survey_id == survey.id).group_by(Response.status)).all())
    per_day = [(day, int(n)) for day, n in session.execute(
        select(Response.submitted_on, func.count(Response.id))
        .where(Response.survey_id == survey.id, Response.status == "submitted",
               Response.submitted_on.is_not(None))
        .group_by(Response.submitted_on).order_by(Response.submitted_on))]
    dropoff = [(int(page), int(n)) for page, n in session.execute(
        select(Response.page_reached, func.count(Response.id))
        .where(Response.survey_id == survey.id, Response.status == "draft")
        .group_by(Response.page_reached).order_by(Response.page_reached))]
    return Overview(
        submitted=int(by_status.get("submitted", 0)),
        drafts=int(by_status.get("draft", 0)),
        per_day=_fill_days(per_day),
        dropoff=dropoff,
        pages=len(rules.pages(survey.active_questions)),
    )
