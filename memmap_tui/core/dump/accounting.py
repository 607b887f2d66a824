"""Accounting on the MemoryMap: per RAM range, hole and region, what the dump holds."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

from memmap_tui.core.dump.layout import DumpLayout
from memmap_tui.core.dump.page_index import RangeStats, sum_stats
from memmap_tui.core.model import MemoryMap
from memmap_tui.core.ranges import Range


@dataclass(slots=True)
class AccountRow:
    range: Range
    kind: str            # "ram" | "hole"
    name: str            # iomem name or "hole"
    stats: RangeStats


@dataclass(slots=True)
class DumpAccount:
    layout: DumpLayout
    regions: dict[str, RangeStats]     # region id -> stats over its placed ranges
    rows: list[AccountRow]             # RAM ranges and holes partitioning [0, top)
    totals: RangeStats                 # Σ rows
    file_totals: RangeStats            # straight from the layout (must equal `totals`)

    @property
    def balanced(self) -> bool:
        """Rows add up to the file-level figures (bytes, descriptors and zero pages exactly;
        excluded pages are floored per range, so they may differ by under one page per row)."""
        a, b = self.totals, self.file_totals
        return ((a.covered_bytes, a.present_bytes, a.on_disk_bytes, a.descriptors, a.zero_pages)
                == (b.covered_bytes, b.present_bytes, b.on_disk_bytes, b.descriptors, b.zero_pages)
                and abs(a.excluded_pages - b.excluded_pages) <= len(self.rows))


def _ram_namer(mm: MemoryMap):
    """Name of the top-level iomem line overlapping a RAM range (bisection, not a scan)."""
    top = sorted((e.range.start, e.range.end, e.name) for e in mm.iomem if e.depth == 0)
    starts = [t[0] for t in top]
    fallback = "System RAM" if mm.ram_known else "dump coverage"

    def name(r: Range) -> str:
        # top-level lines are disjoint: the first overlapping one holds r.start or follows it
        i = max(0, bisect_right(starts, r.start) - 1)
        return next((n for s, e, n in top[i:i + 2] if s < r.end and r.start < e), fallback)
    return name


def account_dump(mm: MemoryMap, layout: DumpLayout) -> DumpAccount:
    ram = mm.ram if mm.ram_known else layout.covered_ram
    top = max(ram.end or 0, layout.extent)
    rows: list[tuple[Range, str, str]] = []
    ram_name = _ram_namer(mm)
    cursor = 0
    for r in ram:
        if r.start > cursor:
            rows.append((Range(cursor, r.start), "hole", "hole"))
        rows.append((r, "ram", ram_name(r)))
        cursor = r.end
    if top > cursor:
        rows.append((Range(cursor, top), "hole", "hole"))
    stats = layout.stats([r for r, _, _ in rows])
    acc_rows = [AccountRow(r, k, n, s) for (r, k, n), s in zip(rows, stats)]

    region_stats: dict[str, RangeStats] = {}
    placed = [(reg.id, list(reg.ranges)) for reg in mm.regions if reg.placed]
    flat = [r for _, rs in placed for r in rs]
    flat_stats = iter(layout.stats(flat))
    for rid, rs in placed:
        region_stats[rid] = sum_stats(next(flat_stats) for _ in rs)
    for reg in mm.regions:
        region_stats.setdefault(reg.id, RangeStats())
    return DumpAccount(layout, region_stats, acc_rows, sum_stats(s for s in stats), layout.totals())


