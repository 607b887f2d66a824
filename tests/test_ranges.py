"""RangeSet algebra against Python sets of integers (small universe, hypothesis)."""

from hypothesis import given, strategies as st

from memmap_tui.core.ranges import Range, RangeSet
from memmap_tui.core.units import exact_size, kernel_mem, memparse

spans = st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60)).map(lambda t: (min(t), max(t))),
                 max_size=12)


def _points(rs: RangeSet) -> set[int]:
    return {i for r in rs for i in range(r.start, r.end)}


def _pts(pairs) -> set[int]:
    return {i for s, e in pairs for i in range(s, e)}


@given(spans, spans)
def test_algebra_matches_sets(a, b):
    ra, rb = RangeSet(a), RangeSet(b)
    assert _points(ra) == _pts(a)
    assert _points(ra | rb) == _pts(a) | _pts(b)
    assert _points(ra & rb) == _pts(a) & _pts(b)
    assert _points(ra - rb) == _pts(a) - _pts(b)
    assert _points(rb - ra) == _pts(b) - _pts(a)
    assert _points(ra - ra) == set() and (ra - RangeSet()) == ra
    for d in (ra - rb, rb - ra):
        rs = list(d)
        assert all(x.end < y.start for x, y in zip(rs, rs[1:]))
    assert ra.size_bytes == len(_pts(a))
    # canonical form: sorted, disjoint, non-adjacent
    rs = list(ra)
    assert all(x.end < y.start for x, y in zip(rs, rs[1:]))
    for p in range(62):
        assert ra.contains(p) == (p in _pts(a))


def test_page_rounding_is_per_range():
    rs = RangeSet([(0x1000, 0x1800), (0x2100, 0x2200)])
    assert rs.page_rounded_bytes(0x1000) == 0x2000
    assert RangeSet([(0x1800, 0x2800)]).page_rounded_bytes(0x1000) == 0x2000


def test_units():
    assert memparse("8G") == 8 << 30 and memparse("0x80000000") == 0x80000000 and memparse("64k") == 65536
    assert exact_size(0x7FE00000) == "2046 MiB"
    assert exact_size(4096) == "4 KiB"
    assert exact_size(3 << 29) == "1.5 GiB"
    assert exact_size(12345) == "12,345 B"
    assert kernel_mem(Range(0xA0000000, 0xB0000000)) == "[mem 0x00000000a0000000-0x00000000afffffff]"
