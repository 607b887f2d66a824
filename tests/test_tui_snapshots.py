"""SVG snapshots (pytest-textual-snapshot) of the screens a user sees, at a fixed 120x40.

Inputs are given by paths relative to the repository (the test chdirs there) so the
snapshots do not depend on where the checkout lives. Regenerate after a deliberate UI
change with `pytest tests/test_tui_snapshots.py --snapshot-update` and look at the diff.
"""

from __future__ import annotations

import os

import pytest
from textual.widgets import Input

from memmap_tui.inputs import Options, load
from memmap_tui.core.ranges import Range
from memmap_tui.tui import selection as sel
from memmap_tui.tui.app import MemmapApp
from memmap_tui.tui.selection import SelKind

from tests.conftest import CORPUS, REPO, needs_corpus, needs_dtc

SIZE = (120, 40)
SAMPLE = REPO / "sample-data"


@pytest.fixture(autouse=True)
def _in_repo(monkeypatch):
    monkeypatch.chdir(REPO)


def sample_app() -> MemmapApp:
    return MemmapApp(load(Options(dtb="sample-data/board.dtb", iomem="sample-data/iomem.txt",
                                  dmesg="sample-data/dmesg.txt")))


def corpus_app() -> MemmapApp:
    rel = os.path.relpath(CORPUS, REPO)
    return MemmapApp(load(Options(dtb=f"{rel}/dtb/qemu/virt-aarch64-1G-rsv.dtb",
                                  iomem=f"{rel}/iomem/aarch64-qemu-virt-guest.txt",
                                  dmesg=f"{rel}/boot/console.log")))


def settle(*, select: str | None = None, keys: tuple[str, ...] = ()):
    async def run_before(pilot) -> None:
        app = pilot.app
        await pilot.pause()
        if select:
            app.select(select)
            await pilot.pause()
        for key in keys:
            await pilot.press(key)
            await pilot.pause()
        for inp in app.screen.query(Input):
            inp.cursor_blink = False
        app.clear_notifications()   # toasts time out: not part of a stable picture
        await pilot.pause()
    return run_before


def test_main_screen_sample(snap_compare):
    assert snap_compare(sample_app(), terminal_size=SIZE, run_before=settle())


def test_region_details_sample(snap_compare):
    assert snap_compare(sample_app(), terminal_size=SIZE,
                        run_before=settle(select=sel.region("/reserved-memory/camera@a4000000"), keys=("n",)))


def test_help_screen_sample(snap_compare):
    assert snap_compare(sample_app(), terminal_size=SIZE, run_before=settle(keys=("question_mark",)))


def test_export_dialog_sample(snap_compare):
    assert snap_compare(sample_app(), terminal_size=SIZE,
                        run_before=settle(select=sel.region("/reserved-memory/camera@a4000000"), keys=("n", "e")))


@needs_corpus
def test_main_screen_corpus(snap_compare):
    assert snap_compare(corpus_app(), terminal_size=SIZE, run_before=settle())


@needs_corpus
def test_region_details_corpus(snap_compare):
    assert snap_compare(corpus_app(), terminal_size=SIZE,
                        run_before=settle(select=sel.region("/reserved-memory/gpu-mem@50000000"), keys=("p",)))


@needs_corpus
def test_help_screen_corpus(snap_compare):
    assert snap_compare(corpus_app(), terminal_size=SIZE, run_before=settle(keys=("question_mark",)))


@needs_corpus
def test_export_dialog_corpus(snap_compare):
    assert snap_compare(corpus_app(), terminal_size=SIZE,
                        run_before=settle(select=sel.region("/reserved-memory/gpu-mem@50000000"), keys=("n", "e")))


def test_narrow_80x24_sample(snap_compare):
    assert snap_compare(sample_app(), terminal_size=(80, 24),
                        run_before=settle(select=sel.region("/reserved-memory/npu@98000000")))


@needs_corpus
def test_vmcore_dump_column_corpus(snap_compare):
    """The real boot with its makedumpfile -d 31 dump: the map's dump column (held/part/filtered)."""
    rel = os.path.relpath(CORPUS, REPO)
    app = MemmapApp(load(Options(dtb=f"{rel}/dtb/qemu/virt-aarch64-1G-rsv.dtb",
                                 iomem=f"{rel}/iomem/aarch64-qemu-virt-guest.txt",
                                 dmesg=f"{rel}/boot/console.log",
                                 vmcore=f"{rel}/vmcore/qemu-aarch64.d31.kdump.meta-only")))
    assert snap_compare(app, terminal_size=SIZE, run_before=settle(select=sel.region("crashkernel")))
