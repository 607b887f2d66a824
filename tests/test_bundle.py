"""collect (Python and the shipped sh script under busybox), live --root, bundles, sosreports,
memblock evidence and compressed text/dump inputs — against the real arm64 boot in the corpus."""

from __future__ import annotations

import base64
import gzip
import json
import lzma
import os
import re
import shutil
import subprocess
import tarfile

import pytest

from memmap_tui.sources.errors import InputError
from memmap_tui.sources.memblock import load_memblock, parse_memblock_list
from memmap_tui.sources.vmcore import open_dump
from memmap_tui.sources.vmcore.streamed import StreamedReader

from conftest import CONSOLE_LOG, CORPUS, RSV_DTB, assert_one_line_error, needs_corpus, run_cli

pytestmark = needs_corpus
ELF_XZ = CORPUS / "vmcore/qemu-aarch64.elf.xz"
HEAD8K = CORPUS / "vmcore/qemu-aarch64.elf.head8k"


def section(name: str) -> str:
    text = CONSOLE_LOG.read_text()
    return text.split(f"===== BEGIN {name} =====\n", 1)[1].split(f"===== END {name} =====", 1)[0]


def dmesg_to_kmsg(text: str) -> str:
    """The boot log as /dev/kmsg serves it (prio,seq,usec,flags;message)."""
    out = []
    for i, line in enumerate(text.splitlines()):
        m = re.match(r"^\[\s*(\d+)\.(\d{6})\] (.*)$", line)
        if m:
            out.append(f"6,{i},{int(m.group(1)) * 1000000 + int(m.group(2))},-;{m.group(3)}\n"
                       f" SUBSYSTEM=fake\n")
    return "".join(out)


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    """A fake root of the corpus boot, and the same data as separate files."""
    base = tmp_path_factory.mktemp("board")
    root = base / "root"
    files = {
        "proc/iomem": section("/proc/iomem"),
        "proc/cmdline": section("/proc/cmdline"),
        "sys/kernel/debug/memblock/memory": section("memblock/memory"),
        "sys/kernel/debug/memblock/reserved": section("memblock/reserved"),
        "sys/kernel/kexec_crash_size": section("/sys/kernel/kexec_crash_size"),
        "proc/sys/kernel/osrelease": "6.1.0-56-arm64\n",
        "proc/sys/kernel/arch": "aarch64\n",
        "dev/kmsg": dmesg_to_kmsg(section("dmesg-full")),
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    fdt = base64.b64decode("".join(section("/sys/firmware/fdt.base64").split()))
    (root / "sys/firmware").mkdir(parents=True, exist_ok=True)
    (root / "sys/firmware/fdt").write_bytes(fdt)
    sep = base / "separate"
    sep.mkdir()
    (sep / "board.dtb").write_bytes(fdt)
    (sep / "iomem.txt").write_text(files["proc/iomem"])
    (sep / "dmesg.txt").write_text(section("dmesg-full"))
    (sep / "memblock").mkdir()
    (sep / "memblock/memory").write_text(files["sys/kernel/debug/memblock/memory"])
    (sep / "memblock/reserved").write_text(files["sys/kernel/debug/memblock/reserved"])
    return root, sep


def report(*args) -> dict:
    proc = run_cli("report", "--json", *args)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


BUNDLE_ONLY = {"kexec-crash-size", "bundle-unreadable", "bundle-not-root", "bundle-no-dt"}


def numbers(doc: dict) -> dict:
    """Everything but the file names and the findings only a bundle can give."""
    out = {k: v for k, v in doc.items() if k != "inputs"}
    out["findings"] = [f for f in doc["findings"] if f["code"] not in BUNDLE_ONLY]
    return out


@pytest.fixture(scope="module")
def separate_doc(board):
    _root, sep = board
    return report(sep / "board.dtb", "--iomem", sep / "iomem.txt", "--dmesg", sep / "dmesg.txt",
                  "--memblock", sep / "memblock")


def test_collect_bundle_opens_to_the_same_numbers(board, separate_doc, tmp_path):
    root, _sep = board
    out = tmp_path / "board.tar.gz"
    proc = run_cli("collect", "--root", root, "-o", out)
    assert proc.returncode == 0, proc.stderr
    doc = report(out)
    assert numbers(doc) == numbers(separate_doc)
    assert doc["inputs"]["iomem"] == f"{out}:proc/iomem"
    assert doc["inputs"]["bundle"] == f"{out} (memmap-tui bundle)"
    crash = next(r for r in doc["regions"] if r["id"] == "crashkernel")
    size = sum(r["end"] - r["start"] for r in crash["ranges"])
    assert [f for f in doc["findings"] if f["code"] == "kexec-crash-size"][0]["message"].startswith(
        f"/sys/kernel/kexec_crash_size: {size:,} bytes")
    # the same bundle through stdin
    piped = subprocess.run(["python", "-m", "memmap_tui", "report", "--json", "-"], input=out.read_bytes(),
                           capture_output=True)
    assert piped.returncode == 0, piped.stderr
    assert numbers(json.loads(piped.stdout)) == numbers(separate_doc)


def test_live_root_gives_the_same_numbers(board, separate_doc):
    root, _sep = board
    proc = run_cli("live", "--root", root, "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert numbers(doc) == numbers(separate_doc)
    assert doc["inputs"]["iomem"] == os.path.join(str(root), "proc/iomem")
    assert doc["inputs"]["dmesg"] == "/dev/kmsg"


def _busybox_path(tmp_path) -> str:
    """A PATH holding busybox applets only, so the script proves it needs nothing else."""
    bb = shutil.which("busybox")
    d = tmp_path / "bb"
    d.mkdir()
    for applet in subprocess.run([bb, "--list"], capture_output=True, text=True).stdout.split():
        os.symlink(bb, d / applet)
    return str(d)


def _members(path) -> dict[str, bytes]:
    with tarfile.open(path) as tf:
        return {m.name.removeprefix("./"): tf.extractfile(m).read() for m in tf.getmembers() if m.isfile()}


@pytest.mark.skipif(shutil.which("busybox") is None, reason="busybox not installed")
def test_busybox_script_writes_the_same_bundle(board, separate_doc, tmp_path):
    root, _sep = board
    script = tmp_path / "collect.sh"
    script.write_text(run_cli("collect", "--print-script").stdout)
    out_sh, out_py = tmp_path / "sh.tar.gz", tmp_path / "py.tar.gz"
    for p in (root / "sys/kernel/kexec_crash_size",):
        p.chmod(0)        # unreadable for the sh run under a normal user too: both must say so
    try:
        proc = subprocess.run([shutil.which("busybox"), "sh", str(script), "-r", str(root), str(out_sh)],
                              capture_output=True, text=True, env={"PATH": _busybox_path(tmp_path)})
        assert proc.returncode == 0, proc.stderr
        assert run_cli("collect", "--root", root, "-o", out_py).returncode == 0
    finally:
        (root / "sys/kernel/kexec_crash_size").chmod(0o644)
    sh, py = _members(out_sh), _members(out_py)
    assert sorted(sh) == sorted(py)
    volatile = ("time=", "collector=")
    strip = lambda b: [line for line in b.decode().splitlines() if not line.startswith(volatile)]
    assert strip(sh.pop("manifest.txt")) == strip(py.pop("manifest.txt"))
    assert sh == py
    assert numbers(report(out_sh)) == numbers(report(out_py))


def test_missing_debugfs_is_a_warning_saying_what_is_lost(board, tmp_path):
    root, _sep = board
    bare = tmp_path / "root"
    shutil.copytree(root, bare)
    shutil.rmtree(bare / "sys/kernel/debug")
    proc = run_cli("live", "--root", bare, "--json")
    assert proc.returncode == 0, proc.stderr
    msgs = [f["message"] for f in json.loads(proc.stdout)["findings"] if f["code"] == "bundle-unreadable"]
    assert any("memblock/memory: missing; lost: memblock evidence" in m for m in msgs)


def test_x86_root_without_device_tree(tmp_path):
    root = tmp_path / "root"
    (root / "proc/sys/kernel").mkdir(parents=True)
    (root / "proc/iomem").write_text((CORPUS / "iomem/x86_64-host.txt").read_text())
    (root / "proc/sys/kernel/arch").write_text("x86_64\n")
    proc = run_cli("live", "--root", root, "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["arch"] == "x86_64" and doc["ram_source"] == "/proc/iomem"
    assert "bundle-no-dt" in {f["code"] for f in doc["findings"]}
    # and check refuses to call it ok: there is no device tree in it
    out = tmp_path / "x86.tar.gz"
    assert run_cli("collect", "--root", root, "-o", out).returncode == 0
    chk = run_cli("check", out)
    assert chk.returncode == 2 and "no device tree" in chk.stderr


@pytest.mark.parametrize("as_tar", [False, True])
def test_sosreport(board, tmp_path, as_tar):
    sos = tmp_path / "sosreport-host-2026"
    (sos / "proc").mkdir(parents=True)
    (sos / "sos_commands/kernel").mkdir(parents=True)
    (sos / "var/crash/127.0.0.1-2026").mkdir(parents=True)
    (sos / "proc/iomem").write_text(section("/proc/iomem"))
    (sos / "var/crash/127.0.0.1-2026/vmcore-dmesg.txt").write_text(section("dmesg-full"))
    target = sos
    if as_tar:
        target = tmp_path / "sosreport.tar.xz"
        with tarfile.open(target, "w:xz") as tf:
            tf.add(sos, arcname=sos.name)
    proc = run_cli("report", "--json", target)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["inputs"]["bundle"].endswith("(sosreport)")
    assert doc["inputs"]["dmesg"].endswith("var/crash/127.0.0.1-2026/vmcore-dmesg.txt")
    ref = report("--iomem", sos / "proc/iomem", "--dmesg", sos / "var/crash/127.0.0.1-2026/vmcore-dmesg.txt")
    assert numbers(doc) == numbers(ref)


# -- memblock --------------------------------------------------------------------------------

def test_memblock_parser_against_the_printout(board):
    _root, sep = board
    info = load_memblock(str(sep / "memblock"))
    assert len(info.memory) == 9 and len(info.reserved) == 21
    assert sum(r.range.size_bytes for r in info.memory) == 1 << 30
    assert info.memory[7].range.start == 0x6F000000 and info.memory[7].range.end == 0x70000000
    assert not info.flags_printed
    flagged, any_flags = parse_memblock_list("   0: 0x0000000040000000..0x000000004bffffff    0 NONE\n"
                                             "   1: 0x000000004c000000..0x000000004c3fffff    0 NOMAP\n", "x", [])
    assert any_flags and flagged[1].flags == {"NOMAP"} and flagged[1].nid == 0


def test_memblock_is_evidence_for_ram_nomap_and_placement(board):
    _root, sep = board
    doc = report(RSV_DTB, "--memblock", sep / "memblock")
    assert doc["ram_source"] == "memblock"
    assert doc["ram"] == [{"start": 0x40000000, "end": 0x80000000}]
    by_id = {r["id"]: r for r in doc["regions"]}
    video = by_id["/reserved-memory/video-pool"]
    # dmesg, read independently, says: "created DMA memory pool at 0x000000006f000000, size 16 MiB"
    assert video["ranges"] == [{"start": 0x6F000000, "end": 0x70000000}]
    # merged in memblock.reserved: memblock does not place it; the boot replay predicts it
    # (where the real kernel put it, dmesg: 0x7f800000) and says so
    dyn = by_id["/reserved-memory/dyn-cma-pool"]
    assert dyn["state"] == "predicted" and dyn["placement"] != "memblock"
    assert "memblock-not-nomap" not in {f["code"] for f in doc["findings"]}


def test_memblock_contradicting_no_map_is_a_warning(tmp_path):
    d = tmp_path / "memblock"
    d.mkdir()
    (d / "memory").write_text("   0: 0x0000000040000000..0x000000007fffffff\n")   # no split at firmware@4c000000
    (d / "reserved").write_text("   0: 0x0000000040210000..0x000000004220afff\n")
    doc = report(RSV_DTB, "--memblock", d)
    warned = {f["id"] for f in doc["findings"] if f["code"] == "memblock-not-nomap"}
    assert "/reserved-memory/firmware@4c000000" in warned


def test_memblock_missing_file_is_a_clean_error(tmp_path):
    proc = run_cli("report", RSV_DTB, "--memblock", tmp_path)
    assert_one_line_error(proc, "memory")


# -- compressed text and dumps -------------------------------------------------------------------

def test_compressed_iomem_and_dmesg(board, tmp_path):
    _root, sep = board
    gz, xz = tmp_path / "iomem.gz", tmp_path / "dmesg.xz"
    gz.write_bytes(gzip.compress((sep / "iomem.txt").read_bytes()))
    xz.write_bytes(lzma.compress((sep / "dmesg.txt").read_bytes()))
    a = report(RSV_DTB, "--iomem", gz, "--dmesg", xz)
    b = report(RSV_DTB, "--iomem", sep / "iomem.txt", "--dmesg", sep / "dmesg.txt")
    assert numbers(a) == numbers(b) and a["inputs"]["iomem"] == str(gz)


def test_vmcore_xz_header_only_matches_readelf():
    layout = open_dump(str(ELF_XZ))
    readelf = (CORPUS / "vmcore/readelf.txt").read_text().split("## readelf -h -l qemu-aarch64.d31.elf")[0]
    loads = re.findall(r"LOAD\s+0x([0-9a-f]+) 0x([0-9a-f]+) 0x([0-9a-f]+)\s+0x([0-9a-f]+) 0x([0-9a-f]+)", readelf)
    assert [(s.offset, s.paddr, s.filesz, s.memsz) for s in layout.segments] == [
        (int(o, 16), int(p, 16), int(f, 16), int(m, 16)) for o, _v, p, f, m in loads]
    assert layout.cpus == readelf.count("NT_PRSTATUS")
    assert layout.osrelease == "6.1.0-56-arm64"
    sizes = (CORPUS / "vmcore/sizes.full-files.txt").read_text()
    assert f"{layout.file_size_bytes}" in sizes.replace(",", "")
    streamed = [f for f in layout.findings if f.code == "vmcore-streamed"]
    assert streamed[0].message.startswith("header-only through xz") and streamed[0].level == "info"
    assert not [f for f in layout.findings if f.code == "vmcore-cut"]


def test_vmcore_streaming_reads_only_the_head():
    reader = StreamedReader(str(ELF_XZ), "xz")
    try:
        assert reader.read(0, 4) == b"\x7fELF"
        assert reader.streamed_bytes <= 1 << 20           # one chunk, not the 1 GiB image
        with pytest.raises(InputError, match="beyond the first 128 MiB read through xz"):
            reader.read(0x40000000, 16)
        assert reader.streamed_bytes <= 1 << 20           # refused up front, nothing streamed in vain
    finally:
        reader.close()


def test_gzip_dump_head_equals_plain_head(tmp_path):
    gz = tmp_path / "head.gz"
    gz.write_bytes(gzip.compress(HEAD8K.read_bytes()))
    a, b = open_dump(str(HEAD8K)), open_dump(str(gz))
    assert [(s.offset, s.paddr, s.memsz) for s in a.segments] == [(s.offset, s.paddr, s.memsz) for s in b.segments]
    assert {f.code for f in a.findings} | {"vmcore-streamed"} == {f.code for f in b.findings}  # both: cut at 8 KiB


@pytest.mark.parametrize("tool", ["xz", "gzip", "bzip2", "zstd"])
def test_compressed_kdump_gives_the_plain_accounting(tmp_path, tool):
    """makedumpfile -d 31 -c metadata (headers, bitmaps, descriptors): same per-range figures."""
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} missing")
    meta = CORPUS / "vmcore/qemu-aarch64.d31.kdump.meta-only"
    copy = tmp_path / "vmcore"
    shutil.copy(meta, copy)
    subprocess.run([tool, "-q", str(copy)], check=True)
    packed = next(tmp_path.iterdir())
    plain, streamed = (report("--vmcore", p, RSV_DTB)["dump"] for p in (meta, packed))
    note = streamed["findings"].pop(next(i for i, f in enumerate(streamed["findings"])
                                         if f["code"] == "vmcore-streamed"))["message"]
    assert note.startswith(f"header-only through {tool}")
    for d in (plain, streamed):
        d.pop("path")
    if tool in ("bzip2", "zstd"):    # no recorded size: assumed complete, so no "cut" warning
        assert "decompressed size not recorded, assumed complete" in note
        assert not streamed.pop("findings") and plain.pop("findings")[0]["code"] == "vmcore-cut"
        assert streamed.pop("file_size_bytes") == streamed["on_disk_bytes"] != plain.pop("file_size_bytes")
    assert streamed == plain


def test_memblock_flags_format_checks_nomap(tmp_path):
    """Later kernels print `nid FLAG` (mm/memblock.c flagname[]); firmware@4c000000 is no-map."""
    d = tmp_path / "memblock"
    d.mkdir()
    (d / "reserved").write_text("   0: 0x0000000040210000..0x000000004220afff    x NONE\n")
    memory = ("   0: 0x0000000040000000..0x000000004bffffff    0 NONE\n"
              "   1: 0x000000004c000000..0x000000004c3fffff    0 {flag}\n"
              "   2: 0x000000004c400000..0x000000007fffffff    0 NONE\n")
    codes = {}
    for flag in ("NOMAP", "NONE", "HOTPLUG"):
        (d / "memory").write_text(memory.format(flag=flag))
        doc = report(RSV_DTB, "--memblock", d)
        codes[flag] = {f["id"] for f in doc["findings"] if f["code"] == "memblock-not-nomap"}
    fw = "/reserved-memory/firmware@4c000000"
    assert fw not in codes["NOMAP"] and fw in codes["NONE"]
    assert fw not in codes["HOTPLUG"]      # HOTPLUG is printed instead of NOMAP: no verdict
    info = load_memblock(str(d))
    assert info.flags_printed and info.reserved[0].nid is None and info.memory[1].flags == {"HOTPLUG"}


def test_kdump_bitmaps_beyond_the_stream_budget_are_a_clean_error(tmp_path, monkeypatch):
    from memmap_tui.sources.vmcore import streamed
    monkeypatch.setattr(streamed, "STREAM_BUDGET_BYTES", 64 << 10)   # the bitmaps start past 64 KiB
    xz = tmp_path / "vmcore.xz"
    xz.write_bytes(lzma.compress((CORPUS / "vmcore/qemu-aarch64.d31.kdump.meta-only").read_bytes()))
    with pytest.raises(InputError, match=r"needs offset 0x[0-9a-f]+ of the decompressed dump, beyond the "
                                         r"first 64 KiB read through xz; decompress the file first"):
        open_dump(str(xz))
