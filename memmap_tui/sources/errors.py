"""The one error type every loader raises for bad input, and the bounded way inputs are read.

The CLI turns InputError into a single stderr line `memmap-tui: FILE: what is wrong`
and exit status 2; nothing below the CLI prints or exits.

Inputs are read through `open_input`: a FIFO or device given by name is refused
(`/dev/zero` would be read until memory runs out, a FIFO with no writer blocks
forever); `-` is standard input, read through the same size cap.
"""

from __future__ import annotations

import os
import stat
import sys
from typing import BinaryIO

# Real /proc/iomem dumps are a few KiB, kernel logs a few MiB and DTBs under 2 MiB
# (FDT totalsize is a u32, but no board comes near): anything larger is not one.
MAX_TEXT_INPUT_BYTES = 256 << 20
MAX_DTB_INPUT_BYTES = 256 << 20
STDIN_PATH = "-"
_CHUNK = 1 << 20


class InputError(Exception):
    def __init__(self, path: str | None, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


def open_input(path: str) -> BinaryIO:
    """Open a named input for reading; refuse anything but a regular file (or `-`, stdin).

    O_NONBLOCK makes opening a FIFO with no writer return at once so it can be refused,
    rather than block in open(2)."""
    if path == STDIN_PATH:
        return sys.stdin.buffer
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise InputError(path, e.strerror or str(e)) from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise InputError(path, "is a directory")
        if not stat.S_ISREG(mode):
            kind = ("a FIFO" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
                    else "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
            raise InputError(path, f"{kind}, not a regular file (use '-' to read standard input)")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


_limit_override_bytes: int | None = None   # `memmap-tui --max-input-size`


def set_input_limit(size_bytes: int | None) -> None:
    """Replace every whole-file cap (DTB, container, text inputs) — for the rare real input
    past 256 MiB, such as a long serial console capture. vmcores are never read whole."""
    global _limit_override_bytes
    _limit_override_bytes = size_bytes


def _too_large(path: str, limit: int) -> InputError:
    from memmap_tui.core.units import exact_size
    return InputError(path, f"larger than {exact_size(limit)}: not a plausible input of this kind "
                            "(memmap-tui --max-input-size SIZE raises the cap)")


def read_input_bytes(path: str, limit: int) -> bytes:
    """The whole input, at most `limit` bytes; a longer one is an InputError (never read on)."""
    if _limit_override_bytes is not None:
        limit = _limit_override_bytes
    f = open_input(path)
    try:
        # Chunked: read(limit + 1) would allocate the whole limit up front for every input.
        # A regular file's first read asks for its size (+1, to see it grow): one allocation,
        # and join() of a single chunk is that same object, not a second copy.
        size = None if f is sys.stdin.buffer else os.fstat(f.fileno()).st_size
        if size is not None and size > limit:
            raise _too_large(path, limit)
        chunks, total = [], 0
        while total <= limit:
            want = size + 1 if size is not None and not chunks else _CHUNK
            chunk = f.read(min(want, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        data = b"".join(chunks)
    except OSError as e:
        raise InputError(path, e.strerror or str(e)) from None
    finally:
        if f is not sys.stdin.buffer:
            f.close()
    if len(data) > limit:
        raise _too_large(path, limit)
    return data


def read_text_input(path: str, what: str, limit: int = MAX_TEXT_INPUT_BYTES) -> str:
    """Read a text dump (iomem, dmesg); binary data or an unreadable file is an InputError."""
    data = read_input_bytes(path, limit)
    if b"\0" in data[:4096]:
        raise InputError(path, f"binary data, not {what}")
    return data.decode("utf-8", "replace")
