"""`memmap-tui report --format text|markdown|csv` for tickets and scripts.

The rows are the ones the rich report shows (regions with kind, flags, ranges, size and the
bytes each policy dumps; the policy totals; the findings), in address order, laid out without
ever wrapping a cell: an address or a node name is one unbroken token however narrow the
terminal or however the output is piped. Sizes are exact (units.exact_size), CSV bytes are
integers.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from rich.console import Console
from rich.measure import Measurement

from memmap_tui.core.model import MemoryMap
from memmap_tui.core.policies import POLICIES, PROPOSAL_NOTE
from memmap_tui.core.policy import PolicyResults
from memmap_tui.core.units import capture_seconds, compact_hex, exact_size
from memmap_tui.report.names import region_title
from memmap_tui.report.text import regions_table


@dataclass(frozen=True, slots=True)
class RegionRow:
    name: str
    id: str
    kind: str
    flags: tuple[str, ...]
    ranges: tuple[tuple[int, int], ...]
    size_bytes: int
    dumped: dict[str, int]

    @property
    def range_text(self) -> str:
        if not self.ranges:
            return "unplaced" if "unplaced" in self.flags else "—"
        return " ".join(f"{compact_hex(s)}–{compact_hex(e)}" for s, e in self.ranges)


def region_rows(mm: MemoryMap, results: PolicyResults) -> list[RegionRow]:
    """Every region, placed ones by start address, unplaced ones after them in DT order."""
    rows = [RegionRow(region_title(r), r.id, str(r.kind), tuple(f for f in mm.flags(r) if f != str(r.kind)),
                      tuple((rng.start, rng.end) for rng in r.ranges), r.size_bytes,
                      {p.id: results[p.id].region_dumped.get(r.id, 0) for p in POLICIES})
            for r in mm.regions]
    placed = sorted((r for r in rows if r.ranges), key=lambda r: (r.ranges[0][0], r.ranges[0][1], r.id))
    return placed + [r for r in rows if not r.ranges]


def policy_rows(mm: MemoryMap, results: PolicyResults, write_speed_mbps: float) -> list[tuple[str, ...]]:
    out = []
    for p in POLICIES:
        res = results[p.id]
        dumped = res.dumped_bytes
        out.append((p.id, "RAM unknown" if dumped is None else exact_size(dumped),
                    exact_size(res.savings_bytes),
                    "—" if dumped is None else f"{capture_seconds(dumped, write_speed_mbps):.1f} s"))
    return out


def region_head() -> tuple[str, ...]:
    return ("region", "kind", "flags", "range [start–end)", "size", *(f"dumped {p.column}" for p in POLICIES))



POLICY_HEAD = ("policy", "RAM in vmcore (predicted)", "saving vs today", "capture time")


def _cells(r: RegionRow) -> tuple[str, ...]:
    return (r.name, r.kind, ",".join(r.flags) or "—", r.range_text, exact_size(r.size_bytes),
            *(exact_size(r.dumped[p.id]) for p in POLICIES))


def _columns(head: tuple[str, ...], rows: list[tuple[str, ...]], right_from: int) -> list[str]:
    widths = [max(len(x[i]) for x in [head, *rows]) for i in range(len(head))]

    def line(cells):
        return "  ".join(c.rjust(w) if i >= right_from else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    return [line(head), *(line(r) for r in rows)]


def render_plain(mm: MemoryMap, results: PolicyResults, write_speed_mbps: float) -> str:
    inputs = ", ".join(f"{k}={v}" for k, v in mm.inputs.items()) or "no inputs"
    ram = f"RAM {exact_size(mm.ram.size_bytes)} from {mm.ram_source}" if mm.ram_known else "RAM unknown"
    out = [f"memmap-tui report — {inputs}", f"{ram}; kernel model {mm.kernel}; {mm.arch}, {mm.loader}, "
           f"page {mm.page_size} B; capture at {write_speed_mbps:g} MB/s", "", "Regions (address order)"]
    out += _columns(region_head(), [_cells(r) for r in region_rows(mm, results)], right_from=4)
    out += ["", "vmcore per policy"]
    out += _columns(POLICY_HEAD, policy_rows(mm, results, write_speed_mbps), right_from=1)
    out.append(PROPOSAL_NOTE)
    if mm.findings:
        out += ["", "Findings"] + [f"{f.level}: [{f.code}] {f.message}" for f in mm.findings]
    return "\n".join(out) + "\n"


def _md(cells) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def render_markdown(mm: MemoryMap, results: PolicyResults, write_speed_mbps: float) -> str:
    inputs = ", ".join(f"`{k}={v}`" for k, v in mm.inputs.items()) or "no inputs"
    head = region_head()
    out = [f"### memmap-tui report — {inputs}", "", _md(head),
           "|" + "|".join("---:" if i >= 4 else "---" for i in range(len(head))) + "|"]
    out += [_md(_cells(r)) for r in region_rows(mm, results)]
    out += ["", _md(POLICY_HEAD), "|---|---:|---:|---:|"]
    out += [_md(r) for r in policy_rows(mm, results, write_speed_mbps)]
    out += ["", f"_{PROPOSAL_NOTE}_"]
    if mm.findings:
        out += ["", "**Findings**", ""] + [f"- {f.level}: `{f.code}` {f.message}" for f in mm.findings]
    return "\n".join(out) + "\n"


def render_csv(mm: MemoryMap, results: PolicyResults, write_speed_mbps: float) -> str:
    """One row per region range (a multi-range region repeats its id); bytes as integers."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["id", "name", "kind", "flags", "start", "end", "size_bytes", *(f"dumped_{p.id}" for p in POLICIES)])
    for r in region_rows(mm, results):
        for start, end in r.ranges or ((None, None),):
            w.writerow([r.id, r.name, r.kind, " ".join(r.flags),
                        "" if start is None else f"{start:#x}", "" if end is None else f"{end:#x}",
                        r.size_bytes, *(r.dumped[p.id] for p in POLICIES)])
    return buf.getvalue()


def rich_tables_fit(console: Console, mm: MemoryMap, results: PolicyResults) -> bool:
    """Whether report/text.py's region table fits the terminal without squeezing a cell
    (otherwise the plain layout is printed: long lines, but never a broken token)."""
    natural = Measurement.get(console, console.options.update_width(1 << 20), regions_table(mm, results))
    return natural.maximum <= console.width


FORMATS = {"text": render_plain, "markdown": render_markdown, "csv": render_csv}
