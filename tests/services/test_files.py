"""Upload checks and storage: names, types by extension and magic bytes, sizes, quota, zip
safety, and no partial file or half row whatever goes wrong. Real files under tmp_path."""

from __future__ import annotations

import hashlib
import io
import os
import re
import stat
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from challenge.challenges import files, submissions
from challenge.challenges.models import SubmissionFile, SubmissionVersion
from challenge.errors import ValidationFailed
from tests.services.test_submissions import (  # noqa: F401 - the autouse clock fixture
    PDF,
    _frozen,
    draft,
    make_challenge,
    make_person,
    make_team,
)

STORED_NAME = re.compile(r"^[0-9a-f]{32}\.(pdf|png|jpg|mp4|zip|pptx|docx|md|txt)$")


def zip_bytes(entries: dict[str, bytes], *, compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


SAMPLES = {
    "pdf": PDF,
    "png": b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(20),
    "jpg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(30),
    "mp4": b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(30),
    "zip": zip_bytes({"readme.txt": b"hello", "src/app.py": b"print('hi')\n"}),
    "docx": zip_bytes({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w/>"}),
    "pptx": zip_bytes({"[Content_Types].xml": b"<Types/>", "ppt/presentation.xml": b"<p/>"}),
    "md": "# Plan\n\nGlucose *steady* — déjà vu ✓\n".encode(),
    "txt": b"plain notes\n",
}


@pytest.fixture
def team_world(session):
    challenge = make_challenge(session)
    ana = make_person(session, "ana@example.org")
    team = make_team(session, challenge, "GlucoGo", ana)
    submissions.save_draft(session, team, draft(), actor=ana)
    session.commit()
    return team, ana, submissions.submission_of(session, team)


@pytest.fixture
def upload_dir(app) -> Path:
    return Path(app.config["UPLOAD_DIR"])


def store(session, submission, content: bytes, name: str):
    return files.store(session, submission, io.BytesIO(content), name, uploaded_by=None)


def rows(session) -> int:
    return session.scalar(select(func.count(SubmissionFile.id)))


def everything_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


# --- names --------------------------------------------------------------------------------

@pytest.mark.parametrize(("given", "shown"), [
    ("../../etc/passwd.pdf", "passwd.pdf"),
    ("/etc/passwd.pdf", "passwd.pdf"),
    ("C:\\Users\\lee\\report.pdf", "report.pdf"),
    ("..\\..\\boot.ini.txt", "boot.ini.txt"),
    ("rep\x00ort.pdf", "report.pdf"),
    ("evil.exe\x00.pdf", "evil.exe.pdf"),
    ("ｒｅｐｏｒｔ.ｐｄｆ", "report.pdf"),
    ("‥／‥／etc／passwd.pdf", "passwd.pdf"),
    ("invoice\u202efdp.pdf", "invoicefdp.pdf"),
    ("zero\u200bwidth\u2028line.pdf", "zerowidthline.pdf"),
    ("tab\tand\nnewline.txt", "tabandnewline.txt"),
    (".pdf", "file.pdf"),
    ("\u202e.pdf", "file.pdf"),
    ("Photo.JPEG", "Photo.JPEG"),
    ("../.hidden.md", "hidden.md"),
])
def test_display_names_are_sanitized(given, shown):
    kind = files.kind_of(given)
    assert files.display_name(given, kind) == shown


def test_long_names_are_cut_to_255_characters_keeping_the_extension():
    name = files.display_name("a" * 500 + ".pdf", "pdf")
    assert len(name) == 255 and name.endswith("a.pdf")
    wide = files.display_name("é" * 600 + ".docx", "docx")
    assert len(wide) == 255 and wide.endswith(".docx")


@pytest.mark.parametrize("given", [
    "../../etc/passwd", "/etc/passwd", "payload.exe", "page.html", "image.svg",
    "doc\u202efdp.exe", "archive.tar.gz", "", None, "....", "noextension",
])
def test_names_without_an_allowlisted_extension_are_refused(given):
    with pytest.raises(ValidationFailed, match="not a type we accept"):
        files.kind_of(given)


# --- accepted files -----------------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_each_allowed_type_is_stored_under_a_server_name_with_its_hash(session, team_world,
                                                                      upload_dir, kind):
    _team, _ana, submission = team_world
    content = SAMPLES[kind]
    row = store(session, submission, content, f"My project.{kind}")
    session.commit()
    assert STORED_NAME.match(row.storage_name) and row.storage_name.endswith(f".{kind}")
    assert (row.kind, row.size, row.original_name) == (kind, len(content), f"My project.{kind}")
    assert row.sha256 == hashlib.sha256(content).hexdigest()
    assert (upload_dir / row.storage_name).read_bytes() == content
    assert everything_under(upload_dir) == [(upload_dir / row.storage_name)]
    assert files.mimetype_of(kind)


def test_jpeg_extension_is_stored_as_jpg(session, team_world, upload_dir):
    row = store(session, team_world[2], SAMPLES["jpg"], "holiday.jpeg")
    assert row.kind == "jpg" and row.storage_name.endswith(".jpg")
    assert row.original_name == "holiday.jpeg"


@pytest.mark.parametrize("name", ["../../etc/passwd.pdf", "/etc/passwd.pdf", "x\x00.pdf",
                                  "b" * 500 + ".pdf", "ｒｅｐｏｒｔ.ｐｄｆ",
                                  "invoice\u202efdp.pdf"])
def test_hostile_names_are_stored_inside_upload_dir_only(session, team_world, upload_dir,
                                                         tmp_path, name):
    before = set(everything_under(tmp_path))
    row = store(session, team_world[2], PDF, name)
    session.commit()
    created = set(everything_under(tmp_path)) - before
    assert created == {upload_dir / row.storage_name}
    assert STORED_NAME.match(row.storage_name)
    assert "/" not in row.original_name and "\x00" not in row.original_name
    assert len(row.original_name) <= 255 and row.original_name.endswith(".pdf")
    assert not Path("/etc/passwd.pdf").exists()


# --- refused content: nothing stored, no temporary file left ------------------------------

def _refused(session, submission, upload_dir, content, name, match, error=ValidationFailed):
    with pytest.raises(error, match=match):
        store(session, submission, content, name)
    session.rollback()
    assert everything_under(upload_dir) == [] and rows(session) == 0


@pytest.mark.parametrize(("name", "content"), [
    ("deck.pdf", SAMPLES["png"]),
    ("deck.pdf", b"PDF-1.4 missing percent"),
    ("shot.png", SAMPLES["jpg"]),
    ("shot.jpg", SAMPLES["png"]),
    ("demo.mp4", b"\x00\x00\x00\x18moovmp42" + bytes(20)),
    ("code.zip", SAMPLES["pdf"]),
    ("slides.pptx", b"<html>not a zip</html>"),
    ("report.docx", b"MZ\x90\x00 windows executable"),
])
def test_content_that_does_not_match_its_extension_is_refused(session, team_world, upload_dir,
                                                              name, content):
    _refused(session, team_world[2], upload_dir, content, name, "does not look like")


def test_office_files_must_hold_their_own_parts(session, team_world, upload_dir):
    _refused(session, team_world[2], upload_dir, SAMPLES["pptx"], "report.docx",
             "not a Word document")
    _refused(session, team_world[2], upload_dir, SAMPLES["docx"], "slides.pptx",
             "not a PowerPoint")
    _refused(session, team_world[2], upload_dir, b"PK\x03\x04" + bytes(40), "broken.zip",
             "damaged")


@pytest.mark.parametrize(("content", "name"), [
    (b"caf\xe9 latin-1\n", "notes.txt"),
    (b"has a \x00 NUL byte", "notes.md"),
    ("é".encode()[:1], "cut.txt"),  # a truncated multi-byte sequence at the very end
])
def test_text_files_must_be_utf8_without_nul(session, team_world, upload_dir, content, name):
    _refused(session, team_world[2], upload_dir, content, name, "not a plain UTF-8")


def test_multibyte_characters_split_across_chunks_are_fine(session, team_world):
    content = b"a" * (files.CHUNK - 1) + "é".encode() + b"\n"
    assert store(session, team_world[2], content, "long.txt").size == len(content)


def test_empty_files_are_refused(session, team_world, upload_dir):
    _refused(session, team_world[2], upload_dir, b"", "empty.txt", "is empty")


# --- sizes and quota ----------------------------------------------------------------------

def test_the_size_limit_is_per_file_and_inclusive(app, session, team_world, upload_dir):
    app.config["MAX_FILE_MB"] = 1
    exact = PDF + b"0" * (files.MB - len(PDF))
    assert store(session, team_world[2], exact, "exact.pdf").size == files.MB
    session.commit()
    with pytest.raises(files.FileTooLarge) as caught:
        store(session, team_world[2], exact + b"1", "big.pdf")
    session.rollback()
    assert caught.value.status_code == 413 and "1 MB" in caught.value.message
    assert len(everything_under(upload_dir)) == 1 and rows(session) == 1


def test_the_team_quota_is_counted_in_sql_including_removed_files(app, session, team_world,
                                                                  upload_dir):
    team, ana, submission = team_world
    app.config.update(MAX_FILE_MB=1, TEAM_QUOTA_MB=1)
    part = PDF + b"0" * (400 * 1024)
    first, _ = submissions.add_file(session, team, io.BytesIO(part), "a.pdf", actor=ana)
    submissions.add_file(session, team, io.BytesIO(part), "b.pdf", actor=ana)
    submissions.remove_file(session, team, first.id, actor=ana)  # still stored: still counts
    session.commit()
    assert files.team_usage(session, submission.id) == 2 * len(part)
    with pytest.raises(files.QuotaExceeded, match="quota"):
        submissions.add_file(session, team, io.BytesIO(part), "c.pdf", actor=ana)
    session.rollback()
    assert rows(session) == 2 and len(everything_under(upload_dir)) == 2
    assert session.scalar(select(func.max(SubmissionVersion.number))) == 4


# --- zip safety ---------------------------------------------------------------------------

def _symlink_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("link")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, "/etc/passwd")
        archive.writestr("ok.txt", b"fine")
    return buffer.getvalue()


@pytest.mark.parametrize(("content", "match"), [
    (zip_bytes({f"f{i}.txt": b"x" for i in range(1001)}), "more than 1000 entries"),
    (_symlink_zip(), "symbolic link"),
    (zip_bytes({"/etc/cron.d/evil": b"x"}), "outside the archive"),
    (zip_bytes({"../../evil.sh": b"x"}), "outside the archive"),
    (zip_bytes({"a/../../evil.sh": b"x"}), "outside the archive"),
    (zip_bytes({"..\\evil.bat": b"x"}), "outside the archive"),
    (zip_bytes({"C:/Windows/evil.dll": b"x"}), "outside the archive"),
    (zip_bytes({"zeros.bin": bytes(5 * 1024 * 1024)}), "zip bomb"),
])
def test_unsafe_zips_are_refused(session, team_world, upload_dir, content, match):
    _refused(session, team_world[2], upload_dir, content, "code.zip", match)


def test_docx_and_pptx_get_the_same_zip_checks(session, team_world, upload_dir):
    bomb = zip_bytes({"word/document.xml": bytes(5 * 1024 * 1024)})
    _refused(session, team_world[2], upload_dir, bomb, "report.docx", "zip bomb")


def test_zip_total_uncompressed_size_is_capped(monkeypatch, session, team_world, upload_dir):
    stored_data = os.urandom(4000)  # incompressible: the ratio is about 1
    content = zip_bytes({"random.bin": stored_data}, compression=zipfile.ZIP_STORED)
    monkeypatch.setattr(files, "ZIP_MAX_UNCOMPRESSED", 3000)
    _refused(session, team_world[2], upload_dir, content, "data.zip", "zip bomb")
    monkeypatch.setattr(files, "ZIP_MAX_UNCOMPRESSED", 500 * files.MB)
    assert store(session, team_world[2], content, "data.zip").kind == "zip"


# --- crashes: no partial file and no half row ----------------------------------------------

class BrokenStream(io.RawIOBase):
    """A client that disconnects after sending some bytes."""

    def __init__(self, good: bytes) -> None:
        self.good = good
        self.sent = False

    def read(self, size: int = -1) -> bytes:
        if not self.sent:
            self.sent = True
            return self.good
        raise OSError("connection reset by peer")


def test_a_read_error_mid_upload_leaves_nothing(session, team_world, upload_dir):
    with pytest.raises(OSError, match="connection reset"):
        files.store(session, team_world[2], BrokenStream(PDF * 100), "deck.pdf",
                    uploaded_by=None)
    session.rollback()
    assert everything_under(upload_dir) == [] and rows(session) == 0


def test_a_failing_move_leaves_no_file_and_no_row(monkeypatch, session, team_world,
                                                  upload_dir):
    team, ana, _ = team_world

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        submissions.add_file(session, team, io.BytesIO(PDF), "deck.pdf", actor=ana)
    session.rollback()
    assert everything_under(upload_dir) == [] and rows(session) == 0
    assert session.scalar(select(func.count(SubmissionVersion.id))) == 1


def test_a_stored_file_is_deleted_when_its_transaction_rolls_back(session, team_world,
                                                                  upload_dir):
    row = store(session, team_world[2], PDF, "deck.pdf")
    path = upload_dir / row.storage_name
    assert path.exists()
    session.rollback()
    assert not path.exists() and everything_under(upload_dir) == [] and rows(session) == 0
    kept = store(session, team_world[2], PDF, "deck.pdf")
    session.commit()
    assert (upload_dir / kept.storage_name).exists()
    session.rollback()  # a later rollback does not touch committed files
    assert (upload_dir / kept.storage_name).exists()


def test_a_stored_file_is_deleted_when_the_session_closes_without_commit(app, session,
                                                                         team_world,
                                                                         upload_dir):
    from challenge.challenges.models import Submission

    session.commit()  # the test's own session lets go of SQLite's write lock
    with app.app_context():
        other = app.extensions["db_sessionmaker"]()
        submission = other.get(Submission, team_world[2].id)
        row = store(other, submission, PDF, "deck.pdf")
        path = upload_dir / row.storage_name
        assert path.exists()
        other.close()
    assert not path.exists()


def test_path_of_refuses_names_that_are_not_server_names(session, team_world):
    from challenge.errors import NotFound

    row = store(session, team_world[2], PDF, "deck.pdf")
    row.storage_name = "../../etc/passwd"
    with pytest.raises(NotFound):
        files.path_of(row)


def test_stale_temporary_files_from_a_killed_worker_are_swept(session, team_world,
                                                              upload_dir):
    upload_dir.mkdir(parents=True, exist_ok=True)
    stale = upload_dir / ".upload-killed.part"
    fresh = upload_dir / ".upload-busy.part"
    for path in (stale, fresh):
        path.write_bytes(b"%PDF-partial")
    old = os.stat(stale).st_mtime - files.STALE_TEMP_SECONDS - 10
    os.utime(stale, (old, old))
    row = store(session, team_world[2], PDF, "deck.pdf")
    assert not stale.exists() and fresh.exists()  # another upload may still be writing
    assert (upload_dir / row.storage_name).exists()
