"""The page index protocol: per-range figures of what a dump holds.

Each dump format answers `stats(ranges)` with one `RangeStats` per range, in bytes of
the physical address space (vocabulary in `memmap_tui.core.dump`). Queries are
O(log n) each — by bisection over prefix sums — so accounting N regions against
N PT_LOADs or bitmap runs is O(N log N), never a per-region scan of the whole set.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from functools import partial
from itertools import accumulate
from typing import Iterable, Protocol, Sequence

from memmap_tui.core.ranges import Range


@dataclass(frozen=True, slots=True)
class RangeStats:
    covered_bytes: int = 0
    present_bytes: int = 0
    excluded_pages: int = 0      # covered but filtered out, in the dumped kernel's pages
    zero_pages: int = 0          # present as the shared zero page (kdump -d 1)
    on_disk_bytes: int | None = 0  # None: not known (descriptors beyond the end of a cut file)
    descriptors: int = 0         # kdump page descriptors attributed to the range

    def __add__(self, other: "RangeStats") -> "RangeStats":
        disk = (None if self.on_disk_bytes is None or other.on_disk_bytes is None
                else self.on_disk_bytes + other.on_disk_bytes)
        return RangeStats(self.covered_bytes + other.covered_bytes,
                          self.present_bytes + other.present_bytes,
                          self.excluded_pages + other.excluded_pages,
                          self.zero_pages + other.zero_pages,
                          disk, self.descriptors + other.descriptors)

    def as_dict(self) -> dict:
        return {"covered_bytes": self.covered_bytes, "present_bytes": self.present_bytes,
                "excluded_pages": self.excluded_pages, "zero_pages": self.zero_pages,
                "on_disk_bytes": self.on_disk_bytes}


def sum_stats(items: Iterable[RangeStats]) -> RangeStats:
    """Column sums (one pass, no intermediate RangeStats); on-disk bytes unknown if any is."""
    items = list(items)
    disk = [s.on_disk_bytes for s in items]
    return RangeStats(sum(s.covered_bytes for s in items), sum(s.present_bytes for s in items),
                      sum(s.excluded_pages for s in items), sum(s.zero_pages for s in items),
                      None if None in disk else sum(disk), sum(s.descriptors for s in items))


class PageIndex(Protocol):
    """Per-range counting backend of a dump (ELF segments or kdump bitmaps)."""

    def stats(self, ranges: Sequence[Range]) -> list[RangeStats]: ...

    def totals(self) -> RangeStats: ...

    @property
    def top(self) -> int:
        """End of the address space the index describes."""
        ...

    def presence(self, r: Range) -> tuple[int, int]:
        """(covered, present) bytes of `r`: the cheap part of `stats`, for the band map."""
        ...


class IntervalSums:
    """Bytes of a multiset of intervals below any address, in O(log n).

    below(x) = Σ_i clamp(x - start_i, 0, len_i) = Σ_{start_i < x} (x - start_i)
    - Σ_{end_i < x} (x - end_i): two sorted columns with prefix sums. Overlapping
    intervals count once per interval (a duplicated kernel-image PT_LOAD costs twice
    on disk), so a RangeSet's pairs give its plain union size.
    """

    __slots__ = ("_starts", "_ends", "_start_sums", "_end_sums")

    def __init__(self, pairs: Iterable[tuple[int, int]]) -> None:
        kept = [(s, e) for s, e in pairs if e > s]
        self._starts = sorted(s for s, _ in kept)
        self._ends = sorted(e for _, e in kept)
        self._start_sums = list(accumulate(self._starts, initial=0))
        self._end_sums = list(accumulate(self._ends, initial=0))

    def below(self, x: int) -> int:
        i = bisect_left(self._starts, x)
        j = bisect_left(self._ends, x)
        return (i * x - self._start_sums[i]) - (j * x - self._end_sums[j])

    def within(self, start: int, end: int) -> int:
        return self.below(end) - self.below(start) if end > start else 0

    def below_many(self, xs: Sequence[int]) -> list[int]:
        """`below` for many points in one comprehension (C-level bisects, no call per point)."""
        ss, es = self._start_sums, self._end_sums
        return [(i * x - ss[i]) - (j * x - es[j]) for x, i, j in
                zip(xs, map(partial(bisect_left, self._starts), xs), map(partial(bisect_left, self._ends), xs))]

    def within_many(self, ranges: Sequence[Range]) -> list[int]:
        lo = self.below_many([r.start for r in ranges])
        hi = self.below_many([r.end for r in ranges])
        return [b - a for a, b in zip(lo, hi)]

    @property
    def total(self) -> int:
        return self._end_sums[-1] - self._start_sums[-1]
