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
# what the figures assume and the --mem-usage estimate need no dump: core/capture.py, so a
# DTB-only `report --json` never imports this package


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
