"""What a user passes as "the DTB", recognised by content (never by file name).

Plain DTB, DTS source, FIT image, concatenated DTBs, Android DT table / boot /
vendor_boot images, a kernel with a DTB appended (zImage, Image.gz-dtb), any of these
inside gzip/xz/bzip2/zstd, and a /proc/device-tree style directory. The result lists
every device tree found; `choose()` takes one and never picks silently among several.
"""

from __future__ import annotations

import io
import os
import struct
from dataclasses import dataclass, field

from memmap_tui.sources.decompress import compression_of, unwrap
from memmap_tui.sources.dt_dir import looks_like_dt_dir, read_dt_dir
from memmap_tui.sources.dtb import DtbBytes, DtbInfo, compile_dts, decode_read
from memmap_tui.sources.errors import InputError, read_input_bytes
from memmap_tui.sources.fdt_blob import FDT_MAGIC, FdtBlob, FdtError, parse_fdt, prop_string, prop_strings
from memmap_tui.sources.fit import fit_dtbs, is_fit

INPUT_CAP_BYTES = 256 << 20        # boot images are tens of MiB; a DTB a few hundred KiB
MAX_NESTING = 4                    # xz > boot.img > Image.gz > appended DTB
MAX_CHAIN = 256                    # DTBs in one concatenation
MAX_MAGIC_HITS = 4096              # FDT magics examined when looking for an appended DTB
FDT_MAGIC_BYTES = struct.pack(">I", FDT_MAGIC)


class NoDeviceTree(InputError):
    """The input holds no device tree at all (a kernel without appended DTB, a FIT without flat_dt…)."""


@dataclass(frozen=True, slots=True)
class DtbCandidate:
    index: int                       # 1-based, as `--pick N` takes it
    name: str                        # "fdt-1", "entry 2 id=0x0 rev=0x0", "dtb 3 at 0x1a2c0"
    data: bytes
    model: str = ""
    compatible: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()   # FIT configurations naming it
    overlay: bool = False
    # the tree the sniffer already parsed (a plain DTB), so loading does not parse it again;
    # None for the candidates of a container (their trees are parsed when one is loaded)
    blob: FdtBlob | None = field(default=None, compare=False, repr=False)

    @property
    def label(self) -> str:
        return self.name + (f" ({', '.join(self.aliases)})" if self.aliases else "")

    @property
    def line(self) -> str:
        what = self.model or (self.compatible[0] if self.compatible else "no model")
        return f"{self.index:>3}  {self.label}  {what}" + ("  [overlay]" if self.overlay else "")


@dataclass(slots=True)
class DtbSource:
    path: str
    container: str                              # "DTB", "FIT image", "Android DT table", …
    candidates: list[DtbCandidate]
    wrappers: tuple[str, ...] = ()              # compression layers, outermost first
    compiled_from: str | None = None            # DTS path compiled with dtc
    sources: tuple[str, ...] = ()               # files the device tree was read from (includes too)
    notes: list[str] = field(default_factory=list)

    @property
    def description(self) -> str:
        return " in ".join((self.container, *reversed(self.wrappers)))

    @property
    def plain(self) -> bool:
        """A bare DTB or DTS file: export can patch it in place of the input."""
        return self.container in ("DTB", "DTS") and not self.wrappers


class AmbiguousDtb(InputError):
    def __init__(self, source: DtbSource, message: str, candidates: list[DtbCandidate]) -> None:
        lines = "\n".join(c.line for c in candidates)
        super().__init__(source.path, f"{message}\n{lines}")
        self.source = source
        self.candidates = candidates


# -- reading -------------------------------------------------------------------------

def _read_container(path: str) -> bytes:
    data = read_input_bytes(path, INPUT_CAP_BYTES)
    if not data:
        raise InputError(path, "empty file")
    return data


def sniff_dtb(path: str, include_dirs: tuple[str, ...] = ()) -> DtbSource:
    """Every device tree in the file or directory at `path`; InputError when there is none."""
    if os.path.isdir(path):
        if not looks_like_dt_dir(path):
            raise NoDeviceTree(path, "a directory, but not a device tree one (no #address-cells, "
                                     "compatible or model file) nor a bundle")
        data = read_dt_dir(path)
        src = DtbSource(path, "device-tree directory", _candidates_plain([(os.path.basename(path.rstrip("/")) or "/", data)]))
        src.notes.append("read from a device-tree directory: /memreserve/ entries are not exposed there")
        return src
    return sniff_bytes(_read_container(path), path, include_dirs)


def sniff_bytes(data: bytes, path: str, include_dirs: tuple[str, ...] = ()) -> DtbSource:
    wrappers: list[str] = []
    src = _sniff(data, path, include_dirs, wrappers, 0)
    src.wrappers = tuple(wrappers)
    return src


def _sniff(data: bytes, path: str, include_dirs, wrappers: list[str], depth: int) -> DtbSource:
    if depth > MAX_NESTING:
        raise InputError(path, f"containers nested deeper than {MAX_NESTING}")
    kind = compression_of(data[:8])
    if kind:
        un = unwrap(io.BytesIO(data), kind, path, INPUT_CAP_BYTES)
        wrappers.append(kind)
        try:
            return _sniff(un.data, path, include_dirs, wrappers, depth + 1)
        except NoDeviceTree:
            chain = _fdt_chain(un.trailing, 0)
            if not chain:
                raise
            # Image.gz-dtb: a compressed kernel with the DTB(s) appended after the stream
            return DtbSource(path, "kernel with appended DTB", _candidates_plain(_named_chain(chain, "appended dtb")))
    if data[:4] == FDT_MAGIC_BYTES:
        return _sniff_fdt(data, path)
    from memmap_tui.sources import android  # not for a plain DTB (start-up, issue 14)
    if android.is_dt_table(data):
        entries = android.dt_table_entries(data, path, INPUT_CAP_BYTES)
        return DtbSource(path, "Android DT table", _candidates_plain([(e.name, e.data) for e in entries]))
    if data.startswith((android.BOOT_MAGIC, android.VENDOR_BOOT_MAGIC)):
        return _sniff_boot(data, path, include_dirs, depth)
    if _looks_like_dts(data):
        return _compile(data, path, include_dirs)
    chain = _appended_chain(data)
    if chain:
        return DtbSource(path, "kernel with appended DTB", _candidates_plain(_named_chain(chain, "appended dtb")))
    raise NoDeviceTree(path, "not a device tree blob (bad magic, expected 0xd00dfeed) nor a container of "
                             "one (DTS, FIT, Android DT/boot image, kernel with appended DTB, "
                             "gzip/xz/bzip2/zstd around any)")


def _sniff_fdt(data: bytes, path: str) -> DtbSource:
    try:
        first = parse_fdt(data)
    except FdtError as e:
        raise InputError(path, str(e)) from None
    if is_fit(first):
        fit = fit_dtbs(first, data, path, INPUT_CAP_BYTES)
        if not fit:
            raise NoDeviceTree(path, "FIT image without a flat_dt image: no device tree in it")
        cands = [_candidate(i, f.image, f.data, path, aliases=f.configurations) for i, f in enumerate(fit, 1)]
        return DtbSource(path, "FIT image", cands)
    chain = _fdt_chain(data, 0)
    if len(chain) > 1:
        return DtbSource(path, "concatenated DTBs", _candidates_plain(_named_chain(chain, "dtb")))
    return DtbSource(path, "DTB", [_candidate(1, os.path.basename(path), data, path, parsed=first)])


def _sniff_boot(data: bytes, path: str, include_dirs, depth: int) -> DtbSource:
    from memmap_tui.sources import android
    what, sections = android.boot_sections(data, path)
    named: list[tuple[str, bytes]] = []
    for sec in sections:
        if sec.is_kernel:
            if named:          # a dtb section exists: the kernel's own appended DTB is not used
                continue
            try:
                inner = _sniff(sec.data, path, include_dirs, [], depth + 1)
            except NoDeviceTree:
                continue
            named += [(f"kernel: {c.name}", c.data) for c in inner.candidates]
        else:
            chain = _fdt_chain(sec.data, 0)
            if not chain:
                raise InputError(path, f"{what}: the {sec.name} section holds no DTB")
            named += _named_chain(chain, sec.name) if len(chain) > 1 else [(sec.name, chain[0][1])]
    if not named:
        raise NoDeviceTree(path, f"{what}: no dtb section and no DTB appended to the kernel")
    return DtbSource(path, what, _candidates_plain(named))


def _compile(data: bytes, path: str, include_dirs) -> DtbSource:
    if os.path.isfile(path):
        with open(path, "rb") as f:
            same = f.read(len(data) + 1) == data
    else:
        same = False
    if same:
        compiled = compile_dts(path, include_dirs, source=data)
        sources = compiled.sources
    else:   # DTS from stdin or inside a compressed file: compile a private copy
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            copy = os.path.join(tmp, "input.dts")
            with open(copy, "wb") as f:
                f.write(data)
            compiled = compile_dts(copy, (*include_dirs, os.path.dirname(os.path.abspath(path))))
        sources = (path, *(f for f in compiled.sources if f != os.path.abspath(copy)))
    src = DtbSource(path, "DTS", [_candidate(1, os.path.basename(path), compiled.data, path)],
                    compiled_from=path, sources=sources)
    return src


def _looks_like_dts(data: bytes) -> bool:
    head = data[:65536]
    if b"\0" in head:
        return False
    return b"/dts-v1/" in head or head.lstrip().startswith((b"/*", b"//", b"#include"))


# -- FDT chains ----------------------------------------------------------------------

def _fdt_header_ok(data: bytes, off: int) -> int:
    """totalsize of a plausible FDT header at `off`, else 0."""
    if len(data) - off < 40 or data[off:off + 4] != FDT_MAGIC_BYTES:
        return 0
    total, o_struct, o_strings, o_rsv, version, last = struct.unpack_from(">6I", data, off + 4)
    if total < 40 or off + total > len(data) or version < 16 or last > 17:
        return 0
    if max(o_struct, o_strings, o_rsv) > total:
        return 0
    return total


def _fdt_chain(data: bytes, off: int) -> list[tuple[int, bytes]]:
    """Consecutive FDTs from `off` (zero padding between them skipped): [(offset, blob)]."""
    out = []
    while len(out) < MAX_CHAIN:
        total = _fdt_header_ok(data, off)
        if not total:
            break
        out.append((off, data[off:off + total]))
        off += total
        nxt = off
        while nxt < len(data) and data[nxt] == 0 and nxt - off < 4096:
            nxt += 1
        if nxt >= len(data):
            break
        off = nxt
    return out


def _appended_chain(data: bytes) -> list[tuple[int, bytes]]:
    """DTB(s) appended to a kernel image: a chain of valid FDTs that ends the file
    (arm zImage + cat dtb, arm64 Image-dtb). Earlier magics are data inside the kernel."""
    pos, hits = data.find(FDT_MAGIC_BYTES, 1), 0
    while pos != -1 and hits < MAX_MAGIC_HITS:
        hits += 1
        chain = _fdt_chain(data, pos)
        if chain:
            last_off, last = chain[-1]
            if data[last_off + len(last):].strip(b"\0") == b"":
                return chain
        pos = data.find(FDT_MAGIC_BYTES, pos + 1)
    return []


def _named_chain(chain: list[tuple[int, bytes]], what: str) -> list[tuple[str, bytes]]:
    return [(f"{what} {i} at {off:#x}", blob) for i, (off, blob) in enumerate(chain, 1)]


# -- candidates --------------------------------------------------------------------------

def _candidates_plain(named: list[tuple[str, bytes]]) -> list[DtbCandidate]:
    return [_candidate(i, name, blob, "") for i, (name, blob) in enumerate(named, 1)]


def _candidate(index: int, name: str, data: bytes, path: str, aliases: tuple[str, ...] = (),
               parsed: FdtBlob | None = None) -> DtbCandidate:
    """`parsed`: `data` already parsed; the candidate keeps it for loading."""
    try:
        blob = parsed if parsed is not None else parse_fdt(data)
    except FdtError as e:
        raise InputError(path or None, f"{name}: {e}") from None
    root = blob.root
    model = prop_string(root.props["model"]) if root.has("model") else ""
    compatible = tuple(prop_strings(root.props["compatible"])) if root.has("compatible") else ()
    overlay = blob.get("/__fixups__") is not None or any(c.name.startswith("fragment@") for c in root.children)
    return DtbCandidate(index, name, data, model, compatible, tuple(aliases), overlay, blob=parsed)


# -- picking -----------------------------------------------------------------------------

def choose(source: DtbSource, pick: str | None) -> DtbCandidate:
    """The one device tree to use: the only one, or the one `pick` names (1-based index,
    FIT image/configuration name, or a substring of model/compatible)."""
    cands = source.candidates
    if pick is None:
        if len(cands) == 1:
            return cands[0]
        raise AmbiguousDtb(source, f"{source.description} holds {len(cands)} device trees; "
                                   "choose one with --pick N|NAME|TEXT:", cands)
    needle = pick.strip()
    if needle.isdigit():
        n = int(needle)
        if 1 <= n <= len(cands):
            return cands[n - 1]
        raise AmbiguousDtb(source, f"--pick {n}: there are {len(cands)} device trees:", cands)
    exact = [c for c in cands if needle == c.name or needle in c.aliases]
    if len(exact) == 1:
        return exact[0]
    low = needle.lower()
    loose = [c for c in cands if low in c.model.lower() or any(low in s.lower() for s in c.compatible)
             or low in c.name.lower()]
    if len(loose) == 1:
        return loose[0]
    if not loose:
        raise AmbiguousDtb(source, f"--pick {needle!r} matches no device tree:", cands)
    raise AmbiguousDtb(source, f"--pick {needle!r} matches {len(loose)} device trees; be more precise:", loose)


def load_candidate(cand: DtbCandidate, source: DtbSource, label: str, *, kernel: str) -> DtbInfo:
    """Decode the chosen device tree exactly as a plain DTB file would be."""
    read = DtbBytes(cand.data, source.path, compiled_from=source.compiled_from,
                    sources=source.sources or (source.path,))
    return decode_read(read, label=label, kernel=kernel, keep=source.plain, blob=cand.blob)
