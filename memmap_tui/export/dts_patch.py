"""A unified diff against the board's .dts sources that adds (or removes) `linux,no-dump;`.

How the source location is found: the .dts is preprocessed like the kernel build does
(`cpp -nostdinc -undef -D__DTS__ -x assembler-with-cpp -I …`, scripts/Makefile.lib),
then `dtc -O dts -T -T` annotates every node and property with the file and line
span it came from. dtc follows cpp's `# N "file"` line markers itself, so the
annotations name the original .dts/.dtsi files and their real line numbers (columns
are those of cpp's output and are not used).

Where the property goes: a node can be written in several places (the SoC .dtsi, a
board `&label { … };` override). The board file's own block is preferred; otherwise
the node's first definition — which is usually a .dtsi shared by other boards, so that
is reported, and `dtsi_override=True` writes a board-level `&label { linux,no-dump; };`
at the end of the .dts instead. Inside a block the property goes after the block's
last property (dtc rejects properties after subnodes).

Verification: the edited sources are compiled from a scratch mirror of every file cpp
read, and the result must be the same tree as the original compiled DTB with the
same toggles applied by `dtb_patch` (compared with `dtc -s`).
"""

from __future__ import annotations

import difflib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from memmap_tui.export.dtb_patch import NO_DUMP, build_patch, dtc_text
from memmap_tui.sources import tools
from memmap_tui.sources.dtb import compile_dts, preprocess_dts
from memmap_tui.sources.errors import InputError

_SITE = re.compile(r"^(?P<file>.+?):(?P<l1>\d+):(?P<c1>\d+)-(?:(?P<file2>.+?):)?(?P<l2>\d+):(?P<c2>\d+)$")
_NODE = re.compile(r"^(?P<labels>(?:[A-Za-z_][\w]*: )*)(?P<name>\S+) \{$")


@dataclass(frozen=True, slots=True)
class Site:
    file: str    # absolute path as cpp saw it
    start: int   # 1-based line of the opening `{` (or the property)
    end: int     # 1-based line of the closing `};` (or the property)


@dataclass(slots=True)
class SourceNode:
    path: str
    labels: list[str] = field(default_factory=list)
    sites: list[Site] = field(default_factory=list)
    props: dict[str, Site | None] = field(default_factory=dict)
    children: list[str] = field(default_factory=list)


@dataclass(slots=True)
class DtsPatch:
    diff: str
    files: list[str]                        # paths relative to root that the diff touches
    root: Path
    applied: dict[str, bool]
    unchanged: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    edited: dict[str, str] = field(default_factory=dict)   # absolute path -> new text
    compiled: bytes = b""                                  # the unpatched sources, compiled
    sources: tuple[str, ...] = ()                          # every file the .dts reads (never a target)


# -- preprocessing and annotation ------------------------------------------------------

def annotate(dts: Path, include_dirs: list[Path]) -> dict[str, SourceNode]:
    """Nodes with their source sites."""
    pp = preprocess_dts(dts, include_dirs).decode("utf-8", "replace")
    inc = [a for d in (dts.parent, *include_dirs) for a in ("-i", str(d))]
    with tempfile.TemporaryDirectory(prefix="memmap-tui-dts-") as tmp:
        pre = Path(tmp, "preprocessed.dts")
        pre.write_text(pp)
        text = tools.checked("dtc", ["-q", *inc, "-I", "dts", "-O", "dts", "-T", "-T"], [pre],
                             why="compile the .dts", where=str(dts))
    return parse_annotated(text.decode("utf-8", "replace"))


def _split_annotation(line: str) -> tuple[str, list[Site]]:
    body = line.strip()
    sites: list[Site] = []
    if body.endswith(" */") and " /* " in body:
        cut = body.rindex(" /* ")
        note = body[cut + 4:-3]
        body = body[:cut]
        for part in note.split(", "):
            m = _SITE.match(part.strip())
            if m:
                sites.append(Site(m["file"], int(m["l1"]), int(m["l2"])))
    return body, sites


def parse_annotated(text: str) -> dict[str, SourceNode]:
    nodes: dict[str, SourceNode] = {}
    stack: list[SourceNode] = []
    for raw in text.splitlines():
        body, sites = _split_annotation(raw)
        if not body or body.startswith("/dts-v1/") or body.startswith("/memreserve/"):
            continue
        if body == "};":
            if stack:
                stack.pop()
            continue
        m = _NODE.match(body)
        if m:
            name = m["name"]
            if not stack:
                path = "/"
            else:
                parent = stack[-1]
                path = ("/" + name) if parent.path == "/" else f"{parent.path}/{name}"
                parent.children.append(path)
            node = SourceNode(path=path, labels=[lb[:-1] for lb in m["labels"].split()], sites=sites)
            nodes[path] = node
            stack.append(node)
        elif body.endswith(";") and stack:
            name = body[:-1].split(" = ", 1)[0]
            stack[-1].props[name] = sites[0] if sites else None
    return nodes


# -- editing ---------------------------------------------------------------------------

class _Files:
    """Original and edited text of each source file, line based, newline style kept."""

    def __init__(self) -> None:
        self.orig: dict[str, list[str]] = {}
        self.lines: dict[str, list[str | None]] = {}
        self.inserts: dict[str, list[tuple[int, str]]] = {}

    def get(self, path: str) -> list[str]:
        if path not in self.lines:
            try:
                with open(path, encoding="utf-8", newline="") as f:   # keep CRLF as it is
                    text = f.read()
            except (OSError, UnicodeDecodeError) as exc:
                raise InputError(path, f"cannot read source: {exc}") from None
            self.orig[path] = text.splitlines(keepends=True)
            self.lines[path] = list(self.orig[path])
        return self.lines[path]

    def newline(self, path: str) -> str:
        first = self.orig.get(path) or self.get(path)
        return "\r\n" if first and first[0].endswith("\r\n") else "\n"

    def indent_unit(self, path: str) -> str:
        for line in self.get(path):
            if line.startswith("\t"):
                return "\t"
            if line.startswith("    "):
                return "    "
        return "\t"


def _indent_of(line: str) -> str:
    return line[:len(line) - len(line.lstrip(" \t"))]


def _insert_line(files: _Files, path: str, before: int, text: str) -> None:
    """Insert a line before 1-based line `before` of the *original* file."""
    files.inserts.setdefault(path, []).append((before, text))


def _render(files: _Files, path: str) -> list[str]:
    out = list(files.lines[path])
    for before, text in sorted(files.inserts.get(path, []), key=lambda x: x[0], reverse=True):
        out.insert(before - 1, text)
    return [line for line in out if line is not None]


def _add_in_site(files: _Files, node: SourceNode, site: Site, nodes: dict[str, SourceNode]) -> None:
    lines = files.get(site.file)
    if site.end > len(lines) or site.start < 1:
        raise InputError(site.file, f"line {site.end} of {node.path} is past the end of the file")
    nl = files.newline(site.file)
    # First child block of this node that lives inside this site: properties must precede it.
    child_starts = [s.start for c in node.children for s in nodes[c].sites
                    if s.file == site.file and site.start <= s.start <= site.end]
    own_prop_lines = [s.end for s in node.props.values()
                      if s and s.file == site.file and site.start <= s.start <= site.end]
    stop = min(child_starts) if child_starts else site.end
    if site.start == site.end or (stop == site.end and lines[site.end - 1].strip()[:1] != "}"):
        _add_inline(files, node, site.end)
        return
    if child_starts and stop == site.start:
        raise InputError(site.file, f"{node.path} (line {site.start}): cannot place a property "
                                    "before a subnode on the same line; edit it by hand")
    anchor = max([p for p in own_prop_lines if p < stop], default=site.start)
    ref = lines[anchor - 1] if anchor != site.start else None
    if ref is not None:
        indent = _indent_of(ref)
    else:
        indent = _indent_of(lines[site.start - 1]) + files.indent_unit(site.file)
    _insert_line(files, site.file, anchor + 1, f"{indent}{NO_DUMP};{nl}")


def _add_inline(files: _Files, node: SourceNode, line_no: int) -> None:
    path = next(s.file for s in node.sites if s.end == line_no)
    lines = files.get(path)
    line = lines[line_no - 1]
    if line.count("}") != 1 or line.count("{") > 1:
        raise InputError(path, f"{node.path} (line {line_no}): more than one block on the line; "
                               "edit it by hand")
    cut = line.rindex("}")
    head = line[:cut].rstrip(" \t")
    lines[line_no - 1] = f"{head} {NO_DUMP}; {line[cut:]}"


def _remove(files: _Files, node: SourceNode, site: Site) -> None:
    lines = files.get(site.file)
    line = lines[site.start - 1]
    if line.strip() == f"{NO_DUMP};":
        lines[site.start - 1] = None   # deleted; a placeholder keeps line numbers valid
        return
    token = re.compile(r"[ \t]*" + re.escape(NO_DUMP) + r"[ \t]*;")
    if len(token.findall(line)) != 1:
        raise InputError(site.file, f"line {site.start}: cannot find {NO_DUMP}; to remove")
    lines[site.start - 1] = token.sub("", line, count=1)


def _reference(node: SourceNode) -> str:
    return f"&{node.labels[0]}" if node.labels else f"&{{{node.path}}}"


# -- the patch --------------------------------------------------------------------------

def _default_root(dts: Path, touched: list[str]) -> Path:
    candidates = []
    if shutil.which("git"):
        top = tools.run("git", ["-C", str(dts.parent.resolve()), "rev-parse", "--show-toplevel"], [],
                        why="find the repository the .dts is in")
        if top.returncode == 0 and top.stdout.strip():
            candidates.append(Path(top.stdout.decode("utf-8", "replace").strip()).resolve())
    candidates.append(Path(os.path.commonpath([str(dts.parent.resolve()),
                                               *[str(Path(t).resolve().parent) for t in touched]])))
    for c in candidates:
        if all(Path(t).resolve().is_relative_to(c) for t in touched):
            return c
    return candidates[-1]


def build_dts_patch(dts: str | os.PathLike, changes: dict[str, bool], *,
                    include_dirs: list[str | os.PathLike] = (), root: str | os.PathLike | None = None,
                    dtsi_override: bool = False, verify: bool = True) -> DtsPatch:
    """Unified diff (a/ b/ prefixes, paths relative to `root`) that applies `changes`."""
    dts_path = Path(dts).resolve()
    if not dts_path.is_file():
        raise InputError(str(dts), "no such .dts file")
    incs = [Path(d).resolve() for d in include_dirs]
    original = compile_dts(str(dts_path), tuple(map(str, incs)))
    nodes = annotate(dts_path, incs)
    board = str(dts_path)
    files = _Files()
    applied: dict[str, bool] = {}
    unchanged: dict[str, str] = {}
    warnings: list[str] = []
    overrides: list[str] = []
    for path, on in changes.items():
        node = nodes.get(path)
        if node is None:
            raise InputError(str(dts), f"no node {path} in this source")
        present = NO_DUMP in node.props
        if on == present:
            unchanged[path] = "already has linux,no-dump" if on else "has no linux,no-dump to remove"
            continue
        applied[path] = on
        if on:
            board_sites = [s for s in node.sites if s.file == board]
            if board_sites:
                _add_in_site(files, node, board_sites[-1], nodes)
            elif dtsi_override:
                overrides.append(f"{_reference(node)} {{\n\t{NO_DUMP};\n}};\n")
            else:
                site = node.sites[0]
                _add_in_site(files, node, site, nodes)
                warnings.append(f"{path} is defined in {site.file}, which other boards may include: "
                                f"the patch changes all of them (the shared-.dtsi override — "
                                f"--dtsi-override, or its box in the export dialog — instead adds "
                                f"`{_reference(node)} {{ {NO_DUMP}; }};` to {dts_path.name})")
        else:
            site = node.props[NO_DUMP]
            if site is None:
                raise InputError(str(dts), f"{path}: dtc gives no source line for {NO_DUMP}")
            if site.file != board and dtsi_override:
                overrides.append(f"{_reference(node)} {{\n\t/delete-property/ {NO_DUMP};\n}};\n")
            else:
                _remove(files, node, site)
                if site.file != board:
                    warnings.append(f"{path}: {NO_DUMP} is set in {site.file}, which other boards "
                                    f"may include: the patch changes all of them")
    if overrides:
        lines = files.get(board)
        nl = files.newline(board)
        if lines and not lines[-1].endswith(("\n", "\r")):
            lines[-1] += nl
        block = "\n".join(overrides).replace("\n", nl)
        lines.extend((nl + block).splitlines(keepends=True))
    touched = [p for p in files.lines if _render(files, p) != files.orig[p]]
    base = Path(root).resolve() if root is not None else _default_root(dts_path, touched or [board])
    diff_parts: list[str] = []
    rels: list[str] = []
    edited: dict[str, str] = {}
    for p in touched:
        if not Path(p).resolve().is_relative_to(base):
            raise InputError(p, f"is outside the patch root {base}; pass a root that contains it")
        rel = Path(p).resolve().relative_to(base).as_posix()
        rels.append(rel)
        new = _render(files, p)
        edited[p] = "".join(new)
        diff_parts.append(_unified(files.orig[p], new, rel))
    result = DtsPatch(diff="".join(diff_parts), files=rels, root=base, applied=applied,
                      unchanged=unchanged, warnings=warnings, edited=edited,
                      compiled=original.data, sources=original.sources)
    if verify and applied:
        verify_dts_patch(dts_path, incs, result)
    return result


def _unified(old: list[str], new: list[str], rel: str) -> str:
    out = []
    for line in difflib.unified_diff(old, new, fromfile=f"a/{rel}", tofile=f"b/{rel}"):
        if line.startswith(("---", "+++")):
            out.append(line.rstrip("\n") + "\n")
        elif not line.endswith("\n"):
            out.append(line + "\n\\ No newline at end of file\n")
        else:
            out.append(line)
    return "".join(out)


def verify_dts_patch(dts: Path, include_dirs: list[Path], patch: DtsPatch) -> None:
    """Compile the edited sources from a mirror and compare with the patched original DTB."""
    expected = build_patch(patch.compiled, patch.applied, verify=False).data
    with tempfile.TemporaryDirectory(prefix="memmap-tui-mirror-") as tmp:
        def mirror(p: Path) -> Path:
            return Path(tmp, *Path(p).resolve().parts[1:])
        for f in {*patch.sources, *patch.edited}:
            src = Path(f)
            dst = mirror(src)
            dst.parent.mkdir(parents=True, exist_ok=True)
            if str(src) in patch.edited:
                dst.write_text(patch.edited[str(src)], encoding="utf-8", newline="")
            elif src.is_file():
                shutil.copyfile(src, dst)
        for d in include_dirs:
            mirror(d).mkdir(parents=True, exist_ok=True)
        after = compile_dts(str(mirror(dts)), tuple(str(mirror(d)) for d in include_dirs)).data
    if dtc_text(after, sort=True) != dtc_text(expected, sort=True):
        raise InputError(str(dts), "verification failed: the patched sources do not compile to "
                                   "the patched DTB; nothing written")


def patch_dry_run(diff: str, root: Path) -> tuple[bool, str]:
    """`patch -p1 --dry-run` in `root` (when patch is installed)."""
    if shutil.which("patch") is None:
        return True, "patch not installed; dry run skipped"
    with tempfile.TemporaryDirectory(prefix="memmap-tui-patch-") as tmp:
        diff_file = Path(tmp, "change.patch")
        diff_file.write_text(diff)
        run = tools.run("patch", ["-p1", "--dry-run", "--batch", "-d", str(root.resolve()),
                                  "-i", str(diff_file)], [], why="check the DTS patch applies")
    return run.returncode == 0, (run.stdout + run.stderr).decode("utf-8", "replace").strip()
