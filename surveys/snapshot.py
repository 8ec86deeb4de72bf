"""A survey as its respondents see it: plain frozen objects, read cheaply.

Answering pages read the survey row on every request (status, dates and anonymity may
change at any moment and are never cached) but its questions only when the survey's
`updated_at` has moved: every change to a question goes through `definition.apply`, which
moves `updated_at` forward whenever the exported definition changes. The questions are
kept per app (so two apps on two databases never share) and per survey, keyed by that
stamp, so a changed survey is never served stale, in this process or any other.

The objects have the attributes of `Survey` and `Question` that `surveys.answers`, the
answering services and the respondent templates use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from challenge.errors import NotFound
from surveys import answers as rules
from surveys.models import Question, Survey

CACHE_LIMIT = 256  # surveys whose questions one process keeps


@dataclass(frozen=True)
class QuestionDef:
    """One question, read-only (the fields of `Question`)."""

    id: int
    key: str
    type: str
    text: str
    help: str
    section: str
    category: str
    options: tuple[dict[str, str], ...]
    min_value: float | None
    max_value: float | None
    min_label: str
    max_label: str
    required: bool
    segment: bool
    show_if: dict[str, Any] | None
    position: int
    archived: bool
    option_values: frozenset[str] = field(default=frozenset(), compare=False)

    def option_label(self, value: str) -> str:
        """The label shown for an option value."""
        return next((o["label"] for o in self.options if o["value"] == value), value)


@dataclass(frozen=True)
class Questions:
    """A survey's questions at one `updated_at`, with what answering derives from them."""

    stamp: datetime
    all: tuple[QuestionDef, ...]
    active: tuple[QuestionDef, ...]
    pages: tuple[tuple[QuestionDef, ...], ...]
    by_key: dict[str, QuestionDef]  # active questions
    by_id: dict[int, QuestionDef]  # every question, archived ones too


@dataclass(frozen=True)
class SurveySnapshot:
    """The survey row as read in this request, and its (cached) questions."""

    id: int
    slug: str
    title: str
    status: str
    anonymous: bool
    opens_at: datetime | None
    closes_at: datetime | None
    consent_version: int
    updated_at: datetime
    questions_of: Questions

    @property
    def questions(self) -> tuple[QuestionDef, ...]:
        return self.questions_of.all

    @property
    def active_questions(self) -> tuple[QuestionDef, ...]:
        return self.questions_of.active

    @property
    def pages(self) -> tuple[tuple[QuestionDef, ...], ...]:
        return self.questions_of.pages


_S, _Q = Survey.__table__, Question.__table__
# Built once: answering runs these on every request, and building a statement costs more
# than running it.
_SURVEY_COLUMNS = (_S.c.id, _S.c.slug, _S.c.title, _S.c.status, _S.c.anonymous, _S.c.opens_at,
                   _S.c.closes_at, _S.c.consent_version, _S.c.updated_at)
_SURVEY_BY_SLUG = select(*_SURVEY_COLUMNS).where(_S.c.slug == bindparam("slug"))
_SURVEY_BY_ID = select(*_SURVEY_COLUMNS).where(_S.c.id == bindparam("id"))
_QUESTIONS = (select(_Q.c.id, _Q.c.key, _Q.c.type, _Q.c.text, _Q.c.help, _Q.c.section,
                     _Q.c.category, _Q.c.options, _Q.c.min_value, _Q.c.max_value,
                     _Q.c.min_label, _Q.c.max_label, _Q.c.required, _Q.c.segment,
                     _Q.c.show_if, _Q.c.position, _Q.c.archived)
              .where(_Q.c.survey_id == bindparam("survey_id"))
              .order_by(_Q.c.position, _Q.c.id))


def _question(row) -> QuestionDef:
    options = tuple(dict(o) for o in row.options or ())
    return QuestionDef(
        id=row.id, key=row.key, type=row.type, text=row.text, help=row.help or "",
        section=row.section or "", category=row.category or "", options=options,
        min_value=row.min_value, max_value=row.max_value, min_label=row.min_label or "",
        max_label=row.max_label or "", required=bool(row.required), segment=bool(row.segment),
        show_if=dict(row.show_if) if row.show_if else None, position=row.position or 0,
        archived=bool(row.archived), option_values=frozenset(o["value"] for o in options))


def _load_questions(session: Session, survey_id: int, stamp: datetime) -> Questions:
    rows = session.connection().execute(_QUESTIONS, {"survey_id": survey_id}).all()
    every = tuple(_question(row) for row in rows)
    active = tuple(q for q in every if not q.archived)
    return Questions(stamp=stamp, all=every, active=active,
                     pages=tuple(tuple(p) for p in rules.pages(active)),
                     by_key={q.key: q for q in active}, by_id={q.id: q for q in every})


def _cache() -> dict[int, Questions]:
    return current_app.extensions.setdefault("survey_questions", {})


def _snapshot(session: Session, row) -> SurveySnapshot:
    cache = _cache()
    questions = cache.get(row.id)
    if questions is None or questions.stamp != row.updated_at:
        questions = _load_questions(session, row.id, row.updated_at)
        if len(cache) >= CACHE_LIMIT:
            cache.clear()
        cache[row.id] = questions
    return SurveySnapshot(
        id=row.id, slug=row.slug, title=row.title, status=row.status,
        anonymous=bool(row.anonymous), opens_at=row.opens_at, closes_at=row.closes_at,
        consent_version=row.consent_version, updated_at=row.updated_at,
        questions_of=questions)


def public_survey(session: Session, slug: str) -> SurveySnapshot:
    """The survey at `slug` as the public may see it (open or closed, never a draft)."""
    row = session.connection().execute(_SURVEY_BY_SLUG, {"slug": slug}).first()
    if row is None or row.status == "draft":
        raise NotFound("There is no survey at this address.")
    return _snapshot(session, row)


def survey_by_id(session: Session, survey_id: int) -> SurveySnapshot:
    """The survey with `survey_id`, whatever its status."""
    row = session.connection().execute(_SURVEY_BY_ID, {"id": survey_id}).first()
    if row is None:
        raise NotFound("There is no such survey.")
    return _snapshot(session, row)
