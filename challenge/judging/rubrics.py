"""Rubric editing by organizers, and the rubric text each judge sees.

A rubric is edited as a whole list of criteria. The current version is changed in place
until the first criterion score refers to it; from then on saving creates a new version
(reviews keep the version they were scored on). A saved rubric is also written back to the
challenge's settings (`Challenge.rubric`), so the public page and `challenges export` show
what judges use. Plain-language texts stay on the criteria (a bundle has no place for them).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from challenge import audit
from challenge.challenges.models import Challenge
from challenge.errors import DomainError
from challenge.judging import access, setup
from challenge.judging.models import Criterion, JudgeSeat, Rubric
from challenge.judging.setup import has_scores
from surveys import guidelines as guideline_docs
from surveys.models import Survey

#: Same rule as a bundle's criterion keys.
KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
NAME_MAX = 200
TEXT_MAX = 5000
#: Judges on this panel read the plain-language description when there is one.
PATIENT_PANEL = "patient"
_LEVEL_START = re.compile(r"(?:^|[,;\n])\s*(-?\d+)\s*[=:]")


@dataclass
class CriterionInput:
    """One criterion as an organizer typed it (already parsed to types)."""

    key: str
    name: str
    weight: float | None
    min: int | None
    max: int | None
    description: str = ""
    plain_description: str = ""
    levels: dict[str, str] = field(default_factory=dict)
    guidelines: list[str] = field(default_factory=list)


class RubricInvalid(DomainError):
    """A rubric that cannot be saved: `fields[i][name]` are the problems of criterion i's
    field; `general` those of the rubric as a whole."""

    status_code = 422

    def __init__(self, fields: dict[int, dict[str, list[str]]], general: list[str]) -> None:
        self.fields = fields
        self.general = general
        flat = list(general) + [f"criterion {i + 1}, {name}: {m}"
                                for i, named in sorted(fields.items())
                                for name, ms in named.items() for m in ms]
        super().__init__("; ".join(flat))
        self.problems = flat


@dataclass(frozen=True)
class SaveResult:
    rubric: Rubric
    what: str  # "created", "updated", "versioned" or "" (nothing changed)


# --- level words ----------------------------------------------------------------------------

def parse_levels(text: str) -> tuple[dict[str, str], str | None]:
    """Parse "1=No clear benefit, 5=Transforms a routine" (or one per line, ; or : also
    work) into {"1": "No clear benefit", "5": ...}. Commas inside a level's words are kept
    as long as they are not followed by a number and "=". Returns (levels, problem)."""
    text = (text or "").strip()
    if not text:
        return {}, None
    starts = list(_LEVEL_START.finditer(text))
    if not starts or starts[0].start() != 0:
        return {}, "write each level as a score, = and its words, such as 1=No clear benefit"
    levels: dict[str, str] = {}
    for i, match in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
        words = text[match.end():end].strip()
        score = str(int(match.group(1)))
        if not words:
            return {}, f"level {score} has no words"
        if score in levels:
            return {}, f"level {score} is given twice"
        levels[score] = words
    return levels, None


def format_levels(levels: dict[str, str] | None) -> str:
    """Levels as the editor shows them: one "score=words" per line, by score."""
    return "\n".join(f"{k}={v}" for k, v in sorted((levels or {}).items(),
                                                    key=lambda kv: int(kv[0])))


# --- reading --------------------------------------------------------------------------------

def published_keys(session: Session, challenge: Challenge) -> list[str]:
    """Guideline keys criteria may cite: the challenge survey's published items."""
    survey = session.get(Survey, challenge.survey_id) if challenge.survey_id else None
    return guideline_docs.published_keys(session, survey) if survey is not None else []


def is_locked(session: Session, rubric: Rubric | None) -> bool:
    """True when saving would create a new version (the current one has scores)."""
    return rubric is not None and has_scores(session, rubric)


def rubric_text_for(seat: JudgeSeat | None, criterion: Criterion) -> str:
    """The description a judge reads for a criterion: the plain-language text for judges
    on the patient panel (when the criterion has one), the description otherwise."""
    plain = (criterion.plain_description or "").strip()
    if seat is not None and seat.panel is not None and seat.panel.name == PATIENT_PANEL and plain:
        return plain
    return criterion.description or ""


# --- validation and saving ------------------------------------------------------------------

def _finite(value: Any) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))


def validate(items: list[CriterionInput], citable: list[str]) -> None:
    """Raise RubricInvalid naming every problem (unique keys, weight > 0, min < max, level
    scores inside the range, cited keys among the published guideline keys)."""
    fields: dict[int, dict[str, list[str]]] = {}
    general: list[str] = []

    def add(i: int, name: str, message: str) -> None:
        fields.setdefault(i, {}).setdefault(name, []).append(message)

    if not items:
        general.append("A rubric needs at least one criterion.")
    seen: dict[str, int] = {}
    allowed = set(citable)
    for i, item in enumerate(items):
        if not KEY_RE.match(item.key or ""):
            add(i, "key", "Use lower-case letters, digits or _, starting with a letter "
                          "(at most 64).")
        elif item.key in seen:
            add(i, "key", f"“{item.key}” is already the key of criterion {seen[item.key] + 1}.")
        else:
            seen[item.key] = i
        if not (item.name or "").strip():
            add(i, "name", "Give the criterion a name.")
        elif len(item.name) > NAME_MAX:
            add(i, "name", f"Keep the name under {NAME_MAX} characters.")
        for name in ("description", "plain_description"):
            if len(getattr(item, name) or "") > TEXT_MAX:
                add(i, name, f"Keep it under {TEXT_MAX} characters.")
        if item.weight is None or not _finite(item.weight) or item.weight <= 0:
            add(i, "weight", "The weight must be a number greater than 0.")
        bounds = True
        for name in ("min", "max"):
            value = getattr(item, name)
            if value is None or isinstance(value, bool) or not isinstance(value, int):
                add(i, name, "Give a whole number.")
                bounds = False
        if bounds and item.min >= item.max:
            add(i, "max", f"The highest score must be greater than the lowest ({item.min}).")
            bounds = False
        for score, words in (item.levels or {}).items():
            if not re.fullmatch(r"-?\d+", str(score)):
                add(i, "levels", f"“{score}” is not a whole-number score.")
            elif bounds and not item.min <= int(score) <= item.max:
                add(i, "levels", f"Level {score} is outside the scale {item.min} to "
                                 f"{item.max}.")
            if not (words or "").strip():
                add(i, "levels", f"Level {score} has no words.")
        for key in item.guidelines or []:
            if key not in allowed:
                add(i, "guidelines",
                    f"“{key}” is not a published guideline key"
                    + (f" (published: {', '.join(citable)})." if citable
                       else "; this challenge has no published guidelines."))
    if fields or general:
        raise RubricInvalid(fields, general)


def _normalised(item: CriterionInput) -> dict[str, Any]:
    return setup.normalize_config({
        "key": item.key, "name": item.name, "description": (item.description or "").strip(),
        "weight": item.weight, "min": item.min, "max": item.max,
        "guidelines": list(dict.fromkeys(item.guidelines or [])),
        "levels": {str(int(k)): v.strip() for k, v in (item.levels or {}).items()},
    })


def save_rubric(session: Session, challenge: Challenge, items: list[CriterionInput], *,
                actor) -> SaveResult:
    """Validate and save the whole rubric (in place while unscored, else a new version);
    the challenge's settings follow. Audited when something changed."""
    validate(items, published_keys(session, challenge))
    normalised = [_normalised(item) for item in items]
    plain = {item.key: (item.plain_description or "").strip() for item in items}
    rubric, what = setup.write_criteria(session, challenge, normalised, plain)
    config = setup.export_config(rubric)
    if challenge.rubric != config:
        challenge.rubric = config
    if what:
        audit.record(session, "rubric.saved", actor=actor, target=f"challenge:{challenge.slug}",
                     version=rubric.version, change=what, criteria=len(items))
    session.flush()
    return SaveResult(rubric, what)


def inputs_of(rubric: Rubric | None) -> list[CriterionInput]:
    """The rubric's criteria as editor inputs (empty list without a rubric)."""
    if rubric is None:
        return []
    return [CriterionInput(key=c.key, name=c.name, weight=setup._number(c.weight),
                           min=int(c.min_score), max=int(c.max_score),
                           description=c.description or "",
                           plain_description=c.plain_description or "",
                           levels=dict(c.levels or {}), guidelines=list(c.guidelines or []))
            for c in rubric.criteria]


def current(session: Session, challenge: Challenge) -> Rubric | None:
    """The current rubric (shortcut for views)."""
    return access.current_rubric(session, challenge)
