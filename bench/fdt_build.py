"""Write flattened device tree blobs from code, fast and without dtc's own limits.

Used to generate hostile and fuzz inputs (100,000 nesting levels, 200 address cells,
huge property counts) that dtc would take long to build or refuses; ordinary test
boards are still compiled by the real dtc. Layout: devicetree spec §5, version 17.

A node is `(name, props, children)` where props is a list of (name, bytes).
"""

from __future__ import annotations

import struct

FDT_MAGIC = 0xD00DFEED
FDT_BEGIN_NODE, FDT_END_NODE, FDT_PROP, FDT_END = 1, 2, 3, 9

Node = tuple  # (name: str, props: list[tuple[str, bytes]], children: list[Node])


def cells(*values: int) -> bytes:
    return struct.pack(f">{len(values)}I", *values)


def string(s: str) -> bytes:
    return s.encode() + b"\0"


def _pad(b: bytes) -> bytes:
    return b + bytes(-len(b) % 4)


class _Writer:
    def __init__(self) -> None:
        self.struct: list[bytes] = []
        self.strings = bytearray()
        self.offsets: dict[str, int] = {}

    def nameoff(self, name: str) -> int:
        off = self.offsets.get(name)
        if off is None:
            off = self.offsets[name] = len(self.strings)
            self.strings += string(name)
        return off

    def begin(self, name: str) -> None:
        self.struct.append(struct.pack(">I", FDT_BEGIN_NODE) + _pad(string(name)))

    def prop(self, name: str, value: bytes) -> None:
        self.struct.append(struct.pack(">III", FDT_PROP, len(value), self.nameoff(name)) + _pad(value))

    def end(self) -> None:
        self.struct.append(struct.pack(">I", FDT_END_NODE))


def build(root: Node, memreserve: list[tuple[int, int]] = (), *, struct_tokens: bytes | None = None,
          padding: int = 0) -> bytes:
    """The blob for `root` (iteratively, so depth is unlimited); `struct_tokens` replaces
    the structure block with raw bytes when a test wants malformed tokens."""
    w = _Writer()
    if struct_tokens is None:
        stack = [(root, 0)]
        while stack:  # explicit stack: 100,000-deep trees must not hit the recursion limit
            node, state = stack.pop()
            if state:
                w.end()
                continue
            name, props, children = node
            w.begin(name)
            for pname, value in props:
                w.prop(pname, value)
            stack.append((node, 1))
            stack.extend((c, 0) for c in reversed(children))
        w.struct.append(struct.pack(">I", FDT_END))
        struct_block = b"".join(w.struct)
    else:
        struct_block = struct_tokens
    rsv = b"".join(struct.pack(">QQ", a, s) for a, s in memreserve) + bytes(16)
    off_rsv = 40
    off_struct = off_rsv + len(rsv)
    off_strings = off_struct + len(struct_block)
    total = off_strings + len(w.strings) + padding
    header = struct.pack(">10I", FDT_MAGIC, total, off_struct, off_strings, off_rsv, 17, 16, 0,
                         len(w.strings), len(struct_block))
    return header + rsv + struct_block + bytes(w.strings) + bytes(padding)


def deep_chain(levels: int, name: str = "a") -> Node:
    """`levels` nested nodes, built bottom-up without recursion."""
    node: Node = (name, [], [])
    for _ in range(levels - 1):
        node = (name, [], [node])
    return ("", [("#address-cells", cells(2)), ("#size-cells", cells(2))], [node])


def reserved_board(children: list[Node], *, address_cells: int = 2, size_cells: int = 2,
                   memory: tuple[int, int] = (0x80000000, 1 << 32)) -> Node:
    """A root with /memory and /reserved-memory holding `children`."""
    def enc(v: int, n: int) -> bytes:
        return cells(*[(v >> (32 * (n - 1 - i))) & 0xFFFFFFFF for i in range(n)])
    mem_reg = enc(memory[0], address_cells) + enc(memory[1], size_cells)
    return ("", [("#address-cells", cells(address_cells)), ("#size-cells", cells(size_cells)),
                 ("model", string("hostile"))],
            [("memory@80000000", [("device_type", string("memory")), ("reg", mem_reg)], []),
             ("reserved-memory", [("#address-cells", cells(address_cells)),
                                  ("#size-cells", cells(size_cells)), ("ranges", b"")], children)])


def carveout(i: int, base: int, size: int, *, no_map: bool = False) -> Node:
    props = [("reg", cells(base >> 32, base & 0xFFFFFFFF, size >> 32, size & 0xFFFFFFFF))]
    if no_map:
        props.append(("no-map", b""))
    return (f"r{i}@{base:x}", props, [])
