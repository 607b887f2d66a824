"""Bad input: one line on stderr, exit status 2, no traceback."""

from __future__ import annotations

import pytest

from conftest import BOOT_IOMEM, RSV_DTB, needs_corpus, needs_dtc, run_cli

pytestmark = needs_corpus


def _assert_clean_error(proc, *fragments: str):
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert lines[0].startswith("memmap-tui: ")
    for frag in fragments:
        assert frag in lines[0], lines[0]
    assert proc.stdout == ""


def test_not_a_dtb(tmp_path):
    bad = tmp_path / "hello.dtb"
    bad.write_bytes(b"\x7fELF" + b"\0" * 100)
    _assert_clean_error(run_cli("report", bad), "hello.dtb", "not a device tree blob")


@pytest.mark.parametrize("keep", [3, 20, 100, 2000, 8000])
def test_truncated_dtb(tmp_path, keep):
    cut = tmp_path / "cut.dtb"
    cut.write_bytes(RSV_DTB.read_bytes()[:keep])
    _assert_clean_error(run_cli("report", "--json", cut), "cut.dtb")


@needs_dtc
def test_dts_syntax_error(tmp_path):
    src = tmp_path / "broken.dts"
    src.write_text("/dts-v1/;\n/ {\n\tmodel = \"x\"\n\tfoo;\n};\n")
    _assert_clean_error(run_cli("report", src), "broken.dts", "dtc")


@needs_dtc
def test_dts_compiles_through_dtc(tmp_path):
    src = tmp_path / "ok.dts"
    src.write_text("/dts-v1/;\n/ {\n#address-cells = <2>; #size-cells = <2>;\n"
                   "memory@80000000 { device_type = \"memory\"; reg = <0 0x80000000 0 0x40000000>; };\n"
                   "reserved-memory { #address-cells = <2>; #size-cells = <2>; ranges;\n"
                   "  fw@80000000 { reg = <0 0x80000000 0 0x100000>; no-map; };\n"
                   "  buf@90000000 { reg = <0 0x90000000 0 0x2000000>; };\n};\n};\n")
    proc = run_cli("report", "--json", src)
    assert proc.returncode == 0, proc.stderr
    assert '"/reserved-memory/buf@90000000"' in proc.stdout


def test_dts_without_dtc(tmp_path):
    src = tmp_path / "ok.dts"
    src.write_text("/dts-v1/;\n/ { };\n")
    _assert_clean_error(run_cli("report", src, env={"PATH": "/nonexistent"}), "dtc")


def test_iomem_garbage(tmp_path):
    junk = tmp_path / "iomem.txt"
    junk.write_text("this is not\n/proc/iomem at all\n")
    _assert_clean_error(run_cli("report", RSV_DTB, "--iomem", junk), "iomem.txt", "not a /proc/iomem")


def test_iomem_binary(tmp_path):
    junk = tmp_path / "iomem.bin"
    junk.write_bytes(bytes(range(256)))
    _assert_clean_error(run_cli("report", RSV_DTB, "--iomem", junk), "iomem.bin")


def test_missing_file(tmp_path):
    _assert_clean_error(run_cli("report", tmp_path / "nope.dtb"), "nope.dtb", "No such file")
    _assert_clean_error(run_cli("report", RSV_DTB, "--iomem", tmp_path / "nope.txt"), "nope.txt")
    _assert_clean_error(run_cli("report", RSV_DTB, "--dmesg", tmp_path / "nope.log"), "nope.log")


def test_unknown_no_dump_path():
    _assert_clean_error(run_cli("report", RSV_DTB, "--no-dump", "/reserved-memory/nothing@0"),
                        "--no-dump", "/reserved-memory/nothing@0")


def test_bad_ram_and_options():
    _assert_clean_error(run_cli("report", RSV_DTB, "--ram", "lots"), "--ram")
    _assert_clean_error(run_cli("report", RSV_DTB, "--ram", "1G@0xffffffffffffffff"), "--ram", "64-bit")
    _assert_clean_error(run_cli("report", RSV_DTB, "--kernel", "seven"), "--kernel")
    _assert_clean_error(run_cli("report", RSV_DTB, "--arch", "vax"), "vax")


def test_zeroed_iomem_is_a_warning_not_an_error(tmp_path):
    zeroed = tmp_path / "iomem-user.txt"
    zeroed.write_text("".join(
        ("  " if line.startswith("  ") else "") + "00000000-00000000 : " + line.split(" : ", 1)[1] + "\n"
        for line in BOOT_IOMEM.read_text().splitlines()))
    proc = run_cli("report", "--json", RSV_DTB, "--iomem", zeroed)
    assert proc.returncode == 0, proc.stderr
    assert '"iomem-zeroed"' in proc.stdout
    assert '"ram_source": "DT /memory"' in proc.stdout
