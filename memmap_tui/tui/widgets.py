"""Region tree, header line, proposal banner, map legend and the policy cards."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual import events
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Static, Tree
from textual.widgets.tree import TreeNode

from memmap_tui.core.model import Band, Region
from memmap_tui.core.naming import display_name
from memmap_tui.core.policies import POLICIES, PROPOSAL_NOTE
from memmap_tui.core.units import capture_seconds, compact_hex, duration_text, exact_size, short_size
from memmap_tui.tui import selection as sel
from memmap_tui.tui.capture_view import dump_card_lines
from memmap_tui.tui.keys import bindings
from memmap_tui.tui.paths import shorten_middle, shown_path
from memmap_tui.tui.selection import Selection
from memmap_tui.tui.state import GROUPS, TuiState
from memmap_tui.tui.theme import (BAND_GLYPH, DUMP_GLYPH, DUMP_LABEL, INFO_GLYPH, SHORT_LABEL, WARN_GLYPH,
                                  Palette)

SORTS = ("address", "size", "largest")
LARGEST_COUNT = 20


def region_label(state: TuiState, region: Region, pal: Palette) -> Text:
    mm = state.mm
    band = mm.band_of(region)
    t = Text(no_wrap=True, overflow="ellipsis")
    t.append(BAND_GLYPH[band], style=pal.band_fill[band])
    t.append(f" {display_name(region)} ", style=pal.kind_fg[band])
    t.append(exact_size(region.size_bytes), style=pal.muted)
    for flag in mm.flags(region):
        changed = flag == "no-dump" and region.id in mm.no_dump_overrides
        style = (pal.kind_fg[Band.NO_DUMP] + Style(bold=True) if flag == "no-dump"
                 else pal.warn if flag in ("unplaced", "failed", "ignored") else pal.muted)
        t.append(f" {flag}{'*' if changed else ''}", style=style)
    if "no-dump" not in mm.flags(region) and region.id in mm.no_dump_overrides:
        t.append(" dump*", style=pal.muted + Style(bold=True))
    return t


def _address(region: Region) -> tuple[int, int]:
    return (0, region.ranges.start) if region.placed else (1, 0)   # unplaced last


class RegionTree(Tree[Selection]):
    """RAM banks, /reserved-memory children, /memreserve/, crash kernel, iomem-only ranges.

    `f` filters by kind, `s` sorts by address or size or lists the largest carveouts."""

    BINDINGS = bindings("tree")

    def __init__(self, state: TuiState, **kw) -> None:
        super().__init__(Text("memory map"), data=sel.OVERVIEW, **kw)
        self.state = state
        self.show_root = False
        self.guide_depth = 2
        self.nodes: dict[Selection, TreeNode[Selection]] = {}
        self.kind_filter: Band | None = None
        self.sort = SORTS[0]
        self._target: Selection = sel.OVERVIEW
        self.populate()

    @property
    def pal(self) -> Palette:
        return self.app.palette

    def _add(self, parent: TreeNode[Selection], label: Text, data: Selection, leaf: bool = True):
        node = parent.add_leaf(label, data=data) if leaf else parent.add(label, data=data, expand=True)
        self.nodes.setdefault(data, node)
        return node

    def kinds(self) -> list[Band]:
        return [band for band, _n, _size in self.state.kind_totals()]

    def populate(self) -> None:
        s, mm, pal = self.state, self.state.mm, self.pal
        self.root.remove_children()
        self.nodes = {}
        n = len(mm.findings)
        self._add(self.root, Text.assemble((f"{INFO_GLYPH} ", pal.info), "Overview",
                                           (f"  {n} finding{'s' * (n != 1)}", pal.muted)), sel.OVERVIEW)
        if self.kind_filter is None and self.sort != "largest":
            ram = self._add(self.root, self._group("System RAM", exact_size(mm.ram.size_bytes) + f" · {mm.ram_source}"
                                                   if mm.ram_known else "unknown"), sel.group("System RAM"),
                            leaf=False)
            for bank in mm.ram:
                t = Text(no_wrap=True)
                t.append(BAND_GLYPH[Band.RAM], style=pal.band_fill[Band.RAM])
                t.append(f" {compact_hex(bank.start)} ")
                t.append(exact_size(bank.size_bytes), style=pal.muted)
                self._add(ram, t, sel.ram(bank))
        wanted = [r for r in mm.regions if self.kind_filter is None or mm.band_of(r) is self.kind_filter]
        if self.sort == "largest":
            top = sorted((r for r in wanted if r.reserves_memory), key=lambda r: -r.size_bytes)[:LARGEST_COUNT]
            g = self._add(self.root, self._group(f"Largest {len(top)}", self._filter_note()), sel.OVERVIEW,
                          leaf=False)
            for r in top:
                self._add(g, region_label(s, r, pal), sel.region(r.id))
        else:
            key = _address if self.sort == "address" else (lambda r: -r.size_bytes)
            for title, pred in GROUPS.items():
                regions = sorted((r for r in wanted if pred(r)), key=key)
                if not regions:
                    continue
                size = sum(r.size_bytes for r in regions if r.reserves_memory)
                g = self._add(self.root, self._group(title, f"{len(regions)} · {short_size(size)}"
                                                     + self._filter_note()), sel.group(title), leaf=False)
                for r in regions:
                    self._add(g, region_label(s, r, pal), sel.region(r.id))
        only = s.iomem_only() if self.kind_filter is None and self.sort != "largest" else []
        if only:
            g = self._add(self.root, self._group("iomem only", str(len(only))), sel.OVERVIEW, leaf=False)
            if len(only) > 12:
                g.collapse()
            for i in only:
                e = mm.iomem[i]
                band = Band.MMIO if e.depth == 0 else Band.RESERVED
                t = Text(no_wrap=True, overflow="ellipsis")
                t.append(BAND_GLYPH[band], style=pal.band_fill[band])
                t.append(f" {e.name} ")
                t.append(f"{compact_hex(e.range.start)} {exact_size(e.range.size_bytes)}", style=pal.muted)
                self._add(g, t, sel.iomem(i, e.range))

    def _filter_note(self) -> str:
        parts = []
        if self.kind_filter is not None:
            parts.append(f"{SHORT_LABEL.get(self.kind_filter, str(self.kind_filter))} only")
        if self.sort != "address":
            parts.append(f"by {self.sort if self.sort == 'size' else 'size'}")
        return ("  (" + ", ".join(parts) + ")") if parts else ""

    def cycle_filter(self) -> Band | None:
        kinds: list[Band | None] = [None, *self.kinds()]
        self.kind_filter = kinds[(kinds.index(self.kind_filter) + 1) % len(kinds)] if self.kind_filter in kinds \
            else None
        self.populate()
        return self.kind_filter

    def cycle_sort(self) -> str:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self.populate()
        return self.sort

    def _group(self, title: str, extra: str) -> Text:
        return Text.assemble((title, "bold"), (f"  {extra}", self.pal.muted))

    def content_width(self) -> int:
        """Cells the widest line needs: guide (2 per level below the top) + the label."""
        widest = 0
        for node in self.nodes.values():
            depth, parent, shown = 0, node.parent, True
            while parent is not None and parent is not self.root:
                depth, shown, parent = depth + 1, shown and parent.is_expanded, parent.parent
            if shown:   # lines inside a collapsed group are not drawn
                widest = max(widest, 2 * max(1, depth) + node.label.cell_len)
        return widest

    def watch_hover_line(self, previous_hover_line: int, hover_line: int) -> None:
        """The full label as a tooltip when the hovered line is cut by the panel's width."""
        super().watch_hover_line(previous_hover_line, hover_line)
        node = self._get_node(hover_line)
        text = None
        if node is not None and node.label.cell_len + 2 > self.scrollable_content_region.width:
            text = node.label.copy()
        self.tooltip = text

    def relabel(self, region_ids: set[str] | None = None) -> int:
        """New labels for these regions (all when None); returns how many nodes were relabelled."""
        count = 0
        for data, node in self.nodes.items():
            if data.region_id is not None and (region_ids is None or data.region_id in region_ids):
                node.set_label(region_label(self.state, self.state.mm.region(data.region_id), self.pal))
                count += 1
        return count

    def show_selection(self, selection: Selection) -> None:
        self._target = selection
        node = self.nodes.get(selection)
        if node is None:
            return
        parent = node.parent
        while parent is not None and parent is not self.root:
            if not parent.is_expanded:   # each expand() re-measures every line of the tree
                parent.expand()
            parent = parent.parent
        self.call_after_refresh(self._move_cursor, node)

    def _move_cursor(self, node: TreeNode[Selection], retries: int = 3) -> None:
        if node.data != self._target:   # a newer selection came first: a late move would undo it
            return
        if node.line < 0:   # not laid out yet (first frame): try again after the next refresh
            if retries:
                self.call_after_refresh(self._move_cursor, node, retries - 1)
            return
        if self.cursor_line != node.line:
            self.cursor_line = node.line
        self.scroll_to_node(node, animate=False)


class MapLegend(Static):
    """Under the band map: a glyph per kind, the scale and the zoom level; two lines at 36 columns."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._zoom = (0, 1)
        self._dump = False

    def show(self, zoom_index: int, zoom_levels: int, *, dump: bool = False) -> None:
        self._zoom, self._dump = (zoom_index, zoom_levels), dump
        self.refresh(layout=True)

    def render(self) -> Text:
        pal: Palette = self.app.palette
        zoom_index, zoom_levels = self._zoom
        t = Text()
        for band, label in SHORT_LABEL.items():
            t.append(BAND_GLYPH[band], style=pal.band_fill[band])
            t.append(f" {label} ")
        t.append("rows∝log2(size)", style=pal.muted)   # band height is log-scaled: say so on the map
        if (self.size.width or 80) >= 60:   # narrow: the zoom level is in the toast after +/-
            t.append(f" · zoom\u00a0{zoom_index + 1}/{zoom_levels}", style=pal.muted)
        if self._dump:
            # the second marker column: what the loaded file holds, next to the policy's prediction
            t.append("\ndump", style=pal.muted)
            for mark, glyph in DUMP_GLYPH.items():
                t.append(f" {glyph}", style=pal.dump_fg[mark])
                t.append(f"\u00a0{DUMP_LABEL[mark]}", style=pal.muted)
        return t


class InfoHeader(Static):
    """The active policy, unexported toggles, arch, loader, RAM and the inputs, in one line."""

    def __init__(self, state: TuiState, **kw) -> None:
        super().__init__(**kw)
        self.state = state

    def render(self) -> Text:
        mm, pal = self.state.mm, self.app.palette
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(" memmap-tui ", style=pal.brand_chip)
        # policy first: it must survive an 80-column terminal; file names go last
        t.append(" policy ", style=pal.muted)
        t.append(f" {self.state.policy} ", style=pal.active_chip)
        unsaved = len(self.state.unsaved())
        if unsaved:
            t.append(f" {unsaved} unexported toggle{'s' * (unsaved != 1)}", style=pal.warn + Style(bold=True))
        t.append(f" │ {mm.arch} {mm.loader} │ ", style=pal.muted)
        t.append("RAM " + (exact_size(mm.ram.size_bytes) if mm.ram_known else "unknown"),
                 style=pal.text if mm.ram_known else pal.warn)
        t.append(" │ ", style=pal.muted)
        room = max(8, (self.size.width or 120) - t.cell_len)
        paths = [shown_path(p) for p in mm.inputs.values()]
        files = " + ".join(paths) or "no inputs"
        names = [p.rsplit("/", 1)[-1] for p in paths]
        if len(files) > room:   # file names only, then the first one and a count (the overview lists all)
            files = " + ".join(names)
        if len(files) > room:
            more = f" +{len(names) - 1}" if len(names) > 1 else ""
            files = shorten_middle(names[0], max(8, room - len(more))) + more
        t.append(files, style="bold")
        return t


class Banner(Static):
    """The proposal status, always on screen: a saving must never look like a mainline fact."""

    FULL = PROPOSAL_NOTE
    SHORT = "linux,no-dump: rejected v1 proposal (vendor kernels only) · ? explains"

    def render(self) -> Text:
        pal: Palette = self.app.palette
        text = self.FULL if (self.size.width or 200) >= 100 else self.SHORT
        return Text.assemble((f"{WARN_GLYPH} ", pal.warn + Style(bold=True)), (text, pal.text))


class PolicyCard(Static):
    """One policy's vmcore figures; clicking it makes that policy active."""

    class Chosen(Message):
        def __init__(self, policy: str) -> None:
            self.policy = policy
            super().__init__()

    def __init__(self, state: TuiState, policy: str, **kw) -> None:
        super().__init__(**kw)
        self.state = state
        self.policy = policy

    def on_click(self, event: events.Click) -> None:
        self.post_message(self.Chosen(self.policy))

    def lines(self, width: int) -> list[list[tuple[str, Style]]]:
        """Three lines (four with a dump), each the longest variant that fits `width` (figures are never cut)."""
        res = self.state.results[self.policy]
        mm, pal = self.state.mm, self.app.palette
        speed = self.state.write_speed_mbps
        active = self.policy == self.state.policy
        name = (("▶ " if active else "  ") + self.policy, pal.active if active else Style(bold=True))
        if res.dumped_bytes is not None and mm.ram.size_bytes:
            share = 100 * res.dumped_bytes / mm.ram.size_bytes
            first = [[name, (f"  {share:.1f} % of RAM", pal.muted)], [name, (f" {share:.0f}%", pal.muted)], [name]]
            secs = capture_seconds(res.dumped_bytes, speed)
            second = [[(f"  unfiltered {short_size(res.dumped_bytes)} · {duration_text(secs)}", pal.text)],
                      [(f"  {short_size(res.dumped_bytes)} · {duration_text(secs)}", pal.text)],
                      [(f"  {short_size(res.dumped_bytes)}", pal.text)]]
        else:
            first = [[name]]
            second = [[("  RAM unknown (--ram)", pal.warn)], [("  RAM unknown", pal.warn)]]
        if POLICIES[self.policy].drops_entry is None:   # today: the baseline the others save against
            third = [[("  baseline", pal.muted)]]
        else:
            saved = res.savings_bytes
            secs = capture_seconds(saved, speed)
            style = pal.ok + Style(bold=True) if saved else pal.muted
            third = [[(f"  saves {short_size(saved)}", style), (f" −{duration_text(secs)}", pal.ok)],
                     [(f"  saves {short_size(saved)}", style)], [(f"  −{short_size(saved)}", style)]]
        rows = [first, second, third]
        if self.state.loaded.dump is not None and res.dumped_bytes is not None:
            rows = [first, *dump_card_lines(self.state, self.policy, pal)]   # capture_view.py
        out = []
        for variants in rows:
            fits = [v for v in variants if sum(len(s) for s, _ in v) <= width]
            out.append(fits[0] if fits else variants[-1])
        if len(rows) == 3 and POLICIES[self.policy].drops_entry is not None and (res.savings_bytes == 0 or capture_seconds(res.savings_bytes, speed) < 0.05):
            out[2] = [x for x in out[2] if not x[0].startswith(" −")]
        return out

    def render(self) -> Text:
        width = self.content_region.width or 26
        t = Text(no_wrap=True, overflow="ellipsis")
        for i, line in enumerate(self.lines(width)):
            if i:
                t.append("\n")
            for text, style in line:
                t.append(text, style=style)
        return t


class SavingsBar(Horizontal):
    """The policies side by side: vmcore bytes, % of RAM, saving and capture time."""

    def __init__(self, state: TuiState, **kw) -> None:
        super().__init__(**kw)
        self.state = state
        self.cards = [PolicyCard(state, p.id, id=f"policy-{p.id}") for p in POLICIES]

    def compose(self):
        yield from self.cards

    def update_figures(self) -> None:
        for c in self.cards:
            c.set_class(c.policy == self.state.policy, "-active")
            c.refresh()
