"""Crafted DTBs for the export tests, written by code (no blobs in the repo).

An independent, minimal FDT writer (devicetree spec §5): v17 header, /memreserve/,
structure block, strings block with one entry per distinct name. Nodes are
(name, props, children) tuples; props a list of (name, bytes).
"""

from __future__ import annotations

import struct

Node = tuple[str, list[tuple[str, bytes]], list["Node"]]


def cells(*values: int) -> bytes:
    return struct.pack(f">{len(values)}I", *values)


def build(root: Node, memreserve: tuple[tuple[int, int], ...] = ()) -> bytes:
    strings: dict[str, int] = {}
    strtab = bytearray()
    out: list[bytes] = []

    def name_off(name: str) -> int:
        if name not in strings:
            strings[name] = len(strtab)
            strtab.extend(name.encode() + b"\0")
        return strings[name]

    def pad(b: bytes) -> bytes:
        return b + bytes(-len(b) % 4)

    stack: list[Node | None] = [root]
    while stack:
        node = stack.pop()
        if node is None:
            out.append(cells(2))
            continue
        name, props, children = node
        out.append(cells(1) + pad(name.encode() + b"\0"))
        for pname, value in props:
            out.append(cells(3, len(value), name_off(pname)) + pad(value))
        stack.append(None)
        stack.extend(reversed(children))
    out.append(cells(9))
    structure = b"".join(out)
    rsv = b"".join(struct.pack(">QQ", a, s) for a, s in memreserve) + bytes(16)
    off_rsv = 40
    off_struct = off_rsv + len(rsv)
    off_strings = off_struct + len(structure)
    total = off_strings + len(strtab)
    header = cells(0xD00DFEED, total, off_struct, off_strings, off_rsv, 17, 16, 0, len(strtab), len(structure))
    return header + rsv + structure + bytes(strtab)


def board(extra_root_children: list[Node] = (), extra_carveout_props: list[tuple[str, bytes]] = ()) -> bytes:
    """A board with RAM at 2 GiB and one carveout, `/reserved-memory/buf@90000000`."""
    carveout = ("buf@90000000", [("reg", cells(0, 0x90000000, 0, 0x100000)), *extra_carveout_props], [])
    rsv = ("reserved-memory", [("#address-cells", cells(2)), ("#size-cells", cells(2)), ("ranges", b"")],
           [carveout])
    memory = ("memory@80000000", [("device_type", b"memory\0"), ("reg", cells(0, 0x80000000, 0, 0x40000000))], [])
    root = ("", [("#address-cells", cells(2)), ("#size-cells", cells(2)), ("model", b"crafted\0")],
            [memory, rsv, *extra_root_children])
    return build(root)


def deep_chain(depth: int) -> Node:
    node: Node = ("leaf", [("x", cells(1))], [])
    for i in range(depth):
        node = (f"n{i}", [], [node])
    return node
