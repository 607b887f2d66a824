#!/usr/bin/env python3
"""Generate a large synthetic DTB for the loader benchmark (via the real dtc).

Shape: /soc with N device nodes (default 5,000: one parent with thousands of children
is what makes `fdt.parse_dtb` quadratic), each with compatible/reg/interrupts/clocks/
status, plus R more children under /reserved-memory (static no-map, static mapped,
reusable CMA-style pools and dynamic `size` + `alignment` + `alloc-ranges` pools), a
/memory node, /chosen with bootargs and a few /memreserve/ entries.

Deterministic: the DTS text depends only on the arguments.

    python3 bench/gen_dtb.py                      # /tmp/memmap-bench/gen-5000n-1000r.dtb
    python3 bench/gen_dtb.py --nodes 20000 --reserved 64 --out /tmp/x
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

DEFAULT_OUT = Path("/tmp/memmap-bench")
MiB = 1 << 20
MAX_SIBLINGS = 5000


def _c(v: int) -> str:
    return f"0x{v >> 32:x} 0x{v & 0xFFFFFFFF:x}"


def dts_text(nodes: int = 5000, reserved: int = 1000) -> str:
    out = [
        "/dts-v1/;",
        "",
        "/memreserve/ 0x80000000 0x1000;",
        "/memreserve/ 0x80010000 0x10000;",
        "",
        "/ {",
        '\tmodel = "memmap-tui benchmark board";',
        '\tcompatible = "memmap,bench";',
        "\t#address-cells = <2>;",
        "\t#size-cells = <2>;",
        "\tinterrupt-parent = <&gic>;",
        "",
        "\tchosen {",
        '\t\tbootargs = "console=ttyS0 crashkernel=1G cma=64M";',
        "\t};",
        "",
        "\tmemory@80000000 {",
        '\t\tdevice_type = "memory";',
        # 256 GiB from 2 GiB up: room for every carveout below
        f"\t\treg = <{_c(0x8000_0000)} {_c(256 << 30)}>;",
        "\t};",
        "",
        "\treserved-memory {",
        "\t\t#address-cells = <2>;",
        "\t\t#size-cells = <2>;",
        "\t\tranges;",
    ]
    base = 0x1_0000_0000
    for i in range(reserved):
        kind = i % 4
        size = (1 + i % 16) * MiB
        out.append("")
        if kind == 3:   # dynamic pool: no address until boot
            out += [
                f"\t\trsv_dyn{i}: dyn-pool-{i} {{",
                '\t\t\tcompatible = "shared-dma-pool";',
                f"\t\t\tsize = <{_c(size)}>;",
                f"\t\t\talignment = <{_c(4 * MiB)}>;",
                f"\t\t\talloc-ranges = <{_c(0x40_0000_0000 + i * (64 * MiB))} {_c(64 * MiB)}>;",
                "\t\t\treusable;",
                "\t\t};",
            ]
            continue
        out.append(f"\t\trsv{i}: carveout@{base:x} {{")
        if kind == 2:
            out += ['\t\t\tcompatible = "shared-dma-pool";', "\t\t\treusable;"]
        out.append(f"\t\t\treg = <{_c(base)} {_c(size)}>;")
        if kind == 0:
            out.append("\t\t\tno-map;")
        out.append("\t\t};")
        base += 16 * MiB
    out += [
        "\t};",
        "",
        "\tclk24m: clock-24m {",
        '\t\tcompatible = "fixed-clock";',
        "\t\t#clock-cells = <0>;",
        "\t\tclock-frequency = <24000000>;",
        "\t};",
        "",
        "\tsoc {",
        '\t\tcompatible = "simple-bus";',
        "\t\t#address-cells = <2>;",
        "\t\t#size-cells = <2>;",
        "\t\tranges;",
        "",
        "\t\tgic: interrupt-controller@1000000 {",
        '\t\t\tcompatible = "arm,gic-v3";',
        "\t\t\t#interrupt-cells = <3>;",
        "\t\t\t#address-cells = <0>;",
        "\t\t\tinterrupt-controller;",
        f"\t\t\treg = <{_c(0x100_0000)} {_c(0x10000)}>;",
        "\t\t};",
    ]
    # dtc's parser keeps siblings on its bison stack (YYMAXDEPTH 10000: "memory
    # exhausted" near 10,000 siblings), so beyond MAX_SIBLINGS devices go into sub-buses.
    split = nodes > MAX_SIBLINGS
    for i in range(nodes):
        addr = 0x1000_0000 + i * 0x1000
        t = "\t\t\t" if split else "\t\t"
        if split and i % MAX_SIBLINGS == 0:
            if i:
                out.append("\t\t};")
            out += ["", f"\t\tbus{i // MAX_SIBLINGS}: bus@{addr:x} {{",
                    '\t\t\tcompatible = "simple-bus";', "\t\t\t#address-cells = <2>;",
                    "\t\t\t#size-cells = <2>;", "\t\t\tranges;"]
        out += [
            "",
            f"{t}dev{i}: device@{addr:x} {{",
            f'{t}\tcompatible = "memmap,bench-dev{i % 37}", "memmap,bench-dev";',
            f"{t}\treg = <{_c(addr)} {_c(0x1000)}>;",
            f"{t}\tinterrupts = <0 {i % 960} 4>;",
            f"{t}\tclocks = <&clk24m>;",
        ]
        if i % 10 == 0 and reserved:
            # every 4th carveout (kind 0) is static, so its label exists
            target = ((i // 10) % max(1, (reserved + 3) // 4)) * 4
            out.append(f"{t}\tmemory-region = <&rsv{target}>;")
        out += [f'{t}\tstatus = "okay";' if i % 3 else f'{t}\tstatus = "disabled";', f"{t}}};"]
    if split:
        out.append("\t\t};")
    out += ["\t};", "};", ""]
    return "\n".join(out)


def generate(nodes: int = 5000, reserved: int = 1000, out_dir: Path = DEFAULT_OUT) -> Path:
    """Write the DTS and compile it with dtc; return the .dtb path."""
    if shutil.which("dtc") is None:
        raise SystemExit("gen_dtb.py: dtc not found (apt-get install device-tree-compiler)")
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / f"gen-{nodes}n-{reserved}r"
    dts = stem.with_suffix(".dts")
    dtb = stem.with_suffix(".dtb")
    dts.write_text(dts_text(nodes, reserved))
    subprocess.run(["dtc", "-q", "-@", "-I", "dts", "-O", "dtb", "-o", str(dtb), str(dts)],
                   check=True)
    return dtb


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=5000, help="device nodes under /soc (5000)")
    ap.add_argument("--reserved", type=int, default=1000,
                    help="children of /reserved-memory (1000)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"directory ({DEFAULT_OUT})")
    args = ap.parse_args(argv)
    dtb = generate(args.nodes, args.reserved, args.out)
    print(f"{dtb}: {dtb.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
