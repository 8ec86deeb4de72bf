"""Tests for surveys.stats: golden ODI vectors, scipy's Wilson interval, suppression rules."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from surveys.stats import (
    Z_95,
    NeedScore,
    bootstrap_opportunity_ci,
    is_publishable,
    need_status,
    opportunity,
    score_need,
    suppress_cells,
    top2_counts,
    wilson_interval,
)
from tests.conftest import golden as load_golden


def _golden_needs() -> list[dict]:
    return load_golden("odi.json")["needs"]


def _pairs_from_counts(n: int, ki: int, ks: int) -> list[tuple[int, int]]:
    """Build n rating pairs with exactly ki importance and ks satisfaction ratings of 4-5."""
    importance = [5] * ki + [2] * (n - ki)
    # Reverse one column so the top-2 answers are spread rather than all on the same people.
    satisfaction = ([4] * ks + [1] * (n - ks))[::-1]
    return list(zip(importance, satisfaction, strict=True))


# --- golden vectors ----------------------------------------------------------------------


def test_golden_opportunity_scores():
    needs = _golden_needs()
    assert needs, "golden file has no needs"
    for need in needs:
        score = opportunity(need["importance_top2"], need["satisfaction_top2"], need["n"])
        assert score.n == need["n"]
        assert score.importance == pytest.approx(need["importance"], abs=1e-9)
        assert score.satisfaction == pytest.approx(need["satisfaction"], abs=1e-9)
        assert score.opportunity == pytest.approx(need["opportunity"], abs=1e-9)
        assert score.importance_ci == pytest.approx(tuple(need["importance_ci"]), abs=1e-9)
        assert score.satisfaction_ci == pytest.approx(tuple(need["satisfaction_ci"]), abs=1e-9)
        assert need_status(score, 11) == need["status"], need["key"]


def test_golden_through_score_need():
    for need in _golden_needs():
        pairs = _pairs_from_counts(need["n"], need["importance_top2"], need["satisfaction_top2"])
        scored = score_need(pairs, 11)
        assert scored.status == need["status"]
        assert scored.score is not None
        assert scored.score.opportunity == pytest.approx(need["opportunity"], abs=1e-9)
        low, high = scored.opportunity_ci
        assert 0 <= low <= high <= 20
        assert scored.robust == (need["status"] == "underserved" and low >= 10)


def test_golden_boundary_need_is_underserved_exactly_at_ten():
    # N5 in the golden file sits exactly on O = 10: the rule is O >= 10, not O > 10.
    score = opportunity(15, 10, 20)
    assert score.opportunity == 10.0
    assert need_status(score, 11) == "underserved"


# --- Wilson interval against scipy ---------------------------------------------------------


def _scipy_wilson(k: int, n: int, confidence_level: float = 0.95) -> tuple[float, float]:
    stats = pytest.importorskip("scipy.stats")
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=confidence_level, method="wilson")
    return ci.low, ci.high


def test_z_95_is_the_normal_quantile():
    special = pytest.importorskip("scipy.special")
    assert Z_95 == float(special.ndtri(0.975))


def test_wilson_matches_scipy_for_all_k_small_n():
    for n in range(1, 41):
        for k in range(n + 1):
            low, high = wilson_interval(k, n)
            ref_low, ref_high = _scipy_wilson(k, n)
            assert abs(low - ref_low) <= 1e-9, (k, n)
            assert abs(high - ref_high) <= 1e-9, (k, n)


@pytest.mark.parametrize("n", [97, 270, 1000, 12_345])
def test_wilson_matches_scipy_large_n_including_edges(n):
    for k in sorted({0, 1, 2, n // 3, n // 2, n - 2, n - 1, n}):
        assert wilson_interval(k, n) == pytest.approx(_scipy_wilson(k, n), abs=1e-9)


def test_wilson_edges_are_exact():
    assert wilson_interval(0, 20)[0] == 0.0
    assert wilson_interval(20, 20)[1] == 1.0
    low, high = wilson_interval(0, 20)
    assert 0.0 < high < 0.2


def test_wilson_other_z_matches_scipy_at_that_level():
    special = pytest.importorskip("scipy.special")
    z90 = float(special.ndtri(0.95))
    for k, n in [(3, 10), (0, 7), (7, 7), (40, 270)]:
        assert wilson_interval(k, n, z=z90) == pytest.approx(
            _scipy_wilson(k, n, confidence_level=0.90), abs=1e-9
        )


@pytest.mark.parametrize("k, n", [(0, 0), (1, 0), (-1, 10), (11, 10)])
def test_wilson_rejects_impossible_counts(k, n):
    with pytest.raises(ValueError):
        wilson_interval(k, n)


# --- opportunity and status ----------------------------------------------------------------


def test_opportunity_formula():
    score = opportunity(18, 4, 20)
    assert isinstance(score, NeedScore)
    assert (score.importance, score.satisfaction, score.opportunity) == (9.0, 2.0, 16.0)
    # I < S: the gap term is clipped at zero, so O = I.
    score = opportunity(6, 15, 20)
    assert score.opportunity == score.importance == 3.0


def test_opportunity_stores_unrounded_values():
    score = opportunity(2, 1, 3)
    assert score.importance == 20 / 3
    assert score.opportunity == 10 * 3 / 3


def test_opportunity_rejects_bad_input():
    with pytest.raises(ValueError):
        opportunity(0, 0, 0)
    with pytest.raises(ValueError):
        opportunity(21, 3, 20)
    with pytest.raises(TypeError):
        opportunity(2.5, 3, 20)


def test_status_rule_order():
    # n below the cell size wins over everything, even a huge opportunity.
    assert need_status(opportunity(10, 0, 10), 11) == "insufficient data"
    assert need_status(opportunity(10, 0, 11), 11) == "underserved"
    assert need_status(opportunity(14, 16, 20), 11) == "overserved"
    assert need_status(opportunity(11, 9, 20), 11) == "served"
    # Equal I and S is served, not overserved (S > I is strict).
    assert need_status(opportunity(12, 12, 20), 11) == "served"


def test_status_threshold_is_exact_on_integers():
    # 10 * (ki + ki - ks) / n == 10 exactly in rationals for these, whatever float rounding does.
    for n in range(11, 200):
        for ki in range(n // 2, n + 1):
            ks = 2 * ki - n
            if 0 <= ks <= ki:
                assert need_status(opportunity(ki, ks, n), 11) == "underserved", (ki, ks, n)
                if ks + 1 <= n:
                    below = opportunity(ki, ks + 1, n)
                    assert need_status(below, 11) != "underserved", (ki, ks + 1, n)


@given(
    n=st.integers(min_value=1, max_value=5000),
    data=st.data(),
)
@settings(max_examples=200, deadline=None, database=None)
def test_opportunity_ranges(n, data):
    ki = data.draw(st.integers(min_value=0, max_value=n))
    ks = data.draw(st.integers(min_value=0, max_value=n))
    score = opportunity(ki, ks, n)
    assert 0 <= score.importance <= 10
    assert 0 <= score.satisfaction <= 10
    assert 0 <= score.opportunity <= 20
    assert score.opportunity >= score.importance
    for value, (low, high) in (
        (score.importance, score.importance_ci),
        (score.satisfaction, score.satisfaction_ci),
    ):
        assert 0 <= low <= value <= high <= 10


def test_is_publishable():
    assert not is_publishable(10, 11)
    assert is_publishable(11, 11)
    assert is_publishable(0, 0)


# --- bootstrap -----------------------------------------------------------------------------


def test_top2_counts():
    assert top2_counts([(5, 1), (4, 4), (3, 5), (1, 3)]) == (4, 2, 2)
    assert top2_counts([]) == (0, 0, 0)
    with pytest.raises(ValueError):
        top2_counts([(0, 3)])
    with pytest.raises(ValueError):
        top2_counts([(6, 3)])
    with pytest.raises(ValueError):
        top2_counts([(4.5, 3)])


def test_bootstrap_is_reproducible_and_seed_dependent():
    rng = np.random.default_rng(7)
    pairs = [tuple(map(int, row)) for row in rng.integers(1, 6, size=(150, 2))]
    first = bootstrap_opportunity_ci(pairs)
    assert bootstrap_opportunity_ci(pairs) == first
    assert bootstrap_opportunity_ci(list(pairs)) == first
    assert isinstance(first[0], float) and isinstance(first[1], float)
    assert bootstrap_opportunity_ci(pairs, seed=1) != first


def test_bootstrap_matches_explicit_respondent_resampling():
    # The implementation draws multinomial category counts; compare it with the textbook
    # bootstrap that resamples respondent indices (pairs kept together).
    pairs = _pairs_from_counts(60, 40, 22)
    arr = np.array(pairs)
    rng = np.random.default_rng(123)
    idx = rng.integers(0, len(arr), size=(20_000, len(arr)))
    sample = arr[idx]
    ki = (sample[..., 0] >= 4).sum(axis=1)
    ks = (sample[..., 1] >= 4).sum(axis=1)
    o = 10 * (ki + np.maximum(ki - ks, 0)) / len(arr)
    ref_low, ref_high = np.quantile(o, [0.025, 0.975])
    low, high = bootstrap_opportunity_ci(pairs, resamples=20_000)
    assert low == pytest.approx(ref_low, abs=0.35)
    assert high == pytest.approx(ref_high, abs=0.35)


def test_bootstrap_keeps_pairs_together():
    # Same marginals (30 of 60 top-2 on each part), same point estimate O = 5. When everyone
    # important is also satisfied, pairs kept together give I == S in every resample, so O = I
    # and the interval is symmetric around 5. With the parts unrelated, resamples with I > S
    # push O up. Shuffling the columns independently would make the two intervals equal.
    together = [(5, 5)] * 30 + [(1, 1)] * 30
    unrelated = [(5, 5)] * 15 + [(5, 1)] * 15 + [(1, 5)] * 15 + [(1, 1)] * 15
    assert opportunity(*top2_counts(together)[1:], 60).opportunity == 5.0
    assert opportunity(*top2_counts(unrelated)[1:], 60).opportunity == 5.0
    t_low, t_high = bootstrap_opportunity_ci(together)
    u_low, u_high = bootstrap_opportunity_ci(unrelated)
    assert t_low + t_high == pytest.approx(10.0, abs=0.4)
    assert t_high < u_high


def test_bootstrap_degenerate_data_gives_point_interval():
    assert bootstrap_opportunity_ci([(5, 1)] * 25) == (20.0, 20.0)
    assert bootstrap_opportunity_ci([(1, 5)] * 25) == (0.0, 0.0)


def test_bootstrap_contains_estimate_usually():
    rng = np.random.default_rng(99)
    inside = 0
    trials = 40
    for _ in range(trials):
        n = int(rng.integers(20, 300))
        pairs = [tuple(map(int, row)) for row in rng.integers(1, 6, size=(n, 2))]
        _, ki, ks = top2_counts(pairs)
        o = opportunity(ki, ks, n).opportunity
        low, high = bootstrap_opportunity_ci(pairs, resamples=400)
        assert low <= high
        inside += low <= o <= high
    assert inside >= 0.9 * trials


@given(
    pairs=st.lists(st.tuples(st.integers(1, 5), st.integers(1, 5)), min_size=1, max_size=80),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
@settings(max_examples=60, deadline=None, database=None)
def test_bootstrap_properties(pairs, seed):
    low, high = bootstrap_opportunity_ci(pairs, resamples=200, seed=seed)
    assert 0.0 <= low <= high <= 20.0
    assert bootstrap_opportunity_ci(pairs, resamples=200, seed=seed) == (low, high)


def test_bootstrap_rejects_bad_input():
    with pytest.raises(ValueError):
        bootstrap_opportunity_ci([])
    with pytest.raises(ValueError):
        bootstrap_opportunity_ci([(5, 5)], resamples=0)
    with pytest.raises(ValueError):
        bootstrap_opportunity_ci([(5, 5)], level=1.0)


# --- score_need ----------------------------------------------------------------------------


def test_score_need_robust_only_when_lower_bound_clears_ten():
    strong = score_need(_pairs_from_counts(200, 190, 20), 11)
    assert strong.status == "underserved"
    assert strong.opportunity_ci[0] >= 10
    assert strong.robust

    # Underserved by the point estimate but with a wide interval on few respondents.
    borderline = score_need(_pairs_from_counts(12, 8, 4), 11)
    assert borderline.status == "underserved"
    assert borderline.opportunity_ci[0] < 10
    assert not borderline.robust

    served = score_need(_pairs_from_counts(100, 50, 50), 11)
    assert served.status == "served"
    assert not served.robust


def test_score_need_insufficient_data_publishes_no_numbers():
    scored = score_need(_pairs_from_counts(10, 10, 0), 11)
    assert scored.status == "insufficient data"
    assert scored.opportunity_ci is None
    assert not scored.robust
    assert scored.as_report_fields() == {"status": "insufficient data"}

    empty = score_need([], 11)
    assert empty.n == 0 and empty.score is None and empty.status == "insufficient data"


def test_score_need_report_fields_match_contract_keys():
    fields = score_need(_pairs_from_counts(20, 18, 4), 11).as_report_fields()
    for key in (
        "n",
        "importance",
        "satisfaction",
        "opportunity",
        "importance_ci",
        "satisfaction_ci",
        "opportunity_ci",
        "status",
    ):
        assert key in fields
    assert fields["opportunity"] == 16.0
    json.dumps(fields)  # plain JSON types only


# --- suppression ---------------------------------------------------------------------------


def test_suppression_primary_and_complementary():
    # "other" (4) is too small; alone it could be derived from the total, so the next
    # smallest cell ("no answer", 15) is hidden with it.
    counts = {"t1": 120, "t2": 80, "other": 4, "no answer": 15}
    assert suppress_cells(counts, 11) == {"other", "no answer"}


def test_suppression_nothing_small_nothing_hidden():
    assert suppress_cells({"a": 11, "b": 40}, 11) == set()
    assert suppress_cells({}, 11) == set()


def test_suppression_small_cells_already_cover_threshold():
    assert suppress_cells({"a": 100, "b": 6, "c": 5}, 11) == {"b", "c"}


def test_suppression_zero_cells_are_suppressed_too():
    # A zero cell is below the threshold; hiding it alone would reveal it is 0, so a
    # complementary cell goes with it.
    assert suppress_cells({"a": 100, "b": 30, "c": 0}, 11) == {"b", "c"}


def test_suppression_tie_break_is_by_key():
    counts = {"z": 20, "y": 20, "a": 5, "x": 50}
    assert suppress_cells(counts, 11) == {"a", "y"}


def test_suppression_can_hide_everything():
    assert suppress_cells({"a": 3, "b": 4}, 11) == {"a", "b"}
    assert suppress_cells({"only": 5}, 11) == {"only"}


def test_suppression_rejects_negative_counts():
    with pytest.raises(ValueError):
        suppress_cells({"a": -1}, 11)


@given(
    counts=st.dictionaries(
        st.text(alphabet="abcdefgh", min_size=1, max_size=3),
        st.integers(min_value=0, max_value=60),
        max_size=8,
    ),
    min_cell_size=st.integers(min_value=1, max_value=25),
)
@settings(max_examples=300, deadline=None, database=None)
def test_suppression_properties(counts, min_cell_size):
    hidden = suppress_cells(counts, min_cell_size)
    assert hidden <= set(counts)
    # Every small cell is hidden.
    assert {key for key, value in counts.items() if value < min_cell_size} <= hidden
    hidden_total = sum(counts[key] for key in hidden)
    # No hidden cell can be worked out from the total: none hidden, or they cover >= min,
    # or everything is hidden (then nothing at all is published).
    assert not hidden or hidden_total >= min_cell_size or hidden == set(counts)
    # Never exactly one hidden cell next to published ones.
    assert len(hidden) != 1 or len(counts) == 1
    shown = set(counts) - hidden
    if hidden and shown:
        # Complementary cells are the smallest available ones ...
        assert min(counts[k] for k in shown) >= max(counts[k] for k in hidden)
        # ... and no more of them than needed.
        complementary = [k for k in hidden if counts[k] >= min_cell_size]
        if complementary:
            last = max(complementary, key=lambda k: (counts[k], k))
            assert hidden_total - counts[last] < min_cell_size
    # Deterministic, and independent of the mapping's order.
    assert suppress_cells(dict(reversed(list(counts.items()))), min_cell_size) == hidden
