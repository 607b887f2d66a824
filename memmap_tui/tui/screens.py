"""Modal screens: help, jump-to (the export dialog is in export_dialog.py)."""

from __future__ import annotations


from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Input, Label, Static

from memmap_tui.tui.details import PROPOSAL_NOTE, legend
from memmap_tui.tui.state import TuiState


class HelpScreen(ModalScreen[None]):
    """Every key, the legend, and what the three policies mean."""

    BINDINGS = [
        Binding("escape,q,question_mark", "dismiss_help", "Close", id="help.close"),
    ]

    def __init__(self, bindings: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self.key_rows = bindings

    def compose(self) -> ComposeResult:
        keys = Table.grid(padding=(0, 2))
        keys.add_column(style="bold #ffd75f", no_wrap=True)
        keys.add_column()
        keys.add_column(style="dim")
        for key, desc, where in self.key_rows:
            keys.add_row(Text(key), Text(desc), Text(where))
        # a grid, so a wrapped description stays in its column on a narrow terminal
        policies = Table.grid(padding=(0, 2))
        policies.add_column(style="bold", no_wrap=True)
        policies.add_column()
        policies.add_row(Text("today"), Text("what current kernels put in a vmcore: RAM minus no-map minus "
                                             "the crash kernel"))
        policies.add_row(Text("no-dump-v1"), Text("kernels carrying the v1 series: also drops nodes tagged "
                                                  "linux,no-dump and /memreserve/"))
        policies.add_row(Text("exclude-reserved"), Text("the v2+ series: drops every reserved region except "
                                                        "CMA — no DT change needed"))
        policies.add_row(Text(""), Text("Both proposals change only kexec_file on arm64/riscv/loongarch.",
                                        style="dim"))
        with VerticalScroll(id="help-body"):
            yield Static(Text("memmap-tui — keys", style="bold"), classes="help-title")
            yield Static(keys)
            yield Static(Text("\nPolicies", style="bold #ffd75f"))
            yield Static(policies)
            yield Static(Text("\nLegend (band map)", style="bold #ffd75f"))
            yield Static(legend(dump=None))
            yield Static(Text("\n" + PROPOSAL_NOTE, style="italic #8a8f98"))
            yield Static(Text("\nescape closes this help", style="dim"))

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()   # so ↑↓ / pgup pgdn scroll it on a small terminal

    def action_dismiss_help(self) -> None:
        self.dismiss(None)


class JumpScreen(ModalScreen[str | None]):
    """`/`: type a node name, label, path or an address (0xa0000000)."""

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
        key, why = self.state.find(event.value)
        self.query_one("#jump-hint", Static).update(
            Text(("→ " + why) if key else why, style="#4cc38a" if key else "#8a8f98"))

    @on(Input.Submitted, "#jump-input")
    def submit(self, event: Input.Submitted) -> None:
        key, why = self.state.find(event.value)
        if key is None:
            self.query_one("#jump-hint", Static).update(Text(why, style="#ff6b5b"))
            return
        self.dismiss(key)

    def action_cancel(self) -> None:
        self.dismiss(None)


class Tick(Checkbox):
    """A checkbox whose state reads without colour: `X` when on, blank when off (Textual draws
    `X` in both states and tells them apart by colour alone, lost under NO_COLOR)."""

    @property
    def _button(self):
        self.BUTTON_INNER = "X" if self.value else " "
        return super()._button
