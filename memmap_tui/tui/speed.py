"""`w`: the write speed every capture time assumes. With a dump loaded, the speed can instead be
derived from the dump's own size and how long its capture took (the user's measurement)."""

from __future__ import annotations

import math

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from memmap_tui.core.units import exact_size
from memmap_tui.tui.projection import Capture


def parse_number(text: str, suffixes: tuple[str, ...]) -> float | None:
    """A positive finite number, optionally followed by one of `suffixes` ("120", "120 MB/s", "2.5s")."""
    t = text.strip().lower()
    for suffix in suffixes:
        if t.endswith(suffix):
            t = t[:-len(suffix)].strip()
            break
    try:
        value = float(t.replace("_", ""))
    except ValueError:
        return None
    return value if math.isfinite(value) and value > 0 else None


def choice(capture: Capture, speed_text: str, seconds_text: str) -> tuple[float | None, str, str]:
    """(speed MB/s or None, where it comes from, a one-line explanation) for what is typed."""
    if seconds_text.strip():
        secs = parse_number(seconds_text, ("seconds", "sec", "s"))
        if secs is None:
            return None, "", f"{seconds_text.strip()!r} is not a positive number of seconds"
        speed = capture.speed_from_duration(secs)
        if speed is None:
            return None, "", "the dump's size is unknown: type a speed instead"
        source = f"this dump's {exact_size(capture.dump_bytes)} written in {secs:g} s"
        return speed, source, f"→ {speed:.4g} MB/s ({source})"
    speed = parse_number(speed_text, ("mb/s", "mbps", "mb"))
    if speed is None:
        return None, "", f"{speed_text.strip()!r} is not a positive number of MB/s" if speed_text.strip() \
            else "type a speed in MB/s"
    return speed, "typed with w", f"→ {speed:.4g} MB/s (decimal MB/s, as disks are rated)"


class WriteSpeedScreen(ModalScreen[tuple[float, str] | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="speed.cancel")]

    def __init__(self, capture: Capture) -> None:
        super().__init__()
        self.capture = capture

    def compose(self) -> ComposeResult:
        with Vertical(id="speed-box"):
            yield Label(Text("Write speed of the dump target, MB/s (capture time = size ÷ speed)"))
            yield Input(value=f"{self.capture.write_speed_mbps:g}", id="speed-input")
            if self.capture.dump_bytes is not None:
                yield Label(Text(f"or: seconds the capture of this dump took ({exact_size(self.capture.dump_bytes)} "
                                 "written); the speed follows from its size"))
                yield Input(placeholder="e.g. 42.5", id="speed-seconds")
            yield Static(Text(""), id="speed-hint")

    def _typed(self) -> tuple[float | None, str, str]:
        seconds = self.query("#speed-seconds")
        return choice(self.capture, self.query_one("#speed-input", Input).value,
                      seconds.first(Input).value if seconds else "")

    @on(Input.Changed)
    def preview(self) -> None:
        speed, _source, why = self._typed()
        pal = self.app.palette
        self.query_one("#speed-hint", Static).update(Text(why, style=pal.ok if speed else pal.muted))

    @on(Input.Submitted)
    def submit(self) -> None:
        speed, source, why = self._typed()
        if speed is None:
            self.query_one("#speed-hint", Static).update(Text(why, style=self.app.palette.error))
            return
        self.dismiss((speed, source))

    def action_cancel(self) -> None:
        self.dismiss(None)
