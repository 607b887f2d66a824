"""Half-open physical address ranges and sets of them.

Everything in the model is `[start, end)`; the kernel prints inclusive ends
(`[mem 0x40000000-0x4bffffff]`) and that conversion happens only in `units`.
A `RangeSet` is an immutable, sorted, coalesced tuple of ranges: the policy
engine does all of its work with union / difference / intersection on a few
hundred entries, so a toggle is microseconds, never a reparse.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator


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
    """Immutable set of disjoint, non-adjacent half-open ranges, sorted by start."""

    __slots__ = ("_ranges",)

    def __init__(self, ranges: Iterable[Range | tuple[int, int]] = ()) -> None:
        pairs = sorted(
            (r.start, r.end) if isinstance(r, Range) else (int(r[0]), int(r[1]))
            for r in ranges
        )
        merged: list[Range] = []
        cur_s = cur_e = None
        for s, e in pairs:
            if e <= s:
                continue
            if cur_e is not None and s <= cur_e:
                cur_e = max(cur_e, e)
                continue
            if cur_e is not None:
                merged.append(Range(cur_s, cur_e))
            cur_s, cur_e = s, e
        if cur_e is not None:
            merged.append(Range(cur_s, cur_e))
        self._ranges: tuple[Range, ...] = tuple(merged)

    @classmethod
    def _trusted(cls, ranges: list[Range]) -> "RangeSet":
        obj = cls.__new__(cls)
        obj._ranges = tuple(ranges)
        return obj

    # -- container protocol -------------------------------------------------
    def __iter__(self) -> Iterator[Range]:
        return iter(self._ranges)

    def __len__(self) -> int:
        return len(self._ranges)

    def __bool__(self) -> bool:
        return bool(self._ranges)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RangeSet) and self._ranges == other._ranges

    def __hash__(self) -> int:
        return hash(self._ranges)

    def __repr__(self) -> str:
        inner = ", ".join(f"{r.start:#x}-{r.end:#x}" for r in self._ranges)
        return f"RangeSet([{inner}])"

    @property
    def ranges(self) -> tuple[Range, ...]:
        return self._ranges

    @property
    def size_bytes(self) -> int:
        return sum(r.end - r.start for r in self._ranges)

    @property
    def start(self) -> int | None:
        return self._ranges[0].start if self._ranges else None

    @property
    def end(self) -> int | None:
        return self._ranges[-1].end if self._ranges else None

    def contains(self, addr: int) -> bool:
        lo, hi = 0, len(self._ranges)
        while lo < hi:
            mid = (lo + hi) // 2
            r = self._ranges[mid]
            if addr < r.start:
                hi = mid
            elif addr >= r.end:
                lo = mid + 1
            else:
                return True
        return False

    # -- set algebra (linear merges) -----------------------------------------
    def union(self, other: "RangeSet | Iterable[Range]") -> "RangeSet":
        other_ranges = other.ranges if isinstance(other, RangeSet) else tuple(other)
        return RangeSet(self._ranges + tuple(other_ranges))

    def intersection(self, other: "RangeSet") -> "RangeSet":
        out: list[Range] = []
        a, b = self._ranges, other.ranges
        i = j = 0
        while i < len(a) and j < len(b):
            s = max(a[i].start, b[j].start)
            e = min(a[i].end, b[j].end)
            if s < e:
                out.append(Range(s, e))
            if a[i].end < b[j].end:
                i += 1
            else:
                j += 1
        return RangeSet._trusted(out)

    def difference(self, other: "RangeSet") -> "RangeSet":
        out: list[Range] = []
        b = other.ranges
        j = 0
        for r in self._ranges:
            s = r.start
            while j < len(b) and b[j].end <= s:
                j += 1
            k = j
            while k < len(b) and b[k].start < r.end:
                if b[k].start > s:
                    out.append(Range(s, b[k].start))
                s = max(s, b[k].end)
                k += 1
            if s < r.end:
                out.append(Range(s, r.end))
        return RangeSet._trusted(out)

    __or__ = union
    __and__ = intersection
    __sub__ = difference

    def overlap_bytes(self, other: "RangeSet") -> int:
        return self.intersection(other).size_bytes

    def page_rounded(self, page_size: int) -> "RangeSet":
        """Each range widened to page boundaries (what a PT_LOAD occupies in /proc/vmcore)."""
        return RangeSet(page_round_out(r.start, r.end, page_size) for r in self._ranges)

    def page_rounded_bytes(self, page_size: int) -> int:
        """Σ over ranges of their page-rounded size, like the vmcore's PT_LOAD file space.

        Ranges are rounded one by one (not merged afterwards): two PT_LOADs that share a
        page both carry it, as /proc/vmcore does.
        """
        total = 0
        for r in self._ranges:
            s, e = page_round_out(r.start, r.end, page_size)
            total += e - s
        return total


def ranges_from_tuples(pairs: Iterable[tuple[int, int]]) -> RangeSet:
    """(base, size) tuples as read from `reg` → RangeSet."""
    return RangeSet((base, base + size) for base, size in pairs if size > 0)
