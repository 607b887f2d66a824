"""The one model every view reads: regions of physical memory and the RAM they sit in.

Vocabulary follows the kernel: a `/reserved-memory` child becomes a
`reserved_mem[]` entry when the kernel saves it ("saved"), `no-map` marks
memblock NOMAP, `/memreserve/` entries are plain memblock_reserve()s, the crash
kernel is `crashk_res` (and `crashk_low_res`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from heapq import heappop, heappush

from memmap_tui.core.arch import DEFAULT_ARCH, DEFAULT_LOADER, is_iomem_ram, is_reserved_ram_line, rules_for
from memmap_tui.core.crashkernel import CrashPlan
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
_BAND_RANK = {b: i for i, b in enumerate(BAND_PRIORITY)}

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
    # -- set by the boot replay (core/replay.py) --------------------------------
    state: str = "unknown"        # observed | predicted | failed | unknown
    evidence: str = ""            # the one line that says why (log line, kernel function)

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
    movable_node: bool = False         # `movable_node`: hotpluggable memblock memory is skipped
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
            elif arg == "movable_node":
                self.movable_node = True
        return bad


@dataclass(slots=True)
class MemoryMap:
    arch: str = DEFAULT_ARCH
    loader: str = DEFAULT_LOADER
    kernel: str = "7.2"           # how multi-reg nodes are modelled (7.2+: first tuple only)
    page_size: int = rules_for(DEFAULT_ARCH).default_page_size   # inputs sets the arch's own
    ram: RangeSet = field(default_factory=RangeSet)
    ram_known: bool = False
    ram_source: str | None = None
    # DT /memory ranges marked `hotpluggable` (early_init_dt_scan_memory(): MEMBLOCK_HOTPLUG)
    hotplug: RangeSet = field(default_factory=RangeSet)
    regions: list[Region] = field(default_factory=list)
    iomem: list[IomemEntry] = field(default_factory=list)
    boot: BootInfo = field(default_factory=BootInfo)
    findings: list[Finding] = field(default_factory=list)
    inputs: dict[str, str] = field(default_factory=dict)   # role -> file path
    no_dump_overrides: dict[str, bool] = field(default_factory=dict)
    # id -> position in `regions`; checked on every hit, rebuilt when the list changed
    _by_id: dict[str, int] = field(default_factory=dict, init=False, repr=False, compare=False)
    crashkernel: CrashPlan | None = None   # the replay's crashkernel section

    # -- lookup ---------------------------------------------------------------
    def region(self, region_id: str) -> Region:
        pos = self._by_id.get(region_id)
        if pos is None or pos >= len(self.regions) or self.regions[pos].id != region_id:
            index: dict[str, int] = {}
            for i, r in enumerate(self.regions):
                index.setdefault(r.id, i)   # the first region of an id, as a scan finds it
            self._by_id = index
            pos = index.get(region_id)
            if pos is None:
                raise KeyError(region_id)
        return self.regions[pos]

    def region_at(self, addr: int) -> Region | None:
        """The highest-priority region holding `addr` (what the band map shows there).

        One query is one pass (O(n)); repeated lookups bisect the list `bands()` returns.
        """
        best = None
        for r in self.regions:
            if r.ranges.contains(addr):
                rank = _BAND_RANK[self.band_of(r)]
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
        rules = rules_for(self.arch)
        out = [e.range for e in self.iomem
               if e.depth == 0 and not is_iomem_ram(rules, e.name) and not is_reserved_ram_line(e.name)]
        return RangeSet(out)

    def bands(self) -> list[tuple[Range, Band, str | None]]:
        """Partition the known address space into drawable bands, by priority.

        Returns (range, band, region id) sorted by address, holes included
        between the first and last known byte. Where layers overlap, the band first in
        BAND_PRIORITY wins, then the region first in `regions`: one sorted sweep with a
        heap of the layers open at each boundary, O(n log n).
        """
        # a layer: (band rank, order within the band, band, region id, its ranges)
        layers: list[tuple[int, int, Band, str | None, RangeSet]] = []
        for order, r in enumerate(self.regions):
            if r.placed and r.reserves_memory:
                band = self.band_of(r)
                layers.append((_BAND_RANK[band], order, band, r.id, r.ranges))
        layers.append((_BAND_RANK[Band.RAM], 0, Band.RAM, None, self.ram))
        layers.append((_BAND_RANK[Band.MMIO], 0, Band.MMIO, None, self.mmio()))
        starts = sorted((s, e, n) for n, layer in enumerate(layers) for s, e in layer[4].pairs)
        bounds = sorted({x for s, e, _ in starts for x in (s, e)})
        open_layers: list[tuple[int, int, int, int]] = []   # heap of (rank, order, end, layer)
        pieces: list[tuple[int, int, int]] = []              # (start, end, layer), merged runs
        i = 0
        for left, right in zip(bounds, bounds[1:]):
            while i < len(starts) and starts[i][0] == left:
                s, e, n = starts[i]
                heappush(open_layers, (layers[n][0], layers[n][1], e, n))
                i += 1
            while open_layers and open_layers[0][2] <= left:
                heappop(open_layers)   # a layer whose range ended; the ones below may still be open
            if not open_layers:
                continue
            n = open_layers[0][3]
            if pieces and pieces[-1][1] == left and pieces[-1][2] == n:
                pieces[-1] = (pieces[-1][0], right, n)
            else:
                pieces.append((left, right, n))
        out: list[tuple[Range, Band, str | None]] = []
        cursor = None
        for start, end, n in pieces:
            if cursor is not None and start > cursor:
                out.append((Range(cursor, start), Band.HOLE, None))
            out.append((Range(start, end), layers[n][2], layers[n][3]))
            cursor = end
        return out
