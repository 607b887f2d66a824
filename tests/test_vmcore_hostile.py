"""Crafted vmcores (issue 14): headers that lie about sizes, huge note areas, 100k empty
flattened records, fragmented bitmaps, FIFOs and devices. Each is generated here by code
and run through the real CLI in a child process: it must exit 0 or 2, never hang, and
stay under 200 MiB (VmHWM of that child alone). Plus operation counts (issue 15) so a
quadratic regression fails without timing anything."""

from __future__ import annotations

import importlib.util
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from memmap_tui.core.dump import account_dump
from memmap_tui.core.dump import page_index
from memmap_tui.core.model import MemoryMap
from memmap_tui.sources.vmcore import open_dump

_spec = importlib.util.spec_from_file_location(
    "gen_dumps", Path(__file__).resolve().parent.parent / "bench" / "gen_dumps.py")
gen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen)

RSS_LIMIT_KIB = 200 * 1024
CHILD = """
import sys
from memmap_tui.cli import main
sys.argv = ["memmap-tui", "report", "--vmcore", sys.argv[1], "--json"]
code = 0
try:
    main()
except SystemExit as e:
    code = e.code or 0
sys.stdout.flush()
# VmHWM belongs to this process image; ru_maxrss would carry the parent's peak across exec
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0].split()[1]
print("RSS", hwm, file=sys.stderr)
sys.exit(code)
"""


def run_report(path) -> tuple[int, int, str]:
    """(exit status, peak RSS KiB, stderr) of `memmap-tui report --vmcore path --json`."""
    p = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True,
                       timeout=60, stdin=subprocess.DEVNULL)
    rss = int(p.stderr.strip().splitlines()[-1].split()[1])
    return p.returncode, rss, p.stderr


def assert_bounded(path, want_codes=(0, 2)) -> str:
    code, rss, err = run_report(path)
    assert code in want_codes, err
    assert "Traceback" not in err, err
    assert rss < RSS_LIMIT_KIB, f"{rss} KiB"
    return err


def test_elf_phnum_times_phentsize_beyond_file(tmp_path):
    head, _ = gen.elf_core([(0x40000000, 0xFFFF000000000000, 0x1000, 0x1000)])
    buf = bytearray(head)
    struct.pack_into("<HHH", buf, 54, 0xFFF0, 0xFFFE, 0)   # e_phentsize, e_phnum: 4 GiB of headers
    path = tmp_path / "core"
    path.write_bytes(bytes(buf))
    err = assert_bounded(path)
    assert "program headers" in err or err.count("\n") <= 1


def test_elf_pt_note_full_of_tiny_notes(tmp_path):
    tiny = gen.note(b"", 1, b"")             # 16 bytes each: a million of them
    notes = tiny * (1 << 20)
    head, size = gen.elf_core([(0x40000000, 0xFFFF000000000000, 0x1000, 0x1000)], notes=notes)
    path = tmp_path / "core"
    gen.write_sparse(str(path), head, size)
    assert_bounded(path, (0,))
    d = open_dump(path)
    assert any("notes" in f.message for f in d.findings)


def test_kdump_header_claims_gigabytes_of_bitmap(tmp_path):
    hdr = gen.kdump_header(block_size=4096, sub_hdr_size=0, bitmap_blocks=(1 << 22) - 2,
                           max_mapnr=0xFFFFFFFF, signature=b"DISKDUMP")
    path = tmp_path / "k"
    path.write_bytes(hdr + b"\xff" * 5000)
    assert_bounded(path)


def _flat_kdump(tmp_path, *, empty_records=0, gap_at=None) -> Path:
    max_mapnr = 1 << 16
    bm = b"\xff" * (max_mapnr // 8)
    pieces, size, _ = gen.kdump_image(block_size=4096, max_mapnr=max_mapnr, bitmap1=bm, bitmap2=bm)
    if gap_at is not None:
        pieces = [(off, data) for off, data in pieces if off < gap_at] + [(1 << 40, b"x" * 16)]
    flat = gen.flatten(pieces)
    end = flat[-16:]
    empty = struct.pack(">qq", 4096, 0) * empty_records
    path = tmp_path / "k.flat"
    path.write_bytes(flat[:-16] + empty + end)
    return path


def test_flattened_100k_empty_records(tmp_path):
    assert_bounded(_flat_kdump(tmp_path, empty_records=100_000), (0,))


def test_flattened_gap_is_not_zero_filled(tmp_path):
    """Bitmaps and descriptors missing from the records, one record far away: the gap is
    neither allocated nor read as data."""
    path = _flat_kdump(tmp_path, gap_at=8192)
    assert_bounded(path)


def test_fragmented_bitmap_lists_no_million_rows(tmp_path):
    max_mapnr = 8 * (2 << 20)                    # a 2 MiB bitmap of alternating bits
    bm = b"\x55" * (max_mapnr // 8)
    pieces, size, _ = gen.kdump_image(block_size=4096, max_mapnr=max_mapnr, bitmap1=bm, bitmap2=bm)
    path = tmp_path / "k"
    gen.write_sparse(str(path), b"", size, pieces)
    err = assert_bounded(path, (0,))
    d = open_dump(path)
    assert any("fragmented" in f.message for f in d.findings)
    assert d.totals().covered_bytes == max_mapnr // 2 * 4096


def test_fifo_and_device_refused(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for path in (fifo, "/dev/zero"):
        code, rss, err = run_report(path)
        assert code == 2 and "not a regular file" in err, err


# -- operation counts (no timing) ---------------------------------------------------------------

def _elf_with(tmp_path, n: int):
    segs = [(0x80000000 + k * (3 << 20), 0xFFFF000000000000 + k * (3 << 20), 1 << 20, 2 << 20)
            for k in range(n)]
    head, size = gen.elf_core(segs)
    path = tmp_path / f"core{n}"
    gen.write_sparse(str(path), head, size)
    return open_dump(path)


def test_elf_accounting_is_n_log_n(tmp_path, monkeypatch):
    """account_dump over N PT_LOADs: each range costs a few bisections of prefix sums, so the
    number of bisections grows linearly in N (a per-region scan would be ×16 for ×4 segments)."""
    calls = {"n": 0}
    real = page_index.bisect_left

    def counting(a, x, *rest):
        calls["n"] += 1
        return real(a, x, *rest)

    monkeypatch.setattr(page_index, "bisect_left", counting)
    counts = []
    for n in (500, 2000):
        d = _elf_with(tmp_path, n)
        calls["n"] = 0
        acc = account_dump(MemoryMap(), d)
        assert acc.balanced
        counts.append(calls["n"])
    assert 0 < counts[0] and counts[1] <= 4.5 * counts[0]


def test_bitmap_is_read_once_and_ranked_by_one_chunk():
    """RSS flat in RAM size: the build reads each byte once in bounded reads; a rank query
    reads back at most one CHUNK; nothing keeps the bitmap itself."""
    from memmap_tui.core.dump import Bitmap
    size = 1 << 24                                    # 16 MiB: 128 Mi pfns
    reads = []

    def source(off, n):
        data = bytes([0x0F]) * n if off < size // 2 else b""   # second half: cut file
        reads.append(len(data))
        return data
    bm = Bitmap(source, size * 8, size_bytes=size)
    assert sum(reads) == size // 2 and max(reads) <= Bitmap.READ
    assert len(reads) == size // 2 // Bitmap.READ + 1        # stops at the first short read
    assert bm.readable_bytes == size // 2
    reads.clear()
    assert bm.count(3, 8 * 1000 + 5) == 4 * 1000 + 1      # bits 3 of byte 0 … bits 0..4 of byte 1000
    assert bm.rank(size * 8) == 4 * (size // 2)
    assert max(reads) <= Bitmap.CHUNK and len(reads) <= 2
    assert sum(map(len, bm._cache.values())) <= Bitmap.CACHE * Bitmap.CHUNK


def test_flattened_overlapping_records_later_record_wins(tmp_path):
    """makedumpfile -R writes records in file order: where two overlap, the later bytes stay."""
    from memmap_tui.sources.vmcore.flattened import FlatReader
    flat = gen.flatten([(0, b"A" * 100), (50, b"B" * 100), (20, b"C" * 10), (400, b"D" * 4)])
    path = tmp_path / "f.flat"
    path.write_bytes(flat)
    r = FlatReader(str(path))
    assert r.read(0, 150) == b"A" * 20 + b"C" * 10 + b"A" * 20 + b"B" * 100
    assert r.read(140, 100) == b"B" * 10          # stops at the gap: no invented zero bytes
    assert r.read(400, 10) == b"D" * 4 and r.logical_size == 404
    assert r.damage is None and r.end_marker


def test_verdict_naming_sweep_matches_a_per_address_reference():
    """check_policy names each byte of a diff by the first label covering it, in one sweep."""
    import random
    from memmap_tui.core.dump.verdict import _first_label
    from memmap_tui.core.ranges import RangeSet
    rnd = random.Random(7)
    for _ in range(200):
        spans = []
        for k in range(rnd.randint(1, 8)):
            for _ in range(rnd.randint(1, 3)):
                s = rnd.randrange(0, 60)
                spans.append((s, s + rnd.randrange(1, 20), k))
        diff = RangeSet((s, s + rnd.randrange(1, 15)) for s in rnd.sample(range(70), 5))
        spans.append((0, 100, 99))          # last resort, as "outside RAM" is
        got = {a: k for s, e, k in _first_label(diff.pairs, spans) for a in range(s, e)}
        want = {a: min(k for s, e, k in spans if s <= a < e)
                for s, e in diff.pairs for a in range(s, e)}
        assert got == want


def test_descriptor_pass_sums_by_chunk_span_not_per_descriptor(tmp_path, monkeypatch):
    """makedumpfile writes page data in descriptor order, so a chunk's data bytes come from
    two offsets; the exact column sum runs only for the last chunk (and partial queries).
    Figures still equal the generator's own sums."""
    from memmap_tui.sources.vmcore import kdump
    calls = {"n": 0}
    real = kdump.DescTable._exact

    def counting(self, buf, expected):
        calls["n"] += 1
        return real(self, buf, expected)

    monkeypatch.setattr(kdump.DescTable, "_exact", counting)
    max_mapnr = 1 << 20
    bm = b"\xff" * (max_mapnr // 8)
    bm2 = bytes([0x55]) * (max_mapnr // 8)               # 512 Ki descriptors = 128 chunks
    pieces, size, exp = gen.kdump_image(block_size=4096, max_mapnr=max_mapnr, bitmap1=bm,
                                        bitmap2=bm2, zero_every=3)
    path = tmp_path / "k"
    gen.write_sparse(str(path), b"", size, pieces)
    d = open_dump(path)
    assert calls["n"] == 1
    t = d.totals()
    assert t.descriptors == exp["descriptors"] == 1 << 19
    assert t.zero_pages == exp["zero"]
    assert t.on_disk_bytes == exp["data_bytes"] + 24 * exp["descriptors"]
    assert d.dump_size_bytes == exp["size"]
