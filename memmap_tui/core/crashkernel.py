"""`crashkernel=`: what the command line asks (parse) and where the kernel puts it (place).

Parsing follows kernel/crash_reserve.c `parse_crashkernel()` (kernel/crash_core.c before
6.8; same logic): the last plain `crashkernel=` wins — `size[@offset]` or
`start-[end]:size[,…][@offset]` (system RAM rounded up to 128 MiB picks the entry, and
every entry visited must have size < that total, else -EINVAL); only when no plain form
exists are `,high` (size 0 → -EINVAL) and `,low` (default DEFAULT_CRASH_KERNEL_LOW_SIZE)
read; finally `size == 0` or `size >= system RAM` is -EINVAL. `,cma` (6.17+, X86/PPC)
is parsed on its own.

Placement follows `reserve_crashkernel_generic()` (arm64 uses it since 6.7, commit
fdc268232dbba; its own 6.1 `reserve_crashkernel()` has the same windows and fallbacks):
@offset → exactly [offset, offset+size) with CRASH_ALIGN or fail; plain → [0, LOW_MAX),
on failure [LOW_MAX, HIGH_MAX) plus a default low region; `,high` → [LOW_MAX, HIGH_MAX),
on failure [0, LOW_MAX); a low region is reserved only when the base ended ≥ LOW_MAX,
and if that low allocation fails the main one is freed again.
"""

from __future__ import annotations

from dataclasses import dataclass

from memmap_tui.core.memblock import Memblock
from memmap_tui.core.ranges import Range
from memmap_tui.core.units import exact_size, memparse_prefix

SUFFIXES = (",high", ",low", ",cma")


class CrashkernelError(ValueError):
    """parse_crashkernel() returned -EINVAL: nothing is reserved."""


@dataclass(frozen=True, slots=True)
class CrashRequest:
    source: str              # the argument(s) as written
    form: str                # simple | ranges | high
    size_bytes: int
    base: int | None = None  # @offset
    high: bool = False
    low_bytes: int = 0       # ,low or the default for ,high; a plain form gets one only on fallback
    low_source: str = ""
    cma_bytes: int = 0       # crashkernel=Y,cma

    def describe(self) -> str:
        parts = [f"{self.source}: {self.form} {exact_size(self.size_bytes)}"]
        if self.base is not None:
            parts.append(f"at {self.base:#x}")
        if self.high:
            parts.append(f"low {exact_size(self.low_bytes)} ({self.low_source})")
        if self.cma_bytes:
            parts.append(f"cma {exact_size(self.cma_bytes)}")
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class CrashWindows:
    """CRASH_ALIGN / CRASH_ADDR_LOW_MAX / CRASH_ADDR_HIGH_MAX as this boot has them."""

    align_bytes: int
    low_max_bytes: int
    low_max_source: str
    high_max_bytes: int
    high_max_source: str
    default_low_bytes: int


@dataclass(frozen=True, slots=True)
class CrashPlan:
    """The crashkernel section: request, windows, result, low region, CMA part."""

    request: CrashRequest | None
    windows: CrashWindows | None
    state: str                    # observed | predicted | failed | unknown
    evidence: str
    result: Range | None = None   # crashk_res
    low: Range | None = None      # crashk_low_res
    attempts: tuple[str, ...] = ()  # each memblock_phys_alloc_range() tried, in order
    cma: str = ""                 # what happens to crashkernel=,cma


def _arg_value(arg: str) -> str:
    return arg.split("=", 1)[1] if "=" in arg else arg


def _simple(value: str) -> tuple[int, int | None]:
    """parse_crashkernel_simple()."""
    try:
        size, rest = memparse_prefix(value)
    except ValueError:
        raise CrashkernelError(f"crashkernel={value}: memory value expected") from None
    if rest.startswith("@"):
        try:
            base, rest = memparse_prefix(rest[1:])
        except ValueError:
            raise CrashkernelError(f"crashkernel={value}: memory value expected after '@'") from None
    else:
        base = None
    if rest:
        raise CrashkernelError(f"crashkernel={value}: unrecognized char {rest[0]!r}")
    return size, base


def _ranges(value: str, system_ram: int) -> tuple[int, int | None]:
    """parse_crashkernel_mem(): the entry holding system RAM rounded up to 128 MiB."""
    total = -(-system_ram // (128 << 20)) * (128 << 20)
    body, _, offset_text = value.partition("@")
    size = 0
    for item in body.split(","):
        span, colon, size_text = item.partition(":")
        start_text, dash, end_text = span.partition("-")
        try:
            start = memparse_prefix(start_text)[0]
            end = memparse_prefix(end_text)[0] if end_text else None
            entry = memparse_prefix(size_text)[0]
        except ValueError:
            raise CrashkernelError(f"crashkernel={value}: memory value expected") from None
        if not dash or not colon:
            raise CrashkernelError(f"crashkernel={value}: '-' and ':' expected in {item!r}")
        if end is not None and end <= start:
            raise CrashkernelError(f"crashkernel={value}: end <= start in {item!r}")
        if entry >= total:
            raise CrashkernelError(f"crashkernel={value}: entry {item!r} is not smaller than RAM "
                                   f"({exact_size(total)} rounded up)")
        if total >= start and (end is None or total < end):
            size = entry
            break
    base = None
    if size and offset_text:
        try:
            base = memparse_prefix(offset_text)[0]
        except ValueError:
            raise CrashkernelError(f"crashkernel={value}: memory value expected after '@'") from None
    return size, base


def parse_request(args: tuple[str, ...] | list[str], system_ram_bytes: int | None,
                  default_low_bytes: int, *, supports_high: bool = True) -> CrashRequest | None:
    """parse_crashkernel(): None when no crashkernel= is given; CrashkernelError for -EINVAL."""
    plain = high = low = cma = None
    for value in args:
        value = _arg_value(value)
        if value.endswith(",high"):
            high = value
        elif value.endswith(",low"):
            low = value
        elif value.endswith(",cma"):
            cma = value
        else:
            plain = value   # get_last_crashkernel(): the last one wins
    cma_bytes = _suffix(cma, ",cma") if cma is not None else 0
    if plain is None and high is None:
        if cma is None:
            return None
        return CrashRequest(f"crashkernel={cma}", "cma", 0, cma_bytes=cma_bytes)
    if plain is not None:
        if ":" in plain:
            if system_ram_bytes is None:
                raise CrashkernelError(f"crashkernel={plain}: the range form needs the RAM size (--ram/--iomem)")
            size, base = _ranges(plain, system_ram_bytes)
            form = "ranges"
        else:
            size, base = _simple(plain)
            form = "simple"
        request = CrashRequest(f"crashkernel={plain}", form, size, base, cma_bytes=cma_bytes)
    elif not supports_high:
        raise CrashkernelError(f"crashkernel={high}: this arch has no ,high form")
    else:
        size = _suffix(high, ",high")
        if not size:
            raise CrashkernelError(f"crashkernel={high}: size 0 is -EINVAL")
        if low is not None:
            low_bytes, low_source = _suffix(low, ",low"), f"crashkernel={low}"
        else:
            low_bytes, low_source = default_low_bytes, "DEFAULT_CRASH_KERNEL_LOW_SIZE"
        request = CrashRequest(f"crashkernel={high}", "high", size, None, True, low_bytes,
                               low_source, cma_bytes)
    if not request.size_bytes:
        raise CrashkernelError(f"{request.source}: size resulted in zero bytes")
    if system_ram_bytes is not None and request.size_bytes >= system_ram_bytes:
        raise CrashkernelError(f"{request.source}: {exact_size(request.size_bytes)} is not smaller than "
                               f"system RAM ({exact_size(system_ram_bytes)})")
    return request


def _suffix(value: str, suffix: str) -> int:
    """parse_crashkernel_suffix()."""
    try:
        size, rest = memparse_prefix(value)
    except ValueError:
        raise CrashkernelError(f"crashkernel={value}: memory value expected") from None
    if rest != suffix:
        raise CrashkernelError(f"crashkernel={value}: unrecognized char {rest[:1]!r}")
    return size


def place(request: CrashRequest, windows: CrashWindows, memblock: Memblock) -> CrashPlan:
    """reserve_crashkernel_generic() on the replay's memblock (which it reserves into)."""
    w = windows
    attempts: list[str] = []

    def alloc(size: int, start: int, end: int, what: str) -> int | None:
        base = memblock.phys_alloc_range(size, w.align_bytes, start, end)
        attempts.append(f"{what}: memblock_phys_alloc_range({exact_size(size)}, align "
                        f"{exact_size(w.align_bytes)}, [{start:#x}, {end:#x})) → "
                        + (f"{base:#x}" if base is not None else "no room"))
        return base

    size, low_bytes = request.size_bytes, request.low_bytes
    if request.base is not None:
        base = alloc(size, request.base, request.base + size, "fixed @offset")
        if base is None:
            why = ("@offset is not CRASH_ALIGN aligned" if request.base % w.align_bytes else
                   "the range is not free RAM (already reserved, NOMAP or outside memory)")
            return CrashPlan(request, w, "failed", "crashkernel reservation failed - memory is in use: " + why,
                             attempts=tuple(attempts))
        return _finish(request, w, memblock, base, 0, attempts)
    if request.high:
        base = alloc(size, w.low_max_bytes, w.high_max_bytes, ",high above LOW_MAX")
        if base is None and w.low_max_bytes != w.high_max_bytes:
            base = alloc(size, 0, w.low_max_bytes, ",high fallback below LOW_MAX")
    else:
        base = alloc(size, 0, w.low_max_bytes, "below LOW_MAX")
        if base is None:
            low_bytes = w.default_low_bytes
            base = alloc(size, w.low_max_bytes, w.high_max_bytes, "fallback above LOW_MAX")
    if base is None:
        return CrashPlan(request, w, "failed",
                         f"cannot allocate crashkernel (size:{size:#x}): no window has "
                         f"{exact_size(size)} of free, {exact_size(w.align_bytes)}-aligned RAM",
                         attempts=tuple(attempts))
    return _finish(request, w, memblock, base, low_bytes, attempts)


def _finish(request: CrashRequest, w: CrashWindows, memblock: Memblock, base: int,
            low_bytes: int, attempts: list[str]) -> CrashPlan:
    result = Range(base, base + request.size_bytes)
    low = None
    if base >= w.low_max_bytes and low_bytes:
        low_base = memblock.phys_alloc_range(low_bytes, w.align_bytes, 0, w.low_max_bytes)
        attempts.append(f"low region (base ≥ LOW_MAX): {exact_size(low_bytes)} below {w.low_max_bytes:#x} → "
                        + (f"{low_base:#x}" if low_base is not None else "no room"))
        if low_base is None:
            memblock.phys_free(result)
            return CrashPlan(request, w, "failed",
                             f"cannot allocate crashkernel low memory (size:{low_bytes:#x}); "
                             "the main reservation is freed again", attempts=tuple(attempts))
        low = Range(low_base, low_base + low_bytes)
    elif request.high and base < w.low_max_bytes:
        attempts.append("no low region: the base ended below LOW_MAX")
    return CrashPlan(request, w, "predicted",
                     f"reserve_crashkernel_generic(): top-down, {exact_size(w.align_bytes)} aligned, "
                     "after the DT reservations and the kernel's own early allocations",
                     result=result, low=low, attempts=tuple(attempts))
