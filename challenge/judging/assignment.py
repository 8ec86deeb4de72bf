"""Balanced, conflict-free judge assignment by min-cost flow (METHODS.md section 9).

Pure: judge and entry ids in, ``(judge, entry)`` pairs out; the CLI maps ids to rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import networkx as nx

_SOURCE = ("source",)
_SINK = ("sink",)


class AssignmentInfeasible(ValueError):
    """No conflict-free assignment covers every entry; ``entries`` names those left short."""

    def __init__(self, entries: Iterable[str], message: str | None = None) -> None:
        self.entries: tuple[str, ...] = tuple(sorted(entries))
        super().__init__(
            message
            or "not enough judges without a conflict for: " + ", ".join(map(str, self.entries))
        )


def assign(
    entries: Sequence[str],
    judges: Sequence[str],
    reviews_per_entry: int,
    conflicts: Iterable[tuple[str, str]],
    existing: Iterable[tuple[str, str]] = frozenset(),
) -> list[tuple[str, str]]:
    """Full assignment: ``existing`` pairs plus new ones, as sorted ``(judge, entry)`` tuples.

    Every entry ends with exactly ``reviews_per_entry`` judges (existing pairs count; an
    entry that already has more keeps them all and gets none), no ``(judge, entry)`` in
    ``conflicts`` is added, and judge loads (existing included) are as even as the conflicts
    allow: the sum of squared loads is minimal, which also minimises the largest load and
    maximises the smallest, so max - min <= 1 whenever that is achievable.

    Raises ``AssignmentInfeasible`` (a ValueError) naming the entries that cannot reach
    ``reviews_per_entry`` judges, and ValueError for bad input (duplicate or unknown ids, a
    negative count, an existing pair that is also a conflict). Output is deterministic and
    independent of input order.
    """
    if isinstance(reviews_per_entry, bool) or not isinstance(reviews_per_entry, int):
        raise ValueError("reviews_per_entry must be an integer")
    if reviews_per_entry < 0:
        raise ValueError("reviews_per_entry must not be negative")
    if len(set(entries)) != len(entries):
        raise ValueError("duplicate entries")
    if len(set(judges)) != len(judges):
        raise ValueError("duplicate judges")
    entry_list = sorted(entries)
    judge_list = sorted(judges)
    entry_set, judge_set = set(entry_list), set(judge_list)
    conflict_set = set(conflicts)
    kept = set(existing)
    for judge, entry in sorted(kept):
        if judge not in judge_set or entry not in entry_set:
            raise ValueError(f"existing assignment ({judge!r}, {entry!r}) names an unknown id")
    clashing = sorted(kept & conflict_set)
    if clashing:
        raise ValueError(f"existing assignments conflict: {clashing}")

    have = Counter(entry for _judge, entry in kept)
    load = Counter(judge for judge, _entry in kept)
    need = {e: max(0, reviews_per_entry - have[e]) for e in entry_list}
    candidates = {
        e: [j for j in judge_list if (j, e) not in conflict_set and (j, e) not in kept]
        for e in entry_list
        if need[e] > 0
    }

    # Judges can take any number of entries, so entries do not compete for judges: an
    # entry is coverable exactly when it has enough free non-conflicted judges.
    short = [e for e, js in candidates.items() if len(js) < need[e]]
    if short:
        raise AssignmentInfeasible(short)
    total = sum(need.values())
    if total == 0:
        return sorted(kept)

    # source -> entry (capacity = reviews still needed) -> judge (capacity 1 per allowed
    # pair) -> one unit "slot" per extra review -> sink. The slot that takes a judge from
    # load k-1 to k costs k (existing load included), so the marginal cost grows with load:
    # a separable convex cost whose minimum is the most even load vector reachable.
    graph = nx.DiGraph()
    slots_wanted: Counter[str] = Counter()
    for e, js in candidates.items():
        graph.add_edge(_SOURCE, ("entry", e), capacity=need[e], weight=0)
        for j in js:
            graph.add_edge(("entry", e), ("judge", j), capacity=1, weight=0)
            slots_wanted[j] += 1
    for j in judge_list:
        # A judge never takes more new reviews than entries it may review or than in total.
        for extra in range(1, min(slots_wanted[j], total) + 1):
            level = load[j] + extra
            slot = ("slot", j, level)
            graph.add_edge(("judge", j), slot, capacity=1, weight=level)
            graph.add_edge(slot, _SINK, capacity=1, weight=0)

    flow = nx.max_flow_min_cost(graph, _SOURCE, _SINK)

    added = [
        (j, e) for e, js in candidates.items() for j in js if flow[("entry", e)][("judge", j)] > 0
    ]
    # The check above makes this unreachable; kept so a modelling mistake cannot silently
    # produce an under-covered assignment.
    got = Counter(e for _j, e in added)
    deficit = [e for e in candidates if got[e] < need[e]]
    if deficit:
        raise AssignmentInfeasible(deficit)
    return sorted(kept | set(added))
