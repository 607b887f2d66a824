"""The external tools (cpp, dtc, fdtoverlay, patch), run one bounded way.

Every run: stdin is /dev/null (a source that says `#include "/dev/stdin"` reads
nothing), every path is made absolute and put after `--` where the tool's getopt
takes it (cpp does not: an absolute path never starts with `-`, so a file named
`-ovictim.txt` is a file, not `-o victim.txt`), and the tool runs under a shell
`ulimit` for address space, CPU time and file size (stdout and stderr go to files,
so the size limit caps them too — `/incbin/("/dev/zero")` or a 2^24-fold macro
expansion ends with SIGXFSZ or ENOMEM instead of filling memory). A wall-clock
timeout kills the whole process group (cpp runs cc1 as a child). Failures are one
InputError line. `ulimit` in a shell rather than `preexec_fn`: the TUI runs exports
in a thread, where preexec_fn is unsafe.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from memmap_tui.sources.errors import InputError

TIMEOUT_S = 20.0                    # wall clock; a real board's cpp + dtc takes < 1 s
CPU_LIMIT_S = 20
MEMORY_LIMIT_BYTES = 256 << 20       # address space per tool process
OUTPUT_LIMIT_BYTES = 64 << 20       # any one file a tool writes (stdout, stderr, -o)


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    package: str              # Debian package that ships it
    end_of_options: bool      # its getopt accepts `--` before the paths


TOOLS = {t.name: t for t in (
    Tool("cpp", "cpp", end_of_options=False),          # gcc's driver rejects `--`
    Tool("dtc", "device-tree-compiler", end_of_options=True),
    Tool("fdtoverlay", "device-tree-compiler", end_of_options=True),
    Tool("patch", "patch", end_of_options=True),
    Tool("git", "git", end_of_options=False),        # `rev-parse` takes no paths here
)}



def _limits_script() -> str:
    """The shell applies the limits, then becomes the tool ("$0" "$@"): limits are
    inherited by everything the tool starts. Each limit is ours or the caller's hard
    limit, whichever is lower: raising past a hard limit fails (`ulimit: error setting
    limit`), which would break every DTS compile under a `ulimit -v` shell or container."""
    import resource

    def capped(which: int, ours: int) -> int:
        hard = resource.getrlimit(which)[1]
        return ours if hard == resource.RLIM_INFINITY else min(ours, hard)
    kib = capped(resource.RLIMIT_AS, MEMORY_LIMIT_BYTES) // 1024
    cpu = capped(resource.RLIMIT_CPU, CPU_LIMIT_S)
    blocks = capped(resource.RLIMIT_FSIZE, OUTPUT_LIMIT_BYTES) // 512
    return f'ulimit -v {kib} && ulimit -t {cpu} && ulimit -f {blocks} && exec "$0" "$@"'


@dataclass(frozen=True, slots=True)
class ToolRun:
    returncode: int
    stdout: bytes
    stderr: bytes

    def first_line(self) -> str:
        """The first stderr line that is not a warning (dtc warns before it errs)."""
        lines = [ln.strip() for ln in self.stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
        for line in lines:
            if not line.lower().startswith("warning") and ": warning" not in line.lower():
                return line
        return lines[0] if lines else f"exit status {self.returncode}"


def require(name: str, why: str) -> str:
    """Full path of a tool, or an InputError saying which package ships it."""
    exe = shutil.which(name)
    if exe is None:
        raise InputError(None, f"{name} not found on PATH; it is needed to {why} "
                               f"(Debian/Ubuntu: apt-get install {TOOLS[name].package})")
    return exe


def run(name: str, options: list[str], paths: list[str | os.PathLike], *, why: str,
        where: str | None = None, timeout_s: float = TIMEOUT_S) -> ToolRun:
    """Run tool `name` with `options`, then the `paths` (absolute, after `--`).

    Raises InputError (naming `where`) when the tool hits a limit; a non-zero exit
    is returned for the caller to word.
    """
    exe = require(name, why)
    args = [exe, *options]
    if TOOLS[name].end_of_options:
        args.append("--")
    args += [os.path.abspath(p) for p in paths]
    with tempfile.TemporaryDirectory(prefix=f"memmap-tui-{name}-") as tmp:
        out_path, err_path = Path(tmp, "stdout"), Path(tmp, "stderr")
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            proc = subprocess.Popen(["/bin/sh", "-c", _limits_script(), *args], stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=err, start_new_session=True)
            try:
                rc = proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                raise InputError(where, f"{name} did not finish within {timeout_s:g} s; stopped") from None
            except BaseException:   # KeyboardInterrupt, SystemExit from a signal: no orphan left
                _kill_group(proc)
                raise
        result = ToolRun(rc, out_path.read_bytes(), err_path.read_bytes()[:64 << 10])
    if rc in (-signal.SIGXFSZ, 128 + signal.SIGXFSZ):
        raise InputError(where, f"{name} output exceeds {OUTPUT_LIMIT_BYTES >> 20} MiB; stopped")
    if rc in (-signal.SIGXCPU, -signal.SIGKILL, 128 + signal.SIGXCPU):
        raise InputError(where, f"{name} used more than {CPU_LIMIT_S} s of CPU; stopped")
    if rc < 0:
        raise InputError(where, f"{name} was killed by signal {-rc} "
                                f"(limits: {MEMORY_LIMIT_BYTES >> 20} MiB memory, "
                                f"{OUTPUT_LIMIT_BYTES >> 20} MiB output)")
    return result


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def checked(name: str, options: list[str], paths: list[str | os.PathLike], *, why: str,
            where: str | None = None) -> bytes:
    """`run()` that turns a non-zero exit into `InputError(where, "NAME failed: first line")`."""
    result = run(name, options, paths, why=why, where=where)
    if result.returncode:
        raise InputError(where, f"{name} failed: {result.first_line()}")
    return result.stdout
