"""What capture figures assume, and the filtered size estimated from page counts alone.

No dump is needed for either: kept apart from `core.dump` (which the projection from a loaded
dump lives in) so a report without `--vmcore` never loads the dump package.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from memmap_tui.core.policies import POLICIES, TODAY
from memmap_tui.core.policy import PolicyResults

if TYPE_CHECKING:
    from memmap_tui.core.dump.layout import DumpLayout


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
