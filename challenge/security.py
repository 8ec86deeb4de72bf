"""Security rules in one place: password policy, role checks, headers, session limits."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from importlib import resources

from flask import Flask, abort, current_app, request, session
from flask_login import current_user, logout_user

from challenge import clock

PASSWORD_MIN = 8
PASSWORD_MAX = 128  # at least 64 must be allowed; 128 keeps hashing cost bounded


@functools.cache
def _common_passwords() -> frozenset[str]:
    text = resources.files("challenge.data").joinpath("common_passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line.strip() and line[0] != "#"
    )


def password_problems(password: str, *, email: str | None = None) -> list[str]:
    """Everything wrong with a proposed password (empty when it is acceptable)."""
    problems = []
    if len(password) < PASSWORD_MIN:
        problems.append(f"Use at least {PASSWORD_MIN} characters.")
    if len(password) > PASSWORD_MAX:
        problems.append(f"Use at most {PASSWORD_MAX} characters.")
    lowered = password.lower()
    if lowered in _common_passwords() or len(set(password)) == 1:
        problems.append("This password is too common; choose one that is harder to guess.")
    if email and lowered == email.lower():
        problems.append("Do not use your e-mail address as your password.")
    return problems


def current_actor():
    """The signed-in User itself (not Flask-Login's proxy), to hand to services."""
    return current_user._get_current_object()


def role_required(*roles: str) -> Callable:
    """Allow the view only to logged-in users holding one of `roles` (403 otherwise)."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()
            if not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        wrapped.allowed_roles = roles  # read by the authorization tests
        return wrapped

    return decorator


CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def _set_security_headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if current_app.config.get("HSTS"):
        headers.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
    if current_user and getattr(current_user, "is_authenticated", False):
        headers.setdefault("Cache-Control", "no-store")
    return response


def _enforce_session_limits():
    """End sessions that were idle too long or have lived past their absolute lifetime."""
    if not current_user.is_authenticated:
        return None
    now = clock.now()
    started = session.get("login_at")
    seen = session.get("seen_at")
    idle = timedelta(minutes=current_app.config["SESSION_IDLE_MINUTES"])
    absolute = current_app.config["PERMANENT_SESSION_LIFETIME"]
    expired = (
        started is None
        or now - datetime.fromtimestamp(started, UTC) > absolute
        or (seen is not None and now - datetime.fromtimestamp(seen, UTC) > idle)
    )
    if expired:
        logout_user()
        session.clear()
        session["expired"] = True
        return None
    # Only write the cookie again when a minute has passed, so static assets stay cheap.
    if seen is None or now.timestamp() - seen > 60:
        session["seen_at"] = now.timestamp()
    return None


def init_app(app: Flask) -> None:
    """Register the header hook and the session timeout check."""
    app.after_request(_set_security_headers)
    app.before_request(_enforce_session_limits)


def is_safe_redirect(target: str | None) -> bool:
    """Only same-site relative paths may be used as a post-login redirect."""
    return bool(target) and target.startswith("/") and not target.startswith("//") and (
        "\\" not in target
    ) and request is not None
