"""Projected dump sizes per policy in the report: from a loaded dump (`dump.projection`) or
from `makedumpfile --mem-usage` page counts (`estimate`), with what they assume."""

from __future__ import annotations

from typing import TYPE_CHECKING

from memmap_tui.core.capture import assumptions, estimate
from memmap_tui.core.model import MemoryMap
from memmap_tui.core.policy import PolicyResults
from memmap_tui.core.units import exact_size

if TYPE_CHECKING:   # rich only for the text report; the dump package only with a dump;
    # the --mem-usage reader only with --mem-usage
    from rich.console import Console

    from memmap_tui.core.dump import DumpLayout
    from memmap_tui.sources.mem_usage import MemUsage


def source_of(layout: DumpLayout | None, mem_usage: MemUsage | None) -> str:
    if layout is not None:
        level = f", dump level {layout.dump_level}" if layout.dump_level is not None else ""
        return f"reference dump {layout.path} ({layout.format}{level})"
    if mem_usage is not None:
        return f"makedumpfile --mem-usage {mem_usage.path}"
    return "unfiltered /proc/vmcore (no dump, no --mem-usage)"


def projection_json(mm: MemoryMap, results: PolicyResults, layout: DumpLayout | None,
                    mem_usage: MemUsage | None, dump_level: int, write_speed_mbps: float) -> dict:
    """Top-level additions: `assumptions` always, `estimate` with --mem-usage; the dump's
    `projection` goes into the `dump` object (see `dump_projection_json`)."""
    out: dict = {"assumptions": assumptions(layout, write_speed_mbps, source_of(layout, mem_usage))}
    if mem_usage is not None:
        kept = mem_usage.kept_pages(dump_level) * mem_usage.page_size_bytes
        out["estimate"] = {p: e.as_dict() for p, e in estimate(kept, dump_level, results).items()}
    if mem_usage is not None and layout is None:
        out["assumptions"]["filtered"] = bool(dump_level)
    return out


def dump_projection_json(layout: DumpLayout, results: PolicyResults, write_speed_mbps: float) -> dict:
    from memmap_tui.core.dump import project
    return {p: pr.as_dict() for p, pr in project(layout, results, write_speed_mbps).items()}


def render_projection(results: PolicyResults, layout: DumpLayout | None, mem_usage: MemUsage | None,
                      dump_level: int, write_speed_mbps: float, console: "Console") -> None:
    from rich.table import Table
    from rich.text import Text

    from memmap_tui.core.dump import project
    if layout is None and mem_usage is None:
        return
    table = Table(title="Projected dump per policy", title_justify="left")
    table.add_column("policy")
    if layout is not None:
        table.add_column("present (projected)", justify="right")
        table.add_column("saved", justify="right")
        table.add_column("on disk (projected)", justify="right")
        table.add_column("capture", justify="right")
        for p, pr in project(layout, results, write_speed_mbps).items():
            disk = "?" if pr.on_disk_bytes is None else exact_size(pr.on_disk_bytes)
            secs = "?" if pr.capture_seconds is None else f"{pr.capture_seconds:.1f} s"
            table.add_row(p, exact_size(pr.present_bytes), exact_size(pr.saved_bytes), disk, secs)
    else:
        table.add_column(f"page data at -d {dump_level} (estimate)", justify="right")
        kept = mem_usage.kept_pages(dump_level) * mem_usage.page_size_bytes
        for p, e in estimate(kept, dump_level, results).items():
            span = (exact_size(e.min_bytes) if e.min_bytes == e.max_bytes
                    else f"{exact_size(e.min_bytes)} … {exact_size(e.max_bytes)}")
            table.add_row(p, span)
    console.print(table)
    console.print(Text(f"assumes {source_of(layout, mem_usage)}, writing at {write_speed_mbps:g} MB/s",
                       style="dim"))
