"""How a region is named in headless output: the node name under /reserved-memory (the path
stays in JSON and details), the id for everything else (`/memreserve/0`, `crashkernel`)."""

from __future__ import annotations

from memmap_tui.core.model import Region


def region_title(r: Region) -> str:
    return r.name if r.id.startswith("/reserved-memory/") else r.id
