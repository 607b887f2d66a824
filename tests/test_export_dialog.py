"""The export dialog (Pilot, on the in-repo sample data): output folder, asking before an
earlier export is replaced, boxes remembered for the session, paths as typed."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest

from conftest import REPO
from memmap_tui.inputs import Options, load
from memmap_tui.tui.app import MemmapApp
from memmap_tui.tui import selection as sel
from memmap_tui.tui.export_dialog import ExportScreen, PathLine
from memmap_tui.tui.paths import shorten_middle

SAMPLE = REPO / "sample-data"
needs_dtc = pytest.mark.skipif(shutil.which("dtc") is None, reason="dtc not installed")


def sample_app() -> MemmapApp:
    # relative, as a user types it from the repository
    cwd = os.getcwd()
    os.chdir(REPO)
    try:
        return MemmapApp(load(Options(dtb="sample-data/board.dtb", iomem="sample-data/iomem.txt")))
    finally:
        os.chdir(cwd)


async def open_dialog(app: MemmapApp, pilot) -> ExportScreen:
    app.select(sel.region("/reserved-memory/camera@a4000000"))
    await pilot.pause()
    await pilot.press("n")
    await pilot.pause()
    await pilot.press("e")
    await pilot.pause()
    assert isinstance(app.screen, ExportScreen)
    return app.screen


async def result_text(screen: ExportScreen, pilot, until: tuple[str, ...]) -> str:
    for _ in range(300):
        await pilot.pause(0.1)
        text = str(screen.query_one("#export-result").render())
        if any(u in text for u in until):
            return text
    return text


def test_shorten_middle_keeps_both_ends():
    path = "/home/someone/very/long/build/tree/arch/arm64/boot/dts/vendor/board.dtb"
    short = shorten_middle(path, 30)
    # the one shortener of tui/paths.py: the file name whole, the start kept, the middle cut
    assert len(short) == 30 and short.startswith("/home/som") and short.endswith("…/board.dtb")
    assert "…" in short
    assert shorten_middle("board.dtb", 30) == "board.dtb"


@needs_dtc
def test_folder_overwrite_question_and_remembered_boxes(tmp_path: Path):
    async def go():
        app = sample_app()
        async with app.run_test(size=(120, 40)) as pilot:
            s = await open_dialog(app, pilot)
            assert str(s.query_one("#export-input", PathLine).render()) == \
                "input (never overwritten): sample-data/board.dtb"      # as typed
            s.query_one("#out-folder").value = str(tmp_path)
            s.query_one("#want-overlay").value = True
            await pilot.press("ctrl+s")
            text = await result_text(s, pilot, ("wrote", "✗"))
            assert f"wrote {tmp_path / 'board.no-dump.dtb'}" in text
            assert sorted(os.listdir(tmp_path)) == ["board.no-dump.dtb", "board.no-dump.dtbo"]
            first = (tmp_path / "board.no-dump.dtb").read_bytes()
            (tmp_path / "board.no-dump.dtb").write_bytes(b"an earlier export")
            # a second export to the same names asks first and writes nothing
            await pilot.press("ctrl+s")
            text = await result_text(s, pilot, ("already exist",))
            assert "already exist" in text and str(s.query_one("#export-go").label) == "Overwrite"
            assert (tmp_path / "board.no-dump.dtb").read_bytes() == b"an earlier export"
            # changing a name withdraws the question
            s.query_one("#out-dtb").value = "other.dtb"
            await pilot.pause()
            assert str(s.query_one("#export-go").label) == "Export"
            s.query_one("#out-dtb").value = "board.no-dump.dtb"
            await pilot.press("ctrl+s")
            await result_text(s, pilot, ("already exist",))
            await pilot.press("ctrl+s")                                 # confirmed
            text = await result_text(s, pilot, ("wrote", "✗"))
            assert "wrote" in text
            assert (tmp_path / "board.no-dump.dtb").read_bytes() == first
            assert not [n for n in os.listdir(tmp_path) if n.startswith(".")]
            await pilot.press("escape")
            await pilot.pause()
            # reopened in the same session: the folder and the boxes are as left
            await pilot.press("e")
            await pilot.pause()
            s2 = app.screen
            assert isinstance(s2, ExportScreen) and s2 is not s
            assert s2.query_one("#out-folder").value == str(tmp_path)
            assert s2.query_one("#want-overlay").value is True
            assert s2.query_one("#want-dtb").value is True
    asyncio.run(go())


@needs_dtc
def test_an_input_is_refused_not_offered_for_overwrite(tmp_path: Path):
    (tmp_path / "iomem.txt").write_bytes((SAMPLE / "iomem.txt").read_bytes())

    async def go():
        app = sample_app()
        async with app.run_test(size=(120, 40)) as pilot:
            s = await open_dialog(app, pilot)
            s.query_one("#out-folder").value = str(REPO / "sample-data")
            s.query_one("#out-dtb").value = "iomem.txt"
            await pilot.press("ctrl+s")
            text = await result_text(s, pilot, ("✗", "already exist"))
            assert "✗" in text and "is an input" in text
    before = (SAMPLE / "iomem.txt").read_bytes()
    asyncio.run(go())
    assert (SAMPLE / "iomem.txt").read_bytes() == before
