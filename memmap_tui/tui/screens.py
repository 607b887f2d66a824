"""The export dialog (help: help.py, jump: jump.py)."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Static

from memmap_tui.core.model import Level
from memmap_tui.tui.details import LEVEL_STYLE, PROPOSAL_NOTE
from memmap_tui.tui.state import TuiState


class Tick(Checkbox):
    """A checkbox whose state reads without colour: `X` when on, blank when off (Textual draws
    `X` in both states and tells them apart by colour alone, lost under NO_COLOR)."""

    @property
    def _button(self):
        self.BUTTON_INNER = "X" if self.value else " "
        return super()._button


def default_output(dtb: str, suffix: str) -> str:
    """In the working directory (the input's may be read-only), never the input's own name."""
    stem = Path(dtb).name
    for ext in (".dtb", ".dts"):
        if stem.endswith(ext):
            stem = stem[: -len(ext)]
    return f"{stem}.no-dump{suffix}"


class ExportScreen(ModalScreen[list[str] | None]):
    """Write a patched DTB, an overlay and/or a DTS patch through `memmap_tui.export.run_export`."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="export.cancel"),
        Binding("ctrl+s", "export", "Export", id="export.run"),
    ]

    def __init__(self, state: TuiState) -> None:
        super().__init__()
        self.state = state

    def compose(self) -> ComposeResult:
        mm = self.state.mm
        dtb = self.state.loaded.options.dtb
        changes = mm.changed_no_dump()
        summary = Text()
        if changes:
            summary.append(f"{len(changes)} change{'s' * (len(changes) != 1)} to linux,no-dump:\n")
            for path, on in sorted(changes.items()):
                summary.append("  + " if on else "  − ", style="#4cc38a" if on else "#ff6b5b")
                summary.append(f"{path}\n")
        else:
            summary.append("No toggles yet: select a /reserved-memory node and press n first.\n", style="#e8c547")
        summary.rstrip()
        with VerticalScroll(id="export-box"):   # scrolls on a short terminal: nothing unreachable
            yield Label(Text("Export linux,no-dump changes", style="bold"))
            yield Static(Text(PROPOSAL_NOTE, style="italic #8a8f98"), id="export-note")
            yield Static(Text(f"input (never overwritten): {dtb or 'no DTB loaded'}", style="dim"))
            yield Static(summary, id="export-summary")
            with Horizontal(classes="export-row"):
                yield Tick("Patched DTB", value=True, id="want-dtb", compact=True)
                yield Input(default_output(dtb or "board", ".dtb"), id="out-dtb", compact=True)
            with Horizontal(classes="export-row"):
                yield Tick("Overlay .dtbo", value=False, id="want-overlay", compact=True)
                yield Input(default_output(dtb or "board", ".dtbo"), id="out-overlay", compact=True)
            with Horizontal(classes="export-row"):
                yield Tick("DTS patch", value=False, id="want-dts", compact=True)
                yield Input(self._dts_guess(dtb), placeholder="board .dts source", id="dts-src", compact=True)
                yield Input(default_output(dtb or "board", ".patch"), id="out-dts", compact=True)
            with Horizontal(classes="export-row", id="dtsi-row"):
                # nodes defined in a .dtsi shared by other boards: patch the board file instead
                yield Tick("shared .dtsi nodes: `&label { linux,no-dump; };` in the board .dts",
                           value=False, id="dtsi-override", compact=True,
                           tooltip="Nodes defined in a .dtsi other boards include: override them by label "
                                   "in the board .dts instead of editing the shared .dtsi")
            with Horizontal(id="export-buttons"):
                yield Static(Text("ctrl+s export · esc cancel · verified with dtc before anything is written",
                                  style="dim"), id="export-hint")
                yield Button("Export", variant="primary", id="export-go", disabled=not (dtb and changes),
                             compact=True)
                yield Button("Cancel", id="export-cancel", compact=True)
            with VerticalScroll(id="export-result-box"):
                yield Static(Text(""), id="export-result")

    @staticmethod
    def _dts_guess(dtb: str | None) -> str:
        """The board source, when the input is a .dts or one sits beside the .dtb."""
        if not dtb:
            return ""
        p = Path(dtb)
        if p.suffix == ".dts":
            return str(p)
        beside = p.with_suffix(".dts")
        return str(beside) if beside.exists() else ""

    def _value(self, wid: str) -> str:
        return self.query_one(f"#{wid}", Input).value.strip()

    def _checked(self, wid: str) -> bool:
        return self.query_one(f"#{wid}", Checkbox).value

    @on(Button.Pressed, "#export-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#export-go")
    def action_export(self) -> None:
        dtb = self.state.loaded.options.dtb
        if not dtb:
            self._show(Text("no DTB loaded: nothing to patch", style="#ff6b5b"))
            return
        if not self.state.mm.changed_no_dump():
            self._show(Text("nothing to export: no node toggled", style="#e8c547"))
            return
        kw: dict = {}
        if self._checked("want-dtb"):
            kw["output"] = self._value("out-dtb")
        if self._checked("want-overlay"):
            kw["overlay"] = self._value("out-overlay")
        if self._checked("want-dts"):
            kw["dts"] = self._value("dts-src") or None
            kw["dts_patch"] = self._value("out-dts")
            kw["dtsi_override"] = self._checked("dtsi-override")
        if not any(kw.get(k) for k in ("output", "overlay", "dts_patch")):
            self._show(Text("choose at least one output", style="#e8c547"))
            return
        self._show(Text("exporting… (verifying with dtc)", style="dim"))
        self.query_one("#export-go", Button).disabled = True
        self.run_export(dtb, kw)

    @work(thread=True, exclusive=True)
    def run_export(self, dtb: str, kw: dict) -> None:
        from memmap_tui.sources.errors import InputError
        try:
            from memmap_tui.export import run_export
        except ImportError as e:  # the export issue not installed: say so, write nothing
            self.app.call_from_thread(self._done, None, f"export engine unavailable: {e}")
            return
        opts = self.state.loaded.options
        try:
            result = run_export(dtb, mm=self.state.mm, changes=self.state.mm.changed_no_dump(),
                                include_dirs=opts.include_dirs, arch=opts.arch, loader=opts.loader,
                                kernel=opts.kernel, **kw)
        except InputError as e:
            self.app.call_from_thread(self._done, None, str(e))
            return
        except Exception as e:  # an engine bug: one line, not a traceback across the TUI
            self.app.call_from_thread(self._done, None, f"internal error: {type(e).__name__}: {e}")
            return
        self.app.call_from_thread(self._done, result, None)

    def _done(self, result, error: str | None) -> None:
        self.query_one("#export-go", Button).disabled = False
        if error is not None:
            self._show(Text(f"✗ {error}", style="bold #ff6b5b"))
            return
        t = Text()
        for p in result.written:
            t.append(f"✓ wrote {p}\n", style="bold #4cc38a")
        for w in result.warnings:
            t.append(f"{w.level}: ", style=LEVEL_STYLE.get(Level(w.level), ""))
            # the engine words its advice for the CLI; here the option is a box in this dialog
            t.append(w.message.replace("--dtsi-override", "the shared-.dtsi box") + "\n")
        t.rstrip()
        self.written = [str(p) for p in result.written]
        self.state.mark_exported()   # the header and q count toggles since this export
        self._show(t)
        self.app.notify(Text(f"exported {len(result.written)} file(s)"), title="Export")

    def _show(self, renderable) -> None:
        self.query_one("#export-result", Static).update(renderable)
