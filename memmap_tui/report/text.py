"""Rich tables for `memmap-tui report`: regions, the three policies side by side, findings."""

from __future__ import annotations

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from memmap_tui.core.model import Level, MemoryMap
from memmap_tui.core.policies import POLICIES, PROPOSAL_NOTE
from memmap_tui.core.policy import PolicyResults, evaluate
from memmap_tui.core.units import approx_size, capture_seconds, compact_hex, exact_size

KIND_STYLE = {
    "crashkernel": "bold magenta", "no-map": "red", "memreserve": "yellow",
    "reusable": "green", "reserved": "cyan",
}
LEVEL_STYLE = {Level.ERROR: "bold red", Level.WARNING: "yellow", Level.INFO: "dim"}


def format_ranges(mm: MemoryMap, region) -> str:
    if not region.ranges:
        return "unplaced" if region.reserves_memory else "—"
    return ", ".join(f"{compact_hex(r.start)}–{compact_hex(r.end)}" for r in region.ranges)


def regions_table(mm: MemoryMap, results: PolicyResults) -> Table:
    table = Table(title="Regions", title_justify="left", expand=False)
    table.add_column("region", overflow="fold")
    table.add_column("kind / flags", overflow="fold")
    table.add_column("range [start–end)", overflow="fold")
    table.add_column("size", justify="right")
    for p in POLICIES:
        table.add_column(f"dumped\n{p.column}", justify="right")
    for r in mm.regions:
        table.add_row(
            Text(r.name if r.id.startswith("/reserved-memory/") else r.id),
            Text.assemble((str(r.kind), KIND_STYLE.get(str(r.kind), "")),
                          " " + " ".join(f for f in mm.flags(r) if f != str(r.kind))),
            Text(format_ranges(mm, r)),
            Text(exact_size(r.size_bytes)),
            *(Text(exact_size(results[p.id].region_dumped.get(r.id, 0))) for p in POLICIES))
    return table


def policies_table(mm: MemoryMap, results: PolicyResults, write_speed_mbps: float) -> Table:
    table = Table(title=f"vmcore per policy ({mm.arch}, {mm.loader}, page {mm.page_size} B, "
                        f"capture at {write_speed_mbps:g} MB/s)", title_justify="left")
    table.add_column("policy")
    table.add_column("RAM in vmcore", justify="right")
    table.add_column("% of RAM", justify="right")
    table.add_column("saving vs today", justify="right")
    table.add_column("capture time", justify="right")
    ram = mm.ram.size_bytes if mm.ram_known else None
    for p in POLICIES:
        res = results[p.id]
        dumped = res.dumped_bytes
        table.add_row(
            p.id,
            _total(dumped) if dumped is not None else "RAM unknown",
            f"{100 * dumped / ram:.1f} %" if dumped is not None and ram else "—",
            _total(res.savings_bytes) + (f"\n−{capture_seconds(res.savings_bytes, write_speed_mbps):.1f} s"
                                         if res.savings_bytes else ""),
            f"{capture_seconds(dumped, write_speed_mbps):.1f} s" if dumped is not None else "—",
        )
    return table


def _total(size_bytes: int) -> str:
    approx = approx_size(size_bytes)
    return exact_size(size_bytes) + (f"\n{approx}" if approx else "")


def findings_text(mm: MemoryMap) -> Text:
    text = Text()
    for f in mm.findings:
        text.append(f"{f.level}: ", style=LEVEL_STYLE[f.level])
        text.append(f"[{f.code}] {f.message}\n")
    return text


def render_report(mm: MemoryMap, console: Console, *, write_speed_mbps: float,
                  results: PolicyResults | None = None) -> None:
    results = results if results is not None else evaluate(mm)
    inputs = ", ".join(f"{k}={v}" for k, v in mm.inputs.items()) or "no inputs"
    ram = (f"RAM {exact_size(mm.ram.size_bytes)} from {mm.ram_source}" if mm.ram_known else "RAM unknown")
    console.print(Text(f"memmap-tui report — {inputs}\n{ram}; kernel model {mm.kernel}", style="bold"))
    console.print(regions_table(mm, results))
    console.print(policies_table(mm, results, write_speed_mbps))
    console.print(Text(PROPOSAL_NOTE, style="italic"))
    if mm.findings:
        console.print(Group(Text("Findings", style="bold"), findings_text(mm)))
