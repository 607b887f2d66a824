"""A device tree laid out as a directory (/proc/device-tree, /sys/firmware/devicetree/base).

drivers/of/kobj.c exposes each node as a directory and each property as a file holding
its raw value, so reading it back is the tree itself. We serialise it into a DTB
(devicetree spec §5: header, empty /memreserve/ map, structure and strings blocks) so
it takes the same path as every other input. The kernel does not expose /memreserve/
there; the caller says so. `dtc -I fs` is the independent reader tests compare with.
"""

from __future__ import annotations

import os
import struct

from memmap_tui.sources.errors import InputError, read_input_bytes
from memmap_tui.sources.fdt_blob import FDT_BEGIN_NODE, FDT_END, FDT_END_NODE, FDT_MAGIC, FDT_PROP

MAX_ENTRIES = 200_000          # a real tree has a few thousand
MAX_PROP_BYTES = 1 << 20
MAX_DEPTH = 64


def looks_like_dt_dir(path: str) -> bool:
    return os.path.isdir(path) and any(
        os.path.isfile(os.path.join(path, name)) for name in ("#address-cells", "compatible", "model"))


def read_dt_dir(path: str) -> bytes:
    """The directory as a DTB (nodes and properties in name order)."""
    struct_block = bytearray()
    strings = bytearray()
    offsets: dict[str, int] = {}
    count = 0

    def name_off(name: str) -> int:
        if name not in offsets:
            offsets[name] = len(strings)
            strings.extend(name.encode() + b"\0")
        return offsets[name]

    def node(dirpath: str, name: str, depth: int) -> None:
        nonlocal count
        if depth > MAX_DEPTH:
            raise InputError(path, f"device tree directory nested deeper than {MAX_DEPTH}")
        struct_block.extend(struct.pack(">I", FDT_BEGIN_NODE) + _pad(name.encode() + b"\0"))
        try:
            entries = sorted(os.scandir(dirpath), key=lambda e: e.name)
        except OSError as e:
            raise InputError(dirpath, e.strerror or str(e)) from None
        count += len(entries)
        if count > MAX_ENTRIES:
            raise InputError(path, f"more than {MAX_ENTRIES} entries: not a device tree directory")
        subdirs = []
        for e in entries:
            if e.is_symlink():
                continue           # sysfs links (of_node) point out of the tree
            if e.is_dir():
                subdirs.append(e)
            elif e.is_file():
                value = _read_prop(e.path)
                struct_block.extend(struct.pack(">III", FDT_PROP, len(value), name_off(e.name)) + _pad(value))
        for e in subdirs:
            node(e.path, e.name, depth + 1)
        struct_block.extend(struct.pack(">I", FDT_END_NODE))

    node(os.path.realpath(path), "", 0)
    struct_block.extend(struct.pack(">I", FDT_END))
    header_size, rsv = 40, bytes(16)
    off_rsv = header_size
    off_struct = off_rsv + len(rsv)
    off_strings = off_struct + len(struct_block)
    total = off_strings + len(strings)
    header = struct.pack(">10I", FDT_MAGIC, total, off_struct, off_strings, off_rsv, 17, 16, 0,
                         len(strings), len(struct_block))
    return header + rsv + bytes(struct_block) + bytes(strings)


def _read_prop(path: str) -> bytes:
    return read_input_bytes(path, MAX_PROP_BYTES)


def _pad(b: bytes) -> bytes:
    return b + bytes(-len(b) % 4)
