"""One-pass reader of the flattened device tree blob (FDT, "DTB").

Why not `fdt.parse_dtb()`: it is O(n²) in the children of a node, raises on
FDT_NOP (blobs edited in place by U-Boot/libfdt contain them), shares one
/memreserve/ list between every tree it parses, and guesses property types
from their bytes (packages.md). This reader keeps every property as raw bytes
in document order and decodes by property name elsewhere; `export/` converts
the tree to `fdt` objects when it needs to write a blob.

Layout (devicetree spec §5): a 40-byte big-endian header, the /memreserve/
map of (be64 address, be64 size) pairs ended by size 0, the structure block
of tokens and the strings block.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

FDT_MAGIC = 0xD00DFEED
FDT_BEGIN_NODE, FDT_END_NODE, FDT_PROP, FDT_NOP, FDT_END = 1, 2, 3, 4, 9
HEADER_SIZE = 40  # version 17 header; v16 lacks size_dt_struct (36 bytes)
# drivers/of/fdt.c unflatten_dt_nodes(): `#define FDT_MAX_DEPTH 64`, deeper nodes are skipped
# with a WARN. A blob nested deeper is refused rather than silently losing nodes on export.
FDT_MAX_DEPTH = 64
# Every node keeps its full path; a long name above many children multiplies it. Real blobs
# use well under 1 MiB of path text; past this budget the blob is refused, never allocated.
MAX_PATH_CHARS = 32 << 20
U64_LIMIT = 1 << 64


class FdtError(ValueError):
    """The bytes are not a usable flattened device tree."""


@dataclass(slots=True)
class FdtHeader:
    totalsize: int
    off_dt_struct: int
    off_dt_strings: int
    off_mem_rsvmap: int
    version: int
    last_comp_version: int
    boot_cpuid_phys: int
    size_dt_strings: int
    size_dt_struct: int


@dataclass(eq=False, slots=True)
class FdtNode:
    name: str  # full unit name, e.g. "gpu@50000000"; "" for the root
    path: str
    props: dict[str, bytes] = field(default_factory=dict)
    children: list["FdtNode"] = field(default_factory=list)

    def child(self, name: str) -> "FdtNode | None":
        for c in self.children:
            if c.name == name:
                return c
        return None

    def has(self, prop: str) -> bool:
        return prop in self.props


@dataclass(slots=True)
class FdtBlob:
    header: FdtHeader
    memreserve: list[tuple[int, int]]  # (address, size)
    root: FdtNode
    nodes_by_path: dict[str, FdtNode]
    nop_count: int = 0
    data_size: int = 0  # bytes actually used (header.totalsize may include padding)

    def get(self, path: str) -> FdtNode | None:
        return self.nodes_by_path.get(path)


def _join(parent_path: str, name: str) -> str:
    return "/" + name if parent_path == "/" else f"{parent_path}/{name}"


def parse_fdt(data: bytes) -> FdtBlob:
    """Parse a DTB; raise FdtError with the first thing that is wrong."""
    if len(data) < 4 or struct.unpack_from(">I", data, 0)[0] != FDT_MAGIC:
        raise FdtError("not a device tree blob (bad magic, expected 0xd00dfeed)")
    if len(data) < HEADER_SIZE - 4:
        raise FdtError(f"truncated header ({len(data)} bytes)")
    fields = struct.unpack_from(">9I", data + b"\0" * 4, 4)
    header = FdtHeader(*fields)
    if header.version < 16:
        raise FdtError(f"unsupported FDT version {header.version} (need 16 or later)")
    if header.version < 17:
        header.size_dt_struct = 0
    if header.totalsize > len(data):
        raise FdtError(
            f"truncated: header says {header.totalsize} bytes, file has {len(data)}"
        )
    size = header.totalsize
    for what, off in (("structure", header.off_dt_struct), ("memreserve", header.off_mem_rsvmap)):
        if off >= size:
            raise FdtError(f"{what} block offset {off:#x} beyond totalsize {size:#x}")
    # An empty strings block may start exactly at totalsize (dtc writes `/ { };` that way).
    if header.off_dt_strings > size:
        raise FdtError(f"strings block offset {header.off_dt_strings:#x} beyond totalsize {size:#x}")
    strings_end = header.off_dt_strings + header.size_dt_strings
    if strings_end > size:
        raise FdtError("strings block extends past totalsize")

    memreserve: list[tuple[int, int]] = []
    off = header.off_mem_rsvmap
    while True:
        if off + 16 > size:
            raise FdtError("unterminated /memreserve/ map")
        addr, length = struct.unpack_from(">QQ", data, off)
        off += 16
        if length == 0:
            break
        memreserve.append((addr, length))
    rsv_end = off

    strings = data[header.off_dt_strings:strings_end]
    name_cache: dict[int, str] = {}

    def prop_name(nameoff: int) -> str:
        name = name_cache.get(nameoff)
        if name is None:
            if nameoff >= len(strings):
                raise FdtError(f"property name offset {nameoff:#x} outside strings block")
            end = strings.find(b"\0", nameoff)
            if end < 0:
                raise FdtError("unterminated property name")
            name = strings[nameoff:end].decode("utf-8", "replace")
            name_cache[nameoff] = name
        return name

    struct_end = (header.off_dt_struct + header.size_dt_struct
                  if header.size_dt_struct else size)
    if struct_end > size:
        raise FdtError("structure block extends past totalsize")
    pos = header.off_dt_struct
    unpack_u32 = struct.Struct(">I").unpack_from
    stack: list[FdtNode] = []
    nodes_by_path: dict[str, FdtNode] = {}
    root: FdtNode | None = None
    nops = 0
    path_chars = 0
    while True:
        if pos + 4 > struct_end:
            raise FdtError(f"structure block ends without FDT_END (offset {pos:#x})")
        (token,) = unpack_u32(data, pos)
        pos += 4
        if token == FDT_BEGIN_NODE:
            end = data.find(b"\0", pos, struct_end)
            if end < 0:
                raise FdtError(f"unterminated node name at {pos:#x}")
            name = data[pos:end].decode("utf-8", "replace")
            pos = (end + 4) & ~3
            if not stack:
                if root is not None:
                    raise FdtError("more than one root node")
                node = FdtNode(name="", path="/")
                root = node
            else:
                if len(stack) >= FDT_MAX_DEPTH:
                    raise FdtError(f"nodes nested deeper than {FDT_MAX_DEPTH} levels at {pos:#x} "
                                   "(the kernel's FDT_MAX_DEPTH: it skips them)")
                parent = stack[-1]
                node = FdtNode(name=name, path=_join(parent.path, name))
                parent.children.append(node)
                path_chars += len(node.path)
                if path_chars > MAX_PATH_CHARS:
                    raise FdtError(f"node paths add up to more than {MAX_PATH_CHARS >> 20} MiB "
                                   f"(long names above many children, at {pos:#x})")
            nodes_by_path[node.path] = node
            stack.append(node)
        elif token == FDT_END_NODE:
            if not stack:
                raise FdtError(f"unbalanced FDT_END_NODE at {pos - 4:#x}")
            stack.pop()
        elif token == FDT_PROP:
            if not stack:
                raise FdtError(f"property outside any node at {pos - 4:#x}")
            if pos + 8 > struct_end:
                raise FdtError("truncated property header")
            length, nameoff = struct.unpack_from(">II", data, pos)
            pos += 8
            if pos + length > struct_end:
                raise FdtError(f"property value past end of structure block at {pos:#x}")
            stack[-1].props[prop_name(nameoff)] = bytes(data[pos:pos + length])
            pos = (pos + length + 3) & ~3
        elif token == FDT_NOP:
            nops += 1
        elif token == FDT_END:
            break
        else:
            raise FdtError(f"unknown structure token {token:#x} at offset {pos - 4:#x}")
    if stack:
        raise FdtError(f"node {stack[-1].path} is not closed")
    if root is None:
        raise FdtError("no root node")
    data_size = max(pos, strings_end, rsv_end)
    return FdtBlob(header=header, memreserve=memreserve, root=root,
                   nodes_by_path=nodes_by_path, nop_count=nops, data_size=data_size)


# -- property decoding by name (never guessed from bytes) -------------------

def prop_u32(value: bytes) -> int:
    if len(value) != 4:
        raise FdtError(f"expected one cell, got {len(value)} bytes")
    return struct.unpack(">I", value)[0]


MAX_PROP_CELLS = 1 << 18   # 1 MiB of cells: 65,536 <2 2> reg tuples; real boards list a handful


def prop_cells(value: bytes) -> list[int]:
    if len(value) % 4:
        raise FdtError(f"length {len(value)} is not a multiple of 4")
    if len(value) > 4 * MAX_PROP_CELLS:
        # a Python int per cell: a 64 MiB reg would need > 1 GiB to decode
        raise FdtError(f"{len(value) // 4:,} cells, more than the {MAX_PROP_CELLS:,} decoded (damaged)")
    return list(struct.unpack(f">{len(value) // 4}I", value))


def cells_to_int(cells: list[int]) -> int:
    """The kernel's of_read_number(): a u64, so cells beyond the last two are shifted out."""
    v = 0
    for c in cells[-2:]:
        v = (v << 32) | c
    return v


def prop_tuples(value: bytes, address_cells: int, size_cells: int) -> list[tuple[int, int]]:
    """Decode `reg`-style <address size> tuples; raise when the length does not fit."""
    cells = prop_cells(value)
    width = address_cells + size_cells
    if width == 0 or len(cells) % width:
        raise FdtError(
            f"{len(value)} bytes is not a whole number of <{address_cells} {size_cells}> tuples"
        )
    out = []
    for i in range(0, len(cells), width):
        addr = cells_to_int(cells[i:i + address_cells])
        size = cells_to_int(cells[i + address_cells:i + width])
        if addr + size > U64_LIMIT:
            raise FdtError(f"<{addr:#x} {size:#x}> ends beyond the 64-bit physical address space")
        out.append((addr, size))
    return out


def prop_strings(value: bytes) -> list[str]:
    if not value:
        return []
    return [s.decode("utf-8", "replace") for s in value.rstrip(b"\0").split(b"\0")]


def prop_string(value: bytes) -> str:
    strings = prop_strings(value)
    return strings[0] if strings else ""


DESCRIBE_MAX_BYTES = 1024  # the details panel shows the head of a longer value and its length


def describe_prop(value: bytes) -> str:
    """Readable rendering for the details panel, dtc-like; long values are cut (never a
    multi-GB string for a hostile 200 MiB property)."""
    if not value:
        return "(empty)"
    if len(value) > DESCRIBE_MAX_BYTES:
        head = value[:DESCRIBE_MAX_BYTES - DESCRIBE_MAX_BYTES % 4]
        return f"{describe_prop(head)} … ({len(value):,} bytes)"
    printable = value.endswith(b"\0") and all(
        32 <= b < 127 or b == 0 for b in value) and b"\0\0" not in value and value[0] != 0
    if printable:
        return ", ".join(f'"{s}"' for s in prop_strings(value))
    if len(value) % 4 == 0:
        return "<" + " ".join(f"{c:#x}" for c in prop_cells(value)) + ">"
    return "[" + " ".join(f"{b:02x}" for b in value) + "]"
