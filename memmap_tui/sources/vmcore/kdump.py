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
from itertools import accumulate

from memmap_tui.core.dump import (PAGE_DESC_BYTES, Bitmap, BitmapIndex, DescStats, DumpLayout)
from memmap_tui.core.model import Level
from memmap_tui.core.ranges import Range, RangeSet
from memmap_tui.sources.errors import InputError
from memmap_tui.sources.vmcore.reader import Reader
from memmap_tui.sources.vmcore.structs import DISK_DUMP_HEADER, KDUMP_SUB_HEADER
from memmap_tui.sources.vmcore.vmcoreinfo import (UTS_ARCH, arch_from_vmcoreinfo, count_prstatus,
                                                  parse_notes, parse_vmcoreinfo, vmcoreinfo_int)

KDUMP_SIG = b"KDUMP   "
DISKDUMP_SIG = b"DISKDUMP"
STATUS_BITS = {0x1: "zlib", 0x2: "lzo", 0x4: "snappy", 0x20: "zstd"}
DUMP_DH_COMPRESSED_INCOMPLETE = 0x8
DUMP_DH_EXCLUDED_VMEMMAP = 0x10
MAX_BITMAP_BYTES = 1 << 34        # 2 × 8 GiB: 64 PiB of 4 KiB pages; anything bigger is damage
MAX_META_BYTES = 1 << 26          # VMCOREINFO / notes larger than 64 MiB are damage
# 1st-bitmap runs listed as ranges; more: counts only. A real 1st bitmap has one run per
# memory range of /proc/vmcore (tens; thousands on the largest NUMA machines); each listed run
# is two report rows (range and hole), ~15 µs of accounting and JSON each: 32,768 runs cost
# about a second, 65,536 took 2 s of CPU (a 12 MB fuzz input).
MAX_COVERED_RUNS = 32_768
MAX_PRESENT_RUNS = 20_000         # 2nd-bitmap runs listed as ranges; more: counts only


def is_kdump(head: bytes) -> bool:
    return head[:8] in (KDUMP_SIG, DISKDUMP_SIG)


def _plausible(hv: int, bs: int) -> bool:
    return 0 < hv < 64 and 512 <= bs <= (1 << 24) and bs & (bs - 1) == 0


def read_kdump(reader: Reader, fmt: str = "kdump") -> DumpLayout:
    hdr, e = _disk_dump_header(reader)
    diskdump = hdr["signature"] == DISKDUMP_SIG
    uts = [hdr["utsname"][65 * k:65 * (k + 1)].split(b"\0", 1)[0].decode("ascii", "replace")
           for k in range(6)]
    block_size = hdr["block_size"]
    layout = DumpLayout(path=reader.path, format=fmt.replace("kdump", "diskdump") if diskdump else fmt,
                        page_size=block_size, block_size=block_size,
                        endianness="little" if e == "<" else "big", machine=uts[4] or None,
                        arch=UTS_ARCH.get(uts[4]), file_size_bytes=reader.file_size_bytes)
    layout.header_version = hdr["header_version"]
    status = hdr["status"]
    layout.incomplete = bool(status & DUMP_DH_COMPRESSED_INCOMPLETE)
    layout.compression = "+".join(name for bit, name in STATUS_BITS.items() if status & bit) or None
    if layout.incomplete:
        layout.warn("vmcore-incomplete", "makedumpfile marked the dump INCOMPLETE: writing stopped "
                                          "early; pages without a written descriptor are missing")
    sub = {} if diskdump or hdr["sub_hdr_size"] == 0 else _sub_header(reader, layout, hdr, e)
    _identify(layout, hdr, sub, uts)
    bm1, bm2, two = _bitmaps(reader, layout, hdr)
    split_pfns = _split_window(layout, sub)
    desc_off = (1 + hdr["sub_hdr_size"] + hdr["bitmap_blocks"]) * block_size
    lo_bit, hi_bit = split_pfns or (0, bm2.nbits)
    n_desc = bm2.count(lo_bit, hi_bit)
    zero_off = desc_off + PAGE_DESC_BYTES * n_desc
    table = DescTable(reader, desc_off, n_desc, zero_off, block_size, layout.endianness,
                      layout.incomplete)
    layout.index = BitmapIndex(bm1, bm2, block_size, layout.page_size, table,
                               desc_window=split_pfns)
    runs = bm1.runs()
    if runs is None:
        layout.warn("vmcore-bitmap", "1st bitmap too fragmented to list its ranges; counts stay exact")
        layout.covered = RangeSet([(0, bm1.nbits * block_size)])
    else:
        layout.covered = RangeSet((a * block_size, b * block_size) for a, b in runs)
    runs2 = bm2.runs()
    layout.present = None if runs2 is None else RangeSet((a * block_size, b * block_size) for a, b in runs2)
    _sizes(reader, layout, table, sub, n_desc, zero_off)
    return layout


def _disk_dump_header(reader: Reader) -> tuple[dict, str]:
    path = reader.path
    head = reader.read(0, DISK_DUMP_HEADER.size_bytes)
    if not is_kdump(head):
        raise InputError(path, "not a kdump-compressed file (no KDUMP/DISKDUMP signature)")
    if len(head) < DISK_DUMP_HEADER.size_bytes:
        raise InputError(path, f"disk_dump_header cut: first missing offset {len(head):#x}")
    for e in ("<", ">"):
        hdr = DISK_DUMP_HEADER.parse(head, e)
        if _plausible(hdr["header_version"], hdr["block_size"]):
            break
    else:
        raise InputError(path, "implausible header_version/block_size under either byte order "
                               "(damaged header, or a 32-bit writer's layout)")
    if hdr["sub_hdr_size"] < 0 or hdr["bitmap_blocks"] <= 0:
        raise InputError(path, f"bad header: sub_hdr_size {hdr['sub_hdr_size']}, "
                               f"bitmap_blocks {hdr['bitmap_blocks']}")
    if hdr["bitmap_blocks"] * hdr["block_size"] > MAX_BITMAP_BYTES:
        raise InputError(path, f"bad header: bitmap_blocks {hdr['bitmap_blocks']} × "
                               f"{hdr['block_size']} B is implausible")
    return hdr, e


def _sub_header(reader: Reader, layout: DumpLayout, hdr: dict, e: str) -> dict:
    bs = hdr["block_size"]
    raw = reader.read(bs, KDUMP_SUB_HEADER.size_bytes)
    if len(raw) < KDUMP_SUB_HEADER.size_bytes:
        layout.warn("vmcore-cut", f"sub-header cut: first missing offset {bs + len(raw):#x}")
        raw = raw + bytes(KDUMP_SUB_HEADER.size_bytes - len(raw))
    sub = KDUMP_SUB_HEADER.parse(raw, e, hdr["header_version"])
    layout.dump_level = sub.get("dump_level")
    _read_vmcoreinfo_and_notes(reader, layout, sub, layout.endianness)
    return sub


def _identify(layout: DumpLayout, hdr: dict, sub: dict, uts: list[str]) -> None:
    block_size = hdr["block_size"]
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
    if layout.cpus is None and hdr["nr_cpus"] > 0:
        layout.cpus = hdr["nr_cpus"]
    layout.producer = "qemu" if not uts[0] else "makedumpfile"
    layout.max_mapnr = sub.get("max_mapnr_64") or hdr["max_mapnr"]


def _split_window(layout: DumpLayout, sub: dict) -> tuple[int, int] | None:
    if not sub.get("split"):
        return None
    bs = layout.block_size
    lo = sub.get("start_pfn_64") or sub.get("start_pfn", 0)
    hi = sub.get("end_pfn_64") or sub.get("end_pfn", 0)
    layout.split = Range(lo * bs, max(lo, hi) * bs)
    layout.warn("vmcore-split", f"split file: holds pfns [{lo:#x}, {hi:#x}) "
                                f"= [mem {lo * bs:#x}-{hi * bs - 1:#x}] only; "
                                "descriptor numbering assumed to start at its first pfn", Level.INFO)
    return lo, hi


def _bitmaps(reader: Reader, layout: DumpLayout, hdr: dict) -> tuple[Bitmap, Bitmap, bool]:
    """The two bitmaps (one when there is room for only one, as crash's dump_is_partial()
    decides), read in bounded chunks. Sizes come from the header but reads stop where the
    file (or the flattened records) end: a damaged header costs no memory."""
    bs = hdr["block_size"]
    max_mapnr = layout.max_mapnr
    bitmap_off = (1 + hdr["sub_hdr_size"]) * bs
    bitmap_len = hdr["bitmap_blocks"] * bs
    need = -(-max_mapnr // 8)
    two = bitmap_len >= 2 * (-(-need // bs) * bs)
    half = bitmap_len // 2 if two else bitmap_len
    if need > half:
        layout.warn("vmcore-bitmap", f"bitmap holds {half * 8:#x} bits < max_mapnr {max_mapnr:#x}; "
                                     "pfns beyond it read as absent")
        need = half
    made = []
    for where, label, runs_limit in ((bitmap_off, "1st", MAX_COVERED_RUNS),
                                     (bitmap_off + half, "2nd", MAX_PRESENT_RUNS))[:2 if two else 1]:
        bm = Bitmap(lambda off, n, where=where: reader.read(where + off, n), max_mapnr,
                    size_bytes=need, runs_limit=runs_limit)
        if bm.readable_bytes < need:
            layout.warn("vmcore-cut", f"{label} bitmap cut: first missing offset "
                                      f"{where + bm.readable_bytes:#x}; pfns beyond read as absent")
        made.append(bm)
    if not two:
        layout.notes.append("single bitmap (no room for two): every valid page is dumped")
        made.append(made[0])
    return made[0], made[1], two


def _sizes(reader: Reader, layout: DumpLayout, table: "DescTable", sub: dict, n_desc: int,
           zero_off: int) -> None:
    full = table.full()
    if table.bad_sizes:
        layout.warn("vmcore-desc", f"{table.bad_sizes} page descriptors have size > block_size (damaged)")
    if full.missing:
        first = table.first_missing_offset
        layout.warn("vmcore-cut", f"{full.missing} of {n_desc} page descriptors unreadable"
                                  + (f": first missing offset {first:#x}" if first is not None else "")
                                  + "; their on-disk bytes are unknown")
    erase_end = (sub.get("offset_eraseinfo", 0) + sub.get("size_eraseinfo", 0)) if sub.get("offset_eraseinfo") else 0
    layout.dump_size_bytes = max(zero_off, table.data_end, erase_end)
    layout.metadata_bytes = layout.dump_size_bytes - full.data_bytes - PAGE_DESC_BYTES * n_desc
    if reader.damage:
        layout.warn("vmcore-cut", f"flattened records: {reader.damage}")
    logical = reader.logical_size
    if logical is not None and logical < table.data_end and not full.missing:
        layout.warn("vmcore-cut", f"page data cut: first missing offset {logical:#x} of "
                                  f"{layout.dump_size_bytes:#x} bytes; figures come from the headers "
                                  "and page descriptors")


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
    """page_desc_t array ({i64 offset; u32 size; u32 flags; u64 page_flags}) as per-chunk prefixes.

    One bulk pass, no per-descriptor Python work. Every shared-zero-page descriptor is
    the same 24 bytes (makedumpfile.c write_kdump_pages*(): pd_zero; QEMU dump.c
    write_dump_pages()), so a chunk's zero count is one `bytes.count`. Page data is
    written in descriptor order (`pd.offset = offset_data; offset_data += pd.size`),
    so a chunk's data bytes are the distance from its first data descriptor's offset to
    the next chunk's: the file bytes its pages occupy. A chunk where that distance is
    implausible (negative, or more than a block per page), the last chunk, partial
    chunks and INCOMPLETE dumps (zeroed descriptors) are summed exactly from the
    size column instead.
    """

    CHUNK = 4096                 # descriptors per prefix entry (96 KiB)
    READ = 256                   # chunks per read (24 MiB)

    def __init__(self, reader: Reader, offset: int, count: int, zero_off: int,
                 block_size: int, endian: str, incomplete: bool = False) -> None:
        self.reader = reader
        self.offset = offset
        self.count = count
        self.zero_off = zero_off
        self.block_size = block_size
        self.incomplete = incomplete
        e = "<" if endian == "little" else ">"
        self._zero_rec = struct.pack(e + "qIIQ", zero_off, block_size, 0, 0)
        self._zero_run = self._zero_rec * self.CHUNK
        self._offset = struct.Struct(e + "q")
        self.swap = (endian == "little") != (sys.byteorder == "little")
        self.data_end = 0
        self.bad_sizes = 0
        self.first_missing_offset: int | None = None
        self._prefix_data = array("q", [0])
        self._prefix_zero = array("q", [0])
        self._prefix_missing = array("q", [0])
        self._chunks: dict[int, tuple[array, array, array, int]] = {}
        self._build()

    # -- per-chunk figures -----------------------------------------------------------
    def _columns(self, buf: bytes, n: int) -> tuple[array, array]:
        """The offset and size columns of the first n records, in host byte order."""
        body = memoryview(buf)[:n * PAGE_DESC_BYTES]
        offs, sizes = array("q"), array("I")
        if n:
            offs.frombytes(body.cast("q")[0::3].tobytes())
            sizes.frombytes(body.cast("I")[2::6].tobytes())
        if self.swap:
            offs.byteswap()
            sizes.byteswap()
        return offs, sizes

    def _exact(self, buf: bytes, expected: int) -> tuple[int, int, int]:
        """(data bytes, zero descriptors, missing) summed from the columns."""
        n = min(len(buf) // PAGE_DESC_BYTES, expected)
        if n == 0:
            return 0, 0, expected
        offs, sizes = self._columns(buf, n)
        zero = offs.count(self.zero_off)
        unwritten = offs.count(0) if self.incomplete else 0   # INCOMPLETE: never written
        data = sum(sizes) - zero * self.block_size
        if max(sizes) > self.block_size:
            self.bad_sizes += sum(1 for s in sizes if s > self.block_size)
        top = max(offs)
        if top > 0:
            self.data_end = max(self.data_end, top + sizes[offs.index(top)])
        return data, zero, expected - n + unwritten

    def _first_data(self, mv: memoryview, k: int) -> int | None:
        """Index of the first record in mv[:k records] that is not the zero-page one."""
        lo, hi = 0, k                     # invariant: records [0, lo) are all pd_zero
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if mv[:mid * PAGE_DESC_BYTES] == self._zero_run[:mid * PAGE_DESC_BYTES]:
                lo = mid
            else:
                hi = mid - 1
        return lo if lo < k else None

    def _offset_at(self, mv: memoryview, i: int) -> int:
        return self._offset.unpack_from(mv, i * PAGE_DESC_BYTES)[0]

    def _build(self) -> None:
        C = self.CHUNK
        step = C * self.READ
        rec = PAGE_DESC_BYTES
        d = z = m = 0
        pending: tuple[int, int, int, memoryview] | None = None   # (first data offset, data count, chunk no., bytes)
        chunk_no = 0
        data_by_chunk: list[int] = []
        zero_by_chunk: list[int] = []
        miss_by_chunk: list[int] = []
        for base in range(0, self.count, step):
            end = min(self.count, base + step)
            buf = self._read(base, end)
            mv = memoryview(buf)
            for c in range(base, end, C):
                k = min(end, c + C) - c
                piece = mv[(c - base) * rec:(c - base + k) * rec]
                have = len(piece) // rec
                if self.incomplete or have < k:
                    dd, zz, mm = self._exact(piece.tobytes(), k)
                    data_by_chunk.append(dd)
                    zero_by_chunk.append(zz)
                    miss_by_chunk.append(mm)
                    if pending is not None:
                        self._close(pending, None, data_by_chunk)
                        pending = None
                else:
                    lo = (c - base) * rec
                    zz = buf.count(self._zero_rec, lo, lo + k * rec)
                    zero_by_chunk.append(zz)
                    miss_by_chunk.append(0)
                    data_by_chunk.append(0)
                    first = self._first_data(piece, k) if zz < k else None
                    if first is not None:
                        here = (self._offset_at(piece, first), k - zz, chunk_no, piece)
                        if pending is not None:
                            self._close(pending, here[0], data_by_chunk)
                        pending = here
                chunk_no += 1
        if pending is not None:
            self._close(pending, None, data_by_chunk)
        for dd, zz, mm in zip(data_by_chunk, zero_by_chunk, miss_by_chunk):
            d, z, m = d + dd, z + zz, m + mm
            self._prefix_data.append(d)
            self._prefix_zero.append(z)
            self._prefix_missing.append(m)

    def _close(self, chunk: tuple[int, int, int, memoryview], next_first: int | None,
               data_by_chunk: list[int]) -> None:
        """Data bytes of a chunk, once the next chunk's first data offset is known."""
        first, n_data, no, piece = chunk
        span = None if next_first is None else next_first - first
        if span is not None and 0 <= span <= n_data * self.block_size:
            data_by_chunk[no] = span
            self.data_end = max(self.data_end, next_first)
        else:
            data_by_chunk[no] = self._exact(piece.tobytes(), len(piece) // PAGE_DESC_BYTES)[0]

    def _read(self, i: int, j: int) -> bytes:
        want = (j - i) * PAGE_DESC_BYTES
        buf = self.reader.read(self.offset + i * PAGE_DESC_BYTES, want)
        if len(buf) < want and self.first_missing_offset is None:
            self.first_missing_offset = self.offset + i * PAGE_DESC_BYTES + len(buf)
        return buf

    # -- queries ---------------------------------------------------------------------
    def full(self) -> DescStats:
        return DescStats(self._prefix_data[-1], self._prefix_zero[-1], self._prefix_missing[-1])

    def _chunk_prefix(self, c: int) -> tuple[array, array, array, int]:
        """Chunk c's per-descriptor prefix sums (sizes, zero, unwritten) and how many of
        its descriptors the file holds. Built once per chunk and kept for the next queries:
        50,000 one-page ranges ask about the same chunk thousands of times (the rows come
        in address order, so a few chunks kept are enough)."""
        hit = self._chunks.get(c)
        if hit is None:
            lo, hi = c * self.CHUNK, min(self.count, (c + 1) * self.CHUNK)
            saved = (self.data_end, self.bad_sizes, self.first_missing_offset)
            buf = self._read(lo, hi)
            self.data_end, self.bad_sizes, self.first_missing_offset = saved   # counted by the bulk pass
            n = min(len(buf) // PAGE_DESC_BYTES, hi - lo)
            offs, sizes = self._columns(buf, n)
            z = self.zero_off
            zero = array("q", accumulate((o == z for o in offs), initial=0))
            sizes_sum = array("q", accumulate(sizes, initial=0))
            unwritten = (array("q", accumulate((o == 0 for o in offs), initial=0)) if self.incomplete
                         else array("q", bytes(8 * (n + 1))))
            hit = self._chunks[c] = (sizes_sum, zero, unwritten, n)
            if len(self._chunks) > 4:
                self._chunks.pop(next(iter(self._chunks)))
        return hit

    def _direct(self, i: int, j: int) -> tuple[int, int, int]:
        """(data, zero, missing) of descriptors [i, j) inside one chunk."""
        if j <= i:
            return 0, 0, 0
        c = i // self.CHUNK
        sizes, zero, unwritten, n = self._chunk_prefix(c)
        a, b = i - c * self.CHUNK, j - c * self.CHUNK
        ha, hb = min(a, n), min(b, n)          # descriptors past the end of the file are missing
        zeros = zero[hb] - zero[ha]
        # as _exact(): the zero-page descriptors' sizes (one block each) are not data
        return (sizes[hb] - sizes[ha] - zeros * self.block_size, zeros,
                (b - hb) - (a - ha) + unwritten[hb] - unwritten[ha])

    def cumulative(self, i: int) -> tuple[int, int, int]:
        """(data, zero, missing) of descriptors [0, i): whole chunks from the bulk pass, the
        rest of i's chunk summed exactly. A range is the difference of its two ends, so ranges
        that partition the table add up to its totals."""
        i = min(max(0, i), self.count)
        c, k = divmod(i, self.CHUNK)
        d, z, m = self._prefix_data[c], self._prefix_zero[c], self._prefix_missing[c]
        if k:
            dd, zz, mm = self._direct(c * self.CHUNK, i)
            d, z, m = d + dd, z + zz, m + mm
        return d, z, m

    def __call__(self, i: int, j: int) -> DescStats:
        if j <= i:
            return DescStats(0, 0, 0)
        (d0, z0, m0), (d1, z1, m1) = self.cumulative(i), self.cumulative(j)
        return DescStats(d1 - d0, z1 - z0, m1 - m0)
