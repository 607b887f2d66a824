"""Picker for files holding several device trees (FIT, dtb.img, DT table, boot images).

Shown before the main app when the input needs a choice and no `--pick` was given; the
same list `report` prints when it exits with status 2. Returns the 1-based index.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from memmap_tui.sources.containers import DtbCandidate


class DtbPicker(App[int | None]):
    TITLE = "memmap-tui — pick a device tree"
    CSS = """
    #picker-title { padding: 1 2; text-style: bold; }
    #picker-list { height: 1fr; margin: 0 2; }
    #picker-hint { padding: 0 2 1 2; color: $text-muted; }
    """
    BINDINGS = [
        Binding("enter", "choose", "Open", id="picker-open", show=False),
        Binding("escape,q", "cancel", "Cancel", id="picker-cancel"),
    ]

    def __init__(self, description: str, path: str, candidates: list[DtbCandidate]) -> None:
        super().__init__()
        self.description, self.path, self.candidates = description, path, candidates

    def compose(self) -> ComposeResult:
        yield Static(Text(f"{self.path}: {self.description} holds {len(self.candidates)} device trees"),
                     id="picker-title")
        width = max(len(c.label) for c in self.candidates)
        yield OptionList(*(Option(self._row(c, width), id=str(c.index)) for c in self.candidates),
                         id="picker-list")
        yield Static(Text("enter opens the highlighted one · next time: --pick N, a FIT configuration "
                          "name, or part of the model"), id="picker-hint")
        yield Footer()

    @staticmethod
    def _row(c: DtbCandidate, width: int) -> Text:
        t = Text(f"{c.index:>3}  ")
        t.append(c.label.ljust(width), style="bold")
        t.append(" │ " + (c.model or (c.compatible[0] if c.compatible else "no model")))
        if c.overlay:
            t.append("  [overlay]", style="italic")
        return t

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.exit(int(event.option.id))

    def action_choose(self) -> None:
        ol = self.query_one(OptionList)
        if ol.highlighted is not None:
            self.exit(self.candidates[ol.highlighted].index)

    def action_cancel(self) -> None:
        self.exit(None)
