"""A compressed dump (`vmcore.xz`, `.gz`, `.bz2`, `.zst`) read through a forward-only decompressor.

ELF and kdump headers, notes, bitmaps and page descriptors sit at the start of the
image, so the readers get them by decompressing only up to the highest offset they
ask for. Past STREAM_BUDGET_BYTES of decompressed data a read raises a clear error
(decompress the file first) instead of running for minutes. The decompressed size comes
from the xz index or the gzip trailer when the format records it.
"""

from __future__ import annotations

import os
import struct

from memmap_tui.core.units import exact_size
from memmap_tui.sources.decompress import Stream
from memmap_tui.sources.errors import InputError
from memmap_tui.sources.vmcore.reader import Reader

STREAM_BUDGET_BYTES = 128 << 20   # ~1-2 s of xz decoding on one core
MAX_XZ_STREAMS = 64


class StreamedReader(Reader):
    def __init__(self, path: str, kind: str, budget_bytes: int | None = None) -> None:
        self.path, self.kind, self.budget_bytes = path, kind, budget_bytes or STREAM_BUDGET_BYTES
        self._f = open(path, "rb")
        self.compressed_size_bytes = os.fstat(self._f.fileno()).st_size
        self.decompressed_size_bytes = _decompressed_size(self._f, kind, self.compressed_size_bytes)
        self._f.seek(0)
        self._chunks = iter(Stream(self._f, kind, path))   # a generator: close() ends it
        self._buf = bytearray()
        self._eof = False
        # unknown size (bzip2, zstd without content size): assume whole, never claim a cut
        self.file_size_bytes = self.decompressed_size_bytes if self.decompressed_size_bytes is not None else 1 << 62

    @property
    def streamed_bytes(self) -> int:
        return len(self._buf)

    def _fill(self, end: int) -> None:
        if end > self.budget_bytes and end > len(self._buf):   # refuse up front, do not stream in vain
            raise InputError(self.path, f"needs offset {end - 1:#x} of the decompressed dump, beyond the "
                                        f"first {exact_size(self.budget_bytes)} read through {self.kind}; "
                                        "decompress the file first")
        while len(self._buf) < end and not self._eof:
            chunk = next(self._chunks, None)
            if chunk is None:
                self._eof = True
            else:
                self._buf += chunk

    def read(self, offset: int, size: int) -> bytes:
        if offset < 0 or size <= 0 or offset >= self.file_size_bytes:
            return b""
        self._fill(min(offset + size, self.file_size_bytes))
        return bytes(self._buf[offset:offset + size])

    @property
    def logical_size(self) -> int | None:
        return self.decompressed_size_bytes

    def close(self) -> None:
        self._chunks.close()     # ends a zstd child process too
        self._f.close()


def streamed_note(reader: StreamedReader) -> str:
    size = (f"{reader.decompressed_size_bytes:,} bytes decompressed" if reader.decompressed_size_bytes is not None
            else "decompressed size not recorded, assumed complete")
    return (f"header-only through {reader.kind}: headers, notes and bitmaps from the first "
            f"{reader.streamed_bytes:,} decompressed bytes; page data never decompressed "
            f"({reader.compressed_size_bytes:,} bytes compressed, {size})")


def _decompressed_size(f, kind: str, file_size: int) -> int | None:
    if kind == "xz":
        return _xz_size(f, file_size)
    if kind == "gzip" and file_size >= 18:
        f.seek(file_size - 4)
        isize = struct.unpack("<I", f.read(4))[0]   # RFC 1952 ISIZE: size mod 2^32
        return isize if file_size < 1 << 32 and isize >= file_size // 1032 else None
    return None


def _xz_size(f, file_size: int) -> int | None:
    """Sum of uncompressed sizes in every stream's index (xz file format §4, §6), read backwards."""
    end, total = file_size, 0
    for _ in range(MAX_XZ_STREAMS):
        while end >= 4:                       # stream padding: zero bytes, multiple of 4
            f.seek(end - 4)
            if f.read(4) != b"\0\0\0\0":
                break
            end -= 4
        if end < 24:
            return None
        f.seek(end - 12)
        footer = f.read(12)
        if footer[10:12] != b"YZ":
            return None
        index_size = (struct.unpack_from("<I", footer, 4)[0] + 1) * 4
        index_start = end - 12 - index_size
        if index_start < 12:
            return None
        f.seek(index_start)
        index = f.read(index_size)
        if not index or index[0] != 0:
            return None
        pos = 1
        count, pos = _varint(index, pos)
        blocks = 0
        for _ in range(count):
            unpadded, pos = _varint(index, pos)
            uncompressed, pos = _varint(index, pos)
            blocks += (unpadded + 3) & ~3
            total += uncompressed
            if pos > len(index):
                return None
        start = index_start - blocks - 12
        if start == 0:
            return total
        if start < 0:
            return None
        end = start
    return None


def _varint(b: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while pos < len(b) and shift < 63:
        byte = b[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
    return value, len(b) + 1
