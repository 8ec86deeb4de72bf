"""A patient consents, answers a multi-page survey with branching, leaves, resumes and
submits, in a real Chromium."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from challenge.db import session_scope
from surveys import definition

pytestmark = pytest.mark.browser
CONTRACT = Path(__file__).resolve().parents[1] / "data" / "survey_contract.json"


@pytest.fixture
def open_survey(live_app_runner) -> str:
    doc = json.loads(CONTRACT.read_text())
    with live_app_runner.app_context(), session_scope(live_app_runner) as s:
        definition.apply(s, doc)
    return doc["slug"]


def test_patient_answers_leaves_resumes_and_submits(page: Page, live_server: str,
                                                     open_survey: str):
    page.goto(f"{live_server}/s/{open_survey}")
    expect(page.get_by_role("heading", name="Who runs this survey")).to_be_visible()
    page.get_by_role("button", name="Start the survey").click()
    expect(page.locator("#consent-error")).to_be_visible()  # consent comes first
    page.get_by_label("I have read the text above and agree to take part.").check()
    page.get_by_role("button", name="Start the survey").click()

    expect(page.locator("#progress-label")).to_have_text("Page 1 of 2")
    resume_link = page.locator(".resume-url").inner_text()
    assert re.search(r"/resume/", resume_link)

    # branching: "Which type?" appears only for people living with diabetes
    dtype = page.locator("#question-dtype")
    page.get_by_label("I care for someone who does").check()
    expect(dtype).to_be_hidden()
    page.get_by_label("I live with diabetes").check()
    expect(dtype).to_be_visible()
    page.get_by_label("Type 1").check()
    page.locator("#q_exercise-imp-5").check()
    page.locator("#q_exercise-sat-2").check()
    page.get_by_label("CGM").check()
    page.get_by_role("button", name="Save and finish later").click()
    expect(page.get_by_text("Your answers are saved")).to_be_visible()

    # leave: a new browser context has no cookie; the private link brings the answers back
    context = page.context.browser.new_context()
    other = context.new_page()
    other.goto(resume_link)
    expect(other.locator("#progress-label")).to_have_text("Page 1 of 2")
    expect(other.get_by_label("Type 1")).to_be_checked()
    other.get_by_role("button", name="Save and continue").click()
    expect(other.locator("#progress-label")).to_have_text("Page 2 of 2")
    other.get_by_label("Your age").fill("200")
    other.get_by_role("button", name="Submit my answers").click()
    expect(other.locator("#q_age-error")).to_contain_text("between 0 and 120")
    other.get_by_label("Your age").fill("42")
    other.locator("#q_stress-4").check()
    other.get_by_label("What else should innovators know?").fill("Night lows scare me.")
    other.get_by_role("button", name="Submit my answers").click()
    expect(other.get_by_role("heading", name="Thank you")).to_be_visible()
    other.goto(resume_link)
    expect(other.get_by_role("heading", name="This link no longer works")).to_be_visible()
    context.close()
