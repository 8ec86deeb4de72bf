"""A respondent's own survey data: for "My data" export and account deletion, and the
patient's dashboard panel."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from challenge.accounts import mydata
from challenge.dashboard import Panel, register_panel
from surveys import services
from surveys.models import Answer, Participation, Response, Survey


def _linked_responses(session: Session, user) -> list[Response]:
    """Responses that can be tied to the account: non-anonymous ones, and drafts of
    anonymous surveys still reachable through the account's keyed draft hash."""
    linked = list(session.scalars(select(Response).where(Response.user_id == user.id)))
    for survey in session.scalars(select(Survey).where(Survey.anonymous.is_(True))):
        draft = services.find_draft(session, survey, user=user)
        if draft is not None:
            linked.append(draft)
    return linked


def export_for(session: Session, user) -> dict[str, Any]:
    """Survey data held about `user`."""
    surveys = {s.id: s for s in session.scalars(select(Survey))}
    responses = []
    for response in _linked_responses(session, user):
        survey = surveys[response.survey_id]
        values = services.current_values(session, response)
        responses.append({
            "survey": survey.slug,
            "anonymous_survey": survey.anonymous,
            "status": response.status,
            "submitted_on": response.submitted_on.isoformat() if response.submitted_on else None,
            "answers": {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()},
        })
    took_part = session.scalars(select(Participation.survey_id)
                                .where(Participation.user_id == user.id))
    return {
        "responses": responses,
        "took_part_in": sorted(surveys[i].slug for i in took_part),
    }


def erase_for(session: Session, user) -> None:
    """Delete the responses linked to `user` (anonymous submitted ones cannot be found)."""
    ids = [r.id for r in _linked_responses(session, user)]
    if ids:
        session.execute(delete(Answer).where(Answer.response_id.in_(ids)))
        session.execute(delete(Response).where(Response.id.in_(ids)))
    session.execute(delete(Participation).where(Participation.user_id == user.id))


def _patient_panel(session: Session, user) -> dict:
    return {"items": services.my_surveys(session, user)}


def init_app(app: Flask) -> None:
    """Register the "My data" parts and the patient's dashboard panel."""
    mydata.register(app, "surveys", export_for, erase_for)
    register_panel(app, Panel("patient", "Your surveys", "dashboard/_patient.html", order=10,
                              loader=_patient_panel))



