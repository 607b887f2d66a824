"""The memmap-tui Textual application: renders a `Loaded` model and dispatches keys; parses nothing."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Footer, Static, Tree

from memmap_tui.core.policy import POLICIES, ToggleEffect
from memmap_tui.inputs import Loaded
from memmap_tui.tui.bandmap import ZOOM_LEVELS, BandMap
from memmap_tui.tui.commands import MemmapCommands
from memmap_tui.tui.details import build_details
from memmap_tui.tui.export_dialog import ExportScreen
from memmap_tui.tui.screens import HelpScreen, JumpScreen
from memmap_tui.tui.state import TuiState
from memmap_tui.tui.widgets import Banner, InfoHeader, MapLegend, RegionTree, SavingsBar

NARROW_WIDTH = 110  # below this the tree panel hides (t shows it) so map and details stay readable


class MemmapApp(App[None]):
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses (bench, tests) live elsewhere
    TITLE = "memmap-tui"
    NOTIFICATION_TIMEOUT = 3   # quick toggles/undos stacked 5 s toasts over the details at 80x24
    COMMANDS = App.COMMANDS | {MemmapCommands}
    BINDINGS = [
        Binding("n", "toggle_no_dump", "No-dump", id="toggle-no-dump",
                tooltip="Toggle linux,no-dump on the selected /reserved-memory node"),
        Binding("p", "next_policy", "Policy", id="next-policy",
                tooltip="Cycle the active policy: today, no-dump-v1, exclude-reserved"),
        Binding("u", "undo", "Undo", id="undo", tooltip="Undo the last no-dump toggle"),
        Binding("ctrl+r", "redo", "Redo", id="redo", key_display="^r", tooltip="Redo a toggle"),
        Binding("slash", "jump", "Jump", id="jump", key_display="/",
                tooltip="Jump to a node name, label, path or address"),
        Binding("e", "export", "Export", id="export", tooltip="Export patched DTB / overlay / DTS patch"),
        Binding("plus,equals_sign", "zoom_in", "Zoom+", id="zoom-in", key_display="+",
                tooltip="Zoom the band map in (more rows per band; holes stay one row)"),
        Binding("minus", "zoom_out", "Zoom−", id="zoom-out", key_display="-",
                tooltip="Zoom the band map out (down to one row per band)"),
        Binding("t", "toggle_tree", "Tree", id="toggle-tree", tooltip="Show or hide the region tree"),
        Binding("o", "overview", "Overview", id="overview", show=False, tooltip="Overview and all findings"),
        Binding("f1", "focused_help", "Widget help", id="focused-help", show=False,
                tooltip="What the focused panel does"),
        Binding("question_mark", "help", "Help", id="help", key_display="?"),
        Binding("q", "quit", "Quit", id="quit", tooltip="Quit (unsaved toggles are lost; export first)"),
    ]

    def __init__(self, loaded: Loaded, *, policy: str = "today") -> None:
        super().__init__()
        self.state = TuiState(loaded, policy=policy)
        self.selected_key: str | None = None
        self._tree_hidden_by_user: bool | None = None
        self._quit_armed = False

    def notify(self, message, *, markup: bool = False, **kw) -> None:
        """Our messages are plain text ([mem …], [no-dump] must not be eaten as markup);
        textual 8.2.8 toasts crash on a rich Text, so pass str with markup off."""
        super().notify(str(message), markup=markup, **kw)

    # -- layout ----------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield InfoHeader(self.state, id="header")
        yield Banner(id="banner")
        with Horizontal(id="body"):
            yield RegionTree(self.state, id="tree")
            with Vertical(id="map-col"):
                yield BandMap(self.state, id="map")
                yield MapLegend(id="map-legend")
            with VerticalScroll(id="details-scroll"):
                yield Static(id="details")
        yield SavingsBar(self.state, id="savings")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(InfoHeader).update_info()
        self.query_one(SavingsBar).update_figures()
        self.update_legend()
        self.select("overview")
        self.query_one(BandMap).call_after_refresh(self.query_one(BandMap).scroll_to_ram)
        self._apply_width(self.size.width)
        self.query_one("#tree" if self.query_one("#tree").display else "#map").focus()

    def on_resize(self, event) -> None:
        self._apply_width(event.size.width)

    def _apply_width(self, width: int) -> None:
        narrow = width < NARROW_WIDTH
        main = self.screen_stack[0]   # not self.screen: a resize under a dialog must reach the main screen
        main.set_class(narrow, "-narrow")
        tree = self.query_one(RegionTree)
        if self._tree_hidden_by_user is None:
            tree.display = not narrow
        # tree, map and details do not fit side by side on a narrow terminal: a tree shown
        # there (t) takes the map's place, so the details stay readable
        main.set_class(narrow and tree.display, "-tree-not-map")
        self._fit_tree(width)
        if not tree.display and tree.has_focus:
            self.query_one("#map").focus()
        if narrow and tree.display and self.query_one("#map").has_focus:
            tree.focus()
        bm = self.query_one(BandMap)
        bm.call_after_refresh(bm.scroll_to_selected)   # the selection stays in view across a resize

    def _fit_tree(self, width: int | None = None) -> None:
        """As wide as the longest label (flags included), up to a quarter of the screen (at
        least 30 columns, at most 60; map and details keep the rest): long node names are read
        in full on a wide terminal; a label still cut shows in full as the tree's tooltip."""
        width = width or self.size.width
        cap = max(30, min(60, width // 4))
        want = self.query_one(RegionTree).content_width() + 2   # border + scrollbar
        self.query_one(RegionTree).styles.width = max(24, min(cap, want))

    # -- selection -----------------------------------------------------------------------
    def select(self, key: str, *, from_tree: bool = False) -> None:
        """Select a region / bank / iomem line / hole everywhere (tree, map, details)."""
        if key.startswith("group:"):
            # a tree heading: a summary in the details, the map keeps its selection
            self.selected_key = key
            self.query_one("#details", Static).update(build_details(self.state, key))
            return
        changed = key != self.selected_key
        self.selected_key = key
        self.query_one("#details", Static).update(build_details(self.state, key))
        if changed:
            self.query_one("#details-scroll").scroll_home(animate=False)
        self.query_one(BandMap).select(key)
        if not from_tree:
            self.query_one(RegionTree).select_key(key)

    @property
    def selected_region(self):
        if self.selected_key and self.selected_key.startswith("region:"):
            try:
                return self.state.mm.region(self.selected_key[7:])
            except KeyError:
                return None
        return None

    @on(Tree.NodeHighlighted, "#tree")
    def _tree_highlighted(self, event: Tree.NodeHighlighted) -> None:
        key = event.node.data
        if key and key != self.selected_key:
            self.select(key, from_tree=True)

    @on(BandMap.Selected)
    def _map_selected(self, event: BandMap.Selected) -> None:
        self.select(event.key)

    # -- updates -----------------------------------------------------------------------
    def update_legend(self) -> None:
        bm = self.query_one(BandMap)
        self.query_one(MapLegend).show(bm.zoom_index, len(ZOOM_LEVELS), self.state.policy,
                                       dump=self.state.loaded.dump is not None)

    def refresh_numbers(self) -> None:
        """After a toggle or policy switch: every number on screen, from one evaluate()."""
        self.update_legend()
        self.query_one(InfoHeader).update_info()
        self.query_one(SavingsBar).update_figures()
        self.query_one(RegionTree).refresh_labels()
        self._fit_tree()
        self.query_one(BandMap).rebuild()
        self.query_one(BandMap).select(self.selected_key, scroll=False)
        self.query_one("#details", Static).update(build_details(self.state, self.selected_key))

    # -- actions ---------------------------------------------------------------------------
    def toggle_region(self, region_id: str) -> None:
        region = self.state.mm.region(region_id)
        why_not = self.state.can_toggle(region)
        if why_not:
            self.notify(Text(f"{region.name}: {why_not}"), title="linux,no-dump", severity="warning")
            return
        outcome = self.state.toggle(region_id)
        self._quit_armed = False
        if self.selected_key != f"region:{region_id}":
            self.select(f"region:{region_id}")   # from the palette: show what changed
        self.refresh_numbers()
        effective = outcome.effect is ToggleEffect.EFFECTIVE
        self.notify(Text(outcome.message), title="linux,no-dump",
                    severity="information" if effective else "warning")

    def action_toggle_no_dump(self) -> None:
        region = self.selected_region
        if region is None:
            self.notify(Text("select a /reserved-memory node first (tree, map or /)"),
                        title="linux,no-dump", severity="warning")
            return
        self.toggle_region(region.id)

    def action_undo(self) -> None:
        outcome = self.state.undo()
        if outcome is None:
            self.notify(Text("nothing to undo"), severity="warning")
            return
        self.refresh_numbers()
        self.notify(Text("undo: " + outcome.message), title="Undo")

    def action_redo(self) -> None:
        outcome = self.state.redo()
        if outcome is None:
            self.notify(Text("nothing to redo"), severity="warning")
            return
        self.refresh_numbers()
        self.notify(Text("redo: " + outcome.message), title="Redo")

    def set_policy(self, policy: str) -> None:
        if policy not in POLICIES:
            raise ValueError(policy)
        self.state.policy = policy
        self.refresh_numbers()

    def action_next_policy(self) -> None:
        self.set_policy(POLICIES[(POLICIES.index(self.state.policy) + 1) % len(POLICIES)])
        self.notify(Text(f"policy: {self.state.policy}"), title="Policy", timeout=2)

    def action_zoom_in(self) -> None:
        m = self.query_one(BandMap)
        if not m.set_zoom(m.zoom_index + 1):
            self.notify(Text("largest zoom"), timeout=1.5)
        self.update_legend()

    def action_zoom_out(self) -> None:
        m = self.query_one(BandMap)
        if not m.set_zoom(m.zoom_index - 1):
            self.notify(Text("smallest zoom: one row per band"), timeout=1.5)
        self.update_legend()

    def action_toggle_tree(self) -> None:
        tree = self.query_one("#tree")
        tree.display = not tree.display
        self._tree_hidden_by_user = not tree.display
        self._apply_width(self.size.width)
        (tree if tree.display else self.query_one("#map")).focus()

    async def action_quit(self) -> None:
        """A second `q` quits when toggles are unexported: they exist only in this session."""
        changes = len(self.state.mm.no_dump_overrides)
        if changes and not self._quit_armed:
            self._quit_armed = True
            self.notify(f"{changes} toggle{'s' * (changes != 1)} not exported: press q again to quit, "
                        "e to export", title="Quit", severity="warning", timeout=8)
            return
        self.exit()

    def action_overview(self) -> None:
        self.select("overview")

    def action_jump(self) -> None:
        def done(key: str | None) -> None:
            if key:
                self.select(key)
        self.push_screen(JumpScreen(self.state), done)

    def action_export(self) -> None:
        if not self.state.loaded.options.dtb:
            # dump-only mode (--vmcore/--iomem): there is no device tree to patch
            self.notify(Text("export patches a DTB: none is loaded (give the board's DTB as the argument)"),
                        title="Export", severity="warning")
            return
        self.push_screen(ExportScreen(self.state))

    def action_help(self) -> None:
        rows: list[tuple[str, str, str]] = []
        for b in self.BINDINGS:
            rows.append((b.key_display or b.key.replace(",", " "), b.tooltip or b.description, "app"))
        for b in BandMap.BINDINGS:
            rows.append((b.key.replace(",", " "), b.description, "band map"))
        rows += [("↑ ↓ enter", "move / select", "region tree"), ("space", "expand / collapse", "region tree"),
                 ("click", "select the band's region", "band map"), ("tab", "next panel", "app"),
                 ("ctrl+p", "command palette (every action)", "app")]
        self.push_screen(HelpScreen(rows))

    def action_focused_help(self) -> None:
        w = self.focused
        text = {
            "tree": "Region tree: ↑↓ move, space expands, n toggles linux,no-dump on the highlighted node.",
            "map": f"Band map: ↑↓ move by band, click selects, +/- zoom ({len(ZOOM_LEVELS)} levels); "
                   "● in the vmcore under the active policy, ◐ partly, ○ not.",
        }.get(w.id if w else "", "? shows every key")
        self.notify(Text(text), title="Help", timeout=6)
