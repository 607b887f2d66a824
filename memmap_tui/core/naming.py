"""The name a person recognises a region by (tree, map, cards, report), the DT path stays in details.

Qualcomm boards name 40+ carveouts `memory@…`: the node name tells them apart by address only.
The rule, first that exists: the DT label (`&mpss_mem`), the device whose `memory-region`
points at the node (`remoteproc@4080000`, `+1` when several share it), the first `compatible`
(`qcom,smem`), else the node name. /memreserve/ entries and the crash kernel keep their ids.
"""

from __future__ import annotations

from memmap_tui.core.model import Region, RegionKind


def display_name(region: Region) -> str:
    if region.kind in (RegionKind.MEMRESERVE, RegionKind.CRASHKERNEL):
        return region.id
    if region.labels:
        return region.labels[0]
    if region.users:
        first = region.users[0].rsplit("/", 1)[-1]
        more = len(region.users) - 1
        return first + (f" +{more}" if more else "")
    if region.compatible:
        return region.compatible[0]
    return region.name
