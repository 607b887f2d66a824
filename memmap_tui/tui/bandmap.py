"""The band map: physical address space as colour bands, drawn with the Line API.

Only the visible rows are rendered (`render_line` → `Strip`), as Toolong's log view does, so
a map of thousands of bands costs what a screenful costs. Each band gets a height that grows
with log2 of its size: a 4 KiB spin-table page gets one row and 8 GiB of RAM a handful, so
both stay visible at once; holes are collapsed to one row; `+`/`-` change the scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from memmap_tui.core.model import Band
from memmap_tui.core.naming import display_name
from memmap_tui.core.ranges import Range
from memmap_tui.core.units import compact_hex, exact_size
from memmap_tui.tui.keys import bindings
from memmap_tui.tui.selection import Selection, SelKind
from memmap_tui.tui.state import TuiState, band_selection
from memmap_tui.tui.theme import BAND_GLYPH, BAND_LABEL, DUMP_GLYPH, SELECT_GLYPH, VMCORE_GLYPH, Palette

ZOOM_LEVELS = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0)  # extra rows per 4 doublings above one page
DEFAULT_ZOOM = 2


def band_rows(size_bytes: int, zoom: float, band: Band) -> int:
    """Rows for a band: 1 for a page, +1 per (4/zoom) doublings; holes always 1 (collapsed)."""
    if band is Band.HOLE:
        return 1
    doublings = max(0.0, math.log2(max(size_bytes, 1)) - 12)
    return 1 + int(doublings * zoom / 4)


@dataclass(frozen=True, slots=True)
class MapBand:
    range: Range
    band: Band
    region_id: str | None
    key: Selection     # what selecting the band selects
    first_row: int
    rows: int


@dataclass(frozen=True, slots=True)
class UnplacedRow:
    region_id: str
    key: Selection
    row: int


def layout(state: TuiState, zoom: float) -> tuple[list[MapBand], list[UnplacedRow], int]:
    """Bands with their rows, unplaced regions listed after the map, and the total row count."""
    out: list[MapBand] = []
    row = 0
    for rng, band, rid in state.mm.bands():
        n = band_rows(rng.size_bytes, zoom, band)
        out.append(MapBand(rng, band, rid, band_selection(state, rng, band, rid), row, n))
        row += n
    if out:
        row += 1  # the end-address row
    unplaced: list[UnplacedRow] = []
    regions = state.unplaced()
    if regions:
        row += 2  # blank + heading
        for r in regions:
            unplaced.append(UnplacedRow(r.id, Selection(SelKind.REGION, region_id=r.id), row))
            row += 1
    return out, unplaced, row


def _overlapping(state: TuiState) -> set[str]:
    """Ids of placed regions whose ranges overlap another region's (one sort, one sweep)."""
    spans = sorted((rng.start, rng.end, r.id) for r in state.mm.regions if r.placed and r.reserves_memory
                   for rng in r.ranges)
    out: set[str] = set()
    reach, owner = -1, None
    for start, end, rid in spans:
        if start < reach and owner != rid:
            out.update((rid, owner))
        if end > reach:
            reach, owner = end, rid
    return out


class BandMap(ScrollView, can_focus=True):
    """Scrollable, zoomable band map; selecting a band selects its region everywhere."""

    BINDINGS = bindings("map")

    DEFAULT_CSS = """
    BandMap { background: $surface; }
    """

    class Selected(Message):
        def __init__(self, key: Selection) -> None:
            self.key = key
            super().__init__()

    def __init__(self, state: TuiState, **kw) -> None:
        super().__init__(**kw)
        self.state = state
        self.zoom_index = DEFAULT_ZOOM
        self.selected_key: Selection | None = None
        self.bands: list[MapBand] = []
        self._bands_of: dict[str, list[int]] = {}   # region id -> band indexes (incremental updates)
        self._overlapping: set[str] = set()         # regions sharing bytes with another region
        self.unplaced_rows: list[UnplacedRow] = []
        self._row_index: list[int] = []  # row -> band index (-1 for non-band rows)
        self._ruler_width = 12
        self.rebuild()

    # -- model -----------------------------------------------------------------
    @property
    def zoom(self) -> float:
        return ZOOM_LEVELS[self.zoom_index]

    def rebuild(self) -> None:
        """Recompute the layout (after a toggle changes a band's kind, or a zoom)."""
        self.bands, self.unplaced_rows, total = layout(self.state, self.zoom)
        self._row_index = [-1] * total
        for i, b in enumerate(self.bands):
            for r in range(b.first_row, b.first_row + b.rows):
                self._row_index[r] = i
        last = max((b.range.end for b in self.bands), default=0)
        self._ruler_width = len(compact_hex(last)) if self.bands else 12
        self.virtual_size = Size(self.size.width or 40, total)
        self._bands_of = {}
        for i, b in enumerate(self.bands):
            if b.region_id is not None:
                self._bands_of.setdefault(b.region_id, []).append(i)
        self._overlapping = _overlapping(self.state)
        self.refresh()

    def update_region(self, region_id: str) -> bool:
        """A toggle changed one region's kind: redraw its bands (and their neighbours' page-rounded
        markers) in place. A region that shares bytes with another can change the partition:
        then the whole layout is rebuilt. Returns whether the update stayed incremental."""
        if region_id in self._overlapping or region_id not in self._bands_of:
            self.rebuild()
            return False
        band = self.state.mm.band_of(self.state.mm.region(region_id))
        for i in self._bands_of[region_id]:
            b = self.bands[i]
            self.bands[i] = MapBand(b.range, band, b.region_id, b.key, b.first_row, b.rows)
            lo, hi = max(0, i - 1), min(len(self.bands) - 1, i + 1)
            first = self.bands[lo].first_row
            self.refresh_lines(first, self.bands[hi].first_row + self.bands[hi].rows - first)
        return True

    def set_zoom(self, index: int) -> bool:
        index = max(0, min(len(ZOOM_LEVELS) - 1, index))
        if index == self.zoom_index:
            return False
        # keep the band at the top of the view (or the selection) in place across the zoom
        top = self.band_at_row(int(self.scroll_offset.y))
        self.zoom_index = index
        self.rebuild()
        if self.rows_of(self.selected_key):
            self.scroll_to_selected(animate=False)
        elif top is not None:
            anchor = next((b for b in self.bands if b.range == top.range), None)
            if anchor is not None:
                self.scroll_to(y=anchor.first_row, animate=False)
        return True

    def select(self, key: str | None, *, scroll: bool = True) -> None:
        self.selected_key = key
        self.refresh()
        if scroll:
            self.scroll_to_selected(animate=False)

    def rows_of(self, key: str | None) -> list[int]:
        rows = [b.first_row for b in self.bands if b.key == key]
        rows += [u.row for u in self.unplaced_rows if u.key == key]
        return rows

    def scroll_to_selected(self, animate: bool = False) -> None:
        rows = self.rows_of(self.selected_key)
        if not rows:
            return
        top = int(self.scroll_offset.y)
        height = self.scrollable_content_region.height or self.size.height
        row = rows[0]
        if not (top <= row < top + height):
            self.scroll_to(y=max(0, row - height // 3), animate=animate)

    def scroll_to_ram(self) -> None:
        """Start where RAM starts: low MMIO windows are rarely what a BSP engineer came for."""
        for b in self.bands:
            if b.band is not Band.MMIO and b.band is not Band.HOLE:
                self.scroll_to(y=b.first_row, animate=False)
                return

    def band_at_row(self, row: int) -> MapBand | None:
        if 0 <= row < len(self._row_index) and self._row_index[row] >= 0:
            return self.bands[self._row_index[row]]
        return None

    def key_at_row(self, row: int) -> str | None:
        band = self.band_at_row(row)
        if band is not None:
            return band.key
        for u in self.unplaced_rows:
            if u.row == row:
                return u.key
        return None

    # -- drawing --------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        row = y + int(self.scroll_offset.y)
        width = self.scrollable_content_region.width or self.size.width
        base = self.rich_style
        plain = Style(color=base.color, bgcolor=base.bgcolor)
        if row >= len(self._row_index):
            return Strip([Segment(" " * width, plain)], width)
        idx = self._row_index[row]
        if idx >= 0:
            segments = self._band_line(self.bands[idx], row, width, plain)
        else:
            segments = self._other_line(row, width, plain)
        return Strip(segments).adjust_cell_length(width, plain)

    def _bar_width(self, width: int) -> int:
        return max(3, min(10, (width - self._ruler_width - 4) // 4))

    @property
    def pal(self) -> Palette:
        return self.app.palette

    def _band_line(self, b: MapBand, row: int, width: int, plain: Style) -> list[Segment]:
        pal = self.pal
        selected = b.key == self.selected_key
        in_band = row - b.first_row
        dim = Style(color=pal.muted.color, bgcolor=plain.bgcolor)
        marker = Segment(SELECT_GLYPH["first"] if selected and in_band == 0 else (SELECT_GLYPH["rest"] if selected else " "),
                         Style(color=pal.accent.color, bgcolor=plain.bgcolor, bold=True))
        ruler_text = compact_hex(b.range.start) if in_band == 0 else "┆".rjust(self._ruler_width)
        ruler = Segment(ruler_text.rjust(self._ruler_width) + " ", dim if in_band else plain)
        bar_w = self._bar_width(width)
        bar = Segment(BAND_GLYPH[b.band] * bar_w, pal.band_fill[b.band])
        vm = self._vmcore_cell(b, plain)
        label = self._label(b, in_band)
        lstyle = Style(color=plain.color, bgcolor=plain.bgcolor, bold=selected and in_band == 0,
                       reverse=selected and in_band == 0)
        if in_band > 0:
            lstyle = dim
        cells = [marker, ruler, bar, vm]
        if self.state.loaded.dump is not None:
            cells.append(self._dump_cell(b, plain))
        return [*cells, Segment(" ", plain), Segment(label, lstyle)]

    def _dump_cell(self, b: MapBand, plain: Style) -> Segment:
        """What the loaded vmcore file holds of this band (the policy marker is only a prediction)."""
        mark = self.state.dump_mark(b.range)
        if mark is None or (b.band is Band.HOLE and mark == "absent"):
            return Segment(" ", plain)
        return Segment(DUMP_GLYPH[mark], Style(color=self.pal.dump_fg[mark].color, bgcolor=plain.bgcolor))

    def _vmcore_cell(self, b: MapBand, plain: Style) -> Segment:
        if b.band in (Band.HOLE, Band.MMIO):
            return Segment(" ", plain)
        frac = self.state.dumped_fraction(b.range)
        mark = "all" if frac >= 1.0 else "part" if frac > 0 else "none"
        return Segment(VMCORE_GLYPH[mark], Style(color=self.pal.vmcore_fg[mark].color, bgcolor=plain.bgcolor))

    def _label(self, b: MapBand, in_band: int) -> str:
        mm = self.state.mm
        if b.band is Band.HOLE:
            return f"hole {exact_size(b.range.size_bytes)}" if in_band == 0 else ""
        if in_band == 0:
            if b.region_id is not None:
                return display_name(mm.region(b.region_id))
            if b.key.iomem_index is not None:
                return mm.iomem[b.key.iomem_index].name
            return BAND_LABEL[b.band]
        if in_band == 1:
            parts = [exact_size(b.range.size_bytes)]
            if b.region_id is not None:
                region = mm.region(b.region_id)
                parts += [f for f in mm.flags(region) if f != BAND_LABEL[b.band]]
                if display_name(region) != region.name:   # the node name, when the label says more
                    parts.append(region.name)
            else:
                parts.append(BAND_LABEL[b.band] if b.band is not Band.RAM else "RAM")
            return " · ".join(parts)
        return ""

    def _other_line(self, row: int, width: int, plain: Style) -> list[Segment]:
        pal = self.pal
        dim = Style(color=pal.muted.color, bgcolor=plain.bgcolor)
        if self.bands and row == self.bands[-1].first_row + self.bands[-1].rows:
            end = self.bands[-1].range.end
            return [Segment(" " + compact_hex(end).rjust(self._ruler_width) + " ", plain),
                    Segment("end of known space", dim)]
        if self.unplaced_rows and row == self.unplaced_rows[0].row - 1:
            return [Segment(" Unplaced (address chosen at boot):",
                            Style(color=pal.warn.color, bgcolor=plain.bgcolor, bold=True))]
        for u in self.unplaced_rows:
            if u.row == row:
                region = self.state.mm.region(u.region_id)
                selected = u.key == self.selected_key
                band = self.state.mm.band_of(region)
                bar_w = self._bar_width(width)
                return [Segment(SELECT_GLYPH["first"] if selected else " ",
                                Style(color=pal.accent.color, bgcolor=plain.bgcolor)),
                        Segment("?".rjust(self._ruler_width) + " ", dim),
                        Segment("?" * bar_w, pal.band_fill[band]),
                        Segment(" " * (3 if self.state.loaded.dump is not None else 2), plain),
                        Segment(f"{display_name(region)} {exact_size(region.size_bytes)} "
                                + " · ".join(self.state.mm.flags(region)),
                                Style(color=plain.color, bgcolor=plain.bgcolor, reverse=selected))]
        return [Segment(" ", plain)]

    # -- interaction ------------------------------------------------------------------
    def on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(event.size.width, len(self._row_index))

    def on_click(self, event: events.Click) -> None:
        row = event.y + int(self.scroll_offset.y)
        key = self.key_at_row(row)
        if key is not None:
            self.post_message(self.Selected(key))

    def _selected_band_index(self) -> int | None:
        for i, b in enumerate(self.bands):
            if b.key == self.selected_key:
                return i
        return None

    def _move(self, delta: int) -> None:
        keys = [b.key for b in self.bands] + [u.key for u in self.unplaced_rows]
        if not keys:
            return
        try:
            i = keys.index(self.selected_key)
            # step over further pieces of the same region
            j = i + delta
            while 0 <= j < len(keys) and keys[j] == keys[i]:
                j += delta
            j = max(0, min(len(keys) - 1, j))
        except ValueError:
            # nothing on the map selected yet (overview, a tree heading): start from what is in
            # view, not from the far end of the address space
            j = self._visible_band_index(first=delta > 0)
            if j is None:
                j = 0 if delta > 0 else len(keys) - 1
        self.post_message(self.Selected(keys[j]))

    def _visible_band_index(self, *, first: bool) -> int | None:
        top = int(self.scroll_offset.y)
        height = self.scrollable_content_region.height or self.size.height
        visible = [i for i, b in enumerate(self.bands) if top <= b.first_row < top + height]
        if not visible:
            return None
        return visible[0] if first else visible[-1]

    def action_prev_band(self) -> None:
        self._move(-1)

    def action_next_band(self) -> None:
        self._move(1)

    def action_first_band(self) -> None:
        if self.bands:
            self.post_message(self.Selected(self.bands[0].key))

    def action_last_band(self) -> None:
        keys = [b.key for b in self.bands] + [u.key for u in self.unplaced_rows]
        if keys:
            self.post_message(self.Selected(keys[-1]))
