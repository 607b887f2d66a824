"""makedumpfile flattened format (`makedumpfile -F`, QEMU `dump-guest-memory -z`).

A 4096-byte big-endian header (signature "makedumpfile", type 1, version 1), then
records `{be64 offset; be64 size}` + data, each meaning "these bytes belong at
`offset` of the real file"; the end marker is offset = size = -1. We index the
records lazily — walking only as far as the bytes asked for (headers, bitmaps,
descriptors) need — and never write a reassembled file.
"""

from __future__ import annotations

import os
import struct
from bisect import bisect_left, insort

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
        ftype, version = struct.unpack(">qq", head[16:32])
        if ftype != 1:
            raise InputError(path, f"flattened header: type {ftype}, expected 1")
        self.version = version
        self._records: list[tuple[int, int, int]] = []   # (logical start, logical end, file offset of data)
        self._max_len = 0
        self._cursor = FLAT_HEADER_BYTES   # file offset of the next record header
        self.done = False                  # walked to the end marker or to EOF
        self.end_marker = False
        self.damage: str | None = None     # first problem met while walking (cut record ...)
        self.extent = 0                    # max logical end over indexed records

    # -- walking ----------------------------------------------------------------
    def _next(self) -> bool:
        if self.done:
            return False
        hdr = os.pread(self._fd, 16, self._cursor)
        if len(hdr) < 16:
            self.done = True
            if hdr or self._cursor < self.file_size_bytes:
                self.damage = f"record header cut at offset {self._cursor:#x} (no end marker)"
            else:
                self.damage = f"file ends at {self._cursor:#x} without the end marker"
            return False
        off, size = _REC.unpack(hdr)
        if off == -1 and size == -1:
            self.done = self.end_marker = True
            return False
        if off < 0 or size < 0:
            self.done = True
            self.damage = f"bad record at offset {self._cursor:#x} (offset {off}, size {size})"
            return False
        data_at = self._cursor + 16
        if data_at + size > self.file_size_bytes:
            size_here = max(0, self.file_size_bytes - data_at)
            self.damage = (f"record at {self._cursor:#x} cut: first missing offset "
                           f"{self.file_size_bytes:#x} (logical {off + size_here:#x})")
            self.done = True
            if size_here:
                self._add(off, off + size_here, data_at)
            return False
        self._add(off, off + size, data_at)
        self._cursor = data_at + size
        return True

    def _add(self, start: int, end: int, data_at: int) -> None:
        insort(self._records, (start, end, data_at))
        self._max_len = max(self._max_len, end - start)
        self.extent = max(self.extent, end)

    def walk_all(self) -> None:
        while self._next():
            pass

    def _covered(self, start: int, end: int) -> bool:
        pos = start
        for s, e, _ in self._overlapping(start, end):
            if s > pos:
                return False
            pos = max(pos, e)
            if pos >= end:
                return True
        return pos >= end

    def _overlapping(self, start: int, end: int):
        i = bisect_left(self._records, (start - self._max_len, -1, -1))
        out = []
        for rec in self._records[i:]:
            if rec[0] >= end:
                break
            if rec[1] > start:
                out.append(rec)
        return out

    @property
    def record_count(self) -> int:
        return len(self._records)

    # -- Reader -------------------------------------------------------------------
    @property
    def logical_size(self) -> int | None:
        return self.extent if self.done else None

    def read(self, offset: int, size: int) -> bytes:
        if size <= 0 or offset < 0:
            return b""
        end = offset + size
        while not self._covered(offset, end) and self._next():
            pass
        if self.done:
            end = min(end, self.extent)   # beyond every record: not part of the image
        if end <= offset:
            return b""
        # Bytes no record wrote are zero in the reassembled (sparse) file.
        buf = bytearray(end - offset)
        for s, e, at in self._overlapping(offset, end):
            lo, hi = max(s, offset), min(e, end)
            buf[lo - offset:hi - offset] = os.pread(self._fd, hi - lo, at + lo - s)
        return bytes(buf)

    def available(self, offset: int, size: int) -> int:
        return len(self.read(offset, size))

    def close(self) -> None:
        self._f.close()
