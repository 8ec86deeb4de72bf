"""Grouped statistics round exactly like `statistics` and `math.fsum` (bit for bit)."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from challenge.judging.groupstats import Groups


def reference(keys, values):
    groups: dict[int, list[float]] = {}
    for k, v in zip(keys, values, strict=True):
        groups.setdefault(int(k), []).append(float(v))
    return dict(sorted(groups.items()))


def datasets():
    rng = np.random.default_rng(11)
    keys = rng.integers(0, 40, 400)
    yield "integers", keys, rng.integers(1, 6, 400).astype(float)
    yield "review scores", keys, 100 * rng.integers(0, 25, 400) / 24
    yield "mixed magnitudes", keys, rng.normal(0, 3, 400) * rng.choice([1, 1e-7, 1e9], 400)
    yield "tiny groups", rng.integers(0, 300, 400), rng.normal(50, 20, 400)
    yield "signed zeros", np.array([0, 0, 1, 2, 2]), np.array([-0.0, -0.0, -0.0, 0.1, 0.2])


@pytest.mark.parametrize(("name", "keys", "values"), list(datasets()),
                         ids=[d[0] for d in datasets()])
def test_means_sums_and_sds_are_bit_identical_to_the_standard_library(name, keys, values):
    groups = Groups.by(keys)
    ref = reference(keys, values)
    assert groups.keys.tolist() == list(ref)
    assert groups.counts.tolist() == [len(xs) for xs in ref.values()]
    assert groups.means(values).tolist() == [statistics.mean(xs) for xs in ref.values()]
    assert groups.fsums(values).tolist() == [math.fsum(xs) for xs in ref.values()]
    assert groups.stdevs(values, 3).tolist() == [
        statistics.stdev(xs) if len(xs) >= 3 else 0.0 for xs in ref.values()]
    assert groups.minima(values).tolist() == [min(xs) for xs in ref.values()]
    assert groups.maxima(values).tolist() == [max(xs) for xs in ref.values()]


@pytest.mark.parametrize(("name", "keys", "values"), list(datasets()),
                         ids=[d[0] for d in datasets()])
def test_means_of_others_leave_out_each_item_exactly(name, keys, values):
    got = Groups.by(keys).means_of_others(values).tolist()
    pairs = list(zip(keys.tolist(), values.tolist(), strict=True))
    for i, (k, _x) in enumerate(pairs):
        others = [v for j, (kk, v) in enumerate(pairs) if kk == k and j != i]
        if others:
            assert got[i] == statistics.mean(others)
        else:
            assert math.isnan(got[i])


FINITE = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.one_of(
    FINITE, st.integers(-50, 50).map(float), st.integers(0, 2400).map(lambda k: k / 24))),
    min_size=1, max_size=40))
def test_grouped_statistics_property(items):
    keys = np.array([k for k, _v in items])
    values = np.array([v for _k, v in items])
    groups = Groups.by(keys)
    ref = reference(keys, values)
    assert groups.means(values).tolist() == [statistics.mean(xs) for xs in ref.values()]
    assert groups.stdevs(values).tolist() == [
        statistics.stdev(xs) if len(xs) >= 2 else 0.0 for xs in ref.values()]
    assert groups.fsums(values).tolist() == [math.fsum(xs) for xs in ref.values()]
    others = groups.means_of_others(values).tolist()
    for i, k in enumerate(keys.tolist()):
        rest = [v for j, (kk, v) in enumerate(items) if kk == k and j != i]
        assert (others[i] == statistics.mean(rest)) if rest else math.isnan(others[i])


def test_expand_and_order_follow_the_items():
    groups = Groups.by(np.array([7, 3, 7, 3, 9]))
    assert groups.keys.tolist() == [3, 7, 9]
    assert groups.index.tolist() == [1, 0, 1, 0, 2]
    assert groups.order.tolist() == [1, 3, 0, 2, 4]
    assert groups.expand(np.array([10.0, 20.0, 30.0])).tolist() == [20, 10, 20, 10, 30]


def test_empty_input():
    groups = Groups.by(np.array([], dtype=np.int64))
    empty = np.array([], dtype=float)
    assert len(groups) == 0
    for result in (groups.means(empty), groups.fsums(empty), groups.stdevs(empty),
                   groups.means_of_others(empty), groups.minima(empty)):
        assert result.size == 0
