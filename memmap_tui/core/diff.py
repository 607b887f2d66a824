"""Compare two memory maps: which regions were added, removed, moved, resized or re-flagged,
which findings appeared or went away, and what that does to every policy's vmcore.

Pure (reads two `MemoryMap`s and their policy results). Regions are matched in four passes,
each only among regions the earlier passes left unmatched, and every pair says which pass
matched it:
  path     the same DT path (or `/memreserve/N`, `crashkernel`)
  label    a label both sides carry once (a node renamed or moved under a new unit address)
  user     the same `memory-region` user device (`remoteproc@4080000` keeps its carveout)
  overlap  the physical ranges overlap (largest overlap first)
Findings are matched by (code, matched region), never by their message text: a finding whose
wording carries a size that changed is the same finding.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from memmap_tui.core.dump import DumpAccount, RangeStats
from memmap_tui.core.model import Finding, Level, MemoryMap, Region
from memmap_tui.core.policies import POLICIES
from memmap_tui.core.policy import PolicyResult, PolicyResults
from memmap_tui.core.ranges import overlapping_pairs
from memmap_tui.core.units import capture_seconds

MATCH_KINDS = ("path", "label", "user", "overlap", "none")
# the flags whose change a reviewer must see (model.FLAG_ORDER vocabulary)
COMPARED_FLAGS = ("no-map", "reusable", "cma", "no-dump", "dynamic", "unplaced",
                  "disabled", "multi-reg", "failed", "ignored")


@dataclass(frozen=True, slots=True)
class Change:
    what: str                 # added | removed | renamed | moved | resized | flag
    a: object = None          # the A-side value (path, start address, size, flag present)
    b: object = None
    flag: str | None = None   # for what == "flag"

    def as_dict(self) -> dict:
        out: dict = {"what": self.what}
        if self.what in ("added", "removed"):
            return out
        if self.flag is not None:
            out["flag"] = self.flag
        out["a"], out["b"] = self.a, self.b
        if self.what == "resized":
            out["delta"] = self.b - self.a
        return out


@dataclass(frozen=True, slots=True)
class RegionPair:
    match: str                # one of MATCH_KINDS
    a: Region | None
    b: Region | None
    changes: tuple[Change, ...]

    @property
    def changed(self) -> bool:
        return bool(self.changes)

    @property
    def start(self) -> int | None:
        """Lowest placed address of either side (the address the diff views sort by)."""
        starts = [r.ranges.start for r in (self.a, self.b) if r is not None and r.placed]
        return min(starts) if starts else None


@dataclass(frozen=True, slots=True)
class PolicyDelta:
    policy: str
    a_bytes: int | None       # predicted RAM in the vmcore (None: RAM unknown on that side)
    b_bytes: int | None
    a_seconds: float | None   # capture time at that side's write speed
    b_seconds: float | None
    # projected after filtering: the bytes that side's dump holds (present pages) inside the
    # policy's dumped ranges — what that dump would keep had the kernel followed the policy
    a_projected_bytes: int | None = None
    b_projected_bytes: int | None = None

    @property
    def delta_bytes(self) -> int | None:
        return None if self.a_bytes is None or self.b_bytes is None else self.b_bytes - self.a_bytes

    @property
    def delta_projected_bytes(self) -> int | None:
        if self.a_projected_bytes is None or self.b_projected_bytes is None:
            return None
        return self.b_projected_bytes - self.a_projected_bytes

    @property
    def delta_seconds(self) -> float | None:
        return None if self.a_seconds is None or self.b_seconds is None else self.b_seconds - self.a_seconds


@dataclass(frozen=True, slots=True)
class MapDiff:
    pairs: tuple[RegionPair, ...]
    policies: dict[str, PolicyDelta]
    new_findings: tuple[Finding, ...]
    gone_findings: tuple[Finding, ...]
    match_counts: dict[str, int] = field(default_factory=dict)
    dump: "DumpDiff | None" = None    # when either side has a vmcore

    @property
    def changed_pairs(self) -> list[RegionPair]:
        return [p for p in self.pairs if p.changed]

    @property
    def new_errors(self) -> list[Finding]:
        return [f for f in self.new_findings if f.level is Level.ERROR]


# -- matching -------------------------------------------------------------------------------

def _unique_index(regions: list[Region], keys) -> dict[str, Region]:
    """key -> region for keys that name exactly one region on this side."""
    seen: dict[str, list[Region]] = {}
    for r in regions:
        for k in set(keys(r)):
            seen.setdefault(k, []).append(r)
    return {k: rs[0] for k, rs in seen.items() if len(rs) == 1}


def _match_by(a_left: list[Region], b_left: list[Region], keys) -> list[tuple[Region, Region]]:
    a_idx, b_idx = _unique_index(a_left, keys), _unique_index(b_left, keys)
    out, used_a, used_b = [], set(), set()
    for k in sorted(a_idx.keys() & b_idx.keys()):
        ra, rb = a_idx[k], b_idx[k]
        if ra.id in used_a or rb.id in used_b:
            continue
        used_a.add(ra.id)
        used_b.add(rb.id)
        out.append((ra, rb))
    return out


def _overlapping_pairs(a_left: list[Region], b_left: list[Region]) -> list[tuple[int, Region, Region]]:
    """(overlap bytes, a, b) for every overlapping pair: the one sweep of
    `ranges.overlapping_pairs`, so the work is the number of ranges plus the overlaps."""
    pairs = overlapping_pairs([r.ranges for r in a_left], [r.ranges for r in b_left])
    return [((a_left[i].ranges & b_left[j].ranges).size_bytes, a_left[i], b_left[j]) for i, j in pairs]


def match_regions(a: MemoryMap, b: MemoryMap) -> list[tuple[str, Region | None, Region | None]]:
    a_left, b_left = list(a.regions), list(b.regions)
    out: list[tuple[str, Region | None, Region | None]] = []

    def take(kind: str, pairs: list[tuple[Region, Region]]) -> None:
        ids_a = {ra.id for ra, _ in pairs}
        ids_b = {rb.id for _, rb in pairs}
        out.extend((kind, ra, rb) for ra, rb in pairs)
        a_left[:] = [r for r in a_left if r.id not in ids_a]
        b_left[:] = [r for r in b_left if r.id not in ids_b]

    take("path", _match_by(a_left, b_left, lambda r: [r.id]))
    take("label", _match_by(a_left, b_left, lambda r: r.labels))
    take("user", _match_by(a_left, b_left, lambda r: r.users))
    pairs, used_a, used_b = [], set(), set()
    for _, ra, rb in sorted(_overlapping_pairs(a_left, b_left), key=lambda t: (-t[0], t[1].id, t[2].id)):
        if ra.id not in used_a and rb.id not in used_b:
            used_a.add(ra.id)
            used_b.add(rb.id)
            pairs.append((ra, rb))
    take("overlap", pairs)
    out.extend(("none", ra, None) for ra in a_left)
    out.extend(("none", None, rb) for rb in b_left)
    return out


def region_changes(a: MemoryMap, ra: Region | None, b: MemoryMap, rb: Region | None) -> tuple[Change, ...]:
    if ra is None:
        return (Change("added"),)
    if rb is None:
        return (Change("removed"),)
    out = []
    if ra.id != rb.id:
        out.append(Change("renamed", ra.id, rb.id))
    # A predicted address (the boot replay's top-down allocation) follows from RAM and the
    # other regions, not from either input: only placements an input states are compared.
    stated = ra.placement_source != "replay" and rb.placement_source != "replay"
    if stated and ra.placed and rb.placed and ra.ranges.start != rb.ranges.start:
        out.append(Change("moved", ra.ranges.start, rb.ranges.start))
    if ra.size_bytes != rb.size_bytes:
        out.append(Change("resized", ra.size_bytes, rb.size_bytes))
    fa, fb = set(a.flags(ra)), set(b.flags(rb))
    for flag in COMPARED_FLAGS:
        if (flag in fa) != (flag in fb):
            out.append(Change("flag", flag in fa, flag in fb, flag=flag))
    return tuple(out)


# -- findings -----------------------------------------------------------------------------------

def _finding_keys(findings: list[Finding], rename: dict[str, str]) -> Counter:
    return Counter((f.code, rename.get(f.id, f.id)) for f in findings)


def diff_findings(a: MemoryMap, b: MemoryMap, pairs: list[RegionPair]) -> tuple[list[Finding], list[Finding]]:
    """New (in B only) and gone (in A only) findings, keyed by code and the A-side region id."""
    b_to_a = {p.b.id: p.a.id for p in pairs if p.a is not None and p.b is not None}
    ka, kb = _finding_keys(a.findings, {}), _finding_keys(b.findings, b_to_a)
    new_left, gone_left = kb - ka, ka - kb
    new, gone = [], []
    for f in b.findings:
        key = (f.code, b_to_a.get(f.id, f.id))
        if new_left[key] > 0:
            new_left[key] -= 1
            new.append(f)
    for f in a.findings:
        key = (f.code, f.id)
        if gone_left[key] > 0:
            gone_left[key] -= 1
            gone.append(f)
    return new, gone


def _projected(account: DumpAccount | None, result: PolicyResult) -> int | None:
    if account is None:
        return None
    return sum(s.present_bytes for s in account.layout.stats(list(result.dumped)))


# -- the whole comparison ----------------------------------------------------------------------

def diff_maps(a: MemoryMap, a_results: PolicyResults, a_write_speed_mbps: float,
              b: MemoryMap, b_results: PolicyResults, b_write_speed_mbps: float,
              a_account: DumpAccount | None = None, b_account: DumpAccount | None = None) -> MapDiff:
    pairs = [RegionPair(kind, ra, rb, region_changes(a, ra, b, rb)) for kind, ra, rb in match_regions(a, b)]
    pairs.sort(key=lambda p: (p.start is None, p.start or 0, (p.a or p.b).id))
    policies = {}
    for policy in POLICIES:
        p = policy.id
        ab, bb = a_results[p].dumped_bytes, b_results[p].dumped_bytes
        policies[p] = PolicyDelta(
            p, ab, bb,
            None if ab is None else capture_seconds(ab, a_write_speed_mbps),
            None if bb is None else capture_seconds(bb, b_write_speed_mbps),
            _projected(a_account, a_results[p]), _projected(b_account, b_results[p]))
    new, gone = diff_findings(a, b, pairs)
    counts = Counter(p.match for p in pairs)
    dump = diff_dumps(a_account, b_account, tuple(pairs)) if a_account or b_account else None
    return MapDiff(tuple(pairs), policies, tuple(new), tuple(gone),
                   {k: counts.get(k, 0) for k in MATCH_KINDS}, dump)


# -- two dumps ------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class DumpSide:
    path: str
    covered_bytes: int          # bytes the dump describes (in this dump)
    present_bytes: int          # bytes whose contents the file holds (after filtering)
    on_disk_bytes: int | None   # the dump's size as its headers describe it


@dataclass(frozen=True, slots=True)
class DumpRow:
    """One region (matched pair) or one RAM range with what each dump holds of it."""
    name: str
    a: RangeStats | None
    b: RangeStats | None


@dataclass(frozen=True, slots=True)
class DumpDiff:
    a: DumpSide | None
    b: DumpSide | None
    regions: tuple[DumpRow, ...]   # matched region pairs, in the diff's order
    ram: tuple[DumpRow, ...]       # RAM ranges by address, matched by exact range


def _side(account: DumpAccount) -> DumpSide:
    t = account.totals
    return DumpSide(account.layout.path, t.covered_bytes, t.present_bytes, account.layout.dump_size_bytes)


def diff_dumps(a: DumpAccount | None, b: DumpAccount | None, pairs: tuple[RegionPair, ...]) -> DumpDiff:
    regions = tuple(
        DumpRow((p.b or p.a).id,
                a.regions.get(p.a.id) if a is not None and p.a is not None else None,
                b.regions.get(p.b.id) if b is not None and p.b is not None else None)
        for p in pairs)
    a_ram = {(r.range.start, r.range.end): r for r in a.rows if r.kind == "ram"} if a else {}
    b_ram = {(r.range.start, r.range.end): r for r in b.rows if r.kind == "ram"} if b else {}
    ram = tuple(
        DumpRow((b_ram.get(k) or a_ram.get(k)).name + f" {k[0]:#x}-{k[1]:#x}",
                a_ram[k].stats if k in a_ram else None, b_ram[k].stats if k in b_ram else None)
        for k in sorted(a_ram.keys() | b_ram.keys()))
    return DumpDiff(_side(a) if a else None, _side(b) if b else None, regions, ram)
