"""Write the containers a user may pass as "the DTB", from code and without external tools.

Layouts follow what memmap_tui/sources reads (and tests/test_containers.py checks against
mkimage, AOSP headers and the real compressors): U-Boot FIT images (embedded or external
data, compressed payloads), concatenated DTBs, Android DT tables (libufdt dt_table.h, v0/v1),
Android boot images v0–v4 and vendor_boot v3/v4 (mkbootimg bootimg.h), kernels with
appended DTBs (zImage, Image-dtb, Image.gz-dtb) and gzip/xz/bzip2/zstd wrappers.

zstd: the stdlib has no zstd before Python 3.14 and we add no dependency, so `zstd_raw()`
writes a valid zstd frame of raw (stored) blocks (RFC 8878 §3.1.1) — what a zstd decoder
accepts, though no compressor would choose it.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import struct
import zlib

import fdt_build as fb

# -- compression wrappers -----------------------------------------------------------------

ZSTD_MAGIC = 0xFD2FB528
ZSTD_BLOCK_MAX = 1 << 17


def zstd_raw(data: bytes, *, checksum: bool = False) -> bytes:
    """A zstd frame holding `data` in raw blocks; content size in a 4-byte field."""
    # frame header descriptor: FCS field size flag 2 (4 bytes), single segment, checksum flag
    fhd = (2 << 6) | (1 << 5) | (4 if checksum else 0)
    out = [struct.pack("<IB", ZSTD_MAGIC, fhd), struct.pack("<I", len(data))]
    blocks = [data[i:i + ZSTD_BLOCK_MAX] for i in range(0, len(data), ZSTD_BLOCK_MAX)] or [b""]
    for i, blk in enumerate(blocks):
        last = i == len(blocks) - 1
        header = (len(blk) << 3) | (0 << 1) | int(last)          # block type 0: raw
        out.append(header.to_bytes(3, "little") + blk)
    if checksum:   # low 32 bits of XXH64: not computed here, so never ask for it in a valid frame
        out.append(b"\0\0\0\0")
    return b"".join(out)


def compress(kind: str, data: bytes) -> bytes:
    """`data` inside one stream of `kind` (gzip, xz, bzip2, zstd), made quickly (small presets)."""
    if kind == "gzip":
        return gzip.compress(data, compresslevel=1, mtime=0)
    if kind == "xz":
        return lzma.compress(data, preset=0)      # preset 6 allocates ~94 MiB and takes ms
    if kind == "bzip2":
        return bz2.compress(data, 1)
    if kind == "zstd":
        return zstd_raw(data)
    raise ValueError(kind)


WRAPPERS = ("gzip", "xz", "bzip2", "zstd")


def _pad(b: bytes, page: int) -> bytes:
    return b + bytes(-len(b) % page)


# -- concatenation, kernels ----------------------------------------------------------------

def concatenated(blobs: list[bytes], *, gap: int = 0) -> bytes:
    """DTBs back to back (`cat a.dtb b.dtb`), optionally zero padding between them."""
    return (bytes(gap)).join(blobs)


def zimage(kernel: bytes, dtbs: list[bytes]) -> bytes:
    """An arm zImage (magic 0x016f2818 at 0x24) with DTB(s) appended."""
    k = bytearray(kernel.ljust(0x30, b"\x01"))
    struct.pack_into("<III", k, 0x24, 0x016F2818, 0, len(k))
    return bytes(k) + b"".join(dtbs)


def image_gz_dtb(kernel: bytes, dtbs: list[bytes], kind: str = "gzip") -> bytes:
    """Image.gz-dtb: a compressed kernel with the DTB(s) appended after the stream."""
    return compress(kind, kernel) + b"".join(dtbs)


# -- FIT ---------------------------------------------------------------------------------

FIT_COMPRESSION = {"none": None, "gzip": "gzip", "bzip2": "bzip2", "zstd": "zstd", "lzma": "lzma"}


def fit(dtbs: list[bytes], *, compression: str = "none", external: str | None = None,
        default: int | None = 1, kernel: bytes | None = None, configs: bool = True) -> bytes:
    """A FIT image with one flat_dt image per DTB (`fdt-N`, configuration `conf-N`).
    `external`: None (data in the tree), "offset" (mkimage -E: data-offset after the FDT)
    or "position" (mkimage -p: data-position from the start of the file)."""
    payloads = []
    for d in dtbs:
        if compression == "lzma":
            payloads.append(lzma.compress(d, format=lzma.FORMAT_ALONE, preset=0))
        elif compression == "none":
            payloads.append(d)
        else:
            payloads.append(compress(compression, d))
    if kernel is not None:
        payloads.insert(0, kernel)
    names = (["kernel-1"] if kernel is not None else []) + [f"fdt-{i}" for i in range(1, len(dtbs) + 1)]

    def image_props(name: str, placement: list[tuple[str, bytes]]) -> list:
        kind = "kernel" if name.startswith("kernel") else "flat_dt"
        return [("description", fb.string(name)), *placement, ("type", fb.string(kind)),
                ("arch", fb.string("arm64")), ("compression", fb.string("none" if kind == "kernel" else compression))]

    def tree(placements: list[list[tuple[str, bytes]]]) -> bytes:
        imgs = [(n, image_props(n, p), []) for n, p in zip(names, placements)]
        conf_nodes = [(f"conf-{i}", [("description", fb.string(f"c{i}")), ("fdt", fb.string(f"fdt-{i}"))]
                       + ([("kernel", fb.string("kernel-1"))] if kernel is not None else []), [])
                      for i in range(1, len(dtbs) + 1)]
        conf_props = [("default", fb.string(f"conf-{default}"))] if default else []
        children = [("images", [], imgs)]
        if configs:
            children.append(("configurations", conf_props, conf_nodes))
        return fb.build(("", [("description", fb.string("fuzz FIT")), ("#address-cells", fb.cells(1)),
                              ("timestamp", fb.cells(0))], children))

    if external is None:
        return tree([[("data", p)] for p in payloads])
    # external data: offsets are 4-byte aligned, each payload padded to 4
    rel, offs = 0, []
    for p in payloads:
        offs.append(rel)
        rel += -(-len(p) // 4) * 4
    if external == "offset":
        blob = tree([[("data-size", fb.cells(len(p))), ("data-offset", fb.cells(o))]
                     for p, o in zip(payloads, offs)])
    else:
        # data-position is absolute: the FDT's size does not depend on the values (fixed-width cells)
        probe = tree([[("data-size", fb.cells(len(p))), ("data-position", fb.cells(0))] for p in payloads])
        base = -(-len(probe) // 4) * 4
        blob = tree([[("data-size", fb.cells(len(p))), ("data-position", fb.cells(base + o))]
                     for p, o in zip(payloads, offs)])
    return _pad(blob, 4) + b"".join(_pad(p, 4) for p in payloads)


# -- Android -------------------------------------------------------------------------------

DT_TABLE_MAGIC = 0xD7B7AB1E


def dt_table(blobs: list[bytes], *, version: int = 0, compression: int = 0, page: int = 2048) -> bytes:
    """libufdt dt_table: header, entries {size, offset, id, rev, custom[4]}, payloads.
    Version 1 with `compression` 1 (zlib) or 2 (gzip) in custom[0] compresses every entry."""
    header_size, entry_size = 32, 32
    offset = header_size + entry_size * len(blobs)
    entries, payload = [], []
    at = offset
    for i, b in enumerate(blobs):
        if version >= 1 and compression == 1:
            b = zlib.compress(b, 1)
        elif version >= 1 and compression == 2:
            b = gzip.compress(b, compresslevel=1, mtime=0)
        entries.append(struct.pack(">8I", len(b), at, 0x100 + i, i, compression if version >= 1 else 0, 0, 0, 0))
        payload.append(b)
        at += len(b)
    return (struct.pack(">8I", DT_TABLE_MAGIC, at, header_size, entry_size, len(blobs), header_size, page, version)
            + b"".join(entries) + b"".join(payload))


def boot_image(version: int, kernel: bytes, *, ramdisk: bytes = b"", dtb: bytes = b"",
               second: bytes = b"", recovery_dtbo: bytes = b"", page: int = 2048) -> bytes:
    """An Android boot image (`ANDROID!`) of header_version 0–4; only v2 has a dtb section."""
    if version >= 3:   # v3/v4: fixed 4096-byte pages, kernel and ramdisk only
        h = bytearray(1580 if version == 3 else 1584)
        h[0:8] = b"ANDROID!"
        struct.pack_into("<5I", h, 8, len(kernel), len(ramdisk), 0, len(h), 0)
        struct.pack_into("<I", h, 40, version)
        return _pad(bytes(h), 4096) + _pad(kernel, 4096) + _pad(ramdisk, 4096)
    size = {0: 1632, 1: 1648, 2: 1660}[version]
    h = bytearray(size)
    h[0:8] = b"ANDROID!"
    struct.pack_into("<10I", h, 8, len(kernel), 0x8000, len(ramdisk), 0x1000000, len(second), 0xF00000,
                     0x100, page, version, 0)
    if version >= 1:
        struct.pack_into("<IQI", h, 1632, len(recovery_dtbo), 0, size)
    if version == 2:
        struct.pack_into("<IQ", h, 1648, len(dtb), 0x1F00000)
    sections = [h, kernel, ramdisk, second] + ([recovery_dtbo] if version >= 1 else []) + ([dtb] if version == 2 else [])
    return b"".join(_pad(bytes(s), page) for s in sections)


def vendor_boot(version: int, dtb: bytes, *, ramdisk: bytes = b"", page: int = 4096) -> bytes:
    """An Android vendor_boot image (`VNDRBOOT`) v3 or v4: header, vendor ramdisk, dtb."""
    h = bytearray(2112 if version == 3 else 2128)
    h[0:8] = b"VNDRBOOT"
    struct.pack_into("<5I", h, 8, version, page, 0x8000, 0x1000000, len(ramdisk))
    struct.pack_into("<I", h, 2076, 0x100)                                # tags_addr
    struct.pack_into("<IIQ", h, 2096, len(h), len(dtb), 0x1F00000)       # header_size, dtb_size, dtb_addr
    if version >= 4:
        struct.pack_into("<4I", h, 2112, 0, 0, 108, 0)
    return _pad(bytes(h), page) + _pad(ramdisk, page) + _pad(dtb, page)
