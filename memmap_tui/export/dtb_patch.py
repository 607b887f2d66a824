"""Patched DTB: add or remove the empty `linux,no-dump` property on /reserved-memory children.

Writing goes through the `fdt` library's object model and `FDT.to_dtb()`, but the
tree is built from our one-pass reader (`sources.fdt_blob`) instead of
`fdt.parse_dtb()` (O(n²), NOP-intolerant, shared /memreserve/ default, guessed
property types — packages.md). Every property becomes `fdt.PropBytes` holding its
raw bytes, appended without fdt's per-append duplicate scans.

What `to_dtb()` alone does not keep, and what `_relayout()` restores:
  * block offsets: it always puts /memreserve/ at 40 and the structure block right
    after it; QEMU's libfdt puts /memreserve/ at 48 (16-byte alignment) and dtc -R
    leaves room for extra reservation slots. We keep the input's gaps byte for byte.
  * `last_comp_version`: setting `version` resets it to version-1 (a v16 blob built
    by dtc says 16); we pass the input's value explicitly.
  * trailing free space (dtc -p, QEMU's 1 MiB blobs): dropped; we pad back to the
    input's totalsize when the output still fits, and keep zero bytes the file had
    after totalsize so the file length does not change either.
  * the strings block order: we seed it with the input's strings block, so existing
    name offsets (and unused strings) stay; a new name is appended at the end, which
    is what dtc and libfdt do too.
What cannot be kept: FDT_NOP tokens (blobs edited in place by U-Boot/libfdt) — the
fdt object model has no place for them; they are dropped and reported.
"""

from __future__ import annotations

import difflib
import os
import shutil
import string
import struct
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import fdt

from memmap_tui.sources.errors import InputError
from memmap_tui.sources.fdt_blob import FdtBlob, FdtError, FdtNode, parse_fdt

NO_DUMP = "linux,no-dump"
RESERVED_MEMORY = "/reserved-memory"
# fdt's Node.to_dtb() silently skips properties whose name ends like this (its own
# phantom bookkeeping properties); a real one would vanish from the output.
_FDT_PHANTOM_SUFFIX = "_with_references"


@dataclass(slots=True)
class DtbPatch:
    """A patched blob plus what the caller should tell the user about it."""
    data: bytes
    applied: dict[str, bool]              # path -> added (True) / removed (False)
    unchanged: dict[str, str] = field(default_factory=dict)  # path -> why nothing changed
    notes: list[str] = field(default_factory=list)            # layout facts (NOPs, padding)
    dts_diff: list[str] = field(default_factory=list)         # verified `dtc -O dts` diff lines


# -- conversion -----------------------------------------------------------------

def _to_fdt_node(src: FdtNode) -> fdt.Node:
    node = fdt.Node(src.name or "/")
    # Appending through .props/.nodes skips Node.append()'s linear duplicate scan
    # (quadratic on wide nodes); the source tree has unique names already.
    for name, value in src.props.items():
        prop = fdt.PropBytes(name, data=value) if value else fdt.Property(name)
        prop.set_parent(node)
        node.props.append(prop)
    for child in src.children:
        sub = _to_fdt_node(child)
        sub.set_parent(node)
        node.nodes.append(sub)
    return node


def blob_to_fdt(blob: FdtBlob) -> fdt.FDT:
    """Our parsed tree as an `fdt.FDT`, header fields and /memreserve/ included."""
    header = fdt.Header()
    header.version = blob.header.version          # the setter also resets last_comp_version
    header.last_comp_version = blob.header.last_comp_version
    header.boot_cpuid_phys = blob.header.boot_cpuid_phys
    # entries passed explicitly: FDT's default list is shared by every instance.
    entries = [{"address": a, "size": s} for a, s in blob.memreserve]
    tree = fdt.FDT(header=header, entries=entries)
    tree.root = _to_fdt_node(blob.root)
    return tree


# -- serialization ----------------------------------------------------------------

def _printable(name: str) -> bool:
    # fdt's BaseItem asserts string.printable names and encodes them as ASCII.
    return all(c in string.printable for c in name)


def _check_writable_by_fdt(blob: FdtBlob) -> None:
    for path, node in blob.nodes_by_path.items():
        if not _printable(node.name):
            raise InputError(None, f"node name {path!r} is not printable ASCII; cannot rewrite this DTB")
        for name in node.props:
            if name.endswith(_FDT_PHANTOM_SUFFIX) or not _printable(name):
                raise InputError(None, f"property {path}:{name!r} cannot be written by the fdt library")


def _relayout(out: bytes, src: bytes, blob: FdtBlob, notes: list[str]) -> bytes:
    """Put fdt's blocks at the input's offsets, keep its gaps and padding."""
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
    """Write `blob` (possibly edited) with fdt, laid out like `src`."""
    _check_writable_by_fdt(blob)
    notes: list[str] = []
    if blob.nop_count:
        notes.append(f"{blob.nop_count} FDT_NOP tokens (free slots left by in-place edits) were dropped")
    h = blob.header
    strings_in = src[h.off_dt_strings:h.off_dt_strings + h.size_dt_strings]
    try:
        strings_seed = strings_in.decode("ascii")
    except UnicodeDecodeError:
        raise InputError(None, "strings block is not ASCII; cannot rewrite this DTB") from None
    if h.version > fdt.Header.MAX_VERSION:
        raise InputError(None, f"FDT version {h.version}: the fdt library writes versions 16-17 only")
    try:
        tree = blob_to_fdt(blob)
        out = tree.to_dtb(version=h.version, last_comp_version=h.last_comp_version,
                          boot_cpuid_phys=h.boot_cpuid_phys, strings=strings_seed)
    except (ValueError, UnicodeEncodeError, AssertionError) as exc:
        raise InputError(None, f"fdt cannot write this DTB: {exc}") from None
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
        result.dts_diff = verify_patch(input_bytes, data, applied, source=source)
    return result


# -- verification ---------------------------------------------------------------------

def verify_patch(before: bytes, after: bytes, applied: dict[str, bool], *,
                 source: str | None = None) -> list[str]:
    """Re-parse the output and check it differs from the input only by the toggles.

    Two independent checks: our reader's tree (every node, property and header field),
    and `dtc -I dtb -O dts` text when dtc is installed. Returns the dts diff lines.
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
    if shutil.which("dtc") is None:
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
    """`dtc -I dtb -O dts` of a blob (stdin), for comparisons; `sort` ignores order."""
    proc = subprocess.run(["dtc", "-q", *(["-s"] if sort else []), "-I", "dtb", "-O", "dts", "-"],
                          input=data,
                          capture_output=True, check=False)
    if proc.returncode:
        raise InputError(None, "dtc -I dtb failed: " + _first_line(proc.stderr))
    return proc.stdout.decode("utf-8", "replace")


def _first_line(stderr: bytes) -> str:
    for line in stderr.decode("utf-8", "replace").splitlines():
        if line.strip():
            return line.strip()
    return "no message"


# -- writing --------------------------------------------------------------------------

def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    pa, pb = Path(a), Path(b)
    try:
        if pa.resolve() == pb.resolve():
            return True
        return pa.exists() and pb.exists() and os.path.samefile(pa, pb)
    except OSError:
        return False


def check_target(out: str | os.PathLike, inputs: list[str | os.PathLike]) -> Path:
    """Refuse an output that is an input, or whose directory cannot take a new file."""
    target = Path(out)
    for src in inputs:
        if same_file(target, src):
            raise InputError(str(out), "refusing to overwrite an input file; choose another output name")
    if target.is_dir():
        raise InputError(str(out), "is a directory")
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(str(out), f"directory {parent} does not exist")
    # Probe by creating a file: os.access() says yes to root on read-only mounts and procfs.
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".probe", dir=parent)
    except OSError as exc:
        raise InputError(str(out), f"directory {parent} is not writable ({exc.strerror or exc})") from None
    os.close(fd)
    _unlink(probe)
    return target


class AtomicWriter:
    """Stage every output as a temp file beside its target, then rename all at once.

    Nothing appears under a target name unless every output was staged; a failure
    removes the temp files.
    """

    def __init__(self) -> None:
        self._staged: list[tuple[str, Path]] = []

    def stage(self, target: Path, data: bytes) -> None:
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        except OSError as exc:
            self.abort()
            raise InputError(str(target), f"cannot write: {exc.strerror or exc}") from None
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            if target.exists():
                os.chmod(tmp, target.stat().st_mode & 0o7777)
            else:
                umask = os.umask(0)
                os.umask(umask)
                os.chmod(tmp, 0o666 & ~umask)
        except OSError as exc:
            _unlink(tmp)
            self.abort()
            raise InputError(str(target), f"cannot write: {exc.strerror or exc}") from None
        self._staged.append((tmp, target))

    def commit(self) -> list[Path]:
        done = []
        try:
            for tmp, target in self._staged:
                os.replace(tmp, target)
                done.append(target)
        except OSError as exc:
            self.abort()
            raise InputError(str(target), f"cannot write: {exc.strerror or exc}") from None
        self._staged = []
        return done

    def abort(self) -> None:
        for tmp, _ in self._staged:
            _unlink(tmp)
        self._staged = []


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def write_patched_dtb(input_path: str | os.PathLike, out: str | os.PathLike,
                      changes: dict[str, bool]) -> DtbPatch:
    """Patch `input_path` and write it atomically to `out` (never over the input)."""
    target = check_target(out, [input_path])
    try:
        data = Path(input_path).read_bytes()
    except OSError as exc:
        raise InputError(str(input_path), exc.strerror or str(exc)) from None
    result = build_patch(data, changes, source=str(input_path))
    writer = AtomicWriter()
    writer.stage(target, result.data)
    writer.commit()
    return result
