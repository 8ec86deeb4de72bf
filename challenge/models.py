"""Every model of the platform, imported in one place so Alembic and tests see them all."""

from challenge.accounts.models import ConsentRecord, User, UserRole
from challenge.audit import AuditEvent
from challenge.db import Base
from challenge.outbox import OutboxMessage

__all__ = ["AuditEvent", "Base", "ConsentRecord", "OutboxMessage", "User", "UserRole"]
