"""Organizer pages for challenges: list, create, edit, overview of teams, extensions, CSV.

Thin routes: forms parse, `services` decides, the view commits or rolls back. Every route
is for organizers only.
"""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import current_user

from challenge import audit, clock
from challenge.challenges import services
from challenge.challenges.forms import (
    ZONE_LIST_ID,
    ChallengeForm,
    ExtensionForm,
    to_local,
    zone_choices,
    zone_names,
)
from challenge.db import db_session, set_write_intent
from challenge.errors import DomainError
from challenge.formerrors import place_errors as _place_errors
from challenge.pagination import PER_PAGE, Page, page_args, page_number
from challenge.security import current_actor, role_required
from surveys.charts import bar_chart

bp = Blueprint("challenge_admin", __name__, url_prefix="/organize/challenges")

ORGANIZER = "organizer"



@bp.get("/")
@role_required(ORGANIZER)
def index():
    """Every challenge, newest registration first, with its team count."""
    number, per_page, offset = page_args()
    rows, total = services.list_for_organizers(db_session(), limit=per_page, offset=offset)
    return render_template("challenges/admin/index.html",
                           page=Page(rows, total, number, per_page), now=clock.now(),
                           current_phase=services.current_phase)


def _save(form: ChallengeForm, challenge):
    """Validate, then create or update; re-render with every typed value on refusal."""
    dbs = db_session()
    general: list[str] = []
    status = 200
    if form.validate_on_submit():
        data = form.to_data()
        if data is None:
            status = 422
        else:
            try:
                if challenge is None:
                    challenge = services.create_challenge(dbs, data, actor=current_actor())
                    message = f"Challenge “{challenge.title}” created."
                else:
                    changed = services.update_challenge(dbs, challenge, data, actor=current_actor())
                    message = "Challenge saved." if changed else "Nothing changed."
            except DomainError as exc:
                dbs.rollback()
                general = _place_errors(form, exc)
                status = exc.status_code
            else:
                dbs.commit()
                flash(message, "success")
                return redirect(url_for("challenge_admin.overview", slug=challenge.slug))
    elif request.method == "POST":
        status = 422
    return render_template("challenges/admin/edit.html", form=form, challenge=challenge,
                           general=general), status


@bp.route("/new", methods=["GET", "POST"])
@role_required(ORGANIZER)
def create():
    """A new challenge: brief, team limits, phases, guidelines, visibility."""
    form = ChallengeForm()
    form.set_surveys(services.survey_choices(db_session()))
    return _save(form, None)


@bp.route("/<slug>/edit", methods=["GET", "POST"])
@role_required(ORGANIZER)
def edit(slug: str):
    """Change a challenge's settings (its address is fixed once teams exist)."""
    dbs = db_session()
    challenge = services.get_challenge(dbs, slug, for_update=request.method == "POST")
    if request.method == "POST":
        form = ChallengeForm()
    else:
        form = ChallengeForm.for_challenge(services.ChallengeData.of(dbs, challenge))
    form.set_surveys(services.survey_choices(dbs))
    return _save(form, challenge)


def _overview(challenge, *, failed: tuple[int, ExtensionForm] | None = None,
              status: int = 200):
    dbs = db_session()
    counts = services.team_status_counts(dbs, challenge)
    total = sum(counts.values())
    number = page_number()
    if failed is not None:  # show the page of the team whose form was refused
        number = _page_of(dbs, challenge, failed[0])
    rows = services.team_rows(dbs, challenge, limit=PER_PAGE, offset=(number - 1) * PER_PAGE)
    page = Page(rows, total, number, PER_PAGE)
    # Times are offered in the organizer's own zone (UTC until they choose one).
    zone = current_user.timezone if current_user.timezone in zone_names() else "UTC"
    forms = {}
    for row in rows:
        if failed is not None and failed[0] == row.id:
            forms[row.id] = failed[1]
            continue
        until = row.deadline_extension or challenge.submission_deadline
        forms[row.id] = ExtensionForm(prefix=f"t{row.id}", formdata=None,
                                      data={"until": to_local(until, zone), "timezone": zone})
    activity = services.last_minute(dbs, challenge)
    chart = bar_chart([(f"−{h.hours_before} h", h.saved) for h in activity.hours])
    now = clock.now()
    return render_template(
        "challenges/admin/overview.html", challenge=challenge, page=page,
        counts=counts, labels=services.SUBMISSION_STATUS_LABELS,
        activity=activity, chart=chart, forms=forms, now=now,
        zones=zone_choices(), zone_list_id=ZONE_LIST_ID,
        current=services.current_phase(challenge, now),
        survey=services.linked_survey(dbs, challenge),
        doc=services.guideline_doc_for(dbs, challenge)), status


def _page_of(dbs, challenge, team_id: int) -> int:
    """The overview page that lists this team."""
    team = services.get_team(dbs, challenge, team_id)
    return services.team_position(dbs, challenge, team) // PER_PAGE + 1


def _team_anchor(slug: str, dbs, challenge, team) -> str:
    """The overview address that shows this team's row."""
    number = _page_of(dbs, challenge, team.id)
    return url_for("challenge_admin.overview", slug=slug, page=number if number > 1 else None,
                   _anchor=f"team-{team.id}")


@bp.get("/<slug>")
@role_required(ORGANIZER)
def overview(slug: str):
    """Teams, members, submission status, last-minute activity, extensions, CSV."""
    return _overview(services.get_challenge(db_session(), slug))


@bp.post("/<slug>/teams/<int:team_id>/extension")
@role_required(ORGANIZER)
def grant_extension(slug: str, team_id: int):
    """Give one team a later deadline (audited)."""
    dbs = db_session()
    challenge = services.get_challenge(dbs, slug)
    team = services.get_team(dbs, challenge, team_id)
    form = ExtensionForm(prefix=f"t{team.id}")
    until = form.to_utc() if form.validate_on_submit() else None
    if until is None:
        return _overview(challenge, failed=(team.id, form), status=422)
    try:
        services.grant_extension(dbs, team, until, actor=current_actor())
    except DomainError as exc:
        dbs.rollback()
        form.until.errors = [*form.until.errors, *getattr(exc, "problems", [exc.message])]
        return _overview(challenge, failed=(team.id, form), status=exc.status_code)
    dbs.commit()
    flash(f"Team “{team.name}” may now submit until {until:%Y-%m-%d %H:%M} UTC.", "success")
    return redirect(_team_anchor(slug, dbs, challenge, team))


@bp.post("/<slug>/teams/<int:team_id>/extension/remove")
@role_required(ORGANIZER)
def remove_extension(slug: str, team_id: int):
    """Withdraw a team's extension: the challenge's deadline applies again (audited)."""
    dbs = db_session()
    challenge = services.get_challenge(dbs, slug)
    team = services.get_team(dbs, challenge, team_id)
    services.grant_extension(dbs, team, None, actor=current_actor())
    dbs.commit()
    flash(f"Team “{team.name}” has the challenge's deadline again.", "success")
    return redirect(_team_anchor(slug, dbs, challenge, team))


@bp.get("/<slug>/teams.csv")
@role_required(ORGANIZER)
def download_teams(slug: str):
    """The teams as formula-safe CSV; each download is audited."""
    dbs = db_session()
    # This GET writes an audit event: end the read transaction begun while loading the
    # user, so on SQLite the next one begins IMMEDIATE (a read upgraded to a write can fail).
    dbs.commit()
    set_write_intent(True)
    challenge = services.get_challenge(dbs, slug)
    body = services.teams_csv(dbs, challenge)
    audit.record(dbs, "challenge.exported", actor=current_actor(),
                 target=f"challenge:{challenge.slug}", ip=request.remote_addr, what="teams.csv")
    dbs.commit()
    filename = f"{challenge.slug}-teams-{clock.today_utc().isoformat()}.csv"
    return Response(body, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
