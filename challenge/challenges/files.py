"""Submission files: what may be uploaded, how it is checked, and where it is kept.

An upload is streamed to a temporary file inside `UPLOAD_DIR` while it is hashed (SHA-256)
and counted, checked (allowlisted extension *and* magic bytes, size limit, zip safety,
team quota counted in SQL), and only then moved with `os.replace()` to a name the server
chose (`secrets.token_hex(16)` + extension). The person's file name is kept as display
metadata only, after sanitizing. Whatever goes wrong on the way, the temporary file is
deleted; and a stored file whose row is never committed (the transaction rolls back or
the session closes without committing) is deleted too, so a crash mid-upload leaves no
partial file and no half row.

Services take a Session and only flush; the view commits.
"""

from __future__ import annotations

import codecs
import hashlib
import logging
import os
import re
import secrets
import stat
import tempfile
import time
import unicodedata
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from challenge import clock
from challenge.challenges.models import Submission, SubmissionFile
from challenge.errors import DomainError, NotFound, ValidationFailed

log = logging.getLogger(__name__)

MB = 1024 * 1024
CHUNK = 64 * 1024
NAME_MAX = 255  # SubmissionFile.original_name

# kind -> (download mimetype, label). The kind is also the stored extension.
KINDS: dict[str, tuple[str, str]] = {
    "pdf": ("application/pdf", "PDF"),
    "png": ("image/png", "PNG"),
    "jpg": ("image/jpeg", "JPG"),
    "mp4": ("video/mp4", "MP4"),
    "zip": ("application/zip", "ZIP"),
    "pptx": ("application/vnd.openxmlformats-officedocument.presentationml.presentation",
             "PPTX"),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",
             "DOCX"),
    "md": ("text/markdown; charset=utf-8", "MD"),
    "txt": ("text/plain; charset=utf-8", "TXT"),
}
# File name extension (lower-case) -> kind.
EXTENSIONS = {**{kind: kind for kind in KINDS}, "jpeg": "jpg"}
TEXT_KINDS = ("md", "txt")
ZIP_KINDS = ("zip", "docx", "pptx")
ALLOWED_LABEL = ", ".join(label for _mime, label in KINDS.values())
ACCEPT_ATTRIBUTE = ",".join(f".{ext}" for ext in EXTENSIONS)

# Zip safety limits.
ZIP_MAX_ENTRIES = 1000
ZIP_MAX_RATIO = 20
ZIP_MAX_UNCOMPRESSED = 500 * MB

_STORAGE_NAME = re.compile(r"^[0-9a-f]{32}\.[a-z0-9]{2,4}$")
# Unicode categories removed from names: controls (NUL included), format characters (the
# bidirectional overrides, zero-width joiners), surrogates, private use, unassigned, and
# line/paragraph separators.
_STRIPPED_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


class FileTooLarge(DomainError):
    """The file is over the per-file limit (shown on the friendly 413 page)."""

    status_code = 413


class QuotaExceeded(DomainError):
    """The team's stored files would go over its quota."""

    status_code = 413


# ---------------------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------------------


def upload_dir() -> Path:
    """The configured UPLOAD_DIR (created if missing), resolved."""
    path = Path(current_app.config["UPLOAD_DIR"]).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def max_file_bytes() -> int:
    """The per-file size limit in bytes (MAX_FILE_MB)."""
    return int(current_app.config["MAX_FILE_MB"]) * MB


def team_quota_bytes() -> int:
    """The per-team quota in bytes (TEAM_QUOTA_MB)."""
    return int(current_app.config["TEAM_QUOTA_MB"]) * MB


def limits_text() -> str:
    """The limits in words, for pages and messages."""
    return (f"Up to {current_app.config['MAX_FILE_MB']} MB per file and "
            f"{current_app.config['TEAM_QUOTA_MB']} MB per team.")


# ---------------------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------------------


def _clean(name: str | None) -> str:
    """NFKC-normalized last path part without control or format characters, trimmed."""
    text = unicodedata.normalize("NFKC", name or "")
    text = re.split(r"[/\\]", text)[-1]  # after NFKC, so full-width solidi count too
    text = "".join(ch for ch in text if unicodedata.category(ch) not in _STRIPPED_CATEGORIES)
    return text.strip().rstrip(". ")


def kind_of(name: str | None) -> str:
    """The allowlisted kind of a file name (by its cleaned extension), or ValidationFailed."""
    cleaned = _clean(name)
    stem, dot, ext = cleaned.rpartition(".")
    kind = EXTENSIONS.get(ext.lower()) if dot else None
    if kind is None:
        shown = cleaned[:80] or "That file"
        raise ValidationFailed(f"“{shown}” is not a type we accept. Upload one of: "
                               f"{ALLOWED_LABEL}.")
    return kind


def display_name(name: str | None, kind: str) -> str:
    """A safe name to show and to offer as the download name.

    Path parts, control and format characters (NUL, right-to-left override) are removed,
    Unicode is NFKC-normalized (so 'ｒｅｐｏｒｔ.ｐｄｆ' becomes 'report.pdf'), the result is at
    most 255 characters with its extension kept, and "file.<kind>" stands in for nothing.
    """
    cleaned = _clean(name)
    stem, dot, ext = cleaned.rpartition(".")
    if not dot or EXTENSIONS.get(ext.lower()) != kind:
        stem, ext = cleaned, kind
    stem = stem.strip(". ")  # no hidden-file dot, no trailing dots before the extension
    if not stem:
        return f"file.{kind}"
    return f"{stem[:NAME_MAX - len(ext) - 1].rstrip()}.{ext}"


def mimetype_of(kind: str) -> str:
    """The download mimetype of an allowlisted kind."""
    return KINDS[kind][0]


def label_of(kind: str) -> str:
    """The human label of a kind (PDF, JPG, ...)."""
    return KINDS.get(kind, (None, kind.upper()))[1]


# ---------------------------------------------------------------------------------------
# Content checks
# ---------------------------------------------------------------------------------------


def _magic_matches(kind: str, head: bytes) -> bool:
    if kind == "pdf":
        return head.startswith(b"%PDF-")
    if kind == "png":
        return head.startswith(b"\x89PNG\r\n\x1a\n")
    if kind == "jpg":
        return head.startswith(b"\xff\xd8\xff")
    if kind == "mp4":
        return head[4:8] == b"ftyp"
    if kind in ZIP_KINDS:
        return head.startswith(b"PK\x03\x04")
    return True  # md, txt: checked as UTF-8 while streaming


def _zip_entry_problem(info: zipfile.ZipInfo) -> str | None:
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return "it contains a symbolic link"
    name = info.filename
    parts = re.split(r"[/\\]", name)
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or ".." in parts:
        return "it contains a path that points outside the archive"
    return None


def check_zip(path: Path, kind: str, size: int) -> None:
    """Refuse archives that are not what they say, or that are unsafe to open.

    Too many entries, a symbolic link, an absolute or `..` path, or a declared total
    uncompressed size over 20 times the archive's size or over 500 MB. A .docx must hold
    `word/` entries and a .pptx `ppt/` entries.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise ValidationFailed(f"This {label_of(kind)} file is damaged or not really a "
                               f"{label_of(kind)} file.") from None
    refused = f"This {label_of(kind)} file was refused: "
    if len(infos) > ZIP_MAX_ENTRIES:
        raise ValidationFailed(refused + f"it has more than {ZIP_MAX_ENTRIES} entries.")
    for info in infos:
        problem = _zip_entry_problem(info)
        if problem:
            raise ValidationFailed(refused + problem + ".")
    total = sum(info.file_size for info in infos)
    if total > ZIP_MAX_UNCOMPRESSED or total > ZIP_MAX_RATIO * max(size, 1):
        raise ValidationFailed(refused + "it would expand to far more than its own size "
                                         "(a possible zip bomb).")
    names = [info.filename for info in infos]
    if kind == "docx" and not any(n.startswith("word/") for n in names):
        raise ValidationFailed("This file is not a Word document (.docx).")
    if kind == "pptx" and not any(n.startswith("ppt/") for n in names):
        raise ValidationFailed("This file is not a PowerPoint presentation (.pptx).")


@dataclass(frozen=True)
class Received:
    """A checked upload waiting in its temporary file."""

    temp_path: Path
    kind: str
    original_name: str
    size: int
    sha256: str


STALE_TEMP_SECONDS = 3600


def sweep_stale_temps(directory: Path) -> int:
    """Delete temporary upload files older than an hour (left by a killed worker, where no
    `finally` could run); return how many were removed."""
    removed = 0
    cutoff = time.time() - STALE_TEMP_SECONDS
    for path in directory.glob(".upload-*.part"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:  # another worker swept it first
            continue
    return removed


def receive(stream: BinaryIO, filename: str | None, *, directory: Path,
            max_bytes: int) -> Received:
    """Stream `stream` into a temporary file in `directory`, hashing, counting, checking.

    On any problem (or error while reading) the temporary file is deleted before the
    exception leaves. On success the caller owns the temporary file.
    """
    kind = kind_of(filename)
    original = display_name(filename, kind)
    fd, temp_name = tempfile.mkstemp(dir=directory, prefix=".upload-", suffix=".part")
    temp_path = Path(temp_name)
    keep = False
    try:
        digest = hashlib.sha256()
        size = 0
        head = b""
        decoder = codecs.getincrementaldecoder("utf-8")() if kind in TEXT_KINDS else None
        text_ok = True
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise FileTooLarge(
                        f"“{original}” is larger than {max_bytes // MB} MB, the limit per "
                        f"file. Nothing was stored. {limits_text()}")
                if len(head) < 16:
                    head += chunk[:16 - len(head)]
                if decoder is not None and text_ok:
                    try:
                        decoder.decode(chunk)
                    except UnicodeDecodeError:
                        text_ok = False
                    if b"\x00" in chunk:
                        text_ok = False
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if size == 0:
            raise ValidationFailed(f"“{original}” is empty.")
        if decoder is not None and text_ok:
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                text_ok = False
        if not text_ok:
            raise ValidationFailed(f"“{original}” is not a plain UTF-8 text file.")
        if not _magic_matches(kind, head):
            raise ValidationFailed(f"“{original}” does not look like a {label_of(kind)} "
                                   f"file: its content does not match its extension.")
        if kind in ZIP_KINDS:
            check_zip(temp_path, kind, size)
        keep = True
        return Received(temp_path=temp_path, kind=kind, original_name=original, size=size,
                        sha256=digest.hexdigest())
    finally:
        if not keep:
            temp_path.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------
# Storage
# ---------------------------------------------------------------------------------------


def _pending(session: Session) -> list[Path]:
    """Files stored in the session's current transaction: deleted unless it commits."""
    pending = session.info.get("uploads_pending")
    if pending is None:
        pending = session.info["uploads_pending"] = []

        @event.listens_for(session, "after_commit")
        def _committed(_session) -> None:
            pending.clear()

        @event.listens_for(session, "after_transaction_end")
        def _ended(_session, transaction) -> None:
            if transaction.parent is None and pending:
                for path in pending:
                    path.unlink(missing_ok=True)
                log.info("removed %d uncommitted upload(s)", len(pending))
                pending.clear()

    return pending


def team_usage(session: Session, submission_id: int) -> int:
    """Bytes stored for a submission (the team's usage), summed in SQL."""
    return session.scalar(select(func.coalesce(func.sum(SubmissionFile.size), 0))
                          .where(SubmissionFile.submission_id == submission_id)) or 0


def store(session: Session, submission: Submission, stream: BinaryIO, filename: str | None,
          *, uploaded_by: int | None, now: datetime | None = None) -> SubmissionFile:
    """Receive, check and store one upload for `submission`; return its (flushed) row.

    The submission row is locked while the quota is checked, so two uploads at once
    cannot both squeeze under it.
    """
    directory = upload_dir()
    sweep_stale_temps(directory)
    received = receive(stream, filename, directory=directory, max_bytes=max_file_bytes())
    final: Path | None = None
    try:
        session.execute(select(Submission.id).where(Submission.id == submission.id)
                        .with_for_update())
        used = team_usage(session, submission.id)
        quota = team_quota_bytes()
        if used + received.size > quota:
            raise QuotaExceeded(
                f"“{received.original_name}” would take your team over its "
                f"{quota // MB} MB quota ({used / MB:.1f} MB used). Nothing was stored.")
        storage_name = f"{secrets.token_hex(16)}.{received.kind}"
        final = directory / storage_name
        os.replace(received.temp_path, final)
        _pending(session).append(final)
        row = SubmissionFile(
            submission_id=submission.id, storage_name=storage_name,
            original_name=received.original_name, kind=received.kind, size=received.size,
            sha256=received.sha256, uploaded_by=uploaded_by, uploaded_at=now or clock.now())
        session.add(row)
        session.flush()
        return row
    except BaseException:
        if final is not None:
            final.unlink(missing_ok=True)
        raise
    finally:
        received.temp_path.unlink(missing_ok=True)


def path_of(stored: SubmissionFile) -> Path:
    """The stored file's path inside UPLOAD_DIR (NotFound if the name or file is wrong)."""
    if not _STORAGE_NAME.match(stored.storage_name or ""):
        raise NotFound("That file is not available.")
    path = upload_dir() / stored.storage_name
    if not path.is_file():
        log.error("stored file %s of submission file %s is missing", stored.storage_name,
                  stored.id)
        raise NotFound("That file is not available.")
    return path
