#!/usr/bin/env python3
"""Fuzz bench (issue 14 item 5): every input format, every input ends in exit 0 or 2.

    python bench/fuzz.py --count 100000 dtb iomem        # long campaign (nice -n 19 it)
    python bench/fuzz.py --short                           # every format, a few hundred inputs
    python bench/fuzz.py --replay dtb 1 4711               # re-run one input (format, seed, index)

Formats: dtb dts iomem dmesg elf kdump flattened container. Generators are
structure-aware (trees through bench/fdt_build.py, dumps through bench/gen_dumps.py,
iomem/dmesg lines from their printk formats, DTB containers through
bench/container_build.py) and then mutated (bit flips, interesting integers at aligned
offsets, chunk deletes/duplicates/inserts, truncation). Input `index` of a campaign is
rebuilt from (format, seed, index) alone.

`container`: what the DTB argument accepts besides a DTB — a FIT image (payloads in the
tree or external, none/gzip/bzip2/lzma/zstd), concatenated DTBs, an Android DT table
(v0, v1 with zlib/gzip entries), an Android boot image v0–v4 or vendor_boot v3/v4, a
zImage / Image.gz-dtb with appended DTBs — holding 1–3 small DTBs (now and then a corpus
DTB), inside 0–2 gzip/xz/bzip2/zstd wrappers (zstd as raw-block frames written here: no
zstd module in the stdlib before 3.14), mutated whole, inside its wrappers, or not at
all. A container with several DTBs needs `--pick`: `EXTRA_ARGS` derives it from the
input's bytes alone (`container_args`, about half the inputs), so a saved or minimized
finding replays with the same arguments.

Inputs run in forks of a warm parent (the CLI already imported), 200 per fork, each
calling `memmap_tui.cli.main(["report", "--json", …])` under RLIMIT_AS at the parent's
size + 200 MiB, a 2 s CPU timer and a 10 s wall alarm per input; a fork killed by a
timer names the input it was on. Every input that is not ok is re-run alone in a fresh
fork (`run_forked`, which also measures its peak RSS) before it counts. Outcomes: ok
(exit 0 or 2), crash (any other exit or signal; the traceback's last line is kept),
hang (CPU timer or wall alarm), mem (MemoryError under the cap, or RSS growth > 200 MiB). Findings are minimized by
chunk removal and written to --findings DIR as files + args.json; small ones are
kept under tests/fuzz_regressions/ (tests/test_fuzz.py replays them).

The table's "exit 0" column counts inputs that went through the whole report; the most
common exit-2 messages follow it, so a campaign that only ever reaches one error path
(every DTS once failed at the same `ulimit` step) shows as such. kdump/flattened inputs:
one in 21 has a 1 Mi-page bitmap and one in 33 a fragmented one (up to 65,536 runs, ~1 s
each) — a 100k campaign holds thousands of both and still runs in about an hour per core.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import resource
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import container_build as cb
import fdt_build as fb  # noqa: E402
import gen_dumps as gd  # noqa: E402

CPU_LIMIT_S = 2
WALL_LIMIT_S = 10
CONFIRM_WALL_S = 60
MEM_LIMIT_BYTES = 200 << 20
CORPUS = Path(os.environ.get("MEMMAP_CORPUS", HERE.parent.parent / "shared" / "corpus"))
FORMATS = ("dtb", "dts", "iomem", "dmesg", "elf", "kdump", "flattened", "container")
# The input each format's generator mutates is passed to the CLI as:
ROLE = {"dtb": [], "dts": [], "iomem": ["--iomem"], "dmesg": ["--dmesg"],
        "elf": ["--vmcore"], "kdump": ["--vmcore"], "flattened": ["--vmcore"], "container": []}
SUFFIX = {"dtb": ".dtb", "dts": ".dts", "iomem": ".txt", "dmesg": ".log", "elf": ".core",
          "kdump": ".kdump", "flattened": ".flat", "container": ".img"}

INTERESTING = (0, 1, 2, 3, 4, 7, 8, 0x10, 0x40, 0x7F, 0x80, 0xFF, 0x100, 0x1000, 0xFFFF,
               0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 1 << 32, 1 << 40, (1 << 63) - 1,
               1 << 63, (1 << 64) - 1)


# -- mutation ------------------------------------------------------------------------------

def mutate(rng: random.Random, data: bytes, rounds: int | None = None) -> bytes:
    buf = bytearray(data)
    for _ in range(rounds or rng.choice((1, 1, 2, 3, 8))):
        op = rng.randrange(9)
        n = len(buf)
        if n == 0:
            buf += rng.randbytes(rng.randrange(1, 64))
            continue
        at = rng.randrange(n)
        if op == 0:
            buf[at] ^= 1 << rng.randrange(8)
        elif op == 1:
            buf[at] = rng.randrange(256)
        elif op in (2, 3):  # an interesting integer at an aligned offset, either endian
            width = rng.choice((4, 8))
            at -= at % width
            v = rng.choice(INTERESTING) + rng.choice((0, 0, 0, -1, 1))
            v &= (1 << (8 * width)) - 1
            buf[at:at + width] = v.to_bytes(width, rng.choice(("big", "little")))
        elif op == 4:
            del buf[at:at + rng.randrange(1, 1 + min(256, n - at))]
        elif op == 5:
            k = rng.randrange(1, 1 + min(512, n - at))
            ins = rng.randrange(n)
            buf[ins:ins] = buf[at:at + k] * rng.choice((1, 1, 2, 16))
        elif op == 6:
            buf[at:at] = rng.randbytes(rng.randrange(1, 16))
        elif op == 7:
            del buf[rng.randrange(n):]
        else:
            buf[at:at + 1] = bytes([rng.choice(b"\0\n :-.@x0f")]) * rng.choice((1, 1, 100, 5000))
    return bytes(buf)


# -- structure-aware generators --------------------------------------------------------------

def _rand_addr(rng: random.Random) -> int:
    v = rng.choice((rng.randrange(0, 1 << 36), rng.randrange(0, 1 << 64), 0x80000000, rng.choice(INTERESTING)))
    return v & ~0xFFF if rng.random() < 0.7 else v


def _dtb_tree(rng: random.Random):
    ac, sc = rng.choice(((2, 2), (2, 2), (1, 1), (2, 1), (1, 2), (3, 2), (0, 0)))
    kids = []
    for i in range(rng.choice((0, 1, 3, 8, 40))):
        base, size = _rand_addr(rng), rng.choice((0, 0x1000, 0x100000, 1 << 30, rng.randrange(1 << 40)))
        props = []
        if rng.random() < 0.8:
            props.append(("reg", _enc(base, ac) + _enc(size, sc) * rng.choice((1, 1, 2))))
        else:
            props.append(("size", _enc(size, sc)))
            if rng.random() < 0.5:
                props.append(("alloc-ranges", _enc(base, ac) + _enc(size, sc)))
        for flag in ("no-map", "reusable", "linux,no-dump", "linux,cma-default"):
            if rng.random() < 0.3:
                props.append((flag, b""))
        if rng.random() < 0.4:
            props.append(("compatible", fb.string(rng.choice(("shared-dma-pool", "restricted-dma-pool", "x")))))
        if rng.random() < 0.2:
            props.append(("alignment", _enc(rng.choice(INTERESTING), rng.choice((1, 2, ac)))))
        if rng.random() < 0.2:
            props.append(("status", fb.string(rng.choice(("okay", "disabled", "")))))
        if rng.random() < 0.2:
            props.append(("phandle", fb.cells(i + 1)))
        kids.append((f"r{i}@{base:x}", props, []))
    root = fb.reserved_board(kids, address_cells=max(ac, 1), size_cells=max(sc, 1),
                             memory=(0x80000000, rng.choice((1 << 30, 1 << 33))))
    chosen = []
    if rng.random() < 0.6:
        chosen.append(("bootargs", fb.string(rng.choice((
            "crashkernel=256M", "crashkernel=64M@0x90000000", "mem=2G cma=64M",
            "crashkernel=1G-4G:128M,4G-:256M", "crashkernel=512M,high crashkernel=128M,low")))))
    if rng.random() < 0.3:
        chosen += [("linux,initrd-start", fb.cells(0x90100000)), ("linux,initrd-end", fb.cells(0x90200000))]
    if rng.random() < 0.1:
        chosen.append(("linux,uefi-system-table", fb.cells(0, 0)))
    if chosen:
        root[2].append(("chosen", chosen, []))
    if rng.random() < 0.2:
        root[2].append(("dev@0", [("memory-region", fb.cells(*range(1, 4)))], []))
    if rng.random() < 0.05:
        root[2].append(fb.deep_chain(rng.choice((60, 65, 300)))[2][0])
    memreserve = [(_rand_addr(rng), rng.choice((0x1000, 1 << 20, rng.randrange(1, 1 << 40))))
                  for _ in range(rng.choice((0, 0, 1, 4, 200)))]
    return root, memreserve


def _enc(v: int, n: int) -> bytes:
    return fb.cells(*[(v >> (32 * (n - 1 - i))) & 0xFFFFFFFF for i in range(n)]) if n else b""


def _seed_files(pattern: str, limit: int = 64 << 10) -> list[bytes]:
    return [p.read_bytes() for p in sorted(CORPUS.glob(pattern)) if p.stat().st_size <= limit][:24]


_SEEDS: dict[str, list[bytes]] = {}


def _seeds(fmt: str) -> list[bytes]:
    if fmt not in _SEEDS:
        _SEEDS[fmt] = {"dtb": lambda: _seed_files("dtb/*/*.dtb"),
                       "iomem": lambda: _seed_files("iomem/*.txt"),
                       "dmesg": lambda: _seed_files("boot/*.txt") + _seed_files("boot/console.log", 1 << 20),
                       "elf": lambda: _seed_files("vmcore/*.head8k")}.get(fmt, list)()
    return _SEEDS[fmt]


def gen_dtb(rng: random.Random) -> bytes:
    seeds = _seeds("dtb")
    if seeds and rng.random() < 0.3:
        return mutate(rng, rng.choice(seeds))
    root, rsv = _dtb_tree(rng)
    blob = fb.build(root, rsv, padding=rng.choice((0, 0, 0, 4096)))
    return blob if rng.random() < 0.15 else mutate(rng, blob)


def gen_dts(rng: random.Random) -> bytes:
    lines = ["/dts-v1/;"]
    for _ in range(rng.choice((0, 1, 3))):
        lines.append(f"/memreserve/ {_rand_addr(rng):#x} {rng.choice((0x1000, 1 << 20)):#x};")
    lines += ["/ {", "\t#address-cells = <2>; #size-cells = <2>;",
              "\tmemory@80000000 { device_type = \"memory\"; reg = <0 0x80000000 0 0x80000000>; };",
              "\treserved-memory { #address-cells = <2>; #size-cells = <2>; ranges;"]
    for i in range(rng.choice((0, 1, 4, 16))):
        base = _rand_addr(rng)
        flags = " ".join(f + ";" for f in ("no-map", "reusable", "linux,no-dump") if rng.random() < 0.3)
        lines.append(f"\t\tr{i}@{base:x} {{ reg = <{base >> 32:#x} {base & 0xFFFFFFFF:#x} 0 0x100000>; {flags} }};")
    lines += ["\t};", "};", ""]
    text = "\n".join(lines).encode()
    return text if rng.random() < 0.2 else mutate(rng, text, rng.choice((1, 2)))


def _iomem_text(rng: random.Random) -> bytes:
    out, addr = [], rng.choice((0, 0x40000000, 0x80000000))
    for _ in range(rng.choice((1, 5, 20, 200))):
        depth = rng.choice((0, 0, 1, 1, 2, 3, 9))
        size = rng.choice((0x1000, 0x100000, 1 << 30, rng.randrange(1, 1 << 32)))
        name = rng.choice(("System RAM", "reserved", "Kernel code", "Kernel data", "Crash kernel",
                           "pcie@10000000", "", "PCI Bus 0000:00", "Reserved"))
        out.append("  " * depth + f"{addr:08x}-{addr + size - 1:08x} : {name}")
        addr += size * rng.choice((0, 1, 1, 2))
    return ("\n".join(out) + "\n").encode()


def gen_iomem(rng: random.Random) -> bytes:
    seeds = _seeds("iomem")
    base = rng.choice(seeds) if seeds and rng.random() < 0.3 else _iomem_text(rng)
    return base if rng.random() < 0.2 else mutate(rng, base)


_DMESG_TEMPLATES = (
    "[    0.000000] OF: reserved mem: {a:#018x}..{b:#018x} ({k} KiB) {m} {r} {n}",
    "[    0.000000] Reserved memory: created {p} pool at {a:#018x}, size {s} MiB",
    "[    0.000000] OF: reserved mem: initialized node {n}, compatible id shared-dma-pool",
    "[    0.000000] OF: reserved mem: failed to {fa} memory for node '{n}'",
    "[    0.000000] crashkernel reserved: {a:#018x} - {b:#018x} ({s} MB)",
    "[    0.000000] crashkernel CMA reserved: {s} MB in {k} ranges",
    "[    0.000000] Kernel command line: {cmd}",
    "[    0.000000] Machine model: {n}",
    "[    0.000000] Linux version {v} (gcc) #1 SMP",
    "[    0.000000] Reserved memory: unsupported node format, ignoring",
)


def gen_dmesg(rng: random.Random) -> bytes:
    seeds = _seeds("dmesg")
    if seeds and rng.random() < 0.3:
        text = rng.choice(seeds)
        lines = text.splitlines()
        at = rng.randrange(max(1, len(lines)))
        return mutate(rng, b"\n".join(lines[at:at + rng.choice((20, 200, 2000))]))
    out = []
    for _ in range(rng.choice((1, 4, 30))):
        a = _rand_addr(rng)
        out.append(rng.choice(_DMESG_TEMPLATES).format(
            a=a, b=a + rng.randrange(1 << 32), k=rng.randrange(1 << 30), s=rng.randrange(1 << 20),
            m=rng.choice(("nomap", "map")), r=rng.choice(("reusable", "non-reusable")),
            n=rng.choice(("linux,cma", "gpu@a0000000", "x" * rng.choice((1, 300)))),
            p=rng.choice(("CMA memory", "DMA memory", "restricted DMA")), fa=rng.choice(("reserve", "allocate")),
            cmd=rng.choice(("crashkernel=256M mem=4G", "crashkernel=1G-:256M cma=128M", "crashkernel=" + "9" * 30)),
            v=rng.choice(("6.1.0-18-arm64", "7.2.0", "x"))))
    text = ("\n".join(out) + "\n").encode()
    return text if rng.random() < 0.2 else mutate(rng, text)


def gen_elf(rng: random.Random) -> bytes:
    seeds = _seeds("elf")
    if seeds and rng.random() < 0.2:
        return mutate(rng, rng.choice(seeds))
    segs, pa = [], 0x80000000
    for _ in range(rng.choice((0, 1, 4, 64, 1000))):
        size = rng.choice((0x1000, 1 << 21, 1 << 30, rng.randrange(1, 1 << 34)))
        segs.append((pa, (pa + 0xFFFF000000000000) & ((1 << 64) - 1), size, size + rng.choice((0, 0, 0x1000))))
        pa += size + rng.choice((0, 0x1000, 1 << 21))
    elf32 = rng.random() < 0.1
    if elf32:  # 32-bit fields: small segments low in memory
        segs = [(i << 24, i << 24, 1 << 20, 1 << 20) for i in range(min(len(segs), 200))]
    vmci = gd.vmcoreinfo_text(pagesize=rng.choice((4096, 16384, 65536)))
    notes = gd.core_notes(rng.choice((0, 1, 4)), vmci if rng.random() < 0.8 else None)
    head, _size = gd.elf_core(segs, notes=notes, endian=rng.choice(("<", "<", ">")),
                              elf32=elf32, pn_xnum=rng.random() < 0.05)
    # Only the headers are written (the page data would be read by nobody): a truncated core.
    return head if rng.random() < 0.15 else mutate(rng, head)


def _kdump_pieces(rng: random.Random):
    block = rng.choice((4096, 4096, 16384))
    # 1 Mi-page bitmaps (24 MiB of descriptors, up to 65,536 runs) cost ~1 s to generate and
    # report: one input in 20, so a 100k campaign holds 5,000 of them and still runs in an hour
    # (the scale curves in bench/run.py time the big cases on purpose).
    max_mapnr = rng.choice((8, 64, 4096, 65536) * 5 + (1 << 20,))
    nbytes = -(-max_mapnr // 8)
    # One run per 4 or 2 pages: a bitmap of up to 65,536 runs (131,072 report rows, ~1 s each
    # at 64 Ki pages and more). One input in 33 — ~1,000 of those in a 100k campaign, which
    # must finish in about an hour on one core; bench/run.py's scale curves time them on purpose.
    fragmented = rng.random() < 0.03
    bm1 = bytearray(rng.choice((b"\x0f", b"\xaa") if fragmented else (b"\xff", b"\xff", b"\x00"))) * nbytes
    bm2 = bytes(b1 & rng.choice((0xFF, 0x01, 0x55, 0x00)) for b1 in bm1[:4096]) + bytes(bm1[4096:])
    return gd.kdump_image(block_size=block, max_mapnr=max_mapnr, bitmap1=bytes(bm1), bitmap2=bm2,
                          zero_every=rng.choice((0, 2, 4)), header_version=rng.choice((6, 6, 5, 1)),
                          endian=rng.choice(("<", "<", ">")), single_bitmap=rng.random() < 0.1)


def gen_kdump(rng: random.Random) -> bytes:
    pieces, size, _ = _kdump_pieces(rng)
    # Page data past the descriptors is never read: keep the file to its metadata.
    blob = gd.assemble(pieces, min(size, max(off + len(d) for off, d in pieces) + rng.choice((0, 4096))))
    return blob if rng.random() < 0.15 else mutate(rng, blob)


def gen_flattened(rng: random.Random) -> bytes:
    pieces, _size, _ = _kdump_pieces(rng)
    blob = gd.flatten(pieces, chunk=rng.choice((None, None, 512, 4096)), reverse=rng.random() < 0.3)
    return blob if rng.random() < 0.15 else mutate(rng, blob)


def _container_dtbs(rng: random.Random, n: int) -> list[bytes]:
    """`n` small DTBs, each with its own model (`fuzz-board-K`, so `--pick fuzz-board-2` can
    name one); now and then a corpus DTB instead."""
    seeds, out = _seeds("dtb"), []
    for k in range(1, n + 1):
        if seeds and rng.random() < 0.2:
            out.append(rng.choice(seeds))
            continue
        root, rsv = _dtb_tree(rng)
        root[1][2] = ("model", fb.string(f"fuzz-board-{k}"))
        out.append(fb.build(root, rsv[:rng.choice((0, 4, 200))]))
    return out


def _kernel(rng: random.Random) -> bytes:
    return rng.randbytes(rng.choice((64, 600, 4096)))


def _container(rng: random.Random, kind: str, dtbs: list[bytes]) -> bytes:
    if kind == "fit":
        return cb.fit(dtbs, compression=rng.choice(("none", "none", "gzip", "bzip2", "lzma", "zstd")),
                      external=rng.choice((None, None, "offset", "position")),
                      default=rng.choice((1, len(dtbs), None)), kernel=_kernel(rng) if rng.random() < 0.3 else None,
                      configs=rng.random() < 0.9)
    if kind == "concat":
        return cb.concatenated(dtbs, gap=rng.choice((0, 0, 4, 64)))
    if kind == "dt_table":
        version = rng.choice((0, 1))
        return cb.dt_table(dtbs, version=version, compression=rng.choice((0, 1, 2)) if version else 0)
    if kind == "boot":
        version = rng.choice((0, 1, 2, 2, 3, 4))
        if version == 2 and rng.random() < 0.8:   # the dtb section (a concatenation of them)
            return cb.boot_image(2, _kernel(rng), ramdisk=_kernel(rng), dtb=b"".join(dtbs),
                                 page=rng.choice((2048, 4096)))
        kernel = (cb.zimage(_kernel(rng), dtbs) if rng.random() < 0.5
                  else cb.image_gz_dtb(_kernel(rng), dtbs, rng.choice(("gzip", "gzip", "xz", "bzip2"))))
        return cb.boot_image(version, kernel, ramdisk=_kernel(rng), page=rng.choice((2048, 4096)))
    if kind == "vendor_boot":
        return cb.vendor_boot(rng.choice((3, 4)), b"".join(dtbs), ramdisk=_kernel(rng))
    if kind == "zimage":
        return cb.zimage(_kernel(rng), dtbs)
    if kind == "image_gz":
        return cb.image_gz_dtb(_kernel(rng), dtbs, rng.choice(("gzip", "gzip", "xz", "bzip2")))
    return dtbs[0]    # a plain DTB, to be wrapped


CONTAINER_KINDS = ("fit", "fit", "concat", "dt_table", "dt_table", "boot", "boot", "vendor_boot",
                   "zimage", "image_gz", "plain")


def gen_container(rng: random.Random) -> bytes:
    """A DTB container (FIT, concatenation, Android DT table / boot / vendor_boot image, kernel
    with appended DTB) holding 1–3 DTBs, inside 0–2 compression wrappers; mutated as a whole
    (most often), inside its wrappers, or not at all."""
    kind = rng.choice(CONTAINER_KINDS)
    dtbs = _container_dtbs(rng, 1 if kind == "plain" else rng.choice((1, 1, 2, 2, 3)))
    if rng.random() < 0.1:   # one damaged tree in an intact container
        i = rng.randrange(len(dtbs))
        dtbs[i] = mutate(rng, dtbs[i])
    blob = _container(rng, kind, dtbs)
    wrappers = rng.choices((0, 1, 2), (50, 35, 15))[0]
    # A flipped bit in compressed bytes mostly ends at the decoder's check: wrapped
    # containers are more often mutated inside their wrappers.
    where = rng.choices(("outer", "inner", "none"), (25, 45, 30) if wrappers else (65, 0, 35))[0]
    if where == "inner":
        blob = mutate(rng, blob)
    for _ in range(wrappers):
        blob = cb.compress(rng.choice(cb.WRAPPERS), blob)
    return mutate(rng, blob) if where == "outer" else blob


GENERATORS = {"dtb": gen_dtb, "dts": gen_dts, "iomem": gen_iomem, "dmesg": gen_dmesg,
              "elf": gen_elf, "kdump": gen_kdump, "flattened": gen_flattened, "container": gen_container}


def generate(fmt: str, seed: int, index: int) -> bytes:
    """Input `index` of campaign `seed`: rebuilt from these three values alone."""
    return GENERATORS[fmt](random.Random(f"{fmt}:{seed}:{index}"))


# -- running one input in a fork -------------------------------------------------------------

def _vm_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


# Options a format derives from the input's bytes alone (so a saved or minimized finding
# replays with the same ones): a container with several DTBs needs `--pick`.
_PICK_NAME = re.compile(rb"(?:fuzz-board|fdt|conf)-[0-9]")
_PICK_ODD = ("0", "9", "FUZZ-BOARD", "kernel", "entry 1", "dtb 2", "qcom", "conf-9")


def container_args(data: bytes) -> list[str]:
    """`--pick` for about half the containers: mostly one the bytes show (an index up to the
    number of FDT magics in them, a `fuzz-board-K` model, a FIT `fdt-N`/`conf-N` name), now
    and then one that is out of range, ambiguous or matches nothing."""
    h = hashlib.blake2b(data, digest_size=8).digest()
    if h[0] & 1:
        return []
    n = data.count(b"\xd0\x0d\xfe\xed", 0, 1 << 20)
    plausible = [str(k) for k in range(1, n + 1)] or ["1"]
    plausible += sorted({m.decode() for m in _PICK_NAME.findall(data, 0, 1 << 20)})
    if h[1] < 40:
        return ["--pick", _PICK_ODD[h[2] % len(_PICK_ODD)]]
    return ["--pick", plausible[h[2] % len(plausible)]]


EXTRA_ARGS = {"container": container_args}


def args_for(fmt: str, path: str) -> list[str]:
    # A vmcore or text input alone still builds a map; DTB/DTS go in as the board.
    extra = EXTRA_ARGS[fmt](Path(path).read_bytes()) if fmt in EXTRA_ARGS else []
    return ["report", "--json", *ROLE[fmt], path, *extra]


def run_forked(args: list[str], *, cpu_s: int = CPU_LIMIT_S, wall_s: int = WALL_LIMIT_S,
               mem_bytes: int = MEM_LIMIT_BYTES) -> tuple[str, str, float, int]:
    """(outcome, detail, wall seconds, extra peak RSS KiB) of `memmap-tui ARGS` in a fork."""
    from memmap_tui import cli
    err_r, err_w = os.pipe()
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    vm = _vm_bytes()
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # child: limits, quiet stdout, run the CLI, never return
        try:
            os.close(err_r)
            os.dup2(err_w, 2)
            null = os.open(os.devnull, os.O_RDWR)
            os.dup2(null, 0)
            os.dup2(null, 1)
            os.setpgid(0, 0)
            resource.setrlimit(resource.RLIMIT_AS, (vm + mem_bytes, vm + mem_bytes))
            resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            signal.alarm(wall_s)
            sys.stdout = open(os.devnull, "w")  # a capturing caller (pytest) may have replaced it
            sys.stderr = open(2, "w", closefd=False)
            os.environ["MEMMAP_TUI_DEBUG"] = "1"
            code = 0
            try:
                cli.main(args)
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            except BaseException:
                tb = traceback.format_exc()
                os.write(2, tb.encode(errors="replace")[-3000:])
                code = 70
            os._exit(code)
        except BaseException:
            os._exit(71)
    os.close(err_w)
    chunks = []
    while True:
        chunk = os.read(err_r, 65536)
        if not chunk:
            break
        if sum(map(len, chunks)) < 1 << 16:
            chunks.append(chunk)
    os.close(err_r)
    _, status, ru = os.wait4(pid, 0)
    try:
        os.killpg(pid, signal.SIGKILL)  # helpers it started (dtc, cpp) go with it
    except OSError:
        pass
    wall = time.perf_counter() - t0
    extra_kib = max(0, ru.ru_maxrss - base_rss)
    err = b"".join(chunks).decode("utf-8", "replace")
    last = err.strip().splitlines()[-1] if err.strip() else ""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig in (signal.SIGXCPU, signal.SIGALRM):
            cpu = ru.ru_utime + ru.ru_stime
            return "hang", f"killed by {signal.Signals(sig).name} after {wall:.1f} s wall, {cpu:.1f} s CPU", wall, extra_kib
        return "crash", f"signal {signal.Signals(sig).name}", wall, extra_kib
    code = os.WEXITSTATUS(status)
    if code in (0, 2):
        return "ok", last, wall, extra_kib
    if "MemoryError" in err:
        return "mem", last, wall, extra_kib
    return "crash", f"exit {code}: {last}", wall, extra_kib


# -- many inputs per fork: the fast path of a campaign -------------------------------------------

BATCH = 200


def _child_limits(vm: int, mem_bytes: int) -> None:
    os.setpgid(0, 0)
    # soft limit only: the batch child lifts it while it generates an input (the generator's
    # buffers are not the product's) and sets it again, from the address space of that moment,
    # for the run
    resource.setrlimit(resource.RLIMIT_AS, (vm + mem_bytes, resource.RLIM_INFINITY))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.dup2(null, 2)
    sys.stdout = open(os.devnull, "w")
    os.environ["MEMMAP_TUI_DEBUG"] = "1"


def _batch_child(fmt: str, seed: int, indices: range, workdir: Path, wfd: int, vm: int) -> None:
    """Run `indices` one after another; report `S i` before and `R i outcome detail` after each.
    Per input: CPU timer (ITIMER_PROF, default action kills) and a wall alarm, so a hang
    anywhere — even inside one C call such as a regex — ends the fork at that input."""
    import io
    from memmap_tui import cli
    _child_limits(vm, MEM_LIMIT_BYTES)
    out = os.fdopen(wfd, "w", buffering=1)
    base_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for index in indices:
        resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        data = generate(fmt, seed, index)
        path = _write_input(workdir, fmt, data)
        del data
        cap = _vm_bytes() + MEM_LIMIT_BYTES
        resource.setrlimit(resource.RLIMIT_AS, (cap, resource.RLIM_INFINITY))
        out.write(f"S {index}\n")
        out.flush()
        signal.setitimer(signal.ITIMER_PROF, CPU_LIMIT_S)
        signal.alarm(WALL_LIMIT_S)
        sys.stderr = err = io.StringIO()
        code = 0
        t0 = time.perf_counter()
        try:
            cli.main(args_for(fmt, path))
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except MemoryError:
            code, err = 70, io.StringIO("MemoryError")
        except BaseException:
            code = 70
            err.write(traceback.format_exc()[-600:])
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.alarm(0)
        text = err.getvalue()
        last = (text.strip().splitlines() or [""])[-1].replace("\n", " ")[:300]
        outcome = "ok" if code in (0, 2) else "mem" if "MemoryError" in text else "crash"
        # peak RSS growth of this fork so far: the input that raises it is the one reported
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base_kib
        out.write(f"R {index} {outcome} {code} {grown} {time.perf_counter() - t0:.3f} {last}\n")
    out.flush()
    os._exit(0)


def run_batch(fmt: str, seed: int, indices: range, workdir: Path,
              peak: list | None = None) -> list[tuple[int, str, str]]:
    """(index, outcome, detail) for each input; a fork that dies names the input it died on.
    `peak` ([KiB, s]) is raised to the largest peak-RSS growth and wall time reported."""
    peak = peak if peak is not None else [0, 0.0]
    results: list[tuple[int, str, str]] = []
    todo = indices
    while len(todo):
        r, w = os.pipe()
        vm = _vm_bytes()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(r)
                _batch_child(fmt, seed, todo, workdir, w, vm)
            finally:
                os._exit(71)
        os.close(w)
        started, done = None, set()
        with os.fdopen(r) as f:
            for line in f:
                kind, _, rest = line.rstrip("\n").partition(" ")
                if kind == "S":
                    started = int(rest)
                elif kind == "R":
                    idx, outcome, code, grown, wall, detail = (rest.split(" ", 5) + [""])[:6]
                    peak[0], peak[1] = max(peak[0], int(grown)), max(peak[1], float(wall))
                    # exit 0 shows as "accepted": a campaign where nothing is accepted tests
                    # only the first error path (a DTS fuzz once ran every input into the
                    # same `ulimit` failure and counted 47,000 "ok")
                    results.append((int(idx), "accepted" if outcome == "ok" and code == "0" else outcome,
                                    detail))
                    done.add(int(idx))
        _, status, _ = os.wait4(pid, 0)
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
        if started is None or started in done:
            # Between inputs: the batch is done, or the fork died in the harness (generating or
            # writing the next input), which is not the product's doing — but the inputs after it
            # must still run. An input whose generation kills every fork is counted as skipped.
            nxt = todo.start if started is None else started + 1
            if nxt >= todo.stop or (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
                break
            if started is None:
                results.append((nxt, "skipped", f"harness died generating it: {status=:#x}"))
                nxt += 1
            todo = range(nxt, todo.stop)
            continue
        sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        if sig in (signal.SIGPROF, signal.SIGALRM):
            results.append((started, "hang", f"killed by {signal.Signals(sig).name}"))
        else:
            results.append((started, "crash", f"fork died: {status=:#x}"))
        todo = range(started + 1, todo.stop)
    return results


# -- campaign --------------------------------------------------------------------------------

def _write_input(workdir: Path, fmt: str, data: bytes) -> str:
    path = workdir / ("input" + SUFFIX[fmt])
    path.write_bytes(data)
    return str(path)


def minimize(fmt: str, data: bytes, outcome: str, workdir: Path, budget: int = 300) -> bytes:
    """Drop chunks (halves, quarters, … bytes) while the outcome stays the same."""
    chunk = max(1, len(data) // 2)
    tries = 0
    while chunk >= 1 and tries < budget:
        i, changed = 0, False
        while i < len(data) and tries < budget:
            cand = data[:i] + data[i + chunk:]
            tries += 1
            if run_forked(args_for(fmt, _write_input(workdir, fmt, cand)))[0] == outcome:
                data, changed = cand, True
            else:
                i += chunk
        if not changed:
            chunk //= 2
    return data


MAX_KEPT_BYTES = 16 << 10  # larger findings are kept as (format, seed, index) and regenerated


def save_finding(dest: Path, fmt: str, seed: int, index: int, data: bytes, outcome: str, detail: str) -> Path:
    digest = hashlib.sha256(data).hexdigest()[:12]
    d = dest / f"{fmt}-{outcome}-{digest}"
    d.mkdir(parents=True, exist_ok=True)
    name = "input" + SUFFIX[fmt]
    record = {"format": fmt, "seed": seed, "index": index, "outcome": outcome, "detail": detail[:300]}
    if len(data) <= MAX_KEPT_BYTES:
        (d / name).write_bytes(data)
        record["file"] = name
    (d / "args.json").write_text(json.dumps(record, indent=1) + "\n")
    return d


def finding_input(d: Path) -> tuple[str, bytes]:
    """(format, bytes) of a saved finding: its file, or its input rebuilt by the generator."""
    record = json.loads((d / "args.json").read_text())
    if "file" in record:
        return record["format"], (d / record["file"]).read_bytes()
    return record["format"], generate(record["format"], record["seed"], record["index"])


def campaign(fmt: str, count: int, seed: int = 1, *, start: int = 0, findings: Path | None = None,
             do_minimize: bool = True, progress: bool = False) -> dict:
    stats: Counter = Counter()
    worst_wall, worst_rss = 0.0, 0
    batch_peak = [0, 0.0]      # largest RSS growth (KiB) and wall time (s) forks reported
    examples: dict[str, str] = {}
    errors: Counter = Counter()
    with tempfile.TemporaryDirectory(prefix=f"fuzz-{fmt}-") as tmp:
        workdir = Path(tmp)
        t0 = time.time()
        done = 0
        for batch_start in range(start, start + count, BATCH):
            batch = range(batch_start, min(batch_start + BATCH, start + count))
            for index, outcome, detail in run_batch(fmt, seed, batch, workdir, batch_peak):
                done += 1
                if outcome == "skipped":
                    stats["skipped"] += 1
                    continue
                if outcome in ("ok", "accepted"):
                    stats["ok"] += 1
                    stats["accepted"] += outcome == "accepted"
                    if outcome == "ok":
                        errors[detail.split(": ", 2)[-1][:70]] += 1   # which error paths it reached
                    continue
                # Confirm in a fresh fork of its own, with exact limits and its own RSS; the wall
                # alarm is generous there, so a starved (nice 19) fork is not called a hang.
                data = generate(fmt, seed, index)
                outcome, detail, wall, extra = run_forked(args_for(fmt, _write_input(workdir, fmt, data)),
                                                          wall_s=CONFIRM_WALL_S)
                if outcome == "ok" and extra > MEM_LIMIT_BYTES >> 10:
                    outcome, detail = "mem", f"peak RSS grew by {extra >> 10} MiB"
                stats[outcome] += 1
                worst_wall, worst_rss = max(worst_wall, wall), max(worst_rss, extra)
                if outcome == "ok":
                    continue
                key = f"{outcome}: {detail[:160]}"
                if key not in examples:
                    examples[key] = f"{fmt} {seed} {index}"
                    if findings is not None:
                        # A hang costs seconds per try: minimize crashes and memory blow-ups only.
                        small = (minimize(fmt, data, outcome, workdir)
                                 if do_minimize and outcome != "hang" else data)
                        save_finding(findings, fmt, seed, index, small, outcome, detail)
            if progress:
                print(f"{fmt}: {done}/{count} {dict(stats)} {done / (time.time() - t0):.0f}/s",
                      file=sys.stderr, flush=True)
    worst_rss, worst_wall = max(worst_rss, batch_peak[0]), max(worst_wall, batch_peak[1])
    return {"format": fmt, "seed": seed, "inputs": done - stats["skipped"], "skipped": stats["skipped"],
            "ok": stats["ok"], "accepted": stats["accepted"],
            "top_errors": errors.most_common(3), "crash": stats["crash"],
            "hang": stats["hang"], "mem": stats["mem"], "max_wall_s": round(worst_wall, 3),
            "max_extra_rss_mib": round(worst_rss / 1024, 1), "examples": examples}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("formats", nargs="*", metavar="FORMAT", help=" ".join(FORMATS) + " (default: all)")
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--short", action="store_true", help="CI profile: 150 inputs per format")
    ap.add_argument("--findings", type=Path, default=None, help="write minimized findings here")
    ap.add_argument("--no-minimize", action="store_true")
    ap.add_argument("--json", type=Path, default=None, help="append one JSON line per format here")
    ap.add_argument("--replay", nargs=3, metavar=("FORMAT", "SEED", "INDEX"))
    a = ap.parse_args(argv)
    if a.replay:
        fmt, seed, index = a.replay[0], int(a.replay[1]), int(a.replay[2])
        with tempfile.TemporaryDirectory() as tmp:
            path = _write_input(Path(tmp), fmt, generate(fmt, seed, index))
            print(run_forked(args_for(fmt, path)))
        return 0
    formats = a.formats or list(FORMATS)
    if set(formats) - set(FORMATS):
        ap.error(f"formats: {', '.join(FORMATS)}")
    count = 150 if a.short else a.count
    bad = 0
    print(f"{'format':<10} {'inputs':>8} {'exit 0':>7} {'crash':>6} {'hang>2s':>8} {'RSS>200M':>9} "
          f"{'max wall':>9} {'max +RSS':>9}")
    for fmt in formats:
        r = campaign(fmt, count, a.seed, start=a.start, findings=a.findings,
                     do_minimize=not a.no_minimize, progress=not a.short)
        print(f"{fmt:<10} {r['inputs']:>8} {r['accepted']:>7} {r['crash']:>6} {r['hang']:>8} {r['mem']:>9} "
              f"{r['max_wall_s']:>8.2f}s {r['max_extra_rss_mib']:>7.1f}Mi", flush=True)
        if r["skipped"]:
            print(f"    {r['skipped']} inputs skipped: the harness died generating them")
        for detail, n in r["top_errors"]:
            print(f"    exit 2 ×{n}: {detail}")
        for key, where in r["examples"].items():
            print(f"    {key}  [replay: {where}]")
        if a.json:
            with a.json.open("a") as f:
                f.write(json.dumps(r) + "\n")
        bad += r["crash"] + r["hang"] + r["mem"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
