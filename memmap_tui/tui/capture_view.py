"""How the TUI shows capture: the caption over the policy cards (what every figure is and what
its time assumes), the cards' lines when a dump is loaded, and the overview's projection table.

Reads `TuiState.capture` (projections computed once per toggle); computes nothing itself.
"""

from __future__ import annotations

from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from memmap_tui.core.policies import POLICIES, TODAY
from memmap_tui.core.units import duration_text, exact_size, short_size
from memmap_tui.tui.paths import shown_path
from memmap_tui.tui.projection import IN_DUMP, PROJECTED, UNFILTERED, why_on_disk
from memmap_tui.tui.state import TuiState
from memmap_tui.tui.theme import Palette

Line = list[tuple[str, Style]]


def caption_variants(state: TuiState) -> list[str]:
    """The caption over the cards, longest first: which figure is which, and the time's assumption."""
    cap = state.capture
    layout = state.loaded.dump
    speed = f"{cap.write_speed_mbps:.4g} MB/s"
    if layout is None:
        return [f"sizes: {UNFILTERED} (RAM PT_LOADs) · {cap.assumption()} · w: write speed",
                f"sizes: {UNFILTERED} · {cap.assumption()} · w: speed",
                f"{UNFILTERED} · time at {speed}, no filtering · w",
                f"{UNFILTERED} · {speed} · w"]
    name = shown_path(layout.path).rsplit("/", 1)[-1]
    level = f" -d {layout.dump_level}" if layout.dump_level is not None else ""
    return [f"sizes: {UNFILTERED}; on disk: {IN_DUMP} ({name}) for today, {PROJECTED} from it for the others"
            f" · {cap.assumption()} · w: speed",
            f"{UNFILTERED}; on disk: {IN_DUMP} / {PROJECTED} · {cap.assumption()} · w: speed",
            f"{UNFILTERED}; on disk: in this dump / {PROJECTED} · time = on disk ÷ {speed},{level} · w: speed",
            f"{UNFILTERED}; on disk {PROJECTED} · {cap.assumption()} · w",
            f"{UNFILTERED}; on disk: dump / {PROJECTED} · {speed}{level} · w",
            f"on disk {PROJECTED} · {speed} · w"]


class CaptureCaption(Static):
    """One line over the policy cards: the labels and the capture-time assumption."""

    def __init__(self, state: TuiState, **kw) -> None:
        super().__init__(**kw)
        self.state = state

    def render(self) -> Text:
        pal: Palette = self.app.palette
        width = self.content_region.width or 80
        variants = caption_variants(self.state)
        fits = [v for v in variants if len(v) <= width]
        return Text(fits[0] if fits else variants[-1], style=pal.muted, no_wrap=True, overflow="ellipsis")


def dump_card_lines(state: TuiState, policy: str, pal: Palette) -> list[list[Line]]:
    """Lines 2–4 of a policy card with a dump loaded, each as variants longest first:
    unfiltered size and saving, on-disk size and time (in this dump file for `today`,
    projected for the others), and what the saving is worth on disk, with why."""
    res = state.results[policy]
    pr = state.capture.projections[policy]
    unfiltered = short_size(res.dumped_bytes) if res.dumped_bytes is not None else "?"
    if policy == TODAY.id:
        second = [[(f"  unfiltered {unfiltered} · baseline", pal.text)], [(f"  unfiltered {unfiltered}", pal.text)],
                  [(f"  {unfiltered}", pal.text)]]
    else:
        saved = res.savings_bytes
        style = pal.ok + Style(bold=True) if saved else pal.muted
        second = [[(f"  unfiltered {unfiltered}", pal.text), (f", saves {short_size(saved)}", style)],
                  [(f"  unfiltered {unfiltered}", pal.text), (f" {minus(saved)}", style)],
                  [(f"  {unfiltered}", pal.text), (f" {minus(saved)}", style)]]
    label = "in this dump" if policy == TODAY.id else PROJECTED
    if pr.on_disk_bytes is None:
        third = [[(f"  {label}: on disk unknown (cut file)", pal.warn)], [("  on disk unknown", pal.warn)]]
    else:
        disk, secs = short_size(pr.on_disk_bytes), duration_text(pr.capture_seconds or 0.0)
        third = [[(f"  {label} {disk} on disk · {secs}", pal.accent)],
                 [(f"  {label} {disk} · {secs}", pal.accent)],
                 [(f"  {'dump' if policy == TODAY.id else 'proj.'} {disk} · {secs}", pal.accent)],
                 [(f"  {'dump' if policy == TODAY.id else 'proj.'} {disk} {secs}", pal.accent)],
                 [(f"  {disk} · {secs}", pal.accent)]]
    if policy == TODAY.id:
        held = short_size(pr.present_bytes)
        fourth = [[(f"  {held} of pages held", pal.muted)], [(f"  {held} held", pal.muted)]]
    else:
        why, near_zero = why_on_disk(pr, state.loaded.dump.page_size)
        style = pal.warn if near_zero and res.savings_bytes else pal.muted
        cut = pr.saved_on_disk_bytes
        if cut is None:
            fourth = [[(f"  {why}", style)]]
        elif near_zero:
            fourth = [[(f"  {why} ({short_size(cut)})", style)], [(f"  {why}", style)]]
        else:
            fourth = [[(f"  saves {short_size(cut)} on disk: {why}", style)],
                      [(f"  {short_size(cut)} on disk: {why}", style)],
                      [(f"  {why}", style)], [(f"  {short_size(cut)} on disk", style)]]
    return [second, third, fourth]


def minus(size_bytes: int) -> str:
    """`−128 MiB`, or `≈−7.38 GiB` when the short form is approximate."""
    text = short_size(size_bytes)
    return "≈−" + text[1:] if text.startswith("≈") else "−" + text


def projection_table(state: TuiState, pal: Palette) -> Table:
    """The overview's per-policy table: unfiltered, then projected from the loaded dump."""
    table = Table(box=None, padding=(0, 1), header_style=pal.heading, expand=False)
    table.add_column("policy", no_wrap=True)
    table.add_column("unfiltered\n/proc/vmcore", justify="right", no_wrap=True)
    table.add_column("present\n(projected)", justify="right", no_wrap=True)
    table.add_column("on disk\n(projected)", justify="right", no_wrap=True)
    table.add_column("capture", justify="right", no_wrap=True)
    for p in POLICIES:
        pr = state.capture.projections[p.id]
        res = state.results[p.id]
        table.add_row(Text(p.id, style=pal.active if p.id == state.policy else pal.text),
                      Text("?" if res.dumped_bytes is None else exact_size(res.dumped_bytes)),
                      Text(exact_size(pr.present_bytes)),
                      Text("?" if pr.on_disk_bytes is None else exact_size(pr.on_disk_bytes)),
                      Text("?" if pr.capture_seconds is None else duration_text(pr.capture_seconds)))
    return table


def projection_note(state: TuiState, pal: Palette) -> Text:
    return Text(f"today's row is {IN_DUMP}; the others remove from it the pages it holds in the ranges "
                f"each policy newly excludes · {state.capture.assumption()} ({state.capture.speed_source})",
                style=pal.muted)
