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


def why_on_disk(pr: Projection, page_size: int) -> str:
    """Why a policy's saving on disk is what it is, from the dump's own figures in the ranges
    it newly excludes (shown next to the exact on-disk saving, so the words may round).

    kdump keeps a zero page as a 24-byte descriptor pointing at one shared zero page
    (makedumpfile.c write_kdump_pages*(): pd_zero under -d 1), so a carveout held as zero
    pages saves its size from /proc/vmcore but ~0 on disk."""
    d = pr.dropped
    if not d.covered_bytes:
        return "nothing beyond today"
    if not d.present_bytes:
        return "already filtered out of this dump"
    zero = d.zero_pages * page_size
    if zero * 100 >= d.present_bytes * 99:
        return "held as zero pages"
    if zero:
        return f"{zero * 100 // d.present_bytes} % held as zero pages"
    return "page data"
