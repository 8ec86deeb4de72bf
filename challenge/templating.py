"""Jinja filters and globals shared by every template."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask, current_app, request
from flask_login import current_user

from challenge.accounts.models import ROLE_LABELS
from challenge.markdown import plain_excerpt, render_markdown


def format_datetime(value: datetime | None, tz: str | None = None, with_utc: bool = True) -> str:
    """A datetime in the viewer's time zone, with UTC beside it when they differ."""
    if value is None:
        return "—"
    zone_name = tz or getattr(current_user, "timezone", None) or "UTC"
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = value.astimezone(zone)
    text = local.strftime("%a %d %b %Y, %H:%M ") + (local.tzname() or zone_name)
    if with_utc and local.utcoffset() != value.astimezone(ZoneInfo("UTC")).utcoffset():
        text += value.astimezone(ZoneInfo("UTC")).strftime(" (%H:%M UTC)")
    return text


def format_date(value) -> str:
    """A date as '23 Nov 2026'."""
    return value.strftime("%d %b %Y") if value else "—"


def format_number(value: float | None, digits: int = 1) -> str:
    """Numbers are stored unrounded and shown with `digits` decimals."""
    return "—" if value is None else f"{value:.{digits}f}"


def role_labels(roles) -> str:
    """Human names of role keys, in a stable order: 'Judge, Organizer'."""
    return ", ".join(ROLE_LABELS.get(r, r) for r in sorted(roles or ()))


def init_app(app: Flask) -> None:
    """Register filters and the navigation context."""
    app.jinja_env.add_extension("jinja2.ext.do")
    app.jinja_env.filters["markdown"] = render_markdown
    app.jinja_env.filters["excerpt"] = plain_excerpt
    app.jinja_env.filters["datetime"] = format_datetime
    app.jinja_env.filters["date"] = format_date
    app.jinja_env.filters["num"] = format_number
    app.jinja_env.filters["role_labels"] = role_labels
    app.jinja_env.globals["has_endpoint"] = has_endpoint

    @app.context_processor
    def _navigation() -> dict:
        return {"nav_items": navigation_for(current_user), "current_path": request.path}


def has_endpoint(name: str) -> bool:
    """Whether the app has a view for `name` (templates link to optional pages safely)."""
    return name in current_app.view_functions


def navigation_for(user) -> list[tuple[str, str]]:
    """(endpoint, label) pairs for the top navigation, by role."""
    items = [("pages.home", "Home"), ("challenges.index", "Challenges")]
    if not getattr(user, "is_authenticated", False):
        return items
    items.append(("accounts.dashboard", "Dashboard"))
    if user.has_role("organizer"):
        items += [("survey_admin.index", "Surveys"),
                  ("challenge_admin.index", "Challenges (organize)"), ("admin.users", "People"),
                  ("admin.outbox", "Outbox"), ("admin.audit", "Audit log")]
    if user.has_role("judge"):
        items.append(("judge.queue", "Judging"))
    if user.has_role("organizer", "safety"):
        items.append(("safety.queue", "Safety"))
    return items
