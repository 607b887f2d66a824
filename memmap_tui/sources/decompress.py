"""Streaming decompression of gzip / xz / bzip2 / zstd wrappers, recognised by their magic.

gzip, xz and bzip2 go through the stdlib (zlib, lzma, bz2) in bounded chunks. zstd goes
through the `zstd` command-line tool in a subprocess whose output we read only up to the
cap and then kill: no compiled dependency for a format boards rarely use, and the stdlib
gains zstd only in Python 3.14. Output is never allowed past a cap the caller chooses, so
a decompression bomb ends as one clear error, not an exhausted machine.
"""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Iterator

from memmap_tui.sources.errors import InputError

if TYPE_CHECKING:
    import lzma

CHUNK_BYTES = 1 << 20
# liblzma allocates the dictionary the stream header asks for (up to 4 GiB in a .lzma
# header) before any output: `xz -9e` needs 65 MiB to decode, so more is a damaged or
# hostile header, refused as one error instead of a MemoryError.
LZMA_MEMLIMIT = 80 << 20
MAGICS = (
    (b"\x1f\x8b", "gzip"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"BZh", "bzip2"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)


def compression_of(head: bytes) -> str | None:
    for magic, name in MAGICS:
        if head.startswith(magic):
            return name
    return None


@dataclass(slots=True)
class Unwrapped:
    data: bytes        # the decompressed first stream
    trailing: bytes    # compressed-file bytes after that stream (an appended DTB, say)


def lzma_decoder(kind: str) -> lzma.LZMADecompressor:
    """An "xz" or legacy "lzma" (.lzma, FORMAT_ALONE) decoder bounded by LZMA_MEMLIMIT."""
    import lzma  # here, not at the top: a plain DTB's start-up never needs it
    fmt = {"xz": lzma.FORMAT_XZ, "lzma": lzma.FORMAT_ALONE}[kind]
    return lzma.LZMADecompressor(format=fmt, memlimit=LZMA_MEMLIMIT)


def open_xz_bounded(f: BinaryIO) -> io.BufferedReader:
    """A seekable reader of the xz file `f` (what lzma.LZMAFile gives) whose decoder is
    bounded by LZMA_MEMLIMIT: LZMAFile takes no memlimit, so this builds the reader it is
    made of. Closing it leaves `f` open."""
    import lzma
    try:
        from _compression import DecompressReader  # Python ≤ 3.13
    except ImportError:  # pragma: no cover - 3.14 moved it
        from compression._common._streams import DecompressReader
    return io.BufferedReader(DecompressReader(f, lzma.LZMADecompressor, trailing_error=lzma.LZMAError,
                                              format=lzma.FORMAT_XZ, memlimit=LZMA_MEMLIMIT))


def _damaged(kind: str, e: Exception) -> str:
    import lzma  # on the error path only
    if isinstance(e, lzma.LZMAError) and "memory usage limit" in str(e).lower():
        return (f"{kind} data asks for more than {LZMA_MEMLIMIT >> 20} MiB of decoder memory "
                "(dictionary size in its header): damaged, or not a boot payload")
    return f"damaged {kind} data: {e}"


class _Decoder:
    """One compressed stream: `feed()` compressed bytes, get output; `eof`/`unused` when done."""

    def __init__(self, kind: str) -> None:
        # lzma and bz2 load here: a plain DTB's start-up never needs them (issue 14)
        if kind == "gzip":
            self._d = zlib.decompressobj(wbits=31)
        elif kind == "xz":
            self._d = lzma_decoder("xz")
        else:
            import bz2
            self._d = bz2.BZ2Decompressor()
        self.kind = kind

    def feed(self, chunk: bytes, max_out: int) -> bytes:
        if self.kind == "gzip":
            return self._d.decompress(self._d.unconsumed_tail + chunk, max_out)
        return self._d.decompress(chunk, max_out)

    def pending(self) -> bool:
        """More output is waiting without new input."""
        if self.kind == "gzip":
            return bool(self._d.unconsumed_tail)
        return not self._d.needs_input and not self._d.eof

    @property
    def eof(self) -> bool:
        return self._d.eof

    @property
    def unused(self) -> bytes:
        return self._d.unused_data


class Stream:
    """Decompressed chunks of the first stream in `f` (positioned at its magic), lazily.

    After iteration, `trailing` holds the compressed-file bytes the decoder read past the
    end of the stream (the start of a DTB appended to Image.gz, say); `f` is positioned
    right after them.
    """

    def __init__(self, f: BinaryIO, kind: str, path: str) -> None:
        self.f, self.kind, self.path = f, kind, path
        self.trailing = b""

    def __iter__(self) -> Iterator[bytes]:
        if self.kind == "zstd":
            yield from _zstd_stream(self.f, self.path)   # the CLI does not report what follows
            return
        import lzma  # for its error class
        dec = _Decoder(self.kind)
        try:
            while not dec.eof:
                if dec.pending():
                    out = dec.feed(b"", CHUNK_BYTES)
                else:
                    raw = self.f.read(CHUNK_BYTES)
                    if not raw:
                        raise InputError(self.path, f"{self.kind} stream ends early (cut file?)")
                    out = dec.feed(raw, CHUNK_BYTES)
                if out:
                    yield out
        except (zlib.error, lzma.LZMAError, OSError, EOFError) as e:
            raise InputError(self.path, _damaged(self.kind, e)) from None
        self.trailing = dec.unused


def unwrap(f: BinaryIO, kind: str, path: str, cap_bytes: int) -> Unwrapped:
    """Decompress the first stream of `f`; error past `cap_bytes`. Bytes after that stream
    (e.g. a DTB appended to Image.gz) come back as `trailing`, bounded by the cap too."""
    out = bytearray()
    s = Stream(f, kind, path)
    for chunk in s:
        out += chunk
        _check_cap(len(out), cap_bytes, kind, path)
    trailing = s.trailing + f.read(cap_bytes + 1 - len(s.trailing))
    return Unwrapped(bytes(out), trailing[:cap_bytes])


def decompress_capped(decoder, data: bytes, cap_bytes: int, where: str) -> bytes:
    """One in-memory payload through a zlib/lzma decompressor object, never past the cap."""
    import lzma  # for its error class
    try:
        out = decoder.decompress(data, cap_bytes + 1)
    except (zlib.error, lzma.LZMAError) as e:
        raise InputError(None, f"{where}: {_damaged('compressed', e)}") from None
    if len(out) > cap_bytes:
        raise InputError(None, f"{where}: decompresses to more than {cap_bytes >> 20} MiB")
    return out


def _check_cap(total: int, cap_bytes: int, kind: str, path: str) -> None:
    if total > cap_bytes:
        raise InputError(path, f"{kind} data decompresses to more than {cap_bytes >> 20} MiB; "
                               "not a device tree container we read whole (decompress it yourself)")


def _zstd_stream(f: BinaryIO, path: str) -> Iterator[bytes]:
    import shutil
    import subprocess
    import tempfile
    exe = shutil.which("zstd")
    if not exe:
        raise InputError(path, "zstd-compressed input needs the `zstd` tool (Debian: apt-get install zstd)")
    # the child reads the file itself (from our descriptor's position), we read its stdout
    # in chunks and kill it as soon as we stop: bounded by what we consume.
    try:
        f.fileno()
    except (OSError, AttributeError, io.UnsupportedOperation):
        spool = tempfile.TemporaryFile()     # in-memory payload (a FIT image's data)
        shutil.copyfileobj(f, spool)
        spool.seek(0)
        f = spool
    proc = subprocess.Popen([exe, "-dc", "-q"], stdin=f, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        while True:
            chunk = proc.stdout.read(CHUNK_BYTES)
            if not chunk:
                break
            yield chunk
        proc.stdout.close()
        err = proc.stderr.read(4096).decode("utf-8", "replace").strip()
        if proc.wait() != 0:
            raise InputError(path, f"damaged zstd data: {err.splitlines()[0] if err else 'zstd failed'}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pipe in (proc.stdout, proc.stderr):
            if pipe and not pipe.closed:
                pipe.close()
