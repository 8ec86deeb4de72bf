"""Answering surveys: consent, drafts, save-and-resume, submission, participation.

Anonymity rules live here. For an anonymous survey the Response never gets a user id;
a logged-in person's draft is found through a keyed hash of (user, survey) that is erased
on submission; an accountless person's draft through the hash of a private resume token.
After submission nothing in the database leads from the person to the answers.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from typing import Any

from flask import current_app
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from challenge import clock
from challenge.accounts.models import ConsentRecord
from challenge.errors import Conflict, DomainError, NotFound
from challenge.safety.services import screen
from surveys import answers as rules
from surveys.models import Answer, Participation, Question, Response, Survey

# --- finding surveys -------------------------------------------------------------------

def is_open(survey: Survey) -> bool:
    """Open for answers now: status open and inside the optional opens/closes window."""
    now = clock.now()
    return (
        survey.status == "open"
        and (survey.opens_at is None or survey.opens_at <= now)
        and (survey.closes_at is None or now < survey.closes_at)
    )


def get_public_survey(session: Session, slug: str) -> Survey:
    """A survey anyone may see (open or closed); drafts do not exist for the public."""
    survey = session.scalar(select(Survey).where(Survey.slug == slug))
    if survey is None or survey.status == "draft":
        raise NotFound("There is no survey at this address.")
    return survey


def open_surveys(session: Session) -> list[Survey]:
    """Surveys open for answers now, newest first."""
    rows = session.scalars(select(Survey).where(Survey.status == "open")
                           .order_by(Survey.created_at.desc()))
    return [s for s in rows if is_open(s)]


# --- locating a person's draft -----------------------------------------------------------

def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def account_key(user_id: int, survey_id: int) -> str:
    """A keyed value standing for (account, survey); only its hash is stored, and only
    until submission. Without the app's secret it cannot be recomputed."""
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, f"draft:{user_id}:{survey_id}".encode(), hashlib.sha256).hexdigest()


def find_draft(session: Session, survey: Survey, *, user=None, token: str | None = None):
    """The person's draft for `survey`, if any (by account, or by private resume token)."""
    if user is not None and getattr(user, "is_authenticated", False):
        if not survey.anonymous:
            return session.scalar(select(Response).where(
                Response.survey_id == survey.id, Response.user_id == user.id,
                Response.status == "draft"))
        return session.scalar(select(Response).where(
            Response.resume_key_hash == _digest(account_key(user.id, survey.id))))
    if token:
        response = session.scalar(select(Response).where(
            Response.resume_key_hash == _digest(token)))
        if response is not None and response.survey_id == survey.id:
            return response
    return None


def has_submitted(session: Session, survey: Survey, user) -> bool:
    """Whether this account has already submitted the survey."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return session.scalar(select(func.count(Participation.id)).where(
        Participation.survey_id == survey.id, Participation.user_id == user.id)) > 0


@dataclass(frozen=True)
class Started:
    """A new draft, and the private resume token when the person has no account."""

    response: Response
    resume_token: str | None = None


def start(session: Session, survey: Survey, *, user=None, consent: bool,
          quote_consent: bool = False) -> Started:
    """Record consent and open a draft. Non-anonymous surveys need an account."""
    if not is_open(survey):
        raise Conflict("This survey is not open for answers.")
    if not consent:
        raise DomainError("Please read and agree to the consent text to take part.",
                          field="consent")
    logged_in = user is not None and getattr(user, "is_authenticated", False)
    if not survey.anonymous and not logged_in:
        raise DomainError("This survey links answers to your account: please log in first.")
    if logged_in and has_submitted(session, survey, user):
        raise Conflict("You have already answered this survey. Thank you!")
    existing = find_draft(session, survey, user=user)
    if existing is not None:
        return Started(existing)
    token = None
    if logged_in and survey.anonymous:
        key_hash = _digest(account_key(user.id, survey.id))
    elif logged_in:
        key_hash = None
    else:
        token = secrets.token_urlsafe(24)
        key_hash = _digest(token)
    response = Response(
        survey_id=survey.id,
        user_id=user.id if logged_in and not survey.anonymous else None,
        status="draft",
        resume_key_hash=key_hash,
        consent_version=survey.consent_version,
        quote_consent=bool(quote_consent),
        page_reached=0,
        source="web",
    )
    session.add(response)
    if logged_in:
        # For an anonymous survey only the date is kept, so consent time cannot be lined
        # up with anything stored about the answers.
        now = clock.now()
        given = datetime.combine(now.date(), time(), UTC) if survey.anonymous else now
        session.add(ConsentRecord(user_id=user.id, subject=f"survey:{survey.slug}",
                                  text_version=str(survey.consent_version), given_at=given))
    session.flush()
    return Started(response, token)


# --- answers ----------------------------------------------------------------------------

def current_values(session: Session, response: Response) -> dict[str, Any]:
    """The draft's answers so far, by question key."""
    rows = session.scalars(select(Answer).where(Answer.response_id == response.id)).all()
    by_question: dict[int, list[Answer]] = {}
    for row in rows:
        by_question.setdefault(row.question_id, []).append(row)
    survey = session.get(Survey, response.survey_id)
    return {
        q.key: rules.value_from_rows(q, by_question[q.id])
        for q in survey.questions if q.id in by_question
    }


def add_answer(session: Session, response_id: str, question: Question, value: Any, *,
               source: str) -> list[Answer]:
    """Store one cleaned answer; every text is screened for adverse events as it is saved
    (METHODS.md section 10), and a flagged answer points at its flag."""
    rows = []
    for columns in rules.answer_rows(question, value):
        answer = Answer(response_id=response_id, question_id=question.id, **columns)
        if columns.get("text"):
            flag = screen(session, source=source,
                          source_ref=f"response:{response_id}/question:{question.key}",
                          text=columns["text"])
            if flag is not None:
                session.flush()
                answer.safety_flag_id = flag.id
        session.add(answer)
        rows.append(answer)
    return rows


@dataclass
class PageResult:
    """The outcome of checking a page: cleaned values, or errors by question key."""

    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def check_page(survey: Survey, page_questions: list[Question], raw: Mapping[str, Any],
               known: Mapping[str, Any], *, require: bool) -> PageResult:
    """Validate the raw answers of one page; `require` enforces required questions."""
    by_key = {q.key: q for q in survey.active_questions}
    result = PageResult()
    merged = dict(known)
    for question in page_questions:
        cleaned = rules.clean(question, raw.get(question.key))
        if cleaned.problem is None:
            merged[question.key] = cleaned.value
        else:
            merged[question.key] = raw.get(question.key)
    for question in page_questions:
        if not rules.is_visible(question, merged, by_key):
            continue
        cleaned = rules.clean(question, raw.get(question.key))
        if cleaned.problem and (require or cleaned.problem != "an answer is required"):
            result.errors[question.key] = cleaned.problem[0].upper() + cleaned.problem[1:] + "."
        else:
            result.values[question.key] = cleaned.value
    return result


def save_page(session: Session, survey: Survey, response: Response,
              page_questions: list[Question], values: Mapping[str, Any], page_number: int):
    """Store one page's answers (replacing earlier ones) and drop answers now hidden.

    Every text is screened for adverse events as it is saved.
    """
    if response.status != "draft":
        raise Conflict("These answers were already submitted.")
    if not is_open(survey):
        raise Conflict("This survey has closed; answers can no longer be saved.")
    merged = {**current_values(session, response), **values}
    for question in page_questions:
        if question.key not in values:
            merged.pop(question.key, None)
    by_key = {q.key: q for q in survey.active_questions}
    hidden = [q for q in survey.active_questions if not rules.is_visible(q, merged, by_key)]
    replace_ids = [q.id for q in page_questions] + [q.id for q in hidden]
    session.execute(delete(Answer).where(Answer.response_id == response.id,
                                         Answer.question_id.in_(replace_ids)))
    hidden_keys = {q.key for q in hidden}
    for question in page_questions:
        if question.key not in hidden_keys:
            add_answer(session, response.id, question, values.get(question.key),
                       source="survey-response")
    response.page_reached = max(response.page_reached or 0, page_number)
    session.flush()


def missing_required(session: Session, survey: Survey, response: Response) -> list[Question]:
    """Visible required questions still unanswered."""
    values = current_values(session, response)
    by_key = {q.key: q for q in survey.active_questions}
    return [
        q for q in survey.active_questions
        if q.required and rules.is_visible(q, values, by_key) and values.get(q.key) in (None, [])
    ]


def submit(session: Session, survey: Survey, response: Response, *, user=None) -> Response:
    """Freeze the draft. Records participation for accounts; erases the resume key."""
    if response.status != "draft":
        raise Conflict("These answers were already submitted. Thank you!")
    if not is_open(survey):
        raise Conflict("This survey has closed; answers can no longer be submitted.")
    missing = missing_required(session, survey, response)
    if missing:
        raise DomainError("Please answer: " + "; ".join(q.text for q in missing[:5]))
    logged_in = user is not None and getattr(user, "is_authenticated", False)
    if logged_in:
        session.add(Participation(survey_id=survey.id, user_id=user.id))
    response.status = "submitted"
    response.resume_key_hash = None
    response.submitted_on = clock.today_utc()
    try:
        session.flush()
    except IntegrityError as exc:  # two tabs submitting at once: the second one loses
        raise Conflict("You have already answered this survey. Thank you!") from exc
    return response


# --- what a logged-in person sees --------------------------------------------------------

@dataclass(frozen=True)
class MySurvey:
    """One survey on a person's dashboard."""

    survey: Survey
    state: str  # "open", "in progress", "submitted"


def my_surveys(session: Session, user) -> list[MySurvey]:
    """Open surveys, the ones in progress and the ones submitted, for the dashboard."""
    submitted_ids = set(session.scalars(select(Participation.survey_id).where(
        Participation.user_id == user.id)))
    result = []
    candidates = session.scalars(select(Survey).where(Survey.status.in_(("open", "closed")))
                                 .order_by(Survey.created_at.desc())).all()
    for survey in candidates:
        if survey.id in submitted_ids:
            result.append(MySurvey(survey, "submitted"))
        elif find_draft(session, survey, user=user) is not None:
            result.append(MySurvey(survey, "in progress" if is_open(survey) else "closed"))
        elif is_open(survey):
            result.append(MySurvey(survey, "open"))
    return result
