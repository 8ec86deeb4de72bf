"""Adverse-event flags and their append-only history."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from challenge.db import Base, UTCDateTime

FLAG_STATUSES = ("new", "reviewed", "forwarded", "not_adverse_event")
OPEN_STATUSES = ("new", "reviewed")  # texts under these stay out of every publication
STATUS_LABELS = {
    "new": "New",
    "reviewed": "Reviewed",
    "forwarded": "Forwarded to pharmacovigilance",
    "not_adverse_event": "Not an adverse event",
}
# Which status may follow which: a flag moves forward and is never deleted.
TRANSITIONS = {
    "new": ("reviewed", "forwarded", "not_adverse_event"),
    "reviewed": ("forwarded", "not_adverse_event"),
    "forwarded": (),
    "not_adverse_event": ("reviewed",),
}


class Flag(Base):
    """A text that mentions a medicine and a side effect, awaiting the safety team.

    `first_seen` starts the reporting clock. `source` names the kind of text
    ("survey-response", "survey-import", "submission"); `source_ref` points at it.
    """

    __tablename__ = "safety_flag"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(40), index=True)
    source_ref: Mapped[str] = mapped_column(String(200), index=True)
    excerpt: Mapped[str] = mapped_column(Text)
    products: Mapped[list[str]] = mapped_column(JSON)
    events: Mapped[list[str]] = mapped_column(JSON)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    status: Mapped[str] = mapped_column(String(20), default="new", index=True)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    forwarded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    history: Mapped[list[FlagEvent]] = relationship(
        back_populates="flag", order_by="FlagEvent.id", lazy="selectin"
    )

    @property
    def is_open(self) -> bool:
        """Still keeping its text out of publications."""
        return self.status in OPEN_STATUSES


class FlagEvent(Base):
    """One change of a flag's status: who, when, from what to what, and why."""

    __tablename__ = "safety_flag_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    flag_id: Mapped[int] = mapped_column(ForeignKey("safety_flag.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")

    flag: Mapped[Flag] = relationship(back_populates="history")


@event.listens_for(FlagEvent, "before_update")
@event.listens_for(FlagEvent, "before_delete")
def _append_only(_mapper, _connection, _target) -> None:
    raise RuntimeError("flag history is append-only")


@event.listens_for(Flag, "before_delete")
def _never_delete(_mapper, _connection, _target) -> None:
    raise RuntimeError("safety flags are never deleted")
