"""DTS source patch: applied with the real `patch`, compiled with the real cpp + dtc."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import REPO
from dts_oracle import parse

from memmap_tui.export.dtb_patch import patch_dtb
from memmap_tui.export.dts_patch import build_dts_patch
from memmap_tui.sources.errors import InputError

SAMPLE = REPO / "sample-data"
pytestmark = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("dtc", "cpp", "patch")), reason="needs dtc, cpp and patch")


def compile_dts(dts: Path, *incs: Path) -> bytes:
    """cpp -nostdinc -undef -D__DTS__ then dtc -@, as the kernel (and make_sample.py) build it."""
    cmd = ["cpp", "-nostdinc", "-undef", "-D__DTS__", "-x", "assembler-with-cpp"]
    for d in (dts.parent, *incs):
        cmd += ["-I", str(d)]
    pp = subprocess.run(cmd + [str(dts)], capture_output=True, check=True).stdout
    return subprocess.run(["dtc", "-q", "-@", "-I", "dts", "-O", "dtb", "-o", "-", "-"], input=pp,
                          capture_output=True, check=True).stdout


def dts_of(data: bytes, *flags: str) -> str:
    return subprocess.run(["dtc", "-q", *flags, "-I", "dtb", "-O", "dts", "-"], input=data,
                          capture_output=True, check=True).stdout.decode()


def apply(diff: str, root: Path) -> None:
    dry = subprocess.run(["patch", "-p1", "--dry-run", "--batch", "-d", str(root)], input=diff.encode(),
                         capture_output=True)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    subprocess.run(["patch", "-p1", "--batch", "-d", str(root)], input=diff.encode(), check=True,
                   capture_output=True)


@pytest.fixture
def board(tmp_path: Path) -> Path:
    if not (SAMPLE / "board.dts").is_file():
        pytest.skip("sample-data not generated")
    root = tmp_path / "src"
    shutil.copytree(SAMPLE, root / "sample-data")
    return root


SAMPLE_CASES = {
    "board-node": {"/reserved-memory/camera@a4000000": True},                 # defined in board.dts
    "override": {"/reserved-memory/gpu@90000000": True},                      # .dtsi + board &gpu_mem
    "dtsi-only": {"/reserved-memory/video-pool": True, "/reserved-memory/modem@86000000": True},
    "remove": {"/reserved-memory/npu@98000000": False},                       # set by board &npu_mem
    "mixed": {"/reserved-memory/camera@a4000000": True, "/reserved-memory/npu@98000000": False,
              "/reserved-memory/video-pool": True},
}


@pytest.mark.parametrize("override", [False, True], ids=["in-node", "dtsi-override"])
@pytest.mark.parametrize("case", list(SAMPLE_CASES))
def test_sample_board_patch_applies_and_compiles_to_patched_dtb(board: Path, case: str, override: bool):
    changes = SAMPLE_CASES[case]
    dts = board / "sample-data/board.dts"
    original = compile_dts(dts)
    # the shipped board.dtb is what a user exports from; it must be the same tree
    assert dts_of(original) == dts_of((SAMPLE / "board.dtb").read_bytes())
    res = build_dts_patch(dts, changes, root=board, dtsi_override=override)
    assert res.applied == changes
    assert all(f.startswith("sample-data/") for f in res.files)
    assert "--- a/sample-data/" in res.diff and "+++ b/sample-data/" in res.diff
    dtsi_nodes = {"/reserved-memory/video-pool", "/reserved-memory/modem@86000000"} & set(changes)
    if override:
        assert res.files == ["sample-data/board.dts"]
    if dtsi_nodes and not override:
        assert "sample-data/soc.dtsi" in res.files
        assert any("soc.dtsi" in w and "--dtsi-override" in w and "export dialog" in w for w in res.warnings)
    apply(res.diff, board)
    patched_sources = compile_dts(dts)
    expected = patch_dtb((SAMPLE / "board.dtb").read_bytes(), changes)
    assert dts_of(patched_sources, "-s") == dts_of(expected, "-s")
    nodes, _ = parse(dts_of(patched_sources))
    for path, on in changes.items():
        assert ("linux,no-dump" in nodes[path].props) == on


def test_sample_override_names_the_label(board: Path):
    res = build_dts_patch(board / "sample-data/board.dts", {"/reserved-memory/video-pool": True},
                          root=board, dtsi_override=True)
    assert "+&video_pool {" in res.diff and "+\tlinux,no-dump;" in res.diff
    assert "soc.dtsi" not in res.diff


def test_unknown_node(board: Path):
    with pytest.raises(InputError, match="no node"):
        build_dts_patch(board / "sample-data/board.dts", {"/reserved-memory/nope@0": True}, root=board)


def test_root_must_contain_the_files(board: Path, tmp_path: Path):
    other = tmp_path / "elsewhere"
    other.mkdir()
    with pytest.raises(InputError, match="outside the patch root"):
        build_dts_patch(board / "sample-data/board.dts", {"/reserved-memory/camera@a4000000": True}, root=other)


def test_already_set_is_reported_not_patched(board: Path):
    res = build_dts_patch(board / "sample-data/board.dts", {"/reserved-memory/npu@98000000": True}, root=board)
    assert res.diff == "" and res.applied == {}
    assert "already" in res.unchanged["/reserved-memory/npu@98000000"]


# -- generated sources: awkward layouts --------------------------------------------------

def write_tree(root: Path, *, newline: str = "\n", final_newline: bool = True) -> Path:
    """A board .dts including a .dtsi and a dt-bindings header, generated here."""
    (root / "include/dt-bindings/acme").mkdir(parents=True)
    (root / "include/dt-bindings/acme/mem.h").write_text("#define ACME_FW_SIZE 0x100000\n")
    soc = [
        "/ {",
        "\t#address-cells = <2>;",
        "\t#size-cells = <2>;",
        "\treserved-memory {",
        "\t\t#address-cells = <2>;",
        "\t\t#size-cells = <2>;",
        "\t\tranges;",
        "",
        "\t\tfw: firmware@b0000000 { reg = <0 0xb0000000 0 ACME_FW_SIZE>; };",
        "\t\tparent_mem: parent@c0000000 {",
        "\t\t\treg = <0 0xc0000000 0 0x100000>;",
        "\t\t\tchild {",
        "\t\t\t\tfoo;",
        "\t\t\t};",
        "\t\t};",
        "\t\tempty@d0000000 {",
        "\t\t};",
        "\t};",
        "};",
    ]
    board = [
        "/dts-v1/;",
        "#include <dt-bindings/acme/mem.h>",
        '#include "soc.dtsi"',
        "",
        "/ {",
        '\tmodel = "gen";',
        "\treserved-memory {",
        "\t\tboard_mem: board@e0000000 { reg = <0 0xe0000000 0 0x1000>; linux,no-dump; };",
        "\t};",
        "};",
        "",
        "&{/reserved-memory/empty@d0000000} {",
        "\treg = <0 0xd0000000 0 0x1000>;",
        "};",
    ]
    (root / "arch/dts").mkdir(parents=True)
    (root / "arch/dts/soc.dtsi").write_text(newline.join(soc) + (newline if final_newline else ""),
                                            newline="")
    (root / "arch/dts/board.dts").write_text(newline.join(board) + (newline if final_newline else ""),
                                             newline="")
    return root / "arch/dts/board.dts"


GEN_CHANGES = {
    "/reserved-memory/firmware@b0000000": True,     # one-liner in the .dtsi, macro in reg
    "/reserved-memory/parent@c0000000": True,       # has a subnode: property must precede it
    "/reserved-memory/empty@d0000000": True,        # board &{/path} override block
    "/reserved-memory/board@e0000000": False,       # one-liner removal
}


@pytest.mark.parametrize("newline, final", [("\n", True), ("\r\n", True), ("\n", False)],
                         ids=["lf", "crlf", "no-final-newline"])
@pytest.mark.parametrize("override", [False, True], ids=["in-node", "dtsi-override"])
def test_generated_tree(tmp_path: Path, newline: str, final: bool, override: bool):
    dts = write_tree(tmp_path, newline=newline, final_newline=final)
    inc = tmp_path / "include"
    before = compile_dts(dts, inc)
    res = build_dts_patch(dts, GEN_CHANGES, include_dirs=[inc], root=tmp_path, dtsi_override=override)
    assert res.applied == GEN_CHANGES
    apply(res.diff, tmp_path)
    after = compile_dts(dts, inc)
    assert dts_of(after, "-s") == dts_of(patch_dtb(before, GEN_CHANGES), "-s")
    text = (tmp_path / "arch/dts/soc.dtsi").read_bytes()
    if newline == "\r\n":
        assert b"\n" not in text.replace(b"\r\n", b"")   # no bare LF introduced
    if override:
        assert (tmp_path / "arch/dts/soc.dtsi").read_text().count("linux,no-dump") == 0
        assert "&fw {" in (tmp_path / "arch/dts/board.dts").read_text()


def test_dtc_error_is_one_line(tmp_path: Path):
    dts = tmp_path / "bad.dts"
    dts.write_text("/dts-v1/;\n/ { reserved-memory { a@0 { reg = <0 0>; }; };\n")
    with pytest.raises(InputError, match="dtc failed") as err:
        build_dts_patch(dts, {"/reserved-memory/a@0": True})
    assert "\n" not in str(err.value)
