"""Every corpus DTB: our regions, ranges and flags against what dtc prints for the same file."""

from __future__ import annotations

import json

import pytest

from conftest import corpus_dtbs, needs_corpus, needs_dtc, run_cli
from dts_oracle import decompile, parse, tuples as _tuples

pytestmark = [needs_corpus, needs_dtc]


@pytest.mark.parametrize("dtb", corpus_dtbs(), ids=lambda p: p.name)
def test_regions_match_dtc(dtb):
    proc = run_cli("report", "--json", dtb)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["schema"] == "memmap-tui/report/1"
    ours = {r["id"]: r for r in doc["regions"]}

    nodes, memreserve = parse(decompile(dtb))
    root = nodes["/"]
    ac = root.cells("#address-cells")[0] if "#address-cells" in root.props else 1
    sc = root.cells("#size-cells")[0] if "#size-cells" in root.props else 1
    rmem = nodes.get("/reserved-memory")
    expected_ids = [c.path for c in rmem.children] if rmem else []
    expected_ids += [f"/memreserve/{i}" for i in range(len(memreserve))]
    assert [r["id"] for r in doc["regions"] if r["kind"] != "crashkernel"] == expected_ids
    # the boot replay gives every region a state and the line that says why
    for r in doc["regions"]:
        assert r["state"] in ("observed", "predicted", "failed", "unknown") and r["evidence"], r["id"]

    for i, (addr, size) in enumerate(memreserve):
        r = ours[f"/memreserve/{i}"]
        assert r["kind"] == "memreserve"
        assert r["ranges"] == [{"start": addr, "end": addr + size}]
        assert r["size"] == size

    for child in rmem.children if rmem else []:
        r = ours[child.path]
        flags = set(r["flags"])
        assert ("no-map" in flags) == ("no-map" in child.props), child.path
        assert ("reusable" in flags) == ("reusable" in child.props), child.path
        assert ("no-dump" in flags) == ("linux,no-dump" in child.props), child.path
        status = child.props.get("status", '"okay"').strip('"')
        assert ("disabled" in flags) == (status not in ("okay", "ok")), child.path
        if "reg" in child.props:
            tuples = _tuples(child.cells("reg"), ac, sc)
            assert r["reg"] == [{"start": a, "end": a + s} for a, s in tuples]
            # kernel ≥ 7.2 model (default): the first tuple is what is reserved
            a, s = tuples[0]
            assert r["ranges"] == ([{"start": a, "end": a + s}] if s else [])
            assert ("multi-reg" in flags) == (len(tuples) > 1)
            assert "dynamic" not in flags
        else:
            assert "dynamic" in flags
            if "size" in child.props:
                (size_cells) = child.cells("size")
                size = 0
                for c in size_cells:
                    size = (size << 32) | c
                assert r["size"] == size
            # no boot log given: the boot replay predicts the address (top-down, inside an
            # alloc-ranges entry when the node has them, dtc's decoding) or says why not
            if r["ranges"]:
                assert r["state"] == "predicted" and r["placement"] == "replay", child.path
                (placed,) = r["ranges"]
                assert placed["end"] - placed["start"] == r["size"]
                if "alloc-ranges" in child.props:
                    windows = _tuples(child.cells("alloc-ranges"), ac, sc)
                    assert any(a <= placed["start"] and placed["end"] <= a + s for a, s in windows)
            else:
                assert r["state"] in ("failed", "unknown") and r["evidence"], child.path
        kind = ("no-map" if "no-map" in child.props else
                "reusable" if "reusable" in child.props else "reserved")
        assert r["kind"] == kind


@pytest.mark.parametrize("dtb", corpus_dtbs(), ids=lambda p: p.name)
def test_ram_matches_dtc_memory_nodes(dtb):
    doc = json.loads(run_cli("report", "--json", dtb).stdout)
    nodes, _ = parse(decompile(dtb))
    root = nodes["/"]
    ac = root.cells("#address-cells")[0] if "#address-cells" in root.props else 1
    sc = root.cells("#size-cells")[0] if "#size-cells" in root.props else 1
    spans = []
    for child in root.children:
        if child.props.get("device_type") != '"memory"':
            continue
        if child.props.get("status", '"okay"').strip('"') not in ("okay", "ok"):
            continue  # e.g. QEMU secure=on secram: not RAM for Linux
        prop = "linux,usable-memory" if "linux,usable-memory" in child.props else "reg"
        if prop in child.props:
            spans += [(a, a + s) for a, s in _tuples(child.cells(prop), ac, sc) if s]
    merged = []
    for s, e in sorted(spans):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    assert doc["ram"] == [{"start": s, "end": e} for s, e in merged]
    if not merged:
        assert doc["policies"]["today"]["dumped_bytes"] is None


@pytest.mark.parametrize("dtb", corpus_dtbs(), ids=lambda p: p.name)
def test_memory_region_users_match_dtc(dtb):
    doc = json.loads(run_cli("report", "--json", dtb).stdout)
    nodes, _ = parse(decompile(dtb))
    by_phandle = {n.cells("phandle")[0]: path for path, n in nodes.items() if "phandle" in n.props}
    expected: dict[str, list[str]] = {}
    for path, n in nodes.items():
        if "memory-region" in n.props:
            disabled = n.props.get("status", '"okay"').strip('"') not in ("okay", "ok")
            for ph in n.cells("memory-region"):
                if ph in by_phandle:
                    expected.setdefault(by_phandle[ph], []).append(path + (" (disabled)" if disabled else ""))
    for r in doc["regions"]:
        assert sorted(r["used_by"]) == sorted(expected.get(r["id"], [])), r["id"]
