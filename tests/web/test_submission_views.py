"""Submission pages through the test client: editor, uploads, submit, history, downloads,
gallery; deadlines by server time; who may see what; hostile input. Real DB and files."""

from __future__ import annotations

import hashlib
import io
import os
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from challenge import clock
from challenge.challenges.models import Submission, SubmissionFile, SubmissionVersion
from challenge.outbox import OutboxMessage
from tests.conftest import PASSWORD, login
from tests.services.test_files import SAMPLES
from tests.services.test_submissions import (  # noqa: F401 - the autouse clock fixture
    BEFORE,
    DEADLINE,
    PDF,
    US,
    _frozen,
    assign,
    make_challenge,
    make_person,
    make_team,
)

SLUG = "ddd-2027"
EDITOR = f"/c/{SLUG}/submission"
XSS_TITLE = "<script>alert('t')</script>Glu"
XSS_SUMMARY = ("Hi <img src=x onerror=alert(1)> **bold** [click](javascript:alert(2)) "
               "<script>alert(3)</script>")


@pytest.fixture
def world(session):
    challenge = make_challenge(session)
    ana, ben, cy = (make_person(session, f"{n}@example.org") for n in ("ana", "ben", "cy"))
    make_person(session, "judge@example.org", "judge")
    make_person(session, "judge2@example.org", "judge")
    make_person(session, "org@example.org", "organizer")
    make_person(session, "pat@example.org", "patient")
    make_person(session, "solo@example.org")
    make_team(session, challenge, "GlucoGo", ana, ben)
    make_team(session, challenge, "Nightwatch", cy)
    session.commit()
    return challenge


def as_user(client, email):
    client.post("/logout")
    login(client, email)
    return client


def save(client, title="GlucoGo", **fields):
    data = {"title": title, "summary": "", "demo_url": "", "repo_url": "", **fields}
    return client.post(EDITOR, data=data)


def upload(client, content=PDF, name="deck.pdf"):
    return client.post(f"{EDITOR}/files", data={"file": (io.BytesIO(content), name)},
                       content_type="multipart/form-data")


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def stored_files(app) -> list[Path]:
    root = Path(app.config["UPLOAD_DIR"])
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


# --- access -------------------------------------------------------------------------------

def test_anonymous_visitors_are_sent_to_log_in(client, world):
    for path in (EDITOR, "/submissions/1/versions", "/files/1"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    for path in (EDITOR, f"{EDITOR}/submit", f"{EDITOR}/files", f"{EDITOR}/files/1/remove"):
        assert "/login" in client.post(path).headers["Location"]


def test_someone_without_a_team_gets_a_clear_page(client, world, app):
    as_user(client, "solo@example.org")
    page = client.get(EDITOR)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "You are not in a team" in html
    if "teams.for_challenge" in app.view_functions:
        assert f'href="/c/{SLUG}/team"' in html
    assert save(client).status_code == 404
    assert client.post(f"{EDITOR}/submit").status_code == 404
    assert client.get("/c/nowhere/submission").status_code == 404


def test_editor_lists_the_published_guidelines_as_checkboxes(client, world):
    html = as_user(client, "ana@example.org").get(EDITOR).get_data(as_text=True)
    assert 'type="checkbox"' in html and 'value="exercise"' in html
    assert "Keep glucose steady during sport (exercise)" in html
    assert "Nothing saved yet" in html and "Submit version" not in html
    assert "Add a file" not in html  # files come after a first save


# --- saving -------------------------------------------------------------------------------

def test_save_makes_versions_and_says_what_changed(client, world, session):
    as_user(client, "ana@example.org")
    first = save(client, summary="About **us**", needs=["exercise", "meals"],
                 demo_url="https://video.example.org/1")
    assert first.status_code == 302 and first.headers["Location"].endswith(EDITOR)
    page = client.get(EDITOR).get_data(as_text=True)
    assert "Saved as version 1" in page and "guidelines addressed" in page
    assert "Not submitted yet" in page and "Submit version 1 as our entry" in page
    assert re.search(r'<input[^>]*checked[^>]*value="exercise"', page)
    assert not re.search(r'<input[^>]*checked[^>]*value="nights"', page)
    assert save(client, summary="About **us**", needs=["exercise", "meals"],
                demo_url="https://video.example.org/1").status_code == 302
    assert "Nothing changed" in client.get(EDITOR).get_data(as_text=True)
    assert count(session, SubmissionVersion) == 1


def test_invalid_input_is_refused_and_everything_typed_is_kept(client, world, session):
    as_user(client, "ana@example.org")
    response = save(client, title="", summary="my long typed summary",
                    demo_url="javascript:alert(1)", repo_url="https://ok.example.org",
                    needs=["exercise"])
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Give your project a title." in html and "my long typed summary" in html
    assert "https://ok.example.org" in html
    bad_link = save(client, demo_url="javascript:alert(1)")
    assert bad_link.status_code == 422 and "http:// or https://" in bad_link.get_data(
        as_text=True)
    unknown = save(client, needs=["exercise", "made-up"])
    assert unknown.status_code == 422 and "made-up" in unknown.get_data(as_text=True)
    assert count(session, SubmissionVersion) == 0


# --- files --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["../../etc/passwd.pdf", "/etc/passwd.pdf",
                                  "b" * 500 + ".pdf", "ｒｅｐｏｒｔ.ｐｄｆ",
                                  "invoice\u202efdp.pdf"])
def test_hostile_names_are_stored_under_server_names(client, world, app, session, tmp_path,
                                                     name):
    as_user(client, "ana@example.org")
    save(client)
    before = {p for p in tmp_path.rglob("*") if p.is_file()}
    response = upload(client, name=name)
    assert response.status_code == 302
    row = session.scalar(select(SubmissionFile))
    created = {p for p in tmp_path.rglob("*") if p.is_file()} - before
    created = {p for p in created if not p.name.endswith((".db", "-wal", "-shm"))}
    assert created == {Path(app.config["UPLOAD_DIR"]) / row.storage_name}
    assert re.fullmatch(r"[0-9a-f]{32}\.pdf", row.storage_name)
    assert "/" not in row.original_name and len(row.original_name) <= 255
    assert "\u202e" not in row.original_name
    download = client.get(f"/files/{row.id}")
    disposition = download.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and "/" not in disposition
    assert "\u202e" not in disposition and "%E2%80%AE" not in disposition


def test_upload_then_download_as_an_attachment_with_its_hash(client, world, app, session):
    as_user(client, "ana@example.org")
    save(client)
    assert upload(client, name="Our deck.pdf").status_code == 302
    page = client.get(EDITOR).get_data(as_text=True)
    digest = hashlib.sha256(PDF).hexdigest()
    assert "Added “Our deck.pdf”" in page and digest in page and "version 2" in page
    row = session.scalar(select(SubmissionFile))
    response = client.get(f"/files/{row.id}")
    assert response.status_code == 200 and response.data == PDF
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == 'attachment; filename="Our deck.pdf"'
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response.headers["Cache-Control"]
    text = upload(client, SAMPLES["md"], "notes.md")
    assert text.status_code == 302
    md = session.scalar(select(SubmissionFile).where(SubmissionFile.kind == "md"))
    assert client.get(f"/files/{md.id}").mimetype == "text/markdown"


def test_wrong_type_or_magic_bytes_are_refused_with_a_message(client, world, app, session):
    as_user(client, "ana@example.org")
    save(client)
    wrong = upload(client, SAMPLES["png"], "deck.pdf")
    assert wrong.status_code == 422 and "does not look like a PDF" in wrong.get_data(
        as_text=True)
    exe = upload(client, b"MZ\x90\x00", "tool.exe")
    assert exe.status_code == 422 and "not a type we accept" in exe.get_data(as_text=True)
    missing = client.post(f"{EDITOR}/files", data={}, content_type="multipart/form-data")
    assert missing.status_code == 422 and "Choose a file" in missing.get_data(as_text=True)
    assert stored_files(app) == [] and count(session, SubmissionFile) == 0


def test_an_oversized_request_gets_the_friendly_413_page(client, world, app, session):
    as_user(client, "ana@example.org")
    save(client)
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    response = upload(client, PDF + bytes(100 * 1024))
    html = response.get_data(as_text=True)
    assert response.status_code == 413
    assert "That upload is too large" in html and "25 MB per file" in html
    assert "Nothing was stored" in html
    assert stored_files(app) == [] and count(session, SubmissionFile) == 0


def test_oversized_request_with_csrf_on_still_gets_the_friendly_page(app_config, world):
    from challenge import create_app
    from tests.conftest import csrf_token_from

    app_config.update(WTF_CSRF_ENABLED=True, MAX_CONTENT_LENGTH=64 * 1024)
    application = create_app(app_config)
    try:
        client = application.test_client()
        token = csrf_token_from(client.get("/login").get_data(as_text=True))
        client.post("/login", data={"email": "ana@example.org", "password": PASSWORD,
                                    "csrf_token": token})
        response = client.post(f"{EDITOR}/files", content_type="multipart/form-data",
                               data={"csrf_token": token,
                                     "file": (io.BytesIO(PDF + bytes(100 * 1024)), "a.pdf")})
        assert response.status_code == 413
        assert "25 MB per file" in response.get_data(as_text=True)
    finally:
        application.extensions["db_engine"].dispose()


def test_a_file_over_the_per_file_limit_gets_413_and_nothing_is_stored(client, world, app,
                                                                     session):
    as_user(client, "ana@example.org")
    save(client)
    app.config["MAX_FILE_MB"] = 1
    response = upload(client, PDF + bytes(1024 * 1024))
    html = response.get_data(as_text=True)
    assert response.status_code == 413 and "larger than 1 MB" in html
    assert stored_files(app) == [] and count(session, SubmissionFile) == 0
    assert count(session, SubmissionVersion) == 1


def test_quota_refusal(client, world, app, session):
    as_user(client, "ana@example.org")
    save(client)
    app.config.update(MAX_FILE_MB=1, TEAM_QUOTA_MB=1)
    part = PDF + bytes(600 * 1024)
    assert upload(client, part, "a.pdf").status_code == 302
    over = upload(client, part, "b.pdf")
    assert over.status_code == 413 and "quota" in over.get_data(as_text=True)
    assert len(stored_files(app)) == 1 and count(session, SubmissionFile) == 1


def test_unsafe_zip_is_refused(client, world, app, session):
    from tests.services.test_files import _symlink_zip, zip_bytes

    as_user(client, "ana@example.org")
    save(client)
    for content, message in ((_symlink_zip(), "symbolic link"),
                             (zip_bytes({"../x.sh": b"x"}), "outside the archive"),
                             (zip_bytes({"z": bytes(3 * 1024 * 1024)}), "zip bomb")):
        response = upload(client, content, "code.zip")
        assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert stored_files(app) == [] and count(session, SubmissionFile) == 0


def test_a_crash_mid_upload_leaves_no_file_and_no_row(client, world, app, session,
                                                      monkeypatch):
    as_user(client, "ana@example.org")
    save(client)
    app.config["PROPAGATE_TEST_ERRORS"] = False

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    response = upload(client)
    assert response.status_code == 500
    assert stored_files(app) == [] and count(session, SubmissionFile) == 0
    assert count(session, SubmissionVersion) == 1


def test_removing_a_file_keeps_it_for_earlier_versions(client, world, session):
    as_user(client, "ana@example.org")
    save(client)
    upload(client)
    row = session.scalar(select(SubmissionFile))
    removed = client.post(f"{EDITOR}/files/{row.id}/remove")
    assert removed.status_code == 302
    page = client.get(EDITOR).get_data(as_text=True)
    assert "taken out of the draft (version 3)" in page and "No files in the draft" in page
    history = client.get(f"/submissions/{row.submission_id}/versions").get_data(as_text=True)
    assert "deck.pdf" in history  # version 2 still lists it
    assert client.get(f"/files/{row.id}").status_code == 200
    assert client.post(f"{EDITOR}/files/{row.id}/remove").status_code == 404


# --- submitting ---------------------------------------------------------------------------

def test_submit_receipt_duplicate_and_unsubmitted_changes(client, world, session):
    as_user(client, "ana@example.org")
    save(client, summary="v1")
    first = client.post(f"{EDITOR}/submit")
    assert first.status_code == 302
    page = client.get(EDITOR).get_data(as_text=True)
    entry_hash = session.scalar(select(SubmissionVersion.content_hash))
    assert f"Receipt: content hash {entry_hash}" in page
    assert "Submitted: version 1 is your entry" in page and entry_hash in page
    assert "2027-02-28T17:00:00Z" in page
    mails = session.scalars(select(OutboxMessage)).all()
    assert sorted(m.to for m in mails) == ["ana@example.org", "ben@example.org"]
    assert all(entry_hash in m.body for m in mails)
    as_user(client, "ben@example.org")
    again = client.post(f"{EDITOR}/submit")
    assert again.status_code == 302
    assert f"already submitted at 2027-02-28T17:00:00Z. Receipt: content hash {entry_hash}" \
        in client.get(EDITOR).get_data(as_text=True)
    assert count(session, OutboxMessage) == 2
    save(client, summary="v2")
    page = client.get(EDITOR).get_data(as_text=True)
    assert ("You have changes that are not submitted; the entry is still version 1."
            in page)
    assert "Submit version 2 as our entry" in page


def test_submit_without_a_draft_is_a_clear_4xx(client, world):
    as_user(client, "ana@example.org")
    response = client.post(f"{EDITOR}/submit")
    assert response.status_code == 400
    assert "Save your draft first" in response.get_data(as_text=True)


# --- deadlines ----------------------------------------------------------------------------

@pytest.mark.parametrize(("offset", "accepted"), [(-US, True), (US * 0, False), (US, False)])
def test_deadline_for_save_submit_and_upload(client, world, session, app, offset, accepted):
    as_user(client, "ana@example.org")
    save(client, summary="first")
    client.post(f"{EDITOR}/submit")
    save(client, summary="second, not submitted")
    clock.freeze(DEADLINE + offset)
    as_user(client, "ana@example.org")
    late_save = save(client, summary="late words I typed")
    late_upload = upload(client)
    late_submit = client.post(f"{EDITOR}/submit")
    if accepted:
        assert [r.status_code for r in (late_save, late_upload, late_submit)] == [302] * 3
        assert count(session, SubmissionVersion) == 4
        assert session.scalar(select(SubmissionVersion.submitted_at).where(
            SubmissionVersion.number == 4)) == DEADLINE - US
        return
    for response in (late_save, late_upload, late_submit):
        html = response.get_data(as_text=True)
        assert response.status_code == 409
        assert "deadline passed" in html and "Your entry is still version 1" in html
    assert "late words I typed" in late_save.get_data(as_text=True)  # nothing lost
    assert count(session, SubmissionVersion) == 2 and count(session, SubmissionFile) == 0
    assert stored_files(app) == [] and count(session, OutboxMessage) == 2
    page = client.get(EDITOR).get_data(as_text=True)
    assert "the submission can no longer change" in page and "Save the draft" not in page
    assert "You have changes that are not submitted; the entry is still version 1." in page
    assert "Submit version" not in page


def test_an_extension_lets_only_that_team_save(client, world, session):
    from challenge.challenges.models import Team

    team = session.scalar(select(Team).where(Team.name == "GlucoGo"))
    team.deadline_extension = DEADLINE + US * 10
    session.commit()
    clock.freeze(DEADLINE + US * 5)
    as_user(client, "ana@example.org")
    assert save(client).status_code == 302
    assert "Your team has an extension" in client.get(EDITOR).get_data(as_text=True)
    as_user(client, "cy@example.org")
    assert save(client, "Nightwatch").status_code == 409


# --- other teams, judges, organizers --------------------------------------------------------

def _entry_and_draft_files(client, session):
    """Team GlucoGo: version 2 (with entry.pdf) submitted, version 3 adds draft.pdf."""
    as_user(client, "ana@example.org")
    save(client, title="Secret GlucoGo")
    upload(client, name="entry.pdf")
    client.post(f"{EDITOR}/submit")
    upload(client, SAMPLES["png"], "draft.png")
    rows = {f.original_name: f for f in session.scalars(select(SubmissionFile))}
    return rows["entry.pdf"], rows["draft.png"]


def test_another_team_gets_404_on_versions_files_and_removal(client, world, session):
    entry, draft_file = _entry_and_draft_files(client, session)
    as_user(client, "cy@example.org")
    assert "Secret GlucoGo" not in client.get(EDITOR).get_data(as_text=True)
    assert client.get(f"/submissions/{entry.submission_id}/versions").status_code == 404
    for f in (entry, draft_file):
        assert client.get(f"/files/{f.id}").status_code == 404
        assert client.post(f"{EDITOR}/files/{f.id}/remove").status_code == 404
    assert client.get("/files/99999").status_code == 404
    assert client.get("/submissions/99999/versions").status_code == 404
    as_user(client, "pat@example.org")
    assert client.get(f"/files/{entry.id}").status_code == 404
    assert client.get(f"/submissions/{entry.submission_id}/versions").status_code == 404


def test_judges_see_entries_only_and_organizers_everything_read_only(client, world, session):
    from challenge.accounts.models import User

    entry, draft_file = _entry_and_draft_files(client, session)
    save(client, title="Draft title nobody judges")
    as_user(client, "judge@example.org")
    assert client.get(f"/files/{entry.id}").status_code == 404  # not assigned yet
    judge = session.scalar(select(User).where(User.email == "judge@example.org"))
    assign(session, judge, session.get(Submission, entry.submission_id))
    session.commit()
    history = client.get(f"/submissions/{entry.submission_id}/versions")
    html = history.get_data(as_text=True)
    assert history.status_code == 200 and "Secret GlucoGo" in html
    assert "Draft title nobody judges" not in html and "draft.png" not in html
    assert "only submitted versions" in html
    assert client.get(f"/files/{entry.id}").status_code == 200
    assert client.get(f"/files/{draft_file.id}").status_code == 404
    as_user(client, "judge2@example.org")  # a judge not assigned to it
    assert client.get(f"/submissions/{entry.submission_id}/versions").status_code == 404
    assert client.get(f"/files/{entry.id}").status_code == 404
    as_user(client, "org@example.org")
    html = client.get(f"/submissions/{entry.submission_id}/versions").get_data(as_text=True)
    assert "Draft title nobody judges" in html and "draft.png" in html
    assert "read-only" in html and "Save the draft" not in html
    assert client.get(f"/files/{draft_file.id}").status_code == 200
    assert "You are not in a team" in client.get(EDITOR).get_data(as_text=True)
    assert save(client, "Organizer edit").status_code == 404


def test_version_history_shows_who_when_what_and_hashes(client, world, session):
    as_user(client, "ana@example.org")
    save(client, summary="one")
    client.post(f"{EDITOR}/submit")
    as_user(client, "ben@example.org")
    save(client, summary="two", repo_url="https://git.example.org/x")
    versions = session.scalars(select(SubmissionVersion).order_by(SubmissionVersion.number))
    v1, v2 = list(versions)
    html = client.get(f"/submissions/{v1.submission_id}/versions").get_data(as_text=True)
    assert html.index("Version 2") < html.index("Version 1")
    assert "Saved by ana" in html and "Saved by ben" in html
    assert "changed: summary, repository link" in html
    assert v1.content_hash in html and "Entry" in html and "Draft" in html
    from challenge.challenges import submissions

    assert submissions.version_hash(session, v2) in html


# --- XSS ----------------------------------------------------------------------------------

def _assert_safe(html: str) -> None:
    assert "<script>alert" not in html
    assert "<img src=x onerror" not in html
    assert 'href="javascript' not in html


def test_titles_and_summaries_are_escaped_or_sanitized_everywhere(client, world, session):
    session.get(type(world), world.id).gallery_open = True
    session.commit()
    as_user(client, "ana@example.org")
    save(client, XSS_TITLE, summary=XSS_SUMMARY)
    client.post(f"{EDITOR}/gallery", data={"gallery_opt_in": "y"})
    client.post(f"{EDITOR}/submit")
    upload(client, name="<script>alert(9)</script>.pdf")
    editor = client.get(EDITOR).get_data(as_text=True)
    _assert_safe(editor)
    assert "&lt;script&gt;alert(&#39;t&#39;)&lt;/script&gt;Glu" in editor
    sid = session.scalar(select(Submission.id))
    history = client.get(f"/submissions/{sid}/versions").get_data(as_text=True)
    _assert_safe(history)
    assert "<strong>bold</strong>" in history
    gallery = client.get(f"/c/{SLUG}/gallery").get_data(as_text=True)
    _assert_safe(gallery)
    assert "<strong>bold</strong>" in gallery and "&lt;script&gt;" in gallery


# --- gallery ------------------------------------------------------------------------------

def test_gallery_closed_is_404_except_for_organizers(client, world):
    assert client.get(f"/c/{SLUG}/gallery").status_code == 404
    as_user(client, "ana@example.org")
    assert client.get(f"/c/{SLUG}/gallery").status_code == 404
    as_user(client, "org@example.org")
    preview = client.get(f"/c/{SLUG}/gallery")
    assert preview.status_code == 200 and "Preview for organizers" in preview.get_data(
        as_text=True)
    assert client.get("/c/nowhere/gallery").status_code == 404


def test_gallery_opens_at_results_with_opted_in_entries_only(client, world, session):
    as_user(client, "ana@example.org")
    save(client, "Shown entry", summary="We *help*", needs=["exercise"],
         demo_url="https://video.example.org/1")
    client.post(f"{EDITOR}/submit")
    save(client, "Unsubmitted draft title")
    opted = client.post(f"{EDITOR}/gallery", data={"gallery_opt_in": "y"})
    assert opted.status_code == 302
    as_user(client, "cy@example.org")
    save(client, "Not opted in")
    client.post(f"{EDITOR}/submit")
    clock.freeze(world.results_at - US)
    assert client.get(f"/c/{SLUG}/gallery").status_code == 404
    clock.freeze(world.results_at)
    client.post("/logout")
    response = client.get(f"/c/{SLUG}/gallery")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Shown entry" in html and "<em>help</em>" in html
    assert "Keep glucose steady during sport" in html
    assert 'href="https://video.example.org/1"' in html
    assert "Unsubmitted draft title" not in html and "Not opted in" not in html
    assert "/files/" not in html


def test_gallery_empty_state(client, world, session):
    world_challenge = session.get(type(world), world.id)
    world_challenge.gallery_open = True
    session.commit()
    html = client.get(f"/c/{SLUG}/gallery").get_data(as_text=True)
    assert "No projects to show yet" in html


def test_gallery_choice_can_be_withdrawn_after_the_deadline(client, world, session):
    as_user(client, "ana@example.org")
    save(client)
    client.post(f"{EDITOR}/gallery", data={"gallery_opt_in": "y"})
    clock.freeze(DEADLINE + US)
    as_user(client, "ben@example.org")
    assert client.post(f"{EDITOR}/gallery", data={}).status_code == 302
    assert session.scalar(select(Submission.gallery_opt_in)) is False
