"""What is selected: a typed value the main screen holds reactively (tree, map and details watch it)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from memmap_tui.core.ranges import Range


class SelKind(StrEnum):
    OVERVIEW = "overview"
    REGION = "region"      # a Region (reserved-memory child, /memreserve/ entry, crash kernel)
    RAM = "ram"            # a System RAM bank
    IOMEM = "iomem"        # an iomem line no DT region explains
    HOLE = "hole"          # address space with no RAM, region or iomem line
    GROUP = "group"        # a tree heading: a table of its regions


@dataclass(frozen=True, slots=True)
class Selection:
    kind: SelKind
    region_id: str | None = None      # REGION
    range: Range | None = None        # RAM, IOMEM, HOLE
    iomem_index: int | None = None    # IOMEM: index into MemoryMap.iomem
    group: str | None = None          # GROUP: the tree group's title

    @property
    def on_map(self) -> bool:
        """Whether the band map can show it (a group heading keeps the map's selection)."""
        return self.kind not in (SelKind.OVERVIEW, SelKind.GROUP)


OVERVIEW = Selection(SelKind.OVERVIEW)


def region(region_id: str) -> Selection:
    return Selection(SelKind.REGION, region_id=region_id)


def ram(bank: Range) -> Selection:
    return Selection(SelKind.RAM, range=bank)


def hole(rng: Range) -> Selection:
    return Selection(SelKind.HOLE, range=rng)


def iomem(index: int, rng: Range) -> Selection:
    return Selection(SelKind.IOMEM, range=rng, iomem_index=index)


def group(title: str) -> Selection:
    return Selection(SelKind.GROUP, group=title)
