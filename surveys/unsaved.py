"""Answers typed on a survey page that a busy database could not store yet.

They are kept in the person's own session (a signed cookie, HttpOnly) for one page of one
survey at a time, so that reloading the page shows them again; storing the page forgets
them. The cookie is small (4 kB in all), so the copy is bounded: long texts are left out
first (the 503 page itself still shows everything that was typed).
"""

from __future__ import annotations

import json

from flask import session

KEY = "survey_unsaved"
MAX_CHARS = 1500


def _blank(value) -> bool:
    if isinstance(value, list | tuple):
        return all(_blank(v) for v in value)
    return not str(value or "").strip()


def keep(slug: str, number: int, raw: dict) -> None:
    """Keep the raw answers typed on page `number` of `slug` (replacing any other copy)."""
    values = {k: list(v) if isinstance(v, tuple) else v for k, v in raw.items()
              if not _blank(v)}
    while values and len(json.dumps(values)) > MAX_CHARS:
        values.pop(max(values, key=lambda k: len(json.dumps(values[k]))))
    session[KEY] = {"slug": slug, "page": number, "values": values}


def typed(slug: str, number: int, questions) -> dict:
    """The kept answers of page `number` of `slug`, by question key (need: a pair)."""
    kept = session.get(KEY)
    if not kept or kept.get("slug") != slug or kept.get("page") != number:
        return {}
    types = {q.key: q.type for q in questions}
    return {k: tuple(v) if types.get(k) == "need" else v
            for k, v in (kept.get("values") or {}).items() if k in types}


def forget(slug: str) -> None:
    """Drop the copy once the page of `slug` is stored."""
    kept = session.get(KEY)
    if kept and kept.get("slug") == slug:
        session.pop(KEY, None)
