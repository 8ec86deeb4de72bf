"""Pagination for every list page.

A view reads `page_args()`, asks its service for one page (LIMIT/OFFSET in SQL plus a
count), and wraps the rows in a `Page`; the template draws `pager(page, endpoint)` from
`_macros.html`. A page number that is not a number or is below 1 means page 1; a page past
the last one is a 404 (never a 500, never an empty page that looks like "nothing yet").
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import request

from challenge.errors import NotFound

#: Rows per page of the long public and organizer lists (ranking, gallery, teams).
PER_PAGE = 50
#: How many page numbers the pager shows on each side of the current one.
WINDOW = 2


@dataclass(frozen=True)
class Page:
    """One page of a longer list. Raises NotFound when `number` is past the last page."""

    items: list
    total: int
    number: int
    per_page: int

    def __post_init__(self) -> None:
        if self.number > self.pages:
            raise NotFound(f"There is no page {self.number} here: the list has "
                           f"{self.pages} page{'s' if self.pages != 1 else ''}.")

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

    @property
    def first_index(self) -> int:
        """The 1-based position of the first item of this page in the whole list."""
        return (self.number - 1) * self.per_page + 1

    @property
    def numbers(self) -> list[int | None]:
        """The page numbers the pager links to: the first, the last and a few around the
        current one; None stands for a gap ("…")."""
        shown = sorted({1, self.pages, *range(max(1, self.number - WINDOW),
                                               min(self.pages, self.number + WINDOW) + 1)})
        out: list[int | None] = []
        for n in shown:
            if out and n - (out[-1] or 0) > 1:
                out.append(None)
            out.append(n)
        return out


def page_number(max_page: int = 100_000) -> int:
    """The `?page=` number, 1 when missing, not a number or below 1."""
    number = request.args.get("page", 1, type=int) or 1
    return max(1, min(number, max_page))


def page_args(default_per_page: int = 25, max_per_page: int = 100) -> tuple[int, int, int]:
    """(page number, per_page, offset) from the query string, clamped to sane values."""
    number = page_number()
    per_page = request.args.get("per_page", default_per_page, type=int) or default_per_page
    per_page = max(1, min(per_page, max_per_page))
    return number, per_page, (number - 1) * per_page
