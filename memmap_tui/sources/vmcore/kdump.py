"""makedumpfile kdump-compressed dumps ("KDUMP   " and the older "DISKDUMP").

Layout (domain.md §4.2, LP64 writers): block 0 = disk_dump_header, then sub_hdr_size
blocks of kdump_sub_header (+ VMCOREINFO, notes), bitmap_blocks blocks of bitmaps
(1st = valid pfns, 2nd = dumped pfns; a single bitmap when there is room for only
one, as crash's dump_is_partial() decides), then one 24-byte page_desc_t per set bit
of the 2nd bitmap, then page data. Bitmaps are read once in bulk; descriptors are
scanned in bulk (array slices, no per-descriptor Python work) into per-chunk prefix
sums so any range query afterwards reads at most two partial chunks.
"""

from __future__ import annotations

import struct
import sys
from array import array

from memmap_tui.core.dump import (PAGE_DESC_BYTES, Bitmap, BitmapIndex, DescStats, DumpLayout)
from memmap_tui.core.model import Level
from memmap_tui.core.ranges import Range, RangeSet
from memmap_tui.sources.errors import InputError
from memmap_tui.sources.vmcore.reader import Reader
from memmap_tui.sources.vmcore.vmcoreinfo import (UTS_ARCH, arch_from_vmcoreinfo, count_prstatus,
                                                  parse_notes, parse_vmcoreinfo, vmcoreinfo_int)

KDUMP_SIG = b"KDUMP   "
DISKDUMP_SIG = b"DISKDUMP"
HEADER_BYTES = 464
SUB_HEADER_BYTES = 104
STATUS_BITS = {0x1: "zlib", 0x2: "lzo", 0x4: "snappy", 0x20: "zstd"}
DUMP_DH_COMPRESSED_INCOMPLETE = 0x8
DUMP_DH_EXCLUDED_VMEMMAP = 0x10
MAX_BITMAP_BYTES = 1 << 34        # 2 × 8 GiB: 64 PiB of 4 KiB pages; anything bigger is damage
MAX_META_BYTES = 1 << 26          # VMCOREINFO / notes larger than 64 MiB are damage


def is_kdump(head: bytes) -> bool:
    return head[:8] in (KDUMP_SIG, DISKDUMP_SIG)


def _plausible(hv: int, bs: int) -> bool:
    return 0 < hv < 64 and 512 <= bs <= (1 << 24) and bs & (bs - 1) == 0


def read_kdump(reader: Reader, fmt: str = "kdump") -> DumpLayout:
    path = reader.path
    head = reader.read(0, HEADER_BYTES)
    if not is_kdump(head):
        raise InputError(path, "not a kdump-compressed file (no KDUMP/DISKDUMP signature)")
    if len(head) < HEADER_BYTES:
        raise InputError(path, f"disk_dump_header cut: first missing offset {len(head):#x}")
    diskdump = head[:8] == DISKDUMP_SIG
    for e in ("<", ">"):
        hv = struct.unpack_from(e + "i", head, 8)[0]
        bs = struct.unpack_from(e + "i", head, 428)[0]
        if _plausible(hv, bs):
            break
    else:
        raise InputError(path, "implausible header_version/block_size under either byte order "
                               "(damaged header, or a 32-bit writer's layout)")
    endian = "little" if e == "<" else "big"
    uts = [head[12 + 65 * k:12 + 65 * (k + 1)].split(b"\0", 1)[0].decode("ascii", "replace")
           for k in range(6)]
    (status, block_size, sub_hdr_size, bitmap_blocks, max_mapnr32, _total_ram, _dev,
     _written, _cur_cpu, nr_cpus) = struct.unpack_from(e + "iiiiIIIIii", head, 424)
    fmt_name = fmt if not diskdump else fmt.replace("kdump", "diskdump")
    layout = DumpLayout(path=path, format=fmt_name, page_size=block_size, block_size=block_size,
                        endianness=endian, machine=uts[4] or None,
                        arch=UTS_ARCH.get(uts[4]), file_size_bytes=reader.file_size_bytes)
    layout.header_version = hv
    layout.incomplete = bool(status & DUMP_DH_COMPRESSED_INCOMPLETE)
    comp = [name for bit, name in STATUS_BITS.items() if status & bit]
    layout.compression = "+".join(comp) or None
    if layout.incomplete:
        layout.warn("vmcore-incomplete", "makedumpfile marked the dump INCOMPLETE: writing stopped "
                                          "early; pages without a written descriptor are missing")
    if sub_hdr_size < 0 or bitmap_blocks <= 0:
        raise InputError(path, f"bad header: sub_hdr_size {sub_hdr_size}, bitmap_blocks {bitmap_blocks}")
    if bitmap_blocks * block_size > MAX_BITMAP_BYTES:
        raise InputError(path, f"bad header: bitmap_blocks {bitmap_blocks} × {block_size} B is implausible")

    # -- sub-header (KDUMP only) --------------------------------------------------------
    max_mapnr = max_mapnr32
    split_pfns = None
    sub = {}
    if not diskdump and sub_hdr_size > 0:
        raw = reader.read(block_size, SUB_HEADER_BYTES)
        if len(raw) < SUB_HEADER_BYTES:
            raw = raw + bytes(SUB_HEADER_BYTES - len(raw))
            layout.warn("vmcore-cut", f"sub-header cut: first missing offset {reader.available(block_size, SUB_HEADER_BYTES) + block_size:#x}")
        vals = struct.unpack(e + "QiiQQQQQQQQQQQ", raw)
        names = ("phys_base", "dump_level", "split", "start_pfn", "end_pfn", "offset_vmcoreinfo",
                 "size_vmcoreinfo", "offset_note", "size_note", "offset_eraseinfo", "size_eraseinfo",
                 "start_pfn_64", "end_pfn_64", "max_mapnr_64")
        min_ver = (0, 1, 2, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 6)
        sub = {n: v for n, v, mv in zip(names, vals, min_ver) if hv >= mv}
        layout.dump_level = sub.get("dump_level")
        if sub.get("max_mapnr_64"):
            max_mapnr = sub["max_mapnr_64"]
        if sub.get("split"):
            lo = sub.get("start_pfn_64") or sub.get("start_pfn", 0)
            hi = sub.get("end_pfn_64") or sub.get("end_pfn", 0)
            split_pfns = (lo, hi)
            layout.split = Range(lo * block_size, max(lo, hi) * block_size)
            layout.warn("vmcore-split", f"split file: holds pfns [{lo:#x}, {hi:#x}) "
                                        f"= [mem {lo * block_size:#x}-{hi * block_size - 1:#x}] only; "
                                        "descriptor numbering assumed to start at its first pfn",
                        Level.INFO)
        _read_vmcoreinfo_and_notes(reader, layout, sub, endian)
    if not layout.vmcoreinfo:
        layout.warn("vmcore-no-vmcoreinfo", "no VMCOREINFO: page size taken from block_size")
    page = vmcoreinfo_int(layout.vmcoreinfo, "PAGESIZE")
    if page and page & (page - 1) == 0:
        layout.page_size = page
    if layout.page_size != block_size:
        layout.notes.append(f"block_size {block_size} B ≠ kernel PAGESIZE {layout.page_size} B "
                            "(QEMU writes target-page blocks): bitmaps count blocks")
    layout.osrelease = layout.vmcoreinfo.get("OSRELEASE") or uts[2] or None
    if layout.arch is None:
        layout.arch = arch_from_vmcoreinfo(layout.vmcoreinfo)
    if layout.cpus is None and nr_cpus > 0:
        layout.cpus = nr_cpus
    layout.producer = "qemu" if not uts[0] else "makedumpfile"
    layout.max_mapnr = max_mapnr

    # -- bitmaps --------------------------------------------------------------------------
    bitmap_off = (1 + sub_hdr_size) * block_size
    bitmap_len = bitmap_blocks * block_size
    need = -(-max_mapnr // 8)
    half_needed = -(-need // block_size) * block_size
    two = bitmap_len >= 2 * half_needed
    half = bitmap_len // 2 if two else bitmap_len
    if need > half:
        layout.warn("vmcore-bitmap", f"bitmap holds {half * 8:#x} bits < max_mapnr {max_mapnr:#x}; "
                                     "pfns beyond it read as absent")
        need = half
    bm1_raw = reader.read(bitmap_off, need)
    bm2_raw = reader.read(bitmap_off + half, need) if two else bm1_raw
    for raw, where, label in ((bm1_raw, bitmap_off, "1st"), (bm2_raw, bitmap_off + half, "2nd")):
        if len(raw) < need:
            layout.warn("vmcore-cut", f"{label} bitmap cut: first missing offset {where + len(raw):#x}; "
                                      "pfns beyond read as absent")
    # No zero padding of a cut bitmap: a damaged header may claim gigabytes; bits past the
    # readable bytes simply count as absent.
    bm1 = Bitmap(bm1_raw, max_mapnr)
    bm2 = bm1 if not two else Bitmap(bm2_raw, max_mapnr)
    if not two:
        layout.notes.append("single bitmap (no room for two): every valid page is dumped")

    # -- descriptors ----------------------------------------------------------------------
    desc_off = (1 + sub_hdr_size + bitmap_blocks) * block_size
    lo_bit, hi_bit = (split_pfns if split_pfns else (0, bm2.nbits))
    n_desc = bm2.count(lo_bit, hi_bit)
    zero_off = desc_off + PAGE_DESC_BYTES * n_desc
    table = DescTable(reader, desc_off, n_desc, zero_off, block_size, endian)
    table.incomplete = layout.incomplete
    index = BitmapIndex(bm1, bm2, block_size, layout.page_size, table,
                        desc_window=(lo_bit, hi_bit) if split_pfns else None)
    layout.index = index
    runs = bm1.runs()
    if runs is None:
        layout.warn("vmcore-bitmap", "1st bitmap too fragmented to list its ranges; counts stay exact")
        layout.covered = RangeSet([(0, bm1.nbits * block_size)])
    else:
        layout.covered = RangeSet((a * block_size, b * block_size) for a, b in runs)
    runs2 = bm2.runs(limit=20_000)
    layout.present = None if runs2 is None else RangeSet((a * block_size, b * block_size) for a, b in runs2)

    full = table.full()   # one bulk pass; cached per chunk for later range queries
    if table.bad_sizes:
        layout.warn("vmcore-desc", f"{table.bad_sizes} page descriptors have size 0 or > block_size (damaged)")
    if full.missing:
        first = table.first_missing_offset
        layout.warn("vmcore-cut", f"{full.missing} of {n_desc} page descriptors unreadable"
                                  + (f": first missing offset {first:#x}" if first is not None else "")
                                  + "; their on-disk bytes are unknown")
    erase_end = (sub.get("offset_eraseinfo", 0) + sub.get("size_eraseinfo", 0)) if sub.get("offset_eraseinfo") else 0
    layout.dump_size_bytes = max(zero_off, table.data_end, erase_end)
    layout.metadata_bytes = layout.dump_size_bytes - full.data_bytes - PAGE_DESC_BYTES * n_desc
    logical = reader.logical_size
    if fmt.startswith("flattened"):
        reader.walk_all()
        logical = reader.logical_size
        if reader.damage:
            layout.warn("vmcore-cut", f"flattened records: {reader.damage}")
    if logical is not None and logical < table.data_end and not full.missing:
        layout.warn("vmcore-cut", f"page data cut: first missing offset {logical:#x} of "
                                  f"{layout.dump_size_bytes:#x} bytes; figures come from the headers "
                                  "and page descriptors")
    return layout


def _read_vmcoreinfo_and_notes(reader: Reader, layout: DumpLayout, sub: dict, endian: str) -> None:
    off, size = sub.get("offset_vmcoreinfo", 0), sub.get("size_vmcoreinfo", 0)
    if off and 0 < size <= MAX_META_BYTES:
        raw = reader.read(off, size)
        if len(raw) < size:
            layout.warn("vmcore-cut", f"VMCOREINFO cut: first missing offset {off + len(raw):#x}")
        layout.vmcoreinfo = parse_vmcoreinfo(raw)
    off, size = sub.get("offset_note", 0), sub.get("size_note", 0)
    if off and 0 < size <= MAX_META_BYTES:
        raw = reader.read(off, size)
        if len(raw) < size:
            layout.warn("vmcore-cut", f"ELF notes cut: first missing offset {off + len(raw):#x}")
        notes, problem = parse_notes(raw, endian)
        if problem:
            layout.warn("vmcore-notes", problem)
        if not layout.vmcoreinfo:
            desc = next((d for n, t, d in notes if n == "VMCOREINFO"), None)
            if desc:
                layout.vmcoreinfo = parse_vmcoreinfo(desc)
        cpus = count_prstatus(notes)
        if cpus:
            layout.cpus = cpus


class DescTable:
    """page_desc_t array: per-chunk prefix sums built in one bulk pass."""

    CHUNK = 4096                 # descriptors per prefix entry (96 KiB)
    READ = 256                   # chunks per read (24 MiB)

    def __init__(self, reader: Reader, offset: int, count: int, zero_off: int,
                 zero_size: int, endian: str) -> None:
        self.reader = reader
        self.offset = offset
        self.count = count
        self.zero_off = zero_off
        self.zero_size = zero_size
        self.swap = (endian == "little") != (sys.byteorder == "little")
        self._prefix: list[tuple[int, int, int]] | None = None
        self.data_end = 0
        self.bad_sizes = 0
        self.first_missing_offset: int | None = None
        self.incomplete = False

    def _stats(self, buf: bytes, expected: int) -> tuple[int, int, int]:
        n = min(len(buf) // PAGE_DESC_BYTES, expected)
        missing = expected - n
        if n == 0:
            return 0, 0, missing
        body = memoryview(buf)[:n * PAGE_DESC_BYTES]
        q = array("q")
        q.frombytes(body)
        u = array("I")
        u.frombytes(body)
        if self.swap:
            q.byteswap()
            u.byteswap()
        offs = q[0::3]
        sizes = u[2::6]
        zero = offs.count(self.zero_off)
        # INCOMPLETE dumps leave descriptors zeroed; only then is the extra pass worth it
        unwritten = offs.count(0) if self.incomplete else 0
        total = sum(sizes)
        data = total - zero * self.zero_size   # zero descriptors all carry block_size
        top = max(offs)
        if top > 0:
            self.data_end = max(self.data_end, top + sizes[offs.index(top)])
        if max(sizes) > self.zero_size:
            self.bad_sizes += sum(1 for s in sizes if s > self.zero_size)
        return data, zero, missing + unwritten

    def _read(self, i: int, j: int) -> bytes:
        want = (j - i) * PAGE_DESC_BYTES
        buf = self.reader.read(self.offset + i * PAGE_DESC_BYTES, want)
        if len(buf) < want and self.first_missing_offset is None:
            self.first_missing_offset = self.offset + i * PAGE_DESC_BYTES + len(buf)
        return buf

    def _build(self) -> None:
        prefix = [(0, 0, 0)]
        step = self.CHUNK * self.READ
        d = z = m = 0
        for base in range(0, self.count, step):
            end = min(self.count, base + step)
            buf = self._read(base, end)
            for c in range(base, end, self.CHUNK):
                ce = min(end, c + self.CHUNK)
                lo = (c - base) * PAGE_DESC_BYTES
                dd, zz, mm = self._stats(buf[lo:lo + (ce - c) * PAGE_DESC_BYTES], ce - c)
                d, z, m = d + dd, z + zz, m + mm
                prefix.append((d, z, m))
        self._prefix = prefix

    def full(self) -> DescStats:
        if self._prefix is None:
            self._build()
        d, z, m = self._prefix[-1]
        return DescStats(d, z, m)

    def _direct(self, i: int, j: int) -> tuple[int, int, int]:
        if j <= i:
            return 0, 0, 0
        saved = (self.data_end, self.bad_sizes)
        out = self._stats(self._read(i, j), j - i)
        self.data_end, self.bad_sizes = saved    # already counted by the bulk pass
        return out

    def __call__(self, i: int, j: int) -> DescStats:
        if self._prefix is None:
            self._build()
        i, j = max(0, i), min(self.count, j)
        if j <= i:
            return DescStats(0, 0, 0)
        C = self.CHUNK
        ci, cj = -(-i // C), j // C
        if ci > cj:        # inside one chunk
            d, z, m = self._direct(i, j)
            return DescStats(d, z, m)
        a, b = self._prefix[ci], self._prefix[cj]
        d, z, m = b[0] - a[0], b[1] - a[1], b[2] - a[2]
        for lo, hi in ((i, ci * C), (cj * C, j)):
            dd, zz, mm = self._direct(lo, hi)
            d, z, m = d + dd, z + zz, m + mm
        return DescStats(d, z, m)
