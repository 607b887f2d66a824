"""ArchRules is the one place arch facts live; the loaders read it (domain.md §2–§3, §6)."""

from __future__ import annotations

from memmap_tui.cli import demo_paths
from memmap_tui.core.arch import ARCH_RULES, ARCHES, LOADERS, rules_for
from memmap_tui.core.crashkernel import parse_crashkernel
from memmap_tui.core.policy import evaluate
from memmap_tui.inputs import Options, load

MiB = 1 << 20


def test_every_arch_has_every_loader_path():
    assert ARCHES == ("arm64", "riscv", "loongarch", "x86_64")
    for rules in ARCH_RULES.values():
        assert tuple(rules.loaders) == LOADERS
        assert rules.default_page_size in rules.max_page_order


def test_cma_min_alignment_follows_the_page_size():
    # CMA_MIN_ALIGNMENT_BYTES = PAGE_SIZE << pageblock_order (include/linux/cma.h)
    arm64 = rules_for("arm64")
    assert arm64.cma_min_alignment(4096) == 2 * MiB       # pageblock_order 9
    assert arm64.cma_min_alignment(16384) == 32 * MiB     # 11 (PMD order = MAX_PAGE_ORDER)
    assert arm64.cma_min_alignment(65536) == 512 * MiB    # 13
    loongarch = rules_for("loongarch")
    assert loongarch.cma_min_alignment(loongarch.default_page_size) == 32 * MiB


def test_default_low_crashkernel_per_arch():
    low = {a: parse_crashkernel(["1G,high"], 8 << 30, a)[1].size_bytes for a in ARCHES}
    assert low == {"arm64": 128 * MiB, "riscv": 128 * MiB, "loongarch": 128 * MiB, "x86_64": 256 * MiB}


def _loongarch_iomem(tmp_path, name: str) -> str:
    """The sample arm64 iomem renamed the LoongArch way (resource_init() and
    reserve_memblock_reserved_regions() both write `Reserved`)."""
    lines = open(demo_paths()["iomem"]).read().splitlines()
    out = tmp_path / "iomem.txt"
    out.write_text("\n".join(line.replace(": reserved", f": {name}") for line in lines) + "\n")
    return str(out)


def test_loongarch_reads_capital_reserved_and_16k_pages(tmp_path):
    paths = demo_paths()
    arm = load(Options(dtb=paths["dtb"], iomem=paths["iomem"]))
    kw = dict(dtb=paths["dtb"], arch="loongarch", page_size=4096)
    loong = load(Options(iomem=_loongarch_iomem(tmp_path, "Reserved"), **kw))
    lower = load(Options(iomem=_loongarch_iomem(tmp_path, "reserved"), **kw))
    assert loong.mm.ram == arm.mm.ram                      # NOMAP lines are RAM, like arm64's
    assert lower.mm.ram != arm.mm.ram                      # a lowercase line is not LoongArch's
    assert {k: v.dumped_bytes for k, v in evaluate(loong.mm).items()} == \
        {k: v.dumped_bytes for k, v in evaluate(arm.mm).items()}
    assert load(Options(dtb=paths["dtb"], arch="loongarch")).mm.page_size == 16384
    assert load(Options(dtb=paths["dtb"], arch="arm64")).mm.page_size == 4096
