"""What the TUI holds between key presses: the model, the current policy results, undo history.

Pure Python (no Textual) so the numbers the screen shows can be tested without a terminal,
and so a toggle is only `set_no_dump` + `evaluate` — microseconds, never a reparse.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field

from memmap_tui.core.dump import DumpAccount, Verdict, account_dump, check_policy
from memmap_tui.core.model import Band, IomemEntry, MemoryMap, Region, RegionKind
from memmap_tui.core.policies import POLICIES as REGISTRY
from memmap_tui.core.policy import TOGGLE_WHY, PolicyResults, ToggleEffect, evaluate, toggle_effect
from memmap_tui.core.ranges import Range
from memmap_tui.core.units import exact_size
from memmap_tui.inputs import Loaded
from memmap_tui.tui import selection as sel
from memmap_tui.tui.projection import Capture
from memmap_tui.tui.selection import Selection


# The region tree's groups (and the details' group tables): title -> which regions.
GROUPS: dict[str, Callable[[Region], bool]] = {
    "Reserved memory": lambda r: r.kind not in (RegionKind.MEMRESERVE, RegionKind.CRASHKERNEL),
    "/memreserve/": lambda r: r.kind is RegionKind.MEMRESERVE,
    "Crash kernel": lambda r: r.kind is RegionKind.CRASHKERNEL,
}


@dataclass(frozen=True, slots=True)
class ToggleOutcome:
    region_id: str
    value: bool              # linux,no-dump after the toggle
    effect: ToggleEffect
    saving_delta: int        # change of the toggled policy's saving, bytes
    message: str


@dataclass(slots=True)
class TuiState:
    loaded: Loaded
    policy: str = field(default_factory=lambda: next(iter(REGISTRY)).id)
    results: PolicyResults = field(init=False)   # every policy, computed once per toggle (recompute)
    undo_stack: list[tuple[str, bool, bool]] = field(default_factory=list)  # (id, before, after)
    redo_stack: list[tuple[str, bool, bool]] = field(default_factory=list)
    exported: dict[str, bool] = field(default_factory=dict)   # the toggles the last export wrote
    _account: DumpAccount | None = None
    _verdict: Verdict | None = None
    _presence: dict[tuple[int, int], tuple[int, int]] = field(default_factory=dict)
    _starts: dict[str, list[int]] = field(default_factory=dict)   # per policy: dumped range starts
    capture: Capture = field(init=False)   # write speed + the loaded dump's projection per policy

    def __post_init__(self) -> None:
        self.capture = Capture(self.loaded.dump, self.loaded.options.write_speed_mbps)
        self.recompute()

    @property
    def mm(self) -> MemoryMap:
        return self.loaded.mm

    @property
    def write_speed_mbps(self) -> float:
        return self.capture.write_speed_mbps

    def recompute(self) -> None:
        self.results = evaluate(self.mm)
        self._starts = {}
        self._verdict = None   # the dump check depends on the toggles; the accounting does not
        self.capture.update(self.results)   # only the policies whose ranges changed

    # -- the loaded vmcore (core.dump, when a dump is loaded) ------------------------------
    def dump_account(self) -> DumpAccount | None:
        layout = self.loaded.dump
        if layout is None:
            return None
        if self._account is None:
            self._account = account_dump(self.mm, layout)
        return self._account

    def dump_verdict(self) -> Verdict | None:
        layout = self.loaded.dump
        if layout is None:
            return None
        if self._verdict is None:
            self._verdict = check_policy(self.mm, layout)
        return self._verdict

    def dump_presence(self, rng: Range) -> tuple[int, int] | None:
        """(covered, present) bytes of `rng` in the loaded dump; None when no dump is loaded.

        For the band map: one call per band per frame, so cached, and for kdump files counted
        from the two bitmaps alone (page descriptors, i.e. file reads, only for the details)."""
        layout = self.loaded.dump
        if layout is None:
            return None
        key = (rng.start, rng.end)
        hit = self._presence.get(key)
        if hit is None:
            hit = self._presence[key] = layout.presence(rng)
        return hit

    def dump_mark(self, rng: Range) -> str | None:
        """What the loaded dump holds of `rng`: held, partly, filtered, absent (None: no dump)."""
        got = self.dump_presence(rng)
        if got is None:
            return None
        return dump_mark_of(rng.size_bytes, *got)

    # -- toggles -------------------------------------------------------------------
    def unsaved(self) -> set[str]:
        """Regions whose linux,no-dump differs from what was last exported (the input, before any
        export): a toggle written by an export and then undone is unsaved again."""
        now = self.mm.changed_no_dump()
        return {rid for rid in now.keys() | self.exported.keys() if now.get(rid) != self.exported.get(rid)}

    def mark_exported(self) -> None:
        """An export wrote the current toggles: nothing is unsaved until the next toggle."""
        self.exported = self.mm.changed_no_dump()

    def can_toggle(self, region: Region) -> str | None:
        """None when a `linux,no-dump` property can be written on this region, else why not."""
        if region.kind is RegionKind.MEMRESERVE:
            return "a /memreserve/ entry is not a DT node: it has no properties (v1 drops it by default)"
        if region.kind is RegionKind.CRASHKERNEL:
            return "the crash kernel comes from crashkernel=, not a DT node; it is never dumped"
        return None

    def toggle(self, region_id: str) -> ToggleOutcome:
        region = self.mm.region(region_id)
        before = self.mm.no_dump(region)
        return self._apply(region, before, not before, record=True)

    def _apply(self, region: Region, before: bool, after: bool, *, record: bool) -> ToggleOutcome:
        toggled = REGISTRY.toggled.id
        old_saving = self.results[toggled].savings_bytes
        self.mm.set_no_dump(region.id, after)
        self.recompute()
        if record:
            self.undo_stack.append((region.id, before, after))
            self.redo_stack.clear()
        effect = toggle_effect(self.mm, region)
        delta = self.results[toggled].savings_bytes - old_saving
        verb = "set" if after else "cleared"
        if effect is ToggleEffect.EFFECTIVE:
            msg = f"linux,no-dump {verb} on {region.name}: {toggled} saving {_signed(delta)}"
        else:
            msg = f"linux,no-dump {verb} on {region.name} — {TOGGLE_WHY[effect]}"
        return ToggleOutcome(region.id, after, effect, delta, msg)

    def undo(self) -> ToggleOutcome | None:
        return self._replay(self.undo_stack, self.redo_stack, backwards=True)

    def redo(self) -> ToggleOutcome | None:
        return self._replay(self.redo_stack, self.undo_stack, backwards=False)

    def _replay(self, source: list[tuple[str, bool, bool]], target: list[tuple[str, bool, bool]], *,
                backwards: bool) -> ToggleOutcome | None:
        """Move one toggle between the stacks and apply it in the direction asked."""
        if not source:
            return None
        rid, before, after = source.pop()
        target.append((rid, before, after))
        old, new = (after, before) if backwards else (before, after)
        return self._apply(self.mm.region(rid), old, new, record=False)

    # -- lookups for the views ----------------------------------------------------------
    def iomem_only(self) -> list[int]:
        """Indexes of iomem lines that no DT region explains: MMIO windows and `reserved` lines."""
        placed = [rng for r in self.mm.regions if r.placed for rng in r.ranges]
        out = []
        for i, e in enumerate(self.mm.iomem):
            interesting = (e.depth == 0 and not e.name.startswith("System RAM")) or e.name.lower() == "reserved"
            if not interesting:
                continue
            if any(e.range.overlaps(p) for p in placed):
                continue
            out.append(i)
        return out

    def kind_totals(self) -> list[tuple[Band, int, int]]:
        """(band, regions, bytes) per kind of reserving region, in band priority order."""
        count: dict[Band, int] = {}
        size: dict[Band, int] = {}
        for r in self.mm.regions:
            if r.reserves_memory and r.size_bytes:
                band = self.mm.band_of(r)
                count[band] = count.get(band, 0) + 1
                size[band] = size.get(band, 0) + r.size_bytes
        return [(b, count[b], size[b]) for b in Band if b in count]

    def iomem_overlapping(self, rng: Range) -> list[IomemEntry]:
        return [e for e in self.mm.iomem if e.range.overlaps(rng)]

    def ram_bank_at(self, addr: int) -> Range | None:
        for r in self.mm.ram:
            if r.contains(addr):
                return r
        return None

    def unplaced(self) -> list[Region]:
        return [r for r in self.mm.regions if not r.placed and r.reserves_memory and r.size_bytes]

    def dumped_fraction(self, rng: Range) -> float:
        """Share of `rng` inside the active policy's RAM PT_LOADs (0..1)."""
        total = rng.size_bytes
        if not total:
            return 0.0
        pairs = self.results[self.policy].dumped.pairs
        starts = self._starts.get(self.policy)
        if starts is None:
            starts = self._starts[self.policy] = [a for a, _ in pairs]
        # bisect to the first dumped range that can overlap: a band costs O(log n), not O(n)
        i = max(0, bisect_right(starts, rng.start) - 1)
        inside = 0
        while i < len(pairs) and pairs[i][0] < rng.end:
            inside += max(0, min(pairs[i][1], rng.end) - max(pairs[i][0], rng.start))
            i += 1
        return inside / total

    def find(self, needle: str) -> tuple[Selection | None, str]:
        """The selection for a name, label, path or address, and a one-line explanation."""
        text = needle.strip()
        if not text:
            return None, "type a node name, label, path or address"
        if text.lower().replace("_", "") == "0x" or (text.lower().startswith("0x") and _parse_addr(text) is None):
            return None, f"{text!r} is not a hex address (0x followed by hex digits)"
        addr = _parse_addr(text)
        if addr is not None:
            if addr >= 1 << 64:
                return None, f"{text} is beyond the 64-bit physical address space"
            region = self.mm.region_at(addr)
            if region is not None:
                return sel.region(region.id), f"{addr:#x} is in {region.name}"
            bank = self.ram_bank_at(addr)
            if bank is not None:
                return sel.ram(bank), f"{addr:#x} is plain System RAM"
            for i, e in enumerate(self.mm.iomem):
                if e.depth == 0 and e.range.contains(addr):
                    return sel.iomem(i, e.range), f"{addr:#x} is in iomem {e.name}"
            for rng, band, _rid in self.mm.bands():
                if band is Band.HOLE and rng.contains(addr):   # the collapsed hole row on the map
                    return (sel.hole(rng),
                            f"{addr:#x} is in a {exact_size(rng.size_bytes)} hole (no RAM, region or iomem)")
            return None, f"{addr:#x} is in no known region, RAM bank or iomem range"
        if not text.lstrip("&"):
            return None, "type a label after &"
        matches = self.mm.find(text)
        if not matches:
            low = text.lower().lstrip("&")
            matches = [r for r in self.mm.regions
                       if low in r.id.lower() or any(low in label.lower() for label in r.labels)]
        if not matches:
            return None, f"no region named {text!r}"
        extra = ""
        if len(matches) > 1:   # name the others, so the user can type more of the one they meant
            others = ", ".join(r.name for r in matches[1:4]) + (", …" if len(matches) > 4 else "")
            extra = f" (first of {len(matches)}; also {others})"
        return sel.region(matches[0].id), f"{matches[0].id}{extra}"


def band_selection(state: TuiState, rng: Range, band: Band, rid: str | None) -> Selection:
    """What selecting a band on the map selects."""
    if rid is not None:
        return sel.region(rid)
    if band is Band.RAM:
        bank = state.ram_bank_at(rng.start)
        return sel.ram(bank) if bank else sel.hole(rng)
    if band is Band.MMIO:
        for i, e in enumerate(state.mm.iomem):
            if e.depth == 0 and e.range.contains(rng.start):
                return sel.iomem(i, e.range)
    return sel.hole(rng)


def dump_mark_of(size_bytes: int, covered_bytes: int, present_bytes: int) -> str:
    """held (every byte in the file), partly, filtered (covered, no page kept), absent."""
    if covered_bytes == 0:
        return "absent"
    if present_bytes >= size_bytes:
        return "held"
    return "filtered" if present_bytes == 0 else "partly"


def _parse_addr(text: str) -> int | None:
    t = text.replace("_", "")
    if t.lower().startswith("0x"):
        try:
            return int(t, 16)
        except ValueError:
            return None
    if t.isdigit() and len(t) > 3:  # bare decimal numbers are addresses; "gpu" is a name
        return int(t)
    return None


def _signed(delta: int) -> str:
    if delta == 0:
        return "unchanged"
    return ("+" if delta > 0 else "−") + exact_size(abs(delta))
