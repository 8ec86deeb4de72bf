"""Guideline pages: organizers generate, edit and publish; everyone reads what is published."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from surveys import definition, insights
from surveys.models import GuidelineDocument, Survey
from tests.conftest import login
from tests.services.test_guidelines import add_responses

CONTRACT = Path(__file__).resolve().parents[1] / "data" / "survey_contract.json"
SLUG = "daily-life-2027"
BASE = f"/organize/surveys/{SLUG}/guidelines"


@pytest.fixture
def with_report(session):
    survey, _ = definition.apply(session, json.loads(CONTRACT.read_text()))
    add_responses(session, survey, [(5, 1)] * 20 + [(2, 4)] * 5)
    insights.refresh(session, survey)
    session.commit()
    return survey


@pytest.fixture
def organizer(client, make_user):
    make_user("org@example.org", "organizer")
    login(client, "org@example.org")
    return client


def test_generate_edit_publish_and_read(organizer, with_report, app, session):
    empty = app.test_client().get(f"/s/{SLUG}/guidelines")
    assert b"No guidelines are published yet" in empty.data
    assert organizer.post(f"{BASE}/generate").status_code == 302
    page = organizer.get(BASE).get_data(as_text=True)
    assert "draft" in page and "Publish" in page
    edit = organizer.get(f"{BASE}/1/edit").get_data(as_text=True)
    assert "Evidence from the report" in edit and "exercise" in edit
    form = {"title": "Build for exercise", "intro": "Read **this**",
            "items-0-key": "exercise", "items-0-title": "Steady glucose in sport",
            "items-0-body": "Hostile <script>alert(1)</script> [x](javascript:alert(1))"}
    assert organizer.post(f"{BASE}/1/edit", data=form).status_code == 302
    assert organizer.post(f"{BASE}/1/publish").status_code == 302
    public = app.test_client().get(f"/s/{SLUG}/guidelines").get_data(as_text=True)
    assert "Steady glucose in sport" in public and "<strong>this</strong>" in public
    assert "<script>alert" not in public and 'href="javascript' not in public
    assert f"/s/{SLUG}/guidelines/evidence#need-exercise" in public
    evidence = app.test_client().get(f"/s/{SLUG}/guidelines/evidence").get_data(as_text=True)
    assert "14.0 of 20" in evidence and 'id="need-exercise"' in evidence
    outcomes = app.test_client().get(f"/s/{SLUG}/outcomes").get_data(as_text=True)
    assert "Steady glucose in sport" in outcomes
    # published versions are frozen: the edit page sends the organizer back
    assert organizer.get(f"{BASE}/1/edit").status_code == 302
    again = organizer.post(f"{BASE}/1/edit", data=form)
    assert again.status_code == 302
    assert session.scalar(select(GuidelineDocument.status)) == "published"


def test_edit_errors_keep_what_was_typed(organizer, with_report):
    organizer.post(f"{BASE}/generate")
    bad = organizer.post(f"{BASE}/1/edit", data={
        "title": "", "intro": "kept intro", "items-0-key": "exercise",
        "items-0-title": "My typed title", "items-0-body": "typed body"})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert "kept intro" in html and "My typed title" in html and "typed body" in html
    none_left = organizer.post(f"{BASE}/1/edit", data={
        "title": "T", "items-0-key": "exercise", "items-0-title": "x", "items-0-remove": "y"})
    assert none_left.status_code == 422 and b"Keep at least one guideline" in none_left.data


def test_generate_without_report_or_twice_gives_clear_messages(organizer, session):
    definition.apply(session, json.loads(CONTRACT.read_text()))
    session.commit()
    response = organizer.post(f"{BASE}/generate", follow_redirects=True)
    assert b"Compute the insight report first" in response.data
    assert b"no insight report yet" in organizer.get(BASE).data


def test_only_organizers_manage_guidelines(client, make_user, with_report):
    assert client.get(BASE).status_code == 302  # anonymous → login
    for role in ("patient", "entrant", "judge", "safety"):
        make_user(f"{role}@example.org", role)
        login(client, f"{role}@example.org")
        assert client.get(BASE).status_code == 403
        assert client.post(f"{BASE}/generate").status_code == 403
        client.post("/logout")
    assert session_unchanged(with_report)


def session_unchanged(survey: Survey) -> bool:
    return survey.slug == SLUG


def test_unknown_version_and_survey_404(organizer, with_report):
    assert organizer.get(f"{BASE}/9").status_code == 404
    assert organizer.get("/organize/surveys/nope/guidelines").status_code == 404
    assert organizer.get("/s/nope/guidelines").status_code == 404
