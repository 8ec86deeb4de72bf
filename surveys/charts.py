"""Geometry of the opportunity chart (importance against satisfaction), for a server-rendered SVG.

Pure: plain data in, coordinates out; no Flask, no database. The template only places what
this module computes, so the chart is tested without rendering anything.

The chart follows Outcome-Driven Innovation's "opportunity landscape": x = satisfaction
(0-10), y = importance (0-10). Each need is a point with its two Wilson intervals drawn as
whiskers (horizontal for satisfaction, vertical for importance). The underserved zone, where
O = I + max(I - S, 0) >= 10, is the triangle above the line I = (10 + S) / 2.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "AXIS_MAX",
    "Chart",
    "ChartPoint",
    "NeedPoint",
    "Tick",
    "opportunity_chart",
    "short_label",
    "underserved_zone",
]

AXIS_MAX = 10.0
UNDERSERVED_AT = 10.0
_LEGEND_CHARS = 80  # need text in the legend, cut at a word beyond this
_LEGEND_ROW = 20.0  # px between legend lines
# Rough metrics of the 12px label font, enough to keep labels from covering each other.
_CHAR_WIDTH = 7.5
_TEXT_ASCENT = 10.0
_TEXT_DESCENT = 2.0
_DOT = 5.0  # dot radius


@dataclass(frozen=True)
class NeedPoint:
    """One need to plot: the report's numbers (0-10 scales) and how to name it."""

    key: str
    text: str
    importance: float
    satisfaction: float
    importance_ci: tuple[float, float]
    satisfaction_ci: tuple[float, float]
    opportunity: float
    status: str = ""
    robust: bool = False


@dataclass(frozen=True)
class Tick:
    value: float
    position: float
    label: str


@dataclass(frozen=True)
class ChartPoint:
    """A need placed on the chart: its dot, whiskers, rank label, and legend line."""

    rank: int
    key: str
    text: str
    label: str  # the rank number written beside the dot
    cx: float
    cy: float
    # Importance interval: a vertical segment at x = cx.
    importance_y1: float
    importance_y2: float
    # Satisfaction interval: a horizontal segment at y = cy.
    satisfaction_x1: float
    satisfaction_x2: float
    label_x: float
    label_y: float
    anchor: str  # SVG text-anchor of the label: "start", "middle" or "end"
    legend_x: float
    legend_y: float
    legend_text: str  # "1. Keeping my glucose steady when I exercise"
    status: str
    robust: bool
    importance: float
    satisfaction: float
    opportunity: float


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: float
    top: float
    right: float
    bottom: float
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    zone: tuple[tuple[float, float], ...]
    points: tuple[ChartPoint, ...]
    x_title: tuple[float, float]
    legend_top: float

    @property
    def zone_points(self) -> str:
        """The underserved zone as an SVG `points` attribute."""
        return " ".join(f"{x:g},{y:g}" for x, y in self.zone)

    @property
    def zone_label(self) -> tuple[float, float]:
        """Where to write the zone's name: inside its top-left corner."""
        return (self.left + 8, self.top + 16)


def _clamp(value: float, low: float = 0.0, high: float = AXIS_MAX) -> float:
    return min(max(float(value), low), high)


def short_label(text: str, limit: int = _LEGEND_CHARS) -> str:
    """The need's text cut to `limit` characters at a word boundary, with an ellipsis."""
    text = " ".join(str(text).split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if text[limit - 1] != " " and " " in cut[limit // 2:]:  # do not end mid-word
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,.;:-") + "…"


def underserved_zone(threshold: float = UNDERSERVED_AT) -> tuple[tuple[float, float], ...]:
    """The region of the (satisfaction, importance) square where O >= threshold (0 < t < 20).

    For S < t the boundary is I = (t + S) / 2; for S >= t it is I = t (there I <= S, so
    O = I). Returned as polygon vertices in data coordinates: along the boundary from the
    left edge, then the top-right and top-left corners. At t = 10: (0, 5), (10, 10), (0, 10).
    """
    t = float(threshold)
    if not 0 < t < 2 * AXIS_MAX:
        raise ValueError(f"threshold must be between 0 and {2 * AXIS_MAX:g} (exclusive)")
    top_left = (0.0, AXIS_MAX)
    if t > AXIS_MAX:  # the boundary line reaches the top edge at S = 20 - t
        return ((0.0, t / 2), (2 * AXIS_MAX - t, AXIS_MAX), top_left)
    if t == AXIS_MAX:
        return ((0.0, t / 2), (AXIS_MAX, AXIS_MAX), top_left)
    return ((0.0, t / 2), (t, t), (AXIS_MAX, t), (AXIS_MAX, AXIS_MAX), top_left)


Box = tuple[float, float, float, float]  # x0, y0, x1, y1

# Where a rank label may go around its dot: (dx, dy of the baseline, text-anchor), in order
# of preference: right, left, above, below, then the four diagonals.
_LABEL_SPOTS = (
    (8, 4, "start"), (-8, 4, "end"), (0, -9, "middle"), (0, 17, "middle"),
    (6, -6, "start"), (-6, -6, "end"), (6, 14, "start"), (-6, 14, "end"),
)


def _text_box(x: float, baseline: float, text: str, anchor: str) -> Box:
    width = _CHAR_WIDTH * len(text)
    x0 = {"start": x, "middle": x - width / 2, "end": x - width}[anchor]
    return (x0, baseline - _TEXT_ASCENT, x0 + width, baseline + _TEXT_DESCENT)


def _overlap(a: Box, b: Box) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    return width * height if width > 0 and height > 0 else 0.0


def _place_label(cx: float, cy: float, text: str, taken: list[Box], area: Box
                 ) -> tuple[float, float, str, Box]:
    """The first spot around the dot that covers no other label or dot and stays inside
    the plot; failing that, the spot that covers least."""
    best = None
    for dx, dy, anchor in _LABEL_SPOTS:
        x, y = cx + dx, cy + dy
        box = _text_box(x, y, text, anchor)
        outside = (box[0] < area[0] or box[1] < area[1] or box[2] > area[2]
                   or box[3] > area[3])
        cost = sum(_overlap(box, other) for other in taken) + (1e6 if outside else 0.0)
        if cost == 0:
            return x, y, anchor, box
        if best is None or cost < best[0]:
            best = (cost, x, y, anchor, box)
    _, x, y, anchor, box = best
    return x, y, anchor, box


def opportunity_chart(needs: Sequence[NeedPoint], *, width: int = 640, plot_height: int = 448,
                      margin_left: float = 56, margin_right: float = 24,
                      margin_top: float = 16) -> Chart:
    """Place `needs` (already ranked, highest opportunity first) on the chart.

    Each dot is labelled with its rank; the legend under the plot gives each rank's need
    text, so long texts never cover the data. The chart grows downwards with the legend.
    """
    left, top = float(margin_left), float(margin_top)
    right, bottom = float(width - margin_right), float(margin_top + plot_height)

    def x_of(satisfaction: float) -> float:
        return round(left + (right - left) * _clamp(satisfaction) / AXIS_MAX, 2)

    def y_of(importance: float) -> float:
        return round(bottom - (bottom - top) * _clamp(importance) / AXIS_MAX, 2)

    ticks = range(0, int(AXIS_MAX) + 1, 2)
    x_ticks = tuple(Tick(float(v), x_of(v), str(v)) for v in ticks)
    y_ticks = tuple(Tick(float(v), y_of(v), str(v)) for v in ticks)
    zone = tuple((x_of(s), y_of(i)) for s, i in underserved_zone())
    x_title = (round((left + right) / 2, 2), bottom + 42)
    legend_top = bottom + 72

    centres = [(x_of(n.satisfaction), y_of(n.importance)) for n in needs]
    taken: list[Box] = [(cx - _DOT, cy - _DOT, cx + _DOT, cy + _DOT) for cx, cy in centres]
    # The zone's name sits in the top-left corner: keep labels off it.
    taken.append((left + 4, top + 2, left + 300, top + 22))
    points = []
    for rank, (need, (cx, cy)) in enumerate(zip(needs, centres, strict=True), start=1):
        label = str(rank)
        lx, ly, anchor, box = _place_label(cx, cy, label, taken, (left, top, right, bottom))
        taken.append(box)
        i_low, i_high = sorted(need.importance_ci)
        s_low, s_high = sorted(need.satisfaction_ci)
        points.append(ChartPoint(
            rank=rank, key=need.key, text=need.text, label=label, cx=cx, cy=cy,
            importance_y1=y_of(i_high), importance_y2=y_of(i_low),
            satisfaction_x1=x_of(s_low), satisfaction_x2=x_of(s_high),
            label_x=round(lx, 2), label_y=round(ly, 2), anchor=anchor,
            legend_x=left, legend_y=legend_top + (rank - 1) * _LEGEND_ROW,
            legend_text=f"{rank}. {short_label(need.text)}",
            status=need.status, robust=need.robust,
            importance=need.importance, satisfaction=need.satisfaction,
            opportunity=need.opportunity,
        ))
    height = int(legend_top + max(len(needs), 1) * _LEGEND_ROW)
    return Chart(width=width, height=height, left=left, top=top, right=right, bottom=bottom,
                 x_ticks=x_ticks, y_ticks=y_ticks, zone=zone, points=tuple(points),
                 x_title=x_title, legend_top=legend_top)


# --- bar charts (counts per day or per hour) -----------------------------------------------

@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class BarChart:
    """Geometry of a simple bar chart, for a server-rendered SVG."""

    width: int
    height: int
    baseline: float
    top: float
    max_value: int
    bars: list[Bar]


def bar_chart(points: list[tuple[str, int]], *, width: int = 640, height: int = 220,
              margin_top: int = 20, margin_bottom: int = 30) -> BarChart:
    """Bars for (label, value) points, scaled so the largest value fills the height."""
    baseline = height - margin_bottom
    usable = baseline - margin_top
    highest = max((v for _, v in points), default=0)
    slot = width / max(len(points), 1)
    gap = min(slot * 0.2, 8)
    bars = []
    for i, (label, value) in enumerate(points):
        bar_height = usable * value / highest if highest else 0
        bars.append(Bar(label, value, round(i * slot + gap / 2, 2), round(baseline - bar_height, 2),
                        round(slot - gap, 2), round(bar_height, 2)))
    return BarChart(width, height, baseline, margin_top, highest, bars)
