"""Per-architecture kernel facts as data: one `ArchRules` record per arch, read by every
arch decision (domain.md §2–§3, §6).

Every field cites the kernel code it comes from. Nothing here looks at a model: callers
ask `rules_for(arch)` and read fields (or the two small helpers at the bottom that turn
an iomem list into ranges the one way every caller needs).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Iterable, Mapping

KiB, MiB, GiB, TiB = 1 << 10, 1 << 20, 1 << 30, 1 << 40

# crashk_res, crashk_low_res and the crashkernel=,cma ranges, as the model names them.
CRASH_RES, CRASH_LOW_RES, CRASH_CMA = "crashkernel", "crashkernel-low", "crashkernel-cma"


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
    excluded_lines: tuple[str, ...] = ("Crash kernel",)
    # Calls of_reserved_mem_kdump_exclude() in the no-dump / exclude-reserved series:
    # only this path can honour a policy beyond `today` (domain.md §0, §2.2).
    honours_proposals: bool = False


@dataclass(frozen=True, slots=True)
class CrashWindow:
    """crashkernel= placement limits (arch/*/include/asm/crash_reserve.h)."""

    align_bytes: int          # CRASH_ALIGN
    low_max_bytes: int        # CRASH_ADDR_LOW_MAX (typical value when the kernel computes it)
    low_max_source: str
    high_max_bytes: int | None  # CRASH_ADDR_HIGH_MAX; None = memblock_end_of_DRAM()
    default_low_bytes: int    # DEFAULT_CRASH_KERNEL_LOW_SIZE


@dataclass(frozen=True, slots=True)
class ArchRules:
    name: str
    iomem_ram: str                  # top-level iomem name of usable RAM (prefix match)
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
    crashkernel_cma: bool           # crashkernel=,cma implemented (kernel-parameters.txt: X86, PPC)

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

_RULES = (
    ArchRules(
        name="arm64",
        iomem_ram="System RAM",
        iomem_nomap="reserved",       # arch/arm64/kernel/setup.c request_standard_resources()
        iomem_reserved="reserved",    # reserve_memblock_reserved_regions()
        default_page_size=4 * KiB,
        max_page_order=MappingProxyType({4 * KiB: 10, 16 * KiB: 11, 64 * KiB: 13}),
        crash=CrashWindow(align_bytes=2 * MiB, low_max_bytes=4 * GiB,
                          low_max_source="arm64_dma_phys_limit (4 GiB typical, 1 GiB on RPi4)",
                          high_max_bytes=1 << 48,  # PHYS_MASK + 1 with 48-bit PA
                          default_low_bytes=128 * MiB),
        loaders=MappingProxyType({
            "kexec_file": DumpPath(
                cite="arch/arm64/kernel/machine_kexec_file.c prepare_elf_headers()",
                base="memblock", honours_proposals=True),
            "kexec_load": _KEXEC_LOAD,
        }),
        crashkernel_cma=False,
    ),
    ArchRules(
        name="riscv",
        iomem_ram="System RAM",
        iomem_nomap="Reserved",       # arch/riscv/kernel/setup.c init_resources()
        iomem_reserved=None,          # reserved ranges inside memory are not added
        default_page_size=4 * KiB,
        max_page_order=MappingProxyType({4 * KiB: 10}),
        crash=CrashWindow(align_bytes=2 * MiB, low_max_bytes=4 * GiB,  # PMD_SIZE
                          low_max_source="dma32_phys_limit (4 GiB typical)",
                          high_max_bytes=None, default_low_bytes=128 * MiB),
        loaders=MappingProxyType({
            "kexec_file": DumpPath(
                cite="arch/riscv/kernel/machine_kexec_file.c prepare_elf_headers(): "
                     "walk_system_ram_res(), crashk_res only",
                base="system_ram_res", excluded_crash=frozenset({CRASH_RES}),
                honours_proposals=True),
            "kexec_load": _KEXEC_LOAD,
        }),
        crashkernel_cma=False,
    ),
    ArchRules(
        name="loongarch",
        iomem_ram="System RAM",
        iomem_nomap="Reserved",       # arch/loongarch/kernel/setup.c resource_init()
        iomem_reserved="Reserved",    # reserve_memblock_reserved_regions()
        default_page_size=16 * KiB,   # CONFIG_16KB_PAGES is the default
        max_page_order=MappingProxyType({4 * KiB: 10, 16 * KiB: 11, 64 * KiB: 13}),
        crash=CrashWindow(align_bytes=2 * MiB, low_max_bytes=4 * GiB, low_max_source="4 GiB",
                          high_max_bytes=None, default_low_bytes=128 * MiB),
        loaders=MappingProxyType({
            "kexec_file": DumpPath(
                cite="arch/loongarch/kernel/machine_kexec_file.c prepare_elf_headers()",
                base="memblock", honours_proposals=True),
            "kexec_load": _KEXEC_LOAD,
        }),
        crashkernel_cma=False,
    ),
    ArchRules(
        name="x86_64",
        iomem_ram="System RAM",
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
                ram_line_contains=True, excluded_lines=("Crash kernel", "GART")),
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


# -- the two iomem readings every caller shares ------------------------------------

def is_iomem_nomap(rules: ArchRules, name: str, depth: int) -> bool:
    """A top-level line with the arch's NOMAP name is NOMAP memory (memblock.memory
    region with MEMBLOCK_NOMAP), whatever the DTB says."""
    return depth == 0 and rules.iomem_nomap is not None and name == rules.iomem_nomap


def is_iomem_ram(rules: ArchRules, name: str) -> bool:
    return name.startswith(rules.iomem_ram)


def iomem_nomap_pairs(rules: ArchRules, lines: Iterable) -> list[tuple[int, int]]:
    """(start, end) of every top-level NOMAP line (`lines`: core.model.IomemEntry)."""
    return [(e.range.start, e.range.end) for e in lines if is_iomem_nomap(rules, e.name, e.depth)]
