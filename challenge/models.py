"""Every model of the platform, imported in one place so Alembic and tests see them all."""

from challenge.accounts.models import ConsentRecord, User, UserRole
from challenge.audit import AuditEvent
from challenge.db import Base
from challenge.outbox import OutboxMessage
from challenge.safety.models import Flag, FlagEvent
from surveys.models import (
    Answer,
    GuidelineDocument,
    GuidelineItem,
    InsightReport,
    Participation,
    Question,
    Response,
    Survey,
)

__all__ = [
    "Answer", "AuditEvent", "Base", "ConsentRecord", "Flag", "FlagEvent", "OutboxMessage",
    "GuidelineDocument", "GuidelineItem", "InsightReport", "Participation", "Question",
    "Response", "Survey", "User", "UserRole",
]
