"""`?`: every key (from the one key table), what each policy means, and the map legend."""

from __future__ import annotations

from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from memmap_tui.core.policies import POLICIES, PROPOSAL_NOTE
from memmap_tui.tui.details import legend
from memmap_tui.tui.keys import help_rows
from memmap_tui.tui.theme import Palette

POLICY_SCOPE = "The proposals change only the kexec paths that honour them (kexec_file on arm64/riscv/loongarch)."


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss_help", "Close", id="help.close")]

    def compose(self) -> ComposeResult:
        pal: Palette = self.app.palette
        keys = Table.grid(padding=(0, 2))
        keys.add_column(style=pal.accent, no_wrap=True)
        keys.add_column()
        keys.add_column(style=pal.muted)
        for key, desc, where in help_rows():
            keys.add_row(Text(key), Text(desc), Text(where))
        # a grid, so a wrapped description stays in its column on a narrow terminal
        policies = Table.grid(padding=(0, 2))
        policies.add_column(style=Style(bold=True), no_wrap=True)
        policies.add_column()
        for policy in POLICIES:
            policies.add_row(Text(policy.id), Text(f"{policy.title}: {policy.summary}"))
        policies.add_row(Text(""), Text(POLICY_SCOPE, style=pal.muted))
        with VerticalScroll(id="help-body"):
            yield Static(Text("memmap-tui — keys", style="bold"), classes="help-title")
            yield Static(keys)
            yield Static(Text("\nPolicies", style=pal.heading))
            yield Static(policies)
            yield Static(Text("\nLegend (band map)", style=pal.heading))
            yield Static(legend(pal, dump=None))
            yield Static(Text("\n" + PROPOSAL_NOTE, style=pal.muted + Style(italic=True)))
            yield Static(Text("\nescape closes this help", style=pal.muted))

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()   # so ↑↓ / pgup pgdn scroll it on a small terminal

    def action_dismiss_help(self) -> None:
        self.dismiss(None)
