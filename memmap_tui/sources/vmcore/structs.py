"""On-disk C structures declared once as field tables (as pyelftools declares its structs).

A `CStruct` is a list of (name, struct format, first header_version that has it); it
parses a buffer in either byte order into a dict and drops the fields the file's
version does not have yet.
"""

from __future__ import annotations

import struct


class CStruct:
    def __init__(self, name: str, fields: list[tuple[str, str, int]]) -> None:
        self.name = name
        self.fields = fields
        self._formats = {e: struct.Struct(e + "".join(f for _, f, _ in fields)) for e in "<>"}
        self.size_bytes = self._formats["<"].size

    def parse(self, buf: bytes, endian: str, version: int = 0) -> dict:
        """`endian` is "<" or ">"; `buf` must hold `size_bytes` bytes."""
        values = self._formats[endian].unpack_from(buf)
        named = [(name, since) for name, f, since in self.fields if not f.endswith("x")]  # pads
        return {name: v for (name, since), v in zip(named, values) if version >= since}


# makedumpfile diskdump_mod.h: struct disk_dump_header (LP64 writers: the timeval is
# 16 bytes, aligned to 8 after the 390-byte new_utsname).
DISK_DUMP_HEADER = CStruct("disk_dump_header", [
    ("signature", "8s", 0), ("header_version", "i", 0), ("utsname", "390s", 0), ("_pad", "6x", 0),
    ("timestamp", "16s", 0), ("status", "I", 0), ("block_size", "i", 0), ("sub_hdr_size", "i", 0),
    ("bitmap_blocks", "I", 0), ("max_mapnr", "I", 0), ("total_ram_blocks", "I", 0),
    ("device_blocks", "I", 0), ("written_blocks", "I", 0), ("current_cpu", "I", 0),
    ("nr_cpus", "i", 0),
])

# makedumpfile diskdump_mod.h: struct kdump_sub_header; the version column is the
# header_version that added each field (comments in that header).
KDUMP_SUB_HEADER = CStruct("kdump_sub_header", [
    ("phys_base", "Q", 0), ("dump_level", "i", 1), ("split", "i", 2), ("start_pfn", "Q", 2),
    ("end_pfn", "Q", 2), ("offset_vmcoreinfo", "Q", 3), ("size_vmcoreinfo", "Q", 3),
    ("offset_note", "Q", 4), ("size_note", "Q", 4), ("offset_eraseinfo", "Q", 5),
    ("size_eraseinfo", "Q", 5), ("start_pfn_64", "Q", 6), ("end_pfn_64", "Q", 6),
    ("max_mapnr_64", "Q", 6),
])
