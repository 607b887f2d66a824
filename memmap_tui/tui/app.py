"""The memmap-tui Textual application: renders a `Loaded` model and dispatches keys; parses nothing.

Keys come from the one table in `keys.py`; the views live on `MainScreen`; colours from the
theme's `Palette`.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import App
from textual.notifications import Notification, Notify

from memmap_tui.core.policies import POLICIES, PROPOSAL_NOTE
from memmap_tui.core.policy import ToggleEffect
from memmap_tui.core.units import kernel_mem
from memmap_tui.inputs import Loaded
from memmap_tui.tui import selection as sel
from memmap_tui.tui.bandmap import ZOOM_LEVELS, BandMap
from memmap_tui.tui.commands import MemmapCommands
from memmap_tui.tui.help import HelpScreen
from memmap_tui.tui.jump import JumpScreen
from memmap_tui.tui.keys import bindings
from memmap_tui.tui.main_screen import MainScreen
from memmap_tui.tui.export_dialog import ExportScreen
from memmap_tui.tui.selection import Selection, SelKind
from memmap_tui.tui.speed import WriteSpeedScreen
from memmap_tui.tui.state import TuiState
from memmap_tui.tui.theme import PaletteMixin
from memmap_tui.tui.widgets import RegionTree

PROPOSAL_SHORT = "(v1 proposal only — not mainline)"


class MemmapApp(PaletteMixin, App[None]):
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses (bench, tests) live elsewhere
    TITLE = "memmap-tui"
    NOTIFICATION_TIMEOUT = 3   # quick toggles/undos stacked 5 s toasts over the details at 80x24
    COMMANDS = App.COMMANDS | {MemmapCommands}
    BINDINGS = bindings("app")

    def __init__(self, loaded: Loaded, *, policy: str | None = None) -> None:
        super().__init__()
        self.state = TuiState(loaded, policy=policy or next(iter(POLICIES)).id)
        self.main = MainScreen(self.state)
        self._quit_armed = False
        self._proposal_told = False
        self._last_toast: Notification | None = None
        self._toast_repeats = 1

    def get_default_screen(self) -> MainScreen:
        return self.main

    def on_mount(self) -> None:
        self.theme_changed_signal.subscribe(self, lambda _theme: self.main.after_theme_change())

    def notify(self, message, *, title: str = "", severity="information", timeout: float | None = None,
               markup: bool = True) -> None:
        """Our messages come as `Text` (so `[mem …]` and `[no-dump]` are never eaten as markup):
        shown as plain text. Textual's own (ctrl+c's `[b]ctrl+q[/b]`) keep their markup.
        The same toast again while it is still up replaces it with a count, not a stack."""
        if isinstance(message, Text):
            message, markup = message.plain, False
        last = self._last_toast
        if last is not None and not last.has_expired and last.title == title \
                and (last.message == message or last.message.startswith(f"{message} (×")):
            self._toast_repeats += 1
            if last in self._notifications:
                self._unnotify(last)
            shown = f"{message} (×{self._toast_repeats})"
        else:
            self._toast_repeats = 1
            shown = message
        note = Notification(shown, title, severity, self.NOTIFICATION_TIMEOUT if timeout is None else timeout,
                            markup=markup)
        self._last_toast = note
        self.post_message(Notify(note))

    # -- selection (the main screen holds it) -------------------------------------------------
    def select(self, selection: Selection) -> None:
        self.main.select(selection)

    @property
    def selection(self) -> Selection:
        return self.main.selection

    @property
    def selected_region(self):
        s = self.main.selection
        if s.kind is SelKind.REGION and s.region_id is not None:
            try:
                return self.state.mm.region(s.region_id)
            except KeyError:
                return None
        return None

    # -- actions ---------------------------------------------------------------------------
    def toggle_region(self, region_id: str) -> None:
        region = self.state.mm.region(region_id)
        why_not = self.state.can_toggle(region)
        if why_not:
            self.notify(Text(f"{region.name}: {why_not}"), title="linux,no-dump", severity="warning")
            return
        outcome = self.state.toggle(region_id)
        self._quit_armed = False
        if self.main.selection != sel.region(region_id):
            self.select(sel.region(region_id))   # from the palette: show what changed
        self.main.after_toggle(region_id)
        self._tell_toggle(outcome.message, outcome.effect)

    def _tell_toggle(self, message: str, effect: ToggleEffect, prefix: str = "") -> None:
        """The rejected-property status: in full with the first toggle of the session, then short."""
        note = f" {PROPOSAL_SHORT}" if self._proposal_told else f"\n{PROPOSAL_NOTE}"
        self._proposal_told = True
        self.notify(Text(prefix + message + note), title="linux,no-dump",
                    severity="information" if effect is ToggleEffect.EFFECTIVE else "warning")

    def action_toggle_no_dump(self) -> None:
        region = self.selected_region
        if region is None:
            self.notify(Text("select a /reserved-memory node first (tree, map or /)"),
                        title="linux,no-dump", severity="warning")
            return
        self.toggle_region(region.id)

    def _replayed(self, outcome, what: str) -> None:
        if outcome is None:
            self.notify(Text(f"nothing to {what}"), severity="warning")
            return
        self.main.after_toggle(outcome.region_id)
        self._tell_toggle(outcome.message, outcome.effect, prefix=f"{what}: ")

    def action_undo(self) -> None:
        self._replayed(self.state.undo(), "undo")

    def action_redo(self) -> None:
        self._replayed(self.state.redo(), "redo")

    def set_policy(self, policy: str) -> None:
        if policy not in POLICIES:
            raise ValueError(policy)
        self.state.policy = policy
        self.main.after_policy_switch()

    def action_next_policy(self) -> None:
        ids = list(POLICIES.ids)
        self.set_policy(ids[(ids.index(self.state.policy) + 1) % len(ids)])
        self.notify(Text(f"policy: {self.state.policy}"), title="Policy", timeout=2)

    def _zoom(self, step: int, limit: str) -> None:
        m = self.main.query_one(BandMap)
        if not m.set_zoom(m.zoom_index + step):
            self.notify(Text(limit), timeout=1.5)
        else:
            self.notify(Text(f"zoom {m.zoom_index + 1}/{len(ZOOM_LEVELS)}"), title="Band map", timeout=1.5)
        self.main.update_legend()

    def action_zoom_in(self) -> None:
        self._zoom(1, "largest zoom")

    def action_zoom_out(self) -> None:
        self._zoom(-1, "smallest zoom: one row per band")

    def action_toggle_tree(self) -> None:
        tree = self.main.query_one(RegionTree)
        self.main.tree_wanted = not tree.display
        if self.main.tree_wanted:
            tree.focus()
        else:
            self.main.query_one(BandMap).focus()

    def action_filter_kind(self) -> None:
        kind = self.main.query_one(RegionTree).cycle_filter()
        self.main.fit_tree()
        self.notify(Text(f"tree: {'every kind' if kind is None else str(kind) + ' only'}"), title="Filter",
                    timeout=2)

    def action_cycle_sort(self) -> None:
        order = self.main.query_one(RegionTree).cycle_sort()
        self.main.fit_tree()
        self.notify(Text({"address": "tree by address", "size": "tree by size, largest first",
                          "largest": "the largest carveouts, every kind"}[order]), title="Sort", timeout=2)

    def action_copy_range(self) -> None:
        """`[mem 0x…-0x…]` of the selection, the form dmesg and /proc/iomem readers grep for."""
        s = self.main.selection
        ranges = []
        if s.kind is SelKind.REGION and (region := self.selected_region) is not None:
            ranges = list(region.ranges)
        elif s.range is not None:
            ranges = [s.range]
        if not ranges:
            self.notify(Text("select a placed region, RAM bank, iomem line or hole to copy its range"),
                        title="Copy", severity="warning")
            return
        text = "\n".join(kernel_mem(r) for r in ranges)
        self.copy_to_clipboard(text)
        self.notify(Text(f"copied {text.replace(chr(10), ' ')}"), title="Copy")

    async def action_quit(self) -> None:
        """A second `q` quits when toggles are unexported: they exist only in this session."""
        changes = len(self.state.unsaved())
        if changes and not self._quit_armed:
            self._quit_armed = True
            self.notify(Text(f"{changes} toggle{'s' * (changes != 1)} not exported: press q again to quit, "
                             "e to export"), title="Quit", severity="warning", timeout=8)
            return
        self.exit()

    def action_overview(self) -> None:
        self.select(sel.OVERVIEW)

    def action_jump(self) -> None:
        def done(found: Selection | None) -> None:
            if found is not None:
                self.select(found)
        self.push_screen(JumpScreen(self.state), done)

    def action_export(self) -> None:
        if not self.state.loaded.options.dtb:
            # dump-only mode (--vmcore/--iomem): there is no device tree to patch
            self.notify(Text("export patches a DTB: none is loaded (give the board's DTB as the argument)"),
                        title="Export", severity="warning")
            return
        self.push_screen(ExportScreen(self.state), lambda _result: self.main.after_policy_switch())

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_focused_help(self) -> None:
        w = self.focused
        text = {
            "tree": "Region tree: ↑↓ move, space expands, n toggles linux,no-dump on the highlighted node, "
                    "f filters by kind, s sorts by size.",
            "map": f"Band map: ↑↓ move by band, click selects, +/- zoom ({len(ZOOM_LEVELS)} levels); "
                   "band height grows with log2 of the size; ● in the vmcore under the active policy, "
                   "◐ partly, ○ not.",
        }.get(w.id if w else "", "? shows every key")
        self.notify(Text(text), title="Help", timeout=6)

    # -- w: the write speed capture times assume (tui/speed.py) ------------------------------
    def action_write_speed(self) -> None:
        def done(chosen: tuple[float, str] | None) -> None:
            if chosen is None:
                return
            self.state.capture.set_speed(*chosen, self.state.results)
            self.main.after_speed_change()
            self.notify(Text(f"write speed {chosen[0]:.4g} MB/s ({chosen[1]})"), title="Capture time")
        self.push_screen(WriteSpeedScreen(self.state.capture), done)
