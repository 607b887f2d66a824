"""Exports of `linux,no-dump` toggles: patched DTB, overlay (.dtbo), DTS source patch.

`run_export()` is the one entry point for the CLI's `export` command and the TUI's
export dialog. It builds and verifies every requested output in memory first, then
writes them all atomically; any failure raises `InputError` and nothing is written.
Every result carries the honest warnings (v1-only property, per-node effect, strict
bindings, and the `exclude-reserved` figure that needs no DT change).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from memmap_tui.core.model import Finding, Level, MemoryMap, Region
from memmap_tui.core.policy import TOGGLE_WHY, ToggleEffect, evaluate, honours_proposals, toggle_effect
from memmap_tui.core.units import exact_size
from memmap_tui.export.dtb_patch import (
    NO_DUMP, AtomicWriter, DtbPatch, build_patch, check_change_path, check_target, patch_dtb,
)
from memmap_tui.export.dts_patch import DtsPatch, build_dts_patch, patch_dry_run
from memmap_tui.export.overlay import build_overlay, verify_overlay
from memmap_tui.inputs import Options, load, resolve
from memmap_tui.sources.dtb import read_dtb_bytes
from memmap_tui.sources.errors import InputError
from memmap_tui.sources.fdt_blob import FdtError, parse_fdt

__all__ = ["ExportResult", "run_export", "export_warnings", "patch_dtb", "build_patch", "NO_DUMP",
           "build_overlay", "build_dts_patch"]

# Bindings with `unevaluatedProperties: false` (domain.md §0): dtbs_check rejects the property.
STRICT_BINDINGS = ("shared-dma-pool", "restricted-dma-pool")
V1_WARNING = ("linux,no-dump is the kdump v1 proposal: DT maintainers rejected it and mainline "
              "kernels ignore it; only a kernel carrying the v1 series honours it")


@dataclass(slots=True)
class ExportResult:
    changes: dict[str, bool]                     # what was asked (node path -> no-dump on/off)
    written: list[Path] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    dtb: DtbPatch | None = None
    overlay_source: str | None = None
    dts: DtsPatch | None = None
    savings: dict[str, int] = field(default_factory=dict)   # policy -> bytes saved vs today

    def lines(self) -> list[str]:
        """What a CLI prints: written files, then warnings."""
        out = [f"wrote {p}" for p in self.written]
        out += [f"{w.level}: {w.message}" for w in self.warnings]
        return out


def _load_mm(dtb: str, include_dirs: Iterable[str], arch: str, loader: str,
             kernel: str | None) -> MemoryMap:
    return load(Options(dtb=dtb, arch=arch, loader=loader, kernel=kernel,
                        include_dirs=tuple(include_dirs))).mm


def _resolve(mm: MemoryMap, needles: Iterable[str], value: bool, option: str) -> dict[str, bool]:
    return {resolve(mm, n, option).id: value for n in needles}


def _region(mm: MemoryMap, path: str) -> Region | None:
    try:
        return mm.region(path)
    except KeyError:
        return None


def export_warnings(mm: MemoryMap, changes: dict[str, bool]) -> tuple[list[Finding], dict[str, int]]:
    """Warnings every export shows, and each policy's saving with these toggles."""
    out = [Finding(Level.WARNING, "no-dump-v1-only", V1_WARNING)]
    for path, on in changes.items():
        region = _region(mm, path)
        if region is None or not on:
            continue
        effect = toggle_effect(mm, region)
        if effect is not ToggleEffect.EFFECTIVE:
            out.append(Finding(Level.WARNING, f"no-dump-{effect}",
                               f"{region.name}: linux,no-dump {TOGGLE_WHY[effect]}", region.id))
        strict = [c for c in region.compatible if c in STRICT_BINDINGS]
        if strict:
            out.append(Finding(Level.WARNING, "no-dump-strict-binding",
                               f"{region.name}: compatible \"{strict[0]}\" forbids unknown properties; "
                               f"`make dtbs_check` will report linux,no-dump", region.id))
    trial = dataclasses.replace(mm, no_dump_overrides=dict(mm.no_dump_overrides))
    for path, on in changes.items():
        if _region(trial, path) is not None:
            trial.set_no_dump(path, on)
    results = evaluate(trial)
    savings = {name: r.savings_bytes for name, r in results.items()}
    if honours_proposals(mm):
        out.append(Finding(Level.INFO, "no-dump-savings",
                           f"with the exported DTB a no-dump-v1 kernel leaves {exact_size(savings['no-dump-v1'])} "
                           f"more out of the vmcore than today's kernels; for comparison the exclude-reserved "
                           f"policy (v2+ series) leaves out {exact_size(savings['exclude-reserved'])} "
                           f"with no DT change at all"))
    else:
        out.append(Finding(Level.INFO, "no-dump-savings",
                           f"{mm.arch}/{mm.loader}: neither proposal changes this dump path; "
                           "the property saves nothing here"))
    return out, savings


def _changes_from(mm: MemoryMap, no_dump: Iterable[str], dump: Iterable[str]) -> dict[str, bool]:
    changes = dict(mm.changed_no_dump())
    changes.update(_resolve(mm, no_dump, True, "--no-dump"))
    changes.update(_resolve(mm, dump, False, "--dump"))
    return changes


def _reserved_memory_mismatch(dtb: bytes, compiled: bytes) -> str | None:
    """First difference between the two trees' /reserved-memory children (phandles aside)."""
    a, b = parse_fdt(dtb), parse_fdt(compiled)
    ka = {n.path: n for n in a.nodes_by_path.values() if n.path.startswith("/reserved-memory/")}
    kb = {n.path: n for n in b.nodes_by_path.values() if n.path.startswith("/reserved-memory/")}
    if set(ka) != set(kb):
        odd = sorted(set(ka) ^ set(kb))
        return f"{odd[0]} is only in one of them"
    for path, na in ka.items():
        pa = {k: v for k, v in na.props.items() if k not in ("phandle", "linux,phandle")}
        pb = {k: v for k, v in kb[path].props.items() if k not in ("phandle", "linux,phandle")}
        if pa != pb:
            diff = sorted(set(pa.items()) ^ set(pb.items()))
            return f"{path}: {diff[0][0]} differs"
    return None


def run_export(dtb: str | os.PathLike, *, output: str | os.PathLike | None = None,
               overlay: str | os.PathLike | None = None,
               dts: str | os.PathLike | None = None, dts_patch: str | os.PathLike | None = None,
               include_dirs: Iterable[str | os.PathLike] = (), dts_root: str | os.PathLike | None = None,
               dtsi_override: bool = False,
               mm: MemoryMap | None = None, changes: dict[str, bool] | None = None,
               no_dump: Iterable[str] = (), dump: Iterable[str] = (),
               arch: str = "arm64", loader: str = "kexec_file", kernel: str | None = None,
               dry_run: bool = False) -> ExportResult:
    """Build, verify and atomically write the requested outputs.

    Toggles come from `changes` (full DT paths -> bool) when given, else from `mm`'s
    overrides plus `no_dump`/`dump` (paths, labels or node names). `mm` (the loaded
    model, with RAM/iomem/dmesg when known) is used for the warnings and the savings;
    without it the DTB alone is loaded. `dry_run` builds and verifies everything
    (for a preview: `result.dts.diff`, `result.overlay_source`) but writes nothing.
    """
    dtb = str(dtb)
    if output is None and overlay is None and dts_patch is None:
        raise InputError(None, "nothing to export: give -o OUT.dtb, --overlay OUT.dtbo or --dts-patch OUT.patch")
    if dts_patch is not None and dts is None:
        raise InputError(None, "--dts-patch needs --dts SRC.dts (the board source)")
    include_dirs = [str(d) for d in include_dirs]
    inputs = [dtb] + ([str(dts)] if dts else [])
    outs = [str(o) for o in (output, overlay, dts_patch) if o is not None]
    if len(set(map(os.path.abspath, outs))) != len(outs):
        raise InputError(None, "two outputs have the same file name")
    targets = {str(o): check_target(o, inputs) for o in outs}

    data, _compiled_from = read_dtb_bytes(dtb, tuple(include_dirs))
    if mm is None:
        mm = _load_mm(dtb, include_dirs, arch, loader, kernel)
    if changes is None:
        changes = _changes_from(mm, no_dump, dump)
    if not changes:
        raise InputError(None, "nothing to change: no node toggled (--no-dump NODE / --dump NODE)")
    try:
        blob = parse_fdt(data)
    except FdtError as exc:
        raise InputError(dtb, str(exc)) from None
    for path in changes:
        try:
            check_change_path(blob, path)
        except InputError as exc:
            raise InputError(dtb, exc.message) from None

    result = ExportResult(changes=dict(changes))
    result.warnings, result.savings = export_warnings(mm, changes)
    patch = build_patch(data, changes, source=dtb)   # verified against our reader and dtc
    result.dtb = patch
    for path, why in patch.unchanged.items():
        result.warnings.append(Finding(Level.INFO, "no-dump-unchanged", f"{path} {why}", path))
    for note in patch.notes:
        result.warnings.append(Finding(Level.INFO, "dtb-layout", note))
    staged: list[tuple[Path, bytes]] = []
    if output is not None:
        staged.append((targets[str(output)], patch.data))
    if overlay is not None:
        # an unchanged removal (property already absent) needs nothing from the overlay
        src, dtbo = build_overlay({p: on for p, on in changes.items() if on or p in patch.applied})
        verify_overlay(data, dtbo, patch.data)
        result.overlay_source = src
        staged.append((targets[str(overlay)], dtbo))
        result.warnings.append(Finding(
            Level.INFO, "overlay-order",
            "fdtoverlay/U-Boot insert linux,no-dump as the node's first property (the patched DTB "
            "has it last); the trees are otherwise identical (checked with the real fdtoverlay)"))
    if dts_patch is not None:
        dp = build_dts_patch(dts, changes, include_dirs=include_dirs, root=dts_root,
                             dtsi_override=dtsi_override)
        result.dts = dp
        for target in targets.values():   # the .dtsi files the diff edits are inputs too
            check_target(target, list(dp.edited))
        if dp.compiled is not None:
            mismatch = _reserved_memory_mismatch(data, dp.compiled)
            if mismatch:
                result.warnings.append(Finding(
                    Level.WARNING, "dts-not-this-dtb",
                    f"{dts} does not compile to the same /reserved-memory as {dtb} ({mismatch}); "
                    f"is it the right source?"))
        for w in dp.warnings:
            result.warnings.append(Finding(Level.WARNING, "dts-shared-dtsi", w))
        if dp.diff:
            ok, msg = patch_dry_run(dp.diff, dp.root)
            if not ok:
                raise InputError(str(dts), "patch -p1 --dry-run rejects the generated diff: "
                                 + (msg.splitlines() or ["no message"])[-1])
        else:
            result.warnings.append(Finding(Level.INFO, "dts-no-change", "the sources already match; the patch is empty"))
        staged.append((targets[str(dts_patch)], dp.diff.encode()))
    if dry_run:
        return result
    writer = AtomicWriter()
    for target, blob_bytes in staged:
        writer.stage(target, blob_bytes)
    result.written = writer.commit()
    return result
