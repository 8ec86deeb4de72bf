"""Organizer pages for a challenge's judging set-up: overview (judges, loads, entries and
their judges, conflicts), rubric editor, judges and panels, conflicts, assignment.

Thin routes: forms parse, the judging services decide, the view commits or rolls back.
Every route is for organizers only (403 otherwise; anonymous visitors go to the login).
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from challenge.challenges.services import get_challenge
from challenge.db import db_session
from challenge.errors import DomainError
from challenge.formerrors import place_errors as _place
from challenge.judging import assignments, conflicts, judges, rubrics, setup
from challenge.judging.forms import (
    AssignmentOverrideForm,
    ConflictForm,
    JudgeInviteForm,
    JudgePanelForm,
    JudgingActionForm,
    PanelForm,
    RubricForm,
    to_number,
)
from challenge.judging.judges import FieldsInvalid
from challenge.security import current_actor, role_required

bp = Blueprint("judging_admin", __name__, url_prefix="/organize/challenges/<slug>/judging")

ORGANIZER = "organizer"
EXPIRED = "The form had expired. Please try again."



def _challenge(slug: str):
    return get_challenge(db_session(), slug, for_update=request.method == "POST")


def _messages(exc: DomainError) -> list[str]:
    return list(getattr(exc, "problems", None) or [exc.message])


# --- choices for selects ----------------------------------------------------------------

def _judge_choices(seats) -> list[tuple[int, str]]:
    return [(s.user_id, f"{s.user.display_name} <{s.user.email}> ({s.panel.name})")
            for s in seats]


def _entry_choices(entry_list) -> list[tuple[int, str]]:
    return [(e.submission_id, f"{e.team_name}: {e.title}") for e in entry_list]


def _panel_choices(panel_rows) -> list[tuple[str, str]]:
    choices = [(p.name, f"{p.name} (weight {p.weight:g})") for p in panel_rows]
    return choices or [(setup.DEFAULT_PANEL, f"{setup.DEFAULT_PANEL} (weight 1)")]


# --- overview ---------------------------------------------------------------------------

def _overview(challenge, *, override: AssignmentOverrideForm | None = None,
              general: list[str] | None = None, status: int = 200):
    dbs = db_session()
    seats = judges.seats(dbs, challenge)
    panel_rows = judges.panels(dbs, challenge)
    entry_rows = assignments.entry_rows(dbs, challenge)
    if override is None:
        override = AssignmentOverrideForm(formdata=None)
    override.user_id.choices = _judge_choices(seats)
    override.submission_id.choices = _entry_choices([r.entry for r in entry_rows])
    panel_forms = {}
    for s in seats:
        form = JudgePanelForm(prefix=f"s{s.id}", formdata=None, data={"panel": s.panel.name})
        form.panel.choices = _panel_choices(panel_rows)
        panel_forms[s.id] = form
    by_panel = {p.id: [s for s in seats if s.panel_id == p.id] for p in panel_rows}
    rubric = rubrics.current(dbs, challenge)
    return render_template(
        "judging/admin/overview.html", challenge=challenge, panels=panel_rows,
        by_panel=by_panel, seats=seats, loads=assignments.loads(dbs, challenge),
        entry_rows=entry_rows, conflict_rows=conflicts.list_conflicts(dbs, challenge),
        override=override, panel_forms=panel_forms, action=JudgingActionForm(),
        rubric=rubric, general=general or [],
        configured=bool(challenge.judges or (challenge.rubric or {}).get("criteria"))), status


@bp.get("")
@role_required(ORGANIZER)
def overview(slug: str):
    """Judges by panel with their load, entries with their judges, conflicts, actions."""
    return _overview(_challenge(slug))


@bp.post("/sync")
@role_required(ORGANIZER)
def sync(slug: str):
    """Build panels, rubric and judge seats from the challenge's imported settings."""
    dbs = db_session()
    challenge = _challenge(slug)
    if not JudgingActionForm().validate_on_submit():
        return _overview(challenge, general=[EXPIRED],
                         status=400)
    result = setup.sync_from_challenge(dbs, challenge, actor=current_actor())
    dbs.commit()
    flash("Judging set up from the challenge's settings." if result.changed
          else "Already up to date with the challenge's settings.", "success")
    return redirect(url_for("judging_admin.overview", slug=slug))


# --- rubric -----------------------------------------------------------------------------

def _place_rubric(form: RubricForm, rows: list[int], exc: rubrics.RubricInvalid) -> list[str]:
    for index, named in exc.fields.items():
        entry = form.criteria[rows[index]].form
        for name, messages in named.items():
            entry[name].errors = [*entry[name].errors, *messages]
    return list(exc.general)


@bp.route("/rubric", methods=["GET", "POST"])
@role_required(ORGANIZER)
def rubric(slug: str):
    """Edit the rubric: in place until the first score, then as a new version."""
    dbs = db_session()
    challenge = _challenge(slug)
    current = rubrics.current(dbs, challenge)
    keys = rubrics.published_keys(dbs, challenge)
    general: list[str] = []
    status = 200
    if request.method == "POST":
        form = RubricForm()
        if "add_row" in request.form:
            form.criteria.append_entry({"min": "1", "max": "5"})
        elif form.validate_on_submit():
            items, rows, level_problems = form.to_inputs()
            try:
                if level_problems:
                    raise rubrics.RubricInvalid(
                        {rows.index(r): {"levels": m} for r, m in level_problems.items()}, [])
                result = rubrics.save_rubric(dbs, challenge, items, actor=current_actor())
            except rubrics.RubricInvalid as exc:
                dbs.rollback()
                general = _place_rubric(form, rows, exc)
                status = 422
            except DomainError as exc:
                dbs.rollback()
                general, status = _messages(exc), exc.status_code
            else:
                dbs.commit()
                flash({"created": f"Rubric version {result.rubric.version} created.",
                       "updated": f"Rubric version {result.rubric.version} saved.",
                       "versioned": f"Scores exist for the previous version, so this is "
                                    f"rubric version {result.rubric.version}; existing "
                                    f"reviews keep the version they used.",
                       "": "Nothing changed."}[result.what], "success")
                return redirect(url_for("judging_admin.rubric", slug=slug))
        else:
            status = 422
    else:
        form = RubricForm.for_inputs(rubrics.inputs_of(current))
    form.set_guidelines(keys)
    return render_template("judging/admin/rubric.html", challenge=challenge, form=form,
                           rubric=current, locked=rubrics.is_locked(dbs, current),
                           guideline_keys=keys, general=general), status


# --- judges and panels ------------------------------------------------------------------

@bp.route("/judges/invite", methods=["GET", "POST"])
@role_required(ORGANIZER)
def invite(slug: str):
    """Invite a judge by e-mail onto a panel."""
    dbs = db_session()
    challenge = _challenge(slug)
    form = JudgeInviteForm()
    form.panel.choices = _panel_choices(judges.panels(dbs, challenge))
    general: list[str] = []
    status = 200
    if form.validate_on_submit():
        try:
            outcome = judges.invite_judge(dbs, challenge, form.email.data, form.panel.data,
                                          name=form.name.data or "", actor=current_actor())
        except DomainError as exc:
            dbs.rollback()
            general, status = _place(form, exc), exc.status_code
        else:
            dbs.commit()
            email = outcome.seat.user.email
            flash(f"{email} is now a judge on the {form.panel.data} panel; "
                  + ("an invitation to set a password is in the outbox."
                     if outcome.link_sent else "a notice is in the outbox."), "success")
            return redirect(url_for("judging_admin.overview", slug=slug))
    elif request.method == "POST":
        status = 422
    return render_template("judging/admin/invite.html", challenge=challenge, form=form,
                           general=general), status


@bp.post("/judges/<int:seat_id>/panel")
@role_required(ORGANIZER)
def change_panel(slug: str, seat_id: int):
    """Move a judge to another panel."""
    dbs = db_session()
    challenge = _challenge(slug)
    seat = judges.get_seat(dbs, challenge, seat_id)
    form = JudgePanelForm(prefix=f"s{seat.id}")
    form.panel.choices = _panel_choices(judges.panels(dbs, challenge))
    if not form.validate_on_submit():
        return _overview(challenge, general=[f"{seat.user.email}: choose one of the panels."],
                         status=422)
    judges.change_panel(dbs, seat, form.panel.data, actor=current_actor())
    dbs.commit()
    flash(f"{seat.user.email} is on the {form.panel.data} panel.", "success")
    return redirect(url_for("judging_admin.overview", slug=slug, _anchor="judges"))


@bp.post("/judges/<int:seat_id>/remove")
@role_required(ORGANIZER)
def remove_judge(slug: str, seat_id: int):
    """Remove a judge who has no reviews (their assignments go too)."""
    dbs = db_session()
    challenge = _challenge(slug)
    seat = judges.get_seat(dbs, challenge, seat_id)
    email = seat.user.email
    if not JudgingActionForm().validate_on_submit():
        return _overview(challenge, general=[EXPIRED],
                         status=400)
    try:
        judges.remove_judge(dbs, seat, actor=current_actor())
    except DomainError as exc:
        dbs.rollback()
        return _overview(_challenge(slug), general=_messages(exc), status=exc.status_code)
    dbs.commit()
    flash(f"{email} is no longer a judge of this challenge.", "success")
    return redirect(url_for("judging_admin.overview", slug=slug, _anchor="judges"))


def _panels_page(challenge, *, add: PanelForm | None = None,
                 failed: tuple[int, PanelForm] | None = None, general=None, status=200):
    dbs = db_session()
    panel_rows = judges.panels(dbs, challenge)
    forms = {}
    for p in panel_rows:
        if failed is not None and failed[0] == p.id:
            forms[p.id] = failed[1]
        else:
            forms[p.id] = PanelForm(prefix=f"p{p.id}", formdata=None,
                                    data={"name": p.name, "weight": f"{p.weight:g}"})
    seats = judges.seats(dbs, challenge)
    counts = {p.id: sum(1 for s in seats if s.panel_id == p.id) for p in panel_rows}
    return render_template("judging/admin/panels.html", challenge=challenge,
                           panels=panel_rows, forms=forms, counts=counts,
                           add=add or PanelForm(prefix="new", formdata=None),
                           general=general or []), status


@bp.route("/panels", methods=["GET", "POST"])
@role_required(ORGANIZER)
def panels(slug: str):
    """Panels and their weights: add one, or change a weight."""
    dbs = db_session()
    challenge = _challenge(slug)
    if request.method == "GET":
        return _panels_page(challenge)
    panel_id = request.form.get("panel_id", type=int)
    existing = {p.id: p for p in judges.panels(dbs, challenge)}
    if panel_id is not None and panel_id not in existing:
        return _panels_page(challenge, general=["This challenge has no such panel."],
                            status=404)
    form = PanelForm(prefix=f"p{panel_id}" if panel_id else "new")
    if panel_id is not None:
        form.name.data = existing[panel_id].name  # names are fixed once made
    failed = (panel_id, form) if panel_id else None
    if not form.validate_on_submit():
        return _panels_page(challenge, add=None if failed else form, failed=failed,
                            status=422)
    weight = to_number(form.weight.data)
    try:
        if weight is None:
            raise FieldsInvalid({"weight": ["The weight must be a number greater than 0."]})
        panel = judges.save_panel(dbs, challenge, form.name.data, weight, actor=current_actor())
    except DomainError as exc:
        dbs.rollback()
        general = _place(form, exc)
        return _panels_page(_challenge(slug), add=None if failed else form, failed=failed,
                            general=general, status=exc.status_code)
    dbs.commit()
    flash(f"Panel {panel.name} has weight {panel.weight:g}.", "success")
    return redirect(url_for("judging_admin.panels", slug=slug))


# --- conflicts --------------------------------------------------------------------------

def _conflicts_page(challenge, form: ConflictForm | None = None, general=None, status=200):
    dbs = db_session()
    if form is None:
        form = ConflictForm(formdata=None)
    _conflict_choices(challenge, form)
    return render_template("judging/admin/conflicts.html", challenge=challenge, form=form,
                           rows=conflicts.list_conflicts(dbs, challenge),
                           action=JudgingActionForm(), general=general or []), status


def _conflict_choices(challenge, form: ConflictForm) -> None:
    dbs = db_session()
    form.user_id.choices = _judge_choices(judges.seats(dbs, challenge))
    form.team_id.choices = [(t.id, t.name) for t in conflicts.teams(dbs, challenge)]


@bp.route("/conflicts", methods=["GET", "POST"])
@role_required(ORGANIZER)
def conflicts_page(slug: str):
    """Every conflict (declared, organizer, automatic) and a form to add one."""
    dbs = db_session()
    challenge = _challenge(slug)
    if request.method == "GET":
        return _conflicts_page(challenge)
    form = ConflictForm()
    _conflict_choices(challenge, form)
    if not form.validate_on_submit():
        return _conflicts_page(challenge, form, status=422)
    try:
        outcome = conflicts.add(dbs, challenge, form.user_id.data, form.team_id.data,
                                form.reason.data or "", actor=current_actor())
    except DomainError as exc:
        dbs.rollback()
        general = _place(form, exc)
        return _conflicts_page(_challenge(slug), form, general, exc.status_code)
    dbs.commit()
    message = "Conflict recorded." if outcome.created else "This conflict was already recorded."
    if outcome.assignment_removed:
        message += " The judge's assignment to that entry was withdrawn."
    if outcome.review_exists:
        message += (" The judge has already reviewed that entry: the review stays until you "
                    "decide what to do with it.")
    flash(message, "success")
    return redirect(url_for("judging_admin.conflicts_page", slug=slug))


@bp.post("/conflicts/<int:conflict_id>/remove")
@role_required(ORGANIZER)
def remove_conflict(slug: str, conflict_id: int):
    """Remove a declared or organizer conflict (audited)."""
    dbs = db_session()
    challenge = _challenge(slug)
    if not JudgingActionForm().validate_on_submit():
        return _conflicts_page(challenge, general=[EXPIRED],
                               status=400)
    conflicts.remove(dbs, challenge, conflict_id, actor=current_actor())
    dbs.commit()
    flash("Conflict removed.", "success")
    return redirect(url_for("judging_admin.conflicts_page", slug=slug))


# --- assignment -------------------------------------------------------------------------

@bp.post("/assign")
@role_required(ORGANIZER)
def assign(slug: str):
    """Fill the assignment (existing assignments kept)."""
    dbs = db_session()
    challenge = _challenge(slug)
    if not JudgingActionForm().validate_on_submit():
        return _overview(challenge, general=[EXPIRED],
                         status=400)
    try:
        result = assignments.assign(dbs, challenge, actor=current_actor())
    except DomainError as exc:
        dbs.rollback()
        return _overview(_challenge(slug), general=_messages(exc), status=exc.status_code)
    dbs.commit()
    low, high = result.load_range
    spread = f"{low} to {high}" if high != low else f"{low}"
    flash(f"{len(result.added)} new assignment{'s' if len(result.added) != 1 else ''} "
          f"({result.kept} kept); each judge has {spread} entr{'y' if high == 1 else 'ies'}.",
          "success")
    return redirect(url_for("judging_admin.overview", slug=slug, _anchor="entries"))


@bp.post("/assignments")
@role_required(ORGANIZER)
def add_assignment(slug: str):
    """Assign one judge to one entry by hand."""
    dbs = db_session()
    challenge = _challenge(slug)
    form = AssignmentOverrideForm()
    form.user_id.choices = _judge_choices(judges.seats(dbs, challenge))
    form.submission_id.choices = _entry_choices(assignments.entries(dbs, challenge))
    if not form.validate_on_submit():
        return _overview(challenge, override=form, status=422)
    try:
        assignments.add_assignment(dbs, challenge, form.user_id.data, form.submission_id.data,
                                   actor=current_actor())
    except DomainError as exc:
        dbs.rollback()
        general = _place(form, exc)
        return _overview(_challenge(slug), override=form, general=general,
                         status=exc.status_code)
    dbs.commit()
    flash("Assignment added.", "success")
    return redirect(url_for("judging_admin.overview", slug=slug, _anchor="entries"))


@bp.post("/assignments/<int:assignment_id>/remove")
@role_required(ORGANIZER)
def remove_assignment(slug: str, assignment_id: int):
    """Remove one assignment by hand (not once the review is submitted)."""
    dbs = db_session()
    challenge = _challenge(slug)
    if not JudgingActionForm().validate_on_submit():
        return _overview(challenge, general=[EXPIRED],
                         status=400)
    try:
        draft = assignments.remove_assignment(dbs, challenge, assignment_id, actor=current_actor())
    except DomainError as exc:
        dbs.rollback()
        return _overview(_challenge(slug), general=_messages(exc), status=exc.status_code)
    dbs.commit()
    flash("Assignment removed." + (" The judge's draft review was deleted." if draft else ""),
          "success")
    return redirect(url_for("judging_admin.overview", slug=slug, _anchor="entries"))
