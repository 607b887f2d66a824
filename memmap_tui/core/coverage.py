"""Range queries against one large RangeSet, by bisection (issue 15: never a per-region
scan of a big set).

`Coverage` answers "how many bytes of these ranges are in the set" in O(log n) per
range from prefix sums (which intervals overlap which: `ranges.overlapping_pairs`).
"""

from __future__ import annotations

from bisect import bisect_right
from itertools import accumulate

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
