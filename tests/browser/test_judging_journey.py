"""A judge scores an entry; an organizer publishes the results; an anonymous visitor reads
them — in a real Chromium, with the server's clock inside the judging window."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from challenge import clock
from challenge.accounts.models import User
from challenge.db import session_scope
from tests.conftest import PASSWORD
from tests.services.test_reviews import DURING, build_world

pytestmark = pytest.mark.browser


@pytest.fixture
def world(live_app_runner):
    method = live_app_runner.config["PASSWORD_HASH_METHOD"]
    with live_app_runner.app_context(), session_scope(live_app_runner) as s:
        built = build_world(s)
        for user in s.scalars(select(User)):  # the builders make accounts without passwords
            user.password_hash = generate_password_hash(PASSWORD, method=method)
        slug = built.challenge.slug
    clock.freeze(DURING)
    yield slug
    clock.freeze(None)


def _login(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Hello")


def test_judge_scores_organizer_publishes_visitor_reads(page: Page, live_server: str,
                                                        world: str):
    _login(page, live_server, "ana@example.org")
    page.goto(f"{live_server}/judging")
    page.get_by_role("link", name="GlucoGo").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("GlucoGo")
    page.locator('#criterion-impact input[value="9"]').count()  # not a choice: scale is 1-5
    page.locator('#criterion-impact input[value="4"]').check()
    page.locator('#criterion-feasibility input[value="3"]').check()
    page.locator("#criterion-design input").fill("120")  # out of range first
    page.get_by_role("button", name="Submit review").click()
    expect(page.locator("#criterion-design .error")).to_be_visible()
    page.locator("#criterion-design input").fill("80")
    page.get_by_label("Feedback to the team").fill("Great focus on runners.")
    page.get_by_role("button", name="Submit review").click()
    expect(page.get_by_text("submitted", exact=False).first).to_be_visible()
    page.get_by_role("button", name="Log out").click()

    _login(page, live_server, "org@example.org")
    page.goto(f"{live_server}/organize/challenges/{world}/results")
    page.get_by_label("Publish although these entries have no complete review").check()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Publish results").click()
    expect(page.get_by_text("Version 1 of the results is published.")).to_be_visible()
    page.get_by_role("button", name="Log out").click()

    page.goto(f"{live_server}/c/{world}/results")
    first = page.locator("table.results-table tbody tr").first
    expect(first.locator("td").first).to_have_text("1")
    expect(first).to_contain_text("GlucoGo")
