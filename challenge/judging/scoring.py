"""Rubric scores, normalisation, ranking and judge agreement (METHODS.md sections 5-8).

Pure functions: plain data in, frozen dataclasses out. No Flask, no database, so the
results page, the CLI and the tests all share exactly one implementation.
"""

from __future__ import annotations

import math
import numbers
import statistics
from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from types import MappingProxyType

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


def review_score(criteria: Sequence[Criterion], scores: Mapping[str, float | None]) -> float | None:
    """Weighted rubric score of one review on 0-100 (METHODS 5).

    ``100 * sum_c w_c (s_c - min_c) / (max_c - min_c) / sum_c w_c``. Returns None when any
    criterion is missing or None (the review does not count yet). Raises ValueError for a
    score outside its criterion's range, a non-numeric score or an unknown criterion key;
    every given score is validated even when the review is incomplete.
    """
    _validate_criteria(criteria)
    known = {c.key for c in criteria}
    unknown = sorted(str(k) for k in scores if k not in known)
    if unknown:
        raise ValueError(f"unknown criteria: {', '.join(unknown)}")
    complete = True
    total = Fraction(0)
    for c in criteria:
        value = scores.get(c.key)
        if value is None:
            complete = False
            continue
        s = _check_score(c, value)
        # Exact rational arithmetic: reviews that are mathematically equal get bit-identical
        # floats, so ties, sd == 0 checks and spreads are not at the mercy of rounding order.
        total += (
            Fraction(c.weight)
            * (Fraction(s) - Fraction(c.min))
            / (Fraction(c.max) - Fraction(c.min))
        )
    if not complete:
        return None
    return float(100 * total / sum(Fraction(c.weight) for c in criteria))


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
    values = list(scores.values())
    # statistics.stdev works in exact arithmetic: identical values give exactly 0.0.
    sd_all = statistics.stdev(values) if len(values) >= 2 else 0.0
    by_judge: dict[Hashable, list[float]] = defaultdict(list)
    for (judge, _entry), x in scores.items():
        by_judge[judge].append(x)
    stats: dict[Hashable, tuple[float, float]] = {}
    for judge, xs in by_judge.items():
        mean_j = statistics.mean(xs)
        sd_j = statistics.stdev(xs) if len(xs) >= MIN_REVIEWS_FOR_OWN_SD else 0.0
        stats[judge] = (mean_j, sd_j if sd_j > 0 else sd_all)
    out: dict[tuple[Hashable, Hashable], float] = {}
    for (judge, entry), x in scores.items():
        mean_j, sd = stats[judge]
        out[(judge, entry)] = (x - mean_j) / sd if sd > 0 else 0.0
    return out


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
    ordered = sorted(keyed, key=lambda e: (-keyed[e][0], _sort_key(e)))
    # First cluster by score, then re-sort each cluster by tie_break; sorting on the pair
    # directly would let a 1e-12 score difference override the tie-break.
    final: list[Hashable] = []
    i = 0
    while i < len(ordered):
        head = keyed[ordered[i]][0]
        j = i
        while j < len(ordered) and head - keyed[ordered[j]][0] <= tolerance:
            j += 1
        final.extend(sorted(ordered[i:j], key=lambda e: (-keyed[e][1], _sort_key(e))))
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
    pairable: list[list[float]] = []
    for coders in units.values():
        xs = [float(v) for v in coders.values() if v is not None and not math.isnan(v)]
        if len(xs) >= 2:
            pairable.append(xs)
    n = sum(len(xs) for xs in pairable)
    if n < 2:
        return None
    everything = [x for xs in pairable for x in xs]
    ss_all = _sum_squares(everything)
    d_e = 2.0 * ss_all / (n - 1)
    if d_e == 0:
        return None
    d_o = 2.0 / n * math.fsum(len(xs) * _sum_squares(xs) / (len(xs) - 1) for xs in pairable)
    return 1.0 - d_o / d_e


def _sum_squares(xs: Sequence[float]) -> float:
    mean = math.fsum(xs) / len(xs)
    return math.fsum((x - mean) ** 2 for x in xs)


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


@dataclass(frozen=True)
class _Counted:
    judge: str
    entry: str
    panel: str
    score: float
    criteria: Mapping[str, float]


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
    _validate_criteria(criteria)
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
    for name, weight in panels.items():
        if isinstance(weight, bool) or not math.isfinite(weight) or weight <= 0:
            raise ValueError(f"panel {name!r}: weight must be a positive number")

    counted: list[_Counted] = []
    seen: set[tuple[str, str]] = set()
    mentioned: set[str] = set()
    for review in reviews:
        if review.panel not in panels:
            raise ValueError(f"review by {review.judge!r}: unknown panel {review.panel!r}")
        if (review.judge, review.entry) in seen:
            raise ValueError(f"judge {review.judge!r} reviewed {review.entry!r} twice")
        seen.add((review.judge, review.entry))
        mentioned.add(review.entry)
        score = review_score(criteria, review.scores)
        if score is None:
            continue
        crit = {c.key: float(review.scores[c.key]) for c in criteria}  # type: ignore[arg-type]
        counted.append(_Counted(review.judge, review.entry, review.panel, score, crit))

    # Tie-break criterion: highest weight; max() returns the first maximal item, which is
    # the first in rubric order among equally weighted criteria.
    top = max(criteria, key=lambda c: c.weight)

    z: dict[tuple[str, str], float] = {}
    if normalization == "zscore":
        for panel in panels:
            z.update(zscores({(r.judge, r.entry): r.score for r in counted if r.panel == panel}))

    by_entry: dict[str, list[_Counted]] = defaultdict(list)
    for r in counted:
        by_entry[r.entry].append(r)

    summary: dict[str, tuple[float, float, float]] = {}
    for entry, rs in by_entry.items():
        per_panel: dict[str, list[_Counted]] = defaultdict(list)
        for r in rs:
            per_panel[r.panel].append(r)
        # Renormalise over the panels that reviewed this entry, so an entry no patient saw
        # is not dragged towards 0 by a missing panel.
        weights = {p: float(panels[p]) for p in per_panel}
        total_w = math.fsum(weights.values())

        def blend(value_of, per_panel=per_panel, weights=weights, total_w=total_w) -> float:
            if len(per_panel) == 1:  # keep single-panel results bit-exact means
                (only,) = per_panel.values()
                return statistics.mean(value_of(r) for r in only)
            return (
                math.fsum(
                    weights[p] * statistics.mean(value_of(r) for r in group)
                    for p, group in per_panel.items()
                )
                / total_w
            )

        raw = blend(lambda r: r.score)
        norm = blend(lambda r: z[(r.judge, r.entry)]) if normalization == "zscore" else raw
        tie = blend(lambda r: r.criteria[top.key])
        summary[entry] = (raw, norm, tie)

    ranks = competition_ranks({e: (s[1], s[2]) for e, s in summary.items()})
    entries = []
    for entry, (raw, norm, _tie) in summary.items():
        scores = [r.score for r in by_entry[entry]]
        spread = max(scores) - min(scores)
        entries.append(
            EntryResult(
                entry=entry,
                rank=ranks[entry],
                reviews=len(scores),
                raw_score=raw,
                normalized_score=norm,
                spread=spread,
                flagged=spread >= FLAG_SPREAD,
            )
        )
    entries.sort(key=lambda e: (e.rank, _sort_key(e.entry)))

    alpha = krippendorff_alpha_interval(
        {e: {r.judge: r.score for r in rs} for e, rs in by_entry.items()}
    )
    per_criterion = {
        c.key: krippendorff_alpha_interval(
            {e: {r.judge: r.criteria[c.key] for r in rs} for e, rs in by_entry.items()}
        )
        for c in criteria
    }

    return Results(
        normalization=normalization,
        entries=tuple(entries),
        reliability=Reliability(krippendorff_alpha=alpha, per_criterion=per_criterion),
        judges=_judge_summaries(counted, by_entry),
        reviews_for_alpha_08=spearman_brown_reviews(alpha, TARGET_ALPHA, current_reviews=1.0),
        unscored=tuple(sorted(mentioned - set(by_entry), key=_sort_key)),
    )


def _judge_summaries(
    counted: Sequence[_Counted], by_entry: Mapping[str, Sequence[_Counted]]
) -> tuple[JudgeResult, ...]:
    """Reviews, mean score and leniency of each judge (METHODS 8)."""
    by_judge: dict[str, list[_Counted]] = defaultdict(list)
    for r in counted:
        by_judge[r.judge].append(r)
    out = []
    for judge in sorted(by_judge, key=_sort_key):
        rs = by_judge[judge]
        # Leniency: how far above the other judges of the same entry this judge scores,
        # averaged over the entries where there is anybody else to compare with.
        diffs = []
        for r in rs:
            others = [o.score for o in by_entry[r.entry] if o.judge != judge]
            if others:
                diffs.append(r.score - statistics.mean(others))
        out.append(
            JudgeResult(
                judge=judge,
                reviews=len(rs),
                mean=statistics.mean(r.score for r in rs),
                leniency=statistics.mean(diffs) if diffs else None,
            )
        )
    return tuple(out)
