"""Random access to a dump's bytes: a plain file, or the image a flattened file describes.

Readers never read page data unless asked; `read()` returns short data where the
file ends (a cut file) or where no flattened record covers the bytes.
"""

from __future__ import annotations

import os


class Reader:
    path: str
    file_size_bytes: int   # bytes stored at path
    damage: str | None = None   # a flattened stream's first broken record

    def read(self, offset: int, size: int) -> bytes:
        raise NotImplementedError

    @property
    def logical_size(self) -> int:
        """Size of the (reassembled) dump image."""
        return self.file_size_bytes

    def close(self) -> None:
        pass


class FileReader(Reader):
    def __init__(self, path: str) -> None:
        self.path = path
        self._f = open(path, "rb")
        self.file_size_bytes = os.fstat(self._f.fileno()).st_size

    def read(self, offset: int, size: int) -> bytes:
        if offset < 0 or size <= 0 or offset >= self.file_size_bytes:
            return b""
        return os.pread(self._f.fileno(), min(size, self.file_size_bytes - offset), offset)

    def close(self) -> None:
        self._f.close()
