"""SIGTERM and SIGHUP as exceptions, so that `finally` blocks (temp-file cleanup) run.

Python's default action for both kills the process on the spot; KeyboardInterrupt
(SIGINT) already unwinds. Standard library only: the CLI imports this at start-up.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator


class Terminated(BaseException):
    """SIGTERM/SIGHUP arrived: unwinds like KeyboardInterrupt so every cleanup runs."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.exit_status = 128 + signum


@contextlib.contextmanager
def signals_raise() -> Iterator[None]:
    """While exporting from the main thread, SIGTERM and SIGHUP raise `Terminated`
    (Python's default for them kills the process without running `finally`)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, _frame):
        raise Terminated(signum)

    old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
