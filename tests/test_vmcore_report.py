"""`memmap-tui report --vmcore`: the JSON "dump" object, the text table, dump-only mode,
bad files — through the real console entry point."""

from __future__ import annotations

import json
import re

from conftest import BOOT_IOMEM, CONSOLE_LOG, CORPUS, RSV_DTB, assert_one_line_error, needs_corpus, run_cli

D31 = CORPUS / "vmcore/qemu-aarch64.d31.kdump.meta-only"
FLAT = CORPUS / "vmcore/qemu-aarch64.kdump-zlib.flat"
pytestmark = needs_corpus


def mdf(label: str) -> int:
    text = (CORPUS / "boot/mdf-d31-kdump.log").read_text()
    return int(re.search(label + r"\s*:\s*0x([0-9a-f]+)", text).group(1), 16)


def test_report_json_dump_object_on_the_real_boot():
    p = run_cli("report", str(RSV_DTB), "--iomem", str(BOOT_IOMEM), "--dmesg", str(CONSOLE_LOG),
                "--vmcore", str(D31), "--json")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    dump = doc["dump"]
    for key in ("format", "page_size", "osrelease", "covered_bytes", "present_bytes",
                "on_disk_bytes", "verdict", "regions"):
        assert key in dump
    assert dump["format"] == "kdump" and dump["page_size"] == 4096 and dump["osrelease"] == "6.1.0-56-arm64"
    assert dump["covered_bytes"] == mdf("Original pages") * 4096
    assert dump["present_bytes"] == (mdf("Remaining pages") + mdf("Pages filled with zero")) * 4096
    assert dump["on_disk_bytes"] == 18_675_118          # sizes.full-files.txt: the uncut file
    assert [r["id"] for r in dump["regions"]] == [r["id"] for r in doc["regions"]]
    for r in dump["regions"]:
        assert {"id", "covered_bytes", "present_bytes", "on_disk_bytes"} <= set(r)
    assert "crashkernel" in dump["verdict"] and "not in a kdump vmcore" in dump["verdict"]
    assert dump["balanced"] is True
    assert any(f["code"] == "vmcore-cut" for f in doc["findings"])   # cut file: said once, as a finding


def test_report_text_shows_dump_table_and_named_differences():
    p = run_cli("report", str(RSV_DTB), "--iomem", str(BOOT_IOMEM), "--dmesg", str(CONSOLE_LOG),
                "--vmcore", str(FLAT), env={"COLUMNS": "160"})
    assert p.returncode == 0, p.stderr
    assert "What the dump holds" in p.stdout
    assert "in the dump but not in a kdump vmcore" in p.stdout
    assert "video-pool" in p.stdout and "firmware@4c000000" in p.stdout


def test_dump_only_mode_takes_ram_from_the_dump():
    p = run_cli("report", "--vmcore", str(FLAT), "--json")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["ram"] == [{"start": 0x40000000, "end": 0x80000000}]
    assert doc["ram_source"] == "vmcore"
    assert doc["dump"]["verdict"].startswith("not checked")
    # with iomem, ranges get iomem's names and the check runs
    p = run_cli("report", "--vmcore", str(FLAT), "--iomem", str(BOOT_IOMEM), "--json")
    doc = json.loads(p.stdout)
    names = {n["name"] for n in doc["dump"]["policy_check"]["policies"]["today"]["in_dump_not_predicted"]}
    assert "reserved" in names


def test_bad_vmcore_is_one_line_exit_2(tmp_path):
    bad = tmp_path / "bad.vmcore"
    bad.write_bytes(b"KDUMP   " + bytes(100))
    p = run_cli("report", "--vmcore", str(bad))
    assert_one_line_error(p, str(bad))
