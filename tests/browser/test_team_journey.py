"""Two entrants form a team through a shareable invite link, draft, upload a file and
submit; a third person cannot see the draft. In a real Chromium."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

from challenge import clock
from challenge.accounts import services as accounts
from challenge.challenges.models import Challenge
from challenge.db import session_scope
from tests.conftest import PASSWORD
from tests.services.test_submissions import PDF

pytestmark = pytest.mark.browser


@pytest.fixture
def seeded(live_app_runner) -> str:
    """A published challenge whose registration is open now, and entrant B's account."""
    now = clock.now()
    with live_app_runner.app_context(), session_scope(live_app_runner) as s:
        s.add(Challenge(
            slug="steady-glucose", title="Steady glucose", team_min=1, team_max=4,
            registration_opens=now - timedelta(days=1),
            submission_deadline=now + timedelta(days=30),
            judging_closes=now + timedelta(days=60), results_at=now + timedelta(days=75),
            published=True, created_at=now, updated_at=now))
        accounts.create_user(s, "bo@example.org", password=PASSWORD, roles=["entrant"],
                             name="Bo")
        accounts.create_user(s, "cy@example.org", password=PASSWORD, roles=["entrant"],
                             name="Cy")
    return "steady-glucose"


def _serious_violations(page: Page) -> list[str]:
    results = Axe().run(page)
    return [f"{v['id']}: {v['help']}" for v in results.response["violations"]
            if v.get("impact") in ("serious", "critical")]


def test_two_entrants_form_a_team_through_an_invite_link(
        page: Page, browser: Browser, live_server: str, seeded: str):
    # Entrant A registers, finds the open challenge on the dashboard and creates a team.
    page.goto(f"{live_server}/register")
    page.get_by_label("Your name (optional)").fill("Ada")
    page.get_by_label("E-mail").fill("ada@example.org")
    page.get_by_label("Password", exact=True).fill("a calm river at dawn")
    page.get_by_label("Repeat the password").fill("a calm river at dawn")
    page.get_by_label(re.compile("An innovator")).check()
    page.get_by_label("I have read the privacy notice").check()
    page.get_by_role("button", name="Create my account").click()
    expect(page.get_by_role("heading", name="Your teams")).to_be_visible()
    expect(page.get_by_text("You are not in a team yet.")).to_be_visible()
    page.get_by_role("link", name="Steady glucose").click()
    assert _serious_violations(page) == []
    page.get_by_role("button", name="Create the team").click()
    expect(page.locator("#name-error")).to_contain_text("Give the team a name")
    page.get_by_label("Team name").fill("Gluco <b>Go</b>")
    page.get_by_role("button", name="Create the team").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Gluco <b>Go</b>")
    expect(page.get_by_text("You are the captain of this team.")).to_be_visible()

    page.get_by_role("button", name="Create an invitation link").click()
    link = page.get_by_role("textbox", name="Invitation link").input_value()
    assert re.fullmatch(rf"{re.escape(live_server)}/invite/team/[A-Za-z0-9_\-]{{32}}", link)
    assert _serious_violations(page) == []

    # Entrant B, in a browser of their own, opens the link, logs in and joins.
    other = browser.new_context()
    try:
        bee = other.new_page()
        bee.goto(link)
        expect(bee.get_by_role("heading", level=1)).to_have_text("Join the team Gluco <b>Go</b>")
        assert _serious_violations(bee) == []
        bee.get_by_role("link", name="Log in to join").click()
        bee.get_by_label("E-mail").fill("bo@example.org")
        bee.get_by_label("Password").fill(PASSWORD)
        bee.get_by_role("button", name="Log in").click()
        expect(bee).to_have_url(link)
        bee.get_by_role("button", name="Join Gluco <b>Go</b>").click()
        expect(bee.get_by_text("Welcome to Gluco <b>Go</b>!")).to_be_visible()
        expect(bee.get_by_text("You are a member of this team.")).to_be_visible()
    finally:
        other.close()

    # A sees B among the members.
    page.reload()
    members = page.get_by_role("table", name="Members of Gluco <b>Go</b>")
    expect(members.get_by_role("row", name=re.compile("Bo Member"))).to_be_visible()
    expect(page.get_by_role("heading", name="Members (2 of 4)")).to_be_visible()

    # A drafts and uploads a file; B submits; a third entrant cannot see the draft.
    editor = f"{live_server}/c/{seeded}/submission"
    page.goto(editor)
    page.get_by_label("Project title").fill("GlucoGo")
    page.get_by_label("Summary (Markdown)").fill("A coach for runners.")
    page.get_by_role("button", name="Save the draft").click()
    expect(page.get_by_text("Saved as version 1")).to_be_visible()
    page.get_by_label("Add a file").set_input_files(
        files=[{"name": "plan.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_text("Added “plan.pdf”")).to_be_visible()
    file_url = page.get_by_role("link", name="plan.pdf").get_attribute("href")
    history_url = page.get_by_role("link", name="Version history").get_attribute("href")

    other = browser.new_context()
    try:
        bee = other.new_page()
        _login(bee, live_server, "bo@example.org")
        bee.goto(editor)
        expect(bee.get_by_label("Project title")).to_have_value("GlucoGo")
        bee.once("dialog", lambda dialog: dialog.accept())
        bee.get_by_role("button", name="Submit version 2 as our entry").click()
        expect(bee.get_by_text("Submitted: version 2 is your entry.")).to_be_visible()
    finally:
        other.close()

    third = browser.new_context()
    try:
        cy = third.new_page()
        _login(cy, live_server, "cy@example.org")
        for path in (history_url, file_url):
            response = cy.goto(f"{live_server}{path}")
            assert response is not None and response.status == 404
        cy.goto(editor)
        expect(cy.get_by_text("GlucoGo")).to_have_count(0)
    finally:
        third.close()


def _login(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Hello")
