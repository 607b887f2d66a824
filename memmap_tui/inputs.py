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

from memmap_tui.core.arch import (ARCHES, CRASH_CMA, CRASH_KERNEL_LINE, CRASH_LOW_RES, CRASH_RES,
                                  DEFAULT_ARCH, DEFAULT_LOADER, LOADERS, is_iomem_nomap, is_iomem_ram,
                                  rules_for)
from memmap_tui.core.coverage import Coverage
from memmap_tui.core.crashkernel import CrashkernelError, parse_crashkernel
from memmap_tui.core.lint import lint
from memmap_tui.core.model import Finding, Level, MemoryMap, Region, RegionKind
from memmap_tui.core.policy import TOGGLE_WHY, ToggleEffect, toggle_effect
from memmap_tui.core.ranges import Range, RangeSet
from memmap_tui.core.units import compact_hex, exact_size, kernel_mem, memparse_prefix
from memmap_tui.sources.dmesg import DmesgInfo, load_dmesg
from memmap_tui.sources.dtb import DtbInfo, kernel_tuple, load_dtb
from memmap_tui.sources.errors import InputError
from memmap_tui.sources.iomem import IomemInfo, load_iomem

if TYPE_CHECKING:  # the vmcore readers (and pyelftools) load only when a dump is given
    from memmap_tui.core.dump import DumpLayout

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


@dataclass(slots=True)
class Loaded:
    mm: MemoryMap
    options: Options
    dtb: DtbInfo | None = None
    iomem: IomemInfo | None = None
    dmesg: DmesgInfo | None = None
    dump: DumpLayout | None = None
    ram_specs: list[Range] = field(default_factory=list)   # --ram, parsed


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
        step(mm, loaded)
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
    # Logs and dumps first: they say which kernel ran, and that decides how the DT is read.
    if options.dmesg:
        loaded.dmesg = load_dmesg(options.dmesg)
        mm.inputs["dmesg"] = options.dmesg
    if options.vmcore:
        from memmap_tui.sources.vmcore import open_dump   # ELF/kdump readers only for dumps
        loaded.dump = open_dump(options.vmcore)
        mm.inputs["vmcore"] = options.vmcore
    if options.kernel is None:
        _detect_kernel(mm, loaded)
    if options.dtb:
        loaded.dtb = load_dtb(options.dtb, kernel=mm.kernel, include_dirs=options.include_dirs)
        mm.inputs["dtb"] = options.dtb
        mm.regions.extend(loaded.dtb.regions)
        mm.boot = loaded.dtb.boot
        mm.findings.extend(loaded.dtb.findings)
    if options.iomem:
        loaded.iomem = load_iomem(options.iomem)
        mm.inputs["iomem"] = options.iomem
        mm.iomem = loaded.iomem.entries
        mm.findings.extend(loaded.iomem.findings)
    if loaded.dmesg:
        mm.findings.extend(loaded.dmesg.findings)
        if mm.boot.bootargs is None and loaded.dmesg.cmdline:
            for arg in mm.boot.adopt_cmdline(loaded.dmesg.cmdline):
                mm.findings.append(Finding(Level.WARNING, "bad-cmdline", f"cannot parse {arg} (dmesg)"))
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
    order = ("dtb", "iomem", "dmesg", "vmcore")
    mm.inputs = {k: mm.inputs[k] for k in order if k in mm.inputs}


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

def _cma_cmdline(mm: MemoryMap, loaded: Loaded) -> None:
    """`cma=` on the command line: rmem_cma_setup() returns -EBUSY for a `linux,cma-default`
    node, which is then not reserved at all (the cmdline area replaces it)."""
    if mm.boot.cma_cmdline is None:
        return
    for i, region in enumerate(mm.regions):
        if region.cma_default and region.reusable and region.reserves_memory:
            mm.regions[i] = replace(
                region, failed=True, cma=False,
                notes=region.notes + (f"cma={mm.boot.cma_cmdline} on the command line: the default CMA "
                                      "node is not reserved (-EBUSY); the cmdline CMA area replaces it",))
            mm.findings.append(Finding(Level.WARNING, "cma-cmdline",
                                       f"{region.name}: cma={mm.boot.cma_cmdline} overrides this "
                                       "linux,cma-default pool; it stays plain RAM", region.id))


def _iomem_ram(mm: MemoryMap) -> RangeSet:
    """RAM as the kernel registered it: System RAM plus the arch's NOMAP lines (top level)."""
    rules = rules_for(mm.arch)
    return RangeSet(e.range for e in mm.iomem
                    if e.depth == 0 and (is_iomem_ram(rules, e.name) or is_iomem_nomap(rules, e.name, 0)))


def _decide_ram(mm: MemoryMap, loaded: Loaded) -> None:
    dtb, ram_specs, dump = loaded.dtb, loaded.ram_specs, loaded.dump
    dt_ram = dtb.memory if dtb else RangeSet()
    if dt_ram and mm.boot.mem_limit:
        dt_ram = _apply_mem_limit(dt_ram, mm.boot.mem_limit)
        mm.findings.append(Finding(Level.INFO, "mem-limit",
                                   f"mem={exact_size(mm.boot.mem_limit)} trims DT RAM to {exact_size(dt_ram.size_bytes)}"))
    io_ram = _iomem_ram(mm)
    candidates = [("--ram", RangeSet(ram_specs)), ("/proc/iomem", io_ram)]
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


def _crashkernel(mm: MemoryMap, loaded: Loaded) -> None:
    dmesg = loaded.dmesg
    rules = rules_for(mm.arch)
    lines = sorted(e.range for e in mm.iomem if e.name == CRASH_KERNEL_LINE)   # any depth
    try:
        specs = parse_crashkernel(mm.boot.crashkernel, mm.ram.size_bytes if mm.ram_known else None, mm.arch)
    except (CrashkernelError, ValueError) as e:
        mm.findings.append(Finding(Level.WARNING, "crashkernel-parse", f"crashkernel=: {e}", CRASH_RES))
        specs = []
    placed: dict[str, tuple[Range, str]] = {}
    if lines:
        # crashk_low_res is the lower of two "Crash kernel" lines.
        if len(lines) >= 2:
            placed[CRASH_LOW_RES] = (lines[0], "iomem")
            placed[CRASH_RES] = (lines[-1], "iomem")
        else:
            placed[CRASH_RES] = (lines[0], "iomem")
    if dmesg:
        if dmesg.crashkernel and CRASH_RES not in placed:
            placed[CRASH_RES] = (dmesg.crashkernel, "dmesg")
        if dmesg.crashkernel_low and CRASH_LOW_RES not in placed:
            placed[CRASH_LOW_RES] = (dmesg.crashkernel_low, "dmesg")
    spec_by_id = {s.id: s for s in specs}
    for cid in (CRASH_RES, CRASH_LOW_RES, CRASH_CMA):
        spec = spec_by_id.get(cid)
        where = placed.get(cid)
        if not spec and not where:
            continue
        fields: dict = {"properties": (("bootargs", spec.source),)} if spec else {}
        if where:
            rng, source = where
            fields.update(ranges=RangeSet([rng]), size_bytes=rng.size_bytes, placement_source=source)
            if spec and spec.size_bytes != rng.size_bytes and spec.form != "cma":
                mm.findings.append(Finding(Level.WARNING, "crashkernel-size",
                                           f"{cid}: {spec.source} asks {exact_size(spec.size_bytes)}, "
                                           f"{source} shows {exact_size(rng.size_bytes)}", cid))
        elif spec.offset is not None:
            fields.update(ranges=RangeSet([(spec.offset, spec.offset + spec.size_bytes)]),
                          size_bytes=spec.size_bytes, placement_source="bootargs")
        else:
            fields.update(dynamic=True, size_bytes=spec.size_bytes,
                          notes=("placed at boot (memblock top-down below the low limit); "
                                 "give --iomem or --dmesg for its address",))
        if cid == CRASH_CMA:
            fields["reusable"] = True
            if not rules.crashkernel_cma:
                fields["ignored"] = True
                mm.findings.append(Finding(Level.WARNING, "crashkernel-cma-arch",
                                           f"crashkernel=,cma is implemented for x86/ppc only; a {mm.arch} "
                                           "kernel without the proposed patches ignores it", cid))
        mm.regions.append(Region(id=cid, name=cid, kind=RegionKind.CRASHKERNEL, saved=False, **fields))


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
    _cma_cmdline,
    _place_from_dmesg,
    _place_from_iomem,
    _check_failures_against_iomem,
    _crashkernel,
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
    for needle, value, option in [(n, True, "--no-dump") for n in no_dump] + [(n, False, "--dump") for n in dump]:
        region = resolve(mm, needle, option)
        mm.set_no_dump(region.id, value)
        effect = toggle_effect(mm, region)
        if value and effect is not ToggleEffect.EFFECTIVE:
            mm.findings.append(Finding(Level.WARNING, f"no-dump-{effect}",
                                       f"{region.name}: linux,no-dump {TOGGLE_WHY[effect]}", region.id))
