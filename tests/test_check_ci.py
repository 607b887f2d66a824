"""`memmap-tui check` for CI: green on correct build DTBs, red on real defects (checked against
dtc's decompilation with this test's own overlap/multi-reg scan), stable codes, --ignore,
SARIF and JUnit output."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from conftest import CORPUS, RSV_DTB, corpus_dtbs, needs_corpus, needs_dtc, run_cli
from dts_oracle import decompile, parse, tuples


def oracle_defects(path) -> list[str]:
    """Overlapping or multi-tuple /reserved-memory children, read from `dtc -O dts` text."""
    nodes, _ = parse(decompile(path))
    if "/reserved-memory" not in nodes:
        return []
    root = nodes["/"]
    ac, sc = (int(root.props.get(k, "<0x2>").strip("<>"), 16) for k in ("#address-cells", "#size-cells"))
    spans, out = [], []
    for node in nodes["/reserved-memory"].children:
        if node.props.get("status", '"okay"').strip('"') not in ("okay", "ok") or "reg" not in node.props:
            continue
        reg = [t for t in tuples(node.cells("reg"), ac, sc) if t[1]]
        if len(reg) > 1:
            out.append(f"multi-reg {node.path}")
        spans.append((reg[0][0], reg[0][0] + reg[0][1], node.path))
    spans.sort()
    for i, (s, e, p) in enumerate(spans):
        for s2, e2, p2 in spans[i + 1:]:
            if s2 >= e:
                break
            out.append(f"overlap {p} {p2}")
    return out


@needs_corpus
@needs_dtc
@pytest.mark.parametrize("dtb", corpus_dtbs(), ids=lambda p: p.name)
def test_strict_is_red_exactly_on_real_defects(dtb):
    res = run_cli("check", "--strict", dtb, "--json")
    doc = json.loads(res.stdout)
    defects = oracle_defects(dtb)
    assert res.returncode == (1 if defects else 0), (defects, res.stdout)
    codes = {f["code"] for f in doc["results"][0]["findings"] if f["level"] != "info"}
    assert codes == {d.split()[0] for d in defects}


@needs_corpus
def test_build_dtb_without_memory_is_normal():
    board = CORPUS / "dtb/qcom/sm8450-hdk.dtb"
    res = run_cli("check", "--strict", board)
    assert res.returncode == 0
    assert "info: [ram-unknown]" in res.stdout and "bootloader fills /memory" in res.stdout


@needs_corpus
def test_ignore_codes_and_strict():
    assert run_cli("check", "--strict", RSV_DTB).returncode == 1
    res = run_cli("check", "--strict", "--ignore", "multi-reg", RSV_DTB)
    assert res.returncode == 0 and "multi-reg" not in res.stdout
    both = run_cli("check", "--strict", "--ignore", "overlap,multi-reg", RSV_DTB,
                   CORPUS / "dtb/qcom/msm8998-sony-xperia-yoshino-poplar.dtb")
    assert both.returncode == 0


@needs_corpus
def test_sarif_output():
    poplar = CORPUS / "dtb/qcom/msm8998-sony-xperia-yoshino-poplar.dtb"
    res = run_cli("check", "--strict", "--format", "sarif", poplar, RSV_DTB)
    assert res.returncode == 1
    doc = json.loads(res.stdout)
    assert doc["version"] == "2.1.0"
    run = doc["runs"][0]
    rules = [r["id"] for r in run["tool"]["driver"]["rules"]]
    overlaps = [r for r in run["results"] if r["ruleId"] == "overlap"]
    assert len(overlaps) == 3 and all(r["level"] == "warning" for r in overlaps)
    for r in run["results"]:
        assert rules[r["ruleIndex"]] == r["ruleId"]
        assert r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] in (str(poplar), str(RSV_DTB))
    assert {r["level"] for r in run["results"]} <= {"error", "warning", "note"}
    assert overlaps[0]["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == "/reserved-memory/memory@85800000"


@needs_corpus
def test_junit_output():
    ok_board = CORPUS / "dtb/qcom/sm8450-hdk.dtb"
    res = run_cli("check", "--strict", "--format", "junit", ok_board, RSV_DTB)
    assert res.returncode == 1
    suite = ET.fromstring(res.stdout).find("testsuite")
    assert suite.get("tests") == "2" and suite.get("failures") == "1"
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert cases[str(ok_board)].find("failure") is None
    failure = cases[str(RSV_DTB)].find("failure")
    assert failure.get("type") == "multi-reg"
