"""Public challenge pages: the list, and one challenge's brief, guidelines, phases, rules.

An unpublished challenge exists only for organizers (404 for everyone else).
"""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from challenge import clock
from challenge.challenges import services, teams
from challenge.challenges.models import PHASE_LABELS, PHASES
from challenge.db import db_session
from challenge.errors import NotFound
from challenge.pagination import Page, page_args

bp = Blueprint("challenges", __name__)


def _is_organizer() -> bool:
    return current_user.is_authenticated and current_user.has_role("organizer")


@bp.get("/challenges")
def index():
    """Published challenges, newest first."""
    number, per_page, offset = page_args()
    rows, total = services.list_public(db_session(), limit=per_page, offset=offset)
    return render_template("challenges/index.html", page=Page(rows, total, number, per_page),
                           now=clock.now(), current_phase=services.current_phase)


@bp.get("/c/<slug>")
def detail(slug: str):
    """The brief, sponsor, guidelines, phases with a countdown, rules, IP terms, rubric."""
    dbs = db_session()
    challenge = services.get_challenge(dbs, slug)
    if not challenge.published and not _is_organizer():
        raise NotFound("There is no challenge at this address.")
    now = clock.now()
    upcoming = services.next_phase(challenge, now)
    criteria = services.rubric_criteria(challenge)
    total_weight = sum(c.get("weight", 0) for c in criteria)
    membership = teams.membership_for(dbs, current_user, challenge)
    return render_template(
        "challenges/detail.html", challenge=challenge,
        survey=services.linked_survey(dbs, challenge),
        doc=services.guideline_doc_for(dbs, challenge),
        phases=[(name, PHASE_LABELS[name], getattr(challenge, name)) for name in PHASES],
        current=services.current_phase(challenge, now), upcoming=upcoming,
        countdown=services.countdown(now, upcoming.at) if upcoming else None,
        criteria=criteria, total_weight=total_weight, membership=membership,
        registration_open=services.registration_open(challenge, now),
        now=now,
    )
