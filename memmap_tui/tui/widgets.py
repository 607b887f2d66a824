"""Region tree, header line, honesty banner and savings bar."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Static, Tree
from textual.widgets.tree import TreeNode

from memmap_tui.core.model import Band, Region, RegionKind
from memmap_tui.core.policy import POLICIES
from memmap_tui.core.units import capture_seconds, compact_hex, exact_size
from memmap_tui.tui.state import TuiState
from memmap_tui.tui.style import BAND_GLYPH, DUMP_FG, DUMP_GLYPH, DUMP_LABEL, KIND_FG, band_style


def region_label(state: TuiState, region: Region) -> Text:
    mm = state.mm
    band = mm.band_of(region)
    t = Text(no_wrap=True, overflow="ellipsis")
    t.append(BAND_GLYPH[band], style=band_style(band))
    name = region.name if region.id.startswith("/reserved-memory/") else region.id
    t.append(f" {name} ", style=KIND_FG.get(str(band), ""))
    t.append(exact_size(region.size_bytes), style="dim")
    for flag in mm.flags(region):
        changed = flag == "no-dump" and region.id in mm.no_dump_overrides
        t.append(f" {flag}{'*' if changed else ''}",
                 style="bold #6fa8ff" if flag == "no-dump" else "#e8c547" if flag in ("unplaced", "failed", "ignored") else "#8a8f98")
    if "no-dump" not in mm.flags(region) and region.id in mm.no_dump_overrides:
        t.append(" dump*", style="bold #8a8f98")
    return t


class RegionTree(Tree[str]):
    """RAM banks, /reserved-memory children, /memreserve/, crash kernel, iomem-only ranges."""

    BINDINGS = [
        Binding("enter", "select_cursor", "Select", show=False, id="tree.select"),
        Binding("space", "toggle_node", "Expand", show=False, id="tree.expand"),
    ]

    def __init__(self, state: TuiState, **kw) -> None:
        super().__init__(Text("memory map"), data="overview", **kw)
        self.state = state
        self.show_root = False
        self.guide_depth = 2
        self.nodes_by_key: dict[str, TreeNode[str]] = {}
        self.populate()

    def _add(self, parent: TreeNode[str], label: Text, key: str, leaf: bool = True) -> TreeNode[str]:
        node = parent.add_leaf(label, data=key) if leaf else parent.add(label, data=key, expand=True)
        self.nodes_by_key.setdefault(key, node)
        return node

    def populate(self) -> None:
        s, mm = self.state, self.state.mm
        root = self.root
        root.remove_children()
        self.nodes_by_key = {}
        n = len(mm.findings)
        self._add(root, Text.assemble(("ⓘ ", "#ffd75f"), "Overview", (f"  {n} finding{'s' * (n != 1)}", "dim")),
                  "overview")
        ram = self._add(root, self._group("System RAM", exact_size(mm.ram.size_bytes) + f" · {mm.ram_source}"
                                          if mm.ram_known else "unknown"), "group:ram", leaf=False)
        for bank in mm.ram:
            t = Text(no_wrap=True)
            t.append(BAND_GLYPH[Band.RAM], style=band_style(Band.RAM))
            t.append(f" {compact_hex(bank.start)} ")
            t.append(exact_size(bank.size_bytes), style="dim")
            self._add(ram, t, f"ram:{bank.start}")
        groups = [
            ("Reserved memory", lambda r: r.kind not in (RegionKind.MEMRESERVE, RegionKind.CRASHKERNEL)),
            ("/memreserve/", lambda r: r.kind is RegionKind.MEMRESERVE),
            ("Crash kernel", lambda r: r.kind is RegionKind.CRASHKERNEL),
        ]
        for title, pred in groups:
            regions = [r for r in mm.regions if pred(r)]
            if not regions:
                continue
            size = sum(r.size_bytes for r in regions if r.reserves_memory)
            g = self._add(root, self._group(title, f"{len(regions)} · {exact_size(size)}"),
                          f"group:{title}", leaf=False)
            for r in regions:
                self._add(g, region_label(s, r), f"region:{r.id}")
        only = s.iomem_only()
        if only:
            g = self._add(root, self._group("iomem only", str(len(only))), "group:iomem", leaf=False)
            g.collapse() if len(only) > 12 else None
            for i in only:
                e = mm.iomem[i]
                band = Band.MMIO if e.depth == 0 else Band.RESERVED
                t = Text(no_wrap=True, overflow="ellipsis")
                t.append(BAND_GLYPH[band], style=band_style(band))
                t.append(f" {e.name} ")
                t.append(f"{compact_hex(e.range.start)} {exact_size(e.range.size_bytes)}", style="dim")
                self._add(g, t, f"iomem:{i}")

    @staticmethod
    def _group(title: str, extra: str) -> Text:
        return Text.assemble((title, "bold"), (f"  {extra}", "dim"))

    def content_width(self) -> int:
        """Cells the widest line needs: guide (2 per level below the top) + the label."""
        widest = 0
        for node in self.nodes_by_key.values():
            depth, parent = 0, node.parent
            while parent is not None and parent is not self.root:
                depth, parent = depth + 1, parent.parent
            # top level: the expand icon; below: the guides (leaves draw no icon)
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

    def refresh_labels(self) -> None:
        for key, node in self.nodes_by_key.items():
            if key.startswith("region:"):
                node.set_label(region_label(self.state, self.state.mm.region(key[7:])))

    def select_key(self, key: str) -> None:
        node = self.nodes_by_key.get(key)
        if node is None:
            return
        parent = node.parent
        while parent is not None:
            parent.expand()
            parent = parent.parent
        self.call_after_refresh(self._move_cursor, node)

    def _move_cursor(self, node: TreeNode[str], retries: int = 3) -> None:
        if node.line < 0:   # not laid out yet (first frame): try again after the next refresh
            if retries:
                self.call_after_refresh(self._move_cursor, node, retries - 1)
            return
        if self.cursor_line != node.line:
            self.cursor_line = node.line
        self.scroll_to_node(node, animate=False)


SHORT_LABEL = {
    Band.CRASHKERNEL: "crash", Band.NO_MAP: "nomap", Band.MEMRESERVE: "memrsv", Band.REUSABLE: "cma",
    Band.NO_DUMP: "nodump", Band.RESERVED: "rsvd", Band.MMIO: "mmio",
}   # RAM and holes carry their own labels on the map


class MapLegend(Static):
    """Under the band map: a glyph per kind and the zoom level; two lines at 36 columns."""

    def show(self, zoom_index: int, zoom_levels: int, policy: str, *, dump: bool = False) -> None:
        t = Text()
        for band, label in SHORT_LABEL.items():
            t.append(BAND_GLYPH[band], style=band_style(band))
            t.append(f" {label} ")
        t.append(f" zoom\u00a0{zoom_index + 1}/{zoom_levels}", style="dim")   # never split across lines
        if dump:
            # the second marker column: what the loaded file holds, next to the policy's prediction
            t.append("\ndump", style="dim")
            for mark, glyph in DUMP_GLYPH.items():
                t.append(f" {glyph}", style=DUMP_FG[mark])
                t.append(f"\u00a0{DUMP_LABEL[mark]}", style="dim")
        self.update(t)


class InfoHeader(Static):
    """Inputs, arch, loader and the active policy, in one line."""

    def __init__(self, state: TuiState, **kw) -> None:
        super().__init__(**kw)
        self.state = state

    def update_info(self) -> None:
        mm = self.state.mm
        import os
        files = " + ".join(os.path.basename(p) for p in mm.inputs.values()) or "no inputs"
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(" memmap-tui ", style="bold #1c1c1c on #ffd75f")
        # policy first: it must survive an 80-column terminal; file names go last
        t.append(" policy ", style="#8a8f98")
        t.append(f" {self.state.policy} ", style="bold #1c1c1c on #6fa8ff")
        changes = len(mm.no_dump_overrides)
        if changes:
            t.append(f" {changes} unsaved toggle{'s' * (changes != 1)}", style="bold #e8c547")
        t.append(f" │ {mm.arch} {mm.loader} │ ", style="#8a8f98")
        t.append("RAM " + (exact_size(mm.ram.size_bytes) if mm.ram_known else "unknown"),
                 style="" if mm.ram_known else "#e8c547")
        t.append(" │ ", style="#8a8f98")
        t.append(files, style="bold")
        self.update(t)


BANNER = ("linux,no-dump = v1 proposal, rejected by the DT maintainers (vendor kernels only) · "
          "exclude-reserved (v2+) needs no DT change")


class Banner(Static):
    """The proposal status, always on screen: never let a saving look like a mainline fact."""

    def on_mount(self) -> None:
        t = Text()
        t.append("⚠ ", style="bold #e8c547")
        t.append(BANNER, style="#c8c8c8")
        self.update(t)


class PolicyCard(Static):
    def __init__(self, state: TuiState, policy: str, **kw) -> None:
        super().__init__(**kw)
        self.state = state
        self.policy = policy

    def update_figures(self) -> None:
        res = self.state.results[self.policy]
        mm = self.state.mm
        speed = self.state.write_speed_mbps
        active = self.policy == self.state.policy
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(("▶ " if active else "  ") + self.policy, style="bold #6fa8ff" if active else "bold")
        if res.dumped_bytes is not None:
            # line 1 name + share, line 2 exact bytes + capture time, line 3 the saving:
            # each fits a 26-column card (80-column terminal)
            if mm.ram.size_bytes:
                t.append(f"  {100 * res.dumped_bytes / mm.ram.size_bytes:.1f} % of RAM", style="dim")
            if "," in exact_size(res.dumped_bytes):   # exact but hard to read: add a rounded figure
                t.append(f" ~{res.dumped_bytes / (1 << 30):.2f} GiB", style="dim")
            t.append(f"\n  {exact_size(res.dumped_bytes)} · {capture_seconds(res.dumped_bytes, speed):.1f} s\n")
        else:
            t.append("\n  RAM unknown (--ram)\n", style="#e8c547")   # fits a 26-column card
        if self.policy == "today":
            t.append("  baseline", style="dim")
        else:
            saved = res.savings_bytes
            t.append(f"  saves {exact_size(saved)}", style="bold #4cc38a" if saved else "dim")
            secs = capture_seconds(saved, speed)
            if secs >= 0.05:
                t.append(f" −{secs:.1f} s", style="#4cc38a")
        self.set_class(active, "-active")
        self.update(t)


class SavingsBar(Horizontal):
    """The three policies side by side: vmcore bytes, % of RAM, saving and capture time."""

    def __init__(self, state: TuiState, **kw) -> None:
        super().__init__(**kw)
        self.state = state
        self.cards = [PolicyCard(state, p, id=f"policy-{p}") for p in POLICIES]

    def compose(self):
        yield from self.cards

    def update_figures(self) -> None:
        for c in self.cards:
            c.update_figures()
