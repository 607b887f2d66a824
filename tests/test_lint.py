"""Cross-region checks (core/lint.py) on DTBs generated here and on real corpus boards."""

from __future__ import annotations

import json

from conftest import CORPUS, needs_corpus, needs_dtc, run_cli
from test_policy_rules import board, run


pytestmark = needs_dtc


def codes(mm):
    return {(f.code, f.id) for f in mm.findings}


def test_overlap_initrd_crashkernel_alignment(tmp_path):
    path = board(tmp_path, """
        a@90000000 { reg = <0 0x90000000 0 0x2000000>; };
        b@91000000 { reg = <0 0x91000000 0 0x2000000>; };
        nm@94000000 { reg = <0 0x94000000 0 0x100000>; no-map; };
        odd@a0000800 { reg = <0 0xa0000800 0 0x800>; };
        pool@b0000000 { reusable; reg = <0 0xb0000000 0 0x400000>; };
        dyn { size = <0 0x100000>; alloc-ranges = <0 0x10000000 0 0x1000000>; };
    """, memreserve="/memreserve/ 0x94000000 0x1000;",
        chosen='linux,initrd-start = <0x90100000>; linux,initrd-end = <0x90200000>; '
               'bootargs = "crashkernel=32M@0xb0000000";')
    mm, _ = run(path)
    c = codes(mm)
    assert ("overlap", "/reserved-memory/a@90000000") in c
    assert ("initrd-overlap", "/reserved-memory/a@90000000") in c
    assert ("memreserve-in-no-map", "/memreserve/0") in c
    # boot replay findings: the fixed crashkernel lands on the pool, dyn's range is outside RAM
    assert ("crashkernel-failed", "crashkernel") in c
    assert ("unaligned", "/reserved-memory/odd@a0000800") in c
    assert ("reusable-not-cma", "/reserved-memory/pool@b0000000") in c
    assert ("alloc-failed", "/reserved-memory/dyn") in c
    # before v6.4 /memreserve/ is scanned first: the no-map child is refused instead
    mm, _ = run(path, kernel="6.1")
    c = codes(mm)
    assert ("memreserve-in-no-map", "/memreserve/0") not in c
    assert ("no-map-ebusy", "/reserved-memory/nm@94000000") in c


def test_clean_board_has_no_lint(tmp_path):
    path = board(tmp_path, """
        a@90000000 { reg = <0 0x90000000 0 0x2000000>; };
        cma@94000000 { compatible = "shared-dma-pool"; reusable; reg = <0 0x94000000 0 0x4000000>; };
    """)
    mm, _ = run(path)
    assert not [f for f in mm.findings if f.code in
                ("overlap", "initrd-overlap", "unaligned", "reusable-not-cma", "alloc-failed", "no-map-ebusy")]


@needs_corpus
def test_real_overlaps_in_a_qcom_board():
    """msm8994 Lumia: `reserved@6c00000` spans carveouts also listed on their own (dtc agrees)."""
    dtb = CORPUS / "dtb/qcom/msm8994-msft-lumia-octagon-cityman.dtb"
    doc = json.loads(run_cli("report", "--json", dtb).stdout)
    overlaps = [f for f in doc["findings"] if f["code"] == "overlap"]
    assert overlaps
    by_id = {r["id"]: r for r in doc["regions"]}
    for f in overlaps:
        a = by_id[f["id"]]["ranges"][0]
        assert any(o["start"] < a["end"] and a["start"] < o["end"]
                   for r in doc["regions"] if r["id"] != f["id"] and r["kind"] != "memreserve"
                   for o in r["ranges"])
