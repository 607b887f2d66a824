"""SVG snapshots (pytest-textual-snapshot) of the screens a user sees.

Sample-board snapshots (dark, textual-light, NO_COLOR; 80x24, 120x40, 200x60) need nothing
outside the repository. Corpus snapshots run from inside the corpus folder with the paths a
user would type there, so no snapshot holds `../shared` or the machine's layout; they skip
cleanly without the corpus. Regenerate after a deliberate UI change with
`pytest tests/test_tui_snapshots.py --snapshot-update` and look at the diff.
"""

from __future__ import annotations

import pytest
from textual.widgets import Input

from memmap_tui.inputs import Options, load
from memmap_tui.tui import selection as sel
from memmap_tui.tui.app import MemmapApp

from tests.conftest import CORPUS, REPO, needs_corpus

SIZE = (120, 40)


@pytest.fixture(autouse=True)
def _in_repo(monkeypatch):
    monkeypatch.chdir(REPO)


@pytest.fixture
def in_corpus(monkeypatch):
    monkeypatch.chdir(CORPUS)


def sample_app() -> MemmapApp:
    return MemmapApp(load(Options(dtb="sample-data/board.dtb", iomem="sample-data/iomem.txt",
                                  dmesg="sample-data/dmesg.txt")))


def corpus_app(**kw) -> MemmapApp:
    return MemmapApp(load(Options(dtb="dtb/qemu/virt-aarch64-1G-rsv.dtb", iomem="iomem/aarch64-qemu-virt-guest.txt",
                                  dmesg="boot/console.log", **kw)))


def sm8450_app() -> MemmapApp:
    return MemmapApp(load(Options(dtb="dtb/qcom/sm8450-hdk.dtb", ram=("8G@0x80000000",))))


def settle(*, select: str | None = None, keys: tuple[str, ...] = (), theme: str | None = None):
    async def run_before(pilot) -> None:
        app = pilot.app
        await pilot.pause()
        if theme:
            app.theme = theme
            await pilot.pause()
        if select:
            app.select(sel.region(select))
            await pilot.pause()
        for key in keys:
            await pilot.press(key)
            await pilot.pause()
        for inp in app.screen.query(Input):
            inp.cursor_blink = False
        # toasts time out: not part of a stable picture; a loaded machine may deliver a toast's
        # Notify after the first clear, so settle, clear, settle, clear
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()
        app.clear_notifications()
        await pilot.pause()
        app.clear_notifications()
        await pilot.pause()
    return run_before


def test_main_screen_sample(snap_compare):
    assert snap_compare(sample_app(), terminal_size=SIZE, run_before=settle())


def test_region_details_sample(snap_compare):
    assert snap_compare(sample_app(), terminal_size=SIZE,
                        run_before=settle(select="/reserved-memory/camera@a4000000", keys=("n",)))


def test_help_screen_sample(snap_compare):
    assert snap_compare(sample_app(), terminal_size=SIZE, run_before=settle(keys=("question_mark",)))


def test_export_dialog_sample(snap_compare):
    assert snap_compare(sample_app(), terminal_size=SIZE,
                        run_before=settle(select="/reserved-memory/camera@a4000000", keys=("n", "e")))


def test_narrow_80x24_sample(snap_compare):
    assert snap_compare(sample_app(), terminal_size=(80, 24),
                        run_before=settle(select="/reserved-memory/npu@98000000"))


def test_wide_200x60_sample(snap_compare):
    assert snap_compare(sample_app(), terminal_size=(200, 60),
                        run_before=settle(select="/reserved-memory/camera@a4000000", keys=("n",)))


def test_light_theme_sample(snap_compare):
    assert snap_compare(sample_app(), terminal_size=SIZE,
                        run_before=settle(select="/reserved-memory/camera@a4000000", keys=("n",),
                                          theme="textual-light"))


def test_no_color_sample(snap_compare, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    assert snap_compare(sample_app(), terminal_size=SIZE,
                        run_before=settle(select="/reserved-memory/camera@a4000000", keys=("n",)))


@needs_corpus
def test_main_screen_corpus(snap_compare, in_corpus):
    assert snap_compare(corpus_app(), terminal_size=SIZE, run_before=settle())


@needs_corpus
def test_region_details_corpus(snap_compare, in_corpus):
    assert snap_compare(corpus_app(), terminal_size=SIZE,
                        run_before=settle(select="/reserved-memory/gpu-mem@50000000", keys=("p",)))


@needs_corpus
def test_help_screen_corpus(snap_compare, in_corpus):
    assert snap_compare(corpus_app(), terminal_size=SIZE, run_before=settle(keys=("question_mark",)))


@needs_corpus
def test_export_dialog_corpus(snap_compare, in_corpus):
    assert snap_compare(corpus_app(), terminal_size=SIZE,
                        run_before=settle(select="/reserved-memory/gpu-mem@50000000", keys=("n", "e")))


@needs_corpus
def test_vmcore_dump_column_corpus(snap_compare, in_corpus):
    """The real boot with its makedumpfile -d 31 dump: the map's dump column (held/part/filtered)."""
    app = corpus_app(vmcore="vmcore/qemu-aarch64.d31.kdump.meta-only")
    assert snap_compare(app, terminal_size=SIZE, run_before=settle(select="crashkernel"))


@needs_corpus
def test_qualcomm_sm8450_80x24_corpus(snap_compare, in_corpus):
    """43 carveouts named memory@…: the map and tree show the names people know (compatible, user)."""
    assert snap_compare(sm8450_app(), terminal_size=(80, 24),
                        run_before=settle(select="/reserved-memory/memory@8bc00000"))


@needs_corpus
def test_qualcomm_sm8450_200x60_corpus(snap_compare, in_corpus):
    assert snap_compare(sm8450_app(), terminal_size=(200, 60),
                        run_before=settle(select="/reserved-memory/memory@85e00000"))
