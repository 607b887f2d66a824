"""The loaded vmcore in the report: the JSON `"dump"` object and a rich table.

Both are renderings of `core.dump.account_dump` / `check_policy`, so the numbers match
the TUI's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from memmap_tui.core.dump import DumpAccount, DumpLayout, Verdict, account_dump, check_policy
from memmap_tui.core.model import MemoryMap
from memmap_tui.core.units import approx_size, compact_hex, exact_size

if TYPE_CHECKING:   # rich is imported only for the table: `--json` never loads it
    from rich.console import Console, Group
    from rich.text import Text


def dump_json(mm: MemoryMap, layout: DumpLayout, account: DumpAccount | None = None,
              verdict: Verdict | None = None) -> dict:
    account = account or account_dump(mm, layout)
    verdict = verdict or check_policy(mm, layout)
    tot = account.totals
    return {
        "format": layout.format,
        "page_size": layout.page_size,
        "osrelease": layout.osrelease,
        "covered_bytes": tot.covered_bytes,
        "present_bytes": tot.present_bytes,
        "on_disk_bytes": layout.dump_size_bytes,
        "verdict": verdict.text,
        "regions": [{"id": rid, **s.as_dict()} for rid, s in account.regions.items()],
        # additive keys
        "path": layout.path,
        "block_size": layout.block_size,
        "endianness": layout.endianness,
        "machine": layout.machine,
        "arch": layout.arch,
        "cpus": layout.cpus,
        "producer": layout.producer,
        "header_version": layout.header_version,
        "dump_level": layout.dump_level,
        "compression": layout.compression,
        "incomplete": layout.incomplete,
        "split": None if layout.split is None else {"start": layout.split.start, "end": layout.split.end},
        "kernel_image": (None if layout.kernel_image is None
                         else {"start": layout.kernel_image.start, "end": layout.kernel_image.end}),
        "file_size_bytes": layout.file_size_bytes,
        "metadata_bytes": layout.metadata_bytes,
        "page_data_on_disk_bytes": tot.on_disk_bytes,   # Σ ranges: compressed data + descriptors
        "excluded_pages": tot.excluded_pages,
        "zero_pages": tot.zero_pages,
        "covered": [{"start": r.start, "end": r.end} for r in layout.covered],
        "ranges": [{"start": r.range.start, "end": r.range.end, "kind": r.kind, "name": r.name,
                    **r.stats.as_dict()} for r in account.rows],
        "balanced": account.balanced,
        "policy_check": verdict.as_dict(),
        "vmcoreinfo": dict(layout.vmcoreinfo),
        "notes": list(layout.notes),
        "findings": [f.as_dict() for f in layout.findings],
    }


def _size(n: int | None) -> "Text":
    from rich.text import Text
    return Text("?" if n is None else exact_size(n))


def dump_table(mm: MemoryMap, layout: DumpLayout, account: DumpAccount | None = None,
               verdict: Verdict | None = None) -> "Group":
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text
    account = account or account_dump(mm, layout)
    verdict = verdict or check_policy(mm, layout)
    head = Text()
    head.append("vmcore ", style="bold")
    head.append(f"{layout.path}: {layout.format}"
                + (f", {layout.compression}" if layout.compression else "")
                + (f", dump level {layout.dump_level}" if layout.dump_level is not None else "")
                + (f", made by {layout.producer}" if layout.producer else "")
                + f", page {layout.page_size} B"
                + (f", block {layout.block_size} B" if layout.block_size != layout.page_size else "")
                + (f", {layout.osrelease}" if layout.osrelease else "")
                + (f", {layout.cpus} CPU notes" if layout.cpus else ""))
    size = layout.dump_size_bytes or 0
    head.append(f"\n{approx_size(size)} ({size:,} bytes)"
                + (f"; file holds {layout.file_size_bytes:,} bytes (cut)"
                   if layout.file_size_bytes < size and not layout.format.startswith("flattened") else ""))
    table = Table(title="What the dump holds", title_justify="left")
    table.add_column("range / region", overflow="fold")
    table.add_column("[start–end)", overflow="fold")
    table.add_column("covered", justify="right")
    table.add_column("present", justify="right")
    table.add_column("filtered\npages", justify="right")
    table.add_column("zero\npages", justify="right")
    table.add_column("on disk", justify="right")
    for row in account.rows:
        if row.kind == "hole" and not row.stats.covered_bytes and not row.stats.descriptors:
            continue
        s = row.stats
        table.add_row(Text(row.name, style="bold" if row.kind == "ram" else "dim"),
                      Text(f"{compact_hex(row.range.start)}–{compact_hex(row.range.end)}"),
                      _size(s.covered_bytes), _size(s.present_bytes), Text(f"{s.excluded_pages:,}"),
                      Text(f"{s.zero_pages:,}"), _size(s.on_disk_bytes))
    for reg in mm.regions:
        s = account.regions.get(reg.id)
        if s is None or not reg.placed:
            continue
        rng = ", ".join(f"{compact_hex(r.start)}–{compact_hex(r.end)}" for r in reg.ranges)
        table.add_row(Text("  " + (reg.name if reg.id.startswith("/reserved-memory/") else reg.id)),
                      Text(rng), _size(s.covered_bytes), _size(s.present_bytes),
                      Text(f"{s.excluded_pages:,}"), Text(f"{s.zero_pages:,}"), _size(s.on_disk_bytes))
    tot = account.totals
    table.add_row(Text("total", style="bold"), Text(""), _size(tot.covered_bytes), _size(tot.present_bytes),
                  Text(f"{tot.excluded_pages:,}"), Text(f"{tot.zero_pages:,}"), _size(tot.on_disk_bytes))
    v = Text()
    v.append("policy check: ", style="bold")
    v.append(verdict.text, style="green" if verdict.matches else "yellow")
    for note in verdict.notes:
        v.append(f"\n  {note}", style="dim")
    d = verdict.diffs[verdict.matches[0] if verdict.matches else verdict.closest]
    for n in d.extra_named + d.missing_named:
        v.append(f"\n  {compact_hex(n.range.start)}–{compact_hex(n.range.end)} "
                 f"{exact_size(n.range.size_bytes):>9}  {n.id or n.name}: {n.why}")
    return Group(head, table, v)


def render_dump(mm: MemoryMap, layout: DumpLayout, console: "Console") -> None:
    console.print(dump_table(mm, layout))
