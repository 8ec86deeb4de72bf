"""Organizer pages for guidelines: generate a draft from the report, edit, publish."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from challenge.db import db_session
from challenge.errors import DomainError
from challenge.security import role_required
from surveys import guidelines, insights
from surveys.forms import GuidelineDocumentForm

bp = Blueprint("guidelines", __name__, url_prefix="/organize/surveys")


def _redirect_to_list(slug: str):
    return redirect(url_for("guidelines.index", slug=slug))


def _act(slug: str, action, success: str):
    """Run one state-changing service call with commit, flash and redirect."""
    dbs = db_session()
    try:
        action(dbs)
    except DomainError as exc:
        dbs.rollback()
        flash(exc.message, "error")
    else:
        dbs.commit()
        flash(success, "success")
    return _redirect_to_list(slug)


@bp.get("/<slug>/guidelines")
@role_required("organizer")
def index(slug: str):
    """Every version of the survey's guidelines, and what can be done next."""
    dbs = db_session()
    survey = insights.get_survey(dbs, slug)
    return render_template("surveys/guidelines/index.html", survey=survey,
                           versions=guidelines.drafts_and_versions(dbs, survey),
                           report=insights.latest(dbs, survey))


@bp.post("/<slug>/guidelines/generate")
@role_required("organizer")
def generate(slug: str):
    """Draft guidelines from the newest stored report."""
    def action(dbs):
        survey = insights.get_survey(dbs, slug)
        guidelines.generate_draft(dbs, survey, insights.latest(dbs, survey), actor=current_user)
    return _act(slug, action, "A draft was generated from the report. Review and edit it.")


@bp.post("/<slug>/guidelines/new-version")
@role_required("organizer")
def new_version(slug: str):
    """Start a new draft copied from the published version."""
    def action(dbs):
        survey = insights.get_survey(dbs, slug)
        guidelines.new_version_from_published(dbs, survey, actor=current_user)
    return _act(slug, action, "A new draft version was started from the published one.")


@bp.get("/<slug>/guidelines/<int:version>")
@role_required("organizer")
def show(slug: str, version: int):
    """One version as entrants see it, with its evidence."""
    dbs = db_session()
    survey = insights.get_survey(dbs, slug)
    doc = guidelines.get_version(dbs, survey, version)
    return render_template("surveys/guidelines/show.html", survey=survey, doc=doc)


@bp.route("/<slug>/guidelines/<int:version>/edit", methods=["GET", "POST"])
@role_required("organizer")
def edit(slug: str, version: int):
    """Edit a draft's title, introduction and items."""
    dbs = db_session()
    survey = insights.get_survey(dbs, slug)
    doc = guidelines.get_version(dbs, survey, version)
    if doc.status != "draft":
        flash("Published guidelines cannot change; start a new version instead.", "info")
        return _redirect_to_list(slug)
    if request.method == "GET":
        form = GuidelineDocumentForm(data={
            "title": doc.title, "intro": doc.intro,
            "items": [{"key": i.key, "title": i.title, "body": i.body} for i in doc.items]})
    else:
        form = GuidelineDocumentForm()
    evidence = {i.key: i.evidence for i in doc.items}
    if form.validate_on_submit():
        edits = [guidelines.ItemEdit(key=sub.key.data, title=sub.title.data or "",
                                     body=sub.body.data or "", remove=sub.remove.data)
                 for sub in form.items]
        try:
            guidelines.update_draft(dbs, doc, title=form.title.data, intro=form.intro.data or "",
                                    items=edits, actor=current_user)
        except DomainError as exc:
            dbs.rollback()
            form.form_errors.append(exc.message)
        else:
            dbs.commit()
            flash("Draft saved.", "success")
            return _redirect_to_list(slug)
    status = 422 if form.errors else 200
    return render_template("surveys/guidelines/edit.html", survey=survey, doc=doc, form=form,
                           evidence=evidence), status


@bp.post("/<slug>/guidelines/<int:version>/publish")
@role_required("organizer")
def publish(slug: str, version: int):
    """Publish a draft: entrants see it, and it can no longer change."""
    def action(dbs):
        survey = insights.get_survey(dbs, slug)
        guidelines.publish(dbs, guidelines.get_version(dbs, survey, version),
                           actor=current_user)
    return _act(slug, action, f"Version {version} is published.")


@bp.post("/<slug>/guidelines/<int:version>/discard")
@role_required("organizer")
def discard(slug: str, version: int):
    """Delete a draft."""
    def action(dbs):
        survey = insights.get_survey(dbs, slug)
        guidelines.discard_draft(dbs, guidelines.get_version(dbs, survey, version),
                                 actor=current_user)
    return _act(slug, action, "The draft was discarded.")
