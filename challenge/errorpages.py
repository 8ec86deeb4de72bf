"""Generic error pages; domain errors become clear 4xx messages, never a 500."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from challenge.errors import DomainError

log = logging.getLogger(__name__)

MESSAGES = {
    400: ("Something in that request was not right", "Please go back and try again."),
    403: ("You do not have access to this page",
          "If you think you should, ask the organizers to check your role."),
    404: ("We could not find that page", "The link may be old, or the page may have moved."),
    405: ("That action is not available here", "Please use the buttons on the page."),
    413: ("That upload is too large", "Please choose a smaller file."),
    429: ("Too many attempts", "Please wait a minute before trying again."),
    500: ("Something went wrong on our side",
          "Nothing you typed is lost on purpose: please go back and try again in a moment."),
}


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


def render_error(status: int, detail: str | None = None):
    """Render the generic error page for `status`."""
    title, hint = MESSAGES.get(status, MESSAGES[400])
    if _wants_json():
        return jsonify(error=title, detail=detail or hint), status
    return render_template("errors/error.html", status=status, title=title,
                           hint=detail or hint), status


def init_app(app: Flask) -> None:
    """Install the handlers."""

    @app.errorhandler(DomainError)
    def _domain(exc: DomainError):
        return render_error(exc.status_code, exc.message)

    @app.errorhandler(CSRFError)
    def _csrf(_exc: CSRFError):
        return render_error(400, "The form had expired or was sent from elsewhere. "
                                 "Please reload the page and try again.")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        return render_error(exc.code or 500)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        # Log the type and place only: request bodies may hold health answers.
        log.error("unhandled %s at %s %s", type(exc).__name__, request.method, request.path,
                  exc_info=app.config.get("TESTING") or app.debug)
        if app.config.get("TESTING") and app.config.get("PROPAGATE_TEST_ERRORS", True):
            raise exc
        return render_error(500)
