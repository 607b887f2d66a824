"""Overlay export: round trip through the real fdtoverlay (libfdt's fdt_overlay_apply)."""

from __future__ import annotations

import difflib
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import RSV_DTB, corpus_dtbs, needs_corpus, needs_dtc
from dts_oracle import parse

from memmap_tui.export.dtb_patch import patch_dtb
from memmap_tui.export.overlay import apply_overlay, build_overlay, verify_overlay
from memmap_tui.sources.errors import InputError

needs_fdtoverlay = pytest.mark.skipif(shutil.which("fdtoverlay") is None, reason="fdtoverlay not installed")


def dts_of(data: bytes, *sort: str) -> str:
    return subprocess.run(["dtc", "-q", *sort, "-I", "dtb", "-O", "dts", "-"], input=data,
                          capture_output=True, check=True).stdout.decode()


def reserved_children(data: bytes) -> list[str]:
    nodes, _ = parse(dts_of(data))
    return [p for p in nodes if p.rsplit("/", 1)[0] == "/reserved-memory"
            and "linux,no-dump" not in nodes[p].props]


@needs_corpus
@needs_dtc
@needs_fdtoverlay
@pytest.mark.parametrize("path", corpus_dtbs(), ids=lambda p: p.name)
def test_overlay_round_trip_equals_patched_dtb(path: Path, tmp_path: Path):
    data = path.read_bytes()
    kids = reserved_children(data)
    if not kids:
        pytest.skip("no /reserved-memory child without linux,no-dump")
    changes = {p: True for p in kids[:2]}
    _, dtbo = build_overlay(changes)
    # the real tool, run here directly (not through our wrapper)
    (tmp_path / "in.dtb").write_bytes(data)
    (tmp_path / "o.dtbo").write_bytes(dtbo)
    subprocess.run(["fdtoverlay", "-i", str(tmp_path / "in.dtb"), "-o", str(tmp_path / "m.dtb"),
                    str(tmp_path / "o.dtbo")], check=True, capture_output=True)
    merged = (tmp_path / "m.dtb").read_bytes()
    patched = patch_dtb(data, changes)
    assert dts_of(merged, "-s") == dts_of(patched, "-s")
    # and merged vs input: only the added properties (libfdt puts them first in the node)
    diff = [line for line in difflib.unified_diff(dts_of(data).splitlines(), dts_of(merged).splitlines(),
                                                  lineterm="", n=0)
            if not line.startswith(("---", "+++", "@@"))]
    assert sorted(diff) == ["+\t\t\tlinux,no-dump;"] * len(changes)
    nodes, _ = parse(dts_of(merged))
    assert all(nodes[p].props.get("linux,no-dump") == "" for p in changes)


@needs_dtc
def test_overlay_uses_target_path_and_is_a_plugin():
    src, dtbo = build_overlay({"/reserved-memory/gpu@a0000000": True})
    assert 'target-path = "/reserved-memory/gpu@a0000000";' in src
    assert "/plugin/;" in src
    nodes, _ = parse(dts_of(dtbo))
    assert nodes["/fragment@0"].props["target-path"] == '"/reserved-memory/gpu@a0000000"'
    assert "linux,no-dump" in nodes["/fragment@0/__overlay__"].props


def test_overlay_cannot_remove():
    with pytest.raises(InputError, match="cannot remove"):
        build_overlay({"/reserved-memory/a@0": True, "/reserved-memory/b@0": False})


def test_overlay_needs_something_to_add():
    with pytest.raises(InputError, match="nothing"):
        build_overlay({})


@needs_corpus
@needs_dtc
@needs_fdtoverlay
def test_verify_overlay_catches_a_wrong_patch():
    data = RSV_DTB.read_bytes()
    _, dtbo = build_overlay({"/reserved-memory/firmware@4c000000": True})
    wrong = patch_dtb(data, {"/reserved-memory/linux,cma@58000000": True})
    with pytest.raises(InputError, match="differs"):
        verify_overlay(data, dtbo, wrong)
    verify_overlay(data, dtbo, patch_dtb(data, {"/reserved-memory/firmware@4c000000": True}))


@needs_corpus
@needs_dtc
@needs_fdtoverlay
def test_overlay_on_missing_node_fails_cleanly():
    _, dtbo = build_overlay({"/reserved-memory/absent@0": True})
    with pytest.raises(InputError, match="fdtoverlay"):
        apply_overlay(RSV_DTB.read_bytes(), dtbo)
