"""Demonstration data for `flask --app challenge demo load`.

Idempotent: running it again finds what exists and creates only what is missing. Each
later part of the platform adds its own demo step here.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from challenge.accounts import services as accounts
from challenge.challenges import demo as challenge_demo
from challenge.judging import demo as judging_demo
from surveys import demo as survey_demo


@dataclass(frozen=True)
class DemoLogin:
    """A demo account and its password, printed for newcomers."""

    role: str
    email: str
    password: str


DEMO_ACCOUNTS = (
    ("organizer", "organizer@demo.example", "Demo organizer", "demo-organizer-2027"),
    ("safety", "safety@demo.example", "Demo safety officer", "demo-safety-2027"),
    ("judge", "judge@demo.example", "Demo judge", "demo-judge-2027"),
    ("entrant", "entrant@demo.example", "Demo entrant", "demo-entrant-2027"),
    ("patient", "patient@demo.example", "Demo patient", "demo-patient-2027"),
)


def ensure_user(session: Session, email: str, password: str | None, roles: list[str], name: str):
    """The user with `email`, created when missing."""
    return accounts.find_user(session, email) or accounts.create_user(
        session, email, password=password, roles=roles, name=name
    )


def load(session: Session) -> list[DemoLogin]:
    """Create the demo accounts (and, as the platform grows, its demo content)."""
    logins = []
    for role, email, name, password in DEMO_ACCOUNTS:
        ensure_user(session, email, password, [role], name)
        logins.append(DemoLogin(role, email, password))
    session.flush()
    survey = survey_demo.load(session)
    challenge_demo.load(session, survey.slug)
    judging_demo.load(session, challenge_demo.FINISHED)
    return logins
