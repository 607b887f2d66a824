"""Range queries against one large RangeSet, by bisection (issue 15: never a per-region
scan of a big set).

`Coverage` answers "how many bytes of these ranges are in the set" in O(log n) per
range from prefix sums; `overlaps_by_sweep` finds which intervals of one list overlap
which of another in one sorted sweep.
"""

from __future__ import annotations

from bisect import bisect_right
from heapq import heappop, heappush
from itertools import accumulate
from typing import Iterable, Sequence

from memmap_tui.core.ranges import RangeSet


class Coverage:
    """Bytes of a fixed RangeSet below any address, in O(log n)."""

    __slots__ = ("_starts", "_ends", "_before")

    def __init__(self, covered: RangeSet) -> None:
        pairs = covered.pairs
        self._starts = [s for s, _ in pairs]
        self._ends = [e for _, e in pairs]
        # _before[i]: bytes of ranges 0..i-1
        self._before = [0, *accumulate(e - s for s, e in pairs)]

    def bytes_in(self, ranges: RangeSet) -> int:
        """Bytes of `ranges` (disjoint, as a RangeSet is) that the covered set holds:
        Σ below(end) − below(start), where below(x) = bytes of the set under x."""
        starts, ends, before = self._starts, self._ends, self._before
        total = 0
        for s, e in ranges.pairs:
            i = bisect_right(starts, e) - 1
            if i >= 0:
                total += before[i] + min(e, ends[i]) - starts[i]
                j = bisect_right(starts, s, 0, i + 1) - 1
                if j >= 0:
                    total -= before[j] + min(s, ends[j]) - starts[j]
        return total


def overlaps_by_sweep(queries: Sequence[Iterable[tuple[int, int]]],
                      items: Sequence[Iterable[tuple[int, int]]]) -> list[list[int]]:
    """For each query (a group of (start, end) pairs), the sorted indexes of the items
    whose pairs overlap it; O((n + m) log(n + m) + k) for k overlaps."""
    events: list[tuple[int, int, int, int]] = []  # (start, kind, end, index); kind 0 item, 1 query
    for i, pairs in enumerate(items):
        events.extend((s, 0, e, i) for s, e in pairs if e > s)
    for q, pairs in enumerate(queries):
        events.extend((s, 1, e, q) for s, e in pairs if e > s)
    events.sort()
    found: list[set[int]] = [set() for _ in queries]
    open_items: list[tuple[int, int]] = []    # heap of (end, index) of items started so far
    open_queries: list[tuple[int, int]] = []  # heap of (end, index) of queries started so far
    live_items: dict[int, int] = {}           # item index -> count of its open pairs
    live_queries: dict[int, int] = {}
    for start, kind, end, idx in events:
        for heap, live in ((open_items, live_items), (open_queries, live_queries)):
            while heap and heap[0][0] <= start:
                _, gone = heappop(heap)
                live[gone] -= 1
                if not live[gone]:
                    del live[gone]
        if kind == 0:
            for q in live_queries:
                found[q].add(idx)
            heappush(open_items, (end, idx))
            live_items[idx] = live_items.get(idx, 0) + 1
        else:
            found[idx].update(live_items)
            heappush(open_queries, (end, idx))
            live_queries[idx] = live_queries.get(idx, 0) + 1
    return [sorted(f) for f in found]
