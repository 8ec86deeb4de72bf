"""Challenges, teams, invitations and submissions (with immutable versions and files)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from challenge.db import Base, UTCDateTime

PHASES = ("registration_opens", "submission_deadline", "judging_closes", "results_at")
PHASE_LABELS = {
    "registration_opens": "Registration opens",
    "submission_deadline": "Submission deadline",
    "judging_closes": "Judging closes",
    "results_at": "Results",
}


class Challenge(Base):
    """An innovation challenge: the brief, its phases, and the judging set-up it will use.

    The judging parts of an imported bundle (rubric, panels, normalization, reviews per
    entry, judges) are kept here as given, for the judging package to build on.
    """

    __tablename__ = "challenge"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    rules: Mapped[str] = mapped_column(Text, default="")
    ip_terms: Mapped[str] = mapped_column(Text, default="")
    sponsor_disclosure: Mapped[str] = mapped_column(Text, default="")
    survey_id: Mapped[int | None] = mapped_column(ForeignKey("survey.id", ondelete="SET NULL"))
    team_min: Mapped[int] = mapped_column(Integer, default=1)
    team_max: Mapped[int] = mapped_column(Integer, default=5)
    registration_opens: Mapped[datetime] = mapped_column(UTCDateTime)
    submission_deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    judging_closes: Mapped[datetime] = mapped_column(UTCDateTime)
    results_at: Mapped[datetime] = mapped_column(UTCDateTime)
    published: Mapped[bool] = mapped_column(Boolean, default=True)
    gallery_open: Mapped[bool] = mapped_column(Boolean, default=False)
    blind_judging: Mapped[bool] = mapped_column(Boolean, default=False)
    normalization: Mapped[str] = mapped_column(String(10), default="zscore")
    reviews_per_entry: Mapped[int] = mapped_column(Integer, default=3)
    panels: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    rubric: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    judges: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    teams: Mapped[list[Team]] = relationship(back_populates="challenge",
                                             order_by="Team.name")

    def phase_times(self) -> dict[str, datetime]:
        """The four phase times, by CONTRACTS.md name."""
        return {name: getattr(self, name) for name in PHASES}


class Team(Base):
    """A team in one challenge. `deadline_extension` is an organizer's grant (audited)."""

    __tablename__ = "team"
    __table_args__ = (UniqueConstraint("challenge_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenge.id", ondelete="CASCADE"),
                                              index=True)
    name: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deadline_extension: Mapped[datetime | None] = mapped_column(UTCDateTime)

    challenge: Mapped[Challenge] = relationship(back_populates="teams")
    memberships: Mapped[list[Membership]] = relationship(
        back_populates="team", cascade="all, delete-orphan", lazy="selectin",
        order_by="Membership.id",
    )

    @property
    def captain(self):
        return next((m.user for m in self.memberships if m.role == "captain"), None)


class Membership(Base):
    """A person in a team. One team per person per challenge (unique constraint)."""

    __tablename__ = "membership"
    __table_args__ = (UniqueConstraint("challenge_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id", ondelete="CASCADE"), index=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenge.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(10), default="member")  # captain | member
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime)

    team: Mapped[Team] = relationship(back_populates="memberships")
    user = relationship("User", lazy="joined")


class Invitation(Base):
    """An invitation to a team: to one e-mail address (single use) or a shareable link.

    Only a hash of the token is stored. Links expire and can be revoked.
    """

    __tablename__ = "invitation"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id", ondelete="CASCADE"), index=True)
    email: Mapped[str | None] = mapped_column(String(320))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class JoinRequest(Base):
    """Someone asking to join a team; the captain accepts or declines."""

    __tablename__ = "join_request"
    __table_args__ = (UniqueConstraint("team_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(10), default="pending")
    message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Submission(Base):
    """A team's project: a chain of immutable versions, one of which is the entry."""

    __tablename__ = "submission"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id", ondelete="CASCADE"), unique=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenge.id", ondelete="CASCADE"),
                                              index=True)
    entry_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("submission_version.id", use_alter=True, ondelete="SET NULL"))
    gallery_opt_in: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    versions: Mapped[list[SubmissionVersion]] = relationship(
        back_populates="submission", order_by="SubmissionVersion.number",
        foreign_keys="SubmissionVersion.submission_id",
    )


class SubmissionVersion(Base):
    """One saved state of a submission: who, when, what changed. Never updated, except
    that submitting stamps `submitted_at` and `content_hash` once."""

    __tablename__ = "submission_version"
    __table_args__ = (UniqueConstraint("submission_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id", ondelete="CASCADE"),
                                               index=True)
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    needs: Mapped[list[str]] = mapped_column(JSON, default=list)
    demo_url: Mapped[str] = mapped_column(String(500), default="")
    repo_url: Mapped[str] = mapped_column(String(500), default="")
    file_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    changes: Mapped[list[str]] = mapped_column(JSON, default=list)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    content_hash: Mapped[str | None] = mapped_column(String(64))

    submission: Mapped[Submission] = relationship(back_populates="versions",
                                                  foreign_keys=[submission_id])


class SubmissionFile(Base):
    """An uploaded file: stored under a server-generated name, never the person's."""

    __tablename__ = "submission_file"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id", ondelete="CASCADE"),
                                               index=True)
    storage_name: Mapped[str] = mapped_column(String(80), unique=True)
    original_name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(10))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime)
