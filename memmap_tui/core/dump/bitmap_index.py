"""kdump-compressed dumps: pfn bitmaps as popcount prefixes, and the accounting on them.

A bitmap is never held in memory: one bounded, chunked pass records the set bits per
`CHUNK` bytes (and the set-bit runs, while there are few), and a rank query then reads
at most one partial chunk back through the reader. Memory stays flat in the RAM size
(a 16 TiB machine's 512 MiB bitmap keeps a 1 MiB prefix).
"""

from __future__ import annotations

import re
from array import array
from collections import OrderedDict
from itertools import accumulate
from dataclasses import dataclass
from typing import Callable, Sequence

from memmap_tui.core.dump.page_index import RangeStats
from memmap_tui.core.ranges import Range

PAGE_DESC_BYTES = 24  # sizeof(page_desc_t)

ByteSource = Callable[[int, int], bytes]   # (offset, size) -> bytes (short or b"" past the end)

_RUN = re.compile(rb"\xff+|[^\x00\xff]")
_POPCOUNT = bytes(b.bit_count() for b in range(256))   # bytes.translate table: byte -> its set bits


class Bitmap:
    """A pfn bitmap (bit `pfn` = byte[pfn>>3] & 1<<(pfn&7)) with O(CHUNK) rank queries.

    `source(offset, size)` returns the bitmap's bytes (fewer where the file ends: those
    bits read as clear). Built in one pass of `READ`-byte reads; per chunk, all-ones and
    all-zero chunks compare at memcmp speed, others pay one int.from_bytes().bit_count().
    """

    CHUNK = 1 << 13        # bytes per prefix entry: the most a rank query reads back
    READ = 1 << 22         # bytes per read while building (bounded memory)
    CACHE = 8              # chunks kept for rank queries that come in address order
    MANY = 64              # ranks() queries in one chunk that pay for its per-byte running count
    SUB = 1 << 8           # bytes per in-chunk prefix entry of a cached chunk: a rank query
                           # popcounts at most this many bytes (65k queries in one chunk stay cheap)

    def __init__(self, source: bytes | ByteSource, nbits: int | None = None, *,
                 size_bytes: int | None = None, runs_limit: int = 1_000_000) -> None:
        if isinstance(source, (bytes, bytearray, memoryview)):
            data = bytes(source)
            size_bytes = len(data)
            source = lambda off, n: data[off:off + n]   # noqa: E731
        elif size_bytes is None:
            raise ValueError("a file-backed bitmap needs its size")
        self._source = source
        self.size_bytes = size_bytes
        self.nbits = size_bytes * 8 if nbits is None else min(nbits, size_bytes * 8)
        self.readable_bytes = 0            # bytes the source actually had
        self._cache: OrderedDict[int, tuple[bytes, array]] = OrderedDict()
        self._ranks: dict[int, int] = {}
        self._runs: list[tuple[int, int]] | None = []
        self._build(runs_limit)

    def _build(self, runs_limit: int) -> None:
        C = self.CHUNK
        read = max(C, self.READ // C * C)
        prefix = array("Q", [0])
        full, empty = b"\xff" * C, bytes(C)
        total = 0
        runs = self._runs
        for base in range(0, self.size_bytes, read):
            block = self._source(base, min(read, self.size_bytes - base))
            self.readable_bytes += len(block)
            mv = memoryview(block)
            for off in range(0, len(block), C):
                piece = mv[off:off + C]
                n = len(piece)
                if piece == full[:n]:
                    total += n * 8
                    if runs is not None:
                        _extend(runs, (base + off) * 8, (base + off + n) * 8)
                elif piece != empty[:n]:
                    total += int.from_bytes(piece, "little").bit_count()
                    if runs is not None:
                        runs = _collect_runs(runs, block, base, off, off + n, runs_limit)
                prefix.append(total)
            if len(block) < min(read, self.size_bytes - base):
                break                       # the file ends here: the rest reads as clear
        while len(prefix) < -(-self.size_bytes // C) + 1:
            prefix.append(total)
        self._prefix = prefix
        if runs is not None and runs and runs[-1][1] > self.nbits:
            lo, _ = runs[-1]
            runs[-1] = (lo, self.nbits)
            if lo >= self.nbits:
                runs.pop()
        self._runs = runs

    def _chunk(self, k: int) -> tuple[bytes, array]:
        """Chunk k's bytes and its in-chunk prefix counts per SUB bytes (built once per load)."""
        hit = self._cache.get(k)
        if hit is None:
            data = self._source(k * self.CHUNK, self.CHUNK) if k * self.CHUNK < self.readable_bytes else b""
            sub, total = array("I", [0]), 0
            for off in range(0, len(data), self.SUB):
                total += int.from_bytes(data[off:off + self.SUB], "little").bit_count()
                sub.append(total)
            hit = self._cache[k] = (data, sub)
            if len(self._cache) > self.CACHE:
                self._cache.popitem(last=False)
        return hit

    def rank(self, bit: int) -> int:
        """Set bits in [0, bit). The last few answers are kept: a range's presence and its
        descriptor span ask the 2nd bitmap the same positions."""
        hit = self._ranks.get(bit)
        if hit is None:
            hit = self._rank(bit)
            if len(self._ranks) >= 8:
                self._ranks.clear()
            self._ranks[bit] = hit
        return hit

    def _rank(self, bit: int) -> int:
        bit = max(0, min(bit, self.nbits))
        nbytes, rem = divmod(bit, 8)
        k, inside = divmod(nbytes, self.CHUNK)
        count = self._prefix[k]
        if inside or rem:
            data, sub = self._chunk(k)
            if inside:
                j = min(inside // self.SUB, len(sub) - 1)
                count += sub[j] + int.from_bytes(data[j * self.SUB:inside], "little").bit_count()
            if rem and inside < len(data):
                count += (data[inside] & ((1 << rem) - 1)).bit_count()
        return count

    def count(self, lo: int, hi: int) -> int:
        return self.rank(hi) - self.rank(lo) if hi > lo else 0

    def ranks(self, bits: Sequence[int]) -> list[int]:
        """rank() of each of `bits` (ascending). Positions are taken chunk by chunk: a chunk
        asked many times gets a per-byte running count once (one translate + accumulate), so
        each answer is two lookups — 65,536 one-page runs in one chunk cost milliseconds."""
        out: list[int] = []
        C, n, nb, prefix = self.CHUNK, len(bits), self.nbits, self._prefix
        at = 0
        while at < n:
            k = (max(0, min(bits[at], nb)) >> 3) // C
            end = at + 1          # bits[at] itself (it may lie past nbits: clamped into chunk k)
            limit = (k + 1) * C * 8
            while end < n and bits[end] < limit:
                end += 1
            if end - at < self.MANY:
                out += [self._rank(b) for b in bits[at:end]]
            else:
                data, _ = self._chunk(k)
                data = data + bytes(C + 1 - len(data))      # a cut file's missing bytes read as clear
                cum = [0, *accumulate(data.translate(_POPCOUNT))]
                base, top = prefix[k], k * C * 8
                for b in bits[at:end]:
                    b = (0 if b < 0 else nb if b > nb else b) - top
                    count = base + cum[b >> 3]
                    if b & 7:
                        count += (data[b >> 3] & ((1 << (b & 7)) - 1)).bit_count()
                    out.append(count)
            at = end
        return out

    def test(self, bit: int) -> bool:
        if not 0 <= bit < self.nbits:
            return False
        k, inside = divmod(bit >> 3, self.CHUNK)
        data, _ = self._chunk(k)
        return inside < len(data) and bool(data[inside] & (1 << (bit & 7)))

    @property
    def total(self) -> int:
        return self.rank(self.nbits)

    def runs(self) -> list[tuple[int, int]] | None:
        """Set-bit runs [lo, hi) in bit units; None when more than `runs_limit`."""
        return self._runs


def _collect_runs(runs: list[tuple[int, int]], block: bytes, base: int, lo: int, hi: int,
                  limit: int) -> list[tuple[int, int]] | None:
    """Runs of block[lo:hi] (a mixed chunk; whole 0xff/0x00 chunks never get here)."""
    for m in _RUN.finditer(block, lo, hi):
        s, e = m.span()
        if block[s] == 0xFF:
            _extend(runs, (base + s) * 8, (base + e) * 8)
        else:
            b = block[s]
            for k in range(8):
                if b & (1 << k):
                    _extend(runs, (base + s) * 8 + k, (base + s) * 8 + k + 1)
        if len(runs) > limit:
            return None
    return runs


def _extend(runs: list[tuple[int, int]], lo: int, hi: int) -> None:
    if runs and runs[-1][1] == lo:
        runs[-1] = (runs[-1][0], hi)
    else:
        runs.append((lo, hi))


@dataclass(frozen=True, slots=True)
class DescStats:
    data_bytes: int      # file bytes of page data (not the shared zero page)
    zero: int            # descriptors pointing at the shared zero page
    missing: int = 0     # descriptors beyond the end of the file (cut file) or never written


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

    @property
    def top(self) -> int:
        """End of the address space the bitmaps describe."""
        return (self.bm1.nbits + self.pfn_base) * self.block

    def held_bytes(self, bm: Bitmap, r: Range) -> int:
        """Bytes of `r` in blocks whose bit is set in `bm`."""
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

    def presence(self, r: Range) -> tuple[int, int]:
        return self.held_bytes(self.bm1, r), self.held_bytes(self.bm2, r)

    def _desc_span(self, r: Range) -> tuple[int, int]:
        """Descriptor indices of dumped blocks whose first byte lies in r."""
        b0 = self.pfn_base
        w0, w1 = self.desc_window
        lo = min(max(-(-r.start // self.block) - b0, w0), w1)
        hi = min(max(-(-r.end // self.block) - b0, w0), w1)
        return self.bm2.rank(lo) - self._desc_base, self.bm2.rank(hi) - self._desc_base

    def _one(self, r: Range) -> RangeStats:
        cov, pres = self.presence(r)
        return self._with_descriptors(cov, pres, *self._desc_span(r))

    def _with_descriptors(self, cov: int, pres: int, i: int, j: int) -> RangeStats:
        """The range's figures once its descriptors [i, j) are known."""
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
        bs = self.block
        if len(ranges) < 256 or any(r.start % bs or r.end % bs for r in ranges):
            return [self._one(r) for r in ranges]
        # Many block-aligned ranges (a dump-only map of a fragmented 1st bitmap: 32,768 runs
        # make 65,536 rows): every bitmap position is ranked once, in bulk, in address order.
        b0 = self.pfn_base
        w0, w1 = self.desc_window
        ends = {r.start // bs - b0 for r in ranges} | {r.end // bs - b0 for r in ranges}
        pos = sorted(ends | {min(max(p, w0), w1) for p in ends})
        rank1 = dict(zip(pos, self.bm1.ranks(pos)))
        rank2 = dict(zip(pos, self.bm2.ranks(pos)))
        # di: a range end -> its descriptor index (clamped to a --split file's window)
        di = {p: rank2[min(max(p, w0), w1)] - self._desc_base for p in ends}
        out = []
        for r in ranges:
            lo, hi = r.start // bs - b0, r.end // bs - b0
            out.append(self._with_descriptors((rank1[hi] - rank1[lo]) * bs if hi > lo else 0,
                                              (rank2[hi] - rank2[lo]) * bs if hi > lo else 0,
                                              di[lo], di[hi]))
        return out

    def totals(self) -> RangeStats:
        return self._one(Range(self.pfn_base * self.block, self.top))
