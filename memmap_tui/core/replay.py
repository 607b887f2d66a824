"""The boot replay: the kernel's early reservations in order, with failures and fallbacks.

Input: the assembled `MemoryMap` (DT regions decoded, RAM decided, placements the logs
gave already applied) and a `BootLog` (what dmesg said). Output: a new `MemoryMap`
(`dataclasses.replace`, no Region is mutated) in which every region has a `state` —
`observed` (dmesg / iomem show it reserved), `predicted` (the replay placed or accepted it),
`failed` (not reserved: the kernel refuses it or frees it again, predicted or logged — the
evidence says which and why) or `unknown` —
and an `evidence` line; crash kernel regions are rebuilt from `crashkernel=` and the
policies then run on this result.

Order (DT arches; each step cites its kernel function):
  0. usable-memory-range      early_init_dt_check_for_usable_mem_range() (capture kernel)
  1. mem=                     arm64_memblock_init() → memblock_mem_limit_remove_map()
  2. kernel image, initrd     arm64_memblock_init() memblock_reserve()s, before the DT scan
  3. /memreserve/ (< 6.4)     early_init_fdt_scan_reserved_mem(): scanned first until
                              commit b413281876292 "of: fdt: Scan /memreserve/ last" (v6.4)
  4. static children          fdt_scan_reserved_mem() → __reserved_mem_reserve_reg()
                              → early_init_dt_reserve_memory()
  5. dynamic children         __reserved_mem_alloc_size(); right after the static ones
                              from 6.10 (dynamic_nodes[]), in fdt_init_reserved_mem()
                              (after /memreserve/) before
  6. /memreserve/ (≥ 6.4)
  7. node init                fdt_init_reserved_mem_node() / __reserved_mem_init_node():
                              an init error other than -ENOENT frees the region
  8. the kernel's own early allocations (sparse_init() memmap) and the default CMA
     area (dma_contiguous_reserve()), both before reserve_crashkernel() on arm64
     (bootmem_init())
  9. crashkernel              reserve_crashkernel_generic() (core/crashkernel.py)
Observed facts beat the replay; a disagreement is a finding.
x86_64 has no DT replay: its regions are observed from iomem or unknown.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from dataclasses import dataclass, field, replace

from memmap_tui.core.arch import rules_for
from memmap_tui.core.crashkernel import (
    CrashkernelError, CrashPlan, CrashWindows, parse_request, place,
)
from memmap_tui.core.memblock import ALLOC_ANYWHERE, Intervals, Memblock
from memmap_tui.core.model import Finding, Level, MemoryMap, Region, RegionKind
from memmap_tui.core.ranges import Range, RangeSet
from memmap_tui.core.units import exact_size, kernel_mem, memparse

OBSERVED, PREDICTED, FAILED, UNKNOWN = "observed", "predicted", "failed", "unknown"
OWNER_LOOKBACK = 64   # entries _Boot.owner_of() looks back from its bisection point
STATES = (OBSERVED, PREDICTED, FAILED, UNKNOWN)

SMP_CACHE_BYTES = 64          # arm64 L1_CACHE_BYTES: default `alignment` of a dynamic node
STRUCT_PAGE_BYTES = 64        # sizeof(struct page) on 64-bit without debug options
SECTION_SIZE_BITS = 27        # arm64 4 KiB/16 KiB pages (arch/arm64/include/asm/sparsemem.h)


@dataclass(frozen=True, slots=True)
class BootLog:
    """What a kernel log said (sources/dmesg.py builds it): the replay's observed layer."""

    source: str
    failures: dict[str, str] = field(default_factory=dict)       # node → "failed to … memory" line
    init_failures: dict[str, str] = field(default_factory=dict)  # node → "compatible matching fail"
    placed: dict[str, str] = field(default_factory=dict)         # node → the line placing it
    crashkernel: Range | None = None
    crashkernel_low: Range | None = None
    crashkernel_line: str = ""
    crashkernel_failed: str = ""                                  # "cannot allocate crashkernel" line
    crashkernel_cma_mb: int | None = None


@dataclass(slots=True)
class _Boot:
    """Scratch state of one replay (never escapes: the result is a new MemoryMap)."""

    mm: MemoryMap
    log: BootLog | None
    version: tuple[int, int]
    memblock: Memblock | None
    regions: dict[str, Region]
    findings: list[Finding] = field(default_factory=list)
    ram: RangeSet | None = None
    crash: CrashPlan | None = None
    saved: Intervals = field(default_factory=Intervals)    # reserved_mem[] entries saved so far
    dma_max_cpu_address: int | None = None                  # DT dma-ranges limit (arm64 ZONE_DMA)
    assumptions: list[str] = field(default_factory=list)   # what the predictions take for granted
    _lines: dict[tuple[str, bool | None], RangeSet] = field(default_factory=dict)
    # (start, end, id) of every mapped range a region was given, sorted by start: who holds
    # an address, for the -EBUSY evidence, by bisection instead of a scan of every region
    _owners: list[tuple[int, int, str]] = field(default_factory=list)

    def iomem(self, name: str, top: bool | None = None) -> RangeSet:
        """iomem lines by name (and depth), computed once per replay."""
        key = (name, top)
        if key not in self._lines:
            self._lines[key] = _iomem_lines(self.mm, name, top)
        return self._lines[key]

    def set(self, rid: str, **changes) -> Region:
        region = self.regions[rid] = replace(self.regions[rid], **changes)
        if changes.get("state") in (PREDICTED, OBSERVED) and not region.no_map:
            for rng in region.ranges:
                insort(self._owners, (rng.start, rng.end, rid))
        return region

    def owner_of(self, rng: Range, but: str) -> str | None:
        """A region (other than `but`) still holding part of `rng`; looks back a bounded
        number of entries (overlapping carveouts are rare; the wording then falls back)."""
        i = bisect_left(self._owners, (rng.end,))
        for start, end, rid in reversed(self._owners[max(0, i - OWNER_LOOKBACK):i]):
            other = self.regions[rid]
            if end > rng.start and rid != but and other.state in (PREDICTED, OBSERVED) \
                    and other.ranges & RangeSet([rng]):
                return rid
        return None

    def warn(self, level: Level, code: str, message: str, rid: str | None) -> None:
        self.findings.append(Finding(level, code, message, rid))


def kernel_tuple(kernel: str) -> tuple[int, int]:
    """"6.1" → (6, 1): the kernel model every version-dependent rule compares against."""
    try:
        major, minor = (kernel.split(".") + ["0"])[:2]
        return int(major), int(minor)
    except ValueError:
        raise ValueError(f"kernel version must look like 7.2, not {kernel!r}") from None


def _rmem(boot: _Boot) -> list[Region]:
    """/reserved-memory children in DT order (their ids are DT paths)."""
    return [r for r in boot.regions.values() if r.id.startswith("/reserved-memory/")]


def _memreserves(boot: _Boot) -> list[Region]:
    return [r for r in boot.regions.values() if r.kind is RegionKind.MEMRESERVE]


# -- observations ----------------------------------------------------------------

def _iomem_lines(mm: MemoryMap, name: str, top: bool | None = None) -> RangeSet:
    return RangeSet(e.range for e in mm.iomem
                    if e.name == name and (top is None or (e.depth == 0) == top))


def _kernel_image(mm: MemoryMap) -> Range | None:
    """_stext.._end from iomem `Kernel code` and `Kernel data` (their span, whatever order a
    damaged file lists them in)."""
    code = _iomem_lines(mm, "Kernel code")
    data = _iomem_lines(mm, "Kernel data")
    if not (code and data):
        return None
    return Range(min(code.start, data.start), max(code.end, data.end))


def _iomem_has_ram(mm: MemoryMap) -> bool:
    return any(e.name.startswith("System RAM") for e in mm.iomem)


def _observed(boot: _Boot, region: Region) -> str | None:
    """The log or iomem line that shows this region reserved, if any."""
    if region.placement_source in ("dmesg", "iomem"):
        return f"placed by {region.placement_source}"
    if boot.log and region.name in boot.log.placed:
        return f"dmesg: {boot.log.placed[region.name]}"
    rules = rules_for(boot.mm.arch)
    name = rules.iomem_nomap if region.no_map else rules.iomem_reserved
    if name and boot.mm.iomem and region.ranges:
        lines = boot.iomem(name, True if region.no_map else None)
        if not (region.ranges - lines):
            kind = "top-level (NOMAP)" if region.no_map else "a"
            return f"iomem: covered by {kind} `{name}` line"
    return None


def _iomem_refutes(boot: _Boot, region: Region) -> str | None:
    """arm64 (and loongarch) iomem shows every memblock.reserved range as a `reserved` line
    (reserve_memblock_reserved_regions()) and NOMAP memory as a top-level one (ArchRules
    iomem_reserved / iomem_nomap): RAM of a region with no such line was not reserved."""
    rules = rules_for(boot.mm.arch)
    name = rules.iomem_nomap if region.no_map else rules.iomem_reserved
    ram = boot.iomem(rules.iomem_ram, True)
    if not name or not region.ranges or not ram:
        return None
    lines = boot.iomem(name, True if region.no_map else None)
    bare = (region.ranges & ram) - lines
    if bare:
        return f"iomem: {kernel_mem(bare.ranges[0])} is plain System RAM"
    return None


# -- the steps ---------------------------------------------------------------------

def step_usable_memory_range(boot: _Boot) -> None:
    """drivers/of/fdt.c early_init_dt_check_for_usable_mem_range(): in a capture kernel's DTB,
    /chosen linux,usable-memory-range caps memblock.memory to its first range
    (memblock_cap_memory_range()) and adds the others (the crashkernel low region,
    memblock_add()). Before arm64_memblock_init(); iomem already shows the result."""
    usable = boot.mm.boot.usable_memory_range
    if not usable or boot.mm.ram_source in ("/proc/iomem", "vmcore"):
        return
    first, *rest = usable
    memory = (boot.memblock.memory & RangeSet([first])) | RangeSet(rest)
    boot.memblock = Memblock(memory=memory)
    boot.ram = memory
    boot.warn(Level.INFO, "usable-memory-range",
              f"capture kernel DTB: linux,usable-memory-range limits RAM to {exact_size(memory.size_bytes)}", None)


def step_mem_limit(boot: _Boot) -> None:
    """arch/arm64/mm/init.c arm64_memblock_init(): memblock_mem_limit_remove_map(memory_limit)
    runs on memblock.memory whatever filled it (DT /memory, UEFI, or the board's RAM given
    with --ram), before the reserved-memory scan. All kernel versions. /proc/iomem already
    shows the trimmed memory, so it is not trimmed twice."""
    limit = boot.mm.boot.mem_limit
    if not limit or boot.memblock is None or boot.mm.ram_source in ("/proc/iomem", "vmcore"):
        return
    removed = boot.memblock.remove_above_limit(limit)
    boot.ram = boot.memblock.memory
    if removed:
        boot.warn(Level.INFO, "mem-limit-applied",
                  f"mem={exact_size(limit)}: memblock_mem_limit_remove_map() drops "
                  f"{exact_size(removed.size_bytes)} of RAM ({boot.mm.ram_source}) from "
                  f"{removed.start:#x}; carveouts there lie outside RAM", None)


def step_early_reservations(boot: _Boot) -> None:
    """arch/arm64/mm/init.c arm64_memblock_init(): memblock_reserve(_stext.._end) and the
    initrd (page-rounded) before early_init_fdt_scan_reserved_mem(). All versions.
    The image address comes from iomem `Kernel code`/`Kernel data` when given."""
    mb = boot.memblock
    image = _kernel_image(boot.mm)
    if image is not None:
        mb.reserve(image)
    else:
        boot.assumptions.append("the kernel image's address is unknown (no iomem Kernel code/data): not reserved")
    initrd = boot.mm.boot.initrd
    if initrd:
        page = boot.mm.page_size
        mb.reserve(Range(initrd.start // page * page, -(-initrd.end // page) * page))
    if boot.mm.boot.elfcorehdr:
        mb.reserve(boot.mm.boot.elfcorehdr)   # fdt_reserve_elfcorehdr(), capture kernel only


def step_memreserve(boot: _Boot) -> None:
    """drivers/of/fdt.c early_init_fdt_scan_reserved_mem(): memblock_reserve() each
    /memreserve/ entry — no overlap check, never NOMAP. Scanned *before* /reserved-memory
    until v6.4 (commit b413281876292 moved it last; not backported to 6.1)."""
    for r in _memreserves(boot):
        if r.ignored:
            boot.set(r.id, state=FAILED, evidence="ignored: the EFI stub deletes every /memreserve/")
            continue
        for rng in r.ranges:
            boot.memblock.reserve(rng)
        when = "before" if boot.version < (6, 4) else "after"
        boot.set(r.id, state=PREDICTED,
                 evidence=f"memblock_reserve() ({when} /reserved-memory on {boot.version[0]}.{boot.version[1]})")


def _skip_reason(boot: _Boot, region: Region) -> str | None:
    if region.disabled:
        return "status is not okay: fdt_scan_reserved_mem() skips it before reading reg"
    if region.ignored:
        return "ignored: /reserved-memory has an unsupported format (__reserved_mem_check_root())"
    return None


def step_static_children(boot: _Boot) -> None:
    """drivers/of/of_reserved_mem.c fdt_scan_reserved_mem() → __reserved_mem_reserve_reg() →
    early_init_dt_reserve_memory(): `no-map` on a range that overlaps memblock.memory and is
    already reserved (kernel image, initrd, an earlier child, /memreserve/ on < 6.4) fails with
    -EBUSY and the memory stays mapped RAM; otherwise memblock_mark_nomap() (a no-op outside
    memory) or memblock_reserve() (succeeds even outside memory).
    Multi-entry `reg`: ≤ 7.0 every tuple is reserved (the late pass saves the first and
    warns); 7.1 skips the node (of_flat_dt_get_addr_size() is false unless one entry);
    7.2+ reserves the first only ("only the first is used")."""
    mb = boot.memblock
    for region in _rmem(boot):
        if region.dynamic:
            continue
        why = _skip_reason(boot, region)
        if why or region.failed:
            boot.set(region.id, state=FAILED, evidence=why or _failed_evidence(boot, region))
            continue
        if region.multi_reg and boot.version == (7, 1):
            boot.set(region.id, failed=True, cma=False, state=FAILED,
                     evidence=f"kernel 7.1: {len(region.reg)} <base size> entries — "
                              "of_flat_dt_get_addr_size() rejects the node; it stays RAM")
            continue
        if region.multi_reg:
            tuples = [r for r in region.reg if r.size_bytes]
            tuples = tuples if boot.version < (7, 1) else tuples[:1]
            # ≤ 7.0 reserves every tuple but saves the first: no-dump logic is not modelled
            region = boot.set(region.id, ranges=RangeSet(tuples), size_bytes=RangeSet(tuples).size_bytes,
                              saved=boot.version >= (7, 2))
        done, refused = [], []
        for rng in region.ranges:
            if region.no_map and mb.overlaps_memory(rng) and mb.is_region_reserved(rng):
                refused.append(rng)
                continue
            (mb.mark_nomap if region.no_map else mb.reserve)(rng)
            done.append(rng)
        if refused and not done:
            boot.set(region.id, failed=True, cma=False, state=FAILED,
                     evidence=f"early_init_dt_reserve_memory(): -EBUSY, {kernel_mem(refused[0])} is "
                              f"already reserved ({_holder(boot, refused[0], region)}); no-map refused, "
                              "the range stays mapped RAM and is dumped")
            boot.warn(Level.WARNING, "no-map-ebusy",
                      f"no-map {region.name} overlaps {_holder(boot, refused[0], region)}: the kernel "
                      "refuses it with -EBUSY; it stays in the vmcore", region.id)
        elif refused:
            boot.set(region.id, ranges=RangeSet(done), size_bytes=RangeSet(done).size_bytes,
                     state=PREDICTED, evidence=f"{len(refused)} of its reg entries refused with -EBUSY")
        else:
            boot.set(region.id, state=PREDICTED,
                     evidence=("early_init_dt_reserve_memory(): memblock_mark_nomap()" if region.no_map
                               else "early_init_dt_reserve_memory(): memblock_reserve()"))
        if done and boot.version < (6, 10) and boot.version != (7, 1):
            # __reserved_mem_reserve_reg() saves the node (its first entry) right away
            first = region.reg[0] if region.reg else done[0]
            boot.saved.add(first.start, first.end)


def _holder(boot: _Boot, rng: Range, region: Region) -> str:
    """Who reserved `rng` first, in words (for the -EBUSY evidence)."""
    one = RangeSet([rng])
    if boot.mm.boot.initrd and RangeSet([boot.mm.boot.initrd]) & one:
        return "the initrd"
    image = _kernel_image(boot.mm)
    if image is not None and RangeSet([image]) & one:
        return "the kernel image"
    return boot.owner_of(rng, region.id) or "an earlier reservation"


def _failed_evidence(boot: _Boot, region: Region) -> str:
    if boot.log and region.name in boot.log.failures:
        return f"dmesg: {boot.log.failures[region.name]}"
    return region.notes[-1] if region.notes else "the DT node is malformed"


def _alloc_in_range(boot: _Boot, size: int, align: int, rng: Range) -> tuple[int | None, str]:
    """__reserved_mem_alloc_in_range() (patch "of: reserved_mem: Try to keep range allocations
    contiguous", 2023-06, modelled from 6.5): bottom-up when the range starts inside or at the
    end of a reserved_mem[] entry saved so far, top-down when it ends inside or at the start of
    one, else memblock's default (top-down). Saved so far: the static single-entry nodes and
    earlier dynamic ones before 6.10, only earlier dynamic ones from 6.10. Before 6.5 plain
    early_init_dt_alloc_reserved_memory_arch()."""
    mb = boot.memblock
    bottom_up = top_down = False
    if boot.version >= (6, 5):
        bottom_up, top_down = boot.saved.holding(rng.start), boot.saved.holding(rng.end)
    mb.bottom_up = bottom_up if bottom_up != top_down else False
    direction = "bottom-up" if mb.bottom_up else "top-down"
    try:
        return mb.phys_alloc_range(size, align, rng.start, rng.end), direction
    finally:
        mb.bottom_up = False


def step_dynamic_children(boot: _Boot) -> None:
    """drivers/of/of_reserved_mem.c __reserved_mem_alloc_size(): `size` (+`alignment`,
    default SMP_CACHE_BYTES; CMA raises it to CMA_MIN_ALIGNMENT_BYTES) allocated top-down;
    with `alloc-ranges` each range is tried in order and when none fits the kernel logs
    "failed to allocate memory for node" and returns -ENOMEM — there is no fallback to
    anywhere; the region does not exist and its bytes stay dumped. Without `alloc-ranges`:
    anywhere in memory (MEMBLOCK_ALLOC_ANYWHERE). All versions."""
    mb = boot.memblock
    for region in _rmem(boot):
        if not region.dynamic:
            continue
        why = _skip_reason(boot, region)
        if why or region.failed:
            boot.set(region.id, state=FAILED, evidence=why or _failed_evidence(boot, region))
            continue
        seen = _observed(boot, region)
        if seen and region.placed:
            # The log placed it: the replay takes that address (observed beats predicted).
            for rng in region.ranges:
                mb.reserve(rng)
                boot.saved.add(rng.start, rng.end)
                if region.no_map:
                    mb.mark_nomap(rng)
            boot.set(region.id, state=OBSERVED, evidence=seen)
            continue
        if mb is None or not region.size_bytes:
            boot.set(region.id, state=UNKNOWN, evidence="RAM unknown: the replay cannot place it")
            continue
        align = region.alignment or SMP_CACHE_BYTES
        if region.reusable and not region.no_map and "shared-dma-pool" in region.compatible:
            align = max(align, _cma_align(boot))
        windows = region.alloc_ranges or (Range(0, ALLOC_ANYWHERE),)
        base, direction = None, "top-down"
        for rng in windows:
            base, direction = _alloc_in_range(boot, region.size_bytes, align, rng)
            if base is not None:
                break
        if base is None:
            where = ("in any alloc-ranges entry " + ", ".join(kernel_mem(r) for r in region.alloc_ranges)
                     if region.alloc_ranges else "anywhere in RAM")
            boot.set(region.id, failed=True, cma=False, state=FAILED,
                     evidence=f"__reserved_mem_alloc_size(): no room for {exact_size(region.size_bytes)} "
                              f"{where}: \"failed to allocate memory for node\", -ENOMEM (no fallback)")
            boot.warn(Level.WARNING, "alloc-failed",
                      f"{region.name}: {exact_size(region.size_bytes)} does not fit {where}; the kernel "
                      "fails with -ENOMEM (no fallback) and the memory stays in the vmcore", region.id)
            continue
        placed = Range(base, base + region.size_bytes)
        boot.saved.add(placed.start, placed.end)
        if region.no_map:
            mb.mark_nomap(placed)
        where = (f"in alloc-ranges {kernel_mem(_window_of(windows, base))}" if region.alloc_ranges
                 else "anywhere in memory")
        boot.set(region.id, ranges=RangeSet([placed]), placement_source="replay", state=PREDICTED,
                 evidence=f"predicted by the replay: {direction} {where}, "
                          f"{exact_size(align)} aligned")


def _window_of(windows: tuple[Range, ...], base: int) -> Range:
    return next(w for w in windows if w.start <= base < w.end)


def _cma_align(boot: _Boot) -> int:
    """CMA_MIN_ALIGNMENT_BYTES (ArchRules.cma_min_alignment: 2 MiB with 4 KiB pages)."""
    return rules_for(boot.mm.arch).cma_min_alignment(boot.mm.page_size)


def step_node_init(boot: _Boot) -> None:
    """drivers/of/of_reserved_mem.c fdt_init_reserved_mem_node() (fdt_init_reserved_mem()
    before 6.10): each compatible's init function runs; an error other than -ENOENT prints
    "node X compatible matching fail" and the region is given back (memblock_clear_nomap() or
    memblock_phys_free()): plain dumped RAM. Modelled init functions:
    kernel/dma/contiguous.c rmem_cma_setup() (cma= with linux,cma-default → -EBUSY; no-map or
    not reusable → -EINVAL; base|size not CMA_MIN_ALIGNMENT_BYTES aligned → -EINVAL), then
    kernel/dma/coherent.c rmem_dma_setup() (refuses reusable: -EINVAL);
    kernel/dma/swiotlb.c rmem_swiotlb_setup() (reusable, no-map, linux,cma-default or
    linux,dma-default → -EINVAL). Other compatibles: -ENOENT, kept."""
    for region in _rmem(boot):
        if region.state != PREDICTED and region.state != OBSERVED:
            continue
        reason = _init_error(boot, region)
        logged = boot.log.init_failures.get(region.name) if boot.log else None
        if not reason and not logged:
            continue
        evidence = (f"dmesg: {logged}" if logged else
                    f"{reason}: \"node {region.name} compatible matching fail\", the region is freed")
        for rng in region.ranges:
            if region.no_map:
                boot.memblock.clear_nomap(rng)
            else:
                boot.memblock.phys_free(rng)
        boot.set(region.id, failed=True, cma=False, state=FAILED,
                 evidence=evidence)
        code = "cma-cmdline" if reason and "-EBUSY" in reason else "init-failed"
        boot.warn(Level.WARNING, code,
                  f"{region.name}: {reason or 'compatible matching fail (dmesg)'}; the kernel frees it "
                  "and it stays plain RAM (in the vmcore)", region.id)


def _init_error(boot: _Boot, region: Region) -> str | None:
    compat = region.compatible
    if "shared-dma-pool" in compat and region.reusable:
        if boot.mm.boot.cma_cmdline is not None and region.cma_default:
            return (f"rmem_cma_setup(): cma={boot.mm.boot.cma_cmdline} on the command line overrides "
                    "linux,cma-default (-EBUSY)")
        if region.no_map:
            return "rmem_cma_setup(): reusable with no-map (-EINVAL)"
        align = _cma_align(boot)
        if any((r.start | r.size_bytes) % align for r in region.ranges):
            return f"rmem_cma_setup(): base|size not {exact_size(align)} aligned (-EINVAL)"
    if "restricted-dma-pool" in compat and (region.reusable or region.no_map or region.cma_default
                                            or region.dma_default):
        return "rmem_swiotlb_setup(): reusable/no-map/default pool property (-EINVAL)"
    return None


def step_kernel_allocations(boot: _Boot) -> None:
    """mm/sparse.c sparse_init() (arm64 bootmem_init(), before reserve_crashkernel()): the
    struct page array, one section_map_size() (PMD-aligned) per present 128 MiB section,
    allocated top-down in one buffer (sparse_buffer_init()). Modelled for 4 KiB pages only
    (64-byte struct page). When iomem is given, every `reserved` line it shows is taken as
    occupied too (it is memblock.reserved at the end of boot, a superset)."""
    mb = boot.memblock
    if boot.mm.page_size == 4096 and boot.mm.arch == "arm64":
        section = 1 << SECTION_SIZE_BITS
        # present sections, counted span by span (memory is sorted): never one object per section
        sections, last = 0, -1
        for r in mb.memory:
            lo, hi = max(r.start >> SECTION_SIZE_BITS, last + 1), (r.end - 1) >> SECTION_SIZE_BITS
            if hi >= lo:
                sections, last = sections + hi - lo + 1, hi
        map_size = -(-(section // 4096) * STRUCT_PAGE_BYTES // (2 << 20)) * (2 << 20)
        if sections and sections <= 1 << 20:
            mb.phys_alloc_range(sections * map_size, map_size, 0, ALLOC_ANYWHERE)
            boot.assumptions.append(f"struct page array {exact_size(sections * map_size)} top-down "
                                    "(64-byte struct page, 128 MiB sections, one NUMA node)")
    else:
        boot.assumptions.append("the struct page array is not modelled for this arch/page size")
    name = rules_for(boot.mm.arch).iomem_reserved
    if name:
        for rng in boot.iomem(name):
            mb.reserve(rng)


def step_default_cma(boot: _Boot, low_max: int) -> str:
    """kernel/dma/contiguous.c dma_contiguous_reserve(arm64_dma_phys_limit): with `cma=SIZE`
    and no DT linux,cma-default pool, SIZE is allocated top-down below the DMA limit
    (cma_declare_contiguous()). Without cma= the size is CONFIG_CMA_SIZE_MBYTES, which no
    input tells: assumed 0."""
    if any(r.cma_default and r.state in (PREDICTED, OBSERVED) and not r.failed for r in _rmem(boot)):
        return "default CMA: the DT linux,cma-default pool"
    spec = boot.mm.boot.cma_cmdline
    if spec is None:
        boot.assumptions.append("default CMA size (CONFIG_CMA_SIZE_MBYTES) unknown: assumed 0")
        return "default CMA: CONFIG_CMA_SIZE_MBYTES unknown, assumed 0"
    try:
        size = memparse(spec.split("@")[0].split(",")[0])
    except ValueError:
        return f"default CMA: cannot read cma={spec}"
    base = boot.memblock.phys_alloc_range(size, _cma_align(boot), 0, low_max) if size else None
    return (f"default CMA cma={spec}: {exact_size(size)} at {base:#x}" if base is not None
            else f"default CMA cma={spec}: no room below {low_max:#x}")


def crash_windows(boot: _Boot) -> CrashWindows:
    """CRASH_ADDR_LOW_MAX on arm64 is arm64_dma_phys_limit (arch/arm64/mm/init.c 6.1
    zone_sizes_init(): zone_dma_bits = min(32, fls64(of_dma_get_max_cpu_address(NULL)));
    max_zone_phys()): 1 GiB on a Raspberry Pi (dma-ranges), else min(4 GiB, end of DRAM),
    or the end of DRAM when RAM starts above 4 GiB."""
    cw = rules_for(boot.mm.arch).crash
    memory = boot.memblock.memory
    end = memory.end or 0
    start = memory.start or 0
    if boot.mm.arch == "arm64":
        dt = boot.dma_max_cpu_address
        bits = min(32, dt.bit_length() if dt is not None else 64)
        low_max = _max_zone_phys(bits, start, end)
        source = (f"arm64_dma_phys_limit = max_zone_phys({bits}) (zone_sizes_init(): min(32, "
                  + (f"fls64({dt:#x}) from DT dma-ranges" if dt is not None else "no DT dma-ranges")
                  + "), capped at the end of DRAM)")
    else:
        low_max, source = (min(cw.low_max_bytes, end) if end else cw.low_max_bytes), cw.low_max_source
    if cw.high_max_bytes is None:
        high_max, high_source = end, "memblock_end_of_DRAM()"
    else:
        high_max, high_source = cw.high_max_bytes, "arch constant (arm64: PHYS_MASK + 1, 48-bit PA)"
    return CrashWindows(cw.align_bytes, low_max, source, high_max, high_source, cw.default_low_bytes)


def _max_zone_phys(zone_bits: int, dram_start: int, dram_end: int) -> int:
    """arch/arm64/mm/init.c max_zone_phys() (6.1)."""
    zone_mask = (1 << zone_bits) - 1
    if dram_start > 0xFFFFFFFF:
        zone_mask = (1 << 64) - 1
    elif dram_start > zone_mask:
        zone_mask = 0xFFFFFFFF
    return min(zone_mask, dram_end - 1) + 1


def step_crashkernel(boot: _Boot) -> None:
    """kernel/crash_reserve.c parse_crashkernel() + reserve_crashkernel_generic() (see
    core/crashkernel.py), on the memblock state left by the steps before. Observed beats
    predicted: iomem `Crash kernel` lines, then dmesg "crashkernel reserved:". A real iomem
    (with System RAM) without a `Crash kernel` line means nothing was reserved."""
    mm = boot.mm
    rules = rules_for(mm.arch)
    ram_bytes = boot.memblock.memory.size_bytes if boot.memblock else None
    windows = crash_windows(boot) if boot.memblock else None
    cma_note = ""
    if windows is not None and mm.arch != "x86_64":
        cma_note = step_default_cma(boot, windows.low_max_bytes)
    try:
        request = parse_request(mm.boot.crashkernel, ram_bytes,
                                windows.default_low_bytes if windows else rules.crash.default_low_bytes)
        parse_error = None
    except CrashkernelError as e:
        request, parse_error = None, str(e)
    lines = sorted(_iomem_lines(mm, "Crash kernel").ranges, key=lambda r: r.start)
    log = boot.log
    observed_main = lines[-1] if lines else (log.crashkernel if log else None)
    observed_low = lines[0] if len(lines) >= 2 else (log.crashkernel_low if log and not lines else None)
    src = "iomem `Crash kernel`" if lines else f"dmesg: {log.crashkernel_line}" if observed_main else ""
    if request is None and parse_error is None and not observed_main:
        return
    plan: CrashPlan
    if parse_error:
        plan = CrashPlan(None, windows, FAILED, f"parse_crashkernel(): -EINVAL — {parse_error}")
        boot.warn(Level.WARNING, "crashkernel-parse", f"crashkernel=: {parse_error}; nothing is reserved",
                  "crashkernel")
    elif request and not request.size_bytes:
        plan = CrashPlan(request, windows, UNKNOWN, "only crashkernel=,cma given")
    elif request and boot.memblock is not None:
        plan = place(request, windows, boot.memblock)
    elif request:
        plan = CrashPlan(request, windows, UNKNOWN, "RAM unknown: the replay cannot place it")
    else:
        plan = CrashPlan(None, windows, UNKNOWN, "no crashkernel= in the command line we have")
    predicted = plan
    if plan.state == FAILED and request and not observed_main:
        boot.warn(Level.WARNING, "crashkernel-failed",
                  f"crashkernel: {plan.evidence}; no crash kernel memory (kdump cannot load)", "crashkernel")
    if observed_main:
        agree = ("matches the replay's prediction" if predicted.result == observed_main
                 else f"the replay predicted {kernel_mem(predicted.result)}" if predicted.result
                 else f"the replay said: {predicted.evidence}")
        plan = replace(plan, state=OBSERVED, result=observed_main, low=observed_low,
                       evidence=f"{src} {kernel_mem(observed_main)}; {agree}")
        if predicted.result and predicted.result != observed_main:
            boot.warn(Level.INFO, "crashkernel-predicted-differs",
                      f"crashkernel: the replay predicted {kernel_mem(predicted.result)}, the kernel put it "
                      f"at {kernel_mem(observed_main)} (an allocation the inputs do not show)", "crashkernel")
        if request and request.size_bytes != observed_main.size_bytes:
            boot.warn(Level.WARNING, "crashkernel-size",
                      f"crashkernel: {request.source} asks {exact_size(request.size_bytes)}, {src} shows "
                      f"{exact_size(observed_main.size_bytes)}", "crashkernel")
    elif request and request.size_bytes and (
            (mm.iomem and _iomem_has_ram(mm)) or (log and log.crashkernel_failed)):
        why = (f"dmesg: {log.crashkernel_failed}" if log and log.crashkernel_failed
               else "/proc/iomem has no `Crash kernel` line")
        plan = replace(plan, state=FAILED,
                       result=None, low=None, evidence=f"{why}: nothing was reserved")
        boot.warn(Level.WARNING, "crashkernel-missing",
                  f"bootargs ask for crashkernel ({request.source}) but none was reserved ({why})",
                  "crashkernel")
    if request and request.cma_bytes:
        plan = replace(plan, cma=(f"{exact_size(request.cma_bytes)} from CMA (crashkernel=,cma): not dumped"
                                  if rules.crashkernel_cma else
                                  f"crashkernel=,cma is X86/PPC only: a {mm.arch} kernel ignores it"))
    elif cma_note:
        plan = replace(plan, cma=cma_note)
    boot.crash = plan
    for cid, rng in (("crashkernel", plan.result), ("crashkernel-low", plan.low)):
        state = plan.state if rng or cid == "crashkernel" else None
        if state is None:
            continue
        boot.regions[cid] = Region(
            id=cid, name=cid, kind=RegionKind.CRASHKERNEL, saved=False,
            ranges=RangeSet([rng]) if rng else RangeSet(),
            size_bytes=rng.size_bytes if rng else (request.size_bytes if request else 0),
            placement_source=("iomem" if lines else "dmesg") if plan.state == OBSERVED and rng else
            ("replay" if rng else None),
            failed=plan.state == FAILED or (plan.state == OBSERVED and not rng),
            properties=(("bootargs", request.source),) if request else (),
            state=plan.state, evidence=plan.evidence)


def _finish_states(boot: _Boot) -> None:
    """Observed beats predicted: promote regions iomem/dmesg confirm, and report conflicts."""
    for region in list(boot.regions.values()):
        if region.kind is RegionKind.CRASHKERNEL:
            continue
        if region.state == PREDICTED:
            seen = _observed(boot, region)
            refuted = _iomem_refutes(boot, region)
            if seen and region.placement_source == "replay":
                # a covering line is consistent with the predicted address, not proof of it
                boot.set(region.id, evidence=f"{region.evidence}; consistent with {seen.removeprefix('iomem: ')}")
            elif seen:
                boot.set(region.id, state=OBSERVED, evidence=f"{seen} (replay: {region.evidence})")
            elif refuted:
                boot.set(region.id, failed=True, cma=False, state=FAILED,
                         evidence=f"{refuted}: the kernel did not keep it (replay expected: {region.evidence})")
                boot.warn(Level.WARNING, "replay-conflict",
                          f"{region.name}: the replay expected it reserved but {refuted}", region.id)
        elif region.state == FAILED and region.placed and not (region.disabled or region.ignored) \
                and not (boot.log and region.name in boot.log.failures) and (seen := _observed(boot, region)):
            boot.set(region.id, failed=False, state=OBSERVED,
                     evidence=f"{seen} (the replay expected a failure: {region.evidence})")
            boot.warn(Level.WARNING, "replay-conflict",
                      f"{region.name}: the replay expected a failure ({region.evidence}) but the kernel "
                      "shows it reserved; the observation wins", region.id)
        elif region.state not in STATES or (region.state == UNKNOWN and not region.evidence):
            boot.set(region.id, state=UNKNOWN, evidence="not replayed")


def _replay_regions(mm: MemoryMap, log: BootLog | None, version: tuple[int, int]) -> _Boot:
    """Steps 1–8 for one kernel version (DT arches with RAM known)."""
    boot = _Boot(mm=mm, log=log, version=version, memblock=Memblock(memory=mm.ram),
                 regions={r.id: r for r in mm.regions if r.kind is not RegionKind.CRASHKERNEL})
    step_usable_memory_range(boot)
    step_mem_limit(boot)
    step_early_reservations(boot)
    memreserve_first = version < (6, 4)
    dynamic_early = version >= (6, 10)
    if memreserve_first:
        step_memreserve(boot)
    step_static_children(boot)
    if dynamic_early:
        step_dynamic_children(boot)
    if not memreserve_first:
        step_memreserve(boot)
    if not dynamic_early:
        step_dynamic_children(boot)
    step_node_init(boot)
    step_kernel_allocations(boot)
    return boot


# Representatives of the version ranges the replay distinguishes: /memreserve/ first (< 6.4),
# dynamic nodes after /memreserve/ (< 6.10), every multi-reg tuple (≤ 7.0), 7.1, 7.2+.
VERSION_MODELS = ("6.1", "6.4", "7.0", "7.1", "7.2")


def _version_differences(mm: MemoryMap, log: BootLog | None, main: _Boot) -> Finding:
    """When no log or --kernel names the kernel: say which model was used and what the
    other kernel versions would reserve differently (bytes per region)."""
    def reserved(boot: _Boot) -> dict[str, int]:
        return {r.id: r.ranges.size_bytes if r.state in (PREDICTED, OBSERVED) and not r.failed else 0
                for r in boot.regions.values()}
    ours = reserved(main)
    diffs = []
    for model in VERSION_MODELS:
        if kernel_tuple(model) == main.version:
            continue
        other = reserved(_replay_regions(mm, log, kernel_tuple(model)))
        changed = [f"{rid.rsplit('/', 1)[-1]} {exact_size(other[rid])} (not {exact_size(ours[rid])})"
                   for rid in ours if other.get(rid, 0) != ours[rid]]
        if changed:
            diffs.append(f"on {model}: " + ", ".join(changed))
    said = f"no log or --kernel names the kernel: the replay models {mm.kernel}"
    if not diffs:
        return Finding(Level.INFO, "kernel-assumed", said + "; no region depends on the version")
    return Finding(Level.WARNING, "kernel-assumed", said + "; other kernels reserve differently — "
                   + "; ".join(diffs) + " (give --kernel or --dmesg)")


def replay(mm: MemoryMap, log: BootLog | None = None, *, kernel_assumed: bool = False,
           dma_max_cpu_address: int | None = None) -> MemoryMap:
    """Run the arch's ordered steps; return the replayed map (the input is not changed)."""
    if mm.arch == "x86_64" or not mm.ram_known:
        boot = _Boot(mm=mm, log=log, version=kernel_tuple(mm.kernel), memblock=None,
                     regions={r.id: r for r in mm.regions if r.kind is not RegionKind.CRASHKERNEL})
        for r in list(boot.regions.values()):
            why = _skip_reason(boot, r) or (_failed_evidence(boot, r) if r.failed else None)
            seen = None if why or not r.placed else _observed(boot, r)
            boot.set(r.id, state=FAILED if why else OBSERVED if seen else UNKNOWN,
                     evidence=why or seen or ("RAM unknown: the boot cannot be replayed" if not mm.ram_known
                                              else "x86_64: no DT replay"))
        if mm.ram_known:
            boot.memblock = Memblock(memory=mm.ram)
    else:
        boot = _replay_regions(mm, log, kernel_tuple(mm.kernel))
        if kernel_assumed:
            boot.findings.append(_version_differences(mm, log, boot))
    boot.dma_max_cpu_address = dma_max_cpu_address
    if boot.memblock is not None:
        step_crashkernel(boot)
    elif mm.boot.crashkernel or mm.iomem:
        _crash_without_ram(boot)
    _finish_states(boot)
    if boot.assumptions and any(r.state == PREDICTED and r.placement_source == "replay"
                                for r in boot.regions.values()):
        boot.warn(Level.INFO, "replay-assumptions",
                  "predicted placements assume: " + "; ".join(boot.assumptions), None)
    regions = list(boot.regions.values())
    # "unplaced" said before the replay no longer holds for regions it placed
    placed = {r.id for r in regions if r.placed}
    kept = [f for f in mm.findings if not (f.code == "unplaced" and f.id in placed)]
    return replace(mm, regions=regions, findings=kept + boot.findings,
                   ram=boot.ram if boot.ram is not None else mm.ram, crashkernel=boot.crash)


def _crash_without_ram(boot: _Boot) -> None:
    """RAM unknown: crash kernel regions are only what iomem/dmesg observed."""
    mm = boot.mm
    lines = sorted(_iomem_lines(mm, "Crash kernel").ranges, key=lambda r: r.start)
    main = lines[-1] if lines else (boot.log.crashkernel if boot.log else None)
    if main is None and not mm.boot.crashkernel:
        return
    state = OBSERVED if main else UNKNOWN
    evidence = (f"iomem `Crash kernel` {kernel_mem(main)}" if lines else
                f"dmesg: {boot.log.crashkernel_line}" if main else "RAM unknown: the replay cannot place it")
    boot.crash = CrashPlan(None, None, state, evidence, result=main)
    boot.regions["crashkernel"] = Region(
        id="crashkernel", name="crashkernel", kind=RegionKind.CRASHKERNEL, saved=False,
        ranges=RangeSet([main]) if main else RangeSet(), size_bytes=main.size_bytes if main else 0,
        placement_source=("iomem" if lines else "dmesg") if main else None, state=state, evidence=evidence)
