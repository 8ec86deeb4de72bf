"""Judging: rubrics and criteria, panels and judges, conflicts, assignments, reviews and
published result snapshots."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from challenge.db import Base, UTCDateTime


class Rubric(Base):
    """One version of a challenge's rubric. Editable until the first score exists; after
    that a change makes a new version, and each review records the version it used."""

    __tablename__ = "rubric"
    __table_args__ = (UniqueConstraint("challenge_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenge.id", ondelete="CASCADE"),
                                              index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    criteria: Mapped[list[Criterion]] = relationship(
        back_populates="rubric", order_by="Criterion.position", cascade="all, delete-orphan",
        lazy="selectin",
    )


class Criterion(Base):
    """A rubric criterion; `guidelines` lists the guideline item keys it cites."""

    __tablename__ = "criterion"
    __table_args__ = (UniqueConstraint("rubric_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rubric_id: Mapped[int] = mapped_column(ForeignKey("rubric.id", ondelete="CASCADE"),
                                           index=True)
    key: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    plain_description: Mapped[str] = mapped_column(Text, default="")
    weight: Mapped[float] = mapped_column(Float)
    min_score: Mapped[float] = mapped_column(Float, default=1)
    max_score: Mapped[float] = mapped_column(Float, default=5)
    levels: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    guidelines: Mapped[list[str]] = mapped_column(JSON, default=list)
    position: Mapped[int] = mapped_column(Integer, default=0)

    rubric: Mapped[Rubric] = relationship(back_populates="criteria")


class Panel(Base):
    """A panel of judges (expert, patient, ...) and its weight in the final score."""

    __tablename__ = "panel"
    __table_args__ = (UniqueConstraint("challenge_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenge.id", ondelete="CASCADE"),
                                              index=True)
    name: Mapped[str] = mapped_column(String(60))
    weight: Mapped[float] = mapped_column(Float, default=1.0)


class JudgeSeat(Base):
    """A judge in a challenge, sitting on one panel."""

    __tablename__ = "judge_seat"
    __table_args__ = (UniqueConstraint("challenge_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenge.id", ondelete="CASCADE"),
                                              index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    panel_id: Mapped[int] = mapped_column(ForeignKey("panel.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    panel: Mapped[Panel] = relationship(lazy="joined")
    user = relationship("User", lazy="joined")


class Conflict(Base):
    """A judge who must not review a team: declared, added by an organizer, or automatic
    (team membership is always a conflict, checked live)."""

    __tablename__ = "judging_conflict"
    __table_args__ = (UniqueConstraint("challenge_id", "user_id", "team_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenge.id", ondelete="CASCADE"),
                                              index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(12), default="declared")
    reason: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))


class Assignment(Base):
    """A judge asked to review a submission."""

    __tablename__ = "assignment"
    __table_args__ = (UniqueConstraint("user_id", "submission_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenge.id", ondelete="CASCADE"),
                                              index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id", ondelete="CASCADE"),
                                               index=True)
    source: Mapped[str] = mapped_column(String(10), default="auto")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Review(Base):
    """One judge's review of one entry (unique), scored criterion by criterion."""

    __tablename__ = "review"
    __table_args__ = (UniqueConstraint("user_id", "submission_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenge.id", ondelete="CASCADE"),
                                              index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id", ondelete="CASCADE"),
                                               index=True)
    rubric_id: Mapped[int] = mapped_column(ForeignKey("rubric.id"))
    status: Mapped[str] = mapped_column(String(10), default="draft")
    comment_to_organizers: Mapped[str] = mapped_column(Text, default="")
    feedback_to_team: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    scores: Mapped[list[CriterionScore]] = relationship(
        back_populates="review", cascade="all, delete-orphan", lazy="selectin"
    )


class CriterionScore(Base):
    """The score a review gives one criterion."""

    __tablename__ = "criterion_score"
    __table_args__ = (UniqueConstraint("review_id", "criterion_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("review.id", ondelete="CASCADE"),
                                           index=True)
    criterion_key: Mapped[str] = mapped_column(String(64))
    score: Mapped[float] = mapped_column(Float)

    review: Mapped[Review] = relationship(back_populates="scores")


class ResultSnapshot(Base):
    """Published results: written once, never changed. A new publication is a new version."""

    __tablename__ = "result_snapshot"
    __table_args__ = (UniqueConstraint("challenge_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenge.id", ondelete="CASCADE"),
                                              index=True)
    version: Mapped[int] = mapped_column(Integer)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    published_by: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    normalization: Mapped[str] = mapped_column(String(10))
    feedback_released: Mapped[bool] = mapped_column(Boolean, default=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)

    entries: Mapped[list[ResultEntry]] = relationship(
        back_populates="snapshot", order_by="ResultEntry.rank", cascade="all, delete-orphan",
        lazy="selectin",
    )


class ResultEntry(Base):
    """One ranked entry of a published snapshot."""

    __tablename__ = "result_entry"
    # The public ranking reads one page at a time in rank order (challenge/judging/published.py).
    __table_args__ = (Index("ix_result_entry_snapshot_rank", "snapshot_id", "rank", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("result_snapshot.id",
                                                        ondelete="CASCADE"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id", ondelete="SET NULL"))
    team_name: Mapped[str] = mapped_column(String(120))
    title: Mapped[str] = mapped_column(String(200))
    rank: Mapped[int] = mapped_column(Integer)
    reviews: Mapped[int] = mapped_column(Integer)
    raw_score: Mapped[float | None] = mapped_column(Float)
    normalized_score: Mapped[float | None] = mapped_column(Float)
    spread: Mapped[float | None] = mapped_column(Float)
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    award: Mapped[str] = mapped_column(String(120), default="")
    needs: Mapped[list[str]] = mapped_column(JSON, default=list)

    snapshot: Mapped[ResultSnapshot] = relationship(back_populates="entries")
