"""Policy evaluation, bands and the assembly steps grow as n log n (issues 14/15).

Complexity is asserted by counting work, not timing it: every Python line executed in
memmap_tui/ is counted (sys.settrace) for n and 10·n regions. n log n gives a ratio of
about 13 for 500 → 5,000; the old per-region scans gave ~100.
The sweeps themselves are checked against naive oracles on random layouts.
"""

from __future__ import annotations

import math
import random
import sys
from pathlib import Path

import pytest

import memmap_tui
from memmap_tui.core.coverage import Coverage
from memmap_tui.core.model import BAND_PRIORITY, Band, MemoryMap, Region, RegionKind
from memmap_tui.core.policy import evaluate
from memmap_tui.core.ranges import Range, RangeSet, overlapping_pairs
from memmap_tui.inputs import ASSEMBLY, Loaded, Options

PKG = str(Path(memmap_tui.__file__).parent)
MiB = 1 << 20
BASE = 0x8000_0000


def count_lines(fn) -> int:
    """Lines of memmap_tui code executed by fn()."""
    count = 0

    def local(frame, event, arg):
        nonlocal count
        if event == "line":
            count += 1
        return local

    def global_(frame, event, arg):
        return local if frame.f_code.co_filename.startswith(PKG) else None

    sys.settrace(global_)
    try:
        fn()
    finally:
        sys.settrace(None)
    return count


def big_map(n: int, seed: int = 1) -> MemoryMap:
    """n carveouts of every kind and n /memreserve/ entries, some overlapping, in 2n MiB of RAM."""
    rnd = random.Random(seed)
    regions = []
    for i in range(n):
        start = BASE + i * 2 * MiB
        flavour = i % 4
        regions.append(Region(
            id=f"/reserved-memory/r{i}", name=f"r@{start:x}",
            kind=RegionKind.NO_MAP if flavour == 0 else RegionKind.REUSABLE if flavour == 1 else RegionKind.RESERVED,
            ranges=RangeSet([(start, start + MiB)]), size_bytes=MiB,
            no_map=flavour == 0, reusable=flavour == 1, cma=flavour == 1, dt_no_dump=flavour == 2))
    for i in range(n):
        start = BASE + rnd.randrange(2 * n) * MiB + rnd.choice((0, MiB // 2))
        regions.append(Region(id=f"/memreserve/{i}", name=f"/memreserve/{i}", kind=RegionKind.MEMRESERVE,
                              ranges=RangeSet([(start, start + 4096)]), size_bytes=4096, saved=False))
    ram = RangeSet([(BASE, BASE + 2 * n * MiB)])
    return MemoryMap(regions=regions, ram=ram, ram_known=True, ram_source="--ram")


def growth(fn_of_n, small: int = 500) -> float:
    return count_lines(lambda: fn_of_n(10 * small)) / count_lines(lambda: fn_of_n(small))


NLOGN_RATIO = 10 * math.log(5000) / math.log(500) * 1.15   # ≈ 15.8, quadratic would be ≈ 100


def test_evaluate_grows_n_log_n():
    maps = {n: big_map(n) for n in (500, 5000)}
    assert growth(lambda n: evaluate(maps[n])) < NLOGN_RATIO


def test_bands_grow_n_log_n():
    maps = {n: big_map(n) for n in (500, 5000)}
    assert growth(lambda n: maps[n].bands()) < NLOGN_RATIO


def test_region_lookup_by_id_is_constant():
    mm = big_map(5000)
    mm.region("/reserved-memory/r0")   # builds the index once
    per_call = count_lines(lambda: [mm.region(f"/reserved-memory/r{i}") for i in range(0, 5000, 50)]) / 100
    assert per_call < 10


def _assembly_without_reading(n: int, iomem_lines: bool) -> None:
    mm = big_map(n)
    if iomem_lines:   # dynamic regions to place from iomem, and no-map lines to check
        from memmap_tui.core.model import IomemEntry
        top = BASE + 2 * n * MiB   # above the static carveouts and memreserves
        line_start = [top + 4096 * i * (i + 1) // 2 for i in range(n + 1)]   # line i: 4096·(i+1) bytes
        mm.iomem = [IomemEntry(Range(BASE, line_start[n]), "System RAM", 0, None)]
        mm.iomem += [IomemEntry(Range(line_start[i], line_start[i + 1]), "reserved", 1, 0) for i in range(n)]
        mm.regions += [Region(id=f"/reserved-memory/d{i}", name=f"d{i}", kind=RegionKind.RESERVED,
                              size_bytes=4096 * (i + 1), dynamic=True) for i in range(n)]
    loaded = Loaded(mm=mm, options=Options())
    for step in ASSEMBLY:
        if step.__name__ not in ("_read_inputs", "_lint", "_toggles"):   # lint is core/lint.py's own
            step(mm, loaded)
    if iomem_lines:
        assert all(mm.region(f"/reserved-memory/d{i}").placed for i in range(n))


@pytest.mark.parametrize("iomem_lines", [False, True])
def test_assembly_steps_grow_n_log_n(iomem_lines):
    assert growth(lambda n: _assembly_without_reading(n, iomem_lines)) < NLOGN_RATIO


# -- the sweeps against naive oracles ---------------------------------------------

def _random_set(rnd, k, span=1 << 16):
    out = []
    for _ in range(k):
        s = rnd.randrange(span)
        out.append((s, s + rnd.randrange(1, 2000)))
    return RangeSet(out)


def test_coverage_matches_intersection():
    rnd = random.Random(7)
    for _ in range(200):
        big, small = _random_set(rnd, rnd.randrange(0, 60)), _random_set(rnd, rnd.randrange(0, 6))
        assert Coverage(big).bytes_in(small) == big.overlap_bytes(small)


def test_overlap_sweep_matches_pairwise():
    rnd = random.Random(11)
    for _ in range(200):
        queries = [_random_set(rnd, rnd.randrange(0, 3)).pairs for _ in range(rnd.randrange(0, 12))]
        items = [_random_set(rnd, rnd.randrange(0, 3)).pairs for _ in range(rnd.randrange(0, 12))]
        expected = [[i for i, it in enumerate(items) if RangeSet(it).overlap_bytes(RangeSet(q))]
                    for q in queries]
        found = [[] for _ in queries]
        for i, j in overlapping_pairs([RangeSet(q) for q in queries], [RangeSet(it) for it in items]):
            found[i].append(j)
        assert found == expected


def _bands_by_claiming(mm: MemoryMap):
    """The original layer-by-layer algorithm (quadratic), kept as the oracle."""
    claimed, pieces, by_band = RangeSet(), [], {}
    for r in mm.regions:
        if r.placed and r.reserves_memory:
            by_band.setdefault(mm.band_of(r), []).append(r)
    for band in BAND_PRIORITY:
        if band is Band.HOLE:
            continue
        layers = ([(mm.ram, None)] if band is Band.RAM else [(mm.mmio(), None)] if band is Band.MMIO
                  else [(r.ranges, r.id) for r in by_band.get(band, [])])
        for ranges, rid in layers:
            free = ranges - claimed
            pieces += [(p, band, rid) for p in free]
            claimed = claimed | free
    pieces.sort(key=lambda p: p[0].start)
    out, cursor = [], None
    for rng, band, rid in pieces:
        if cursor is not None and rng.start > cursor:
            out.append((Range(cursor, rng.start), Band.HOLE, None))
        out.append((rng, band, rid))
        cursor = rng.end
    return out


def test_bands_sweep_matches_claiming_oracle():
    rnd = random.Random(3)
    for trial in range(100):
        mm = big_map(rnd.randrange(1, 30), seed=trial)
        for r in rnd.sample(mm.regions, k=len(mm.regions) // 3):   # shuffle placements: overlaps
            s = BASE + rnd.randrange(0, 64 * MiB, 4096)
            r.ranges = RangeSet([(s, s + rnd.randrange(4096, 8 * MiB, 4096))])
        mm.ram = _random_set(rnd, 3, span=1 << 27).page_rounded(4096) | RangeSet([(BASE, BASE + MiB)])
        assert mm.bands() == _bands_by_claiming(mm), trial
