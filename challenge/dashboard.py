"""The dashboard is made of panels, one or more per role, contributed by each package.

A package registers a panel with a loader (session, user) -> context dict; the dashboard
shows the panels of the roles the person holds. This keeps `accounts` ignorant of the
packages above it, as the layering rule asks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask, current_app
from sqlalchemy.orm import Session

Loader = Callable[[Session, object], dict]


@dataclass(frozen=True)
class Panel:
    """One box on the dashboard."""

    role: str
    title: str
    template: str
    order: int = 100
    loader: Loader | None = None
    context: dict = field(default_factory=dict)


def register_panel(app: Flask, panel: Panel) -> None:
    """Add a panel to the app's dashboard (idempotent by role and title)."""
    panels = app.extensions.setdefault("dashboard_panels", {})
    panels[(panel.role, panel.title)] = panel


def panels_for(user, session: Session) -> list[Panel]:
    """The panels for `user`'s roles, in display order, each with its context loaded."""
    registered = current_app.extensions.get("dashboard_panels", {}).values()
    chosen = sorted((p for p in registered if user.has_role(p.role)), key=lambda p: p.order)
    # A panel shared by several roles (e.g. safety flags) shows once for a person holding both.
    chosen = list({p.title: p for p in reversed(chosen)}.values())[::-1]
    return [
        Panel(p.role, p.title, p.template, p.order, None,
              p.loader(session, user) if p.loader else {})
        for p in chosen
    ]
