"""The diff TUI: both maps on one address scale scroll together, n / N jump through the
changes, snapshots at 200×60 (side by side) and 80×24 (stacked)."""

from __future__ import annotations

import asyncio
import os

import pytest

from memmap_tui.diff_run import compare, load_side
from memmap_tui.inputs import Options
from memmap_tui.tui.diff_app import DiffApp
from memmap_tui.tui.diff_map import DiffMap
from tests.conftest import CORPUS, REPO, needs_corpus

RAM = ("4G@0x80000000",)


@pytest.fixture(autouse=True)
def _in_repo(monkeypatch):
    monkeypatch.chdir(REPO)


def sdm845_app() -> DiffApp:
    rel = os.path.relpath(CORPUS, REPO)
    a = load_side(Options(dtb=f"{rel}/dtb/qcom/sdm845-db845c.dtb", ram=RAM))
    b = load_side(Options(dtb=f"{rel}/dtb/qcom/sdm845-oneplus-enchilada.dtb", ram=RAM))
    return DiffApp(a, b, compare(a, b))


@needs_corpus
def test_maps_scroll_together_and_jump_through_changes():
    asyncio.run(_scroll_and_jump())


async def _scroll_and_jump():
    app = sdm845_app()
    async with app.run_test(size=(200, 60)) as pilot:
        await pilot.pause()
        map_a, map_b = app.query_one("#map-a", DiffMap), app.query_one("#map-b", DiffMap)
        # one address scale: the same row is the same address range on both sides
        assert [(r.range, r.first_row) for r in map_a.rows] == [(r.range, r.first_row) for r in map_b.rows]
        map_a.focus()
        map_a.scroll_y = 0
        await pilot.pause()
        await pilot.press("pagedown")
        await pilot.pause()
        assert map_a.scroll_y > 0 and map_b.scroll_y == map_a.scroll_y
        map_b.scroll_y = 3
        await pilot.pause()
        assert map_a.scroll_y == 3
        # jump through every change and wrap around; both maps show each change's first row
        n = len(app.changes)
        assert n == 6
        seen = []
        for _ in range(n + 1):
            await pilot.press("n")
            await pilot.pause()
            row = map_a.first_row_of(app.current)
            top = int(map_a.scroll_y)
            height = map_a.scrollable_content_region.height
            assert top <= row < top + height and map_b.scroll_y == map_a.scroll_y
            assert map_a.selected_change == map_b.selected_change == app.current
            seen.append(app.current)
        assert seen == [1, 2, 3, 4, 5, 0, 1]       # mount selects the first change
        await pilot.press("N")
        await pilot.pause()
        assert app.current == 0
        # picking a row in the change list jumps there too
        changes = app.query_one("#changes")
        changes.focus()
        await pilot.press("down", "down", "down")
        await pilot.pause()
        assert app.current == 3 and map_b.selected_change == 3
        row = map_b.first_row_of(3)
        assert int(map_b.scroll_y) <= row < int(map_b.scroll_y) + map_b.scrollable_content_region.height
        # clicking a marked band selects its change on both maps
        target = next(r for r in map_b.rows if r.change == 2)
        await pilot.press("n", "n")    # away from change 2 first
        await pilot.pause()
        map_b.scroll_y = target.first_row
        await pilot.pause()
        await pilot.click("#map-b", offset=(5, 1 + target.first_row - int(map_b.scroll_y)))
        await pilot.pause()
        assert app.current == 2 and map_a.selected_change == 2
        # a marked band is a changed region on one side: framebuffer gone, ramoops new
        marked = {(r.a[1], r.b[1]) for r in map_a.rows if r.change is not None}
        assert ("/reserved-memory/framebuffer@9d400000", None) in marked
        assert (None, "/reserved-memory/ramoops@ac300000") in marked


@needs_corpus
def test_narrow_terminal_stacks_the_maps():
    asyncio.run(_narrow())


async def _narrow():
    app = sdm845_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        map_a, map_b = app.query_one("#map-a", DiffMap), app.query_one("#map-b", DiffMap)
        assert app.screen.has_class("-narrow")
        assert map_a.region.x == map_b.region.x and map_b.region.y > map_a.region.y
        for card in app.query(".card"):
            assert card.region.height == 3           # every figure line visible
        await pilot.resize_terminal(200, 60)
        await pilot.pause()
        assert map_b.region.x > map_a.region.x and map_a.region.y == map_b.region.y


async def _settle(pilot) -> None:
    await pilot.pause()
    await pilot.press("n")
    await pilot.pause()


@needs_corpus
def test_snapshot_side_by_side_200x60(snap_compare):
    assert snap_compare(sdm845_app(), terminal_size=(200, 60), run_before=_settle)


@needs_corpus
def test_snapshot_stacked_80x24(snap_compare):
    assert snap_compare(sdm845_app(), terminal_size=(80, 24), run_before=_settle)


@needs_corpus
def test_two_dumps_show_what_each_holds():
    asyncio.run(_two_dumps())


async def _two_dumps():
    rel = os.path.relpath(CORPUS, REPO)
    iomem = f"{rel}/iomem/aarch64-qemu-virt-guest.txt"
    a = load_side(Options(vmcore=f"{rel}/vmcore/qemu-aarch64.kdump-zlib.flat", iomem=iomem))
    b = load_side(Options(vmcore=f"{rel}/vmcore/qemu-aarch64.d31.kdump.meta-only", iomem=iomem))
    app = DiffApp(a, b, compare(a, b))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        map_a, map_b = app.query_one("#map-a", DiffMap), app.query_one("#map-b", DiffMap)
        ram = [i for i, r in enumerate(map_a.rows) if r.a[0].value == "ram"]
        assert ram and {map_a._marks[i] for i in ram} == {"held"}     # unfiltered dump: every page
        assert {map_b._marks[i] for i in ram} == {"partly"}           # -d 31 filtered some out
        # the view starts at RAM, not at the low MMIO windows
        assert map_a.rows[ram[0]].first_row >= int(map_a.scroll_y) and int(map_a.scroll_y) > 0
        card = app.query(".card").first()
        assert "≈95.88 MiB" in str(card.render()) and card.region.height == 4
