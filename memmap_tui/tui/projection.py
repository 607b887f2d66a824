"""What the TUI holds about capture: the write speed it assumes and, with `--vmcore`, each
policy's projection from that reference dump (core.dump.projection), kept between key presses.

Pure Python (no Textual). A toggle changes one policy's dumped ranges: only the policies whose
ranges changed are projected again (`update`), so the cards never recompute anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from memmap_tui.core.dump import DumpLayout, Projection, project_policy
from memmap_tui.core.policies import POLICIES, TODAY
from memmap_tui.core.policy import PolicyResults
from memmap_tui.core.units import capture_seconds

# what a capture time assumes, in the words the cards and the caption use
UNFILTERED = "unfiltered /proc/vmcore"
IN_DUMP = "in this dump file"
PROJECTED = "projected"


@dataclass(slots=True)
class Capture:
    """The write speed (and where it came from) and the per-policy projection of a loaded dump."""
    layout: DumpLayout | None
    write_speed_mbps: float
    speed_source: str = "--write-speed"
    projections: dict[str, Projection] = field(default_factory=dict)
    projected_count: int = 0      # project_policy calls so far (tests: a toggle projects one policy)
    _dropped: dict[str, tuple] = field(default_factory=dict)   # per policy: ranges last projected

    def update(self, results: PolicyResults) -> None:
        """Project again the policies whose newly excluded ranges changed (all, the first time)."""
        if self.layout is None:
            return
        base = results[TODAY.id].dumped
        for p in POLICIES:
            key = (base - results[p.id].dumped).pairs
            if self._dropped.get(p.id) != key or p.id not in self.projections:
                self.projections[p.id] = project_policy(self.layout, results, p.id, self.write_speed_mbps)
                self._dropped[p.id] = key
                self.projected_count += 1

    def set_speed(self, mbps: float, source: str, results: PolicyResults) -> None:
        if not mbps > 0 or mbps == float("inf"):
            raise ValueError("write speed must be a positive number of MB/s")
        self.write_speed_mbps, self.speed_source = mbps, source
        self._dropped.clear()   # capture times follow the speed: project every policy again
        self.update(results)

    def seconds(self, size_bytes: int) -> float:
        return capture_seconds(size_bytes, self.write_speed_mbps)

    @property
    def dump_bytes(self) -> int | None:
        """The reference dump's size as written (what a capture of it wrote)."""
        return None if self.layout is None else self.layout.dump_size_bytes

    def speed_from_duration(self, seconds: float) -> float | None:
        """MB/s that wrote this dump in `seconds`: its own size over the time the user measured."""
        size = self.dump_bytes
        if size is None or not seconds > 0 or seconds == float("inf"):
            return None
        return size / seconds / 1_000_000

    def assumption(self) -> str:
        """The capture-time assumption, said next to every time: speed and filtering."""
        speed = f"{self.write_speed_mbps:.4g} MB/s"
        if self.layout is None:
            return f"time = size ÷ {speed}, no makedumpfile filtering"
        level = f" -d {self.layout.dump_level}" if self.layout.dump_level is not None else ""
        return f"time = on disk ÷ {speed}, filtered as the{level} reference dump"


def why_on_disk(pr: Projection, page_size: int) -> tuple[str, bool]:
    """Why a policy's saving on disk is what it is, and whether it is ~0: from the dump's own
    figures in the ranges the policy newly excludes (the exact saving is shown beside it).

    Those bytes split into zero pages, pages the dump level filtered, and page data. Only page
    data costs file bytes: kdump keeps a zero page as a 24-byte descriptor pointing at one
    shared zero page (makedumpfile.c write_kdump_pages*(): pd_zero under -d 1), ELF
    (makedumpfile -E) writes neither zero nor filtered pages. So a carveout held as zero pages
    saves its size from /proc/vmcore but ~0 on disk. Parts under 1 % are not named."""
    d = pr.dropped
    covered = d.covered_bytes
    if not covered:
        return "nothing beyond today", True
    zero = d.zero_pages * page_size
    parts = {"zero pages": zero, "filtered": covered - d.present_bytes, "page data": d.present_bytes - zero}
    named = [k for k, v in sorted(parts.items(), key=lambda kv: -kv[1]) if v * 100 >= covered]
    if parts["page data"] * 100 >= covered:
        return " + ".join(named), False
    if named == ["zero pages"]:
        return "held as zero pages: ~0 on disk", True
    if named == ["filtered"]:
        return "already filtered out of this dump: ~0 on disk", True
    return " + ".join(named) + ": ~0 on disk", True
