"""Issue 14 units: bounded readers, 64-bit limits, FDT depth/path budget, sweep-line lint,
bisecting intersections — with operation counts, not wall time."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from memmap_tui.core import ranges as ranges_mod
from memmap_tui.core.lint import MAX_OVERLAP_FINDINGS, lint
from memmap_tui.core.model import MemoryMap
from memmap_tui.core.ranges import RangeSet, overlapping_pairs
from memmap_tui.core.units import memparse
from memmap_tui.sources.dtb import decode_dtb
from memmap_tui.sources.errors import InputError, read_text_input
from memmap_tui.sources.fdt_blob import (
    FDT_MAX_DEPTH, FdtError, cells_to_int, describe_prop, parse_fdt, prop_tuples,
)
from memmap_tui.sources.iomem import parse_iomem

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import fdt_build as fb  # noqa: E402

from conftest import RSV_DTB, assert_one_line_error, needs_corpus, run_cli  # noqa: E402


# -- text inputs ------------------------------------------------------------------------

def test_iomem_name_keeps_inner_blanks_and_drops_trailing():
    info = parse_iomem("80000000-8fffffff : System RAM   \t \n  80000000-80ffffff : Kernel  code  \n")
    assert [e.name for e in info.entries] == ["System RAM", "Kernel  code"]


@pytest.mark.parametrize("line", [
    "0-" + "f" * 17 + " : x",            # 2^68 - 1
    "1" * 5000 + "-" + "2" * 5000 + " : System RAM",
    "10000000000000000-10000000000000fff : System RAM",
])
def test_iomem_beyond_64_bit_is_an_input_error(line):
    with pytest.raises(InputError, match="64-bit"):
        parse_iomem(line + "\n")


def test_iomem_top_of_64_bit_is_accepted():
    info = parse_iomem("ffffffffffff0000-ffffffffffffffff : reserved\n")
    assert info.entries[0].range.end == 1 << 64


@pytest.mark.parametrize("text", ["9" * 5000, "0x" + "f" * 300, "0" + "7" * 40, "16E", "0x10000000000000000"])
def test_memparse_refuses_more_than_64_bits(text):
    with pytest.raises(ValueError):
        memparse(text)


def test_memparse_accepts_leading_zeros_and_the_top_value():
    assert memparse("0x" + "0" * 40 + "1000") == 0x1000
    assert memparse("0xffffffffffffffff") == (1 << 64) - 1
    assert memparse("15E") == 15 << 60


def test_fifo_device_and_directory_are_refused(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path, what in ((str(fifo), "FIFO"), ("/dev/zero", "device"), (str(tmp_path), "directory")):
        with pytest.raises(InputError, match=what):
            read_text_input(path, "an iomem dump")


def test_text_input_size_cap(tmp_path):
    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * 5000)
    with pytest.raises(InputError, match="larger than"):
        read_text_input(str(big), "a log", limit=4096)
    assert len(read_text_input(str(big), "a log", limit=5000)) == 5000


def test_max_input_size_moves_the_cap_both_ways():
    """`--max-input-size` (before the command) replaces the whole-file cap: a real input past
    256 MiB (a long console capture) can be read, and a lower cap refuses with the option named."""
    sample = Path(__file__).resolve().parent.parent / "sample-data"
    args = ("report", "--json", "--iomem", sample / "iomem.txt", sample / "board.dtb")
    low = run_cli("--max-input-size", "1K", *args)
    assert_one_line_error(low, "larger than 1 KiB")
    assert "--max-input-size" in low.stderr
    ok = run_cli("--max-input-size=300M", *args)
    assert ok.returncode == 0, ok.stderr
    assert run_cli("--max-input-size", "lots", *args).returncode == 2
    # and the default command (the TUI's `open`) still takes a file as its first argument
    assert run_cli("--max-input-size", "1K", "--help").returncode == 0


@needs_corpus
def test_iomem_from_stdin():
    proc = subprocess.run([sys.executable, "-m", "memmap_tui", "report", "--json", str(RSV_DTB), "--iomem", "-"],
                          input="40000000-7fffffff : System RAM\n", capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["inputs"]["iomem"] == "-"


# -- device trees ------------------------------------------------------------------------

def test_empty_dtb_with_strings_at_totalsize_loads():
    blob = parse_fdt(fb.build(("", [], [])))
    assert blob.header.off_dt_strings == blob.header.totalsize
    assert blob.root.children == []


def test_depth_limit_is_the_kernels():
    parse_fdt(fb.build(fb.deep_chain(FDT_MAX_DEPTH - 1)))
    with pytest.raises(FdtError, match="deeper than 64"):
        parse_fdt(fb.build(fb.deep_chain(FDT_MAX_DEPTH)))


def test_path_budget_refuses_long_names_times_many_children():
    root = ("", [], [("x" * (1 << 20), [], [(f"c{i}", [], []) for i in range(100)])])
    with pytest.raises(FdtError, match="node paths"):
        parse_fdt(fb.build(root))


def test_cells_read_like_of_read_number():
    assert cells_to_int([0xDEAD, 1, 2]) == (1 << 32) | 2     # u64: the high cell shifts out
    assert cells_to_int([7]) == 7
    with pytest.raises(FdtError, match="64-bit"):
        prop_tuples(fb.cells(0xFFFFFFFF, 0xFFFFF000, 0, 0x2000), 2, 2)


def test_address_cells_200_decodes_to_a_finding_not_a_crash():
    child = ("r@0", [("reg", fb.cells(*range(1, 401)))], [])
    info = decode_dtb(parse_fdt(fb.build(fb.reserved_board([child], address_cells=200, size_cells=200,
                                                           memory=(1, 1 << 40)))))
    assert any(f.code == "odd-cells" for f in info.findings)
    assert all(r.end <= 1 << 64 for reg in info.regions for r in reg.ranges)


def test_huge_reg_is_a_finding_not_a_gigabyte_of_ints(monkeypatch):
    """A reg of more cells than are decoded (a 64 MiB one took 13 s and 1.1 GiB as one
    Python int per cell): the node gets a finding, nothing is decoded."""
    from memmap_tui.sources import fdt_blob
    monkeypatch.setattr(fdt_blob, "MAX_PROP_CELLS", 1024)
    calls = []
    real = fdt_blob.cells_to_int
    monkeypatch.setattr(fdt_blob, "cells_to_int", lambda c: calls.append(1) or real(c))
    reg = fb.cells(0, 0x80000000, 0, 0x1000) * 257          # 1,028 cells
    child = ("r@80000000", [("reg", reg)], [])
    info = decode_dtb(parse_fdt(fb.build(fb.reserved_board([child], memory=(0x80000000, 1 << 30)))))
    bad = [f for f in info.findings if f.code == "bad-reg"]
    assert bad and "1,028 cells, more than the 1,024 decoded" in bad[0].message
    assert len(calls) <= 2          # /memory's one tuple; none of the 257


def test_long_property_description_is_cut():
    text = describe_prop(fb.cells(*range(1 << 20)))
    assert len(text) < 20_000 and text.endswith("(4,194,304 bytes)") and text.startswith("<0x0 0x1 ")
    assert describe_prop(fb.cells(1, 2)) == "<0x1 0x2>"


# -- sweep line / bisection: counted operations ----------------------------------------------

class _CountingPairs(tuple):
    reads = 0

    def __getitem__(self, i):
        type(self).reads += 1
        return tuple.__getitem__(self, i)


def test_small_set_against_a_large_one_bisects():
    large = RangeSet((i * 0x2000, i * 0x2000 + 0x1000) for i in range(100_000))
    small = RangeSet([(0x5000, 0x9000), (0x100000, 0x100800)])
    expect = RangeSet([(0x6000, 0x7000), (0x8000, 0x9000), (0x100000, 0x100800)])
    counted = RangeSet._trusted(list(large.pairs))
    counted._pairs = _CountingPairs(large.pairs)
    _CountingPairs.reads = 0
    assert small & counted == expect and counted & small == expect
    assert _CountingPairs.reads < 200  # 2 × (log2(100,000) + overlaps), not 100,000


def test_bisecting_intersection_matches_the_merge():
    rng = random.Random(5)
    for _ in range(300):
        a = RangeSet((s, s + rng.randrange(1, 50)) for s in rng.sample(range(2000), rng.randrange(0, 4)))
        b = RangeSet((s, s + rng.randrange(1, 50)) for s in rng.sample(range(2000), rng.randrange(30, 200)))
        naive = RangeSet((max(x.start, y.start), min(x.end, y.end)) for x in a for y in b if x.overlaps(y))
        assert a & b == naive == b & a


def test_overlapping_pairs_matches_every_pair_check():
    rng = random.Random(9)
    sets = [RangeSet([(s, s + rng.randrange(1, 300))]) for s in (rng.randrange(5000) for _ in range(200))]
    naive = [(i, j) for i in range(len(sets)) for j in range(i + 1, len(sets)) if sets[i] & sets[j]]
    assert overlapping_pairs(sets) == naive
    other = sets[:50]
    naive2 = [(i, j) for i in range(len(sets)) for j in range(len(other)) if sets[i] & other[j]]
    assert overlapping_pairs(sets, other) == naive2


def _board(n: int, *, same: bool = False) -> MemoryMap:
    kids = [fb.carveout(i, 0x90000000 if same else 0x80000000 + i * 0x200000, 0x100000) for i in range(n)]
    info = decode_dtb(parse_fdt(fb.build(fb.reserved_board(kids))))
    mm = MemoryMap()
    mm.regions.extend(info.regions)
    return mm


@pytest.mark.parametrize("same", [False, True])
def test_lint_does_not_compare_every_pair(monkeypatch, same):
    calls = {"n": 0}
    real = RangeSet.intersection

    def counting(self, other):
        calls["n"] += 1
        return real(self, other)

    monkeypatch.setattr(RangeSet, "intersection", counting)
    monkeypatch.setattr(RangeSet, "__and__", counting)
    counts = []
    for n in (300, 3000):
        calls["n"] = 0
        findings = lint(_board(n, same=same))
        counts.append(calls["n"])
        overlaps = [f for f in findings if f.code == "overlap"]
        assert len(overlaps) == (MAX_OVERLAP_FINDINGS + 1 if same else 0)
    # every-pair lint made n²/2 intersections (4.5 M at 3,000); the sweep makes O(findings)
    assert counts[1] <= counts[0] + 10 and counts[1] <= 2 * MAX_OVERLAP_FINDINGS + 10


def test_sweep_heap_work_is_n_log_n(monkeypatch):
    pushes = {"n": 0}
    real_push = ranges_mod.heapq.heappush

    def counting(heap, item):
        pushes["n"] += 1
        real_push(heap, item)

    monkeypatch.setattr(ranges_mod.heapq, "heappush", counting)
    sets = [RangeSet([(i * 10, i * 10 + 5)]) for i in range(20_000)]
    assert overlapping_pairs(sets) == []
    assert pushes["n"] == 20_000


# -- command line -----------------------------------------------------------------------------

@needs_corpus
def test_check_reports_every_file_and_exits_2_at_the_end(tmp_path):
    bad = tmp_path / "bad.dtb"
    bad.write_bytes(b"garbage")
    proc = run_cli("check", RSV_DTB, bad, RSV_DTB)
    assert proc.returncode == 2
    assert proc.stdout.count(f"ok {RSV_DTB}") == 2 and f"ERROR {bad}" in proc.stdout
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith(f"memmap-tui: {bad}: not a device tree blob (bad magic, expected 0xd00dfeed)")
    doc = json.loads(run_cli("check", "--json", RSV_DTB, bad).stdout)
    assert [r["ok"] for r in doc["results"]] == [True, False] and "error" in doc["results"][1]


@needs_corpus
@pytest.mark.parametrize("speed", ["nan", "inf", "1e999", "0", "-3"])
def test_write_speed_must_be_finite_and_positive(speed):
    proc = run_cli("report", "--json", RSV_DTB, f"--write-speed={speed}")
    assert proc.returncode == 2 and "--write-speed" in proc.stderr and proc.stdout == ""


def test_max_input_size_lasts_one_invocation(tmp_path, capsys):
    """In one process (tests, the fuzz bench), a later call without the option is back at 256 MiB."""
    from memmap_tui import cli
    from memmap_tui.sources import errors
    sample = Path(__file__).resolve().parent.parent / "sample-data" / "board.dtb"
    with pytest.raises(SystemExit):
        cli.main(["--max-input-size", "1K", "report", "--json", str(sample)])
    assert errors._limit_override_bytes == 1024
    cli.main(["report", "--json", str(sample)])
    assert errors._limit_override_bytes is None
    capsys.readouterr()
