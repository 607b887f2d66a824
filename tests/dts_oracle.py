"""Read `dtc -I dtb -O dts` text: the independent decoder the tests compare against.

Deliberately separate from memmap_tui's own FDT reader: it only understands dtc's
canonical output (tabs, `name {`, `prop = <...>;`), which is all it needs.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field

_NODE = re.compile(r"^(\t*)(?:[\w,.+-]+: )*([^\s{}]+) \{$")
_PROP = re.compile(r"^\t*([#\w,.+?-]+)(?: = (.*))?;$")


@dataclass
class DtsNode:
    path: str
    props: dict[str, str] = field(default_factory=dict)
    children: list["DtsNode"] = field(default_factory=list)

    def cells(self, prop: str) -> list[int]:
        text = self.props[prop]
        return [int(x, 16) for x in re.findall(r"0x[0-9a-fA-F]+", text)]


def tuples(cells: list[int], ac: int = 2, sc: int = 2) -> list[tuple[int, int]]:
    """Split a cell list into (address, size) pairs of `ac`/`sc` cells each."""
    out = []
    w = ac + sc
    for i in range(0, len(cells), w):
        a = 0
        for c in cells[i:i + ac]:
            a = (a << 32) | c
        s = 0
        for c in cells[i + ac:i + w]:
            s = (s << 32) | c
        out.append((a, s))
    return out


def decompile(path) -> str:
    return subprocess.run(["dtc", "-q", "-I", "dtb", "-O", "dts", str(path)],
                          capture_output=True, text=True, check=True).stdout


def parse(text: str) -> tuple[dict[str, DtsNode], list[tuple[int, int]]]:
    nodes: dict[str, DtsNode] = {}
    memreserve = [(int(a, 16), int(s, 16)) for a, s in
                  re.findall(r"^/memreserve/\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+);", text, re.M)]
    stack: list[DtsNode] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.rstrip()
        if pending:
            pending += " " + line.strip()
            if not line.endswith(";"):
                continue
            line, pending = pending, ""
        if not line.strip() or line.startswith("/dts-v1/") or line.startswith("/memreserve/"):
            continue
        if m := _NODE.match(line):
            name = m.group(2)
            if not stack:
                path = "/"
            else:
                parent = stack[-1].path
                path = ("/" + name) if parent == "/" else f"{parent}/{name}"
            node = DtsNode(path)
            if stack:
                stack[-1].children.append(node)
            nodes[path] = node
            stack.append(node)
        elif line.strip() == "};":
            stack.pop()
        elif "=" in line and not line.endswith(";"):
            pending = line
        elif m := _PROP.match(line):
            stack[-1].props[m.group(1)] = m.group(2) or ""
    return nodes, memreserve
