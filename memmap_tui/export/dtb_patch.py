"""Patched DTB: add or remove the empty `linux,no-dump` property on /reserved-memory children.

The tree comes from our one-pass reader (`sources.fdt_blob`) and is written back by
`serialize()` here, in one linear pass without recursion: the `fdt` library's writer
searches and grows its strings table per property (`str.find` + `+=`: 100k property
names took 73 s), concatenates node blobs recursively (quadratic on wide nodes,
RecursionError on a 2,000-deep tree) and needs printable-ASCII names.

What a plain re-serialization would not keep, and what `_relayout()` restores:
  * block offsets: a canonical writer puts /memreserve/ right after the header and
    the structure block right after it; QEMU's libfdt puts /memreserve/ at 48 (16-byte
    alignment) and dtc -R leaves room for extra reservation slots. We keep the input's
    gaps byte for byte.
  * trailing free space (dtc -p, QEMU's 1 MiB blobs): we pad back to the input's
    totalsize when the output still fits, and keep zero bytes the file had after
    totalsize so the file length does not change either.
  * the strings block: seeded with the input's strings block, so existing name
    offsets (and unused strings) stay; a name is found the way dtc's
    `stringtable_insert()` (dtc flattree.c) finds it — the first place `name\0`
    occurs, a suffix of a longer name included — and a new one is appended at the end.
What cannot be kept: FDT_NOP tokens (blobs edited in place by U-Boot/libfdt) have no
place in the parsed tree; they are dropped and reported.
"""

from __future__ import annotations

import difflib
import os
import shutil
import struct
import tempfile
from dataclasses import dataclass, field
from pathlib import Path


from memmap_tui.export.targets import check_target, write_all
from memmap_tui.sources import tools
from memmap_tui.sources.errors import MAX_DTB_INPUT_BYTES, read_input_bytes
from memmap_tui.sources.errors import InputError
from memmap_tui.sources.fdt_blob import FdtBlob, FdtError, FdtNode, parse_fdt

NO_DUMP = "linux,no-dump"
RESERVED_MEMORY = "/reserved-memory"


@dataclass(slots=True)
class DtbPatch:
    """A patched blob plus what the caller should tell the user about it."""
    data: bytes
    applied: dict[str, bool]              # path -> added (True) / removed (False)
    unchanged: dict[str, str] = field(default_factory=dict)  # path -> why nothing changed
    notes: list[str] = field(default_factory=list)            # layout facts (NOPs, padding)
    dts_diff: list[str] = field(default_factory=list)         # verified `dtc -O dts` diff lines


# -- serialization ----------------------------------------------------------------

FDT_MAGIC = 0xD00DFEED
FDT_BEGIN_NODE, FDT_END_NODE, FDT_PROP, FDT_END = 1, 2, 3, 9
WRITABLE_VERSIONS = (16, 17)
# Suffixes longer than this are not indexed for sharing (the spec caps property names at
# 31 characters); a longer name is still found whole, or appended. Keeps the index linear.
_SUFFIX_SHARE_MAX = 32


class StringTable:
    """The strings block: offsets found as dtc finds them, built in one pass."""

    def __init__(self, seed: bytes) -> None:
        self.data = bytearray(seed)
        self._offset: dict[bytes, int] = {}
        self._index(0)

    def _index(self, start: int) -> None:
        pos, data, offset = start, self.data, self._offset
        while (end := data.find(b"\0", pos)) >= 0:
            name = bytes(data[pos:end])
            offset.setdefault(name, pos)
            for k in range(max(1, len(name) - _SUFFIX_SHARE_MAX), len(name) + 1):
                offset.setdefault(name[k:], pos + k)
            pos = end + 1

    def offset(self, name: bytes) -> int:
        off = self._offset.get(name)
        if off is None:
            off = len(self.data)
            self.data += name + b"\0"
            self._index(off)
        return off


def _pad4(chunk: bytes) -> bytes:
    return chunk + bytes(-len(chunk) % 4)


def _encode_name(name: str, what: str) -> bytes:
    # the reader decodes names as UTF-8 with replacement: a U+FFFD may stand for other bytes
    if "\ufffd" in name or "\0" in name:
        raise InputError(None, f"{what} {name!r} is not valid UTF-8; cannot rewrite this DTB")
    return name.encode("utf-8")


def structure_block(root: FdtNode, strings: StringTable) -> bytes:
    """FDT_BEGIN_NODE … FDT_END, iteratively (depth costs no Python stack)."""
    out: list[bytes] = []
    begin, end_node, prop = (struct.pack(">I", t) for t in (FDT_BEGIN_NODE, FDT_END_NODE, FDT_PROP))
    stack: list[FdtNode | None] = [root]       # None closes the node opened before it
    while stack:
        node = stack.pop()
        if node is None:
            out.append(end_node)
            continue
        out.append(begin + _pad4(_encode_name(node.name, "node name") + b"\0"))
        for name, value in node.props.items():
            off = strings.offset(_encode_name(name, f"property of {node.path}:"))
            out.append(prop + struct.pack(">II", len(value), off) + _pad4(value))
        stack.append(None)
        stack.extend(reversed(node.children))
    out.append(struct.pack(">I", FDT_END))
    return b"".join(out)


def _canonical(blob: FdtBlob, strings_seed: bytes) -> bytes:
    """Header, /memreserve/, structure, strings, back to back (rsvmap 8-byte aligned)."""
    h = blob.header
    hdr_size = 40 if h.version >= 17 else 36
    off_rsv = (hdr_size + 7) & ~7
    rsv = b"".join(struct.pack(">QQ", a, s) for a, s in blob.memreserve) + bytes(16)
    strings = StringTable(strings_seed)
    structure = structure_block(blob.root, strings)
    off_struct = off_rsv + len(rsv)
    off_strings = off_struct + len(structure)
    total = off_strings + len(strings.data)
    fields = [FDT_MAGIC, total, off_struct, off_strings, off_rsv, h.version, h.last_comp_version,
              h.boot_cpuid_phys, len(strings.data)] + ([len(structure)] if h.version >= 17 else [])
    header = struct.pack(f">{len(fields)}I", *fields)
    return header + bytes(off_rsv - hdr_size) + rsv + structure + bytes(strings.data)


def _relayout(out: bytes, src: bytes, blob: FdtBlob, notes: list[str]) -> bytes:
    """Put the canonical blocks at the input's offsets, keep its gaps and padding."""
    h = blob.header
    o_struct, o_strings, o_rsv = struct.unpack_from(">3I", out, 8)
    o_size_strings = struct.unpack_from(">I", out, 32)[0]
    rsv = out[o_rsv:o_struct]
    structure = out[o_struct:o_strings]
    strings = out[o_strings:o_strings + o_size_strings]
    hdr_size = 40 if h.version >= 17 else 36
    rsv_len_in = 16 * (len(blob.memreserve) + 1)
    # v16 headers have no size_dt_struct: take the structure block as running up to
    # the strings block (dtc and libfdt leave no gap there).
    struct_end_in = (h.off_dt_struct + h.size_dt_struct if h.size_dt_struct
                     else h.off_dt_strings)
    canonical = (hdr_size <= h.off_mem_rsvmap
                 and h.off_mem_rsvmap + rsv_len_in <= h.off_dt_struct
                 and h.off_dt_struct < struct_end_in <= h.off_dt_strings)
    if not canonical:
        notes.append("input block layout is unusual; written in dtc's canonical layout")
        return _pad(out, src, blob, notes)
    # Gaps are copied from the input: dtc -R slots, alignment fill.
    parts = [
        out[:hdr_size],
        src[hdr_size:h.off_mem_rsvmap],
        rsv,
        src[h.off_mem_rsvmap + rsv_len_in:h.off_dt_struct],
        structure,
        src[struct_end_in:h.off_dt_strings],
    ]
    off_struct = h.off_dt_struct
    off_strings = off_struct + len(structure) + (h.off_dt_strings - struct_end_in)
    body = b"".join(parts) + strings
    header = bytearray(body[:hdr_size])
    struct.pack_into(">I", header, 4, len(body))
    struct.pack_into(">I", header, 8, off_struct)
    struct.pack_into(">I", header, 12, off_strings)
    struct.pack_into(">I", header, 16, h.off_mem_rsvmap)
    return _pad(bytes(header) + body[hdr_size:], src, blob, notes)


def _pad(out: bytes, src: bytes, blob: FdtBlob, notes: list[str]) -> bytes:
    total_in = blob.header.totalsize
    if total_in > blob.data_size:
        if len(out) <= total_in:
            out = out + bytes(total_in - len(out))
            out = out[:4] + struct.pack(">I", total_in) + out[8:]
        else:
            notes.append(f"input had {total_in - blob.data_size} bytes of free space; "
                         f"the patch needs more, output is {len(out)} bytes")
    if len(src) > total_in and len(out) < len(src):
        # Bytes after totalsize are outside the blob (QEMU riscv dumpdtb writes its whole
        # 1 MiB buffer after fdt_pack()); keep them so the file length and every byte the
        # patch did not touch stay as they were.
        out = out + src[len(out):]
        notes.append(f"the input file has {len(src) - total_in} bytes after the blob's "
                     f"totalsize; kept as they were")
    return out


def serialize(blob: FdtBlob, src: bytes) -> tuple[bytes, list[str]]:
    """Write `blob` (possibly edited), laid out like `src`."""
    notes: list[str] = []
    if blob.nop_count:
        notes.append(f"{blob.nop_count} FDT_NOP tokens (free slots left by in-place edits) were dropped")
    h = blob.header
    if h.version not in WRITABLE_VERSIONS:
        raise InputError(None, f"FDT version {h.version}: only versions 16 and 17 can be written")
    strings_seed = src[h.off_dt_strings:h.off_dt_strings + h.size_dt_strings]
    out = _canonical(blob, strings_seed)
    return _relayout(out, src, blob, notes), notes


# -- the patch ----------------------------------------------------------------------

def reserved_children(blob: FdtBlob) -> list[FdtNode]:
    rm = blob.get(RESERVED_MEMORY)
    return list(rm.children) if rm else []


def check_change_path(blob: FdtBlob, path: str) -> FdtNode:
    node = blob.get(path)
    if node is None:
        raise InputError(None, f"no node {path!r} in the DTB")
    parent = path.rsplit("/", 1)[0]
    if parent != RESERVED_MEMORY:
        raise InputError(None, f"{path} is not a /reserved-memory child; linux,no-dump applies only there")
    return node


def apply_changes(blob: FdtBlob, changes: dict[str, bool]) -> tuple[dict[str, bool], dict[str, str]]:
    """Edit the parsed tree in place; return (applied, unchanged-with-reason)."""
    applied: dict[str, bool] = {}
    unchanged: dict[str, str] = {}
    for path, on in changes.items():
        node = check_change_path(blob, path)
        present = NO_DUMP in node.props
        if on:
            if present and node.props[NO_DUMP] == b"":
                unchanged[path] = "already has linux,no-dump"
                continue
            if present:
                # a value is not in any binding: rewrite as the empty boolean property
                node.props[NO_DUMP] = b""
            else:
                node.props[NO_DUMP] = b""   # dict order: appended last, like dtc and libfdt
            applied[path] = True
        else:
            if not present:
                unchanged[path] = "has no linux,no-dump to remove"
                continue
            del node.props[NO_DUMP]
            applied[path] = False
    return applied, unchanged


def patch_dtb(input_bytes: bytes, changes: dict[str, bool], *, verify: bool = True) -> bytes:
    """Return the DTB with `linux,no-dump` added (True) or removed (False) per node path."""
    return build_patch(input_bytes, changes, verify=verify).data


def build_patch(input_bytes: bytes, changes: dict[str, bool], *, verify: bool = True,
                source: str | None = None) -> DtbPatch:
    try:
        blob = parse_fdt(input_bytes)
    except FdtError as exc:
        raise InputError(source, str(exc)) from None
    try:
        applied, unchanged = apply_changes(blob, changes)
        data, notes = serialize(blob, input_bytes)
    except InputError as exc:
        raise InputError(source, exc.message) from None
    result = DtbPatch(data=data, applied=applied, unchanged=unchanged, notes=notes)
    if verify:
        why_not = dtc_oracle_unfit(blob)
        if why_not:
            notes.append(f"{why_not}, so only our reader checked the output")
        result.dts_diff = verify_patch(input_bytes, data, applied, source=source, with_dtc=not why_not)
    return result


# dtc appends each property and subnode by walking its node's list (livetree.c
# add_property/add_child): 25,000 in one node take 3-6 s, 100,000 minutes. It also keeps
# every node's full path (a 20,000-deep chain: > 1 GB, past the tools' memory limit).
DTC_ORACLE_MAX_WIDTH = 4096
DTC_ORACLE_MAX_PATH_BYTES = 32 << 20


def dtc_oracle_unfit(blob: FdtBlob) -> str | None:
    """Why `dtc -I dtb` cannot check this tree in bounded time and memory, or None."""
    width = max(len(n.props) + len(n.children) for n in blob.nodes_by_path.values())
    if width > DTC_ORACLE_MAX_WIDTH:
        return (f"a node has {width} properties and subnodes: dtc's reader is quadratic there "
                f"(100,000 take minutes)")
    path_bytes = sum(map(len, blob.nodes_by_path))
    if path_bytes > DTC_ORACLE_MAX_PATH_BYTES:
        return f"the tree's node paths total {path_bytes >> 20} MiB: dtc would hold them all"
    return None


# -- verification ---------------------------------------------------------------------

def verify_patch(before: bytes, after: bytes, applied: dict[str, bool], *,
                 source: str | None = None, with_dtc: bool = True) -> list[str]:
    """Re-parse the output and check it differs from the input only by the toggles.

    Two independent checks: our reader's tree (every node, property and header field),
    and `dtc -I dtb -O dts` text when dtc is installed and `with_dtc`. Returns the dts
    diff lines.
    """
    fail = lambda msg: InputError(source, f"verification of the patched DTB failed: {msg}")  # noqa: E731
    try:
        a, b = parse_fdt(before), parse_fdt(after)
    except FdtError as exc:
        raise fail(f"output does not parse: {exc}") from None
    for attr in ("version", "last_comp_version", "boot_cpuid_phys"):
        if getattr(a.header, attr) != getattr(b.header, attr):
            raise fail(f"header {attr} changed")
    if a.memreserve != b.memreserve:
        raise fail("/memreserve/ entries changed")
    if list(a.nodes_by_path) != list(b.nodes_by_path):
        raise fail("node set or order changed")
    for path, na in a.nodes_by_path.items():
        pa, pb = dict(na.props), dict(b.nodes_by_path[path].props)
        if path in applied:
            pa.pop(NO_DUMP, None)
            if (NO_DUMP in pb) != applied[path] or pb.pop(NO_DUMP, b"") != b"":
                raise fail(f"{path}: linux,no-dump not as requested")
        if list(pa.items()) != list(pb.items()):
            raise fail(f"{path}: properties changed")
    if not with_dtc or shutil.which("dtc") is None:
        return []
    ta, tb = dtc_text(before), dtc_text(after)
    diff = [line for line in difflib.unified_diff(ta.splitlines(), tb.splitlines(), lineterm="", n=0)
            if not line.startswith(("---", "+++", "@@"))]
    expected = sorted(("+" if on else "-") + NO_DUMP + ";" for on in applied.values())
    got = sorted(line[0] + line[1:].strip() for line in diff)
    if got != expected:
        raise fail("dtc -O dts shows other differences: " + "; ".join(diff[:3]))
    return diff


def dtc_text(data: bytes, *, sort: bool = False) -> str:
    """`dtc -I dtb -O dts` of a blob, for comparisons; `sort` ignores order."""
    with tempfile.TemporaryDirectory(prefix="memmap-tui-dtc-") as tmp:
        blob = Path(tmp, "in.dtb")
        blob.write_bytes(data)
        out = tools.checked("dtc", ["-q", *(["-s"] if sort else []), "-I", "dtb", "-O", "dts"], [blob],
                            why="check the patched DTB")
    return out.decode("utf-8", "replace")


# -- writing --------------------------------------------------------------------------

def write_patched_dtb(input_path: str | os.PathLike, out: str | os.PathLike,
                      changes: dict[str, bool]) -> DtbPatch:
    """Patch `input_path` and write it atomically to `out` (never over the input)."""
    target = check_target(out, [input_path])
    data = read_input_bytes(str(input_path), MAX_DTB_INPUT_BYTES)
    result = build_patch(data, changes, source=str(input_path))
    write_all([(target, result.data)], [input_path])
    return result
