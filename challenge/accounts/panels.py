"""The dashboard panels every role starts with; later packages register richer ones."""

from __future__ import annotations

from flask import Flask

from challenge.dashboard import Panel, register_panel

CORE_PANELS = (
    Panel("organizer", "Run the platform", "dashboard/_organizer.html", order=40),
)


def register_core_panels(app: Flask) -> None:
    """Register the default panel of each role."""
    for panel in CORE_PANELS:
        register_panel(app, panel)
