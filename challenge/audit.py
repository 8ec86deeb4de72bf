"""Append-only audit log: who did what, to what, when (UTC).

Details are short, structured facts (ids, role names, counts). Never put a password, a
token or a health answer in them: `record` refuses keys that look like secrets.

Who: `actor_id` (and the e-mail as `actor_label`) for a signed-in person; without an actor
the label says "anonymous" inside a web request and "cli" outside one (commands, scripts).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import has_request_context
from sqlalchemy import JSON, ForeignKey, String, event, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from challenge import clock
from challenge.db import Base, UTCDateTime

_FORBIDDEN_KEYS = ("password", "token", "secret", "answer", "text")


class AuditEvent(Base):
    """One thing that happened; rows are never updated or deleted."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL"), index=True
    )
    actor_label: Mapped[str | None] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str | None] = mapped_column(String(200))
    ip: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


@event.listens_for(AuditEvent, "before_update")
def _refuse_update(_mapper, _connection, _target) -> None:
    raise RuntimeError("audit events are append-only")


def record(
    session: Session,
    action: str,
    *,
    actor=None,
    actor_label: str | None = None,
    target: str | None = None,
    ip: str | None = None,
    **details: Any,
) -> AuditEvent:
    """Append an audit event; `actor` is a User or None (anonymous visitor or command line)."""
    for key in details:
        if any(bad in key.lower() for bad in _FORBIDDEN_KEYS):
            raise ValueError(f"audit details may not carry {key!r}")
    ev = AuditEvent(
        at=clock.now(),
        actor_id=getattr(actor, "id", None),
        actor_label=actor_label or getattr(actor, "email", None) or _nobody(),
        action=action,
        target=target,
        ip=ip,
        details=details,
    )
    session.add(ev)
    return ev


def _nobody() -> str:
    return "anonymous" if has_request_context() else "cli"


def page(
    session: Session, *, limit: int, offset: int, action: str | None = None
) -> tuple[list[AuditEvent], int]:
    """A page of events, newest first, optionally of one action, and the total count."""
    stmt = select(AuditEvent)
    count = select(func.count(AuditEvent.id))
    if action:
        stmt, count = stmt.where(AuditEvent.action == action), count.where(
            AuditEvent.action == action
        )
    rows = session.scalars(stmt.order_by(AuditEvent.id.desc()).limit(limit).offset(offset))
    return list(rows), session.scalar(count) or 0
