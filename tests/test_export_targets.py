"""Export targets and external tools under hostile input (issue 14): every case is built by
code, exits 0 or 2 within a few seconds, and leaves every existing file byte-identical."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import fdt_gen
from conftest import REPO, assert_one_line_error, run_cli

SAMPLE = REPO / "sample-data"
needs_tools = pytest.mark.skipif(not all(shutil.which(t) for t in ("dtc", "fdtoverlay", "cpp", "patch")),
                                 reason="needs dtc, fdtoverlay, cpp, patch")
_spec = importlib.util.spec_from_file_location("gen_dumps", REPO / "bench" / "gen_dumps.py")
gen_dumps = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen_dumps)


def snapshot(d: Path) -> dict[str, tuple[int, bytes | None]]:
    """Every entry under d: its kind and, for regular files, its bytes."""
    out = {}
    for p in sorted(d.rglob("*")):
        st = os.lstat(p)
        out[str(p.relative_to(d))] = (stat.S_IFMT(st.st_mode),
                                      p.read_bytes() if stat.S_ISREG(st.st_mode) else None)
    return out


@pytest.fixture
def board(tmp_path: Path) -> Path:
    """sample-data plus a generated ELF vmcore, in a scratch directory."""
    d = tmp_path / "board"
    shutil.copytree(SAMPLE, d, ignore=shutil.ignore_patterns("*.py", "*.md"))
    segs = [(0x80000000, 0xFFFF000000000000, 0x100000, 0x100000)]
    head, size = gen_dumps.elf_core(segs, notes=gen_dumps.core_notes(1, gen_dumps.vmcoreinfo_text()))
    gen_dumps.write_sparse(str(d / "vmcore"), head, size)
    return d


def export(board: Path, *args) -> subprocess.CompletedProcess:
    return run_cli("export", board / "board.dtb", "--iomem", board / "iomem.txt", "--dmesg", board / "dmesg.txt",
                   "--vmcore", board / "vmcore", "--no-dump", "camera_mem", *args)


@needs_tools
@pytest.mark.parametrize("option", ["-o", "--overlay", "--dts-patch"])
@pytest.mark.parametrize("victim", ["board.dtb", "iomem.txt", "dmesg.txt", "vmcore", "board.dts", "soc.dtsi",
                                    "hard-link", "sym-link"])
def test_an_input_is_never_a_target(board: Path, option: str, victim: str):
    os.link(board / "vmcore", board / "hard-link")
    (board / "sym-link").symlink_to(board / "soc.dtsi")
    before = snapshot(board)
    proc = export(board, "--dts", board / "board.dts", "--dts-root", board, option, board / victim,
                  *([] if option == "--dts-patch" else ["--dts-patch", board / "ok.patch"]))
    assert_one_line_error(proc, "input" if victim != "sym-link" else "")
    assert snapshot(board) == before


@needs_tools
def test_an_include_of_dts_given_without_a_patch_is_never_a_target(board: Path):
    before = snapshot(board)
    proc = export(board, "--dts", board / "board.dts", "-o", board / "soc.dtsi")
    assert_one_line_error(proc, "is an input")
    assert snapshot(board) == before


@needs_tools
def test_an_include_of_the_dts_input_is_never_a_target(board: Path):
    """The DTB given as .dts: the .dtsi it #includes is an input too."""
    before = snapshot(board)
    proc = run_cli("export", board / "board.dts", "--no-dump", "camera@a4000000", "-o", board / "soc.dtsi")
    assert_one_line_error(proc, "is an input")
    assert snapshot(board) == before


@pytest.mark.parametrize("kind", ["fifo", "dev-null", "directory", "symlink"])
def test_a_target_that_is_not_a_regular_file_is_never_replaced(board: Path, kind: str):
    if kind == "fifo":
        target = board / "out.fifo"
        os.mkfifo(target)
    elif kind == "dev-null":
        target = Path("/dev/null")
    elif kind == "directory":
        target = board / "subdir"
        target.mkdir()
    else:
        target = board / "link.dtb"
        (board / "elsewhere.dtb").write_bytes(b"keep")
        target.symlink_to(board / "elsewhere.dtb")
    before = snapshot(board)
    proc = export(board, "-o", target)
    assert_one_line_error(proc, {"fifo": "not a regular file", "dev-null": "not a regular file",
                          "directory": "directory", "symlink": "symbolic link"}[kind])
    assert snapshot(board) == before
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_two_outputs_naming_one_file_are_refused(board: Path):
    os.link(board / "iomem.txt", board / "x")
    (board / "a.dtb").write_bytes(b"old")
    os.link(board / "a.dtb", board / "b.dtbo")
    before = snapshot(board)
    proc = export(board, "-o", board / "a.dtb", "--overlay", board / "b.dtbo")
    assert_one_line_error(proc, "two outputs")
    assert snapshot(board) == before


def test_conflicting_toggles_are_an_error(board: Path):
    before = snapshot(board)
    proc = run_cli("export", board / "board.dtb", "--no-dump", "camera_mem", "--dump", "camera@a4000000",
                   "-o", board / "out.dtb")
    assert_one_line_error(proc, "name the same node")
    assert snapshot(board) == before
    assert_one_line_error(run_cli("report", board / "board.dtb", "--no-dump", "gpu@90000000", "--dump", "gpu@90000000"),
                   "name the same node")


@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM", "SIGHUP"])
def test_interrupted_write_leaves_no_temp_file(board: Path, how: str):
    """The signal arrives while the temp file is staged (os.replace is where it lands)."""
    (board / "out.dtb").write_bytes(b"earlier export")
    before = snapshot(board)
    code = textwrap.dedent(f"""
        import os, signal, sys
        real = os.replace
        def replace(a, b):
            os.kill(os.getpid(), signal.{how})
            real(a, b)
        os.replace = replace
        from memmap_tui.cli import main
        main(["export", sys.argv[1], "--no-dump", "camera_mem", "-o", sys.argv[2]])
    """)
    proc = subprocess.run([sys.executable, "-c", code, str(board / "board.dtb"), str(board / "out.dtb")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 128 + getattr(signal, how) or (how == "SIGINT" and proc.returncode == 130)
    assert "Traceback" not in proc.stderr
    assert snapshot(board) == before          # no .tmp, and the earlier export untouched


# -- the tool wrapper -------------------------------------------------------------------------

def _bounded(cmd: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess, float, int]:
    """Run the CLI; return (process, seconds, peak RSS in KiB of any process it ran)."""
    probe = textwrap.dedent("""
        import resource, subprocess, sys
        p = subprocess.run(sys.argv[1:], capture_output=True, text=True)
        sys.stderr.write(p.stderr)
        print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
        sys.exit(p.returncode)
    """)
    t = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", probe, sys.executable, "-m", "memmap_tui", *cmd],
                          capture_output=True, text=True, cwd=cwd, timeout=120)
    return proc, time.monotonic() - t, int(proc.stdout.strip().splitlines()[-1])


MACRO_2_24 = "#define A0 x\n" + "".join(f"#define A{i} A{i - 1} A{i - 1}\n" for i in range(1, 25))
HOSTILE_DTS = {
    "incbin-dev-zero": '/dts-v1/;\n/ { p = /incbin/("/dev/zero"); };\n',
    "include-dev-stdin": '#include "/dev/stdin"\n/dts-v1/;\n/ { p = <1>; };\n',
    "include-dev-zero": '#include "/dev/zero"\n/dts-v1/;\n/ { p = <1>; };\n',
    "macro-2^24": MACRO_2_24 + "/dts-v1/;\n/ { q = A24; };\n",
}


@needs_tools
@pytest.mark.parametrize("case", sorted(HOSTILE_DTS))
def test_dts_compilation_is_bounded(tmp_path: Path, case: str):
    src = tmp_path / "hostile.dts"
    src.write_text(HOSTILE_DTS[case])
    proc, seconds, peak_kib = _bounded(["report", "--json", src.name], tmp_path)
    assert_one_line_error(proc, src.name)
    assert seconds < 25          # the tool wrapper's wall clock limit, never a hang
    assert peak_kib < 300 * 1024  # tools run under a 256 MiB address-space limit


@needs_tools
def test_a_dts_named_like_an_option_is_a_file(tmp_path: Path):
    """`-ovictim.txt` must not reach cpp as `-o victim.txt` (which truncates victim.txt)."""
    (tmp_path / "victim.txt").write_text("precious\n")
    (tmp_path / "soc.dtsi").write_text("/ { model = \"x\"; };\n")
    (tmp_path / "-ovictim.txt").write_text('#include "soc.dtsi"\n/dts-v1/;\n/ { p = <1>; };\n')
    before = snapshot(tmp_path)
    for cmd in (["report", "--json", "--", "-ovictim.txt"],
                ["export", "--", "-ovictim.txt"]):
        subprocess.run([sys.executable, "-m", "memmap_tui", *cmd], cwd=tmp_path, capture_output=True, timeout=60)
    assert snapshot(tmp_path) == before


def test_tools_get_no_stdin_and_absolute_paths(tmp_path: Path, monkeypatch):
    from memmap_tui.sources import tools
    seen = {}
    real = subprocess.Popen

    def spy(args, **kw):
        seen["args"], seen["stdin"] = args, kw.get("stdin")
        return real(args, **kw)
    monkeypatch.setattr(subprocess, "Popen", spy)
    if shutil.which("dtc") is None:
        pytest.skip("dtc not installed")
    run = tools.run("dtc", ["-I", "dts", "-O", "dtb"], ["-x.dts"], why="test")
    assert seen["stdin"] is subprocess.DEVNULL
    assert seen["args"][-2:] == ["--", str(Path("-x.dts").resolve())]
    assert run.returncode != 0 and "-x.dts" in run.first_line()


# -- big and deep trees ----------------------------------------------------------------------

def test_a_2000_deep_tree_is_refused_cleanly_and_a_deep_legal_one_exports(tmp_path: Path):
    # drivers/of/fdt.c unflatten_dt_nodes() skips nodes below FDT_MAX_DEPTH (64): the reader
    # refuses such a blob (an export would silently differ from what the kernel sees)
    src = tmp_path / "deep.dtb"
    src.write_bytes(fdt_gen.board([fdt_gen.deep_chain(2000)]))
    proc = run_cli("export", src, "--no-dump", "buf@90000000", "-o", tmp_path / "out.dtb")
    assert_one_line_error(proc, "64 levels")
    assert not (tmp_path / "out.dtb").exists()
    legal = tmp_path / "legal.dtb"
    legal.write_bytes(fdt_gen.board([fdt_gen.deep_chain(60)]))
    proc = run_cli("export", legal, "--no-dump", "buf@90000000", "-o", tmp_path / "out.dtb")
    assert proc.returncode == 0, proc.stderr
    from memmap_tui.sources.fdt_blob import parse_fdt
    out = parse_fdt((tmp_path / "out.dtb").read_bytes())
    assert "linux,no-dump" in out.get("/reserved-memory/buf@90000000").props
    assert len(out.nodes_by_path) == len(parse_fdt(legal.read_bytes()).nodes_by_path)


def test_string_table_work_is_linear_in_names():
    """Bytes examined per name stay flat as the table grows (fdt's writer rescanned the
    whole table per property: 100k names took 73 s)."""
    from memmap_tui.export.dtb_patch import StringTable, structure_block
    from memmap_tui.sources.fdt_blob import parse_fdt
    per_name = []
    for n in (2_000, 20_000):
        blob = parse_fdt(fdt_gen.board([("many", [(f"p{i:06d}", b"") for i in range(n)], [])]))
        table = StringTable(b"")
        grown = []
        real_index = table._index

        def counting(start, real_index=real_index):
            grown.append(len(table.data) - start)
            real_index(start)
        table._index = counting
        structure_block(blob.root, table)
        per_name.append(sum(grown) / n)
        assert table.data.count(b"\0") == n + 6          # each distinct name stored once
    assert per_name[1] <= per_name[0] * 1.1


def test_100k_property_names_export_and_round_trip(tmp_path: Path):
    src = tmp_path / "wide.dtb"
    data = fdt_gen.board([("many", [(f"p{i:06d}", b"") for i in range(100_000)], [])])
    src.write_bytes(data)
    from memmap_tui.export.dtb_patch import patch_dtb
    assert patch_dtb(data, {}, verify=False) == data      # byte-identical re-serialization
    proc = run_cli("export", src, "--no-dump", "buf@90000000", "-o", tmp_path / "out.dtb")
    assert proc.returncode == 0, proc.stderr
    assert "only our reader checked the output" in proc.stderr


@needs_tools
def test_dts_compiles_under_a_lower_hard_memory_limit(tmp_path: Path):
    """A caller's `ulimit -v` below the tools' own 256 MiB cap: the cap follows it down
    (the shell cannot raise a hard limit, and every DTS compile used to fail there)."""
    sample = Path(__file__).resolve().parent.parent / "sample-data" / "board.dts"
    code = ("import resource, sys; L = 220 << 20; resource.setrlimit(resource.RLIMIT_AS, (L, L)); "
            "from memmap_tui.cli import main; main(sys.argv[1:])")
    proc = subprocess.run([sys.executable, "-c", code, "report", "--json", str(sample)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["regions"]
