"""One side of the diff view: a band map drawn on the shared diff layout (Line API, only the
visible rows are rendered). Two of them scroll together: each forwards its scroll offset to
its partner."""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from memmap_tui.core.dump import DumpLayout
from memmap_tui.core.model import Band, MemoryMap
from memmap_tui.core.units import compact_hex, exact_size
from memmap_tui.report.names import region_title
from memmap_tui.tui.diff_layout import DiffRow
from memmap_tui.tui.state import dump_mark_of
from memmap_tui.tui.theme import BAND_GLYPH, BAND_LABEL, DUMP_GLYPH

CHANGED_MARK = "◆"   # a band of a region that changed (added, removed, moved, resized, re-flagged)


class DiffMap(ScrollView, can_focus=True):
    DEFAULT_CSS = """
    DiffMap { background: $surface; border: round $panel-lighten-2; }
    DiffMap:focus { border: round $accent; }
    """

    class ChangeClicked(Message):
        def __init__(self, change: int) -> None:
            self.change = change
            super().__init__()

    def __init__(self, side: str, mm: MemoryMap, dump: DumpLayout | None = None, **kw) -> None:
        super().__init__(**kw)
        self.side = side            # "a" | "b"
        self.mm = mm
        self.dump = dump
        self._marks: list[str] = []   # per layout row: what this side's dump holds (held/partly/...)
        self.rows: list[DiffRow] = []
        self._row_index: list[int] = []
        self.selected_change: int | None = None
        self.partner: DiffMap | None = None
        self._ruler_width = 12

    def set_layout(self, rows: list[DiffRow], total: int) -> None:
        self.rows = rows
        if self.dump is not None:
            # one bulk count over every row's range (bitmaps / PT_LOADs), not one per repaint
            stats = self.dump.stats([r.range for r in rows])
            self._marks = [dump_mark_of(r.range.size_bytes, s.covered_bytes, s.present_bytes)
                           for r, s in zip(rows, stats)]
        self._row_index = [-1] * (total + 1)
        for i, r in enumerate(rows):
            for k in range(r.first_row, r.first_row + r.rows):
                self._row_index[k] = i
        self._ruler_width = len(compact_hex(rows[-1].range.end)) if rows else 12
        self.virtual_size = Size(self.size.width or 40, total + 1)
        self.refresh()

    # -- scrolling together ---------------------------------------------------------------
    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if self.partner is not None and self.partner.scroll_y != new:
            self.partner.scroll_y = new

    def on_click(self, event: events.Click) -> None:
        row = event.y + int(self.scroll_offset.y)
        if 0 <= row < len(self._row_index) and self._row_index[row] >= 0:
            change = self.rows[self._row_index[row]].change
            if change is not None:
                self.post_message(self.ChangeClicked(change))

    def first_row_of(self, change: int) -> int | None:
        return next((r.first_row for r in self.rows if r.change == change), None)

    # -- drawing --------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        row = y + int(self.scroll_offset.y)
        width = self.scrollable_content_region.width or self.size.width
        base = self.rich_style
        plain = Style(color=base.color, bgcolor=base.bgcolor)
        if row >= len(self._row_index) or self._row_index[row] < 0:
            if self.rows and row == self.rows[-1].first_row + self.rows[-1].rows:
                return Strip([Segment(" " + compact_hex(self.rows[-1].range.end).rjust(self._ruler_width), plain)]
                             ).adjust_cell_length(width, plain)
            return Strip([Segment(" " * width, plain)], width)
        r = self.rows[self._row_index[row]]
        band, rid = r.a if self.side == "a" else r.b
        in_band = row - r.first_row
        selected = r.change is not None and r.change == self.selected_change
        mark = (CHANGED_MARK if in_band == 0 else "┃") if r.change is not None else " "
        pal = self.app.palette
        mark_style = pal.accent + Style(bgcolor=plain.bgcolor, reverse=selected)
        dim = Style(color=pal.muted.color, bgcolor=plain.bgcolor)
        ruler = (compact_hex(r.range.start) if in_band == 0 else "┆").rjust(self._ruler_width)
        bar_w = max(3, min(8, (width - self._ruler_width - 4) // 5))
        label = self._label(r, band, rid, in_band)
        lstyle = dim if in_band else Style(color=plain.color, bgcolor=plain.bgcolor, bold=selected)
        cells = [Segment(mark, mark_style), Segment(ruler + " ", dim if in_band else plain),
                 Segment(BAND_GLYPH[band] * bar_w, pal.band_fill[band])]
        if self._marks:
            dm = self._marks[self._row_index[row]]
            cells.append(Segment(" " if dm == "absent" and band is Band.HOLE else DUMP_GLYPH[dm],
                                 Style(color=pal.dump_fg[dm].color, bgcolor=plain.bgcolor)))
        return Strip([*cells, Segment(" ", plain), Segment(label, lstyle)]).adjust_cell_length(width, plain)

    def _label(self, r: DiffRow, band: Band, rid: str | None, in_band: int) -> str:
        if in_band == 0:
            if rid is not None:
                return region_title(self.mm.region(rid))
            return BAND_LABEL[band] if band is not Band.HOLE else f"hole {exact_size(r.range.size_bytes)}"
        if in_band == 1 and band is not Band.HOLE:
            return exact_size(r.range.size_bytes) + ("" if rid is None else f" · {BAND_LABEL[band]}")
        return ""
