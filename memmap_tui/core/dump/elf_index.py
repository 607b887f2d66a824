"""ELF dumps: accounting straight from the PT_LOADs (pure; no file access)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from memmap_tui.core.dump.page_index import IntervalSums, RangeStats
from memmap_tui.core.ranges import Range, RangeSet


@dataclass(frozen=True, slots=True)
class Segment:
    """One PT_LOAD."""
    paddr: int
    memsz: int
    filesz: int
    offset: int
    vaddr: int
    kernel_image: bool = False

    @property
    def mem(self) -> Range:
        return Range(self.paddr, self.paddr + self.memsz)

    @property
    def file(self) -> Range:
        return Range(self.paddr, self.paddr + min(self.filesz, self.memsz))


class SegmentIndex:
    """covered = ∪ [p_paddr, +p_memsz); present = ∪ [p_paddr, +p_filesz); on disk = Σ p_filesz.

    Every query bisects three `IntervalSums`: O(log n) per range.
    """

    def __init__(self, segments: Sequence[Segment], page_size: int) -> None:
        self.page_size = page_size
        self.covered = RangeSet((s.paddr, s.paddr + s.memsz) for s in segments)
        files = [(s.paddr, s.paddr + min(s.filesz, s.memsz)) for s in segments if s.filesz and s.memsz]
        self.present = RangeSet(files)
        self._covered = IntervalSums(self.covered.pairs)
        self._present = IntervalSums(self.present.pairs)
        self._file = IntervalSums(files)      # not merged: each PT_LOAD's bytes are in the file

    @property
    def top(self) -> int:
        return self.covered.end or 0

    def presence(self, r: Range) -> tuple[int, int]:
        return self._covered.within(r.start, r.end), self._present.within(r.start, r.end)

    def stats(self, ranges: Sequence[Range]) -> list[RangeStats]:
        cov = self._covered.within_many(ranges)
        pres = self._present.within_many(ranges)
        disk = self._file.within_many(ranges)
        page = self.page_size
        return [RangeStats(c, p, (c - p) // page, 0, d) for c, p, d in zip(cov, pres, disk)]

    def totals(self) -> RangeStats:
        cov, pres = self._covered.total, self._present.total
        return RangeStats(cov, pres, (cov - pres) // self.page_size, 0, self._file.total)
