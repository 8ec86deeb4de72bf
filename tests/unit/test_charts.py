"""surveys.charts: geometry of the opportunity chart (pure, no rendering)."""

from __future__ import annotations

import pytest

from surveys import charts
from surveys.charts import NeedPoint, opportunity_chart, short_label, underserved_zone


def need(key="a", importance=8.0, satisfaction=2.0, text=None, **extra) -> NeedPoint:
    fields = dict(key=key, text=text or f"Need {key}", importance=importance,
                  satisfaction=satisfaction, importance_ci=(importance - 1, importance + 1),
                  satisfaction_ci=(satisfaction - 1, satisfaction + 1),
                  opportunity=importance + max(importance - satisfaction, 0),
                  status="underserved")
    fields.update(extra)
    return NeedPoint(**fields)


def opportunity(satisfaction: float, importance: float) -> float:
    return importance + max(importance - satisfaction, 0)


def inside(polygon, x, y) -> bool:
    """Point in a simple polygon (ray casting); the test skips points on the boundary."""
    result = False
    for (x1, y1), (x2, y2) in zip(polygon, polygon[1:] + polygon[:1], strict=True):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            result = not result
    return result


def test_zone_at_ten_is_the_triangle_above_i_equals_half_of_ten_plus_s():
    assert underserved_zone() == ((0.0, 5.0), (10.0, 10.0), (0.0, 10.0))


@pytest.mark.parametrize("threshold", [4.0, 10.0, 13.0])
def test_zone_holds_exactly_the_points_with_enough_opportunity(threshold):
    zone = list(underserved_zone(threshold))
    for s10 in range(0, 101, 5):
        for i10 in range(0, 101, 5):
            s, i = s10 / 10, i10 / 10
            o = opportunity(s, i)
            if abs(o - threshold) < 1e-9 or s in (0.0, 10.0) or i in (0.0, 10.0):
                continue  # on the boundary either way
            assert inside(zone, s, i) == (o > threshold), (s, i, o)


def test_zone_rejects_thresholds_out_of_reach():
    for bad in (0, -1, 20, 25):
        with pytest.raises(ValueError):
            underserved_zone(bad)


def test_axes_map_zero_to_ten_onto_the_plot_area_with_ticks():
    chart = opportunity_chart([need(importance=10.0, satisfaction=0.0)], width=640,
                              plot_height=448, margin_left=56, margin_right=24, margin_top=16)
    assert (chart.left, chart.top, chart.right, chart.bottom) == (56, 16, 616, 464)
    assert [t.label for t in chart.x_ticks] == ["0", "2", "4", "6", "8", "10"]
    assert chart.x_ticks[0].position == 56 and chart.x_ticks[-1].position == 616
    assert chart.y_ticks[0].position == 464 and chart.y_ticks[-1].position == 16  # up is more
    point = chart.points[0]
    assert (point.cx, point.cy) == (56, 16)
    assert chart.zone == ((56, 240), (616, 16), (56, 16))
    assert chart.zone_points == "56,240 616,16 56,16"
    assert chart.bottom < chart.x_title[1] < chart.legend_top < chart.height


def test_points_carry_whiskers_for_both_intervals_clamped_to_the_axes():
    chart = opportunity_chart([need(importance=5.0, satisfaction=5.0,
                                    importance_ci=(4.0, 6.0), satisfaction_ci=(-1.0, 11.0))])
    p = chart.points[0]
    scale_x = (chart.right - chart.left) / 10
    scale_y = (chart.bottom - chart.top) / 10
    assert p.cx == pytest.approx(chart.left + 5 * scale_x)
    assert p.importance_y1 == pytest.approx(chart.bottom - 6 * scale_y)  # top end: high
    assert p.importance_y2 == pytest.approx(chart.bottom - 4 * scale_y)
    assert (p.satisfaction_x1, p.satisfaction_x2) == (chart.left, chart.right)  # clamped
    assert p.importance_y1 < p.cy < p.importance_y2
    assert p.satisfaction_x1 < p.cx < p.satisfaction_x2


def test_points_are_numbered_in_the_given_order_with_a_legend_line_each():
    chart = opportunity_chart([need("x", 9, 1), need("y", 6, 6), need("z", 3, 9)])
    assert [(p.rank, p.key, p.label) for p in chart.points] == [
        (1, "x", "1"), (2, "y", "2"), (3, "z", "3")]
    assert [p.legend_text for p in chart.points] == ["1. Need x", "2. Need y", "3. Need z"]
    ys = [p.legend_y for p in chart.points]
    assert ys[0] == chart.legend_top and ys == sorted(ys) and len(set(ys)) == 3
    assert all(p.legend_x == chart.left for p in chart.points)
    assert chart.height >= ys[-1]
    assert opportunity_chart([need()] * 9).height > chart.height  # the legend grows


def _boxes(chart):
    return [charts._text_box(p.label_x, p.label_y, p.label, p.anchor) for p in chart.points]


def test_rank_labels_avoid_each_other_and_the_dots_and_stay_in_the_plot():
    crowd = [need(str(k), importance=7.5 + (k % 3) * 0.3, satisfaction=2.0 + (k // 3) * 0.4)
             for k in range(9)]
    chart = opportunity_chart(crowd)
    boxes = _boxes(chart)
    dots = [(p.cx - 5, p.cy - 5, p.cx + 5, p.cy + 5) for p in chart.points]
    for i, box in enumerate(boxes):
        assert chart.left <= box[0] and box[2] <= chart.right
        assert chart.top <= box[1] and box[3] <= chart.bottom
        assert all(charts._overlap(box, other) == 0 for other in boxes[:i] + boxes[i + 1:])
        assert all(charts._overlap(box, dot) == 0 for dot in dots)
    # With room, a label sits just right of its dot.
    lone = opportunity_chart([need(importance=5, satisfaction=5)]).points[0]
    assert lone.anchor == "start" and 0 < lone.label_x - lone.cx < 10


def test_a_label_at_the_edge_moves_inside_the_plot():
    corner = opportunity_chart([need(importance=0.0, satisfaction=10.0)]).points[0]
    box = charts._text_box(corner.label_x, corner.label_y, corner.label, corner.anchor)
    assert box[2] <= corner.cx and box[3] <= corner.cy  # up and to the left


def test_short_label_cuts_at_a_word_with_an_ellipsis():
    assert short_label("Keeping steady") == "Keeping steady"
    long = "Keeping my glucose steady when I exercise in the evening after work " * 2
    cut = short_label(long)
    assert cut.endswith("…") and len(cut) <= charts._LEGEND_CHARS
    assert long.startswith(cut[:-1])
    assert short_label("x" * 100).endswith("…")
    assert short_label("  spaced\n  out  ") == "spaced out"
    assert short_label("a b c d e", limit=6) == "a b c…"


def test_empty_input_gives_axes_and_zone_but_no_points():
    chart = opportunity_chart([])
    assert chart.points == () and len(chart.x_ticks) == 6 and len(chart.zone) == 3
