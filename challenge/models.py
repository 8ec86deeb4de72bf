"""Every model of the platform, imported in one place so Alembic and tests see them all."""

from challenge.accounts.models import ConsentRecord, User, UserRole
from challenge.audit import AuditEvent
from challenge.challenges.models import (
    Challenge,
    Invitation,
    JoinRequest,
    Membership,
    Submission,
    SubmissionFile,
    SubmissionVersion,
    Team,
)
from challenge.db import Base
from challenge.idempotency import IdempotencyKey
from challenge.judging.models import (
    Assignment,
    Conflict,
    Criterion,
    CriterionScore,
    JudgeSeat,
    Panel,
    ResultEntry,
    ResultSnapshot,
    Review,
    Rubric,
)
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
    "Answer",
    "Assignment",
    "AuditEvent",
    "Base",
    "Challenge",
    "Conflict",
    "ConsentRecord",
    "Criterion",
    "CriterionScore",
    "Flag",
    "FlagEvent",
    "GuidelineDocument",
    "GuidelineItem",
    "IdempotencyKey",
    "InsightReport",
    "Invitation",
    "JoinRequest",
    "JudgeSeat",
    "Membership",
    "OutboxMessage",
    "Panel",
    "Participation",
    "Question",
    "Response",
    "ResultEntry",
    "ResultSnapshot",
    "Review",
    "Rubric",
    "Submission",
    "SubmissionFile",
    "SubmissionVersion",
    "Survey",
    "Team",
    "User",
    "UserRole",
]
