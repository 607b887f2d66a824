"""Band palette and glyphs: one colour and one glyph per `Band`, so the map reads without colour.

Colours follow the report's kind colours (crashkernel magenta, no-map red, memreserve
yellow, reusable green, reserved cyan) and add no-dump blue, RAM dark grey, MMIO light grey;
each falls on a different ANSI colour when a 16-colour terminal downgrades them (a test checks).
Glyphs are plain characters that survive NO_COLOR and 16-colour terminals.
"""

from __future__ import annotations

from rich.style import Style

from memmap_tui.core.model import Band

BAND_BG = {
    Band.CRASHKERNEL: "#b03ab0",
    Band.NO_MAP: "#c01c28",
    Band.MEMRESERVE: "#c9a227",
    Band.REUSABLE: "#33a02c",
    Band.NO_DUMP: "#2f6fd0",
    Band.RESERVED: "#1f9fa8",
    Band.RAM: "#4a4f57",
    Band.MMIO: "#8f8f8f",
    Band.HOLE: "#1c1c1c",
}

BAND_GLYPH = {
    Band.CRASHKERNEL: "K",
    Band.NO_MAP: "X",
    Band.MEMRESERVE: "M",
    Band.REUSABLE: "~",
    Band.NO_DUMP: "/",
    Band.RESERVED: "#",
    Band.RAM: "=",
    Band.MMIO: "|",
    Band.HOLE: ".",
}

BAND_LABEL = {
    Band.CRASHKERNEL: "crashkernel",
    Band.NO_MAP: "no-map",
    Band.MEMRESERVE: "/memreserve/",
    Band.REUSABLE: "reusable (CMA)",
    Band.NO_DUMP: "no-dump",
    Band.RESERVED: "reserved",
    Band.RAM: "System RAM",
    Band.MMIO: "MMIO",
    Band.HOLE: "hole",
}

# Text colour for labels of a kind (tree, details): readable on a dark background.
KIND_FG = {
    "crashkernel": "#e07ae0",
    "no-map": "#ff6b5b",
    "memreserve": "#e8c547",
    "reusable": "#4cc38a",
    "no-dump": "#6fa8ff",
    "reserved": "#4fd1d9",
    "ram": "#b0b6bf",
    "mmio": "#b0b0b0",
}


def band_style(band: Band) -> Style:
    # Light glyphs on the band colour (dark on the light MMIO grey): texture, colour dominates.
    fg = {Band.HOLE: "#6c6c6c", Band.MMIO: "#1c1c1c"}.get(band, "#f0f0f0")
    return Style(color=fg, bgcolor=BAND_BG[band])


def band_fill(band: Band, width: int) -> str:
    return BAND_GLYPH[band] * width


# The loaded dump, per band (one narrow column right of the policy marker on the map):
# what the vmcore file actually holds, as opposed to what a policy predicts.
DUMP_GLYPH = {"held": "■", "partly": "◧", "filtered": "□", "absent": "·"}
DUMP_FG = {"held": "#4cc38a", "partly": "#e8c547", "filtered": "#e8c547", "absent": "#6c7078"}
DUMP_LABEL = {"held": "held", "partly": "part", "filtered": "filtered", "absent": "none"}
DUMP_WHY = {
    "held": "every byte is in the dump file",
    "partly": "part of it is in the dump file (the rest filtered out or not covered)",
    "filtered": "covered by the dump, but every page was filtered out (dump level)",
    "absent": "not covered by the dump at all",
}
