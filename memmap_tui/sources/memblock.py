"""/sys/kernel/debug/memblock/{memory,reserved}: the kernel's own early memory view.

mm/memblock.c memblock_debug_show() prints one line per region, `%4d: %pa..%pa`
(inclusive end); later kernels (Yuwei Guan's "show memblock flags/nid in debugfs")
append the node id (`x` when none) and the name of the *lowest* set flag only
(`NONE`, `HOTPLUG`, `MIRROR`, `NOMAP`, `DRV_MNG`, …: flagname[], first match then break).
memblock.memory holds every RAM range the kernel registered, NOMAP ones included
(flagged, and kept as separate regions because regions with different flags never
merge, memblock_merge_regions()); memblock.reserved holds memblock_reserve()d ranges,
merged when adjacent.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from memmap_tui.core.model import Finding, Level, MemoryMap
from memmap_tui.core.ranges import Range, RangeSet
from memmap_tui.core.units import exact_size, kernel_mem
from memmap_tui.sources.errors import InputError, read_text_input

LINE = re.compile(r"^\s*(\d+):\s*(0x[0-9a-fA-F]+)\.\.(0x[0-9a-fA-F]+)(.*)$")
FLAG_WORDS = {"NONE", "HOTPLUG", "MIRROR", "NOMAP", "DRV_MNG", "RSV_NIT", "RSV_KERN", "KHO_SCRATCH",
              "INSPECT", "UNKNOWN"}
HIDES_NOMAP = {"HOTPLUG", "MIRROR"}   # lower bits than NOMAP: printed instead of it
FILES = ("memory", "reserved")


@dataclass(frozen=True, slots=True)
class MemblockRegion:
    range: Range
    flags: frozenset[str] = frozenset()
    nid: int | None = None


@dataclass(slots=True)
class MemblockInfo:
    path: str
    memory: list[MemblockRegion] = field(default_factory=list)
    reserved: list[MemblockRegion] = field(default_factory=list)
    flags_printed: bool = False       # newer kernels print flags; older ones only the ranges
    findings: list[Finding] = field(default_factory=list)


def parse_memblock_list(text: str, path: str, findings: list[Finding]) -> tuple[list[MemblockRegion], bool]:
    out, flagged, bad = [], False, 0
    for line in text.splitlines():
        if not line.strip():
            continue
        m = LINE.match(line)
        if not m:
            bad += 1
            continue
        start, last = int(m.group(2), 16), int(m.group(3), 16)
        if last < start or last >= 1 << 64:
            bad += 1
            continue
        words = re.sub(r"\(.*?\)", " ", m.group(4)).split()   # vendor variants add "(size K)"
        flags = frozenset(w for w in words if w in FLAG_WORDS)
        nid = next((int(w) for w in words if w.lstrip("-").isdigit()), None)
        flagged |= bool(flags)
        out.append(MemblockRegion(Range(start, last + 1), flags, nid))
    if bad:
        findings.append(Finding(Level.WARNING, "memblock-garbage",
                                f"{path}: {bad} line(s) are not `N: 0xSTART..0xEND`; ignored"))
    return out, flagged


def memblock_files(path: str) -> tuple[str, str]:
    """(memory, reserved) paths from a directory or from either file of the pair."""
    d = path if os.path.isdir(path) else os.path.dirname(path) or "."
    files = tuple(os.path.join(d, name) for name in FILES)
    missing = [f for f in files if not os.path.isfile(f)]
    if missing:
        raise InputError(path, "--memblock needs the directory holding `memory` and `reserved` "
                               f"(/sys/kernel/debug/memblock); missing {', '.join(missing)}")
    return files  # type: ignore[return-value]


def load_memblock(path: str) -> MemblockInfo:
    mem_path, rsv_path = memblock_files(path)
    info = MemblockInfo(path)
    info.memory, f1 = parse_memblock_list(read_text_input(mem_path, "memblock memory"), mem_path, info.findings)
    info.reserved, f2 = parse_memblock_list(read_text_input(rsv_path, "memblock reserved"), rsv_path, info.findings)
    info.flags_printed = f1 or f2
    if not info.memory:
        raise InputError(mem_path, "no memblock region in it (expected `   0: 0x…..0x…` lines)")
    return info


# -- evidence against the model -------------------------------------------------------------

def memblock_nomap_checks(mm: MemoryMap, info: MemblockInfo) -> list[tuple[int, str, Finding | None]]:
    """For each placed no-map region inside memblock.memory: (index in mm.regions, the
    note saying whether memblock shows it NOMAP, a finding when it does not)."""
    memory = RangeSet(r.range for r in info.memory)
    nomap = RangeSet(r.range for r in info.memory if "NOMAP" in r.flags)
    hidden = RangeSet(r.range for r in info.memory if r.flags & HIDES_NOMAP)
    edges = {r.range.start for r in info.memory} | {r.range.end for r in info.memory}
    out: list[tuple[int, str, Finding | None]] = []
    for i, region in enumerate(mm.regions):
        if not (region.no_map and region.placed and region.reserves_memory):
            continue
        inside = region.ranges.intersection(memory)
        if not inside:
            continue
        if info.flags_printed:
            if inside.intersection(hidden):
                continue          # only the lowest flag is printed: NOMAP cannot be seen there
            ok = not (inside - nomap)
            why = "flagged NOMAP in memblock.memory" if ok else "NOT flagged NOMAP in memblock.memory"
        else:   # old kernels print no flags; NOMAP regions never merge, so their edges split memory
            ok = all(r.start in edges and r.end in edges for r in inside)
            why = ("memblock.memory is split at its edges (consistent with NOMAP)" if ok else
                   "memblock.memory is not split at its edges (NOMAP unlikely)")
        finding = None if ok else Finding(
            Level.WARNING, "memblock-not-nomap",
            f"{region.name}: no-map in the DT but {why}; the kernel may have "
            "failed to mark it (-EBUSY when already reserved)", region.id)
        out.append((i, f"memblock: {why}", finding))
    return out


def memblock_placements(mm: MemoryMap, info: MemblockInfo) -> list[tuple[int, Range, str]]:
    """Dynamic regions whose size matches exactly one memblock region: (index in mm.regions,
    that range, the evidence line); the caller places them."""
    taken = RangeSet(rng for r in mm.regions if r.placed for rng in r.ranges)
    out = []
    for i, region in enumerate(mm.regions):
        if not region.dynamic or region.placed or not region.reserves_memory:
            continue
        # a no-map allocation is its own memblock.memory region (flags differ); a mapped one
        # is a memblock.reserved region unless it merged with a neighbour (then: unplaced)
        pool, which = (info.memory, "memory") if region.no_map else (info.reserved, "reserved")
        fits = [r.range for r in pool if r.range.size_bytes == region.size_bytes
                and not taken.overlap_bytes(RangeSet([r.range]))]
        if region.alloc_ranges:
            allowed = RangeSet(region.alloc_ranges)
            fits = [r for r in fits if not RangeSet([r]).difference(allowed)]
        if len(fits) == 1:
            out.append((i, fits[0], f"placed from memblock.{which}: the only region of "
                                         f"{exact_size(region.size_bytes)} {kernel_mem(fits[0])}"))
            taken = taken | RangeSet([fits[0]])
    return out
