"""The mail outbox: messages are rows organizers can read (and, in development, printed).

Sending real mail is a deployment concern; the platform's promise is that every message
it means to send is recorded here first, in the same transaction as the change it reports.
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app, has_app_context
from sqlalchemy import String, Text, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from challenge import clock
from challenge.db import Base, UTCDateTime


class OutboxMessage(Base):
    """One e-mail the platform has queued."""

    __tablename__ = "outbox_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    to: Mapped[str] = mapped_column(String(320), index=True)
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(40), default="notice")


def send(session: Session, to: str, subject: str, body: str, *, kind: str = "notice"):
    """Queue a message; printed to the console when OUTBOX_ECHO is on (development)."""
    msg = OutboxMessage(created_at=clock.now(), to=to, subject=subject, body=body, kind=kind)
    session.add(msg)
    if has_app_context() and current_app.config.get("OUTBOX_ECHO"):
        print(f"--- outbox: to {to}: {subject}\n{body}\n---", flush=True)
    return msg


def page(session: Session, *, limit: int, offset: int) -> tuple[list[OutboxMessage], int]:
    """A page of messages, newest first, and the total count."""
    total = session.scalar(select(func.count(OutboxMessage.id))) or 0
    rows = session.scalars(
        select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit).offset(offset)
    )
    return list(rows), total


def latest_to(session: Session, to: str) -> OutboxMessage | None:
    """The newest message to `to` (used by tests and the CLI)."""
    return session.scalar(
        select(OutboxMessage).where(OutboxMessage.to == to).order_by(OutboxMessage.id.desc())
    )
