"""The new input parsers on arbitrary data: a result or an InputError, nothing else."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from memmap_tui.gather.collect import kmsg_to_dmesg
from memmap_tui.sources.containers import sniff_bytes
from memmap_tui.sources.errors import InputError
from memmap_tui.sources.memblock import parse_memblock_list

memblock_line = st.one_of(
    st.text(max_size=50),
    st.builds(lambda i, a, b, tail: f"{i:4d}: {a:#018x}..{b:#018x}{tail}",
              st.integers(0, 999), st.integers(0, (1 << 64) + 5), st.integers(0, (1 << 64) + 5),
              st.sampled_from(["", "    0 NONE", "    x NOMAP", "   1 HOTPLUG", " (1024K)", " junk"])),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(memblock_line, max_size=20))
def test_memblock_any_text(lines):
    regions, _flagged = parse_memblock_list("\n".join(lines), "fuzz", [])
    for r in regions:
        assert r.range.start < r.range.end <= 1 << 64


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=40), st.builds(
    lambda p, s, u, m: f"{p},{s},{u},-;{m}", st.integers(0, 7), st.integers(0, 1 << 20),
    st.integers(0, 1 << 50), st.text(max_size=20).filter(lambda t: "\n" not in t and "\r" not in t))), max_size=20))
def test_kmsg_any_text(lines):
    out = kmsg_to_dmesg("\n".join(lines))
    assert all(line.startswith("[") for line in out.splitlines())


@settings(max_examples=300, deadline=None)
@given(st.one_of(
    st.binary(max_size=300),
    st.builds(lambda magic, rest: magic + rest,
              st.sampled_from([b"\xd0\x0d\xfe\xed", b"\xd7\xb7\xab\x1e", b"ANDROID!", b"VNDRBOOT",
                               b"\x1f\x8b", b"\xfd7zXZ\x00", b"BZh"]), st.binary(max_size=300))))
def test_sniff_any_bytes(data):
    try:
        src = sniff_bytes(data, "fuzz")
    except InputError:
        return
    assert src.candidates
