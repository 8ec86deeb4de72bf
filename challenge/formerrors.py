"""Showing a service's refusal on the form that caused it."""

from __future__ import annotations

from challenge.errors import DomainError


def place_errors(form, exc: DomainError) -> list[str]:
    """Put a refusal's messages beside the form's fields; return those that fit no field.

    An error may carry `fields` (field name -> messages) and `general` (messages for no
    field), or name a single `field`; otherwise all its problems are general.
    """
    fields = getattr(exc, "fields", None)
    general = list(getattr(exc, "general", None) or [])
    if fields is None:
        if exc.field:
            fields = {exc.field: [exc.message]}
        else:
            fields = {}
            general += list(getattr(exc, "problems", None) or [exc.message])
    for name, messages in fields.items():
        if name in form:
            form[name].errors = [*form[name].errors, *messages]
        else:
            general += messages
    return general
