"""The TUI on the in-repo sample board (no ../shared needed): issue 8/12 bugs and features.

Sample board facts used (sample-data/make_sample.py): camera@a4000000 32 MiB mapped and untagged,
npu@98000000 tagged linux,no-dump, modem@86000000 no-map, dsp 26.25 MiB, /memreserve/0 4 KiB.
"""

from __future__ import annotations

import asyncio

import pytest
from rich.text import Text

from memmap_tui.core.model import Band, Region, RegionKind
from memmap_tui.core.naming import display_name
from memmap_tui.core.policies import POLICIES
from memmap_tui.core.units import duration_text, exact_size, short_size
from memmap_tui.inputs import Options, load
from memmap_tui.tui import selection as sel
from memmap_tui.tui.app import MemmapApp
from memmap_tui.tui.bandmap import BandMap
from memmap_tui.tui.help import HelpScreen
from memmap_tui.tui.keys import KEYS, help_rows
from memmap_tui.tui.main_screen import MainScreen
from memmap_tui.tui.paths import shorten_middle
from memmap_tui.tui.selection import SelKind
from memmap_tui.tui.theme import BAND_FILL, palette_of
from memmap_tui.tui.widgets import InfoHeader, PolicyCard, RegionTree

from tests.conftest import REPO

SAMPLE = REPO / "sample-data"
CAMERA = "/reserved-memory/camera@a4000000"
NPU = "/reserved-memory/npu@98000000"


def sample(**kw):
    return load(Options(dtb=str(SAMPLE / "board.dtb"), iomem=str(SAMPLE / "iomem.txt"),
                        dmesg=str(SAMPLE / "dmesg.txt"), **kw))


def run(coro):
    return asyncio.run(coro)


def notes(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


# -- bugs (issue 12) ----------------------------------------------------------------------------

def test_bug1_export_resets_the_unexported_count():
    async def go():
        app = MemmapApp(sample())
        async with app.run_test(size=(160, 45)) as pilot:
            await pilot.pause()
            app.select(sel.region(CAMERA))
            await pilot.press("n")
            await pilot.pause()
            assert "1 unexported toggle" in str(app.query_one(InfoHeader).render())
            app.state.mark_exported()          # what a successful export does
            app.main.after_policy_switch()
            await pilot.pause()
            assert "unexported" not in str(app.query_one(InfoHeader).render())
            await pilot.press("q")             # nothing unexported: q quits at once
            await pilot.pause()
            assert not any("not exported" in m for m in notes(app))
    run(go())


def test_bug1_undo_after_export_is_unexported_again():
    state = MemmapApp(sample()).state
    state.toggle(CAMERA)
    state.mark_exported()
    assert state.unsaved() == set()
    state.undo()
    assert state.unsaved() == {CAMERA}


def test_bug2_textual_markup_is_rendered_ours_is_kept_literal():
    async def go():
        app = MemmapApp(sample())
        async with app.run_test(size=(120, 40), notifications=True) as pilot:
            app.notify("Press [b]ctrl+q[/b] to quit the app")
            app.notify(Text("[no-dump] [mem 0x1-0x2]"))
            await pilot.pause(0.2)
            from textual.widgets._toast import Toast
            rendered = " ".join(str(t.render()) for t in app.screen.query(Toast))
            assert "[b]" not in rendered and "ctrl+q" in rendered
            assert "[no-dump] [mem 0x1-0x2]" in rendered
    run(go())


def test_bug3_ram_mismatch_names_the_layout():
    loaded = load(Options(dtb=str(SAMPLE / "board.dtb"), ram=("8G@0x80000000",)))
    msg = next(f.message for f in loaded.mm.findings if f.code == "ram-disagree")
    assert "0x8000_0000–0x2_8000_0000" in msg and "0x8_8000_0000–0xa_0000_0000" in msg


def test_bug4_palette_and_help_list_every_app_key():
    ids = {k.id for k in KEYS}
    assert {"toggle-tree", "overview", "copy-range", "filter-kind", "sort"} <= ids
    keys_in_help = {row[0] for row in help_rows()}
    assert {"t", "o", "c", "f", "s", "?", "q"} <= keys_in_help

    async def go():
        app = MemmapApp(sample())
        async with app.run_test(size=(120, 40)) as pilot:
            from memmap_tui.tui.commands import MemmapCommands
            provider = MemmapCommands(app.screen)
            listed = {key for _name, _cb, key in provider._commands() if key}
            assert {"t", "o", "c", "?", "/", "e", "n", "p"} <= listed
            await pilot.pause()
    run(go())


def test_bug5_paths_are_shown_as_typed_and_cut_in_the_middle():
    async def go():
        app = MemmapApp(load(Options(dtb="sample-data/board.dtb", iomem="sample-data/iomem.txt")))
        async with app.run_test(size=(200, 40)) as pilot:
            await pilot.pause()
            header = str(app.query_one(InfoHeader).render())
            assert "sample-data/board.dtb" in header and str(REPO) not in header
    import os
    old = os.getcwd()
    os.chdir(REPO)
    try:
        run(go())
    finally:
        os.chdir(old)
    assert shorten_middle("../shared/corpus/dtb/qcom/sm8450-hdk.dtb", 24) == "../share…/sm8450-hdk.dtb"


# -- typed selection, main screen, breakpoints ------------------------------------------------

def test_selection_is_typed_and_watched_by_map_and_tree():
    async def go():
        app = MemmapApp(sample())
        async with app.run_test(size=(160, 45)) as pilot:
            assert isinstance(app.screen, MainScreen)
            app.select(sel.region(CAMERA))
            await pilot.pause()
            assert app.query_one(BandMap).selected_key == sel.region(CAMERA)
            assert app.query_one(RegionTree).cursor_node.data == sel.region(CAMERA)
            found, _ = app.state.find("0xa6000000")
            assert found.kind is SelKind.RAM and found.range.start == 0x8000_0000
    run(go())


def test_breakpoints_switch_the_narrow_layout():
    async def go():
        app = MemmapApp(sample())
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            assert app.screen.has_class("-narrow") and not app.query_one(RegionTree).display
            await pilot.resize_terminal(160, 45)
            await pilot.pause()
            assert app.screen.has_class("-wide") and app.query_one(RegionTree).display
    run(go())


# -- narrow terminal (80x24) ---------------------------------------------------------------------

def test_80x24_footer_keeps_help_and_quit_and_the_map_has_12_rows():
    async def go():
        app = MemmapApp(sample())
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            from textual.widgets import Footer
            footer = app.query_one(Footer)
            shown = [k for k in footer.query("FooterKey") if k.region.right <= 80 and k.display]
            texts = " ".join(str(k.render()) for k in shown)
            assert "Help" in texts and "Quit" in texts and "Tree" in texts
            assert app.query_one(BandMap).size.height >= 12
    run(go())


def test_80x24_cards_never_cut_their_figures():
    async def go():
        app = MemmapApp(sample())
        async with app.run_test(size=(80, 24)) as pilot:
            app.select(sel.region(CAMERA))
            await pilot.press("n")
            await pilot.pause()
            for p in POLICIES:
                card = app.query_one(f"#policy-{p.id}", PolicyCard)
                lines = str(card.render()).splitlines()
                assert max(len(x) for x in lines) <= card.content_region.width, lines
                assert not any("…" in x for x in lines)
    run(go())


# -- cards, clicks, copy ------------------------------------------------------------------------

def test_clicking_a_policy_card_makes_it_active():
    async def go():
        app = MemmapApp(sample())
        async with app.run_test(size=(160, 45)) as pilot:
            last = list(POLICIES.ids)[-1]
            await pilot.click(f"#policy-{last}")
            await pilot.pause()
            assert app.state.policy == last
            assert app.query_one(f"#policy-{last}").has_class("-active")
    run(go())


def test_c_copies_the_selected_range_in_kernel_form():
    async def go():
        app = MemmapApp(sample())
        async with app.run_test(size=(160, 45)) as pilot:
            await pilot.pause()
            app.select(sel.region(CAMERA))
            await pilot.press("c")
            await pilot.pause()
            assert app.clipboard == "[mem 0x00000000a4000000-0x00000000a5ffffff]"
            app.select(sel.OVERVIEW)
            await pilot.press("c")
            await pilot.pause()
            assert any("select a placed region" in m for m in notes(app))
    run(go())


# -- notifications ------------------------------------------------------------------------------

def test_repeated_toasts_collapse_and_the_proposal_note_is_full_once():
    async def go():
        app = MemmapApp(sample())
        async with app.run_test(size=(160, 45)) as pilot:
            for _ in range(3):
                await pilot.press("u")      # nothing to undo, three times
                await pilot.pause()
            shown = notes(app)
            assert shown.count("nothing to undo") == 0 and "nothing to undo (×3)" in shown
            app.select(sel.region(CAMERA))
            await pilot.press("n")
            await pilot.pause()
            await pilot.press("n")
            await pilot.pause()
            toggles = [m for m in notes(app) if m.startswith("linux,no-dump")]
            assert "Neither is in mainline" in toggles[0] and "Neither" not in toggles[1]
            assert "v1 proposal only" in toggles[1]
    run(go())


# -- toggles redraw only what changed ----------------------------------------------------------

def test_toggle_relabels_one_tree_node_and_keeps_the_map_layout():
    async def go():
        app = MemmapApp(sample())
        async with app.run_test(size=(160, 45)) as pilot:
            await pilot.pause()
            bm, tree = app.query_one(BandMap), app.query_one(RegionTree)
            bands_before = [(b.range, b.first_row, b.rows) for b in bm.bands]
            width_before = tree.styles.width
            calls = []
            bm.rebuild = lambda: calls.append("rebuild")     # a full relayout would call it
            assert tree.relabel({CAMERA}) == 1
            app.select(sel.region(CAMERA))
            await pilot.press("n")
            await pilot.pause()
            assert calls == []
            assert [(b.range, b.first_row, b.rows) for b in bm.bands] == bands_before
            assert next(b for b in bm.bands if b.region_id == CAMERA).band is Band.NO_DUMP
            assert tree.styles.width == width_before
    run(go())


# -- tree: filter, sort, largest, totals -----------------------------------------------------------

def test_tree_filter_sort_and_largest():
    async def go():
        app = MemmapApp(sample())
        async with app.run_test(size=(160, 45)) as pilot:
            tree = app.query_one(RegionTree)
            await pilot.press("f")
            await pilot.pause()
            kind = tree.kind_filter
            regions = [app.state.mm.region(d.region_id) for d in tree.nodes if d.region_id]
            assert regions and all(app.state.mm.band_of(r) is kind for r in regions)
            await pilot.press("s")    # by size
            await pilot.pause()
            await pilot.press("s")    # largest, every kind shown with the filter
            await pilot.pause()
            sizes = [app.state.mm.region(d.region_id).size_bytes for d in tree.nodes if d.region_id]
            assert sizes == sorted(sizes, reverse=True)
    run(go())


def test_overview_has_totals_per_kind():
    state = MemmapApp(sample()).state
    totals = {band: (n, size) for band, n, size in state.kind_totals()}
    assert totals[Band.MEMRESERVE] == (1, 4096)
    assert totals[Band.CRASHKERNEL] == (1, 512 << 20)


# -- names, units, theme ---------------------------------------------------------------------------

def test_display_name_rule():
    r = Region(id="/reserved-memory/memory@8bc00000", name="memory@8bc00000", kind=RegionKind.RESERVED)
    assert display_name(r) == "memory@8bc00000"
    r.compatible = ("qcom,smem",)
    assert display_name(r) == "qcom,smem"
    r.users = ("/soc@0/remoteproc@4080000", "/soc@0/other@1")
    assert display_name(r) == "remoteproc@4080000 +1"
    r.labels = ("mpss_mem",)
    assert display_name(r) == "mpss_mem"


def test_sizes_are_exact_and_cards_short():
    assert exact_size(0x7FE0_0000) == "2046 MiB"
    assert exact_size(5888 << 10) == "5.75 MiB"
    assert exact_size(3 << 29) == "1.5 GiB"
    assert exact_size(4097) == "4097 B"
    assert short_size(7_739_136 << 10) == "≈7.38 GiB"   # no seven-digit KiB on a card
    assert short_size(96 << 20) == "96 MiB"
    assert duration_text(79.24) == "1 min 19.2 s"


@pytest.mark.parametrize("theme", ["textual-dark", "textual-light"])
def test_kind_text_contrasts_with_the_theme_background(theme):
    from textual.color import Color

    async def go():
        app = MemmapApp(sample())
        async with app.run_test(size=(120, 40)) as pilot:
            app.theme = theme
            await pilot.pause()
            pal = palette_of(app.theme_variables)
            bg = Color.parse(app.theme_variables["surface"])
            for band in Band:
                fg = Color.parse(pal.kind_fg[band].color.triplet.hex)
                assert abs(fg.brightness - bg.brightness) > 0.2, (band, theme)
    run(go())


def test_band_fills_stay_distinct_in_16_colours():
    from rich.color import Color, ColorSystem
    numbers = {b: Color.parse(c).downgrade(ColorSystem.STANDARD).number for b, c in BAND_FILL.items()}
    assert len(set(numbers.values())) == len(numbers)


def test_help_screen_is_built_from_the_key_table():
    async def go():
        app = MemmapApp(sample())
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("question_mark")
            await pilot.pause()
            assert isinstance(app.screen, HelpScreen)
            import os
            from rich.console import Console
            console = Console(width=200, record=True, file=open(os.devnull, "w"))
            for static in app.screen.query("Static"):
                console.print(static.content)
            text = console.export_text()
            for key in KEYS:
                assert key.description[:40] in text
            for p in POLICIES:
                assert p.id in text
    run(go())


def test_toasts_stay_off_the_policy_cards_at_80x24():
    from textual.widgets._toast import Toast

    async def go():
        app = MemmapApp(sample())
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            await pilot.pause()
            app.select(sel.region(CAMERA))
            await pilot.press("n")
            await pilot.pause(0.3)
            toast = app.screen.query(Toast).first()
            assert not toast.region.overlaps(app.query_one("#savings").region)
    run(go())


def test_jump_undo_redo_and_policy_cycle_on_the_sample_board():
    async def go():
        app = MemmapApp(sample())
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            await pilot.press("slash", *"camera_mem", "enter")
            await pilot.pause()
            assert app.selection == sel.region(CAMERA)
            saving = app.state.results["no-dump-v1"].savings_bytes
            await pilot.press("n")
            await pilot.pause()
            assert app.state.results["no-dump-v1"].savings_bytes == saving + (32 << 20)
            await pilot.press("u")
            await pilot.pause()
            assert app.state.results["no-dump-v1"].savings_bytes == saving
            await pilot.press("ctrl+r")
            await pilot.pause()
            assert app.state.unsaved() == {CAMERA}
            ids = list(POLICIES.ids)
            for expected in ids[1:] + ids[:1]:
                await pilot.press("p")
                await pilot.pause()
                assert app.state.policy == expected
    run(go())


def test_zoom_changes_band_rows_and_says_the_level():
    async def go():
        app = MemmapApp(sample())
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            bm = app.query_one(BandMap)
            before = len(bm._row_index)
            await pilot.press("plus")
            await pilot.pause()
            assert len(bm._row_index) > before
            assert any(m.startswith("zoom ") for m in notes(app))
    run(go())


def test_no_color_keeps_a_glyph_per_band(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")

    async def go():
        app = MemmapApp(sample())
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            bm = app.query_one(BandMap)
            glyph_at = 1 + bm._ruler_width + 1
            seen: dict[Band, set[str]] = {}
            for b in bm.bands:
                text = "".join(s.text for s in bm._band_line(b, b.first_row, 80, bm.rich_style))
                seen.setdefault(b.band, set()).add(text[glyph_at])
            assert all(len(g) == 1 for g in seen.values())
            assert len({next(iter(g)) for g in seen.values()}) == len(seen)
    run(go())
