"""Survey statistics: opportunity scores, their uncertainty, and small-cell suppression.

Pure functions over plain data (METHODS.md sections 1 and 2). This module imports only the
standard library and numpy so that it can be used anywhere (CLI, web, background jobs) and
tested without a database or an app context. scipy is deliberately *not* a runtime
dependency: the tests check the Wilson interval against ``scipy.stats.binomtest``.

All numbers are returned unrounded; rounding is a display concern.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = [
    "DEFAULT_MIN_CELL_SIZE",
    "DEFAULT_RESAMPLES",
    "DEFAULT_SEED",
    "Z_95",
    "NeedScore",
    "ScoredNeed",
    "Status",
    "bootstrap_opportunity_ci",
    "is_publishable",
    "need_status",
    "opportunity",
    "score_need",
    "suppress_cells",
    "top2_counts",
    "wilson_interval",
]

# The two-sided 95% normal quantile, i.e. scipy.special.ndtri(0.975), to full double precision.
# METHODS.md quotes it rounded as 1.959964; using the rounded value shifts interval bounds by
# up to ~2e-8, which would break the required 1e-9 agreement with
# scipy.stats.binomtest(...).proportion_ci(method="wilson") and with golden/odi.json.
Z_95 = 1.959963984540054

DEFAULT_MIN_CELL_SIZE = 11
DEFAULT_RESAMPLES = 1000
# A fixed default seed so the published interval for the same data never changes between runs.
DEFAULT_SEED = 20270101

INSUFFICIENT = "insufficient data"
UNDERSERVED = "underserved"
OVERSERVED = "overserved"
SERVED = "served"

Status = Literal["insufficient data", "underserved", "overserved", "served"]

# Ratings of 4 or 5 ("top-2 box") count as important / satisfied.
_TOP2_THRESHOLD = 4
_RATING_MIN, _RATING_MAX = 1, 5


@dataclass(frozen=True)
class NeedScore:
    """Opportunity score of one need among the ``n`` respondents who rated both parts.

    ``importance``, ``satisfaction`` and ``opportunity`` are on the 0-10 / 0-10 / 0-20 scales;
    the two ``*_ci`` are 95% Wilson intervals on the underlying proportions, multiplied by 10.
    The top-2 counts are kept so that decisions (status) can be made exactly on integers.
    """

    n: int
    importance_top2: int
    satisfaction_top2: int
    importance: float
    satisfaction: float
    opportunity: float
    importance_ci: tuple[float, float]
    satisfaction_ci: tuple[float, float]


@dataclass(frozen=True)
class ScoredNeed:
    """Everything the report needs about one need question.

    ``score`` is None only when nobody rated both parts (n == 0). ``opportunity_ci`` is None
    when the status is "insufficient data": nothing numeric is published then, so the
    bootstrap is not run. ``robust`` is True only for an underserved need whose bootstrap
    lower bound of the opportunity is at least 10.
    """

    n: int
    status: Status
    score: NeedScore | None
    opportunity_ci: tuple[float, float] | None
    robust: bool

    def as_report_fields(self) -> dict[str, object]:
        """Return the numeric fields of a ``needs`` entry of the insights report (CONTRACTS.md).

        For "insufficient data" only the status is returned: METHODS.md says no numbers are
        published for such a need, not even n.
        """
        if self.status == INSUFFICIENT or self.score is None:
            return {"status": self.status}
        s = self.score
        fields: dict[str, object] = {
            "n": s.n,
            "importance": s.importance,
            "satisfaction": s.satisfaction,
            "opportunity": s.opportunity,
            "importance_ci": list(s.importance_ci),
            "satisfaction_ci": list(s.satisfaction_ci),
            "opportunity_ci": list(self.opportunity_ci) if self.opportunity_ci else None,
            "status": self.status,
        }
        if self.robust:
            fields["robust"] = True
        return fields


def _check_count(name: str, value: int) -> None:
    # bool is an int subclass; a True/False count is almost certainly a caller bug.
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an integer, got {value!r}")


def wilson_interval(k: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """Return the Wilson score interval ``(low, high)`` for ``k`` successes out of ``n``.

    Same formula and edge handling as ``scipy.stats.binomtest(k, n).proportion_ci(
    method="wilson")`` (Newcombe 1998): the bound is exactly 0.0 when k == 0 and exactly 1.0
    when k == n. The default ``z`` is the 95% two-sided quantile (see ``Z_95``).

    Raises ValueError when n <= 0 (there is no proportion to estimate) or k is outside 0..n.
    """
    _check_count("k", k)
    _check_count("n", n)
    if n <= 0:
        raise ValueError("wilson_interval needs n > 0")
    if not 0 <= k <= n:
        raise ValueError(f"k must be between 0 and n ({n}), got {k}")
    if not z > 0:
        raise ValueError("z must be positive")
    k, n = int(k), int(n)
    # Written exactly as scipy writes it so that the floating-point results agree to the ulp,
    # not merely to the tolerance.
    p = k / n
    q = 1 - p
    denom = 2 * (n + z**2)
    center = (2 * n * p + z**2) / denom
    delta = z / denom * math.sqrt(4 * n * p * q + z**2)
    low = 0.0 if k == 0 else center - delta
    high = 1.0 if k == n else center + delta
    return (low, high)


def opportunity(importance_top2: int, satisfaction_top2: int, n: int) -> NeedScore:
    """Compute the ODI opportunity score from integer top-2 counts (METHODS.md section 1).

    ``importance_top2`` / ``satisfaction_top2`` are how many of the ``n`` respondents (who
    rated both parts) gave 4 or 5. Returns I = 10*ki/n, S = 10*ks/n, O = I + max(I - S, 0)
    and the Wilson intervals x10. Raises ValueError for n <= 0 or counts outside 0..n.
    """
    for name, value in (
        ("importance_top2", importance_top2),
        ("satisfaction_top2", satisfaction_top2),
        ("n", n),
    ):
        _check_count(name, value)
    if n <= 0:
        raise ValueError("opportunity needs n > 0")
    ki, ks, n = int(importance_top2), int(satisfaction_top2), int(n)
    if not (0 <= ki <= n and 0 <= ks <= n):
        raise ValueError(f"top-2 counts must be between 0 and n ({n}), got {ki} and {ks}")
    i_low, i_high = wilson_interval(ki, n)
    s_low, s_high = wilson_interval(ks, n)
    return NeedScore(
        n=n,
        importance_top2=ki,
        satisfaction_top2=ks,
        importance=10 * ki / n,
        satisfaction=10 * ks / n,
        # One division of an exact integer numerator, rather than I + max(I - S, 0) on floats,
        # so O is the correctly rounded value of the exact rational.
        opportunity=10 * (ki + max(ki - ks, 0)) / n,
        importance_ci=(10 * i_low, 10 * i_high),
        satisfaction_ci=(10 * s_low, 10 * s_high),
    )


def need_status(score: NeedScore, min_cell_size: int = DEFAULT_MIN_CELL_SIZE) -> Status:
    """Classify a need, applying the METHODS.md rules in their order.

    1. "insufficient data" when n < min_cell_size;
    2. "underserved" when O >= 10;
    3. "overserved" when S > I;
    4. "served" otherwise.
    """
    if not is_publishable(score.n, min_cell_size):
        return INSUFFICIENT
    ki, ks, n = score.importance_top2, score.satisfaction_top2, score.n
    # Decide on integers: O >= 10 <=> 10*(ki + max(ki-ks, 0))/n >= 10. Comparing the float O
    # could misclassify a need sitting exactly on the threshold (e.g. 9.999999999999998).
    if ki + max(ki - ks, 0) >= n:
        return UNDERSERVED
    if ks > ki:
        return OVERSERVED
    return SERVED


def _as_pairs(pairs: Sequence[tuple[int, int]]) -> np.ndarray:
    arr = np.asarray(pairs)
    if arr.size == 0:
        return np.zeros((0, 2), dtype=np.int64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError("pairs must be a sequence of (importance, satisfaction) pairs")
    if not np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_:
        raise ValueError("ratings must be integers")
    if arr.min() < _RATING_MIN or arr.max() > _RATING_MAX:
        raise ValueError(f"ratings must be between {_RATING_MIN} and {_RATING_MAX}")
    return arr.astype(np.int64, copy=False)


def top2_counts(pairs: Sequence[tuple[int, int]]) -> tuple[int, int, int]:
    """Return ``(n, importance_top2, satisfaction_top2)`` for paired 1-5 ratings.

    ``pairs`` must only hold respondents who rated both parts; the caller drops the others.
    """
    arr = _as_pairs(pairs)
    top = arr >= _TOP2_THRESHOLD
    return int(arr.shape[0]), int(top[:, 0].sum()), int(top[:, 1].sum())


def bootstrap_opportunity_ci(
    pairs: Sequence[tuple[int, int]],
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval ``(low, high)`` for the opportunity score O.

    ``pairs`` are (importance, satisfaction) ratings 1..5 of the respondents who rated both.
    Each bootstrap sample redraws n whole respondents with replacement, so a respondent's two
    ratings stay together. The same input, ``resamples``, ``seed`` and ``level`` always give
    the same interval (numpy ``default_rng(seed)``).

    Raises ValueError on empty input, bad ratings, resamples < 1 or level outside (0, 1).
    """
    arr = _as_pairs(pairs)
    n = arr.shape[0]
    if n == 0:
        raise ValueError("bootstrap needs at least one respondent")
    if isinstance(resamples, bool) or int(resamples) != resamples or resamples < 1:
        raise ValueError("resamples must be a positive integer")
    if not 0 < level < 1:
        raise ValueError("level must be between 0 and 1")

    return bootstrap_table_ci(table_from_pairs(arr), resamples=resamples, seed=seed,
                              level=level)


@dataclass(frozen=True)
class TopBoxTable:
    """Respondents who rated both parts of a need, by (important?, satisfied?).

    Everything the opportunity score and its bootstrap depend on, so the database can
    count it with one GROUP BY instead of handing over every rating.
    """

    both: int
    important_only: int
    satisfied_only: int
    neither: int

    @property
    def n(self) -> int:
        return self.both + self.important_only + self.satisfied_only + self.neither

    @property
    def importance_top2(self) -> int:
        return self.both + self.important_only

    @property
    def satisfaction_top2(self) -> int:
        return self.both + self.satisfied_only


def table_from_pairs(pairs: Sequence[tuple[int, int]]) -> TopBoxTable:
    """Count paired 1-5 ratings into a TopBoxTable."""
    arr = _as_pairs(pairs)
    top = arr >= _TOP2_THRESHOLD
    both = int(np.sum(top[:, 0] & top[:, 1]))
    imp_only = int(np.sum(top[:, 0] & ~top[:, 1]))
    sat_only = int(np.sum(~top[:, 0] & top[:, 1]))
    return TopBoxTable(both, imp_only, sat_only, int(arr.shape[0]) - both - imp_only - sat_only)


def bootstrap_table_ci(
    table: TopBoxTable,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of O from a TopBoxTable (see bootstrap_opportunity_ci)."""
    n = table.n
    if n == 0:
        raise ValueError("bootstrap needs at least one respondent")
    if isinstance(resamples, bool) or int(resamples) != resamples or resamples < 1:
        raise ValueError("resamples must be a positive integer")
    if not 0 < level < 1:
        raise ValueError("level must be between 0 and 1")
    # O depends on a resample only through how many drawn respondents fall in each of the four
    # (important?, satisfied?) combinations. Drawing n respondents with replacement therefore
    # gives exactly multinomial(n, observed shares) counts of those combinations, so we draw
    # the counts directly: the same bootstrap distribution as resampling respondent indices,
    # with O(resamples) memory instead of O(resamples * n).
    shares = np.array([table.both, table.important_only, table.satisfied_only, table.neither],
                      dtype=np.float64) / n

    rng = np.random.default_rng(seed)
    draws = rng.multinomial(n, shares, size=int(resamples))
    ki = draws[:, 0] + draws[:, 1]
    ks = draws[:, 0] + draws[:, 2]
    # Same exact-numerator form as opportunity(), so a resample equal to the data gives the
    # same O bit for bit.
    o = 10.0 * (ki + np.maximum(ki - ks, 0)) / n

    tail = (1.0 - level) / 2.0
    low, high = np.quantile(o, [tail, 1.0 - tail])
    return (float(low), float(high))


def score_need(
    pairs: Sequence[tuple[int, int]],
    min_cell_size: int = DEFAULT_MIN_CELL_SIZE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    level: float = 0.95,
) -> ScoredNeed:
    """Score one need from its paired ratings: NeedScore, status, bootstrap CI, robust flag.

    ``pairs`` must only hold respondents who rated both importance and satisfaction. The
    bootstrap runs only when the need is publishable (n >= min_cell_size).
    """
    return score_table(table_from_pairs(pairs), min_cell_size, resamples, seed, level)


def score_table(
    table: TopBoxTable,
    min_cell_size: int = DEFAULT_MIN_CELL_SIZE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    level: float = 0.95,
) -> ScoredNeed:
    """Score one need from its TopBoxTable: NeedScore, status, bootstrap CI, robust flag."""
    n, ki, ks = table.n, table.importance_top2, table.satisfaction_top2
    if n == 0:
        return ScoredNeed(n=0, status=INSUFFICIENT, score=None, opportunity_ci=None, robust=False)
    score = opportunity(ki, ks, n)
    status = need_status(score, min_cell_size)
    if status == INSUFFICIENT:
        return ScoredNeed(n=n, status=status, score=score, opportunity_ci=None, robust=False)
    ci = bootstrap_table_ci(table, resamples=resamples, seed=seed, level=level)
    robust = status == UNDERSERVED and ci[0] >= 10
    return ScoredNeed(n=n, status=status, score=score, opportunity_ci=ci, robust=robust)


def is_publishable(n: int, min_cell_size: int = DEFAULT_MIN_CELL_SIZE) -> bool:
    """Return True when a group of ``n`` respondents is large enough to publish anything about."""
    if min_cell_size < 0:
        raise ValueError("min_cell_size must not be negative")
    return n >= min_cell_size


def suppress_cells(
    counts: Mapping[str, int],
    min_cell_size: int = DEFAULT_MIN_CELL_SIZE,
    forced: Iterable[str] = (),
) -> set[str]:
    """Return the keys of the cells to suppress within ONE segment question (METHODS.md s. 2).

    ``counts`` maps each cell (one answer value) to its number of respondents. Pass the
    respondents who did not answer as an ordinary cell (for example under the key
    ``"no answer"``): they are part of the published total, so leaving them out would let a
    reader subtract their way to a hidden cell.

    Rules:
    1. Primary suppression: every cell with count < min_cell_size, **including zero-count
       cells**. We suppress zeros too because publishing "0" is itself a count below the
       threshold and treating all small counts alike keeps the rule simple to audit; the
       cost is that an empty option can pull a neighbouring small cell into complementary
       suppression.
    2. Complementary suppression: if any cell is suppressed and the suppressed cells together
       cover fewer than min_cell_size respondents, suppress the next smallest remaining cell
       (ties broken by key, so the result is deterministic) and repeat until they cover at
       least min_cell_size respondents or every cell is suppressed.

    So the hidden total is either zero cells or at least min_cell_size respondents, and no
    single hidden count can be recovered from the published total.

    ``forced`` names cells that must be hidden whatever their size (for example cells
    already hidden at a coarser level); they count towards the hidden total.
    """
    if min_cell_size < 0:
        raise ValueError("min_cell_size must not be negative")
    for key, value in counts.items():
        _check_count(f"count of {key!r}", value)
        if value < 0:
            raise ValueError(f"count of {key!r} must not be negative")

    suppressed = {key for key, value in counts.items() if value < min_cell_size}
    suppressed |= {key for key in forced if key in counts}
    if not suppressed:
        return suppressed
    hidden = sum(counts[key] for key in suppressed)
    remaining = sorted(
        (key for key in counts if key not in suppressed), key=lambda key: (counts[key], key)
    )
    for key in remaining:
        if hidden >= min_cell_size:
            break
        suppressed.add(key)
        hidden += counts[key]
    return suppressed
