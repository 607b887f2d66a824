"""File paths on screen: as the user typed them (relative), shortened from the middle when cut.

A path the app resolved itself (the bundled demo) is shown relative to the working directory
when it lies below it, else by its last two parts: the machine's home directory is nobody's
business in a screenshot or a ticket.
"""

from __future__ import annotations

import os
from pathlib import Path


def shown_path(path: str) -> str:
    p = Path(path)
    if not p.is_absolute():
        return path
    try:
        rel = os.path.relpath(p)
    except ValueError:   # another drive
        rel = path
    if not rel.startswith(os.path.join(os.pardir, os.pardir)):
        return rel       # below, or beside, the working directory
    return os.path.join("…", p.parent.name, p.name)


def shorten_middle(text: str, width: int) -> str:
    """`../shared/corpus/…/sm8450-hdk.dtb`: keep both ends, the file name wins."""
    if len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    tail = text.rsplit("/", 1)[-1]
    if len(tail) + 2 >= width:
        return "…" + tail[-(width - 1):]
    head = width - len(tail) - 2
    return text[:head] + "…/" + tail
