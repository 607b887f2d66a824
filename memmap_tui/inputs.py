"""Load every input and assemble the one `MemoryMap` all views render.

Sits above `sources/` (parsers) and `core/` (model, rules): it decides which input
wins when they disagree and says so as a finding — RAM from `--ram`, else
/proc/iomem (what the kernel actually used), else DT /memory; dynamic regions
placed from dmesg, else iomem when unambiguous; failures from dmesg and iomem.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Callable

from memmap_tui.core.arch import ARCHES, DEFAULT_ARCH, DEFAULT_LOADER, LOADERS, is_iomem_nomap, is_iomem_ram, rules_for
from memmap_tui.core.coverage import Coverage
from memmap_tui.core.lint import lint
from memmap_tui.core.model import Finding, Level, MemoryMap, Region, RegionKind
from memmap_tui.core.policy import TOGGLE_WHY, ToggleEffect, toggle_effect
from memmap_tui.core.ranges import Range, RangeSet
from memmap_tui.core.replay import replay
from memmap_tui.core.units import compact_hex, exact_size, kernel_mem, memparse_prefix
from memmap_tui.sources.dtb import DtbInfo, kernel_tuple
from memmap_tui.sources.errors import InputError
from memmap_tui.sources.containers import load_candidate
from memmap_tui.sources.user_input import UserInputs, resolve_inputs

if TYPE_CHECKING:
    # the vmcore readers (and pyelftools) load only when a dump is given; the dmesg, iomem and
    # memblock readers only when that input is (start-up of a DTB-only report, issue 14)
    from memmap_tui.core.dump import DumpLayout
    from memmap_tui.sources.dmesg import DmesgInfo
    from memmap_tui.sources.iomem import IomemInfo
    from memmap_tui.sources.memblock import MemblockInfo

DEFAULT_WRITE_SPEED_MBPS = 100.0  # a modest disk or NFS target, decimal MB/s
DEFAULT_KERNEL = "7.2"


@dataclass(slots=True)
class Options:
    dtb: str | None = None
    iomem: str | None = None
    dmesg: str | None = None
    vmcore: str | None = None
    ram: tuple[str, ...] = ()
    arch: str = DEFAULT_ARCH
    loader: str = DEFAULT_LOADER
    kernel: str | None = None   # None: from dmesg / vmcore OSRELEASE, else DEFAULT_KERNEL
    page_size: int | None = None  # None: the dump's PAGESIZE, else the arch's default
    no_dump: tuple[str, ...] = ()
    dump: tuple[str, ...] = ()
    include_dirs: tuple[str, ...] = ()
    write_speed_mbps: float = DEFAULT_WRITE_SPEED_MBPS
    pick: str | None = None        # which DTB of a multi-DTB container (1-based, name, model text)
    memblock: str | None = None    # /sys/kernel/debug/memblock (dir with memory + reserved)
    demo: bool = False             # the bundled demo board: shown as "demo"


@dataclass(slots=True)
class Loaded:
    mm: MemoryMap
    options: Options
    dtb: DtbInfo | None = None
    iomem: IomemInfo | None = None
    dmesg: DmesgInfo | None = None
    dump: DumpLayout | None = None
    ram_specs: list[Range] = field(default_factory=list)   # --ram, parsed
    user: UserInputs | None = None     # containers, bundles, stdin: what each input really was
    memblock: MemblockInfo | None = None


def parse_ram_spec(spec: str) -> Range:
    """`SIZE@BASE` in memparse syntax (`8G@0x80000000`); a bare SIZE starts at 0."""
    try:
        size, rest = memparse_prefix(spec)
        base = 0
        if rest.startswith("@"):
            base, rest = memparse_prefix(rest[1:])
        if rest.strip() or size == 0:
            raise ValueError
    except ValueError:
        raise InputError(None, f"--ram {spec!r}: expected SIZE@BASE, e.g. 8G@0x80000000") from None
    if base + size > 1 << 64:
        raise InputError(None, f"--ram {spec!r}: the bank ends beyond the 64-bit physical address space")
    return Range(base, base + size)


def load(options: Options) -> Loaded:
    """Read every input, then assemble the model in one place: `ASSEMBLY` below."""
    _check_options(options)
    mm = MemoryMap(arch=options.arch, loader=options.loader, kernel=options.kernel or DEFAULT_KERNEL,
                   page_size=rules_for(options.arch).default_page_size)
    loaded = Loaded(mm=mm, options=options)
    for step in ASSEMBLY:
        step(loaded.mm, loaded)   # a step may replace the model (the replay does)
    return loaded


def _check_options(options: Options) -> None:
    if options.arch not in ARCHES:
        raise InputError(None, f"--arch {options.arch!r}: one of {', '.join(ARCHES)}")
    if options.loader not in LOADERS:
        raise InputError(None, f"--loader {options.loader!r}: one of {', '.join(LOADERS)}")
    if options.kernel is not None:
        try:
            kernel_tuple(options.kernel)
        except ValueError as e:
            raise InputError(None, f"--kernel: {e}") from None


def _read_inputs(mm: MemoryMap, loaded: Loaded) -> None:
    options = loaded.options
    loaded.ram_specs = [parse_ram_spec(s) for s in options.ram]
    # Any user path (container, bundle, `-`, compressed file) -> readable inputs (sources/user_input.py)
    user = loaded.user = resolve_inputs(dtb=options.dtb, iomem=options.iomem, dmesg=options.dmesg,
                                        memblock=options.memblock, vmcore=options.vmcore, pick=options.pick,
                                        include_dirs=options.include_dirs)
    user.annotate(mm, demo=options.demo)   # container, pick, bundle: named in inputs and findings
    # Logs and dumps first: they say which kernel ran, and that decides how the DT is read.
    if user.files.get("dmesg"):
        from memmap_tui.sources.dmesg import load_dmesg
        loaded.dmesg = load_dmesg(user.files["dmesg"])
        mm.inputs["dmesg"] = user.labels["dmesg"]
    if user.files.get("vmcore"):
        from memmap_tui.sources.vmcore import open_dump   # ELF/kdump readers only for dumps
        loaded.dump = open_dump(user.files["vmcore"])
        mm.inputs["vmcore"] = user.labels["vmcore"]
    if user.files.get("memblock"):   # the kernel's own view: RAM, NOMAP, placements
        from memmap_tui.sources.memblock import load_memblock
        loaded.memblock = load_memblock(user.files["memblock"])
        mm.inputs["memblock"] = user.labels["memblock"]
        mm.findings.extend(loaded.memblock.findings)
    if options.kernel is None:
        _detect_kernel(mm, loaded)
    if user.dtb:
        loaded.dtb = load_candidate(user.dtb, user.dtb_source, user.labels["dtb"], kernel=mm.kernel)
        mm.inputs["dtb"] = user.labels["dtb"]
        mm.regions.extend(loaded.dtb.regions)
        mm.boot = loaded.dtb.boot
        mm.hotplug = RangeSet(pair for m in loaded.dtb.memory_nodes if m.hotpluggable for pair in m.ranges.pairs)
        mm.findings.extend(loaded.dtb.findings)
    if user.files.get("iomem"):
        from memmap_tui.sources.iomem import load_iomem
        loaded.iomem = load_iomem(user.files["iomem"])
        mm.inputs["iomem"] = user.labels["iomem"]
        mm.iomem = loaded.iomem.entries
        mm.findings.extend(loaded.iomem.findings)
    if loaded.dmesg:
        mm.findings.extend(loaded.dmesg.findings)
        if mm.boot.bootargs is None and loaded.dmesg.cmdline:
            for arg in mm.boot.adopt_cmdline(loaded.dmesg.cmdline):
                mm.findings.append(Finding(Level.WARNING, "bad-cmdline", f"cannot parse {arg} (dmesg)"))
    if mm.boot.bootargs is None and user.cmdline:
        for arg in mm.boot.adopt_cmdline(user.cmdline):
            mm.findings.append(Finding(Level.WARNING, "bad-cmdline", f"cannot parse {arg} (/proc/cmdline)"))
    if loaded.dump:
        mm.findings.extend(loaded.dump.findings)
        if loaded.dump.arch and loaded.dump.arch != mm.arch:
            mm.findings.append(Finding(Level.WARNING, "vmcore-arch",
                                       f"the dump is {loaded.dump.arch} but the rules are {mm.arch}'s: "
                                       f"give --arch {loaded.dump.arch}"))
    _page_size(mm, options, loaded.dump)
    if rules_for(mm.arch).dump_path(mm.loader).base == "iomem_lines" and not mm.iomem:
        mm.findings.append(Finding(Level.INFO, "kexec-load-no-iomem",
                                   "kexec_load: kexec-tools builds the vmcore from /proc/iomem; without "
                                   "--iomem the DT model stands in for it"))
    if mm.boot.movable_node and mm.hotplug:
        mm.findings.append(Finding(
            Level.INFO, "movable-node",
            f"movable_node: hotpluggable DT memory ({exact_size(mm.hotplug.size_bytes)}) is skipped by "
            "for_each_mem_range() (should_skip_region()): not in a vmcore built from memblock"))
    order = ("board", "dtb", "container", "pick", "bundle", "iomem", "dmesg", "memblock", "vmcore")
    mm.inputs = {k: mm.inputs[k] for k in order if k in mm.inputs}


def _replay(mm: MemoryMap, loaded: Loaded) -> None:
    """The boot replay (core/replay.py): states, failures, crashkernel placement. It returns
    a new model; later steps read `loaded.mm`."""
    options = loaded.options
    log = None
    if loaded.dmesg:
        from memmap_tui.sources.dmesg import boot_log
        log = boot_log(loaded.dmesg)
    loaded.mm = replay(mm, log,
                       kernel_assumed=options.kernel is None
                       and not any(f.code == "kernel-detected" for f in mm.findings),
                       dma_max_cpu_address=loaded.dtb.dma_max_cpu_address if loaded.dtb else None)


def _lint(mm: MemoryMap, loaded: Loaded) -> None:
    mm.findings.extend(lint(mm))


def _toggles(mm: MemoryMap, loaded: Loaded) -> None:
    apply_toggles(mm, loaded.options.no_dump, loaded.options.dump)


def _page_size(mm: MemoryMap, options: Options, dump: DumpLayout | None) -> None:
    dump_page = dump.page_size if dump is not None else None
    if options.page_size:
        if options.page_size & (options.page_size - 1) or options.page_size < 4096:
            raise InputError(None, f"--page-size {options.page_size}: a power of two, 4096 or more")
        mm.page_size = options.page_size
        if dump_page and dump_page != options.page_size:
            mm.findings.append(Finding(Level.WARNING, "page-size",
                                       f"--page-size {options.page_size} but the dump says {dump_page}"))
    elif dump_page:
        mm.page_size = dump_page


def _detect_kernel(mm: MemoryMap, loaded: Loaded) -> None:
    """Model the kernel that actually ran when a log or dump names it (multi-reg rules differ)."""
    release, source = None, None
    if loaded.dmesg and loaded.dmesg.kernel_release:
        release, source = loaded.dmesg.kernel_release, "dmesg"
    elif loaded.dump is not None and loaded.dump.osrelease:
        release, source = loaded.dump.osrelease, "vmcore OSRELEASE"
    if not release:
        return
    try:
        version = kernel_tuple(".".join(release.split(".")[:2]).split("-")[0])
    except ValueError:
        return
    mm.kernel = DEFAULT_KERNEL if version >= kernel_tuple(DEFAULT_KERNEL) else f"{version[0]}.{version[1]}"
    mm.findings.append(Finding(Level.INFO, "kernel-detected",
                               f"kernel {release} (from {source}): modelling kernel {mm.kernel} rules; "
                               "--kernel overrides"))


# -- assembly: each step reads the model so far and replaces what it decides ---------
# A Region is changed only by dataclasses.replace() of its slot in mm.regions, so a
# step never edits an object another view may already hold.


def _iomem_ram(mm: MemoryMap, dtb: DtbInfo | None = None) -> RangeSet:
    """RAM as the kernel registered it: System RAM plus the arch's NOMAP lines (top level).
    Where the NOMAP name also marks reserved ranges outside memory (riscv), such a line is
    RAM only where the DT has memory or a no-map region; with no DT to tell, it is kept and
    the finding says so."""
    rules = rules_for(mm.arch)
    ram = [e.range for e in mm.iomem if e.depth == 0 and is_iomem_ram(rules, e.name)]
    nomap = RangeSet(e.range for e in mm.iomem if is_iomem_nomap(rules, e.name, e.depth))
    if nomap and rules.iomem_nomap_also_outside_ram:
        # DT /memory decides only on a non-UEFI boot (UEFI: NOMAP lines are EFI memory too)
        dt_side = dtb.memory if dtb and not mm.boot.efi else RangeSet()
        if dt_side:
            dt_side = dt_side | RangeSet(pair for r in mm.regions if r.no_map for pair in r.ranges.pairs)
            outside = nomap - dt_side
            if outside:
                mm.findings.append(Finding(
                    Level.INFO, "iomem-reserved-outside-ram",
                    f"{rules.name}: top-level {rules.iomem_nomap} lines outside DT memory and no-map regions "
                    f"({exact_size(outside.size_bytes)}) are reserved ranges outside RAM (init_resources()), not RAM"))
            nomap = nomap & dt_side
        else:
            mm.findings.append(Finding(
                Level.INFO, "iomem-reserved-ambiguous",
                f"{rules.name}: top-level {rules.iomem_nomap} lines are NOMAP RAM or reserved ranges outside "
                "RAM (init_resources()); without a DT they count as RAM — give --ram to be sure"))
    return RangeSet(ram) | nomap


def _decide_ram(mm: MemoryMap, loaded: Loaded) -> None:
    dtb, ram_specs, dump = loaded.dtb, loaded.ram_specs, loaded.dump
    dt_ram = dtb.memory if dtb else RangeSet()
    if dt_ram and mm.boot.mem_limit:
        dt_ram = _apply_mem_limit(dt_ram, mm.boot.mem_limit)
        mm.findings.append(Finding(Level.INFO, "mem-limit",
                                   f"mem={exact_size(mm.boot.mem_limit)} trims DT RAM to {exact_size(dt_ram.size_bytes)}"))
    io_ram = _iomem_ram(mm, dtb)
    candidates = [("--ram", RangeSet(ram_specs)), ("/proc/iomem", io_ram)]
    if loaded.memblock is not None:   # memblock.memory: what the kernel registered, NOMAP included
        candidates.append(("memblock", RangeSet(r.range for r in loaded.memblock.memory)))
    if not mm.boot.efi:
        candidates.append(("DT /memory", dt_ram))
    elif dt_ram:
        mm.findings.append(Finding(Level.WARNING, "efi-memory",
                                   "UEFI boot: DT /memory is ignored (the UEFI memory map decides); "
                                   "give --iomem or --ram for the real RAM"))
    if dump is not None:
        # dump-only mode: RAM as the dump covers it (PT_LOADs / 1st bitmap), last resort
        candidates.append(("vmcore", dump.covered_ram))
    for source, ram in candidates:
        if ram:
            mm.ram, mm.ram_known, mm.ram_source = ram, True, source
            break
    else:
        mm.findings.append(Finding(Level.WARNING, "ram-unknown",
                                   "RAM unknown (no /memory reg, no --iomem, no --ram): savings are shown, "
                                   "vmcore totals are not — give --ram SIZE@BASE"))
        return
    # a kdump vmcore never covers NOMAP or crashkernel memory: its coverage is not a RAM opinion
    others = [(s, r) for s, r in candidates if r and s not in (mm.ram_source, "vmcore")]
    for source, ram in others:
        if ram != mm.ram:
            mm.findings.append(Finding(
                Level.INFO, "ram-disagree",
                f"RAM from {mm.ram_source} ({_ram_layout(mm.ram)}) differs from {source} "
                f"({_ram_layout(ram)}); {mm.ram_source} wins"
                + (" (it is what the running kernel registered)" if mm.ram_source == "/proc/iomem" else
                   " (given on the command line)" if mm.ram_source == "--ram" else "")))


def _ram_layout(ram: RangeSet) -> str:
    """Size and banks: two sources can agree on the size and differ in layout (4 GiB as one
    bank or as 2 GiB + 2 GiB), so the finding names the ranges, not only the totals."""
    banks = ", ".join(f"{compact_hex(r.start)}–{compact_hex(r.end)}" for r in ram)
    return f"{exact_size(ram.size_bytes)}: {banks}"


def _apply_mem_limit(ram: RangeSet, limit: int) -> RangeSet:
    """mem=: keep the lowest `limit` bytes of RAM (memblock_mem_limit_remove_map)."""
    out, left = [], limit
    for r in ram:
        if left <= 0:
            break
        take = min(left, r.size_bytes)
        out.append((r.start, r.start + take))
        left -= take
    return RangeSet(out)


def _placed(region: Region, rng: Range, source: str, note: str) -> Region:
    """The region placed at `rng` by `source` (only a dynamic region moves; others get the note)."""
    if not region.dynamic:
        return replace(region, notes=region.notes + (note,))
    notes = region.notes
    if rng.size_bytes != region.size_bytes and region.size_bytes:
        notes += (f"size {exact_size(rng.size_bytes)} at boot vs {exact_size(region.size_bytes)} in DT",)
    return replace(region, ranges=RangeSet([rng]), placement_source=source,
                   size_bytes=rng.size_bytes, notes=notes + (note,))


def _place_from_dmesg(mm: MemoryMap, loaded: Loaded) -> None:
    dmesg = loaded.dmesg
    if not dmesg:
        return
    by_name: dict[str, list[int]] = {}
    for i, r in enumerate(mm.regions):
        if r.kind is not RegionKind.MEMRESERVE:
            by_name.setdefault(r.name, []).append(i)
    for name, placement in dmesg.placements.items():
        slots = by_name.get(name, [])
        if len(slots) != 1:
            continue
        region = mm.regions[slots[0]]
        if region.dynamic:
            mm.regions[slots[0]] = _placed(region, placement.range, "dmesg",
                                           f"placed by the kernel: {placement.line}")
        else:
            mm.regions[slots[0]] = replace(region, notes=region.notes + (f"dmesg: {placement.line}",))
            if region.ranges and placement.range not in region.ranges.ranges:
                mm.findings.append(Finding(Level.WARNING, "dmesg-mismatch",
                                           f"{name}: dmesg says {kernel_mem(placement.range)}, DT reg differs",
                                           region.id))
    for name, line in dmesg.failures.items():
        for i in by_name.get(name, []):
            region = mm.regions[i]
            mm.regions[i] = replace(region, failed=True, cma=False, notes=region.notes + (f"dmesg: {line}",))
            mm.findings.append(Finding(Level.WARNING, "reserve-failed",
                                       f"{name}: the kernel failed to reserve it (dmesg); it stays plain RAM",
                                       region.id))
    if dmesg.parent_unsupported:
        mm.findings.append(Finding(Level.ERROR, "reserved-memory-ignored",
                                   "dmesg: \"Reserved memory: unsupported node format, ignoring\"",
                                   "/reserved-memory"))


def _memblock_evidence(mm: MemoryMap, loaded: Loaded) -> None:
    """--memblock: check DT no-map regions against memblock's NOMAP flag and place dynamic
    regions that match exactly one memblock entry (after dmesg, before iomem)."""
    if loaded.memblock is None:
        return
    from memmap_tui.sources.memblock import memblock_nomap_checks, memblock_placements
    for i, note, finding in memblock_nomap_checks(mm, loaded.memblock):
        mm.regions[i] = replace(mm.regions[i], notes=mm.regions[i].notes + (note,))
        if finding is not None:
            mm.findings.append(finding)
    for i, rng, note in memblock_placements(mm, loaded.memblock):
        mm.regions[i] = _placed(mm.regions[i], rng, "memblock", note)


def _iomem_named(mm: MemoryMap, name: str | None, top: bool) -> list[Range]:
    return [e.range for e in mm.iomem if name is not None and e.name == name and (e.depth == 0) == top]


def _place_from_iomem(mm: MemoryMap, loaded: Loaded) -> None:
    """Dynamic regions without a dmesg line: place them when iomem has exactly one candidate:
    a no-map region among the arch's top-level NOMAP lines, others among its nested
    memblock-reserved lines."""
    if not mm.iomem:
        return
    rules = rules_for(mm.arch)
    pools = {True: _iomem_named(mm, rules.iomem_nomap, top=True),
             False: _iomem_named(mm, rules.iomem_reserved, top=False)}
    by_size: dict[tuple[bool, int], list[Range]] = {}
    for no_map, pool in pools.items():
        for rng in pool:
            by_size.setdefault((no_map, rng.size_bytes), []).append(rng)
    taken = Coverage(RangeSet(rng for r in mm.regions if r.placed for rng in r.ranges))
    placed_here: list[tuple[int, int]] = []   # disjoint, sorted: what this step placed

    def free(rng: Range) -> bool:
        if taken.bytes_in(RangeSet([rng])):
            return False
        k = bisect_left(placed_here, (rng.end,))   # the last one starting before rng.end
        return k == 0 or placed_here[k - 1][1] <= rng.start

    for i, region in enumerate(mm.regions):
        if not region.dynamic or region.placed or not region.reserves_memory:
            continue
        fits = [r for r in by_size.get((region.no_map, region.size_bytes), []) if free(r)]
        if region.alloc_ranges:
            allowed = RangeSet(region.alloc_ranges)
            fits = [r for r in fits if RangeSet([r]).difference(allowed).size_bytes == 0]
        if len(fits) == 1:
            line = rules.iomem_nomap if region.no_map else rules.iomem_reserved
            mm.regions[i] = _placed(region, fits[0], "iomem",
                                    f"placed from /proc/iomem: the only {'top-level' if region.no_map else 'nested'} "
                                    f"`{line}` of {exact_size(region.size_bytes)} {kernel_mem(fits[0])}")
            insort(placed_here, (fits[0].start, fits[0].end))
    for region in mm.regions:
        if region.dynamic and not region.placed and region.reserves_memory:
            mm.findings.append(Finding(Level.INFO, "unplaced",
                                       f"{region.name}: dynamic ({exact_size(region.size_bytes)}), address chosen at "
                                       "boot; give --dmesg to place it", region.id))


def _check_failures_against_iomem(mm: MemoryMap, loaded: Loaded) -> None:
    """A static no-map carveout shown as plain System RAM was not reserved (e.g. initrd
    collision): the arch writes a NOMAP region as its own top-level line."""
    rules = rules_for(mm.arch)
    if not mm.iomem or rules.iomem_nomap is None:
        return
    nomap_lines = Coverage(RangeSet(_iomem_named(mm, rules.iomem_nomap, top=True)))
    system_ram = Coverage(RangeSet(e.range for e in mm.iomem
                                   if e.depth == 0 and is_iomem_ram(rules, e.name)))
    for i, region in enumerate(mm.regions):
        if not (region.no_map and region.placed and region.reserves_memory):
            continue
        if system_ram.bytes_in(region.ranges) and not nomap_lines.bytes_in(region.ranges):
            mm.regions[i] = replace(region, failed=True, notes=region.notes + (
                "iomem shows this range as System RAM: the reservation failed",))
            mm.findings.append(Finding(Level.WARNING, "reserve-failed",
                                       f"{region.name}: no-map carveout is plain System RAM in /proc/iomem — "
                                       "the kernel did not reserve it", region.id))



def _outside_ram(mm: MemoryMap, loaded: Loaded) -> None:
    if not mm.ram_known:
        return
    ram = Coverage(mm.ram)
    for region in mm.regions:
        if region.placed and region.reserves_memory:
            outside_bytes = region.ranges.size_bytes - ram.bytes_in(region.ranges)
            if outside_bytes:
                mm.findings.append(Finding(
                    Level.INFO, "outside-ram",
                    f"{region.name}: {exact_size(outside_bytes)} outside RAM ({mm.ram_source}); "
                    "never in a vmcore", region.id))


# The assembly, in order: the hook for a new rule is one line here.
ASSEMBLY: tuple[Callable[[MemoryMap, Loaded], None], ...] = (
    _read_inputs,
    _decide_ram,
    _place_from_dmesg,
    _memblock_evidence,
    _place_from_iomem,
    _check_failures_against_iomem,
    _replay,
    _outside_ram,
    _lint,
    _toggles,
)


def resolve(mm: MemoryMap, needle: str, option: str = "--no-dump") -> Region:
    matches = [r for r in mm.find(needle) if r.kind not in (RegionKind.MEMRESERVE, RegionKind.CRASHKERNEL)]
    if not matches:
        raise InputError(None, f"{option} {needle}: no /reserved-memory node by that path, label or name")
    if len(matches) > 1:
        raise InputError(None, f"{option} {needle}: ambiguous ({', '.join(r.id for r in matches)}); give the full path")
    return matches[0]


def apply_toggles(mm: MemoryMap, no_dump: tuple[str, ...] | list[str], dump: tuple[str, ...] | list[str]) -> None:
    asked: dict[str, tuple[bool, str]] = {}
    for needle, value, option in [(n, True, "--no-dump") for n in no_dump] + [(n, False, "--dump") for n in dump]:
        region = resolve(mm, needle, option)
        # the same node both ways is a contradiction, not "last one wins"
        earlier = asked.setdefault(region.id, (value, f"{option} {needle}"))
        if earlier[0] != value:
            raise InputError(None, f"{earlier[1]} and {option} {needle} name the same node "
                                   f"{region.id}; give one of them")
        mm.set_no_dump(region.id, value)
        effect = toggle_effect(mm, region)
        if value and effect is not ToggleEffect.EFFECTIVE:
            mm.findings.append(Finding(Level.WARNING, f"no-dump-{effect}",
                                       f"{region.name}: linux,no-dump {TOGGLE_WHY[effect]}", region.id))
