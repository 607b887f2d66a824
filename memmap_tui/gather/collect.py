"""`memmap-tui collect`: copy what the memory map needs from a running system into a bundle.

The same files, names and manifest as the POSIX-sh script shipped beside this module
(`collect --print-script`, for boards with only busybox): both are driven by
sources/bundle.py BUNDLE_FILES. `root` is `/` on a board and a fake tree in tests.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from importlib import resources

from memmap_tui.sources.bundle import BUNDLE_FILES, DMESG_FILE, KMSG_FILE, MANIFEST_FILE, MEMBER_CAP_BYTES
from memmap_tui.sources.errors import InputError

KMSG_MAX_RECORDS = 1 << 20
SCRIPT = "collect.sh"


def kmsg_to_dmesg(text: str) -> str:
    """/dev/kmsg records (`prio,seq,usec,flags;message`, continuation lines start with a space;
    Documentation/ABI/testing/dev-kmsg) as dmesg prints them: `[    1.234567] message`."""
    out = []
    for line in text.splitlines():
        if not line or line[0] == " ":
            continue
        head, sep, msg = line.partition(";")
        fields = head.split(",")
        if not sep or len(fields) < 3 or not fields[2].isdigit():
            continue
        usec = int(fields[2])
        out.append(f"[{usec // 1000000:5d}.{usec % 1000000:06d}] {msg}")
    return "".join(s + "\n" for s in out)


def _read_kmsg_live() -> str:
    """The kernel log buffer through /dev/kmsg: one record per read, EAGAIN at the end."""
    fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
    records = []
    try:
        for _ in range(KMSG_MAX_RECORDS):
            try:
                rec = os.read(fd, 8192)
            except BlockingIOError:
                break
            except OSError as e:
                if e.errno == errno.EPIPE:    # overwritten while reading: the next record follows
                    continue
                raise
            if not rec:
                break
            records.append(rec.decode("utf-8", "replace"))
    finally:
        os.close(fd)
    return kmsg_to_dmesg("".join(records))


def kernel_log(root: str) -> tuple[str | None, str]:
    """(dmesg text, where it came from | why it could not be read)."""
    if os.path.realpath(root) == "/":
        try:
            return _read_kmsg_live(), "/dev/kmsg"
        except OSError as e:
            why = f"/dev/kmsg: {e.strerror}"
        exe = shutil.which("dmesg")
        if exe:
            try:
                proc = subprocess.run([exe], capture_output=True, timeout=30)
            except (OSError, subprocess.TimeoutExpired) as e:
                return None, f"{why}; dmesg: {e}"
            if proc.returncode == 0 and proc.stdout:
                return proc.stdout.decode("utf-8", "replace"), "dmesg"
            why += f"; dmesg: {proc.stderr.decode('utf-8', 'replace').strip() or 'failed'}"
        return None, why
    path = os.path.join(root, KMSG_FILE)
    try:
        with open(path, "rb") as f:
            return kmsg_to_dmesg(f.read(MEMBER_CAP_BYTES).decode("utf-8", "replace")), "/dev/kmsg"
    except OSError as e:
        return None, f"/dev/kmsg: {e.strerror}"


def _sysctl(root: str, name: str) -> str | None:
    try:
        with open(os.path.join(root, "proc/sys/kernel", name), "rb") as f:
            return f.read(256).decode("utf-8", "replace").strip() or None
    except OSError:
        return None


def collect_to_dir(root: str, dest: str, *, live: bool = False) -> list[str]:
    """Copy the bundle files from `root` into `dest`; returns the manifest lines."""
    is_host = os.path.realpath(root) == "/"
    manifest = ["format=memmap-tui-bundle/1",
                f"kernel_release={_sysctl(root, 'osrelease') or 'unknown'}",
                f"arch={os.uname().machine if is_host else _sysctl(root, 'arch') or 'unknown'}",
                f"page_size={os.sysconf('SC_PAGE_SIZE') if is_host else 'unknown'}",
                f"time={time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}",
                "collector=python", f"euid={os.geteuid()}"]
    if live:
        manifest += ["live=1", f"root={root}"]
    lost = []
    for _role, rel, loss in BUNDLE_FILES:
        src = os.path.join(root, rel)
        try:
            with open(src, "rb") as f:
                data = f.read(MEMBER_CAP_BYTES)
        except OSError as e:
            lost.append(f"unreadable=/{rel}: {'missing' if e.errno == errno.ENOENT else 'not readable'}; lost: {loss}")
            continue
        out = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with open(out, "wb") as f:
            f.write(data)
    log, where = kernel_log(root)
    if log is None:
        lost.append(f"unreadable=/{KMSG_FILE}: not readable; lost: placements and failures from the kernel log")
    else:
        with open(os.path.join(dest, DMESG_FILE), "w") as f:
            f.write(log)
        manifest.append(f"kernel_log={where}")
    manifest += lost
    with open(os.path.join(dest, MANIFEST_FILE), "w") as f:
        f.write("".join(line + "\n" for line in manifest))
    return manifest


def write_bundle(root: str, output: str) -> list[str]:
    """collect into a gzip'd tarball at `output` (atomically)."""
    with tempfile.TemporaryDirectory(prefix="memmap-collect-") as tmp:
        manifest = collect_to_dir(root, tmp)
        part = output + ".part"
        try:
            with tarfile.open(part, "w:gz") as tf:
                for dirpath, _dirs, files in sorted(os.walk(tmp)):
                    for name in sorted(files):
                        full = os.path.join(dirpath, name)
                        tf.add(full, arcname=os.path.relpath(full, tmp))
            os.replace(part, output)
        except OSError as e:
            raise InputError(output, e.strerror or str(e)) from None
    return manifest


def script_text() -> str:
    """The shipped POSIX-sh collector with the file table filled in from BUNDLE_FILES."""
    template = (resources.files("memmap_tui.gather") / SCRIPT).read_text()
    grabs = "\n".join(f'grab "{rel}" "{loss}"' for _role, rel, loss in BUNDLE_FILES)
    return template.replace("@GRABS@", grabs)
