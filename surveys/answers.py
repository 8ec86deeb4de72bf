"""Rules for answers, shared by the web form and the CSV import (pure: no Flask, no ORM).

A question is any object with the attributes of `surveys.models.Question` (key, type,
options, min_value, max_value, required, show_if). Raw input is text, as it arrives from a
form or a CSV cell: a string for most types, a list of strings for `multi`, and a pair
(importance, satisfaction) of strings for `need`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

NEED_MIN, NEED_MAX = 1, 5
TEXT_MAX = 5000
QUESTIONS_PER_PAGE = 4  # when the organizer gives no sections


@dataclass(frozen=True)
class Cleaned:
    """A validated answer (`value` None means "not answered") or the problem with it."""

    value: Any = None
    problem: str | None = None


def _is_blank(raw: Any) -> bool:
    if raw is None:
        return True
    if isinstance(raw, str):
        return raw.strip() == ""
    if isinstance(raw, tuple | list):
        return all(map(_is_blank, raw))
    return False


def _int_in(raw: str, low: float, high: float, what: str) -> Cleaned:
    if isinstance(raw, str) and raw.isascii() and raw.isdigit() and low <= int(raw) <= high:
        return Cleaned(int(raw))  # the usual case, from a radio button
    try:
        number = float(str(raw).strip())
    except ValueError:
        return Cleaned(problem=f"{what} must be a whole number from {low:g} to {high:g}")
    if not number.is_integer() or not low <= number <= high:
        return Cleaned(problem=f"{what} must be a whole number from {low:g} to {high:g}")
    return Cleaned(int(number))


def clean(question, raw: Any) -> Cleaned:
    """Validate one raw answer against its question."""
    if _is_blank(raw):
        if question.required:
            return Cleaned(problem="an answer is required")
        return Cleaned(None)
    kind = question.type
    if kind == "single":
        value = str(raw).strip()
        if value not in question.option_values:
            return Cleaned(problem=f"{value!r} is not one of the options")
        return Cleaned(value)
    if kind == "multi":
        values = raw if isinstance(raw, list) else str(raw).split(";")
        chosen = list(dict.fromkeys(v.strip() for v in values if v.strip()))
        if not chosen:  # only separators (";"): nothing was chosen
            return clean(question, None)
        unknown = [v for v in chosen if v not in question.option_values]
        if unknown:
            return Cleaned(problem=f"{unknown[0]!r} is not one of the options")
        return Cleaned(chosen)
    if kind == "scale":
        low = question.min_value if question.min_value is not None else 1
        high = question.max_value if question.max_value is not None else 5
        return _int_in(raw, low, high, "the answer")
    if kind == "number":
        try:
            number = float(str(raw).strip().replace(",", "."))
        except ValueError:
            return Cleaned(problem="the answer must be a number")
        if not math.isfinite(number):
            return Cleaned(problem="the answer must be a number")
        low, high = question.min_value, question.max_value
        if (low is not None and number < low) or (high is not None and number > high):
            return Cleaned(problem=f"the answer must be between {low:g} and {high:g}"
                           if low is not None and high is not None
                           else "the answer is out of range")
        return Cleaned(number)
    if kind == "text":
        text = str(raw).strip()
        if len(text) > TEXT_MAX:
            return Cleaned(problem=f"please keep the answer under {TEXT_MAX} characters")
        return Cleaned(text)
    if kind == "need":
        importance, satisfaction = raw if isinstance(raw, tuple) else (raw, None)
        if _is_blank(importance) or _is_blank(satisfaction):
            return Cleaned(problem="please rate both how important it is and how satisfied "
                                   "you are today")
        imp = _int_in(importance, NEED_MIN, NEED_MAX, "importance")
        if imp.problem:
            return imp
        sat = _int_in(satisfaction, NEED_MIN, NEED_MAX, "satisfaction")
        if sat.problem:
            return sat
        return Cleaned((imp.value, sat.value))
    return Cleaned(problem=f"unknown question type {kind!r}")


def is_visible(question, answers: Mapping[str, Any], by_key: Mapping[str, Any]) -> bool:
    """Whether `question` is shown, given the answers so far (chained conditions too)."""
    condition = question.show_if
    seen = set()
    while condition:
        key, wanted = condition.get("key"), condition.get("equals")
        if key in seen:  # a cycle cannot be satisfied
            return False
        seen.add(key)
        given = answers.get(key)
        if isinstance(given, list):
            if wanted not in given:
                return False
        elif given != wanted:
            return False
        parent = by_key.get(key)
        condition = parent.show_if if parent is not None else None
    return True


def pages(questions: Sequence) -> list[list]:
    """Split questions into pages: one per section, or a few at a time without sections."""
    result: list[list] = []
    current_section: str | None = None
    for question in questions:
        section = question.section or ""
        new_page = (
            not result
            or section != current_section
            or (not section and len(result[-1]) >= QUESTIONS_PER_PAGE)
        )
        if new_page:
            result.append([])
        result[-1].append(question)
        current_section = section
    return result


def answer_rows(question, value: Any) -> list[dict]:
    """The Answer columns for a cleaned value (one row, or one per option for multi)."""
    if value is None:
        return []
    kind = question.type
    if kind == "multi":
        return [{"choice": v} for v in value]
    if kind == "single":
        return [{"choice": value}]
    if kind in ("scale", "number"):
        return [{"number": float(value)}]
    if kind == "text":
        return [{"text": value}] if value else []
    if kind == "need":
        return [{"importance": value[0], "satisfaction": value[1]}]
    raise ValueError(kind)


def value_from_rows(question, rows: Sequence) -> Any:
    """The answer value back from stored Answer rows (the inverse of `answer_rows`)."""
    if not rows:
        return None
    kind = question.type
    if kind == "multi":
        return [r.choice for r in rows]
    first = rows[0]
    if kind == "single":
        return first.choice
    if kind == "scale":
        return int(first.number) if first.number is not None else None
    if kind == "number":
        number = first.number
        return int(number) if number is not None and number.is_integer() else number
    if kind == "text":
        return first.text
    if kind == "need":
        return (first.importance, first.satisfaction)
    return None


def as_text(question, value: Any) -> str | tuple[str, str]:
    """A value as it is written in a CSV cell (need: a pair of cells)."""
    if value is None:
        return ("", "") if question.type == "need" else ""
    if question.type == "multi":
        return ";".join(value)
    if question.type == "need":
        return (str(value[0]), str(value[1]))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
