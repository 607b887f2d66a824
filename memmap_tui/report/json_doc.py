"""The `memmap-tui/report/1` JSON document: a plain rendering of the MemoryMap.

Keys named in the schema are exact; extra keys are additive. Integers are bytes,
ranges half-open `{"start", "end"}`.
"""

from __future__ import annotations

import json

from memmap_tui.core.model import MemoryMap
from memmap_tui.core.policies import POLICIES
from memmap_tui.core.policy import PolicyResults, evaluate, toggle_effect
from memmap_tui.core.ranges import RangeSet
from memmap_tui.core.units import capture_seconds

SCHEMA = "memmap-tui/report/1"
LAID_OUT_DEPTH = 2   # containers this shallow get one member per line; deeper ones one line
_ENCODE = json.JSONEncoder(allow_nan=False).encode   # one encoder: json.dumps(allow_nan=...) builds one per call


def to_json(value, depth: int = 0) -> str:
    """JSON text with the top two levels one member per line (a region, a policy, a finding
    per line) and everything deeper compact: each piece goes through json's C encoder,
    which `indent=` would bypass (5× slower on a 10k-region document)."""
    pad, inner = " " * depth, " " * (depth + 1)
    if depth < LAID_OUT_DEPTH and isinstance(value, dict) and value:
        body = ",\n".join(f"{inner}{_ENCODE(k)}: {to_json(v, depth + 1)}" for k, v in value.items())
        return "{\n" + body + "\n" + pad + "}"
    if depth < LAID_OUT_DEPTH and isinstance(value, list) and value:
        body = ",\n".join(inner + to_json(v, depth + 1) for v in value)
        return "[\n" + body + "\n" + pad + "]"
    return _ENCODE(value)


def _ranges(rs: RangeSet | tuple) -> list[dict]:
    pairs = rs.pairs if isinstance(rs, RangeSet) else ((r.start, r.end) for r in rs)
    return [{"start": s, "end": e} for s, e in pairs]


def build_report(mm: MemoryMap, *, write_speed_mbps: float,
                 results: PolicyResults | None = None) -> dict:
    results = results if results is not None else evaluate(mm)
    regions = []
    for r in mm.regions:
        regions.append({
            "id": r.id,
            "kind": str(r.kind),
            "flags": mm.flags(r),
            "ranges": _ranges(r.ranges),
            "size": r.size_bytes,
            "dumped": {p.id: results[p.id].region_dumped.get(r.id, 0) for p in POLICIES},
            # additive keys
            "name": r.name,
            "labels": list(r.labels),
            "compatible": list(r.compatible),
            "reg": _ranges(r.reg),
            "placement": r.placement_source,
            "used_by": list(r.users),
            "no_dump_effect": str(toggle_effect(mm, r)),
        })
    policies = {}
    for p in POLICIES:
        res = results[p.id]
        policies[p.id] = {
            "dumped_bytes": res.dumped_bytes,
            "savings_bytes": res.savings_bytes,
            "capture_seconds": (round(capture_seconds(res.dumped_bytes, write_speed_mbps), 3)
                                if res.dumped_bytes is not None else None),
            "savings_seconds": round(capture_seconds(res.savings_bytes, write_speed_mbps), 3),
        }
    return {
        "schema": SCHEMA,
        "arch": mm.arch,
        "loader": mm.loader,
        "page_size": mm.page_size,
        "ram": _ranges(mm.ram) if mm.ram_known else [],
        "regions": regions,
        "policies": policies,
        "findings": [f.as_dict() for f in mm.findings],
        # additive keys
        "kernel": mm.kernel,
        "ram_source": mm.ram_source,
        "inputs": dict(mm.inputs),
        "write_speed_mbps": write_speed_mbps,
        "no_dump_changes": mm.changed_no_dump(),
    }
