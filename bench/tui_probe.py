"""One TUI session as a whole process, for bench/run.py: first paint and key → repaint.

    python bench/tui_probe.py BOARD.dtb [--ram 8G@0x80000000] [--presses 11]

Prints one JSON line. `first_paint_s` counts from interpreter start (imports included)
to the first completed refresh of the screen; each key figure is from `pilot.press("n")`
(toggle linux,no-dump on the selected carveout) until the refresh that follows it has
been composited (`call_after_refresh` fires only after the screen's next update).
"""

from __future__ import annotations

import time

T_START = time.perf_counter()

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402


async def _after_refresh(app) -> None:
    done = asyncio.get_running_loop().create_future()
    app.call_after_refresh(lambda: done.done() or done.set_result(None))
    await done


async def session(dtb: str, ram: tuple[str, ...], presses: int, size=(200, 60)) -> dict:
    from memmap_tui.inputs import Options, load
    from memmap_tui.tui.app import MemmapApp

    loaded = load(Options(dtb=dtb, ram=ram))
    app = MemmapApp(loaded)
    out: dict = {"regions": len(loaded.mm.regions)}
    async with app.run_test(size=size) as pilot:
        await _after_refresh(app)
        out["first_paint_s"] = time.perf_counter() - T_START
        target = next((r for r in loaded.mm.regions if r.placed and r.kind.value != "memreserve"), None)
        if target is not None:
            from memmap_tui.tui import selection
            app.select(selection.region(target.id))
            await pilot.pause()
        keys, cpu = [], []
        for _ in range(presses):
            t0, c0 = time.perf_counter(), time.process_time()
            await pilot.press("n")
            await _after_refresh(app)
            keys.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        out["key_s"] = keys
        out["key_cpu_s"] = cpu  # the wall figure includes Pilot's own idle waits
        out["target"] = target.id if target else None
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dtb")
    ap.add_argument("--ram", action="append", default=None)
    ap.add_argument("--presses", type=int, default=11)
    a = ap.parse_args()
    print(json.dumps(asyncio.run(session(a.dtb, tuple(a.ram or ["8G@0x80000000"]), a.presses))))


if __name__ == "__main__":
    main()
