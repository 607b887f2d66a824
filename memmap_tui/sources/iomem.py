"""/proc/iomem: `"%*s%0*llx-%0*llx : %s"`, two spaces of indent per level, inclusive ends.

A reader without CAP_SYS_ADMIN sees every address as 0 (kernel/resource.c); such a
file is reported and dropped so the map is drawn from the other inputs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from memmap_tui.core.model import Finding, IomemEntry, Level
from memmap_tui.core.ranges import Range
from memmap_tui.sources.errors import InputError, read_text_input

# One pass, no backtracking: the name is taken whole and stripped afterwards (a lazy
# `(.*?)\s*$` retries every split of a long run of blanks: quadratic on one hostile line).
_LINE = re.compile(r"( *)([0-9a-fA-F]+)-([0-9a-fA-F]+) : (.*)")
# The kernel prints resource_size_t (u64 at most): 16 hex digits after leading zeros.
_ADDRESS_LIMIT = 1 << 64


@dataclass(slots=True)
class IomemInfo:
    path: str
    entries: list[IomemEntry] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    zeroed: bool = False


def parse_iomem(text: str, path: str = "<iomem>") -> IomemInfo:
    info = IomemInfo(path=path)
    raw: list[tuple[int, int, int, str]] = []
    bad: list[int] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        m = _LINE.fullmatch(line.replace("\t", "  "))
        if not m:
            bad.append(lineno)
            continue
        indent, start, last, name = m.groups()
        start_i, last_i = int(start, 16), int(last, 16)  # base 16: linear, no digit limit
        if last_i >= _ADDRESS_LIMIT:
            raise InputError(path, f"line {lineno}: address beyond the 64-bit physical address space")
        if last_i < start_i:
            bad.append(lineno)
            continue
        raw.append((len(indent) // 2, start_i, last_i, name.rstrip()))
    if not raw:
        what = f"line {bad[0]}" if bad else "the file is empty"
        raise InputError(path, f"not a /proc/iomem dump ({what}: expected 'start-end : name')")
    if bad:
        info.findings.append(Finding(
            Level.WARNING, "iomem-garbage",
            f"{path}: {len(bad)} line(s) are not iomem entries (first: line {bad[0]}); skipped"))
    if all(s == 0 and e == 0 for _, s, e, _ in raw):
        info.zeroed = True
        info.findings.append(Finding(
            Level.WARNING, "iomem-zeroed",
            f"{path}: every address is 0 — read without root (CAP_SYS_ADMIN); "
            "ignored, the map is drawn from the other inputs"))
        return info
    stack: list[int] = []  # indices of open ancestors by depth
    for depth, start, last, name in raw:
        del stack[depth:]
        depth = len(stack)  # an over-indented line is a child of the last open entry, no deeper
        parent = stack[-1] if stack else None
        info.entries.append(IomemEntry(Range(start, last + 1), name, depth, parent))
        stack.append(len(info.entries) - 1)
    return info


def load_iomem(path: str) -> IomemInfo:
    return parse_iomem(read_text_input(path, "a /proc/iomem text dump"), path)
