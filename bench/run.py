#!/usr/bin/env python3
"""The benchmark: what users run, as whole processes, beside a reference tool in the same run.

    python bench/run.py                 # everything (inputs generated once into /tmp/memmap-bench)
    python bench/run.py --quick         # 3 repeats, smaller scale curves
    python bench/run.py --big           # adds the 16 TiB kdump (generates ~3 GB of metadata)
    python bench/run.py --only startup,elf

Every figure is the median wall time of N runs of the command `memmap-tui …` as its own
process (interpreter start and imports included), A/B-interleaved with its anchor — `dtc
-I dtb -O dts`, `readelf -lW`, or `dd` of the bytes a reader must at least read — so both
see the same machine load. Peak RSS is the measured process's own (bench/measure.py: via
wait4 in a 1 MiB intermediate, never the ru_maxrss a child inherits across exec). Scale
curves print the growth exponent between neighbouring points (1.0 = linear, 2.0 =
quadratic), on the raw time and on the time above the smallest point (start-up removed).
Where a target is missed the table prints the gap.
"""

from __future__ import annotations

import argparse
import compileall
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import fdt_build as fb  # noqa: E402
import gen_dumps as gd  # noqa: E402
import measure  # noqa: E402

CORPUS = Path(os.environ.get("MEMMAP_CORPUS", REPO.parent / "shared" / "corpus"))
OUT = Path(os.environ.get("MEMMAP_BENCH_DIR", "/tmp/memmap-bench"))
SM8450 = CORPUS / "dtb/qcom/sm8450-hdk.dtb"
PY = sys.executable
CASE_TIMEOUT_S = 120.0


def memmap(*args: str) -> list[str]:
    return [PY, "-m", "memmap_tui", *map(str, args)]


def dd(path: Path, nbytes: int) -> list[str]:
    """Read the first `nbytes` of `path`: the physical floor of a reader that must see them."""
    mib = max(1, -(-nbytes // (1 << 20)))
    return ["dd", f"if={path}", "of=/dev/null", "bs=1M", f"count={mib}", "status=none"]


@dataclass
class Row:
    name: str
    median_s: float | None
    rss_mib: float
    runs: int
    anchor: str = ""
    anchor_s: float | None = None
    target_s: float | None = None
    target_ratio: float | None = None
    note: str = ""
    rc: int | None = 0
    extra: dict = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.median_s is None or not self.anchor_s:
            return None
        return self.median_s / self.anchor_s

    def gap(self) -> str:
        out = []
        if self.median_s is None:
            return f"no result ({self.note})"
        if self.target_s is not None and self.median_s > self.target_s:
            out.append(f"+{(self.median_s - self.target_s) * 1000:.0f} ms over {self.target_s * 1000:.0f} ms")
        if self.target_ratio is not None and self.ratio is not None and self.ratio > self.target_ratio:
            out.append(f"{self.ratio:.1f}× > {self.target_ratio:.0f}×")
        if self.extra.get("rss_target") and self.rss_mib > self.extra["rss_target"]:
            out.append(f"RSS {self.rss_mib:.0f} > {self.extra['rss_target']} MiB")
        return "; ".join(out) if out else ("ok" if self.target_s or self.target_ratio or self.extra.get("rss_target") else "")


def timed(name: str, cmd: list[str], *, anchor: tuple[str, list[str]] | None = None, reps: int = 5,
          target_s: float | None = None, target_ratio: float | None = None, rss_target: int | None = None,
          budget_s: float = 60.0) -> Row:
    """Median of `reps` interleaved runs (anchor, command, anchor, command, …). A command that
    takes longer than `budget_s` in total stops early (the runs made are reported)."""
    times, anchor_times, rss = [], [], []
    rc: int | None = 0
    spent = 0.0
    for _ in range(reps):
        if anchor:
            a = measure.run(anchor[1], timeout_s=CASE_TIMEOUT_S)
            if not a.timed_out:  # a reference tool that times out gives no ratio (dtc at 50k children)
                anchor_times.append(a.wall_s)
        m = measure.run(cmd, timeout_s=CASE_TIMEOUT_S)
        if m.timed_out or m.returncode not in (0, 1):
            rc = m.returncode
            note = "timed out" if m.timed_out else f"exit {m.returncode}: {m.stderr.decode(errors='replace').strip()[-120:]}"
            return Row(name, None, m.rss_mib, len(times), anchor[0] if anchor else "", None,
                       target_s, target_ratio, note=note, rc=rc)
        times.append(m.wall_s)
        rss.append(m.rss_mib)
        spent += m.wall_s
        if spent > budget_s and len(times) >= 1:
            break
    return Row(name, statistics.median(times), max(rss), len(times), anchor[0] if anchor else "",
               statistics.median(anchor_times) if anchor_times else None, target_s, target_ratio,
               extra={"rss_target": rss_target} if rss_target else {})


# -- inputs (generated once, reused) -------------------------------------------------------------

def _cached(path: Path, make) -> Path:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".part")
        make(tmp)
        tmp.rename(path)
    return path


def dtb_with_children(n: int) -> Path:
    kids = [fb.carveout(i, 0x80000000 + i * 0x200000, 0x100000, no_map=i % 3 == 0) for i in range(n)]
    return _cached(OUT / f"reserved-{n}.dtb", lambda p: p.write_bytes(fb.build(fb.reserved_board(
        kids, memory=(0x80000000, max(1 << 32, (n + 1) * 0x200000))))))


def dtb_with_memreserve(n: int) -> Path:
    rsv = [(0x80000000 + i * 0x2000, 0x1000) for i in range(n)]
    return _cached(OUT / f"memreserve-{n}.dtb", lambda p: p.write_bytes(fb.build(fb.reserved_board([]), rsv)))


def elf_with_loads(n: int) -> Path:
    return _cached(OUT / f"elf-{n}.core", lambda p: gd.gen_elf_10k(str(p), n))


def kdump_with_runs(runs: int) -> tuple[Path, int]:
    """64 GiB of 4 KiB pages; the 2nd bitmap has `runs` separate dumped pages (`runs` bit runs)."""
    max_mapnr = 1 << 24
    nbytes = max_mapnr // 8
    bm2 = bytearray(nbytes)
    stride = max_mapnr // runs
    for pfn in range(0, max_mapnr, stride):
        bm2[pfn >> 3] |= 1 << (pfn & 7)
    pieces, size, exp = gd.kdump_image(block_size=4096, max_mapnr=max_mapnr, bitmap1=b"\xff" * nbytes,
                                       bitmap2=bytes(bm2), page_size=4096)
    path = OUT / f"kdump-runs-{runs}.kdump"

    def make(p: Path) -> None:
        gd.write_sparse(str(p), b"", size, pieces)
    _cached(path, make)
    return path, exp["zero_off"]


def kdump_ram(ram_bytes: int, tag: str) -> tuple[Path, int]:
    path = OUT / f"kdump-{tag}.kdump"
    meta = OUT / f"kdump-{tag}.json"
    if not path.exists() or not meta.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        exp = gd.gen_kdump_1t(str(path), ram_bytes=ram_bytes)
        meta.write_text(json.dumps(exp))
    exp = json.loads(meta.read_text())
    return path, exp["desc_off"]


# -- cases ---------------------------------------------------------------------------------------

def case_startup(reps: int) -> list[Row]:
    dtc = ("dtc -I dtb -O dts", ["dtc", "-q", "-I", "dtb", "-O", "dts", "-o", "/dev/null", str(SM8450)])
    return [timed("report --json sm8450-hdk.dtb", memmap("report", "--json", SM8450), anchor=dtc,
                  reps=reps, target_s=0.100, target_ratio=20),
            timed("report (text) sm8450-hdk.dtb", memmap("report", SM8450), anchor=dtc, reps=reps),
            timed("check sm8450-hdk.dtb", memmap("check", SM8450), anchor=dtc, reps=reps)]


def case_elf(reps: int) -> list[Row]:
    rows = []
    for n, target in ((10_000, 0.5), (65_535, 2.0)):
        core = elf_with_loads(n)
        rows.append(timed(f"report --vmcore --json ELF {n:,} PT_LOADs", memmap("report", "--json", "--vmcore", core),
                          anchor=("readelf -lW", ["readelf", "-lW", str(core)]), reps=reps,
                          target_s=target, target_ratio=2 if n == 65_535 else None))
    return rows


def case_kdump(reps: int, big: bool) -> list[Row]:
    rows = []
    sizes = [(1 << 40, "1TiB", 0.3)] + ([(16 << 40, "16TiB", 3.0)] if big else [])
    for ram, tag, target in sizes:
        path, floor = kdump_ram(ram, tag)
        rows.append(timed(f"report --vmcore --json kdump {tag} sparse", memmap("report", "--json", "--vmcore", path),
                          anchor=("dd header+bitmaps", dd(path, floor)), reps=reps, target_s=target,
                          rss_target=150))
    return rows


def case_tui(reps: int) -> list[Row]:
    rows = []
    boards = [("sm8450-hdk", SM8450, 0.016), ("5,000 carveouts", dtb_with_children(5000), 0.050)]
    for label, dtb, key_target in boards:
        paints, keys, cpus, rss = [], [], [], []
        big = "5,000" in label
        for _ in range(3):
            m = measure.run([PY, str(HERE / "tui_probe.py"), str(dtb), "--presses", "3" if big else "7"],
                            timeout_s=CASE_TIMEOUT_S)
            if m.timed_out or m.returncode != 0:
                rows.append(Row(f"TUI {label}", None, m.rss_mib, 0,
                                note="timed out" if m.timed_out else m.stderr.decode(errors="replace").strip()[-120:]))
                break
            r = json.loads(m.stdout.decode().strip().splitlines()[-1])
            paints.append(r["first_paint_s"])
            keys += r["key_s"][1:]  # the first press also warms caches
            cpus += r["key_cpu_s"][1:]
            rss.append(m.rss_mib)
        else:
            rows.append(Row(f"TUI first paint, {label}", statistics.median(paints), max(rss), len(paints),
                            target_s=0.5 if big else None))
            rows.append(Row(f"TUI key n → repaint, {label}", statistics.median(keys), max(rss), len(keys),
                            target_s=key_target,
                            note=f"CPU {statistics.median(cpus) * 1000:.0f} ms (Pilot, 200x60)"))
    return rows


def scale_curve(title: str, points: list[int], make, cmd_for, anchor_for, reps: int) -> list[tuple]:
    out = []
    for n in points:
        inp = make(n)
        row = timed(f"{title} n={n:,}", cmd_for(inp), anchor=anchor_for(inp), reps=reps, budget_s=30)
        out.append((n, row))
    return out


def print_curve(title: str, curve: list[tuple]) -> None:
    print(f"\n{title}")
    print(f"  {'n':>8} {'median':>10} {'RSS':>8} {'anchor':>10}  {'exponent':>9} {'above start':>12}")
    base = curve[0][1].median_s if curve and curve[0][1].median_s is not None else None
    prev = None
    for n, row in curve:
        t = row.median_s
        exp_raw = exp_net = ""
        if prev and t is not None and prev[1] is not None:
            exp_raw = f"{math.log(t / prev[1]) / math.log(n / prev[0]):.2f}"
            if base is not None and t - base > 0 and prev[1] - base > 0:
                exp_net = f"{math.log((t - base) / (prev[1] - base)) / math.log(n / prev[0]):.2f}"
        shown = f"{t * 1000:.0f} ms" if t is not None else row.note
        anchor = f"{row.anchor_s * 1000:.0f} ms" if row.anchor_s else (f"> {CASE_TIMEOUT_S:.0f} s" if row.anchor else "")
        print(f"  {n:>8,} {shown:>10} {row.rss_mib:>6.0f}Mi {anchor:>10}  {exp_raw:>9} {exp_net:>12}")
        prev = (n, t)


def case_scale(reps: int, quick: bool) -> None:
    """Each curve is printed as soon as it is measured."""
    dtc = lambda p: ("dtc", ["dtc", "-q", "-I", "dtb", "-O", "dts", "-o", "/dev/null", str(p)])  # noqa: E731
    report = lambda p: memmap("report", "--json", p)  # noqa: E731
    vmcore = lambda p: memmap("report", "--json", "--vmcore", p)  # noqa: E731
    big = [] if quick else None
    curves = [
        ("reserved-memory children: report --json (anchor dtc)", "children",
         [100, 1000, 10_000] + (big if big is not None else [50_000]), dtb_with_children, report, dtc),
        ("/memreserve/ entries: report --json (anchor dtc)", "memreserve",
         [100, 1000, 10_000], dtb_with_memreserve, report, dtc),
        ("kdump 2nd-bitmap runs (64 GiB RAM): report --vmcore --json (anchor dd of the metadata)", "runs",
         [100, 1000, 10_000] + (big if big is not None else [100_000]), kdump_with_runs,
         lambda pf: vmcore(pf[0]), lambda pf: ("dd", dd(pf[0], pf[1]))),
        ("ELF PT_LOADs: report --vmcore --json (anchor readelf -lW)", "PT_LOADs",
         [100, 1000, 10_000] + (big if big is not None else [65_535]), elf_with_loads, vmcore,
         lambda p: ("readelf", ["readelf", "-lW", str(p)])),
    ]
    for title, short, points, make, cmd_for, anchor_for in curves:
        print_curve(title, scale_curve(short, points, make, cmd_for, anchor_for, reps))
        sys.stdout.flush()


def print_table(rows: list[Row]) -> None:
    head = f"{'case':<46} {'median':>9} {'RSS':>7} {'n':>3}  {'anchor':<18} {'anchor':>8} {'ratio':>7}  gap / target"
    print(head)
    print("-" * len(head))
    for r in rows:
        med = f"{r.median_s * 1000:.1f} ms" if r.median_s is not None else "—"
        anc = f"{r.anchor_s * 1000:.1f} ms" if r.anchor_s else ""
        ratio = f"{r.ratio:.1f}×" if r.ratio else ""
        gap = r.gap()
        if r.note and r.median_s is not None:
            gap = f"{gap}  ({r.note})" if gap else f"({r.note})"
        print(f"{r.name:<46} {med:>9} {r.rss_mib:>5.0f}Mi {r.runs:>3}  {r.anchor:<18} {anc:>8} {ratio:>7}  {gap}")


def byte_compile_package() -> str:
    """Byte-compile the memmap_tui the measured commands import, as pip does at install: without
    __pycache__ (a fresh checkout under PYTHONDONTWRITEBYTECODE=1) every run would compile ~40
    modules from source, ~50 ms that no installed copy pays."""
    where = subprocess.run([PY, "-c", "import memmap_tui, os; print(os.path.dirname(memmap_tui.__file__))"],
                           capture_output=True, text=True, check=False).stdout.strip()
    if not where:
        return "memmap_tui not importable"
    ok = compileall.compile_dir(where, quiet=2)
    return f"bytecode of {where} {'up to date' if ok else 'NOT written (read-only?): runs compile from source'}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="3 repeats, no 50k/65k/100k scale points")
    ap.add_argument("--big", action="store_true", help="add the 16 TiB kdump")
    ap.add_argument("--only", default="", help="comma list of: startup,elf,kdump,tui,scale")
    a = ap.parse_args(argv)
    reps = 3 if a.quick else max(5, a.reps)
    only = set(filter(None, a.only.split(",")))
    want = lambda k: not only or k in only  # noqa: E731
    missing = [t for t in ("dtc", "readelf", "dd") if shutil.which(t) is None]
    if missing:
        print(f"missing reference tools: {', '.join(missing)}", file=sys.stderr)
        return 2
    compiled = byte_compile_package()
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    print(f"memmap-tui bench — commit {commit}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, "
          f"medians of {reps} whole-process runs, A/B-interleaved with the anchor; "
          f"RSS = peak of the measured process ({'wait4 via GNU time' if measure.GNU_TIME else 'inherited: upper bound'}); "
          f"{compiled}\n")
    rows: list[Row] = []
    t0 = time.time()
    if want("startup"):
        rows += case_startup(reps)
    if want("elf"):
        rows += case_elf(reps)
    if want("kdump"):
        rows += case_kdump(reps, a.big)
    if want("tui"):
        rows += case_tui(reps)
    if rows:
        print_table(rows)
    sys.stdout.flush()
    if want("scale"):
        case_scale(reps, a.quick)
    print(f"\n({time.time() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
