"""The boot replay (core/replay.py): one test per rule of issue 9, each on a small DTS written
from the kernel rule it checks (dtc compiles it), asserting the bytes `today` and
`exclude-reserved` give. RAM is 1 GiB at 0x80000000 unless a test says otherwise.
"""

from __future__ import annotations

import re

import pytest

from conftest import needs_dtc
from memmap_tui.core.policy import evaluate
from memmap_tui.inputs import Options, load
from memmap_tui.sources.dmesg import parse_dmesg
from test_policy_rules import board

pytestmark = needs_dtc
MiB = 1 << 20
GiB = 1 << 30


def run(path, **kw):
    loaded = load(Options(dtb=str(path), **kw))
    res = evaluate(loaded.mm)
    return loaded.mm, res["today"].dumped_bytes, res["exclude-reserved"].dumped_bytes


def codes(mm):
    return {(f.code, f.id) for f in mm.findings}


def no_memory_board(tmp_path, children: str, chosen: str = "") -> str:
    """A board DTB as shipped: /memory without reg (the bootloader fills it)."""
    src = tmp_path / "b.dts"
    src.write_text(f"""/dts-v1/;
/ {{
    #address-cells = <2>; #size-cells = <2>;
    memory@80000000 {{ device_type = "memory"; }};
    chosen {{ {chosen} }};
    reserved-memory {{ #address-cells = <2>; #size-cells = <2>; ranges; {children} }};
}};
""")
    return str(src)


def test_rule1_mem_limit_applies_to_ram_given_with_ram(tmp_path):
    """arm64_memblock_init(): memblock_mem_limit_remove_map() trims memblock.memory whatever
    filled it; a carveout beyond the limit then lies outside RAM (never dumped, nothing to save)."""
    path = no_memory_board(tmp_path, "a@a0000000 { reg = <0 0xa0000000 0 0x2000000>; };",
                           chosen='bootargs = "mem=512M";')
    mm, today, excl = run(path, ram=("1G@0x80000000",))
    assert mm.ram.pairs == ((0x80000000, 0xA0000000),)
    assert today == 512 * MiB and excl == 512 * MiB
    assert any(f.code == "mem-limit-applied" for f in mm.findings)
    # without mem= the carveout is RAM and exclude-reserved drops it
    path = no_memory_board(tmp_path, "a@a0000000 { reg = <0 0xa0000000 0 0x2000000>; };")
    _, today, excl = run(path, ram=("1G@0x80000000",))
    assert today == GiB and excl == GiB - 32 * MiB


def test_rule2_crashkernel_windows_and_fallbacks(tmp_path):
    """reserve_crashkernel_generic(): plain X below LOW_MAX first, then high + a default
    128 MiB low region; ,high first above LOW_MAX, then below without a low region; -EINVAL
    for size ≥ RAM and for 0,high; @offset must be free and CRASH_ALIGN aligned."""
    # 512 MiB below 4 GiB + 2 GiB above: 1 GiB cannot fit low → high, plus 128 MiB low
    src = tmp_path / "two.dts"
    src.write_text("""/dts-v1/;
/ { #address-cells = <2>; #size-cells = <2>;
    memory@80000000 { device_type = "memory"; reg = <0 0x80000000 0 0x20000000>, <1 0 0 0x80000000>; };
    chosen { bootargs = "crashkernel=1G"; }; };
""")
    mm, today, excl = run(src)
    ck, low = mm.region("crashkernel"), mm.region("crashkernel-low")
    # sparse_init() first takes 20 sections × 2 MiB = 40 MiB at the top of RAM
    assert ck.ranges.pairs == ((0x13D800000, 0x17D800000),) and ck.state == "predicted"
    assert low.ranges.pairs == ((0x98000000, 0xA0000000),)  # top-down below LOW_MAX (4 GiB)
    assert today == excl == (2 * GiB + 512 * MiB) - GiB - 128 * MiB
    assert mm.crashkernel.windows.low_max_bytes == 1 << 32
    # ,high with all RAM below 4 GiB: LOW_MAX = end of DRAM, high window empty, falls back low,
    # and no low region (the base is below LOW_MAX)
    path = board(tmp_path, "", chosen='bootargs = "crashkernel=256M,high";')
    mm, today, excl = run(path)
    assert [r.id for r in mm.regions] == ["crashkernel"]
    assert today == excl == GiB - 256 * MiB
    # -EINVAL forms and a colliding / unaligned fixed base reserve nothing: all RAM is dumped
    for args, code in (("crashkernel=1G", "crashkernel-parse"),          # size >= system RAM
                       ("crashkernel=0,high", "crashkernel-parse"),
                       ("crashkernel=64M@0x90100000", "crashkernel-failed"),  # not 2 MiB aligned
                       ("crashkernel=64M@0x90000000", "crashkernel-failed")):  # on the carveout
        path = board(tmp_path, "a@90000000 { reg = <0 0x90000000 0 0x1000000>; };", chosen=f'bootargs = "{args}";')
        mm, today, excl = run(path)
        assert (code, "crashkernel") in codes(mm), args
        assert today == GiB and excl == GiB - 16 * MiB, args
    # the range form picks the entry for RAM rounded up to 128 MiB
    path = board(tmp_path, "", chosen='bootargs = "crashkernel=512M-2G:64M,2G-:128M";')
    mm, today, _ = run(path)
    assert today == GiB - 64 * MiB and mm.crashkernel.request.form == "ranges"


def test_rule3_alloc_ranges_have_no_fallback(tmp_path):
    """__reserved_mem_alloc_size(): alloc-ranges are tried in order; when none has room the
    node fails with -ENOMEM ("failed to allocate memory for node") — no fallback to anywhere.
    The region does not exist; its bytes stay in the vmcore."""
    full = "big@90000000 { reg = <0 0x90000000 0 0x1000000>; };"
    path = board(tmp_path, full + "dyn { size = <0 0x800000>; no-map; "
                                  "alloc-ranges = <0 0x90000000 0 0x1000000>; };")
    mm, today, excl = run(path)
    dyn = mm.region("/reserved-memory/dyn")
    assert dyn.state == "failed" and "-ENOMEM" in dyn.evidence and not dyn.placed
    assert ("alloc-failed", dyn.id) in codes(mm)
    assert today == GiB                  # the no-map pool never existed: nothing leaves
    assert excl == GiB - 16 * MiB        # only `big` is excluded
    # a second range is tried next, top-down inside it
    path = board(tmp_path, full + "dyn { size = <0 0x800000>; no-map; "
                                  "alloc-ranges = <0 0x90000000 0 0x1000000 0 0xa0000000 0 0x1000000>; };")
    mm, today, excl = run(path)
    assert mm.region("/reserved-memory/dyn").ranges.pairs == ((0xA0800000, 0xA1000000),)
    assert today == GiB - 8 * MiB and excl == GiB - 24 * MiB


def test_rule4_no_map_on_reserved_memory_is_ebusy(tmp_path):
    """early_init_dt_reserve_memory(): no-map over memory that is already reserved — the
    initrd (arm64_memblock_init() reserves it first), an earlier child, or /memreserve/ on
    kernels before 6.4 — fails with -EBUSY: the range stays mapped RAM and is dumped."""
    path = board(tmp_path, "fw@90000000 { reg = <0 0x90000000 0 0x400000>; no-map; };",
                 chosen="linux,initrd-start = <0x0 0x90000000>; linux,initrd-end = <0x0 0x90100000>;")
    mm, today, excl = run(path)
    fw = mm.region("/reserved-memory/fw@90000000")
    assert fw.state == "failed" and "-EBUSY" in fw.evidence and "initrd" in fw.evidence
    assert ("no-map-ebusy", fw.id) in codes(mm)
    assert any("overlaps the initrd" in f.message and "stays in the vmcore" in f.message for f in mm.findings)
    assert today == GiB and excl == GiB
    # an earlier mapped child: the later no-map child over it fails
    path = board(tmp_path, "a@a0000000 { reg = <0 0xa0000000 0 0x200000>; };"
                           "b@a0100000 { reg = <0 0xa0100000 0 0x200000>; no-map; };")
    mm, today, excl = run(path)
    assert mm.region("/reserved-memory/b@a0100000").state == "failed"
    assert today == GiB and excl == GiB - 2 * MiB
    # /memreserve/ under a no-map child: refused on 6.1 (scanned first), fine on 6.4+
    path = board(tmp_path, "c@b0000000 { reg = <0 0xb0000000 0 0x400000>; no-map; };",
                 memreserve="/memreserve/ 0xb0000000 0x1000;")
    _, today, excl = run(path, kernel="6.1")
    assert today == GiB and excl == GiB - 4 * 1024
    _, today, excl = run(path, kernel="6.4")
    assert today == GiB - 4 * MiB and excl == GiB - 4 * MiB


def test_rule5_init_failure_frees_the_region(tmp_path):
    """fdt_init_reserved_mem_node(): an init error other than -ENOENT ("node X compatible
    matching fail") gives the region back (memblock_clear_nomap()/memblock_phys_free())."""
    path = board(tmp_path, """
        swiotlb@90000000 { compatible = "restricted-dma-pool"; reg = <0 0x90000000 0 0x400000>; no-map; };
        cma@a0100000 { compatible = "shared-dma-pool"; reusable; reg = <0 0xa0100000 0 0x400000>; };
        ok@b0000000 { compatible = "restricted-dma-pool"; reg = <0 0xb0000000 0 0x400000>; };
    """)
    mm, today, excl = run(path)
    sw = mm.region("/reserved-memory/swiotlb@90000000")
    cma = mm.region("/reserved-memory/cma@a0100000")
    assert sw.state == "failed" and "rmem_swiotlb_setup" in sw.evidence
    assert cma.state == "failed" and "aligned" in cma.evidence and not cma.cma
    assert today == GiB                   # the no-map swiotlb pool became plain mapped RAM
    assert excl == GiB - 4 * MiB          # only the working restricted pool is excluded
    # the dmesg line is parsed, and `cma=` on the command line makes the default pool -EBUSY
    info = parse_dmesg("[    0.000000] OF: reserved mem: node foo@1000 compatible matching fail\n")
    assert "foo@1000" in info.init_failures
    path = board(tmp_path, 'cma { compatible = "shared-dma-pool"; reusable; size = <0 0x4000000>; linux,cma-default; };',
                 chosen='bootargs = "cma=16M";')
    mm, today, excl = run(path)
    assert mm.region("/reserved-memory/cma").state == "failed"
    assert today == GiB and excl == GiB


def test_rule6_iomem_without_crash_kernel_line_means_none(tmp_path):
    """A real /proc/iomem (System RAM lines) with no `Crash kernel` line: nothing was reserved,
    whatever bootargs ask."""
    path = board(tmp_path, "", chosen='bootargs = "crashkernel=64M";')
    iomem = tmp_path / "iomem"
    iomem.write_text("80000000-bfffffff : System RAM\n")
    mm, today, excl = run(path, iomem=str(iomem))
    assert mm.region("crashkernel").state == "failed" and not mm.region("crashkernel").placed
    assert ("crashkernel-missing", "crashkernel") in codes(mm)
    assert today == excl == GiB
    iomem.write_text("80000000-bfffffff : System RAM\n  b8000000-bbffffff : Crash kernel\n")
    mm, today, excl = run(path, iomem=str(iomem))
    assert mm.region("crashkernel").state == "observed"
    assert today == excl == GiB - 64 * MiB


@pytest.mark.parametrize("kernel,today_bytes,excl_bytes", [
    ("6.1", GiB - 2 * MiB, GiB - 2 * MiB),   # every tuple reserved (no-map: both out today)
    ("7.0", GiB - 2 * MiB, GiB - 2 * MiB),
    ("7.1", GiB, GiB),                       # the node is skipped: plain RAM
    ("7.2", GiB - MiB, GiB - MiB),           # the first tuple only
])
def test_rule7_multi_reg_by_kernel_version(tmp_path, kernel, today_bytes, excl_bytes):
    """≤ 7.0 __reserved_mem_reserve_reg() reserves every tuple; 7.1 skips a node whose reg is
    not exactly one entry; 7.2+ uses the first (dt-schema `reg: maxItems: 1`)."""
    path = board(tmp_path, "dsp@90000000 { reg = <0 0x90000000 0 0x100000>, <0 0x91000000 0 0x100000>; no-map; };")
    mm, today, excl = run(path, kernel=kernel)
    assert (today, excl) == (today_bytes, excl_bytes)
    assert mm.region("/reserved-memory/dsp@90000000").state == ("failed" if kernel == "7.1" else "predicted")


def test_rule8_v1_dmesg_format_names_the_node(tmp_path):
    """The v1 series prints "%pa..%pa (%lu KiB) %s %s %s %s" with dump/no-dump before the name."""
    log = tmp_path / "dmesg"
    log.write_text("[    0.000000] OF: reserved mem: 0x00000000a0000000..0x00000000a07fffff (8192 KiB) "
                   "map non-reusable no-dump dyn\n")
    info = parse_dmesg(log.read_text())
    assert list(info.placements) == ["dyn"] and info.placements["dyn"].dump_tag == "no-dump"
    path = board(tmp_path, "dyn { size = <0 0x800000>; };")
    mm, today, excl = run(path, dmesg=str(log))
    dyn = mm.region("/reserved-memory/dyn")
    assert dyn.state == "observed" and dyn.ranges.pairs == ((0xA0000000, 0xA0800000),)
    assert today == GiB and excl == GiB - 8 * MiB


def test_rule10_disabled_child_is_skipped_before_reg(tmp_path):
    """fdt_scan_reserved_mem() skips an unavailable child before reading reg: no zero-size
    failure for a disabled `nvram@0` (Raspberry Pi 4), and it stays RAM."""
    path = board(tmp_path, 'nvram@0 { reg = <0 0 0 0>; status = "disabled"; };'
                           'off@90000000 { reg = <0 0x90000000 0 0x100000>; no-map; status = "disabled"; };')
    mm, today, excl = run(path)
    assert not [f for f in mm.findings if f.code == "zero-size"]
    assert mm.region("/reserved-memory/off@90000000").state == "failed"
    assert today == excl == GiB


def test_dmesg_patterns_have_no_unbounded_lazy_quantifier():
    """Issue 14: `(.+?) pool at` rescanned a long line from every start position (10–16 s).
    Every pattern of the parser now uses bounded or possessive-free greedy classes, so the
    work per line is linear; a 2 MB line with the prefix repeated still parses."""
    from memmap_tui.sources import dmesg
    patterns = [v.pattern for v in vars(dmesg).values() if isinstance(v, re.Pattern)]
    assert len(patterns) >= 10
    for p in patterns:
        assert not re.search(r"[+*]\?", p), p
    info = parse_dmesg("Reserved memory: created " * 80_000 + "CMA pool at 0x1000, size 1 MiB")
    assert info.lines_used == 0 or info.placements == {}


def test_replay_work_grows_linearly_with_carveouts(tmp_path, monkeypatch):
    """Every reservation is a bisection into sorted interval lists, never a whole-set merge:
    the ranges held by all RangeSets built during the replay grow linearly with the number
    of children (a union per reservation would grow quadratically). MAX_RESERVED_REGIONS = 64
    only binds before 6.10."""
    from memmap_tui.core import ranges, replay as replay_mod

    def work(n: int) -> int:
        kids = "".join(f"r{i}@{0x80000000 + i * 0x10000:x} {{ reg = <0 {0x80000000 + i * 0x10000:#x} 0 0x8000>; "
                       f"{'no-map;' if i % 2 else ''} }};" for i in range(n))
        kids += "".join(f"d{i} {{ size = <0 0x1000>; }};" for i in range(n // 4))
        loaded = load(Options(dtb=board(tmp_path, kids), kernel="7.2"))
        assert not [f for f in loaded.mm.findings if f.code == "too-many-regions"]
        held = [0]
        init, trusted = ranges.RangeSet.__init__, ranges.RangeSet._trusted.__func__

        def counting_init(self, *a, **kw):
            init(self, *a, **kw)
            held[0] += len(self._pairs)

        def counting_trusted(cls, pairs):
            held[0] += len(pairs)
            return trusted(cls, pairs)
        monkeypatch.setattr(ranges.RangeSet, "__init__", counting_init)
        monkeypatch.setattr(ranges.RangeSet, "_trusted", classmethod(counting_trusted))
        replay_mod.replay(loaded.mm)
        monkeypatch.undo()
        return held[0]

    small, big = work(400), work(1600)
    assert big <= 4.5 * small


def test_rule10_smaller_rules(tmp_path):
    """usable-memory-range caps RAM in a capture kernel's DTB
    (early_init_dt_check_for_usable_mem_range()); the v1 /memreserve/ inherits the overlapping
    entry's *effective* no_dump (!nomap && !reusable && prop), so a tagged CMA pool does not
    drop the /memreserve/ inside it; memreserve-in-no-map is harmless only from 6.4."""
    path = board(tmp_path, "", chosen="linux,usable-memory-range = <0 0x90000000 0 0x10000000>;")
    mm, today, excl = run(path)
    assert mm.ram.pairs == ((0x90000000, 0xA0000000),) and today == excl == 256 * MiB
    path = board(tmp_path, 'cma@a0000000 { compatible = "shared-dma-pool"; reusable; linux,no-dump; '
                           'reg = <0 0xa0000000 0 0x400000>; };', memreserve="/memreserve/ 0xa0000000 0x1000;")
    loaded = load(Options(dtb=path))
    res = evaluate(loaded.mm)
    assert res["today"].dumped_bytes == GiB
    assert res["no-dump-v1"].dumped_bytes == GiB          # tag ignored on reusable, memreserve kept
    assert res["exclude-reserved"].dumped_bytes == GiB    # memreserve overlaps a CMA entry: kept


def test_rule2_low_max_follows_dt_dma_ranges_like_a_raspberry_pi_4(tmp_path):
    """arm64 zone_sizes_init(): zone_dma_bits = min(32, fls64(of_dma_get_max_cpu_address())),
    arm64_dma_phys_limit = max_zone_phys(bits) = CRASH_ADDR_LOW_MAX. A `soc` bus whose
    dma-ranges reach only the first GiB (bcm2711) makes LOW_MAX 1 GiB: a plain crashkernel=
    goes below 1 GiB, a ,high one above it with a 128 MiB low region below 1 GiB."""
    def dts(args):
        src = tmp_path / "rpi4.dts"
        src.write_text(f"""/dts-v1/;
/ {{ #address-cells = <2>; #size-cells = <1>;
    memory@0 {{ device_type = "memory"; reg = <0 0 0x3b400000>, <0 0x40000000 0xbc000000>; }};
    chosen {{ bootargs = "{args}"; }};
    soc {{ compatible = "simple-bus"; #address-cells = <1>; #size-cells = <1>;
          ranges = <0x7e000000 0 0xfe000000 0x1800000>;
          dma-ranges = <0xc0000000 0 0x00000000 0x40000000>; }};
}};
""")
        return src
    mm, today, excl = run(dts("crashkernel=256M"))
    w = mm.crashkernel.windows
    assert w.low_max_bytes == 1 << 30 and "fls64(0x3fffffff)" in w.low_max_source
    (ck,) = mm.region("crashkernel").ranges
    assert ck.end <= 1 << 30 and not [r for r in mm.regions if r.id == "crashkernel-low"]
    ram = 0x3B400000 + 0xBC000000
    assert today == excl == ram - 256 * MiB
    mm, today, excl = run(dts("crashkernel=256M,high"))
    (ck,) = mm.region("crashkernel").ranges
    (low,) = mm.region("crashkernel-low").ranges
    assert ck.start >= 1 << 30 and low.end <= 1 << 30 and low.size_bytes == 128 * MiB
    assert today == excl == ram - 256 * MiB - 128 * MiB


def test_rule3_alloc_in_range_keeps_allocations_next_to_saved_regions(tmp_path):
    """__reserved_mem_alloc_in_range(): an alloc-range that starts at the end of a saved
    reserved_mem[] entry is allocated bottom-up (next to it), otherwise top-down. Before 6.10
    static nodes are already saved when dynamic ones are placed; from 6.10 only earlier
    dynamic ones; before 6.5 there is no heuristic."""
    path = board(tmp_path, "fw@90000000 { reg = <0 0x90000000 0 0x100000>; };"
                           "dyn { size = <0 0x100000>; alloc-ranges = <0 0x90100000 0 0x1000000>; };")
    where = {}
    for kernel in ("6.1", "6.6", "7.2"):
        mm, today, excl = run(path, kernel=kernel)
        (placed,) = mm.region("/reserved-memory/dyn").ranges
        where[kernel] = placed.start
        assert today == GiB and excl == GiB - 2 * MiB
    assert where == {"6.1": 0x91000000, "6.6": 0x90100000, "7.2": 0x91000000}


def _hotplug_board(tmp_path, bootargs: str) -> str:
    """Two /memory banks, the second `hotpluggable` (early_init_dt_scan_memory() marks it
    MEMBLOCK_HOTPLUG), and a plain carveout in the first."""
    src = tmp_path / "hp.dts"
    src.write_text(f"""/dts-v1/;
/ {{
    #address-cells = <2>; #size-cells = <2>;
    memory@80000000 {{ device_type = "memory"; reg = <0 0x80000000 0 0x40000000>; }};
    memory@100000000 {{ device_type = "memory"; reg = <1 0x0 0 0x40000000>; hotpluggable; }};
    chosen {{ bootargs = "{bootargs}"; }};
    reserved-memory {{ #address-cells = <2>; #size-cells = <2>; ranges;
        a@90000000 {{ reg = <0 0x90000000 0 0x1000000>; }};
    }};
}};
""")
    return str(src)


def test_rule10_hotpluggable_memory_with_movable_node(tmp_path):
    """mm/memblock.c should_skip_region(): with `movable_node` (movable_node_is_enabled()),
    for_each_mem_range() skips MEMBLOCK_HOTPLUG regions, so arm64 kexec_file's
    prepare_elf_headers() puts no PT_LOAD for them; without it they are ordinary RAM."""
    mm, today, excl = run(_hotplug_board(tmp_path, "console=ttyS0 movable_node"))
    assert mm.hotplug.pairs == ((1 << 32, (1 << 32) + GiB),) and mm.boot.movable_node
    assert today == GiB and excl == GiB - 16 * MiB
    assert any(f.code == "movable-node" for f in mm.findings)
    _, today, excl = run(_hotplug_board(tmp_path, "console=ttyS0"))
    assert today == 2 * GiB and excl == 2 * GiB - 16 * MiB
    # kexec_load reads /proc/iomem lines instead (no memblock walk): nothing to skip there
    _, today, _ = run(_hotplug_board(tmp_path, "console=ttyS0 movable_node"), loader="kexec_load")
    assert today == 2 * GiB


def test_rule10_riscv_reserved_outside_ram_is_not_ram(tmp_path):
    """arch/riscv/kernel/setup.c init_resources(): a NOMAP memblock.memory region is a
    top-level `Reserved` line, and so is every memblock.reserved range *outside* memory
    (those inside are ignored). Only the first kind is RAM."""
    src = tmp_path / "rv.dts"
    src.write_text("""/dts-v1/;
/ {
    #address-cells = <2>; #size-cells = <2>;
    memory@80000000 { device_type = "memory"; reg = <0 0x80000000 0 0x40000000>; };
    reserved-memory { #address-cells = <2>; #size-cells = <2>; ranges;
        fw@80000000 { reg = <0 0x80000000 0 0x200000>; no-map; };
        sram@10000000 { reg = <0 0x10000000 0 0x100000>; };
    };
};
""")
    iomem = tmp_path / "iomem.txt"
    iomem.write_text("10000000-100fffff : Reserved\n"
                     "80000000-801fffff : Reserved\n"
                     "80200000-bfffffff : System RAM\n")
    mm, today, excl = run(src, arch="riscv", iomem=str(iomem))
    assert mm.ram_source == "/proc/iomem" and mm.ram.pairs == ((0x80000000, 0xC0000000),)
    assert any(f.code == "iomem-reserved-outside-ram" for f in mm.findings)
    assert today == GiB - 2 * MiB          # walk_system_ram_res(): System RAM only
