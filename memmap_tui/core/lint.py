"""Cross-region checks a BSP engineer wants before boot (pure; reads only the model).

Each rule names the kernel behaviour behind it: overlapping reservations are only
reported by the kernel ("OVERLAP DETECTED!"), an initrd shared with a mapped carveout is
freed to the page allocator after boot, and so on. Failures of the boot sequence itself
(-EBUSY, -ENOMEM, init errors, crashkernel placement) are the boot replay's findings
(core/replay.py).
"""

from __future__ import annotations

from memmap_tui.core.model import Finding, Level, MemoryMap, Region, RegionKind
from memmap_tui.core.ranges import RangeSet, overlapping_pairs
from memmap_tui.core.replay import kernel_tuple
from memmap_tui.core.units import exact_size, kernel_mem


def _rmem(mm: MemoryMap) -> list[Region]:
    return [r for r in mm.regions
            if r.kind not in (RegionKind.MEMRESERVE, RegionKind.CRASHKERNEL)
            and r.placed and r.reserves_memory]


# Overlap findings listed per check; thousands of identical carveouts would otherwise
# make R² findings (the kernel itself only compares sorted neighbours).
MAX_OVERLAP_FINDINGS = 200


def lint(mm: MemoryMap) -> list[Finding]:
    out: list[Finding] = []
    rmem = _rmem(mm)

    # Overlapping /reserved-memory children: both are kept, the kernel only complains
    # (of_reserved_mem.c __rmem_check_for_overlap). One sweep line, not every pair.
    pairs = overlapping_pairs([r.ranges for r in rmem], limit=MAX_OVERLAP_FINDINGS + 1)
    for i, j in pairs[:MAX_OVERLAP_FINDINGS]:
        a, b = rmem[i], rmem[j]
        common = a.ranges & b.ranges
        out.append(Finding(Level.WARNING, "overlap",
                           f"{a.name} and {b.name} overlap by {exact_size(common.size_bytes)} "
                           f"{kernel_mem(common.ranges[0])} (kernel: \"OVERLAP DETECTED!\")", a.id))
    if len(pairs) > MAX_OVERLAP_FINDINGS:
        out.append(Finding(Level.WARNING, "overlap",
                           f"more than {MAX_OVERLAP_FINDINGS} overlapping pairs of reserved regions; "
                           "the rest are not listed"))

    # /memreserve/ on top of a no-map child: both succeed when memreserve is scanned last
    # (v6.4+, commit b413281876292); before, the no-map child fails (the replay says so).
    if kernel_tuple(mm.kernel) >= (6, 4):
        memreserve = [r for r in mm.regions if r.kind is RegionKind.MEMRESERVE and r.reserves_memory]
        no_map = [r for r in rmem if r.no_map]
        pairs = overlapping_pairs([r.ranges for r in memreserve], [r.ranges for r in no_map],
                                  limit=MAX_OVERLAP_FINDINGS)
        for i, j in pairs:
            mr, r = memreserve[i], no_map[j]
            out.append(Finding(Level.INFO, "memreserve-in-no-map",
                               f"{mr.id} lies inside no-map {r.name}: harmless, /memreserve/ is "
                               "scanned after /reserved-memory", mr.id))

    # The initrd on a mapped static carveout: memblock_reserve() succeeds (only no-map is
    # refused with -EBUSY: the replay's no-map-ebusy), but free_initrd_mem() later hands the
    # initrd pages to the page allocator, carveout bytes included.
    if mm.boot.initrd:
        initrd = RangeSet([mm.boot.initrd])
        for r in rmem:
            if not r.dynamic and not r.no_map and r.ranges & initrd:
                out.append(Finding(Level.WARNING, "initrd-overlap",
                                   f"{r.name} overlaps the initrd {kernel_mem(mm.boot.initrd)}: it is reserved, "
                                   "but \"Freeing initrd memory\" gives the shared pages to the page allocator",
                                   r.id))

    # Edges inside a page: /proc/iomem and the linear map are PFN-rounded, the vmcore PT_LOADs
    # keep the shared page in both neighbours.
    for r in rmem:
        for rng in r.ranges:
            if rng.start % mm.page_size or rng.end % mm.page_size:
                out.append(Finding(Level.INFO, "unaligned",
                                   f"{r.name} {kernel_mem(rng)} is not {exact_size(mm.page_size)} aligned: "
                                   "its edge pages stay in the neighbouring PT_LOADs", r.id))
                break

    # Reusable without a CMA driver: a plain reservation the v2+ series would drop.
    for r in mm.regions:
        if r.reusable and not r.cma and r.reserves_memory and r.kind is RegionKind.REUSABLE:
            out.append(Finding(Level.INFO, "reusable-not-cma",
                               f"{r.name} is reusable but not a CMA pool (shared-dma-pool): "
                               "the v2+ series drops it from the vmcore (no rmem_cma_setup())", r.id))

    return out
