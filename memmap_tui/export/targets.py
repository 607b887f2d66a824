"""Where exports may be written, and writing them so that nothing is ever half done.

A target is refused when it is any input — the DTB, `--iomem`, `--dmesg`, `--vmcore`,
the `.dts` and every file it includes — by path or by inode (hard and symbolic links
included), when it exists and is not a regular file (a FIFO, a device such as
/dev/null, a directory, a symlink: never replaced by a file), or when its directory
cannot take a new file. Writing stages every output as a temp file beside its target,
reads it back, then renames all of them; the temp files are removed on every exit path
(an error, KeyboardInterrupt, and SIGTERM/SIGHUP under `termination.signals_raise()`).
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path
from typing import Iterable

from memmap_tui.sources.errors import InputError

PathLike = str | os.PathLike


def same_file(a: PathLike, b: PathLike) -> bool:
    """Same path after resolving links, or the same inode."""
    pa, pb = Path(a), Path(b)
    try:
        if pa.resolve() == pb.resolve():
            return True
        sa, sb = os.stat(pa), os.stat(pb)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def check_target(out: PathLike, inputs: Iterable[PathLike]) -> Path:
    """The target as a Path, or InputError saying why it must not be written."""
    target = Path(out)
    for src in inputs:
        if same_file(target, src):
            raise InputError(str(out), f"is an input ({src}); refusing to overwrite an input file; "
                                       "choose another output name")
    _check_kind(target)
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(str(out), f"directory {parent} does not exist")
    # Probe by creating a file: os.access() says yes to root on read-only mounts and procfs.
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".probe", dir=parent)
    except OSError as exc:
        raise InputError(str(out), f"directory {parent} is not writable ({exc.strerror or exc})") from None
    os.close(fd)
    _unlink(probe)
    return target


def _check_kind(target: Path) -> None:
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        return                                   # a new path
    except OSError as exc:
        raise InputError(str(target), exc.strerror or str(exc)) from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(str(target), "is a directory")
    if stat.S_ISLNK(st.st_mode):
        raise InputError(str(target), "is a symbolic link; refusing to replace it (give the real path)")
    if not stat.S_ISREG(st.st_mode):
        raise InputError(str(target), "exists and is not a regular file (a FIFO, socket or device); "
                                      "refusing to replace it")


def exists(target: PathLike) -> bool:
    return os.path.lexists(target)


class AtomicWriter:
    """Stage every output as a temp file beside its target, then rename all at once.

    Nothing appears under a target name unless every output was staged and read back
    equal; any failure (or interruption) removes the temp files.
    """

    def __init__(self) -> None:
        self._staged: list[tuple[str, Path, bytes]] = []

    def __enter__(self) -> "AtomicWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.abort()        # after commit() there is nothing staged left to remove

    def stage(self, target: Path, data: bytes) -> None:
        fd, tmp = -1, None
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or ".")
            self._staged.append((tmp, target, data))
            with os.fdopen(fd, "wb") as f:
                fd = -1
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            if exists(target):
                os.chmod(tmp, os.stat(target).st_mode & 0o7777)
            else:
                umask = os.umask(0)
                os.umask(umask)
                os.chmod(tmp, 0o666 & ~umask)
            if _read(tmp) != data:
                raise InputError(str(target), "verification failed: the file read back differs; nothing written")
        except OSError as exc:
            raise InputError(str(target), f"cannot write: {exc.strerror or exc}") from None
        finally:
            if fd >= 0:
                os.close(fd)

    def commit(self) -> list[Path]:
        done = []
        for tmp, target, data in self._staged:
            _check_kind(target)                   # still a new path or a regular file
            try:
                os.replace(tmp, target)
            except OSError as exc:
                raise InputError(str(target), f"cannot write: {exc.strerror or exc}") from None
            done.append(target)
        for _tmp, target, data in self._staged:
            if _read(target) != data:
                raise InputError(str(target), "verification failed: the written file reads back differently")
        self._staged = []
        return done

    def abort(self) -> None:
        for tmp, _target, _data in self._staged:
            _unlink(tmp)
        self._staged = []


def write_all(staged: Iterable[tuple[Path, bytes]], inputs: Iterable[PathLike]) -> list[Path]:
    """Check each target again (inputs included), stage, verify, rename; all or nothing."""
    inputs = list(inputs)
    with AtomicWriter() as writer:
        for target, data in staged:
            writer.stage(check_target(target, inputs), data)
        return writer.commit()


def _read(path: PathLike) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise InputError(str(path), f"cannot read back: {exc.strerror or exc}") from None


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
