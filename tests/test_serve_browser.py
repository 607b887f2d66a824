"""`memmap-tui serve` in a real headless browser: the page loads, the map renders, a key
toggles a carveout, and an export reaches the browser as a download (App.deliver_binary).

Debian's chromium driven by Playwright (never `playwright install`); .ci/run installs
chromium when it is absent. Skips, saying why, only when no browser is available.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("MEMMAP_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed (pip install playwright)")
if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
    pytest.skip(f"no browser: {CHROMIUM} missing (Debian: apt-get install chromium chromium-driver; "
                ".ci/run installs it)", allow_module_level=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path: Path):
    """`memmap-tui serve --demo` in its own process group, exports landing in tmp_path."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "memmap_tui", "serve", "--port", str(port), "--demo"],
                            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("localhost", port), 0.2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("serve did not start: " + proc.stderr.read().decode(errors="replace"))
                time.sleep(0.1)
        yield f"http://localhost:{port}/", tmp_path
    finally:
        os.killpg(proc.pid, signal.SIGTERM)      # the server and the app sessions it started
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wait_for(page, predicate, what: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        page.wait_for_timeout(100)


def test_served_app_renders_toggles_and_downloads_an_export(server):
    url, workdir = server
    frames: list[bytes] = []
    downloads: list[tuple[str | None, bytes]] = []

    def screen_text() -> str:
        """Everything the app sent to the browser's terminal, escapes removed."""
        return since(0)

    def since(mark: int) -> str:
        return ANSI.sub("", b"".join(frames[mark:]).decode("utf-8", "replace"))

    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 900})

            def grab(route):                 # the bytes the browser receives for the download
                response = route.fetch()
                downloads.append((response.headers.get("content-disposition"), response.body()))
                route.fulfill(response=response)
            context.route("**/download/**", grab)
            page = context.new_page()
            page.on("websocket", lambda ws: ws.on(
                "framereceived", lambda f: frames.append(f if isinstance(f, bytes) else f.encode())))
            page.goto(url)

            # the page loads and the map renders (bands, tree and cards of the demo board)
            # (regions are shown by their display name: the camera carveout's label)
            wait_for(page, lambda: "Reserved memory" in screen_text() and "camera_mem" in screen_text(),
                     "the map")
            assert page.locator("#terminal canvas").count() > 0
            assert "unexported toggle" not in screen_text()

            # a key toggles: jump to the camera carveout, `n` (each step waits for the app's
            # answer on the wire: keys typed before the jump box is open would hit bindings)
            page.click("#terminal")
            mark = len(frames)
            page.keyboard.press("/")
            wait_for(page, lambda: "gpu-mem, &linux_cma" in since(mark), "the jump box")
            mark = len(frames)
            page.keyboard.type("camera")
            wait_for(page, lambda: "camera" in since(mark), "the typed name")
            mark = len(frames)
            page.keyboard.press("Enter")
            wait_for(page, lambda: "camera_mem" in since(mark), "the selection")
            page.keyboard.press("n")
            wait_for(page, lambda: "1 unexported toggle" in screen_text(), "the toggle")

            # an export downloads: `e`, ctrl+s -> written on the server and delivered to the browser
            page.keyboard.press("e")
            wait_for(page, lambda: "Output folder" in screen_text(), "the export dialog")
            page.keyboard.press("Control+s")
            wait_for(page, lambda: bool(downloads), "the download")
        finally:
            browser.close()

    disposition, body = downloads[0]
    assert disposition == "attachment; filename=board.no-dump.dtb"
    written = workdir / "board.no-dump.dtb"
    assert body == written.read_bytes()
    from memmap_tui.sources.fdt_blob import parse_fdt
    node = parse_fdt(body).get("/reserved-memory/camera@a4000000")
    assert node is not None and node.props.get("linux,no-dump") == b""
