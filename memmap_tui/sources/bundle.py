"""Support bundles: what `memmap-tui collect` (or the shipped collect.sh) writes, and
sosreports — as a directory or a tarball (any compression tarfile reads).

A bundle holds system files under their own paths (proc/iomem, sys/firmware/fdt, …),
the kernel log as dmesg.txt and manifest.txt (key=value: kernel_release, arch,
page_size, time, and one `unreadable=PATH: why` line per file the board would not give).
Only the files named here are ever extracted, to names we choose, size-capped.
"""

from __future__ import annotations

import contextlib
import fnmatch
import glob
import lzma
import os
import tarfile
import zlib
from dataclasses import dataclass, field

from memmap_tui.sources.decompress import compression_of, open_xz_bounded
from memmap_tui.sources.errors import InputError
from memmap_tui.sources.scratch import scratch_path

# (role, path under the system root == path in the bundle, what is lost without it);
# declared once for collect, the shell script, live and this reader.
BUNDLE_FILES = (
    ("dtb", "sys/firmware/fdt", "the device tree the kernel booted with (none on x86/ACPI boards)"),
    ("iomem", "proc/iomem", "RAM and placements as the kernel registered them"),
    ("cmdline", "proc/cmdline", "crashkernel=, mem=, cma= as booted"),
    ("memblock-memory", "sys/kernel/debug/memblock/memory", "memblock evidence (needs root and debugfs)"),
    ("memblock-reserved", "sys/kernel/debug/memblock/reserved", "memblock evidence (needs root and debugfs)"),
    ("crash-size", "sys/kernel/kexec_crash_size", "the crash kernel size as reserved"),
)
KMSG_FILE = "dev/kmsg"
DMESG_FILE = "dmesg.txt"
MANIFEST_FILE = "manifest.txt"
MEMBER_CAP_BYTES = 64 << 20
# sosreport: the kernel log from `dmesg`, or the one makedumpfile saved beside a dump
SOS_FILES = (
    ("dtb", ("sys/firmware/fdt",)),
    ("iomem", ("proc/iomem",)),
    ("cmdline", ("proc/cmdline",)),
    ("dmesg", ("sos_commands/kernel/dmesg", "sos_commands/kernel/dmesg*", "var/crash/*/vmcore-dmesg.txt")),
)
ARCH_FROM_UNAME = {"aarch64": "arm64", "arm64": "arm64", "x86_64": "x86_64", "riscv64": "riscv",
                   "loongarch64": "loongarch"}


@dataclass(slots=True)
class Bundle:
    path: str
    kind: str                               # "memmap-tui bundle" | "sosreport"
    files: dict[str, str] = field(default_factory=dict)    # role -> readable local path
    labels: dict[str, str] = field(default_factory=dict)   # role -> "board.tar.gz:proc/iomem"
    manifest: dict[str, str] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)    # from the manifest

    @property
    def arch(self) -> str | None:
        return ARCH_FROM_UNAME.get(self.manifest.get("arch", ""))

    @property
    def memblock_dir(self) -> str | None:
        mem = self.files.get("memblock-memory")
        return os.path.dirname(mem) if mem and "memblock-reserved" in self.files else None


def _wanted(kind: str) -> list[tuple[str, tuple[str, ...]]]:
    if kind == "sosreport":
        return [(r, p) for r, p in SOS_FILES]
    return [(r, (p,)) for r, p, _lost in BUNDLE_FILES] + [("dmesg", (DMESG_FILE,)), ("manifest", (MANIFEST_FILE,))]


def _kind_of(names: list[str]) -> str | None:
    if any(n == MANIFEST_FILE for n in names):
        return "memmap-tui bundle"
    if any(n.startswith("sos_commands/") for n in names):
        return "sosreport"
    return None


def _match(names: list[str], patterns: tuple[str, ...]) -> str | None:
    for pat in patterns:
        hits = sorted(n for n in names if fnmatch.fnmatchcase(n, pat))
        if hits:
            return hits[0]
    return None


def open_bundle_dir(path: str) -> Bundle | None:
    """A bundle or sosreport directory, else None."""
    top = os.listdir(path)
    names = [n for n in top if n == MANIFEST_FILE] + (["sos_commands/"] if "sos_commands" in top else [])
    kind = _kind_of(names)
    if kind is None:
        return None
    b = Bundle(path, kind)
    for role, patterns in _wanted(kind):
        for pat in patterns:
            hits = sorted(p for p in glob.glob(os.path.join(glob.escape(path), pat)) if os.path.isfile(p))
            if hits:
                b.files[role] = hits[0]
                b.labels[role] = os.path.relpath(hits[0], path)
                break
    _read_manifest(b)
    # a live view shows the system's own paths; a bundle directory its files
    shown = b.manifest.get("root", "/") if b.manifest.get("live") == "1" else path
    b.labels = {role: os.path.join(shown, rel) for role, rel in b.labels.items()}
    if b.manifest.get("live") == "1" and "dmesg" in b.labels:
        b.labels["dmesg"] = b.manifest.get("kernel_log", "kernel log")
    return b


def _open_tar(path: str, stack: contextlib.ExitStack) -> tarfile.TarFile:
    """tarfile.open(path, "r:*"), but an xz tarball through a decoder bounded by
    LZMA_MEMLIMIT: tarfile's own xz reader allocates whatever dictionary the stream header
    asks for (1.5 GiB for a 100-byte file)."""
    with open(path, "rb") as f:
        xz = compression_of(f.read(8)) == "xz"
    if not xz:
        return stack.enter_context(tarfile.open(path, "r:*"))
    raw = stack.enter_context(open_xz_bounded(stack.enter_context(open(path, "rb"))))
    return stack.enter_context(tarfile.open(fileobj=raw, mode="r:"))


def open_bundle_tar(path: str) -> Bundle | None:
    """A bundle or sosreport tarball, else None (not a tar file)."""
    with contextlib.ExitStack() as stack:
        try:
            tf = _open_tar(path, stack)
        except (tarfile.TarError, OSError, EOFError, lzma.LZMAError):
            return None   # not a tarball (or an xz one we will not decode): the DTB sniffer says why
        try:
            return _read_tar(tf, path)
        except (tarfile.TarError, EOFError, lzma.LZMAError, zlib.error) as e:
            raise InputError(path, f"damaged tar archive: {e}") from None
        except OSError as e:   # gzip/bz2 decoders report damage as OSError
            raise InputError(path, f"tar archive: {e}") from None


def _read_tar(tf: tarfile.TarFile, path: str) -> Bundle | None:
    members = tf.getmembers()
    by_name = {_strip(m.name): m for m in members if m.isfile()}
    kind = _kind_of([_strip(m.name) + ("/" if m.isdir() else "") for m in members])
    if kind is None:
        return None
    b = Bundle(path, kind)
    for role, patterns in _wanted(kind):
        name = _match(list(by_name), patterns)
        if name is None:
            continue
        m = by_name[name]
        if m.size > MEMBER_CAP_BYTES:
            raise InputError(path, f"{name}: {m.size} bytes, more than {MEMBER_CAP_BYTES >> 20} MiB")
        src = tf.extractfile(m)
        local = scratch_path(role.replace("/", "_")) if not role.startswith("memblock") else _memblock_path(b, role)
        with open(local, "wb") as out:
            out.write(src.read(MEMBER_CAP_BYTES))
        b.files[role] = local
        b.labels[role] = f"{path}:{name}"
    _read_manifest(b)
    return b


def _memblock_path(b: Bundle, role: str) -> str:
    """memory and reserved side by side in one private directory (--memblock takes a dir)."""
    other = b.files.get("memblock-reserved" if role == "memblock-memory" else "memblock-memory")
    d = os.path.dirname(other) if other else scratch_path("memblock")
    os.makedirs(d, exist_ok=True)
    return os.path.join(d, role.split("-", 1)[1])


def _strip(name: str) -> str:
    """Member name relative to the bundle root: drop `./` and a sosreport's top directory."""
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if parts and (parts[0].startswith("sosreport") or parts[0].startswith("memmap-")) and len(parts) > 1:
        parts = parts[1:]
    return "/".join(parts)


def _read_manifest(b: Bundle) -> None:
    path = b.files.pop("manifest", None)
    b.labels.pop("manifest", None)
    if not path:
        return
    with open(path, "rb") as f:
        text = f.read(1 << 20).decode("utf-8", "replace")
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if not sep:
            continue
        if key.strip() == "unreadable":
            b.unreadable.append(value.strip())
        else:
            b.manifest[key.strip()] = value.strip()
