"""`report --json` on a DTB loads no vmcore/ELF reader, no TUI and no rich (issue 14 item 6)."""

from __future__ import annotations

import json
import subprocess
import sys

from memmap_tui.cli import demo_paths

HEAVY = ("elftools", "textual", "rich", "memmap_tui.sources.vmcore", "memmap_tui.core.dump",
         "memmap_tui.tui", "memmap_tui.export", "memmap_tui.report.text", "memmap_tui.report.dump")


def _modules_after(*argv: str) -> tuple[list[str], str]:
    code = ("import sys, json\n"
            "from memmap_tui.cli import main\n"
            "try:\n"
            f"    main({list(argv)!r})\n"
            "except SystemExit:\n"
            "    pass\n"
            "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stderr.strip().splitlines()[-1]), out.stdout


def _loaded(mods: list[str], prefix: str) -> bool:
    return any(m == prefix or m.startswith(prefix + ".") for m in mods)


def test_report_json_on_a_dtb_imports_no_heavy_module():
    mods, stdout = _modules_after("report", "--json", demo_paths()["dtb"])
    assert json.loads(stdout)["schema"] == "memmap-tui/report/1"
    assert [h for h in HEAVY if _loaded(mods, h)] == []


def test_the_check_does_see_imports():
    # the same probe on the text report does find rich: the test above can fail
    mods, _ = _modules_after("report", demo_paths()["dtb"])
    assert _loaded(mods, "rich") and _loaded(mods, "memmap_tui.report.text")


def test_report_json_is_laid_out_one_member_per_line_and_rejects_nan():
    from conftest import run_cli
    proc = run_cli("report", "--json", "--demo")
    doc = json.loads(proc.stdout)
    lines = proc.stdout.splitlines()
    # one region per line: the document stays greppable without indent='s slow encoder
    assert sum(1 for line in lines if line.startswith('  {"id": ')) == len(doc["regions"])
    bad = run_cli("report", "--json", "--demo", "--write-speed", "nan")
    assert bad.returncode == 2 and bad.stdout == "" and "--write-speed" in bad.stderr
