"""`/`: type a node name, label, path or an address (0xa0000000); the preview says what it finds."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from memmap_tui.tui.selection import Selection
from memmap_tui.tui.state import TuiState


class JumpScreen(ModalScreen[Selection | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="jump.cancel")]

    def __init__(self, state: TuiState) -> None:
        super().__init__()
        self.state = state

    def compose(self) -> ComposeResult:
        with Vertical(id="jump-box"):
            yield Label(Text("Jump to a node name, label, path or address (0x…)"))
            yield Input(placeholder="gpu-mem, &linux_cma, /memreserve/0, 0xa0000000", id="jump-input")
            yield Static(Text(""), id="jump-hint")

    @on(Input.Changed, "#jump-input")
    def preview(self, event: Input.Changed) -> None:
        pal = self.app.palette
        found, why = self.state.find(event.value)
        self.query_one("#jump-hint", Static).update(
            Text(("→ " + why) if found else why, style=pal.ok if found else pal.muted))

    @on(Input.Submitted, "#jump-input")
    def submit(self, event: Input.Submitted) -> None:
        found, why = self.state.find(event.value)
        if found is None:
            self.query_one("#jump-hint", Static).update(Text(why, style=self.app.palette.error))
            return
        self.dismiss(found)

    def action_cancel(self) -> None:
        self.dismiss(None)
