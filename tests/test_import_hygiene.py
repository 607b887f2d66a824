"""core/ and sources/ must not import presentation libraries (design.md layers)."""

import pkgutil
import subprocess
import sys

import memmap_tui.core
import memmap_tui.sources


def _modules(pkg) -> list[str]:
    return [m.name for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + ".")]


def test_core_and_sources_never_import_textual_or_rich():
    mods = _modules(memmap_tui.core) + _modules(memmap_tui.sources) + ["memmap_tui.inputs"]
    assert "memmap_tui.core.policy" in mods and "memmap_tui.sources.dtb" in mods
    code = ("import importlib, sys\n"
            f"for m in {mods!r}: importlib.import_module(m)\n"
            "bad = sorted(n for n in sys.modules if n.split('.')[0] in ('textual', 'rich'))\n"
            "print(','.join(bad))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_lower_layers_do_not_import_upward():
    upward = ("memmap_tui.report", "memmap_tui.export", "memmap_tui.tui", "memmap_tui.cli")
    import pathlib
    for pkg in (memmap_tui.core, memmap_tui.sources):
        for path in pathlib.Path(pkg.__path__[0]).rglob("*.py"):
            text = path.read_text()
            for name in upward:
                assert f"import {name}" not in text and f"from {name}" not in text, (path, name)
