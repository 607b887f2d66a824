"""What the details panel says about the selection: a region, a RAM bank, an iomem line, a hole.

Builds rich renderables only from the model and the policy results the state already holds
(and `core.dump` figures when a vmcore is loaded); every string goes through `Text` so
`[mem …]` and `[no-dump]` are not eaten as markup. Colours come from the theme's `Palette`.
"""

from __future__ import annotations

from rich.columns import Columns
from rich.console import Group, RenderableType
from rich.style import Style
from rich.table import Table
from rich.text import Text

from memmap_tui.core.model import Band, Region
from memmap_tui.core.naming import display_name
from memmap_tui.core.policies import POLICIES, PROPOSAL_NOTE
from memmap_tui.core.policy import TOGGLE_WHY, ToggleEffect, toggle_effect
from memmap_tui.core.ranges import Range
from memmap_tui.core.units import approx_size, compact_hex, exact_size, kernel_mem
from memmap_tui.tui.capture_view import projection_note, projection_table
from memmap_tui.tui.paths import shown_path
from memmap_tui.tui.projection import IN_DUMP, UNFILTERED
from memmap_tui.tui.selection import Selection, SelKind
from memmap_tui.tui.state import GROUPS, TuiState, dump_mark_of
from memmap_tui.tui.theme import (BAND_GLYPH, BAND_LABEL, DEFAULT, DUMP_GLYPH, DUMP_LABEL, DUMP_WHY,
                                  VMCORE_GLYPH, Palette)

OVERVIEW_FINDINGS_PER_CODE = 5
VMCORE_HEADING = f"In the {UNFILTERED}"   # per-policy bytes: RAM PT_LOADs, before any filtering
DUMP_HEADING = IN_DUMP[0].upper() + IN_DUMP[1:]
# the export dialog's result lines (it predates the palette): the default theme's level styles
LEVEL_STYLE = DEFAULT.level


def iomem_line(e) -> Text:
    width = 16 if e.range.end > 1 << 32 else 8
    return Text(f"{'  ' * e.depth}{e.range.start:0{width}x}-{e.range.last:0{width}x} : {e.name}")


def legend(pal: Palette = DEFAULT, *, dump: bool | None = False) -> RenderableType:
    """Glyph chip + name per band kind, as many to a row as fit, so a chip never wraps away from its name.

    `dump`: add the loaded-dump column's glyphs (None: add them, saying they need --vmcore)."""
    cells = []
    for band, label in BAND_LABEL.items():
        t = Text(no_wrap=True)
        t.append(f" {BAND_GLYPH[band] * 2} ", style=pal.band_fill[band])
        t.append(f" {label}")
        cells.append(t)
    grid = Columns(cells, padding=(0, 2), equal=True, column_first=False)
    marks = Text(" ")
    for mark, what in (("all", "in vmcore"), ("part", "partly"), ("none", "not (active policy)")):
        marks.append(VMCORE_GLYPH[mark], style=pal.vmcore_fg[mark])
        marks.append(f" {what}  ", style=pal.muted)
    lines = [grid, marks, Text(" band height grows with log2 of the size (holes: one row)", style=pal.muted)]
    if dump is not False:
        t = Text(" ")
        for mark, glyph in DUMP_GLYPH.items():
            t.append(glyph, style=pal.dump_fg[mark])
            t.append(f" {DUMP_LABEL[mark]}  ", style=pal.muted)
        t.append("(the loaded dump file" + (", with --vmcore)" if dump is None else ")"), style=pal.muted)
        lines.append(t)
    return Group(*lines)


class Details:
    """The details panel's renderable for one selection."""

    def __init__(self, state: TuiState, pal: Palette = DEFAULT) -> None:
        self.state = state
        self.pal = pal

    def build(self, selection: Selection) -> RenderableType:
        mm = self.state.mm
        if selection.kind is SelKind.REGION and selection.region_id is not None:
            try:
                return self.region(mm.region(selection.region_id))
            except KeyError:
                return self.overview()
        if selection.kind is SelKind.RAM and selection.range is not None:
            return self.ram(selection.range)
        if selection.kind is SelKind.IOMEM and selection.iomem_index is not None:
            return self.iomem(selection.iomem_index)
        if selection.kind is SelKind.HOLE and selection.range is not None:
            return self.hole(selection.range)
        if selection.kind is SelKind.GROUP and selection.group in GROUPS:
            return self.group(selection.group)
        return self.overview()

    # -- pieces ----------------------------------------------------------------------------
    def heading(self, text: str) -> Text:
        return Text(text, style=self.pal.heading)

    def findings(self, findings, *, per_code: int | None = None) -> Text:
        """Findings, in order; with `per_code`, at most that many of each code and a count of the
        rest (a generated board with 2,500 findings rendered them all: seconds per repaint)."""
        out = Text()
        shown: dict[str, int] = {}
        for f in findings:
            shown[f.code] = shown.get(f.code, 0) + 1
            if per_code is not None and shown[f.code] > per_code:
                continue
            out.append(f"{f.level}: ", style=self.pal.level[f.level])
            out.append(f"[{f.code}] ", style=self.pal.muted)
            out.append(f"{f.message}\n")
        for code, n in shown.items():
            if per_code is not None and n > per_code:
                out.append(f"… {n - per_code} more [{code}] (each region's details list its own)\n", style=self.pal.muted)
        out.rstrip()
        return out

    def _grid(self) -> Table:
        t = Table.grid(padding=(0, 1))
        t.add_column(style=self.pal.muted, no_wrap=True)
        t.add_column(overflow="fold")   # long values break rather than lose their tail
        return t

    @staticmethod
    def _kv(table: Table, key: str, value: Text | str) -> None:
        table.add_row(Text(key), value if isinstance(value, Text) else Text(value))

    def policy_table(self, regions: list[Region]) -> Table:
        """Size and bytes in the vmcore per policy, one row per region (the report's table)."""
        pal, state = self.pal, self.state
        table = Table(box=None, padding=(0, 1), header_style=pal.heading, expand=False)
        table.add_column("region", overflow="fold")
        table.add_column("size", justify="right", no_wrap=True)
        for p in POLICIES:
            table.add_column(p.column_narrow, justify="right", no_wrap=True,
                             header_style=pal.active if p.id == state.policy else pal.heading)
        for r in regions:
            table.add_row(Text(display_name(r), style=pal.kind_fg[state.mm.band_of(r)]),
                          Text(exact_size(r.size_bytes)),
                          *(Text(exact_size(state.results[p.id].region_dumped.get(r.id, 0))) for p in POLICIES))
        return table

    def kind_totals(self) -> Table:
        """Count and size of placed regions per band kind (what the map colours add up to)."""
        table = Table(box=None, padding=(0, 1), header_style=self.pal.heading, expand=False)
        table.add_column("kind", no_wrap=True)
        table.add_column("n", justify="right", no_wrap=True)
        table.add_column("size", justify="right", no_wrap=True)
        table.add_column("", no_wrap=True)
        for band, count, size in self.state.kind_totals():
            label = Text()
            label.append(f" {BAND_GLYPH[band]} ", style=self.pal.band_fill[band])
            label.append(f" {BAND_LABEL[band]}")
            approx = approx_size(size)
            table.add_row(label, Text(str(count)), Text(exact_size(size)),
                          Text(approx or "", style=self.pal.muted))
        return table

    # -- views -----------------------------------------------------------------------------
    def group(self, title: str) -> RenderableType:
        regions = [r for r in self.state.mm.regions if GROUPS[title](r)]
        total = sum(r.size_bytes for r in regions if r.reserves_memory)
        return Group(self.heading(f"{title} — {len(regions)} region{'s' * (len(regions) != 1)}, "
                                  f"{exact_size(total)}"),
                     self.policy_table(regions),
                     Text(f"bytes of each region in the {UNFILTERED}, per policy", style=self.pal.muted))

    def overview(self) -> RenderableType:
        state, mm, pal = self.state, self.state.mm, self.pal
        parts: list[RenderableType] = [self.heading("Overview")]
        t = self._grid()
        for role, path in mm.inputs.items():
            self._kv(t, role, shown_path(path))
        if not mm.inputs:
            self._kv(t, "inputs", "none")
        self._kv(t, "arch", f"{mm.arch}, {mm.loader}, kernel model {mm.kernel}, page {mm.page_size} B")
        if mm.ram_known:
            self._kv(t, "RAM", f"{exact_size(mm.ram.size_bytes)} from {mm.ram_source}\n" + "\n".join(
                f"{compact_hex(r.start)}–{compact_hex(r.end)} {exact_size(r.size_bytes)}" for r in mm.ram))
        else:
            self._kv(t, "RAM", Text("unknown — give --ram SIZE@BASE for vmcore totals", style=pal.warn))
        if mm.boot.bootargs:
            self._kv(t, "bootargs", mm.boot.bootargs)
        parts.append(t)
        dump = self.dump_overview()
        if dump is not None:
            parts += [self.heading("Loaded dump"), dump, self.heading("Projected dump per policy"),
                      projection_table(state, pal), projection_note(state, pal)]
        if state.kind_totals():
            parts += [self.heading("Totals per kind"), self.kind_totals()]
        parts.append(self.heading(f"Findings ({len(mm.findings)})"))
        parts.append(self.findings(mm.findings, per_code=OVERVIEW_FINDINGS_PER_CODE) if mm.findings
                     else Text("none", style=pal.muted))
        parts += [Text(""), self.heading("Legend"), legend(pal, dump=state.loaded.dump is not None), Text(""),
                  Text(PROPOSAL_NOTE, style=pal.muted + Style(italic=True))]
        return Group(*parts)

    def region(self, region: Region) -> RenderableType:
        state, mm, pal = self.state, self.state.mm, self.pal
        band = mm.band_of(region)
        title = Text()
        title.append(f" {BAND_GLYPH[band]} ", style=pal.band_fill[band])
        title.append(f" {display_name(region)}", style=pal.kind_fg[band] + Style(bold=True))
        parts: list[RenderableType] = [title]
        info = self._grid()
        self._kv(info, "path", region.id)
        if region.labels:
            self._kv(info, "labels", ", ".join(region.labels))
        if region.users:
            self._kv(info, "used by", "\n".join(region.users))
        if region.compatible:
            self._kv(info, "compatible", ", ".join(region.compatible))
        self._kv(info, "kind", str(region.kind))
        flags = mm.flags(region)
        self._kv(info, "flags", Text(" ".join(flags) if flags else "—", style=pal.kind_fg[band]))
        self._kv(info, "size", f"{exact_size(region.size_bytes)} ({region.size_bytes:,} bytes)")
        if region.placement_source:
            self._kv(info, "placed by", region.placement_source)
        parts.append(info)

        parts.append(self.heading(VMCORE_HEADING))
        why = state.results.why(region)
        # a grid: the why line wraps inside its own column, under the policy name
        pt = Table.grid(padding=(0, 1))
        pt.add_column(no_wrap=True, width=1)
        pt.add_column(overflow="fold")
        for p in (policy.id for policy in POLICIES):
            dumped = state.results[p].region_dumped.get(region.id, 0)
            style = pal.active if p == state.policy else pal.text
            line = Text()
            line.append(f"{p:<17}{exact_size(dumped):>12}", style=style)
            line.append(f"\n{why[p]}", style=pal.muted)   # not bold under the active policy
            pt.add_row(Text("▶" if p == state.policy else " ", style=style), line)
        parts.append(pt)
        refusal = state.can_toggle(region)
        if refusal is None:
            effect = toggle_effect(mm, region)
            now = "set" if mm.no_dump(region) else "not set"
            changed = " (changed here)" if region.id in mm.no_dump_overrides else ""
            t = Text()
            t.append(f"linux,no-dump {now}{changed}. ", style="bold" if changed else "")
            t.append("n toggles it: ", style=pal.muted)
            t.append(TOGGLE_WHY[effect], style=pal.ok if effect is ToggleEffect.EFFECTIVE else pal.warn)
            parts.append(t)
        else:
            parts.append(Text(refusal, style=pal.muted))

        parts.append(self.heading("Ranges"))
        rt = Text()
        if region.ranges:
            for r in region.ranges:
                rt.append(f"{kernel_mem(r)}  {exact_size(r.size_bytes)}\n")
            rt.append("c copies the range\n", style=pal.muted)
        else:
            rt.append("unplaced: the address is chosen at boot" if region.reserves_memory
                      else "not reserved", style=pal.warn)
            rt.append("\n")
        if region.reg:
            rt.append("reg tuples (as written in the DT):\n", style=pal.muted)
            for i, r in enumerate(region.reg):
                used = " (used)" if any(x.overlaps(r) for x in region.ranges) else " (ignored by this kernel model)"
                rt.append(f"  {i}: <{compact_hex(r.start)} {compact_hex(r.size_bytes)}>")
                rt.append(used if len(region.reg) > 1 else "", style=pal.muted)
                rt.append(f"\n     {kernel_mem(r)}\n")
        if region.alloc_ranges:
            rt.append("alloc-ranges:\n", style=pal.muted)
            for r in region.alloc_ranges:
                rt.append(f"  {kernel_mem(r)}\n")
        rt.rstrip()
        parts.append(rt)

        if state.loaded.dump is not None:
            dump_block = self.dump_region(region)
            if dump_block is not None:
                parts += [self.heading(DUMP_HEADING), dump_block]

        if region.properties:
            parts.append(self.heading("DT properties"))
            props = Table.grid(padding=(0, 1))
            props.add_column(no_wrap=True, style=pal.active)
            props.add_column()
            for name, value in region.properties:
                props.add_row(Text(name), Text(value))
            parts.append(props)

        io = list({id(e): e for rng in region.ranges for e in state.iomem_overlapping(rng)}.values())
        if io:
            parts.append(self.heading("/proc/iomem"))
            parts.append(Text("\n").join(iomem_line(e) for e in io))
        if region.notes:
            parts += [self.heading("Boot log and placement"), Text("\n".join(region.notes))]
        findings = [f for f in mm.findings if f.id == region.id]
        if findings:
            parts += [self.heading("Findings"), self.findings(findings)]
        return Group(*parts)

    def _mark(self, mark: str) -> Text:
        t = Text()
        t.append(DUMP_GLYPH[mark], style=self.pal.dump_fg[mark])
        t.append(f" {DUMP_WHY[mark]}")
        return t

    def dump_region(self, region: Region) -> RenderableType | None:
        """What the loaded vmcore holds of this region (core.dump accounting)."""
        account = self.state.dump_account()
        if account is None:
            return None
        st = account.regions.get(region.id)
        if st is None:
            return None
        page = account.layout.page_size
        t = self._grid()
        placed = sum(r.size_bytes for r in region.ranges)
        if placed:
            self._kv(t, "map", self._mark(dump_mark_of(placed, st.covered_bytes, st.present_bytes)))
        self._kv(t, "covered", f"{exact_size(st.covered_bytes)} by the dump's segments")
        self._kv(t, "present", f"{exact_size(st.present_bytes)} of pages held"
                 + (" (zero pages too)" if st.zero_pages else ""))
        if st.excluded_pages:
            self._kv(t, "filtered", f"{st.excluded_pages:,} pages ({exact_size(st.excluded_pages * page)}) "
                                    "excluded by the dump level")
        if st.zero_pages:
            self._kv(t, "zero", f"{st.zero_pages:,} pages stored as the zero page")
        self._kv(t, "on disk", "unknown (cut file)" if st.on_disk_bytes is None else exact_size(st.on_disk_bytes))
        return t

    def dump_range(self, rng: Range) -> RenderableType | None:
        """A RAM bank or hole in the loaded dump: the map's dump column, spelled out."""
        got = self.state.dump_presence(rng)
        if got is None:
            return None
        covered, present = got
        t = self._grid()
        self._kv(t, "map", self._mark(dump_mark_of(rng.size_bytes, covered, present)))
        self._kv(t, "covered", exact_size(covered))
        self._kv(t, "present", f"{exact_size(present)} of page data")
        return t

    def dump_overview(self) -> RenderableType | None:
        state, pal = self.state, self.pal
        layout = state.loaded.dump
        account = state.dump_account()
        if layout is None or account is None:
            return None
        grid = self._grid()
        self._kv(grid, "file", shown_path(layout.path))
        self._kv(grid, "format", f"{layout.format}" + (f", {layout.compression}" if layout.compression else "")
                 + (f", dump level {layout.dump_level}" if layout.dump_level is not None else "")
                 + (f", made by {layout.producer}" if layout.producer else ""))
        tot = account.totals
        self._kv(grid, IN_DUMP, f"{exact_size(tot.covered_bytes)} covered, {exact_size(tot.present_bytes)} present"
                 + ("" if tot.on_disk_bytes is None else f", {exact_size(tot.on_disk_bytes)} of pages on disk")
                 + ("" if layout.dump_size_bytes is None else f"; file {exact_size(layout.dump_size_bytes)}"))
        verdict = state.dump_verdict()
        if verdict is not None:
            v = Text(verdict.text, style=pal.ok if verdict.matches else pal.warn)
            for note in verdict.notes:
                v.append(f"\n{note}", style=pal.muted)
            self._kv(grid, "policy", v)
        listed = {(f.code, f.id) for f in state.mm.findings}   # inputs.py may already carry them
        extra = [f for f in layout.findings if (f.code, f.id) not in listed]
        return Group(grid, self.findings(extra)) if extra else grid

    def ram(self, bank: Range) -> RenderableType:
        state, mm, pal = self.state, self.state.mm, self.pal
        title = Text()
        title.append(f" {BAND_GLYPH[Band.RAM]} ", style=pal.band_fill[Band.RAM])
        title.append(" System RAM bank", style="bold")
        t = Text(f"{kernel_mem(bank)}\n{exact_size(bank.size_bytes)} ({bank.size_bytes:,} bytes), "
                 f"from {mm.ram_source}\n")
        inside = [r for r in mm.regions if r.placed and r.reserves_memory and any(x.overlaps(bank) for x in r.ranges)]
        taken = sum(x.size_bytes for r in inside for x in r.ranges if x.overlaps(bank))
        t.append(f"{len(inside)} reserved region{'s' * (len(inside) != 1)} inside, {exact_size(taken)} in total\n",
                 style=pal.muted)
        parts: list[RenderableType] = [title, t, self.heading(VMCORE_HEADING)]
        pt = Table.grid(padding=(0, 1))
        pt.add_column(no_wrap=True)
        pt.add_column(justify="right", no_wrap=True)
        for p in (policy.id for policy in POLICIES):
            dumped = sum(x.size_bytes for r in state.results[p].dumped if (x := r.intersection(bank)))
            pt.add_row(Text(p, style=pal.active if p == state.policy else pal.text), Text(exact_size(dumped)))
        parts.append(pt)
        dump = self.dump_range(bank)
        if dump is not None:
            parts += [self.heading(DUMP_HEADING), dump]
        io = state.iomem_overlapping(bank)
        if io:
            out = Text("\n").join(iomem_line(e) for e in io[:60])
            if len(io) > 60:
                out.append(f"\n… {len(io) - 60} more lines", style=pal.muted)
            parts += [self.heading("/proc/iomem"), out]
        return Group(*parts)

    def iomem(self, index: int) -> RenderableType:
        mm = self.state.mm
        e = mm.iomem[index]
        t = Text(f"{kernel_mem(e.range)}\n{exact_size(e.range.size_bytes)}\n")
        t.append("from /proc/iomem; no DT region describes it\n", style=self.pal.muted)
        lines = [x for x in mm.iomem if x.range.overlaps(e.range)]
        return Group(Text(f" {e.name}", style="bold"), t, self.heading("/proc/iomem"),
                     Text("\n").join(iomem_line(x) for x in lines[:40]))

    def hole(self, rng: Range) -> RenderableType:
        parts: list[RenderableType] = [
            Text(" hole", style="bold"),
            Text(f"{kernel_mem(rng)}\n{exact_size(rng.size_bytes)} with no RAM, region or iomem range\n"
                 "(collapsed to one row on the map)")]
        dump = self.dump_range(rng)
        if dump is not None:
            parts += [self.heading(DUMP_HEADING), dump]
        return Group(*parts)
