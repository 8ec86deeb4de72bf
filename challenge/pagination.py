"""Pagination for every list page."""

from __future__ import annotations

from dataclasses import dataclass

from flask import request


@dataclass(frozen=True)
class Page:
    """One page of a longer list."""

    items: list
    total: int
    number: int
    per_page: int

    @property
    def pages(self) -> int:
        """How many pages there are (at least one)."""
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def page_args(default_per_page: int = 25, max_per_page: int = 100) -> tuple[int, int, int]:
    """(page number, per_page, offset) from the query string, clamped to sane values."""
    number = request.args.get("page", 1, type=int) or 1
    per_page = request.args.get("per_page", default_per_page, type=int) or default_per_page
    number = max(1, min(number, 100_000))
    per_page = max(1, min(per_page, max_per_page))
    return number, per_page, (number - 1) * per_page
