"""Kernel rules of domain.md §2 on DTBs generated here (dtc compiles the text)."""

from __future__ import annotations

import pytest

from conftest import needs_dtc
from memmap_tui.core.policy import evaluate
from memmap_tui.inputs import Options, load
from memmap_tui.sources.dmesg import parse_dmesg

pytestmark = needs_dtc
MiB = 1 << 20


def board(tmp_path, children: str, *, memreserve: str = "", chosen: str = "",
          parent: str = "#address-cells = <2>; #size-cells = <2>; ranges;") -> str:
    src = tmp_path / "t.dts"
    src.write_text(f"""/dts-v1/;
{memreserve}
/ {{
    #address-cells = <2>; #size-cells = <2>;
    memory@80000000 {{ device_type = "memory"; reg = <0 0x80000000 0 0x40000000>; }};
    chosen {{ {chosen} }};
    reserved-memory {{
        {parent}
        {children}
    }};
}};
""")
    return str(src)


def run(path, **kw):
    loaded = load(Options(dtb=path, **kw))
    return loaded.mm, evaluate(loaded.mm)


def test_plain_carveout_only_v1_with_tag_and_v2_always(tmp_path):
    path = board(tmp_path, """
        a@90000000 { reg = <0 0x90000000 0 0x2000000>; };
        b@92000000 { reg = <0 0x92000000 0 0x1000000>; linux,no-dump; };
        nm@93000000 { reg = <0 0x93000000 0 0x100000>; no-map; };
        cma@94000000 { compatible = "shared-dma-pool"; reusable; reg = <0 0x94000000 0 0x4000000>; linux,no-dump; };
        vendor@98000000 { reusable; reg = <0 0x98000000 0 0x400000>; };
    """)
    mm, res = run(path)
    assert res["today"].dumped_bytes == (1024 - 1) * MiB  # only no-map leaves today
    assert res["no-dump-v1"].savings_bytes == 16 * MiB   # b; CMA tag ignored
    # v2: every non-CMA entry: a, b and the non-CMA reusable vendor pool
    assert res["exclude-reserved"].savings_bytes == (32 + 16 + 4) * MiB


def test_memreserve_v1_inherits_overlapping_entry_and_v2_keeps_cma_overlap(tmp_path):
    path = board(tmp_path, """
        a@90000000 { reg = <0 0x90000000 0 0x2000000>; };
        cma@94000000 { compatible = "shared-dma-pool"; reusable; reg = <0 0x94000000 0 0x4000000>; };
    """, memreserve="/memreserve/ 0x90000000 0x1000;\n/memreserve/ 0x94000000 0x1000;\n/memreserve/ 0xa0000000 0x1000;")
    mm, res = run(path)
    v1 = res["no-dump-v1"].region_dumped
    # inside untagged a: inherits no_dump=false; inside CMA: inherits false; standalone: default true
    assert v1["/memreserve/0"] == 4096 and v1["/memreserve/1"] == 4096 and v1["/memreserve/2"] == 0
    assert res["no-dump-v1"].savings_bytes == 4096
    v2 = res["exclude-reserved"].region_dumped
    assert v2["/memreserve/1"] == 4096  # overlaps a dumpable (CMA) entry: kept whole
    assert v2["/memreserve/0"] == 0 and v2["/memreserve/2"] == 0
    assert res["exclude-reserved"].savings_bytes == 32 * MiB + 4096  # a + standalone page (page 0 inside a)


def test_multi_reg_by_kernel_version(tmp_path):
    path = board(tmp_path, """
        m@90000000 { reg = <0 0x90000000 0 0x100000>, <0 0x91000000 0 0x100000>; linux,no-dump; };
    """)
    mm, res = run(path)  # 7.2: first tuple reserved and saved; the second is plain RAM
    assert mm.region("/reserved-memory/m@90000000").ranges.size_bytes == MiB
    assert res["no-dump-v1"].savings_bytes == MiB
    mm, res = run(path, kernel="7.1")  # ≤7.1: both reserved, no entry ⇒ never excluded
    assert mm.region("/reserved-memory/m@90000000").ranges.size_bytes == 2 * MiB
    assert res["no-dump-v1"].savings_bytes == 0 and res["exclude-reserved"].savings_bytes == 0
    assert any(f.code == "multi-reg" for f in mm.findings)


def test_x86_and_kexec_load_never_change(tmp_path):
    path = board(tmp_path, "b@92000000 { reg = <0 0x92000000 0 0x1000000>; linux,no-dump; };")
    for kw in ({"arch": "x86_64"}, {"loader": "kexec_load"}):
        mm, res = run(path, **kw)
        assert res["no-dump-v1"].savings_bytes == 0 and res["exclude-reserved"].savings_bytes == 0


def test_x86_kexec_file_drops_first_mib(tmp_path):
    src = tmp_path / "x.dts"
    src.write_text('/dts-v1/;\n/ { #address-cells = <2>; #size-cells = <2>;\n'
                   'memory@0 { device_type = "memory"; reg = <0 0 0 0x40000000>; }; };\n')
    mm, res = run(str(src), arch="x86_64")
    assert res["today"].dumped_bytes == 1023 * MiB


def test_crashkernel_offset_high_low_and_riscv(tmp_path):
    path = board(tmp_path, "", chosen='bootargs = "crashkernel=64M@0xb0000000";')
    mm, res = run(path)
    assert mm.region("crashkernel").ranges.ranges[0].start == 0xB0000000
    assert res["today"].dumped_bytes == 960 * MiB
    path = board(tmp_path, "", chosen='bootargs = "crashkernel=256M,high crashkernel=32M,low";')
    mm, res = run(path)
    # reserve_crashkernel_generic(): RAM ends at 3 GiB = LOW_MAX, so the ,high window is empty,
    # the fallback places it below LOW_MAX (top-down) and no low region is reserved
    assert {r.id for r in mm.regions} == {"crashkernel"}
    ck = mm.region("crashkernel")
    # below the 16 MiB struct page array sparse_init() put at the top first (8 sections × 2 MiB)
    assert ck.state == "predicted" and ck.ranges.pairs == ((0xAF000000, 0xBF000000),)
    assert res["today"].dumped_bytes == (1024 - 256) * MiB
    # riscv: CRASH_ADDR_LOW_MAX (dma32_phys_limit) == CRASH_ADDR_HIGH_MAX (end of DRAM) here,
    # and reserve_crashkernel_generic() does not retry low then: "cannot allocate crashkernel"
    mm, res = run(path, arch="riscv")
    assert mm.region("crashkernel").state == "failed" and not mm.region("crashkernel").placed
    assert res["today"].dumped_bytes == 1024 * MiB


def test_unplaced_dynamic_region_counts_by_size(tmp_path):
    path = board(tmp_path, "dyn { size = <0 0x800000>; alignment = <0 0x200000>; };")
    mm, res = run(path)
    r = mm.region("/reserved-memory/dyn")
    # RAM is known: the replay predicts it top-down (0xc0000000 - 8 MiB)
    assert mm.flags(r) == ["dynamic"] and r.state == "predicted"
    assert r.ranges.pairs == ((0xBF800000, 0xC0000000),)
    assert res["exclude-reserved"].savings_bytes == 8 * MiB
    assert res["exclude-reserved"].region_dumped[r.id] == 0 and res["today"].region_dumped[r.id] == 8 * MiB
    # RAM unknown (no /memory): nothing to replay on, the region stays unplaced, counted by size
    path = board(tmp_path, "dyn { size = <0 0x800000>; };").replace("t.dts", "t.dts")
    src = open(path).read().replace('reg = <0 0x80000000 0 0x40000000>;', '')
    open(path, "w").write(src)
    mm, res = run(path)
    r = mm.region("/reserved-memory/dyn")
    assert mm.flags(r) == ["dynamic", "unplaced"] and r.state == "unknown"
    assert res["exclude-reserved"].savings_bytes == 8 * MiB


def test_one_cell_alignment_on_dynamic_node_fails_like_the_kernel(tmp_path):
    path = board(tmp_path, "dyn { size = <0 0x800000>; alignment = <0x1000>; };")
    mm, res = run(path)
    r = mm.region("/reserved-memory/dyn")
    assert "failed" in mm.flags(r) and r.alignment == 0x1000
    assert res["exclude-reserved"].savings_bytes == 0


def test_disabled_and_broken_parent(tmp_path):
    path = board(tmp_path, 'a@90000000 { reg = <0 0x90000000 0 0x2000000>; status = "disabled"; };')
    mm, res = run(path)
    assert "disabled" in mm.flags(mm.region("/reserved-memory/a@90000000"))
    assert res["exclude-reserved"].savings_bytes == 0
    path = board(tmp_path, "a@90000000 { reg = <0 0x90000000 0 0x2000000>; };",
                 parent="#address-cells = <2>; #size-cells = <2>;")  # no ranges
    mm, res = run(path)
    assert "ignored" in mm.flags(mm.region("/reserved-memory/a@90000000"))
    assert any(f.code == "reserved-memory-ignored" for f in mm.findings)
    assert res["exclude-reserved"].savings_bytes == 0


def test_uefi_boot_ignores_memreserve_and_dt_memory(tmp_path):
    path = board(tmp_path, "", memreserve="/memreserve/ 0x90000000 0x1000;",
                 chosen="linux,uefi-system-table = <0 0xbf000000>;")
    mm, res = run(path)
    assert not mm.ram_known
    assert "ignored" in mm.flags(mm.region("/memreserve/0"))
    assert res["no-dump-v1"].savings_bytes == 0


def test_initrd_memreserve_risk(tmp_path):
    path = board(tmp_path, "", memreserve="/memreserve/ 0x88000000 0x400000;",
                 chosen="linux,initrd-start = <0x88000000>; linux,initrd-end = <0x88400000>;")
    mm, _ = run(path)
    assert any(f.code == "memreserve-initrd" for f in mm.findings)


def test_dmesg_7x_wording_places_dynamic_and_marks_failures(tmp_path):
    path = board(tmp_path, """
        dyn { size = <0 0x800000>; no-map; };
        fw@90000000 { reg = <0 0x90000000 0 0x400000>; no-map; };
    """)
    log = tmp_path / "dmesg.txt"
    log.write_text(
        "[    0.000000] OF: reserved mem: 0x00000000bf800000..0x00000000bfffffff (8192 KiB) nomap non-reusable dyn\n"
        "[    0.000000] OF: fdt: Reserved memory: failed to reserve memory for node 'fw@90000000': base 0x0000000090000000, size 4 MiB\n")
    mm, res = run(path, dmesg=str(log))
    dyn = mm.region("/reserved-memory/dyn")
    assert dyn.ranges.ranges[0].start == 0xBF800000 and dyn.placement_source == "dmesg"
    assert "failed" in mm.flags(mm.region("/reserved-memory/fw@90000000"))
    assert res["today"].dumped_bytes == 1016 * MiB  # only dyn's 8 MiB no-map is out


def test_dmesg_parser_6x_pairs_pool_with_node():
    info = parse_dmesg("[    0.0] Reserved memory: created CMA memory pool at 0x0000000058000000, size 64 MiB\n"
                       "[    0.0] OF: reserved mem: initialized node linux,cma@58000000, compatible id shared-dma-pool\n"
                       "[    0.0] crashkernel reserved: 0x0000000076000000 - 0x000000007e000000 (128 MB)\n")
    p = info.placements["linux,cma@58000000"]
    assert (p.range.start, p.range.end) == (0x58000000, 0x5C000000)
    assert (info.crashkernel.start, info.crashkernel.end) == (0x76000000, 0x7E000000)


@pytest.mark.parametrize("spec,ram,expected", [
    ("128M", 1 << 30, 128 * MiB),
    ("512M-2G:64M,2G-:128M", 1 << 30, 64 * MiB),
    ("512M-2G:64M,2G-:128M", 8 << 30, 128 * MiB),
])
def test_crashkernel_forms(spec, ram, expected):
    from memmap_tui.core.crashkernel import parse_request
    assert parse_request([spec], ram, 128 * MiB).size_bytes == expected


def test_cma_cmdline_overrides_default_pool(tmp_path):
    path = board(tmp_path, 'cma { compatible = "shared-dma-pool"; reusable; size = <0 0x4000000>; linux,cma-default; };',
                 chosen='bootargs = "cma=128M";')
    mm, _ = run(path)
    r = mm.region("/reserved-memory/cma")
    assert "failed" in mm.flags(r) and not r.cma
    assert any(f.code == "cma-cmdline" for f in mm.findings)


def test_check_command_exit_status(tmp_path):
    from conftest import run_cli, RSV_DTB
    ok = run_cli("check", RSV_DTB)
    assert ok.returncode == 0 and "ok" in ok.stdout
    broken = board(tmp_path, "a@90000000 { reg = <0 0x90000000 0 0x2000000>; };",
                   parent="#address-cells = <1>; #size-cells = <1>; ranges;")
    bad = run_cli("check", "--json", broken)
    assert bad.returncode == 1
    import json
    doc = json.loads(bad.stdout)
    assert doc["results"][0]["ok"] is False
    assert doc["results"][0]["findings"][0]["code"] == "reserved-memory-ignored"
    assert run_cli("check", "--strict", RSV_DTB).returncode == 1  # multi-reg warning


def test_page_size_rounds_each_pt_load(tmp_path):
    # a 4 KiB no-map hole splits RAM into two PT_LOADs; with 64 KiB pages each is rounded out
    path = board(tmp_path, "fw@90001000 { reg = <0 0x90001000 0 0x1000>; no-map; };")
    mm, res = run(path)
    assert res["today"].dumped_bytes == (1 << 30) - 0x1000
    mm, res = run(path, page_size=65536)
    assert mm.page_size == 65536
    assert res["today"].dumped_bytes == (1 << 30) + 0x10000  # both pieces keep the shared 64 KiB page
