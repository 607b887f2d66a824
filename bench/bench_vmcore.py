"""vmcore speed and memory (not a test; prints figures).

    python bench/bench_vmcore.py [--dir /tmp/memmap-bench]

1. `memmap-tui report --vmcore` on a 1 TiB kdump-compressed file (4 KiB pages, 32 MiB per
   bitmap): wall time and peak RSS of the real CLI in a fresh process (goal ≤ 2 s, ≤ 200 MiB).
2. ELF header parse (open_dump) vs `readelf -lW` on an ELF core with 10,000 PT_LOADs.
3. kdump bitmap counting (Bitmap index + per-range counts) vs the bare cost of reading
   the bitmap bytes once.
Files are generated under /tmp (sparse), never in the repo.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import gen_dumps  # noqa: E402


def best(fn, n=5):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def run_child(code: str) -> tuple[float, float, str]:
    """Run python code in a fresh process; return (wall s, peak RSS MiB, stdout)."""
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       cwd=str(HERE.parent))
    wall = time.perf_counter() - t
    if p.returncode:
        raise SystemExit(p.stderr)
    out = p.stdout
    rss = float(out.strip().splitlines()[-1])
    return wall, rss, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default="/tmp/memmap-bench")
    args = ap.parse_args()
    d = Path(args.dir)
    d.mkdir(parents=True, exist_ok=True)
    kd = d / "kdump-1t.kdump"
    elf = d / "elf-10k.core"

    if not kd.exists():
        t = time.perf_counter()
        info = gen_dumps.gen_kdump_1t(str(kd))
        print(f"generated {kd}: {info['descriptors']:,} descriptors, max_mapnr {info['max_mapnr']:,}, "
              f"bitmap {info['bitmap_bytes'] >> 20} MiB each, apparent size {kd.stat().st_size / 2**30:.1f} GiB, "
              f"{time.perf_counter() - t:.1f} s")
    if not elf.exists():
        gen_dumps.gen_elf_10k(str(elf))
    # warm the page cache: we measure parsing, not the disk
    for p in (kd, elf):
        subprocess.run(["cat", str(p)], stdout=subprocess.DEVNULL) if p.stat().st_blocks * 512 < (1 << 31) else None

    # 1. the real CLI report on the 1 TiB kdump file
    code = ("import resource, sys\n"
            "from memmap_tui.cli import main\n"
            f"sys.argv = ['memmap-tui', 'report', '--vmcore', {str(kd)!r}, '--json']\n"
            "import io, contextlib\n"
            "buf = io.StringIO()\n"
            "try:\n"
            "    with contextlib.redirect_stdout(buf):\n"
            "        main()\n"
            "except SystemExit as e:\n"
            "    assert not e.code, e.code\n"
            "print(len(buf.getvalue()))\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n")
    runs = [run_child(code) for _ in range(3)]
    wall, rss, _ = min(runs)
    base_wall, base_rss, _ = run_child("import resource\nimport memmap_tui.cli\n"
                                       "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n")
    print(f"report --vmcore (1 TiB kdump, --json): {wall:.2f} s wall, {rss:.0f} MiB peak RSS "
          f"(interpreter + imports alone: {base_wall:.2f} s, {base_rss:.0f} MiB)  goal ≤ 2 s, ≤ 200 MiB")

    # in-process breakdown
    from memmap_tui.core.dump import account_dump
    from memmap_tui.core.model import MemoryMap
    from memmap_tui.sources.vmcore import open_dump
    t = time.perf_counter()
    lay = open_dump(str(kd))
    t_open = time.perf_counter() - t
    t = time.perf_counter()
    acc = account_dump(MemoryMap(), lay)
    t_acc = time.perf_counter() - t
    tot = acc.totals
    print(f"  open_dump {t_open:.2f} s (bitmaps + one bulk descriptor pass), account_dump {t_acc:.3f} s; "
          f"{tot.descriptors:,} descriptors, covered {tot.covered_bytes / 2**40:.3f} TiB, "
          f"balanced={acc.balanced}")

    # 2. ELF headers vs readelf -lW
    t_ours = best(lambda: open_dump(str(elf)), 5)
    if shutil.which("readelf"):
        t_re = best(lambda: subprocess.run(["readelf", "-lW", str(elf)], stdout=subprocess.DEVNULL), 5)
        print(f"ELF 10,000 PT_LOADs: open_dump {t_ours * 1000:.1f} ms, readelf -lW {t_re * 1000:.1f} ms "
              f"(process incl.), ratio {t_ours / t_re:.2f}")
    else:
        print(f"ELF 10,000 PT_LOADs: open_dump {t_ours * 1000:.1f} ms (readelf not installed)")

    # 3. bitmap counting vs bare read of the bitmap bytes
    from memmap_tui.core.dump import Bitmap
    bm_off = lay.block_size * 2   # header + 1 sub-header block (generator layout)
    nbytes = -(-lay.max_mapnr // 8)
    fd = os.open(str(kd), os.O_RDONLY)

    def bare():
        os.pread(fd, nbytes, bm_off)
        os.pread(fd, nbytes, bm_off + nbytes)

    def counted():
        b1 = Bitmap(os.pread(fd, nbytes, bm_off), lay.max_mapnr)
        b2 = Bitmap(os.pread(fd, nbytes, bm_off + nbytes), lay.max_mapnr)
        step = lay.max_mapnr // 64
        for k in range(64):   # 64 region-sized range queries on each bitmap
            b1.count(k * step + 5, (k + 1) * step - 3)
            b2.count(k * step + 5, (k + 1) * step - 3)
        return b1.total + b2.total

    t_bare = best(bare, 5)
    t_cnt = best(counted, 5)
    os.close(fd)
    print(f"kdump bitmaps ({2 * nbytes >> 20} MiB): read {t_bare * 1000:.1f} ms, read+count+64 ranges "
          f"{t_cnt * 1000:.1f} ms, ratio {t_cnt / t_bare:.2f}")


if __name__ == "__main__":
    main()
