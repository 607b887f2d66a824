"""Regenerate the README screenshots: SVG from Textual's own exporter, PNG via rsvg-convert.

    python screenshots/make_screenshots.py [--out screenshots/]

Needs `rsvg-convert` (Debian/Ubuntu: librsvg2-bin) for the PNGs; the SVGs need nothing.
Inputs: the demo board (sample-data), one corpus board (sm8450-hdk, 43 carveouts) and
the real arm64 boot with its makedumpfile -d 31 dump (the band map's dump column). Every input
is opened by a path relative to where a user would stand (the repository, or the corpus
folder), so no screenshot shows this machine's directories.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from memmap_tui.inputs import Options, load  # noqa: E402
from memmap_tui.tui import selection as sel  # noqa: E402
from memmap_tui.tui.app import MemmapApp  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus"


def demo():
    os.chdir(REPO)
    return load(Options(dtb="sample-data/board.dtb", iomem="sample-data/iomem.txt", dmesg="sample-data/dmesg.txt"))


def sm8450():
    os.chdir(CORPUS)
    return load(Options(dtb="dtb/qcom/sm8450-hdk.dtb", ram=("8G@0x80000000",)))


def real_boot_with_dump():
    os.chdir(CORPUS)
    return load(Options(dtb="dtb/qemu/virt-aarch64-1G-rsv.dtb", iomem="iomem/aarch64-qemu-virt-guest.txt",
                        dmesg="boot/console.log", vmcore="vmcore/qemu-aarch64.d31.kdump.meta-only"))


async def shoot(loaded, name: str, out: Path, size=(120, 40), keys: tuple[str, ...] = (), select: str | None = None,
                clear_toasts: bool = True, theme: str | None = None) -> Path:
    app = MemmapApp(loaded)
    async with app.run_test(size=size, notifications=not clear_toasts) as pilot:
        await pilot.pause()
        if theme:
            app.theme = theme
            await pilot.pause()
        if select:
            app.select(sel.region(select))
            await pilot.pause()
        for k in keys:
            await pilot.press(k)
            await pilot.pause()
        if clear_toasts:
            app.clear_notifications()
        await pilot.pause(0.2)
        path = out / f"{name}.svg"
        app.save_screenshot(filename=path.name, path=str(out))
    return path


def fix_svg_for_rsvg(svg: str) -> str:
    """rsvg drops leading no-break spaces inside a `textLength` run; move them into `x`."""
    def move(m: re.Match) -> str:
        x, length, spaces = float(m.group(2)), float(m.group(4)), m.group(6)
        n = spaces.count("&#160;")
        text_cells = n + len(m.group(7).replace("&#160;", " ").replace("&amp;", "&").replace("&lt;", "<")
                             .replace("&gt;", ">").replace("&#x27;", "'").replace("&quot;", '"'))
        cell = length / text_cells if text_cells else 0
        return (f'{m.group(1)}{x + n * cell:g}{m.group(3)}{length - n * cell:g}{m.group(5)}{m.group(7)}</text>')
    return re.sub(r'(<text [^>]*?x=")([\d.]+)("[^>]*?textLength=")([\d.]+)("[^>]*>)((?:&#160;)+)([^<]+)</text>',
                  move, svg)


def to_png(svg: Path) -> Path | None:
    tool = shutil.which("rsvg-convert")
    if tool is None:
        print("rsvg-convert not found (apt install librsvg2-bin): SVG only", file=sys.stderr)
        return None
    fixed = svg.with_suffix(".rsvg.svg")
    fixed.write_text(fix_svg_for_rsvg(svg.read_text()))
    png = svg.with_suffix(".png")
    subprocess.run([tool, "-o", str(png), str(fixed)], check=True)
    fixed.unlink()
    return png


async def all_shots(out: Path) -> list[Path]:
    shots = [
        await shoot(demo(), "main", out),
        await shoot(demo(), "details", out, select="/reserved-memory/camera@a4000000", keys=("n",),
                    clear_toasts=False),
        await shoot(demo(), "help", out, keys=("question_mark",)),
        await shoot(demo(), "export", out, select="/reserved-memory/camera@a4000000", keys=("n", "e")),
        await shoot(demo(), "narrow-80x24", out, size=(80, 24), select="/reserved-memory/npu@98000000"),
        await shoot(demo(), "light", out, select="/reserved-memory/camera@a4000000", keys=("n",),
                    theme="textual-light"),
    ]
    if (CORPUS / "dtb/qcom/sm8450-hdk.dtb").exists():
        shots.append(await shoot(sm8450(), "sm8450-hdk", out, size=(200, 60), keys=("p", "p"),
                                 select="/reserved-memory/memory@85e00000"))
    if (CORPUS / "vmcore/qemu-aarch64.d31.kdump.meta-only").exists():
        # the support engineer's view: the real boot and its makedumpfile -d 31 dump
        shots.append(await shoot(real_boot_with_dump(), "vmcore", out, select="/reserved-memory/gpu-mem@50000000"))
    if (CORPUS / "dtb/qcom/sdm845-oneplus-enchilada.dtb").exists():
        shots.append(await diff_shot(out))
    return shots


async def diff_shot(out: Path, size=(200, 60)) -> Path:
    """`memmap-tui diff` on two boards of one SoC (sdm845 db845c → oneplus-enchilada), on the
    second change; corpus paths relative to the working directory, as a user types them."""
    from memmap_tui.diff_run import compare, load_side
    from memmap_tui.tui.diff_app import DiffApp
    rel = os.path.relpath(CORPUS / "dtb/qcom")
    a = load_side(Options(dtb=f"{rel}/sdm845-db845c.dtb", ram=("4G@0x80000000",)))
    b = load_side(Options(dtb=f"{rel}/sdm845-oneplus-enchilada.dtb", ram=("4G@0x80000000",)))
    app = DiffApp(a, b, compare(a, b))
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        await pilot.press("n")
        await pilot.pause(0.2)
        path = out / "diff.svg"
        app.save_screenshot(filename=path.name, path=str(out))
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for svg in asyncio.run(all_shots(out)):
        png = to_png(svg)
        print(f"wrote {svg}" + (f" and {png.name}" if png else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
