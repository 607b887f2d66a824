"""One private temporary directory per process for inputs that are not plain files
(stdin, members of a bundle, decompressed text). Removed at exit; inputs are never
written to."""

from __future__ import annotations

import atexit
import os

_dir: str | None = None


def scratch_path(name: str) -> str:
    """A fresh path inside the private directory (`name` is ours, never a member name)."""
    global _dir
    if _dir is None:
        import shutil  # tempfile and shutil only once a scratch file is needed (start-up)
        import tempfile
        _dir = tempfile.mkdtemp(prefix="memmap-tui-")
        atexit.register(shutil.rmtree, _dir, True)
    path = os.path.join(_dir, name)
    base, n = path, 1
    while os.path.exists(path):
        n += 1
        path = f"{base}.{n}"
    return path


def write_scratch(name: str, data: bytes) -> str:
    path = scratch_path(name)
    with open(path, "wb") as f:
        f.write(data)
    return path
