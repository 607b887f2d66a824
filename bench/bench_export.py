#!/usr/bin/env python3
"""Scale curve of `memmap-tui export -o` (whole process) on generated DTBs.

Wide: one node with N property names (each its own strings-table entry) — the case
where the `fdt` library's writer was O(n²) (100k names: 73-156 s). Deep: a chain of
N nested nodes (RecursionError in the recursive writer at 2,000). Each row is one run
of the real command; the DTBs come from tests/fdt_gen.py.

    python3 bench/bench_export.py [--max 100000]
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("fdt_gen", HERE.parent / "tests" / "fdt_gen.py")
fdt_gen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fdt_gen)


def export_seconds(data: bytes, tmp: Path) -> tuple[float, int]:
    src, out = tmp / "in.dtb", tmp / "out.dtb"
    src.write_bytes(data)
    out.unlink(missing_ok=True)
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "memmap_tui", "export", str(src), "--no-dump", "buf@90000000",
                           "-o", str(out)], capture_output=True, text=True)
    return time.perf_counter() - t, proc.returncode


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max", type=int, default=100_000, help="largest N (default 100000)")
    args = ap.parse_args(argv)
    print(f"{'case':<28}{'DTB bytes':>12}{'seconds':>10}{'exit':>6}")
    with tempfile.TemporaryDirectory(prefix="memmap-bench-export-") as d:
        tmp = Path(d)
        n = 1_000
        while n <= args.max:
            data = fdt_gen.board([("many", [(f"p{i:06d}", b"") for i in range(n)], [])])
            secs, rc = export_seconds(data, tmp)
            print(f"{f'{n:,} property names':<28}{len(data):>12,}{secs:>10.2f}{rc:>6}")
            n *= 10
        for depth in (200, 2_000, 20_000):
            data = fdt_gen.board([fdt_gen.deep_chain(depth)])
            secs, rc = export_seconds(data, tmp)
            print(f"{f'{depth:,} levels deep':<28}{len(data):>12,}{secs:>10.2f}{rc:>6}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
