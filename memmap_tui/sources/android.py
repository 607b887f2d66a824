"""Android images that carry device trees, read from AOSP's published layouts.

- DTB/DTBO partition (`dtb.img`, `dtbo.img`): libufdt `dt_table.h` — a big-endian
  `dt_table_header` (magic 0xd7b7ab1e) and `dt_entry_count` `dt_table_entry` records
  {dt_size, dt_offset, id, rev, custom[4]}; version 1 uses custom[0] as flags whose low
  4 bits name the compression (0 none, 1 zlib, 2 gzip).
- Boot image (`ANDROID!`, mkbootimg `include/bootimg/bootimg.h`): little-endian;
  header_version at 0x28. v2 adds `dtb_size` at 0x670; sections follow the header page
  in order kernel, ramdisk, second, recovery_dtbo, dtb, each padded to page_size.
  v0/v1 and v3/v4 carry no dtb section: the kernel section may have one appended.
- vendor_boot (`VNDRBOOT`, v3/v4): header, vendor ramdisk, dtb, each padded to
  page_size; `dtb_size` at 0x834.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from memmap_tui.sources.decompress import decompress_capped
from memmap_tui.sources.errors import InputError

DT_TABLE_MAGIC = 0xD7B7AB1E
DT_TABLE_HEADER = struct.Struct(">8I")   # magic total_size header_size dt_entry_size dt_entry_count dt_entries_offset page_size version
DT_TABLE_ENTRY = struct.Struct(">8I")    # dt_size dt_offset id rev custom[4]
BOOT_MAGIC = b"ANDROID!"
VENDOR_BOOT_MAGIC = b"VNDRBOOT"
BOOT_V0 = struct.Struct("<10I")          # kernel_size kernel_addr ramdisk_size ramdisk_addr second_size second_addr tags_addr page_size header_version os_version
BOOT_V1_TAIL_AT = 1632                   # recovery_dtbo_size u32, recovery_dtbo_offset u64, header_size u32
BOOT_V2_DTB_AT = 1648                    # dtb_size u32, dtb_addr u64
BOOT_V3 = struct.Struct("<5I")           # kernel_size ramdisk_size os_version header_size reserved[0]
BOOT_V3_PAGE = 4096
VENDOR_V3 = struct.Struct("<6I")         # header_version page_size kernel_addr ramdisk_addr vendor_ramdisk_size (+cmdline)
VENDOR_DTB_AT = 2100                     # dtb_size u32 (after cmdline[2048], tags_addr, name[16], header_size)
VENDOR_HEADER_SIZE_AT = 2096


@dataclass(slots=True)
class Section:
    name: str
    data: bytes
    is_kernel: bool = False   # a kernel section: look for an appended DTB in it


def is_dt_table(data: bytes) -> bool:
    return len(data) >= 4 and struct.unpack_from(">I", data)[0] == DT_TABLE_MAGIC


def dt_table_entries(data: bytes, path: str, cap_bytes: int) -> list[Section]:
    if len(data) < DT_TABLE_HEADER.size:
        raise InputError(path, "Android DT table: header cut")
    magic, total, hsize, esize, count, eoff, page, version = DT_TABLE_HEADER.unpack_from(data)
    if esize < DT_TABLE_ENTRY.size or eoff + count * esize > len(data):
        raise InputError(path, f"Android DT table: {count} entries of {esize} bytes at {eoff:#x} "
                               f"do not fit the {len(data)}-byte file")
    out = []
    for i in range(count):
        size, off, dt_id, rev, c0, _c1, _c2, _c3 = DT_TABLE_ENTRY.unpack_from(data, eoff + i * esize)
        if off + size > len(data):
            raise InputError(path, f"Android DT table entry {i}: {off:#x}+{size:#x} beyond the file")
        blob = data[off:off + size]
        if version >= 1 and c0 & 0xF in (1, 2):   # zlib / gzip
            blob = decompress_capped(zlib.decompressobj(wbits=47), blob, cap_bytes,
                                     f"{path}: Android DT table entry {i}")
        out.append(Section(f"entry {i} id={dt_id:#x} rev={rev:#x}", blob))
    return out


def boot_sections(data: bytes, path: str) -> tuple[str, list[Section]]:
    """(description, sections that may hold device trees) of a boot or vendor_boot image."""
    if data.startswith(VENDOR_BOOT_MAGIC):
        return _vendor_boot(data, path)
    if len(data) < 8 + BOOT_V0.size:
        raise InputError(path, "Android boot image: header cut")
    (k_size, _ka, r_size, _ra, s_size, _sa, _ta, page, version, _os) = BOOT_V0.unpack_from(data, 8)
    if version >= 3:
        k_size, r_size = struct.unpack_from("<2I", data, 8)
        kernel = _slice(data, BOOT_V3_PAGE, k_size, path, "kernel")
        return f"Android boot image v{version}", [Section("kernel", kernel, is_kernel=True)]
    if page == 0 or page & (page - 1):
        raise InputError(path, f"Android boot image: page_size {page} is not a power of two")
    pages = lambda n: -(-n // page) * page
    off = page
    kernel = _slice(data, off, k_size, path, "kernel")
    off += pages(k_size) + pages(r_size) + pages(s_size)
    sections = []
    if version == 2 and len(data) >= BOOT_V2_DTB_AT + 4:
        rdtbo_size = struct.unpack_from("<I", data, BOOT_V1_TAIL_AT)[0]
        dtb_size = struct.unpack_from("<I", data, BOOT_V2_DTB_AT)[0]
        off += pages(rdtbo_size)
        if dtb_size:
            sections.append(Section("dtb", _slice(data, off, dtb_size, path, "dtb")))
    sections.append(Section("kernel", kernel, is_kernel=True))
    return f"Android boot image v{version}", sections


def _vendor_boot(data: bytes, path: str) -> tuple[str, list[Section]]:
    if len(data) < VENDOR_DTB_AT + 4:
        raise InputError(path, "Android vendor_boot image: header cut")
    version, page, _ka, _ra, vr_size, _c = VENDOR_V3.unpack_from(data, 8)
    if page == 0 or page & (page - 1):
        raise InputError(path, f"Android vendor_boot image: page_size {page} is not a power of two")
    header_size = struct.unpack_from("<I", data, VENDOR_HEADER_SIZE_AT)[0]
    dtb_size = struct.unpack_from("<I", data, VENDOR_DTB_AT)[0]
    pages = lambda n: -(-n // page) * page
    off = pages(header_size) + pages(vr_size)
    sections = [Section("dtb", _slice(data, off, dtb_size, path, "dtb"))] if dtb_size else []
    return f"Android vendor_boot image v{version}", sections


def _slice(data: bytes, off: int, size: int, path: str, what: str) -> bytes:
    if off + size > len(data):
        raise InputError(path, f"Android image: {what} section {off:#x}+{size:#x} beyond the "
                               f"{len(data)}-byte file")
    return data[off:off + size]
