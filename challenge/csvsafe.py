"""CSV cells that are safe to open in a spreadsheet (CSV injection / "formula injection").

A spreadsheet treats a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula (and
some also after a leading tab or carriage return), so a survey answer such as
``=HYPERLINK("http://evil.example", "click")`` would run when an organizer opens the
export. Every CSV export (survey responses, challenge and judging results) writes each
cell through `formula_safe`, which puts a ``'`` in front of such cells: spreadsheets show
the text as typed and never evaluate it (OWASP's recommendation).

Imports read cells through `unguard`, the inverse, so an export can be imported back
unchanged (a negative number exported as ``'-5`` is read as ``-5`` again). The one text
that does not survive the round trip is one that itself starts with ``'`` followed by a
formula character: it loses that ``'`` on import.
"""

from __future__ import annotations

from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
GUARD = "'"


def formula_safe(cell: Any) -> str:
    """`cell` as text, with a leading ``'`` when it starts with = + - @, a tab or a CR.

    None becomes the empty string; anything else is converted with `str`.
    """
    text = "" if cell is None else str(cell)
    if text.startswith(FORMULA_STARTS):
        return GUARD + text
    return text


def unguard(cell: str) -> str:
    """Undo `formula_safe`: drop a ``'`` that precedes a formula character."""
    if len(cell) > 1 and cell[0] == GUARD and cell[1:].startswith(FORMULA_STARTS):
        return cell[1:]
    return cell


def safe_row(cells) -> list[str]:
    """Every cell of a row through `formula_safe` (for ``csv.writer.writerow``)."""
    return [formula_safe(cell) for cell in cells]
