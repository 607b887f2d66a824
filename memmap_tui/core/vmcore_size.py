"""The whole /proc/vmcore file size (estimate): RAM PT_LOADs + the kernel-image PT_LOAD +
ELF headers + notes. `dumped_bytes` keeps its meaning (RAM PT_LOAD bytes only).

kernel/crash_core.c crash_prepare_elf64_headers(cmem, need_kernel_map, …): arm64, riscv,
loongarch and x86_64 kexec_file pass need_kernel_map = true and add a PT_LOAD for
_text … _end (duplicating bytes already in a RAM PT_LOAD); kexec-tools builds the same from
iomem `Kernel code` / `Kernel data`. In the capture kernel fs/proc/vmcore.c
merge_note_headers_elf64() merges every PT_NOTE into one and rounds the header block and the
note block up to PAGE_SIZE; process_ptload_program_headers_elf64() rounds each PT_LOAD out to
whole pages; get_vmcore_size() adds them up.
"""

from __future__ import annotations

from dataclasses import dataclass

from memmap_tui.core.model import MemoryMap
from memmap_tui.core.ranges import RangeSet, page_round_out

EHDR_BYTES, PHDR_BYTES = 64, 56
# arm64 vmlinux.lds.S: _stext (iomem `Kernel code` start) sits SEGMENT_ALIGN (64 KiB) above _text
ARM64_HEAD_BYTES = 64 << 10


@dataclass(frozen=True, slots=True)
class ElfEstimate:
    total_bytes: int
    kernel_map_bytes: int
    headers_bytes: int
    notes_bytes: int
    how: str


def elf_estimate(mm: MemoryMap, dumped: RangeSet, dumped_bytes: int) -> ElfEstimate | None:
    """None when the kernel image's extent is unknown (no iomem `Kernel code`/`Kernel data`)."""
    code = [e.range for e in mm.iomem if e.name == "Kernel code"]
    data = [e.range for e in mm.iomem if e.name == "Kernel data"]
    if not code or not data:
        return None
    text = code[0].start - (ARM64_HEAD_BYTES if mm.arch == "arm64" else 0)
    start, end = page_round_out(text, data[-1].end, mm.page_size)
    kernel_map = end - start
    page = mm.page_size
    headers = -(-(EHDR_BYTES + PHDR_BYTES * (2 + len(dumped))) // page) * page
    notes = page   # per-CPU NT_PRSTATUS + VMCOREINFO fit one page for a few CPUs
    return ElfEstimate(dumped_bytes + kernel_map + headers + notes, kernel_map, headers, notes,
                       f"estimate: RAM PT_LOADs + kernel image {kernel_map:#x} B (_text…_end from iomem) "
                       f"+ headers {headers} B + notes ~{notes} B (assumes ≤ 8 CPUs)")
