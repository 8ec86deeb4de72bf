"""Generic error pages; domain errors become clear 4xx messages, never a 500."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from challenge.db import end_failed_transaction, is_lock_timeout
from challenge.errors import DomainError
from challenge.logredact import redact

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
    503: ("The platform is very busy",
          "Nothing was changed. Please go back and press the button again in a few seconds."),
}
RETRY_AFTER_SECONDS = 5  # what a 503 "busy" answer asks clients to wait before retrying


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


def render_error(status: int, detail: str | None = None):
    """Render the generic error page for `status`."""
    title, hint = MESSAGES.get(status, MESSAGES[400])
    if _wants_json():
        return jsonify(error=title, detail=detail or hint), status
    return render_template("errors/error.html", status=status, title=title,
                           hint=detail or hint), status


def busy_response(body, status: int = 503):
    """`body` sent as "busy, retry": status 503 with a Retry-After header."""
    response = make_response(body, status)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


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

    @app.errorhandler(OperationalError)
    def _database(exc: OperationalError):
        if not is_lock_timeout(exc):
            return _unexpected(exc)
        # A write waited DB_LOCK_TIMEOUT_SECONDS for the lock: nothing was stored, so the
        # person may simply retry. The page below is rendered without a write lock.
        end_failed_transaction()
        log.warning("database lock wait timed out at %s %s", request.method,
                    request.url_rule.rule if request.url_rule is not None else "?")
        return busy_response(*render_error(503))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        # Log the type and place only: request bodies may hold health answers, and a path
        # may hold a link's token, so the route's rule stands for the path.
        place = request.url_rule.rule if request.url_rule is not None else redact(request.path)
        log.error("unhandled %s at %s %s", type(exc).__name__, request.method, place,
                  exc_info=app.config.get("TESTING") or app.debug)
        if app.config.get("TESTING") and app.config.get("PROPAGATE_TEST_ERRORS", True):
            raise exc
        return render_error(500)
