"""The device-tree picker (tui/picker.py): Pilot for its keys, an SVG snapshot for its look."""

from __future__ import annotations

import asyncio

import pytest

from memmap_tui.sources.containers import sniff_bytes
from memmap_tui.tui.picker import DtbPicker

from tests.conftest import CORPUS, RSV_DTB, needs_corpus

pytestmark = needs_corpus
SIZE = (100, 16)


def picker() -> DtbPicker:
    data = RSV_DTB.read_bytes() + (CORPUS / "dtb/qcom/sm8450-hdk.dtb").read_bytes() \
        + (CORPUS / "dtb/qemu/virt-riscv64-1G.dtb").read_bytes()
    src = sniff_bytes(data, "dtb.img")
    return DtbPicker(src.description, "dtb.img", src.candidates)


def drive(*keys):
    async def run():
        app = picker()
        async with app.run_test(size=SIZE) as pilot:
            ol = app.query_one("#picker-list")
            text = " ".join(str(ol.get_option_at_index(i).prompt) for i in range(ol.option_count))
            assert "Qualcomm" in text and "riscv-virtio" in text and ol.option_count == 3
            await pilot.press(*keys)
        return app.return_value
    return asyncio.run(run())


@pytest.mark.parametrize("keys,expected", [(("enter",), 1), (("down", "down", "enter"), 3),
                                           (("down", "up", "enter"), 1), (("escape",), None), (("q",), None)])
def test_picker_keys(keys, expected):
    assert drive(*keys) == expected


def test_picker_snapshot(snap_compare):
    assert snap_compare(picker(), terminal_size=SIZE)
