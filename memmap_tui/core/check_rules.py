"""How `memmap-tui check` judges findings for CI (pure).

`check` reads build DTBs, not booted systems: a board DTB whose `/memory` has no `reg` is
normal (the bootloader fills it in, e.g. U-Boot `fdt_fixup_memory_banks()`), so "RAM unknown"
is information there, not a defect. Every other finding keeps the level the model gave it.
"""

from __future__ import annotations

from dataclasses import replace

from memmap_tui.core.model import Finding, Level

# code -> (level in `check`, why) for findings a build DTB raises by design
BUILD_DTB_LEVELS = {
    "ram-unknown": (Level.INFO, "normal for a build DTB: the bootloader fills /memory"),
    "kernel-assumed": (Level.INFO, "a build DTB names no kernel: give --kernel to check one"),
}


def check_findings(findings: list[Finding], *, ignore: frozenset[str] = frozenset(),
                   booted_inputs: bool = False) -> list[Finding]:
    """The findings `check` reports: ignored codes dropped, build-DTB findings re-levelled
    (unless iomem/RAM were given, which describe a booted system)."""
    out = []
    for f in findings:
        if f.code in ignore:
            continue
        if not booted_inputs and f.code in BUILD_DTB_LEVELS:
            level, why = BUILD_DTB_LEVELS[f.code]
            f = replace(f, level=level, message=f"{f.message} ({why})")
        out.append(f)
    return out


def failing(findings: list[Finding], strict: bool) -> list[Finding]:
    levels = {Level.ERROR} | ({Level.WARNING} if strict else set())
    return [f for f in findings if f.level in levels]
