"""Half-open physical address ranges and sets of them.

Everything in the model is `[start, end)`; the kernel prints inclusive ends
(`[mem 0x40000000-0x4bffffff]`) and that conversion happens only in `units`.
A `RangeSet` is an immutable, sorted, coalesced tuple of ranges: the policy
engine does all of its work with union / difference / intersection on a few
hundred entries, so a toggle is microseconds, never a reparse.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence


@dataclass(frozen=True, order=True, slots=True)
class Range:
    start: int
    end: int  # exclusive

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"range end {self.end:#x} before start {self.start:#x}")

    @property
    def size_bytes(self) -> int:
        return self.end - self.start

    @property
    def last(self) -> int:
        """Inclusive end, as the kernel prints it."""
        return self.end - 1

    def contains(self, addr: int) -> bool:
        return self.start <= addr < self.end

    def overlaps(self, other: "Range") -> bool:
        return self.start < other.end and other.start < self.end

    def intersection(self, other: "Range") -> "Range | None":
        start, end = max(self.start, other.start), min(self.end, other.end)
        return Range(start, end) if start < end else None


def page_round_out(start: int, end: int, page_size: int) -> tuple[int, int]:
    """[rounddown(start), roundup(end)) as fs/proc/vmcore.c does per PT_LOAD."""
    return start - start % page_size, -(-end // page_size) * page_size


class RangeSet:
    """Immutable set of disjoint, non-adjacent half-open ranges, sorted by start.

    Stored as plain (start, end) pairs — the algebra runs on those; `Range` objects
    are built only when someone iterates (10,000-PT_LOAD dumps make many sets).
    """

    __slots__ = ("_pairs", "_ranges")

    def __init__(self, ranges: Iterable[Range | tuple[int, int]] = ()) -> None:
        pairs = sorted(
            (r.start, r.end) if type(r) is Range else (r[0], r[1]) for r in ranges)
        merged: list[tuple[int, int]] = []
        for s, e in pairs:
            if e <= s:
                continue
            if merged and s <= merged[-1][1]:
                if e > merged[-1][1]:
                    merged[-1] = (merged[-1][0], e)
                continue
            merged.append((s, e))
        self._pairs: tuple[tuple[int, int], ...] = tuple(merged)
        self._ranges: tuple[Range, ...] | None = None

    @classmethod
    def _trusted(cls, pairs: list[tuple[int, int]]) -> "RangeSet":
        obj = cls.__new__(cls)
        obj._pairs = tuple(pairs)
        obj._ranges = None
        return obj

    # -- container protocol -------------------------------------------------
    def __iter__(self) -> Iterator[Range]:
        return iter(self.ranges)

    def __len__(self) -> int:
        return len(self._pairs)

    def __bool__(self) -> bool:
        return bool(self._pairs)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RangeSet) and self._pairs == other._pairs

    def __hash__(self) -> int:
        return hash(self._pairs)

    def __repr__(self) -> str:
        inner = ", ".join(f"{s:#x}-{e:#x}" for s, e in self._pairs)
        return f"RangeSet([{inner}])"

    @property
    def ranges(self) -> tuple[Range, ...]:
        if self._ranges is None:
            self._ranges = tuple(Range(s, e) for s, e in self._pairs)
        return self._ranges

    @property
    def pairs(self) -> tuple[tuple[int, int], ...]:
        return self._pairs

    @property
    def size_bytes(self) -> int:
        return sum(e - s for s, e in self._pairs)

    @property
    def start(self) -> int | None:
        return self._pairs[0][0] if self._pairs else None

    @property
    def end(self) -> int | None:
        return self._pairs[-1][1] if self._pairs else None

    def contains(self, addr: int) -> bool:
        i = bisect_right(self._pairs, (addr, float("inf"))) - 1
        return i >= 0 and self._pairs[i][0] <= addr < self._pairs[i][1]

    # -- set algebra (linear merges) -----------------------------------------
    def union(self, other: "RangeSet | Iterable[Range]") -> "RangeSet":
        other_pairs = other._pairs if isinstance(other, RangeSet) else tuple(
            (r.start, r.end) for r in other)
        return RangeSet(self._pairs + other_pairs)

    def intersection(self, other: "RangeSet") -> "RangeSet":
        a, b = self._pairs, other._pairs
        if len(a) > len(b):
            a, b = b, a
        if len(a) * _GALLOP_RATIO < len(b):
            # A few ranges against a large set (one region against a 65,535-PT_LOAD dump):
            # bisect into the large side, O(m log n + overlaps), never a walk over all of it.
            return RangeSet._trusted(_bisect_intersection(a, b))
        out: list[tuple[int, int]] = []
        i = j = 0
        while i < len(a) and j < len(b):
            s = max(a[i][0], b[j][0])
            e = min(a[i][1], b[j][1])
            if s < e:
                out.append((s, e))
            if a[i][1] < b[j][1]:
                i += 1
            else:
                j += 1
        return RangeSet._trusted(out)

    def difference(self, other: "RangeSet") -> "RangeSet":
        # The policies subtract nothing, or a set from itself, from 65,535-range dumps:
        # both answers are known without a walk.
        if not other._pairs or not self._pairs:
            return self
        if self._pairs is other._pairs or self._pairs == other._pairs:
            return _EMPTY
        out: list[tuple[int, int]] = []
        b = other._pairs
        nb = len(b)
        j = 0
        for r_start, r_end in self._pairs:
            s = r_start
            if j < nb and b[j][1] <= s:   # skip b's ranges that end before s: bisect, not a walk
                j = bisect_right(b, (s, s), j)
                if j and b[j - 1][1] > s:
                    j -= 1
                while j < nb and b[j][1] <= s:
                    j += 1
            k = j
            while k < nb and b[k][0] < r_end:
                if b[k][0] > s:
                    out.append((s, b[k][0]))
                s = max(s, b[k][1])
                k += 1
            if s < r_end:
                out.append((s, r_end))
        return RangeSet._trusted(out)

    __or__ = union
    __and__ = intersection
    __sub__ = difference

    def overlap_bytes(self, other: "RangeSet") -> int:
        return self.intersection(other).size_bytes

    def page_rounded(self, page_size: int) -> "RangeSet":
        """Each range widened to page boundaries (what a PT_LOAD occupies in /proc/vmcore)."""
        return RangeSet(page_round_out(s, e, page_size) for s, e in self._pairs)

    def page_rounded_bytes(self, page_size: int) -> int:
        """Σ over ranges of their page-rounded size, like the vmcore's PT_LOAD file space.

        Ranges are rounded one by one (not merged afterwards): two PT_LOADs that share a
        page both carry it, as /proc/vmcore does.
        """
        total = 0
        for s, e in self._pairs:
            rs, re_ = page_round_out(s, e, page_size)
            total += re_ - rs
        return total


_GALLOP_RATIO = 8
_EMPTY = RangeSet._trusted([])


def _bisect_intersection(small: Sequence[tuple[int, int]],
                         large: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    n = len(large)
    for s, e in small:
        j = bisect_left(large, (s,))  # first range starting at or after s…
        if j and large[j - 1][1] > s:  # …or the one before it, when it reaches past s
            j -= 1
        while j < n and large[j][0] < e:
            ls, le = large[j]
            out.append((max(s, ls), min(e, le)))
            j += 1
    return out


def overlapping_pairs(sets_a: Sequence[RangeSet], sets_b: Sequence[RangeSet] | None = None,
                      limit: int | None = None) -> list[tuple[int, int]]:
    """Index pairs (i, j) whose sets share at least one byte, sorted, by one sweep line.

    With one family: pairs i < j within `sets_a`. With two: i indexes `sets_a`, j `sets_b`.
    O(R log R + pairs) for R ranges in all; `limit` stops the sweep once that many distinct
    pairs are found (identical regions would otherwise yield R² pairs)."""
    families = (sets_a,) if sets_b is None else (sets_a, sets_b)
    events = sorted((s, e, fam, idx) for fam, sets in enumerate(families)
                    for idx, rs in enumerate(sets) for s, e in rs.pairs)
    active: list[list[tuple[int, int]]] = [[] for _ in families]  # heaps of (end, idx)
    found: set[tuple[int, int]] = set()
    for s, e, fam, idx in events:
        for heap in active:
            while heap and heap[0][0] <= s:
                heapq.heappop(heap)
        others = active[0] if sets_b is None else active[1 - fam]
        for _, other in others:
            if sets_b is None:
                if other != idx:
                    found.add((min(idx, other), max(idx, other)))
            else:
                found.add((idx, other) if fam == 0 else (other, idx))
            if limit is not None and len(found) >= limit:
                return sorted(found)
        heapq.heappush(active[fam], (e, idx))
    return sorted(found)
