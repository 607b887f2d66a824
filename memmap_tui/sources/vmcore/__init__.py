"""Dump readers: `open_dump(path)` sniffs the format and returns a `DumpLayout`.

ELF (/proc/vmcore, makedumpfile -E, QEMU dump-guest-memory), kdump-compressed
(KDUMP/DISKDUMP) and makedumpfile's flattened wrapper around either. Headers,
notes, bitmaps and page descriptors only; page data is never read.
"""

from __future__ import annotations

import os
import stat
import struct

from memmap_tui.core.dump import DumpLayout
from memmap_tui.sources.errors import InputError
from memmap_tui.sources.vmcore.elf import is_elf, read_elf
from memmap_tui.sources.vmcore.flattened import FlatReader, is_flattened
from memmap_tui.sources.vmcore.kdump import is_kdump, read_kdump
from memmap_tui.sources.vmcore.reader import FileReader

__all__ = ["open_dump", "DumpLayout", "InputError"]


def open_dump(path: str) -> DumpLayout:
    """Read a dump's headers into a DumpLayout; bad files raise InputError (one line)."""
    path = os.fspath(path)
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise InputError(path, exc.strerror or str(exc)) from None
    if not stat.S_ISREG(mode):
        # A FIFO would block and a device (/dev/zero) never ends; dumps need random access.
        raise InputError(path, "not a regular file: a vmcore must be a file on disk "
                               "(save a pipe or device to a file first)")
    try:
        reader = FileReader(path)
    except OSError as exc:
        raise InputError(path, exc.strerror or str(exc)) from None
    head = reader.read(0, 16)
    if not head:
        reader.close()
        raise InputError(path, "empty file")
    try:
        if is_flattened(head):
            reader.close()
            reader = FlatReader(path)
            inner = reader.read(0, 16)
            if is_kdump(inner):
                return _safe(read_kdump, reader, "flattened-kdump")
            if is_elf(inner):
                return _safe(read_elf, reader, "flattened-elf")
            raise InputError(path, "flattened file holds neither a kdump nor an ELF image"
                             + (f" ({reader.damage})" if reader.damage else ""))
        if is_kdump(head):
            return _safe(read_kdump, reader, "kdump")
        if is_elf(head):
            return _safe(read_elf, reader, "elf")
    except BaseException:
        reader.close()
        raise
    reader.close()
    raise InputError(path, "not a vmcore: no ELF, KDUMP/DISKDUMP or makedumpfile flattened signature")


def _safe(fn, reader, fmt: str) -> DumpLayout:
    try:
        return fn(reader, fmt)
    except InputError:
        raise
    except (ValueError, OverflowError, MemoryError, struct_error(), IndexError) as exc:
        # Damage our checks did not anticipate still ends as one clean line.
        raise InputError(reader.path, f"damaged {fmt} dump: {exc}") from None


def struct_error():
    return struct.error
