"""/proc/iomem and dmesg parsers on arbitrary text: a result or an InputError."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from memmap_tui.sources.dmesg import parse_dmesg
from memmap_tui.sources.errors import InputError
from memmap_tui.sources.iomem import parse_iomem

line = st.one_of(
    st.text(max_size=60),
    st.builds(lambda d, a, b, n: "  " * d + f"{a:x}-{b:x} : {n}",
              st.integers(0, 6), st.integers(0, 1 << 48), st.integers(0, 1 << 48),
              st.sampled_from(["System RAM", "reserved", "Crash kernel", "Kernel code", "pcie", ""])),
    st.builds(lambda a, b, k, n: f"[    0.000000] OF: reserved mem: {a:#018x}..{b:#018x} ({k} KiB) nomap reusable {n}",
              st.integers(0, 1 << 48), st.integers(0, 1 << 48), st.integers(0, 1 << 30), st.text(min_size=1, max_size=9).filter(lambda s: " " not in s)),
    st.just("[    0.0] Reserved memory: created CMA memory pool at 0x0000000058000000, size 64 MiB"),
    st.just("[    0.0] OF: reserved mem: initialized node x, compatible id shared-dma-pool"),
    st.builds(lambda a, b: f"crashkernel reserved: {a:#x} - {b:#x} (1 MB)", st.integers(0, 1 << 40), st.integers(0, 1 << 40)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(line, max_size=30))
def test_iomem_any_text(lines):
    try:
        info = parse_iomem("\n".join(lines))
    except InputError:
        return
    for e in info.entries:
        assert e.range.start <= e.range.end
        assert e.parent is None or info.entries[e.parent].depth < e.depth


@settings(max_examples=300, deadline=None)
@given(st.lists(line, max_size=30))
def test_dmesg_any_text(lines):
    info = parse_dmesg("\n".join(lines))
    for p in info.placements.values():
        assert p.range.start <= p.range.end
