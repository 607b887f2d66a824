"""`memmap-tui diff A B` in the terminal: two band maps on one address scale (scroll locked),
changed bands marked ◆, a change list to jump through (n / N, or pick one), and a card per
policy with both predicted vmcore sizes and the delta. Below 120 columns the maps stack."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from memmap_tui.core.diff import MapDiff, PolicyDelta
from memmap_tui.core.model import Band
from memmap_tui.core.units import approx_size, exact_size
from memmap_tui.diff_run import Side
from memmap_tui.report.diff_doc import pair_range, pair_text, pair_title, signed_size
from memmap_tui.tui.bandmap import DEFAULT_ZOOM, ZOOM_LEVELS
from memmap_tui.tui.diff_layout import change_index, diff_layout
from memmap_tui.tui.diff_map import DiffMap
from memmap_tui.tui.theme import PaletteMixin

NARROW_WIDTH = 120   # below this the maps stack (A above B) and the change list shrinks


def _total(n: int | None) -> str:
    """A vmcore total readable at a glance (≈3.71 GiB); the exact bytes are in the JSON."""
    return "—" if n is None else approx_size(n) or exact_size(n)


def shorten_middle(text: str, width: int) -> str:
    if len(text) <= width:
        return text
    keep = max(1, width - 1)
    return text[:keep // 2] + "…" + text[len(text) - (keep - keep // 2):]


class PolicyDeltaCard(Static):
    """One policy: predicted vmcore on A and B, and the exact delta (red when it grows).
    Three short lines, so a third of 80 columns holds every figure."""

    def __init__(self, delta: PolicyDelta, **kw) -> None:
        super().__init__(**kw)
        self.delta = delta

    def render(self) -> Text:
        d = self.delta
        text = Text(d.policy, style="bold", no_wrap=True, overflow="ellipsis")
        text.append(f"\n{_total(d.a_bytes)} → {_total(d.b_bytes)}")
        if d.delta_bytes is None:
            text.append("\nΔ unknown (give --ram)", style="dim")
        else:
            text.append(f"\nΔ {signed_size(d.delta_bytes)}", style="bold red" if d.delta_bytes > 0 else "bold green")
            text.append(f" {d.delta_seconds:+.1f} s", style="dim")
        if d.a_projected_bytes is not None or d.b_projected_bytes is not None:
            # projected after filtering: what each dump holds inside this policy's ranges
            line = f"{_total(d.a_projected_bytes)} → {_total(d.b_projected_bytes)}"
            room = self.content_region.width or 80
            text.append("\n" + (f"dumps {line}" if len(line) + 6 <= room else line), style="dim")
        return text


class DiffApp(PaletteMixin, App[None]):
    CSS_PATH = Path(__file__).with_name("diff_app.tcss")
    TITLE = "memmap-tui diff"
    BINDINGS = [
        Binding("n", "next_change", "Next change", id="diff.next"),
        Binding("N", "prev_change", "Prev change", id="diff.prev", key_display="N"),
        Binding("tab", "focus_next", "Focus", show=False),
        Binding("q", "quit", "Quit", id="diff.quit"),
    ]

    def __init__(self, a: Side, b: Side, diff: MapDiff) -> None:
        super().__init__()
        self.a, self.b, self.diff = a, b, diff
        self.changes, _, _ = change_index(diff)
        self.current: int | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="diff-header")
        with Horizontal(id="cards"):
            for d in self.diff.policies.values():
                yield PolicyDeltaCard(d, classes="card")
        with Horizontal(id="diff-body"):
            with Vertical(id="maps"):
                yield DiffMap("a", self.a.mm, self.a.loaded.dump, id="map-a")
                yield DiffMap("b", self.b.mm, self.b.loaded.dump, id="map-b")
            with Vertical(id="side-col"):
                yield OptionList(*[Option(self._change_label(i), id=f"change-{i}")
                                   for i in range(len(self.changes))], id="changes")
                yield Static(self._findings_text(), id="diff-findings")
        yield Footer()

    def _change_label(self, i: int) -> Text:
        p = self.changes[i]
        text = Text(f"{pair_range(p)} ", style="dim", no_wrap=True, overflow="ellipsis")
        text.append(pair_title(p), style="bold")
        text.append(f" [{p.match}] ", style="dim")
        text.append(pair_text(p))
        return text

    def _findings_text(self) -> Text:
        text = Text()
        for word, style, findings in (("new", "bold red", self.diff.new_findings),
                                      ("gone", "bold green", self.diff.gone_findings)):
            for f in findings:
                text.append(f"{word} ", style=style)
                text.append(f"{f.level} [{f.code}] {f.message}\n")
        return text or Text("no findings introduced or fixed", style="dim")

    def on_mount(self) -> None:
        map_a, map_b = self.query_one("#map-a", DiffMap), self.query_one("#map-b", DiffMap)
        map_a.partner, map_b.partner = map_b, map_a
        map_a.border_title, map_b.border_title = "A", "B"
        rows, total = diff_layout(self.a.mm, self.b.mm, self.diff, ZOOM_LEVELS[DEFAULT_ZOOM])
        for m in (map_a, map_b):
            m.set_layout(rows, total)
        self.query_one("#changes", OptionList).border_title = f"changes ({len(self.changes)})"
        self.query_one("#diff-findings", Static).border_title = "findings"
        self._apply_width(self.size.width)
        map_a.focus()
        if self.changes:
            self.call_after_refresh(self.jump, 0)
        else:
            self.call_after_refresh(self._scroll_to_ram)

    def _scroll_to_ram(self) -> None:
        """Nothing changed: start where RAM starts, as the main map does (low MMIO is rarely the point)."""
        map_a = self.query_one("#map-a", DiffMap)
        row = next((r.first_row for r in map_a.rows if r.a[0] not in (Band.MMIO, Band.HOLE)), 0)
        map_a.scroll_y = row

    def on_resize(self, event) -> None:
        self._apply_width(event.size.width)

    def _apply_width(self, width: int) -> None:
        self.screen.set_class(width < NARROW_WIDTH, "-narrow")
        a_in = self.a.mm.inputs.get("dtb") or self.a.mm.inputs.get("vmcore") or "A"
        b_in = self.b.mm.inputs.get("dtb") or self.b.mm.inputs.get("vmcore") or "B"
        tail = (f"  {len(self.changes)} changed, {len(self.diff.new_findings)} new / "
                f"{len(self.diff.gone_findings)} gone findings")
        room = max(10, (width - 12 - (len(tail) if width >= NARROW_WIDTH else 0)) // 2)
        header = Text(f"A {shorten_middle(a_in, room)} → B {shorten_middle(b_in, room)}", no_wrap=True)
        if width >= NARROW_WIDTH:
            header.append(tail, style="dim")
        self.query_one("#diff-header", Static).update(header)

    # -- jumping through changes -----------------------------------------------------------
    def jump(self, index: int) -> None:
        if not self.changes:
            return
        self.current = index % len(self.changes)
        maps = list(self.query(DiffMap))
        for m in maps:
            m.selected_change = self.current
            m.refresh()
        row = maps[0].first_row_of(self.current)
        if row is not None:
            height = maps[0].scrollable_content_region.height or 10
            maps[0].scroll_y = max(0, row - height // 3)   # the partner follows
        changes = self.query_one("#changes", OptionList)
        if changes.highlighted != self.current:
            changes.highlighted = self.current

    def action_next_change(self) -> None:
        self.jump(0 if self.current is None else self.current + 1)

    def action_prev_change(self) -> None:
        self.jump(len(self.changes) - 1 if self.current is None else self.current - 1)

    @on(DiffMap.ChangeClicked)
    def _clicked(self, event: DiffMap.ChangeClicked) -> None:
        self.jump(event.change)

    @on(OptionList.OptionHighlighted, "#changes")
    def _picked(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_index != self.current:
            self.jump(event.option_index)

