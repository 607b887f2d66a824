"""Device tree → RAM, /reserved-memory regions, /memreserve/ and /chosen, the kernel's way.

Rules from drivers/of/fdt.c and drivers/of/of_reserved_mem.c (domain.md §1): root
cell counts decode everything; `/reserved-memory` is honoured only when its cells
equal the root's and `ranges` exists; `alignment` is read with the root's *address*
cells; `status` must be okay; multi-`reg` children are modelled per kernel version.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from typing import Iterable

from memmap_tui.core.model import BootInfo, Finding, Level, Region, RegionKind
from memmap_tui.core.ranges import Range, RangeSet
from memmap_tui.sources.errors import MAX_DTB_INPUT_BYTES, InputError, read_input_bytes
from memmap_tui.core.replay import kernel_tuple
from memmap_tui.sources.fdt_blob import (
    FdtBlob, FdtError, FdtNode, cells_to_int, describe_prop, parse_fdt, prop_cells,
    prop_string, prop_strings, prop_tuples, prop_u32,
)

# Root defaults when #address-cells / #size-cells are absent (OF_ROOT_NODE_*_CELLS_DEFAULT).
ROOT_ADDR_CELLS_DEFAULT = 1
ROOT_SIZE_CELLS_DEFAULT = 1
MAX_RESERVED_REGIONS = 64
STRICT_BINDINGS = ("shared-dma-pool", "restricted-dma-pool")


@dataclass(slots=True)
class MemoryNode:
    path: str
    ranges: RangeSet
    prop: str  # "reg" or "linux,usable-memory"
    hotpluggable: bool = False


@dataclass(slots=True)
class DtbInfo:
    path: str
    blob: FdtBlob
    address_cells: int
    size_cells: int
    memory_nodes: list[MemoryNode] = field(default_factory=list)
    regions: list[Region] = field(default_factory=list)
    boot: BootInfo = field(default_factory=BootInfo)
    findings: list[Finding] = field(default_factory=list)
    reserved_memory_ok: bool = True
    compiled_from: str | None = None  # the .dts path when we ran dtc
    read: DtbBytes | None = None      # the bytes loading read (export patches these, no re-read)
    dma_max_cpu_address: int | None = None  # of_dma_get_max_cpu_address(NULL); None: no dma-ranges

    @property
    def memory(self) -> RangeSet:
        out = RangeSet()
        for m in self.memory_nodes:
            out = out | m.ranges
        return out


# -- reading the file ------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class DtbBytes:
    """What loading read: the blob, and every file it came from (for the export's
    never-overwrite-an-input check)."""
    data: bytes
    path: str
    compiled_from: str | None = None     # the .dts path when dtc built the blob
    sources: tuple[str, ...] = ()        # the .dts and every file it #include's, /include/'s, /incbin/'s


def read_dtb_bytes(path: str, include_dirs: tuple[str, ...] = ()) -> DtbBytes:
    """Bytes of a DTB; a `.dts` is preprocessed and compiled with the real dtc."""
    data = read_input_bytes(path, MAX_DTB_INPUT_BYTES)
    if data[:4] == b"\xd0\x0d\xfe\xed":
        return DtbBytes(data, path, sources=(path,))
    if path.endswith((".dts", ".dtsi")) or data.lstrip().startswith((b"/dts-v1/", b"/*", b"//", b"#include")):
        return compile_dts(path, include_dirs, source=data)
    raise InputError(path, "not a device tree blob (bad magic, expected 0xd00dfeed) nor DTS source")


def compile_dts(path: str, include_dirs: tuple[str, ...] = (), *, source: bytes | None = None) -> DtbBytes:
    """cpp (when the source uses it) then dtc, as the kernel's cmd_dtc does, bounded by
    `sources.tools` (timeout, memory, output size, stdin closed)."""
    import tempfile  # with tools (subprocess): only a .dts needs them, not a DTB's start-up

    from memmap_tui.sources import tools
    if source is None:
        source = read_input_bytes(path, MAX_DTB_INPUT_BYTES)
    dirs = (os.path.dirname(os.path.abspath(path)), *include_dirs)
    sources = [os.path.abspath(path)]
    with tempfile.TemporaryDirectory(prefix="memmap-tui-dts-") as tmp:
        dts_in = path
        if b"#include" in source or b"#define" in source:
            # without -P: cpp's line markers name the real files, for dtc's messages and for
            # the list of files this DTS reads
            pre = preprocess_dts(path, dirs)
            sources += [f for f in _cpp_marker_files(pre) if f not in sources]
            dts_in = os.path.join(tmp, "preprocessed.dts")
            with open(dts_in, "wb") as f:
                f.write(pre)
        out, deps = os.path.join(tmp, "out.dtb"), os.path.join(tmp, "deps")
        inc = [a for d in dirs for a in ("-i", os.path.abspath(d))]
        run = tools.run("dtc", ["-q", *inc, "-I", "dts", "-O", "dtb", "-o", out, "-d", deps],
                        [dts_in], why="compile the .dts", where=path)
        if run.returncode != 0 or not os.path.exists(out):
            raise InputError(path, "dtc failed: " + run.first_line().replace(dts_in, os.path.basename(path)))
        with open(deps, "rb") as f:
            # `out.dtb: a.dts b.dtsi …` (dtc's /include/ and /incbin/ files; spaces unescaped)
            for dep in f.read().decode("utf-8", "replace").split()[1:]:
                dep = os.path.abspath(dep.rstrip("\\"))
                if not dep.startswith(tmp + os.sep) and dep not in sources:
                    sources.append(dep)
        for dep in sources:
            _require_regular(path, dep)
        with open(out, "rb") as f:
            return DtbBytes(f.read(), path, compiled_from=path, sources=tuple(sources))


def _require_regular(dts: str, dep: str) -> None:
    """A source that includes a device or FIFO (`/dev/stdin`, `/dev/zero`) is refused even
    when the bounded tools got through it: its content is not a file anyone can review."""
    try:
        mode = os.stat(dep).st_mode
    except OSError:
        return           # gone since dtc read it: nothing to say about its kind
    if not stat.S_ISREG(mode):
        raise InputError(dts, f"includes {dep}, which is not a regular file")


# Kernel scripts/Makefile.lib dtc_cpp_flags (warning and dependency flags aside).
CPP_OPTIONS = ["-nostdinc", "-undef", "-D__DTS__", "-x", "assembler-with-cpp"]


def preprocess_dts(path: str | os.PathLike, include_dirs: Iterable[str | os.PathLike]) -> bytes:
    """cpp output with line markers (`# LINE "FILE"`): dtc follows them in its messages."""
    from memmap_tui.sources import tools
    inc = [a for d in include_dirs for a in ("-I", os.path.abspath(d))]
    return tools.checked("cpp", [*CPP_OPTIONS, *inc], [path],
                         why="preprocess the .dts (#include/#define)", where=str(path))


def _cpp_marker_files(preprocessed: bytes) -> list[str]:
    """Files named by cpp's `# LINE "FILE" FLAGS` markers, in first-seen order."""
    seen: dict[str, None] = {}
    for line in preprocessed.splitlines():
        if line.startswith(b"# ") and b'"' in line:
            name = line.split(b'"', 2)[1].decode("utf-8", "replace")
            if not name.startswith("<"):
                seen.setdefault(os.path.abspath(name))
    return list(seen)


# -- decoding ----------------------------------------------------------------------

def load_dtb(path: str, *, kernel: str = "7.2", include_dirs: tuple[str, ...] = ()) -> DtbInfo:
    return decode_read(read_dtb_bytes(path, include_dirs), label=path, kernel=kernel)


def decode_read(read: DtbBytes, *, label: str, kernel: str, keep: bool = True,
                blob: FdtBlob | None = None) -> DtbInfo:
    """Parse and decode the blob loading read (`blob`: already parsed from `read.data`);
    `keep` remembers the bytes on the result (what export patches, and the files it must
    never write over)."""
    if blob is None:
        try:
            blob = parse_fdt(read.data)
        except FdtError as e:
            raise InputError(label, str(e)) from None
    info = decode_dtb(blob, path=label, kernel=kernel)
    info.compiled_from = read.compiled_from
    if keep:
        info.read = read
    return info


def decode_dtb(blob: FdtBlob, *, path: str = "<dtb>", kernel: str = "7.2") -> DtbInfo:
    root = blob.root
    findings: list[Finding] = []
    addr_cells = _cells(root, "#address-cells", ROOT_ADDR_CELLS_DEFAULT, findings)
    size_cells = _cells(root, "#size-cells", ROOT_SIZE_CELLS_DEFAULT, findings)
    info = DtbInfo(path=path, blob=blob, address_cells=addr_cells, size_cells=size_cells,
                   findings=findings)
    if blob.nop_count:
        findings.append(Finding(Level.INFO, "fdt-nop",
                                f"{blob.nop_count} FDT_NOP tags (blob was edited in place, e.g. by U-Boot)"))
    labels = _labels(blob)
    info.boot = _chosen(blob, addr_cells, size_cells, findings)
    model = root.props.get("model")
    info.boot.model = prop_string(model) if model else None
    info.memory_nodes = _memory_nodes(root, addr_cells, size_cells, findings)
    info.regions = _reserved_memory(blob, addr_cells, size_cells, kernel, labels, info)
    _memory_region_users(blob, info.regions)
    info.regions += _memreserve(blob, info.boot, findings)
    info.dma_max_cpu_address = dma_max_cpu_address(root)
    return info


def _cells_of(node: FdtNode, parents: dict[int, FdtNode], prop: str) -> int:
    """of_n_addr_cells()/of_n_size_cells() of a bus node: its own, else an ancestor's, else 1."""
    while node is not None:
        raw = node.props.get(prop)
        if raw is not None and len(raw) == 4:
            return prop_u32(raw)
        node = parents.get(id(node))
    return 1


def _dma_to_cpu(addr: int, bus: FdtNode, parents: dict[int, FdtNode]) -> int | None:
    """of_translate_dma_address(): an address on `bus` up through each ancestor's dma-ranges
    (missing or empty = 1:1; no matching entry = untranslatable) until the root."""
    while id(bus) in parents:
        raw = bus.props.get("dma-ranges")
        if raw:
            na = _cells_of(bus, parents, "#address-cells")
            pna = _cells_of(parents[id(bus)], parents, "#address-cells")
            ns = _cells_of(bus, parents, "#size-cells")
            try:
                cells = prop_cells(raw)
            except FdtError:
                return None
            width = na + pna + ns
            for i in range(0, len(cells) - width + 1, width):
                child = cells_to_int(cells[i:i + na])
                parent = cells_to_int(cells[i + na:i + na + pna])
                size = cells_to_int(cells[i + na + pna:i + width])
                if child <= addr < child + size:
                    addr = addr - child + parent
                    break
            else:
                return None
        bus = parents[id(bus)]
    return addr


def dma_max_cpu_address(root: FdtNode) -> int | None:
    """drivers/of/address.c of_dma_get_max_cpu_address(NULL): the lowest, over every available
    node with dma-ranges, of the highest CPU address its ranges reach. arm64 zone_sizes_init()
    turns it into zone_dma_bits (1 GiB on a Raspberry Pi 4). Iterative: deep trees are fine."""
    parents: dict[int, FdtNode] = {}
    best = None
    stack = [root]
    while stack:
        node = stack.pop()
        raw = node.props.get("dma-ranges")
        if raw and id(node) in parents:
            parent = parents[id(node)]
            na = _cells_of(node, parents, "#address-cells")
            pna = _cells_of(parent, parents, "#address-cells")
            ns = _cells_of(node, parents, "#size-cells")
            try:
                cells = prop_cells(raw)
            except FdtError:
                cells = []
            width = na + pna + ns
            cpu_end = 0
            for i in range(0, len(cells) - width + 1, width):
                size = cells_to_int(cells[i + na + pna:i + width])
                cpu = _dma_to_cpu(cells_to_int(cells[i + na:i + na + pna]), parent, parents)
                if cpu is not None and size and cpu + size - 1 > cpu_end:
                    cpu_end = cpu + size - 1
            best = cpu_end if best is None else min(best, cpu_end)
        for child in node.children:
            if _is_available(child):
                parents[id(child)] = node
                stack.append(child)
    return best


def _memory_region_users(blob: FdtBlob, regions: list[Region]) -> None:
    """Which devices use each carveout (`memory-region = <&phandle ...>`): what BSP engineers
    look up first when a generic `memory@…` node has to be sized or tagged."""
    by_phandle: dict[int, str] = {}
    for path, node in blob.nodes_by_path.items():
        raw = node.props.get("phandle") or node.props.get("linux,phandle")
        if raw is not None and len(raw) == 4:
            by_phandle[prop_u32(raw)] = path
    users: dict[str, list[str]] = {}
    for path, node in blob.nodes_by_path.items():
        raw = node.props.get("memory-region")
        if raw is None or len(raw) % 4:
            continue
        suffix = "" if _is_available(node) else " (disabled)"
        for phandle in prop_cells(raw):
            target = by_phandle.get(phandle)
            if target:
                users.setdefault(target, []).append(path + suffix)
    for region in regions:
        region.users = tuple(users.get(region.id, ()))


def _cells(node: FdtNode, prop: str, default: int, findings: list[Finding]) -> int:
    raw = node.props.get(prop)
    if raw is None:
        return default
    try:
        value = prop_u32(raw)
    except FdtError:
        findings.append(Finding(Level.ERROR, "bad-cells", f"{node.path} {prop} is not one cell", node.path))
        return default
    if not 1 <= value <= 4:
        findings.append(Finding(Level.WARNING, "odd-cells", f"{node.path} {prop} = {value}", node.path))
    return value


def _opt_cells(node: FdtNode, prop: str) -> int | str | None:
    """A cell-count property, or its raw hex when it is not one cell (never equal to a count)."""
    raw = node.props.get(prop)
    if raw is None:
        return None
    try:
        return prop_u32(raw)
    except FdtError:
        return raw.hex() or "empty"


def _labels(blob: FdtBlob) -> dict[str, list[str]]:
    """path -> labels, from /__symbols__ (dtc -@)."""
    out: dict[str, list[str]] = {}
    symbols = blob.get("/__symbols__")
    if symbols:
        for label, raw in symbols.props.items():
            out.setdefault(prop_string(raw), []).append(label)
    return out


def _is_available(node: FdtNode) -> bool:
    raw = node.props.get("status")
    return raw is None or prop_string(raw) in ("okay", "ok")


def _memory_nodes(root: FdtNode, ac: int, sc: int, findings: list[Finding]) -> list[MemoryNode]:
    out = []
    for node in root.children:
        dtype = node.props.get("device_type")
        if dtype is None or prop_string(dtype) != "memory":
            continue
        if not _is_available(node):
            findings.append(Finding(
                Level.INFO, "memory-disabled",
                f"{node.path} is status \"{prop_string(node.props['status'])}\": not RAM for Linux"
                + (" (secure-only memory)" if "secure-status" in node.props else ""), node.path))
            continue
        prop = "linux,usable-memory" if "linux,usable-memory" in node.props else "reg"
        raw = node.props.get(prop)
        if raw is None:
            continue
        try:
            tuples = prop_tuples(raw, ac, sc)
        except FdtError as e:
            findings.append(Finding(Level.ERROR, "bad-memory-reg", f"{node.path} {prop}: {e}", node.path))
            continue
        ranges = RangeSet((b, b + s) for b, s in tuples if s)
        out.append(MemoryNode(node.path, ranges, prop, "hotpluggable" in node.props))
    return out


def _chosen(blob: FdtBlob, ac: int, sc: int, findings: list[Finding]) -> BootInfo:
    boot = BootInfo()
    chosen = blob.get("/chosen")
    if chosen is None:
        return boot
    p = chosen.props
    if "bootargs" in p:
        for arg in boot.adopt_cmdline(prop_string(p["bootargs"])):
            findings.append(Finding(Level.WARNING, "bad-cmdline", f"cannot parse {arg}", "/chosen"))
    if "linux,initrd-start" in p and "linux,initrd-end" in p:
        try:
            start = cells_to_int(prop_cells(p["linux,initrd-start"]))
            end = cells_to_int(prop_cells(p["linux,initrd-end"]))
            if end > start:
                boot.initrd = Range(start, end)
        except FdtError:
            findings.append(Finding(Level.WARNING, "bad-initrd", "unreadable linux,initrd-start/end", "/chosen"))
    if "linux,elfcorehdr" in p:
        try:
            (base, size), *_ = prop_tuples(p["linux,elfcorehdr"], ac, sc)
            boot.elfcorehdr = Range(base, base + size)
        except (FdtError, ValueError):
            pass
        findings.append(Finding(Level.INFO, "capture-kernel-dtb",
                                "/chosen has linux,elfcorehdr: this is a kdump capture kernel's DTB",
                                "/chosen"))
    if "linux,usable-memory-range" in p:
        try:
            boot.usable_memory_range = tuple(
                Range(b, b + s) for b, s in prop_tuples(p["linux,usable-memory-range"], ac, sc))
        except FdtError:
            pass
    if "linux,uefi-system-table" in p:
        boot.efi = True
        findings.append(Finding(
            Level.WARNING, "uefi-boot",
            "UEFI boot (/chosen linux,uefi-system-table): the kernel takes RAM from the UEFI memory map "
            "and the EFI stub deletes every /memreserve/ — DT /memory and /memreserve/ are not what it uses",
            "/chosen"))
    return boot


def _reserved_memory(blob: FdtBlob, ac: int, sc: int, kernel: str,
                     labels: dict[str, list[str]], info: DtbInfo) -> list[Region]:
    findings = info.findings
    parent = blob.get("/reserved-memory")
    if parent is None:
        return []
    p_ac = _opt_cells(parent, "#address-cells")
    p_sc = _opt_cells(parent, "#size-cells")
    problems = []
    if p_ac != ac or p_sc != sc:
        problems.append(f"#address-cells/#size-cells <{p_ac} {p_sc}> differ from the root's <{ac} {sc}>")
    if "ranges" not in parent.props:
        problems.append("no `ranges` property")
    parent_ok = not problems
    info.reserved_memory_ok = parent_ok
    if not parent_ok:
        findings.append(Finding(
            Level.ERROR, "reserved-memory-ignored",
            "/reserved-memory: " + "; ".join(problems) +
            " — the kernel prints \"Reserved memory: unsupported node format, ignoring\" and ignores every child",
            "/reserved-memory"))
    # reserved_mem[] is a fixed MAX_RESERVED_REGIONS array until 6.10, sized from the DT after
    # (alloc_reserved_mem_array(), total_reserved_mem_cnt)
    if len(parent.children) > MAX_RESERVED_REGIONS and kernel_tuple(kernel) < (6, 10):
        findings.append(Finding(Level.WARNING, "too-many-regions",
                                f"{len(parent.children)} children: more than MAX_RESERVED_REGIONS "
                                f"({MAX_RESERVED_REGIONS}); the kernel drops the rest", "/reserved-memory"))
    legacy = kernel_tuple(kernel) < (7, 2)
    out = []
    for node in parent.children:
        out.append(_reserved_child(node, ac, sc, legacy, labels.get(node.path, []), parent_ok, findings))
    return out


def _reserved_child(node: FdtNode, ac: int, sc: int, legacy: bool, labels: list[str],
                    parent_ok: bool, findings: list[Finding]) -> Region:
    p = node.props
    rid = node.path

    def warn(level: Level, code: str, message: str) -> None:
        # fdt_scan_reserved_mem() skips an unavailable child before reading reg/size:
        # nothing about its properties can fail (Raspberry Pi 4 `nvram@0`)
        if not disabled:
            findings.append(Finding(level, code, message, rid))

    disabled = not _is_available(node)
    no_map = "no-map" in p
    reusable = "reusable" in p
    compatible = tuple(prop_strings(p["compatible"])) if "compatible" in p else ()
    kind = RegionKind.NO_MAP if no_map else RegionKind.REUSABLE if reusable else RegionKind.RESERVED
    region = Region(
        id=rid, name=node.name, kind=kind, labels=tuple(labels), compatible=compatible,
        no_map=no_map, reusable=reusable, dt_no_dump="linux,no-dump" in p,
        cma_default="linux,cma-default" in p, dma_default="linux,dma-default" in p,
        disabled=disabled, ignored=not parent_ok,
        properties=tuple((name, describe_prop(value)) for name, value in p.items()),
        placement_source="dt",
    )
    notes = []
    if no_map and reusable:
        warn(Level.WARNING, "no-map-and-reusable",
             f"{node.name}: both no-map and reusable (the binding forbids it; a CMA pool fails to set up)")
    if region.disabled:
        notes.append("status is not okay: skipped by the kernel, stays plain RAM")
    if "reg" in p:
        try:
            tuples = prop_tuples(p["reg"], ac, sc)
        except FdtError as e:
            warn(Level.ERROR, "bad-reg", f"{node.name}: reg {e}: the kernel skips the node")
            region.failed = True
            tuples = []
        region.reg = tuple(Range(b, b + s) for b, s in tuples)
        if len(tuples) > 1:
            region.multi_reg = True
            if legacy:
                region.ranges = RangeSet((b, b + s) for b, s in tuples)
                region.saved = False
                warn(Level.WARNING, "multi-reg",
                     f"{node.name}: {len(tuples)} <base size> entries; kernel ≤ 7.0 reserves every one "
                     "(7.1 skips the node); no-dump logic is not modelled for it")
            else:
                base, size = tuples[0]
                region.ranges = RangeSet([(base, base + size)])
                warn(Level.WARNING, "multi-reg",
                     f"{node.name}: {len(tuples)} <base size> entries; kernel ≥ 7.2 uses only the first "
                     "(the rest stays plain RAM and is dumped); --kernel 6.1 for kernels ≤ 7.0 (every "
                     "entry reserved), 7.1 skips the node")
        elif tuples:
            region.ranges = RangeSet((b, b + s) for b, s in tuples if s)
        if tuples and all(s == 0 for _, s in tuples):
            region.failed = True
            warn(Level.WARNING, "zero-size", f"{node.name}: reg size 0: \"failed to reserve memory\"")
        region.size_bytes = region.ranges.size_bytes
    elif "size" in p:
        region.dynamic = True
        region.placement_source = None
        raw = p["size"]
        if len(raw) != 4 * sc:
            warn(Level.ERROR, "bad-size", f"{node.name}: size is {len(raw)} bytes, expected {sc} cells: "
                 "the kernel cannot allocate it")
            region.failed = True
        else:
            region.size_bytes = cells_to_int(prop_cells(raw))
        if "alloc-ranges" in p:
            try:
                region.alloc_ranges = tuple(Range(b, b + s) for b, s in prop_tuples(p["alloc-ranges"], ac, sc))
            except FdtError as e:
                warn(Level.WARNING, "bad-alloc-ranges", f"{node.name}: alloc-ranges {e}")
    else:
        region.failed = True
        warn(Level.WARNING, "no-reg-no-size", f"{node.name}: neither reg nor size: nothing is reserved")
    if "alignment" in p:
        # __reserved_mem_alloc_size() checks the length against the root's *address* cells
        # (the binding text says size cells); TI k3 DTBs carry 1-cell values.
        raw_al = p["alignment"]
        if len(raw_al) % 4 == 0 and raw_al:
            region.alignment = cells_to_int(prop_cells(raw_al))
        if len(raw_al) != 4 * ac:
            cells = f"alignment is {len(raw_al) // 4} cell(s), the kernel reads it with #address-cells ({ac})"
            if region.dynamic:
                warn(Level.ERROR, "alignment-cells",
                     f"{node.name}: {cells}: \"invalid alignment property\", the allocation fails")
                region.failed = True
            else:
                warn(Level.INFO, "alignment-cells",
                     f"{node.name}: {cells}; harmless here: alignment only matters for dynamic allocation")
    region.cma = ("shared-dma-pool" in compatible and reusable and not no_map
                  and not region.failed)
    # rmem_cma_setup()'s alignment check (and every other init failure) is the boot
    # replay's step_node_init (core/replay.py): it frees the region in boot order.
    if any(c in STRICT_BINDINGS for c in compatible) and region.dt_no_dump:
        warn(Level.INFO, "strict-binding",
             f"{node.name}: linux,no-dump on a {'/'.join(compatible)} node fails dtbs_check "
             "(the binding does not allow unknown properties)")
    region.notes = tuple(notes)
    return region


def _memreserve(blob: FdtBlob, boot: BootInfo, findings: list[Finding]) -> list[Region]:
    out = []
    for n, (addr, size) in enumerate(blob.memreserve):
        rid = f"/memreserve/{n}"
        rng = Range(addr, addr + size)
        region = Region(id=rid, name=f"memreserve {n}", kind=RegionKind.MEMRESERVE,
                        ranges=RangeSet([rng]), size_bytes=size, reg=(rng,), placement_source="dt",
                        saved=False)
        if boot.efi:
            region.ignored = True
            region.notes = ("UEFI boot: the EFI stub deletes every /memreserve/ entry",)
        if boot.initrd and rng.overlaps(boot.initrd):
            findings.append(Finding(
                Level.WARNING, "memreserve-initrd",
                f"{rid} overlaps the initrd (/chosen linux,initrd-*): the initrd is freed after boot, so "
                "both proposals (v1 and v2+) would drop live kernel/user pages from the vmcore", rid))
        out.append(region)
    return out
