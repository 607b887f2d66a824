"""ELF vmcores: /proc/vmcore copies, `makedumpfile -E`, QEMU `dump-guest-memory`.

The ELF and section headers are parsed with pyelftools' own struct declarations
(`ELFStructs`: Elf_Ehdr, Elf_Shdr); the program header table — up to 65,535+ entries —
is unpacked in one `struct.iter_unpack` pass over the same field order (Elf64_Phdr /
Elf32_Phdr, declared once below). Notes go through the bounded `parse_notes`. PT_LOAD
data is never read. QEMU 7.2 quirks handled: e_ehsize 8, section headers at 64,
program headers at 192.
"""

from __future__ import annotations

import struct
from collections import Counter
from functools import lru_cache

from elftools.elf.structs import ELFStructs

from memmap_tui.core.dump import DumpLayout, Segment, SegmentIndex
from memmap_tui.core.ranges import Range, RangeSet
from memmap_tui.sources.errors import InputError
from memmap_tui.sources.vmcore.reader import Reader
from memmap_tui.sources.vmcore.vmcoreinfo import (EM_ARCH, EM_NAME, count_prstatus, parse_notes,
                                                  parse_vmcoreinfo, vmcoreinfo_int)

PT_LOAD, PT_NOTE = 1, 4
PN_XNUM = 0xFFFF
MAX_NOTE_BYTES = 64 << 20      # a PT_NOTE bigger than this is damage, not notes
MAX_PHNUM = 1 << 22
X86_KERNEL_MAP = 0xFFFFFFFF80000000

# Elf64_Phdr / Elf32_Phdr (include/uapi/linux/elf.h): the 64-bit layout moves p_flags
# up to keep the 8-byte fields aligned. (fields, struct format per class)
PHDR_FIELDS = {
    64: (("p_type", "p_flags", "p_offset", "p_vaddr", "p_paddr", "p_filesz", "p_memsz", "p_align"),
         "IIQQQQQQ"),
    32: (("p_type", "p_offset", "p_vaddr", "p_paddr", "p_filesz", "p_memsz", "p_flags", "p_align"),
         "IIIIIIII"),
}
PHDR_KEEP = ("p_type", "p_offset", "p_vaddr", "p_paddr", "p_filesz", "p_memsz")


def is_elf(head: bytes) -> bool:
    return head[:4] == b"\x7fELF"


@lru_cache(maxsize=4)
def _structs(little: bool, elfclass: int) -> ELFStructs:
    st = ELFStructs(little_endian=little, elfclass=elfclass)
    st.create_basic_structs()
    # Elf_Shdr needs the advanced pass; its layout does not depend on type/machine for cores
    st.create_advanced_structs(e_type="ET_CORE", e_machine="EM_NONE", e_ident_osabi="ELFOSABI_SYSV")
    return st


def read_elf(reader: Reader, fmt: str = "elf") -> DumpLayout:
    ehdr, st, little, elfclass = _elf_header(reader)
    e_machine = struct.unpack_from("<H" if little else ">H", reader.read(18, 2))[0]
    layout = DumpLayout(path=reader.path, format=fmt, page_size=4096, block_size=4096,
                        endianness="little" if little else "big",
                        machine=EM_NAME.get(e_machine, f"e_machine {e_machine}"),
                        arch=EM_ARCH.get(e_machine), file_size_bytes=reader.file_size_bytes)
    phnum = _phnum(reader, layout, ehdr, st)
    phdrs, table_end = _program_headers(reader, layout, ehdr, phnum, little, elfclass)
    note_end = _notes(reader, layout, phdrs)
    segs = _segments(layout, phdrs)
    meta_end = max(64, table_end, note_end, _section_table_end(reader, ehdr, st))
    _sizes(reader, layout, segs, meta_end)
    _guess_producer(layout, ehdr, segs)
    return layout


def _elf_header(reader: Reader):
    path = reader.path
    head = reader.read(0, 64)
    if not is_elf(head):
        raise InputError(path, "not an ELF file")
    if len(head) < 52 or (head[4] == 2 and len(head) < 64):
        raise InputError(path, f"ELF header cut at offset {len(head):#x}")
    if head[4] not in (1, 2) or head[5] not in (1, 2):
        raise InputError(path, f"bad ELF ident (class {head[4]}, data {head[5]})")
    little, elfclass = head[5] == 1, 64 if head[4] == 2 else 32
    st = _structs(little, elfclass)
    ehdr = st.Elf_Ehdr.parse(head)
    if ehdr["e_type"] != "ET_CORE":
        raise InputError(path, f"ELF type {ehdr['e_type']}, not a core dump (ET_CORE)")
    return ehdr, st, little, elfclass


def _phnum(reader: Reader, layout: DumpLayout, ehdr, st: ELFStructs) -> int:
    """e_phnum, or with PN_XNUM the count in section 0's sh_info (gABI "Extended numbering")."""
    if ehdr["e_phnum"] != PN_XNUM:
        return ehdr["e_phnum"]
    raw = reader.read(ehdr["e_shoff"], st.Elf_Shdr.sizeof()) if ehdr["e_shoff"] else b""
    if len(raw) < st.Elf_Shdr.sizeof():
        raise InputError(reader.path, "e_phnum is PN_XNUM but section header 0 is missing")
    phnum = st.Elf_Shdr.parse(raw)["sh_info"]
    layout.notes.append(f"PN_XNUM: {phnum} program headers (count from section 0 sh_info)")
    return phnum


def _program_headers(reader: Reader, layout: DumpLayout, ehdr, phnum: int, little: bool,
                     elfclass: int) -> tuple[list[tuple[int, ...]], int]:
    """[(p_type, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz)] and the table's end offset.
    The table size is checked against the bytes the file really holds before it is read."""
    path = reader.path
    phoff, phentsize = ehdr["e_phoff"], ehdr["e_phentsize"]
    names, fmt = PHDR_FIELDS[elfclass]
    entry = struct.Struct(("<" if little else ">") + fmt)
    if phnum and phentsize < entry.size:
        raise InputError(path, f"e_phentsize {phentsize} < {entry.size}")
    if phnum > MAX_PHNUM:
        raise InputError(path, f"{phnum} program headers: damaged header")
    readable = max(0, min(phnum * phentsize, reader.logical_size - phoff))
    table = reader.read(phoff, readable) if phnum else b""
    if len(table) < phnum * phentsize:
        whole = len(table) // phentsize if phentsize else 0
        layout.warn("vmcore-cut", f"program headers cut: first missing offset {phoff + len(table):#x} "
                                  f"({whole} of {phnum} readable)")
        phnum = whole
        if phnum == 0:
            raise InputError(path, f"program headers cut at offset {phoff + len(table):#x}")
    keep = [names.index(n) for n in PHDR_KEEP]
    if phentsize == entry.size:
        rows = entry.iter_unpack(table[:phnum * phentsize])
    else:
        rows = (entry.unpack_from(table, i * phentsize) for i in range(phnum))
    return [tuple(t[k] for k in keep) for t in rows], phoff + phnum * phentsize


def _notes(reader: Reader, layout: DumpLayout, phdrs) -> int:
    """VMCOREINFO and NT_PRSTATUS from every PT_NOTE; returns the end of the note area."""
    notes: list[tuple[str, int, bytes]] = []
    note_end = 0
    for ptype, off, _va, _pa, filesz, _memsz in phdrs:
        if ptype != PT_NOTE or filesz == 0:
            continue
        note_end = max(note_end, off + filesz)
        if filesz > MAX_NOTE_BYTES:
            layout.warn("vmcore-notes", f"PT_NOTE of {filesz} bytes at {off:#x} ignored (damaged)")
            continue
        raw = reader.read(off, filesz)
        if len(raw) < filesz:
            layout.warn("vmcore-cut", f"notes cut: first missing offset {off + len(raw):#x}")
        found, problem = parse_notes(raw, layout.endianness)
        if problem:
            layout.warn("vmcore-notes", problem)
        notes.extend(found)
    info_desc = next((d for n, t, d in notes if n == "VMCOREINFO"), None)
    if info_desc is not None:
        layout.vmcoreinfo = parse_vmcoreinfo(info_desc)
    else:
        layout.warn("vmcore-no-vmcoreinfo", "no VMCOREINFO note: page size assumed 4 KiB, "
                                            "no OSRELEASE (QEMU without -device vmcoreinfo?)")
    layout.cpus = count_prstatus(notes) or None
    _apply_vmcoreinfo(layout)
    return note_end


def _segments(layout: DumpLayout, phdrs) -> list[Segment]:
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
    return segs


def _section_table_end(reader: Reader, ehdr, st: ELFStructs) -> int:
    """End of the section header table and of the section-name table (QEMU writes both)."""
    if not (ehdr["e_shnum"] and ehdr["e_shoff"]):
        return 0
    end = ehdr["e_shoff"] + ehdr["e_shnum"] * ehdr["e_shentsize"]
    idx = ehdr["e_shstrndx"]
    size = st.Elf_Shdr.sizeof()
    if 0 < idx < ehdr["e_shnum"] and ehdr["e_shentsize"] >= size:
        raw = reader.read(ehdr["e_shoff"] + idx * ehdr["e_shentsize"], size)
        if len(raw) == size:
            sh = st.Elf_Shdr.parse(raw)
            if sh["sh_size"] < (1 << 20):
                end = max(end, sh["sh_offset"] + sh["sh_size"])
    return end


def _sizes(reader: Reader, layout: DumpLayout, segs: list[Segment], meta_end: int) -> None:
    data_end = max((s.offset + s.filesz for s in segs if s.filesz), default=0)
    layout.dump_size_bytes = max(data_end, meta_end)
    layout.metadata_bytes = layout.dump_size_bytes - sum(s.filesz for s in segs)
    size_on_disk = reader.logical_size      # a flattened image ends at its last record
    if reader.damage:
        layout.warn("vmcore-cut", f"flattened records: {reader.damage}")
    if size_on_disk < data_end:
        first_cut = next((s for s in sorted(segs, key=lambda s: s.offset)
                          if s.filesz and s.offset + s.filesz > size_on_disk), None)
        where = (f"; PT_LOAD [mem {first_cut.paddr:#x}-{first_cut.paddr + first_cut.memsz - 1:#x}] onwards"
                 if first_cut else "")
        layout.warn("vmcore-cut", f"file cut: first missing offset {size_on_disk:#x} of "
                                  f"{layout.dump_size_bytes:#x} bytes{where}; figures come from the headers")


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
