"""An organizer generates, edits and publishes guidelines; an entrant reads them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from challenge.accounts import services as accounts
from challenge.db import session_scope
from surveys import definition, insights
from tests.conftest import PASSWORD
from tests.services.test_guidelines import add_responses

pytestmark = pytest.mark.browser
CONTRACT = Path(__file__).resolve().parents[1] / "data" / "survey_contract.json"


@pytest.fixture
def seeded(live_app_runner) -> str:
    with live_app_runner.app_context(), session_scope(live_app_runner) as s:
        survey, _ = definition.apply(s, json.loads(CONTRACT.read_text()))
        add_responses(s, survey, [(5, 1)] * 20 + [(2, 4)] * 5)
        insights.refresh(s, survey)
        accounts.create_user(s, "org@example.org", password=PASSWORD, roles=["organizer"])
        accounts.create_user(s, "lee@example.org", password=PASSWORD, roles=["entrant"])
    return survey.slug


def _login(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Hello")


def test_organizer_publishes_and_entrant_reads(page: Page, live_server: str, seeded: str):
    _login(page, live_server, "org@example.org")
    page.goto(f"{live_server}/organize/surveys/{seeded}/guidelines")
    page.get_by_role("button", name="Generate a draft from the report").click()
    expect(page.get_by_text("A draft was generated")).to_be_visible()
    page.get_by_role("link", name="Edit").click()
    page.get_by_label("Guideline").fill("Keep glucose steady during sport")
    page.get_by_label("What entrants should know (Markdown)").fill(
        "Runners and gym-goers go **low** after exercise.")
    page.get_by_role("button", name="Save the draft").click()
    expect(page.get_by_text("Draft saved.")).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())  # the confirmation before publishing
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_text("Version 1 is published.")).to_be_visible()
    page.get_by_role("button", name="Log out").click()

    _login(page, live_server, "lee@example.org")
    page.goto(f"{live_server}/s/{seeded}/guidelines")
    expect(page.get_by_role("heading", name="Keep glucose steady during sport")).to_be_visible()
    expect(page.locator("#g-exercise strong")).to_have_text("low")
    page.get_by_role("link", name="See the evidence").click()
    expect(page.locator("#need-exercise")).to_contain_text("14.0 of 20")
