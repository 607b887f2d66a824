"""`memmap-tui live`: the running system (or a fake root in tests) as a bundle.

It collects exactly what `collect` would (so live and bundle numbers cannot differ) into
a private directory and opens that; /proc/vmcore is opened in place when this is a
capture kernel (headers only).
"""

from __future__ import annotations

import os

from memmap_tui.gather.collect import collect_to_dir
from memmap_tui.sources.bundle import ARCH_FROM_UNAME
from memmap_tui.sources.scratch import scratch_path

VMCORE = "proc/vmcore"


def live_bundle(root: str = "/") -> tuple[str, str | None, str | None]:
    """(bundle directory, /proc/vmcore path when present, arch as the kernel names it)."""
    dest = scratch_path("live")
    os.makedirs(dest)
    manifest = collect_to_dir(root, dest, live=True)
    vmcore = os.path.join(root, VMCORE)
    arch = next((line.split("=", 1)[1] for line in manifest if line.startswith("arch=")), "")
    return dest, vmcore if os.path.isfile(vmcore) else None, ARCH_FROM_UNAME.get(arch)
