"""Judges and panels of a challenge: invite, move between panels, remove; panel weights.

Every change is audited and written back to the challenge's settings (`Challenge.judges`,
`Challenge.panels`), so `challenges export` reproduces the judging set-up and a later
import of that export changes nothing.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from challenge import audit, clock, outbox
from challenge.accounts.models import User, UserRole
from challenge.accounts.services import (
    create_user,
    find_user,
    make_password_token,
    normalize_email,
)
from challenge.challenges.models import Challenge
from challenge.errors import Conflict, NotFound, ValidationFailed
from challenge.judging import access
from challenge.judging.models import Assignment, JudgeSeat, Panel, Review
from challenge.judging.setup import DEFAULT_PANEL, DEFAULT_PANEL_WEIGHT
from challenge.links import external_url

#: Same rule as a bundle's panel names.
PANEL_RE = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
NAME_MAX = 120
WEIGHT_MAX = 1000.0


class FieldsInvalid(ValidationFailed):
    """Problems of named form fields: `fields` maps a field name to its messages."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        super().__init__([m for ms in fields.values() for m in ms])
        self.fields = fields


@dataclass(frozen=True)
class InviteOutcome:
    """What inviting did: the seat, and whether an account and a password link were made."""

    seat: JudgeSeat
    account_created: bool
    link_sent: bool


# --- panels ---------------------------------------------------------------------------------

def panels(session: Session, challenge: Challenge) -> list[Panel]:
    """The challenge's panels, in the order they were made."""
    return list(session.scalars(select(Panel).where(Panel.challenge_id == challenge.id)
                                .order_by(Panel.id)))


def get_panel(session: Session, challenge: Challenge, name: str) -> Panel:
    """A panel by name; the default panel ("expert") is created on first use."""
    panel = session.scalar(select(Panel).where(Panel.challenge_id == challenge.id,
                                               Panel.name == name))
    if panel is None and name == DEFAULT_PANEL:
        panel = Panel(challenge_id=challenge.id, name=name, weight=DEFAULT_PANEL_WEIGHT)
        session.add(panel)
        session.flush()
        _write_panels(session, challenge)
    if panel is None:
        raise NotFound(f"This challenge has no panel “{name}”.")
    return panel


def _weight_problem(weight) -> str | None:
    if (weight is None or isinstance(weight, bool) or not isinstance(weight, int | float)
            or not math.isfinite(weight) or weight <= 0):
        return "The weight must be a number greater than 0."
    if weight > WEIGHT_MAX:
        return f"The weight must be at most {WEIGHT_MAX:g}."
    return None


def _write_panels(session: Session, challenge: Challenge) -> None:
    config = {p.name: p.weight for p in panels(session, challenge)}
    if challenge.panels != config:
        challenge.panels = config


def save_panel(session: Session, challenge: Challenge, name: str, weight, *, actor) -> Panel:
    """Add a panel, or change the weight of an existing one (names are fixed once made)."""
    name = (name or "").strip()
    problems: dict[str, str] = {}
    if not PANEL_RE.match(name):
        problems["name"] = ("Use lower-case letters, digits, - or _, starting with a letter "
                            "(at most 40).")
    problem = _weight_problem(weight)
    if problem:
        problems["weight"] = problem
    if problems:
        raise FieldsInvalid({k: [v] for k, v in problems.items()})
    panel = session.scalar(select(Panel).where(Panel.challenge_id == challenge.id,
                                               Panel.name == name))
    weight = float(weight)
    if panel is None:
        panel = Panel(challenge_id=challenge.id, name=name, weight=weight)
        session.add(panel)
        session.flush()
        audit.record(session, "panel.added", actor=actor, target=f"challenge:{challenge.slug}",
                     panel=name, weight=weight)
    elif panel.weight != weight:
        before = panel.weight
        panel.weight = weight
        audit.record(session, "panel.changed", actor=actor,
                     target=f"challenge:{challenge.slug}", panel=name, before=before,
                     after=weight)
    _write_panels(session, challenge)
    session.flush()
    return panel


# --- judges ---------------------------------------------------------------------------------

def seats(session: Session, challenge: Challenge) -> list[JudgeSeat]:
    """The challenge's judges (with user and panel), by panel then e-mail."""
    return list(session.scalars(
        select(JudgeSeat).join(Panel, Panel.id == JudgeSeat.panel_id)
        .join(User, User.id == JudgeSeat.user_id)
        .where(JudgeSeat.challenge_id == challenge.id).order_by(Panel.id, User.email)))


def get_seat(session: Session, challenge: Challenge, seat_id: int) -> JudgeSeat:
    seat = session.get(JudgeSeat, seat_id)
    if seat is None or seat.challenge_id != challenge.id:
        raise NotFound("This challenge has no such judge.")
    return seat


def _write_judges(session: Session, challenge: Challenge) -> None:
    """Keep `Challenge.judges` in step with the seats: known entries keep their order and
    names, new seats are appended, removed ones dropped."""
    current = {s.user.email: s for s in seats(session, challenge)}
    config = []
    for item in challenge.judges or []:
        email = normalize_email(item["email"])
        seat = current.pop(email, None)
        if seat is not None:
            config.append({**item, "email": email, "panel": seat.panel.name})
    for email, seat in sorted(current.items()):
        config.append({"email": email, "name": seat.user.name or "", "panel": seat.panel.name})
    if challenge.judges != config:
        challenge.judges = config


def _email_problem(email: str) -> str | None:
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError:
        return "Enter a valid e-mail address."
    return None


def invite_judge(session: Session, challenge: Challenge, email: str, panel_name: str, *,
                 name: str = "", actor) -> InviteOutcome:
    """Seat a judge on a panel: the account is created (without a password) when missing
    and given the judge role; the person gets an e-mail with a link to set a password when
    the account has none, else a notice."""
    email = normalize_email(email or "")
    problem = _email_problem(email)
    if problem:
        raise FieldsInvalid({"email": [problem]})
    if len(name or "") > NAME_MAX:
        raise FieldsInvalid({"name": [f"Keep the name under {NAME_MAX} characters."]})
    panel = get_panel(session, challenge, panel_name)
    user = find_user(session, email)
    created = user is None
    if user is None:
        user = create_user(session, email, password=None, roles=["judge"], name=name or "",
                           actor=actor)
    else:
        existing = access.judge_seat(session, user, challenge)
        if existing is not None:
            raise Conflict(f"{email} is already a judge in this challenge (panel "
                           f"“{existing.panel.name}”).", field="email")
        if "judge" not in user.roles:
            before = sorted(user.roles)
            user.role_rows.append(UserRole(role="judge"))
            audit.record(session, "roles.changed", actor=actor, target=f"user:{user.id}",
                         before=before, after=sorted(user.roles), via="judge invitation")
    seat = JudgeSeat(challenge_id=challenge.id, user_id=user.id, panel_id=panel.id,
                     created_at=clock.now())
    seat.panel = panel
    seat.user = user
    session.add(seat)
    session.flush()
    link_sent = user.password_hash is None
    _message(session, challenge, user, panel, link_sent)
    _write_judges(session, challenge)
    audit.record(session, "judge.invited", actor=actor, target=f"challenge:{challenge.slug}",
                 user=user.id, panel=panel.name, account_created=created)
    session.flush()
    return InviteOutcome(seat, created, link_sent)


def _message(session: Session, challenge: Challenge, user: User, panel: Panel,
             with_link: bool) -> None:
    conflicts = external_url("judge_conflicts.conflicts", slug=challenge.slug)
    closes = challenge.judging_closes.strftime("%d %B %Y, %H:%M UTC")
    intro = (f"An organizer asked you to judge the challenge “{challenge.title}” on the "
             f"{panel.name} panel. Judging closes on {closes}.")
    declare = (f"Before you score anything, tell us about any team you have a conflict of "
               f"interest with (a friend, a colleague, a company you work for):\n{conflicts}")
    if with_link:
        days = max(1, current_app.config["INVITE_MAX_AGE"] // 86400)
        link = external_url("accounts.accept_invite", token=make_password_token(user, "invite"))
        body = (f"{intro}\n\nSet your password to log in (the link works once and expires in "
                f"{days} days):\n{link}\n\n{declare}\n\nIf you did not expect this message, "
                f"ignore it: no one can log in to the account without this link.")
        outbox.send(session, user.email, f"You are invited to judge {challenge.title}", body,
                    kind="invite")
    else:
        body = (f"{intro}\n\nLog in with your usual password.\n\n{declare}")
        outbox.send(session, user.email, f"You are now a judge of {challenge.title}", body,
                    kind="notice")


def change_panel(session: Session, seat: JudgeSeat, panel_name: str, *, actor) -> JudgeSeat:
    """Move a judge to another panel of the same challenge (audited)."""
    challenge = session.get(Challenge, seat.challenge_id)
    panel = get_panel(session, challenge, panel_name)
    if panel.id == seat.panel_id:
        return seat
    before = seat.panel.name
    seat.panel_id = panel.id
    seat.panel = panel
    session.flush()
    _write_judges(session, challenge)
    audit.record(session, "judge.panel_changed", actor=actor,
                 target=f"challenge:{challenge.slug}", user=seat.user_id, before=before,
                 after=panel.name)
    session.flush()
    return seat


def remove_judge(session: Session, seat: JudgeSeat, *, actor) -> None:
    """Remove a judge who has written no review (draft or submitted); their assignments go
    with them. The account and its judge role stay."""
    challenge = session.get(Challenge, seat.challenge_id)
    reviews = session.scalar(select(func.count(Review.id)).where(
        Review.challenge_id == challenge.id, Review.user_id == seat.user_id)) or 0
    if reviews:
        raise Conflict(f"{seat.user.email} has {reviews} review{'s' if reviews != 1 else ''} "
                       f"in this challenge; a judge with reviews cannot be removed.")
    dropped = session.execute(delete(Assignment).where(
        Assignment.challenge_id == challenge.id, Assignment.user_id == seat.user_id)).rowcount
    user_id = seat.user_id
    session.delete(seat)
    session.flush()
    _write_judges(session, challenge)
    audit.record(session, "judge.removed", actor=actor, target=f"challenge:{challenge.slug}",
                 user=user_id, assignments_removed=dropped or 0)
    session.flush()
