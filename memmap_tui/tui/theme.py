"""Every colour and glyph the TUI draws, in one place, derived from the active Textual theme.

Text roles (headings, warnings, the active policy, muted notes) take the theme's own variables
(`$text-accent`, `$text-warning`, `$primary`, ...), so a light theme such as `textual-light`
stays legible. Band fills are chart colours: one per `Band`, each on a different ANSI colour
when a 16-colour terminal downgrades them (a test checks), with the glyph drawn on top in the
fill's contrast colour. Kind-coloured text (tree labels, titles) is the band colour blended
towards the theme's foreground, so it reads on dark and light backgrounds alike. Every band
also has a glyph, so the map reads under NO_COLOR, where Textual drops all colour.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rich.style import Style
from textual.color import Color

from memmap_tui.core.model import Band, Level

BAND_FILL = {
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

SHORT_LABEL = {
    Band.CRASHKERNEL: "crash", Band.NO_MAP: "nomap", Band.MEMRESERVE: "memrsv", Band.REUSABLE: "cma",
    Band.NO_DUMP: "nodump", Band.RESERVED: "rsvd", Band.MMIO: "mmio",
}   # the map legend; RAM and holes carry their own labels on the map

# The policy marker column on the map: the active policy's prediction for the band.
VMCORE_GLYPH = {"all": "●", "part": "◐", "none": "○"}
# The loaded dump, per band (one narrow column right of the policy marker on the map):
# what the vmcore file actually holds, as opposed to what a policy predicts.
DUMP_GLYPH = {"held": "■", "partly": "◧", "filtered": "□", "absent": "·"}
DUMP_LABEL = {"held": "held", "partly": "part", "filtered": "filtered", "absent": "none"}
DUMP_WHY = {
    "held": "every byte is in the dump file",
    "partly": "part of it is in the dump file (the rest filtered out or not covered)",
    "filtered": "covered by the dump, but every page was filtered out (dump level)",
    "absent": "not covered by the dump at all",
}
SELECT_GLYPH = {"first": "▶", "rest": "┃", "active": "▶"}
WARN_GLYPH = "⚠"
INFO_GLYPH = "ⓘ"


def _hex(c: Color) -> str:
    return c.hex6


@dataclass(frozen=True, slots=True)
class Palette:
    """Rich styles for every role, computed once per theme from `App.theme_variables`."""

    text: Style
    muted: Style
    heading: Style
    accent: Style          # selection marker, key names
    warn: Style
    error: Style
    ok: Style
    active: Style          # the active policy (card title, header chip)
    active_chip: Style
    brand_chip: Style
    info: Style
    base: Style            # plain text on the panel background (map rows)
    band_fill: Mapping[Band, Style]
    kind_fg: Mapping[Band, Style]
    dump_fg: Mapping[str, Style]
    vmcore_fg: Mapping[str, Style]
    level: Mapping[Level, Style]

    @classmethod
    def from_variables(cls, var: Mapping[str, str]) -> Palette:
        bg = Color.parse(var.get("surface", var.get("background", "#1e1e1e")))
        fg = Color.parse(var.get("foreground", "#e0e0e0"))
        muted = bg.blend(fg, 0.62)

        def c(name: str, fallback: str) -> str:
            return _hex(Color.parse(var.get(name, fallback)))

        warn, error, ok = c("text-warning", "#ffc473"), c("text-error", "#d17e92"), c("text-success", "#8ad4a1")
        fills = {b: Color.parse(h) for b, h in BAND_FILL.items()}
        fills[Band.HOLE] = bg.blend(fg, 0.08)   # a hole is "nothing": the background, barely marked
        band_fill = {}
        for band, fill in fills.items():
            glyph = fill.blend(fill.get_contrast_text(1.0), 0.55 if band is Band.HOLE else 0.8)
            band_fill[band] = Style(color=_hex(glyph), bgcolor=_hex(fill))
        kind_fg = {band: Style(color=_hex(fills[band].blend(fg, 0.35))) for band in Band}
        kind_fg[Band.HOLE] = Style(color=_hex(muted))
        primary = Color.parse(var.get("primary", "#0178d4"))
        return cls(
            text=Style(color=_hex(fg)),
            muted=Style(color=_hex(muted)),
            heading=Style(color=c("text-accent", "#ffc473"), bold=True),
            accent=Style(color=c("text-accent", "#ffc473"), bold=True),
            warn=Style(color=warn),
            error=Style(color=error, bold=True),
            ok=Style(color=ok),
            active=Style(color=c("text-primary", "#57a5e2"), bold=True),
            active_chip=Style(color=_hex(primary.get_contrast_text(1.0)), bgcolor=_hex(primary), bold=True),
            brand_chip=Style(color=_hex(Color.parse(var.get("accent", "#fea62b")).get_contrast_text(1.0)),
                             bgcolor=c("accent", "#fea62b"), bold=True),
            info=Style(color=c("text-accent", "#ffc473")),
            base=Style(color=_hex(fg), bgcolor=_hex(bg)),
            band_fill=band_fill,
            kind_fg=kind_fg,
            dump_fg={"held": Style(color=ok), "partly": Style(color=warn), "filtered": Style(color=warn),
                     "absent": Style(color=_hex(muted))},
            vmcore_fg={"all": Style(color=warn), "part": Style(color=warn), "none": Style(color=_hex(muted))},
            level={Level.ERROR: Style(color=error, bold=True), Level.WARNING: Style(color=warn),
                   Level.INFO: Style(color=_hex(muted))},
        )

    def on(self, style: Style) -> Style:
        """`style` on the panel background (map rows draw their own background)."""
        return Style(color=style.color, bgcolor=self.base.bgcolor, bold=style.bold)


_CACHE: dict[tuple[tuple[str, str], ...], Palette] = {}


def palette_of(variables: Mapping[str, str]) -> Palette:
    """The palette for a theme's variables (cached: a theme switch is the only recompute)."""
    key = tuple(sorted((k, v) for k, v in variables.items()
                       if k in ("surface", "background", "foreground", "primary", "accent", "text-accent",
                                "text-warning", "text-error", "text-success", "text-primary")))
    pal = _CACHE.get(key)
    if pal is None:
        pal = _CACHE[key] = Palette.from_variables(variables)
    return pal


class PaletteMixin:
    """`app.palette` for an App: `theme_variables` costs a full CSS-variable pass, so the
    palette is recomputed only when the theme (or ANSI mode) changes."""

    _palette_key: tuple[str, bool] | None = None
    _palette_value: Palette | None = None

    @property
    def palette(self) -> Palette:
        key = (self.theme, self.ansi_color)
        if self._palette_value is None or self._palette_key != key:
            self._palette_key, self._palette_value = key, palette_of(self.theme_variables)
        return self._palette_value


# Textual's default dark theme: for renderings made before an app exists (and the export
# dialog's result lines, which predate the palette).
DEFAULT = palette_of({})
