"""Hostile files, re-checked through the web routes (upload form and download).

Already covered elsewhere, and not repeated here:
- tests/services/test_files.py: name sanitizing of every kind (`..\\`, NUL, full-width,
  RTL override, zero-width, 255-character cut), refused extensions (.html, .svg, .exe),
  magic-byte mismatches, UTF-8 text checks, every unsafe zip (symlink, `..`, absolute,
  1000+ entries, ratio bomb, total size), quota and size limits, no partial file.
- tests/web/test_submission_views.py: `../../etc/passwd.pdf`, `/etc/passwd.pdf`, a
  500-character name, full-width and RTL names stored under server names; wrong magic
  bytes; a ratio zip bomb, a symlink and a `..` entry refused; 413 pages; the attachment,
  nosniff and no-store headers of an ordinary PDF.

Here: the remaining names through the real form (backslash traversal, NUL bytes, RTL
override with a misleading extension, header-breaking quotes and line breaks), a PDF that
is really HTML, polyglots that pass the magic check (served so a browser never renders
them as a page), a nested and a deflate zip bomb in an Office file, and the download
headers of every kind.
"""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from sqlalchemy import select

from challenge.challenges.models import SubmissionFile
from tests.html_safety import unsafe_markup
from tests.services.test_files import SAMPLES, zip_bytes
from tests.services.test_submissions import (  # noqa: F401 - the autouse clock fixture
    PDF,
    _frozen,
    make_challenge,
    make_person,
    make_team,
)
from tests.web.test_submission_views import (
    EDITOR,
    as_user,
    count,
    save,
    stored_files,
    upload,
)

HTML_PAGE = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"


def _uploaded(client, session, content, name):
    response = upload(client, content, name)
    assert response.status_code == 302, (name, response.status_code,
                                         response.get_data(as_text=True)[:500])
    return session.scalars(select(SubmissionFile).order_by(SubmissionFile.id.desc())).first()


def _disposition_filename(header: str) -> str:
    """The file name a browser takes from Content-Disposition (filename* wins)."""
    from urllib.parse import unquote

    star = re.search(r"filename\*=UTF-8''([^;]+)", header)
    if star:
        return unquote(star.group(1))
    plain = re.search(r'filename="((?:[^"\\]|\\.)*)"', header) or re.search(
        r"filename=([^;]+)", header)
    assert plain, header
    return re.sub(r"\\(.)", r"\1", plain.group(1))


@pytest.fixture
def team_client(client, session):
    """Ana, captain of team GlucoGo, logged in, with a saved draft to attach files to."""
    make_team(session, make_challenge(session), "GlucoGo", make_person(session,
                                                                       "ana@example.org"))
    session.commit()
    as_user(client, "ana@example.org")
    assert save(client).status_code == 302
    return client


@pytest.mark.parametrize(("name", "shown"), [
    ("..\\..\\x.pdf", "x.pdf"),
    ("..%2F..%2Fetc%2Fpasswd.pdf", "%2F..%2Fetc%2Fpasswd.pdf"),  # one plain name, no dot
    ("rep\x00ort.pdf", "report.pdf"),
    ("evil.html\x00.pdf", "evil.html.pdf"),
    ("invoice\u202efdp.exe.pdf", "invoicefdp.exe.pdf"),
    ("x" * 10_000 + ".pdf", "x" * 251 + ".pdf"),
])
def test_hostile_names_through_the_form(team_client, session, app, name, shown):
    row = _uploaded(team_client, session, PDF, name)
    assert row.original_name == shown
    assert re.fullmatch(r"[0-9a-f]{32}\.pdf", row.storage_name)
    assert [p.name for p in stored_files(app)] == [row.storage_name]
    download = team_client.get(f"/files/{row.id}")
    assert download.status_code == 200 and download.data == PDF
    header = download.headers["Content-Disposition"]
    assert header.startswith("attachment;")
    assert "\r" not in header and "\n" not in header and "\x00" not in header
    assert _disposition_filename(header) == shown  # one name, quotes and all: no second one
    assert download.headers["Content-Type"] == "application/pdf"
    page = team_client.get(EDITOR).get_data(as_text=True)
    assert unsafe_markup(page) == []


@pytest.mark.parametrize(("name", "shown"), [
    ("a\r\nSet-Cookie: x=1\r\n\r\n<script>.pdf", "aSet-Cookie: x=1<script>.pdf"),
    ('a"; filename="evil.html.pdf', 'a"; filename="evil.html.pdf'),
    ("résumé \"final\";.pdf", "résumé \"final\";.pdf"),
])
def test_names_that_could_break_the_download_header(team_client, session, name, shown):
    """Names a browser would percent-encode in the upload (the test client cannot send
    them raw), stored through the same service the form uses, then downloaded."""
    from challenge.accounts.services import find_user
    from challenge.challenges import submissions
    from challenge.challenges.models import Team

    team = session.scalar(select(Team).where(Team.name == "GlucoGo"))
    ana = find_user(session, "ana@example.org")
    row, _ = submissions.add_file(session, team, io.BytesIO(PDF), name, actor=ana)
    session.commit()
    assert row.original_name == shown
    download = team_client.get(f"/files/{row.id}")
    header = download.headers["Content-Disposition"]
    assert header.startswith("attachment;") and "\r" not in header and "\n" not in header
    assert _disposition_filename(header) == shown  # the whole name, and no second name
    assert download.headers["Content-Type"] == "application/pdf"
    page = team_client.get(EDITOR).get_data(as_text=True)
    assert unsafe_markup(page) == []


def test_a_pdf_that_is_really_html_is_refused(team_client, session, app):
    for name in ("report.pdf", "report.html.pdf", "report.pdf\x00.html"):
        response = upload(team_client, HTML_PAGE, name)
        assert response.status_code == 422, name
        assert unsafe_markup(response.get_data(as_text=True)) == []
    assert stored_files(app) == [] and count(session, SubmissionFile) == 0


@pytest.mark.parametrize(("name", "content", "mimetype"), [
    # a PDF/HTML polyglot: valid PDF magic, an HTML page inside
    ("deck.pdf", b"%PDF-1.4\n" + HTML_PAGE + b"\n%%EOF\n", "application/pdf"),
    # a PNG with a zip (a "GIFAR"-style polyglot) appended
    ("shot.png", SAMPLES["png"] + SAMPLES["zip"], "image/png"),
    # a JPEG carrying a script in its comment segment
    ("photo.jpg", b"\xff\xd8\xff\xfe\x00\x20<script>alert(1)</script>" + bytes(16),
     "image/jpeg"),
    # plain text and Markdown holding HTML: accepted as text, never served as HTML
    ("notes.txt", HTML_PAGE, "text/plain"),
    ("notes.md", b"# Notes\n\n" + HTML_PAGE, "text/markdown"),
])
def test_polyglots_are_only_ever_served_as_their_kind_and_as_attachments(
        team_client, session, name, content, mimetype):
    row = _uploaded(team_client, session, content, name)
    download = team_client.get(f"/files/{row.id}")
    assert download.status_code == 200 and download.data == content
    assert download.mimetype == mimetype  # from the allowlisted kind, never sniffed
    assert "html" not in download.headers["Content-Type"]
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in download.headers["Cache-Control"]
    csp = download.headers.get("Content-Security-Policy", "")
    assert "script-src 'unsafe-inline'" not in csp


def _nested_bomb() -> bytes:
    inner = zip_bytes({"zeros.bin": bytes(8 * 1024 * 1024)})
    return zip_bytes({f"layer{i}.zip": inner for i in range(10)},
                     compression=zipfile.ZIP_STORED)


def test_zip_bombs_through_the_form(team_client, session, app):
    # a deflate bomb dressed as a Word document gets the zip checks too
    docx_bomb = zip_bytes({"[Content_Types].xml": b"<Types/>",
                           "word/document.xml": b"<w>" + b" " * (6 * 1024 * 1024) + b"</w>"})
    response = upload(team_client, docx_bomb, "report.docx")
    assert response.status_code == 422 and "zip bomb" in response.get_data(as_text=True)
    assert stored_files(app) == [] and count(session, SubmissionFile) == 0
    # a nested bomb is small at its top level: the server stores it but never opens it,
    # and serves it only as an attachment
    row = _uploaded(team_client, session, _nested_bomb(), "layers.zip")
    download = team_client.get(f"/files/{row.id}")
    assert download.mimetype == "application/zip"
    assert download.headers["Content-Disposition"].startswith("attachment;")


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_every_kind_downloads_as_a_nosniff_attachment(team_client, session, kind):
    from challenge.challenges.files import KINDS

    row = _uploaded(team_client, session, SAMPLES[kind], f"sample.{kind}")
    download = team_client.get(f"/files/{row.id}")
    assert download.status_code == 200
    assert download.headers["Content-Type"].split(";")[0] == KINDS[kind][0].split(";")[0]
    header = download.headers["Content-Disposition"]
    assert header.startswith("attachment;")
    assert _disposition_filename(header) == f"sample.{kind}"
    assert download.headers["X-Content-Type-Options"] == "nosniff"
