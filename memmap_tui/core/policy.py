"""Which physical bytes land in a kdump vmcore, per kernel policy (domain.md §2).

The policies themselves are records in `core.policies`; the arch and loader paths
(which ranges the kernel starts from, what it cuts out) are records in `core.arch`.
This module runs them: `evaluate()` computes every policy once into a `PolicyResults`
that views read (and that explains each region without evaluating again).

All work is sorted sweeps and bisection: O(n log n) in regions and ranges (issue 15).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Iterator

from memmap_tui.core.arch import (ARCHES, CRASH_CMA, LOADERS, ArchRules, DumpPath, honouring_paths,
                                  is_iomem_nomap, rules_for)
from memmap_tui.core.coverage import Coverage
from memmap_tui.core.model import MemoryMap, Region, RegionKind
from memmap_tui.core.policies import POLICIES as REGISTRY, Policy
from memmap_tui.core.vmcore_size import ElfEstimate, elf_estimate
from memmap_tui.core.ranges import RangeSet, overlapping_pairs, page_round_out

# The names other modules import from here: the policy ids (a live view of the
# registry, in order), the arches and loaders of `core.arch`.
POLICIES = REGISTRY.ids
__all__ = ["ARCHES", "LOADERS", "POLICIES", "PolicyResult", "PolicyResults", "ToggleEffect",
           "TOGGLE_WHY", "evaluate", "honours_proposals", "region_policy_why", "toggle_effect"]


class ToggleEffect(StrEnum):
    EFFECTIVE = "effective"
    IGNORED_REUSABLE = "ignored-reusable"
    REDUNDANT_NO_MAP = "redundant-no-map"
    NO_ENTRY = "no-entry"            # the kernel keeps no reserved_mem[] entry for it
    NOT_RESERVED = "not-reserved"    # disabled / failed / ignored: plain RAM
    NOT_APPLICABLE = "not-applicable"  # x86_64, kexec_load, /memreserve/, crashkernel


TOGGLE_WHY = {
    ToggleEffect.EFFECTIVE: f"a {REGISTRY.toggled.id} kernel drops this region from the vmcore",
    ToggleEffect.IGNORED_REUSABLE: "ignored: v1 skips linux,no-dump on reusable regions (CMA pages hold live data)",
    ToggleEffect.REDUNDANT_NO_MAP: "redundant: no-map memory is never in the vmcore already",
    ToggleEffect.NO_ENTRY: "no effect: the kernel keeps no reserved_mem[] entry for this node",
    ToggleEffect.NOT_RESERVED: "no effect: the kernel does not reserve this node (it stays plain RAM)",
    ToggleEffect.NOT_APPLICABLE: f"no effect: only {honouring_paths()} honours it",
}


@dataclass(frozen=True, slots=True)
class PolicyResult:
    name: str
    dumped: RangeSet                 # placed physical ranges in the RAM PT_LOADs
    dumped_bytes: int | None         # page-rounded; None when RAM is unknown
    savings_bytes: int               # today − this policy (known even without RAM)
    region_dumped: dict[str, int] = field(default_factory=dict)   # bytes of each region dumped
    unplaced_excluded_bytes: int = 0  # sizes of unplaced regions assumed inside RAM
    excluded_ids: frozenset[str] = frozenset()  # regions dropped on top of `today`
    elf: ElfEstimate | None = None   # whole /proc/vmcore size estimate (core/vmcore_size.py)


class PolicyResults(Mapping[str, PolicyResult]):
    """Every registered policy's result for one state of the model, computed once."""

    def __init__(self, mm: MemoryMap, results: dict[str, PolicyResult]) -> None:
        self._mm = mm
        self._results = results

    def __getitem__(self, policy_id: str) -> PolicyResult:
        return self._results[policy_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._results)

    def __len__(self) -> int:
        return len(self._results)

    def why(self, region: Region) -> dict[str, str]:
        """One line per policy saying whether and why the region is in the vmcore."""
        mm, out = self._mm, {}
        for policy in REGISTRY:
            out[policy.id] = _why(mm, region, policy, self._results[policy.id])
        return out


def honours_proposals(mm: MemoryMap) -> bool:
    return rules_for(mm.arch).dump_path(mm.loader).honours_proposals


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

def _crash_regions(mm: MemoryMap, path: DumpPath) -> list[Region]:
    """crashk_res / crashk_low_res / crashk_cma ranges this path cuts out."""
    out = []
    for r in mm.regions:
        if r.kind is not RegionKind.CRASHKERNEL or not r.reserves_memory:
            continue
        base_id = CRASH_CMA if r.id.startswith(CRASH_CMA) else r.id
        if base_id not in path.excluded_crash:
            continue  # e.g. riscv prepare_elf_headers() excludes crashk_res only
        if base_id == CRASH_CMA and not rules_for(mm.arch).crashkernel_cma:
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


def _nomap(mm: MemoryMap, rules: ArchRules) -> RangeSet:
    dt = [pair for r in mm.regions if r.no_map and r.reserves_memory for pair in r.ranges.pairs]
    # The arch's top-level NOMAP iomem line is every NOMAP memblock region (DT no-map and
    # EFI non-usable alike), so it also catches regions the DTB does not describe.
    dt += [e.range for e in mm.iomem if is_iomem_nomap(rules, e.name, e.depth)]
    return RangeSet(dt)


def _base_ranges(mm: MemoryMap, ram: RangeSet) -> RangeSet:
    """RAM PT_LOADs of `today`, placed part only."""
    rules = rules_for(mm.arch)
    path = rules.dump_path(mm.loader)
    if path.base == "iomem_lines" and mm.iomem:
        # kexec-tools reads /proc/iomem lines, ignoring indentation (domain.md §2.3/§2.5).
        out = _iomem_ranges(mm, name=rules.iomem_ram, contains=path.ram_line_contains)
        for line in path.excluded_lines:
            out = out - _iomem_ranges(mm, name=line)
        return out
    if path.base == "system_ram_res" and mm.iomem:
        base = _iomem_ranges(mm, name=rules.iomem_ram, top_level=True)  # walk_system_ram_res()
    else:
        # for_each_mem_range(); also the stand-in when iomem is missing
        base = ram - _nomap(mm, rules)
        if path.base == "memblock" and mm.boot.movable_node and mm.hotplug and not mm.boot.efi:
            # mm/memblock.c should_skip_region(): with `movable_node`, MEMBLOCK_HOTPLUG
            # regions (DT /memory `hotpluggable`) are skipped by for_each_mem_range()
            base = base - mm.hotplug
    if path.excluded_low_bytes:
        base = base - RangeSet([(0, path.excluded_low_bytes)])
    crash = RangeSet(pair for r in _crash_regions(mm, path) for pair in r.ranges.pairs)
    return base - crash


def _saved_entries(mm: MemoryMap) -> list[Region]:
    """reserved_mem[] entries, in the kernel's order (static in DT order, then dynamic)."""
    rmem = [r for r in mm.regions
            if r.kind not in (RegionKind.MEMRESERVE, RegionKind.CRASHKERNEL)
            and r.reserves_memory and r.saved]
    return [r for r in rmem if not r.dynamic] + [r for r in rmem if r.dynamic]


def _excluded(mm: MemoryMap, policy: Policy, entries: list[Region], memreserves: list[Region],
              overlaps: list[list[int]]) -> list[Region]:
    """Regions a policy drops on top of `today` (by their full reserved ranges)."""
    if not policy.changes(rules_for(mm.arch), mm.loader):
        return []
    out = [r for r in entries if policy.drops_entry(mm, r)]
    for mr, hits in zip(memreserves, overlaps):
        if policy.drops_memreserve(mm, [entries[i] for i in hits]):
            out.append(mr)
    return out


def evaluate(mm: MemoryMap) -> PolicyResults:
    """Every registered policy for the current toggles."""
    ram = mm.ram if mm.ram_known else RangeSet(
        pair for r in mm.regions if r.reserves_memory for pair in r.ranges.pairs)
    today_set = _base_ranges(mm, ram)
    page = mm.page_size
    path = rules_for(mm.arch).dump_path(mm.loader)
    today_drops_unplaced = {r.id for r in _crash_regions(mm, path)} | {
        r.id for r in mm.regions if r.kind is not RegionKind.CRASHKERNEL and r.no_map}
    unplaced = [r for r in mm.regions if r.reserves_memory and not r.placed and r.size_bytes]
    entries = _saved_entries(mm)
    memreserves = [r for r in mm.regions if r.kind is RegionKind.MEMRESERVE and r.reserves_memory]
    # which saved entries each memreserve overlaps, in reserved_mem[] order: one sweep
    overlaps: list[list[int]] = [[] for _ in memreserves]
    for i, j in overlapping_pairs([mr.ranges for mr in memreserves], [e.ranges for e in entries]):
        overlaps[i].append(j)   # pairs come sorted: each list is in reserved_mem[] order

    def rounded(size: int) -> int:
        return page_round_out(0, size, page)[1]

    results: dict[str, PolicyResult] = {}
    today_bytes = None
    for policy in REGISTRY:
        dropped = _excluded(mm, policy, entries, memreserves, overlaps)
        dropped_ids = frozenset(r.id for r in dropped)
        dropped_set = RangeSet(pair for r in dropped for pair in r.ranges.pairs)
        dumped = today_set - dropped_set
        unplaced_out = sum(
            rounded(r.size_bytes) for r in unplaced
            if r.id in dropped_ids or r.id in today_drops_unplaced)
        total = dumped.page_rounded_bytes(page) - unplaced_out
        coverage = Coverage(dumped)
        region_dumped = {}
        for r in mm.regions:
            if r.placed:
                region_dumped[r.id] = coverage.bytes_in(r.ranges)
            elif not r.reserves_memory or r.id in dropped_ids or r.id in today_drops_unplaced:
                region_dumped[r.id] = 0
            else:
                region_dumped[r.id] = r.size_bytes
        if today_bytes is None:  # the registry's first policy is `today`
            today_bytes = total
        results[policy.id] = PolicyResult(
            name=policy.id,
            dumped=dumped,
            dumped_bytes=total if mm.ram_known else None,
            savings_bytes=today_bytes - total,
            region_dumped=region_dumped,
            unplaced_excluded_bytes=unplaced_out,
            excluded_ids=dropped_ids,
            elf=elf_estimate(mm, dumped, total) if mm.ram_known else None,
        )
    return PolicyResults(mm, results)


def _why(mm: MemoryMap, region: Region, policy: Policy, result: PolicyResult) -> str:
    dumped = result.region_dumped.get(region.id, 0)
    if not region.reserves_memory:
        return "plain RAM (the kernel does not reserve it)"
    if region.kind is RegionKind.CRASHKERNEL:
        return "crash kernel memory is never dumped" if dumped == 0 else "dumped (not excluded on this path)"
    if region.no_map:
        return "no-map: not in memblock's mapped memory, never dumped"
    if not policy.changes(rules_for(mm.arch), mm.loader):
        return "memblock_reserve'd memory is dumped today"
    if region.id in result.excluded_ids:
        return policy.why_memreserve_excluded if region.kind is RegionKind.MEMRESERVE else policy.why_excluded
    kept = policy.why_kept(mm, region) if policy.why_kept else None
    if kept:
        return kept
    if not region.saved:
        return "no reserved_mem[] entry: never excluded"
    return "dumped"


def region_policy_why(mm: MemoryMap, region: Region,
                      results: PolicyResults | None = None) -> dict[str, str]:
    """One line per policy saying whether and why the region is in the vmcore.

    Pass the results the caller already holds; without them the model is evaluated.
    """
    return (results if results is not None else evaluate(mm)).why(region)
