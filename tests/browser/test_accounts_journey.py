"""A person registers, logs in, sees their dashboard and logs out, in a real Chromium."""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_register_login_dashboard_logout(page: Page, live_server: str):
    page.goto(f"{live_server}/")
    page.get_by_role("link", name="Create an account").first.click()
    page.get_by_label("Your name (optional)").fill("Rosa")
    page.get_by_label("E-mail").fill("rosa@example.org")
    page.get_by_label("Password", exact=True).fill("short")
    page.get_by_label("Repeat the password").fill("short")
    page.get_by_label(re.compile("person living with a condition")).check()
    page.get_by_label("I have read the privacy notice").check()
    page.get_by_role("button", name="Create my account").click()
    # the weak password is refused beside the field, and what was typed is kept
    expect(page.locator("#password-error")).to_contain_text("at least 8 characters")
    expect(page.get_by_label("E-mail")).to_have_value("rosa@example.org")
    page.get_by_label("Password", exact=True).fill("a calm river at dawn")
    page.get_by_label("Repeat the password").fill("a calm river at dawn")
    page.get_by_role("button", name="Create my account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Rosa")
    expect(page.get_by_role("heading", name="Your surveys")).to_be_visible()

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_text("You are logged out.")).to_be_visible()
    page.goto(f"{live_server}/dashboard")
    expect(page).to_have_url(re.compile(r"/login"))

    page.get_by_label("E-mail").fill("rosa@example.org")
    page.get_by_label("Password").fill("a calm river at dawn")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Your surveys")).to_be_visible()
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("navigation").get_by_role("link", name="Log in")).to_be_visible()


@pytest.mark.parametrize("path", ["/", "/login", "/register"])
def test_no_serious_accessibility_violations(page: Page, live_server: str, path: str):
    page.goto(f"{live_server}{path}")
    results = Axe().run(page)
    serious = [
        f"{v['id']}: {v['help']}"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]
    assert serious == []


def test_works_on_a_phone_and_at_200_percent_zoom(page: Page, live_server: str):
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(f"{live_server}/login")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360  # no horizontal scrolling on a small phone
    page.set_viewport_size({"width": 640, "height": 400})  # 1280 px at 200% zoom
    page.goto(f"{live_server}/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 640
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert "Skip to main content" in focused
