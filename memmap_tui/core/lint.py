"""Cross-region checks a BSP engineer wants before boot (pure; reads only the model).

Each rule names the kernel behaviour behind it: overlapping reservations are only
reported by the kernel ("OVERLAP DETECTED!"), an initrd on top of a static carveout
makes `early_init_dt_reserve_memory()` fail (boot/README.md run 1), a fixed
crashkernel offset on a carveout fails its memblock reservation, and so on.
"""

from __future__ import annotations

from memmap_tui.core.model import Finding, Level, MemoryMap, Region, RegionKind
from memmap_tui.core.ranges import RangeSet, overlapping_pairs
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

    # /memreserve/ on top of a no-map child: both succeed (memreserve is scanned last), say so.
    memreserve = [r for r in mm.regions if r.kind is RegionKind.MEMRESERVE and r.reserves_memory]
    no_map = [r for r in rmem if r.no_map]
    pairs = overlapping_pairs([r.ranges for r in memreserve], [r.ranges for r in no_map],
                              limit=MAX_OVERLAP_FINDINGS)
    for i, j in pairs:
        mr, r = memreserve[i], no_map[j]
        out.append(Finding(Level.INFO, "memreserve-in-no-map",
                           f"{mr.id} lies inside no-map {r.name}: harmless, /memreserve/ is "
                           "scanned after /reserved-memory", mr.id))

    # The initrd on a static carveout: the carveout's reservation fails (run-1 collision).
    if mm.boot.initrd:
        initrd = RangeSet([mm.boot.initrd])
        for r in rmem:
            if not r.dynamic and r.ranges & initrd:
                out.append(Finding(Level.WARNING, "initrd-overlap",
                                   f"{r.name} overlaps the initrd {kernel_mem(mm.boot.initrd)}: the kernel "
                                   "\"failed to reserve memory\" for it and it stays plain RAM", r.id))

    # A crashkernel at a fixed offset on top of a carveout cannot be reserved.
    for ck in (r for r in mm.regions if r.kind is RegionKind.CRASHKERNEL and r.placement_source == "bootargs"):
        for r in rmem:
            if r.ranges & ck.ranges:
                out.append(Finding(Level.ERROR, "crashkernel-overlap",
                                   f"crashkernel=…@{ck.ranges.start:#x} overlaps {r.name}: the crash kernel "
                                   "reservation fails", ck.id))

    # Edges inside a page: /proc/iomem and the linear map are PFN-rounded, the vmcore PT_LOADs
    # keep the shared page in both neighbours.
    for r in rmem:
        for rng in r.ranges:
            if rng.start % mm.page_size or rng.end % mm.page_size:
                out.append(Finding(Level.INFO, "unaligned",
                                   f"{r.name} {kernel_mem(rng)} is not {exact_size(mm.page_size)} aligned: "
                                   "its edge pages stay in the neighbouring PT_LOADs", r.id))
                break

    # Reusable without a CMA driver: a plain reservation that exclude-reserved (v2+) would drop.
    for r in mm.regions:
        if r.reusable and not r.cma and r.reserves_memory and r.kind is RegionKind.REUSABLE:
            out.append(Finding(Level.INFO, "reusable-not-cma",
                               f"{r.name} is reusable but not a CMA pool (shared-dma-pool): "
                               "exclude-reserved (v2+) drops it from the vmcore", r.id))

    # Dynamic allocation ranges that miss RAM entirely: the kernel falls back to anywhere.
    if mm.ram_known:
        for r in mm.regions:
            if r.dynamic and r.alloc_ranges and not (RangeSet(r.alloc_ranges) & mm.ram):  # bisects mm.ram
                out.append(Finding(Level.WARNING, "alloc-ranges-outside-ram",
                                   f"{r.name}: alloc-ranges lie outside RAM; the kernel allocates it "
                                   "anywhere instead", r.id))
    return out
