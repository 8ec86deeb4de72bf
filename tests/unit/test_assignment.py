"""Balanced, conflict-free judge assignment (METHODS.md 9)."""

from __future__ import annotations

import itertools
import random
import time
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from challenge.judging.assignment import AssignmentInfeasible, assign


def loads(pairs, judges):
    counter = Counter(j for j, _e in pairs)
    return [counter[j] for j in judges]


def coverage(pairs):
    return Counter(e for _j, e in pairs)


@st.composite
def problems(draw, max_entries=7, max_judges=6):
    entries = [f"e{i}" for i in range(draw(st.integers(0, max_entries)))]
    judges = [f"j{i}" for i in range(draw(st.integers(1, max_judges)))]
    r = draw(st.integers(0, 4))
    pairs = [(j, e) for j in judges for e in entries]
    conflicts = {p for p in pairs if draw(st.booleans()) and draw(st.booleans())}
    allowed = [p for p in pairs if p not in conflicts]
    existing = {p for p in allowed if draw(st.integers(0, 5)) == 0}
    return entries, judges, r, conflicts, existing


def shortfall(entries, judges, r, conflicts, existing):
    """Entries that cannot reach r judges (brute force over the definition)."""
    out = set()
    for e in entries:
        have = sum(1 for j in judges if (j, e) in existing)
        free = sum(1 for j in judges if (j, e) not in existing and (j, e) not in conflicts)
        if have + free < r:
            out.add(e)
    return out


@settings(max_examples=200, deadline=None)
@given(problems())
def test_assignment_properties(problem):
    entries, judges, r, conflicts, existing = problem
    expected_short = shortfall(*problem)
    if expected_short:
        with pytest.raises(AssignmentInfeasible) as info:
            assign(entries, judges, r, conflicts, existing)
        assert set(info.value.entries) == expected_short
        assert isinstance(info.value, ValueError)
        return

    result = assign(entries, judges, r, conflicts, existing)
    assert result == sorted(set(result)), "sorted, no duplicate pairs"
    assert existing <= set(result), "existing assignments kept"
    assert not set(result) & conflicts, "no conflicted pair"
    assert {j for j, _ in result} <= set(judges)
    assert {e for _, e in result} <= set(entries)
    cover = coverage(result)
    have = coverage(existing)
    for e in entries:
        assert cover[e] == max(r, have[e])

    # Local optimality of the convex cost: no new pair (a, e) could move to a judge b with a
    # load at least 2 below a's (that move would lower the sum of squared loads).
    load = Counter(j for j, _ in result)
    new = set(result) - existing
    for a, e in new:
        for b in judges:
            if (b, e) not in set(result) and (b, e) not in conflicts:
                assert load[a] - load[b] <= 1, (a, b, e)

    if not conflicts and not existing:
        counts = loads(result, judges)
        assert max(counts) - min(counts) <= 1
        assert sum(counts) == r * len(entries)


def brute_force(entries, judges, r, conflicts, existing):
    """Every feasible assignment as a load vector (tiny instances only)."""
    options = []
    for e in entries:
        have = [j for j in judges if (j, e) in existing]
        free = [j for j in judges if (j, e) not in existing and (j, e) not in conflicts]
        need = max(0, r - len(have))
        options.append([[(j, e) for j in combo] for combo in itertools.combinations(free, need)])
    for choice in itertools.product(*options):
        pairs = set(existing) | {p for group in choice for p in group}
        yield loads(pairs, judges)


@settings(max_examples=80, deadline=None)
@given(problems(max_entries=3, max_judges=4))
def test_assignment_is_as_even_as_possible(problem):
    entries, judges, r, conflicts, existing = problem
    if shortfall(*problem):
        return
    counts = loads(assign(entries, judges, r, conflicts, existing), judges)
    candidates = list(brute_force(entries, judges, r, conflicts, existing))
    assert sum(c * c for c in counts) == min(sum(c * c for c in v) for v in candidates)
    assert max(counts) == min(max(v) for v in candidates)
    assert max(counts) - min(counts) == min(max(v) - min(v) for v in candidates)


@settings(max_examples=40, deadline=None)
@given(problems(), st.randoms(use_true_random=False))
def test_deterministic_and_order_independent(problem, rnd):
    entries, judges, r, conflicts, existing = problem
    if shortfall(*problem):
        return
    first = assign(entries, judges, r, conflicts, existing)
    shuffled_entries, shuffled_judges = list(entries), list(judges)
    rnd.shuffle(shuffled_entries)
    rnd.shuffle(shuffled_judges)
    assert assign(shuffled_entries, shuffled_judges, r, set(conflicts), set(existing)) == first


def test_simple_balanced_example():
    result = assign(["a", "b", "c", "d", "e"], ["x", "y", "z"], 2, set())
    assert len(result) == 10
    assert sorted(loads(result, ["x", "y", "z"])) == [3, 3, 4]
    assert all(n == 2 for n in coverage(result).values())


def test_existing_load_counts_towards_balance():
    # x already reviews b and c; the three new reviews of a, d, e go to y and z first.
    existing = {("x", "b"), ("x", "c")}
    result = assign(["a", "b", "c", "d", "e"], ["x", "y", "z"], 1, set(), existing)
    assert existing <= set(result)
    assert loads(result, ["x", "y", "z"])[0] == 2  # x gets nothing new
    assert sorted(loads(result, ["x", "y", "z"])) == [1, 2, 2]


def test_over_covered_entry_keeps_all_and_gets_none():
    existing = {("x", "a"), ("y", "a"), ("z", "a")}
    result = assign(["a", "b"], ["x", "y", "z"], 2, set(), existing)
    assert {p for p in result if p[1] == "a"} == existing
    assert coverage(result)["b"] == 2
    # Every judge starts at load 1, so b's two reviews land on two different judges.
    assert sorted(loads(result, ["x", "y", "z"])) == [1, 2, 2]


def test_conflicts_are_respected_and_balance_follows():
    judges = ["x", "y", "z"]
    entries = ["a", "b", "c", "d"]
    conflicts = {("x", "a"), ("x", "b"), ("y", "a")}
    result = assign(entries, judges, 1, conflicts)
    assert ("z", "a") in result  # the only judge free for a
    assert not set(result) & conflicts
    assert sorted(loads(result, judges)) == [1, 1, 2]


def test_infeasible_names_entries():
    conflicts = {("x", "b"), ("y", "b"), ("x", "d")}
    with pytest.raises(AssignmentInfeasible) as info:
        assign(["a", "b", "c", "d"], ["x", "y", "z"], 2, conflicts)
    assert info.value.entries == ("b",)
    assert "b" in str(info.value)

    with pytest.raises(AssignmentInfeasible) as info:
        assign(["b", "a"], ["x"], 2, set())
    assert info.value.entries == ("a", "b")


def test_zero_reviews_and_no_entries():
    assert assign([], ["x"], 3, set()) == []
    assert assign(["a"], ["x"], 0, set(), {("x", "a")}) == [("x", "a")]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"reviews_per_entry": -1}, "negative"),
        ({"entries": ["a", "a"]}, "duplicate"),
        ({"judges": ["x", "x"]}, "duplicate"),
        ({"existing": {("x", "zz")}}, "unknown"),
        ({"existing": {("x", "a")}, "conflicts": {("x", "a")}}, "conflict"),
    ],
)
def test_bad_input_raises_value_error(kwargs, match):
    args = {"entries": ["a", "b"], "judges": ["x", "y"], "reviews_per_entry": 1, "conflicts": set()}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match) as info:
        assign(**args)
    assert not isinstance(info.value, AssignmentInfeasible)


def test_realistic_size_is_fast_and_balanced():
    rng = random.Random(11)
    entries = [f"team{i:03d}" for i in range(80)]
    judges = [f"judge{i:02d}@example.org" for i in range(20)]
    conflicts = {(j, e) for j in judges for e in entries if rng.random() < 0.05}
    start = time.perf_counter()
    result = assign(entries, judges, 3, conflicts)
    assert time.perf_counter() - start < 5
    counts = loads(result, judges)
    assert sum(counts) == 240
    assert max(counts) - min(counts) <= 1
    assert all(n == 3 for n in coverage(result).values())
