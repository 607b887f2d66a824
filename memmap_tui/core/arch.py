"""Per-architecture kernel facts as data: one `ArchRules` record per arch, read by every
arch decision (domain.md §2–§3, §6).

Every field cites the kernel code it comes from. Nothing here looks at a model: callers
ask `rules_for(arch)` and read fields; the helpers at the bottom classify an iomem line
name the one way every caller needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

KiB, MiB, GiB, TiB = 1 << 10, 1 << 20, 1 << 30, 1 << 40

# crashk_res, crashk_low_res and the crashkernel=,cma ranges, as the model names them.
CRASH_RES, CRASH_LOW_RES, CRASH_CMA = "crashkernel", "crashkernel-low", "crashkernel-cma"
# The iomem name of crashk_res and crashk_low_res on every arch (kernel/crash_reserve.c).
CRASH_KERNEL_LINE = "Crash kernel"


@dataclass(frozen=True, slots=True)
class DumpPath:
    """How the capture kernel's RAM PT_LOADs are built on one (arch, loader) path."""

    cite: str
    # kexec_file: the kernel's own list. "memblock" = for_each_mem_range() (RAM minus
    # NOMAP); "system_ram_res" = walk_system_ram_res() (top-level "System RAM" in iomem).
    # kexec_load: "iomem_lines" = kexec-tools reads every /proc/iomem line, ignoring
    # indentation (kexec_iomem_for_each_line()).
    base: str
    excluded_crash: frozenset[str] = frozenset({CRASH_RES, CRASH_LOW_RES})
    excluded_low_bytes: int = 0          # x86 kexec_file: [0, 1 MiB) (elf_header_exclude_ranges)
    # kexec_load only: how a line counts as RAM and which named lines are cut out again
    ram_line_contains: bool = False      # x86 kexec-tools: name *contains* "System RAM"
    excluded_lines: tuple[str, ...] = (CRASH_KERNEL_LINE,)
    # Calls of_reserved_mem_kdump_exclude() in the proposed kdump series (v1 and v2+):
    # only this path can honour a policy beyond `today` (domain.md §0, §2.2).
    honours_proposals: bool = False


@dataclass(frozen=True, slots=True)
class CrashWindow:
    """crashkernel= placement limits (arch/*/include/asm/crash_reserve.h)."""

    align_bytes: int          # CRASH_ALIGN
    low_max_bytes: int        # CRASH_ADDR_LOW_MAX (typical value when the kernel computes it)
    low_max_source: str
    high_max_bytes: int | None  # CRASH_ADDR_HIGH_MAX; None = memblock_end_of_DRAM()
    default_low_bytes: int = 128 * MiB  # DEFAULT_CRASH_KERNEL_LOW_SIZE (generic)


@dataclass(frozen=True, slots=True)
class ArchRules:
    name: str
    # Top-level iomem name the arch gives a NOMAP memblock.memory region: such a line IS
    # NOMAP memory (declared once here; every view asks `iomem_nomap_ranges`).
    iomem_nomap: str | None
    # Name of the iomem child a memblock.reserved range inside RAM gets (None: not shown).
    iomem_reserved: str | None
    default_page_size: int
    # MAX_PAGE_ORDER per page size (defconfig ARCH_FORCE_MAX_ORDER): caps pageblock_order.
    max_page_order: Mapping[int, int]
    crash: CrashWindow
    loaders: Mapping[str, DumpPath]
    iomem_ram: str = "System RAM"   # top-level iomem name of usable RAM (prefix match)
    # The NOMAP name also labels memblock.reserved ranges *outside* memory (riscv
    # init_resources(): "Ignore any other reserved regions within system memory"): such a
    # line is RAM only where the DT says memory or no-map.
    iomem_nomap_also_outside_ram: bool = False
    crashkernel_cma: bool = False   # crashkernel=,cma implemented (kernel-parameters.txt: X86, PPC)

    def dump_path(self, loader: str) -> DumpPath:
        return self.loaders[loader]

    def cma_min_alignment(self, page_size: int) -> int:
        """CMA_MIN_ALIGNMENT_BYTES = PAGE_SIZE << pageblock_order (include/linux/cma.h,
        include/linux/pageblock-flags.h): pageblock_order = min(PMD order, MAX_PAGE_ORDER);
        a PMD maps page_size/8 pages."""
        pmd_order = (page_size // 8).bit_length() - 1
        order = min(pmd_order, self.max_page_order.get(page_size, pmd_order))
        return page_size << order


_KEXEC_LOAD = DumpPath(
    cite="kexec-tools kexec/arch/*/crashdump-*.c: System RAM lines minus Crash kernel lines",
    base="iomem_lines")


def _with_kexec_tools(kexec_file: DumpPath) -> Mapping[str, DumpPath]:
    return MappingProxyType({"kexec_file": kexec_file, "kexec_load": _KEXEC_LOAD})


_RULES = (
    ArchRules(
        name="arm64",
        iomem_nomap="reserved",       # arch/arm64/kernel/setup.c request_standard_resources()
        iomem_reserved="reserved",    # reserve_memblock_reserved_regions()
        default_page_size=4 * KiB,
        max_page_order=MappingProxyType({4 * KiB: 10, 16 * KiB: 11, 64 * KiB: 13}),
        crash=CrashWindow(align_bytes=2 * MiB, low_max_bytes=4 * GiB,
                          low_max_source="arm64_dma_phys_limit (4 GiB typical, 1 GiB on RPi4)",
                          high_max_bytes=1 << 48),  # PHYS_MASK + 1 with 48-bit PA
        loaders=_with_kexec_tools(DumpPath(
            cite="arch/arm64/kernel/machine_kexec_file.c prepare_elf_headers()",
            base="memblock", honours_proposals=True)),
    ),
    ArchRules(
        name="riscv",
        iomem_nomap="Reserved",       # arch/riscv/kernel/setup.c init_resources()
        iomem_reserved=None,          # reserved ranges inside memory are not added
        iomem_nomap_also_outside_ram=True,
        default_page_size=4 * KiB,
        max_page_order=MappingProxyType({4 * KiB: 10}),
        crash=CrashWindow(align_bytes=2 * MiB, low_max_bytes=4 * GiB,  # PMD_SIZE
                          low_max_source="dma32_phys_limit (4 GiB typical)",
                          high_max_bytes=None),
        loaders=_with_kexec_tools(DumpPath(
            cite="arch/riscv/kernel/machine_kexec_file.c prepare_elf_headers(): "
                 "walk_system_ram_res(), crashk_res only",
            base="system_ram_res", excluded_crash=frozenset({CRASH_RES}),
            honours_proposals=True)),
    ),
    ArchRules(
        name="loongarch",
        iomem_nomap="Reserved",       # arch/loongarch/kernel/setup.c resource_init()
        iomem_reserved="Reserved",    # reserve_memblock_reserved_regions()
        default_page_size=16 * KiB,   # CONFIG_16KB_PAGES is the default
        max_page_order=MappingProxyType({4 * KiB: 10, 16 * KiB: 11, 64 * KiB: 13}),
        crash=CrashWindow(align_bytes=2 * MiB, low_max_bytes=4 * GiB, low_max_source="4 GiB",
                          high_max_bytes=None),
        loaders=_with_kexec_tools(DumpPath(
            cite="arch/loongarch/kernel/machine_kexec_file.c prepare_elf_headers()",
            base="memblock", honours_proposals=True)),
    ),
    ArchRules(
        name="x86_64",
        iomem_nomap=None,             # e820 names; no memblock NOMAP line
        iomem_reserved=None,
        default_page_size=4 * KiB,
        max_page_order=MappingProxyType({4 * KiB: 10}),
        crash=CrashWindow(align_bytes=16 * MiB, low_max_bytes=4 * GiB, low_max_source="4 GiB",
                          high_max_bytes=64 * TiB,
                          default_low_bytes=256 * MiB),  # max(swiotlb + 8 MiB, 256 MiB)
        loaders=MappingProxyType({
            "kexec_file": DumpPath(
                cite="arch/x86/kernel/crash.c prepare_elf_headers(), elf_header_exclude_ranges()",
                base="system_ram_res",
                excluded_crash=frozenset({CRASH_RES, CRASH_LOW_RES, CRASH_CMA}),
                excluded_low_bytes=1 * MiB),
            "kexec_load": DumpPath(
                cite="kexec-tools kexec/arch/i386/crashdump-x86.c get_crash_memory_ranges()",
                base="iomem_lines", excluded_crash=frozenset({CRASH_RES, CRASH_LOW_RES, CRASH_CMA}),
                ram_line_contains=True, excluded_lines=(CRASH_KERNEL_LINE, "GART")),
        }),
        crashkernel_cma=True,
    ),
)

ARCH_RULES: Mapping[str, ArchRules] = MappingProxyType({r.name: r for r in _RULES})
ARCHES: tuple[str, ...] = tuple(ARCH_RULES)
LOADERS: tuple[str, ...] = ("kexec_file", "kexec_load")
DEFAULT_ARCH = "arm64"
DEFAULT_LOADER = "kexec_file"


def rules_for(arch: str) -> ArchRules:
    return ARCH_RULES[arch]


def honouring_paths() -> str:
    """Where the proposals take effect, for prose: "kexec_file on arm64/riscv/loongarch"."""
    by_loader: dict[str, list[str]] = {}
    for arch, rules in ARCH_RULES.items():
        for loader, path in rules.loaders.items():
            if path.honours_proposals:
                by_loader.setdefault(loader, []).append(arch)
    return "; ".join(f"{loader} on {'/'.join(arches)}" for loader, arches in by_loader.items())


# -- the two iomem readings every caller shares ------------------------------------

def is_iomem_nomap(rules: ArchRules, name: str, depth: int) -> bool:
    """A top-level line with the arch's NOMAP name is NOMAP memory (memblock.memory
    region with MEMBLOCK_NOMAP), whatever the DTB says."""
    return depth == 0 and rules.iomem_nomap is not None and name == rules.iomem_nomap


def is_iomem_ram(rules: ArchRules, name: str) -> bool:
    return name.startswith(rules.iomem_ram)


def is_reserved_ram_line(name: str) -> bool:
    """`reserved`/`Reserved` (any arch: memblock NOMAP or reserved, riscv/loongarch NOMAP,
    x86 e820 reserved): RAM-side memory the kernel keeps, never device MMIO."""
    return name.lower() == "reserved"
