"""One address scale for two band maps: row N of the A map and row N of the B map show the
same physical addresses.

Both sides' bands (`MemoryMap.bands()`) are cut at the union of their boundaries; each piece
gets the rows the larger of its two bands would get on the single map (`bandmap.band_rows`),
so a carveout that grew shows as the same rows on both sides with different colours.
Consecutive pieces that look the same on both sides are merged. Work: one merge of two sorted
band lists.
"""

from __future__ import annotations

from dataclasses import dataclass

from memmap_tui.core.diff import MapDiff
from memmap_tui.core.model import Band, MemoryMap
from memmap_tui.core.ranges import Range
from memmap_tui.tui.bandmap import band_rows

NOTHING = (Band.HOLE, None)   # outside one side's known space


@dataclass(frozen=True, slots=True)
class DiffRow:
    range: Range
    a: tuple[Band, str | None]    # (band, region id) on the A side
    b: tuple[Band, str | None]
    first_row: int
    rows: int
    change: int | None            # index into the change list, or None


def _cuts(bands: list[tuple[Range, Band, str | None]]) -> list[int]:
    return [p for rng, _, _ in bands for p in (rng.start, rng.end)]


def _pieces(bands: list[tuple[Range, Band, str | None]], points: list[int]) -> list[tuple[Band, str | None]]:
    """What each [points[i], points[i+1]) piece is on one side (bands are sorted, disjoint)."""
    out, j = [], 0
    for start in points[:-1]:
        while j < len(bands) and bands[j][0].end <= start:
            j += 1
        if j < len(bands) and bands[j][0].start <= start:
            out.append((bands[j][1], bands[j][2]))
        else:
            out.append(NOTHING)
    return out


def change_index(diff: MapDiff) -> tuple[list, dict[str, int], dict[str, int]]:
    """The change list (changed pairs in address order) and region id -> its index, per side."""
    changes = diff.changed_pairs
    by_a = {p.a.id: i for i, p in enumerate(changes) if p.a is not None}
    by_b = {p.b.id: i for i, p in enumerate(changes) if p.b is not None}
    return changes, by_a, by_b


def diff_layout(a: MemoryMap, b: MemoryMap, diff: MapDiff, zoom: float) -> tuple[list[DiffRow], int]:
    a_bands, b_bands = a.bands(), b.bands()
    points = sorted(set(_cuts(a_bands)) | set(_cuts(b_bands)))
    if len(points) < 2:
        return [], 0
    a_pieces, b_pieces = _pieces(a_bands, points), _pieces(b_bands, points)
    _, by_a, by_b = change_index(diff)
    merged: list[tuple[int, int, tuple, tuple]] = []
    for i, (pa, pb) in enumerate(zip(a_pieces, b_pieces)):
        if pa == NOTHING and pb == NOTHING:
            pa = pb = (Band.HOLE, None)
        if merged and merged[-1][2] == pa and merged[-1][3] == pb and merged[-1][1] == points[i]:
            merged[-1] = (merged[-1][0], points[i + 1], pa, pb)
        else:
            merged.append((points[i], points[i + 1], pa, pb))
    rows, row = [], 0
    for start, end, pa, pb in merged:
        rng = Range(start, end)
        n = max(band_rows(rng.size_bytes, zoom, pa[0]), band_rows(rng.size_bytes, zoom, pb[0]))
        change = by_a.get(pa[1]) if pa[1] is not None else None
        if change is None and pb[1] is not None:
            change = by_b.get(pb[1])
        rows.append(DiffRow(rng, pa, pb, row, n, change))
        row += n
    return rows, row
