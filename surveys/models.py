"""Surveys: definitions, responses, answers, participation, reports and guidelines.

Anonymity: in an anonymous survey a Response has no user id, no IP and only the date of
submission; its id is random (not a sequence), so it cannot be lined up with the
Participation that records who took part. Participation never points at a response.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from challenge.db import Base, UTCDateTime

QUESTION_TYPES = ("single", "multi", "scale", "need", "text", "number")
SURVEY_STATUSES = ("draft", "open", "closed")


def random_id() -> str:
    """A random identifier that reveals nothing about when or in what order it was made."""
    return uuid.uuid4().hex


class Survey(Base):
    """A survey definition and its settings."""

    __tablename__ = "survey"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    intro: Mapped[str] = mapped_column(Text, default="")
    sponsor_disclosure: Mapped[str] = mapped_column(Text, default="")
    usage: Mapped[str] = mapped_column(Text, default="")
    consent_text: Mapped[str] = mapped_column(Text, default="")
    consent_version: Mapped[int] = mapped_column(Integer, default=1)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(10), default="draft", index=True)
    opens_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    min_cell_size: Mapped[int] = mapped_column(Integer, default=11)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    questions: Mapped[list[Question]] = relationship(
        back_populates="survey", order_by="Question.position", cascade="all, delete-orphan"
    )

    @property
    def active_questions(self) -> list[Question]:
        """Questions shown to respondents (archived ones are kept only for their answers)."""
        return [q for q in self.questions if not q.archived]


class Question(Base):
    """One question of a survey. `key` is stable: imports, exports and reports use it."""

    __tablename__ = "survey_question"
    __table_args__ = (UniqueConstraint("survey_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id", ondelete="CASCADE"),
                                           index=True)
    key: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(10))
    text: Mapped[str] = mapped_column(Text)
    help: Mapped[str] = mapped_column(Text, default="")
    section: Mapped[str] = mapped_column(String(120), default="")
    category: Mapped[str] = mapped_column(String(64), default="")
    options: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    min_value: Mapped[float | None] = mapped_column(Float)
    max_value: Mapped[float | None] = mapped_column(Float)
    min_label: Mapped[str] = mapped_column(String(80), default="")
    max_label: Mapped[str] = mapped_column(String(80), default="")
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    segment: Mapped[bool] = mapped_column(Boolean, default=False)
    show_if: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    position: Mapped[int] = mapped_column(Integer, default=0)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)

    survey: Mapped[Survey] = relationship(back_populates="questions")

    @property
    def option_values(self) -> list[str]:
        return [o["value"] for o in self.options or []]

    def option_label(self, value: str) -> str:
        """The label shown for an option value."""
        return next((o["label"] for o in self.options or [] if o["value"] == value), value)


class Response(Base):
    """One person's answers to one survey: a draft until submitted, then frozen.

    `user_id` is set only when the survey is not anonymous. `resume_key_hash` (a hash of
    the private resume link, or of a keyed per-account value) exists only while drafting
    and is erased on submission. `submitted_on` is a date, never a time.
    """

    __tablename__ = "survey_response"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=random_id)
    # (survey_id is indexed first in the (survey_id, status) index below.)
    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"),
                                                index=True)
    status: Mapped[str] = mapped_column(String(10), default="draft")
    resume_key_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    consent_version: Mapped[int] = mapped_column(Integer)
    quote_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    page_reached: Mapped[int] = mapped_column(SmallInteger, default=0)
    submitted_on: Mapped[date | None] = mapped_column(Date)
    external_id: Mapped[str | None] = mapped_column(String(120))
    source: Mapped[str] = mapped_column(String(10), default="web")
    # The submitted answers condensed for the insight report (surveys/insight_counts.py),
    # written by the report itself for the question layout named in `tally_layout`; NULL
    # until then, and again whenever the answers of a submitted response are replaced.
    tally_layout: Mapped[str | None] = mapped_column(String(32))
    tally_segments: Mapped[str | None] = mapped_column(Text)
    tally_w0: Mapped[int | None] = mapped_column(BigInteger)
    tally_w1: Mapped[int | None] = mapped_column(BigInteger)
    tally_w2: Mapped[int | None] = mapped_column(BigInteger)
    tally_w3: Mapped[int | None] = mapped_column(BigInteger)

    answers: Mapped[list[Answer]] = relationship(
        back_populates="response", cascade="all, delete-orphan"
    )

    # Every query of responses names the survey (and mostly the status) first: this one
    # index serves them all, the report page's count of submitted responses included.
    # Submitting rewrites the entries of every index on a changed column, so status and
    # submitted_on have no index of their own.
    __table_args__ = (UniqueConstraint("survey_id", "external_id"),
                      Index("ix_survey_response_survey_status", "survey_id", "status"))


class Answer(Base):
    """One answer. A multi question has one row per chosen option; a need question stores
    importance and satisfaction side by side so both can be counted in one GROUP BY."""

    __tablename__ = "survey_answer"

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[str] = mapped_column(
        ForeignKey("survey_response.id", ondelete="CASCADE"), index=True
    )
    question_id: Mapped[int] = mapped_column(ForeignKey("survey_question.id"), index=True)
    choice: Mapped[str | None] = mapped_column(String(120))
    number: Mapped[float | None] = mapped_column(Float)
    text: Mapped[str | None] = mapped_column(Text)
    importance: Mapped[int | None] = mapped_column(SmallInteger)
    satisfaction: Mapped[int | None] = mapped_column(SmallInteger)
    safety_flag_id: Mapped[int | None] = mapped_column(ForeignKey("safety_flag.id"))

    response: Mapped[Response] = relationship(back_populates="answers")
    question: Mapped[Question] = relationship()

    # Almost no answer is flagged: the index holds only those that are, so the two dozen
    # answers of a submission add nothing to it.
    __table_args__ = (Index("ix_survey_answer_safety_flag_id", "safety_flag_id",
                            postgresql_where=sql_text("safety_flag_id IS NOT NULL"),
                            sqlite_where=sql_text("safety_flag_id IS NOT NULL")),)


class Participation(Base):
    """Who has submitted an anonymous (or any) survey: never what, never when."""

    __tablename__ = "survey_participation"
    __table_args__ = (UniqueConstraint("survey_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id", ondelete="CASCADE"),
                                           index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)


class InsightReport(Base):
    """A stored report: what was computed, when, and over how many responses.

    `data` is the publishable report (CONTRACTS.md shape), already suppressed: pages, JSON
    and guidelines read it and never recompute.
    """

    __tablename__ = "insight_report"

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id", ondelete="CASCADE"),
                                           index=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    response_count: Mapped[int] = mapped_column(Integer)
    trigger: Mapped[str] = mapped_column(String(20), default="manual")
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class GuidelineDocument(Base):
    """One version of the guidelines drawn from a survey's report.

    A draft is edited in place; publishing freezes it (published means immutable) and the
    next edit starts a new draft version copied from it.
    """

    __tablename__ = "guideline_document"
    __table_args__ = (UniqueConstraint("survey_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id", ondelete="CASCADE"),
                                           index=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default="draft", index=True)
    title: Mapped[str] = mapped_column(String(200))
    intro: Mapped[str] = mapped_column(Text, default="")
    report_id: Mapped[int | None] = mapped_column(ForeignKey("insight_report.id",
                                                             ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    items: Mapped[list[GuidelineItem]] = relationship(
        back_populates="document", order_by="GuidelineItem.position",
        cascade="all, delete-orphan", lazy="selectin",
    )


class GuidelineItem(Base):
    """One guideline: a need's stable key, its wording, and its evidence from the report."""

    __tablename__ = "guideline_item"
    __table_args__ = (UniqueConstraint("document_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(
        ForeignKey("guideline_document.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    document: Mapped[GuidelineDocument] = relationship(back_populates="items")
