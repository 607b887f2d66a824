"""Command line: `memmap-tui [OPTIONS] [DTB]` opens the TUI; `report`, `check`, `export` run headless.

Bad input is one line on stderr and exit status 2 — never a traceback
(set MEMMAP_TUI_DEBUG=1 to see one).
"""

from __future__ import annotations

import atexit
import dataclasses
import gc
import math
import os
import sys

import click

from memmap_tui.core.arch import ARCHES, DEFAULT_ARCH, DEFAULT_LOADER, LOADERS
from memmap_tui.inputs import DEFAULT_WRITE_SPEED_MBPS, Loaded, Options, load
from memmap_tui.sources.containers import AmbiguousDtb
from memmap_tui.sources.errors import InputError
from memmap_tui.termination import Terminated

EXIT_BAD_INPUT = 2

# At exit the interpreter's final collections walk every module, class and function to free
# cycles the OS reclaims anyway: ~10 ms of a 90 ms `report --json` (issue 14). Frozen objects
# are skipped; atexit handlers (scratch clean-up) and output flushing are unaffected.
atexit.register(gc.freeze)


def demo_paths() -> dict[str, str]:
    """The bundled demo board (sample-data shipped inside the package)."""
    from importlib import resources  # ~4 ms of imports: only the demo needs it
    base = resources.files("memmap_tui") / "data"
    return {"dtb": str(base / "board.dtb"), "iomem": str(base / "iomem.txt"),
            "dmesg": str(base / "dmesg.txt")}


class DefaultGroup(click.Group):
    """A group whose first positional argument may be a file: anything that is not a
    subcommand name is handed to the default `open` command (the TUI)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # the group's own valued options (--max-input-size SIZE) stay in front of the command
        own = {o for p in self.params if isinstance(p, click.Option) and not p.is_flag for o in p.opts}
        head, rest = [], list(args)
        while rest and rest[0].partition("=")[0] in own:
            n = 1 if "=" in rest[0] else 2
            head, rest = head + rest[:n], rest[n:]
        if not rest or rest[0] not in self.commands and rest[0] not in ("--help", "-h", "--version"):
            rest = ["open", *rest]
        return super().parse_args(ctx, head + rest)


def input_options(f):
    """Options every command that loads a board shares."""
    decorators = [
        click.argument("dtb", required=False, type=click.Path(allow_dash=True)),
        click.option("--iomem", type=click.Path(dir_okay=False), help="a /proc/iomem dump (read as root)"),
        click.option("--dmesg", type=click.Path(dir_okay=False), help="kernel log: placements and failures of reserved regions"),
        click.option("--vmcore", type=click.Path(dir_okay=False), help="a vmcore: ELF, kdump-compressed or flattened"),
        click.option("--ram", multiple=True, metavar="SIZE@BASE", help="RAM bank in memparse syntax, e.g. 8G@0x80000000 (repeatable)"),
        click.option("--arch", type=click.Choice(ARCHES), default=DEFAULT_ARCH, show_default=True),
        click.option("--loader", type=click.Choice(LOADERS), default=DEFAULT_LOADER, show_default=True,
                     help="kexec_file_load (proposals apply) or kexec_load (kexec-tools reads iomem)"),
        click.option("--kernel", default=None, metavar="X.Y",
                     help="kernel model for multi-reg nodes: 7.2+ uses the first tuple only, 7.1 and older "
                          "all [default: from --dmesg / --vmcore, else 7.2]"),
        click.option("--page-size", "page_size", type=int, default=None, metavar="BYTES",
                     help="kernel page size (arm64 4096/16384/65536) [default: the dump's, else the "
                          "arch's: 4096, loongarch 16384]"),
        click.option("--no-dump", "no_dump", multiple=True, metavar="NODE", help="set linux,no-dump on a node (path, label or name)"),
        click.option("--dump", "dump", multiple=True, metavar="NODE", help="clear linux,no-dump on a node"),
        click.option("-I", "include_dirs", multiple=True, metavar="DIR", help="include path for .dts input"),
        click.option("--write-speed", "write_speed", type=float, default=DEFAULT_WRITE_SPEED_MBPS,
                     show_default=True, metavar="MB/s", help="dump target write speed for capture times"),
        click.option("--demo", is_flag=True, help="use the bundled demo board"),
        # issue 11: containers with several device trees, memblock debugfs
        click.option("--pick", default=None, metavar="N|NAME|TEXT",
                     help="which device tree of a multi-DTB file: 1-based index, FIT configuration/image "
                          "name, or part of its model/compatible"),
        click.option("--memblock", type=click.Path(), default=None, metavar="DIR",
                     help="/sys/kernel/debug/memblock (memory + reserved): the kernel's own RAM and placements"),
    ]
    for d in reversed(decorators):
        f = d(f)
    return f


def build_options(dtb, iomem, dmesg, vmcore, ram, arch, loader, kernel, page_size, no_dump, dump,
                  include_dirs, write_speed, demo, pick=None, memblock=None, *, default_demo: bool) -> Options:
    if not math.isfinite(write_speed) or write_speed <= 0:  # nan/inf would print as invalid JSON
        raise InputError(None, f"--write-speed {write_speed}: must be a positive, finite MB/s figure")
    demo = bool(demo or (default_demo and not (dtb or iomem or dmesg or vmcore or ram or memblock)))
    if demo:
        paths = demo_paths()
        dtb, iomem, dmesg = paths["dtb"], iomem or paths["iomem"], dmesg or paths["dmesg"]
    return Options(dtb=dtb, iomem=iomem, dmesg=dmesg, vmcore=vmcore, ram=tuple(ram), arch=arch,
                   loader=loader, kernel=kernel, page_size=page_size, no_dump=tuple(no_dump), dump=tuple(dump),
                   include_dirs=tuple(include_dirs), write_speed_mbps=write_speed,
                   pick=pick, memblock=memblock, demo=demo)


@click.group(cls=DefaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="memmap-tui")
@click.option("--max-input-size", "max_input_size", default=None, metavar="SIZE",
              help="largest DTB, container or text input read whole, e.g. 1G [default: 256M]; "
                   "vmcores are never read whole")
def cli(max_input_size: str | None) -> None:
    """Physical memory map explorer: DT reserved memory, /proc/iomem, kdump vmcores.

    `memmap-tui [OPTIONS] [DTB]` opens the TUI (the bundled demo board when no input is given).
    """
    from memmap_tui.sources.errors import set_input_limit
    set_input_limit(None)       # per invocation: an in-process caller (tests, the fuzz bench) runs many
    if max_input_size is not None:
        from memmap_tui.core.units import memparse
        try:
            set_input_limit(memparse(max_input_size))
        except ValueError:
            raise InputError(None, f"--max-input-size {max_input_size!r}: not a size (e.g. 512M, 1G)") from None


@cli.command("open")
@input_options
def open_cmd(**kw) -> None:
    """Open the TUI (the default command)."""
    options = build_options(**kw, default_demo=True)
    loaded = load_for_tui(options)
    from memmap_tui.tui.app import MemmapApp  # textual is imported only for the TUI
    MemmapApp(loaded).run()


def load_for_tui(options: Options) -> Loaded:
    """load(), asking with a picker screen when the input holds several device trees."""
    try:
        return load(options)
    except AmbiguousDtb as e:
        if options.pick is not None:
            raise
        from memmap_tui.tui.picker import DtbPicker
        choice = DtbPicker(e.source.description, e.path, e.candidates).run()
        if choice is None:
            raise InputError(e.path, "no device tree picked") from None
        return load(dataclasses.replace(options, pick=str(choice)))


@cli.command("report")
@input_options
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "csv", "json"]), default="text",
              show_default=True, help="text: tables (plain layout when piped); markdown for tickets; "
                                      "csv: one row per region range; json: memmap-tui/report/1")
@click.option("--json", "as_json", is_flag=True, help="same as --format json")
@click.option("--mem-usage", "mem_usage", type=click.Path(dir_okay=False), metavar="FILE",
              help="saved `makedumpfile --mem-usage /proc/kcore` output: filtered size estimate per policy")
@click.option("--dump-level", type=click.IntRange(0, 31), default=31, show_default=True,
              help="makedumpfile -d level the --mem-usage estimate assumes")
def report_cmd(fmt: str, as_json: bool, mem_usage: str | None, dump_level: int, **kw) -> None:
    """Print the regions and the three kernel policies side by side."""
    options = build_options(**kw, default_demo=True)
    print_report(load(options), options, "json" if as_json else fmt, mem_usage, dump_level)


def print_report(loaded: Loaded, options: Options, fmt: str, mem_usage: str | None = None,
                 dump_level: int = 31) -> None:
    from memmap_tui.core.policy import evaluate
    usage = None
    if mem_usage:
        from memmap_tui.sources.mem_usage import read_mem_usage
        usage = read_mem_usage(mem_usage)
    results = evaluate(loaded.mm)
    if fmt == "json":
        from memmap_tui.report.json_doc import build_report, to_json
        from memmap_tui.report.projection import dump_projection_json, projection_json
        doc = build_report(loaded.mm, write_speed_mbps=options.write_speed_mbps, results=results)
        if loaded.dump is not None:
            from memmap_tui.core.dump import check_policy
            from memmap_tui.report.dump import dump_json
            doc["dump"] = dump_json(loaded.mm, loaded.dump, verdict=check_policy(loaded.mm, loaded.dump, results))
            doc["dump"]["projection"] = dump_projection_json(loaded.dump, results, options.write_speed_mbps)
        doc.update(projection_json(loaded.mm, results, loaded.dump, usage, dump_level, options.write_speed_mbps))
        click.echo(to_json(doc))
        return
    from rich.console import Console
    from memmap_tui.report.projection import render_projection
    from memmap_tui.report.table_formats import FORMATS, rich_tables_fit
    console = Console()
    if fmt == "text" and sys.stdout.isatty() and rich_tables_fit(console, loaded.mm, results):
        from memmap_tui.report.text import render_report
        render_report(loaded.mm, console, write_speed_mbps=options.write_speed_mbps, results=results)
    else:
        # piped or a ticket format: a layout that never wraps a cell; the dump table is as wide as it needs
        click.echo(FORMATS[fmt](loaded.mm, results, options.write_speed_mbps), nl=False)
        console = Console(width=1000, no_color=True, highlight=False) if fmt == "text" else None
    if console is not None:
        if loaded.dump is not None:
            from memmap_tui.report.dump import render_dump
            render_dump(loaded.mm, loaded.dump, console)
        render_projection(results, loaded.dump, usage, dump_level, options.write_speed_mbps, console)


@cli.command("check")
@click.argument("dtbs", nargs=-1, required=True, type=click.Path(allow_dash=True))
@click.option("--iomem", type=click.Path(dir_okay=False))
@click.option("--dmesg", type=click.Path(dir_okay=False))
@click.option("--ram", multiple=True, metavar="SIZE@BASE")
@click.option("--arch", type=click.Choice(ARCHES), default=DEFAULT_ARCH, show_default=True)
@click.option("--kernel", default=None, help="kernel model [default: from --dmesg, else 7.2]")
@click.option("--strict", is_flag=True, help="warnings fail the check too")
@click.option("--ignore", "ignore", multiple=True, metavar="CODE",
              help="drop findings with this code (repeatable, or comma-separated)")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif", "junit"]), default="text",
              show_default=True, help="json: memmap-tui/check/1; sarif: SARIF 2.1.0; junit: JUnit XML")
@click.option("--json", "as_json", is_flag=True, help="same as --format json")
def check_cmd(dtbs, iomem, dmesg, ram, arch, kernel, strict, ignore, fmt, as_json) -> None:
    """Lint DTBs; exit 1 when a finding is an error (or a warning with --strict).

    A build DTB without /memory reg is normal (the bootloader fills it): not a warning here."""
    from memmap_tui.core.check_rules import check_findings, failing
    from memmap_tui.report.check_formats import FORMATS, CheckResult, to_text
    ignored = frozenset(c.strip() for item in ignore for c in item.split(",") if c.strip())
    results = []
    for path, loaded in _check_targets(dtbs, Options(iomem=iomem, dmesg=dmesg, ram=tuple(ram), arch=arch,
                                                      kernel=kernel)):
        if isinstance(loaded, InputError):
            # a file that cannot be read is reported and the rest are still checked; exit 2 at the end
            click.echo(f"memmap-tui: {loaded}", err=True)
            results.append(CheckResult(path, (), (), error=str(loaded)))
            continue
        findings = check_findings(loaded.mm.findings, ignore=ignored, booted_inputs=bool(iomem or ram))
        results.append(CheckResult(path, tuple(findings), tuple(failing(findings, strict))))
    fmt = "json" if as_json else fmt
    click.echo(FORMATS[fmt](results) if fmt in FORMATS else to_text(results, lambda t, fg: click.style(t, fg=fg)),
               nl=False)
    # EXIT_BAD_INPUT (2) outranks a failing check (1)
    sys.exit(EXIT_BAD_INPUT if any(r.error for r in results) else 0 if all(r.ok for r in results) else 1)

# ---- diff: two inputs compared (memmap_tui/diff_run.py, core/diff.py, report/diff_doc.py) ----

def _sided_options(f):
    """--X applies to both sides, --a-X / --b-X to one."""
    specs = [("iomem", "PATH", False), ("dmesg", "PATH", False), ("vmcore", "PATH", False),
             ("ram", "SIZE@BASE", True), ("kernel", "X.Y", False), ("no-dump", "NODE", True), ("dump", "NODE", True)]
    for name, metavar, multiple in reversed(specs):
        for prefix in ("b-", "a-", ""):
            dest = (prefix + name).replace("-", "_")
            f = click.option(f"--{prefix}{name}", dest, metavar=metavar, multiple=multiple,
                             help=None if prefix else f"--{name} for both sides (--a-{name}, --b-{name}: one side)")(f)
    return f


@cli.command("diff")
@click.argument("a", type=click.Path(dir_okay=False))
@click.argument("b", type=click.Path(dir_okay=False))
@_sided_options
@click.option("--arch", type=click.Choice(ARCHES), default=DEFAULT_ARCH, show_default=True)
@click.option("--loader", type=click.Choice(LOADERS), default=DEFAULT_LOADER, show_default=True)
@click.option("--page-size", "page_size", type=int, default=None, metavar="BYTES")
@click.option("-I", "include_dirs", multiple=True, metavar="DIR", help="include path for .dts input")
@click.option("--write-speed", "write_speed", type=float, default=DEFAULT_WRITE_SPEED_MBPS,
              show_default=True, metavar="MB/s")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json", "tui"]), default=None,
              help="output [default: the TUI on a terminal, else text]")
@click.option("--json", "as_json", is_flag=True, help="same as --format json (memmap-tui/diff/1)")
@click.option("--fail-on", "fail_on", metavar="RULES",
              help="exit 1 when crossed: vmcore-growth=SIZE (any policy), new-error, new-warning")
def diff_cmd(a, b, arch, loader, page_size, include_dirs, write_speed, fmt, as_json, fail_on, **sided) -> None:
    """Compare two boards, boots or dumps: regions, findings and every policy's vmcore."""
    from memmap_tui.diff_run import SIDED, compare, crossed, load_side, parse_fail_on, side_options
    if not math.isfinite(write_speed) or write_speed <= 0:
        raise InputError(None, f"--write-speed {write_speed}: must be a positive, finite MB/s figure")
    rules = parse_fail_on(fail_on)
    base = Options(arch=arch, loader=loader, page_size=page_size, include_dirs=tuple(include_dirs),
                   write_speed_mbps=write_speed)
    shared = {k: sided[k] for k in SIDED}
    side_a = load_side(side_options(a, shared, {k: sided["a_" + k] for k in SIDED}, base))
    side_b = load_side(side_options(b, shared, {k: sided["b_" + k] for k in SIDED}, base))
    diff = compare(side_a, side_b)
    fmt = "json" if as_json else fmt or ("tui" if sys.stdout.isatty() and not fail_on else "text")
    if fmt == "tui":
        from memmap_tui.tui.diff_app import DiffApp
        DiffApp(side_a, side_b, diff).run()
    elif fmt == "json":
        from memmap_tui.report.diff_doc import build_diff_for
        from memmap_tui.report.json_doc import to_json
        click.echo(to_json(build_diff_for(diff, side_a.mm, side_a.results, write_speed,
                                          side_b.mm, side_b.results, write_speed)))
    else:
        from memmap_tui.report.diff_doc import render_markdown, render_text
        click.echo(render_markdown(diff, side_a.mm, side_b.mm) if fmt == "markdown"
                   else render_text(diff, side_a.mm, side_b.mm), nl=False)
    reasons = crossed(rules, diff)
    for reason in reasons:
        click.echo(f"memmap-tui: --fail-on {reason}", err=True)
    sys.exit(1 if reasons else 0)

# ---- end diff ----


def _check_targets(paths, base: Options):
    """(label, Loaded or the InputError that stopped it) per device tree: every one of a
    multi-DTB file, never a file without one."""
    for path in paths:
        try:
            try:
                loaded = load(dataclasses.replace(base, dtb=path))
            except AmbiguousDtb as e:
                for c in e.candidates:
                    yield f"{path}#{c.index} {c.label}", load(dataclasses.replace(base, dtb=path, pick=str(c.index)))
                continue
            if loaded.dtb is None:
                raise InputError(path, "no device tree in it: nothing to check")
        except InputError as e:
            yield path, e
            continue
        yield path, loaded


@cli.command("export")
@input_options
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="patched DTB to write")
@click.option("--overlay", type=click.Path(dir_okay=False), help="device-tree overlay (.dtbo) to write")
@click.option("--dts", type=click.Path(dir_okay=False, exists=True), help="the board .dts the DTB is built from")
@click.option("--dts-patch", "dts_patch", type=click.Path(dir_okay=False), help="unified diff of the .dts sources to write")
@click.option("--dts-root", "dts_root", type=click.Path(file_okay=False, exists=True),
              help="directory the diff paths are relative to (default: the git top level)")
@click.option("--dtsi-override", "dtsi_override", is_flag=True,
              help="for nodes defined in a shared .dtsi, add a board-level &label override instead")
def export_cmd(output, overlay, dts, dts_patch, dts_root, dtsi_override, **kw) -> None:
    """Write a patched DTB, an overlay and/or a .dts patch for the linux,no-dump toggles."""
    if not kw.get("dtb") and not kw.get("demo"):
        raise InputError(None, "export needs a DTB")
    from pathlib import Path

    from memmap_tui.export import ExportRequest, changes_from, run_export
    from memmap_tui.termination import signals_raise
    options = build_options(**kw, default_demo=False)
    loaded = load(options)
    if loaded.user and not loaded.user.patchable:
        what = loaded.user.labels.get("bundle") or (loaded.user.dtb_source.description
                                                    if loaded.user.dtb_source else "no device tree")
        raise InputError(options.dtb, f"export patches a plain DTB or DTS file; this is {what}")
    path = lambda p: None if p is None else Path(p)  # noqa: E731
    request = ExportRequest(changes=changes_from(loaded.mm, options.no_dump, options.dump),
                            output=path(output), overlay=path(overlay), dts_patch=path(dts_patch),
                            dts=path(dts), include_dirs=options.include_dirs, dts_root=path(dts_root),
                            dtsi_override=dtsi_override)
    with signals_raise():      # SIGTERM/SIGHUP unwind like ctrl+c: no temp file stays behind
        result = run_export(request, loaded.mm, loaded.dtb.read)
    for p in result.written:
        click.echo(f"wrote {p}")
    for w in result.warnings:
        click.echo(f"{w.level}: {w.message}", err=True)


@cli.command("serve", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("--host", default="localhost", show_default=True, help="address to listen on")
@click.option("--port", type=int, default=8000, show_default=True)
@click.argument("open_args", nargs=-1, type=click.UNPROCESSED, metavar="[OPEN ARGS]...")
def serve_cmd(host: str, port: int, open_args: tuple[str, ...]) -> None:
    """Serve the TUI to a web browser (textual-serve): `serve [--port N] [OPEN ARGS]`.

    Each browser session runs `memmap-tui OPEN ARGS`; exports are delivered to the
    browser as downloads (and also written on the server, like in a terminal).
    """
    # check the inputs once here: a bad file is one line on this terminal, not a dead page
    with open_cmd.make_context("open", list(open_args)) as ctx:
        load(build_options(**ctx.params, default_demo=True))
    import shlex
    from textual_serve.server import Server
    command = shlex.join([sys.executable, "-m", "memmap_tui", "open", *open_args])
    Server(command, host=host, port=port, title="memmap-tui").serve()


# -- on the board: collect a bundle, or look at the running system (issue 11) ---------------

@cli.command("collect")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="bundle to write (.tar.gz)")
@click.option("--root", default="/", show_default=True, type=click.Path(file_okay=False, exists=True),
              help="system root to read (a fake tree in tests)")
@click.option("--print-script", "print_script", is_flag=True,
              help="print the POSIX-sh collector for boards with only busybox")
def collect_cmd(output, root, print_script) -> None:
    """Bundle /proc/iomem, /sys/firmware/fdt, the kernel log, memblock debugfs and a manifest."""
    from memmap_tui.gather.collect import script_text, write_bundle   # only for this command
    if print_script:
        click.echo(script_text(), nl=False)
        return
    if not output:
        raise InputError(None, "collect needs -o BUNDLE.tar.gz (or --print-script)")
    for line in write_bundle(root, output):
        if line.startswith("unreadable="):
            click.echo(f"warning: {line.split('=', 1)[1]}", err=True)
    click.echo(f"wrote {output}")


@cli.command("live")
@input_options
@click.option("--root", default="/", show_default=True, type=click.Path(file_okay=False, exists=True),
              help="system root to read (a fake tree in tests)")
@click.option("--report", "as_report", is_flag=True, help="print the report instead of opening the TUI")
@click.option("--json", "as_json", is_flag=True, help="print the memmap-tui/report/1 JSON document")
@click.pass_context
def live_cmd(ctx: click.Context, root: str, as_report: bool, as_json: bool, **kw) -> None:
    """The running system: /sys/firmware/fdt, /proc/iomem, the kernel log, memblock, /proc/vmcore."""
    from memmap_tui.gather.live import live_bundle   # only for this command
    bundle_dir, vmcore, arch = live_bundle(root)
    kw["dtb"] = kw["dtb"] or bundle_dir
    kw["vmcore"] = kw["vmcore"] or vmcore
    if arch and ctx.get_parameter_source("arch") is click.core.ParameterSource.DEFAULT:
        kw["arch"] = arch
    options = build_options(**kw, default_demo=False)
    if as_report or as_json:
        print_report(load(options), options, "json" if as_json else "text")
        return
    from memmap_tui.tui.app import MemmapApp
    MemmapApp(load_for_tui(options)).run()


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="memmap-tui", standalone_mode=False)
    except InputError as e:
        click.echo(f"memmap-tui: {e}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    except click.exceptions.Abort:
        sys.exit(130)
    except Terminated as e:         # SIGTERM/SIGHUP during an export, cleaned up
        sys.exit(e.exit_status)
    except click.ClickException as e:
        click.echo(f"memmap-tui: {e.format_message()}", err=True)
        sys.exit(EXIT_BAD_INPUT if e.exit_code == 2 else e.exit_code)
    except SystemExit:
        raise
    except Exception as e:  # an internal bug must still not spray a traceback at users
        if os.environ.get("MEMMAP_TUI_DEBUG"):
            raise
        click.echo(f"memmap-tui: internal error: {type(e).__name__}: {e} "
                   "(set MEMMAP_TUI_DEBUG=1 for a traceback)", err=True)
        sys.exit(70)
