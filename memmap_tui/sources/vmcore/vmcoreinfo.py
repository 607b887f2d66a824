"""VMCOREINFO text and ELF note parsing shared by every dump format."""

from __future__ import annotations

import struct

NT_PRSTATUS = 1
MAX_NOTES = 16_384     # one NT_PRSTATUS per CPU (NR_CPUS ≤ 8192) + a few: more is damage

# ELF e_machine / utsname machine -> memmap-tui arch names (core.policy.ARCHES + others)
EM_ARCH = {183: "arm64", 62: "x86_64", 243: "riscv", 258: "loongarch", 40: "arm",
           21: "ppc64", 22: "s390", 3: "x86"}
EM_NAME = {183: "AArch64", 62: "x86-64", 243: "RISC-V", 258: "LoongArch", 40: "ARM",
           21: "PowerPC64", 22: "S/390", 3: "i386"}
UTS_ARCH = {"aarch64": "arm64", "arm64": "arm64", "x86_64": "x86_64", "riscv64": "riscv",
            "loongarch64": "loongarch", "ppc64le": "ppc64", "ppc64": "ppc64", "s390x": "s390"}


def parse_vmcoreinfo(data: bytes) -> dict[str, str]:
    """`KEY=VALUE` lines (SYMBOL(x)=..., NUMBER(x)=..., OSRELEASE=...) to a dict."""
    text = data.split(b"\0", 1)[0].decode("utf-8", "replace")
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip():
            out[key.strip()] = value.strip()
    return out


def vmcoreinfo_int(info: dict[str, str], key: str, base: int = 10) -> int | None:
    """NUMBER(x) values are decimal or 0x-hex; SYMBOL/KERNELOFFSET are bare hex."""
    raw = info.get(key)
    if raw is None:
        return None
    try:
        if raw.lower().startswith(("0x", "-0x")):
            return int(raw, 16)
        return int(raw, base)
    except ValueError:
        return None


def parse_notes(buf: bytes, endian: str) -> tuple[list[tuple[str, int, bytes]], str | None]:
    """ELF notes in a buffer -> ([(name, type, desc)], problem or None). Never raises."""
    fmt = "<III" if endian == "little" else ">III"
    out: list[tuple[str, int, bytes]] = []
    pos = 0
    while pos + 12 <= len(buf):
        if len(out) >= MAX_NOTES:
            return out, f"more than {MAX_NOTES} notes: the rest ignored (damaged note area)"
        namesz, descsz, ntype = struct.unpack_from(fmt, buf, pos)
        if namesz == 0 and descsz == 0 and ntype == 0:
            break  # zero padding after the last note
        name_at = pos + 12
        desc_at = name_at + ((namesz + 3) & ~3)
        end = desc_at + ((descsz + 3) & ~3)
        if desc_at + descsz > len(buf):
            return out, f"note at +{pos:#x} runs past the note area"
        name = buf[name_at:name_at + namesz].split(b"\0", 1)[0].decode("ascii", "replace")
        out.append((name, ntype, bytes(buf[desc_at:desc_at + descsz])))
        pos = end
    return out, None


def count_prstatus(notes: list[tuple[str, int, bytes]]) -> int:
    return sum(1 for name, ntype, _ in notes if name == "CORE" and ntype == NT_PRSTATUS)


def arch_from_vmcoreinfo(info: dict[str, str]) -> str | None:
    """Arch-specific VMCOREINFO keys (arch/*/kernel/vmcore_info.c) when utsname says nothing."""
    if "NUMBER(kimage_voffset)" in info or "NUMBER(TCR_EL1_T1SZ)" in info:
        return "arm64"
    if "SYMBOL(init_top_pgt)" in info or "NUMBER(pgtable_l5_enabled)" in info:
        return "x86_64"
    if "NUMBER(phys_ram_base)" in info or "NUMBER(KERNEL_LINK_ADDR)" in info:
        return "riscv"
    return None
