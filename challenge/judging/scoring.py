"""Rubric scores, normalisation, ranking and judge agreement (METHODS.md sections 5-8).

Pure functions: plain data in, frozen dataclasses out. No Flask, no database, so the
results page, the CLI and the tests all share exactly one implementation.

`compute_table` does the work on columns (numpy arrays, one row per review), which is what
`results` loads from the database; `compute_results` lays `ReviewInput` rows out as such a
table. Every statistic is the exact value rounded once (exact rational review scores; group
means, sds and sums through `groupstats`), so results do not depend on the order of the
reviews, and mathematically equal inputs give bit-identical floats.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from types import MappingProxyType

import numpy as np

from challenge.judging.groupstats import Groups

#: Scores closer than this are "equal" for ranking purposes (METHODS 7).
TIE_TOLERANCE = 1e-9
#: A review spread (max - min of review scores, 0-100) at or above this flags the entry.
FLAG_SPREAD = 40.0
#: Target reliability shown to organizers (METHODS 8).
TARGET_ALPHA = 0.8
#: z-scores need a judge to have at least this many reviews before their own sd is trusted.
MIN_REVIEWS_FOR_OWN_SD = 3

NORMALIZATIONS = ("zscore", "none")
DEFAULT_PANELS: Mapping[str, float] = MappingProxyType({"expert": 1.0})


@dataclass(frozen=True)
class Criterion:
    """One rubric criterion: scores run from ``min`` to ``max`` and count with ``weight``."""

    key: str
    weight: float
    min: float
    max: float

    def __post_init__(self) -> None:
        for name in ("weight", "min", "max"):
            value = getattr(self, name)
            if isinstance(value, bool) or not math.isfinite(value):
                raise ValueError(f"criterion {self.key!r}: {name} must be a finite number")
        if self.weight < 0:
            raise ValueError(f"criterion {self.key!r}: weight must not be negative")
        if not self.min < self.max:
            raise ValueError(f"criterion {self.key!r}: min must be below max")


@dataclass(frozen=True)
class ReviewInput:
    """One judge's review of one entry: criterion key -> score (None = not scored yet)."""

    judge: str
    entry: str
    scores: Mapping[str, float | None]
    panel: str = "expert"


@dataclass(frozen=True)
class EntryResult:
    """Aggregated result of one entry; scores are on the 0-100 review scale except z."""

    entry: str
    rank: int
    reviews: int
    raw_score: float
    normalized_score: float
    spread: float
    flagged: bool


@dataclass(frozen=True)
class JudgeResult:
    """Per-judge summary: ``leniency`` is None when no other judge shared an entry."""

    judge: str
    reviews: int
    mean: float
    leniency: float | None


@dataclass(frozen=True)
class Reliability:
    """Krippendorff's alpha (interval); None where it cannot be computed."""

    krippendorff_alpha: float | None
    per_criterion: dict[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Results:
    """Everything ``judging results`` reports.

    ``entries`` is sorted by rank (then entry id). Entries with reviews but none complete are
    not ranked; they are listed in ``unscored`` instead. ``judges`` is sorted by judge id and
    lists judges with at least one complete review.
    """

    normalization: str
    entries: tuple[EntryResult, ...]
    reliability: Reliability
    judges: tuple[JudgeResult, ...]
    reviews_for_alpha_08: int | None
    unscored: tuple[str, ...] = ()


# --------------------------------------------------------------------------- rubric (5)


def _validate_criteria(criteria: Sequence[Criterion]) -> None:
    if not criteria:
        raise ValueError("a rubric needs at least one criterion")
    keys = [c.key for c in criteria]
    if len(set(keys)) != len(keys):
        raise ValueError("criterion keys must be unique")
    if sum(c.weight for c in criteria) <= 0:
        raise ValueError("criterion weights must not all be zero")


def _check_score(criterion: Criterion, value: object) -> float:
    # bool is an int subclass; True as a score is always a bug upstream.
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"criterion {criterion.key!r}: score must be a number, got {value!r}")
    score = float(value)
    if not math.isfinite(score) or not criterion.min <= score <= criterion.max:
        raise ValueError(
            f"criterion {criterion.key!r}: score {value!r} outside "
            f"{criterion.min:g}..{criterion.max:g}"
        )
    return score


def _score_row(criteria: Sequence[Criterion], scores: Mapping[str, float | None]) -> list[float]:
    """The review's scores in rubric order (NaN: not scored), every given score validated."""
    known = {c.key for c in criteria}
    unknown = sorted(str(k) for k in scores if k not in known)
    if unknown:
        raise ValueError(f"unknown criteria: {', '.join(unknown)}")
    row = []
    for c in criteria:
        value = scores.get(c.key)
        row.append(math.nan if value is None else _check_score(c, value))
    return row


def review_score(criteria: Sequence[Criterion], scores: Mapping[str, float | None]) -> float | None:
    """Weighted rubric score of one review on 0-100 (METHODS 5).

    ``100 * sum_c w_c (s_c - min_c) / (max_c - min_c) / sum_c w_c``. Returns None when any
    criterion is missing or None (the review does not count yet). Raises ValueError for a
    score outside its criterion's range, a non-numeric score or an unknown criterion key;
    every given score is validated even when the review is incomplete.
    """
    _validate_criteria(criteria)
    row = _score_row(criteria, scores)
    if any(math.isnan(v) for v in row):
        return None
    return float(_weighted_scores(criteria, np.array([row]))[0])


def review_scores(criteria: Sequence[Criterion], scores: np.ndarray) -> np.ndarray:
    """`review_score` of every row of a score matrix (rubric order, NaN = not scored).

    Returns one float per row, NaN where the row is incomplete; the values are bit-identical
    to `review_score`. Raises ValueError for a score outside its criterion's range.
    """
    _validate_criteria(criteria)
    matrix = np.asarray(scores, dtype=float).reshape(-1, len(criteria))
    lows = np.array([c.min for c in criteria], dtype=float)
    highs = np.array([c.max for c in criteria], dtype=float)
    given = ~np.isnan(matrix)
    bad = given & ~((matrix >= lows) & (matrix <= highs))
    if bad.any():
        row, col = np.argwhere(bad)[0]
        c = criteria[col]
        raise ValueError(f"criterion {c.key!r}: score {float(matrix[row, col])!r} outside "
                         f"{c.min:g}..{c.max:g}")
    complete = given.all(axis=1)
    out = np.full(len(matrix), np.nan)
    out[complete] = _weighted_scores(criteria, matrix[complete])
    return out


def _weighted_scores(criteria: Sequence[Criterion], rows: np.ndarray) -> np.ndarray:
    """The exact weighted score of complete, in-range rows, rounded once to a float.

    Exact rational arithmetic, so reviews that are mathematically equal get bit-identical
    floats, and ties, sd == 0 checks and spreads are not at the mercy of rounding order.
    Each score is ``sum_c a_c t_c / D`` with integers ``a_c = L coef_c`` (L clears the
    denominators of the rational coefficients ``coef_c = 100 w_c / ((max_c - min_c) W)``)
    and ``t_c = Q (s_c - min_c)`` (Q a power of two that makes every score an integer).
    When everything stays below 2**53 the integers are exact float64s, so the dot product
    is exact and one IEEE division rounds it correctly; otherwise Python integers do it.
    """
    if not len(rows):
        return np.zeros(0)
    total_weight = sum(Fraction(c.weight) for c in criteria)
    coefs = [100 * Fraction(c.weight) / ((Fraction(c.max) - Fraction(c.min)) * total_weight)
             for c in criteria]
    lcm = math.lcm(*(q.denominator for q in coefs))
    ints = [int(q * lcm) for q in coefs]
    # Floats are dyadic: the largest denominator among the scores and minima is a multiple
    # of every other one.
    scale = max([v.as_integer_ratio()[1] for v in np.unique(rows).tolist()]
                + [Fraction(c.min).denominator for c in criteria])
    divisor = lcm * scale
    steps = [(Fraction(c.max) - Fraction(c.min)) * scale for c in criteria]
    largest = max(abs(Fraction(c.min)) + Fraction(c.max) - Fraction(c.min) for c in criteria)
    limit = 2**52
    if (divisor < limit and largest * scale < limit
            and sum(abs(a) * t for a, t in zip(ints, steps, strict=True)) < limit):
        lows = np.array([c.min for c in criteria], dtype=float)
        t = rows * float(scale) - lows * float(scale)  # integers, exact
        return (t @ np.array(ints, dtype=float)) / float(divisor)
    numerators = np.zeros(len(rows), dtype=object)
    for i, c in enumerate(criteria):
        values, where = np.unique(rows[:, i], return_inverse=True)
        terms = np.array([int((Fraction(v) - Fraction(c.min)) * scale) * ints[i]
                          for v in values.tolist()], dtype=object)
        numerators = numerators + terms[where.reshape(-1)]
    return np.array([n / divisor for n in numerators.tolist()], dtype=float)


# ------------------------------------------------------------------ normalisation (6)


def zscores(
    scores: Mapping[tuple[Hashable, Hashable], float],
) -> dict[tuple[Hashable, Hashable], float]:
    """Per-judge z-scores of ``{(judge, entry): score}`` (METHODS 6).

    ``z = (x - mean_j) / sd_j`` with ddof=1 over the judge's own scores; when the judge has
    fewer than 3 scores or sd_j == 0 the divisor is sd_all, the ddof=1 sd of every score
    given. When sd_all is 0 or undefined (a single score) the numerator is necessarily 0
    too (all scores equal / the judge's only score), so z is 0.
    """
    codes: dict[Hashable, int] = {}
    judges = np.array([codes.setdefault(j, len(codes)) for j, _e in scores], dtype=np.int64)
    values = np.array([float(x) for x in scores.values()], dtype=float)
    return dict(zip(scores, _zscores(values, judges).tolist(), strict=True))


def _zscores(values: np.ndarray, judges: np.ndarray) -> np.ndarray:
    """z-scores of ``values`` given by ``judges`` (codes), as `zscores` defines them."""
    z = np.zeros(len(values))
    if not len(values):
        return z
    # Exact arithmetic (as statistics.stdev): identical values give exactly 0.0.
    sd_all = float(Groups.by(np.zeros(len(values), dtype=np.int64)).stdevs(values)[0])
    by_judge = Groups.by(judges)
    own = by_judge.stdevs(values, MIN_REVIEWS_FOR_OWN_SD)
    sd = by_judge.expand(np.where(own > 0, own, sd_all))
    mean = by_judge.expand(by_judge.means(values))
    spread = sd > 0
    z[spread] = (values[spread] - mean[spread]) / sd[spread]
    return z


# ------------------------------------------------------------------------ ranking (7)


def competition_ranks(
    keyed: Mapping[Hashable, tuple[float, float]], tolerance: float = TIE_TOLERANCE
) -> dict[Hashable, int]:
    """Standard competition ranks (1, 1, 3) of ``{entry: (score, tie_break)}``, highest first.

    Scores within ``tolerance`` are equal and ordered by ``tie_break`` (highest first);
    tie_breaks within ``tolerance`` too share a rank. Ties are grouped against the first
    (highest) member of the group, so grouping is deterministic even though "within
    tolerance" is not transitive.
    """
    names = {e: _sort_key(e) for e in keyed}
    ordered = sorted(keyed, key=lambda e: (-keyed[e][0], names[e]))
    # First cluster by score, then re-sort each cluster by tie_break; sorting on the pair
    # directly would let a 1e-12 score difference override the tie-break.
    final: list[Hashable] = []
    i = 0
    while i < len(ordered):
        head = keyed[ordered[i]][0]
        j = i + 1
        while j < len(ordered) and head - keyed[ordered[j]][0] <= tolerance:
            j += 1
        if j - i == 1:
            final.append(ordered[i])
        else:
            final.extend(sorted(ordered[i:j], key=lambda e: (-keyed[e][1], names[e])))
        i = j
    ranks: dict[Hashable, int] = {}
    head_entry = None
    for position, e in enumerate(final, start=1):
        if head_entry is not None and all(
            abs(keyed[head_entry][k] - keyed[e][k]) <= tolerance for k in (0, 1)
        ):
            ranks[e] = ranks[head_entry]
        else:
            ranks[e] = position
            head_entry = e
    return ranks


def _sort_key(value: Hashable) -> tuple[str, str]:
    # Entries are normally strings; the type name keeps mixed ids orderable.
    return (type(value).__name__, str(value))


# ---------------------------------------------------------------------- agreement (8)


def krippendorff_alpha_interval(
    units: Mapping[Hashable, Mapping[Hashable, float | None]],
) -> float | None:
    """Krippendorff's alpha, interval level, of ``{unit: {coder: value}}`` in O(n).

    Missing values (None or NaN) are skipped; units with fewer than 2 values are not
    pairable. Returns None when fewer than 2 pairable values exist or every pairable value
    is the same (expected disagreement 0). Matches ``krippendorff.alpha(...,
    level_of_measurement="interval")``.
    """
    values: list[float] = []
    unit_of: list[int] = []
    for u, coders in enumerate(units.values()):
        for v in coders.values():
            if v is not None and not math.isnan(v):
                values.append(float(v))
                unit_of.append(u)
    return _alpha(np.array(values, dtype=float), Groups.by(np.array(unit_of, dtype=np.int64)))


def _alpha(values: np.ndarray, units: Groups) -> float | None:
    """`krippendorff_alpha_interval` of ``values`` (no missing ones) grouped into ``units``."""
    # Closed form of the coincidence-matrix definition with delta^2 = (a - b)^2.
    # For a set of m values, the sum over ordered pairs i != j of (x_i - x_j)^2 is
    #   sum_i sum_j (x_i - x_j)^2 = 2 m sum x^2 - 2 (sum x)^2 = 2 m SS,
    # where SS = sum (x - mean)^2 (the i == j terms are 0, so "i != j" changes nothing).
    # With n = sum_u m_u over pairable units:
    #   D_o = (1/n) sum_u [sum_{i!=j in u} (x_i-x_j)^2 / (m_u - 1)] = (2/n) sum_u m_u SS_u/(m_u-1)
    #   D_e = sum_{i!=j over all n values} (x_i-x_j)^2 / (n (n-1))  = 2 SS_all / (n - 1)
    #   alpha = 1 - D_o / D_e
    # SS is computed around the mean (two passes) rather than as m sum x^2 - (sum x)^2,
    # which cancels catastrophically when values are large compared to their spread.
    pairable = units.counts[units.index] >= 2
    if not pairable.all():
        values = values[pairable]
        units = Groups.by(units.index[pairable])
    n = len(values)
    if n < 2:
        return None
    d_e = 2.0 * _sum_squares(values) / (n - 1)
    if d_e == 0:
        return None
    m = units.counts
    means = units.fsums(values) / m
    # float_power is C pow(), as Python's x ** 2 (which is not always x * x).
    ss = units.fsums(np.float_power(values - units.expand(means), 2.0))
    d_o = 2.0 / n * math.fsum((m * ss / (m - 1)).tolist())
    return 1.0 - d_o / d_e


def _sum_squares(xs: np.ndarray) -> float:
    mean = math.fsum(xs.tolist()) / len(xs)
    return math.fsum(np.float_power(xs - mean, 2.0).tolist())


def spearman_brown_reviews(
    alpha: float | None, target: float = TARGET_ALPHA, current_reviews: float = 1.0
) -> int | None:
    """Reviews per entry whose mean reaches reliability ``target`` (Spearman-Brown).

    ``alpha`` is the reliability of a mean of ``current_reviews`` ratings. Krippendorff's
    alpha measures agreement between single ratings, so ``compute_results`` passes
    ``current_reviews=1``: the mean of k reviews then has reliability
    ``k a / (1 + (k - 1) a)``, and solving for ``target`` gives
    ``k = current_reviews * target (1 - a) / (a (1 - target))``, rounded up, at least 1.
    Returns None when alpha is undefined or <= 0 (more reviews would not help).
    """
    if alpha is None or not math.isfinite(alpha) or alpha <= 0:
        return None
    if not 0 < target < 1:
        raise ValueError("target must be strictly between 0 and 1")
    k = current_reviews * target * (1 - alpha) / (alpha * (1 - target))
    # The epsilon keeps an exact 4.0 that came out as 4.000000000000001 from becoming 5.
    return max(1, math.ceil(k - 1e-9))


# ------------------------------------------------------------------------ results


@dataclass(frozen=True, eq=False)
class ReviewTable:
    """Reviews as columns, the input of `compute_table`.

    Review i is judge ``judges[judge[i]]``'s review of entry ``entries[entry[i]]`` on panel
    ``panels[panel[i]]``, and ``scores[i, c]`` is its score on criterion c in rubric order
    (NaN: not scored). ``judge``, ``entry`` and ``panel`` are integer codes into the label
    tuples, whose labels are distinct.
    """

    judges: tuple[Hashable, ...]
    entries: tuple[Hashable, ...]
    panels: tuple[str, ...]
    judge: np.ndarray
    entry: np.ndarray
    panel: np.ndarray
    scores: np.ndarray

    @classmethod
    def from_reviews(cls, criteria: Sequence[Criterion], reviews: Iterable[ReviewInput],
                     panels: Mapping[str, float]) -> ReviewTable:
        """Lay `ReviewInput` rows out as a table, checking them in order: a review naming an
        unknown panel, a judge's second review of an entry, an unknown criterion key or an
        invalid score raises ValueError."""
        judges: dict[Hashable, int] = {}
        entries: dict[Hashable, int] = {}
        panel_names: dict[str, int] = {}
        columns: tuple[list[int], list[int], list[int]] = ([], [], [])
        rows: list[list[float]] = []
        seen: set[tuple[Hashable, Hashable]] = set()
        for review in reviews:
            if review.panel not in panels:
                raise ValueError(f"review by {review.judge!r}: unknown panel {review.panel!r}")
            if (review.judge, review.entry) in seen:
                raise ValueError(f"judge {review.judge!r} reviewed {review.entry!r} twice")
            seen.add((review.judge, review.entry))
            rows.append(_score_row(criteria, review.scores))
            columns[0].append(judges.setdefault(review.judge, len(judges)))
            columns[1].append(entries.setdefault(review.entry, len(entries)))
            columns[2].append(panel_names.setdefault(review.panel, len(panel_names)))
        judge, entry, panel = (np.array(column, dtype=np.int64) for column in columns)
        return cls(judges=tuple(judges), entries=tuple(entries), panels=tuple(panel_names),
                   judge=judge, entry=entry, panel=panel,
                   scores=np.array(rows, dtype=float).reshape(-1, len(criteria)))

    def check(self, criteria: Sequence[Criterion], panels: Mapping[str, float]) -> None:
        """Raise ValueError unless the columns fit together and every review names a known
        panel and is the only review of its judge for its entry (scores are checked by
        `review_scores`)."""
        n = len(self.scores)
        if self.scores.shape != (n, len(criteria)) or not (
                self.judge.shape == self.entry.shape == self.panel.shape == (n,)):
            raise ValueError("review table: columns of different lengths")
        for codes, labels in ((self.judge, self.judges), (self.entry, self.entries),
                              (self.panel, self.panels)):
            if len(set(labels)) != len(labels):
                raise ValueError("review table: labels must be distinct")
            if n and not (0 <= codes.min() and codes.max() < len(labels)):
                raise ValueError("review table: a code has no label")
        unknown = [i for i, name in enumerate(self.panels) if name not in panels]
        if unknown:
            i = int(np.flatnonzero(np.isin(self.panel, unknown))[0])
            raise ValueError(f"review by {self.judges[self.judge[i]]!r}: unknown panel "
                             f"{self.panels[self.panel[i]]!r}")
        pairs = self.judge * len(self.entries) + self.entry
        repeated = np.ones(n, dtype=bool)
        repeated[np.unique(pairs, return_index=True)[1]] = False
        if repeated.any():
            i = int(np.flatnonzero(repeated)[0])
            raise ValueError(f"judge {self.judges[self.judge[i]]!r} reviewed "
                             f"{self.entries[self.entry[i]]!r} twice")


def _check_setup(criteria: Sequence[Criterion], normalization: str,
                 panels: Mapping[str, float]) -> None:
    _validate_criteria(criteria)
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
    for name, weight in panels.items():
        if isinstance(weight, bool) or not math.isfinite(weight) or weight <= 0:
            raise ValueError(f"panel {name!r}: weight must be a positive number")


def compute_results(
    criteria: Sequence[Criterion],
    reviews: Iterable[ReviewInput],
    normalization: str = "zscore",
    panels: Mapping[str, float] = DEFAULT_PANELS,
) -> Results:
    """Entry scores, ranks, reliability and judge summaries (METHODS 5-8).

    Only complete reviews count. ``normalization`` is ``"zscore"`` (mean of per-judge
    z-scores) or ``"none"`` (normalized_score = raw_score). With several panels every score
    is computed within each panel (z-scores use the panel's own sd_all) and the entry's score
    is the weight-average over the panels that reviewed it. Raises ValueError for an invalid
    rubric, an unknown normalization or panel, a non-positive panel weight, two reviews by
    the same judge of the same entry, or an invalid score.
    """
    _check_setup(criteria, normalization, panels)
    table = ReviewTable.from_reviews(criteria, reviews, panels)
    return compute_table(criteria, table, normalization, panels)


def compute_table(
    criteria: Sequence[Criterion],
    table: ReviewTable,
    normalization: str = "zscore",
    panels: Mapping[str, float] = DEFAULT_PANELS,
) -> Results:
    """`compute_results` of reviews given as a `ReviewTable` (same rules, same errors)."""
    _check_setup(criteria, normalization, panels)
    table.check(criteria, panels)
    every_score = review_scores(criteria, table.scores)
    counted = np.flatnonzero(~np.isnan(every_score))
    judge, entry, panel = table.judge[counted], table.entry[counted], table.panel[counted]
    score = every_score[counted]
    # Tie-break criterion: highest weight; max() returns the first maximal item, which is
    # the first in rubric order among equally weighted criteria.
    top = max(range(len(criteria)), key=lambda i: criteria[i].weight)

    z = np.zeros(len(counted))
    if normalization == "zscore":
        for p in np.unique(panel):
            in_panel = panel == p
            z[in_panel] = _zscores(score[in_panel], judge[in_panel])

    # Entry x panel cells; each entry's score blends its cells' means.
    n_panels = max(1, len(table.panels))
    cells = Groups.by(entry * n_panels + panel)
    by_entry = Groups.by(entry)
    cell_entries = Groups.by(cells.keys // n_panels)
    weights = np.array([float(panels[p]) for p in table.panels], dtype=float)
    cell_weights = weights[cells.keys % n_panels] if len(cells) else np.zeros(0)

    def blend(values: np.ndarray) -> np.ndarray:
        means = cells.means(values)
        out = np.empty(len(cell_entries))
        # Renormalise over the panels that reviewed this entry, so an entry no patient saw
        # is not dragged towards 0 by a missing panel. One panel: its mean as it is.
        single = cell_entries.counts == 1
        out[single] = means[cell_entries.order[cell_entries.starts[single]]]
        if not single.all():
            several = ~single
            out[several] = (cell_entries.fsums(cell_weights * means)[several]
                            / cell_entries.fsums(cell_weights)[several])
        return out

    raw = blend(score)
    norm = blend(z) if normalization == "zscore" else raw
    tie = blend(table.scores[counted, top])
    spread = by_entry.maxima(score) - by_entry.minima(score)

    names = [table.entries[e] for e in by_entry.keys.tolist()]
    ranks = competition_ranks(dict(zip(names, zip(norm.tolist(), tie.tolist(), strict=True),
                                       strict=True)))
    entries = sorted(
        (EntryResult(entry=name, rank=ranks[name], reviews=reviews, raw_score=r,
                     normalized_score=s, spread=d, flagged=d >= FLAG_SPREAD)
         for name, reviews, r, s, d in zip(names, by_entry.counts.tolist(), raw.tolist(),
                                           norm.tolist(), spread.tolist(), strict=True)),
        key=lambda e: (e.rank, _sort_key(e.entry)))

    alpha = _alpha(score, by_entry)
    per_criterion = {c.key: _alpha(table.scores[counted, i], by_entry)
                     for i, c in enumerate(criteria)}
    mentioned = set(np.unique(table.entry).tolist()) - set(by_entry.keys.tolist())
    return Results(
        normalization=normalization,
        entries=tuple(entries),
        reliability=Reliability(krippendorff_alpha=alpha, per_criterion=per_criterion),
        judges=_judge_summaries(table, judge, score, by_entry),
        reviews_for_alpha_08=spearman_brown_reviews(alpha, TARGET_ALPHA, current_reviews=1.0),
        unscored=tuple(sorted((table.entries[e] for e in mentioned), key=_sort_key)),
    )


def _judge_summaries(
    table: ReviewTable, judge: np.ndarray, score: np.ndarray, by_entry: Groups
) -> tuple[JudgeResult, ...]:
    """Reviews, mean score and leniency of each judge (METHODS 8), from the counted reviews'
    judge codes and scores."""
    by_judge = Groups.by(judge)
    means = by_judge.means(score)
    # Leniency: how far above the other judges of the same entry this judge scores,
    # averaged over the entries where there is anybody else to compare with.
    others = by_entry.means_of_others(score)
    compared = ~np.isnan(others)
    diffs = score[compared] - others[compared]
    by_judge_compared = Groups.by(judge[compared])
    leniency = dict(zip(by_judge_compared.keys.tolist(),
                        by_judge_compared.means(diffs).tolist(), strict=True))
    out = [
        JudgeResult(judge=table.judges[code], reviews=count, mean=mean,
                    leniency=leniency.get(code))
        for code, count, mean in zip(by_judge.keys.tolist(), by_judge.counts.tolist(),
                                     means.tolist(), strict=True)
    ]
    return tuple(sorted(out, key=lambda j: _sort_key(j.judge)))
