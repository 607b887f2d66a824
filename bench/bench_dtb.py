#!/usr/bin/env python3
"""Time our DTB loading against `dtc -I dtb -O dts` on the same files.

Files: the largest corpus DTBs by content (header struct + strings size; QEMU's
blobs are padded to 1 MiB, so the largest padded one is added separately) and a
generated 5,000-node DTB (bench/gen_dtb.py). For each file, best of N runs:

- `parse_fdt`  memmap_tui.sources.fdt_blob.parse_fdt(bytes): the one-pass reader
- `load_dtb`   memmap_tui.sources.dtb.load_dtb(path): file read + parse + decode to regions
- `dtc`        `dtc -I dtb -O dts -o /dev/null FILE` (a process: includes exec + startup)
- `fdt`        fdt.parse_dtb(bytes) (PyPI fdt 0.3.3), for information; O(n²) in children

ratio = load_dtb / dtc (< 1: we load faster than dtc decompiles).

    python3 bench/bench_dtb.py [--runs 7] [--top 5] [--no-fdt] [--corpus DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import struct
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

from gen_dtb import generate  # noqa: E402
from memmap_tui.sources.fdt_blob import parse_fdt  # noqa: E402

try:  # lands with the lead's loader; the bench still runs without it
    from memmap_tui.sources.dtb import load_dtb  # noqa: E402
except ImportError:  # pragma: no cover
    load_dtb = None

DEFAULT_CORPUS = Path(os.environ.get("MEMMAP_CORPUS", REPO.parent / "shared" / "corpus"))


def content_size(path: Path) -> int:
    """Bytes of structure + strings: what a reader actually walks (padding excluded)."""
    head = path.read_bytes()[:40]
    if len(head) < 40 or struct.unpack(">I", head[:4])[0] != 0xD00DFEED:
        return 0
    size_dt_strings, size_dt_struct = struct.unpack(">II", head[32:40])
    return size_dt_strings + size_dt_struct


def pick_files(corpus: Path, top: int) -> list[Path]:
    dtbs = sorted(corpus.glob("dtb/*/*.dtb"))
    by_content = sorted(dtbs, key=lambda p: (-content_size(p), str(p)))[:top]
    by_file = sorted(dtbs, key=lambda p: (-p.stat().st_size, str(p)))
    padded = [p for p in by_file if p not in by_content][:1]
    return by_content + padded


def best_of(fn, runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def time_dtc(path: Path, runs: int) -> float:
    def run():
        subprocess.run(["dtc", "-q", "-I", "dtb", "-O", "dts", "-o", os.devnull, str(path)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return best_of(run, runs)


def time_fdt(data: bytes, runs: int) -> float | None:
    try:
        import fdt
    except ImportError:
        return None
    # fdt 0.3.3 appends every tree's /memreserve/ entries to one shared default list
    # (packages.md #1): harmless for timing, a few entries per run.
    def run():
        fdt.parse_dtb(data)
    try:
        return best_of(run, runs)
    except Exception:  # FDT_NOP etc. (packages.md #2): report, don't abort the bench
        return None


def ms(t: float | None) -> str:
    return f"{'-':>8}" if t is None else f"{t * 1e3:8.2f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7, help="best of N (7)")
    ap.add_argument("--fdt-runs", type=int, default=3, help="best of N for fdt.parse_dtb (3)")
    ap.add_argument("--top", type=int, default=5, help="largest corpus DTBs by content (5)")
    ap.add_argument("--no-fdt", action="store_true", help="skip fdt.parse_dtb")
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--nodes", type=int, default=5000)
    ap.add_argument("--reserved", type=int, default=1000)
    args = ap.parse_args(argv)
    if shutil.which("dtc") is None:
        print("bench_dtb.py: dtc not found (apt-get install device-tree-compiler)", file=sys.stderr)
        return 2

    files = pick_files(args.corpus, args.top) if args.corpus.is_dir() else []
    files.append(generate(args.nodes, args.reserved))

    header = (f"{'file':<44} {'bytes':>9} {'content':>9} {'nodes':>6} {'parse_fdt':>9} "
              f"{'load_dtb':>9} {'dtc':>9} {'fdt':>9} {'ratio':>6}")
    print(f"best of {args.runs} runs (fdt: {args.fdt_runs}), milliseconds; "
          f"ratio = load_dtb / dtc")
    print(header)
    print("-" * len(header))
    ratios = []
    for path in files:
        data = path.read_bytes()
        blob = parse_fdt(data)
        t_parse = best_of(lambda: parse_fdt(path.read_bytes()), args.runs)
        t_load = best_of(lambda: load_dtb(str(path)), args.runs) if load_dtb else None
        t_dtc = time_dtc(path, args.runs)
        t_fdt = None if args.no_fdt else time_fdt(data, args.fdt_runs)
        ours = t_load if t_load is not None else t_parse
        ratio = ours / t_dtc
        ratios.append(ratio)
        name = str(path.relative_to(args.corpus / "dtb")) if path.is_relative_to(args.corpus) \
            else path.name
        print(f"{name:<44} {len(data):>9} {content_size(path):>9} {len(blob.nodes_by_path):>6} "
              f"{ms(t_parse)} {ms(t_load)} {ms(t_dtc)} {ms(t_fdt)} {ratio:6.2f}")
    print("-" * len(header))
    print(f"ratio (ours/dtc): median {statistics.median(ratios):.2f}, worst {max(ratios):.2f}"
          + ("" if load_dtb else "  [load_dtb missing: parse_fdt used]"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
