"""`report --json` on a DTB loads no vmcore/ELF reader, no TUI and no rich, nor the readers of
inputs it was not given, and parses the DTB once (issue 14 item 6: start-up). Import sets and
call counts only: wall time is bench/run.py's job."""

from __future__ import annotations

import json
import subprocess
import sys

from memmap_tui.cli import demo_paths

HEAVY = ("elftools", "textual", "rich", "memmap_tui.sources.vmcore", "memmap_tui.core.dump",
         "memmap_tui.tui", "memmap_tui.export", "memmap_tui.report.text", "memmap_tui.report.dump")
# Readers of inputs a plain DTB does not have, and what only they need: each loads inside the
# function that uses it (start-up budget, issue 14 item 6).
LAZY = ("memmap_tui.sources.dmesg", "memmap_tui.sources.iomem", "memmap_tui.sources.memblock",
        "memmap_tui.sources.bundle", "memmap_tui.sources.tools", "memmap_tui.sources.android",
        "memmap_tui.sources.mem_usage", "memmap_tui.gather")
# stdlib modules none of ours imports on that path (the interpreter's own start-up may: compared
# against a bare `python -c pass` in the same environment)
LAZY_STDLIB = ("tarfile", "gzip", "bz2", "lzma", "subprocess", "tempfile", "shutil", "importlib.resources",
               "pathlib")


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


def _bare_interpreter_modules() -> set[str]:
    out = subprocess.run([sys.executable, "-c", "import sys, json; print(json.dumps(sorted(sys.modules)))"],
                         capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout))


def test_report_json_on_a_dtb_imports_no_heavy_module():
    mods, stdout = _modules_after("report", "--json", demo_paths()["dtb"])
    assert json.loads(stdout)["schema"] == "memmap-tui/report/1"
    assert [h for h in HEAVY if _loaded(mods, h)] == []


def test_report_json_on_a_dtb_loads_no_reader_it_does_not_need():
    mods, stdout = _modules_after("report", "--json", demo_paths()["dtb"])
    assert json.loads(stdout)["regions"]
    assert [m for m in LAZY if _loaded(mods, m)] == []
    ours = set(mods) - _bare_interpreter_modules()
    assert [m for m in LAZY_STDLIB if m in ours] == []


def test_the_lazy_readers_do_load_with_their_inputs():
    # the same probe with --dmesg/--iomem (and the demo's importlib.resources): the test above
    # can fail
    paths = demo_paths()
    mods, _ = _modules_after("report", "--json", paths["dtb"], "--dmesg", paths["dmesg"], "--iomem", paths["iomem"])
    assert _loaded(mods, "memmap_tui.sources.dmesg") and _loaded(mods, "memmap_tui.sources.iomem")
    mods, _ = _modules_after("report", "--json", "--demo")
    assert "importlib.resources" in mods


def test_a_plain_dtb_is_parsed_once_and_never_probed_as_a_tarball(monkeypatch):
    import tarfile

    from memmap_tui.inputs import Options, load
    from memmap_tui.sources import containers, dtb, fdt_blob

    calls = []
    real = fdt_blob.parse_fdt

    def counting(data):
        calls.append(len(data))
        return real(data)
    for mod in (containers, dtb):
        monkeypatch.setattr(mod, "parse_fdt", counting)

    def no_tar(*args, **kwargs):
        calls.append("tarfile.open")
        raise tarfile.ReadError("not a tar file")
    monkeypatch.setattr(tarfile, "open", no_tar)
    loaded = load(Options(dtb=demo_paths()["dtb"]))
    assert loaded.dtb is not None and loaded.mm.regions
    assert calls == [len(loaded.dtb.read.data)]


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


def test_the_cli_freezes_the_heap_at_exit():
    # a handler registered before the CLI's runs after it (atexit is last-in, first-out): by then
    # every object is frozen, so the interpreter's final collections skip them
    code = ("import atexit, gc\n"
            "atexit.register(lambda: print('frozen' if gc.get_freeze_count() else 'not frozen'))\n"
            "import memmap_tui.cli\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "frozen"
