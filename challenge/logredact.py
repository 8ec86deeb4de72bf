"""Keep the secrets that travel in URLs out of log lines.

Four links carry a bearer token in their path: the survey resume link
(`/s/<slug>/resume/<token>`), the password reset link (`/password/reset/<token>`), the
account invitation (`/invite/<token>`) and the team invitation (`/invite/team/<token>`).
Anyone who reads a log line with one of them can use it, so every log line we configure
shows `…/resume/[redacted]` instead:

- the development server's request log (the `werkzeug` logger) goes through
  `RedactTokensFilter`, installed by `init_app`;
- our own error log names the route's rule, not the path (see `errorpages`);
- gunicorn writes no access log unless told to (`--access-logfile`); when one is wanted,
  `--logger-class challenge.logredact.GunicornLogger` redacts the request line, path,
  query and Referer (a page opened from a link sends that link as its Referer) and drops
  the Cookie and Authorization headers from the atoms a custom format could print.
"""

from __future__ import annotations

import logging
import re

from flask import Flask

REDACTED = "[redacted]"
_TOKEN_IN_PATH = re.compile(r"(/(?:resume|reset|invite(?:/team)?)/)(?!team/)[^/?#\s\"']+")
_SECRET_HEADERS = ("{cookie}i", "{authorization}i", "{x-csrftoken}i", "{x-csrf-token}i")


def redact(text: str) -> str:
    """`text` with the token of every secret link replaced by [redacted]."""
    return _TOKEN_IN_PATH.sub(rf"\g<1>{REDACTED}", text)


class RedactTokensFilter(logging.Filter):
    """A logging filter that rewrites a record's message without the links' tokens."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


def init_app(app: Flask) -> None:
    """Install the filter on the development server's request log (once per process)."""
    logger = logging.getLogger("werkzeug")
    if not any(isinstance(f, RedactTokensFilter) for f in logger.filters):
        logger.addFilter(RedactTokensFilter())


try:  # gunicorn is a production dependency, but keep this module importable without it
    from gunicorn.glogging import Logger as _GunicornLogger
except ImportError:  # pragma: no cover
    _GunicornLogger = object  # type: ignore[assignment,misc]


class GunicornLogger(_GunicornLogger):  # type: ignore[misc,valid-type]
    """gunicorn's logger whose access-log atoms carry no link token, cookie or CSRF header."""

    def atoms(self, resp, req, environ, request_time):  # noqa: D102 - gunicorn's hook
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U", "q", "f"):
            if isinstance(atoms.get(key), str):
                atoms[key] = redact(atoms[key])
        for key in _SECRET_HEADERS:
            if key in atoms:
                atoms[key] = REDACTED
        return atoms
