"""Drive the TUI with Pilot as a user does and assert the numbers that change.

Real inputs: the corpus QEMU DTB with six carveouts, the real guest /proc/iomem and boot log.
"""

from __future__ import annotations

import asyncio
import os

import pytest
from rich.segment import Segment
from rich.text import Text

from memmap_tui.core.model import Band
from memmap_tui.core.policy import TOGGLE_WHY, ToggleEffect
from memmap_tui.core.units import exact_size, short_size
from memmap_tui.inputs import Options, load
from memmap_tui.core.ranges import Range
from memmap_tui.tui import selection as sel
from memmap_tui.tui.app import MemmapApp
from memmap_tui.tui.selection import SelKind
from memmap_tui.tui.bandmap import BandMap, band_rows, layout
from memmap_tui.tui.export_dialog import ExportScreen
from memmap_tui.tui.help import HelpScreen
from memmap_tui.tui.jump import JumpScreen
from memmap_tui.tui.state import TuiState
from memmap_tui.tui.widgets import PolicyCard, RegionTree

from tests.conftest import BOOT_IOMEM, CONSOLE_LOG, CORPUS, RSV_DTB, needs_corpus, needs_dtc

pytestmark = needs_corpus

GPU = "/reserved-memory/gpu-mem@50000000"      # 32 MiB, mapped, tagged linux,no-dump in the DTB
FIRMWARE = "/reserved-memory/firmware@4c000000"  # no-map
CMA = "/reserved-memory/linux,cma@58000000"      # reusable
MIB = 1 << 20
SIZE = (160, 45)


def rsv(**kw) -> object:
    return load(Options(dtb=str(RSV_DTB), iomem=str(BOOT_IOMEM), dmesg=str(CONSOLE_LOG), **kw))


def ram_at(addr: int) -> sel.Selection:
    """The first RAM bank of the corpus board (1 GiB at 0x4000_0000) or of the sample board."""
    return sel.ram({0x4000_0000: Range(0x4000_0000, 0x8000_0000),
                    0x8000_0000: Range(0x8000_0000, 0x1_0000_0000)}[addr])


def run(coro):
    return asyncio.run(coro)


def notes(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


def card_text(app, policy: str) -> str:
    return str(app.query_one(f"#policy-{policy}", PolicyCard).render())


def details_text(app) -> str:
    static = app.query_one("#details")
    from rich.console import Console
    console = Console(width=200, record=True, file=open(os.devnull, "w"))
    console.print(static.content)
    return console.export_text()


async def jump(pilot, text: str) -> None:
    await pilot.press("slash")
    await pilot.pause()
    await pilot.press(*text)
    await pilot.press("enter")
    await pilot.pause()


def test_toggle_on_mapped_32mib_carveout_moves_v1_saving_by_exactly_32mib():
    async def go():
        app = MemmapApp(rsv(dump=("gpu-mem@50000000",)))   # start with the tag cleared
        async with app.run_test(size=SIZE) as pilot:
            await jump(pilot, "gpu-mem")
            assert app.selection == sel.region(GPU)
            before = {p: r.savings_bytes for p, r in app.state.results.items()}
            v1_card_before = card_text(app, "no-dump-v1")
            await pilot.press("n")
            await pilot.pause()
            after = {p: r.savings_bytes for p, r in app.state.results.items()}
            assert after["no-dump-v1"] - before["no-dump-v1"] == 32 * MIB
            assert after["today"] == before["today"] == 0
            assert after["exclude-reserved"] == before["exclude-reserved"]  # needs no tag
            # every number on screen moved with it
            assert f"saves {short_size(after['no-dump-v1'])}" in card_text(app, "no-dump-v1")
            assert card_text(app, "no-dump-v1") != v1_card_before
            assert app.state.mm.no_dump(app.state.mm.region(GPU))
            assert any("no-dump-v1 saving +32 MiB" in m for m in notes(app))
            # the band on the map is now drawn as no-dump
            bands = {b.region_id: b.band for b in app.query_one(BandMap).bands}
            assert bands[GPU] is Band.NO_DUMP
            # the tree label carries the flag (back to what the DTB says: no "changed" star)
            label = str(app.query_one(RegionTree).nodes[sel.region(GPU)].label)
            assert label.endswith("no-dump")
            # toggle back off: exactly the reverse
            await pilot.press("n")
            await pilot.pause()
            assert app.state.results["no-dump-v1"].savings_bytes == before["no-dump-v1"]
    run(go())


def test_toggle_no_map_moves_nothing_and_says_why():
    async def go():
        app = MemmapApp(rsv())
        async with app.run_test(size=SIZE) as pilot:
            await jump(pilot, "firmware")
            before = {p: r.savings_bytes for p, r in app.state.results.items()}
            await pilot.press("n")
            await pilot.pause()
            after = {p: r.savings_bytes for p, r in app.state.results.items()}
            assert after == before
            assert any(TOGGLE_WHY[ToggleEffect.REDUNDANT_NO_MAP] in m for m in notes(app))
            assert TOGGLE_WHY[ToggleEffect.REDUNDANT_NO_MAP] in details_text(app)
    run(go())


def test_toggle_reusable_is_ignored_and_memreserve_is_refused():
    async def go():
        app = MemmapApp(rsv())
        async with app.run_test(size=SIZE) as pilot:
            await jump(pilot, "linux,cma")
            assert app.selection == sel.region(CMA)
            before = app.state.results["no-dump-v1"].savings_bytes
            await pilot.press("n")
            await pilot.pause()
            assert app.state.results["no-dump-v1"].savings_bytes == before
            assert any(TOGGLE_WHY[ToggleEffect.IGNORED_REUSABLE] in m for m in notes(app))
            await jump(pilot, "/memreserve/0")
            assert app.selection == sel.region("/memreserve/0")
            overrides = dict(app.state.mm.no_dump_overrides)
            await pilot.press("n")
            await pilot.pause()
            assert app.state.mm.no_dump_overrides == overrides
            assert any("not a DT node" in m for m in notes(app))
    run(go())


def test_undo_redo_restore_the_numbers():
    async def go():
        app = MemmapApp(rsv())
        async with app.run_test(size=SIZE) as pilot:
            start = app.state.results["no-dump-v1"].savings_bytes
            await jump(pilot, "gpu-mem")
            await pilot.press("n")
            await pilot.pause()
            toggled = app.state.results["no-dump-v1"].savings_bytes
            assert start - toggled == 32 * MIB     # the DTB had it tagged: clearing costs 32 MiB
            label = str(app.query_one(RegionTree).nodes[sel.region(GPU)].label)
            assert label.endswith("dump*")         # changed from the loaded DTB
            await pilot.press("u")
            await pilot.pause()
            assert app.state.results["no-dump-v1"].savings_bytes == start
            assert app.state.mm.no_dump_overrides == {}
            await pilot.press("ctrl+r")
            await pilot.pause()
            assert app.state.results["no-dump-v1"].savings_bytes == toggled
            await pilot.press("u", "u")   # a second undo has nothing left
            await pilot.pause()
            assert any("nothing to undo" in m for m in notes(app))
    run(go())


def test_policy_switch_redraws_the_vmcore_markers():
    async def go():
        app = MemmapApp(rsv())
        async with app.run_test(size=SIZE) as pilot:
            bm = app.query_one(BandMap)
            gpu = next(b for b in bm.bands if b.region_id == GPU)
            assert app.state.policy == "today"
            assert app.state.dumped_fraction(gpu.range) == 1.0
            await pilot.press("p")
            await pilot.pause()
            assert app.state.policy == "no-dump-v1"
            assert app.state.dumped_fraction(gpu.range) == 0.0
            assert "no-dump-v1" in str(app.query_one("#header").render())
            assert app.query_one("#policy-no-dump-v1", PolicyCard).has_class("-active")
            await pilot.press("p", "p")
            await pilot.pause()
            assert app.state.policy == "today"
    run(go())


def test_jump_by_address_label_and_unknown():
    async def go():
        app = MemmapApp(rsv())
        async with app.run_test(size=SIZE) as pilot:
            await jump(pilot, "0x50001000")
            assert app.selection == sel.region(GPU)
            await jump(pilot, "0x4000_0000")      # plain RAM: the bank
            assert app.selection == ram_at(0x4000_0000)
            await pilot.press("slash")
            await pilot.pause()
            await pilot.press(*"no-such-node", "enter")
            await pilot.pause()
            assert isinstance(app.screen, JumpScreen)   # stays open and says why
            assert "no region named" in str(app.screen.query_one("#jump-hint").render())
            await pilot.press("escape")
            await pilot.pause()
            assert not isinstance(app.screen, JumpScreen)
            assert app.selection == ram_at(0x4000_0000)
    run(go())


def test_click_a_band_selects_its_region():
    async def go():
        app = MemmapApp(rsv())
        async with app.run_test(size=SIZE) as pilot:
            bm = app.query_one(BandMap)
            band = next(b for b in bm.bands if b.region_id == CMA)
            bm.scroll_to(y=band.first_row, animate=False)
            await pilot.pause()
            y = band.first_row - int(bm.scroll_offset.y)
            await pilot.click("#map", offset=(20, y))
            await pilot.pause()
            assert app.selection == sel.region(CMA)
            assert "linux,cma@58000000" in details_text(app)
            # keyboard on the map: next band is the one after CMA
            bm.focus()
            await pilot.press("down")
            await pilot.pause()
            idx = [b.key for b in bm.bands].index(sel.region(CMA))
            assert app.selection == bm.bands[idx + 1].key
    run(go())


def test_zoom_changes_rows_and_keeps_a_page_visible():
    state = TuiState(rsv())
    assert band_rows(4096, 1.0, Band.MEMRESERVE) == 1
    assert band_rows(8 << 30, 1.0, Band.RAM) > band_rows(32 * MIB, 1.0, Band.RESERVED) > 1
    assert band_rows(1 << 40, 8.0, Band.HOLE) == 1   # holes stay collapsed at every zoom

    async def go():
        app = MemmapApp(rsv())
        async with app.run_test(size=SIZE) as pilot:
            bm = app.query_one(BandMap)
            rows = len(bm._row_index)
            await pilot.press("plus")
            await pilot.pause()
            assert len(bm._row_index) > rows
            for _ in range(8):
                await pilot.press("minus")
            await pilot.pause()
            assert bm.zoom_index == 0
            assert all(b.rows == 1 for b in bm.bands)
            assert any("smallest zoom" in m for m in notes(app))
    run(go())
    # the memreserve page is its own band at every zoom
    bands, _, _ = layout(state, 0.0)
    assert any(b.region_id == "/memreserve/0" for b in bands)


def test_help_overview_tree_and_f1():
    async def go():
        app = MemmapApp(rsv())
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("question_mark")
            await pilot.pause()
            assert isinstance(app.screen, HelpScreen)
            await pilot.press("escape")
            await pilot.pause()
            assert not isinstance(app.screen, HelpScreen)
            await jump(pilot, "gpu-mem")
            await pilot.press("o")
            await pilot.pause()
            assert app.selection == sel.OVERVIEW
            assert "Findings" in details_text(app)
            tree = app.query_one("#tree")
            assert tree.display
            await pilot.press("t")
            await pilot.pause()
            assert not tree.display
            await pilot.press("t")
            await pilot.pause()
            assert tree.display
            await pilot.press("f1")
            await pilot.pause()
            assert any("Region tree" in m or "Band map" in m for m in notes(app))
    run(go())


def test_command_palette_switches_policy():
    async def go():
        app = MemmapApp(rsv())
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("ctrl+p")
            await pilot.pause()
            await pilot.press(*"Policy: exclude")
            await pilot.pause(0.3)
            await pilot.press("enter")
            await pilot.pause()
            assert app.state.policy == "exclude-reserved"
    run(go())


def test_every_binding_has_an_id_and_description():
    from memmap_tui.tui.widgets import RegionTree as RT
    for cls in (MemmapApp, BandMap, RT, HelpScreen, JumpScreen, ExportScreen):
        for b in cls.BINDINGS:
            assert b.id, (cls.__name__, b.key)
            assert b.description, (cls.__name__, b.key)


@needs_dtc
def test_export_dialog_writes_a_patched_dtb_and_never_the_input(tmp_path):
    import subprocess
    out = tmp_path / "patched.dtb"
    original = RSV_DTB.read_bytes()

    async def go():
        app = MemmapApp(rsv())
        async with app.run_test(size=SIZE) as pilot:
            await jump(pilot, "gpu-mem")
            await pilot.press("n")          # clear the tag
            await pilot.press("e")
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, ExportScreen)
            # first try to write over the input: refused, nothing written
            screen.query_one("#out-dtb").value = str(RSV_DTB)
            await pilot.click("#export-go")
            for _ in range(50):
                await pilot.pause(0.1)
                if "✗" in str(screen.query_one("#export-result").render()):
                    break
            assert "overwrite an input" in str(screen.query_one("#export-result").render())
            screen.query_one("#out-dtb").value = str(out)
            await pilot.click("#export-go")
            for _ in range(100):
                await pilot.pause(0.1)
                if out.exists() and "wrote" in str(screen.query_one("#export-result").render()):
                    break
            result = str(screen.query_one("#export-result").render())
            assert "wrote" in result and "v1 proposal" in result
            await pilot.press("escape")
    run(go())
    assert RSV_DTB.read_bytes() == original
    dts = subprocess.run(["dtc", "-q", "-I", "dtb", "-O", "dts", str(out)], capture_output=True, text=True).stdout
    node = dts.split("gpu-mem@50000000 {")[1].split("};")[0]
    assert "linux,no-dump" not in node


@needs_dtc
def test_unplaced_dynamic_regions_are_listed_not_drawn(tmp_path):
    # RAM unknown (/memory left for the bootloader to fill) and no log: the boot replay cannot
    # place the dynamic nodes (with RAM it predicts them), so they stay unplaced
    src = tmp_path / "no-ram.dts"
    src.write_text((CORPUS / "dtb/qemu/virt-aarch64-1G-rsv.dts").read_text()
                   .replace("reg = <0x00 0x40000000 0x00 0x40000000>;\n\t\tdevice_type", "device_type"))
    loaded = load(Options(dtb=str(src)))
    state = TuiState(loaded)
    bands, unplaced, _ = layout(state, 1.0)
    ids = {u.region_id for u in unplaced}
    assert {"/reserved-memory/video-pool", "/reserved-memory/dyn-cma-pool"} <= ids
    assert not ids & {b.region_id for b in bands}

    async def go():
        app = MemmapApp(loaded)
        async with app.run_test(size=SIZE) as pilot:
            bm = app.query_one(BandMap)
            row = bm.unplaced_rows[0].row
            strip = bm._other_line(row, 80, bm.rich_style)
            text = "".join(s.text for s in strip)
            assert exact_size(loaded.mm.region(bm.unplaced_rows[0].region_id).size_bytes) in text
            await jump(pilot, "video-pool")
            assert "unplaced" in details_text(app)
    run(go())


def test_all_zero_iomem_is_a_visible_warning(tmp_path):
    zeroed = tmp_path / "iomem-nonroot.txt"
    lines = []
    for line in BOOT_IOMEM.read_text().splitlines():
        rng, sep, name = line.partition(" : ")
        indent = rng[: len(rng) - len(rng.lstrip())]
        lines.append(f"{indent}00000000-00000000 : {name}")
    zeroed.write_text("\n".join(lines) + "\n")
    loaded = load(Options(dtb=str(RSV_DTB), iomem=str(zeroed)))

    async def go():
        app = MemmapApp(loaded)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            text = details_text(app)
            assert "iomem-zeroed" in text and "every address is 0" in text
    run(go())


def test_no_color_map_reads_by_glyph(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")

    async def go():
        app = MemmapApp(rsv())
        async with app.run_test(size=(100, 30)) as pilot:
            bm = app.query_one(BandMap)
            seen = set()
            for y in range(len(bm._row_index)):
                bm.scroll_to(y=0, animate=False)
                b = bm.band_at_row(y)
                if b is None:
                    continue
                strip = bm._band_line(b, y, 80, bm.rich_style)
                assert all(isinstance(s, Segment) and s.style is not None for s in strip)
                seen.add((b.band, "".join(s.text for s in strip)[1 + bm._ruler_width + 1]))
            glyphs = {}
            for band, glyph in seen:
                glyphs.setdefault(band, set()).add(glyph)
            # one glyph per kind, distinct across kinds
            assert all(len(g) == 1 for g in glyphs.values())
            assert len({next(iter(g)) for g in glyphs.values()}) == len(glyphs)
    run(go())


def test_narrow_terminal_hides_tree_and_keeps_numbers():
    async def go():
        app = MemmapApp(rsv())
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            assert not app.query_one("#tree").display
            assert app.focused is app.query_one(BandMap)
            await jump(pilot, "gpu-mem")
            await pilot.press("n")
            await pilot.pause()
            assert "saves" in card_text(app, "no-dump-v1")
    run(go())


def test_vmcore_figures_shown_when_a_dump_is_loaded():
    flat = CORPUS / "vmcore/qemu-aarch64.kdump-zlib.flat"
    if not flat.exists():
        pytest.skip("flattened dump not in corpus")
    loaded = rsv(vmcore=str(flat))
    assert loaded.dump is not None

    async def go():
        app = MemmapApp(loaded)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            text = details_text(app)
            assert "flattened-kdump" in text and "made by qemu" in text
            await jump(pilot, "gpu-mem")
            text = details_text(app)
            assert "In this dump file" in text and "covered" in text
    run(go())
    # without a dump there is no dump panel at all
    async def go2():
        app = MemmapApp(rsv())
        async with app.run_test(size=SIZE) as pilot:
            await jump(pilot, "gpu-mem")
            assert "In this dump file" not in details_text(app)
    run(go2())


def test_toasts_render_and_keep_brackets():
    """textual 8.2.8 toasts crash on rich Text and eat `[no-dump]` as markup: both guarded."""
    from textual.widgets._toast import Toast

    async def go():
        app = MemmapApp(rsv())
        async with app.run_test(size=SIZE, notifications=True) as pilot:  # off by default in run_test
            await jump(pilot, "firmware")
            await pilot.press("n")
            app.notify(Text("[no-dump] [mem 0x0000000050000000-0x0000000051ffffff]"))
            await pilot.pause(0.3)
            rendered = " ".join(str(t.render()) for t in app.screen.query(Toast))
            assert "[no-dump] [mem 0x0000000050000000-0x0000000051ffffff]" in rendered
            assert "redundant" in rendered
    run(go())


def test_every_corpus_dtb_opens_and_every_region_renders():
    """Each corpus board: first paint, every region's details, a toggle on every DT node."""
    from tests.conftest import corpus_dtbs

    async def go(path):
        loaded = load(Options(dtb=str(path), ram=("1G@0x80000000",)))
        app = MemmapApp(loaded)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            bm = app.query_one(BandMap)
            for y in range(bm.size.height):
                bm.render_line(y)
            for r in loaded.mm.regions:
                app.select(sel.region(r.id))
                details_text(app)
                if app.state.can_toggle(r) is None:
                    before = app.state.results["no-dump-v1"].savings_bytes
                    app.toggle_region(r.id)
                    app.toggle_region(r.id)
                    assert app.state.results["no-dump-v1"].savings_bytes == before
            await pilot.pause()
        return len(loaded.mm.regions)

    total = sum(run(go(p)) for p in corpus_dtbs())
    assert total > 100   # the corpus has well over a hundred carveouts across its boards


def test_quit_asks_twice_only_with_unexported_toggles():
    async def go():
        app = MemmapApp(rsv())
        async with app.run_test(size=SIZE) as pilot:
            await jump(pilot, "gpu-mem")
            await pilot.press("n", "q")
            await pilot.pause()
            assert app.is_running
            assert any("not exported" in m for m in notes(app))
            await pilot.press("q")
            await pilot.pause()
        assert app.return_code == 0

    async def clean():
        app = MemmapApp(rsv())
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("q")
            await pilot.pause()
            assert not app.is_running
    run(go())
    run(clean())


@needs_dtc
def test_export_dialog_overlay_and_dts_patch_on_sample_board(tmp_path):
    """All three outputs through the dialog on the sample board (its .dts sits beside the .dtb)."""
    import shutil
    import subprocess
    if shutil.which("fdtoverlay") is None or shutil.which("cpp") is None:
        pytest.skip("fdtoverlay / cpp not installed")
    from tests.conftest import REPO
    sample = REPO / "sample-data"
    loaded = load(Options(dtb=str(sample / "board.dtb"), iomem=str(sample / "iomem.txt"),
                          dmesg=str(sample / "dmesg.txt")))
    outs = {k: tmp_path / f"camera.{k}" for k in ("dtb", "dtbo", "patch")}

    async def go():
        app = MemmapApp(loaded)
        async with app.run_test(size=SIZE) as pilot:
            await jump(pilot, "camera")
            await pilot.press("n", "e")
            await pilot.pause()
            screen = app.screen
            assert screen.query_one("#dts-src").value == str(sample / "board.dts")   # guessed
            screen.query_one("#want-overlay").value = True
            screen.query_one("#want-dts").value = True
            screen.query_one("#out-dtb").value = str(outs["dtb"])
            screen.query_one("#out-overlay").value = str(outs["dtbo"])
            screen.query_one("#out-dts").value = str(outs["patch"])
            await pilot.press("ctrl+s")
            for _ in range(200):
                await pilot.pause(0.1)
                text = str(screen.query_one("#export-result").render())
                if "wrote" in text or "✗" in text:
                    break
            assert text.count("wrote") == 3, text
    run(go())
    patch = outs["patch"].read_text()
    assert "+" in patch and "linux,no-dump;" in patch
    dts = subprocess.run(["dtc", "-q", "-I", "dtb", "-O", "dts", str(outs["dtb"])],
                         capture_output=True, text=True).stdout
    assert "linux,no-dump" in dts.split("camera@a4000000 {")[1].split("};")[0]
    assert outs["dtbo"].stat().st_size > 0


def test_band_colours_stay_distinct_in_16_and_256_colours():
    from rich.color import Color, ColorSystem
    from memmap_tui.tui.theme import BAND_FILL as BAND_BG
    for system in (ColorSystem.STANDARD, ColorSystem.EIGHT_BIT):
        downgraded = {b: Color.parse(c).downgrade(system).number for b, c in BAND_BG.items()}
        assert len(set(downgraded.values())) == len(downgraded), (system, downgraded)


def test_jump_resolves_labels_paths_addresses_and_mmio_on_the_sample_board():
    from tests.conftest import REPO
    sample = REPO / "sample-data"
    state = TuiState(load(Options(dtb=str(sample / "board.dtb"), iomem=str(sample / "iomem.txt"),
                                  dmesg=str(sample / "dmesg.txt"))))
    assert state.find("&camera_mem")[0] == sel.region("/reserved-memory/camera@a4000000")
    assert state.find("/reserved-memory/camera@a4000000")[0] == sel.region("/reserved-memory/camera@a4000000")
    assert state.find("0xa5ffffff")[0] == sel.region("/reserved-memory/camera@a4000000")   # last byte
    assert state.find("0xa6000000")[0] == ram_at(0x8000_0000)                         # first byte after
    assert state.find("0x80000fff")[0] == sel.region("/memreserve/0")                        # the spin-table page
    key, why = state.find("0x1_0000_0000")                                              # the 30 GiB hole
    assert key == sel.hole(Range(0x1_0000_0000, 0x8_8000_0000)) and "30 GiB hole" in why     # its map row
    mmio = next(e for e in state.mm.iomem if e.depth == 0 and not e.name.startswith("System RAM"))
    assert state.find(hex(mmio.range.start))[0].kind is SelKind.IOMEM


def test_tree_group_heading_shows_the_per_policy_table():
    async def go():
        app = MemmapApp(rsv())
        async with app.run_test(size=SIZE) as pilot:
            tree = app.query_one(RegionTree)
            tree.focus()
            for _ in range(10):
                if tree.cursor_node is not None and tree.cursor_node.data == sel.group("Reserved memory"):
                    break
                await pilot.press("down")
                await pilot.pause()
            text = details_text(app)
            assert "Reserved memory — 6 regions" in text
            row = next(line for line in text.splitlines() if "gpu-mem@50000000" in line)
            assert row.split()[1:] == ["32", "MiB", "32", "MiB", "0", "B", "0", "B"]
            await pilot.press("n")      # nothing selected to toggle: says so, changes nothing
            await pilot.pause()
            assert app.state.mm.no_dump_overrides == {}
            assert any("select a /reserved-memory node" in m for m in notes(app))
    run(go())
