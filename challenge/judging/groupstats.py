"""Per-group sums, means and sds of numpy arrays, rounded exactly like `statistics`/`fsum`.

`scoring` computes every grouped statistic (an entry's mean score, a judge's sd, the sums
inside Krippendorff's alpha) through `Groups`. Each result is the exact value rounded once
to the nearest float: the float `statistics.mean`, `statistics.stdev` and `math.fsum` give.
So results do not depend on the order in which reviews arrive, and mathematically equal
inputs give identical floats (ties, sd == 0 and spreads stay exact).

Integer-valued data (criterion scores, usually) takes a vectorised path: float sums of
integers stay exact below 2**53. Other data is turned into integers exactly (each float is
``mantissa * 2**exponent``; numpy shifts a group's mantissas to the group's smallest
exponent) and summed with Python's exact integers, then divided once (int / int is
correctly rounded). A group whose exponents are too far apart for int64 shifts falls back
to `float.as_integer_ratio`, one value at a time.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from operator import mul

import numpy as np

#: Below this, sums of integer-valued floats are exact in any order.
_EXACT_FLOAT_INTEGERS = 2.0**52


def _is_small_integers(values: np.ndarray) -> bool:
    return bool(np.all(values == np.rint(values))) and float(
        np.abs(values).sum()) < _EXACT_FLOAT_INTEGERS


#: A group's mantissas (< 2**53) may be shifted this far and stay int64.
_MAX_SHIFT = 9
#: Smallest normal float: below it, scaling by a power of two is not exact.
_TINY = 2.0**-1021


def _exact_sum(xs: list[float]) -> tuple[int, int]:
    """The exact sum of finite floats as numerator / power-of-two denominator."""
    total, scale = 0, 1
    for x in xs:
        n, d = x.as_integer_ratio()
        if d > scale:
            total *= d // scale
            scale = d
        else:
            n *= scale // d
        total += n
    return total, scale


def _sqrt_ratio(n: int, d: int) -> float:
    """sqrt(n / d) for integers n >= 0, d > 0, correctly rounded.

    The integer square root is taken with at least 56 significant bits and rounded to odd
    (its last bit records whether it was exact), so the one rounding to 53 bits in
    int -> float is the correct one (the method `statistics.stdev` uses).
    """
    if n == 0:
        return 0.0
    q = (n.bit_length() - d.bit_length() - 112) // 2
    num, den = (n, d << (2 * q)) if q >= 0 else (n << (-2 * q), d)
    root = math.isqrt(num // den)
    root |= root * root * den != num
    return math.ldexp(float(root), q)


@dataclass(frozen=True)
class _Integers:
    """Sorted values as exact integers: item i is ``ints[i] * 2**exponent[g]`` in group g;
    ``fits[g]`` is False where the group's exponents are too far apart (use floats)."""

    ints: list[int]
    exponent: list[int]
    fits: list[bool]


@dataclass(frozen=True)
class Groups:
    """Items grouped by an integer key.

    ``index[i]`` is item i's group; ``order`` sorts the items group by group (stably), so
    group g is the run ``starts[g]:starts[g] + counts[g]`` of the sorted items; ``keys[g]``
    is its key (ascending). Statistics take values in item order and return one per group.
    """

    keys: np.ndarray
    index: np.ndarray
    counts: np.ndarray
    order: np.ndarray
    starts: np.ndarray

    @classmethod
    def by(cls, keys: np.ndarray) -> Groups:
        """Group items by ``keys`` (integers, one per item)."""
        keys = np.asarray(keys, dtype=np.int64)
        uniq, index, counts = np.unique(keys, return_inverse=True, return_counts=True)
        index = index.reshape(-1)
        starts = np.zeros(len(uniq), dtype=np.int64)
        np.cumsum(counts[:-1], out=starts[1:])
        return cls(uniq, index, counts, np.argsort(index, kind="stable"), starts)

    def __len__(self) -> int:
        return len(self.keys)

    def expand(self, per_group: np.ndarray) -> np.ndarray:
        """Each item's group value, in item order."""
        return per_group[self.index]

    def _runs(self, values: np.ndarray) -> tuple[list[float], list[tuple[int, int]]]:
        flat = values[self.order].tolist()
        ends = (self.starts + self.counts).tolist()
        return flat, list(zip(self.starts.tolist(), ends, strict=True))

    def _integers(self, values: np.ndarray) -> _Integers:
        mantissa, exponent = np.frexp(values[self.order])
        ints = (mantissa * 2.0**53).astype(np.int64)  # exact: |mantissa| < 1
        exps = exponent.astype(np.int64) - 53
        zero = ints == 0
        exps[zero] = np.iinfo(np.int64).max  # a zero fits any exponent
        low = np.minimum.reduceat(exps, self.starts)
        low[low == np.iinfo(np.int64).max] = 0  # all zeros
        shift = exps - low[np.repeat(np.arange(len(self)), self.counts)]
        shift[zero] = 0
        fits = np.logical_and.reduceat(shift <= _MAX_SHIFT, self.starts)
        shifted = np.left_shift(ints, np.where(shift <= _MAX_SHIFT, shift, 0))
        return _Integers(shifted.tolist(), low.tolist(), fits.tolist())

    def fsums(self, values: np.ndarray) -> np.ndarray:
        """``math.fsum`` of each group."""
        values = np.asarray(values, dtype=float)
        if not len(self):
            return np.zeros(0)
        if _is_small_integers(values):
            return np.add.reduceat(values[self.order], self.starts)
        flat, runs = self._runs(values)
        return np.array([math.fsum(flat[a:b]) for a, b in runs])

    def means(self, values: np.ndarray) -> np.ndarray:
        """``statistics.mean`` of each group: the exact mean, correctly rounded."""
        values = np.asarray(values, dtype=float)
        if not len(self):
            return np.zeros(0)
        if _is_small_integers(values):
            return np.add.reduceat(values[self.order], self.starts) / self.counts
        flat, runs = self._runs(values)
        exact = self._integers(values)
        out = []
        for g, (a, b) in enumerate(runs):
            if exact.fits[g]:
                # int / int is correctly rounded, as float(Fraction) in statistics.mean is.
                mean = math.ldexp(sum(exact.ints[a:b]) / (b - a), exact.exponent[g])
                if mean == 0 or abs(mean) >= _TINY:
                    out.append(mean)
                    continue
            total, scale = _exact_sum(flat[a:b])
            out.append(total / (scale * (b - a)))
        return np.array(out)

    def means_of_others(self, values: np.ndarray) -> np.ndarray:
        """For each item, ``statistics.mean`` of the other items of its group (item order);
        NaN for an item alone in its group."""
        values = np.asarray(values, dtype=float)
        others = self.counts[self.index] - 1
        out = np.full(len(values), np.nan)
        if not len(values):
            return out
        if _is_small_integers(values):
            sums = np.add.reduceat(values[self.order], self.starts)[self.index]
            shared = others > 0
            out[shared] = (sums[shared] - values[shared]) / others[shared]
            return out
        flat, runs = self._runs(values)
        exact = self._integers(values)
        sorted_out: list[float] = []
        for g, (a, b) in enumerate(runs):
            if b - a < 2:
                sorted_out.append(math.nan)
                continue
            if exact.fits[g]:
                ints, e = exact.ints[a:b], exact.exponent[g]
                total, divisor = sum(ints), b - a - 1
                means = [math.ldexp((total - n) / divisor, e) for n in ints]
                if all(m == 0 or abs(m) >= _TINY for m in means):
                    sorted_out.extend(means)
                    continue
            xs = flat[a:b]
            total, scale = _exact_sum(xs)
            divisor = scale * (b - a - 1)
            for x in xs:
                n, d = x.as_integer_ratio()
                sorted_out.append((total - n * (scale // d)) / divisor)
        out[self.order] = sorted_out
        return out

    def stdevs(self, values: np.ndarray, min_count: int = 2) -> np.ndarray:
        """``statistics.stdev`` of each group with at least ``min_count`` (>= 2) items,
        else 0.0."""
        values = np.asarray(values, dtype=float)
        out = np.zeros(len(self))
        if not len(self):
            return out
        flat, runs = self._runs(values)
        exact = self._integers(values)
        for g, (a, b) in enumerate(runs):
            m = b - a
            if m < max(2, min_count):
                continue
            if exact.fits[g]:
                ints = exact.ints[a:b]
                total = sum(ints)
                # Exact variance: (m sum x^2 - (sum x)^2) / (m (m - 1)), in units 4**e.
                sd = math.ldexp(_sqrt_ratio(m * sum(map(mul, ints, ints)) - total * total,
                                            m * (m - 1)), exact.exponent[g])
                if sd == 0 or sd >= _TINY:
                    out[g] = sd
                    continue
            out[g] = statistics.stdev(flat[a:b])
        return out

    def minima(self, values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=float)
        if not len(self):
            return np.zeros(0)
        return np.minimum.reduceat(values[self.order], self.starts)

    def maxima(self, values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=float)
        if not len(self):
            return np.zeros(0)
        return np.maximum.reduceat(values[self.order], self.starts)
