"""Accounting on the MemoryMap: per RAM range, hole and region, what the dump holds."""

from __future__ import annotations

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


def _ram_name(mm: MemoryMap, r: Range) -> str:
    for e in mm.iomem:
        if e.depth == 0 and e.range.overlaps(r):
            return e.name
    return "System RAM" if mm.ram_known else "dump coverage"


def account_dump(mm: MemoryMap, layout: DumpLayout) -> DumpAccount:
    ram = mm.ram if mm.ram_known else layout.covered_ram
    top = max(ram.end or 0, layout.extent)
    rows: list[tuple[Range, str, str]] = []
    cursor = 0
    for r in ram:
        if r.start > cursor:
            rows.append((Range(cursor, r.start), "hole", "hole"))
        rows.append((r, "ram", _ram_name(mm, r)))
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


