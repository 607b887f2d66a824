"""Run one command as a whole process and measure it: wall time, CPU time, peak RSS.

Peak RSS must be the measured process's own. `ru_maxrss` survives exec(2): a child
forked from a 300 MiB benchmark process reports 300 MiB even for `true`. So the
command is started by a tiny intermediate (GNU `time`, ~1 MiB) that forks it fresh
and reads its rusage with wait4(2); only when GNU time is missing is the command
waited for directly (then `rss_exact` is False and the figure is an upper bound).

Limits: `timeout_s` (wall; the whole process group is killed), `cpu_limit_s`
(RLIMIT_CPU: SIGXCPU) and `mem_limit_bytes` (RLIMIT_AS of the command, so an
allocation past it fails inside the process).
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass

GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else shutil.which("gtime")
_MARK = "@@measure"


@dataclass(slots=True)
class Measured:
    argv: list[str]
    returncode: int | None  # None: killed at the timeout
    wall_s: float
    cpu_s: float
    rss_kib: int
    rss_exact: bool
    stdout: bytes
    stderr: bytes

    @property
    def timed_out(self) -> bool:
        return self.returncode is None

    @property
    def rss_mib(self) -> float:
        return self.rss_kib / 1024


def _limits(mem_limit_bytes: int | None, cpu_limit_s: int | None):
    def apply() -> None:
        if cpu_limit_s:
            resource.setrlimit(resource.RLIMIT_CPU, (cpu_limit_s, cpu_limit_s + 1))
        if mem_limit_bytes:
            resource.setrlimit(resource.RLIMIT_AS, (mem_limit_bytes, mem_limit_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return apply


def run(argv: list[str], *, timeout_s: float = 60.0, mem_limit_bytes: int | None = None,
        cpu_limit_s: int | None = None,
        stdin: bytes | None = None, stdin_path: str | None = None, env: dict | None = None,
        cwd: str | None = None) -> Measured:
    """Run `argv` once; never raises for the command's own failure or hang."""
    wrapped = [GNU_TIME, "-f", _MARK + " %U %S %M %x", "--", *argv] if GNU_TIME else list(argv)
    stdin_f = open(stdin_path, "rb") if stdin_path else (subprocess.PIPE if stdin is not None
                                                         else subprocess.DEVNULL)
    t0 = time.perf_counter()
    proc = subprocess.Popen(wrapped, stdin=stdin_f, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, cwd=cwd, start_new_session=True,
                            preexec_fn=_limits(mem_limit_bytes, cpu_limit_s))
    try:
        out, err = proc.communicate(stdin, timeout=timeout_s)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        timed_out = True
    finally:
        if stdin_path:
            stdin_f.close()
    wall = time.perf_counter() - t0
    rc: int | None = None if timed_out else proc.returncode
    cpu, rss, exact = 0.0, 0, False
    if GNU_TIME:
        head, sep, tail = err.rpartition(_MARK.encode())
        if sep:
            user, system, rss_kib, status = tail.split()[:4]
            cpu, rss, exact = float(user) + float(system), int(rss_kib), True
            lines = head.splitlines(keepends=True)
            last = lines[-1] if lines else b""
            if last.startswith(b"Command terminated by signal"):
                lines.pop()
                rc = None if timed_out else -int(last.split()[-1])
            elif last.startswith(b"Command exited with non-zero status"):
                lines.pop()
                rc = None if timed_out else int(status)
            err = b"".join(lines)
    if not exact:
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        rss = ru.ru_maxrss
    return Measured(list(argv), rc, wall, cpu, rss, exact, out, err)
