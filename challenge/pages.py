"""Public pages: home, privacy notice, health check."""

from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import text

from challenge.db import db_session

bp = Blueprint("pages", __name__)


@bp.get("/")
def home():
    """The front page: what the platform is, for each kind of visitor."""
    return render_template("pages/home.html")


@bp.get("/privacy")
def privacy():
    """The privacy notice every account accepts."""
    return render_template("pages/privacy.html")


@bp.get("/healthz")
def healthz():
    """Liveness and database check for load balancers."""
    db_session().execute(text("SELECT 1"))
    return {"status": "ok"}
