"""What each policy's dump would be, projected from a reference dump of the same board.

The reference dump was taken under `today` (current kernels). A policy that drops more
ranges removes from it exactly the bytes the dump holds inside those ranges — counted
from its own bitmaps / PT_LOAD p_filesz (the page index), header-only as everywhere:

  present_bytes  bytes of page contents the dump holds, minus those inside the ranges
                 the policy newly excludes (projected)
  saved_bytes    the present bytes removed
  on_disk_bytes  the dump file's size minus the file bytes those pages cost: kdump, their
                 compressed sizes + 24 B per page descriptor (zero pages: 24 B only);
                 ELF, their p_filesz bytes. Headers and bitmaps stay (bitmap size follows
                 max_mapnr, not the policy; PT_LOAD headers change by a few bytes: ignored).

So a carveout the dump held as zero pages saves its unfiltered size from /proc/vmcore
but only 24 B per page on disk (domain.md §5).
"""

from __future__ import annotations

from dataclasses import dataclass

from memmap_tui.core.dump.layout import DumpLayout
from memmap_tui.core.dump.page_index import RangeStats, sum_stats
from memmap_tui.core.policies import POLICIES, TODAY
from memmap_tui.core.policy import PolicyResults
from memmap_tui.core.units import capture_seconds


@dataclass(frozen=True, slots=True)
class Projection:
    policy: str
    present_bytes: int
    saved_bytes: int
    on_disk_bytes: int | None        # None: the dump's descriptors are cut, sizes unknown
    saved_on_disk_bytes: int | None
    capture_seconds: float | None    # on_disk_bytes at the assumed write speed
    dropped: RangeStats              # the dump's figures inside the ranges the policy newly excludes

    def as_dict(self) -> dict:
        return {"present_bytes": self.present_bytes, "saved_bytes": self.saved_bytes,
                "on_disk_bytes": self.on_disk_bytes, "saved_on_disk_bytes": self.saved_on_disk_bytes,
                "capture_seconds": None if self.capture_seconds is None else round(self.capture_seconds, 3)}


def project(layout: DumpLayout, results: PolicyResults, write_speed_mbps: float) -> dict[str, Projection]:
    """Per registered policy, the reference dump minus what the policy newly excludes."""
    return {p.id: project_policy(layout, results, p.id, write_speed_mbps) for p in POLICIES}


def project_policy(layout: DumpLayout, results: PolicyResults, policy_id: str,
                   write_speed_mbps: float) -> Projection:
    """One policy's projection: a toggle changes one policy, so a view recomputes only that one."""
    totals = layout.totals()
    size = layout.dump_size_bytes
    cut = sum_stats(layout.stats(list(results[TODAY.id].dumped - results[policy_id].dumped)))
    present = totals.present_bytes - cut.present_bytes
    disk = None if size is None or cut.on_disk_bytes is None else size - cut.on_disk_bytes
    return Projection(policy_id, present, cut.present_bytes, disk, cut.on_disk_bytes,
                      None if disk is None else capture_seconds(disk, write_speed_mbps), cut)


def assumptions(layout: DumpLayout | None, write_speed_mbps: float, source: str) -> dict:
    """What the projected figures assume: write speed, whether the dump was filtered, from what."""
    filtered = bool(layout is not None and (layout.dump_level or
                                            any(s.filesz < s.memsz for s in layout.segments)))
    return {"write_speed_mbps": write_speed_mbps, "filtered": filtered, "source": source}


@dataclass(frozen=True, slots=True)
class Estimate:
    """A filtered dump's size from page counts alone (`makedumpfile --mem-usage`), no dump."""
    policy: str
    dump_level: int
    min_bytes: int
    max_bytes: int

    def as_dict(self) -> dict:
        return {"dump_level": self.dump_level, "min_bytes": self.min_bytes, "max_bytes": self.max_bytes}


def estimate(kept_bytes: int, dump_level: int, results: PolicyResults) -> dict[str, Estimate]:
    """Per policy, page data bytes a `-d dump_level` dump keeps, as a range.

    `kept_bytes`: what the page-count table says `today` keeps at that level. Carveout
    pages are PageReserved — never cache, user or free pages — so only `-d 1` can drop
    them, and only the zero ones. With bit 1 set the table cannot say how a carveout
    splits into zero and data pages: its saving lies between 0 (all zero: already
    filtered) and its size (all data). Without bit 1 every page is kept: exact.
    """
    baseline = results[TODAY.id].dumped
    out: dict[str, Estimate] = {}
    for policy in POLICIES:
        dropped = min(kept_bytes, (baseline - results[policy.id].dumped).size_bytes)
        if dump_level & 0x1:
            lo, hi = kept_bytes - dropped, kept_bytes
        else:
            lo = hi = kept_bytes - dropped
        out[policy.id] = Estimate(policy.id, dump_level, lo, hi)
    return out
