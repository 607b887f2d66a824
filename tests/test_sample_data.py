"""The demo board in sample-data/: reproducible, and its four files agree with each other.

The checks read the DTB through `dtc -I dtb -O dts` (an independent decoder), parse
iomem/dmesg with their own regexes (the kernel's formats, domain.md §3 and §1.4), and
compare files with files: never against numbers copied from the generator's output.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from conftest import REPO, needs_dtc
from dts_oracle import decompile, parse, tuples as _tuples

SAMPLE = REPO / "sample-data"
PKG_DATA = REPO / "memmap_tui" / "data"
GENERATED = ("board.dts", "soc.dtsi", "board.dtb", "iomem.txt", "dmesg.txt")
RUNTIME = ("board.dts", "soc.dtsi", "board.dtb", "iomem.txt", "dmesg.txt")

needs_cpp = pytest.mark.skipif(shutil.which("cpp") is None, reason="cpp not installed")

IOMEM_LINE = re.compile(r"^( *)([0-9a-f]+)-([0-9a-f]+) : (.*)$")
OF_RMEM = re.compile(r"OF: reserved mem: 0x([0-9a-f]{16})\.\.0x([0-9a-f]{16}) \((\d+) KiB\) "
                     r"(nomap|map) (reusable|non-reusable) (\S+)$")
CRASH = re.compile(r"crashkernel reserved: 0x([0-9a-f]{16}) - 0x([0-9a-f]{16}) \((\d+) MB\)$")
TIMESTAMP = re.compile(r"^\[ {0,4}\d+\.\d{6}\] ")

MiB = 1 << 20
GENERATED_WITH_DTC = "1.6.1"   # Debian bookworm device-tree-compiler; see sample-data/README.md


def _dtc_version() -> str:
    out = subprocess.run(["dtc", "--version"], capture_output=True, text=True).stdout
    m = re.search(r"DTC (\S+)", out)
    return m.group(1) if m else ""


# -- independent readers -------------------------------------------------------

def _iomem():
    """[(start, end_exclusive, depth, name)] in file order; checks the line format."""
    out = []
    for line in (SAMPLE / "iomem.txt").read_text().splitlines():
        m = IOMEM_LINE.match(line)
        assert m, f"not an iomem line: {line!r}"
        indent, s, e, name = m.groups()
        assert len(indent) % 2 == 0, line
        assert len(s) >= 8 and len(e) >= 8, f"kernel prints at least 8 hex digits: {line!r}"
        out.append((int(s, 16), int(e, 16) + 1, len(indent) // 2, name))
    return out


def _dmesg_lines():
    lines = (SAMPLE / "dmesg.txt").read_text().splitlines()
    for line in lines:
        assert TIMESTAMP.match(line), f"no printk timestamp: {line!r}"
    return [TIMESTAMP.sub("", line) for line in lines]


def _union(ranges):
    out = []
    for s, e in sorted(ranges):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


@pytest.fixture(scope="module")
def dts():
    if shutil.which("dtc") is None:
        pytest.skip("dtc not installed")
    nodes, memreserve = parse(decompile(SAMPLE / "board.dtb"))
    return nodes, memreserve


def _children(nodes, path):
    return {p.rsplit("/", 1)[1]: n for p, n in nodes.items() if p.rsplit("/", 1)[0] == path}


# -- reproducibility -------------------------------------------------------------------

@needs_dtc
@needs_cpp
def test_regenerating_gives_identical_bytes(tmp_path):
    out = tmp_path / "gen"
    proc = subprocess.run([sys.executable, str(SAMPLE / "make_sample.py"), "--out", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    exact_dtc = _dtc_version() == GENERATED_WITH_DTC
    for name in GENERATED:
        new, old = (out / name).read_bytes(), (SAMPLE / name).read_bytes()
        if name == "board.dtb" and not exact_dtc:
            # another dtc release may lay the blob out differently; the tree must not change
            new, old = decompile(out / name).encode(), decompile(SAMPLE / name).encode()
        assert new == old, f"sample-data/{name} is stale: re-run sample-data/make_sample.py and commit"
    # --out must not touch the package copies (only the default run refreshes them)
    assert not (tmp_path / "memmap_tui").exists()


def test_package_data_is_a_copy_of_sample_data():
    for name in RUNTIME:
        assert (PKG_DATA / name).read_bytes() == (SAMPLE / name).read_bytes(), name


@needs_dtc
@needs_cpp
def test_dts_sources_compile_to_the_committed_dtb(tmp_path):
    """The committed sources, compiled the way a kernel build does, give board.dtb."""
    pre = subprocess.run(["cpp", "-nostdinc", "-undef", "-D__DTS__", "-x", "assembler-with-cpp",
                          "-P", "-I", str(SAMPLE), str(SAMPLE / "board.dts")],
                         capture_output=True, check=True)
    dtc = subprocess.run(["dtc", "-@", "-I", "dts", "-O", "dtb", "-o", "-", "-"],
                         input=pre.stdout, capture_output=True)
    assert dtc.returncode == 0, dtc.stderr.decode()
    assert dtc.stderr == b"", "dtc warnings: " + dtc.stderr.decode()
    assert dtc.stdout == (SAMPLE / "board.dtb").read_bytes()
    # without cpp the #include/#define sources are not valid DTS: cpp matters
    raw = subprocess.run(["dtc", "-I", "dts", "-O", "dtb", "-o", "/dev/null",
                          str(SAMPLE / "board.dts")], capture_output=True)
    assert raw.returncode != 0


# -- the DTB (via dtc) -----------------------------------------------------------------

def test_dtb_has_every_required_carveout(dts):
    nodes, memreserve = dts
    root = nodes["/"]
    assert root.cells("#address-cells") == [2] and root.cells("#size-cells") == [2]
    assert root.props["model"] == '"Acme Foo SoC EVB"'
    rm = nodes["/reserved-memory"]
    assert rm.cells("#address-cells") == [2] and rm.cells("#size-cells") == [2]
    assert "ranges" in rm.props
    kids = _children(nodes, "/reserved-memory")
    by_role = {}
    for name, node in kids.items():
        for role in ("gpu", "dsp", "modem", "npu", "camera"):
            if name.startswith(role):
                by_role[role] = node
    assert set(by_role) == {"gpu", "dsp", "modem", "npu", "camera"}
    static = {n: _tuples(k.cells("reg")) for n, k in kids.items() if "reg" in k.props}
    for name, node in kids.items():
        if "reg" in node.props:
            (base, size), = static[name]
            assert name.endswith(f"@{base:x}"), name    # unit address matches reg
    nomap = [n for n, k in kids.items() if "no-map" in k.props and "status" not in k.props]
    mapped = [n for n, k in kids.items() if "no-map" not in k.props and "reg" in k.props]
    assert nomap and mapped
    # exactly-32 MiB mapped, non-reusable carveout
    assert any(static[n][0][1] == 32 * MiB and "reusable" not in kids[n].props for n in mapped)
    # a non-round size (not a power of two)
    assert any(s & (s - 1) for t in static.values() for _, s in t)
    # CMA: reusable shared-dma-pool with linux,cma-default
    cma = [k for k in kids.values() if "reusable" in k.props and "linux,cma-default" in k.props]
    assert len(cma) == 1 and cma[0].props["compatible"] == '"shared-dma-pool"'
    # dynamic pool: size + alignment + alloc-ranges, no reg, root-cell sized
    dyn = [k for k in kids.values() if "size" in k.props and "reg" not in k.props]
    assert len(dyn) == 1
    assert len(dyn[0].cells("size")) == 2 and len(dyn[0].cells("alignment")) == 2
    assert len(dyn[0].cells("alloc-ranges")) == 4
    # linux,no-dump on at most one node
    assert sum("linux,no-dump" in k.props for k in kids.values()) <= 1
    # labels survive (dtc -@): every child is in __symbols__
    symbols = nodes["/__symbols__"].props
    targets = {v.strip('"') for v in symbols.values()}
    assert {f"/reserved-memory/{n}" for n in kids} <= targets


def test_dtb_spin_table_and_chosen(dts):
    nodes, memreserve = dts
    assert len(memreserve) == 1 and memreserve[0][1] == 0x1000
    pen = memreserve[0][0]
    cpus = [n for p, n in nodes.items() if p.startswith("/cpus/cpu@")]
    assert len(cpus) >= 2
    for cpu in cpus:
        assert cpu.props["enable-method"] == '"spin-table"'
        hi, lo = cpu.cells("cpu-release-addr")   # 64-bit, two cells
        addr = (hi << 32) | lo
        assert pen <= addr < pen + 0x1000
    chosen = nodes["/chosen"].props
    assert re.search(r"\bcrashkernel=\d+[KMG]\b", chosen["bootargs"])
    assert re.search(r"\bconsole=", chosen["bootargs"])
    assert "linux,initrd-start" in chosen and "linux,initrd-end" in chosen


# -- iomem vs DTB ------------------------------------------------------------------------

def _memory(nodes):
    mem = [n for p, n in nodes.items() if p.startswith("/memory")
           and n.props.get("device_type") == '"memory"']
    return _union((a, a + s) for n in mem for a, s in _tuples(n.cells("reg")))


def test_iomem_system_ram_plus_toplevel_reserved_is_memory(dts):
    nodes, _ = dts
    iomem = _iomem()
    top = [(s, e) for s, e, d, n in iomem if d == 0 and n in ("System RAM", "reserved")]
    assert _union(top) == _memory(nodes)
    assert sum(e - s for s, e in _memory(nodes)) == 8 << 30  # the board has 8 GiB


def test_iomem_is_well_nested():
    iomem = _iomem()
    parents: list[tuple[int, int, int]] = []
    prev_top_end = 0
    for s, e, d, name in iomem:
        assert s < e
        parents = parents[:d]
        assert len(parents) == d, f"indentation jumps at {name} {s:#x}"
        if d == 0:
            assert s >= prev_top_end, f"top-level overlap at {s:#x}"
            prev_top_end = e
        else:
            ps, pe, _ = parents[-1]
            assert ps <= s and e <= pe, f"{name} {s:#x} escapes its parent"
        parents.append((s, e, d))
    # siblings under each System RAM do not overlap
    for ps, pe, d, name in iomem:
        if d == 0 and name == "System RAM":
            kids = sorted((s, e) for s, e, dd, _ in iomem if dd == 1 and ps <= s < pe)
            assert all(a[1] <= b[0] for a, b in zip(kids, kids[1:]))


def test_iomem_matches_dtb_carveouts(dts):
    """no-map → top-level `reserved` exactly; mapped → nested `reserved` covering it;
    disabled → plain System RAM."""
    nodes, memreserve = dts
    iomem = _iomem()
    top_reserved = {(s, e) for s, e, d, n in iomem if d == 0 and n == "reserved"}
    nested_reserved = [(s, e) for s, e, d, n in iomem if d == 1 and n == "reserved"]
    ram = [(s, e) for s, e, d, n in iomem if d == 0 and n == "System RAM"]
    for name, k in _children(nodes, "/reserved-memory").items():
        if "reg" not in k.props:
            continue
        (base, size), = _tuples(k.cells("reg"))
        rng = (base, base + size)
        if k.props.get("status") == '"disabled"':
            assert any(s <= base and base + size <= e for s, e in ram), name
            assert not any(s < rng[1] and rng[0] < e for s, e in nested_reserved + list(top_reserved))
        elif "no-map" in k.props:
            assert rng in top_reserved, name
        else:
            assert any(s <= base and base + size <= e for s, e in nested_reserved), name
    for addr, size in memreserve:
        assert any(s <= addr and addr + size <= e for s, e in nested_reserved)
    # the initrd from /chosen is reserved too (page-rounded)
    chosen = nodes["/chosen"]
    i0 = (chosen.cells("linux,initrd-start")[0] << 32) | chosen.cells("linux,initrd-start")[1]
    i1 = (chosen.cells("linux,initrd-end")[0] << 32) | chosen.cells("linux,initrd-end")[1]
    assert any(s <= i0 and i1 <= e for s, e in nested_reserved)
    # Kernel code/data nested once each inside System RAM
    assert [n for _, _, d, n in iomem if n.startswith("Kernel")] == ["Kernel code", "Kernel data"]


# -- dmesg vs DTB and iomem --------------------------------------------------------------

def test_dmesg_placements_agree_with_dtb(dts):
    nodes, _ = dts
    lines = _dmesg_lines()
    rmem = {}
    for line in lines:
        if m := OF_RMEM.match(line):
            s, e, kib, mapflag, reuse, name = m.groups()
            start, end = int(s, 16), int(e, 16) + 1
            assert (end - start) // 1024 == int(kib)
            assert name not in rmem, f"{name} logged twice"
            rmem[name] = (start, end, mapflag, reuse)
    kids = _children(nodes, "/reserved-memory")
    enabled = {n for n, k in kids.items() if k.props.get("status") != '"disabled"'}
    assert set(rmem) == enabled, "every enabled child logs one OF: reserved mem: line"
    for name in enabled:
        k = kids[name]
        start, end, mapflag, reuse = rmem[name]
        assert (mapflag == "nomap") == ("no-map" in k.props), name
        assert (reuse == "reusable") == ("reusable" in k.props), name
        if "reg" in k.props:
            (base, size), = _tuples(k.cells("reg"))
            assert (start, end) == (base, base + size), name
        else:
            (size,) = [(k.cells("size")[0] << 32) | k.cells("size")[1]]
            align = (k.cells("alignment")[0] << 32) | k.cells("alignment")[1]
            (lo, span), = _tuples(k.cells("alloc-ranges"))
            assert end - start == size and start % align == 0
            assert lo <= start and end <= lo + span
            # allocated after every static node: it cannot overlap one
            for other, ok in kids.items():
                if other != name and "reg" in ok.props and other in enabled:
                    (b, s), = _tuples(ok.cells("reg"))
                    assert end <= b or start >= b + s
    # the dynamic pool is also visible in iomem (nested reserved, mapped pool)
    iomem = _iomem()
    for name, (start, end, mapflag, _) in rmem.items():
        if "reg" not in kids[name].props and mapflag == "map":
            assert any(d == 1 and n == "reserved" and s <= start and end <= e
                       for s, e, d, n in iomem)


def test_crashkernel_consistent_and_where_arm64_puts_it(dts):
    nodes, _ = dts
    lines = _dmesg_lines()
    crash = [CRASH.match(line) for line in lines if CRASH.match(line)]
    assert len(crash) == 1
    start, end, mb = int(crash[0].group(1), 16), int(crash[0].group(2), 16), int(crash[0].group(3))
    iomem = _iomem()
    ck = [(s, e) for s, e, d, n in iomem if n == "Crash kernel"]
    assert ck == [(start, end)], "dmesg end is exclusive, iomem end inclusive"
    size = int(re.search(r"crashkernel=(\d+)M", nodes["/chosen"].props["bootargs"]).group(1)) * MiB
    assert end - start == size == mb * MiB
    assert any(d == 0 and n == "System RAM" and s <= start and end <= e for s, e, d, n in iomem)
    # arm64 plain crashkernel=: top-down, 2 MiB aligned, below 4 GiB, avoiding every
    # reservation. Occupied = everything iomem shows as reserved / non-RAM.
    align, low_max = 2 * MiB, 1 << 32
    occupied = [(s, e) for s, e, d, n in iomem
                if (d == 0 and n != "System RAM") or (d == 1 and n != "Crash kernel")]
    ram = [(s, e) for s, e, d, n in iomem if d == 0 and n == "System RAM"]

    def fits(b):
        return (b + size <= low_max and any(s <= b and b + size <= e for s, e in ram)
                and not any(s < b + size and b < e for s, e in occupied))

    assert start % align == 0 and end <= low_max and fits(start)
    assert not any(fits(b) for b in range(start + align, low_max - size + 1, align)), \
        "a higher 2 MiB-aligned slot was free: memblock would have picked it"


def test_dmesg_command_line_is_the_dtb_bootargs(dts):
    nodes, _ = dts
    lines = _dmesg_lines()
    cmd = [line for line in lines if line.startswith("Kernel command line: ")]
    assert cmd == ["Kernel command line: " + nodes["/chosen"].props["bootargs"].strip('"')]
    model = [line for line in lines if line.startswith("Machine model: ")]
    assert model == ["Machine model: " + nodes["/"].props["model"].strip('"')]


def test_dmesg_early_memory_ranges_split_at_nomap(dts):
    """`Early memory node ranges` lists memblock.memory: /memory split at no-map edges."""
    nodes, _ = dts
    ranges = [(int(a, 16), int(b, 16) + 1) for a, b in re.findall(
        r"node   0: \[mem 0x([0-9a-f]+)-0x([0-9a-f]+)\]", (SAMPLE / "dmesg.txt").read_text())]
    assert _union(ranges) == _memory(nodes)
    top = sorted((s, e) for s, e, d, n in _iomem() if d == 0 and n in ("System RAM", "reserved"))
    assert ranges == top


# -- the app reads it without complaint ------------------------------------------------------

def test_app_places_every_region_from_the_sample():
    """The three files together leave nothing unplaced and raise no warning in our loader."""
    from memmap_tui.inputs import Options, load
    mm = load(Options(dtb=str(SAMPLE / "board.dtb"), iomem=str(SAMPLE / "iomem.txt"),
                      dmesg=str(SAMPLE / "dmesg.txt"))).mm
    assert not [f for f in mm.findings if str(f.level) != "info"], mm.findings
    assert mm.ram_known and mm.ram.size_bytes == 8 << 30
    for r in mm.regions:
        if r.reserves_memory:
            assert r.placed, r.id


@needs_dtc
@needs_cpp
def test_app_reads_the_dts_like_the_dtb():
    from memmap_tui.inputs import Options, load
    a = load(Options(dtb=str(SAMPLE / "board.dtb"))).mm
    b = load(Options(dtb=str(SAMPLE / "board.dts"))).mm
    assert [(r.id, list(r.ranges), r.size_bytes) for r in a.regions] == \
        [(r.id, list(r.ranges), r.size_bytes) for r in b.regions]


# -- bench/gen_dtb.py (the benchmark's synthetic DTB) ---------------------------------------

@needs_dtc
def test_bench_generator_node_counts_match_dtc(tmp_path):
    """The generated DTB has the asked-for nodes, counted by dtc and by our reader alike."""
    sys.path.insert(0, str(REPO / "bench"))
    try:
        from gen_dtb import generate
    finally:
        sys.path.remove(str(REPO / "bench"))
    from memmap_tui.sources.fdt_blob import parse_fdt
    dtb = generate(nodes=300, reserved=40, out_dir=tmp_path)
    nodes, memreserve = parse(decompile(dtb))
    assert len(_children(nodes, "/soc")) == 300 + 1            # + the GIC
    kids = _children(nodes, "/reserved-memory")
    assert len(kids) == 40
    assert sum("reg" not in k.props for k in kids.values()) == 10   # every 4th is dynamic
    assert len(memreserve) == 2
    blob = parse_fdt(dtb.read_bytes())
    assert set(blob.nodes_by_path) == set(nodes)
    assert generate(nodes=300, reserved=40, out_dir=tmp_path / "again").read_bytes() == \
        dtb.read_bytes()


# -- what the policies must say for this board (end to end, through the CLI) -----------------

def _page_out(start, end, page=4096):
    return start // page * page, -(-end // page) * page


def test_report_policies_match_an_independent_computation(dts):
    """Expected bytes from dtc's decode + dmesg placements + iomem, by the kernel rules of
    domain.md §2.2/§2.8 (arm64, kexec_file): today = RAM − no-map − crash kernel;
    no-dump-v1 also drops `linux,no-dump` nodes and /memreserve/; exclude-reserved drops
    every enabled non-no-map, non-CMA child and /memreserve/."""
    import json
    from conftest import run_cli
    nodes, memreserve = dts
    iomem = _iomem()
    ram = _memory(nodes)
    crash = [(s, e) for s, e, d, n in iomem if n == "Crash kernel"]
    placed = {}
    for line in _dmesg_lines():
        if m := OF_RMEM.match(line):
            placed[m.group(6)] = (int(m.group(1), 16), int(m.group(2), 16) + 1)
    kids = _children(nodes, "/reserved-memory")
    enabled = {n: k for n, k in kids.items() if k.props.get("status") != '"disabled"'}
    nomap = [placed[n] for n, k in enabled.items() if "no-map" in k.props]

    def size(ranges):
        return sum(e - s for s, e in _union(ranges))

    today = size(ram) - size(nomap + crash)
    v1_out = [placed[n] for n, k in enabled.items() if "linux,no-dump" in k.props
              and "reusable" not in k.props and "no-map" not in k.props]
    v1_out += [_page_out(a, a + s) for a, s in memreserve]
    cma = [n for n, k in enabled.items() if "reusable" in k.props
           and k.props.get("compatible") == '"shared-dma-pool"' and "no-map" not in k.props]
    v2_out = [placed[n] for n, k in enabled.items() if "no-map" not in k.props and n not in cma]
    v2_out += [_page_out(a, a + s) for a, s in memreserve]
    proc = run_cli("report", SAMPLE / "board.dtb", "--iomem", SAMPLE / "iomem.txt",
                   "--dmesg", SAMPLE / "dmesg.txt", "--json")
    assert proc.returncode == 0, proc.stderr
    pol = json.loads(proc.stdout)["policies"]
    assert pol["today"]["dumped_bytes"] == today
    assert pol["no-dump-v1"]["savings_bytes"] == size(v1_out)
    assert pol["exclude-reserved"]["savings_bytes"] == size(v2_out)
    assert pol["exclude-reserved"]["dumped_bytes"] == today - size(v2_out)
    # kexec_load reads iomem: System RAM minus Crash kernel, to the byte
    proc = run_cli("report", SAMPLE / "board.dtb", "--iomem", SAMPLE / "iomem.txt",
                   "--dmesg", SAMPLE / "dmesg.txt", "--loader", "kexec_load", "--json")
    sysram = sum(e - s for s, e, d, n in iomem if d == 0 and n == "System RAM")
    assert json.loads(proc.stdout)["policies"]["today"]["dumped_bytes"] == sysram - size(crash)
