"""Answering surveys: consent, drafts, save-and-resume, submission, participation.

Anonymity rules live here. For an anonymous survey the Response never gets a user id;
a logged-in person's draft is found through a keyed hash of (user, survey) that is erased
on submission; an accountless person's draft through the hash of a private resume token.
After submission nothing in the database leads from the person to the answers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from typing import Any

from flask import current_app
from sqlalchemy import Integer, any_, bindparam, case, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from challenge import clock, idempotency
from challenge.accounts.models import ConsentRecord
from challenge.bulkinsert import insert_rows
from challenge.errors import Conflict, DomainError, NotFound
from challenge.safety.services import screen
from surveys import answers as rules
from surveys import snapshot
from surveys.models import Answer, Participation, Question, Response, Survey
from surveys.snapshot import SurveySnapshot

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


def resume_token_for(survey_id: int, form_key: str) -> str:
    """The private resume token of the draft started by the consent form with idempotency
    key `form_key`: derived with the app's secret, so a retried consent post (whose first
    answer was lost) finds the same draft and hands back the same token."""
    secret = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(secret, f"resume:{survey_id}:{form_key}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()[:24]).decode().rstrip("=")


def _is_person(user) -> bool:
    return user is not None and getattr(user, "is_authenticated", False)


_R, _A = Response.__table__, Answer.__table__
# Built once: the answering pages run these on every request (see surveys/snapshot.py).
# A draft is found with its answers in one query (no answers: one row of NULLs).
_DRAFT_WITH_ANSWERS = (select(_R.c.id, _R.c.survey_id, _R.c.page_reached, _A.c.question_id,
                              _A.c.choice, _A.c.number, _A.c.text, _A.c.importance,
                              _A.c.satisfaction)
                       .select_from(_R.outerjoin(_A, _A.c.response_id == _R.c.id))
                       .order_by(_A.c.id))
_DRAFT_BY_KEY = _DRAFT_WITH_ANSWERS.where(_R.c.resume_key_hash == bindparam("key_hash"))
_DRAFT_BY_ACCOUNT = _DRAFT_WITH_ANSWERS.where(_R.c.survey_id == bindparam("survey_id"),
                                              _R.c.user_id == bindparam("user_id"),
                                              _R.c.status == "draft")


def _draft_query(survey, user, token: str | None) -> tuple[Any, dict] | None:
    """The query (and its parameters) that finds the person's draft of `survey`."""
    if _is_person(user):
        if not survey.anonymous:
            return _DRAFT_BY_ACCOUNT, {"survey_id": survey.id, "user_id": user.id}
        return _DRAFT_BY_KEY, {"key_hash": _digest(account_key(user.id, survey.id))}
    if token:
        return _DRAFT_BY_KEY, {"key_hash": _digest(token)}
    return None


def find_draft(session: Session, survey, *, user=None, token: str | None = None):
    """The person's draft for `survey`, if any (by account, or by private resume token)."""
    query = _draft_query(survey, user, token)
    row = session.connection().execute(*query).first() if query is not None else None
    if row is None or row.survey_id != survey.id:
        return None
    return session.get(Response, row.id)


@dataclass(frozen=True)
class DraftRef:
    """A draft as the answering pages need it: its id and how far the person got."""

    id: str
    page_reached: int


def draft_with_values(session: Session, survey: SurveySnapshot, *, user=None,
                      token: str | None = None) -> tuple[DraftRef, dict[str, Any]] | None:
    """The person's draft of `survey` and its answers so far by question key (one query),
    or None when the person has none."""
    query = _draft_query(survey, user, token)
    if query is None:
        return None
    rows = session.connection().execute(*query).all()
    if not rows or rows[0].survey_id != survey.id:
        return None
    return DraftRef(rows[0].id, rows[0].page_reached or 0), _values_by_key(survey, rows)


def has_submitted(session: Session, survey, user) -> bool:
    """Whether this account has already submitted the survey."""
    if not _is_person(user):
        return False
    return session.scalar(select(func.count(Participation.id)).where(
        Participation.survey_id == survey.id, Participation.user_id == user.id)) > 0


@dataclass(frozen=True)
class Started:
    """A new draft, and the private resume token when the person has no account."""

    response: Response
    resume_token: str | None = None


def start(session: Session, survey: Survey, *, user=None, consent: bool,
          quote_consent: bool = False, form_key: str | None = None) -> Started:
    """Record consent and open a draft. Non-anonymous surveys need an account.

    `form_key` is the consent form's idempotency key: a visitor's resume token is derived
    from it (see `resume_token_for`), otherwise it is random.
    """
    if not is_open(survey):
        raise Conflict("This survey is not open for answers.")
    if not consent:
        raise DomainError("Please read and agree to the consent text to take part.",
                          field="consent")
    logged_in = _is_person(user)
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
        token = (resume_token_for(survey.id, form_key) if form_key
                 else secrets.token_urlsafe(24))
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

_DRAFT_ANSWERS = (select(_A.c.question_id, _A.c.choice, _A.c.number, _A.c.text,
                         _A.c.importance, _A.c.satisfaction)
                  .where(_A.c.response_id == bindparam("response_id")).order_by(_A.c.id))


def current_values(session: Session, response: Response) -> dict[str, Any]:
    """The answers of `response` so far, by question key."""
    survey = snapshot.survey_by_id(session, response.survey_id)
    return _values_by_key(survey, session.connection().execute(
        _DRAFT_ANSWERS, {"response_id": response.id}))


def _values_by_key(survey: SurveySnapshot, rows) -> dict[str, Any]:
    """Answer values by question key, from answer rows (rows without a question skipped)."""
    by_question: dict[int, list] = {}
    for row in rows:
        if row.question_id is not None:
            by_question.setdefault(row.question_id, []).append(row)
    return {q.key: rules.value_from_rows(q, by_question[q.id])
            for q in survey.questions if q.id in by_question}


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


def check_page(survey: SurveySnapshot, page_questions, raw: Mapping[str, Any],
               known: Mapping[str, Any], *, require: bool) -> PageResult:
    """Validate the raw answers of one page; `require` enforces required questions."""
    by_key = survey.questions_of.by_key
    result = PageResult()
    merged = dict(known)
    cleaned = {q.key: rules.clean(q, raw.get(q.key)) for q in page_questions}
    for question in page_questions:
        one = cleaned[question.key]
        merged[question.key] = one.value if one.problem is None else raw.get(question.key)
    for question in page_questions:
        if not rules.is_visible(question, merged, by_key):
            continue
        one = cleaned[question.key]
        if one.problem and (require or one.problem != "an answer is required"):
            result.errors[question.key] = one.problem[0].upper() + one.problem[1:] + "."
        else:
            result.values[question.key] = one.value
    return result


_ANSWER_ROW = {"choice": None, "number": None, "text": None, "importance": None,
               "satisfaction": None, "safety_flag_id": None}


@dataclass(frozen=True)
class PagePlan:
    """What saving one checked page will store: computed before the write lock is taken."""

    page_number: int
    replace_ids: tuple[int, ...]  # answers to delete: this page's and those now hidden
    rows: tuple[tuple[Any, dict[str, Any]], ...]  # (question, Answer columns) to insert
    missing: tuple[Any, ...]  # visible required questions still unanswered afterwards


def plan_page(survey: SurveySnapshot, page_questions, values: Mapping[str, Any],
              known: Mapping[str, Any], page_number: int) -> PagePlan:
    """Plan storing one page's checked `values` over the draft's `known` answers:
    this page's answers are replaced and answers to questions it now hides are dropped."""
    by_key = survey.questions_of.by_key
    merged = {**known, **values}
    for question in page_questions:
        if question.key not in values:
            merged.pop(question.key, None)
    hidden = [q for q in survey.active_questions if not rules.is_visible(q, merged, by_key)]
    hidden_keys = {q.key for q in hidden}
    rows = tuple(
        (question, {**_ANSWER_ROW, **columns})
        for question in page_questions if question.key not in hidden_keys
        for columns in rules.answer_rows(question, values.get(question.key))
    )
    after = {k: v for k, v in merged.items() if k not in hidden_keys}
    missing = tuple(q for q in survey.active_questions
                    if q.required and q.key not in hidden_keys and after.get(q.key) in (None, []))
    return PagePlan(page_number, tuple([q.id for q in page_questions] + [q.id for q in hidden]),
                    rows, missing)


def check_can_store(survey, plan: PagePlan, *, submitting: bool) -> None:
    """Refuse before taking any lock: a closed survey, or a submission with gaps."""
    if not is_open(survey):
        raise Conflict("This survey has closed; answers can no longer be "
                       + ("submitted." if submitting else "saved."))
    if submitting and plan.missing:
        raise DomainError("Please answer: " + "; ".join(q.text for q in plan.missing[:5]))


_PAGE_REACHED = case((_R.c.page_reached < bindparam("page"), bindparam("page")),
                     else_=_R.c.page_reached)
_CLAIM = (update(_R).where(_R.c.id == bindparam("response_id"), _R.c.status == "draft")
          .values(page_reached=_PAGE_REACHED))
_CLAIM_AND_SUBMIT = (update(_R)
                     .where(_R.c.id == bindparam("response_id"), _R.c.status == "draft")
                     .values(page_reached=_PAGE_REACHED, status="submitted",
                             resume_key_hash=None, submitted_on=bindparam("today")))
_DROP_ANSWERS = delete(_A).where(
    _A.c.response_id == bindparam("replaced_of"),
    _A.c.question_id.in_(bindparam("replaced_questions", expanding=True)))
# PostgreSQL takes the ids as one array: an expanding IN is re-rendered for every execution,
# which cost the web worker more than running the statement.
_DROP_ANSWERS_PG = delete(_A).where(
    _A.c.response_id == bindparam("replaced_of"),
    _A.c.question_id == any_(bindparam("replaced_questions", type_=ARRAY(Integer))))
_ANSWER_COLUMNS = (*_ANSWER_ROW, "response_id", "question_id")
_ADD_PARTICIPATION = insert(Participation.__table__)


def save_page(session: Session, survey, draft: DraftRef, plan: PagePlan, *,
              submitting: bool = False, user=None, remember: dict | None = None) -> None:
    """Store a planned page, and freeze the draft when `submitting`, in a few statements.

    The draft row is claimed first (only while it is still a draft), so two requests for
    one draft store one after the other and nothing is added to a submitted response.
    Every text is screened for adverse events as it is saved. Submitting records
    participation for accounts and erases the resume key; only the date is kept.
    `remember` is the post's idempotency record (`idempotency.record_for`), stored with
    the answers; `idempotency.Duplicate` when another post with that key came first.

    After the claim, dropping the replaced answers, recording the post and inserting the
    answers are one statement on PostgreSQL (`insert_rows` with `along`): every statement
    costs the web worker and the database more than the rows it writes.
    """
    check_can_store(survey, plan, submitting=submitting)
    conn = session.connection()
    if submitting:
        claimed = conn.execute(_CLAIM_AND_SUBMIT, {"response_id": draft.id,
                                                   "page": plan.page_number,
                                                   "today": clock.today_utc()})
    else:
        claimed = conn.execute(_CLAIM, {"response_id": draft.id, "page": plan.page_number})
    if claimed.rowcount != 1:
        raise Conflict("These answers were already submitted. Thank you!")
    drop = _DROP_ANSWERS_PG if conn.dialect.name == "postgresql" else _DROP_ANSWERS
    along = [(drop, {"replaced_of": draft.id, "replaced_questions": list(plan.replace_ids)})]
    if remember is not None:
        along.append((idempotency.RECORD, remember))
    rows = []
    for question, columns in plan.rows:
        row = {**columns, "response_id": draft.id, "question_id": question.id}
        if columns["text"]:
            flag = screen(session, source="survey-response",
                          source_ref=f"response:{draft.id}/question:{question.key}",
                          text=columns["text"])
            row["safety_flag_id"] = flag.id if flag is not None else None
        rows.append(row)
    try:
        insert_rows(conn, _A, rows, columns=_ANSWER_COLUMNS, along=along)
    except IntegrityError as exc:
        if idempotency.is_duplicate(exc):
            raise idempotency.Duplicate() from exc
        raise
    if submitting and _is_person(user):
        try:
            conn.execute(_ADD_PARTICIPATION, {"survey_id": survey.id, "user_id": user.id})
        except IntegrityError as exc:  # two drafts of one account submitted at once
            raise Conflict("You have already answered this survey. Thank you!") from exc


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
