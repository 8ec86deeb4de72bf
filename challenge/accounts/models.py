"""Accounts: users, their roles, and consent records."""

from __future__ import annotations

import secrets
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from challenge.db import Base, UTCDateTime

ROLES = ("patient", "entrant", "judge", "organizer", "safety")
SELF_SERVICE_ROLES = ("patient", "entrant")
ROLE_LABELS = {
    "patient": "Patient or carer",
    "entrant": "Entrant (team member)",
    "judge": "Judge",
    "organizer": "Organizer",
    "safety": "Safety officer",
}


def new_session_token() -> str:
    """A fresh random token; changing it ends every session of the user."""
    return secrets.token_urlsafe(24)


class User(UserMixin, Base):
    """A person with an account. `password_hash` is None until an invited person sets one."""

    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    password_hash: Mapped[str | None] = mapped_column(String(256))
    session_token: Mapped[str] = mapped_column(String(64), default=new_session_token)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")

    role_rows: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def roles(self) -> set[str]:
        """The user's role names."""
        return {r.role for r in self.role_rows}

    def has_role(self, *roles: str) -> bool:
        """True when the user holds any of `roles`."""
        return bool(self.roles.intersection(roles))

    def get_id(self) -> str:
        # Flask-Login's "alternative token": the cookie names the user *and* the current
        # session token, so rotating the token (logout, password change) ends every session.
        return f"{self.id}:{self.session_token}"

    @property
    def display_name(self) -> str:
        """Name if given, else the part of the e-mail before @."""
        return self.name or self.email.split("@", 1)[0]


class UserRole(Base):
    """One role held by one user."""

    __tablename__ = "user_role"
    __table_args__ = (UniqueConstraint("user_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20), index=True)

    user: Mapped[User] = relationship(back_populates="role_rows")


class ConsentRecord(Base):
    """Consent given to a versioned text, by an account or by an anonymous participation.

    `subject` names what was consented to ("privacy" for the platform notice,
    "survey:<slug>" for a survey). For anonymous surveys `user_id` stays empty and
    `participation_ref` holds an opaque reference that does not lead to the response.
    """

    __tablename__ = "consent_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), index=True
    )
    participation_ref: Mapped[str | None] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(120))
    text_version: Mapped[str] = mapped_column(String(40))
    given_at: Mapped[datetime] = mapped_column(UTCDateTime)
