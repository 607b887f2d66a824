"""DTB containers built from corpus DTBs with the real tools (mkimage, gzip, xz, bzip2, zstd,
dtc -I fs); Android layouts written from AOSP's published headers. The picked DTB must
give exactly the report --json regions of the plain file."""

from __future__ import annotations

import gzip
import os
import shutil
import struct
import subprocess

import pytest

from memmap_tui.inputs import Options, load
from memmap_tui.report.json_doc import build_report
from memmap_tui.sources.containers import AmbiguousDtb, NoDeviceTree, sniff_bytes, sniff_dtb
from memmap_tui.sources.errors import InputError
from memmap_tui.sources.fdt_blob import parse_fdt

from conftest import CORPUS, RSV_DTB, needs_corpus, needs_dtc, run_cli

pytestmark = needs_corpus
SM8450 = CORPUS / "dtb/qcom/sm8450-hdk.dtb"
RISCV = CORPUS / "dtb/qemu/virt-riscv64-1G.dtb"
needs = lambda tool: pytest.mark.skipif(shutil.which(tool) is None, reason=f"{tool} not installed")


def regions_of(path, **kw) -> list[dict]:
    loaded = load(Options(dtb=str(path), **kw))
    return build_report(loaded.mm, write_speed_mbps=100.0)["regions"]


def inputs_of(path, **kw) -> dict:
    return load(Options(dtb=str(path), **kw)).mm.inputs


@pytest.fixture(scope="module")
def plain():
    return {p: regions_of(p) for p in (RSV_DTB, SM8450, RISCV)}


# -- FIT (mkimage) ---------------------------------------------------------------------------

def _its(tmp, compression="none", payloads=(RSV_DTB, SM8450)):
    images, confs = [], []
    for i, p in enumerate(payloads, 1):
        data = p
        if compression == "gzip":
            data = tmp / f"p{i}.gz"
            data.write_bytes(gzip.compress(p.read_bytes()))
        images.append(f'fdt-{i} {{ description = "{p.name}"; data = /incbin/("{data}"); type = "flat_dt"; '
                      f'arch = "arm64"; compression = "{compression}"; }};')
        confs.append(f'conf-{i} {{ fdt = "fdt-{i}"; }};')
    its = tmp / "fit.its"
    its.write_text("/dts-v1/;\n/ { description = \"t\"; #address-cells = <1>;\n images {\n"
                   + "\n".join(images) + "\n};\n configurations { default = \"conf-2\";\n"
                   + "\n".join(confs) + "\n};\n};\n")
    return its


@needs("mkimage")
@pytest.mark.parametrize("external", [False, True])
@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_fit_pick_gives_the_plain_regions(tmp_path, plain, external, compression):
    itb = tmp_path / "board.itb"
    subprocess.run(["mkimage", *(["-E"] if external else []), "-f", str(_its(tmp_path, compression)), str(itb)],
                   check=True, capture_output=True)
    src = sniff_dtb(str(itb))
    assert src.container == "FIT image"
    assert [c.name for c in src.candidates] == ["fdt-1", "fdt-2"]
    assert [c.aliases for c in src.candidates] == [("conf-1",), ("conf-2",)]
    assert regions_of(itb, pick="conf-1") == plain[RSV_DTB]
    assert regions_of(itb, pick="fdt-2") == plain[SM8450]
    assert regions_of(itb, pick="2") == plain[SM8450]
    assert regions_of(itb, pick="SM8450") == plain[SM8450]       # model substring
    ins = inputs_of(itb, pick="conf-1")
    assert ins["container"] == "FIT image" and ins["pick"] == "#1 of 2: fdt-1 (conf-1) — linux,dummy-virt"
    with pytest.raises(AmbiguousDtb) as e:
        load(Options(dtb=str(itb)))
    assert len(e.value.candidates) == 2


@needs("mkimage")
def test_fit_without_device_tree_is_not_ok(tmp_path):
    kernel = tmp_path / "Image"
    kernel.write_bytes(os.urandom(4096))
    its = tmp_path / "k.its"
    its.write_text(f'/dts-v1/;\n/ {{ description = "k"; #address-cells = <1>; images {{ kernel-1 {{ '
                   f'description = "k"; data = /incbin/("{kernel}"); type = "kernel"; arch = "arm64"; '
                   'os = "linux"; compression = "none"; load = <0>; entry = <0>; }; };\n'
                   'configurations { default = "c"; c { description = "c"; kernel = "kernel-1"; }; }; };\n')
    itb = tmp_path / "k.itb"
    subprocess.run(["mkimage", "-f", str(its), str(itb)], check=True, capture_output=True)
    proc = run_cli("check", itb)
    assert proc.returncode == 2 and "ok" not in proc.stdout
    assert "no device tree" in proc.stderr and "FIT" in proc.stderr


# -- concatenation and compression wrappers (real CLIs) ------------------------------------------

@pytest.mark.parametrize("tool", ["gzip", "xz", "bzip2", "zstd"])
def test_compressed_concatenation(tmp_path, plain, tool):
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} missing")
    cat = tmp_path / "dtb.img"
    cat.write_bytes(RSV_DTB.read_bytes() + SM8450.read_bytes() + RISCV.read_bytes())
    subprocess.run([tool, "-q", "-k", str(cat)] if tool != "zstd" else [tool, "-q", str(cat)], check=True)
    packed = next(p for p in tmp_path.iterdir() if p.name != "dtb.img")
    src = sniff_dtb(str(packed))
    assert src.description == f"concatenated DTBs in {tool}" and len(src.candidates) == 3
    assert regions_of(packed, pick="3") == plain[RISCV]
    assert regions_of(packed, pick="sm8450") == plain[SM8450]
    assert regions_of(cat, pick="1") == plain[RSV_DTB]


def test_plain_dtb_gz_needs_no_pick(tmp_path, plain):
    gz = tmp_path / "board.dtb.gz"
    gz.write_bytes(gzip.compress(SM8450.read_bytes()))
    assert regions_of(gz) == plain[SM8450]
    assert inputs_of(gz)["container"] == "DTB in gzip" and "pick" not in inputs_of(gz)


def test_decompressed_size_cap(tmp_path, monkeypatch):
    from memmap_tui.sources import containers
    monkeypatch.setattr(containers, "INPUT_CAP_BYTES", 1 << 20)
    bomb = tmp_path / "bomb.gz"
    bomb.write_bytes(gzip.compress(bytes(4 << 20)))
    with pytest.raises(InputError, match="more than 1 MiB"):
        sniff_dtb(str(bomb))


def test_cli_lists_candidates_and_exits_2(tmp_path):
    cat = tmp_path / "dtb.img"
    cat.write_bytes(RSV_DTB.read_bytes() + SM8450.read_bytes())
    proc = run_cli("report", cat)
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert "holds 2 device trees" in lines[0] and "--pick" in lines[0]
    assert lines[1].split()[0] == "1" and lines[2].split()[0] == "2"
    assert "Qualcomm" in lines[2]
    assert run_cli("report", cat, "--pick", "7").returncode == 2
    ok = run_cli("report", "--json", cat, "--pick", "2")
    assert ok.returncode == 0, ok.stderr
    assert '"container": "concatenated DTBs"' in ok.stdout


def test_check_lints_every_dtb_of_a_container(tmp_path):
    cat = tmp_path / "dtb.img"
    cat.write_bytes(RSV_DTB.read_bytes() + RISCV.read_bytes())
    proc = run_cli("check", cat)
    assert proc.returncode in (0, 1), proc.stderr
    assert f"{cat}#1 dtb 1 at 0x0" in proc.stdout and f"{cat}#2 dtb 2 at" in proc.stdout


def test_not_a_device_tree_never_ok(tmp_path):
    junk = tmp_path / "kernel"
    junk.write_bytes(gzip.compress(os.urandom(100_000)))
    proc = run_cli("check", junk)
    assert proc.returncode == 2 and "ok" not in proc.stdout
    with pytest.raises(NoDeviceTree):
        sniff_dtb(str(junk))


# -- kernels with appended DTBs ---------------------------------------------------------------

def test_image_gz_dtb(tmp_path, plain):
    """Image.gz-dtb: `cat Image.gz board.dtb` (arch/arm64/boot/Makefile, Android kernels)."""
    kernel = os.urandom(300_000) + RSV_DTB.read_bytes()[:64]    # a magic inside the kernel is not it
    img = tmp_path / "Image.gz-dtb"
    img.write_bytes(gzip.compress(kernel) + SM8450.read_bytes())
    src = sniff_dtb(str(img))
    assert src.container == "kernel with appended DTB" and len(src.candidates) == 1
    assert regions_of(img) == plain[SM8450]


def test_zimage_with_appended_dtb(tmp_path, plain):
    blob = bytearray(os.urandom(50_000))
    struct.pack_into("<I", blob, 0x24, 0x016F2818)           # zImage magic
    blob[1000:1004] = b"\xd0\x0d\xfe\xed"                      # a stray magic, not a valid header
    img = tmp_path / "zImage"
    img.write_bytes(bytes(blob) + RSV_DTB.read_bytes())
    assert regions_of(img) == plain[RSV_DTB]


# -- Android (layouts from AOSP bootimg.h and libufdt dt_table.h) ----------------------------------

def _dt_table(blobs, version=0, compress=False) -> bytes:
    header_size, entry_size = 32, 32
    offset = header_size + entry_size * len(blobs)
    entries, payload = b"", b""
    for i, b in enumerate(blobs):
        if compress:
            b = gzip.compress(b)
        entries += struct.pack(">8I", len(b), offset + len(payload), 0x100 + i, i, 2 if compress else 0, 0, 0, 0)
        payload += b
    total = offset + len(payload)
    return struct.pack(">8I", 0xD7B7AB1E, total, header_size, entry_size, len(blobs), header_size,
                       2048, version) + entries + payload


@pytest.mark.parametrize("version,compress", [(0, False), (1, True)])
def test_android_dt_table(tmp_path, plain, version, compress):
    img = tmp_path / "dtb.img"
    img.write_bytes(_dt_table([RSV_DTB.read_bytes(), SM8450.read_bytes()], version, compress))
    src = sniff_dtb(str(img))
    assert src.container == "Android DT table"
    assert [c.name for c in src.candidates] == ["entry 0 id=0x100 rev=0x0", "entry 1 id=0x101 rev=0x1"]
    assert regions_of(img, pick="2") == plain[SM8450]
    assert regions_of(img, pick="id=0x100") == plain[RSV_DTB]


def _pad(b: bytes, page: int) -> bytes:
    return b + bytes(-len(b) % page)


def _boot_v2(kernel: bytes, ramdisk: bytes, dtb: bytes, page=2048) -> bytes:
    h = bytearray(1660)
    h[0:8] = b"ANDROID!"
    struct.pack_into("<10I", h, 8, len(kernel), 0x8000, len(ramdisk), 0x1000000, 0, 0, 0x100, page, 2, 0)
    struct.pack_into("<IQI", h, 1632, 0, 0, 1660)        # recovery_dtbo_size/offset, header_size
    struct.pack_into("<IQ", h, 1648, len(dtb), 0x1f00000)
    return _pad(bytes(h), page) + _pad(kernel, page) + _pad(ramdisk, page) + _pad(dtb, page)


def _vendor_boot_v4(ramdisk: bytes, dtb: bytes, page=4096) -> bytes:
    h = bytearray(2128)
    h[0:8] = b"VNDRBOOT"
    struct.pack_into("<5I", h, 8, 4, page, 0x8000, 0x1000000, len(ramdisk))
    struct.pack_into("<I", h, 2076, 0x100)                 # tags_addr
    struct.pack_into("<IIQ", h, 2096, 2128, len(dtb), 0x1f00000)
    struct.pack_into("<4I", h, 2112, 0, 0, 108, 0)         # ramdisk table size/num/entry size, bootconfig
    return _pad(bytes(h), page) + _pad(ramdisk, page) + _pad(dtb, page)


def test_android_boot_v2(tmp_path, plain):
    img = tmp_path / "boot.img"
    img.write_bytes(_boot_v2(os.urandom(10_000), os.urandom(5_000), RSV_DTB.read_bytes() + SM8450.read_bytes()))
    src = sniff_dtb(str(img))
    assert src.container == "Android boot image v2" and len(src.candidates) == 2
    assert regions_of(img, pick="1") == plain[RSV_DTB]
    assert regions_of(img, pick="sm8450") == plain[SM8450]


def test_android_boot_v0_kernel_with_appended_dtb(tmp_path, plain):
    img = bytearray(_boot_v2(gzip.compress(os.urandom(20_000)) + RISCV.read_bytes(), b"", b""))
    struct.pack_into("<I", img, 40, 0)    # header_version 0: no dtb section
    path = tmp_path / "boot.img"
    path.write_bytes(bytes(img))
    src = sniff_dtb(str(path))
    assert src.container == "Android boot image v0"
    assert regions_of(path) == plain[RISCV]


def test_android_vendor_boot_v4(tmp_path, plain):
    img = tmp_path / "vendor_boot.img"
    img.write_bytes(_vendor_boot_v4(os.urandom(30_000), SM8450.read_bytes()))
    assert sniff_dtb(str(img)).container == "Android vendor_boot image v4"
    assert regions_of(img) == plain[SM8450]


def test_android_cut_image_is_a_clean_error(tmp_path):
    img = tmp_path / "boot.img"
    img.write_bytes(_boot_v2(os.urandom(10_000), b"", SM8450.read_bytes())[:20_000])
    with pytest.raises(InputError, match="beyond"):
        sniff_dtb(str(img))


# -- /proc/device-tree directory, checked against dtc -I fs -----------------------------------------

def write_dt_dir(dtb: bytes, root) -> None:
    """Lay a DTB out the way drivers/of/kobj.c exposes it (node = dir, property = file)."""
    def node(n, d):
        d.mkdir(exist_ok=True)
        for name, value in n.props.items():
            (d / name).write_bytes(value)
        for c in n.children:
            node(c, d / c.name)
    node(parse_fdt(dtb).root, root)


@needs_dtc
@pytest.mark.parametrize("dtb", [RSV_DTB, SM8450])
def test_device_tree_directory_matches_dtc_fs(tmp_path, plain, dtb):
    d = tmp_path / "device-tree"
    write_dt_dir(dtb.read_bytes(), d)
    ours = regions_of(d)
    ref = tmp_path / "ref.dtb"
    subprocess.run(["dtc", "-q", "-I", "fs", "-O", "dtb", "-o", str(ref), str(d)], check=True)
    key = lambda rs: sorted(rs, key=lambda r: r["id"])
    assert key(ours) == key(regions_of(ref))
    memreserve_free = [r for r in plain[dtb] if not r["id"].startswith("/memreserve/")]
    assert key(ours) == key(memreserve_free)       # the kernel does not expose /memreserve/ there
    assert inputs_of(d)["container"] == "device-tree directory"


# -- stdin -------------------------------------------------------------------------------------

def test_stdin(plain):
    proc = subprocess.run(["python", "-m", "memmap_tui", "report", "--json", "-"], input=gzip.compress(
        SM8450.read_bytes()), capture_output=True)
    assert proc.returncode == 0, proc.stderr
    import json
    doc = json.loads(proc.stdout)
    assert doc["regions"] == plain[SM8450] and doc["inputs"]["dtb"] == "stdin"


def test_fuzzed_containers_fail_cleanly():
    """Any byte string: a DtbSource or an InputError, never another exception."""
    seeds = [_dt_table([RSV_DTB.read_bytes()]), _boot_v2(b"k", b"r", RSV_DTB.read_bytes()),
             _vendor_boot_v4(b"r", RSV_DTB.read_bytes()), gzip.compress(RSV_DTB.read_bytes())]
    rnd = __import__("random").Random(7)
    for seed in seeds:
        for _ in range(150):
            b = bytearray(seed)
            for _ in range(rnd.randint(1, 6)):
                b[rnd.randrange(len(b))] = rnd.randrange(256)
            cut = bytes(b[:rnd.randint(1, len(b))]) if rnd.random() < 0.3 else bytes(b)
            try:
                sniff_bytes(cut, "fuzz")
            except InputError:
                pass


def test_demo_board_is_named_demo():
    doc = __import__("json").loads(run_cli("report", "--json").stdout)
    assert doc["inputs"]["board"] == "demo"
    assert "board=demo" in run_cli("report").stdout


def test_export_refuses_containers(tmp_path):
    cat = tmp_path / "dtb.img"
    cat.write_bytes(RSV_DTB.read_bytes() + SM8450.read_bytes())
    proc = run_cli("export", cat, "--pick", "1", "--no-dump", "gpu-mem", "-o", tmp_path / "out.dtb")
    assert proc.returncode == 2 and "concatenated DTBs" in proc.stderr
    assert not (tmp_path / "out.dtb").exists()
