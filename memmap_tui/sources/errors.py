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
