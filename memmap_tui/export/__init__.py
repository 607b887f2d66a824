"""Exports of `linux,no-dump` toggles: patched DTB, overlay (.dtbo), DTS source patch.

`run_export(request, mm, source)` is the one entry point for the CLI's `export` command
and the TUI's export dialog: the request says what to write, `mm` is the model the
caller already loaded (never reloaded here) and `source` the DTB bytes loading read
(never read twice). Every requested output is built and verified in memory first, then
written atomically (`targets`); any failure raises `InputError` and nothing is written.
Every result carries the advice the user should read, worded once here for both the
CLI and the TUI: the v1-only property, the per-node effect, strict bindings, and the
figures of the policies that need no DT change.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from memmap_tui.core.model import Finding, Level, MemoryMap, Region
from memmap_tui.core.policies import POLICIES, PROPOSAL_NOTE, TODAY
from memmap_tui.core.policy import TOGGLE_WHY, ToggleEffect, evaluate, honours_proposals, toggle_effect
from memmap_tui.core.units import exact_size
from memmap_tui.export.dtb_patch import NO_DUMP, DtbPatch, build_patch, patch_dtb
from memmap_tui.export.dts_patch import DtsPatch, build_dts_patch, patch_dry_run
from memmap_tui.export.overlay import build_overlay, verify_overlay
from memmap_tui.export.targets import check_target, same_file, write_all
from memmap_tui.inputs import resolve
from memmap_tui.sources.dtb import DtbBytes, compile_dts, read_dtb_bytes
from memmap_tui.sources.errors import InputError
from memmap_tui.sources.fdt_blob import parse_fdt

__all__ = ["ExportRequest", "ExportResult", "run_export", "check_request", "export_warnings", "patch_dtb", "build_patch",
           "NO_DUMP", "build_overlay", "build_dts_patch", "changes_from", "DtbBytes", "read_dtb_bytes"]

# Bindings with `unevaluatedProperties: false` (domain.md §0): dtbs_check rejects the property.
STRICT_BINDINGS = ("shared-dma-pool", "restricted-dma-pool")
V1_WARNING = PROPOSAL_NOTE   # the one wording (core/policies.py)


@dataclass(frozen=True, slots=True)
class ExportRequest:
    """What to export: the toggles, which outputs, and how to find the .dts sources."""
    changes: dict[str, bool]                 # full DT path -> linux,no-dump on (True) / off
    output: Path | None = None               # patched DTB
    overlay: Path | None = None              # .dtbo
    dts_patch: Path | None = None            # unified diff of the .dts sources
    dts: Path | None = None                  # the board .dts the DTB is built from
    include_dirs: tuple[str, ...] = ()       # cpp -I / dtc -i for the .dts
    dts_root: Path | None = None             # diff paths relative to this (default: git top level)
    dtsi_override: bool = False              # shared .dtsi nodes: board-level &label override
    dry_run: bool = False                    # build and verify, write nothing

    @property
    def targets(self) -> list[Path]:
        return [p for p in (self.output, self.overlay, self.dts_patch) if p is not None]


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
    # The exported DTB against the input DTB: both evaluated from the same model, the input
    # without any toggle, so a figure moves only when a toggle moves it (a /memreserve/
    # entry a policy treats differently is in both and cancels out).
    base = dataclasses.replace(mm, no_dump_overrides={})
    trial = dataclasses.replace(mm, no_dump_overrides={})
    for path, on in changes.items():
        if _region(trial, path) is not None:
            trial.set_no_dump(path, on)
    before, after = evaluate(base), evaluate(trial)
    savings = {name: r.savings_bytes for name, r in after.items()}
    toggled = POLICIES.toggled
    gained = savings[toggled.id] - before[toggled.id].savings_bytes
    if not honours_proposals(mm):
        out.append(Finding(Level.INFO, "no-dump-savings",
                           f"{mm.arch}/{mm.loader}: neither proposal changes this dump path; "
                           "the property saves nothing here"))
        return out, savings
    kernel = f"a {toggled.id} kernel"
    if gained > 0:
        effect = f"{kernel} leaves {exact_size(gained)} more out of the vmcore than with the input DTB"
    elif gained < 0:
        effect = f"{kernel} puts {exact_size(-gained)} more into the vmcore than with the input DTB"
    else:
        effect = f"{kernel} writes the same vmcore as with the input DTB"
    others = "; ".join(f"the {p.id} policy ({p.title}) leaves out {exact_size(savings[p.id])}"
                       for p in POLICIES if p is not toggled and p is not TODAY)
    out.append(Finding(Level.INFO, "no-dump-savings",
                       f"with the exported DTB {effect}; for comparison {others} with no DT change at all"))
    return out, savings


def changes_from(mm: MemoryMap, no_dump: Iterable[str] = (), dump: Iterable[str] = ()) -> dict[str, bool]:
    """The model's toggles plus the named nodes (paths, labels or names), as full paths."""
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


def protected_inputs(mm: MemoryMap, source: DtbBytes, request: ExportRequest) -> list[str]:
    """Every file an export must never write: the model's inputs, the DTB's sources, the .dts."""
    found = [*mm.inputs.values(), source.path, *source.sources]
    if request.dts is not None:
        found.append(str(request.dts))
    return list(dict.fromkeys(found))


def check_request(request: ExportRequest, mm: MemoryMap, source: DtbBytes) -> None:
    """Refuse a request before any work (the TUI calls this before asking to overwrite)."""
    _check_request(request, protected_inputs(mm, source, request))


def _check_request(request: ExportRequest, inputs: list[str]) -> None:
    if not request.targets:
        raise InputError(None, "nothing to export: give -o OUT.dtb, --overlay OUT.dtbo or --dts-patch OUT.patch")
    if request.dts_patch is not None and request.dts is None:
        raise InputError(None, "--dts-patch needs --dts SRC.dts (the board source)")
    targets = request.targets
    for i, a in enumerate(targets):
        if any(same_file(a, b) for b in targets[i + 1:]):
            raise InputError(str(a), "given for two outputs; each output needs its own file")
        check_target(a, inputs)
    if not request.changes:
        raise InputError(None, "nothing to change: no node toggled (--no-dump NODE / --dump NODE)")


def run_export(request: ExportRequest, mm: MemoryMap, source: DtbBytes) -> ExportResult:
    """Build, verify and atomically write the outputs `request` asks for.

    `mm` is the caller's loaded model (RAM/iomem/dmesg when known; it is not changed),
    `source` the DTB bytes loading read. With `request.dry_run` everything is built
    and verified (for a preview: `result.dts.diff`, `result.overlay_source`) but nothing
    is written.
    """
    inputs = protected_inputs(mm, source, request)
    _check_request(request, inputs)      # before any work: a bad target costs nothing
    dtb, data, changes = source.path, source.data, request.changes
    # first: it refuses a path that is not a /reserved-memory child before any advice is worded
    patch = build_patch(data, changes, source=dtb)   # verified against our reader and dtc
    result = ExportResult(changes=dict(changes), dtb=patch)
    result.warnings, result.savings = export_warnings(mm, changes)
    for path, why in patch.unchanged.items():
        result.warnings.append(Finding(Level.INFO, "no-dump-unchanged", f"{path} {why}", path))
    for note in patch.notes:
        result.warnings.append(Finding(Level.INFO, "dtb-layout", note))
    staged: list[tuple[Path, bytes]] = []
    if request.output is not None:
        staged.append((request.output, patch.data))
    if request.overlay is not None:
        # an unchanged removal (property already absent) needs nothing from the overlay
        src, dtbo = build_overlay({p: on for p, on in changes.items() if on or p in patch.applied})
        verify_overlay(data, dtbo, patch.data)
        result.overlay_source = src
        staged.append((request.overlay, dtbo))
        result.warnings.append(Finding(
            Level.INFO, "overlay-order",
            "fdtoverlay/U-Boot insert linux,no-dump as the node's first property (the patched DTB "
            "has it last); the trees are otherwise identical (checked with the real fdtoverlay)"))
    if request.dts_patch is not None:
        dp = _dts_patch(request, dtb, data, result)
        inputs += [f for f in dp.sources if f not in inputs]   # every file the .dts includes
        staged.append((request.dts_patch, dp.diff.encode()))
    elif request.dts is not None:     # given without a patch to write: its includes are inputs all the same
        inputs += compile_dts(str(request.dts), request.include_dirs).sources
    if not request.dry_run:
        result.written = write_all(staged, inputs)
    return result


def _dts_patch(request: ExportRequest, dtb: str, data: bytes, result: ExportResult) -> DtsPatch:
    dts = request.dts
    dp = build_dts_patch(dts, request.changes, include_dirs=list(request.include_dirs),
                         root=request.dts_root, dtsi_override=request.dtsi_override)
    result.dts = dp
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
    return dp
