"""Turn what the user named on the command line into readable inputs, in one call.

`-` (stdin), a support bundle or sosreport (directory or tarball), any DTB container
(sources/containers.py), and gzip/xz/bzip2/zstd-wrapped iomem or dmesg files. The
result names every file the way the user knows it (`board.tar.gz:proc/iomem`).
"""

from __future__ import annotations

import io
import os
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from memmap_tui.core.model import Finding, Level, MemoryMap
from memmap_tui.sources.containers import (
    FDT_MAGIC_BYTES, INPUT_CAP_BYTES, DtbCandidate, DtbSource, choose, looks_like_dt_dir, sniff_bytes, sniff_dtb,
)
from memmap_tui.sources.decompress import compression_of, unwrap
from memmap_tui.sources.errors import InputError
from memmap_tui.sources.scratch import write_scratch

if TYPE_CHECKING:   # the bundle reader (tarfile) loads only for a directory or a possible tarball
    from memmap_tui.sources.bundle import Bundle

TEXT_CAP_BYTES = 64 << 20
STDIN = "-"


@dataclass(slots=True)
class UserInputs:
    dtb_source: DtbSource | None = None
    dtb: DtbCandidate | None = None
    files: dict[str, str] = field(default_factory=dict)    # role -> local path (iomem, dmesg, memblock, vmcore)
    labels: dict[str, str] = field(default_factory=dict)   # role -> the name the user knows
    bundle: Bundle | None = None
    cmdline: str | None = None
    findings: list[Finding] = field(default_factory=list)

    @property
    def container_label(self) -> str | None:
        """"FIT image in xz" when the DTB came out of a container; None for a plain file."""
        if self.dtb_source is None or self.dtb_source.plain:
            return None
        return self.dtb_source.description

    def annotate(self, mm: MemoryMap, *, demo: bool) -> None:
        """Name the board, container, pick and bundle in mm.inputs; add what they taught as findings."""
        if demo:
            mm.inputs["board"] = "demo"
        for key, value in (("container", self.container_label), ("pick", self.pick_label),
                           ("bundle", self.labels.get("bundle"))):
            if value:
                mm.inputs[key] = value
        mm.findings.extend(self.findings)
        if self.dtb_source is not None:
            mm.findings.extend(Finding(Level.INFO, "dtb-source", n) for n in self.dtb_source.notes)
        arch = self.bundle.arch if self.bundle else None
        if arch and arch != mm.arch:
            mm.findings.append(Finding(Level.WARNING, "bundle-arch", f"the bundle is from a {arch} system "
                                       f"but the rules are {mm.arch}'s: give --arch {arch}"))

    @property
    def patchable(self) -> bool:
        """The DTB is the user's own plain file (DTB or DTS): export can patch it."""
        return (self.dtb_source is not None and self.dtb_source.plain and self.bundle is None
                and self.labels.get("dtb") != "stdin")

    @property
    def pick_label(self) -> str | None:
        if self.dtb is None or self.dtb_source is None or len(self.dtb_source.candidates) < 2:
            return None
        return f"#{self.dtb.index} of {len(self.dtb_source.candidates)}: {self.dtb.label}" + (
            f" — {self.dtb.model}" if self.dtb.model else "")


def resolve_inputs(*, dtb: str | None, iomem: str | None = None, dmesg: str | None = None,
                   memblock: str | None = None, vmcore: str | None = None, pick: str | None = None,
                   include_dirs: tuple[str, ...] = (), stdin: io.BufferedIOBase | None = None) -> UserInputs:
    out = UserInputs()
    for role, path in (("iomem", iomem), ("dmesg", dmesg), ("memblock", memblock), ("vmcore", vmcore)):
        if path:
            out.files[role], out.labels[role] = path, path
    if dtb is None:
        _text_inputs(out)
        return out
    if dtb == STDIN:
        data = (stdin or sys.stdin.buffer).read(INPUT_CAP_BYTES + 1)
        if len(data) > INPUT_CAP_BYTES:
            raise InputError("stdin", f"more than {INPUT_CAP_BYTES >> 20} MiB")
        if not data:
            raise InputError("stdin", "empty")
        bundle = _tar_bundle(write_scratch("stdin", data), data[:4])
        if bundle is None:
            out.dtb_source = sniff_bytes(data, "stdin", include_dirs)
    else:
        bundle = _bundle(dtb)
        if bundle is None:
            out.dtb_source = sniff_dtb(dtb, include_dirs)
    if bundle is not None:
        out.bundle = bundle
        _from_bundle(out, bundle, dtb if dtb != STDIN else "stdin", include_dirs)
    if out.dtb_source is not None:
        out.dtb = choose(out.dtb_source, pick)
        out.labels["dtb"] = "stdin" if dtb == STDIN else out.labels.get("dtb", dtb)
    elif pick is not None:
        raise InputError(dtb, "--pick: no device tree in this input")
    _text_inputs(out)
    return out


def _bundle(path: str) -> Bundle | None:
    if os.path.isdir(path):
        from memmap_tui.sources.bundle import open_bundle_dir
        b = open_bundle_dir(path)
        if b is None and not looks_like_dt_dir(path):
            raise InputError(path, "a directory, but neither a bundle (manifest.txt), an sosreport "
                                   "(sos_commands/) nor a device-tree directory")
        return b
    if not os.path.isfile(path):
        return None      # missing, a FIFO, a device: the sniffer reads it (bounded) or says why
    with open(path, "rb") as f:
        head = f.read(4)
    return _tar_bundle(path, head)


def _tar_bundle(path: str, head: bytes) -> Bundle | None:
    """The bundle tarball at `path`, else None. A DTB (or FIT image) is never one: its magic
    skips the probe, which would try every compression tarfile knows on it."""
    if head == FDT_MAGIC_BYTES:
        return None
    from memmap_tui.sources.bundle import open_bundle_tar
    return open_bundle_tar(path)


def _from_bundle(out: UserInputs, b: Bundle, shown: str, include_dirs) -> None:
    """Files from the bundle fill the roles the command line left empty."""
    if "dtb" in b.files:
        out.dtb_source = sniff_dtb(b.files["dtb"], include_dirs)
        out.labels["dtb"] = b.labels["dtb"]
    for role in ("iomem", "dmesg"):
        if role in b.files and role not in out.files:
            out.files[role], out.labels[role] = b.files[role], b.labels[role]
    if b.memblock_dir and "memblock" not in out.files:
        out.files["memblock"] = b.memblock_dir
        out.labels["memblock"] = b.labels["memblock-memory"].rsplit("/", 1)[0]
    if "cmdline" in b.files:
        with open(b.files["cmdline"], "rb") as f:
            out.cmdline = f.read(1 << 16).decode("utf-8", "replace").strip() or None
    live = b.manifest.get("live") == "1"
    out.labels["bundle"] = f"live {b.manifest.get('root', '/')}" if live else f"{shown} ({b.kind})"
    for line in b.unreadable:
        out.findings.append(Finding(Level.WARNING, "bundle-unreadable", f"the board did not give {line}"))
    if b.manifest.get("euid", "0") != "0":
        out.findings.append(Finding(Level.WARNING, "bundle-not-root",
                                    f"{shown}: collected without root: /proc/iomem shows every address as 0, "
                                    "memblock debugfs and /sys/firmware/fdt are unreadable; run as root for them"))
    if "crash-size" in b.files:
        with open(b.files["crash-size"], "rb") as f:
            size = f.read(64).decode("ascii", "replace").strip()
        if size.isdigit() and int(size):
            out.findings.append(Finding(Level.INFO, "kexec-crash-size",
                                        f"/sys/kernel/kexec_crash_size: {int(size):,} bytes reserved for the "
                                        "crash kernel (observed)"))
    if "dtb" not in b.files:
        out.findings.append(Finding(Level.INFO, "bundle-no-dt",
                                    f"{shown}: no /sys/firmware/fdt (an x86 or ACPI board?): RAM and "
                                    "regions come from /proc/iomem"))


def _text_inputs(out: UserInputs) -> None:
    """gzip/xz/bzip2/zstd around iomem or dmesg: decompress a private copy (bounded)."""
    for role in ("iomem", "dmesg"):
        path = out.files.get(role)
        if not path or not os.path.isfile(path):
            continue
        with open(path, "rb") as f:
            kind = compression_of(f.read(8))
            if kind is None:
                continue
            f.seek(0)
            data = unwrap(f, kind, path, TEXT_CAP_BYTES).data
        out.files[role] = write_scratch(role, data)
