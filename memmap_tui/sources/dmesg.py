"""Boot log lines that say where the kernel put reserved memory, and what failed.

Wordings (drivers/of/of_reserved_mem.c, kernel/dma/*.c, kernel/crash_reserve.c):
  6.x  "Reserved memory: created CMA memory pool at 0x…, size N MiB"
       followed by "OF: reserved mem: initialized node NAME, compatible id X"
  7.x  "OF: reserved mem: 0x<base>..0x<last> (N KiB) nomap|map reusable|non-reusable NAME"
  v1   the no-dump series' "%pa..%pa (%lu KiB) %s %s %s %s": dump|no-dump before NAME
  6.x+ "OF: reserved mem: node NAME compatible matching fail" (init failed: region freed)
       "cannot allocate crashkernel (size:0x…)", "crashkernel reservation failed - memory is in use."
  any  "OF: fdt: Reserved memory: failed to reserve memory for node 'NAME': base …, size …"
       "… failed to allocate memory for node 'NAME'"
       "crashkernel reserved: 0x<start> - 0x<end> (N MB)"   (end exclusive)
       "crashkernel low memory reserved: 0x<start> - 0x<end> (N MB)"
A console log may repeat the same boot; later lines of the same node win.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from memmap_tui.core.model import Finding, Level
from memmap_tui.core.ranges import Range
from memmap_tui.core.replay import BootLog
from memmap_tui.sources.errors import read_text_input

_TS = r"(?:\[\s*\d+\.\d+\]\s*)?(?:<\d>)?"
# Bounded quantifiers only: a lazy `.+?` rescans a long line from every start (issue 14).
_POOL_6X = re.compile(r"Reserved memory: created ([A-Za-z][A-Za-z ]{0,40}?) pool at (0x[0-9a-fA-F]{1,16}), "
                      r"size (\d{1,12}) MiB")
_INIT_6X = re.compile(r"OF: reserved mem: initialized node (\S+) compatible id (\S+)")
_RMEM_7X = re.compile(
    r"OF: reserved mem: (0x[0-9a-fA-F]{1,16})\.\.(0x[0-9a-fA-F]{1,16}) \((\d{1,20}) KiB\) (nomap|map) "
    r"(reusable|non-reusable) (?:(dump|no-dump) )?(\S+)")
_INIT_FAIL = re.compile(r"OF: reserved mem: node (\S+) compatible matching fail")
_CRASH_FAIL = re.compile(r"cannot allocate crashkernel(?: low memory)? \(size:0x[0-9a-fA-F]+\)"
                         r"|crashkernel reservation failed - memory is in use")
_FAILED = re.compile(r"failed to (reserve|allocate) memory for node '([^']+)'")
_CRASH = re.compile(r"crashkernel (low memory )?reserved: (0x[0-9a-fA-F]{1,16}) - (0x[0-9a-fA-F]{1,16})\b")
_CRASH_CMA = re.compile(r"crashkernel CMA reserved: (\d{1,12}) MB in (\d{1,4}) ranges")
_CMDLINE = re.compile(r"Kernel command line: (.*)$")
_UNSUPPORTED = re.compile(r"Reserved memory: unsupported node format")
_MODEL = re.compile(r"Machine model: (.*)$")
_VERSION = re.compile(r"Linux version (\S+)")


@dataclass(slots=True)
class Placement:
    name: str
    range: Range
    line: str
    nomap: bool | None = None
    reusable: bool | None = None
    pool: str | None = None  # "CMA", "DMA", "restricted DMA"...
    dump_tag: str | None = None  # v1 series: "dump" | "no-dump"


@dataclass(slots=True)
class DmesgInfo:
    path: str
    placements: dict[str, Placement] = field(default_factory=dict)   # by node name
    failures: dict[str, str] = field(default_factory=dict)           # node name -> line
    init_failures: dict[str, str] = field(default_factory=dict)      # "compatible matching fail"
    crashkernel_line: str = ""
    crashkernel_failed: str = ""
    crashkernel: Range | None = None
    crashkernel_low: Range | None = None
    crashkernel_cma_mb: int | None = None
    cmdline: str | None = None
    model: str | None = None
    kernel_release: str | None = None   # "6.1.0-56-arm64" from the "Linux version" banner
    parent_unsupported: bool = False
    findings: list[Finding] = field(default_factory=list)
    lines_used: int = 0


def parse_dmesg(text: str, path: str = "<dmesg>") -> DmesgInfo:
    info = DmesgInfo(path=path)
    pending_pool: tuple[int, int, str, str] | None = None
    for line in text.splitlines():
        line = line.rstrip()
        if m := _RMEM_7X.search(line):
            start, last = int(m.group(1), 16), int(m.group(2), 16)
            name = m.group(7)
            if last < start:
                continue  # garbled line; a real kernel never prints it
            info.placements[name] = Placement(name, Range(start, last + 1), line.strip(),
                                              nomap=m.group(4) == "nomap",
                                              reusable=m.group(5) == "reusable",
                                              dump_tag=m.group(6))
        elif m := _POOL_6X.search(line):
            pending_pool = (int(m.group(2), 16), int(m.group(3)) << 20, m.group(1), line.strip())
            continue
        elif m := _INIT_6X.search(line):
            if pending_pool:
                base, size, pool, pool_line = pending_pool
                name = m.group(1).removesuffix(",")
                info.placements[name] = Placement(name, Range(base, base + size), pool_line,
                                                  reusable=pool.startswith("CMA") or None, pool=pool)
        elif m := _INIT_FAIL.search(line):
            info.init_failures[m.group(1)] = line.strip()
        elif _CRASH_FAIL.search(line):
            info.crashkernel_failed = line.strip()
        elif m := _FAILED.search(line):
            info.failures[m.group(2)] = line.strip()
        elif m := _CRASH.search(line):
            start, end = int(m.group(2), 16), int(m.group(3), 16)
            if end <= start:
                continue
            rng = Range(start, end)
            if m.group(1):
                info.crashkernel_low = rng
            else:
                info.crashkernel = rng
                info.crashkernel_line = line.strip()
        elif m := _CRASH_CMA.search(line):
            info.crashkernel_cma_mb = int(m.group(1))
        elif m := _CMDLINE.search(line):
            info.cmdline = m.group(1).strip()
        elif m := _VERSION.search(line):
            info.kernel_release = info.kernel_release or m.group(1)
        elif m := _MODEL.search(line):
            info.model = m.group(1).strip()
        elif _UNSUPPORTED.search(line):
            info.parent_unsupported = True
        else:
            pending_pool = None if "Reserved memory" not in line else pending_pool
            continue
        pending_pool = None
        info.lines_used += 1
    return info


def boot_log(info: DmesgInfo) -> BootLog:
    """The replay's observed layer (core/replay.py) from a parsed log."""
    return BootLog(source=info.path, failures=dict(info.failures), init_failures=dict(info.init_failures),
                   placed={name: p.line for name, p in info.placements.items()},
                   crashkernel=info.crashkernel, crashkernel_low=info.crashkernel_low,
                   crashkernel_line=info.crashkernel_line, crashkernel_failed=info.crashkernel_failed,
                   crashkernel_cma_mb=info.crashkernel_cma_mb)


def load_dmesg(path: str) -> DmesgInfo:
    info = parse_dmesg(read_text_input(path, "a kernel log"), path)
    if not info.lines_used:
        info.findings.append(Finding(Level.WARNING, "dmesg-empty",
                                     f"{path}: no reserved-memory, crashkernel or command-line lines found"))
    return info
