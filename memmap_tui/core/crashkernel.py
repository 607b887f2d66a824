"""`crashkernel=` as kernel/crash_reserve.c parses it (domain.md §6).

Forms: `size[@offset]`; `start-[end]:size[,start-[end]:size...][@offset]` (picks the
range holding system RAM rounded up to 128 MiB); `size,high` (+ `size,low`);
`size,cma`. The last plain occurrence wins; suffixed forms are matched separately and
`,high`/`,low` only count when no plain form exists.
"""

from __future__ import annotations

from dataclasses import dataclass

from memmap_tui.core.arch import DEFAULT_ARCH, rules_for
from memmap_tui.core.units import memparse_prefix


@dataclass(frozen=True, slots=True)
class CrashkernelSpec:
    id: str                 # "crashkernel", "crashkernel-low", "crashkernel-cma"
    size_bytes: int
    offset: int | None = None
    form: str = "simple"    # simple | ranges | high | low | cma
    source: str = ""        # the argument as written


class CrashkernelError(ValueError):
    pass


def _parse_ranges(value: str, ram_bytes: int | None) -> tuple[int, int | None]:
    body, _, offset_text = value.partition("@")
    offset = memparse_prefix(offset_text)[0] if offset_text else None
    if ram_bytes is None:
        raise CrashkernelError("crashkernel= range form needs the RAM size")
    system_ram = -(-ram_bytes // (128 << 20)) * (128 << 20)
    for item in body.split(","):
        span, sep, size_text = item.partition(":")
        if not sep:
            raise CrashkernelError(f"bad range entry {item!r}")
        start_text, dash, end_text = span.partition("-")
        if not dash:
            raise CrashkernelError(f"bad range entry {item!r}")
        start = memparse_prefix(start_text)[0]
        end = memparse_prefix(end_text)[0] if end_text else None
        size = memparse_prefix(size_text)[0]
        if system_ram >= start and (end is None or system_ram < end):
            if size >= system_ram:
                raise CrashkernelError("crashkernel size is not smaller than RAM")
            return size, offset
    return 0, offset


def parse_crashkernel(args: tuple[str, ...] | list[str], ram_bytes: int | None,
                      arch: str = DEFAULT_ARCH) -> list[CrashkernelSpec]:
    """Resolve every `crashkernel=` value (in command-line order) to reservations."""
    plain = high = low = cma = None
    for value in args:
        if value.endswith(",high"):
            high = value
        elif value.endswith(",low"):
            low = value
        elif value.endswith(",cma"):
            cma = value
        else:
            plain = value
    out: list[CrashkernelSpec] = []
    if plain is not None:
        if ":" in plain:
            size, offset = _parse_ranges(plain, ram_bytes)
            form = "ranges"
        else:
            size, rest = memparse_prefix(plain)
            offset = memparse_prefix(rest[1:])[0] if rest.startswith("@") else None
            if rest and not rest.startswith("@"):
                raise CrashkernelError(f"cannot parse crashkernel={plain}")
            form = "simple"
        if size:
            out.append(CrashkernelSpec("crashkernel", size, offset, form, f"crashkernel={plain}"))
    elif high is not None:
        size, _ = memparse_prefix(high)
        out.append(CrashkernelSpec("crashkernel", size, None, "high", f"crashkernel={high}"))
        low_size = memparse_prefix(low)[0] if low is not None else rules_for(arch).crash.default_low_bytes
        if low_size:
            out.append(CrashkernelSpec("crashkernel-low", low_size, None, "low",
                                       f"crashkernel={low}" if low else "(default low)"))
    if cma is not None:
        size, _ = memparse_prefix(cma)
        out.append(CrashkernelSpec("crashkernel-cma", size, None, "cma", f"crashkernel={cma}"))
    return out
