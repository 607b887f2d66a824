"""makedumpfile flattened format (`makedumpfile -F`, QEMU `dump-guest-memory -z`).

A 4096-byte big-endian header (signature "makedumpfile", type 1, version 1), then
records `{be64 offset; be64 size}` + data, each meaning "these bytes belong at
`offset` of the real file"; the end marker is offset = size = -1 (makedumpfile.c
write_start_flat_header(), write_end_flat_header()). The record headers are indexed
once at open (one 16-byte read per record, each size checked against the bytes left
in the file); a read then bisects the index. Bytes no record holds are not invented:
a read stops at the first gap, as it would at the end of a file. No reassembled file
is ever written.
"""

from __future__ import annotations

import heapq
import os
import struct
from bisect import bisect_right

from memmap_tui.sources.errors import InputError
from memmap_tui.sources.vmcore.reader import Reader

FLAT_SIGNATURE = b"makedumpfile"
FLAT_HEADER_BYTES = 4096
_REC = struct.Struct(">qq")


def is_flattened(head: bytes) -> bool:
    return head[:16].rstrip(b"\0") == FLAT_SIGNATURE


class FlatReader(Reader):
    def __init__(self, path: str) -> None:
        self.path = path
        self._f = open(path, "rb")
        self._fd = self._f.fileno()
        self.file_size_bytes = os.fstat(self._fd).st_size
        head = os.pread(self._fd, 32, 0)
        if not is_flattened(head):
            raise InputError(path, "not a makedumpfile flattened file (signature missing)")
        if len(head) < 32:
            raise InputError(path, f"flattened header cut at offset {len(head):#x}")
        ftype = struct.unpack(">q", head[16:24])[0]
        if ftype != 1:
            raise InputError(path, f"flattened header: type {ftype}, expected 1")
        self.end_marker = False
        self.damage: str | None = None     # first problem met while indexing (cut record ...)
        self._index(self._walk())

    def _walk(self) -> list[tuple[int, int, int]]:
        """(logical start, logical end, file offset of data) per non-empty record, in file order."""
        records = []
        cursor = FLAT_HEADER_BYTES
        size_bytes = self.file_size_bytes
        while True:
            hdr = os.pread(self._fd, 16, cursor)
            if len(hdr) < 16:
                self.damage = (f"record header cut at offset {cursor:#x} (no end marker)" if hdr
                               else f"file ends at {cursor:#x} without the end marker")
                break
            off, size = _REC.unpack(hdr)
            if off == -1 and size == -1:
                self.end_marker = True
                break
            if off < 0 or size < 0:
                self.damage = f"bad record at offset {cursor:#x} (offset {off}, size {size})"
                break
            data_at = cursor + 16
            if data_at + size > size_bytes:     # the size is checked before it is used
                here = max(0, size_bytes - data_at)
                self.damage = (f"record at {cursor:#x} cut: first missing offset {size_bytes:#x} "
                               f"(logical {off + here:#x})")
                if here:
                    records.append((off, off + here, data_at))
                break
            if size:
                records.append((off, off + size, data_at))
            cursor = data_at + size
        return records

    def _index(self, records: list[tuple[int, int, int]]) -> None:
        """Sorted, non-overlapping pieces; where records overlap the later one wins, as when
        makedumpfile -R writes them out in file order."""
        ordered = sorted(records)
        if all(ordered[k][1] <= ordered[k + 1][0] for k in range(len(ordered) - 1)):
            pieces = ordered                      # no overlap (QEMU may write out of order)
        else:
            pieces = _paint(records)
        self._starts = [p[0] for p in pieces]
        self._pieces = pieces
        self.extent = max((p[1] for p in pieces), default=0)

    # -- Reader -------------------------------------------------------------------
    @property
    def logical_size(self) -> int:
        return self.extent

    def read(self, offset: int, size: int) -> bytes:
        """Bytes from `offset` on, stopping at the first byte no record holds."""
        if size <= 0 or offset < 0:
            return b""
        end = offset + size
        k = bisect_right(self._starts, offset) - 1
        out = []
        pos = offset
        while 0 <= k < len(self._pieces) and pos < end:
            s, e, at = self._pieces[k]
            if not s <= pos < e:
                break
            hi = min(e, end)
            out.append(os.pread(self._fd, hi - pos, at + pos - s))
            pos = hi
            k += 1
        return b"".join(out)

    def close(self) -> None:
        self._f.close()


def _paint(records: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Overlapping records: each byte from the last record (in file order) that holds it.
    One sweep over the boundaries with a heap keyed on file order: O(n log n)."""
    points = sorted({p for s, e, _ in records for p in (s, e)})
    by_start = sorted((s, -k, e, at) for k, (s, e, at) in enumerate(records))
    heap: list[tuple[int, int, int, int]] = []
    pieces: list[tuple[int, int, int]] = []
    i = 0
    for p, q in zip(points, points[1:]):
        while i < len(by_start) and by_start[i][0] <= p:
            s, neg_k, e, at = by_start[i]
            heapq.heappush(heap, (neg_k, e, s, at))
            i += 1
        while heap and heap[0][1] <= p:
            heapq.heappop(heap)      # the latest record ends here; an older one may still cover
        if not heap:
            continue
        _, _, s, at = heap[0]
        src = at + p - s
        if pieces and pieces[-1][1] == p and pieces[-1][2] + (p - pieces[-1][0]) == src:
            pieces[-1] = (pieces[-1][0], q, pieces[-1][2])
        else:
            pieces.append((p, q, src))
    return pieces
