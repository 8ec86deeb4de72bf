"""An organizer publishes results with an award; an anonymous visitor reads them.

(A judge scoring an entry in the browser is covered by the scoring journey.)
"""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from challenge.accounts import services as accounts
from challenge.db import session_scope
from tests.conftest import PASSWORD
from tests.services.test_results import golden_challenge

pytestmark = pytest.mark.browser


@pytest.fixture
def seeded(live_app_runner) -> str:
    """The golden challenge (4 entries reviewed by 3 judges) and an organizer."""
    with live_app_runner.app_context(), session_scope(live_app_runner) as s:
        challenge, _ = golden_challenge(s)
        accounts.create_user(s, "org@example.org", password=PASSWORD, roles=["organizer"])
        slug = challenge.slug
    return slug


def _serious_violations(page: Page) -> list[str]:
    found = Axe().run(page)
    return [f"{v['id']}: {v['help']}" for v in found.response["violations"]
            if v.get("impact") in ("serious", "critical")]


def test_organizer_publishes_and_a_visitor_reads_the_results(
        page: Page, live_server: str, seeded: str):
    page.goto(f"{live_server}/c/{seeded}/results")
    expect(page.get_by_text("Results are not published yet")).to_be_visible()

    page.goto(f"{live_server}/login")
    page.get_by_label("E-mail").fill("org@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Hello")

    page.goto(f"{live_server}/organize/challenges/{seeded}/results")
    expect(page.get_by_role("heading", name="Results", level=1)).to_be_visible()
    expect(page.get_by_role("img", name="Entry scores with the spread of their reviews")
           ).to_be_visible()
    assert _serious_violations(page) == []
    page.get_by_label("Award for E1 (rank 1)").fill("Grand prize")
    page.once("dialog", lambda dialog: dialog.accept())  # the confirmation before publishing
    page.get_by_role("button", name="Publish results").click()
    expect(page.get_by_text("Version 1 of the results is published.")).to_be_visible()
    expect(page.locator("#history")).to_contain_text("Not released")
    page.get_by_role("button", name="Log out").click()

    page.goto(f"{live_server}/c/{seeded}/results")
    first = page.locator("table.results-table tbody tr").first
    expect(first.locator("td").first).to_have_text("1")
    expect(first).to_contain_text("Project E1")
    expect(first).to_contain_text("E1")
    expect(first).to_contain_text("Grand prize")
    assert _serious_violations(page) == []
