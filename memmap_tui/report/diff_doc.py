"""Renderings of a `core.diff.MapDiff`: the `memmap-tui/diff/1` JSON document, markdown for a
pull-request comment, and plain text for a terminal.

A REGION in the JSON is exactly the region object of `memmap-tui/report/1` (taken from
`json_doc.build_report` of that side, so the two documents cannot drift apart).
"""

from __future__ import annotations

from memmap_tui.core.diff import Change, DumpDiff, MapDiff, RegionPair
from memmap_tui.core.dump import RangeStats
from memmap_tui.core.model import MemoryMap
from memmap_tui.core.units import compact_hex, exact_size
from memmap_tui.report.json_doc import build_report
from memmap_tui.report.names import region_title

SCHEMA = "memmap-tui/diff/1"


def _source(doc: dict) -> dict:
    return {k: doc[k] for k in ("inputs", "arch", "loader", "kernel", "page_size", "ram", "ram_source",
                                "write_speed_mbps")}


def _stats(s: RangeStats | None) -> dict | None:
    return None if s is None else s.as_dict()


def _dump_json(d: DumpDiff) -> dict:
    def side(s):
        return None if s is None else {"path": s.path, "covered_bytes": s.covered_bytes,
                                       "present_bytes": s.present_bytes, "on_disk_bytes": s.on_disk_bytes}
    delta = (d.b.present_bytes - d.a.present_bytes) if d.a and d.b else None
    return {"a": side(d.a), "b": side(d.b), "present_delta_bytes": delta,
            "regions": [{"id": r.name, "a": _stats(r.a), "b": _stats(r.b)} for r in d.regions],
            "ram": [{"name": r.name, "a": _stats(r.a), "b": _stats(r.b)} for r in d.ram]}


def build_diff(diff: MapDiff, a_doc: dict, b_doc: dict) -> dict:
    """`a_doc`/`b_doc`: each side's `memmap-tui/report/1` document (build_report)."""
    a_regions = {r["id"]: r for r in a_doc["regions"]}
    b_regions = {r["id"]: r for r in b_doc["regions"]}
    doc = {
        "schema": SCHEMA,
        "a": _source(a_doc),
        "b": _source(b_doc),
        "regions": [{"match": p.match,
                     "a": a_regions[p.a.id] if p.a else None,
                     "b": b_regions[p.b.id] if p.b else None,
                     "changes": [c.as_dict() for c in p.changes]} for p in diff.pairs],
        "policies": {p: {"a_bytes": d.a_bytes, "b_bytes": d.b_bytes, "delta_bytes": d.delta_bytes,
                         # additive keys
                         "a_capture_seconds": _round(d.a_seconds), "b_capture_seconds": _round(d.b_seconds),
                         "delta_capture_seconds": _round(d.delta_seconds),
                         "a_projected_bytes": d.a_projected_bytes, "b_projected_bytes": d.b_projected_bytes,
                         "delta_projected_bytes": d.delta_projected_bytes}
                     for p, d in diff.policies.items()},
        "findings": {"new": [f.as_dict() for f in diff.new_findings],
                     "gone": [f.as_dict() for f in diff.gone_findings]},
        # additive keys
        "match_counts": diff.match_counts,
    }
    if diff.dump is not None:
        doc["dump"] = _dump_json(diff.dump)
    return doc


def build_diff_for(diff: MapDiff, a: MemoryMap, a_results, a_speed: float,
                   b: MemoryMap, b_results, b_speed: float) -> dict:
    return build_diff(diff, build_report(a, write_speed_mbps=a_speed, results=a_results),
                      build_report(b, write_speed_mbps=b_speed, results=b_results))


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


# -- words shared by markdown and text ------------------------------------------------------------

def pair_title(p: RegionPair) -> str:
    a, b = p.a, p.b
    if a and b and region_title(a) != region_title(b):
        return f"{region_title(a)} → {region_title(b)}"
    return region_title(a or b)


def pair_range(p: RegionPair) -> str:
    r = p.b if p.b is not None and p.b.placed else p.a
    if r is None or not r.placed:
        return "unplaced"
    return f"{compact_hex(r.ranges.start)}–{compact_hex(r.ranges.end)}"


def signed_size(n: int) -> str:
    return ("+" if n > 0 else "−" if n < 0 else "±") + exact_size(abs(n))


def change_text(c: Change) -> str:
    if c.what in ("added", "removed"):
        return c.what
    if c.what == "renamed":
        return "renamed"   # both names are in the row's title; the paths are in the JSON
    if c.what == "moved":
        return f"moved {compact_hex(c.a)} → {compact_hex(c.b)}"
    if c.what == "resized":
        return f"resized {exact_size(c.a)} → {exact_size(c.b)} ({signed_size(c.b - c.a)})"
    return f"{'+' if c.b else '−'}{c.flag}"


def pair_text(p: RegionPair) -> str:
    return ", ".join(change_text(c) for c in p.changes)


def _bytes(n: int | None) -> str:
    return "RAM unknown" if n is None else exact_size(n)


def _seconds(x: float | None, signed: bool = False) -> str:
    if x is None:
        return "—"
    return f"{x:+.1f} s" if signed else f"{x:.1f} s"


def policy_rows(diff: MapDiff) -> list[tuple[str, str, str, str, str]]:
    """(policy, A, B, Δ bytes, Δ capture) — predicted RAM in the vmcore, page-rounded."""
    return [(p, _bytes(d.a_bytes), _bytes(d.b_bytes),
             "—" if d.delta_bytes is None else signed_size(d.delta_bytes), _seconds(d.delta_seconds, True))
            for p, d in diff.policies.items()]


def projected_lines(diff: MapDiff) -> list[str]:
    """Per policy, what each side's dump holds inside the policy's ranges (when dumps are given)."""
    out = []
    for p, d in diff.policies.items():
        if d.a_projected_bytes is None and d.b_projected_bytes is None:
            continue
        a = "—" if d.a_projected_bytes is None else exact_size(d.a_projected_bytes)
        b = "—" if d.b_projected_bytes is None else exact_size(d.b_projected_bytes)
        delta = "" if d.delta_projected_bytes is None else f" ({signed_size(d.delta_projected_bytes)})"
        out.append(f"{p}: projected after filtering {a} → {b}{delta}")
    return out


def finding_lines(diff: MapDiff) -> list[str]:
    return ([f"new {f.level}: [{f.code}] {f.message}" for f in diff.new_findings]
            + [f"gone {f.level}: [{f.code}] {f.message}" for f in diff.gone_findings])


def _present(s: RangeStats | None) -> str:
    return "—" if s is None else f"{exact_size(s.present_bytes)} ({s.excluded_pages:,} pages filtered)"


def dump_lines(d: DumpDiff) -> list[str]:
    """Per RAM range and per changed-or-held region: present bytes (filtered pages) A → B."""
    rows = list(d.ram) + [r for r in d.regions if (r.a and r.a.covered_bytes) or (r.b and r.b.covered_bytes)]
    return [f"{r.name}: present {_present(r.a)} → {_present(r.b)}" for r in rows]


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(diff: MapDiff, a: MemoryMap, b: MemoryMap) -> str:
    """A pull-request comment: the policy deltas first (what reviewers act on), then changes."""
    a_name = a.inputs.get("dtb") or a.inputs.get("vmcore") or "A"
    b_name = b.inputs.get("dtb") or b.inputs.get("vmcore") or "B"
    changed = diff.changed_pairs
    out = [f"### memmap-tui diff: `{a_name}` → `{b_name}`", "",
           f"{len(changed)} region{'s' if len(changed) != 1 else ''} changed, "
           f"{len(diff.new_findings)} new finding{'s' if len(diff.new_findings) != 1 else ''}, "
           f"{len(diff.gone_findings)} gone.", "",
           "| policy | vmcore A (predicted) | vmcore B (predicted) | Δ | Δ capture |",
           "|---|---:|---:|---:|---:|"]
    out += [f"| `{p}` | {av} | {bv} | **{dv}** | {sv} |" for p, av, bv, dv, sv in policy_rows(diff)]
    if diff.dump is not None and diff.dump.a and diff.dump.b:
        d = diff.dump
        out += ["", f"In these dumps: present {exact_size(d.a.present_bytes)} → {exact_size(d.b.present_bytes)} "
                    f"({signed_size(d.b.present_bytes - d.a.present_bytes)}).", ""]
        out += [f"- {_md_cell(line)}" for line in projected_lines(diff) + dump_lines(d)]
    if changed:
        out += ["", "| region | range | matched by | change |", "|---|---|---|---|"]
        out += [f"| `{_md_cell(pair_title(p))}` | {pair_range(p)} | {p.match} | {_md_cell(pair_text(p))} |"
                for p in changed]
    lines = finding_lines(diff)
    if lines:
        out += ["", "**Findings**", ""] + [f"- {_md_cell(line)}" for line in lines]
    return "\n".join(out) + "\n"


def render_text(diff: MapDiff, a: MemoryMap, b: MemoryMap) -> str:
    """Plain text (no wrapping, no colour): one line per change, then policies and findings."""
    out = [f"A: {', '.join(f'{k}={v}' for k, v in a.inputs.items()) or 'no inputs'}",
           f"B: {', '.join(f'{k}={v}' for k, v in b.inputs.items()) or 'no inputs'}", "",
           "vmcore per policy (predicted RAM in the vmcore, page-rounded):"]
    rows = [("policy", "A", "B", "delta", "capture")] + policy_rows(diff)
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    out += ["  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
            for r in rows]
    if diff.dump is not None:
        out.append("")
        for side, s in (("A", diff.dump.a), ("B", diff.dump.b)):
            if s is not None:
                out.append(f"dump {side} {s.path}: present {exact_size(s.present_bytes)} "
                           f"of {exact_size(s.covered_bytes)} covered (in this dump)")
        out += [f"  {line}" for line in projected_lines(diff) + dump_lines(diff.dump)]
    changed = diff.changed_pairs
    matched = ", ".join(f"{k} {n}" for k, n in diff.match_counts.items() if n)
    out += ["", f"Regions: {len(changed)} changed of {len(diff.pairs)}" + (f" (matched by {matched})" if matched else "")]
    out += [f"  {pair_range(p):<27} {pair_title(p)}  [{p.match}]  {pair_text(p)}" for p in changed]
    lines = finding_lines(diff)
    if lines:
        out += ["", "Findings:"] + [f"  {line}" for line in lines]
    return "\n".join(out) + "\n"
