"""`report --format text|markdown|csv|json`: never a wrapped address or node name, rows in
address order, a plain layout when piped."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from rich.console import Console

from conftest import BOOT_IOMEM, CORPUS, RSV_DTB, needs_corpus, run_cli
from memmap_tui.core.policy import evaluate
from memmap_tui.inputs import Options, load
from memmap_tui.report.table_formats import rich_tables_fit

BOARDS = [
    (RSV_DTB, "--iomem", BOOT_IOMEM),
    (CORPUS / "dtb/qcom/sm8450-hdk.dtb", "--ram", "8G@0x80000000"),
]
HEX = re.compile(r"0x[0-9a-fA-F_]+")


def json_addresses(doc: dict) -> set[int]:
    out = set()
    for r in doc["regions"]:
        for rng in r["ranges"] + r["reg"]:
            out |= {rng["start"], rng["end"]}
    for rng in doc["ram"]:
        out |= {rng["start"], rng["end"]}
    return out


@needs_corpus
@pytest.mark.parametrize("board", BOARDS, ids=lambda b: b[0].name)
def test_piped_report_at_80_columns_never_breaks_an_address(board):
    env = {"COLUMNS": "80"}
    text = run_cli("report", *board, env=env)
    assert text.returncode == 0, text.stderr
    doc = json.loads(run_cli("report", *board, "--format", "json", env=env).stdout)
    known = json_addresses(doc)
    names = {r["name"] for r in doc["regions"]} | {r["id"] for r in doc["regions"]}
    region_lines = text.stdout.split("Regions (address order)\n")[1].split("\n\n")[0].splitlines()[1:]
    assert len(region_lines) == len(doc["regions"])
    starts = []
    for line in region_lines:
        tokens = HEX.findall(line)
        for tok in tokens:
            assert int(tok.replace("_", ""), 16) in known, (tok, line)
        assert line.split()[0] in names                # the node name is one unbroken token
        if tokens:
            starts.append(int(tokens[0].replace("_", ""), 16))
    assert starts == sorted(starts) and starts           # address order
    assert "┃" not in text.stdout and "\x1b[" not in text.stdout   # plain layout when piped


@needs_corpus
def test_markdown_and_csv_rows():
    md = run_cli("report", RSV_DTB, "--iomem", BOOT_IOMEM, "--format", "markdown").stdout
    assert md.startswith("### memmap-tui report") and "| gpu-mem@50000000 | reserved | no-dump |" in md
    rows = list(csv.DictReader(io.StringIO(run_cli("report", RSV_DTB, "--iomem", BOOT_IOMEM, "--format", "csv").stdout)))
    doc = json.loads(run_cli("report", RSV_DTB, "--iomem", BOOT_IOMEM, "--json").stdout)
    by_id = {r["id"]: r for r in doc["regions"]}
    for row in rows:
        r = by_id[row["id"]]
        assert int(row["size_bytes"]) == r["size"]
        assert int(row["dumped_today"]) == r["dumped"]["today"]
        if row["start"]:
            assert {"start": int(row["start"], 16), "end": int(row["end"], 16)} in r["ranges"]
    # multi-range regions repeat their id once per range
    assert len(rows) == sum(max(1, len(r["ranges"])) for r in doc["regions"])


@needs_corpus
def test_terminal_falls_back_to_plain_when_rich_would_squeeze():
    mm = load(Options(dtb=str(CORPUS / "dtb/qcom/sm8450-hdk.dtb"), ram=("8G@0x80000000",))).mm
    res = evaluate(mm)
    assert not rich_tables_fit(Console(width=80, force_terminal=True), mm, res)
    assert rich_tables_fit(Console(width=200, force_terminal=True), mm, res)
