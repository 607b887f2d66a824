"""What the details panel says about the selected thing: a region, a RAM bank, an iomem line, a hole.

Builds rich renderables only from the model (and `core.dump` figures when a vmcore is loaded);
every string goes through `Text` so `[mem …]` and `[no-dump]` are not eaten as markup.
"""

from __future__ import annotations

from rich.columns import Columns
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from memmap_tui.core.model import Band, Level, Region, RegionKind
from memmap_tui.core.policy import POLICIES, TOGGLE_WHY, ToggleEffect, region_policy_why, toggle_effect
from memmap_tui.core.ranges import Range
from memmap_tui.core.units import compact_hex, exact_size, kernel_mem
from memmap_tui.tui.state import TuiState, dump_mark_of
from memmap_tui.tui.style import BAND_GLYPH, BAND_LABEL, DUMP_FG, DUMP_GLYPH, DUMP_LABEL, DUMP_WHY, KIND_FG, band_style

LEVEL_STYLE = {Level.ERROR: "bold #ff6b5b", Level.WARNING: "#e8c547", Level.INFO: "#8a8f98"}
PROPOSAL_NOTE = ("linux,no-dump is the v1 proposal the DT maintainers rejected (vendor kernels only); "
                 "exclude-reserved (v2+) needs no DT change. Neither is in mainline.")


def heading(text: str) -> Text:
    return Text(text, style="bold #ffd75f")


def iomem_line(e) -> Text:
    width = 16 if e.range.end > 1 << 32 else 8
    return Text(f"{'  ' * e.depth}{e.range.start:0{width}x}-{e.range.last:0{width}x} : {e.name}")


def findings_block(findings) -> Text:
    out = Text()
    for f in findings:
        out.append(f"{f.level}: ", style=LEVEL_STYLE[f.level])
        out.append(f"[{f.code}] ", style="dim")
        out.append(f"{f.message}\n")
    out.rstrip()
    return out


def legend(*, dump: bool | None = False) -> RenderableType:
    """Glyph chip + name per band kind, three to a row, so a chip never wraps away from its name.

    `dump`: add the loaded-dump column's glyphs (None: add them, saying they need --vmcore)."""
    cells = []
    for band, label in BAND_LABEL.items():
        t = Text(no_wrap=True)
        t.append(f" {BAND_GLYPH[band] * 2} ", style=band_style(band))
        t.append(f" {label}")
        cells.append(t)
    # as many columns as the panel fits (three at 200 columns, two at 80): names are never cut
    grid = Columns(cells, padding=(0, 2), equal=True, column_first=False)
    lines = [grid, Text(" ● in vmcore  ◐ partly  ○ not (active policy)", style="dim")]
    if dump is not False:
        t = Text(" ")
        for mark, glyph in DUMP_GLYPH.items():
            t.append(glyph, style=DUMP_FG[mark])
            t.append(f" {DUMP_LABEL[mark]}  ", style="dim")
        t.append("(the loaded dump file" + (", with --vmcore)" if dump is None else ")"), style="dim")
        lines.append(t)
    return Group(*lines)


def build_details(state: TuiState, key: str | None) -> RenderableType:
    if key is None or key == "overview":
        return overview(state)
    kind, _, rest = key.partition(":")
    if kind == "region":
        try:
            return region_details(state, state.mm.region(rest))
        except KeyError:
            return overview(state)
    if kind == "ram":
        bank = state.ram_bank_at(int(rest))
        return ram_details(state, bank) if bank else overview(state)
    if kind == "iomem":
        return iomem_details(state, int(rest))
    if kind == "hole":
        start, end = (int(x) for x in rest.split(":"))
        return hole_details(state, Range(start, end))
    if kind == "group":
        return group_details(state, rest)
    return overview(state)


GROUPS = {
    "Reserved memory": lambda r: r.kind not in (RegionKind.MEMRESERVE, RegionKind.CRASHKERNEL),
    "/memreserve/": lambda r: r.kind is RegionKind.MEMRESERVE,
    "Crash kernel": lambda r: r.kind is RegionKind.CRASHKERNEL,
}


def group_details(state: TuiState, title: str) -> RenderableType:
    """A tree group: its regions with size and bytes in the vmcore per policy (the report's table)."""
    pred = GROUPS.get(title)
    if pred is None:
        return overview(state)
    mm = state.mm
    regions = [r for r in mm.regions if pred(r)]
    table = Table(box=None, padding=(0, 1), header_style="bold #ffd75f", expand=False)
    table.add_column("region", overflow="fold")
    table.add_column("size", justify="right", no_wrap=True)
    for p, short in zip(POLICIES, ("today", "v1", "excl")):
        table.add_column(short, justify="right", no_wrap=True,
                         header_style="bold #6fa8ff" if p == state.policy else "bold #ffd75f")
    for r in regions:
        band = mm.band_of(r)
        table.add_row(Text(r.name, style=KIND_FG.get(str(band), "")), Text(exact_size(r.size_bytes)),
                      *(Text(exact_size(state.results[p].region_dumped.get(r.id, 0))) for p in POLICIES))
    total = sum(r.size_bytes for r in regions if r.reserves_memory)
    return Group(heading(f"{title} — {len(regions)} region{'s' * (len(regions) != 1)}, {exact_size(total)}"),
                 table, Text("bytes of each region in the vmcore, per policy", style="dim"))


def overview(state: TuiState) -> RenderableType:
    mm = state.mm
    parts: list[RenderableType] = [heading("Overview")]
    t = Table.grid(padding=(0, 1))
    t.add_column(style="dim", no_wrap=True)
    t.add_column(overflow="fold")   # long paths break rather than lose their tail
    for role, path in mm.inputs.items():
        _kv(t, role, path)
    if not mm.inputs:
        _kv(t, "inputs", "none")
    _kv(t, "arch", f"{mm.arch}, {mm.loader}, kernel model {mm.kernel}, page {mm.page_size} B")
    if mm.ram_known:
        _kv(t, "RAM", f"{exact_size(mm.ram.size_bytes)} from {mm.ram_source}\n"
            + "\n".join(f"{compact_hex(r.start)}–{compact_hex(r.end)} {exact_size(r.size_bytes)}" for r in mm.ram))
    else:
        _kv(t, "RAM", Text("unknown — give --ram SIZE@BASE for vmcore totals", style="#e8c547"))
    if mm.boot.bootargs:
        _kv(t, "bootargs", mm.boot.bootargs)
    parts.append(t)
    dump = dump_overview(state)
    if dump is not None:
        parts.append(heading("vmcore"))
        parts.append(dump)
    parts.append(heading(f"Findings ({len(mm.findings)})"))
    parts.append(findings_block(mm.findings) if mm.findings else Text("none", style="dim"))
    parts.append(Text(""))
    parts.append(heading("Legend"))
    parts.append(legend(dump=state.loaded.dump is not None))
    parts.append(Text(""))
    parts.append(Text(PROPOSAL_NOTE, style="italic #8a8f98"))
    return Group(*parts)


def _kv(table: Table, key: str, value: Text | str) -> None:
    table.add_row(Text(key, style="dim"), value if isinstance(value, Text) else Text(value))


def region_details(state: TuiState, region: Region) -> RenderableType:
    mm = state.mm
    band = mm.band_of(region)
    fg = KIND_FG.get(str(band), "white")
    title = Text()
    title.append(f" {BAND_GLYPH[band]} ", style=band_style(band))
    title.append(f" {region.name}", style=f"bold {fg}")
    parts: list[RenderableType] = [title]
    info = Table.grid(padding=(0, 1))
    info.add_column(no_wrap=True)
    info.add_column(overflow="fold")
    _kv(info, "path", region.id)
    if region.labels:
        _kv(info, "labels", ", ".join(region.labels))
    if region.users:
        _kv(info, "used by", "\n".join(region.users))
    _kv(info, "kind", str(region.kind))
    flags = mm.flags(region)
    _kv(info, "flags", Text(" ".join(flags) if flags else "—", style=fg))
    _kv(info, "size", f"{exact_size(region.size_bytes)} ({region.size_bytes:,} bytes)")
    if region.placement_source:
        _kv(info, "placed by", region.placement_source)
    parts.append(info)

    parts.append(heading("In the vmcore"))
    why = region_policy_why(mm, region)
    pt = Text()
    for p in POLICIES:
        dumped = state.results[p].region_dumped.get(region.id, 0)
        style = "bold" if p == state.policy else ""
        pt.append(f"{'▶' if p == state.policy else ' '} {p:<17}", style=style)
        pt.append(f"{exact_size(dumped):>10}\n", style=style)
        pt.append(f"    {why[p]}\n", style="dim")   # own line: reads the same at 80 and 200 columns
    pt.rstrip()
    parts.append(pt)
    if state.can_toggle(region) is None:
        effect = toggle_effect(mm, region)
        now = "set" if mm.no_dump(region) else "not set"
        changed = " (changed here)" if region.id in mm.no_dump_overrides else ""
        t = Text()
        t.append(f"linux,no-dump {now}{changed}. ", style="bold" if changed else "")
        t.append("n toggles it: ", style="dim")
        t.append(TOGGLE_WHY[effect], style="#4cc38a" if effect is ToggleEffect.EFFECTIVE else "#e8c547")
        parts.append(t)
    else:
        parts.append(Text(state.can_toggle(region) or "", style="dim"))

    parts.append(heading("Ranges"))
    rt = Text()
    if region.ranges:
        for r in region.ranges:
            rt.append(f"{kernel_mem(r)}  {exact_size(r.size_bytes)}\n")
    else:
        rt.append("unplaced: the address is chosen at boot" if region.reserves_memory
                  else "not reserved", style="#e8c547")
        rt.append("\n")
    if region.reg:
        rt.append("reg tuples (as written in the DT):\n", style="dim")
        for i, r in enumerate(region.reg):
            used = " (used)" if _tuple_used(region, r) else " (ignored by this kernel model)"
            rt.append(f"  {i}: <{compact_hex(r.start)} {compact_hex(r.size_bytes)}>")
            rt.append(used if len(region.reg) > 1 else "", style="dim")
            rt.append(f"\n     {kernel_mem(r)}\n")
    if region.alloc_ranges:
        rt.append("alloc-ranges:\n", style="dim")
        for r in region.alloc_ranges:
            rt.append(f"  {kernel_mem(r)}\n")
    rt.rstrip()
    parts.append(rt)

    if state.loaded.dump is not None:
        dump_block = dump_details(state, region)
        if dump_block is not None:
            parts.append(heading("In the loaded dump"))
            parts.append(dump_block)

    if region.properties:
        parts.append(heading("DT properties"))
        props = Table.grid(padding=(0, 1))
        props.add_column(no_wrap=True, style="#6fa8ff")
        props.add_column()
        for name, value in region.properties:
            props.add_row(Text(name), Text(value))
        parts.append(props)

    io = [e for rng in region.ranges for e in state.iomem_overlapping(rng)]
    if io:
        parts.append(heading("/proc/iomem"))
        t = Text()
        seen = set()
        for e in io:
            if id(e) in seen:
                continue
            seen.add(id(e))
            t.append_text(iomem_line(e))
            t.append("\n")
        t.rstrip()
        parts.append(t)
    if region.notes:
        parts.append(heading("Boot log and placement"))
        parts.append(Text("\n".join(region.notes)))
    findings = [f for f in mm.findings if f.id == region.id]
    if findings:
        parts.append(heading("Findings"))
        parts.append(findings_block(findings))
    return Group(*parts)


def _tuple_used(region: Region, r: Range) -> bool:
    return any(x.overlaps(r) for x in region.ranges)


def dump_details(state: TuiState, region: Region) -> RenderableType | None:
    """What the loaded vmcore holds of this region (core.dump accounting), when a dump is loaded."""
    account = state.dump_account()
    if account is None:
        return None
    st = account.regions.get(region.id)
    if st is None:
        return None
    page = account.layout.page_size
    t = Table.grid(padding=(0, 1))
    t.add_column(style="dim", no_wrap=True)
    t.add_column()
    placed = sum(r.size_bytes for r in region.ranges)
    if placed:
        t.add_row(Text("map"), _dump_mark_text(dump_mark_of(placed, st.covered_bytes, st.present_bytes)))
    t.add_row(Text("covered"), Text(f"{exact_size(st.covered_bytes)} by the dump's segments"))
    t.add_row(Text("present"), Text(f"{exact_size(st.present_bytes)} of page data"))
    if st.excluded_pages:
        t.add_row(Text("filtered"), Text(f"{st.excluded_pages:,} pages ({exact_size(st.excluded_pages * page)}) "
                                         "excluded by the dump level"))
    if st.zero_pages:
        t.add_row(Text("zero"), Text(f"{st.zero_pages:,} pages stored as the zero page"))
    t.add_row(Text("on disk"), Text("unknown (cut file)" if st.on_disk_bytes is None
                                    else exact_size(st.on_disk_bytes)))
    return t


def _dump_mark_text(mark: str) -> Text:
    t = Text()
    t.append(DUMP_GLYPH[mark], style=DUMP_FG[mark])
    t.append(f" {DUMP_WHY[mark]}")
    return t


def range_dump_block(state: TuiState, rng: Range) -> RenderableType | None:
    """A RAM bank or hole in the loaded dump: the map's dump column, spelled out."""
    got = state.dump_presence(rng)
    if got is None:
        return None
    covered, present = got
    t = Table.grid(padding=(0, 1))
    t.add_column(style="dim", no_wrap=True)
    t.add_column()
    t.add_row(Text("map"), _dump_mark_text(dump_mark_of(rng.size_bytes, covered, present)))
    t.add_row(Text("covered"), Text(exact_size(covered)))
    t.add_row(Text("present"), Text(f"{exact_size(present)} of page data"))
    return t


def dump_overview(state: TuiState) -> RenderableType | None:
    layout = state.loaded.dump
    account = state.dump_account()
    if layout is None or account is None:
        return None
    # a grid: wrapped values (long paths, the verdict's notes) stay in their column
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column(overflow="fold")
    _kv(grid, "file", layout.path)
    _kv(grid, "format", f"{layout.format}" + (f", {layout.compression}" if layout.compression else "")
        + (f", dump level {layout.dump_level}" if layout.dump_level is not None else "")
        + (f", made by {layout.producer}" if layout.producer else ""))
    tot = account.totals
    _kv(grid, "holds", f"{exact_size(tot.covered_bytes)} covered, {exact_size(tot.present_bytes)} present"
        + ("" if tot.on_disk_bytes is None else f", {exact_size(tot.on_disk_bytes)} on disk"))
    verdict = state.dump_verdict()
    if verdict is not None:
        v = Text(verdict.text, style="#4cc38a" if verdict.matches else "#e8c547")
        for note in verdict.notes:
            v.append(f"\n{note}", style="dim")
        _kv(grid, "policy", v)
    t = Text()
    listed = {f.message for f in state.mm.findings}   # inputs.py may already carry them
    for f in layout.findings:
        if f.message in listed:
            continue
        t.append(f"{f.level}: ", style=LEVEL_STYLE[f.level])
        t.append(f"{f.message}\n")
    t.rstrip()
    return Group(grid, t) if t.plain else grid


def ram_details(state: TuiState, bank: Range) -> RenderableType:
    mm = state.mm
    parts: list[RenderableType] = []
    title = Text()
    title.append(" = ", style=band_style(Band.RAM))
    title.append(" System RAM bank", style="bold")
    parts.append(title)
    t = Text()
    t.append(f"{kernel_mem(bank)}\n{exact_size(bank.size_bytes)} ({bank.size_bytes:,} bytes), from {mm.ram_source}\n")
    inside = [r for r in mm.regions if r.placed and r.reserves_memory and any(x.overlaps(bank) for x in r.ranges)]
    taken = sum(x.size_bytes for r in inside for x in r.ranges if x.overlaps(bank))
    t.append(f"{len(inside)} reserved region{'s' * (len(inside) != 1)} inside, {exact_size(taken)} in total\n",
             style="dim")
    parts.append(t)
    parts.append(heading("In the vmcore"))
    pt = Table.grid(padding=(0, 1))
    pt.add_column(no_wrap=True)
    pt.add_column(justify="right", no_wrap=True)
    for p in POLICIES:
        dumped = sum(x.size_bytes for r in state.results[p].dumped if (x := r.intersection(bank)))
        pt.add_row(Text(p, style="bold" if p == state.policy else ""), Text(exact_size(dumped)))
    parts.append(pt)
    dump = range_dump_block(state, bank)
    if dump is not None:
        parts.append(heading("In the loaded dump"))
        parts.append(dump)
    io = state.iomem_overlapping(bank)
    if io:
        parts.append(heading("/proc/iomem"))
        t = Text()
        for e in io[:60]:
            t.append_text(iomem_line(e))
            t.append("\n")
        if len(io) > 60:
            t.append(f"… {len(io) - 60} more lines\n", style="dim")
        t.rstrip()
        parts.append(t)
    return Group(*parts)


def iomem_details(state: TuiState, index: int) -> RenderableType:
    mm = state.mm
    e = mm.iomem[index]
    parts: list[RenderableType] = [Text(f" {e.name}", style="bold")]
    t = Text()
    t.append(f"{kernel_mem(e.range)}\n{exact_size(e.range.size_bytes)}\n")
    t.append("from /proc/iomem; no DT region describes it\n", style="dim")
    parts.append(t)
    lines = [x for x in mm.iomem if x.range.overlaps(e.range)]
    parts.append(heading("/proc/iomem"))
    out = Text()
    for x in lines[:40]:
        out.append_text(iomem_line(x))
        out.append("\n")
    out.rstrip()
    parts.append(out)
    return Group(*parts)


def hole_details(state: TuiState, rng: Range) -> RenderableType:
    parts: list[RenderableType] = [
        Text(" hole", style="bold"),
        Text(f"{kernel_mem(rng)}\n{exact_size(rng.size_bytes)} with no RAM, region or iomem range\n"
             "(collapsed to one row on the map)")]
    dump = range_dump_block(state, rng)
    if dump is not None:
        parts += [heading("In the loaded dump"), dump]
    return Group(*parts)
