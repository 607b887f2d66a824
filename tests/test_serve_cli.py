"""`memmap-tui serve` checks its inputs on the terminal before any server starts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_serve_refuses_bad_input_on_the_terminal(tmp_path: Path):
    proc = subprocess.run([sys.executable, "-m", "memmap_tui", "serve", "--port", "9",
                           str(tmp_path / "missing.dtb")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"memmap-tui: {tmp_path / 'missing.dtb'}: No such file or directory"]


def test_serve_help_names_the_open_arguments():
    proc = subprocess.run([sys.executable, "-m", "memmap_tui", "serve", "--help"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0 and "[OPEN ARGS]" in proc.stdout and "--port" in proc.stdout
