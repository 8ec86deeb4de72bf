"""Judge pages: the queue of assigned entries and the scoring page.

Thin routes: load, call one service, commit or roll back. An entry the viewer is not
assigned to is 404 (the page never says it exists); a conflicted judge gets 403 with a
message; a refused save (closed window, bad scores) re-renders the page with its message
and 4xx status, keeping everything typed, and changes nothing.
"""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from challenge import clock
from challenge.db import db_session
from challenge.errors import Conflict, DomainError
from challenge.judging import reviews
from challenge.judging.review_forms import posted_scores, review_form

bp = Blueprint("judge", __name__, url_prefix="/judging")


@bp.before_request
def _received_at() -> None:
    # Server time decides: the moment the request reached this blueprint.
    g.received_at = clock.now()


@bp.get("")
@login_required
def queue():
    """Every challenge where the viewer judges, with the assigned entries and progress."""
    queues = reviews.queue_for(db_session(), current_user, g.received_at)
    return render_template("judging/judge/queue.html", queues=queues,
                           labels=reviews.STATUS_LABELS)


def _render(page, form, *, error: str | None = None, status: int = 200):
    return render_template("judging/judge/review.html", page=page, form=form, error=error,
                           labels=reviews.STATUS_LABELS), status


@bp.route("/reviews/<int:submission_id>", methods=["GET", "POST"])
@login_required
def review(submission_id: int):
    """The entry, the rubric beside it and the judge's scoring form."""
    dbs = db_session()
    page = reviews.scoring_page(dbs, current_user, submission_id, g.received_at)
    if request.method == "GET":
        form = review_form(page.criteria, values=page.values, review=page.review)
        return _render(page, form)

    form = review_form(page.criteria, posted=True)
    if not form.validate_on_submit():
        return _render(page, form, status=422)
    scores, problems = posted_scores(request.form)
    if problems:
        form.form_errors.extend(problems)
        return _render(page, form, status=422)
    try:
        outcome = reviews.save_review(
            dbs, current_user, submission_id, scores=scores,
            comment_to_organizers=form.comment_to_organizers.data or "",
            feedback_to_team=form.feedback_to_team.data or "",
            submit=form.submitting, now=g.received_at)
    except reviews.ReviewInvalid as exc:
        dbs.rollback()
        form.form_errors.extend(exc.general + form.add_score_errors(exc.fields))
        return _render(page, form, status=exc.status_code)
    except Conflict as exc:
        dbs.rollback()
        return _render(page, form, error=exc.message, status=exc.status_code)
    except DomainError:
        dbs.rollback()
        raise
    dbs.commit()
    score = ("" if outcome.score is None
             else f" Its score is {outcome.score:.1f} out of 100.")
    if outcome.action == "submitted":
        flash(f"Your review of “{page.label}” is submitted.{score} You can still change it "
              f"until judging closes.", "success")
        return redirect(url_for(".queue"))
    messages = {
        "draft_saved": ("Draft saved. It does not count until you submit it.", "success"),
        "edited": (f"Your submitted review was updated.{score}", "success"),
        "unchanged": ("Nothing changed, so nothing was saved"
                      + (f"; your review stays submitted.{score}"
                         if outcome.review.status == "submitted" else "."), "info"),
    }
    message, category = messages[outcome.action]
    flash(message, category)
    return redirect(url_for(".review", submission_id=submission_id))
