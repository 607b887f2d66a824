#!/usr/bin/env python3
"""Generate the memmap-tui demo board: DTS sources, DTB, /proc/iomem and dmesg.

The board ("Acme Foo SoC EVB") is fictional; everything else is derived from one
table (CARVEOUTS) by the rules an arm64 kernel follows (../../shared/domain.md
§1.4, §3, §6), so the four files cannot disagree with each other:

- `soc.dtsi` / `board.dts`: written from the table; compiled with the real
  `cpp` + `dtc` (the generator shells out to both).
- dynamic `/reserved-memory` pools and the crash kernel are placed by a small
  memblock simulation: top-down, aligned, avoiding what is reserved or no-map
  at that point of the boot (`memblock_find_in_range_node()`).
- `iomem.txt` follows `request_standard_resources()` +
  `reserve_memblock_reserved_regions()`; `dmesg.txt` uses the 7.x
  `OF: reserved mem:` wording.

Deterministic: same bytes on every run. Re-run after editing the table:

    python3 sample-data/make_sample.py            # writes sample-data/ and memmap_tui/data/
    python3 sample-data/make_sample.py --out DIR  # writes DIR only (used by the tests)
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
PAGE = 4096

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PACKAGE_DATA = REPO / "memmap_tui" / "data"

# Files the app needs at runtime; copied into memmap_tui/data/ (package-data).
RUNTIME_FILES = ("board.dts", "soc.dtsi", "board.dtb", "iomem.txt", "dmesg.txt")
GENERATED_FILES = RUNTIME_FILES

MODEL = "Acme Foo SoC EVB"

# -- the board ------------------------------------------------------------------
# /memory: root #address-cells = #size-cells = 2.
RAM = ((0x8000_0000, 2 * GiB), (0x8_8000_0000, 6 * GiB))

# /memreserve/: the spin-table release pen page (cpu-release-addr points into it).
SPIN_TABLE = (0x8000_0000, 0x1000)
CPU_RELEASE_ADDR = 0x8000_0FF8

# Where the bootloader put things (U-Boot style *_addr_r); the kernel memblock_reserve()s
# the image from _stext, the DTB and the initrd (page-rounded) before scanning /reserved-memory.
KERNEL_STEXT = 0x8021_0000          # Image loaded at 0x80200000
KERNEL_INIT_BEGIN = 0x8186_0000     # end of "Kernel code"
KERNEL_SDATA = 0x81EB_0000          # start of "Kernel data"
KERNEL_END = 0x8221_0000            # _end
DTB_ADDR = 0x8300_0000
INITRD = (0x8400_0000, 0x84D3_B1C0)  # linux,initrd-start (incl.) / -end (excl.)

BOOTARGS = "console=ttyS0,115200n8 earlycon crashkernel=512M root=/dev/mmcblk0p2 rootwait"
CRASHKERNEL_SIZE = 512 * MiB        # must match BOOTARGS
CRASH_ALIGN = 2 * MiB               # arm64 CRASH_ALIGN
CRASH_ADDR_LOW_MAX = 1 << 32        # arm64_dma_phys_limit: no dma-ranges limit, RAM starts < 4 GiB

# memblock allocations made after /reserved-memory (page tables, memmap, NODE_DATA,
# percpu): top-down from the top of RAM. They are not DT regions but show up as nested
# `reserved` in /proc/iomem, as on every real arm64 system.
EARLY_ALLOCS = (
    (0x9_F7C0_0000, 0x9_FFC0_0000),  # sparse vmemmap: 64 sections x 2 MiB
    (0x9_FFD6_E000, 0x9_FFDF_9000),  # percpu, NODE_DATA
    (0x9_FFE0_0000, 0xA_0000_0000),  # early page tables
)
NODE_DATA = (0x9_FFDF_6380, 0x9_FFDF_9000)


@dataclass(frozen=True)
class Carveout:
    label: str
    name: str                      # node name without unit address
    level: str                     # "soc" (soc.dtsi) or "board" (board.dts)
    size: int
    base: int | None = None        # None: dynamic (`size`, `alignment`, `alloc-ranges`)
    no_map: bool = False
    reusable: bool = False
    compatible: str | None = None
    cma_default: bool = False
    alignment: int | None = None
    alloc_range: tuple[int, int] | None = None   # (start, size)
    extra: tuple[str, ...] = ()    # further property lines, verbatim
    comment: str = ""
    # board-level overrides of a SoC node (&label { ... })
    soc_size: int | None = None    # size in soc.dtsi when the board resizes it
    disabled: bool = False
    no_dump: bool = False
    consumer: tuple[str, int, int] | None = None  # (device node name, MMIO base, MMIO size)

    @property
    def unit_name(self) -> str:
        return self.name if self.base is None else f"{self.name}@{self.base:x}"

    @property
    def dynamic(self) -> bool:
        return self.base is None


CARVEOUTS: tuple[Carveout, ...] = (
    Carveout("modem_mem", "modem", "soc", 96 * MiB, 0x8600_0000, no_map=True,
             comment="modem firmware and IPC: never touched by Linux",
             consumer=("remoteproc", 0x0408_0000, 0x1_0000)),
    Carveout("wlan_mem", "wlan", "soc", 2 * MiB, 0x8C00_0000, no_map=True,
             comment="WLAN firmware; disabled on boards without the module",
             disabled=True),
    Carveout("dsp_mem", "dsp", "soc", 0x1A4_0000, 0x8E00_0000, no_map=True,
             comment="audio DSP image, 26880 KiB (not a power of two)",
             consumer=("dsp", 0x0200_0000, 0x4_0000)),
    Carveout("gpu_mem", "gpu", "soc", 96 * MiB, 0x9000_0000, soc_size=64 * MiB,
             comment="GPU carveout; the EVB's 4K panel needs 96 MiB",
             consumer=("gpu", 0x0180_0000, 0x1_0000)),
    Carveout("npu_mem", "npu", "soc", 128 * MiB, 0x9800_0000, compatible="shared-dma-pool",
             comment="NPU coherent pool (rmem_dma_setup)", no_dump=True,
             consumer=("npu", 0x01A0_0000, 0x2_0000)),
    Carveout("video_pool", "video-pool", "soc", 48 * MiB, compatible="shared-dma-pool",
             alignment=4 * MiB, alloc_range=(0xB000_0000, 256 * MiB),
             comment="VPU pool, placed at boot inside alloc-ranges",
             consumer=("video-codec", 0x01C0_E000, 0x1000)),
    Carveout("camera_mem", "camera", "board", 32 * MiB, 0xA400_0000,
             comment="ISP frame buffers for the EVB's two sensors",
             consumer=("isp", 0x0580_0000, 0x1_0000)),
    Carveout("linux_cma", "linux,cma", "board", 256 * MiB, 0xC800_0000, reusable=True,
             compatible="shared-dma-pool", cma_default=True,
             comment="default CMA area, below 4 GiB for 32-bit DMA masters"),
    Carveout("ramoops", "ramoops", "board", 1 * MiB, 0xFFF0_0000, compatible="ramoops",
             extra=("record-size = <0x20000>;", "console-size = <0x20000>;",
                    "pmsg-size = <0x20000>;"),
             comment="pstore: survives a warm reset"),
)

# MMIO devices without a carveout, (node name, label, base, size, compatible).
DEVICES = (
    ("serial", "uart0", 0x01C2_8000, 0x400, "snps,dw-apb-uart"),
    ("mmc", "mmc0", 0x0402_0000, 0x1000, "acme,foo-dw-mshc"),
)
GIC = (0x0300_0000, 0x1_0000, 0x0306_0000, 0x8_0000)  # distributor, redistributors


# -- small interval helpers (half-open) -------------------------------------------

def _merge(ranges):
    """Union of half-open ranges; adjacent ones merge (as memblock does)."""
    out: list[list[int]] = []
    for s, e in sorted(r for r in ranges if r[1] > r[0]):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [tuple(r) for r in out]


def _subtract(ranges, holes):
    out = []
    holes = _merge(holes)
    for s, e in _merge(ranges):
        cur = s
        for hs, he in holes:
            if he <= cur or hs >= e:
                continue
            if hs > cur:
                out.append((cur, hs))
            cur = max(cur, he)
        if cur < e:
            out.append((cur, e))
    return out


def _round_page(start, end):
    return start & ~(PAGE - 1), (end + PAGE - 1) & ~(PAGE - 1)


def alloc_top_down(free, size, align, lo, hi):
    """memblock_find_in_range_node(), top-down: highest aligned fit in [lo, hi)."""
    for s, e in reversed(_merge(free)):
        s, e = max(s, lo), min(e, hi)
        if e - s < size:
            continue
        cand = (e - size) & ~(align - 1)
        if cand >= s:
            return cand
    raise SystemExit(f"sample board does not fit: no {size:#x} bytes in [{lo:#x}, {hi:#x})")


# -- boot simulation ----------------------------------------------------------------

@dataclass
class Boot:
    placement: dict[str, tuple[int, int]] = field(default_factory=dict)  # label -> (start, end)
    crashkernel: tuple[int, int] = (0, 0)
    reserved: list[tuple[int, int]] = field(default_factory=list)  # memblock.reserved
    nomap: list[tuple[int, int]] = field(default_factory=list)
    dtb_size: int = 0


def simulate(dtb_size: int) -> Boot:
    boot = Boot(dtb_size=dtb_size)
    ram = [(b, b + s) for b, s in RAM]
    # arm64_memblock_init(): kernel image, initrd; early_init_fdt_reserve_self(): the DTB.
    reserved = [(KERNEL_STEXT, KERNEL_END), _round_page(*INITRD),
                _round_page(DTB_ADDR, DTB_ADDR + dtb_size)]
    nomap: list[tuple[int, int]] = []
    live = [c for c in CARVEOUTS if not c.disabled]
    # fdt_scan_reserved_mem(): static nodes first ...
    for c in live:
        if not c.dynamic:
            rng = (c.base, c.base + c.size)
            (nomap if c.no_map else reserved).append(rng)
            boot.placement[c.label] = rng
    # ... then the dynamic ones (never on a static region). No alloc-range starts or
    # ends next to a static region here, so the kernel's bottom-up heuristic stays off.
    for c in live:
        if c.dynamic:
            lo, hi = (c.alloc_range[0], sum(c.alloc_range)) if c.alloc_range else (0, 1 << 64)
            base = alloc_top_down(_subtract(ram, reserved + nomap), c.size,
                                  c.alignment or 64, lo, hi)
            rng = (base, base + c.size)
            reserved.append(rng)       # allocated, so memblock.reserved even when no-map
            if c.no_map:
                nomap.append(rng)
            boot.placement[c.label] = rng
    # /memreserve/ is scanned last (commit b41328187629).
    reserved.append((SPIN_TABLE[0], SPIN_TABLE[0] + SPIN_TABLE[1]))
    # paging_init(), sparse_init(), NUMA: top of RAM.
    reserved.extend(EARLY_ALLOCS)
    # arch_reserve_crashkernel(): crashkernel=512M, low first (top-down below 4 GiB).
    base = alloc_top_down(_subtract(ram, reserved + nomap), CRASHKERNEL_SIZE,
                          CRASH_ALIGN, 0, CRASH_ADDR_LOW_MAX)
    boot.crashkernel = (base, base + CRASHKERNEL_SIZE)
    reserved.append(boot.crashkernel)
    boot.reserved = _merge(reserved)
    boot.nomap = _merge(nomap)
    return boot


# -- DTS text --------------------------------------------------------------------

def _cells(value: int) -> str:
    return f"0x{value >> 32:x} 0x{value & 0xFFFF_FFFF:x}"


def _reg(base: int, size: int) -> str:
    return f"<{_cells(base)} {_cells(size)}>"


def _carveout_node(c: Carveout, size: int, indent: str) -> list[str]:
    lines = [f"{indent}/* {c.comment} */"] if c.comment else []
    lines.append(f"{indent}{c.label}: {c.unit_name} {{")
    inner = indent + "\t"
    if c.compatible:
        lines.append(f'{inner}compatible = "{c.compatible}";')
    if c.dynamic:
        lines.append(f"{inner}size = <{_cells(size)}>;")
        if c.alignment:
            lines.append(f"{inner}alignment = <{_cells(c.alignment)}>;")
        if c.alloc_range:
            lines.append(f"{inner}alloc-ranges = {_reg(*c.alloc_range)};")
    else:
        lines.append(f"{inner}reg = {_reg(c.base, size)};")
    if c.no_map:
        lines.append(f"{inner}no-map;")
    if c.reusable:
        lines.append(f"{inner}reusable;")
    if c.cma_default:
        lines.append(f"{inner}linux,cma-default;")
    lines.extend(inner + e for e in c.extra)
    lines.append(f"{indent}}};")
    return lines


HEADER = """\
// SPDX-License-Identifier: (GPL-2.0-or-later OR MIT)
/*
 * {what}
 * Fictional board for the memmap-tui demo. GENERATED by sample-data/make_sample.py:
 * edit the table in the generator and re-run it, not this file.
 */"""


def soc_dtsi() -> str:
    out = [HEADER.format(what="Acme Foo SoC: SoC-level nodes and /reserved-memory carveouts."), ""]
    out += [
        "/* Plain #defines instead of <dt-bindings/...>: cpp is needed, a kernel tree is not. */",
        "#define GIC_SPI\t\t\t0",
        "#define GIC_PPI\t\t\t1",
        "#define IRQ_TYPE_LEVEL_HIGH\t4",
        "#define IRQ_TYPE_LEVEL_LOW\t8",
        "",
        "/* Boot ROM spin-table pen: secondary CPUs poll cpu-release-addr in this page. */",
        f"/memreserve/ {SPIN_TABLE[0]:#010x} {SPIN_TABLE[1]:#06x};",
        "",
        "/ {",
        '\tcompatible = "acme,foo-soc";',
        "\tinterrupt-parent = <&gic>;",
        "\t#address-cells = <2>;",
        "\t#size-cells = <2>;",
        "",
        "\tcpus {",
        "\t\t#address-cells = <1>;",
        "\t\t#size-cells = <0>;",
    ]
    for n in range(4):
        out += [
            "",
            f"\t\tcpu{n}: cpu@{n * 0x100:x} {{",
            '\t\t\tdevice_type = "cpu";',
            '\t\t\tcompatible = "arm,cortex-a55";',
            f"\t\t\treg = <{n * 0x100:#x}>;",
            '\t\t\tenable-method = "spin-table";',
            f"\t\t\tcpu-release-addr = <{_cells(CPU_RELEASE_ADDR)}>;",
            "\t\t};",
        ]
    out += [
        "\t};",
        "",
        "\ttimer {",
        '\t\tcompatible = "arm,armv8-timer";',
        "\t\tinterrupts = <GIC_PPI 13 IRQ_TYPE_LEVEL_LOW>,",
        "\t\t\t     <GIC_PPI 14 IRQ_TYPE_LEVEL_LOW>,",
        "\t\t\t     <GIC_PPI 11 IRQ_TYPE_LEVEL_LOW>,",
        "\t\t\t     <GIC_PPI 10 IRQ_TYPE_LEVEL_LOW>;",
        "\t};",
        "",
        "\t/* #address-cells/#size-cells must equal the root's and `ranges` must be",
        "\t * present, or the kernel ignores every child (__reserved_mem_check_root). */",
        "\treserved-memory {",
        "\t\t#address-cells = <2>;",
        "\t\t#size-cells = <2>;",
        "\t\tranges;",
    ]
    for c in CARVEOUTS:
        if c.level == "soc":
            out.append("")
            out += _carveout_node(c, c.soc_size or c.size, "\t\t")
    out += [
        "\t};",
        "",
        "\tsoc {",
        '\t\tcompatible = "simple-bus";',
        "\t\t#address-cells = <2>;",
        "\t\t#size-cells = <2>;",
        "\t\tranges;",
        "",
        f"\t\tgic: interrupt-controller@{GIC[0]:x} {{",
        '\t\t\tcompatible = "arm,gic-v3";',
        "\t\t\t#interrupt-cells = <3>;",
        "\t\t\t#address-cells = <0>;",
        "\t\t\tinterrupt-controller;",
        f"\t\t\treg = {_reg(GIC[0], GIC[1])},",
        f"\t\t\t      {_reg(GIC[2], GIC[3])};",
        "\t\t\tinterrupts = <GIC_PPI 9 IRQ_TYPE_LEVEL_HIGH>;",
        "\t\t};",
    ]
    devices = _devices()
    for i, (name, label, base, size, compat, region_label) in enumerate(devices):
        out += [
            "",
            f"\t\t{label}: {name}@{base:x} {{",
            f'\t\t\tcompatible = "{compat}";',
            f"\t\t\treg = {_reg(base, size)};",
            f"\t\t\tinterrupts = <GIC_SPI {32 + i} IRQ_TYPE_LEVEL_HIGH>;",
        ]
        if region_label:
            out.append(f"\t\t\tmemory-region = <&{region_label}>;")
        if label == "uart0":
            out.append("\t\t\treg-shift = <2>;")
            out.append("\t\t\treg-io-width = <4>;")
        out.append('\t\t\tstatus = "okay";' if label == "uart0" else '\t\t\tstatus = "disabled";')
        out.append("\t\t};")
    out += ["\t};", "};", ""]
    return "\n".join(out)


def _devices():
    """(node name, label, base, size, compatible, memory-region label), by address."""
    devs = [(n, lbl, b, s, comp, None) for n, lbl, b, s, comp in DEVICES]
    for c in CARVEOUTS:
        if c.consumer:
            name, base, size = c.consumer
            devs.append((name, name.replace("-", "_"), base, size,
                         f"acme,foo-{name}", c.label))
    return sorted(devs, key=lambda d: d[2])


def board_dts() -> str:
    out = [HEADER.format(what=f"{MODEL}: board-level nodes and overrides."), ""]
    out += [
        "/dts-v1/;",
        "",
        '#include "soc.dtsi"',
        "",
        "/* Board RAM: 2 GiB below 4 GiB + 6 GiB above (two LPDDR channels). */",
        f"#define EVB_RAM_LOW\t\t{_reg(*RAM[0])}",
        f"#define EVB_RAM_HIGH\t\t{_reg(*RAM[1])}",
        "",
        "/ {",
        f'\tmodel = "{MODEL}";',
        '\tcompatible = "acme,foo-evb", "acme,foo-soc";',
        "",
        "\taliases {",
        "\t\tserial0 = &uart0;",
        "\t};",
        "",
        "\tchosen {",
        f'\t\tbootargs = "{BOOTARGS}";',
        '\t\tstdout-path = "serial0:115200n8";',
        f"\t\tlinux,initrd-start = <{_cells(INITRD[0])}>;",
        f"\t\tlinux,initrd-end = <{_cells(INITRD[1])}>;",
        "\t};",
        "",
        f"\tmemory@{RAM[0][0]:x} {{",
        '\t\tdevice_type = "memory";',
        "\t\treg = EVB_RAM_LOW, EVB_RAM_HIGH;",
        "\t};",
        "",
        "\treserved-memory {",
    ]
    first = True
    for c in CARVEOUTS:
        if c.level == "board":
            if not first:
                out.append("")
            first = False
            out += _carveout_node(c, c.size, "\t\t")
    out += ["\t};", "};"]
    for c in CARVEOUTS:
        if c.level != "soc":
            continue
        body = []
        if c.soc_size is not None and c.soc_size != c.size:
            body.append(f"\treg = {_reg(c.base, c.size)};")
        if c.disabled:
            body.append('\tstatus = "disabled";')
        if c.no_dump:
            body.append("\t/* kdump v1 proposal only (vendor kernels); mainline ignores it */")
            body.append("\tlinux,no-dump;")
        if body:
            out += ["", f"&{c.label} {{", *body, "};"]
    for c in CARVEOUTS:
        if c.consumer and not c.disabled:
            out += ["", f"&{c.consumer[0].replace('-', '_')} {{", '\tstatus = "okay";', "};"]
    out += ["", "&mmc0 {", '\tstatus = "okay";', "};", ""]
    return "\n".join(out)


def compile_dtb(src_dir: Path) -> bytes:
    """cpp + dtc, as a kernel build does (scripts/Makefile.lib cmd_dtc)."""
    for tool in ("cpp", "dtc"):
        if shutil.which(tool) is None:
            raise SystemExit(f"make_sample.py: `{tool}` not found (apt-get install cpp device-tree-compiler)")
    pre = subprocess.run(
        ["cpp", "-nostdinc", "-undef", "-D__DTS__", "-x", "assembler-with-cpp", "-P",
         "-I", ".", "board.dts"],
        cwd=src_dir, check=True, capture_output=True)
    dtc = subprocess.run(["dtc", "-@", "-I", "dts", "-O", "dtb", "-o", "-", "-"],
                         input=pre.stdout, check=True, capture_output=True)
    if dtc.stderr.strip():
        raise SystemExit("dtc warnings:\n" + dtc.stderr.decode())
    return dtc.stdout


# -- /proc/iomem -----------------------------------------------------------------

def iomem_text(boot: Boot) -> str:
    entries: list[tuple[int, int, int, str]] = []  # (start, end excl, depth, name)

    def add(start, end, depth, name):
        entries.append((start, end, depth, name))

    # Device MMIO: resource named by the node (of_device_alloc), the driver's request nested.
    for name, _label, base, size, _compat, region in _devices():
        if any(c.disabled and c.label == region for c in CARVEOUTS):
            continue
        add(base, base + size, 0, f"{name}@{base:x}")
        add(base, base + size, 1, f"{base:x}.{name}")
    # memblock.memory regions, split where no-map carveouts were marked NOMAP.
    ram = [(b, b + s) for b, s in RAM]
    fixed_children = [
        (KERNEL_STEXT, KERNEL_INIT_BEGIN, "Kernel code"),
        (KERNEL_SDATA, KERNEL_END, "Kernel data"),
        (*boot.crashkernel, "Crash kernel"),
    ]
    pieces = sorted([(s, e, "System RAM") for s, e in _subtract(ram, boot.nomap)]
                    + [(s, e, "reserved") for s, e in boot.nomap])
    for s, e, name in pieces:
        add(s, e, 0, name)
        if name != "System RAM":
            # a no-map region that was also allocated (dynamic) shows nested `reserved`
            for rs, re_ in boot.reserved:
                lo, hi = max(s, rs), min(e, re_)
                if lo < hi:
                    add(lo, hi, 1, "reserved")
            continue
        kids = [(max(s, a), min(e, b), n) for a, b, n in fixed_children if a < e and b > s]
        # reserve_region_with_split(): memblock.reserved fills around existing children
        rounded = [_round_page(rs, re_) for rs, re_ in boot.reserved]
        inside = [(max(s, a), min(e, b)) for a, b in rounded if a < e and b > s]
        gaps = _subtract(inside, [(a, b) for a, b, _ in kids])
        kids += [(a, b, "reserved") for a, b in gaps]
        for a, b, n in sorted(kids):
            add(a, b, 1, n)
    entries.sort(key=lambda t: (t[0], t[2]))
    # width 8 minimum; 64-bit addresses simply print longer (r_show()).
    return "".join(f"{'  ' * d}{s:08x}-{e - 1:08x} : {n}\n" for s, e, d, n in entries)


# -- dmesg ---------------------------------------------------------------------------

def _pa(addr: int) -> str:
    return f"0x{addr:016x}"


def dmesg_text(boot: Boot) -> str:
    lines: list[str] = []
    t_us = [0]  # integer microseconds: no float drift, same bytes everywhere

    def log(text, dt_us=0):
        t_us[0] += dt_us
        sec, us = divmod(t_us[0], 1_000_000)
        lines.append(f"[{sec:5d}.{us:06d}] {text}")  # printk's "[%5lu.%06lu] "

    def rmem_lines(c: Carveout):
        start, end = boot.placement[c.label]
        size = end - start
        if c.compatible == "shared-dma-pool":
            kind = "CMA" if c.reusable else "DMA"
            log(f"Reserved memory: created {kind} memory pool at {_pa(start)}, size {size // MiB} MiB")
        log(f"OF: reserved mem: {_pa(start)}..{_pa(end - 1)} ({size // KiB} KiB) "
            f"{'nomap' if c.no_map else 'map'} {'reusable' if c.reusable else 'non-reusable'} "
            f"{c.unit_name}")

    log("Booting Linux on physical CPU 0x0000000000 [0x412fd050]")
    log("Linux version 7.2.0-acme-evb (builder@acme-ci) (aarch64-linux-gnu-gcc (GCC) 14.2.0, "
        "GNU ld (GNU Binutils) 2.44) #1 SMP PREEMPT Tue Nov 17 09:00:00 UTC 2026")
    log("KASLR disabled due to lack of seed")
    log(f"Machine model: {MODEL}")
    log("efi: UEFI not found.")
    log(f"earlycon: uart0 at MMIO32 {_pa(DEVICES[0][2])} (options '115200n8')")
    log("printk: legacy bootconsole [uart0] enabled")
    live = [c for c in CARVEOUTS if not c.disabled]
    # 7.1+: dynamic nodes are initialised as soon as they are allocated (early pass) ...
    for c in live:
        if c.dynamic:
            rmem_lines(c)
    # ... static ones when the tree is unflattened (fdt_scan_reserved_mem_late()).
    for c in live:
        if not c.dynamic:
            rmem_lines(c)
    ram_lo, ram_hi = RAM[0][0], RAM[-1][0] + RAM[-1][1]
    log("NUMA: No NUMA configuration found")
    log(f"NUMA: Faking a node at [mem {_pa(ram_lo)}-{_pa(ram_hi - 1)}]")
    log(f"NUMA: NODE_DATA [mem {NODE_DATA[0]:#010x}-{NODE_DATA[1] - 1:#010x}]")
    log("Zone ranges:")
    log(f"  DMA      [mem {_pa(ram_lo)}-{_pa(CRASH_ADDR_LOW_MAX - 1)}]")
    log("  DMA32    empty")
    log(f"  Normal   [mem {_pa(CRASH_ADDR_LOW_MAX)}-{_pa(ram_hi - 1)}]")
    log("Movable zone start for each node")
    log("Early memory node ranges")
    ram = [(b, b + s) for b, s in RAM]
    memblock_memory = sorted(_subtract(ram, boot.nomap) + boot.nomap)
    for s, e in memblock_memory:
        log(f"  node   0: [mem {_pa(s)}-{_pa(e - 1)}]")
    log(f"Initmem setup node 0 [mem {_pa(ram_lo)}-{_pa(ram_hi - 1)}]")
    cs, ce = boot.crashkernel
    log(f"crashkernel reserved: {_pa(cs)} - {_pa(ce)} ({(ce - cs) >> 20} MB)")
    log("percpu: Embedded 33 pages/cpu s94232 r8192 d32744 u135168")
    log("Detected VIPT I-cache on CPU0")
    log("CPU features: detected: GIC system register CPU interface")
    log("alternatives: applying boot alternatives")
    log("Kernel command line: " + BOOTARGS)
    log("Dentry cache hash table entries: 1048576 (order: 11, 8388608 bytes, linear)")
    log("Inode-cache hash table entries: 524288 (order: 10, 4194304 bytes, linear)")
    log("Fallback order for Node 0: 0 ")
    log("Built 1 zonelists, mobility grouping on.  Total pages: 2097152")
    log("rcu: Hierarchical RCU implementation.")
    log("NR_IRQS: 64, nr_irqs: 64, preallocated irqs: 0")
    log("GICv3: 256 SPIs implemented")
    log("arch_timer: cp15 timer running at 24.00MHz (phys).", 1)
    log("smp: Bringing up secondary CPUs ...", 51234)
    for n in range(1, 4):
        log(f"Detected VIPT I-cache on CPU{n}", 412)
        log(f"CPU{n}: Booted secondary processor 0x0000000{n}00 [0x412fd050]", 21)
    log("smp: Brought up 1 node, 4 CPUs", 188)
    log("SMP: Total of 4 processors activated.")
    init_lo, init_hi = _round_page(*INITRD)
    log("Trying to unpack rootfs image as initramfs...", 91773)
    log("Serial: 8250/16550 driver, 4 ports, IRQ sharing disabled", 4410)
    uart = DEVICES[0][2]
    log(f"{uart:x}.serial: ttyS0 at MMIO {uart:#x} (irq = 14, base_baud = 1500000) is a 16550A",
        902)
    log("printk: legacy console [ttyS0] enabled", 13)
    rs, re_ = boot.placement["ramoops"]
    log(f"ramoops: using {re_ - rs:#x}@{rs:#x}, ecc: 0", 3121)
    log(f"Freeing initrd memory: {(init_hi - init_lo) // KiB}K", 211305)
    log("Freeing unused kernel memory: 6464K", 24018)
    log("Run /init as init process", 95)
    return "\n".join(lines) + "\n"


# -- main ------------------------------------------------------------------------------

def generate(out_dir: Path) -> dict[str, bytes]:
    """Write every generated file into out_dir; return name -> bytes."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, bytes] = {
        "soc.dtsi": soc_dtsi().encode(),
        "board.dts": board_dts().encode(),
    }
    with tempfile.TemporaryDirectory(prefix="memmap-sample-") as tmp:
        for name in ("soc.dtsi", "board.dts"):
            (Path(tmp) / name).write_bytes(files[name])
        files["board.dtb"] = compile_dtb(Path(tmp))
    boot = simulate(len(files["board.dtb"]))
    files["iomem.txt"] = iomem_text(boot).encode()
    files["dmesg.txt"] = dmesg_text(boot).encode()
    for name, data in files.items():
        (out_dir / name).write_bytes(data)
    return files


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None,
                    help="output directory (default: sample-data/, also refreshing memmap_tui/data/)")
    ap.add_argument("--package-data", type=Path, default=None,
                    help="also copy the runtime files here (default: memmap_tui/data/ when --out "
                         "is not given)")
    args = ap.parse_args(argv)
    out = args.out or HERE
    pkg = args.package_data or (PACKAGE_DATA if args.out is None else None)
    files = generate(out)
    if pkg is not None:
        pkg.mkdir(parents=True, exist_ok=True)
        for name in RUNTIME_FILES:
            (pkg / name).write_bytes(files[name])
    for name in sorted(files):
        print(f"{out / name}: {len(files[name])} bytes")
    if pkg is not None:
        print(f"copied {', '.join(RUNTIME_FILES)} to {pkg}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
