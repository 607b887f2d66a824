"""What a vmcore holds, per physical range, and whether it follows a kernel policy.

Pure: the `sources.vmcore` readers build a `DumpLayout` (headers, bitmaps and a
descriptor reader); this module only counts. Vocabulary (domain.md §4):

  covered   bytes the dump describes: ELF PT_LOAD [p_paddr, p_paddr+p_memsz),
            kdump 1st bitmap ("valid" pfns). Overlapping PT_LOADs (the arm64
            kernel-image PT_LOAD duplicates RAM) are counted once.
  present   bytes whose contents are in the file: ELF p_filesz, kdump 2nd bitmap.
  excluded  covered but not present: pages makedumpfile filtered out (-d).
  on disk   file bytes spent on the range: ELF p_filesz bytes (every PT_LOAD, so a
            duplicated kernel image costs twice, as it does in the file); kdump
            compressed sizes from the page descriptors + 24 B per descriptor, the
            shared zero page counted once for the whole file (not per range).

kdump blocks are `block_size` bytes (QEMU writes 64 KiB blocks for a 4 KiB-page
guest); a block belongs, for on-disk bytes, to the range holding its first byte, so
any partition of the address space sums exactly to the file-level totals.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from typing import Callable, Iterable, Protocol, Sequence

from memmap_tui.core.model import Finding, Level, MemoryMap, RegionKind
from memmap_tui.core.policy import POLICIES, evaluate
from memmap_tui.core.ranges import Range, RangeSet
from memmap_tui.core.units import exact_size

PAGE_DESC_BYTES = 24  # sizeof(page_desc_t)


@dataclass(frozen=True, slots=True)
class RangeStats:
    covered_bytes: int = 0
    present_bytes: int = 0
    excluded_pages: int = 0      # covered but filtered out, in the dumped kernel's pages
    zero_pages: int = 0          # present as the shared zero page (kdump -d 1)
    on_disk_bytes: int | None = 0  # None: not known (descriptors beyond the end of a cut file)
    descriptors: int = 0         # kdump page descriptors attributed to the range

    def __add__(self, other: "RangeStats") -> "RangeStats":
        disk = (None if self.on_disk_bytes is None or other.on_disk_bytes is None
                else self.on_disk_bytes + other.on_disk_bytes)
        return RangeStats(self.covered_bytes + other.covered_bytes,
                          self.present_bytes + other.present_bytes,
                          self.excluded_pages + other.excluded_pages,
                          self.zero_pages + other.zero_pages,
                          disk, self.descriptors + other.descriptors)

    def as_dict(self) -> dict:
        return {"covered_bytes": self.covered_bytes, "present_bytes": self.present_bytes,
                "excluded_pages": self.excluded_pages, "zero_pages": self.zero_pages,
                "on_disk_bytes": self.on_disk_bytes}


def _sum_stats(items: Iterable[RangeStats]) -> RangeStats:
    total = RangeStats()
    for s in items:
        total = total + s
    return total


class PageIndex(Protocol):
    """Per-range counting backend of a dump (ELF segments or kdump bitmaps)."""

    def stats(self, ranges: Sequence[Range]) -> list[RangeStats]: ...

    def totals(self) -> RangeStats: ...


# -- ELF ----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Segment:
    """One PT_LOAD."""
    paddr: int
    memsz: int
    filesz: int
    offset: int
    vaddr: int
    kernel_image: bool = False

    @property
    def mem(self) -> Range:
        return Range(self.paddr, self.paddr + self.memsz)

    @property
    def file(self) -> Range:
        return Range(self.paddr, self.paddr + min(self.filesz, self.memsz))


class SegmentIndex:
    """ELF accounting straight from the PT_LOADs (pure; no file access)."""

    def __init__(self, segments: Sequence[Segment], page_size: int) -> None:
        self.page_size = page_size
        self.covered = RangeSet((s.paddr, s.paddr + s.memsz) for s in segments)
        files = sorted((s.paddr, s.paddr + min(s.filesz, s.memsz)) for s in segments if s.filesz and s.memsz)
        self.present = RangeSet(files)
        self._starts = [s for s, _ in files]
        self._ends = [e for _, e in files]
        # Running max of ends: the segments overlapping [a, b) are those with
        # start < b and end > a; with a prefix max we can skip the ones wholly below a.
        prefix, m = [], 0
        for e in self._ends:
            m = max(m, e)
            prefix.append(m)
        self._prefix_max_end = prefix

    def _file_bytes(self, r: Range) -> int:
        hi = bisect_left(self._starts, r.end)
        lo = bisect_right(self._prefix_max_end, r.start)
        total = 0
        for i in range(lo, hi):
            s, e = self._starts[i], self._ends[i]
            if e > r.start:
                total += min(e, r.end) - max(s, r.start)
        return total

    def stats(self, ranges: Sequence[Range]) -> list[RangeStats]:
        out = []
        for r in ranges:
            one = RangeSet([r])
            cov = self.covered.overlap_bytes(one)
            pres = self.present.overlap_bytes(one)
            out.append(RangeStats(cov, pres, (cov - pres) // self.page_size, 0, self._file_bytes(r)))
        return out

    def totals(self) -> RangeStats:
        cov, pres = self.covered.size_bytes, self.present.size_bytes
        disk = sum(e - s for s, e in zip(self._starts, self._ends))
        return RangeStats(cov, pres, (cov - pres) // self.page_size, 0, disk)


# -- kdump-compressed bitmaps -------------------------------------------------------

class Bitmap:
    """A pfn bitmap (bit `pfn` = byte[pfn>>3] & 1<<(pfn&7)) with O(chunk) rank queries.

    One pass builds per-chunk popcounts with int.from_bytes(...).bit_count() over whole
    slices; a rank query then costs one partial chunk — never a per-bit loop.
    """

    CHUNK = 1 << 16  # bytes per prefix entry

    def __init__(self, data: bytes, nbits: int | None = None) -> None:
        self.data = data
        self.nbits = len(data) * 8 if nbits is None else min(nbits, len(data) * 8)
        prefix = [0]
        mv = memoryview(data)
        full, empty = b"\xff" * self.CHUNK, bytes(self.CHUNK)
        for off in range(0, len(data), self.CHUNK):
            piece = mv[off:off + self.CHUNK]
            # all-ones / all-zero chunks (most of a 1st bitmap) compare at memcmp speed
            if piece == full:
                n = self.CHUNK * 8
            elif piece == empty:
                n = 0
            else:
                n = int.from_bytes(piece, "little").bit_count()
            prefix.append(prefix[-1] + n)
        self._prefix = prefix

    def rank(self, bit: int) -> int:
        """Set bits in [0, bit)."""
        bit = max(0, min(bit, self.nbits))
        nbytes, rem = divmod(bit, 8)
        chunk = nbytes // self.CHUNK
        start = chunk * self.CHUNK
        count = self._prefix[chunk]
        if nbytes > start:
            count += int.from_bytes(self.data[start:nbytes], "little").bit_count()
        if rem:
            count += (self.data[nbytes] & ((1 << rem) - 1)).bit_count()
        return count

    def count(self, lo: int, hi: int) -> int:
        return self.rank(hi) - self.rank(lo) if hi > lo else 0

    def test(self, bit: int) -> bool:
        return 0 <= bit < self.nbits and bool(self.data[bit >> 3] & (1 << (bit & 7)))

    @property
    def total(self) -> int:
        return self.rank(self.nbits)

    def runs(self, limit: int = 1_000_000) -> list[tuple[int, int]] | None:
        """Set-bit runs [lo, hi) in bit units; None when more than `limit` runs."""
        out: list[tuple[int, int]] = []
        data = self.data
        for m in re.finditer(rb"\xff+|[^\x00\xff]", data):
            s, e = m.span()
            if data[s] == 0xFF:
                _extend(out, s * 8, e * 8)
            else:
                b = data[s]
                for k in range(8):
                    if b & (1 << k):
                        _extend(out, s * 8 + k, s * 8 + k + 1)
            if len(out) > limit:
                return None
        if out and out[-1][1] > self.nbits:
            lo, _ = out[-1]
            out[-1] = (lo, self.nbits)
            if lo >= self.nbits:
                out.pop()
        return out


def _extend(runs: list[tuple[int, int]], lo: int, hi: int) -> None:
    if runs and runs[-1][1] == lo:
        runs[-1] = (runs[-1][0], hi)
    else:
        runs.append((lo, hi))


@dataclass(frozen=True, slots=True)
class DescStats:
    data_bytes: int      # Σ size of descriptors that do not point at the shared zero page
    zero: int            # descriptors pointing at the shared zero page
    missing: int = 0     # descriptors beyond the end of the file (cut file)


DescReader = Callable[[int, int], DescStats]  # (first index, end index) -> stats


class BitmapIndex:
    """kdump accounting: 1st bitmap = covered blocks, 2nd = dumped blocks (one descriptor each)."""

    def __init__(self, bitmap1: Bitmap, bitmap2: Bitmap, block_size: int, page_size: int,
                 desc_reader: DescReader | None, pfn_base: int = 0,
                 desc_window: tuple[int, int] | None = None) -> None:
        self.bm1, self.bm2 = bitmap1, bitmap2
        self.block = block_size
        self.page_size = page_size
        self.desc_reader = desc_reader
        self.pfn_base = pfn_base  # ARCH_PFN_OFFSET (32-bit ARM writers only)
        # --split files number their descriptors from their own first pfn.
        self.desc_window = desc_window or (0, bitmap2.nbits)
        self._desc_base = bitmap2.rank(self.desc_window[0])

    def _bytes(self, bm: Bitmap, r: Range) -> int:
        bs = self.block
        lo_blk = -(-r.start // bs)   # first block starting at or after r.start
        hi_blk = r.end // bs         # blocks wholly inside: [lo_blk, hi_blk)
        b0 = self.pfn_base
        if lo_blk > hi_blk:          # r lies inside one block
            blk = r.start // bs
            return r.end - r.start if bm.test(blk - b0) else 0
        total = bm.count(lo_blk - b0, hi_blk - b0) * bs
        if r.start % bs and bm.test(r.start // bs - b0):
            total += lo_blk * bs - r.start
        if r.end % bs and bm.test(hi_blk - b0):
            total += r.end - hi_blk * bs
        return total

    def _desc_span(self, r: Range) -> tuple[int, int]:
        """Descriptor indices of dumped blocks whose first byte lies in r."""
        b0 = self.pfn_base
        w0, w1 = self.desc_window
        lo = min(max(-(-r.start // self.block) - b0, w0), w1)
        hi = min(max(-(-r.end // self.block) - b0, w0), w1)
        return self.bm2.rank(lo) - self._desc_base, self.bm2.rank(hi) - self._desc_base

    def _one(self, r: Range) -> RangeStats:
        cov = self._bytes(self.bm1, r)
        pres = self._bytes(self.bm2, r)
        i, j = self._desc_span(r)
        zero, disk = 0, None
        if self.desc_reader is not None and j > i:
            d = self.desc_reader(i, j)
            zero = d.zero
            if not d.missing:
                disk = d.data_bytes + PAGE_DESC_BYTES * (j - i)
        elif j == i:
            disk = 0
        excluded = max(0, cov - pres) // self.page_size
        return RangeStats(cov, pres, excluded, zero * (self.block // self.page_size), disk, j - i)

    def stats(self, ranges: Sequence[Range]) -> list[RangeStats]:
        return [self._one(r) for r in ranges]

    def totals(self) -> RangeStats:
        top = (self.bm1.nbits + self.pfn_base) * self.block
        return self._one(Range(self.pfn_base * self.block, top))


# -- the layout every reader returns --------------------------------------------------

@dataclass(slots=True)
class DumpLayout:
    path: str
    format: str                      # "elf" | "kdump" | "diskdump" | "flattened-kdump" | "flattened-elf"
    page_size: int                   # the dumped kernel's page size (VMCOREINFO PAGESIZE first)
    block_size: int                  # dump granularity: kdump block_size, ELF page_size
    endianness: str                  # "little" | "big"
    machine: str | None = None       # "AArch64", "x86-64", utsname machine ...
    arch: str | None = None          # memmap-tui arch name: arm64, x86_64, riscv, loongarch
    osrelease: str | None = None
    vmcoreinfo: dict[str, str] = field(default_factory=dict)
    cpus: int | None = None          # NT_PRSTATUS notes / nr_cpus
    covered: RangeSet = field(default_factory=RangeSet)
    present: RangeSet | None = None  # None: too fragmented to list (kdump); counts stay exact
    kernel_image: Range | None = None
    index: PageIndex | None = None
    file_size_bytes: int = 0         # bytes stored at `path` (a cut file is shorter)
    dump_size_bytes: int | None = None  # the full dump's size as its headers describe it
    metadata_bytes: int = 0          # headers, notes, bitmaps, descriptor table, zero page
    header_version: int | None = None
    dump_level: int | None = None
    compression: str | None = None   # "zlib", "lzo", "snappy", "zstd", "mixed", None
    incomplete: bool = False         # DUMP_DH_COMPRESSED_INCOMPLETE
    split: Range | None = None       # physical range this split file covers
    producer: str | None = None      # "qemu", "makedumpfile", "kernel" (best guess, see notes)
    notes: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    segments: tuple[Segment, ...] = ()
    max_mapnr: int | None = None

    def warn(self, code: str, message: str, level: Level = Level.WARNING) -> None:
        self.findings.append(Finding(level, code, message))

    @property
    def covered_ram(self) -> RangeSet:
        """Coverage without the kernel-image PT_LOAD (it only duplicates RAM)."""
        if not self.segments:
            return self.covered
        return RangeSet(s.mem for s in self.segments if not s.kernel_image)

    def totals(self) -> RangeStats:
        return self.index.totals() if self.index else RangeStats(self.covered.size_bytes)

    def stats(self, ranges: Sequence[Range]) -> list[RangeStats]:
        if self.index is None:
            one = [RangeSet([r]) for r in ranges]
            return [RangeStats(self.covered.overlap_bytes(o)) for o in one]
        return self.index.stats(ranges)


# -- accounting on the MemoryMap -----------------------------------------------------

@dataclass(slots=True)
class AccountRow:
    range: Range
    kind: str            # "ram" | "hole"
    name: str            # iomem name or "hole"
    stats: RangeStats


@dataclass(slots=True)
class DumpAccount:
    layout: DumpLayout
    regions: dict[str, RangeStats]     # region id -> stats over its placed ranges
    rows: list[AccountRow]             # RAM ranges and holes partitioning [0, top)
    totals: RangeStats                 # Σ rows
    file_totals: RangeStats            # straight from the layout (must equal `totals`)

    @property
    def balanced(self) -> bool:
        """Rows add up to the file-level figures (bytes, descriptors and zero pages exactly;
        excluded pages are floored per range, so they may differ by under one page per row)."""
        a, b = self.totals, self.file_totals
        return ((a.covered_bytes, a.present_bytes, a.on_disk_bytes, a.descriptors, a.zero_pages)
                == (b.covered_bytes, b.present_bytes, b.on_disk_bytes, b.descriptors, b.zero_pages)
                and abs(a.excluded_pages - b.excluded_pages) <= len(self.rows))


def _ram_name(mm: MemoryMap, r: Range) -> str:
    for e in mm.iomem:
        if e.depth == 0 and e.range.overlaps(r):
            return e.name
    return "System RAM" if mm.ram_known else "dump coverage"


def account_dump(mm: MemoryMap, layout: DumpLayout) -> DumpAccount:
    ram = mm.ram if mm.ram_known else layout.covered_ram
    top = max(ram.end or 0, layout.covered.end or 0)
    if layout.index is not None and isinstance(layout.index, BitmapIndex):
        idx = layout.index
        top = max(top, (idx.bm1.nbits + idx.pfn_base) * idx.block)
    rows: list[tuple[Range, str, str]] = []
    cursor = 0
    for r in ram:
        if r.start > cursor:
            rows.append((Range(cursor, r.start), "hole", "hole"))
        rows.append((r, "ram", _ram_name(mm, r)))
        cursor = r.end
    if top > cursor:
        rows.append((Range(cursor, top), "hole", "hole"))
    stats = layout.stats([r for r, _, _ in rows])
    acc_rows = [AccountRow(r, k, n, s) for (r, k, n), s in zip(rows, stats)]

    region_stats: dict[str, RangeStats] = {}
    placed = [(reg.id, list(reg.ranges)) for reg in mm.regions if reg.placed]
    flat = [r for _, rs in placed for r in rs]
    flat_stats = iter(layout.stats(flat))
    for rid, rs in placed:
        region_stats[rid] = _sum_stats(next(flat_stats) for _ in rs)
    for reg in mm.regions:
        region_stats.setdefault(reg.id, RangeStats())
    return DumpAccount(layout, region_stats, acc_rows, _sum_stats(s for s in stats), layout.totals())


# -- "did the dump follow the policy?" ----------------------------------------------

KDUMP_WHY = {
    "no-map": "no-map carveout (NOMAP memory is never dumped)",
    "crashkernel": "crash kernel memory (always excluded)",
    "reserved": "memblock-reserved carveout",
    "reusable": "reusable (CMA) pool",
    "memreserve": "/memreserve/ entry",
    "iomem": "top-level iomem range that is not System RAM",
    "ram": "System RAM with no region",
    "outside": "outside the RAM of the memory map",
}


@dataclass(frozen=True, slots=True)
class NamedRange:
    range: Range
    id: str | None       # region id, or None
    name: str            # region name / iomem name / "System RAM" / "outside RAM"
    why: str


@dataclass(slots=True)
class PolicyDiff:
    policy: str
    extra: RangeSet                    # in the dump, not predicted by the policy
    missing: RangeSet                  # predicted, not in the dump
    extra_named: list[NamedRange]
    missing_named: list[NamedRange]

    @property
    def matches(self) -> bool:
        return not self.extra and not self.missing


@dataclass(slots=True)
class Verdict:
    text: str                          # "matches today" / "differs from every policy ..."
    matches: list[str]
    closest: str
    diffs: dict[str, PolicyDiff]
    granularity: int
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        def named(items: list[NamedRange]) -> list[dict]:
            return [{"start": n.range.start, "end": n.range.end, "size_bytes": n.range.size_bytes,
                     "id": n.id, "name": n.name, "why": n.why} for n in items]
        return {"text": self.text, "matches": self.matches, "closest": self.closest,
                "granularity_bytes": self.granularity, "notes": self.notes,
                "policies": {p: {"matches": d.matches,
                                 "extra_bytes": d.extra.size_bytes,
                                 "missing_bytes": d.missing.size_bytes,
                                 "in_dump_not_predicted": named(d.extra_named),
                                 "predicted_not_in_dump": named(d.missing_named)}
                             for p, d in self.diffs.items()}}


def _round_out(rs: RangeSet, g: int) -> RangeSet:
    return rs.page_rounded(g) if g > 1 else rs


def _name_pieces(mm: MemoryMap, diff: RangeSet, in_dump: bool) -> list[NamedRange]:
    """Split `diff` by region (band priority, as the map draws it), then iomem, then RAM."""
    out: list[NamedRange] = []
    left = diff
    prefix = ("in the dump but not in a kdump vmcore: " if in_dump
              else "a kdump vmcore holds it, the dump does not: ")
    ordered = sorted((r for r in mm.regions if r.placed and r.reserves_memory),
                     key=lambda r: list(type(mm.band_of(r))).index(mm.band_of(r)))
    for reg in ordered:
        hit = left & reg.ranges
        if not hit:
            continue
        band = mm.band_of(reg)
        kind = ("crashkernel" if reg.kind is RegionKind.CRASHKERNEL else "no-map" if reg.no_map
                else "memreserve" if reg.kind is RegionKind.MEMRESERVE
                else "reusable" if reg.reusable else "reserved")
        why = KDUMP_WHY[kind] if kind in ("no-map", "crashkernel") else f"{KDUMP_WHY[kind]} ({band})"
        for piece in hit:
            out.append(NamedRange(piece, reg.id, reg.name, prefix + why))
        left = left - hit
    # `reg` tuples the model does not reserve (7.2+: only the first of a multi-reg node),
    # which an older kernel may still have reserved (and iomem shows).
    for reg in mm.regions:
        extra_reg = RangeSet(reg.reg) - reg.ranges
        hit = left & extra_reg
        for piece in hit:
            out.append(NamedRange(piece, reg.id, reg.name,
                                  prefix + "another `reg` entry of this node (reserved by kernels before 7.2)"))
        left = left - hit
    for e in mm.iomem:
        if e.depth != 0 or e.name.startswith("System RAM"):
            continue
        hit = left & RangeSet([e.range])
        for piece in hit:
            why = (KDUMP_WHY["no-map"] + ", top-level `reserved` in iomem"
                   if e.name == "reserved" and mm.arch in ("arm64", "loongarch") else KDUMP_WHY["iomem"])
            out.append(NamedRange(piece, None, e.name, prefix + why))
        left = left - hit
    ram = mm.ram if mm.ram_known else RangeSet()
    for piece in left & ram:
        out.append(NamedRange(piece, None, "System RAM", prefix + KDUMP_WHY["ram"]))
    for piece in left - ram:
        out.append(NamedRange(piece, None, "outside RAM", prefix + KDUMP_WHY["outside"]))
    out.sort(key=lambda n: n.range.start)
    return out


def check_policy(mm: MemoryMap, layout: DumpLayout) -> Verdict:
    """Compare the dump's RAM coverage with each policy's predicted vmcore ranges.

    Both sides are compared at the dump's granularity (kdump block_size, ELF page size):
    a 4 KiB carveout inside a 64 KiB QEMU block cannot be told apart.
    """

    g = max(layout.block_size, 1)
    dump = _round_out(layout.covered_ram, g)
    results = evaluate(mm)
    diffs: dict[str, PolicyDiff] = {}
    for p in POLICIES:
        predicted = _round_out(results[p].dumped, g)
        extra, missing = dump - predicted, predicted - dump
        diffs[p] = PolicyDiff(p, extra, missing, _name_pieces(mm, extra, True),
                              _name_pieces(mm, missing, False))
    matches = [p for p in POLICIES if diffs[p].matches]
    closest = min(POLICIES, key=lambda p: (diffs[p].extra.size_bytes + diffs[p].missing.size_bytes,
                                           POLICIES.index(p)))
    notes: list[str] = []
    if layout.producer == "qemu":
        notes.append("made by QEMU dump-guest-memory: it holds all guest RAM whatever the kernel policy")
    if mm.ram_source == "vmcore" and not mm.regions and not mm.iomem:
        text = ("not checked: RAM comes from the dump itself and no DTB/iomem says what a "
                "vmcore should hold (give a DTB, --iomem or --dmesg)")
        return Verdict(text, [], closest, diffs, g, notes)
    ram = mm.ram if mm.ram_known else RangeSet()
    if ram and dump == _round_out(ram, g) and results["today"].dumped != ram:
        notes.append("the dump covers all RAM: it was taken from outside the kernel (hypervisor, "
                     "QEMU, JTAG) or from /proc/kcore, not from /proc/vmcore")
    if matches:
        text = "matches " + " and ".join(matches)
        if len(matches) == len(POLICIES):
            text += " (the policies agree on this map)"
    else:
        d = diffs[closest]
        parts = []
        if d.extra:
            names = _summary_names(d.extra_named)
            parts.append(f"{_mib(d.extra.size_bytes)} in the dump but not in a kdump vmcore ({names})")
        if d.missing:
            names = _summary_names(d.missing_named)
            parts.append(f"{_mib(d.missing.size_bytes)} expected but absent ({names})")
        text = f"differs from every policy; closest {closest}: " + "; ".join(parts)
    return Verdict(text, matches, closest, diffs, g, notes)


def _summary_names(items: list[NamedRange]) -> str:
    seen: list[str] = []
    for n in items:
        label = n.id or n.name
        if label not in seen:
            seen.append(label)
    return ", ".join(seen[:8]) + (f", +{len(seen) - 8} more" if len(seen) > 8 else "")


def _mib(n: int) -> str:
    return exact_size(n)
