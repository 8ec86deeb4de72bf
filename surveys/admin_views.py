"""Organizer pages for surveys: list, settings, question builder, preview, responses.

Thin routes: forms parse, `surveys.admin_services` decides (through `surveys.definition`),
the view commits or rolls back. Every route is for organizers only.
"""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for

from challenge import audit, clock
from challenge.db import db_session, set_write_intent
from challenge.errors import DomainError
from challenge.formerrors import place_errors as _place_errors
from challenge.pagination import Page, page_args
from challenge.security import current_actor, role_required
from surveys import admin_services as services
from surveys import answers as rules
from surveys import charts, definition, responses_io
from surveys.forms import QuestionForm, SurveySettingsForm
from surveys.services import is_open

bp = Blueprint("survey_admin", __name__, url_prefix="/organize/surveys")

ORGANIZER = "organizer"



def _flash_refusal(exc: DomainError) -> None:
    """Show a refused one-click action as flash messages (a missing object stays a 404)."""
    if exc.status_code == 404:
        raise exc
    if isinstance(exc, services.BuilderInvalid):
        messages = exc.general or exc.problems
    else:
        messages = [exc.message]
    for message in messages:
        flash(message, "error")


# --- list and settings ---------------------------------------------------------------------

@bp.get("/")
@role_required(ORGANIZER)
def index():
    """Every survey, newest first, with its question and response counts."""
    number, per_page, offset = page_args()
    rows, total = services.list_surveys(db_session(), limit=per_page, offset=offset)
    return render_template("surveys/admin/index.html", page=Page(rows, total, number, per_page),
                           labels=services.STATUS_LABELS)


@bp.route("/new", methods=["GET", "POST"])
@role_required(ORGANIZER)
def create():
    """A new draft survey: its settings first, questions next."""
    dbs = db_session()
    form = SurveySettingsForm(data=None if request.method == "POST" else {
        "anonymous": True, "consent_text": definition.DEFAULT_CONSENT, "min_cell_size": 11})
    general: list[str] = []
    status = 200
    if form.validate_on_submit():
        try:
            survey = services.create_survey(dbs, form.to_settings(), actor=current_actor())
        except DomainError as exc:
            dbs.rollback()
            general = _place_errors(form, exc)
            status = exc.status_code
        else:
            dbs.commit()
            flash(f"Survey “{survey.title}” created as a draft. Now add its questions.",
                  "success")
            return redirect(url_for("survey_admin.survey", slug=survey.slug))
    elif form.errors:
        status = 422
    return render_template("surveys/admin/settings.html", form=form, survey=None,
                           general=general, locked=False), status


@bp.get("/<slug>/questions")
@role_required(ORGANIZER)
def survey(slug: str):
    """The builder: status, settings at a glance, and the questions in order."""
    dbs = db_session()
    survey = services.get_survey(dbs, slug)
    answered = definition.answered_question_ids(dbs, survey)
    active = sorted(survey.active_questions, key=lambda q: q.position)
    archived = [q for q in survey.questions if q.archived]
    return render_template(
        "surveys/admin/survey.html", survey=survey, questions=active, archived=archived,
        answered=answered, responses=services.response_count(dbs, survey),
        pages=rules.pages(active), labels=services.STATUS_LABELS,
        type_labels=services.TYPE_LABELS, accepting=is_open(survey),
    )


@bp.route("/<slug>/settings", methods=["GET", "POST"])
@role_required(ORGANIZER)
def settings(slug: str):
    """Change title, texts, privacy, dates and the minimum group size."""
    dbs = db_session()
    survey = services.get_survey(dbs, slug, for_update=request.method == "POST")
    locked = services.has_responses(dbs, survey)
    form = SurveySettingsForm(obj=None if request.method == "POST" else
                              services.SurveySettings.of(survey))
    general: list[str] = []
    status = 200
    if form.validate_on_submit():
        try:
            survey = services.update_settings(dbs, survey, form.to_settings(),
                                              actor=current_actor())
        except DomainError as exc:
            dbs.rollback()
            general = _place_errors(form, exc)
            status = exc.status_code
        else:
            dbs.commit()
            flash("Settings saved.", "success")
            return redirect(url_for("survey_admin.survey", slug=survey.slug))
    elif form.errors:
        status = 422
    return render_template("surveys/admin/settings.html", form=form, survey=survey,
                           general=general, locked=locked), status


def _change_status(slug: str, target: str, done: str):
    dbs = db_session()
    survey = services.get_survey(dbs, slug, for_update=True)
    try:
        services.set_status(dbs, survey, target, actor=current_actor())
    except DomainError as exc:
        dbs.rollback()
        flash(exc.message, "error")
    else:
        dbs.commit()
        flash(done, "success")
        if target == "open" and not is_open(survey):
            flash("Respondents cannot answer yet: the opening time has not come, or the "
                  "closing time has passed. Check the dates in the settings.", "warning")
    return redirect(url_for("survey_admin.survey", slug=survey.slug))


@bp.post("/<slug>/open")
@role_required(ORGANIZER)
def open_survey(slug: str):
    """Open a draft survey, or reopen a closed one."""
    return _change_status(slug, "open", "The survey is open: people can now answer it.")


@bp.post("/<slug>/close")
@role_required(ORGANIZER)
def close_survey(slug: str):
    """Close an open survey: no new answers or submissions."""
    return _change_status(slug, "closed", "The survey is closed: no one can answer it now.")


# --- questions ------------------------------------------------------------------------------

@bp.route("/<slug>/questions/new", methods=["GET", "POST"])
@role_required(ORGANIZER)
def add_question(slug: str):
    """Add a question of any type at the end of the survey."""
    dbs = db_session()
    survey = services.get_survey(dbs, slug, for_update=request.method == "POST")
    if request.method == "POST":
        form = QuestionForm()
    else:
        wanted = request.args.get("type", "single")
        form = QuestionForm(data={"type": wanted if wanted in services.TYPE_LABELS
                                  else "single"})
    form.set_conditions(services.condition_groups(survey))
    return _save_question(dbs, survey, form, None)


@bp.route("/<slug>/questions/<key>/edit", methods=["GET", "POST"])
@role_required(ORGANIZER)
def edit_question(slug: str, key: str):
    """Change a question (its type and options are protected once it has answers)."""
    dbs = db_session()
    survey = services.get_survey(dbs, slug, for_update=request.method == "POST")
    question = services.get_question(survey, key)
    stored = services.QuestionData.of(question)
    form = QuestionForm() if request.method == "POST" else QuestionForm.for_question(stored)
    form.set_conditions(services.condition_groups(survey, before_key=key), stored.show_if)
    return _save_question(dbs, survey, form, question)


def _save_question(dbs, survey, form: QuestionForm, question):
    general: list[str] = []
    status = 200
    key = question.key if question is not None else None
    if form.validate_on_submit():
        try:
            if question is None:
                saved = services.add_question(dbs, survey, form.to_question(),
                                              actor=current_actor())
            else:
                saved = services.update_question(dbs, survey, key, form.to_question(),
                                                 actor=current_actor())
        except DomainError as exc:
            dbs.rollback()
            general = _place_errors(form, exc)
            status = exc.status_code
        else:
            dbs.commit()
            flash(f"Question “{saved.key}” saved.", "success")
            return redirect(url_for("survey_admin.survey", slug=survey.slug,
                                    _anchor=f"q-{saved.key}"))
    elif form.errors:
        status = 422
    answered = question is not None and question.id in definition.answered_question_ids(
        dbs, survey)
    return render_template("surveys/admin/question.html", survey=survey, form=form,
                           question=question, general=general, answered=answered), status


@bp.post("/<slug>/questions/<key>/move/<any(up, down):direction>")
@role_required(ORGANIZER)
def move_question(slug: str, key: str, direction: str):
    """Move a question one place up or down."""
    dbs = db_session()
    survey = services.get_survey(dbs, slug, for_update=True)
    try:
        services.move_question(dbs, survey, key, direction, actor=current_actor())
    except DomainError as exc:
        dbs.rollback()
        _flash_refusal(exc)
    else:
        dbs.commit()
        flash(f"Question “{key}” moved {direction}.", "success")
    return redirect(url_for("survey_admin.survey", slug=slug, _anchor=f"q-{key}"))


@bp.post("/<slug>/questions/<key>/remove")
@role_required(ORGANIZER)
def remove_question(slug: str, key: str):
    """Remove a question; one with answers is archived so its answers are kept."""
    dbs = db_session()
    survey = services.get_survey(dbs, slug, for_update=True)
    try:
        archived = services.remove_question(dbs, survey, key, actor=current_actor())
    except DomainError as exc:
        dbs.rollback()
        _flash_refusal(exc)
    else:
        dbs.commit()
        if archived:
            flash(f"Question “{key}” has answers, so it was archived, not deleted: "
                  f"respondents no longer see it, and the answers already given are kept.",
                  "success")
        else:
            flash(f"Question “{key}” removed.", "success")
    return redirect(url_for("survey_admin.survey", slug=slug))


# --- preview and responses ----------------------------------------------------------------------

@bp.get("/<slug>/preview")
@role_required(ORGANIZER)
def preview(slug: str):
    """Every page as respondents see it; nothing can be sent from here."""
    survey = services.get_survey(db_session(), slug)
    active = sorted(survey.active_questions, key=lambda q: q.position)
    return render_template("surveys/admin/preview.html", survey=survey,
                           pages=rules.pages(active))


@bp.get("/<slug>/responses")
@role_required(ORGANIZER)
def responses(slug: str):
    """How many have answered, when, and where drafts stopped."""
    dbs = db_session()
    survey = services.get_survey(dbs, slug)
    overview = services.response_overview(dbs, survey)
    chart = charts.bar_chart([(day.isoformat(), n) for day, n in overview.per_day])
    return render_template("surveys/admin/responses.html", survey=survey, overview=overview,
                           chart=chart, labels=services.STATUS_LABELS)


@bp.get("/<slug>/responses.csv")
@role_required(ORGANIZER)
def download_responses(slug: str):
    """The responses as formula-safe CSV (CONTRACTS.md layout); the download is audited."""
    dbs = db_session()
    # This GET writes an audit event: end the read transaction begun while loading the
    # user, so on SQLite the next one begins IMMEDIATE (a read upgraded to a write can fail).
    dbs.commit()
    set_write_intent(True)
    survey = services.get_survey(dbs, slug)
    body = responses_io.export_responses_csv(dbs, survey)
    audit.record(dbs, "survey.exported", actor=current_actor(), target=f"survey:{survey.slug}",
                 ip=request.remote_addr, what="responses.csv")
    dbs.commit()
    filename = f"{survey.slug}-responses-{clock.today_utc().isoformat()}.csv"
    return Response(body, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
