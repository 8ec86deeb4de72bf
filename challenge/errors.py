"""Domain errors raised by services and turned into clear 4xx answers by the app."""

from __future__ import annotations


class DomainError(Exception):
    """Something a person or a file asked for that the rules do not allow."""

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    """The object does not exist, or the person may not know that it does."""

    status_code = 404


class Forbidden(DomainError):
    """The person is known but not allowed to do this."""

    status_code = 403


class Conflict(DomainError):
    """The request clashes with the current state (duplicate, closed window, ...)."""

    status_code = 409


class ValidationFailed(DomainError):
    """Input that cannot be accepted; `problems` lists every problem found."""

    status_code = 422

    def __init__(self, problems: list[str] | str) -> None:
        problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(problems))
        self.problems = problems
