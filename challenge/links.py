"""Absolute links for messages, in a request or in a CLI command.

In a request the link uses the host the person reached; in a CLI command (no request)
it uses the BASE_URL setting, so invitations sent by an import point at the real site.
"""

from __future__ import annotations

from flask import current_app, has_request_context, url_for


def external_url(endpoint: str, **values) -> str:
    """An absolute URL for `endpoint`."""
    if has_request_context():
        return url_for(endpoint, _external=True, **values)
    with current_app.test_request_context(base_url=current_app.config["BASE_URL"]):
        return url_for(endpoint, _external=True, **values)
