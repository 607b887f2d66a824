"""Second pass on the TUI as a user: each test pins a bug found in tmux or a gap closed.

Dump figures are checked against readelf's listing and makedumpfile's own log stored in the
corpus, not against numbers our readers produced.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess

import pytest

from memmap_tui.core.model import Band
from memmap_tui.inputs import Options, load
from memmap_tui.core.ranges import Range
from memmap_tui.tui import selection as sel
from memmap_tui.tui.app import MemmapApp
from memmap_tui.tui.selection import SelKind
from memmap_tui.tui.bandmap import BandMap
from memmap_tui.tui.export_dialog import ExportScreen, Tick
from memmap_tui.tui.jump import JumpScreen
from memmap_tui.tui.state import TuiState, dump_mark_of
from memmap_tui.tui.widgets import MapLegend, PolicyCard, RegionTree

from tests.conftest import BOOT_IOMEM, CONSOLE_LOG, CORPUS, REPO, RSV_DTB, needs_corpus, needs_dtc
from tests.test_vmcore_corpus import d31_elf_rebuilt, readelf_d31_loads  # noqa: F401 (fixture)


SAMPLE = REPO / "sample-data"
VM = CORPUS / "vmcore"
D31_META = VM / "qemu-aarch64.d31.kdump.meta-only"
FLAT = VM / "qemu-aarch64.kdump-zlib.flat"


def ram_at(addr: int) -> sel.Selection:
    """The first RAM bank of the corpus board (1 GiB at 0x4000_0000) or of the sample board."""
    return sel.ram({0x4000_0000: Range(0x4000_0000, 0x8000_0000),
                    0x8000_0000: Range(0x8000_0000, 0x1_0000_0000)}[addr])


def run(coro):
    return asyncio.run(coro)


def rsv(**kw):
    return load(Options(dtb=str(RSV_DTB), iomem=str(BOOT_IOMEM), dmesg=str(CONSOLE_LOG), **kw))


def sample():
    return load(Options(dtb=str(SAMPLE / "board.dtb"), iomem=str(SAMPLE / "iomem.txt"),
                        dmesg=str(SAMPLE / "dmesg.txt")))


def map_text(bm: BandMap, row: int, width: int = 60) -> str:
    b = bm.band_at_row(row)
    return "".join(s.text for s in bm._band_line(b, row, width, bm.rich_style))


# -- jump: odd inputs --------------------------------------------------------------------------

def test_jump_odd_inputs_say_what_is_wrong():
    state = TuiState(sample())
    key, why = state.find("0x")
    assert key is None and "not a hex address" in why
    key, why = state.find("0xzz")
    assert key is None and "not a hex address" in why
    key, why = state.find("&")            # used to match every region ("first of 11")
    assert key is None and "label after &" in why
    key, why = state.find("0x1" + "0" * 16)   # 2**64: no physical address
    assert key is None and "64-bit" in why
    key, why = state.find("0x10")         # below everything known: nothing to show
    assert key is None and "no known region" in why
    key, why = state.find("reserved-memory")   # ambiguous: the others are named, to type more
    assert key == sel.region("/reserved-memory/modem@86000000")
    assert "first of 9" in why and "also wlan@8c000000, dsp@8e000000" in why


def test_jump_to_an_address_in_a_hole_selects_the_hole_row():
    """0x1_0000_0000 lies in the sample board's 30 GiB hole between its RAM banks: the map draws
    that hole as a row, so the jump selects it instead of saying nothing is there."""
    loaded = sample()
    banks = list(loaded.mm.ram)
    gap_start, gap_end = banks[0].end, banks[1].start
    assert gap_start <= 0x1_0000_0000 < gap_end

    async def go():
        app = MemmapApp(loaded)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("slash")
            await pilot.pause()
            await pilot.press(*"0x1_0000_0000")
            await pilot.pause()
            hint = str(app.screen.query_one("#jump-hint").render())
            assert "hole" in hint
            await pilot.press("enter")
            await pilot.pause()
            assert not isinstance(app.screen, JumpScreen)
            assert app.selection == sel.hole(Range(gap_start, gap_end))
            bm = app.query_one(BandMap)
            row = bm.rows_of(app.selection)[0]
            assert bm.band_at_row(row).band is Band.HOLE
            top = int(bm.scroll_offset.y)
            assert top <= row < top + bm.size.height          # scrolled into view
            assert map_text(bm, row).startswith("▶")          # and marked
    run(go())


# -- band map keyboard -------------------------------------------------------------------------

@needs_corpus
def test_map_down_from_the_overview_starts_where_the_map_is_scrolled():
    """The map opens scrolled to RAM; ↓ used to jump to the first MMIO window at 0x0900_0000."""
    async def go():
        app = MemmapApp(rsv())
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            bm = app.query_one(BandMap)
            assert app.focused is bm and app.selection == sel.OVERVIEW
            top = int(bm.scroll_offset.y)
            assert top > 0
            first_visible = next(b for b in bm.bands if b.first_row >= top)
            await pilot.press("down")
            await pilot.pause()
            assert app.selection == first_visible.key == ram_at(0x4000_0000)
            await pilot.press("down")
            await pilot.pause()
            assert app.selection == sel.region("/reserved-memory/firmware@4c000000")
    run(go())


# -- the loaded dump on the band map -----------------------------------------------------------

def _mdf_log_pages() -> dict[str, int]:
    text = (CORPUS / "boot/mdf-d31-kdump.log").read_text()
    grab = lambda label: int(re.search(label + r"\s*:\s*0x([0-9a-f]+)", text).group(1), 16)
    return {"zero": grab("Pages filled with zero"), "remaining": grab("Remaining pages")}


@needs_corpus
def test_dump_column_on_the_map_adds_up_to_makedumpfiles_log():
    """The d31 kdump file (cut after its metadata): the map's dump column, summed over the
    bands, holds exactly the pages makedumpfile says it kept (remaining + zero pages, which
    the 2nd bitmap keeps), and a column of glyphs appears only when a dump is loaded."""
    if not D31_META.exists():
        pytest.skip("d31 kdump not in corpus")
    loaded = rsv(vmcore=str(D31_META))
    log = _mdf_log_pages()

    async def go():
        app = MemmapApp(loaded)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            bm = app.query_one(BandMap)
            present = sum(app.state.dump_presence(b.range)[1] for b in bm.bands)
            assert present == (log["remaining"] + log["zero"]) * 4096
            marks = [app.state.dump_mark(b.range) for b in bm.bands]   # pieces of a bank share a key
            # d31 filters free and zero pages: plain RAM is partly kept, never wholly absent
            ram = [m for b, m in zip(bm.bands, marks) if b.band is Band.RAM]
            assert ram and "absent" not in ram and "partly" in ram
            # the glyph is drawn right of the policy marker, on every band's first row
            col = 1 + bm._ruler_width + 1 + bm._bar_width(60) + 1
            glyphs = {"held": "■", "partly": "◧", "filtered": "□", "absent": "·"}
            for b, mark in zip(bm.bands, marks):
                cell = map_text(bm, b.first_row)[col]
                if b.band is Band.HOLE:
                    assert cell == " " and mark == "absent"
                else:
                    assert cell == glyphs[mark], (b.key, cell)
            legend = str(app.query_one(MapLegend).render())
            assert "dump" in legend and "■" in legend and "filtered" in legend
    run(go())

    async def without():
        app = MemmapApp(rsv())
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            bm = app.query_one(BandMap)
            assert all(app.state.dump_mark(b.range) is None for b in bm.bands)
            assert "■" not in str(app.query_one(MapLegend).render())
            text = map_text(bm, bm.bands[0].first_row)
            assert not set(text) & {"■", "◧", "□"}
    run(without())


@needs_corpus
def test_dump_column_matches_readelf_for_makedumpfile_elf(d31_elf_rebuilt):  # noqa: F811
    """makedumpfile -E: every band's mark follows from readelf's PT_LOAD list (p_memsz covered,
    p_filesz present), computed here from the listing, not from our ELF reader."""
    loads = readelf_d31_loads()      # (offset, vaddr, paddr, filesz, memsz)

    def overlap(rng, spans):
        return sum(max(0, min(rng.end, e) - max(rng.start, s)) for s, e in spans)

    covered = [(pa, pa + memsz) for _o, _v, pa, _f, memsz in loads]
    present = [(pa, pa + filesz) for _o, _v, pa, filesz, _m in loads]
    loaded = rsv(vmcore=str(d31_elf_rebuilt))

    async def go():
        app = MemmapApp(loaded)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            seen = set()
            for b in app.query_one(BandMap).bands:
                want = dump_mark_of(b.range.size_bytes, overlap(b.range, covered), overlap(b.range, present))
                assert app.state.dump_mark(b.range) == want, b.key
                seen.add(want)
            assert {"partly", "absent"} <= seen
            # the details of the crash kernel say the same as its map cell, in words
            app.select(sel.region("crashkernel"))
            await pilot.pause()
            from tests.test_tui_app import details_text
            text = details_text(app)
            assert "In this dump file" in text and "map" in text
    run(go())


# -- export dialog -----------------------------------------------------------------------------

def test_export_checkboxes_read_without_colour(monkeypatch):
    """Textual draws `X` for on and off alike (colour only); under NO_COLOR that lied."""
    monkeypatch.setenv("NO_COLOR", "1")

    async def go():
        app = MemmapApp(sample())
        async with app.run_test(size=(120, 40)) as pilot:
            app.select(sel.region("/reserved-memory/camera@a4000000"))
            await pilot.press("n", "e")
            await pilot.pause()
            on, off = app.screen.query_one("#want-dtb", Tick), app.screen.query_one("#want-overlay", Tick)
            assert on.value and not off.value
            assert "X" in str(on.render()) and "X" not in str(off.render())
            off.value = True
            await pilot.pause()
            assert "X" in str(off.render())
    run(go())


def _export_dts(tmp_path, *, override: bool) -> tuple[str, str]:
    out = tmp_path / f"video-{override}.patch"

    async def go():
        app = MemmapApp(sample())
        async with app.run_test(size=(120, 40)) as pilot:
            app.select(sel.region("/reserved-memory/video-pool"))   # defined in soc.dtsi
            await pilot.pause()            # the selection lands before `n` is pressed
            await pilot.press("n", "e")
            await pilot.pause()
            s = app.screen
            assert isinstance(s, ExportScreen)
            s.query_one("#want-dtb").value = False
            s.query_one("#want-dts").value = True
            s.query_one("#dtsi-override").value = override
            s.query_one("#out-dts").value = str(out)
            await pilot.press("ctrl+s")
            for _ in range(200):
                await pilot.pause(0.1)
                text = str(s.query_one("#export-result").render())
                if "wrote" in text or "✗" in text:
                    break
            return text
    text = run(go())
    assert out.exists(), text
    return text, out.read_text()


@needs_dtc
def test_export_dialog_offers_the_dtsi_override(tmp_path):
    if shutil.which("cpp") is None or shutil.which("patch") is None:
        pytest.skip("cpp / patch not installed")
    result, diff = _export_dts(tmp_path, override=True)
    assert "wrote" in result
    assert "+++ b/sample-data/board.dts" in diff and "soc.dtsi" not in diff
    assert "+&video_pool {" in diff
    result, diff = _export_dts(tmp_path, override=False)
    assert "+++ b/sample-data/soc.dtsi" in diff
    # the engine words its advice once, for the CLI and the dialog; the dialog shows it as is
    assert "its box in the export dialog" in result
    for d in (diff,):
        check = subprocess.run(["patch", "-p1", "--dry-run", "-d", str(REPO)], input=d,
                               capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr


def test_export_dialog_scrolls_on_a_short_terminal():
    """At 60x16 the buttons used to be cut off below the dialog's frame."""
    async def go():
        app = MemmapApp(sample())
        async with app.run_test(size=(60, 16)) as pilot:
            app.select(sel.region("/reserved-memory/camera@a4000000"))
            await pilot.pause()            # the selection lands before `n` is pressed
            await pilot.press("n", "e")
            await pilot.pause()
            box = app.screen.query_one("#export-box")
            assert box.max_scroll_y > 0
            go_btn = app.screen.query_one("#export-go")
            go_btn.focus()
            await pilot.pause(0.3)
            assert box.region.contains_region(go_btn.region)
    run(go())


# -- region tree width ---------------------------------------------------------------------------

def test_tree_width_follows_its_labels():
    async def at(size):
        app = MemmapApp(sample())
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            tree = app.query_one(RegionTree)
            if not tree.display:
                await pilot.press("t")
                await pilot.pause()
            return tree.outer_size.width, tree.content_width(), tree.virtual_size.width

    wide, need, virtual = run(at((200, 60)))
    assert need == virtual                  # our estimate is what Textual lays out
    assert wide >= need + 1 > 31            # every label whole: wider than the old fixed 30
    mid, mid_need, _ = run(at((160, 45)))
    assert mid == min(40, mid_need + 2)     # its labels, up to a quarter of the screen
    mid, _, _ = run(at((120, 40)))
    assert mid == 30                        # never narrower than the old fixed width
    narrow, _, _ = run(at((80, 24)))
    assert narrow <= 30                     # 80x24 keeps map and details readable


def test_cut_tree_label_shows_in_full_as_tooltip():
    async def go():
        app = MemmapApp(sample())
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            tree = app.query_one(RegionTree)
            node = tree.nodes[sel.region("/reserved-memory/linux,cma@c8000000")]
            assert node.label.cell_len + 2 > tree.scrollable_content_region.width   # it is cut
            tree.hover_line = node.line
            await pilot.pause()
            assert str(tree.tooltip) == node.label.plain
            short = tree.nodes[sel.region("/memreserve/0")]
            tree.hover_line = short.line
            await pilot.pause()
            assert tree.tooltip is None
    run(go())


# -- corpus boards ---------------------------------------------------------------------------------

@needs_corpus
def test_generic_carveout_names_show_their_compatible_and_ram_unknown_fits():
    """sm8450-hdk names 43 carveouts `memory@…` with no labels (no __symbols__): the map's second
    row shows the compatible where there is one; without --ram the cards say what to do in full."""
    loaded = load(Options(dtb=str(CORPUS / "dtb/qcom/sm8450-hdk.dtb")))

    async def go():
        app = MemmapApp(loaded)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            bm = app.query_one(BandMap)
            smem = next(b for b in bm.bands if b.region_id == "/reserved-memory/memory@80900000")
            assert "qcom,smem" in map_text(bm, smem.first_row, 80)          # its name: the compatible
            assert "memory@80900000" in map_text(bm, smem.first_row + 1, 80)  # the node name under it
            for p in ("today", "no-dump-v1", "exclude-reserved"):
                card = app.query_one(f"#policy-{p}", PolicyCard)
                lines = card.render().plain.splitlines() if hasattr(card.render(), "plain") else str(card.render()).splitlines()
                assert "RAM unknown (--ram)" in lines[1]
                assert max(len(x) for x in lines) <= card.size.width
    run(go())


def test_palette_toggle_selects_the_region_it_changed():
    """Toggling from the command palette left the details on the overview: nothing showed what moved."""
    async def go():
        app = MemmapApp(sample())
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            assert app.selection == sel.OVERVIEW
            before = app.state.results["no-dump-v1"].savings_bytes
            await pilot.press("ctrl+p")
            await pilot.pause()
            await pilot.press(*"Set linux,no-dump on /reserved-memory/gpu@90000000")
            await pilot.pause(0.3)
            await pilot.press("enter")
            await pilot.pause()
            gpu = "/reserved-memory/gpu@90000000"
            assert app.state.results["no-dump-v1"].savings_bytes - before == 96 << 20
            assert app.selection == sel.region(gpu)
            assert app.query_one(BandMap).selected_key == sel.region(gpu)
    run(go())


@needs_corpus
def test_dump_only_mode_export_says_there_is_no_dtb():
    """--vmcore with --iomem and no DTB: `e` used to open a dialog offering board.no-dump.dtb."""
    if not FLAT.exists():
        pytest.skip("flattened dump not in corpus")
    loaded = load(Options(vmcore=str(FLAT), iomem=str(BOOT_IOMEM)))

    async def go():
        app = MemmapApp(loaded)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            await pilot.press("e")
            await pilot.pause()
            assert not isinstance(app.screen, ExportScreen)
            assert any("none is loaded" in str(n.message) for n in app._notifications)
            app.select(ram_at(0x4000_0000))
            await pilot.pause()
            from tests.test_tui_app import details_text
            assert "1 reserved region inside" in details_text(app)   # the crash kernel
    run(go())


def test_tree_on_a_narrow_terminal_takes_the_maps_place():
    """At 80x24, `t` squeezed the details to ~10 columns (tree 30 + map 38 + details)."""
    async def go():
        app = MemmapApp(sample())
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            tree, mapcol = app.query_one(RegionTree), app.query_one("#map-col")
            details = app.query_one("#details-scroll")
            assert not tree.display and mapcol.display
            await pilot.press("t")
            await pilot.pause()
            assert tree.display and not mapcol.display and app.focused is tree
            assert details.size.width >= 36
            await pilot.press("down", "down")      # the tree drives the details as before
            await pilot.pause()
            assert app.selection.kind is SelKind.RAM
            await pilot.press("t")
            await pilot.pause()
            assert not tree.display and mapcol.display and app.focused is app.query_one(BandMap)
    run(go())


def test_resize_under_a_dialog_reaches_the_main_screen():
    """A resize with the export dialog open set the layout class on the dialog, not the main screen."""
    async def go():
        app = MemmapApp(sample())
        async with app.run_test(size=(200, 50)) as pilot:
            app.select(sel.region("/reserved-memory/camera@a4000000"))
            await pilot.press("n", "e")
            await pilot.pause()
            assert isinstance(app.screen, ExportScreen)
            await pilot.resize_terminal(80, 24)
            await pilot.pause()
            assert not app.screen.has_class("-narrow")
            await pilot.press("escape")
            await pilot.pause()
            assert app.screen.has_class("-narrow") and not app.query_one(RegionTree).display
            await pilot.resize_terminal(200, 50)
            await pilot.pause()
            assert not app.screen.has_class("-narrow") and app.query_one(RegionTree).display
    run(go())
