"""A small model of memblock (mm/memblock.c): the boot-time allocator the replay drives.

Three sets, as the kernel keeps them: `memory` (memblock.memory), `nomap` (memory
regions flagged MEMBLOCK_NOMAP) and `reserved` (memblock.reserved, merged like the
kernel merges adjacent regions). Allocation follows `memblock_find_in_range_node()`:
top-down by default over free memory = memory − reserved − NOMAP (`should_skip_region()`
skips NOMAP for MEMBLOCK_NONE allocations), never below PAGE_SIZE. The replay works on
its own instance, so mutating it here changes no model object.

Sets are sorted interval lists updated by bisection: a reservation costs O(log n) plus a
list splice, so replaying thousands of carveouts stays near-linear.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field

from memmap_tui.core.ranges import Range, RangeSet

# MEMBLOCK_ALLOC_ANYWHERE: (phys_addr_t)~0; the replay never exceeds a 64-bit address.
ALLOC_ANYWHERE = 1 << 64
PAGE_FLOOR = 4096  # memblock_find_in_range_node(): start = max(start, PAGE_SIZE)


@dataclass(slots=True)
class Intervals:
    """Disjoint, merged, sorted half-open intervals."""

    starts: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)

    @classmethod
    def of(cls, ranges: RangeSet) -> "Intervals":
        return cls([r.start for r in ranges], [r.end for r in ranges])

    def add(self, start: int, end: int) -> None:
        i = bisect_left(self.ends, start)     # first interval ending at or after start
        j = bisect_right(self.starts, end)    # intervals starting at or before end touch it
        if i < j:
            start, end = min(start, self.starts[i]), max(end, self.ends[j - 1])
        self.starts[i:j] = [start]
        self.ends[i:j] = [end]

    def remove(self, start: int, end: int) -> None:
        i = bisect_right(self.ends, start)    # first interval ending after start
        j = bisect_left(self.starts, end)     # intervals starting before end overlap
        if i >= j:
            return
        keep_s, keep_e = [], []
        if self.starts[i] < start:
            keep_s.append(self.starts[i])
            keep_e.append(start)
        if self.ends[j - 1] > end:
            keep_s.append(end)
            keep_e.append(self.ends[j - 1])
        self.starts[i:j] = keep_s
        self.ends[i:j] = keep_e

    def overlaps(self, start: int, end: int) -> bool:
        i = bisect_right(self.ends, start)
        return i < len(self.starts) and self.starts[i] < end

    def clipped(self, start: int, end: int) -> list[tuple[int, int]]:
        i, j = bisect_right(self.ends, start), bisect_left(self.starts, end)
        return [(max(s, start), min(e, end)) for s, e in zip(self.starts[i:j], self.ends[i:j])]

    def holding(self, addr: int) -> bool:
        """Some interval has start <= addr <= end (inclusive end, as the kernel compares)."""
        i = bisect_left(self.ends, addr)
        return i < len(self.starts) and self.starts[i] <= addr

    def range_set(self) -> RangeSet:
        return RangeSet(zip(self.starts, self.ends))


@dataclass(slots=True)
class Memblock:
    memory: RangeSet
    bottom_up: bool = False
    allocations: int = 0   # find_in_range() calls, for the complexity tests
    _reserved: Intervals = field(default_factory=Intervals)
    _nomap: Intervals = field(default_factory=Intervals)
    _busy: Intervals = field(default_factory=Intervals)   # reserved ∪ nomap: what allocation skips
    _mem: Intervals = field(default_factory=Intervals)

    def __post_init__(self) -> None:
        self._mem = Intervals.of(self.memory)

    @property
    def reserved(self) -> RangeSet:
        return self._reserved.range_set()

    @property
    def nomap(self) -> RangeSet:
        return self._nomap.range_set()

    def overlaps_memory(self, rng: Range) -> bool:
        """memblock_overlaps_region(&memblock.memory, base, size)."""
        return self._mem.overlaps(rng.start, rng.end)

    def is_region_reserved(self, rng: Range) -> bool:
        """memblock_is_region_reserved(): any overlap with memblock.reserved."""
        return self._reserved.overlaps(rng.start, rng.end)

    def reserve(self, rng: Range) -> None:
        """memblock_reserve(): always succeeds, even outside memory."""
        self._reserved.add(rng.start, rng.end)
        self._busy.add(rng.start, rng.end)

    def mark_nomap(self, rng: Range) -> None:
        """memblock_mark_nomap(): flags the memory part; a no-op outside memory."""
        for s, e in self._mem.clipped(rng.start, rng.end):
            self._nomap.add(s, e)
            self._busy.add(s, e)

    def _unbusy(self, rng: Range) -> None:
        self._busy.remove(rng.start, rng.end)
        for s, e in self._reserved.clipped(rng.start, rng.end) + self._nomap.clipped(rng.start, rng.end):
            self._busy.add(s, e)

    def clear_nomap(self, rng: Range) -> None:
        self._nomap.remove(rng.start, rng.end)
        self._unbusy(rng)

    def phys_free(self, rng: Range) -> None:
        """memblock_phys_free(): the bytes leave memblock.reserved, whoever reserved them."""
        self._reserved.remove(rng.start, rng.end)
        self._unbusy(rng)

    def remove_above_limit(self, limit_bytes: int) -> RangeSet:
        """memblock_mem_limit_remove_map(): keep the lowest `limit_bytes` of memory
        (__find_max_addr() walks memory upwards); returns what was removed."""
        kept, left = [], limit_bytes
        for r in self.memory:
            if left <= 0:
                break
            take = min(left, r.size_bytes)
            kept.append((r.start, r.start + take))
            left -= take
        new = RangeSet(kept)
        removed = self.memory - new
        self.memory = new
        self._mem = Intervals.of(new)
        for r in removed:
            self._nomap.remove(r.start, r.end)
            self._unbusy(r)
        return removed

    def _free_top_down(self, start: int, end: int):
        """Free gaps from the top, lazily: memory pieces minus busy intervals."""
        b = self._busy
        for s, e in reversed(self._mem.clipped(start, end)):
            hi = e
            k = bisect_left(b.starts, e) - 1          # last busy interval starting below e
            while k >= 0 and b.ends[k] > s:
                if b.ends[k] < hi:
                    yield b.ends[k], hi
                hi = min(hi, b.starts[k])
                k -= 1
            if s < hi:
                yield s, hi

    def _free_bottom_up(self, start: int, end: int):
        b = self._busy
        for s, e in self._mem.clipped(start, end):
            lo = s
            k = bisect_right(b.ends, s)               # first busy interval ending above s
            while k < len(b.starts) and b.starts[k] < e:
                if lo < b.starts[k]:
                    yield lo, b.starts[k]
                lo = max(lo, b.ends[k])
                k += 1
            if lo < e:
                yield lo, e

    def find_in_range(self, size: int, align: int, start: int, end: int) -> int | None:
        """memblock_find_in_range_node() → __memblock_find_range_{top_down,bottom_up}()."""
        self.allocations += 1
        if size <= 0 or align <= 0:
            return None
        start, end = max(start, PAGE_FLOOR), min(end, ALLOC_ANYWHERE)
        if self.bottom_up:
            for lo, hi in self._free_bottom_up(start, end):
                cand = -(-lo // align) * align
                if cand + size <= hi:
                    return cand
            return None
        for lo, hi in self._free_top_down(start, end):
            if hi - lo >= size:
                cand = (hi - size) // align * align
                if cand >= lo:
                    return cand
        return None

    def phys_alloc_range(self, size: int, align: int, start: int, end: int) -> int | None:
        """memblock_phys_alloc_range(): find and reserve; None is the kernel's 0 (failure)."""
        base = self.find_in_range(size, align, start, end)
        if base is not None:
            self.reserve(Range(base, base + size))
        return base
