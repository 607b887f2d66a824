"""The export dialog: patched DTB, overlay and/or DTS patch through `memmap_tui.export`.

Outputs go to a folder the user picks (relative paths stay relative, as typed); a file
that already exists — an earlier export — is replaced only after the user confirms;
the boxes, folder and .dts are remembered for the session. The advice shown after an
export is the export engine's text, as it words it. When the app is served to a
browser (`memmap-tui serve`), every written file is also delivered as a download.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from pathlib import Path

from rich.style import Style
from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, Label, Static

from memmap_tui.core.model import Level
from memmap_tui.tui.details import LEVEL_STYLE, PROPOSAL_NOTE
from memmap_tui.tui.paths import shorten_middle
from memmap_tui.tui.state import TuiState
from memmap_tui.tui.theme import Palette


class Tick(Checkbox):
    """A checkbox whose state reads without colour: `X` when on, blank when off (Textual draws
    `X` in both states and tells them apart by colour alone, lost under NO_COLOR)."""

    @property
    def _button(self):
        self.BUTTON_INNER = "X" if self.value else " "
        return super()._button


def default_output(dtb: str, suffix: str) -> str:
    """A file name for the folder the user picks, never the input's own name."""
    stem = Path(dtb).name
    for ext in (".dtb", ".dts"):
        if stem.endswith(ext):
            stem = stem[: -len(ext)]
    return f"{stem}.no-dump{suffix}"


class PathLine(Widget):
    """One line `prefix path` that shortens the path from the middle to fit."""

    DEFAULT_CSS = "PathLine { height: 1; color: $text-muted; }"

    def __init__(self, prefix: str, path: str, **kw) -> None:
        super().__init__(**kw)
        self.prefix, self.path = prefix, path

    def render(self) -> Text:
        room = max(self.size.width - len(self.prefix), 0)
        return Text(self.prefix + shorten_middle(self.path, room), no_wrap=True)


@dataclass(slots=True)
class ExportChoices:
    """What the dialog remembers between openings in one session."""
    folder: str = "."
    want_dtb: bool = True
    want_overlay: bool = False
    want_dts: bool = False
    dts: str | None = None              # None: guessed from the DTB
    dtsi_override: bool = False


_SESSION: "weakref.WeakKeyDictionary[App, ExportChoices]" = weakref.WeakKeyDictionary()


def session_choices(app: App) -> ExportChoices:
    return _SESSION.setdefault(app, ExportChoices())


class ExportScreen(ModalScreen[list[str] | None]):
    """Write a patched DTB, an overlay and/or a DTS patch through `memmap_tui.export.run_export`."""

    DEFAULT_CSS = """
    #out-folder { width: 1fr; margin-left: 1; }
    .export-label { width: 24; }
    #dts-row { margin-top: 0; }
    """
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="export.cancel"),
        Binding("ctrl+s", "export", "Export", id="export.run"),
    ]

    def __init__(self, state: TuiState) -> None:
        super().__init__()
        self.state = state
        self.written: list[str] = []
        self._confirmed: tuple[str, ...] = ()    # targets the user agreed to replace

    @property
    def pal(self) -> Palette:
        return self.app.palette

    def compose(self) -> ComposeResult:
        mm = self.state.mm
        dtb = self.state.loaded.options.dtb
        choices = session_choices(self.app)
        changes = mm.changed_no_dump()
        summary = Text()
        if changes:
            summary.append(f"{len(changes)} change{'s' * (len(changes) != 1)} to linux,no-dump:\n")
            for path, add in sorted(changes.items()):
                summary.append("  + " if add else "  − ", style=self.pal.ok if add else self.pal.error)
                summary.append(f"{path}\n")
        else:
            summary.append("No toggles yet: select a /reserved-memory node and press n first.\n", style=self.pal.warn)
        summary.rstrip()
        name = dtb or "board"
        with VerticalScroll(id="export-box"):   # scrolls on a short terminal: nothing unreachable
            yield Label(Text("Export linux,no-dump changes", style="bold"))
            yield Static(Text(PROPOSAL_NOTE, style=self.pal.muted + Style(italic=True)), id="export-note")
            yield PathLine("input (never overwritten): ", dtb or "no DTB loaded", id="export-input")
            yield Static(summary, id="export-summary")
            with Horizontal(classes="export-row"):
                yield Label("Output folder", classes="export-label")
                yield Input(choices.folder, placeholder="folder for the files below", id="out-folder",
                            compact=True)
            with Horizontal(classes="export-row"):
                yield Tick("Patched DTB", value=choices.want_dtb, id="want-dtb", compact=True)
                yield Input(default_output(name, ".dtb"), id="out-dtb", compact=True)
            with Horizontal(classes="export-row"):
                yield Tick("Overlay .dtbo", value=choices.want_overlay, id="want-overlay", compact=True)
                yield Input(default_output(name, ".dtbo"), id="out-overlay", compact=True)
            with Horizontal(classes="export-row"):
                yield Tick("DTS patch", value=choices.want_dts, id="want-dts", compact=True)
                yield Input(default_output(name, ".patch"), id="out-dts", compact=True)
            with Horizontal(classes="export-row", id="dts-row"):
                # a row of its own: the board source path is never cut to make room
                yield Label("  of the board source", classes="export-label")
                yield Input(choices.dts if choices.dts is not None else self._dts_guess(dtb),
                            placeholder="board .dts source", id="dts-src", compact=True)
            with Horizontal(classes="export-row", id="dtsi-row"):
                # nodes defined in a .dtsi shared by other boards: patch the board file instead
                yield Tick("shared .dtsi nodes: `&label { linux,no-dump; };` in the board .dts",
                           value=choices.dtsi_override, id="dtsi-override", compact=True,
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

    def _remember(self) -> None:
        choices = session_choices(self.app)
        choices.folder = self._value("out-folder") or "."
        choices.want_dtb = self._checked("want-dtb")
        choices.want_overlay = self._checked("want-overlay")
        choices.want_dts = self._checked("want-dts")
        choices.dts = self._value("dts-src")
        choices.dtsi_override = self._checked("dtsi-override")

    @on(Checkbox.Changed)
    @on(Input.Changed)
    def _changed(self) -> None:
        self._remember()
        if self._confirmed:                         # what was agreed no longer matches
            self._confirmed = ()
            self.query_one("#export-go", Button).label = "Export"

    @on(Button.Pressed, "#export-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

    def _targets(self) -> dict[str, Path]:
        folder = Path(self._value("out-folder") or ".")
        wanted = {"output": ("want-dtb", "out-dtb"), "overlay": ("want-overlay", "out-overlay"),
                  "dts_patch": ("want-dts", "out-dts")}
        return {key: folder / self._value(name) for key, (box, name) in wanted.items()
                if self._checked(box) and self._value(name)}

    @on(Button.Pressed, "#export-go")
    def action_export(self) -> None:
        dtb = self.state.loaded.options.dtb
        if not dtb:
            self._show(Text("no DTB loaded: nothing to patch", style=self.pal.error))
            return
        if not self.state.mm.changed_no_dump():
            self._show(Text("nothing to export: no node toggled", style=self.pal.warn))
            return
        targets = self._targets()
        if not targets:
            self._show(Text("choose at least one output", style=self.pal.warn))
            return
        kw: dict = dict(targets)
        if "dts_patch" in kw:
            kw["dts"] = Path(self._value("dts-src")) if self._value("dts-src") else None
            kw["dtsi_override"] = self._checked("dtsi-override")
        from memmap_tui.export import ExportRequest, check_request
        from memmap_tui.export.targets import exists
        from memmap_tui.sources.errors import InputError
        loaded = self.state.loaded
        request = ExportRequest(changes=self.state.mm.changed_no_dump(),
                                include_dirs=loaded.options.include_dirs, **kw)
        try:
            check_request(request, self.state.mm, loaded.dtb.read)   # an input is refused, never "replaced?"
        except InputError as e:
            self._show(Text(f"✗ {e}", style=self.pal.error))
            return
        existing = [str(p) for p in targets.values() if exists(p)]
        if existing and self._confirmed != tuple(map(str, targets.values())):
            self._confirmed = tuple(map(str, targets.values()))
            self.query_one("#export-go", Button).label = "Overwrite"
            self._show(Text(f"{', '.join(existing)} already exist{'s' * (len(existing) == 1)} "
                            "(an earlier export?): press Overwrite (ctrl+s) to replace, "
                            "or change the folder or names", style=self.pal.warn))
            return
        self._show(Text("exporting… (verifying with dtc)", style="dim"))
        self.query_one("#export-go", Button).disabled = True
        self.run_export(request)

    @work(thread=True, exclusive=True)
    def run_export(self, request) -> None:
        from memmap_tui.export import run_export
        from memmap_tui.sources.errors import InputError
        loaded = self.state.loaded
        try:
            result = run_export(request, self.state.mm, loaded.dtb.read)
        except InputError as e:
            self.app.call_from_thread(self._done, None, str(e))
            return
        except Exception as e:  # an engine bug: one line, not a traceback across the TUI
            self.app.call_from_thread(self._done, None, f"internal error: {type(e).__name__}: {e}")
            return
        self.app.call_from_thread(self._done, result, None)

    def _done(self, result, error: str | None) -> None:
        go = self.query_one("#export-go", Button)
        go.disabled, go.label, self._confirmed = False, "Export", ()
        if error is not None:
            self._show(Text(f"✗ {error}", style=self.pal.error))
            return
        t = Text()
        for p in result.written:
            t.append(f"✓ wrote {p}\n", style=self.pal.ok + Style(bold=True))
        for w in result.warnings:
            t.append(f"{w.level}: ", style=LEVEL_STYLE.get(Level(w.level), ""))
            t.append(w.message + "\n")      # the export engine's advice, as it words it
        t.rstrip()
        self.written = [str(p) for p in result.written]
        self.state.mark_exported()   # the header and q count toggles since this export
        self._show(t)
        if self.app.is_web:   # served to a browser: the files are on the server, hand them over
            for p in result.written:
                self.app.deliver_binary(p, save_filename=p.name)
        self.app.notify(Text(f"exported {len(result.written)} file(s)"), title="Export")

    def _show(self, renderable) -> None:
        self.query_one("#export-result", Static).update(renderable)
