"""Sizes and addresses the way kernel people write them.

`memparse` follows lib/cmdline.c (K M G T P E suffixes, 0x / 0 prefixes);
`exact_size` is humanize's binary format, made exact — BSP engineers size carveouts to the
page, so `2046 MiB` must not print as `2.0 GiB` (plain humanize does that; see packages.md).
"""

from __future__ import annotations

import re
from datetime import timedelta

import humanize

from memmap_tui.core.ranges import Range

_SUFFIX_SHIFT = {"k": 10, "m": 20, "g": 30, "t": 40, "p": 50, "e": 60}
_MEMPARSE_RE = re.compile(r"^\s*(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)([kKmMgGtTpPeE]?)")


# memparse() returns unsigned long long: a value that needs more than 64 bits is not a size.
# Checked on the digit count before int() (a 5,000-digit decimal trips Python's int limit).
MEMPARSE_LIMIT = 1 << 64
_MAX_DIGITS = {16: 16, 8: 22, 10: 20}


def memparse_prefix(text: str) -> tuple[int, str]:
    """Parse a memparse number at the start of `text`; return (value, rest).

    ValueError when it is not a number or does not fit in 64 bits."""
    m = _MEMPARSE_RE.match(text)
    if not m:
        raise ValueError(f"not a size: {text[:40]!r}")
    digits, suffix = m.groups()
    if digits.lower().startswith("0x"):
        base, digits = 16, digits[2:]
    elif digits.startswith("0") and len(digits) > 1:
        base = 8
    else:
        base = 10
    if len(digits.lstrip("0")) > _MAX_DIGITS[base]:
        raise ValueError(f"not a 64-bit size: {text[:40]!r}…")
    value = int(digits, base)
    if suffix:
        value <<= _SUFFIX_SHIFT[suffix.lower()]
    if value >= MEMPARSE_LIMIT:
        raise ValueError(f"not a 64-bit size: {m.group(0).strip()[:40]!r}")
    return value, text[m.end():]


def memparse(text: str) -> int:
    """Whole-string memparse: '8G', '0x80000000', '512M'."""
    value, rest = memparse_prefix(text)
    if rest.strip():
        raise ValueError(f"not a size: {text!r}")
    return value


_UNITS = (("EiB", 60), ("PiB", 50), ("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10))
_SHIFT = dict(_UNITS)


def _group(n: int) -> str:
    """Thousands separators only where they help (2046 stays 2046, 131076 becomes 131,076)."""
    return f"{n:,}" if n >= 10_000 else str(n)


def _in_unit(size_bytes: int, shift: int) -> str | None:
    """`size_bytes` in the unit 2**shift with at most two decimals, or None if that would round."""
    if (size_bytes * 4) % (1 << shift):   # quarters at most: 5.75 MiB, 1.5 GiB, 96 MiB
        return None
    quarters = (size_bytes * 4) >> shift
    whole, frac = divmod(quarters, 4)
    return _group(whole) + ("", ".25", ".5", ".75")[frac]


def exact_size(size_bytes: int) -> str:
    """One size format everywhere: humanize's binary unit, unless that would round the size.

    humanize picks the unit (`naturalsize(..., binary=True)`); if the figure is not exact there
    (`0x7fe00000` would print as 2.0 GiB) the next smaller unit that is exact is used
    (`2046 MiB`), down to bytes. Never a rounded figure: BSP engineers size carveouts to the page."""
    if size_bytes < 1024:
        return f"{size_bytes} B"
    unit = humanize.naturalsize(size_bytes, binary=True).split()[-1]
    for name, shift in _UNITS[[u for u, _ in _UNITS].index(unit):] if unit in _SHIFT else ():
        figure = _in_unit(size_bytes, shift)
        if figure is not None:
            return f"{figure} {name}"
    return f"{_group(size_bytes)} B"


def approx_size(size_bytes: int) -> str | None:
    """`≈7.38 GiB` for a total whose exact form is hard to read; None when exact is short."""
    exact = exact_size(size_bytes)
    if "," not in exact and " B" not in exact and len(exact.split()[0]) <= 6:   # 122.25 MiB reads fine
        return None
    if size_bytes < 1024:
        return None
    figure = humanize.naturalsize(size_bytes, binary=True, format="%.2f")
    number, unit = figure.split()
    return f"≈{number.rstrip('0').rstrip('.')} {unit}"


def short_size(size_bytes: int) -> str:
    """For a narrow card: exact when that is short (`128 MiB`), else approximate (`≈7.38 GiB`)."""
    return approx_size(size_bytes) or exact_size(size_bytes)


def duration_text(seconds: float) -> str:
    """`1 min 19.2 s`, `0.4 s` (humanize.precisedelta, abbreviated for cards)."""
    if seconds < 1:
        return f"{seconds:.1f} s"
    text = humanize.precisedelta(timedelta(seconds=seconds), minimum_unit="seconds", format="%0.1f")
    for long, short in ((" and ", " "), (", ", " "), ("hours", "h"), ("hour", "h"), ("minutes", "min"),
                        ("minute", "min"), ("seconds", "s"), ("second", "s")):
        text = text.replace(long, short)
    return text


def kernel_mem(r: Range) -> str:
    """`[mem 0x00000000a0000000-0x00000000afffffff]` — the kernel's inclusive form."""
    return f"[mem {r.start:#018x}-{r.last:#018x}]"


def compact_hex(addr: int) -> str:
    """0xa000_0000 style, grouped by 16 bits for reading long addresses."""
    digits = f"{addr:x}"
    groups = []
    while digits:
        groups.append(digits[-4:])
        digits = digits[:-4]
    return "0x" + "_".join(reversed(groups))


def capture_seconds(size_bytes: int, mb_per_s: float) -> float:
    """Seconds to write `size_bytes` at `mb_per_s` (decimal MB/s, as disks are rated)."""
    if mb_per_s <= 0:
        raise ValueError("write speed must be positive")
    return size_bytes / (mb_per_s * 1_000_000)
