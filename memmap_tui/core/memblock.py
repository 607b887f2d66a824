"""A small model of memblock (mm/memblock.c): the boot-time allocator the replay drives.

Three sets, as the kernel keeps them: `memory` (memblock.memory), `nomap` (memory
regions flagged MEMBLOCK_NOMAP) and `reserved` (memblock.reserved, merged like the
kernel merges adjacent regions). Allocation follows `memblock_find_in_range_node()`:
top-down by default over free memory = memory − reserved − NOMAP (`should_skip_region()`
skips NOMAP for MEMBLOCK_NONE allocations), never below PAGE_SIZE. The replay works on
its own instance, so mutating it here changes no model object.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from memmap_tui.core.ranges import Range, RangeSet

# MEMBLOCK_ALLOC_ANYWHERE: (phys_addr_t)~0; the replay never exceeds a 64-bit address.
ALLOC_ANYWHERE = 1 << 64
PAGE_FLOOR = 4096  # memblock_find_in_range_node(): start = max(start, PAGE_SIZE)


@dataclass(slots=True)
class Memblock:
    memory: RangeSet
    reserved: RangeSet = field(default_factory=RangeSet)
    nomap: RangeSet = field(default_factory=RangeSet)
    bottom_up: bool = False
    allocations: int = 0   # operation count, for the complexity tests

    def free_ranges(self) -> RangeSet:
        """for_each_free_mem_range(): memory not reserved and not NOMAP."""
        return self.memory - self.reserved - self.nomap

    def overlaps_memory(self, rng: Range) -> bool:
        """memblock_overlaps_region(&memblock.memory, base, size)."""
        return bool(self.memory & RangeSet([rng]))

    def is_region_reserved(self, rng: Range) -> bool:
        """memblock_is_region_reserved(): any overlap with memblock.reserved."""
        return bool(self.reserved & RangeSet([rng]))

    def reserve(self, rng: Range) -> None:
        """memblock_reserve(): always succeeds, even outside memory."""
        self.reserved = self.reserved | RangeSet([rng])

    def mark_nomap(self, rng: Range) -> None:
        """memblock_mark_nomap(): flags the memory part; a no-op outside memory."""
        self.nomap = self.nomap | (RangeSet([rng]) & self.memory)

    def clear_nomap(self, rng: Range) -> None:
        self.nomap = self.nomap - RangeSet([rng])

    def phys_free(self, rng: Range) -> None:
        """memblock_phys_free(): the bytes leave memblock.reserved, whoever reserved them."""
        self.reserved = self.reserved - RangeSet([rng])

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
        self.nomap = self.nomap & new
        return removed

    def find_in_range(self, size: int, align: int, start: int, end: int) -> int | None:
        """memblock_find_in_range_node() → __memblock_find_range_{top_down,bottom_up}()."""
        self.allocations += 1
        if size <= 0 or align <= 0:
            return None
        start = max(start, PAGE_FLOOR)
        end = min(end, ALLOC_ANYWHERE)
        free = self.free_ranges().ranges
        if self.bottom_up:
            for r in free:
                lo, hi = max(r.start, start), min(r.end, end)
                cand = -(-lo // align) * align
                if cand + size <= hi:
                    return cand
            return None
        for r in reversed(free):
            lo, hi = max(r.start, start), min(r.end, end)
            if hi - lo < size:
                continue
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
