"""Answering surveys: public pages, consent, pages with progress, resume, submit."""

from __future__ import annotations

from collections.abc import Callable

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy.orm import Session

from challenge.db import db_session
from challenge.errors import DomainError
from surveys import answers as rules
from surveys import guidelines, services
from surveys.models import Survey

bp = Blueprint("surveys", __name__)

_TOKENS = "survey_tokens"  # slug -> private resume token, kept in this browser's session


def _token(slug: str) -> str | None:
    return (session.get(_TOKENS) or {}).get(slug)


def _remember_token(slug: str, token: str | None) -> None:
    tokens = dict(session.get(_TOKENS) or {})
    if token is None:
        tokens.pop(slug, None)
    else:
        tokens[slug] = token
    session[_TOKENS] = tokens


def _draft(survey: Survey):
    return services.find_draft(db_session(), survey, user=current_user,
                               token=_token(survey.slug))


def _raw_answers(questions) -> dict:
    """Raw form values by question key (need: a pair; multi: a list)."""
    raw = {}
    for q in questions:
        name = f"q_{q.key}"
        if q.type == "multi":
            raw[q.key] = request.form.getlist(name)
        elif q.type == "need":
            raw[q.key] = (request.form.get(f"{name}.importance", ""),
                          request.form.get(f"{name}.satisfaction", ""))
        else:
            raw[q.key] = request.form.get(name, "")
    return raw


@bp.get("/surveys")
def index():
    """Surveys open for answers now."""
    return render_template("surveys/index.html", surveys=services.open_surveys(db_session()))


@bp.route("/s/<slug>", methods=["GET", "POST"])
def landing(slug: str):
    """What the survey is for, who runs it, how answers are used; consent before starting."""
    dbs = db_session()
    survey = services.get_public_survey(dbs, slug)
    draft = _draft(survey)
    submitted = services.has_submitted(dbs, survey, current_user)
    error = None
    if request.method == "POST":
        try:
            started = services.start(dbs, survey, user=current_user,
                                     consent=request.form.get("consent") == "yes",
                                     quote_consent=request.form.get("quote") == "yes")
        except DomainError as exc:
            dbs.rollback()
            error = exc.message
        else:
            dbs.commit()
            if started.resume_token:
                _remember_token(slug, started.resume_token)
                session["show_resume_link"] = slug
            return redirect(url_for("surveys.page", slug=slug, number=1))
    status = 200 if error is None else 422
    return render_template("surveys/landing.html", survey=survey, draft=draft,
                           submitted=submitted, error=error,
                           is_open=services.is_open(survey)), status


@bp.route("/s/<slug>/page/<int:number>", methods=["GET", "POST"])
def page(slug: str, number: int):
    """One page of questions, with a progress indicator; saves on every step."""
    dbs = db_session()
    survey = services.get_public_survey(dbs, slug)
    response = _draft(survey)
    if response is None:
        flash("Please start the survey here first.", "info")
        return redirect(url_for("surveys.landing", slug=slug))
    all_pages = rules.pages(survey.active_questions)
    if not 1 <= number <= max(len(all_pages), 1):
        abort(404)
    questions = all_pages[number - 1] if all_pages else []
    known = services.current_values(dbs, response)
    errors: dict[str, str] = {}
    values = known
    if request.method == "POST":
        action = request.form.get("action", "next")
        raw = _raw_answers(questions)
        checked = services.check_page(survey, questions, raw, known,
                                      require=action in ("next", "submit"))
        if checked.errors:
            errors = checked.errors
            values = {**known, **raw}  # show what was typed, even where it is wrong
        else:
            try:
                services.save_page(dbs, survey, response, questions, checked.values, number)
                if action == "submit":
                    services.submit(dbs, survey, response, user=current_user)
            except DomainError as exc:
                dbs.rollback()
                flash(exc.message, "error")
                values = {**known, **raw}
            else:
                dbs.commit()
                return _after_save(survey, action, number, len(all_pages))
    by_key = {q.key: q for q in survey.active_questions}
    visible_now = {q.key: rules.is_visible(q, values, by_key) for q in questions}
    resume_link = None
    if session.pop("show_resume_link", None) == slug and _token(slug):
        resume_link = url_for("surveys.resume", slug=slug, token=_token(slug), _external=True)
    return render_template(
        "surveys/page.html", survey=survey, questions=questions, values=values, errors=errors,
        number=number, total=len(all_pages), visible=visible_now, resume_link=resume_link,
    ), (422 if errors else 200)


def _after_save(survey: Survey, action: str, number: int, total: int):
    slug = survey.slug
    if action == "submit":
        _remember_token(slug, None)
        return redirect(url_for("surveys.thanks", slug=slug))
    if action == "save":
        flash("Your answers are saved. You can come back and continue at any time.", "success")
        return redirect(url_for("surveys.landing", slug=slug))
    if action == "back":
        return redirect(url_for("surveys.page", slug=slug, number=max(1, number - 1)))
    return redirect(url_for("surveys.page", slug=slug, number=min(total, number + 1)))


@bp.get("/s/<slug>/resume/<token>")
def resume(slug: str, token: str):
    """Continue an anonymous draft from its private link."""
    dbs = db_session()
    survey = services.get_public_survey(dbs, slug)
    response = services.find_draft(dbs, survey, token=token)
    if response is None:
        return render_template("surveys/stale_link.html", survey=survey), 404
    _remember_token(slug, token)
    return redirect(url_for("surveys.page", slug=slug, number=max(1, response.page_reached)))


@bp.get("/s/<slug>/thanks")
def thanks(slug: str):
    """After submitting: thank you, and what happens next."""
    survey = services.get_public_survey(db_session(), slug)
    return render_template("surveys/thanks.html", survey=survey)


@bp.get("/s/<slug>/guidelines")
def public_guidelines(slug: str):
    """The published guidelines drawn from this survey, for entrants and respondents."""
    dbs = db_session()
    survey = services.get_public_survey(dbs, slug)
    doc = guidelines.published(dbs, survey)
    return render_template("surveys/guidelines/public.html", survey=survey, doc=doc)


@bp.get("/s/<slug>/guidelines/evidence")
def evidence(slug: str):
    """The evidence behind each published guideline (from the suppressed report)."""
    dbs = db_session()
    survey = services.get_public_survey(dbs, slug)
    doc = guidelines.published(dbs, survey)
    return render_template("surveys/guidelines/evidence.html", survey=survey, doc=doc)


def register_outcome_section(app: Flask, section: Callable[[Session, Survey], Markup | str]):
    """Let a package above (judging) add a part to the "what your answers led to" page,
    for example the winning projects, without `surveys` importing it."""
    app.extensions.setdefault("survey_outcome_sections", []).append(section)


@bp.get("/s/<slug>/outcomes")
def outcomes(slug: str):
    """What the answers led to: published guidelines and, later, the projects built on them."""
    dbs = db_session()
    survey = services.get_public_survey(dbs, slug)
    doc = guidelines.published(dbs, survey)
    sections = [render(dbs, survey)
                for render in current_app.extensions.get("survey_outcome_sections", [])]
    return render_template("surveys/outcomes.html", survey=survey, doc=doc,
                           sections=[s for s in sections if s])
