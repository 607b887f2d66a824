"""`memmap-tui diff A B`: load both sides (each with its own options), compare, and judge
the `--fail-on` thresholds a CI job sets.

An option given without a side (`--ram 8G@0x80000000`) applies to both; `--a-ram` / `--b-ram`
apply to one side and win over the shared one. A positional argument that is not a DTB or a
.dts is opened as a vmcore (`diff vmcore1 vmcore2` compares two dumps of one board).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

from memmap_tui.core.diff import MapDiff, diff_maps
from memmap_tui.core.dump import DumpAccount, account_dump
from memmap_tui.core.policy import PolicyResults, evaluate
from memmap_tui.core.units import exact_size, memparse
from memmap_tui.inputs import Loaded, Options, load
from memmap_tui.sources.errors import InputError

FDT_MAGIC = b"\xd0\x0d\xfe\xed"
SIDED = ("iomem", "dmesg", "vmcore", "ram", "kernel", "no_dump", "dump")


def is_device_tree(path: str) -> bool:
    """A DTB by its magic, a source by its name; anything else is tried as a vmcore."""
    if path.endswith((".dts", ".dtsi")) or not os.path.isfile(path):
        return True   # the DT loader gives the one-line error (missing file, FIFO, directory)
    try:
        with open(path, "rb") as f:
            return f.read(4) == FDT_MAGIC
    except OSError as e:
        raise InputError(path, e.strerror or str(e)) from None


def side_options(path: str, shared: dict, own: dict, base: Options) -> Options:
    """Options for one side: the side's own value where given, else the shared one."""
    values = {}
    for key in SIDED:
        value = own.get(key) or shared.get(key)
        values[key] = tuple(value or ()) if key in ("ram", "no_dump", "dump") else value
    if is_device_tree(path):
        values["dtb"] = path
    else:
        if values["vmcore"]:
            raise InputError(path, "is not a DTB or .dts, and a --vmcore is given for this side too")
        values["dtb"], values["vmcore"] = None, path
    return replace(base, **values)


@dataclass(slots=True)
class Side:
    loaded: Loaded
    results: PolicyResults
    account: DumpAccount | None

    @property
    def mm(self):
        return self.loaded.mm


def load_side(options: Options) -> Side:
    loaded = load(options)
    account = account_dump(loaded.mm, loaded.dump) if loaded.dump is not None else None
    return Side(loaded, evaluate(loaded.mm), account)


def compare(a: Side, b: Side) -> MapDiff:
    return diff_maps(a.mm, a.results, a.loaded.options.write_speed_mbps,
                     b.mm, b.results, b.loaded.options.write_speed_mbps, a.account, b.account)


# -- --fail-on ----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class FailOn:
    vmcore_growth_bytes: int | None = None   # any policy's predicted vmcore grows by more
    new_error: bool = False                  # a new error-level finding
    new_warning: bool = False                # a new warning- or error-level finding


def parse_fail_on(spec: str | None) -> FailOn:
    if not spec:
        return FailOn()
    growth, new_error, new_warning = None, False, False
    for item in (s.strip() for s in spec.split(",") if s.strip()):
        key, _, value = item.partition("=")
        if key == "vmcore-growth":
            try:
                growth = memparse(value)
            except ValueError:
                raise InputError(None, f"--fail-on {item!r}: expected vmcore-growth=SIZE (e.g. 64M, 0)") from None
        elif key == "new-error" and not value:
            new_error = True
        elif key == "new-warning" and not value:
            new_warning = True
        else:
            raise InputError(None, f"--fail-on {item!r}: one of vmcore-growth=SIZE, new-error, new-warning")
    return FailOn(growth, new_error, new_warning)


def crossed(fail_on: FailOn, diff: MapDiff) -> list[str]:
    """Why the diff fails the CI thresholds (empty: it passes)."""
    out = []
    if fail_on.vmcore_growth_bytes is not None:
        for p, d in diff.policies.items():
            if d.delta_bytes is None:
                raise InputError(None, "--fail-on vmcore-growth: RAM is unknown on a side "
                                       "(give --ram SIZE@BASE, or --iomem)")
            if d.delta_bytes > fail_on.vmcore_growth_bytes:
                out.append(f"vmcore-growth: {p} grows by {exact_size(d.delta_bytes)} "
                           f"(limit {exact_size(fail_on.vmcore_growth_bytes)})")
    levels = {"error"} | ({"warning"} if fail_on.new_warning else set())
    if fail_on.new_error or fail_on.new_warning:
        for f in diff.new_findings:
            if str(f.level) in levels:
                out.append(f"new-{f.level}: [{f.code}] {f.message}")
    return out

