"""Patched DTB export: checked against dtc, fdtget and fdtdump, not against our own reader."""

from __future__ import annotations

import difflib
import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from conftest import CORPUS, RSV_DTB, corpus_dtbs, needs_corpus, needs_dtc
from dts_oracle import parse

from memmap_tui.export.dtb_patch import build_patch, patch_dtb, write_patched_dtb
from memmap_tui.sources.errors import InputError

needs_fdtget = pytest.mark.skipif(shutil.which("fdtget") is None, reason="fdtget not installed")
QEMU_PADDED = sorted(CORPUS.glob("dtb/qemu/virt-aarch64-*1G.dtb")) + sorted(CORPUS.glob("dtb/qemu/virt-aarch64-a57-4G*.dtb"))


def dts_of(data: bytes) -> str:
    return subprocess.run(["dtc", "-q", "-I", "dtb", "-O", "dts", "-"], input=data,
                          capture_output=True, check=True).stdout.decode()


def changed_lines(a: str, b: str) -> list[str]:
    return [line for line in difflib.unified_diff(a.splitlines(), b.splitlines(), lineterm="", n=0)
            if not line.startswith(("---", "+++", "@@"))]


def pick_node(dts_text: str) -> str | None:
    """A mapped, non-reusable, enabled carveout with a reg (else any child), by dtc's view."""
    nodes, _ = parse(dts_text)
    kids = [n for n in nodes.values() if n.path.rsplit("/", 1)[0] == "/reserved-memory"]
    good = [n for n in kids if "reg" in n.props and "no-map" not in n.props
            and "reusable" not in n.props and n.props.get("status", '"okay"') in ('"okay"', '"ok"')
            and "linux,no-dump" not in n.props]
    pool = good or [n for n in kids if "linux,no-dump" not in n.props]
    return pool[0].path if pool else None


def zero_struct_padding(data: bytes) -> bytes:
    """Zero the alignment padding inside the structure block (an independent token walk).

    libfdt leaves stale bytes there after in-place edits (QEMU's DTBs); the fdt
    library writes zeros. Nothing reads those bytes.
    """
    out = bytearray(data)
    off_struct, off_strings = struct.unpack_from(">II", data, 8)
    pos = off_struct
    while pos < off_strings:
        token = struct.unpack_from(">I", data, pos)[0]
        pos += 4
        if token == 1:
            end = data.index(b"\0", pos) + 1
            aligned = (end + 3) & ~3
            out[end:aligned] = bytes(aligned - end)
            pos = aligned
        elif token == 3:
            length = struct.unpack_from(">I", data, pos)[0]
            end = pos + 8 + length
            aligned = (end + 3) & ~3
            out[end:aligned] = bytes(aligned - end)
            pos = aligned
        elif token == 9:
            break
    return bytes(out)


def header(data: bytes) -> tuple[int, ...]:
    return struct.unpack_from(">10I", data, 0)


@needs_corpus
@needs_dtc
@pytest.mark.parametrize("path", corpus_dtbs(), ids=lambda p: p.name)
def test_toggle_one_node_differs_only_by_that_property(path: Path):
    data = path.read_bytes()
    before = dts_of(data)
    node = pick_node(before)
    if node is None:
        with pytest.raises(InputError):
            patch_dtb(data, {"/reserved-memory/none@0": True})
        return
    out = patch_dtb(data, {node: True})
    after = dts_of(out)
    assert changed_lines(before, after) == ["+\t\t\tlinux,no-dump;"]
    nodes, memreserve = parse(after)
    assert nodes[node].props["linux,no-dump"] == ""
    assert memreserve == parse(before)[1]
    h_in, h_out = header(data), header(out)
    assert h_out[5:8] == h_in[5:8]          # version, last_comp_version, boot_cpuid_phys
    if len(data) > h_in[1]:
        assert len(out) == len(data)        # bytes past totalsize kept (QEMU riscv: 1 MiB file)


@needs_corpus
@pytest.mark.parametrize("path", corpus_dtbs(), ids=lambda p: p.name)
def test_unchanged_round_trip_is_byte_identical(path: Path):
    """fdt + our layout shim reproduce the input, modulo what libfdt leaves in padding."""
    data = path.read_bytes()
    out = patch_dtb(data, {}, verify=False)
    if "as-booted" in path.name:
        pytest.skip("contains FDT_NOP tokens (checked in test_nop_blob)")
    if "qemu" in str(path):
        assert len(out) == len(data)
        assert zero_struct_padding(out) == zero_struct_padding(data)
    else:
        assert out == data


@needs_corpus
@needs_dtc
def test_qemu_blob_keeps_1mib_totalsize_and_offsets():
    for path in QEMU_PADDED:
        data = path.read_bytes()
        node_free = patch_dtb(data, {}, verify=False)
        assert header(node_free)[1] == 0x100000 == len(node_free)
        assert header(node_free)[2:5] == header(data)[2:5]   # struct/strings/rsvmap offsets (rsvmap at 48)


@needs_corpus
@needs_dtc
def test_remove_existing_property():
    data = RSV_DTB.read_bytes()
    before = dts_of(data)
    assert "linux,no-dump" in parse(before)[0]["/reserved-memory/gpu-mem@50000000"].props
    out = patch_dtb(data, {"/reserved-memory/gpu-mem@50000000": False})
    assert changed_lines(before, dts_of(out)) == ["-\t\t\tlinux,no-dump;"]
    assert len(out) == len(data) - 12


@needs_corpus
@needs_dtc
def test_nop_blob():
    """The as-booted DTB (edited in place by QEMU/libfdt) has FDT_NOPs: dropped, reported, tree same."""
    data = (CORPUS / "dtb/qemu/virt-aarch64-1G-rsv.as-booted.dtb").read_bytes()
    res = build_patch(data, {"/reserved-memory/firmware@4c000000": True})
    assert any("FDT_NOP" in n for n in res.notes)
    assert changed_lines(dts_of(data), dts_of(res.data)) == ["+\t\t\tlinux,no-dump;"]
    assert len(res.data) == len(data)


@needs_corpus
@needs_fdtget
def test_fdtget_sees_the_property():
    data = RSV_DTB.read_bytes()
    out = patch_dtb(data, {"/reserved-memory/firmware@4c000000": True})
    tmp = Path(os.environ.get("TMPDIR", "/tmp"))

    def fdtget(blob: bytes) -> int:
        f = tmp / f"fdtget-{os.getpid()}.dtb"
        f.write_bytes(blob)
        try:
            return subprocess.run(["fdtget", str(f), "/reserved-memory/firmware@4c000000", "linux,no-dump"],
                                  capture_output=True).returncode
        finally:
            f.unlink()
    assert fdtget(data) != 0
    assert fdtget(out) == 0


@needs_corpus
def test_no_memreserve_leak_between_trees():
    """fdt's shared default `entries=[]` must not carry the RPi's /memreserve/ into the next file."""
    rpi = (CORPUS / "dtb/broadcom/bcm2837-rpi-3-b.dtb").read_bytes()
    imx = (CORPUS / "dtb/freescale/imx8mp-evk.dtb").read_bytes()
    patch_dtb(rpi, {}, verify=False)
    out = patch_dtb(imx, {}, verify=False)
    assert out == imx
    off_rsv = header(out)[4]
    assert struct.unpack_from(">QQ", out, off_rsv) == (0, 0)


def _synthetic(tmp_path: Path, extra: list[str], body: str = "") -> bytes:
    """A DTB generated by dtc from generated source (v16, boot cpu 3, spare reserve slots, padding)."""
    src = tmp_path / "syn.dts"
    src.write_text("/dts-v1/;\n/memreserve/ 0x1000 0x2000;\n/ {\n\t#address-cells = <2>;\n\t#size-cells = <2>;\n"
                   "\tlabel_root: reserved-memory {\n\t\t#address-cells = <2>;\n\t\t#size-cells = <2>;\n\t\tranges;\n"
                   "\t\tbuf: buf@80000000 { reg = <0 0x80000000 0 0x100000>; sub { x; }; };\n"
                   f"{body}\t}};\n}};\n")
    out = tmp_path / "syn.dtb"
    subprocess.run(["dtc", "-q", *extra, "-I", "dts", "-O", "dtb", "-o", str(out), str(src)], check=True)
    return out.read_bytes()


@needs_dtc
@pytest.mark.parametrize("extra", [[], ["-V", "16"], ["-b", "3"], ["-R", "2"], ["-p", "4096"],
                                   ["-@"], ["-V", "16", "-R", "3", "-p", "100", "-b", "1", "-@"]],
                         ids=lambda e: " ".join(e) or "plain")
def test_synthetic_header_variants(tmp_path: Path, extra: list[str]):
    data = _synthetic(tmp_path, extra)
    assert patch_dtb(data, {}, verify=False) == data
    out = patch_dtb(data, {"/reserved-memory/buf@80000000": True})
    assert header(out)[5:8] == header(data)[5:8]
    assert changed_lines(dts_of(data), dts_of(out)) == ["+\t\t\tlinux,no-dump;"]
    if "-p" in extra:   # free space absorbs the new property: same totalsize, same file size
        assert len(out) == len(data) == header(out)[1]
    # property goes before the subnode, as dtc requires
    text = dts_of(out)
    assert text.index("linux,no-dump") < text.index("sub {")


@needs_dtc
def test_names_the_fdt_library_could_not_write_are_kept(tmp_path: Path):
    # fdt 0.3.3's writer silently dropped `*_with_references` properties; ours keeps them,
    # and verification (our reader + dtc) agrees
    body = "\t\tx@90000000 { reg = <0 0x90000000 0 0x1000>; foo_with_references; };\n"
    data = _synthetic(tmp_path, [], body=body)
    out = patch_dtb(data, {"/reserved-memory/buf@80000000": True})
    assert changed_lines(dts_of(data), dts_of(out)) == ["+\t\t\tlinux,no-dump;"]
    assert "foo_with_references;" in dts_of(out)


@needs_corpus
@pytest.mark.parametrize("changes, match", [
    ({"/reserved-memory/nope@0": True}, "no node"),
    ({"/cpus": True}, "not a /reserved-memory child"),
    ({"/reserved-memory": True}, "not a /reserved-memory child"),
])
def test_bad_node_paths(changes, match):
    with pytest.raises(InputError, match=match):
        patch_dtb(RSV_DTB.read_bytes(), changes)


def test_garbage_input():
    with pytest.raises(InputError, match="magic"):
        patch_dtb(b"\0" * 64, {})


# -- writing --------------------------------------------------------------------------

@needs_corpus
def test_refuses_to_write_over_input(tmp_path: Path):
    src = tmp_path / "in.dtb"
    src.write_bytes(RSV_DTB.read_bytes())
    (tmp_path / "link.dtb").symlink_to(src)
    os.link(src, tmp_path / "hard.dtb")
    listing = sorted(os.listdir(tmp_path))
    for out in (src, tmp_path / "link.dtb", tmp_path / "hard.dtb", tmp_path / "." / "in.dtb"):
        with pytest.raises(InputError, match="overwrite an input"):
            write_patched_dtb(src, out, {"/reserved-memory/firmware@4c000000": True})
    assert sorted(os.listdir(tmp_path)) == listing
    assert src.read_bytes() == RSV_DTB.read_bytes()


@needs_corpus
def test_unwritable_directory(tmp_path: Path):
    if os.geteuid() == 0:
        target = Path("/proc/memmap-tui-test.dtb")   # root ignores mode bits; procfs refuses files
    else:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        target = ro / "out.dtb"
    with pytest.raises(InputError, match="not writable"):
        write_patched_dtb(RSV_DTB, target, {"/reserved-memory/firmware@4c000000": True})
    assert not target.exists()


@needs_corpus
@needs_dtc
def test_atomic_write_replaces_and_leaves_no_temp(tmp_path: Path):
    out = tmp_path / "out.dtb"
    out.write_bytes(b"old")
    write_patched_dtb(RSV_DTB, out, {"/reserved-memory/firmware@4c000000": True})
    assert out.read_bytes()[:4] == b"\xd0\x0d\xfe\xed"
    assert os.listdir(tmp_path) == ["out.dtb"]


# -- robustness: any bytes -> a result or one clean InputError ---------------------------

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402


@given(st.binary(max_size=256))
@settings(max_examples=300, deadline=None)
def test_random_bytes_give_input_error(data: bytes):
    with pytest.raises(InputError):
        patch_dtb(data, {"/reserved-memory/x@0": True})


@needs_corpus
@given(st.lists(st.tuples(st.integers(0, 8201), st.integers(0, 255)), min_size=1, max_size=8))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_corrupted_corpus_blob_never_crashes(edits):
    data = bytearray(RSV_DTB.read_bytes())
    for off, val in edits:
        data[off] = val
    try:
        out = patch_dtb(bytes(data), {"/reserved-memory/firmware@4c000000": True}, verify=False)
    except InputError:
        return
    assert out[:4] == b"\xd0\x0d\xfe\xed"
