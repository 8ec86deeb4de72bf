"""Answering a survey through the real pages: consent, pages, branching, resume, submit,
anonymity checked by reading the database, my data."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select

from challenge import clock
from challenge.accounts.models import ConsentRecord, User
from challenge.safety.models import Flag
from surveys import definition
from surveys.models import Answer, Participation, Response, Survey
from tests.conftest import login

CONTRACT = Path(__file__).resolve().parents[1] / "data" / "survey_contract.json"
PAGE1 = {"q_role": "patient", "q_dtype": "t1", "q_exercise.importance": "5",
         "q_exercise.satisfaction": "2", "q_devices": ["cgm"], "action": "next"}
PAGE2 = {"q_stress": "4", "q_age": "41", "q_story": "Night lows scare me.", "action": "submit"}


@pytest.fixture
def survey(app):
    """The CONTRACTS.md example survey, open (two pages: 4 + 3 questions)."""
    from challenge.db import session_scope

    doc = json.loads(CONTRACT.read_text())
    doc["questions"][0]["required"] = True
    with app.app_context(), session_scope(app) as s:
        created, _ = definition.apply(s, doc)
        return created.slug


def _start(client, slug, **extra):
    return client.post(f"/s/{slug}", data={"consent": "yes", **extra})


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_landing_explains_sponsor_use_anonymity_and_consent(client, survey):
    html = client.get(f"/s/{survey}").get_data(as_text=True)
    assert "Who runs this survey" in html
    assert "How your answers are used" in html
    assert "This survey is anonymous" in html
    assert "safety team" in html  # side-effect mentions are passed on
    assert "Consent text, version 1" in html


def test_consent_required_before_first_question(client, survey, session):
    refused = client.post(f"/s/{survey}", data={})
    assert refused.status_code == 422 and b"agree to the consent" in refused.data
    assert client.get(f"/s/{survey}/page/1").status_code == 302
    assert count(session, Response) == 0


def test_anonymous_visitor_full_journey_stores_nothing_identifying(client, survey, session):
    clock.freeze(datetime(2027, 1, 12, 15, 42, 7, tzinfo=UTC))
    started = _start(client, survey)
    assert started.headers["Location"].endswith(f"/s/{survey}/page/1")
    first = client.get(f"/s/{survey}/page/1").get_data(as_text=True)
    assert "Page 1 of 2" in first and "Your private link to continue later" in first
    assert "Your private link" not in client.get(f"/s/{survey}/page/1").get_data(as_text=True)
    assert client.post(f"/s/{survey}/page/1", data=PAGE1).status_code == 302
    done = client.post(f"/s/{survey}/page/2", data=PAGE2)
    assert done.headers["Location"].endswith(f"/s/{survey}/thanks")
    assert b"What happens next" in client.get(f"/s/{survey}/thanks").data

    response = session.scalar(select(Response))
    assert response.status == "submitted"
    assert response.user_id is None and response.resume_key_hash is None
    assert response.submitted_on == date(2027, 1, 12)
    columns = {c["name"] for c in inspect(session.connection()).get_columns("survey_response")}
    assert not columns & {"ip", "ip_address", "created_at", "updated_at", "submitted_at"}
    assert count(session, Participation) == 0
    assert count(session, ConsentRecord) == 0
    values = {a.question.key: a for a in session.scalars(select(Answer))}
    assert values["exercise"].importance == 5 and values["exercise"].satisfaction == 2
    assert values["age"].number == 41
    # the page after submission no longer reaches the answers
    assert client.get(f"/s/{survey}/page/1").status_code == 302


def test_logged_in_anonymous_survey_records_participation_not_link(client, survey, session,
                                                                   make_user):
    make_user("pat@example.org", "patient")
    login(client, "pat@example.org")
    _start(client, survey, quote="yes")
    draft = session.scalar(select(Response))
    assert draft.user_id is None and draft.resume_key_hash  # found through a keyed hash
    client.post(f"/s/{survey}/page/1", data=PAGE1)
    client.post(f"/s/{survey}/page/2", data=PAGE2)
    session.expire_all()
    response = session.scalar(select(Response))
    assert response.user_id is None and response.resume_key_hash is None
    participation = session.scalar(select(Participation))
    assert participation.user_id is not None
    assert set(inspect(session.connection()).get_columns("survey_participation")[i]["name"]
               for i in range(3)) == {"id", "survey_id", "user_id"}
    consent = session.scalar(select(ConsentRecord).where(ConsentRecord.subject.like("survey:%")))
    assert (consent.given_at.hour, consent.given_at.minute) == (0, 0)  # date only
    # the same account cannot answer twice
    again = _start(client, survey)
    assert again.status_code == 422 and b"already answered" in again.data
    assert count(session, Response) == 1


def test_resume_automatically_when_logged_in(app, survey, session, make_user):
    make_user("pat@example.org", "patient")
    first = app.test_client()
    login(first, "pat@example.org")
    _start(first, survey)
    first.post(f"/s/{survey}/page/1", data={**PAGE1, "action": "save"})
    other_device = app.test_client()
    login(other_device, "pat@example.org")
    landing = other_device.get(f"/s/{survey}").get_data(as_text=True)
    assert "Continue the survey" in landing
    page = other_device.get(f"/s/{survey}/page/1").get_data(as_text=True)
    assert 'value="t1" checked' in page
    dashboard = other_device.get("/dashboard").get_data(as_text=True)
    assert "In progress" in dashboard


def test_private_resume_link_for_visitors_and_stale_after_submit(app, survey):
    visitor = app.test_client()
    _start(visitor, survey)
    page = visitor.get(f"/s/{survey}/page/1").get_data(as_text=True)
    link = re.search(r"http://localhost(/s/[^<\s]+/resume/[^<\s]+)", page).group(1)
    visitor.post(f"/s/{survey}/page/1", data={**PAGE1, "action": "save"})
    later = app.test_client()  # another browser, no cookie
    resumed = later.get(link)
    assert resumed.status_code == 302 and resumed.headers["Location"].endswith("/page/1")
    assert 'value="cgm" checked' in later.get(f"/s/{survey}/page/1").get_data(as_text=True)
    later.post(f"/s/{survey}/page/2", data=PAGE2)
    stale = app.test_client().get(link)
    assert stale.status_code == 404 and b"no longer works" in stale.data


def test_required_missing_and_bad_values_keep_what_was_typed(client, survey, session):
    _start(client, survey)
    bad = client.post(f"/s/{survey}/page/1", data={
        "q_dtype": "t1", "q_exercise.importance": "9", "q_exercise.satisfaction": "2",
        "q_devices": ["cgm", "hacked"], "action": "next"})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert "An answer is required" in html  # role
    assert "importance must be a whole number from 1 to 5" in html.lower()
    assert "&#39;hacked&#39; is not one of the options" in html
    assert 'value="cgm" checked' in html
    assert count(session, Answer) == 0  # nothing half-saved
    client.post(f"/s/{survey}/page/1", data=PAGE1)
    out_of_range = client.post(f"/s/{survey}/page/2", data={**PAGE2, "q_age": "430"})
    assert out_of_range.status_code == 422 and b"between 0 and 120" in out_of_range.data
    assert b"Night lows scare me." in out_of_range.data


def test_branching_hidden_questions_neither_required_nor_stored(client, survey, session):
    doc = definition.export(session.scalar(select(Survey)))
    doc["questions"][1]["required"] = True  # dtype required, but only shown to patients
    definition.apply(session, doc)
    session.commit()
    _start(client, survey)
    carer = {**PAGE1, "q_role": "carer", "q_dtype": "t2"}  # dtype posted anyway
    assert client.post(f"/s/{survey}/page/1", data=carer).status_code == 302
    keys = set(session.scalars(select(Answer.question_id)))
    dtype = next(q for q in session.scalar(select(Survey)).questions if q.key == "dtype")
    assert dtype.id not in keys
    # as a patient, the now-visible required dtype must be answered
    patient = {**PAGE1, "q_dtype": ""}
    refused = client.post(f"/s/{survey}/page/1", data=patient)
    assert refused.status_code == 422 and b"An answer is required" in refused.data


def test_changing_an_earlier_answer_drops_answers_it_now_hides(client, survey, session):
    _start(client, survey)
    client.post(f"/s/{survey}/page/1", data=PAGE1)
    client.post(f"/s/{survey}/page/1", data={**PAGE1, "q_role": "carer"})
    keys = {a.question.key for a in session.scalars(select(Answer))}
    assert "dtype" not in keys and "role" in keys


def test_double_submission_and_closed_and_draft_surveys(client, survey, session, make_user):
    make_user("pat@example.org", "patient")
    login(client, "pat@example.org")
    _start(client, survey)
    client.post(f"/s/{survey}/page/1", data=PAGE1)
    client.post(f"/s/{survey}/page/2", data=PAGE2)
    replay = client.post(f"/s/{survey}/page/2", data=PAGE2)
    assert replay.status_code == 302  # no draft any more: back to the landing page
    assert count(session, Response) == 1 and count(session, Participation) == 1
    row = session.scalar(select(Survey))
    row.status = "closed"
    session.commit()
    closed = client.get(f"/s/{survey}").get_data(as_text=True)
    assert "already answered" in closed
    visitor_page = client.application.test_client().get(f"/s/{survey}")
    assert b"This survey is closed" in visitor_page.data
    refused = client.application.test_client().post(f"/s/{survey}", data={"consent": "yes"})
    assert refused.status_code == 422 and b"not open" in refused.data
    row.status = "draft"
    session.commit()
    assert client.get(f"/s/{survey}").status_code == 404


def test_survey_closing_while_drafting_keeps_answers_typed(client, survey, session):
    _start(client, survey)
    row = session.scalar(select(Survey))
    row.status = "closed"
    session.commit()
    response = client.post(f"/s/{survey}/page/1", data=PAGE1)
    assert response.status_code == 200 and b"has closed" in response.data
    assert 'value="t1" checked' in response.get_data(as_text=True)


def test_side_effect_mention_is_flagged_on_save(client, survey, session):
    _start(client, survey)
    client.post(f"/s/{survey}/page/1", data=PAGE1)
    text = "Since starting Lantus I get dizzy spells every afternoon."
    client.post(f"/s/{survey}/page/2", data={**PAGE2, "q_story": text, "action": "save"})
    flag = session.scalar(select(Flag))
    assert flag.status == "new" and "lantus" in flag.products and flag.events
    answer = session.scalar(select(Answer).where(Answer.text == text))
    assert answer.safety_flag_id == flag.id


def test_non_anonymous_survey_links_account_and_my_data(client, survey, session, make_user):
    row = session.scalar(select(Survey))
    row.anonymous = False
    session.commit()
    anonymous_visitor = client.application.test_client()
    page = anonymous_visitor.get(f"/s/{survey}").get_data(as_text=True)
    assert "not anonymous" in page and "log in" in page
    make_user("pat@example.org", "patient")
    login(client, "pat@example.org")
    assert "linked to your account" in client.get(f"/s/{survey}").get_data(as_text=True)
    _start(client, survey)
    client.post(f"/s/{survey}/page/1", data=PAGE1)
    client.post(f"/s/{survey}/page/2", data=PAGE2)
    user = session.scalar(select(User).where(User.email == "pat@example.org"))
    assert session.scalar(select(Response)).user_id == user.id
    data = client.get("/account/data.json").get_json()
    assert data["account"]["email"] == "pat@example.org"
    answers = data["surveys"]["responses"][0]["answers"]
    assert answers["role"] == "patient" and answers["exercise"] == [5, 2]


def test_delete_account_keeps_anonymous_answers_removes_linked_ones(app, survey, session,
                                                                    make_user):
    make_user("pat@example.org", "patient")
    client = app.test_client()
    login(client, "pat@example.org")
    _start(client, survey)  # anonymous survey
    client.post(f"/s/{survey}/page/1", data=PAGE1)
    client.post(f"/s/{survey}/page/2", data=PAGE2)
    named = {**json.loads(CONTRACT.read_text()), "slug": "named-2027", "anonymous": False}
    definition.apply(session, named)
    session.commit()
    _start(client, "named-2027")
    client.post("/s/named-2027/page/1", data=PAGE1)
    client.post("/s/named-2027/page/2", data=PAGE2)
    assert count(session, Response) == 2
    wrong = client.post("/account/delete", data={"password": "nope", "confirm": "y"})
    assert wrong.status_code == 422 and count(session, User) == 1
    gone = client.post("/account/delete",
                       data={"password": "correct horse battery staple", "confirm": "y"})
    assert gone.status_code == 302
    session.expire_all()
    assert count(session, User) == 0
    remaining = session.scalars(select(Response)).all()
    assert len(remaining) == 1 and remaining[0].user_id is None  # the anonymous one stays
    assert count(session, Participation) == 0 and count(session, ConsentRecord) == 0
    assert client.get("/dashboard").status_code == 302  # logged out


def test_patient_dashboard_lists_open_surveys(client, survey, make_user):
    make_user("pat@example.org", "patient")
    login(client, "pat@example.org")
    html = client.get("/dashboard").get_data(as_text=True)
    assert "Open: not started" in html
    assert client.get("/surveys").status_code == 200
