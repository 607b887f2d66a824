"""U-Boot FIT images (`.itb`): an FDT whose /images/* nodes carry payloads.

Device trees are the images with `type = "flat_dt"`; their bytes are in `data`, or
outside the structure (`mkimage -E`) at `data-offset` (from the end of the FDT, 4-byte
aligned) or `data-position` (from the start of the file), `data-size` long
(U-Boot boot/image-fit.c fit_image_get_data_and_size()). /configurations/* name them in
`fdt` (the first string is the base tree, the rest overlays).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from memmap_tui.sources.decompress import (
    compression_of,
    decompress_capped,
    lzma_decoder,
    unwrap,
)
from memmap_tui.sources.errors import InputError
from memmap_tui.sources.fdt_blob import FdtBlob, prop_string, prop_strings, prop_u32


@dataclass(slots=True)
class FitDtb:
    image: str                 # /images/<name>
    configurations: tuple[str, ...]
    description: str
    data: bytes


def is_fit(blob: FdtBlob) -> bool:
    images = blob.get("/images")
    return images is not None and any(c.has("data") or c.has("data-size") for c in images.children)


def fit_dtbs(blob: FdtBlob, data: bytes, path: str, cap_bytes: int) -> list[FitDtb]:
    images = blob.get("/images")
    if images is None:
        return []
    configs = blob.get("/configurations")
    by_image: dict[str, list[str]] = {}
    default = prop_string(configs.props["default"]) if configs is not None and configs.has("default") else None
    for conf in configs.children if configs is not None else []:
        fdts = prop_strings(conf.props["fdt"]) if conf.has("fdt") else []
        if fdts:
            by_image.setdefault(fdts[0], []).append(conf.name)
    out = []
    for img in images.children:
        if not img.has("type") or prop_string(img.props["type"]) != "flat_dt":
            continue
        raw = _payload(img, blob, data, path)
        comp = prop_string(img.props["compression"]) if img.has("compression") else "none"
        raw = _decompress(raw, comp, f"{path}: /images/{img.name}", cap_bytes)
        confs = by_image.get(img.name, [])
        confs.sort(key=lambda c: c != default)       # the default configuration first
        desc = prop_string(img.props["description"]) if img.has("description") else ""
        out.append(FitDtb(img.name, tuple(confs), desc, raw))
    return out


def _payload(img, blob: FdtBlob, data: bytes, path: str) -> bytes:
    if img.has("data"):
        return img.props["data"]
    if img.has("data-size") and (img.has("data-offset") or img.has("data-position")):
        size = prop_u32(img.props["data-size"])
        if img.has("data-position"):
            start = prop_u32(img.props["data-position"])
        else:
            start = ((blob.header.totalsize + 3) & ~3) + prop_u32(img.props["data-offset"])
        if start + size > len(data):
            raise InputError(path, f"FIT /images/{img.name}: external data {start:#x}+{size:#x} "
                                   f"beyond the file ({len(data):#x} bytes)")
        return data[start:start + size]
    raise InputError(path, f"FIT /images/{img.name}: flat_dt image without data")


def _decompress(raw: bytes, comp: str, where: str, cap_bytes: int) -> bytes:
    if comp == "none":
        return raw
    if comp == "lzma":     # U-Boot's lzma is the legacy .lzma ("alone") format, no magic
        return decompress_capped(lzma_decoder("lzma"), raw, cap_bytes, where)
    kind = compression_of(raw)
    if kind is None or {"gzip": "gzip", "bzip2": "bzip2", "zstd": "zstd"}.get(comp) != kind:
        raise InputError(None, f"{where}: compression {comp!r} not supported or data does not match it")
    return unwrap(io.BytesIO(raw), kind, where, cap_bytes).data
