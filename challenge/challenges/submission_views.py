"""Submission pages: the team's editor, files, submitting, history, downloads, gallery.

Thin routes: load, call one service, commit or roll back. Another team's submission,
files and versions are 404 (nothing leaks); anonymous visitors are sent to log in. A
domain error re-renders the page with its message and 4xx status, keeping what was typed.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user, login_required

from challenge import clock, idempotency, pagecache
from challenge.challenges import files as file_store
from challenge.challenges import gallery as gallery_service
from challenge.challenges import submissions, teams
from challenge.challenges.submission_forms import GalleryForm, SubmissionForm, UploadForm
from challenge.db import begin_writing, db_session
from challenge.errorpages import render_error
from challenge.errors import DomainError, NotFound
from challenge.pagination import PER_PAGE, Page, page_number

bp = Blueprint("submissions", __name__)


@bp.before_request
def _received_at() -> None:
    # Server time decides: the moment the request reached this blueprint.
    g.received_at = clock.now()


@bp.errorhandler(413)
def _too_large(_exc):
    """The request was over MAX_CONTENT_LENGTH: say what the limits are."""
    return render_error(413, "Nothing was stored. " + file_store.limits_text()
                        + " Please choose a smaller file.")


def endpoint_url(endpoint: str, **values) -> str | None:
    """A URL for `endpoint` when another part of the app provides it, else None."""
    if endpoint not in current_app.view_functions:
        return None
    return url_for(endpoint, **values)


def _challenge(slug: str):
    return teams.get_challenge(db_session(), slug, current_user)


def _team_or_none(challenge):
    return submissions.team_of(db_session(), current_user, challenge)


def _form_from(version) -> SubmissionForm:
    if version is None:
        return SubmissionForm(formdata=None)
    return SubmissionForm(formdata=None, data={
        "title": version.title, "summary": version.summary, "needs": list(version.needs),
        "demo_url": version.demo_url, "repo_url": version.repo_url})


def _render_editor(challenge, team, *, form=None, upload_form=None, error: str | None = None,
                   typed: bool = False, status: int = 200):
    dbs = db_session()
    state = submissions.editor_state(dbs, challenge, team, g.received_at)
    form = form or _form_from(state.latest)
    form.needs.choices = [(key, f"{title} ({key})") for key, title in state.choices]
    gallery_form = GalleryForm(formdata=None, data={
        "gallery_opt_in": bool(state.submission and state.submission.gallery_opt_in)})
    return render_template(
        "challenges/submissions/editor.html", challenge=challenge, team=team, state=state,
        form=form, upload_form=upload_form or UploadForm(formdata=None),
        gallery_form=gallery_form, error=error, typed=typed,
        members=teams.member_count(dbs, team),
        entry_hash=state.entry.content_hash if state.entry else None,
        quota_mb=current_app.config["TEAM_QUOTA_MB"],
        max_file_mb=current_app.config["MAX_FILE_MB"],
        allowed=file_store.ALLOWED_LABEL, accept=file_store.ACCEPT_ATTRIBUTE,
        field_labels=submissions.FIELD_LABELS,
        challenge_url=endpoint_url("challenges.detail", slug=challenge.slug),
        team_url=endpoint_url("teams.show", team_id=team.id),
    ), status


def _render_no_team(challenge):
    return render_template(
        "challenges/submissions/no_team.html", challenge=challenge,
        teams_url=endpoint_url("teams.for_challenge", slug=challenge.slug),
        challenge_url=endpoint_url("challenges.detail", slug=challenge.slug),
    ), 200


def _apply_field_errors(form, exc: DomainError) -> bool:
    """Put a service error beside the fields it names; False when it names none."""
    placed = False
    for name, messages in (getattr(exc, "fields", None) or {}).items():
        target = getattr(form, name, None)
        if target is not None:
            target.errors = list(target.errors) + list(messages)
            placed = True
    return placed


@bp.route("/c/<slug>/submission", methods=["GET", "POST"])
@login_required
def editor(slug: str):
    """The viewer's team's submission: edit the draft, add files, submit."""
    dbs = db_session()
    challenge = _challenge(slug)
    team = _team_or_none(challenge)
    if team is None:
        if request.method == "POST":
            raise NotFound("You are not in a team for this challenge.")
        return _render_no_team(challenge)
    if request.method == "GET":
        return _render_editor(challenge, team)
    form = SubmissionForm()
    if not form.validate_on_submit():
        return _render_editor(challenge, team, form=form, typed=True, status=422)
    draft = submissions.Draft(title=form.title.data or "", summary=form.summary.data or "",
                              needs=tuple(form.needs.data or ()),
                              demo_url=form.demo_url.data or "",
                              repo_url=form.repo_url.data or "")
    try:
        version = submissions.save_draft(dbs, team, draft, actor=current_user,
                                         now=g.received_at)
    except DomainError as exc:
        dbs.rollback()
        placed = _apply_field_errors(form, exc)
        return _render_editor(challenge, team, form=form, typed=True,
                              error=None if placed else exc.message, status=exc.status_code)
    dbs.commit()
    if version is None:
        flash("Nothing changed, so no new version was saved.", "info")
    else:
        changed = ", ".join(submissions.FIELD_LABELS[c] for c in version.changes)
        flash(f"Saved as version {version.number} (changed: {changed}). It is not "
              f"submitted until you press “Submit”.", "success")
    return redirect(url_for(".editor", slug=slug))


def _team_or_404(challenge):
    team = _team_or_none(challenge)
    if team is None:
        raise NotFound("You are not in a team for this challenge.")
    return team


def _flash_already_submitted(number: int, submitted_at, content_hash: str) -> None:
    flash(f"Version {number} was already submitted at {submissions.iso_utc(submitted_at)}. "
          f"Receipt: content hash {content_hash}.", "info")


def _flash_entry_receipt(entry) -> None:
    """A replayed submit: the receipt of the entry the first request froze."""
    if entry is not None and entry.submitted_at is not None:
        _flash_already_submitted(entry.number, entry.submitted_at, entry.content_hash or "")


@bp.post("/c/<slug>/submission/submit")
@login_required
def submit(slug: str):
    """Freeze the latest version as the team's entry and send the receipt.

    A retried or double-clicked submit (same idempotency key) changes nothing and leads
    back to the same page, where the first submission's receipt is shown.
    """
    dbs = db_session()
    challenge = _challenge(slug)
    team = _team_or_404(challenge)
    key = idempotency.key_from_request()
    done = idempotency.replay(dbs, key)
    if done is not None:
        _flash_entry_receipt(submissions.entry_version(dbs, submissions.submission_of(dbs, team)))
        return done
    try:
        idempotency.remember(dbs, key, url_for(".editor", slug=slug))
        receipt = submissions.submit(dbs, team, actor=current_user, now=g.received_at)
    except idempotency.Duplicate:
        dbs.rollback()
        _flash_entry_receipt(submissions.entry_version(dbs, submissions.submission_of(dbs, team)))
        return idempotency.replay(dbs, key)
    except DomainError as exc:
        dbs.rollback()
        return _render_editor(challenge, team, error=exc.message, status=exc.status_code)
    dbs.commit()
    when = submissions.iso_utc(receipt.submitted_at)
    if receipt.duplicate:
        _flash_already_submitted(receipt.version_number, receipt.submitted_at,
                                 receipt.content_hash)
    else:
        flash(f"Version {receipt.version_number} is submitted as your entry at {when}. "
              f"Receipt: content hash {receipt.content_hash}; every member was sent a "
              f"copy.", "success")
    return redirect(url_for(".editor", slug=slug))


@bp.post("/c/<slug>/submission/files")
@login_required
def upload(slug: str):
    """Add one file to the draft (a new version)."""
    dbs = db_session()
    challenge = _challenge(slug)
    team = _team_or_404(challenge)
    form = UploadForm()
    if not form.validate_on_submit():
        return _render_editor(challenge, team, upload_form=form, status=422)
    storage = form.file.data
    try:
        stored, version = submissions.add_file(dbs, team, storage.stream, storage.filename,
                                               actor=current_user, now=g.received_at)
    except DomainError as exc:
        dbs.rollback()
        return _render_editor(challenge, team, error=exc.message, status=exc.status_code)
    except BaseException:
        dbs.rollback()  # removes a file stored in this transaction
        raise
    dbs.commit()
    flash(f"Added “{stored.original_name}” (SHA-256 {stored.sha256}) as version "
          f"{version.number}. It is not submitted until you press “Submit”.", "success")
    return redirect(url_for(".editor", slug=slug))


@bp.post("/c/<slug>/submission/files/<int:file_id>/remove")
@login_required
def remove_file(slug: str, file_id: int):
    """Take a file out of the draft (a new version; earlier versions keep it)."""
    dbs = db_session()
    challenge = _challenge(slug)
    team = _team_or_404(challenge)
    try:
        version = submissions.remove_file(dbs, team, file_id, actor=current_user,
                                          now=g.received_at)
    except NotFound:
        raise
    except DomainError as exc:
        dbs.rollback()
        return _render_editor(challenge, team, error=exc.message, status=exc.status_code)
    dbs.commit()
    flash(f"The file was taken out of the draft (version {version.number}). Earlier "
          f"versions keep it.", "success")
    return redirect(url_for(".editor", slug=slug))


@bp.post("/c/<slug>/submission/gallery")
@login_required
def gallery_choice(slug: str):
    """The team's consent to the public gallery (may change at any time)."""
    dbs = db_session()
    challenge = _challenge(slug)
    team = _team_or_404(challenge)
    form = GalleryForm()
    if not form.validate_on_submit():
        return _render_editor(challenge, team, status=422)
    submissions.set_gallery_opt_in(dbs, team, form.gallery_opt_in.data, actor=current_user,
                                   now=g.received_at)
    dbs.commit()
    flash("Your entry will be shown in the public gallery once it opens."
          if form.gallery_opt_in.data else "Your entry will not be shown in the gallery.",
          "success")
    return redirect(url_for(".editor", slug=slug))


@bp.get("/submissions/<int:submission_id>/versions")
@login_required
def versions(submission_id: int):
    """Every version the viewer may see: who, when, what changed, hashes, content."""
    dbs = db_session()
    submission = submissions.get_submission(dbs, submission_id)
    shown = submissions.visible_versions(dbs, current_user, submission)
    team = teams.get_team(dbs, submission.team_id)
    challenge = team.challenge
    file_rows = submissions.files_by_id(dbs, [i for v in shown for i in v.file_ids])
    hashes = {v.id: submissions.version_hash(dbs, v) for v in shown}
    member = teams.is_member(dbs, current_user, team)
    return render_template(
        "challenges/submissions/versions.html", submission=submission, team=team,
        challenge=challenge, versions=shown, files=file_rows, hashes=hashes,
        authors=submissions.people_by_id(dbs, [v.author_id for v in shown]),
        titles=submissions.guideline_titles(dbs, challenge), member=member,
        drafts_visible=submissions.can_view_drafts(dbs, current_user, submission),
        field_labels=submissions.FIELD_LABELS)


@bp.get("/files/<int:file_id>")
@login_required
def download(file_id: int):
    """A stored file, as an attachment under its (sanitized) original name; audited."""
    dbs = db_session()
    stored = submissions.file_for_download(dbs, current_user, file_id)
    path = file_store.path_of(stored)
    begin_writing(dbs)
    submissions.record_download(dbs, current_user, stored, ip=request.remote_addr)
    dbs.commit()
    response = send_file(path, as_attachment=True, download_name=stored.original_name,
                         mimetype=file_store.mimetype_of(stored.kind), max_age=0,
                         conditional=True, etag=stored.sha256)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/c/<slug>/gallery")
def gallery(slug: str):
    """The public gallery of opted-in entries (404 until it opens, except to organizers).

    Anonymous visitors get the page rendered once per process for the same challenge row,
    guideline titles, entries held back by open safety flags and page key (the entry count
    and each listed entry's team name and version): all read on every request, so a newly
    flagged entry, an opt-out or a renamed team shows at once."""
    dbs = db_session()
    challenge = _challenge(slug)
    is_open = gallery_service.is_open(challenge, g.received_at)
    organizer = current_user.is_authenticated and current_user.has_role("organizer")
    if not is_open and not organizer:
        raise NotFound("There is no gallery here yet.")
    number = page_number()
    held = gallery_service.held_back(dbs, challenge)
    titles = submissions.guideline_titles(dbs, challenge)
    key = None
    if pagecache.for_anonymous():
        key = ("gallery", challenge.id, challenge.slug, challenge.updated_at,
               challenge.gallery_open, number, held, tuple(titles.items()),
               gallery_service.page_key(dbs, challenge, limit=PER_PAGE,
                                        offset=(number - 1) * PER_PAGE, held=held))
        cached = pagecache.get(key)
        if cached is not None:
            return cached
    rows, total = gallery_service.page(dbs, challenge, limit=PER_PAGE,
                                       offset=(number - 1) * PER_PAGE, held=held)
    html = render_template(
        "challenges/gallery.html", challenge=challenge, is_open=is_open,
        page=Page(rows, total, number, PER_PAGE), titles=titles,
        challenge_url=endpoint_url("challenges.detail", slug=challenge.slug))
    return pagecache.put(key, html) if key is not None else html
