"""Answering surveys: public pages, consent, pages with progress, resume, submit."""

from __future__ import annotations

from collections.abc import Callable

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from challenge import idempotency
from challenge.db import (
    begin_writing,
    db_session,
    end_failed_transaction,
    is_lock_timeout,
    reads_first,
)
from challenge.errorpages import busy_response
from challenge.errors import DomainError
from surveys import answers as rules
from surveys import guidelines, services, snapshot, unsaved
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
    form = request.form
    raw = {}
    for q in questions:
        name = f"q_{q.key}"
        if q.type == "multi":
            raw[q.key] = form.getlist(name)
        elif q.type == "need":
            raw[q.key] = (form.get(f"{name}.importance", ""),
                          form.get(f"{name}.satisfaction", ""))
        else:
            raw[q.key] = form.get(name, "")
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
    key = None
    if request.method == "POST":
        key = idempotency.key_from_request()
        done = idempotency.replay(dbs, key)
        if done is not None:
            return _consent_replayed(survey, key, done)
    draft = _draft(survey)
    submitted = services.has_submitted(dbs, survey, current_user)
    error = None
    if request.method == "POST":
        location = url_for("surveys.page", slug=slug, number=1)
        try:
            idempotency.remember(dbs, key, location)  # first: a duplicate stops here
            started = services.start(dbs, survey, user=current_user,
                                     consent=request.form.get("consent") == "yes",
                                     quote_consent=request.form.get("quote") == "yes",
                                     form_key=key)
        except idempotency.Duplicate:
            dbs.rollback()
            return _consent_replayed(survey, key, idempotency.replay(dbs, key))
        except DomainError as exc:
            dbs.rollback()
            error = exc.message
        else:
            dbs.commit()
            if started.resume_token:
                _remember_token(slug, started.resume_token)
                session["show_resume_link"] = slug
            return _private(redirect(location))
    status = 200 if error is None else 422
    return _private(make_response(render_template(
        "surveys/landing.html", survey=survey, draft=draft, submitted=submitted, error=error,
        is_open=services.is_open(survey)), status))


def _consent_replayed(survey, key: str, done):
    """A retried or double-clicked consent: the first answer, and for a visitor the same
    draft's resume token again (in case the first answer, which carried it, was lost)."""
    if not current_user.is_authenticated:
        _remember_token(survey.slug, services.resume_token_for(survey.id, key))
        session["show_resume_link"] = survey.slug
    return _private(done)


def _private(response):
    """Survey forms hold per-person keys and answers: never stored by a browser's cache."""
    response.headers["Cache-Control"] = "no-store"
    return response


# --- answering pages ------------------------------------------------------------------

BUSY_MESSAGE = ("The platform is very busy; your answers are still here, press the button "
                "again in a few seconds.")


def _render_page(survey, questions, values: dict, number: int, *,
                 errors: dict | None = None, notice: str | None = None, status: int = 200):
    errors = errors or {}
    by_key = survey.questions_of.by_key
    visible_now = {q.key: rules.is_visible(q, values, by_key) for q in questions}
    slug = survey.slug
    resume_link = None
    if session.pop("show_resume_link", None) == slug and _token(slug):
        resume_link = url_for("surveys.resume", slug=slug, token=_token(slug), _external=True)
    return _private(make_response(render_template(
        "surveys/page.html", survey=survey, questions=questions, values=values, errors=errors,
        number=number, total=len(survey.pages), visible=visible_now, resume_link=resume_link,
        notice=notice), status))


@bp.route("/s/<slug>/page/<int:number>", methods=["GET", "POST"])
@reads_first
def page(slug: str, number: int):
    """One page of questions, with a progress indicator; saves on every step.

    A post reads and checks everything without the write lock, then stores the page in
    one short write transaction. If the database stays locked past DB_LOCK_TIMEOUT_SECONDS
    the page comes back (503, Retry-After) with everything typed still in it, and a copy
    of it is kept in the session so that a reload shows it too.
    """
    dbs = db_session()
    key = idempotency.key_from_request() if request.method == "POST" else None
    survey = snapshot.public_survey(dbs, slug)
    all_pages = survey.pages
    if not 1 <= number <= max(len(all_pages), 1):
        abort(404)
    questions = all_pages[number - 1] if all_pages else ()
    if request.method == "GET":
        return _show_page(dbs, survey, questions, number)
    raw = _raw_answers(questions)
    known: dict = {}  # the draft's stored answers, once read
    try:
        return _store_page(dbs, survey, questions, number, raw, known, key)
    except OperationalError as exc:
        if not is_lock_timeout(exc):
            raise
        end_failed_transaction()
        unsaved.keep(slug, number, raw)
        return busy_response(_render_page(survey, questions, {**known, **raw}, number,
                                          notice=BUSY_MESSAGE, status=503))


def _show_page(dbs: Session, survey, questions, number: int):
    found = services.draft_with_values(dbs, survey, user=current_user,
                                       token=_token(survey.slug))
    if found is None:
        return _start_first(survey.slug)
    known = found[1]
    kept = unsaved.typed(survey.slug, number, questions)
    notice = ("Some answers you typed here were not saved yet because the platform was "
              "busy. Check them and press the button again." if kept else None)
    return _render_page(survey, questions, {**known, **kept}, number, notice=notice)


def _start_first(slug: str):
    flash("Please start the survey here first.", "info")
    return redirect(url_for("surveys.landing", slug=slug))


def _store_page(dbs: Session, survey, questions, number: int, raw: dict, known: dict,
                key: str | None):
    """Check and store a posted page; `known` is filled with the draft's answers.

    A repeat of an already stored post (same idempotency key) is recognised when its
    record collides with the first one's, or, on any way out that would refuse it, by
    looking the key up first: either way it gets the first answer and changes nothing.
    """
    slug = survey.slug
    found = services.draft_with_values(dbs, survey, user=current_user, token=_token(slug))
    if found is None:  # no draft (any more): perhaps this very post submitted it
        return idempotency.replay(dbs, key) or _start_first(slug)
    draft, values = found
    known.update(values)
    action = request.form.get("action", "next")
    typed = {**known, **raw}  # shown again whenever the page is not stored
    checked = services.check_page(survey, questions, raw, known,
                                  require=action in ("next", "submit"))
    if checked.errors:
        return idempotency.replay(dbs, key) or _render_page(
            survey, questions, typed, number, errors=checked.errors, status=422)
    submitting = action == "submit"
    plan = services.plan_page(survey, questions, checked.values, known, number)
    location = _location_after(slug, action, number, len(survey.pages))
    try:
        services.check_can_store(survey, plan, submitting=submitting)
        begin_writing(dbs)
        # A repeat stops at the claim (already submitted) or at its record (Duplicate).
        services.save_page(dbs, survey, draft, plan, submitting=submitting, user=current_user,
                           remember=idempotency.record_for(dbs, key, location))
        dbs.commit()
    except idempotency.Duplicate:
        end_failed_transaction()
        return idempotency.replay(dbs, key)
    except DomainError as exc:
        end_failed_transaction()
        done = idempotency.replay(dbs, key)
        if done is not None:
            return done
        flash(exc.message, "error")
        return _render_page(survey, questions, typed, number)
    unsaved.forget(slug)
    if submitting:
        _remember_token(slug, None)
    elif action == "save":
        flash("Your answers are saved. You can come back and continue at any time.", "success")
    return redirect(location)


def _location_after(slug: str, action: str, number: int, total: int) -> str:
    """Where a stored page leads: thanks, the landing page, or the previous/next page."""
    if action == "submit":
        return url_for("surveys.thanks", slug=slug)
    if action == "save":
        return url_for("surveys.landing", slug=slug)
    if action == "back":
        return url_for("surveys.page", slug=slug, number=max(1, number - 1))
    return url_for("surveys.page", slug=slug, number=min(total, number + 1))


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
