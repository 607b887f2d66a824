"""The one model every view reads: regions of physical memory and the RAM they sit in.

Vocabulary follows the kernel: a `/reserved-memory` child becomes a
`reserved_mem[]` entry when the kernel saves it ("saved"), `no-map` marks
memblock NOMAP, `/memreserve/` entries are plain memblock_reserve()s, the crash
kernel is `crashk_res` (and `crashk_low_res`).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from enum import StrEnum

from memmap_tui.core.ranges import Range, RangeSet
from memmap_tui.core.units import memparse


class RegionKind(StrEnum):
    RESERVED = "reserved"        # plain memblock_reserve()d carveout (mapped)
    NO_MAP = "no-map"            # memblock NOMAP: not in the linear map, never dumped
    REUSABLE = "reusable"        # CMA or other reusable pool
    MEMRESERVE = "memreserve"    # FDT header /memreserve/ entry
    CRASHKERNEL = "crashkernel"  # crashk_res / crashk_low_res / crashkernel CMA


class Band(StrEnum):
    """What the band map draws for a byte; declaration order is drawing priority."""
    CRASHKERNEL = "crashkernel"
    NO_MAP = "no-map"
    MEMRESERVE = "memreserve"
    REUSABLE = "reusable"
    NO_DUMP = "no-dump"
    RESERVED = "reserved"
    RAM = "ram"
    MMIO = "mmio"
    HOLE = "hole"


BAND_PRIORITY: tuple[Band, ...] = tuple(Band)

# The JSON `flags` vocabulary, in the order they are listed.
FLAG_ORDER = ("no-map", "reusable", "cma", "no-dump", "dynamic", "unplaced",
              "disabled", "multi-reg", "failed", "ignored")


class Level(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Finding:
    level: Level
    code: str
    message: str
    id: str | None = None

    def as_dict(self) -> dict:
        return {"level": str(self.level), "code": self.code,
                "message": self.message, "id": self.id}


@dataclass(slots=True)
class Region:
    """One thing that takes physical memory away from the page allocator (or tries to)."""

    id: str                       # DT path | "/memreserve/N" | "crashkernel" | "crashkernel-low"
    name: str                     # node name as the kernel prints it ("gpu@50000000")
    kind: RegionKind
    ranges: RangeSet = field(default_factory=RangeSet)   # what the kernel reserves, placed
    size_bytes: int = 0           # reserved size (placed ranges, or the dynamic `size`)
    reg: tuple[Range, ...] = ()   # every `reg` tuple as written in the DT
    labels: tuple[str, ...] = ()
    compatible: tuple[str, ...] = ()
    no_map: bool = False
    reusable: bool = False
    cma: bool = False             # rmem_cma_setup() would succeed: the v2+ "dumpable" entry
    dt_no_dump: bool = False      # `linux,no-dump` as present in the loaded DTB
    cma_default: bool = False
    dma_default: bool = False
    dynamic: bool = False         # `size` without `reg`: the address is chosen at boot
    disabled: bool = False
    multi_reg: bool = False
    failed: bool = False          # the kernel did not reserve it (dmesg, iomem, validation)
    ignored: bool = False         # the kernel never looks at it (bad parent, EFI /memreserve/...)
    saved: bool = True            # has a reserved_mem[] entry (only those can be no-dump'd)
    alignment: int | None = None
    alloc_ranges: tuple[Range, ...] = ()
    placement_source: str | None = None   # "dt", "dmesg", "iomem", "bootargs", "vmcore"
    properties: tuple[tuple[str, str], ...] = ()   # (name, readable value) for details views
    users: tuple[str, ...] = ()   # DT paths of devices whose `memory-region` points here
    notes: tuple[str, ...] = ()   # why-lines for details views (placement, failures)

    @property
    def placed(self) -> bool:
        return bool(self.ranges)

    @property
    def reserves_memory(self) -> bool:
        """Whether the kernel keeps this memory away from the allocator at all."""
        return not (self.disabled or self.failed or self.ignored)


@dataclass(frozen=True, slots=True)
class IomemEntry:
    range: Range
    name: str
    depth: int
    parent: int | None  # index into MemoryMap.iomem


@dataclass(slots=True)
class BootInfo:
    bootargs: str | None = None
    efi: bool = False
    initrd: Range | None = None
    elfcorehdr: Range | None = None
    usable_memory_range: tuple[Range, ...] = ()
    mem_limit: int | None = None       # mem=
    cma_cmdline: str | None = None     # cma=
    crashkernel: tuple[str, ...] = ()  # every crashkernel= argument, in order
    model: str | None = None

    def adopt_cmdline(self, cmdline: str) -> list[str]:
        """Take the kernel command line's memory arguments; return those that do not parse."""
        self.bootargs = cmdline
        bad = []
        for arg in cmdline.split():
            key, _, value = arg.partition("=")
            if key == "crashkernel":
                self.crashkernel += (value,)
            elif key == "mem":
                try:
                    self.mem_limit = memparse(value)
                except ValueError:
                    bad.append(arg)
            elif key == "cma":
                self.cma_cmdline = value
        return bad


@dataclass(slots=True)
class MemoryMap:
    arch: str = "arm64"
    loader: str = "kexec_file"
    kernel: str = "7.2"           # how multi-reg nodes are modelled (7.2+: first tuple only)
    page_size: int = 4096
    ram: RangeSet = field(default_factory=RangeSet)
    ram_known: bool = False
    ram_source: str | None = None
    regions: list[Region] = field(default_factory=list)
    iomem: list[IomemEntry] = field(default_factory=list)
    boot: BootInfo = field(default_factory=BootInfo)
    findings: list[Finding] = field(default_factory=list)
    inputs: dict[str, str] = field(default_factory=dict)   # role -> file path
    no_dump_overrides: dict[str, bool] = field(default_factory=dict)

    # -- lookup ---------------------------------------------------------------
    def region(self, region_id: str) -> Region:
        for r in self.regions:
            if r.id == region_id:
                return r
        raise KeyError(region_id)

    def region_at(self, addr: int) -> Region | None:
        """The highest-priority region holding `addr` (what the band map shows there)."""
        best = None
        for r in self.regions:
            if r.ranges.contains(addr):
                rank = BAND_PRIORITY.index(self.band_of(r))
                if best is None or rank < best[0]:
                    best = (rank, r)
        return best[1] if best else None

    def find(self, needle: str) -> list[Region]:
        """Resolve a command-line name: full path, label, unique node name or id."""
        needle = needle.strip()
        exact = [r for r in self.regions if r.id == needle]
        if exact:
            return exact
        stripped = needle.lstrip("&")
        by_label = [r for r in self.regions if stripped in r.labels]
        if by_label:
            return by_label
        by_name = [r for r in self.regions if r.name == needle]
        if by_name:
            return by_name
        return [r for r in self.regions if r.name.split("@")[0] == needle]

    # -- no-dump toggles --------------------------------------------------------
    def no_dump(self, region: Region) -> bool:
        return self.no_dump_overrides.get(region.id, region.dt_no_dump)

    def set_no_dump(self, region_id: str, value: bool) -> None:
        region = self.region(region_id)
        if value == region.dt_no_dump:
            self.no_dump_overrides.pop(region_id, None)
        else:
            self.no_dump_overrides[region_id] = value

    def changed_no_dump(self) -> dict[str, bool]:
        """Toggles that differ from the loaded DTB (what an export writes)."""
        return dict(self.no_dump_overrides)

    # -- classification --------------------------------------------------------
    def flags(self, region: Region) -> list[str]:
        present = {
            "no-map": region.no_map,
            "reusable": region.reusable,
            "cma": region.cma,
            "no-dump": self.no_dump(region),
            "dynamic": region.dynamic,
            "unplaced": not region.placed and region.reserves_memory,
            "disabled": region.disabled,
            "multi-reg": region.multi_reg,
            "failed": region.failed,
            "ignored": region.ignored,
        }
        return [f for f in FLAG_ORDER if present[f]]

    def band_of(self, region: Region) -> Band:
        if not region.reserves_memory:
            return Band.RAM
        if region.kind is RegionKind.CRASHKERNEL:
            return Band.CRASHKERNEL
        if region.no_map:
            return Band.NO_MAP
        if region.kind is RegionKind.MEMRESERVE:
            return Band.MEMRESERVE
        if region.reusable:
            return Band.REUSABLE
        if self.no_dump(region):
            return Band.NO_DUMP
        return Band.RESERVED

    def mmio(self) -> RangeSet:
        """Top-level iomem entries that are neither RAM nor reserved RAM."""
        out = [e.range for e in self.iomem
               if e.depth == 0 and not _is_ram_name(e.name) and e.name.lower() != "reserved"]
        return RangeSet(out)

    def bands(self) -> list[tuple[Range, Band, str | None]]:
        """Partition the known address space into drawable bands, by priority.

        Returns (range, band, region id) sorted by address, holes included
        between the first and last known byte.
        """
        # One sweep over every layer's boundaries (a heap of the layers covering the current
        # address, best priority on top): O(n log n); subtracting each layer from the union of
        # the layers above it was quadratic (5,000 carveouts: ~10 s).
        layers: list[tuple[Band, str | None, RangeSet]] = []
        by_band: dict[Band, list[Region]] = {}
        for r in self.regions:
            if r.placed and r.reserves_memory:
                by_band.setdefault(self.band_of(r), []).append(r)
        for band in BAND_PRIORITY:
            if band is Band.RAM:
                layers.append((band, None, self.ram))
            elif band is Band.MMIO:
                layers.append((band, None, self.mmio()))
            elif band is not Band.HOLE:
                layers += [(band, r.id, r.ranges) for r in by_band.get(band, [])]
        events: list[tuple[int, int, int]] = []   # (address, +1 start / -1 end, layer rank)
        for rank, (_band, _rid, ranges) in enumerate(layers):
            for rng in ranges:
                events.append((rng.start, 1, rank))
                events.append((rng.end, -1, rank))
        events.sort()
        pieces: list[tuple[Range, Band, str | None]] = []
        active: list[int] = []          # heap of ranks; ended ranks are dropped lazily
        open_count: dict[int, int] = {}
        i, cursor = 0, None
        while i < len(events):
            addr = events[i][0]
            while active and not open_count.get(active[0]):
                heapq.heappop(active)
            if active and cursor is not None and addr > cursor:
                band, rid, _ = layers[active[0]]
                last = pieces[-1] if pieces else None
                if last is not None and last[0].end == cursor and last[1] is band and last[2] == rid:
                    pieces[-1] = (Range(last[0].start, addr), band, rid)
                else:
                    pieces.append((Range(cursor, addr), band, rid))
            while i < len(events) and events[i][0] == addr:
                _, kind, rank = events[i]
                open_count[rank] = open_count.get(rank, 0) + kind
                if kind > 0:
                    heapq.heappush(active, rank)
                i += 1
            cursor = addr
        pieces.sort(key=lambda p: p[0].start)
        out: list[tuple[Range, Band, str | None]] = []
        cursor = None
        for rng, band, rid in pieces:
            if cursor is not None and rng.start > cursor:
                out.append((Range(cursor, rng.start), Band.HOLE, None))
            out.append((rng, band, rid))
            cursor = rng.end
        return out


def _is_ram_name(name: str) -> bool:
    return name.startswith("System RAM")
