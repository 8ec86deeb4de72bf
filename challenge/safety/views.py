"""The safety queue: organizers and safety officers review flagged texts.

There is no delete route: flags only move forward through their statuses.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from challenge import clock
from challenge.db import db_session
from challenge.errors import DomainError
from challenge.pagination import Page, page_args
from challenge.safety import services
from challenge.safety.forms import StatusForm
from challenge.safety.models import FLAG_STATUSES, STATUS_LABELS
from challenge.security import role_required

bp = Blueprint("safety", __name__, url_prefix="/safety")

# (value, label) of the queue's status filter, in display order.
FILTER_CHOICES = (
    ("", "All flags"),
    ("open", "Open (new or reviewed)"),
    ("overdue", "Overdue"),
    *((s, STATUS_LABELS[s]) for s in FLAG_STATUSES),
)
_FILTER_VALUES = {value for value, _ in FILTER_CHOICES}


@bp.get("/flags", endpoint="queue")
@role_required(*services.REVIEWER_ROLES)
def queue():
    """Flagged texts, newest first, filtered by status and paginated."""
    dbs = db_session()
    now = clock.now()
    status = request.args.get("status", "")
    status = status if status in _FILTER_VALUES else ""
    number, per_page, offset = page_args()
    flags, total = services.list_flags(dbs, status=status or None, limit=per_page,
                                       offset=offset, now=now)
    lexicon = services.lexicon_for_app()
    rows = [
        {"flag": f, "overdue": services.is_overdue(f, now),
         "excerpt": services.highlight(f.excerpt, lexicon)}
        for f in flags
    ]
    return render_template(
        "safety/queue.html",
        page=Page(rows, total, number, per_page),
        status=status,
        filter_choices=FILTER_CHOICES,
        filter_label=dict(FILTER_CHOICES)[status],
        counts=services.flag_counts(dbs, now),
        labels=STATUS_LABELS,
    )


@bp.route("/flags/<int:flag_id>", methods=["GET", "POST"], endpoint="flag")
@role_required(*services.REVIEWER_ROLES)
def flag_page(flag_id: int):
    """One flag: its excerpt, terms, reporting clock, full history, and the next status."""
    dbs = db_session()
    # NotFound → 404 page. A POST locks the row so two reviewers cannot both move it.
    flag = services.get_flag(dbs, flag_id, for_update=request.method == "POST")
    form = StatusForm()
    form.set_choices(services.allowed_transitions(flag))
    if request.method == "GET":
        form.expected_status.data = flag.status
    status_code = 200
    if form.validate_on_submit():
        try:
            services.change_status(
                dbs, flag, form.status.data, actor=current_user._get_current_object(),
                note=form.note.data or "", expected_status=form.expected_status.data or None,
            )
        except DomainError as exc:
            dbs.rollback()
            flag = services.get_flag(dbs, flag_id)
            form.set_choices(services.allowed_transitions(flag))
            form.expected_status.data = flag.status  # the person has now seen this state
            form.status.errors = list(form.status.errors) + [exc.message]
            status_code = exc.status_code
        else:
            dbs.commit()
            flash(f"Flag #{flag.id} is now “{services.status_label(flag.status)}”.", "success")
            return redirect(url_for("safety.flag", flag_id=flag.id))
    elif form.errors:
        status_code = 422
    now = clock.now()
    people = services.people_by_id(
        dbs, [flag.reviewer_id, *(e.actor_id for e in flag.history)]
    )
    return render_template(
        "safety/flag.html",
        flag=flag,
        form=form,
        overdue=services.is_overdue(flag, now),
        deadline=services.reporting_deadline(flag),
        excerpt=services.highlight(flag.excerpt),
        people=people,
        labels=STATUS_LABELS,
    ), status_code
