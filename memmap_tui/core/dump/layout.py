"""`DumpLayout`: what every dump reader returns (headers, coverage and a page index)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from memmap_tui.core.dump.elf_index import Segment
from memmap_tui.core.dump.page_index import IntervalSums, PageIndex, RangeStats
from memmap_tui.core.model import Finding, Level
from memmap_tui.core.ranges import Range, RangeSet


@dataclass(slots=True)
class DumpLayout:
    path: str
    format: str                      # "elf" | "kdump" | "diskdump" | "flattened-kdump" | "flattened-elf"
    page_size: int                   # the dumped kernel's page size (VMCOREINFO PAGESIZE first)
    block_size: int                  # dump granularity: kdump block_size, ELF page_size
    endianness: str                  # "little" | "big"
    machine: str | None = None       # "AArch64", "x86-64", utsname machine ...
    arch: str | None = None          # memmap-tui arch name: arm64, x86_64, riscv, loongarch
    osrelease: str | None = None
    vmcoreinfo: dict[str, str] = field(default_factory=dict)
    cpus: int | None = None          # NT_PRSTATUS notes / nr_cpus
    covered: RangeSet = field(default_factory=RangeSet)
    present: RangeSet | None = None  # None: too fragmented to list (kdump); counts stay exact
    kernel_image: Range | None = None
    index: PageIndex | None = None
    file_size_bytes: int = 0         # bytes stored at `path` (a cut file is shorter)
    dump_size_bytes: int | None = None  # the full dump's size as its headers describe it
    metadata_bytes: int = 0          # headers, notes, bitmaps, descriptor table, zero page
    header_version: int | None = None
    dump_level: int | None = None
    compression: str | None = None   # "zlib", "lzo", "snappy", "zstd", "mixed", None
    incomplete: bool = False         # DUMP_DH_COMPRESSED_INCOMPLETE
    split: Range | None = None       # physical range this split file covers
    producer: str | None = None      # "qemu", "makedumpfile", "kernel" (best guess, see notes)
    notes: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    segments: tuple[Segment, ...] = ()
    max_mapnr: int | None = None

    def warn(self, code: str, message: str, level: Level = Level.WARNING) -> None:
        self.findings.append(Finding(level, code, message))

    @property
    def covered_ram(self) -> RangeSet:
        """Coverage without the kernel-image PT_LOAD (it only duplicates RAM)."""
        if not self.segments:
            return self.covered
        return RangeSet(s.mem for s in self.segments if not s.kernel_image)

    def totals(self) -> RangeStats:
        return self.index.totals() if self.index else RangeStats(self.covered.size_bytes)

    def stats(self, ranges: Sequence[Range]) -> list[RangeStats]:
        if self.index is None:
            cov = IntervalSums(self.covered.pairs)
            return [RangeStats(cov.within(r.start, r.end)) for r in ranges]
        return self.index.stats(ranges)

    def presence(self, r: Range) -> tuple[int, int]:
        """(covered, present) bytes of `r`, without reading page descriptors."""
        if self.index is None:
            return self.stats([r])[0].covered_bytes, 0
        return self.index.presence(r)

    @property
    def extent(self) -> int:
        """End of the physical address space the dump describes."""
        return max(self.covered.end or 0, self.index.top if self.index is not None else 0)
