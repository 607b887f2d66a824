"""The main screen: header, banner, tree | map | details, policy cards, footer.

The narrow layout comes from Textual's breakpoints (`-narrow` below 110 columns). The selection
is a typed reactive value: the tree, the band map and the details watch it, nobody pushes a
key string around by hand.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Static, Tree

from memmap_tui.tui import selection as sel
from memmap_tui.tui.bandmap import ZOOM_LEVELS, BandMap
from memmap_tui.tui.capture_view import CaptureCaption
from memmap_tui.tui.details import Details
from memmap_tui.tui.selection import Selection
from memmap_tui.tui.state import TuiState
from memmap_tui.tui.widgets import Banner, InfoHeader, MapLegend, PolicyCard, RegionTree, SavingsBar

NARROW_WIDTH = 110  # below this the tree hides (t shows it, in the map's place) so details stay readable
BREAKPOINTS = [(0, "-narrow"), (NARROW_WIDTH, "-wide")]


class MainScreen(Screen[None]):
    HORIZONTAL_BREAKPOINTS = BREAKPOINTS

    selection: reactive[Selection] = reactive(sel.OVERVIEW, init=False, always_update=False)
    tree_wanted: reactive[bool | None] = reactive(None, init=False)   # None: by width (t sets it)

    def __init__(self, state: TuiState) -> None:
        super().__init__()
        self.state = state
        self._from_tree = False
        self.set_class(state.loaded.dump is not None, "-dump")   # four-line cards

    def compose(self) -> ComposeResult:
        yield InfoHeader(self.state, id="header")
        yield Banner(id="banner")
        with Horizontal(id="body"):
            tree = RegionTree(self.state, id="tree")
            tree.styles.width = self.tree_width(tree)   # now, not after the first layout: no resize
            yield tree
            with Vertical(id="map-col"):
                yield BandMap(self.state, id="map")
                yield MapLegend(id="map-legend")
            with VerticalScroll(id="details-scroll"):
                yield Static(id="details")
        yield CaptureCaption(self.state, id="capture-caption")   # what the cards' figures are
        yield SavingsBar(self.state, id="savings")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(SavingsBar).update_figures()
        self.update_legend()
        self.show_details()
        self.query_one(RegionTree).show_selection(self.selection)
        bm = self.query_one(BandMap)
        bm.call_after_refresh(bm.scroll_to_ram)
        self.call_after_refresh(self._settle_layout)

    # -- layout ----------------------------------------------------------------------------
    @property
    def narrow(self) -> bool:
        return self.has_class("-narrow")

    def on_screen_resume(self) -> None:
        """A resize under a dialog reaches only the dialog's breakpoints: catch up on return."""
        width = self.app.size.width
        self.set_class(width < NARROW_WIDTH, "-narrow")
        self.set_class(width >= NARROW_WIDTH, "-wide")
        self.call_after_refresh(self._settle_layout)

    def on_resize(self) -> None:
        self.call_after_refresh(self._settle_layout)

    def watch_tree_wanted(self, wanted: bool | None) -> None:
        self.set_class(wanted is True, "-tree-on")
        self.set_class(wanted is False, "-tree-off")
        self.call_after_refresh(self._settle_layout)

    def _settle_layout(self) -> None:
        """After a width or tree change: tree width once, focus on a visible panel, selection in view."""
        tree, bm = self.query_one(RegionTree), self.query_one(BandMap)
        self.fit_tree()
        if not tree.display and tree.has_focus or self.focused is None:
            (tree if tree.display and not self.query_one("#map-col").display else bm).focus()
        if self.narrow and tree.display and bm.has_focus:
            tree.focus()
        bm.scroll_to_selected()

    def fit_tree(self) -> None:
        """As wide as the longest label (flags included), up to a quarter of the screen (at least
        30 columns, at most 60): set on layout changes only, never per toggle (no relayout)."""
        tree = self.query_one(RegionTree)
        want = self.tree_width(tree)
        if tree.styles.width is None or tree.styles.width.value != want:
            tree.styles.width = want

    def tree_width(self, tree: RegionTree) -> int:
        cap = max(30, min(60, self.app.size.width // 4))
        return max(24, min(cap, tree.content_width() + 2))   # border + scrollbar

    # -- selection ---------------------------------------------------------------------------
    def select(self, selection: Selection, *, from_tree: bool = False) -> None:
        self._from_tree = from_tree
        self.selection = selection
        self._from_tree = False

    def watch_selection(self, old: Selection, new: Selection) -> None:
        self.show_details()
        if new.kind is not old.kind or new != old:
            self.query_one("#details-scroll").scroll_home(animate=False)
        if new.on_map:
            self.query_one(BandMap).select(new)
        if not self._from_tree:
            self.query_one(RegionTree).show_selection(new)

    def show_details(self) -> None:
        self.query_one("#details", Static).update(Details(self.state, self.app.palette).build(self.selection))

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted) -> None:
        data = event.node.data
        if data is not None and data != self.selection:
            self.select(data, from_tree=True)

    def on_band_map_selected(self, event: BandMap.Selected) -> None:
        self.select(event.key)

    def on_policy_card_chosen(self, event: PolicyCard.Chosen) -> None:
        self.app.set_policy(event.policy)

    # -- after a change ----------------------------------------------------------------------
    def update_legend(self) -> None:
        bm = self.query_one(BandMap)
        self.query_one(MapLegend).show(bm.zoom_index, len(ZOOM_LEVELS), dump=self.state.loaded.dump is not None)

    def after_speed_change(self) -> None:
        """`w`: capture times changed on the caption, the cards and the details."""
        self.query_one(CaptureCaption).refresh()
        self.after_policy_switch()

    def after_toggle(self, region_id: str) -> None:
        """One region's linux,no-dump changed: its tree line, its bands, the cards, the header and
        the details; no relayout and nothing else recomputed."""
        self.query_one(InfoHeader).refresh()
        self.query_one(SavingsBar).update_figures()
        self.query_one(RegionTree).relabel({region_id})
        self.query_one(BandMap).update_region(region_id)
        self.show_details()

    def after_policy_switch(self) -> None:
        self.query_one(InfoHeader).refresh()
        self.query_one(SavingsBar).update_figures()
        self.query_one(BandMap).refresh()   # the ● ◐ ○ markers follow the active policy
        self.show_details()

    def after_theme_change(self) -> None:
        self.query_one(RegionTree).relabel()
        self.update_legend()
        self.after_policy_switch()
