"""The one error type every loader raises for bad input.

The CLI turns it into a single stderr line `memmap-tui: FILE: what is wrong`
and exit status 2; nothing below the CLI prints or exits.
"""

from __future__ import annotations


class InputError(Exception):
    def __init__(self, path: str | None, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


def read_capped(path: str, cap_bytes: int, what: str) -> bytes:
    """A whole input, bounded (a FIFO or /dev/zero ends at the cap, not in a hang)."""
    try:
        with open(path, "rb") as f:
            data = f.read(cap_bytes + 1)
    except OSError as e:
        raise InputError(path, e.strerror or str(e)) from None
    if len(data) > cap_bytes:
        raise InputError(path, f"{what} larger than {cap_bytes >> 20} MiB")
    return data


def read_text_input(path: str, what: str) -> str:
    """Read a text dump (iomem, dmesg); binary data or an unreadable file is an InputError."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise InputError(path, e.strerror or str(e)) from None
    if b"\0" in data[:4096]:
        raise InputError(path, f"binary data, not {what}")
    return data.decode("utf-8", "replace")
