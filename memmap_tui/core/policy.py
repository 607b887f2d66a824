"""Which physical bytes land in a kdump vmcore, per kernel policy (domain.md §2).

Three policies, never blurred:
  today             current kernels: RAM PT_LOADs = memblock.memory minus NOMAP minus crashk_res
  no-dump-v1        the v1 series: also drops reserved_mem[] entries tagged `linux,no-dump`
                    (not no-map, not reusable) and /memreserve/ entries (inheriting an
                    overlapping entry's flag)
  exclude-reserved  v2+: drops every reserved_mem[] entry except CMA, and /memreserve/
                    entries unless they overlap a CMA entry

Both proposals change only the kexec_file_load path of arm64, riscv and loongarch; x86_64
and kexec_load users get `today` for all three.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from memmap_tui.core.model import MemoryMap, Region, RegionKind
from memmap_tui.core.ranges import Range, RangeSet, page_round_out

POLICIES = ("today", "no-dump-v1", "exclude-reserved")
ARCHES = ("arm64", "riscv", "loongarch", "x86_64")
LOADERS = ("kexec_file", "kexec_load")
LOW_1M = Range(0, 1 << 20)  # x86 kexec_file always drops the first MiB (backup region)


class ToggleEffect(StrEnum):
    EFFECTIVE = "effective"
    IGNORED_REUSABLE = "ignored-reusable"
    REDUNDANT_NO_MAP = "redundant-no-map"
    NO_ENTRY = "no-entry"            # the kernel keeps no reserved_mem[] entry for it
    NOT_RESERVED = "not-reserved"    # disabled / failed / ignored: plain RAM
    NOT_APPLICABLE = "not-applicable"  # x86_64, kexec_load, /memreserve/, crashkernel


TOGGLE_WHY = {
    ToggleEffect.EFFECTIVE: "a no-dump-v1 kernel drops this region from the vmcore",
    ToggleEffect.IGNORED_REUSABLE: "ignored: v1 skips linux,no-dump on reusable regions (CMA pages hold live data)",
    ToggleEffect.REDUNDANT_NO_MAP: "redundant: no-map memory is never in the vmcore already",
    ToggleEffect.NO_ENTRY: "no effect: the kernel keeps no reserved_mem[] entry for this node",
    ToggleEffect.NOT_RESERVED: "no effect: the kernel does not reserve this node (it stays plain RAM)",
    ToggleEffect.NOT_APPLICABLE: "no effect: only kexec_file on arm64/riscv/loongarch honours it",
}


@dataclass(frozen=True, slots=True)
class PolicyResult:
    name: str
    dumped: RangeSet                 # placed physical ranges in the RAM PT_LOADs
    dumped_bytes: int | None         # page-rounded; None when RAM is unknown
    savings_bytes: int               # today − this policy (known even without RAM)
    region_dumped: dict[str, int] = field(default_factory=dict)   # bytes of each region dumped
    unplaced_excluded_bytes: int = 0  # sizes of unplaced regions assumed inside RAM


def honours_proposals(mm: MemoryMap) -> bool:
    return mm.loader == "kexec_file" and mm.arch in ("arm64", "riscv", "loongarch")


def toggle_effect(mm: MemoryMap, region: Region) -> ToggleEffect:
    if region.kind in (RegionKind.MEMRESERVE, RegionKind.CRASHKERNEL) or not honours_proposals(mm):
        return ToggleEffect.NOT_APPLICABLE
    if not region.reserves_memory:
        return ToggleEffect.NOT_RESERVED
    if region.no_map:
        return ToggleEffect.REDUNDANT_NO_MAP
    if region.reusable:
        return ToggleEffect.IGNORED_REUSABLE
    if not region.saved:
        return ToggleEffect.NO_ENTRY
    return ToggleEffect.EFFECTIVE


# -- the building blocks: what each kernel path starts from and removes -----------

def _crash_regions(mm: MemoryMap) -> list[Region]:
    out = []
    for r in mm.regions:
        if r.kind is not RegionKind.CRASHKERNEL or not r.reserves_memory:
            continue
        if r.id == "crashkernel-low" and mm.arch == "riscv" and mm.loader == "kexec_file":
            continue  # riscv prepare_elf_headers() excludes crashk_res only
        if r.id.startswith("crashkernel-cma") and mm.arch != "x86_64":
            continue  # crashkernel=,cma is x86/ppc only; the region is flagged ignored anyway
        out.append(r)
    return out


def _iomem_ranges(mm: MemoryMap, *, contains: bool = False, top_level: bool | None = None,
                  name: str) -> RangeSet:
    out = []
    for e in mm.iomem:
        match = name in e.name if contains else e.name.startswith(name)
        if match and (top_level is None or (e.depth == 0) == top_level):
            out.append(e.range)
    return RangeSet(out)


def _nomap(mm: MemoryMap) -> RangeSet:
    dt = RangeSet(rng for r in mm.regions if r.no_map and r.reserves_memory for rng in r.ranges)
    if mm.arch in ("arm64", "loongarch") and mm.iomem:
        # Top-level "reserved" in arm64 iomem is every NOMAP memblock region (DT no-map and
        # EFI non-usable alike), so it also catches regions the DTB does not describe.
        dt = dt | _iomem_ranges(mm, name="reserved", top_level=True)
    return dt


def _base_ranges(mm: MemoryMap, ram: RangeSet) -> RangeSet:
    """RAM PT_LOADs of `today`, placed part only."""
    crash = RangeSet(rng for r in _crash_regions(mm) for rng in r.ranges)
    if mm.loader == "kexec_load" and mm.iomem:
        # kexec-tools reads /proc/iomem lines, ignoring indentation (domain.md §2.3/§2.5).
        system_ram = _iomem_ranges(mm, name="System RAM", contains=mm.arch == "x86_64")
        crash_lines = _iomem_ranges(mm, name="Crash kernel")
        out = system_ram - crash_lines
        if mm.arch == "x86_64":
            out = out - _iomem_ranges(mm, name="GART")
        return out
    if mm.arch in ("riscv", "x86_64") and mm.iomem:
        base = _iomem_ranges(mm, name="System RAM", top_level=True)  # walk_system_ram_res()
    else:
        base = ram - _nomap(mm)
    if mm.arch == "x86_64" and mm.loader == "kexec_file":
        base = base - RangeSet([LOW_1M])
    return base - crash


def _saved_entries(mm: MemoryMap) -> list[Region]:
    """reserved_mem[] entries, in the kernel's order (static in DT order, then dynamic)."""
    rmem = [r for r in mm.regions
            if r.kind not in (RegionKind.MEMRESERVE, RegionKind.CRASHKERNEL)
            and r.reserves_memory and r.saved]
    return [r for r in rmem if not r.dynamic] + [r for r in rmem if r.dynamic]


def excluded_by(mm: MemoryMap, policy: str) -> list[Region]:
    """Regions a policy drops on top of `today` (by their full reserved ranges)."""
    if policy == "today" or not honours_proposals(mm):
        return []
    entries = _saved_entries(mm)
    if policy == "no-dump-v1":
        out = [r for r in entries if mm.no_dump(r) and not r.no_map and not r.reusable]
    elif policy == "exclude-reserved":
        out = [r for r in entries if not r.cma and not r.no_map]
    else:
        raise ValueError(f"unknown policy {policy!r}")
    for mr in mm.regions:
        if mr.kind is not RegionKind.MEMRESERVE or not mr.reserves_memory:
            continue
        overlapping = [e for e in entries if e.ranges and e.ranges.overlap_bytes(mr.ranges)]
        if policy == "no-dump-v1":
            # fdt_reserved_mem_save_memreserve(): no_dump defaults to true, but an
            # overlapping saved entry's flag is inherited (first overlap wins).
            drop = mm.no_dump(overlapping[0]) if overlapping else True
        else:
            # v2+: a memreserve overlapping a dumpable (CMA) entry is kept whole.
            drop = not any(e.cma for e in overlapping)
        if drop:
            out.append(mr)
    return out


def _today_drops_unplaced(mm: MemoryMap, region: Region) -> bool:
    if region.kind is RegionKind.CRASHKERNEL:
        return region in _crash_regions(mm)
    return region.no_map


def evaluate(mm: MemoryMap) -> dict[str, PolicyResult]:
    """All three policies for the current toggles."""
    ram = mm.ram if mm.ram_known else RangeSet(
        rng for r in mm.regions if r.reserves_memory for rng in r.ranges)
    today_set = _base_ranges(mm, ram)
    page = mm.page_size
    unplaced = [r for r in mm.regions if r.reserves_memory and not r.placed and r.size_bytes]

    def rounded(size: int) -> int:
        return page_round_out(0, size, page)[1]

    results: dict[str, PolicyResult] = {}
    today_bytes = None
    for policy in POLICIES:
        dropped = excluded_by(mm, policy)
        dropped_ids = {r.id for r in dropped}
        dropped_set = RangeSet(rng for r in dropped for rng in r.ranges)
        dumped = today_set - dropped_set
        unplaced_out = sum(
            rounded(r.size_bytes) for r in unplaced
            if r.id in dropped_ids or _today_drops_unplaced(mm, r))
        total = dumped.page_rounded_bytes(page) - unplaced_out
        region_dumped = {}
        for r in mm.regions:
            if r.placed:
                region_dumped[r.id] = r.ranges.overlap_bytes(dumped)
            elif not r.reserves_memory or r.id in dropped_ids or _today_drops_unplaced(mm, r):
                region_dumped[r.id] = 0
            else:
                region_dumped[r.id] = r.size_bytes
        if policy == "today":
            today_bytes = total
        results[policy] = PolicyResult(
            name=policy,
            dumped=dumped,
            dumped_bytes=total if mm.ram_known else None,
            savings_bytes=today_bytes - total,
            region_dumped=region_dumped,
            unplaced_excluded_bytes=unplaced_out,
        )
    return results


def region_policy_why(mm: MemoryMap, region: Region) -> dict[str, str]:
    """One line per policy saying whether and why the region is in the vmcore."""
    res = evaluate(mm)
    out = {}
    for policy in POLICIES:
        dumped = res[policy].region_dumped.get(region.id, 0)
        if not region.reserves_memory:
            why = "plain RAM (the kernel does not reserve it)"
        elif region.kind is RegionKind.CRASHKERNEL:
            why = "crash kernel memory is never dumped" if dumped == 0 else "dumped (not excluded on this path)"
        elif region.no_map:
            why = "no-map: not in memblock's mapped memory, never dumped"
        elif policy == "today" or not honours_proposals(mm):
            why = "memblock_reserve'd memory is dumped today"
        elif region in excluded_by(mm, policy):
            why = ("linux,no-dump set" if policy == "no-dump-v1" and region.kind is not RegionKind.MEMRESERVE
                   else "excluded by default" if policy == "exclude-reserved" or region.kind is RegionKind.MEMRESERVE
                   else "excluded")
        elif policy == "exclude-reserved" and region.cma:
            why = "CMA entry: rmem_cma_setup() marks it dumpable"
        elif not region.saved:
            why = "no reserved_mem[] entry: never excluded"
        elif policy == "no-dump-v1" and region.reusable:
            why = "reusable: linux,no-dump ignored"
        else:
            why = "dumped"
        out[policy] = why
    return out
