"""vmcore readers on generated dumps (bench/gen_dumps.py): every format variant, against
readelf and against a slow per-bit reference count written independently here."""

from __future__ import annotations

import importlib.util
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from memmap_tui.core.dump import Bitmap, account_dump
from memmap_tui.core.model import MemoryMap
from memmap_tui.core.ranges import Range
from memmap_tui.sources.errors import InputError
from memmap_tui.sources.vmcore import open_dump

_spec = importlib.util.spec_from_file_location(
    "gen_dumps", Path(__file__).resolve().parent.parent / "bench" / "gen_dumps.py")
gen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen)

needs_readelf = pytest.mark.skipif(shutil.which("readelf") is None, reason="readelf not installed")
MASK = (1 << 64) - 1


def readelf_loads(path) -> list[tuple[int, ...]]:
    out = subprocess.run(["readelf", "-lW", str(path)], capture_output=True, text=True).stdout
    return [tuple(int(v, 16) for v in m) for m in
            re.findall(r"^\s+LOAD\s+(0x\w+) (0x\w+) (0x\w+) (0x\w+) (0x\w+)", out, re.M)]


def arm64_segments(n=5, *, filtered=False):
    linear = (0xFFFF000000000000 - 0x40000000) & MASK
    segs = [(0x40200000, 0xFFFF800008200000, 0x1800000, 0x1800000)]    # kernel image
    pa = 0x40000000
    for k in range(n):
        size = 0x4000000
        filesz = size // 2 if filtered and k % 2 else size
        segs.append((pa, (pa + linear) & MASK, filesz, size))
        pa += size + 0x200000
    return segs


# -- ELF -----------------------------------------------------------------------------------------

@needs_readelf
@pytest.mark.parametrize("endian", ["<", ">"])
@pytest.mark.parametrize("elf32", [False, True])
@pytest.mark.parametrize("pn_xnum", [False, True])
def test_elf_variants_match_readelf(tmp_path, endian, elf32, pn_xnum):
    if elf32:
        segs = [(0x80000000 + k * 0x1000000, 0xC0000000 + k * 0x1000000, 0x800000, 0x1000000) for k in range(4)]
        machine = 40
    else:
        segs = arm64_segments(filtered=True)
        machine = 183
    vmci = gen.vmcoreinfo_text(pagesize=4096, kimage_voffset=hex((0xFFFF800008200000 - 0x40200000) & MASK))
    head, size = gen.elf_core(segs, notes=gen.core_notes(3, vmci, endian), endian=endian,
                              machine=machine, elf32=elf32, pn_xnum=pn_xnum)
    path = tmp_path / "core"
    gen.write_sparse(str(path), head, size)
    d = open_dump(path)
    assert d.endianness == ("little" if endian == "<" else "big")
    assert d.cpus == 3 and d.osrelease == "6.1.0-synthetic"
    assert [(s.offset, s.vaddr, s.paddr, s.filesz, s.memsz) for s in d.segments] == readelf_loads(path)
    assert d.dump_size_bytes == size == d.file_size_bytes
    if not elf32:
        # the kernel-image PT_LOAD is flagged and its bytes counted once
        assert d.kernel_image == Range(0x40200000, 0x41A00000)
        assert d.covered.size_bytes == sum(s[3] for s in segs[1:])
        assert d.covered_ram == d.covered
        # makedumpfile -E: p_filesz < p_memsz -> the tail is absent
        t = d.totals()
        assert t.present_bytes == sum(s[2] for s in segs[1:])
        assert t.on_disk_bytes == sum(s[2] for s in segs)          # the image costs twice on disk
        assert t.excluded_pages == (t.covered_bytes - t.present_bytes) // 4096


def test_elf_accounting_partition_sums_to_file_totals(tmp_path):
    segs = arm64_segments(6, filtered=True)
    head, size = gen.elf_core(segs, notes=gen.core_notes(1, gen.vmcoreinfo_text()))
    path = tmp_path / "core"
    gen.write_sparse(str(path), head, size)
    d = open_dump(path)
    mm = MemoryMap()   # dump-only: RAM from the dump
    acc = account_dump(mm, d)
    assert acc.totals == acc.file_totals
    assert [r.kind for r in acc.rows].count("ram") == 6


def test_elf_not_a_core_and_garbage(tmp_path):
    p = tmp_path / "x"
    p.write_bytes(b"\x7fELF\x02\x01\x01" + bytes(9) + struct.pack("<HH", 2, 62) + bytes(60))
    with pytest.raises(InputError, match="not a core"):
        open_dump(p)
    p.write_bytes(b"hello world, not a dump at all")
    with pytest.raises(InputError, match="not a vmcore"):
        open_dump(p)
    p.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        open_dump(p)
    with pytest.raises(InputError):
        open_dump(tmp_path / "missing")


# -- kdump-compressed --------------------------------------------------------------------------

def ref_count(bm: bytes, lo: int, hi: int) -> int:
    """Independent slow reference: one bit at a time."""
    return sum(1 for p in range(lo, hi) if p < len(bm) * 8 and bm[p >> 3] >> (p & 7) & 1)


@given(st.binary(min_size=1, max_size=300), st.integers(0, 2400), st.integers(0, 2400))
@settings(max_examples=200, deadline=None)
def test_bitmap_rank_matches_per_bit_reference(data, a, b):
    lo, hi = min(a, b), max(a, b)
    bm = Bitmap(data)
    old_chunk, Bitmap.CHUNK = Bitmap.CHUNK, 16    # exercise chunk edges on small inputs
    try:
        small = Bitmap(data)
    finally:
        Bitmap.CHUNK = old_chunk
    assert bm.count(lo, hi) == small.count(lo, hi) == ref_count(data, lo, min(hi, len(data) * 8))
    runs = bm.runs()
    assert sum(e - s for s, e in runs) == ref_count(data, 0, len(data) * 8)


def make_kdump(tmp_path, name="k.kdump", *, block_size=4096, max_mapnr=4096, seed=1, zero_every=3,
               endian="<", header_version=6, signature=b"KDUMP   ", single_bitmap=False,
               split=None, status=1, page_size=None, flat=False, chunk=None, reverse=False):
    import random
    rnd = random.Random(seed)
    nbytes = -(-max_mapnr // 8)
    bm1 = bytearray(rnd.choice([0x00, 0xFF, 0xFF, 0xFF, rnd.randrange(256)]) for _ in range(nbytes))
    bm2 = bytes(b & rnd.randrange(256) for b in bm1)
    if max_mapnr % 8:
        bm1[-1] &= (1 << (max_mapnr % 8)) - 1
        bm2 = bm2[:-1] + bytes([bm2[-1] & bm1[-1]])
    pieces, size, exp = gen.kdump_image(block_size=block_size, max_mapnr=max_mapnr, bitmap1=bytes(bm1),
                                        bitmap2=bm2, zero_every=zero_every, endian=endian,
                                        header_version=header_version, signature=signature,
                                        single_bitmap=single_bitmap, split=split, status=status,
                                        page_size=page_size)
    path = tmp_path / name
    if flat:
        path.write_bytes(gen.flatten(pieces, chunk=chunk, reverse=reverse))
    else:
        path.write_bytes(gen.assemble(pieces, size))
    return path, bytes(bm1), (bytes(bm1) if single_bitmap else bm2), exp


@pytest.mark.parametrize("endian", ["<", ">"])
@pytest.mark.parametrize("block_size,page_size", [(4096, 4096), (65536, 4096), (16384, 16384)])
def test_kdump_counts_match_reference(tmp_path, endian, block_size, page_size):
    path, bm1, bm2, exp = make_kdump(tmp_path, block_size=block_size, page_size=page_size,
                                     endian=endian, max_mapnr=3001)
    d = open_dump(path)
    assert d.endianness == ("little" if endian == "<" else "big")
    assert d.block_size == block_size and d.page_size == page_size and d.cpus == 2
    t = d.totals()
    ratio = block_size // page_size
    assert t.covered_bytes == ref_count(bm1, 0, 3001) * block_size
    assert t.present_bytes == ref_count(bm2, 0, 3001) * block_size
    assert t.descriptors == exp["descriptors"]
    assert t.zero_pages == exp["zero"] * ratio
    assert t.on_disk_bytes == exp["data_bytes"] + 24 * exp["descriptors"]
    assert d.dump_size_bytes == exp["size"]
    # arbitrary, unaligned ranges: covered bytes from the per-bit reference
    for a, b in [(0, 1), (block_size // 2, 7 * block_size + 5), (100 * block_size + 1, 2000 * block_size - 3)]:
        (s,) = d.stats([Range(a, b)])
        want = sum(min(b, (p + 1) * block_size) - max(a, p * block_size)
                   for p in range(a // block_size, -(-b // block_size)) if ref_count(bm1, p, p + 1))
        assert s.covered_bytes == want


@pytest.mark.parametrize("hv", [1, 2, 3, 4, 5, 6])
def test_kdump_header_versions(tmp_path, hv):
    path, bm1, bm2, exp = make_kdump(tmp_path, header_version=hv, max_mapnr=2048)
    d = open_dump(path)
    assert d.header_version == hv
    assert d.totals().descriptors == exp["descriptors"]
    # VMCOREINFO and notes live in sub-header fields of version 3 and 4
    assert bool(d.vmcoreinfo) == (hv >= 3)
    assert d.cpus == 2      # NT_PRSTATUS notes (v4+) or nr_cpus


def test_diskdump_single_bitmap(tmp_path):
    path, bm1, _bm2, exp = make_kdump(tmp_path, signature=b"DISKDUMP", single_bitmap=True, max_mapnr=2048)
    d = open_dump(path)
    assert d.format == "diskdump"
    t = d.totals()
    assert t.present_bytes == t.covered_bytes == ref_count(bm1, 0, 2048) * 4096
    assert t.descriptors == exp["descriptors"]


def test_kdump_split_file(tmp_path):
    path, bm1, bm2, exp = make_kdump(tmp_path, split=(1024, 3072), max_mapnr=4096)
    d = open_dump(path)
    assert d.split == Range(1024 * 4096, 3072 * 4096)
    t = d.totals()
    assert t.descriptors == exp["descriptors"] == ref_count(bm2, 1024, 3072)
    assert any(f.code == "vmcore-split" for f in d.findings)


def test_kdump_incomplete_flag(tmp_path):
    path, *_ = make_kdump(tmp_path, status=1 | 0x8)
    d = open_dump(path)
    assert d.incomplete and any(f.code == "vmcore-incomplete" for f in d.findings)


@pytest.mark.parametrize("chunk,reverse", [(None, False), (977, False), (4096, True)])
@pytest.mark.parametrize("endian", ["<", ">"])
def test_flattened_kdump_equals_plain(tmp_path, chunk, reverse, endian):
    plain, *_ = make_kdump(tmp_path, "p.kdump", endian=endian, block_size=65536, page_size=4096)
    flat, *_ = make_kdump(tmp_path, "f.flat", endian=endian, block_size=65536, page_size=4096,
                          flat=True, chunk=chunk, reverse=reverse)
    a, b = open_dump(plain), open_dump(flat)
    assert b.format == "flattened-kdump"
    assert a.totals() == b.totals() and a.covered == b.covered
    assert a.dump_size_bytes == b.dump_size_bytes
    rs = [Range(0, 1 << 20), Range(12345, 98765432)]
    assert a.stats(rs) == b.stats(rs)


def test_flattened_elf(tmp_path):
    segs = arm64_segments(3)
    head, size = gen.elf_core(segs, notes=gen.core_notes(2, gen.vmcoreinfo_text()))
    path = tmp_path / "e.flat"
    path.write_bytes(gen.flatten([(0, head)], chunk=100))
    d = open_dump(path)
    assert d.format == "flattened-elf" and d.cpus == 2 and len(d.segments) == 4
    assert any("first missing offset" in f.message for f in d.findings)   # data records absent


# -- cut files and fuzzing: a result or InputError, never another exception ------------------------

def _open_ok(path) -> None:
    try:
        d = open_dump(path)
    except InputError as e:
        assert str(e).startswith(str(path))
        assert "\n" not in str(e)
        return
    d.totals()
    d.stats([Range(0, 1 << 32)])
    account_dump(MemoryMap(), d)


@pytest.mark.parametrize("kind", ["elf", "kdump", "flat-kdump", "flat-elf"])
def test_every_prefix_gives_result_or_clean_error(tmp_path, kind):
    if kind in ("elf", "flat-elf"):
        head, size = gen.elf_core(arm64_segments(3), notes=gen.core_notes(2, gen.vmcoreinfo_text()))
        full = head if kind == "elf" else gen.flatten([(0, head)], chunk=333)
    else:
        path, *_ = make_kdump(tmp_path, "src", max_mapnr=2048, flat=kind == "flat-kdump", chunk=1000)
        full = path.read_bytes()
    cuts = sorted(set(list(range(0, 600, 7)) + list(range(0, len(full), max(1, len(full) // 150)))))
    p = tmp_path / "cut"
    for n in cuts:
        p.write_bytes(full[:n])
        _open_ok(p)
        if kind == "kdump" and 464 <= n < len(full):
            d = open_dump(p)          # header intact: what can be read is shown, with a warning
            assert any(f.code == "vmcore-cut" and "first missing offset" in f.message
                       for f in d.findings), n
        if kind == "elf" and 64 + 56 * 5 <= n:
            d = open_dump(p)
            assert len(d.segments) == 4


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    t = tmp_path_factory.mktemp("seeds")
    head, _ = gen.elf_core(arm64_segments(2), notes=gen.core_notes(1, gen.vmcoreinfo_text()))
    kd, *_ = make_kdump(t, "k", max_mapnr=1024)
    fl, *_ = make_kdump(t, "f", max_mapnr=1024, flat=True, chunk=512)
    return {"elf": head, "kdump": kd.read_bytes()[:20000], "flat": fl.read_bytes()[:12000]}


@given(kind=st.sampled_from(["elf", "kdump", "flat"]),
       edits=st.lists(st.tuples(st.integers(0, 1 << 14), st.integers(0, 255)), min_size=1, max_size=12),
       cut=st.integers(0, 20000))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_fuzzed_headers_never_traceback(seeds, tmp_path, kind, edits, cut):
    data = bytearray(seeds[kind])
    for pos, val in edits:
        if kind == "kdump":
            pos %= 1200 if pos % 2 else len(data)    # favour the header fields
        elif kind == "flat":
            pos = (4096 + pos) % len(data) if pos % 3 else pos % 64
        else:
            pos %= len(data)
        data[pos] = val
    p = tmp_path / f"fuzz-{kind}"
    p.write_bytes(bytes(data[:cut]) if cut < len(data) else bytes(data))
    _open_ok(p)


def test_incomplete_dump_unwritten_descriptors_are_unknown_not_zero(tmp_path):
    path, bm1, bm2, exp = make_kdump(tmp_path, status=1 | 0x8, max_mapnr=4096, zero_every=0)
    n = exp["descriptors"]
    keep = n // 2
    data = bytearray(path.read_bytes())
    start = exp["desc_off"] + 24 * keep
    data[start:exp["desc_off"] + 24 * n] = bytes(24 * (n - keep))   # never written
    path.write_bytes(bytes(data))
    d = open_dump(path)
    assert d.incomplete
    assert d.totals().on_disk_bytes is None
    # the first dumped pfns, whose descriptors were written, still have exact figures
    first = next(p for p in range(4096) if ref_count(bm2, p, p + 1))
    (s,) = d.stats([Range(0, (first + 1) * 4096)])
    assert s.on_disk_bytes is not None and s.descriptors == 1


class _BytesReader:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self, offset: int, size: int) -> bytes:
        return self.data[offset:offset + size]


@pytest.mark.parametrize("incomplete,cut", [(False, 0), (True, 0), (False, 1000)])
def test_desc_table_queries_equal_an_exact_sum_of_the_slice(incomplete, cut):
    """Range queries (prefix per chunk + cached per-descriptor prefixes inside chunks)
    give what summing the slice's columns gives, for spans inside, across and past chunks,
    past the end of a cut file, and with unwritten (INCOMPLETE) descriptors."""
    import random
    from memmap_tui.sources.vmcore.kdump import DescTable
    rnd = random.Random(7)
    block, zero_off, n = 4096, 1 << 20, 3 * DescTable.CHUNK + 123
    recs, off = [], zero_off + block
    for _ in range(n):
        kind = rnd.random()
        if kind < 0.3:
            recs.append(struct.pack("<qIIQ", zero_off, block, 0, 0))
        elif kind < 0.35 and incomplete:
            recs.append(bytes(24))
        else:
            size = rnd.randrange(1, block + 1)
            recs.append(struct.pack("<qIIQ", off, size, 1, 0))
            off += size
    data = b"".join(recs)
    data = data[:len(data) - cut * 24 - 5] if cut else data
    table = DescTable(_BytesReader(data), 0, n, zero_off, block, "little", incomplete=incomplete)
    ref = DescTable(_BytesReader(data), 0, n, zero_off, block, "little", incomplete=incomplete)
    for _ in range(400):
        i = rnd.randrange(n + 1)
        j = rnd.choice((i + rnd.randrange(40), rnd.randrange(i, n + 1)))
        j = min(j, n)
        got = table(i, j)
        want = ref._exact(data[i * 24:j * 24], j - i) if j > i else (0, 0, 0)
        assert (got.data_bytes, got.zero, got.missing) == want, (i, j)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(min_size=0, max_size=3000), st.lists(st.integers(-20, 26000), max_size=300))
def test_bitmap_ranks_in_bulk_equal_one_by_one(data, bits):
    ref = Bitmap(data)
    # small chunks: many chunk edges, and the per-byte path taken at 4 queries per chunk
    small = type("Small", (Bitmap,), {"CHUNK": 256, "MANY": 4})(data)
    bits = sorted(bits)
    assert small.ranks(bits) == [ref.rank(b) for b in bits]
    assert ref.ranks(bits) == [ref.rank(b) for b in bits]
    # a cut file: the bitmap claims 500 more bytes than the source has (they read as clear)
    cut = type("Small", (Bitmap,), {"CHUNK": 256, "MANY": 4})(
        lambda off, n: data[off:off + n], size_bytes=len(data) + 500)
    assert cut.ranks(bits) == [cut.rank(b) for b in bits] == [ref.rank(min(b, len(data) * 8)) for b in bits]


@pytest.mark.parametrize("split", [None, (700, 2900)])
def test_bulk_range_stats_equal_one_range_at_a_time(tmp_path, split):
    """≥ 256 block-aligned ranges take the bulk path (ranks in one pass); each must equal
    the figures of that range asked alone — in a --split file's descriptor window too."""
    import random
    path, *_ = make_kdump(tmp_path, max_mapnr=4000, seed=3, split=split)
    d = open_dump(path)
    rnd = random.Random(5)
    cuts = sorted(rnd.sample(range(1, 4100), 600))
    ranges = [Range(a * 4096, b * 4096) for a, b in zip([0] + cuts, cuts)]
    bulk = d.stats(ranges)
    assert bulk == [d.stats([r])[0] for r in ranges]
    assert sum(s.present_bytes for s in bulk) == d.totals().present_bytes
