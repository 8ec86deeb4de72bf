"""The organizer's dashboard panel for surveys: how many are draft, open, closed."""

from __future__ import annotations

from flask import Flask
from sqlalchemy.orm import Session

from challenge.dashboard import Panel, register_panel
from surveys import admin_services

TITLE = "Surveys"


def _load(session: Session, _user) -> dict:
    return {"counts": admin_services.status_counts(session)}


def register_survey_admin_panels(app: Flask) -> None:
    """Register the "Surveys" panel for organizers."""
    register_panel(app, Panel("organizer", TITLE, "surveys/admin/_panel.html", order=41,
                              loader=_load))
