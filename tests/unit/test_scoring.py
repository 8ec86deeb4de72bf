"""Rubric scores, normalisation, ranking and agreement (METHODS.md 5-8)."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from challenge.judging.scoring import (
    Criterion,
    ReviewInput,
    ReviewTable,
    competition_ranks,
    compute_results,
    compute_table,
    krippendorff_alpha_interval,
    review_score,
    review_scores,
    spearman_brown_reviews,
    zscores,
)
from tests.conftest import golden as load_golden

# One criterion scored 0..100 with weight 1: the review score equals the criterion score,
# which keeps the hand computations below readable.
PLAIN = [Criterion("overall", 1, 0, 100)]


@pytest.fixture(scope="module")
def golden():
    return load_golden("scoring.json")


@pytest.fixture(scope="module")
def kripp():
    return pytest.importorskip("krippendorff", reason="krippendorff package is a test extra")


def plain(triples, panel="expert"):
    return [ReviewInput(j, e, {"overall": s}, panel) for j, e, s in triples]


def by_entry(results):
    return {r.entry: r for r in results.entries}


def package_alpha(kripp, units):
    """krippendorff.alpha on a {unit: {coder: value}} mapping (coders x units, NaN missing)."""
    coders = sorted({c for values in units.values() for c in values})
    unit_ids = sorted(units)
    data = [[units[u].get(c, np.nan) for u in unit_ids] for c in coders]
    return kripp.alpha(
        reliability_data=np.array(data, dtype=float), level_of_measurement="interval"
    )


# ----------------------------------------------------------------------- review score


def test_golden_weighted_review(golden):
    case = golden["weighted_review"]
    criteria = [Criterion(**c) for c in case["criteria"]]
    assert review_score(criteria, case["scores"]) == pytest.approx(case["review_score"], abs=1e-12)


def test_review_score_endpoints_and_weights():
    criteria = [Criterion("a", 3, 1, 5), Criterion("b", 1, 0, 10)]
    assert review_score(criteria, {"a": 1, "b": 0}) == 0.0
    assert review_score(criteria, {"a": 5, "b": 10}) == 100.0
    # a at its top counts 3/4 of the weight.
    assert review_score(criteria, {"a": 5, "b": 0}) == 75.0
    assert review_score(criteria, {"a": 3, "b": 5}) == 50.0


def test_review_score_incomplete_is_none():
    criteria = [Criterion("a", 1, 1, 5), Criterion("b", 1, 1, 5)]
    assert review_score(criteria, {"a": 3}) is None
    assert review_score(criteria, {"a": 3, "b": None}) is None
    assert review_score(criteria, {}) is None


@pytest.mark.parametrize(
    "scores",
    [{"a": 6, "b": 3}, {"a": 0.5, "b": 3}, {"a": 6}, {"a": float("nan"), "b": 1}],
)
def test_review_score_out_of_range_raises(scores):
    criteria = [Criterion("a", 1, 1, 5), Criterion("b", 1, 1, 5)]
    with pytest.raises(ValueError, match="outside"):
        review_score(criteria, scores)


def test_review_score_rejects_unknown_criterion_and_non_numbers():
    criteria = [Criterion("a", 1, 1, 5)]
    with pytest.raises(ValueError, match="unknown"):
        review_score(criteria, {"a": 3, "zz": 2})
    with pytest.raises(ValueError, match="number"):
        review_score(criteria, {"a": "3"})
    with pytest.raises(ValueError, match="number"):
        review_score(criteria, {"a": True})


def test_invalid_rubrics_raise():
    with pytest.raises(ValueError):
        Criterion("a", 1, 5, 5)
    with pytest.raises(ValueError):
        Criterion("a", -1, 1, 5)
    with pytest.raises(ValueError):
        review_score([], {})
    with pytest.raises(ValueError, match="unique"):
        review_score([Criterion("a", 1, 1, 5), Criterion("a", 1, 1, 5)], {"a": 1})
    with pytest.raises(ValueError, match="zero"):
        review_score([Criterion("a", 0, 1, 5)], {"a": 1})


def test_equal_reviews_give_identical_floats():
    # 0.1 weights would make naive float sums depend on the order of terms.
    criteria = [Criterion("a", 0.1, 0, 3), Criterion("b", 0.2, 0, 3), Criterion("c", 0.3, 0, 3)]
    first = review_score(criteria, {"a": 3, "b": 0, "c": 1})  # 0.3 + 0 + 0.3
    second = review_score(criteria, {"a": 0, "b": 3, "c": 0})  # 0 + 0.6 + 0
    assert first == second


def exact_review_score(criteria, scores):
    """METHODS 5 in rational arithmetic, rounded once: the reference for review_scores."""
    total = sum(
        Fraction(c.weight) * (Fraction(scores[c.key]) - Fraction(c.min))
        / (Fraction(c.max) - Fraction(c.min))
        for c in criteria
    )
    return float(100 * total / sum(Fraction(c.weight) for c in criteria))


@pytest.mark.parametrize(
    "criteria",
    [
        [Criterion("a", 40, 1, 5), Criterion("b", 30, 1, 5), Criterion("c", 30, 1, 5)],
        [Criterion("a", 0.1, 0, 3), Criterion("b", 0.2, 0, 3), Criterion("c", 0.3, 0, 3)],
        [Criterion("a", 0.7, 0.5, 10), Criterion("b", 1e-5, -2, 7.25), Criterion("c", 0, 0, 1)],
    ],
    ids=["integer weights", "decimal weights", "odd ranges"],
)
def test_review_scores_of_a_matrix_are_the_exact_scores(criteria):
    rng = np.random.default_rng(5)
    rows = []
    for i in range(300):
        row = []
        for c in criteria:
            if i % 3 == 0:
                row.append(float(rng.integers(math.ceil(c.min), math.floor(c.max) + 1)))
            elif i % 3 == 1:
                row.append(float(min(c.max, max(c.min, round(rng.uniform(c.min, c.max) * 2) / 2))))
            else:
                row.append(float(rng.uniform(c.min, c.max)))
        rows.append(row)
    got = review_scores(criteria, np.array(rows))
    expected = [exact_review_score(criteria, dict(zip([c.key for c in criteria], row,
                                                      strict=True))) for row in rows]
    assert got.tolist() == expected
    assert [review_score(criteria, dict(zip([c.key for c in criteria], row, strict=True)))
            for row in rows[:20]] == expected[:20]


def test_review_scores_mark_incomplete_rows_and_reject_out_of_range():
    criteria = [Criterion("a", 1, 1, 5), Criterion("b", 1, 1, 5)]
    got = review_scores(criteria, np.array([[1.0, 5.0], [3.0, np.nan], [np.nan, np.nan]]))
    assert got[0] == 50.0 and math.isnan(got[1]) and math.isnan(got[2])
    with pytest.raises(ValueError, match="'b': score 6.0 outside 1..5"):
        review_scores(criteria, np.array([[1.0, 2.0], [1.0, 6.0]]))
    with pytest.raises(ValueError, match="outside"):
        review_scores(criteria, np.array([[np.inf, 2.0]]))


def test_results_do_not_depend_on_the_order_of_reviews():
    rng = np.random.default_rng(8)
    criteria = [Criterion("impact", 0.4, 1, 5), Criterion("design", 0.6, 1, 5)]
    panels = {"expert": 0.7, "patient": 0.3, "carer": 0.2}
    reviews = [
        ReviewInput(f"J{j}", f"E{e:02d}",
                    {"impact": float(rng.integers(1, 6)), "design": float(rng.uniform(1, 5))},
                    ("expert", "patient", "carer")[j % 3])
        for e in range(20) for j in rng.choice(9, size=int(rng.integers(1, 6)), replace=False)
    ]
    first = compute_results(criteria, reviews, "zscore", panels)
    for _ in range(3):
        shuffled = list(reviews)
        rng.shuffle(shuffled)
        assert compute_results(criteria, shuffled, "zscore", panels) == first


def test_compute_table_checks_its_columns():
    table = ReviewTable(
        judges=("A", "B"), entries=("E1",), panels=("expert", "jury"),
        judge=np.array([0, 1]), entry=np.array([0, 0]), panel=np.array([0, 1]),
        scores=np.array([[10.0], [20.0]]))
    with pytest.raises(ValueError, match="review by 'B': unknown panel 'jury'"):
        compute_table(PLAIN, table)
    twice = ReviewTable(
        judges=("A",), entries=("E1",), panels=("expert",), judge=np.array([0, 0]),
        entry=np.array([0, 0]), panel=np.array([0, 0]), scores=np.array([[10.0], [20.0]]))
    with pytest.raises(ValueError, match="judge 'A' reviewed 'E1' twice"):
        compute_table(PLAIN, twice)
    ok = ReviewTable(
        judges=("A", "B"), entries=("E1",), panels=("expert",), judge=np.array([0, 1]),
        entry=np.array([0, 0]), panel=np.array([0, 0]), scores=np.array([[10.0], [np.nan]]))
    results = compute_table(PLAIN, ok, "none")
    assert [(e.entry, e.reviews, e.raw_score) for e in results.entries] == [("E1", 1, 10.0)]


# -------------------------------------------------------------------------- z-scores


def test_golden_zscores_and_alpha_of_z(golden, kripp):
    case = golden["zscore"]
    z = zscores({(j, e): s for j, e, s in case["scores"]})
    per_entry = {}
    for (_j, e), value in z.items():
        per_entry.setdefault(e, []).append(value)
    for entry, expected in case["normalized_score"].items():
        assert np.mean(per_entry[entry]) == pytest.approx(expected, abs=1e-12)

    units = {}
    for (j, e), value in z.items():
        units.setdefault(e, {})[j] = value
    expected_alpha = case["krippendorff_alpha_of_z_values"]
    assert krippendorff_alpha_interval(units) == pytest.approx(expected_alpha, abs=1e-12)
    assert package_alpha(kripp, units) == pytest.approx(expected_alpha, abs=1e-12)


def test_golden_results_zscore_and_raw_ranking(golden, kripp):
    case = golden["zscore"]
    criteria = [Criterion("overall", 1, 1, 10)]
    reviews = [ReviewInput(j, e, {"overall": s}) for j, e, s in case["scores"]]

    results = compute_results(criteria, reviews, normalization="zscore")
    # The golden z values were computed on the 1..10 values; review scores are on 0..100,
    # an affine map of them, and z-scores are invariant under it.
    entries = by_entry(results)
    for entry, expected in case["normalized_score"].items():
        assert entries[entry].normalized_score == pytest.approx(expected, abs=1e-9)
    assert [r.entry for r in results.entries] == case["ranking"]
    assert [r.rank for r in results.entries] == [1, 2, 3, 4]

    raw = {}
    for _j, e, s in case["scores"]:
        raw.setdefault(e, []).append(100 * (s - 1) / 9)
    for entry, values in raw.items():
        assert entries[entry].raw_score == pytest.approx(np.mean(values), abs=1e-9)
        assert entries[entry].reviews == len(values)
        assert entries[entry].spread == pytest.approx(max(values) - min(values), abs=1e-9)

    unnormalised = compute_results(criteria, reviews, normalization="none")
    assert [r.entry for r in unnormalised.entries] == case["raw_ranking_would_be"]
    for r in unnormalised.entries:
        assert r.normalized_score == r.raw_score

    # Reliability is on review scores, not on z: alpha of the raw values, not the golden
    # alpha of z values.
    units = {}
    for j, e, s in case["scores"]:
        units.setdefault(e, {})[j] = 100 * (s - 1) / 9
    assert results.reliability.krippendorff_alpha == pytest.approx(
        package_alpha(kripp, units), abs=1e-9
    )
    assert results.reliability.krippendorff_alpha == pytest.approx(0.2, abs=1e-9)


def test_zscore_fallback_to_sd_all():
    scores = {
        ("A", "E1"): 10.0,  # A has only 2 reviews -> sd_all
        ("A", "E2"): 20.0,
        ("B", "E1"): 30.0,  # B has sd 0 -> sd_all
        ("B", "E2"): 30.0,
        ("B", "E3"): 30.0,
        ("C", "E1"): 40.0,  # C: 3 reviews, own sd
        ("C", "E2"): 50.0,
        ("C", "E3"): 90.0,
    }
    # mean of all = 37.5, sum of squared deviations = 4150, ddof=1 -> /7.
    sd_all = math.sqrt(4150 / 7)
    sd_c = math.sqrt((20**2 + 10**2 + 30**2) / 2)  # mean 60
    z = zscores(scores)
    assert z[("A", "E1")] == pytest.approx(-5 / sd_all)
    assert z[("A", "E2")] == pytest.approx(5 / sd_all)
    assert z[("B", "E1")] == z[("B", "E2")] == z[("B", "E3")] == 0.0
    assert z[("C", "E1")] == pytest.approx(-20 / sd_c)
    assert z[("C", "E3")] == pytest.approx(30 / sd_c)


def test_zscore_degenerate_cases_are_zero():
    assert zscores({("A", "E1"): 42.0}) == {("A", "E1"): 0.0}
    assert set(zscores({("A", "E1"): 5.0, ("B", "E1"): 5.0}).values()) == {0.0}


# -------------------------------------------------------------------------- ranking


TIE_RUBRIC = [Criterion("a", 2, 0, 10), Criterion("b", 1, 0, 10), Criterion("c", 1, 0, 10)]


@pytest.mark.parametrize("normalization", ["none", "zscore"])
def test_tie_break_on_highest_weighted_criterion_then_shared_rank(normalization):
    # Review score = 2.5 * (2a + b + c): X, Y, Z all score 30.
    rows = {
        "W": {"a": 10, "b": 10, "c": 10},  # 100
        "X": {"a": 6, "b": 0, "c": 0},  # 30, a = 6
        "Y": {"a": 4, "b": 4, "c": 0},  # 30, a = 4
        "Z": {"a": 4, "b": 2, "c": 2},  # 30, a = 4 -> shares Y's rank
        "V": {"a": 0, "b": 0, "c": 0},  # 0
    }
    # One judge reviews everything, so z is a monotone map and equal scores stay equal.
    reviews = [ReviewInput("judge", e, s) for e, s in rows.items()]
    results = compute_results(TIE_RUBRIC, reviews, normalization=normalization)
    assert [(r.entry, r.rank) for r in results.entries] == [
        ("W", 1),
        ("X", 2),
        ("Y", 3),
        ("Z", 3),
        ("V", 5),
    ]
    entries = by_entry(results)
    assert entries["X"].raw_score == entries["Y"].raw_score == entries["Z"].raw_score == 30.0


def test_tie_break_uses_first_of_equally_weighted_criteria():
    rows = {"X": {"p": 10, "q": 0}, "Y": {"p": 0, "q": 10}}
    reviews = [ReviewInput("judge", e, s) for e, s in rows.items()]
    pq = [Criterion("p", 1, 0, 10), Criterion("q", 1, 0, 10)]
    qp = [Criterion("q", 1, 0, 10), Criterion("p", 1, 0, 10)]
    assert [r.entry for r in compute_results(pq, reviews, "none").entries] == ["X", "Y"]
    assert [r.entry for r in compute_results(qp, reviews, "none").entries] == ["Y", "X"]
    assert [r.rank for r in compute_results(qp, reviews, "none").entries] == [1, 2]


def test_tie_break_uses_mean_over_reviews():
    # Both entries score 50 on average; X's mean "a" is 7, Y's is 5.
    rows = [
        ("J1", "X", {"a": 10, "b": 0, "c": 0}),  # 50
        ("J2", "X", {"a": 4, "b": 6, "c": 6}),  # 50
        ("J1", "Y", {"a": 5, "b": 5, "c": 5}),  # 50
        ("J2", "Y", {"a": 5, "b": 5, "c": 5}),  # 50
    ]
    reviews = [ReviewInput(j, e, s) for j, e, s in rows]
    results = compute_results(TIE_RUBRIC, reviews, "none")
    assert [(r.entry, r.rank) for r in results.entries] == [("X", 1), ("Y", 2)]


def test_competition_ranks_tolerance():
    keyed = {
        "a": (1.0, 0.0),
        "b": (1.0 + 1e-12, -1.0),  # higher score, but within 1e-9: tie-break decides
        "c": (1.0 - 5e-10, 5.0),
        "e": (1.0 + 3e-10, 1e-12),  # tie-break within 1e-9 of a's: shared rank
        "d": (0.5, 9.0),
        "f": (1.0 - 2e-9, 100.0),  # outside the tolerance: strictly below
    }
    assert competition_ranks(keyed) == {"c": 1, "a": 2, "e": 2, "b": 4, "f": 5, "d": 6}


def test_competition_ranks_all_equal():
    assert competition_ranks({"x": (3.0, 1.0), "y": (3.0, 1.0), "z": (3.0, 1.0)}) == {
        "x": 1,
        "y": 1,
        "z": 1,
    }


# --------------------------------------------------------------------------- panels


PANELS = {"expert": 0.7, "patient": 0.3}
EXPERT = [("A", "E1", 80), ("B", "E1", 60), ("A", "E2", 40)]
PATIENT = [("P", "E1", 20), ("P", "E2", 100), ("Q", "E3", 50)]


def test_panels_weight_raw_scores_over_panels_that_reviewed():
    reviews = plain(EXPERT) + plain(PATIENT, panel="patient")
    entries = by_entry(compute_results(PLAIN, reviews, "none", panels=PANELS))
    assert entries["E1"].raw_score == pytest.approx(0.7 * 70 + 0.3 * 20)  # 55, not the mean 53.3
    assert entries["E2"].raw_score == pytest.approx(0.7 * 40 + 0.3 * 100)  # 58
    assert entries["E3"].raw_score == pytest.approx(50)  # patients only: weights renormalised
    assert entries["E1"].reviews == 3
    assert entries["E1"].spread == 60
    assert entries["E1"].flagged


def test_panels_zscores_within_each_panel():
    reviews = plain(EXPERT) + plain(PATIENT, panel="patient")
    entries = by_entry(compute_results(PLAIN, reviews, "zscore", panels=PANELS))
    # Expert: A has 2 reviews -> sd_all(expert) = sd(80, 60, 40) = 20 -> z = +-1; B alone -> 0.
    # Patient: P has 2 reviews -> sd_all(patient) = sd(20, 100, 50); P's mean 60; Q alone -> 0.
    m = 170 / 3
    sd_patient = math.sqrt(((20 - m) ** 2 + (100 - m) ** 2 + (50 - m) ** 2) / 2)
    assert entries["E1"].normalized_score == pytest.approx(0.7 * 0.5 + 0.3 * (-40 / sd_patient))
    assert entries["E2"].normalized_score == pytest.approx(0.7 * -1 + 0.3 * (40 / sd_patient))
    assert entries["E3"].normalized_score == pytest.approx(0.0)
    assert [r.entry for r in compute_results(PLAIN, reviews, "zscore", PANELS).entries] == [
        "E1",
        "E3",
        "E2",
    ]


def test_unknown_or_bad_panel_raises():
    with pytest.raises(ValueError, match="panel"):
        compute_results(PLAIN, plain(PATIENT, panel="patient"))
    with pytest.raises(ValueError, match="weight"):
        compute_results(PLAIN, plain(EXPERT), panels={"expert": 0})


# ------------------------------------------------------------------ judges, spread


def test_leniency_mean_and_reviews_hand_computed():
    reviews = plain(
        [
            ("A", "E1", 80),
            ("B", "E1", 60),
            ("C", "E1", 70),
            ("A", "E2", 50),
            ("B", "E2", 40),
            ("A", "E3", 90),  # nobody else: not part of A's leniency
            ("D", "E4", 30),
        ]
    )
    judges = {j.judge: j for j in compute_results(PLAIN, reviews).judges}
    assert list(judges) == ["A", "B", "C", "D"]
    # A: (80 - 65) and (50 - 40) -> 12.5; B: (60 - 75) and (40 - 50) -> -12.5; C: 70 - 70.
    assert judges["A"].leniency == pytest.approx(12.5)
    assert judges["B"].leniency == pytest.approx(-12.5)
    assert judges["C"].leniency == pytest.approx(0.0)
    assert judges["D"].leniency is None
    assert judges["A"].reviews == 3
    assert judges["A"].mean == pytest.approx(220 / 3)
    assert judges["D"].mean == 30


def test_spread_and_flag_threshold():
    reviews = plain(
        [("A", "E1", 10), ("B", "E1", 50), ("A", "E2", 10), ("B", "E2", 49.5), ("A", "E3", 99)]
    )
    entries = by_entry(compute_results(PLAIN, reviews, "none"))
    assert (entries["E1"].spread, entries["E1"].flagged) == (40, True)
    assert (entries["E2"].spread, entries["E2"].flagged) == (39.5, False)
    assert (entries["E3"].spread, entries["E3"].flagged) == (0, False)


def test_incomplete_reviews_do_not_count():
    criteria = [Criterion("a", 1, 0, 10), Criterion("b", 1, 0, 10)]
    reviews = [
        ReviewInput("A", "E1", {"a": 10, "b": 10}),
        ReviewInput("B", "E1", {"a": 0}),  # incomplete: ignored
        ReviewInput("A", "E2", {"a": 5, "b": None}),  # E2 has no complete review
    ]
    results = compute_results(criteria, reviews, "none")
    assert [(r.entry, r.reviews, r.raw_score) for r in results.entries] == [("E1", 1, 100.0)]
    assert results.unscored == ("E2",)
    assert [j.judge for j in results.judges] == ["A"]
    assert results.reliability.krippendorff_alpha is None
    assert results.reviews_for_alpha_08 is None


def test_compute_results_rejects_bad_input():
    with pytest.raises(ValueError, match="twice"):
        compute_results(PLAIN, plain([("A", "E1", 1), ("A", "E1", 2)]))
    with pytest.raises(ValueError, match="normalization"):
        compute_results(PLAIN, plain([("A", "E1", 1)]), normalization="rank")
    with pytest.raises(ValueError, match="outside"):
        compute_results(PLAIN, plain([("A", "E1", 101)]))


def test_empty_results():
    results = compute_results(PLAIN, [])
    assert results.entries == () and results.judges == () and results.unscored == ()
    assert results.reliability.krippendorff_alpha is None
    assert results.reliability.per_criterion == {"overall": None}


# ------------------------------------------------------------------------ reliability


def random_units(rng, n_units, n_coders, p_missing, integer):
    units = {}
    for u in range(n_units):
        row = {}
        for c in range(n_coders):
            if rng.random() >= p_missing:
                row[f"c{c}"] = float(rng.integers(1, 6)) if integer else float(rng.normal(50, 20))
        units[f"u{u}"] = row
    return units


def test_alpha_matches_package_on_random_incomplete_data(kripp):
    rng = np.random.default_rng(20270115)
    compared = 0
    for trial in range(120):
        units = random_units(
            rng,
            n_units=int(rng.integers(2, 25)),
            n_coders=int(rng.integers(2, 7)),
            p_missing=float(rng.uniform(0, 0.6)),
            integer=trial % 2 == 0,
        )
        ours = krippendorff_alpha_interval(units)
        if ours is None:
            continue
        assert ours == pytest.approx(package_alpha(kripp, units), abs=1e-9)
        compared += 1
    assert compared > 100


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(
            st.one_of(st.none(), st.integers(0, 10).map(float)),
            min_size=2,
            max_size=6,
        ),
        min_size=1,
        max_size=10,
    )
)
def test_alpha_matches_package_property(kripp, rows):
    units = {f"u{i}": {f"c{c}": v for c, v in enumerate(row)} for i, row in enumerate(rows)}
    ours = krippendorff_alpha_interval(units)
    pairable = [
        v for row in rows if sum(v is not None for v in row) >= 2 for v in row if v is not None
    ]
    if len(set(pairable)) < 2:
        assert ours is None
        return
    assert ours is not None
    assert ours == pytest.approx(package_alpha(kripp, units), abs=1e-9)


def test_alpha_perfect_agreement_and_affine_invariance():
    units = {"u1": {"a": 1.0, "b": 1.0}, "u2": {"a": 4.0, "b": 4.0, "c": 4.0}, "u3": {"a": 2.0}}
    assert krippendorff_alpha_interval(units) == 1.0
    rng = np.random.default_rng(7)
    units = random_units(rng, 12, 4, 0.3, integer=False)
    shifted = {u: {c: 1e6 + 3 * v for c, v in row.items()} for u, row in units.items()}
    assert krippendorff_alpha_interval(shifted) == pytest.approx(
        krippendorff_alpha_interval(units), abs=1e-9
    )


def test_alpha_undefined_cases():
    assert krippendorff_alpha_interval({}) is None
    assert krippendorff_alpha_interval({"u1": {"a": 1.0}, "u2": {"b": 3.0}}) is None
    assert krippendorff_alpha_interval({"u1": {"a": 2.0, "b": 2.0}}) is None
    # None and NaN are missing values, not zeros.
    with_gaps = {"u1": {"a": 1.0, "b": None, "c": 2.0}, "u2": {"a": float("nan"), "b": 5.0}}
    assert krippendorff_alpha_interval(with_gaps) == krippendorff_alpha_interval(
        {"u1": {"a": 1.0, "c": 2.0}}
    )


def test_results_reliability_matches_package(kripp):
    rng = np.random.default_rng(3)
    criteria = [Criterion("impact", 40, 1, 5), Criterion("feasibility", 30, 1, 5)]
    reviews = []
    for e in range(15):
        for j in rng.choice(6, size=3, replace=False):
            reviews.append(
                ReviewInput(
                    f"J{j}",
                    f"E{e:02d}",
                    {"impact": int(rng.integers(1, 6)), "feasibility": int(rng.integers(1, 6))},
                )
            )
    results = compute_results(criteria, reviews)
    overall = {}
    per = {"impact": {}, "feasibility": {}}
    for r in reviews:
        overall.setdefault(r.entry, {})[r.judge] = review_score(criteria, r.scores)
        for key in per:
            per[key].setdefault(r.entry, {})[r.judge] = r.scores[key]
    assert results.reliability.krippendorff_alpha == pytest.approx(
        package_alpha(kripp, overall), abs=1e-9
    )
    for key, units in per.items():
        assert results.reliability.per_criterion[key] == pytest.approx(
            package_alpha(kripp, units), abs=1e-9
        )
    assert results.reviews_for_alpha_08 == spearman_brown_reviews(
        results.reliability.krippendorff_alpha
    )


def test_spearman_brown():
    # Mean of k single ratings with reliability a: k a / (1 + (k - 1) a) = 0.8.
    assert spearman_brown_reviews(0.5) == 4
    assert spearman_brown_reviews(0.2) == 16
    assert spearman_brown_reviews(0.8) == 1
    assert spearman_brown_reviews(0.95) == 1
    assert spearman_brown_reviews(0.3) == math.ceil(0.8 * 0.7 / (0.3 * 0.2))  # 9.33 -> 10
    assert spearman_brown_reviews(0.5, current_reviews=3) == 12
    assert spearman_brown_reviews(0.0) is None
    assert spearman_brown_reviews(-0.2) is None
    assert spearman_brown_reviews(None) is None
    for k in (2, 3, 7):
        a = 0.8 / (k - (k - 1) * 0.8)  # exactly k reviews needed
        assert spearman_brown_reviews(a) == k
