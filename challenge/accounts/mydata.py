"""A person's data: export everything the platform holds about them, or delete it.

Each package that stores personal data registers an exporter (session, user) -> dict and,
if it needs to, an eraser (session, user) -> None that runs before the account row is
deleted. `accounts` thus never imports the packages above it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, current_app
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from challenge import audit, clock
from challenge.accounts.models import ConsentRecord, User
from challenge.audit import AuditEvent

Exporter = Callable[[Session, User], dict[str, Any]]
Eraser = Callable[[Session, User], None]


def register(app: Flask, name: str, exporter: Exporter, eraser: Eraser | None = None) -> None:
    """Add a package's exporter (and eraser) under `name`."""
    app.extensions.setdefault("mydata", {})[name] = (exporter, eraser)


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _accounts_part(session: Session, user: User) -> dict[str, Any]:
    consents = session.scalars(select(ConsentRecord).where(ConsentRecord.user_id == user.id)
                               .order_by(ConsentRecord.id))
    events = session.scalars(select(AuditEvent).where(AuditEvent.actor_id == user.id)
                             .order_by(AuditEvent.id))
    return {
        "account": {
            "email": user.email, "name": user.name, "roles": sorted(user.roles),
            "created_at": _iso(user.created_at), "last_login_at": _iso(user.last_login_at),
            "timezone": user.timezone,
        },
        "consents": [{"subject": c.subject, "text_version": c.text_version,
                      "given_at": _iso(c.given_at)} for c in consents],
        "activity": [{"at": _iso(e.at), "action": e.action, "target": e.target}
                     for e in events],
    }


def export(session: Session, user: User) -> dict[str, Any]:
    """Everything held about `user`, as one JSON-ready document."""
    document = {"exported_at": _iso(clock.now()), **_accounts_part(session, user)}
    for name, (exporter, _eraser) in sorted(current_app.extensions.get("mydata", {}).items()):
        document[name] = exporter(session, user)
    audit.record(session, "mydata.exported", actor=user, target=f"user:{user.id}")
    return document


def delete_account(session: Session, user: User) -> None:
    """Delete the account and its personal rows; every session ends with the row.

    Anonymous survey answers stay: nothing links them to the person.
    """
    for _name, (_exporter, eraser) in sorted(current_app.extensions.get("mydata", {}).items()):
        if eraser is not None:
            eraser(session, user)
    user_id = user.id
    # Audit events stay (append-only) but lose the link and the e-mail address.
    audit.record(session, "account.deleted", actor_label="deleted account",
                 target=f"user:{user_id}")
    session.execute(
        AuditEvent.__table__.update().where(AuditEvent.actor_id == user_id)
        .values(actor_id=None, actor_label="deleted account")
    )
    session.execute(delete(ConsentRecord).where(ConsentRecord.user_id == user_id))
    session.delete(user)
    session.flush()
