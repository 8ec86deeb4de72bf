"""Geometry of the results charts, for server-rendered SVG (no chart library, strict CSP).

Pure: plain data in, coordinates out; no Flask, no database. The templates only place what
this module computes, so the charts are tested without rendering anything.

Two charts share one horizontal axis, the review score on 0-100 (METHODS 5):

- `judge_strips`: one row per judge, a dot per review score (a strip plot) and a tick at
  the judge's mean, so a lenient or a severe judge stands out at a glance. A judge with
  more than MAX_DOTS reviews gets a box plot instead (quartiles, median, whiskers to the
  lowest and highest score): hundreds of dots in one row hide each other anyway, and a
  big challenge would draw tens of thousands of them.
- `entry_spreads`: one row per entry in rank order, a dot at its mean review score and a
  whisker from its lowest to its highest review score; wide whiskers (flagged entries) are
  where the judges disagree.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "AXIS_MAX",
    "MAX_DOTS",
    "ScoreBox",
    "EntryRow",
    "EntrySpread",
    "JudgeScores",
    "JudgeStrip",
    "RowChart",
    "StripDot",
    "Tick",
    "entry_spreads",
    "judge_strips",
    "short_label",
]

AXIS_MIN = 0.0
AXIS_MAX = 100.0
_TICKS = (0, 20, 40, 60, 80, 100)
_ROW = 28.0  # px per row
_LABEL_CHARS = 28  # row labels are cut at a word boundary beyond this
_DUPLICATE_STEP = 4.0  # px between dots that share a score in one row
MAX_DOTS = 40  # a judge row with more reviews than this is drawn as a box plot


@dataclass(frozen=True)
class Tick:
    value: float
    position: float
    label: str


@dataclass(frozen=True)
class JudgeScores:
    """One judge's review scores (0-100) and how to name the row."""

    label: str
    scores: tuple[float, ...]
    mean: float | None = None


@dataclass(frozen=True)
class StripDot:
    cx: float
    cy: float
    value: float


@dataclass(frozen=True)
class ScoreBox:
    """A box plot of many scores: lowest, quartiles, median, highest, and their x."""

    low: float
    q1: float
    median: float
    q3: float
    high: float
    low_x: float
    q1_x: float
    median_x: float
    q3_x: float
    high_x: float


@dataclass(frozen=True)
class JudgeStrip:
    """A judge's row: the dots (or, for many reviews, a box), the mean tick, the label."""

    label: str
    full_label: str
    y: float  # the row's centre line
    dots: tuple[StripDot, ...]
    mean: float | None
    mean_x: float | None
    label_x: float
    label_y: float
    count: int = 0  # how many review scores the row stands for
    box: ScoreBox | None = None  # set instead of dots beyond MAX_DOTS reviews


@dataclass(frozen=True)
class EntryRow:
    """One ranked entry: its mean review score and the lowest and highest review score."""

    rank: int
    label: str
    mean: float
    low: float
    high: float
    flagged: bool = False


@dataclass(frozen=True)
class EntrySpread:
    rank: int
    label: str
    full_label: str
    y: float
    cx: float
    x1: float
    x2: float
    mean: float
    low: float
    high: float
    flagged: bool
    label_x: float
    label_y: float


@dataclass(frozen=True)
class RowChart:
    """A chart of rows over the 0-100 axis; `rows` holds JudgeStrip or EntrySpread."""

    width: int
    height: int
    left: float
    top: float
    right: float
    bottom: float
    ticks: tuple[Tick, ...]
    rows: tuple
    axis_title: tuple[float, float]


def short_label(text: str, limit: int = _LABEL_CHARS) -> str:
    """`text` cut to `limit` characters at a word boundary when possible, with an ellipsis."""
    text = " ".join(str(text).split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if text[limit - 1] != " " and " " in cut[limit // 2:]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,.;:-") + "…"


def _clamp(value: float) -> float:
    return min(max(float(value), AXIS_MIN), AXIS_MAX)


class _Frame:
    """The shared layout: labels on the left, the axis under the rows."""

    def __init__(self, rows: int, width: int, margin_left: float, margin_right: float,
                 margin_top: float) -> None:
        self.width = width
        self.left = float(margin_left)
        self.right = float(width - margin_right)
        self.top = float(margin_top)
        self.bottom = self.top + max(rows, 1) * _ROW
        self.height = int(self.bottom + 48)

    def x(self, value: float) -> float:
        return round(self.left + (self.right - self.left) * _clamp(value) / AXIS_MAX, 2)

    def row_y(self, index: int) -> float:
        return round(self.top + (index + 0.5) * _ROW, 2)

    def chart(self, rows: tuple) -> RowChart:
        ticks = tuple(Tick(float(v), self.x(v), str(v)) for v in _TICKS)
        return RowChart(width=self.width, height=self.height, left=self.left, top=self.top,
                        right=self.right, bottom=self.bottom, ticks=ticks, rows=rows,
                        axis_title=(round((self.left + self.right) / 2, 2), self.bottom + 40))


def judge_strips(judges: Sequence[JudgeScores], *, width: int = 640, margin_left: float = 200,
                 margin_right: float = 24, margin_top: float = 8) -> RowChart:
    """A strip plot of each judge's review scores, in the order given.

    Dots with the same score in one row are stacked a few pixels apart (alternately above
    and below the centre line) so none hides another.
    """
    frame = _Frame(len(judges), width, margin_left, margin_right, margin_top)
    rows = []
    for i, judge in enumerate(judges):
        y = frame.row_y(i)
        seen: Counter[float] = Counter()
        dots = []
        box = _box(frame, judge.scores) if len(judge.scores) > MAX_DOTS else None
        for value in sorted(judge.scores) if box is None else ():
            n = seen[value]
            seen[value] += 1
            # 0, +1, -1, +2, -2, ... steps away from the centre line, within the row.
            step = (n + 1) // 2 * (1 if n % 2 else -1)
            offset = max(min(step * _DUPLICATE_STEP, _ROW / 2 - 4), -(_ROW / 2 - 4))
            dots.append(StripDot(cx=frame.x(value), cy=round(y + offset, 2), value=value))
        mean = judge.mean
        if mean is None and judge.scores:
            mean = sum(judge.scores) / len(judge.scores)
        rows.append(JudgeStrip(
            label=short_label(judge.label), full_label=judge.label, y=y, dots=tuple(dots),
            mean=mean, mean_x=frame.x(mean) if mean is not None else None,
            label_x=round(frame.left - 10, 2), label_y=round(y + 4, 2),
            count=len(judge.scores), box=box))
    return frame.chart(tuple(rows))


def _box(frame: _Frame, scores: Sequence[float]) -> ScoreBox:
    """Quartiles by the "inclusive" method (those of a spreadsheet's QUARTILE)."""
    q1, median, q3 = statistics.quantiles(scores, n=4, method="inclusive")
    low, high = min(scores), max(scores)
    return ScoreBox(low=low, q1=q1, median=median, q3=q3, high=high,
                    low_x=frame.x(low), q1_x=frame.x(q1), median_x=frame.x(median),
                    q3_x=frame.x(q3), high_x=frame.x(high))


def entry_spreads(entries: Sequence[EntryRow], *, width: int = 640, margin_left: float = 200,
                  margin_right: float = 24, margin_top: float = 8) -> RowChart:
    """Each entry's mean review score as a dot with a whisker from its lowest to its
    highest review score, one row per entry in the order given (rank order)."""
    frame = _Frame(len(entries), width, margin_left, margin_right, margin_top)
    rows = []
    for i, entry in enumerate(entries):
        y = frame.row_y(i)
        low, high = sorted((entry.low, entry.high))
        label = f"{entry.rank}. {entry.label}"
        rows.append(EntrySpread(
            rank=entry.rank, label=short_label(label), full_label=label, y=y,
            cx=frame.x(entry.mean), x1=frame.x(low), x2=frame.x(high), mean=entry.mean,
            low=low, high=high, flagged=entry.flagged,
            label_x=round(frame.left - 10, 2), label_y=round(y + 4, 2)))
    return frame.chart(tuple(rows))
