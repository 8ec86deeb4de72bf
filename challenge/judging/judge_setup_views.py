"""A judge's own set-up page: declare conflicts of interest with teams of a challenge.

Only judges seated in the challenge reach it (403 for anyone else). The page lists team
names only (no members, no entry titles), so it reveals nothing blind judging hides.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from challenge.challenges.services import get_challenge, get_team
from challenge.db import db_session
from challenge.errors import DomainError
from challenge.judging import access
from challenge.judging import conflicts as conflict_services
from challenge.judging.forms import JudgeConflictForm

bp = Blueprint("judge_conflicts", __name__, url_prefix="/judging/<slug>")


def _render(challenge, seat, form: JudgeConflictForm, general=None, status: int = 200):
    dbs = db_session()
    rows = conflict_services.conflicts_of(dbs, challenge, current_user.id)
    taken = {r.team_id for r in rows}
    form.team_id.choices = [(t.id, t.name) for t in conflict_services.teams(dbs, challenge)
                            if t.id not in taken or t.id == form.team_id.data]
    return render_template("judging/conflicts.html", challenge=challenge, seat=seat,
                           form=form, rows=rows, general=general or []), status


@bp.route("/conflicts", methods=["GET", "POST"])
@login_required
def conflicts(slug: str):
    """List my conflicts in this challenge and declare a new one."""
    dbs = db_session()
    challenge = get_challenge(dbs, slug, for_update=request.method == "POST")
    seat = access.judge_seat(dbs, current_user, challenge)
    if seat is None:
        abort(403)
    if request.method == "GET":
        return _render(challenge, seat, JudgeConflictForm(formdata=None))
    form = JudgeConflictForm()
    form.team_id.choices = [(t.id, t.name) for t in conflict_services.teams(dbs, challenge)]
    if not form.validate_on_submit():
        return _render(challenge, seat, form, status=422)
    try:
        outcome = conflict_services.declare(dbs, challenge, current_user._get_current_object(),
                                    form.team_id.data, form.reason.data or "")
    except DomainError as exc:
        dbs.rollback()
        if exc.field and exc.field in form:
            form[exc.field].errors = [*form[exc.field].errors, exc.message]
            general = []
        else:
            general = [exc.message]
        return _render(challenge, seat, form, general, exc.status_code)
    dbs.commit()
    name = get_team(dbs, challenge, outcome.conflict.team_id).name
    flash(f"Thank you: you will not be asked to judge {name}." if outcome.created
          else f"Your conflict with {name} was already recorded.", "success")
    return redirect(url_for("judge_conflicts.conflicts", slug=slug))

