"""Organizer pages for people, roles, the outbox and the audit log."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from challenge import audit, outbox
from challenge.accounts import services
from challenge.accounts.forms import RolesForm
from challenge.accounts.models import User
from challenge.db import db_session
from challenge.errors import DomainError
from challenge.pagination import Page, page_args
from challenge.security import role_required

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/users")
@role_required("organizer")
def users():
    """Everyone with an account, searchable and paginated."""
    number, per_page, offset = page_args()
    query = request.args.get("q", "")[:100]
    rows, total = services.list_users(db_session(), query=query, limit=per_page, offset=offset)
    return render_template("admin/users.html", page=Page(rows, total, number, per_page), q=query)


@bp.route("/users/<int:user_id>/roles", methods=["GET", "POST"])
@role_required("organizer")
def user_roles(user_id: int):
    """Change the roles of one person (judge, organizer and safety are given only here)."""
    dbs = db_session()
    user = dbs.get(User, user_id) or abort(404)
    form = RolesForm(data={"roles": sorted(user.roles)} if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            # no box ticked posts no "roles" at all, and WTForms then gives None
            services.set_roles(dbs, user, form.roles.data or [], actor=current_user)
        except DomainError as exc:
            dbs.rollback()
            form.roles.errors = list(form.roles.errors) + [exc.message]
        else:
            dbs.commit()
            flash(f"Roles of {user.email} saved.", "success")
            return redirect(url_for("admin.users"))
    return render_template("admin/roles.html", form=form, user=user)


@bp.get("/outbox", endpoint="outbox")
@role_required("organizer")
def outbox_page():
    """Messages the platform has queued, newest first."""
    number, per_page, offset = page_args()
    rows, total = outbox.page(db_session(), limit=per_page, offset=offset)
    return render_template("admin/outbox.html", page=Page(rows, total, number, per_page))


@bp.get("/audit", endpoint="audit")
@role_required("organizer")
def audit_page():
    """The audit log, newest first."""
    number, per_page, offset = page_args(default_per_page=50)
    action = request.args.get("action", "")[:64] or None
    rows, total = audit.page(db_session(), limit=per_page, offset=offset, action=action)
    return render_template("admin/audit.html", page=Page(rows, total, number, per_page),
                           action=action or "")
