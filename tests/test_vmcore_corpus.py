"""vmcore readers and accounting on the real corpus dumps.

Every expected figure comes from the files' own listings and the independent tools'
logs stored beside them: vmcore/readelf.txt (binutils readelf), vmcore/sizes.full-files.txt
and SHA256SUMS.full-files (the uncut files), boot/mdf-d31-kdump.log (makedumpfile's own
page counts), boot/README.md (what QEMU and makedumpfile wrote).
"""

from __future__ import annotations

import hashlib
import lzma
import re
import shutil
import subprocess

import pytest

from conftest import BOOT_IOMEM, CONSOLE_LOG, CORPUS, RSV_DTB, needs_corpus
from memmap_tui.core.dump import account_dump, check_policy
from memmap_tui.core.ranges import Range, RangeSet
from memmap_tui.inputs import Options, load
from memmap_tui.sources.vmcore import open_dump

pytestmark = needs_corpus

VM = CORPUS / "vmcore"
ELF_XZ = VM / "qemu-aarch64.elf.xz"
HEAD8K = VM / "qemu-aarch64.elf.head8k"
FLAT = VM / "qemu-aarch64.kdump-zlib.flat"
D31 = VM / "qemu-aarch64.d31.kdump.meta-only"
MDF_LOG = CORPUS / "boot/mdf-d31-kdump.log"


# -- the independent tools' figures ------------------------------------------------------

def full_sizes() -> dict[str, int]:
    out = {}
    for line in (VM / "sizes.full-files.txt").read_text().splitlines():
        parts = line.split()
        out[parts[-1]] = int(parts[4])
    return out


def readelf_qemu() -> dict:
    """The first listing in readelf.txt (the unmodified QEMU ELF)."""
    text = (VM / "readelf.txt").read_text().split("## readelf -h -l qemu-aarch64.d31.elf")[0]
    loads = re.findall(r"LOAD\s+(0x[0-9a-f]+) (0x[0-9a-f]+) (0x[0-9a-f]+)\s+(0x[0-9a-f]+) (0x[0-9a-f]+)", text)
    return {
        "loads": [tuple(int(v, 16) for v in m) for m in loads],   # offset vaddr paddr filesz memsz
        "prstatus": text.count("NT_PRSTATUS"),
        "ehsize": int(re.search(r"Size of this header:\s+(\d+)", text).group(1)),
        "phoff": int(re.search(r"Start of program headers:\s+(\d+)", text).group(1)),
        "vmcoreinfo_size": int(re.search(r"VMCOREINFO\s+(0x[0-9a-f]+)", text).group(1), 16),
    }


def readelf_d31_loads() -> list[tuple[int, ...]]:
    text = (VM / "readelf.txt").read_text().split("## readelf -h -l qemu-aarch64.d31.elf")[1]
    return [tuple(int(v, 16) for v in m) for m in
            re.findall(r"LOAD\s+(0x[0-9a-f]+) (0x[0-9a-f]+) (0x[0-9a-f]+)\s+(0x[0-9a-f]+) (0x[0-9a-f]+)", text)]


def mdf_counts() -> dict[str, int]:
    text = MDF_LOG.read_text()
    grab = lambda label: int(re.search(label + r"\s*:\s*0x([0-9a-f]+)", text).group(1), 16)
    vmci = dict(re.findall(r"^\s+([A-Z_()a-z0-9.]+)=(\S+)$", text, re.M))
    return {
        "original": grab("Original pages"),
        "zero": grab("Pages filled with zero"),
        "cache": grab("Non-private cache pages"),
        "private": grab("Private cache pages"),
        "user": grab("User process data pages"),
        "free": grab("Free pages"),
        "remaining": grab("Remaining pages"),
        "hole": grab("Memory Hole"),
        "total": grab("Total pages"),
        "max_mapnr": int(re.search(r"max_mapnr\s*:\s*([0-9a-f]+)", text).group(1), 16),
        "vmcoreinfo": vmci,
    }


# -- fixtures ---------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def qemu_elf_full(tmp_path_factory):
    """The real 1 GiB QEMU ELF, decompressed sparsely (64 KiB zero blocks are skipped)
    and checked against SHA256SUMS.full-files."""
    out = tmp_path_factory.mktemp("vmcore") / "vm.elf"
    h = hashlib.sha256()
    dec = lzma.LZMADecompressor()
    block = 1 << 16
    zero = bytes(block)
    pos = 0
    with open(ELF_XZ, "rb") as src, open(out, "wb") as dst:
        while not dec.eof:
            chunk = src.read(1 << 20)
            data = dec.decompress(chunk, max_length=1 << 22)
            while True:
                h.update(data)
                for k in range(0, len(data), block):
                    piece = data[k:k + block]
                    if piece != zero[:len(piece)]:
                        dst.seek(pos + k)
                        dst.write(piece)
                pos += len(data)
                if dec.eof or dec.needs_input:
                    break
                data = dec.decompress(b"", max_length=1 << 22)
            if not chunk and dec.needs_input:
                break
        dst.truncate(pos)
    sums = dict(reversed(line.split()) for line in (VM / "SHA256SUMS.full-files").read_text().splitlines())
    assert h.hexdigest() == sums["vm.elf"]
    return out


@pytest.fixture(scope="session")
def qemu_elf_rebuilt(tmp_path_factory):
    """Headers of the real file (head8k) + its real size, as a sparse file."""
    out = tmp_path_factory.mktemp("vmcore") / "vm-rebuilt.elf"
    out.write_bytes(HEAD8K.read_bytes())
    with open(out, "r+b") as f:
        f.truncate(full_sizes()["vm.elf"])
    return out


@pytest.fixture(scope="session")
def boot_mm():
    return load(Options(dtb=str(RSV_DTB), iomem=str(BOOT_IOMEM), dmesg=str(CONSOLE_LOG))).mm


# -- QEMU ELF ------------------------------------------------------------------------------------

def test_head8k_is_the_prefix_of_the_xz_file():
    dec = lzma.LZMADecompressor()
    with open(ELF_XZ, "rb") as f:
        first = dec.decompress(f.read(1 << 16), max_length=8192)
    assert first == HEAD8K.read_bytes()


@pytest.mark.parametrize("which", ["full", "rebuilt"])
def test_qemu_elf_matches_readelf(which, request):
    path = request.getfixturevalue("qemu_elf_full" if which == "full" else "qemu_elf_rebuilt")
    ref = readelf_qemu()
    d = open_dump(path)
    assert d.format == "elf" and d.endianness == "little" and d.machine == "AArch64" and d.arch == "arm64"
    assert [(s.offset, s.vaddr, s.paddr, s.filesz, s.memsz) for s in d.segments] == ref["loads"]
    assert d.covered == RangeSet([Range(0x40000000, 0x80000000)])
    assert d.present == d.covered
    assert d.kernel_image is None            # QEMU: one PT_LOAD, p_vaddr == p_paddr
    assert d.cpus == ref["prstatus"] == 2    # QEMU vCPUs (the guest onlined one)
    assert d.producer == "qemu"
    assert d.osrelease == mdf_counts()["vmcoreinfo"]["OSRELEASE"] == "6.1.0-56-arm64"
    assert d.page_size == 4096
    assert d.vmcoreinfo["NUMBER(PHYS_OFFSET)"] == mdf_counts()["vmcoreinfo"]["NUMBER(PHYS_OFFSET)"]
    assert d.vmcoreinfo["KERNELOFFSET"] == "291426e00000"
    assert d.dump_size_bytes == full_sizes()["vm.elf"] == d.file_size_bytes
    assert not [f for f in d.findings if f.code == "vmcore-cut"]
    t = d.totals()
    assert t.covered_bytes == t.present_bytes == t.on_disk_bytes == ref["loads"][0][3]
    assert d.metadata_bytes == full_sizes()["vm.elf"] - ref["loads"][0][3]


def test_qemu_elf_head8k_is_cut_and_says_where():
    d = open_dump(HEAD8K)
    cut = [f for f in d.findings if f.code == "vmcore-cut"]
    assert cut and "first missing offset 0x2000" in cut[0].message
    assert d.segments[0].memsz == 0x40000000      # headers still read in full


def test_our_phdrs_match_readelf_binary(qemu_elf_rebuilt):
    if shutil.which("readelf") is None:
        pytest.skip("readelf not installed")
    out = subprocess.run(["readelf", "-lW", str(qemu_elf_rebuilt)], capture_output=True, text=True).stdout
    rows = re.findall(r"^\s+LOAD\s+(0x\w+) (0x\w+) (0x\w+) (0x\w+) (0x\w+)", out, re.M)
    d = open_dump(qemu_elf_rebuilt)
    assert [(s.offset, s.vaddr, s.paddr, s.filesz, s.memsz) for s in d.segments] == \
        [tuple(int(v, 16) for v in r) for r in rows]


# -- makedumpfile -d 31 kdump (cut after the descriptors) --------------------------------------

def test_d31_kdump_counts_match_makedumpfile_log():
    mdf = mdf_counts()
    d = open_dump(D31)
    assert d.format == "kdump" and d.header_version == 6 and d.dump_level == 31
    assert d.block_size == d.page_size == 4096 and d.compression == "zlib"
    assert d.max_mapnr == mdf["max_mapnr"] == mdf["total"]
    assert d.producer == "makedumpfile" and d.osrelease == "6.1.0-56-arm64" and d.cpus == 2
    t = d.totals()
    page = 4096
    # 1st bitmap: every RAM page ("Original pages"); the memory hole is pfns below RAM
    assert t.covered_bytes // page == mdf["original"]
    assert d.max_mapnr - t.covered_bytes // page == mdf["hole"]
    # 2nd bitmap keeps zero pages (they share one zero-page block): remaining + zero
    assert t.descriptors == mdf["remaining"] + mdf["zero"]
    assert t.zero_pages == mdf["zero"]
    assert t.descriptors - t.zero_pages == mdf["remaining"] == 0x3B13
    assert t.excluded_pages == mdf["cache"] + mdf["private"] + mdf["user"] + mdf["free"]
    assert t.present_bytes // page == t.descriptors
    # the data the descriptors describe ends exactly where the uncut file ends
    assert d.dump_size_bytes == full_sizes()["qemu-aarch64.d31.kdump"] == 18_675_118
    assert d.metadata_bytes + t.on_disk_bytes == d.dump_size_bytes


def test_d31_kdump_cut_warning_names_first_missing_offset():
    d = open_dump(D31)
    cut = [f.message for f in d.findings if f.code == "vmcore-cut"]
    assert len(cut) == 1 and f"first missing offset {D31.stat().st_size:#x}" in cut[0]


def test_d31_excluded_pages_sit_in_ram_not_in_carveouts(boot_mm):
    d = open_dump(D31)
    acc = account_dump(boot_mm, d)
    assert acc.balanced
    # PageReserved carveouts are never filtered by -d 31 (domain.md §5): all present
    for rid in ("/reserved-memory/gpu-mem@50000000", "/reserved-memory/firmware@4c000000", "crashkernel"):
        s = acc.regions[rid]
        assert s.covered_bytes == s.present_bytes == boot_mm.region(rid).ranges.size_bytes
        assert s.excluded_pages == 0
    # the crash kernel memory of an idle capture reservation is zero-filled: 24 B per page
    ck = acc.regions["crashkernel"]
    assert ck.zero_pages == ck.descriptors and ck.on_disk_bytes == 24 * ck.descriptors


# -- QEMU flattened kdump ------------------------------------------------------------------------

def test_flat_kdump_header_and_sizes():
    d = open_dump(FLAT)
    assert d.format == "flattened-kdump" and d.producer == "qemu"
    assert d.arch == "arm64"          # utsname says "Unknown"; VMCOREINFO has kimage_voffset
    assert d.block_size == 65536 and d.page_size == 4096          # boot/README.md
    assert d.max_mapnr == 0x8000 and d.dump_level == 1 and d.compression == "zlib"
    assert d.covered == RangeSet([Range(0x40000000, 0x80000000)])
    assert d.file_size_bytes == full_sizes()["qemu-aarch64.kdump-zlib"] == 17_319_813
    # the reassembled image size = what `makedumpfile -R` wrote
    assert d.dump_size_bytes == full_sizes()["qemu-aarch64.kdump-zlib.rearranged"] == 17_439_605
    t = d.totals()
    assert t.covered_bytes == t.present_bytes == 1 << 30          # QEMU -z: no filtering
    assert t.descriptors == (1 << 30) // 65536
    assert d.metadata_bytes + t.on_disk_bytes == d.dump_size_bytes
    assert not [f for f in d.findings if f.level == "warning"]


def test_flat_reader_reads_only_metadata_records(monkeypatch):
    """Page data records are never read: count bytes pread from the file."""
    import os
    import memmap_tui.sources.vmcore.flattened as flat
    seen = []
    real = os.pread
    monkeypatch.setattr(flat.os, "pread", lambda fd, n, off: seen.append(n) or real(fd, n, off))
    open_dump(FLAT)
    assert sum(seen) < 700_000          # headers+bitmaps+descriptors ≈ 0x60000 + record headers
    assert FLAT.stat().st_size > 17_000_000


# -- the policy check on the real boot --------------------------------------------------------------

@pytest.mark.parametrize("which", ["rebuilt", "flat", "d31"])
def test_policy_check_names_every_difference(which, boot_mm, request):
    path = {"rebuilt": None, "flat": FLAT, "d31": D31}[which] or request.getfixturevalue("qemu_elf_rebuilt")
    d = open_dump(path)
    v = check_policy(boot_mm, d)
    assert v.matches == []                                    # a QEMU full dump matches no policy
    assert v.closest == "today"
    today = v.diffs["today"]
    assert not today.missing                                  # everything a vmcore holds is there
    named = {n.id or n.name for n in today.extra_named}
    assert {"/reserved-memory/firmware@4c000000", "/reserved-memory/dsp-mem@5c000000",
            "/reserved-memory/video-pool", "crashkernel"} <= named
    assert all("in the dump but not in a kdump vmcore" in n.why for n in today.extra_named)
    # the 2nd dsp-mem reg entry (0x5d000000, 1 MiB) is named after its node, not "reserved"
    second = [n for n in today.extra_named if n.range.start == 0x5D000000]
    assert second and second[0].id == "/reserved-memory/dsp-mem@5c000000"
    # every extra byte is accounted for by a named piece, and the sizes add up
    assert sum(n.range.size_bytes for n in today.extra_named) == today.extra.size_bytes
    assert today.extra.size_bytes == (4 + 1 + 1 + 16 + 128) << 20
    assert "in the dump but not in a kdump vmcore" in v.text and "crashkernel" in v.text
    # no-dump-v1 also drops gpu-mem (tagged linux,no-dump) and the /memreserve/ entry
    v1 = {n.id for n in v.diffs["no-dump-v1"].extra_named}
    assert "/reserved-memory/gpu-mem@50000000" in v1 and "/memreserve/0" in v1


def test_account_totals_equal_file_totals_for_every_corpus_dump(boot_mm, qemu_elf_rebuilt):
    for path in (qemu_elf_rebuilt, FLAT, D31):
        d = open_dump(path)
        acc = account_dump(boot_mm, d)
        assert acc.totals == acc.file_totals, path
        assert sum(r.stats.covered_bytes for r in acc.rows if r.kind == "ram") == 1 << 30


# -- makedumpfile -E (rebuilt from its readelf listing; the notes are the QEMU dump's) ---------

@pytest.fixture(scope="session")
def d31_elf_rebuilt(tmp_path_factory):
    """Sparse ELF with exactly the program headers readelf.txt lists for qemu-aarch64.d31.elf
    (e_phoff 64, e_ehsize 8 and no sections, as listed) and the QEMU dump's notes, which
    makedumpfile copies."""
    import struct
    text = (VM / "readelf.txt").read_text().split("## readelf -h -l qemu-aarch64.d31.elf")[1]
    note_off, note_size = (int(v, 16) for v in re.search(r"NOTE\s+(0x\w+) 0x\w+ 0x\w+\s+(0x\w+)", text).groups())
    loads = readelf_d31_loads()
    head = HEAD8K.read_bytes()
    notes = head[0x130:0x130 + note_size]            # the QEMU ELF's PT_NOTE (readelf.txt)
    phnum = 1 + len(loads)
    ehdr = (b"\x7fELF\x02\x01\x01" + bytes(9)
            + struct.pack("<HHIQQQIHHHHHH", 4, 183, 1, 0, 64, 0, 0, 8, 56, phnum, 64, 0, 0))
    ph = struct.pack("<IIQQQQQQ", 4, 0, note_off, 0, 0, note_size, note_size, 0)
    for off, va, pa, filesz, memsz in loads:
        ph += struct.pack("<IIQQQQQQ", 1, 0, off, va, pa, filesz, memsz, 0)
    out = tmp_path_factory.mktemp("vmcore") / "d31.elf"
    with open(out, "wb") as f:
        f.write(ehdr + ph)
        f.seek(note_off)
        f.write(notes)
        f.truncate(full_sizes()["qemu-aarch64.d31.elf"])
    return out


def test_makedumpfile_elf_pages_match_its_log(d31_elf_rebuilt, boot_mm):
    text = (CORPUS / "boot/mdf-d31-elf.log").read_text()
    in_elf = [int(v, 16) for v in re.findall(r"in ELF format : 0x([0-9a-f]+)", text)]
    excluded_elf, remaining_elf = in_elf
    d = open_dump(d31_elf_rebuilt)
    assert d.producer == "makedumpfile" and d.cpus == 2 and d.osrelease == "6.1.0-56-arm64"
    t = d.totals()
    assert t.covered_bytes == 1 << 30
    assert t.present_bytes // 4096 == remaining_elf == 0x3F0C     # runs < 256 excluded pages are written
    assert t.excluded_pages == excluded_elf == 0x3C0F4
    assert d.dump_size_bytes == full_sizes()["qemu-aarch64.d31.elf"] == d.file_size_bytes
    assert not [f for f in d.findings if f.code == "vmcore-cut"]
    acc = account_dump(boot_mm, d)
    assert acc.balanced
    # ELF mode drops zero pages: the idle crash kernel reservation is covered, barely present
    ck = acc.regions["crashkernel"]
    assert ck.covered_bytes == 128 << 20 and ck.present_bytes < ck.covered_bytes // 8


# -- a kernel-made vmcore: PT_LOADs as each policy predicts (generated) ------------------------

@pytest.mark.parametrize("policy", ["today", "no-dump-v1", "exclude-reserved"])
def test_policy_check_recognises_a_kernel_vmcore_of_each_policy(policy, boot_mm, tmp_path):
    import importlib.util
    from pathlib import Path
    from memmap_tui.core.policy import evaluate
    spec = importlib.util.spec_from_file_location(
        "gen_dumps", Path(__file__).resolve().parent.parent / "bench" / "gen_dumps.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    linear = (0xFFFF000000000000 - 0x40000000) & ((1 << 64) - 1)
    kimage_voffset = 0xFFFFA913EEC00000
    dumped = evaluate(boot_mm)[policy].dumped
    segs = [(0x40210000, 0x40210000 + kimage_voffset, 0x1C00000, 0x1C00000)]   # kernel image first
    segs += [(r.start, (r.start + linear) & ((1 << 64) - 1), r.size_bytes, r.size_bytes) for r in dumped]
    vmci = gen.vmcoreinfo_text("6.1.0-56-arm64", 4096, kimage_voffset=hex(kimage_voffset))
    head, size = gen.elf_core(segs, notes=gen.core_notes(1, vmci))
    path = tmp_path / "vmcore"
    gen.write_sparse(str(path), head, size)
    d = open_dump(path)
    assert d.kernel_image == Range(0x40210000, 0x40210000 + 0x1C00000)
    assert d.producer == "kernel"
    v = check_policy(boot_mm, d)
    assert policy in v.matches and v.text.startswith("matches")
    others = [p for p in ("today", "no-dump-v1", "exclude-reserved") if p != policy]
    for p in others:
        if evaluate(boot_mm)[p].dumped != dumped:
            assert p not in v.matches
            diff = v.diffs[p]
            assert diff.extra_named or diff.missing_named
    if policy == "exclude-reserved":
        # v2+ drops gpu-mem: a today-policy expectation names it as predicted-but-absent
        missing = {n.id for n in v.diffs["today"].missing_named}
        assert "/reserved-memory/gpu-mem@50000000" in missing
