""""Did the dump follow the policy?": the dump's RAM coverage against each policy's prediction."""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from memmap_tui.core.arch import is_iomem_nomap, is_iomem_ram, rules_for
from memmap_tui.core.dump.layout import DumpLayout
from memmap_tui.core.model import MemoryMap, RegionKind
from memmap_tui.core.policy import POLICIES, evaluate
from memmap_tui.core.ranges import Range, RangeSet
from memmap_tui.core.units import exact_size


KDUMP_WHY = {
    "no-map": "no-map carveout (NOMAP memory is never dumped)",
    "crashkernel": "crash kernel memory (always excluded)",
    "reserved": "memblock-reserved carveout",
    "reusable": "reusable (CMA) pool",
    "memreserve": "/memreserve/ entry",
    "iomem": "top-level iomem range that is not System RAM",
    "ram": "System RAM with no region",
    "outside": "outside the RAM of the memory map",
}


@dataclass(frozen=True, slots=True)
class NamedRange:
    range: Range
    id: str | None       # region id, or None
    name: str            # region name / iomem name / "System RAM" / "outside RAM"
    why: str


@dataclass(slots=True)
class PolicyDiff:
    policy: str
    extra: RangeSet                    # in the dump, not predicted by the policy
    missing: RangeSet                  # predicted, not in the dump
    extra_named: list[NamedRange]
    missing_named: list[NamedRange]

    @property
    def matches(self) -> bool:
        return not self.extra and not self.missing


@dataclass(slots=True)
class Verdict:
    text: str                          # "matches today" / "differs from every policy ..."
    matches: list[str]
    closest: str
    diffs: dict[str, PolicyDiff]
    granularity: int
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        def named(items: list[NamedRange]) -> list[dict]:
            return [{"start": n.range.start, "end": n.range.end, "size_bytes": n.range.size_bytes,
                     "id": n.id, "name": n.name, "why": n.why} for n in items]
        return {"text": self.text, "matches": self.matches, "closest": self.closest,
                "granularity_bytes": self.granularity, "notes": self.notes,
                "policies": {p: {"matches": d.matches,
                                 "extra_bytes": d.extra.size_bytes,
                                 "missing_bytes": d.missing.size_bytes,
                                 "in_dump_not_predicted": named(d.extra_named),
                                 "predicted_not_in_dump": named(d.missing_named)}
                             for p, d in self.diffs.items()}}


def _round_out(rs: RangeSet, g: int) -> RangeSet:
    return rs.page_rounded(g) if g > 1 else rs


def _name_pieces(mm: MemoryMap, diff: RangeSet, in_dump: bool) -> list[NamedRange]:
    """Split `diff` by region (band priority, as the map draws it), then by the other `reg`
    entries of a node, then by top-level iomem lines, then RAM, then "outside RAM".

    Each byte goes to the first label (in that order) covering it: one sweep over the
    labels' boundaries with a heap keyed on the order — O((labels + pieces) log labels),
    whatever the number of regions."""
    prefix = ("in the dump but not in a kdump vmcore: " if in_dump
              else "a kdump vmcore holds it, the dump does not: ")
    labels: list[tuple[str | None, str, str]] = []     # (id, name, why) in priority order
    spans: list[tuple[int, int, int]] = []             # (start, end, label index)

    def label(pairs, rid: str | None, name: str, why: str) -> None:
        spans.extend((s, e, len(labels)) for s, e in pairs)
        labels.append((rid, name, prefix + why))

    ordered = sorted((r for r in mm.regions if r.placed and r.reserves_memory),
                     key=lambda r: list(type(mm.band_of(r))).index(mm.band_of(r)))
    for reg in ordered:
        band = mm.band_of(reg)
        kind = ("crashkernel" if reg.kind is RegionKind.CRASHKERNEL else "no-map" if reg.no_map
                else "memreserve" if reg.kind is RegionKind.MEMRESERVE
                else "reusable" if reg.reusable else "reserved")
        why = KDUMP_WHY[kind] if kind in ("no-map", "crashkernel") else f"{KDUMP_WHY[kind]} ({band})"
        label(reg.ranges.pairs, reg.id, reg.name, why)
    # `reg` tuples the model does not reserve (7.2+: only the first of a multi-reg node),
    # which an older kernel may still have reserved (and iomem shows).
    for reg in mm.regions:
        extra = RangeSet(reg.reg) - reg.ranges
        if extra:
            label(extra.pairs, reg.id, reg.name,
                  "another `reg` entry of this node (reserved by kernels before 7.2)")
    rules = rules_for(mm.arch)
    for e in mm.iomem:
        if e.depth != 0 or is_iomem_ram(rules, e.name):
            continue
        why = (KDUMP_WHY["no-map"] + f", top-level `{e.name}` in iomem"
               if is_iomem_nomap(rules, e.name, e.depth) else KDUMP_WHY["iomem"])
        label([(e.range.start, e.range.end)], None, e.name, why)
    label((mm.ram if mm.ram_known else RangeSet()).pairs, None, "System RAM", KDUMP_WHY["ram"])
    label(diff.pairs, None, "outside RAM", KDUMP_WHY["outside"])    # the last resort covers all
    out: list[NamedRange] = []
    for start, end, k in _first_label(diff.pairs, spans):
        rid, name, why = labels[k]
        out.append(NamedRange(Range(start, end), rid, name, why))
    return out


def _first_label(pieces, spans) -> list[tuple[int, int, int]]:
    """Cut `pieces` (sorted, disjoint) where the lowest-index span covering them changes."""
    points = sorted({p for s, e, _ in spans for p in (s, e)} | {p for s, e in pieces for p in (s, e)})
    by_start = sorted(spans)
    heap: list[tuple[int, int]] = []         # (label index, end)
    out: list[tuple[int, int, int]] = []
    i = j = 0
    for p, q in zip(points, points[1:]):
        while j < len(pieces) and pieces[j][1] <= p:
            j += 1
        while i < len(by_start) and by_start[i][0] <= p:
            heapq.heappush(heap, (by_start[i][2], by_start[i][1]))
            i += 1
        if j == len(pieces) or pieces[j][0] > p:
            continue                         # not in the diff
        while heap and heap[0][1] <= p:
            heapq.heappop(heap)
        k = heap[0][0]
        if out and out[-1][1] == p and out[-1][2] == k:
            out[-1] = (out[-1][0], q, k)
        else:
            out.append((p, q, k))
    return out


def check_policy(mm: MemoryMap, layout: DumpLayout) -> Verdict:
    """Compare the dump's RAM coverage with each policy's predicted vmcore ranges.

    Both sides are compared at the dump's granularity (kdump block_size, ELF page size):
    a 4 KiB carveout inside a 64 KiB QEMU block cannot be told apart.
    """

    g = max(layout.block_size, 1)
    dump = _round_out(layout.covered_ram, g)
    results = evaluate(mm)
    diffs: dict[str, PolicyDiff] = {}
    for p in POLICIES:
        predicted = _round_out(results[p].dumped, g)
        extra, missing = dump - predicted, predicted - dump
        diffs[p] = PolicyDiff(p, extra, missing, _name_pieces(mm, extra, True),
                              _name_pieces(mm, missing, False))
    matches = [p for p in POLICIES if diffs[p].matches]
    closest = min(POLICIES, key=lambda p: (diffs[p].extra.size_bytes + diffs[p].missing.size_bytes,
                                           POLICIES.index(p)))
    notes: list[str] = []
    if layout.producer == "qemu":
        notes.append("made by QEMU dump-guest-memory: it holds all guest RAM whatever the kernel policy")
    if mm.ram_source == "vmcore" and not mm.regions and not mm.iomem:
        text = ("not checked: RAM comes from the dump itself and no DTB/iomem says what a "
                "vmcore should hold (give a DTB, --iomem or --dmesg)")
        return Verdict(text, [], closest, diffs, g, notes)
    ram = mm.ram if mm.ram_known else RangeSet()
    if ram and dump == _round_out(ram, g) and results["today"].dumped != ram:
        notes.append("the dump covers all RAM: it was taken from outside the kernel (hypervisor, "
                     "QEMU, JTAG) or from /proc/kcore, not from /proc/vmcore")
    if matches:
        text = "matches " + " and ".join(matches)
        if len(matches) == len(POLICIES):
            text += " (the policies agree on this map)"
    else:
        d = diffs[closest]
        parts = []
        if d.extra:
            names = _summary_names(d.extra_named)
            parts.append(f"{_mib(d.extra.size_bytes)} in the dump but not in a kdump vmcore ({names})")
        if d.missing:
            names = _summary_names(d.missing_named)
            parts.append(f"{_mib(d.missing.size_bytes)} expected but absent ({names})")
        text = f"differs from every policy; closest {closest}: " + "; ".join(parts)
    return Verdict(text, matches, closest, diffs, g, notes)


def _summary_names(items: list[NamedRange]) -> str:
    seen: list[str] = []
    for n in items:
        label = n.id or n.name
        if label not in seen:
            seen.append(label)
    return ", ".join(seen[:8]) + (f", +{len(seen) - 8} more" if len(seen) > 8 else "")


def _mib(n: int) -> str:
    return exact_size(n)
