"""`memmap-tui export`: what a user sees — files written, warnings, one-line errors, exit 2."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import REPO, RSV_DTB, assert_one_line_error, needs_corpus, needs_dtc, run_cli

SAMPLE = REPO / "sample-data"
needs_tools = pytest.mark.skipif(not all(shutil.which(t) for t in ("dtc", "fdtoverlay", "cpp", "patch")),
                                 reason="needs dtc, fdtoverlay, cpp, patch")


def listing(d: Path) -> list[str]:
    return sorted(os.listdir(d))


def load_board(dtb: Path):
    from memmap_tui.inputs import Options, load
    return load(Options(dtb=str(dtb)))


@pytest.fixture
def work(tmp_path: Path) -> Path:
    shutil.copy(RSV_DTB, tmp_path / "in.dtb")
    return tmp_path


@needs_corpus
@needs_tools
def test_export_all_three_outputs(tmp_path: Path):
    if not (SAMPLE / "board.dts").is_file():
        pytest.skip("sample-data not generated")
    src = tmp_path / "src"
    shutil.copytree(SAMPLE, src / "sample-data")
    out = tmp_path / "out"
    out.mkdir()
    proc = run_cli("export", src / "sample-data/board.dtb", "--no-dump", "camera_mem", "--no-dump", "gpu@90000000",
                   "-o", out / "b.dtb", "--overlay", out / "b.dtbo",
                   "--dts", src / "sample-data/board.dts", "--dts-root", src, "--dts-patch", out / "b.patch")
    assert proc.returncode == 0, proc.stderr
    assert listing(out) == ["b.dtb", "b.dtbo", "b.patch"]
    assert proc.stdout.count("wrote ") == 3
    err = proc.stderr
    assert "Neither is in mainline" in err
    assert "exclude-reserved" in err
    patch = (out / "b.patch").read_text()
    assert patch.startswith("--- a/sample-data/board.dts")
    dry = subprocess.run(["patch", "-p1", "--dry-run", "-d", str(src)], input=patch.encode(), capture_output=True)
    assert dry.returncode == 0, dry.stdout
    merged = tmp_path / "merged.dtb"
    subprocess.run(["fdtoverlay", "-i", str(src / "sample-data/board.dtb"), "-o", str(merged), str(out / "b.dtbo")],
                   check=True)
    sort = lambda p: subprocess.run(["dtc", "-q", "-s", "-I", "dtb", "-O", "dts", str(p)],  # noqa: E731
                                    capture_output=True, text=True, check=True).stdout
    assert sort(merged) == sort(out / "b.dtb")


@needs_corpus
@needs_dtc
def test_strict_binding_and_reusable_warnings(work: Path):
    proc = run_cli("export", work / "in.dtb", "--no-dump", "linux,cma@58000000", "-o", work / "o.dtb")
    assert proc.returncode == 0, proc.stderr
    assert "shared-dma-pool" in proc.stderr and "dtbs_check" in proc.stderr
    assert "reusable" in proc.stderr


@needs_corpus
def test_over_the_input_is_refused(work: Path):
    before = listing(work)
    data = (work / "in.dtb").read_bytes()
    (work / "alias.dtb").symlink_to(work / "in.dtb")
    before = listing(work)
    for target in ("in.dtb", "alias.dtb", "./in.dtb"):
        proc = run_cli("export", work / "in.dtb", "--no-dump", "firmware@4c000000", "-o", work / target)
        assert_one_line_error(proc, "refusing to overwrite")
    assert listing(work) == before
    assert (work / "in.dtb").read_bytes() == data


@needs_corpus
def test_unwritable_directory(work: Path):
    if os.geteuid() == 0:
        target = Path("/proc/memmap-tui-export-test.dtb")
    else:
        ro = work / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        target = ro / "o.dtb"
    proc = run_cli("export", work / "in.dtb", "--no-dump", "firmware@4c000000", "-o", target)
    assert_one_line_error(proc, "not writable")
    assert not target.exists()


@needs_corpus
def test_unknown_node(work: Path):
    before = listing(work)
    proc = run_cli("export", work / "in.dtb", "--no-dump", "/reserved-memory/nope@0", "-o", work / "o.dtb")
    assert_one_line_error(proc, "nope@0")
    assert listing(work) == before


@needs_corpus
@needs_tools
def test_failure_in_one_output_writes_none(work: Path):
    """Overlay cannot remove a property: the DTB asked for in the same run is not written either."""
    before = listing(work)
    proc = run_cli("export", work / "in.dtb", "--dump", "gpu-mem@50000000", "-o", work / "o.dtb",
                   "--overlay", work / "o.dtbo")
    assert_one_line_error(proc, "cannot remove")
    assert listing(work) == before


@needs_corpus
def test_nothing_to_export(work: Path):
    proc = run_cli("export", work / "in.dtb", "-o", work / "o.dtb")
    assert_one_line_error(proc, "nothing to change")
    proc = run_cli("export", work / "in.dtb", "--no-dump", "firmware@4c000000")
    assert_one_line_error(proc, "nothing to export")
    assert listing(work) == ["in.dtb"]


# -- the API the TUI's export dialog calls ---------------------------------------------

@needs_corpus
@needs_dtc
def test_run_export_with_loaded_model(work: Path):
    from memmap_tui.export import ExportRequest, run_export
    from memmap_tui.inputs import Options, load
    loaded = load(Options(dtb=str(work / "in.dtb"), ram=("1G@0x40000000",)))
    mm = loaded.mm
    mm.set_no_dump("/reserved-memory/firmware@4c000000", True)     # no-map: redundant
    mm.set_no_dump("/reserved-memory/gpu-mem@50000000", False)     # clears the DT's flag
    overrides = dict(mm.no_dump_overrides)
    (work / "in.dtb").unlink()       # the bytes loading read are what gets patched: no re-read
    res = run_export(ExportRequest(changes=mm.changed_no_dump(), output=work / "o.dtb"), mm, loaded.dtb.read)
    assert res.written == [work / "o.dtb"]
    assert res.dtb.applied == {"/reserved-memory/firmware@4c000000": True,
                               "/reserved-memory/gpu-mem@50000000": False}
    codes = {w.code for w in res.warnings}
    assert {"no-dump-v1-only", "no-dump-redundant-no-map", "no-dump-savings"} <= codes
    assert res.savings["exclude-reserved"] > 0
    assert mm.no_dump_overrides == overrides     # the caller's model is not touched


@needs_tools
def test_dts_that_is_not_the_dtb_is_flagged(tmp_path: Path):
    if not (SAMPLE / "board.dts").is_file():
        pytest.skip("sample-data not generated")
    from memmap_tui.export import ExportRequest, run_export
    src = tmp_path / "src"
    shutil.copytree(SAMPLE, src)
    dts = src / "board.dts"
    text = dts.read_text().replace("reg = <0x0 0xa4000000 0x0 0x2000000>;", "reg = <0x0 0xa4000000 0x0 0x1000000>;")
    assert text != dts.read_text()
    dts.write_text(text)
    loaded = load_board(SAMPLE / "board.dtb")
    changes = {"/reserved-memory/camera@a4000000": True}
    res = run_export(ExportRequest(changes=changes, dts=dts, dts_patch=tmp_path / "p.patch", dts_root=src),
                     loaded.mm, loaded.dtb.read)
    assert any(w.code == "dts-not-this-dtb" and "camera@a4000000" in w.message for w in res.warnings)
    res = run_export(ExportRequest(changes=changes, dts=SAMPLE / "board.dts", dts_patch=tmp_path / "q.patch"),
                     loaded.mm, loaded.dtb.read)
    assert not any(w.code == "dts-not-this-dtb" for w in res.warnings)


@needs_corpus
@needs_tools
def test_run_export_dry_run_writes_nothing(work: Path):
    from memmap_tui.export import ExportRequest, run_export
    loaded = load_board(work / "in.dtb")
    res = run_export(ExportRequest(changes={"/reserved-memory/firmware@4c000000": True}, output=work / "o.dtb",
                                   overlay=work / "o.dtbo", dry_run=True), loaded.mm, loaded.dtb.read)
    assert res.written == [] and listing(work) == ["in.dtb"]
    assert 'target-path = "/reserved-memory/firmware@4c000000";' in res.overlay_source
    assert res.dtb.dts_diff == ["+\t\t\tlinux,no-dump;"]


def test_ignored_cma_toggle_claims_no_saving(tmp_path: Path):
    """v1 skips reusable (CMA) regions: the export must not credit the toggle with the 4 KiB
    /memreserve/ entry that a no-dump-v1 kernel treats differently with or without it."""
    proc = run_cli("export", SAMPLE / "board.dtb", "--no-dump", "linux_cma", "-o", tmp_path / "o.dtb")
    assert proc.returncode == 0, proc.stderr
    savings = [ln for ln in proc.stderr.splitlines() if "no-dump-v1 kernel" in ln]
    assert len(savings) == 1 and "writes the same vmcore as with the input DTB" in savings[0]
    assert " 4 KiB" not in savings[0]
    assert "ignored" in proc.stderr


def test_toggle_saving_is_the_toggles_own(tmp_path: Path):
    proc = run_cli("export", SAMPLE / "board.dtb", "--no-dump", "camera_mem", "-o", tmp_path / "o.dtb")
    assert proc.returncode == 0, proc.stderr
    assert "a no-dump-v1 kernel leaves 32 MiB more out of the vmcore than with the input DTB" in proc.stderr
