"""Any bytes given as a DTB: a MemoryMap or an InputError, never another exception."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import RSV_DTB, corpus_dtbs, needs_corpus
from memmap_tui.inputs import Options, load
from memmap_tui.sources.errors import InputError

pytestmark = needs_corpus
SEEDS = [RSV_DTB.read_bytes()] + [p.read_bytes() for p in corpus_dtbs()[:6]] if RSV_DTB.exists() else [b""]


def _load_bytes(tmp_path_factory, data: bytes):
    path = tmp_path_factory.mktemp("fz") / "f.dtb"
    path.write_bytes(data)
    try:
        load(Options(dtb=str(path)))
    except InputError:
        pass


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.sampled_from(range(len(SEEDS))), flips=st.lists(
    st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), min_size=1, max_size=12))
def test_mutated_blobs(tmp_path_factory, seed, flips):
    data = bytearray(SEEDS[seed])
    for pos, value in flips:
        data[pos % len(data)] = value
    _load_bytes(tmp_path_factory, bytes(data))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.sampled_from(range(len(SEEDS))), cut=st.integers(0, 1 << 20))
def test_truncated_blobs(tmp_path_factory, seed, cut):
    data = SEEDS[seed]
    _load_bytes(tmp_path_factory, data[: cut % (len(data) + 1)])


PROPS = ["reg", "size", "alignment", "alloc-ranges", "no-map", "reusable", "compatible", "status",
         "linux,cma-default", "linux,no-dump", "#address-cells", "#size-cells", "ranges"]
ROOT_PROPS = ["#address-cells", "#size-cells", "model"]
CHOSEN_PROPS = ["bootargs", "linux,initrd-start", "linux,initrd-end", "linux,elfcorehdr",
                "linux,usable-memory-range", "linux,uefi-system-table"]
values = st.one_of(st.binary(max_size=40),
                   st.lists(st.integers(0, 0xFFFFFFFF), max_size=8).map(
                       lambda cells: b"".join(c.to_bytes(4, "big") for c in cells)),
                   st.sampled_from([b"okay\0", b"disabled\0", b"shared-dma-pool\0", b"",
                                    b"crashkernel=64M@0x90000000 mem=1G cma=16M\0",
                                    b"crashkernel=1G,high crashkernel=0-:32M\0", b"crashkernel=junk\0"]))


@settings(max_examples=400, deadline=None)
@given(root=st.dictionaries(st.sampled_from(ROOT_PROPS), values, max_size=3),
       parent=st.dictionaries(st.sampled_from(["#address-cells", "#size-cells", "ranges"]), values, max_size=3),
       children=st.lists(st.dictionaries(st.sampled_from(PROPS), values, max_size=6), max_size=4),
       chosen=st.dictionaries(st.sampled_from(CHOSEN_PROPS), values, max_size=4),
       memreserve=st.lists(st.tuples(st.integers(0, 1 << 40), st.integers(0, 1 << 34)), max_size=3),
       memory=st.one_of(st.none(), values))
def test_decoder_on_arbitrary_property_values(root, parent, children, chosen, memreserve, memory):
    """The DT decoder meets every property with arbitrary bytes: findings, never a crash."""
    from memmap_tui.core.model import MemoryMap
    from memmap_tui.core.policy import evaluate
    from memmap_tui.sources.dtb import decode_dtb
    from memmap_tui.sources.fdt_blob import FdtBlob, FdtHeader, FdtNode

    rootn = FdtNode("", "/", dict(root))
    nodes = {"/": rootn}

    def add(parent_node, name, props):
        n = FdtNode(name, ("/" if parent_node.path == "/" else parent_node.path + "/") + name, dict(props))
        parent_node.children.append(n)
        nodes[n.path] = n
        return n

    if memory is not None:
        add(rootn, "memory@0", {"device_type": b"memory\0", "reg": memory})
    add(rootn, "chosen", chosen)
    rmem = add(rootn, "reserved-memory", parent)
    for i, props in enumerate(children):
        add(rmem, f"c{i}@{i}", props)
    blob = FdtBlob(header=FdtHeader(0, 0, 0, 0, 17, 16, 0, 0, 0), memreserve=memreserve,
                   root=rootn, nodes_by_path=nodes)
    info = decode_dtb(blob)
    mm = MemoryMap(regions=info.regions, boot=info.boot, ram=info.memory, ram_known=bool(info.memory))
    evaluate(mm)
