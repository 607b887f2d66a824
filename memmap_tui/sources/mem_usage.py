"""`makedumpfile --mem-usage /proc/kcore` output: page counts per type on a live system.

Format from makedumpfile's own source, print_mem_usage() in makedumpfile.c (upstream
github.com/makedumpfile/makedumpfile, commit b7587f1; same text in 1.7.x):

    TYPE		PAGES			EXCLUDABLE	DESCRIPTION
    ----------------------------------------------------------------------
    ZERO		%-16llu	yes		Pages filled with zero
    NON_PRI_CACHE	%-16llu	yes		Cache pages without private flag
    PRI_CACHE	%-16llu	yes		Cache pages with private flag
    USER		%-16llu	yes		User process pages
    FREE		%-16llu	yes		Free pages
    KERN_DATA	%-16llu	no		Dumpable kernel data

    page size:		%-16ld
    Total pages on system:	%-16llu
    Total size on system:	%-16llu Byte

Other makedumpfile messages may come before the table; they are skipped. KERN_DATA is
"total − every excluded page" (hwpoison and offline pages too, which the table does
not list), so the rows need not add up to the total.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass

from memmap_tui.sources.errors import InputError

MAX_BYTES = 1 << 20            # the table is < 1 KiB; a megabyte of log around it is plenty
TYPES = ("ZERO", "NON_PRI_CACHE", "PRI_CACHE", "USER", "FREE", "KERN_DATA")
# -d bits that exclude each type (makedumpfile.h DL_EXCLUDE_*; __exclude_unnecessary_pages():
# DL_EXCLUDE_CACHE_PRI (4) drops cache pages whether private or not).
EXCLUDED_BY = {"ZERO": 0x1, "NON_PRI_CACHE": 0x2 | 0x4, "PRI_CACHE": 0x4, "USER": 0x8, "FREE": 0x10}
_ROW = re.compile(r"([A-Z_]+)[ \t]+([0-9]{1,20})[ \t]+(yes|no)\b")
_FIELD = re.compile(r"(page size|Total pages on system|Total size on system):[ \t]*([0-9]{1,20})")


@dataclass(frozen=True, slots=True)
class MemUsage:
    path: str
    page_size_bytes: int
    total_pages: int
    pages: dict[str, int]          # TYPE -> pages

    def kept_pages(self, dump_level: int) -> int:
        """Pages makedumpfile -d `dump_level` would keep (from the table's counts)."""
        dropped = sum(n for t, n in self.pages.items() if EXCLUDED_BY.get(t, 0) & dump_level)
        return max(0, self.total_pages - dropped)


def read_mem_usage(path: str) -> MemUsage:
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise InputError(path, "not a regular file (save the makedumpfile --mem-usage output to a file)")
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as e:
        raise InputError(path, e.strerror or str(e)) from None
    if len(data) > MAX_BYTES:
        raise InputError(path, f"more than {MAX_BYTES} bytes: not makedumpfile --mem-usage output")
    return parse_mem_usage(data.decode("utf-8", "replace"), path)


def parse_mem_usage(text: str, path: str = "--mem-usage") -> MemUsage:
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.split()[:4] == ["TYPE", "PAGES", "EXCLUDABLE",
                                                                           "DESCRIPTION"]), None)
    if start is None:
        raise InputError(path, "no TYPE / PAGES / EXCLUDABLE table: not makedumpfile --mem-usage output")
    pages: dict[str, int] = {}
    fields: dict[str, int] = {}
    for line in lines[start + 1:]:
        m = _ROW.match(line)
        if m and m.group(1) in TYPES:
            if m.group(1) in pages:
                raise InputError(path, f"{m.group(1)} listed twice")
            pages[m.group(1)] = int(m.group(2))
            continue
        m = _FIELD.match(line.strip())
        if m:
            fields[m.group(1)] = int(m.group(2))
    missing = [t for t in TYPES if t not in pages]
    if missing:
        raise InputError(path, f"mem-usage table lacks {', '.join(missing)}")
    page, total = fields.get("page size"), fields.get("Total pages on system")
    if not page or page & (page - 1):
        raise InputError(path, f"bad or missing page size ({page})")
    if total is None:
        raise InputError(path, "missing 'Total pages on system'")
    size = fields.get("Total size on system")
    if size is not None and size != total * page:
        raise InputError(path, f"Total size on system {size} ≠ {total} pages × {page} B")
    if sum(n for t, n in pages.items() if t != "KERN_DATA") > total:
        raise InputError(path, f"excludable pages exceed the {total} pages on the system")
    return MemUsage(path, page, total, pages)
