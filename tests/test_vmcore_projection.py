"""Issue 10: per-policy projection from a reference dump, and estimates from
`makedumpfile --mem-usage` page counts.

The real boot's `makedumpfile -d 31` dump is the reference: `today` must reproduce the
dump's own figures (the uncut file's size in vmcore/sizes.full-files.txt, the page counts
in boot/mdf-d31-kdump.log), and `exclude-reserved` must save exactly what the file's own
2nd bitmap and page descriptors say the newly excluded ranges hold — read here by a
plain per-bit reader written independently of the app's bitmap index."""

from __future__ import annotations

import json
import re
import struct

import pytest

from conftest import BOOT_IOMEM, CONSOLE_LOG, CORPUS, RSV_DTB, needs_corpus, run_cli
from memmap_tui.core.dump import project
from memmap_tui.core.policy import evaluate
from memmap_tui.inputs import Options, load
from memmap_tui.sources.errors import InputError
from memmap_tui.sources.mem_usage import parse_mem_usage, read_mem_usage

D31 = CORPUS / "vmcore/qemu-aarch64.d31.kdump.meta-only"
BOOT_ARGS = (str(RSV_DTB), "--iomem", str(BOOT_IOMEM), "--dmesg", str(CONSOLE_LOG))


def mdf(label: str) -> int:
    text = (CORPUS / "boot/mdf-d31-kdump.log").read_text()
    return int(re.search(label + r"\s*:\s*0x([0-9a-f]+)", text).group(1), 16)


class PlainKdump:
    """Independent reader: header fields at their diskdump_mod.h offsets, the 2nd bitmap
    bit by bit, descriptors one by one (LP64, little-endian, as the corpus file is)."""

    def __init__(self, path) -> None:
        self.data = path.read_bytes()
        d = self.data
        self.block = struct.unpack_from("<i", d, 428)[0]
        sub_hdr_size, bitmap_blocks = struct.unpack_from("<iI", d, 432)
        max_mapnr = struct.unpack_from("<Q", d, self.block + 96)[0]     # max_mapnr_64
        half = bitmap_blocks * self.block // 2
        self.bm2 = d[(1 + sub_hdr_size) * self.block + half:][:-(-max_mapnr // 8)]
        self.desc_off = (1 + sub_hdr_size + bitmap_blocks) * self.block
        self.ndesc = sum(bin(b).count("1") for b in self.bm2)
        self.zero_off = self.desc_off + 24 * self.ndesc

    def bit(self, pfn: int) -> bool:
        return bool(self.bm2[pfn >> 3] >> (pfn & 7) & 1)

    def present_and_disk(self, start: int, end: int) -> tuple[int, int]:
        first = start // self.block
        index = sum(bin(b).count("1") for b in self.bm2[:first >> 3])
        index += sum(1 for p in range(first & ~7, first) if self.bit(p))
        present = disk = 0
        for pfn in range(first, end // self.block):
            if not self.bit(pfn):
                continue
            off, size = struct.unpack_from("<qI", self.data, self.desc_off + 24 * index)
            present += self.block
            disk += 24 + (0 if off == self.zero_off else size)
            index += 1
        return present, disk


@needs_corpus
def test_projection_from_the_real_d31_dump():
    loaded = load(Options(dtb=str(RSV_DTB), iomem=str(BOOT_IOMEM), dmesg=str(CONSOLE_LOG), vmcore=str(D31)))
    results = evaluate(loaded.mm)
    proj = project(loaded.dump, results, 100.0)
    today = proj["today"]
    # the dump's own figures: makedumpfile's page counts and the uncut file's size
    assert today.present_bytes == (mdf("Remaining pages") + mdf("Pages filled with zero")) * 4096
    assert today.on_disk_bytes == 18_675_118 and today.saved_bytes == 0
    assert today.capture_seconds == pytest.approx(18_675_118 / 100e6)
    # exclude-reserved: its newly excluded ranges, counted by the independent reader
    plain = PlainKdump(D31)
    dropped = results["today"].dumped - results["exclude-reserved"].dumped
    assert dropped                       # the boot has plain carveouts (gpu-mem, firmware, ...)
    want_present = want_disk = 0
    for r in dropped:
        p, d = plain.present_and_disk(r.start, r.end)
        want_present += p
        want_disk += d
    ex = proj["exclude-reserved"]
    assert ex.saved_bytes == want_present > 0
    assert ex.present_bytes == today.present_bytes - want_present
    assert ex.saved_on_disk_bytes == want_disk
    assert ex.on_disk_bytes == 18_675_118 - want_disk
    # carveouts are mostly zero-filled here: megabytes less from /proc/vmcore, kilobytes on disk
    assert ex.saved_on_disk_bytes < ex.saved_bytes // 50


@needs_corpus
def test_report_json_projection_and_assumptions():
    p = run_cli("report", *BOOT_ARGS, "--vmcore", str(D31), "--json")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    proj = doc["dump"]["projection"]
    assert set(proj) == {"today", "no-dump-v1", "exclude-reserved"}
    assert proj["today"]["on_disk_bytes"] == doc["dump"]["on_disk_bytes"]
    assert {"present_bytes", "saved_bytes", "on_disk_bytes", "capture_seconds"} <= set(proj["today"])
    a = doc["assumptions"]
    assert a["write_speed_mbps"] == 100.0 and a["filtered"] is True and "reference dump" in a["source"]
    assert "estimate" not in doc
    text = run_cli("report", *BOOT_ARGS, "--vmcore", str(D31))
    assert text.returncode == 0 and "Projected dump per policy" in text.stdout


# -- --mem-usage ----------------------------------------------------------------------------

def mem_usage_text(zero=6000, cache=700, pri=0, user=40, free=190000, total=262144, page=4096) -> str:
    """Written with print_mem_usage()'s own format strings (makedumpfile.c; see
    memmap_tui/sources/mem_usage.py), preceded by other makedumpfile messages."""
    excluded = zero + cache + pri + user + free
    rows = [("ZERO\t\t%-16d\tyes\t\tPages filled with zero\n", zero),
            ("NON_PRI_CACHE\t%-16d\tyes\t\tCache pages without private flag\n", cache),
            ("PRI_CACHE\t%-16d\tyes\t\tCache pages with private flag\n", pri),
            ("USER\t\t%-16d\tyes\t\tUser process pages\n", user),
            ("FREE\t\t%-16d\tyes\t\tFree pages\n", free),
            ("KERN_DATA\t%-16d\tno\t\tDumpable kernel data \n", total - excluded)]
    return ("The kernel version is not supported.\n\n"
            "TYPE\t\tPAGES\t\t\tEXCLUDABLE\tDESCRIPTION\n"
            "----------------------------------------------------------------------\n"
            + "".join(f % n for f, n in rows)
            + "\n" + "page size:\t\t%-16d\n" % page + "Total pages on system:\t%-16d\n" % total
            + "Total size on system:\t%-16d Byte\n" % (total * page))


def test_mem_usage_round_trips():
    mu = parse_mem_usage(mem_usage_text())
    assert mu.page_size_bytes == 4096 and mu.total_pages == 262144
    assert mu.pages == {"ZERO": 6000, "NON_PRI_CACHE": 700, "PRI_CACHE": 0, "USER": 40, "FREE": 190000,
                        "KERN_DATA": 262144 - 196740}
    assert mu.kept_pages(31) == 262144 - 196740
    assert mu.kept_pages(0) == 262144
    assert mu.kept_pages(1) == 262144 - 6000
    assert mu.kept_pages(4) == 262144 - 700            # -d 4 drops private and non-private cache


@pytest.mark.parametrize("damage, message", [
    (lambda t: t.replace("TYPE\t\tPAGES", "KIND\t\tPAGES"), "no TYPE"),
    (lambda t: t.replace("USER\t\t", "USERS\t\t"), "lacks USER"),
    (lambda t: t.replace("page size:\t\t4096", "page size:\t\t4000"), "page size"),
    (lambda t: t.replace("Total size on system:\t1073741824", "Total size on system:\t1"), "Total size"),
    (lambda t: t.replace("FREE\t\t190000", "FREE\t\t990000"), "exceed"),
])
def test_bad_mem_usage_tables_are_one_line_errors(tmp_path, damage, message):
    bad = tmp_path / "mu.txt"
    bad.write_text(damage(mem_usage_text()))
    with pytest.raises(InputError, match=message):
        read_mem_usage(str(bad))
    p = run_cli("report", "--mem-usage", str(bad), "--json")
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "Traceback" not in p.stderr


@needs_corpus
def test_report_estimate_from_mem_usage_gives_ranges(tmp_path):
    mu = tmp_path / "mu.txt"
    mu.write_text(mem_usage_text())
    p = run_cli("report", *BOOT_ARGS, "--mem-usage", str(mu), "--dump-level", "31", "--json")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    est = doc["estimate"]
    kept = (262144 - 196740) * 4096
    assert est["today"] == {"dump_level": 31, "min_bytes": kept, "max_bytes": kept}
    ex = est["exclude-reserved"]
    dropped = doc["policies"]["exclude-reserved"]["savings_bytes"]
    assert ex["max_bytes"] == kept and ex["min_bytes"] < kept      # -d 1: zero or data, not known
    assert kept - ex["min_bytes"] == dropped > 0
    assert doc["assumptions"]["source"].startswith("makedumpfile --mem-usage")
    # without bit 1 every carveout page stays unless the policy drops it: one number
    p0 = run_cli("report", *BOOT_ARGS, "--mem-usage", str(mu), "--dump-level", "0", "--json")
    e0 = json.loads(p0.stdout)["estimate"]["exclude-reserved"]
    assert e0["min_bytes"] == e0["max_bytes"] < 262144 * 4096
