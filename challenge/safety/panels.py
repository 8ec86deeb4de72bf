"""The safety dashboard panel: how many flags are new and overdue, and a link to the queue."""

from __future__ import annotations

from flask import Flask
from sqlalchemy.orm import Session

from challenge.dashboard import Panel, register_panel
from challenge.safety import services

TITLE = "Safety flags"


def _load(session: Session, _user) -> dict:
    return services.flag_counts(session)


def register_safety_panels(app: Flask) -> None:
    """Register the "Safety flags" panel for safety officers and organizers."""
    register_panel(app, Panel("safety", TITLE, "dashboard/_safety_flags.html", order=5,
                              loader=_load))
    register_panel(app, Panel("organizer", TITLE, "dashboard/_safety_flags.html", order=45,
                              loader=_load))
