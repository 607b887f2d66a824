"""Shared fixtures: paths into the real corpus (../shared/corpus) and a CLI runner."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("MEMMAP_CORPUS", REPO.parent / "shared" / "corpus"))
RSV_DTB = CORPUS / "dtb/qemu/virt-aarch64-1G-rsv.dtb"
BOOT_IOMEM = CORPUS / "iomem/aarch64-qemu-virt-guest.txt"
CONSOLE_LOG = CORPUS / "boot/console.log"


def corpus_dtbs() -> list[Path]:
    return sorted(CORPUS.glob("dtb/*/*.dtb"))


needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="shared corpus not present")
needs_dtc = pytest.mark.skipif(shutil.which("dtc") is None, reason="dtc not installed")


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the real console entry point in a subprocess (what a user or script sees)."""
    return subprocess.run([sys.executable, "-m", "memmap_tui", *map(str, args)],
                          capture_output=True, text=True, env={**os.environ, **(env or {})})


def assert_one_line_error(proc: subprocess.CompletedProcess, match: str) -> None:
    """Bad input as the user sees it: exit 2, one `memmap-tui: …` line naming `match`, no traceback."""
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("memmap-tui: ") and match in lines[0]
    assert "Traceback" not in proc.stderr


def pytest_configure(config) -> None:
    """Without the corpus its snapshot tests skip, so their committed SVGs go unused: that is a
    lone clone, not a stale snapshot (syrupy would fail the run). With the corpus: strict."""
    if not CORPUS.is_dir() and hasattr(config.option, "warn_unused_snapshots"):
        config.option.warn_unused_snapshots = True
