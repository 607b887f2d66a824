"""ELF vmcores: /proc/vmcore copies, `makedumpfile -E`, QEMU `dump-guest-memory`.

pyelftools reads the ELF header (incl. PN_XNUM) and the notes; the program header
table is unpacked in one `struct.iter_unpack` pass (10,000 PT_LOADs through
pyelftools' per-segment parsing cost ~250 ms, this ~5 ms). PT_LOAD data is never read.
QEMU 7.2 quirks handled: e_ehsize 8, section headers at 64, program headers at 192.
"""

from __future__ import annotations

import struct
from collections import Counter

from elftools.common.exceptions import ELFError
from elftools.construct import ConstructError
from elftools.elf.elffile import ELFFile

from memmap_tui.core.dump import DumpLayout, Segment, SegmentIndex
from memmap_tui.core.ranges import Range, RangeSet
from memmap_tui.sources.errors import InputError
from memmap_tui.sources.vmcore.reader import Reader, ReaderIO
from memmap_tui.sources.vmcore.vmcoreinfo import (EM_ARCH, EM_NAME, count_prstatus, parse_notes,
                                                  parse_vmcoreinfo, vmcoreinfo_int)

PT_LOAD, PT_NOTE = 1, 4
MAX_NOTE_BYTES = 64 << 20      # a PT_NOTE bigger than this is damage, not notes
MAX_PHNUM = 1 << 22
X86_KERNEL_MAP = 0xFFFFFFFF80000000


class _CoreELF(ELFFile):
    """Section headers are optional in a core (and absent from cut files): a core's
    section names are never used, so a missing or damaged name table is no error."""

    def _get_section_header_stringtable(self):
        try:
            return super()._get_section_header_stringtable()
        except (ELFError, ConstructError, struct.error, ValueError):
            return None


def is_elf(head: bytes) -> bool:
    return head[:4] == b"\x7fELF"


def read_elf(reader: Reader, fmt: str = "elf") -> DumpLayout:
    path = reader.path
    head = reader.read(0, 64)
    if not is_elf(head):
        raise InputError(path, "not an ELF file")
    if len(head) < 52 or (head[4] == 2 and len(head) < 64):
        raise InputError(path, f"ELF header cut at offset {len(head):#x}")
    if head[4] not in (1, 2) or head[5] not in (1, 2):
        raise InputError(path, f"bad ELF ident (class {head[4]}, data {head[5]})")
    try:
        elf = _CoreELF(ReaderIO(reader))
        hdr = elf.header
        e_type = hdr["e_type"]
        phnum = elf.num_segments()   # follows PN_XNUM to section 0's sh_info
    except InputError:
        raise
    except Exception as exc:  # pyelftools raises ELFError, construct errors, struct errors...
        raise InputError(path, f"bad ELF header: {exc}") from None
    if e_type != "ET_CORE":
        raise InputError(path, f"ELF type {e_type}, not a core dump (ET_CORE)")
    little = head[5] == 1
    endian = "little" if little else "big"
    is64 = head[4] == 2
    e_machine = struct.unpack_from("<H" if little else ">H", head, 18)[0]
    layout = DumpLayout(path=path, format=fmt, page_size=4096, block_size=4096, endianness=endian,
                        machine=EM_NAME.get(e_machine, f"e_machine {e_machine}"),
                        arch=EM_ARCH.get(e_machine), file_size_bytes=reader.file_size_bytes)
    phoff, phentsize = hdr["e_phoff"], hdr["e_phentsize"]
    if hdr["e_phnum"] == 0xFFFF:
        layout.notes.append(f"PN_XNUM: {phnum} program headers (count from section 0 sh_info)")
    min_ent = 56 if is64 else 32
    if phnum and phentsize < min_ent:
        raise InputError(path, f"e_phentsize {phentsize} < {min_ent}")
    if phnum > MAX_PHNUM:
        raise InputError(path, f"{phnum} program headers: damaged header")
    table = reader.read(phoff, phnum * phentsize) if phnum else b""
    if len(table) < phnum * phentsize:
        whole = len(table) // phentsize if phentsize else 0
        layout.warn("vmcore-cut", f"program headers cut: first missing offset {phoff + len(table):#x} "
                                  f"({whole} of {phnum} readable)")
        phnum = whole
        table = table[:phnum * phentsize]
        if phnum == 0:
            raise InputError(path, f"program headers cut at offset {phoff + len(table):#x}")
    phdrs = _unpack_phdrs(table, phnum, phentsize, little, is64)

    # -- notes: VMCOREINFO, NT_PRSTATUS ------------------------------------------
    notes: list[tuple[str, int, bytes]] = []
    note_end = 0
    for ptype, off, _va, _pa, filesz, _memsz in phdrs:
        if ptype != PT_NOTE or filesz == 0:
            continue
        note_end = max(note_end, off + filesz)
        if filesz > MAX_NOTE_BYTES:
            layout.warn("vmcore-notes", f"PT_NOTE of {filesz} bytes at {off:#x} ignored (damaged)")
            continue
        notes.extend(_segment_notes(reader, layout, off, filesz, endian))
    info_desc = next((d for n, t, d in notes if n == "VMCOREINFO"), None)
    if info_desc is not None:
        layout.vmcoreinfo = parse_vmcoreinfo(info_desc)
    else:
        layout.warn("vmcore-no-vmcoreinfo", "no VMCOREINFO note: page size assumed 4 KiB, "
                                            "no OSRELEASE (QEMU without -device vmcoreinfo?)")
    cpus = count_prstatus(notes)
    layout.cpus = cpus or None
    _apply_vmcoreinfo(layout)

    # -- PT_LOADs ----------------------------------------------------------------------
    loads = [(off, va, pa, filesz, memsz) for ptype, off, va, pa, filesz, memsz in phdrs if ptype == PT_LOAD]
    if not loads:
        layout.warn("vmcore-no-load", "no PT_LOAD: the dump holds no memory")
    segs: list[Segment] = []
    for i, (off, va, pa, filesz, memsz) in enumerate(loads):
        if filesz > memsz:
            layout.warn("vmcore-filesz", f"PT_LOAD {i}: p_filesz {filesz:#x} > p_memsz {memsz:#x}; clamped")
            filesz = memsz
        segs.append(Segment(pa, memsz, filesz, off, va))
    segs = _mark_kernel_image(segs, layout)
    layout.segments = tuple(segs)
    layout.index = SegmentIndex(segs, layout.page_size)
    layout.covered, layout.present = layout.index.covered, layout.index.present
    if any(s.filesz < s.memsz for s in segs):
        layout.notes.append("PT_LOADs with p_filesz < p_memsz: filtered pages are absent "
                            "(makedumpfile -E)")

    # -- sizes, cut files -----------------------------------------------------------------
    data_end = max((s.offset + s.filesz for s in segs if s.filesz), default=0)
    meta_end = max(64, phoff + phnum * phentsize, note_end)
    if hdr["e_shnum"] and hdr["e_shoff"]:
        meta_end = max(meta_end, hdr["e_shoff"] + hdr["e_shnum"] * hdr["e_shentsize"])
        strtab = _section(elf, hdr["e_shstrndx"])
        if strtab is not None and strtab["sh_size"] < (1 << 20):
            meta_end = max(meta_end, strtab["sh_offset"] + strtab["sh_size"])
    layout.dump_size_bytes = max(data_end, meta_end)
    layout.metadata_bytes = layout.dump_size_bytes - sum(s.filesz for s in segs)
    size_on_disk = reader.file_size_bytes
    if fmt.startswith("flattened"):
        size_on_disk = reader.logical_size     # the image ends at the last record
    if reader.damage:
        layout.warn("vmcore-cut", f"flattened records: {reader.damage}")
    if size_on_disk < data_end:
        first_cut = next((s for s in sorted(segs, key=lambda s: s.offset)
                          if s.filesz and s.offset + s.filesz > size_on_disk), None)
        where = (f"; PT_LOAD [mem {first_cut.paddr:#x}-{first_cut.paddr + first_cut.memsz - 1:#x}] onwards"
                 if first_cut else "")
        layout.warn("vmcore-cut", f"file cut: first missing offset {size_on_disk:#x} of "
                                  f"{layout.dump_size_bytes:#x} bytes{where}; figures come from the headers")
    _guess_producer(layout, hdr, segs)
    return layout


def _unpack_phdrs(table: bytes, n: int, entsize: int, little: bool, is64: bool):
    e = "<" if little else ">"
    if is64:
        st = struct.Struct(e + "IIQQQQQQ")
        pick = lambda t: (t[0], t[2], t[3], t[4], t[5], t[6])   # type, offset, vaddr, paddr, filesz, memsz
    else:
        st = struct.Struct(e + "IIIIIIII")
        pick = lambda t: (t[0], t[1], t[2], t[3], t[4], t[5])
    if entsize == st.size:
        return [pick(t) for t in st.iter_unpack(table[:n * entsize])]
    return [pick(st.unpack_from(table, i * entsize)) for i in range(n)]


def _segment_notes(reader: Reader, layout: DumpLayout, off: int, filesz: int, endian: str):
    raw = reader.read(off, filesz)
    if len(raw) < filesz:
        layout.warn("vmcore-cut", f"notes cut: first missing offset {off + len(raw):#x}")
    notes, problem = parse_notes(raw, endian)
    if problem:
        layout.warn("vmcore-notes", problem)
    return notes


def _section(elf: ELFFile, index: int):
    """Section header `index`, or None when absent or damaged (cores need none)."""
    if not index:
        return None
    try:
        return elf.get_section(index)
    except (ELFError, ConstructError, struct.error, ValueError):
        return None


def _apply_vmcoreinfo(layout: DumpLayout) -> None:
    info = layout.vmcoreinfo
    page = vmcoreinfo_int(info, "PAGESIZE")
    if page and page & (page - 1) == 0:
        layout.page_size = layout.block_size = page
    layout.osrelease = info.get("OSRELEASE")


def _mark_kernel_image(segs: list[Segment], layout: DumpLayout) -> list[Segment]:
    """The arm64/riscv/loongarch kernel-image PT_LOAD (p_vaddr = _text, not the linear map).

    It duplicates bytes of a RAM PT_LOAD; we flag it so coverage and the policy check
    count those bytes once. Rule: its (p_vaddr - p_paddr) is kimage_voffset, or x86's
    __START_KERNEL_map, or differs from the delta most RAM PT_LOADs share while its
    range lies inside the others.
    """
    if not segs:
        return segs
    mask = (1 << 64) - 1
    deltas = [(s.vaddr - s.paddr) & mask for s in segs]
    kimage = vmcoreinfo_int(layout.vmcoreinfo, "NUMBER(kimage_voffset)")
    common = Counter(deltas).most_common(1)[0][0] if len(segs) > 1 else None
    candidates = []
    for i, (s, d) in enumerate(zip(segs, deltas)):
        if (kimage is not None and d == (kimage & mask)) or \
                (layout.arch == "x86_64" and s.vaddr >= X86_KERNEL_MAP) or \
                (common is not None and d != common and s.vaddr != 0):
            candidates.append(i)
    if not candidates or len(candidates) > 16:
        return segs   # none, or no single linear-map delta: nothing looks like "the" kernel image
    cand = set(candidates)
    rest = RangeSet((o.paddr, o.paddr + o.memsz) for j, o in enumerate(segs) if j not in cand)
    out = list(segs)
    for i in candidates:
        s = segs[i]
        # Only a duplicate is the kernel image: bytes found nowhere else count as RAM.
        if s.memsz and rest.overlap_bytes(RangeSet([(s.paddr, s.paddr + s.memsz)])) == s.memsz:
            out[i] = Segment(s.paddr, s.memsz, s.filesz, s.offset, s.vaddr, True)
            if layout.kernel_image is None:
                layout.kernel_image = Range(s.paddr, s.paddr + s.memsz)
    return out


def _guess_producer(layout: DumpLayout, hdr, segs: list[Segment]) -> None:
    if hdr["e_ehsize"] not in (52, 64) and hdr["e_shnum"] and hdr["e_phoff"] > hdr["e_shoff"]:
        layout.producer = "qemu"
        layout.notes.append("QEMU dump-guest-memory layout (e_ehsize %d, section headers at %d, "
                            "program headers at %d)" % (hdr["e_ehsize"], hdr["e_shoff"], hdr["e_phoff"]))
    elif any(s.filesz < s.memsz for s in segs):
        layout.producer = "makedumpfile"
    elif layout.kernel_image is not None:
        layout.producer = "kernel"
