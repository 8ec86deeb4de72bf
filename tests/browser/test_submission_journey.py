"""Two teammates draft, upload and submit in a real Chromium; an outsider sees nothing."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect
from sqlalchemy import select

from challenge import clock
from challenge.challenges.models import SubmissionFile, SubmissionVersion
from challenge.db import session_scope
from challenge.outbox import OutboxMessage
from tests.conftest import PASSWORD
from tests.services.test_submissions import PDF, make_challenge, make_person, make_team

pytestmark = pytest.mark.browser
SLUG = "ddd-2027"


@pytest.fixture
def seeded(live_app_runner):
    """A challenge open for another week; team GlucoGo (ana, ben), team Nightwatch (cy)."""
    with live_app_runner.app_context(), session_scope(live_app_runner) as s:
        challenge = make_challenge(s, SLUG, deadline=clock.now() + timedelta(days=7))
        ana, ben, cy = (make_person(s, f"{n}@example.org") for n in ("ana", "ben", "cy"))
        make_team(s, challenge, "GlucoGo", ana, ben)
        make_team(s, challenge, "Nightwatch", cy)
    return live_app_runner


def _login(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Hello")


def _serious_violations(page: Page) -> list[str]:
    found = Axe().run(page)
    return [f"{v['id']}: {v['help']}" for v in found.response["violations"]
            if v.get("impact") in ("serious", "critical")]


def _logout(page: Page) -> None:
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_text("You are logged out.")).to_be_visible()


def test_two_teammates_draft_upload_submit_and_an_outsider_gets_404(
        page: Page, live_server: str, seeded):
    editor = f"{live_server}/c/{SLUG}/submission"

    # Ana drafts and uploads a small PDF.
    _login(page, live_server, "ana@example.org")
    page.goto(editor)
    expect(page.get_by_text("Nothing saved yet.")).to_be_visible()
    page.get_by_label("Project title").fill("GlucoGo")
    page.get_by_label("Summary (Markdown)").fill("A coach for **runners** with diabetes.")
    page.get_by_label(re.compile(r"Keep glucose steady during sport")).check()
    page.get_by_label("Repository link").fill("https://git.example.org/glucogo")
    page.get_by_role("button", name="Save the draft").click()
    expect(page.get_by_text("Saved as version 1")).to_be_visible()
    page.get_by_label("Add a file").set_input_files(
        files=[{"name": "plan.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    page.get_by_role("button", name="Upload").click()
    digest = hashlib.sha256(PDF).hexdigest()
    expect(page.get_by_text("Added “plan.pdf”")).to_be_visible()
    expect(page.locator("table.file-table")).to_contain_text(digest)
    _logout(page)

    # Ben sees the draft and submits it.
    _login(page, live_server, "ben@example.org")
    page.goto(editor)
    expect(page.get_by_label("Project title")).to_have_value("GlucoGo")
    expect(page.get_by_role("link", name="plan.pdf")).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())  # "Submit version 2 ...?"
    page.get_by_role("button", name="Submit version 2 as our entry").click()
    expect(page.get_by_text("Submitted: version 2 is your entry.")).to_be_visible()
    with seeded.app_context(), session_scope(seeded) as s:
        entry_hash, submission_id = s.execute(
            select(SubmissionVersion.content_hash, SubmissionVersion.submission_id)
            .where(SubmissionVersion.number == 2)).one()
        file_id = s.scalar(select(SubmissionFile.id))
        receipts = s.scalars(select(OutboxMessage.to).where(OutboxMessage.kind == "receipt"))
        assert sorted(receipts) == ["ana@example.org", "ben@example.org"]
    expect(page.locator("#entry-hash")).to_have_text(entry_hash)
    assert _serious_violations(page) == []
    page.get_by_role("link", name="Version history").click()
    expect(page.get_by_role("heading", name="Version 2 Entry")).to_be_visible()
    assert _serious_violations(page) == []
    page.goto(editor)
    with page.expect_download() as download:
        page.get_by_role("link", name="plan.pdf").click()
    assert download.value.suggested_filename == "plan.pdf"
    _logout(page)

    # Cy, in another team, cannot see GlucoGo's draft, history or file.
    _login(page, live_server, "cy@example.org")
    page.goto(editor)
    expect(page.get_by_text("Team Nightwatch")).to_be_visible()
    expect(page.get_by_text("GlucoGo")).to_have_count(0)
    for path in (f"/submissions/{submission_id}/versions", f"/files/{file_id}"):
        response = page.goto(f"{live_server}{path}")
        assert response is not None and response.status == 404
        expect(page.get_by_role("heading", level=1)).to_have_text("We could not find that page")
        expect(page.get_by_text("A coach for")).to_have_count(0)
