"""`memmap-tui diff A B` on corpus pairs nobody wrote for it, checked against `dtc -O dts` of both
files with this test's own comparison (dts_oracle), plus the CI flags and the JSON schema."""

from __future__ import annotations

import json

import pytest

from conftest import CORPUS, needs_corpus, needs_dtc, run_cli
from dts_oracle import decompile, parse, tuples
from memmap_tui.core.diff import diff_findings, match_regions
from memmap_tui.core.model import Finding, Level, MemoryMap, Region, RegionKind
from memmap_tui.core.ranges import RangeSet

RAM = "4G@0x80000000"
PAIRS = [
    ("dtb/qemu/virt-aarch64-1G-rsv.dtb", "dtb/qemu/virt-aarch64-1G-rsv.as-booted.dtb"),
    ("dtb/qcom/sdm845-db845c.dtb", "dtb/qcom/sdm845-oneplus-enchilada.dtb"),      # one SoC, two boards
    ("dtb/amlogic/meson-g12b-odroid-n2.dtb", "dtb/amlogic/meson-sm1-odroid-c4.dtb"),
    ("dtb/amlogic/meson-a1-ad401.dtb", "dtb/amlogic/meson-axg-jethome-jethub-j100.dtb"),  # flags + resize
    ("dtb/qcom/sc7180-trogdor-lazor-r3.dtb", "dtb/qcom/sc7280-idp.dtb"),                  # user + overlap matches
]


def oracle_children(path) -> dict[str, dict]:
    """/reserved-memory children as dtc prints them: reg tuple, flags, status."""
    nodes, _ = parse(decompile(path))
    root = nodes["/"]
    ac, sc = (int(root.props.get(k, "<0x2>").strip("<>"), 16) for k in ("#address-cells", "#size-cells"))
    out = {}
    for node in nodes.get("/reserved-memory", None).children if "/reserved-memory" in nodes else []:
        reg = tuples(node.cells("reg"), ac, sc) if "reg" in node.props else []
        size = reg[0][1] if reg else (tuples([0] * ac + node.cells("size"), ac, sc)[0][1] if "size" in node.props else 0)
        out[node.path] = {"start": reg[0][0] if reg else None, "size": size,
                          "no-map": "no-map" in node.props, "reusable": "reusable" in node.props,
                          "no-dump": "linux,no-dump" in node.props,
                          "dynamic": "reg" not in node.props and "size" in node.props,
                          "multi-reg": len(reg) > 1,
                          "cma": "reusable" in node.props and '"shared-dma-pool"' in node.props.get("compatible", ""),
                          "disabled": node.props.get("status", '"okay"').strip('"') not in ("okay", "ok")}
    bootargs = nodes.get("/chosen").props.get("bootargs", "") if "/chosen" in nodes else ""
    return {"children": out, "crashkernel": "crashkernel=" in bootargs}


def diff_json(a, b, *extra) -> dict:
    res = run_cli("diff", a, b, "--ram", RAM, "--json", *extra)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


@needs_corpus
@needs_dtc
@pytest.mark.parametrize("a,b", PAIRS, ids=[p[1].rsplit("/", 1)[1] for p in PAIRS])
def test_every_change_is_in_dtc_output(a, b):
    a, b = CORPUS / a, CORPUS / b
    oa, ob = oracle_children(a), oracle_children(b)
    ca, cb = oa["children"], ob["children"]
    doc = diff_json(a, b)
    assert doc["schema"] == "memmap-tui/diff/1"
    rmem = [e for e in doc["regions"]
            if (e["a"] or e["b"])["id"].startswith("/reserved-memory/")]
    seen_a, seen_b = set(), set()
    for e in rmem:
        ida = e["a"]["id"] if e["a"] else None
        idb = e["b"]["id"] if e["b"] else None
        seen_a.add(ida)
        seen_b.add(idb)
        whats = {c["what"] for c in e["changes"]}
        if ida is None:
            assert whats == {"added"} and idb not in ca, idb
            continue
        if idb is None:
            assert whats == {"removed"} and ida not in cb, ida
            continue
        x, y = ca[ida], cb[idb]
        if e["match"] == "path":
            assert ida == idb and "renamed" not in whats
        else:
            # a rename: dtc shows the A path gone and the B path new
            assert ida not in cb and idb not in ca and "renamed" in whats
        if e["match"] == "overlap":
            assert x["start"] < y["start"] + y["size"] and y["start"] < x["start"] + x["size"]
        expect = set()
        if x["start"] is not None and y["start"] is not None and x["start"] != y["start"]:
            expect.add("moved")
        if x["size"] != y["size"]:
            expect.add("resized")
        flags = {c["flag"]: (c["a"], c["b"]) for c in e["changes"] if c["what"] == "flag"}
        for flag in ("no-map", "reusable", "no-dump", "disabled", "dynamic", "multi-reg", "cma"):
            if x[flag] != y[flag]:
                assert flags.get(flag) == (x[flag], y[flag]), (ida, flag)
            else:
                assert flag not in flags, (ida, flag)
        assert whats - {"renamed", "flag"} == expect, (ida, whats, expect)
        for c in e["changes"]:
            if c["what"] == "moved":
                assert (c["a"], c["b"]) == (x["start"], y["start"])
            if c["what"] == "resized":
                assert (c["a"], c["b"], c["delta"]) == (x["size"], y["size"], y["size"] - x["size"])
    # nothing dtc shows is missing from the diff
    assert set(ca) == seen_a - {None} and set(cb) == seen_b - {None}
    # crashkernel: added exactly when B's bootargs asks for one and A's does not
    ck = [e for e in doc["regions"] if (e["a"] or e["b"])["id"] == "crashkernel"]
    if oa["crashkernel"] != ob["crashkernel"]:
        assert [c["what"] for c in ck[0]["changes"]] == ["added" if ob["crashkernel"] else "removed"]


@needs_corpus
def test_sdm845_boards_match_and_policy_deltas():
    a, b = CORPUS / PAIRS[1][0], CORPUS / PAIRS[1][1]
    doc = diff_json(a, b)
    # the keys issue 13 names, exactly
    assert {"schema", "a", "b", "regions", "policies", "findings"} <= doc.keys()
    assert set(doc["findings"]) == {"new", "gone"}
    for e in doc["regions"]:
        assert {"match", "a", "b", "changes"} <= e.keys() and e["match"] in ("path", "label", "user", "overlap", "none")
    for d in doc["policies"].values():
        assert {"a_bytes", "b_bytes", "delta_bytes"} <= d.keys()
    counts = doc["match_counts"]
    assert counts["path"] > 10 and counts["overlap"] >= 1
    # REGION is report/1's region object, byte for byte
    rep = json.loads(run_cli("report", b, "--ram", RAM, "--json").stdout)
    by_id = {r["id"]: r for r in rep["regions"]}
    for e in doc["regions"]:
        if e["b"]:
            assert e["b"] == by_id[e["b"]["id"]]
    rep_a = json.loads(run_cli("report", a, "--ram", RAM, "--json").stdout)
    for p, d in doc["policies"].items():
        assert d["a_bytes"] == rep_a["policies"][p]["dumped_bytes"]
        assert d["b_bytes"] == rep["policies"][p]["dumped_bytes"]
        assert d["delta_bytes"] == d["b_bytes"] - d["a_bytes"]


@needs_corpus
def test_fail_on_vmcore_growth_and_markdown():
    a, b = CORPUS / PAIRS[1][0], CORPUS / PAIRS[1][1]
    doc = diff_json(a, b)
    growth = max(d["delta_bytes"] for d in doc["policies"].values())
    assert growth > 0
    over = run_cli("diff", a, b, "--ram", RAM, "--format", "markdown", "--fail-on", f"vmcore-growth={growth - 4096}")
    assert over.returncode == 1 and "vmcore-growth: today grows by" in over.stderr
    assert over.stdout.startswith("### memmap-tui diff:") and "| `today` |" in over.stdout
    ok = run_cli("diff", a, b, "--ram", RAM, "--format", "markdown", "--fail-on", f"vmcore-growth={growth},new-error")
    assert ok.returncode == 0, ok.stderr
    # the other way round the vmcore shrinks: never a failure
    assert run_cli("diff", b, a, "--ram", RAM, "--fail-on", "vmcore-growth=0").returncode == 0


@needs_corpus
def test_fail_on_errors_are_one_line():
    a = CORPUS / PAIRS[1][0]
    bad = run_cli("diff", a, a, "--fail-on", "vmcore-growth=lots")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    no_ram = run_cli("diff", a, a, "--fail-on", "vmcore-growth=0")
    assert no_ram.returncode == 2 and "RAM is unknown" in no_ram.stderr


@needs_corpus
def test_per_side_options_win_over_shared():
    a = CORPUS / PAIRS[0][0]
    doc = json.loads(run_cli("diff", a, a, "--ram", "1G@0x40000000", "--b-ram", "2G@0x40000000", "--json").stdout)
    assert doc["a"]["ram"] == [{"start": 0x40000000, "end": 0x80000000}]
    assert doc["b"]["ram"] == [{"start": 0x40000000, "end": 0xC0000000}]
    assert all(not e["changes"] for e in doc["regions"])
    assert all(d["delta_bytes"] == 1 << 30 for d in doc["policies"].values())
    # --b-dump clears the DT's linux,no-dump on one side only: v1 grows by the 32 MiB carveout
    doc = json.loads(run_cli("diff", a, a, "--ram", "1G@0x40000000", "--b-dump", "gpu-mem", "--json").stdout)
    changed = [e for e in doc["regions"] if e["changes"]]
    assert [(e["a"]["id"], e["changes"]) for e in changed] == [
        ("/reserved-memory/gpu-mem@50000000", [{"what": "flag", "flag": "no-dump", "a": True, "b": False}])]
    assert doc["policies"]["no-dump-v1"]["delta_bytes"] == 0x2000000
    assert doc["policies"]["today"]["delta_bytes"] == 0


@needs_corpus
def test_dump_only_diff_two_dumps_of_one_boot():
    flat = CORPUS / "vmcore/qemu-aarch64.kdump-zlib.flat"
    d31 = CORPUS / "vmcore/qemu-aarch64.d31.kdump.meta-only"
    res = run_cli("diff", flat, d31, "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    for side, path in (("a", flat), ("b", d31)):
        rep = json.loads(run_cli("report", "--vmcore", path, "--json").stdout)["dump"]
        assert doc["dump"][side]["present_bytes"] == rep["present_bytes"]
        assert doc["dump"][side]["on_disk_bytes"] == rep["on_disk_bytes"]
    # makedumpfile's own log for the -d 31 dump: 0x3b13 pages remain (+ zero pages it keeps as one)
    log = (CORPUS / "boot/mdf-d31-kdump.log").read_text()
    assert "Remaining pages  : 0x0000000000003b13" in log
    ram = doc["dump"]["ram"][0]
    assert ram["a"]["excluded_pages"] == 0 and ram["b"]["excluded_pages"] > 0
    assert (ram["b"]["present_bytes"] // 4096) - ram["b"]["zero_pages"] == 0x3b13
    assert doc["dump"]["present_delta_bytes"] == ram["b"]["present_bytes"] - ram["a"]["present_bytes"]


# -- matching and findings, on models built here ------------------------------------------------

def _region(rid, start, size, labels=(), users=()):
    return Region(id=rid, name=rid.rsplit("/", 1)[1], kind=RegionKind.RESERVED,
                  ranges=RangeSet([(start, start + size)]), size_bytes=size, labels=labels, users=users)


def test_match_order_path_label_user_overlap():
    a = MemoryMap(regions=[_region("/reserved-memory/x@1000", 0x1000, 0x1000),
                           _region("/reserved-memory/mpss@2000", 0x2000, 0x1000, labels=("mpss_mem",)),
                           _region("/reserved-memory/memory@4000", 0x4000, 0x1000, users=("/remoteproc@1",)),
                           _region("/reserved-memory/memory@8000", 0x8000, 0x2000),
                           _region("/reserved-memory/gone@f000", 0xf000, 0x1000)])
    b = MemoryMap(regions=[_region("/reserved-memory/x@1000", 0x1000, 0x1000),
                           _region("/reserved-memory/mpss@20000", 0x20000, 0x3000, labels=("mpss_mem",)),
                           _region("/reserved-memory/memory@5000", 0x5000, 0x1000, users=("/remoteproc@1",)),
                           _region("/reserved-memory/memory@9000", 0x9000, 0x2000),
                           _region("/reserved-memory/new@e0000", 0xe0000, 0x1000)])
    got = {(k, ra and ra.id, rb and rb.id) for k, ra, rb in match_regions(a, b)}
    assert got == {("path", "/reserved-memory/x@1000", "/reserved-memory/x@1000"),
                   ("label", "/reserved-memory/mpss@2000", "/reserved-memory/mpss@20000"),
                   ("user", "/reserved-memory/memory@4000", "/reserved-memory/memory@5000"),
                   ("overlap", "/reserved-memory/memory@8000", "/reserved-memory/memory@9000"),
                   ("none", "/reserved-memory/gone@f000", None),
                   ("none", None, "/reserved-memory/new@e0000")}


def test_findings_matched_by_code_and_region_not_message():
    ra = _region("/reserved-memory/mpss@2000", 0x2000, 0x1000, labels=("mpss_mem",))
    rb = _region("/reserved-memory/mpss@3000", 0x3000, 0x2000, labels=("mpss_mem",))
    a = MemoryMap(regions=[ra], findings=[Finding(Level.WARNING, "overlap", "mpss overlaps by 4 KiB", ra.id)])
    b = MemoryMap(regions=[rb], findings=[Finding(Level.WARNING, "overlap", "mpss overlaps by 8 KiB", rb.id),
                                          Finding(Level.ERROR, "crashkernel-overlap", "boom", "crashkernel")])
    from memmap_tui.core.diff import RegionPair
    pairs = [RegionPair("label", ra, rb, ())]
    new, gone = diff_findings(a, b, pairs)
    assert [f.code for f in new] == ["crashkernel-overlap"] and gone == []


def test_overlap_sweep_is_linear_in_disjoint_regions():
    """5,000 disjoint regions per side, each overlapping one on the other: the sweep touches
    each active list briefly; count the pairs it reports (no n² candidate list)."""
    from memmap_tui.core.diff import _overlapping_pairs
    n = 5000
    a = [_region(f"/a/{i}", i * 0x10000, 0x8000) for i in range(n)]
    b = [_region(f"/b/{i}", i * 0x10000 + 0x4000, 0x8000) for i in range(n)]
    pairs = _overlapping_pairs(a, b)
    assert len(pairs) == n and all(k == 0x4000 for k, _, _ in pairs)


@needs_corpus
def test_bad_inputs_are_one_line_exit_2(tmp_path):
    a = CORPUS / PAIRS[0][0]
    missing = run_cli("diff", a, tmp_path / "nope.dtb")
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "Traceback" not in missing.stderr
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not a dtb, not a dump" * 10)
    bad = run_cli("diff", a, junk)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "junk.bin" in bad.stderr
    both = run_cli("diff", a, CORPUS / "vmcore/qemu-aarch64.kdump-zlib.flat",
                   "--b-vmcore", CORPUS / "vmcore/qemu-aarch64.kdump-zlib.flat")
    assert both.returncode == 2 and "--vmcore" in both.stderr


@needs_corpus
@needs_dtc
def test_dts_source_against_its_dtb_has_no_changes():
    dts = CORPUS / "dtb/qemu/virt-aarch64-1G-rsv.dts"
    doc = diff_json(CORPUS / PAIRS[0][0], dts)
    assert all(e["match"] == "path" and not e["changes"] for e in doc["regions"])
    assert all(d["delta_bytes"] == 0 for d in doc["policies"].values())


@needs_corpus
def test_projection_after_filtering():
    """An unfiltered dump holds every page: its projection equals the policy's prediction; the
    -d 31 dump of the same boot keeps less, and never more than it holds."""
    flat = CORPUS / "vmcore/qemu-aarch64.kdump-zlib.flat"
    d31 = CORPUS / "vmcore/qemu-aarch64.d31.kdump.meta-only"
    doc = json.loads(run_cli("diff", flat, d31, "--iomem", CORPUS / "iomem/aarch64-qemu-virt-guest.txt",
                             "--json").stdout)
    for p, d in doc["policies"].items():
        assert d["a_projected_bytes"] == d["a_bytes"], p
        assert 0 < d["b_projected_bytes"] < d["a_projected_bytes"]
        assert d["b_projected_bytes"] <= doc["dump"]["b"]["present_bytes"]
        assert d["delta_projected_bytes"] == d["b_projected_bytes"] - d["a_projected_bytes"]
