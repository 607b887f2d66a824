"""Command line: `memmap-tui [OPTIONS] [DTB]` opens the TUI; `report`, `check`, `export` run headless.

Bad input is one line on stderr and exit status 2 — never a traceback
(set MEMMAP_TUI_DEBUG=1 to see one).
"""

from __future__ import annotations

import json
import math
import os
import sys
from importlib import resources

import click

from memmap_tui.core.model import Level
from memmap_tui.core.arch import ARCHES, DEFAULT_ARCH, DEFAULT_LOADER, LOADERS
from memmap_tui.inputs import DEFAULT_WRITE_SPEED_MBPS, Options, load
from memmap_tui.sources.errors import InputError

EXIT_BAD_INPUT = 2


def demo_paths() -> dict[str, str]:
    """The bundled demo board (sample-data shipped inside the package)."""
    base = resources.files("memmap_tui") / "data"
    return {"dtb": str(base / "board.dtb"), "iomem": str(base / "iomem.txt"),
            "dmesg": str(base / "dmesg.txt")}


class DefaultGroup(click.Group):
    """A group whose first positional argument may be a file: anything that is not a
    subcommand name is handed to the default `open` command (the TUI)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or args[0] not in self.commands and args[0] not in ("--help", "-h", "--version"):
            args = ["open", *args]
        return super().parse_args(ctx, args)


def input_options(f):
    """Options every command that loads a board shares."""
    decorators = [
        click.argument("dtb", required=False, type=click.Path(dir_okay=False)),
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
    ]
    for d in reversed(decorators):
        f = d(f)
    return f


def build_options(dtb, iomem, dmesg, vmcore, ram, arch, loader, kernel, page_size, no_dump, dump,
                  include_dirs, write_speed, demo, *, default_demo: bool) -> Options:
    if not math.isfinite(write_speed) or write_speed <= 0:
        raise InputError(None, "--write-speed must be a positive number of MB/s")
    if demo or (default_demo and not (dtb or iomem or dmesg or vmcore or ram)):
        paths = demo_paths()
        dtb, iomem, dmesg = paths["dtb"], iomem or paths["iomem"], dmesg or paths["dmesg"]
    return Options(dtb=dtb, iomem=iomem, dmesg=dmesg, vmcore=vmcore, ram=tuple(ram), arch=arch,
                   loader=loader, kernel=kernel, page_size=page_size, no_dump=tuple(no_dump), dump=tuple(dump),
                   include_dirs=tuple(include_dirs), write_speed_mbps=write_speed)


@click.group(cls=DefaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="memmap-tui")
def cli() -> None:
    """Physical memory map explorer: DT reserved memory, /proc/iomem, kdump vmcores.

    `memmap-tui [OPTIONS] [DTB]` opens the TUI (the bundled demo board when no input is given).
    """


@cli.command("open")
@input_options
def open_cmd(**kw) -> None:
    """Open the TUI (the default command)."""
    options = build_options(**kw, default_demo=True)
    loaded = load(options)
    from memmap_tui.tui.app import MemmapApp  # textual is imported only for the TUI
    MemmapApp(loaded).run()


@cli.command("report")
@input_options
@click.option("--json", "as_json", is_flag=True, help="print the memmap-tui/report/1 JSON document")
@click.option("--mem-usage", "mem_usage", type=click.Path(dir_okay=False), metavar="FILE",
              help="saved `makedumpfile --mem-usage /proc/kcore` output: filtered size estimate per policy")
@click.option("--dump-level", type=click.IntRange(0, 31), default=31, show_default=True,
              help="makedumpfile -d level the --mem-usage estimate assumes")
def report_cmd(as_json: bool, mem_usage: str | None, dump_level: int, **kw) -> None:
    """Print the regions and the three kernel policies side by side."""
    options = build_options(**kw, default_demo=True)
    loaded = load(options)
    from memmap_tui.core.policy import evaluate
    from memmap_tui.sources.mem_usage import read_mem_usage
    usage = read_mem_usage(mem_usage) if mem_usage else None
    results = evaluate(loaded.mm)
    if as_json:
        from memmap_tui.report.json_doc import build_report, to_json
        from memmap_tui.report.projection import dump_projection_json, projection_json
        doc = build_report(loaded.mm, write_speed_mbps=options.write_speed_mbps)
        if loaded.dump is not None:
            from memmap_tui.report.dump import dump_json
            doc["dump"] = dump_json(loaded.mm, loaded.dump)
            doc["dump"]["projection"] = dump_projection_json(loaded.dump, results, options.write_speed_mbps)
        doc.update(projection_json(loaded.mm, results, loaded.dump, usage, dump_level, options.write_speed_mbps))
        click.echo(to_json(doc))
    else:
        from rich.console import Console
        from memmap_tui.report.projection import render_projection
        from memmap_tui.report.text import render_report
        console = Console()
        render_report(loaded.mm, console, write_speed_mbps=options.write_speed_mbps)
        if loaded.dump is not None:
            from memmap_tui.report.dump import render_dump
            render_dump(loaded.mm, loaded.dump, console)
        render_projection(results, loaded.dump, usage, dump_level, options.write_speed_mbps, console)


@cli.command("check")
@click.argument("dtbs", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--iomem", type=click.Path(dir_okay=False))
@click.option("--dmesg", type=click.Path(dir_okay=False))
@click.option("--ram", multiple=True, metavar="SIZE@BASE")
@click.option("--arch", type=click.Choice(ARCHES), default=DEFAULT_ARCH, show_default=True)
@click.option("--kernel", default=None, help="kernel model [default: from --dmesg, else 7.2]")
@click.option("--strict", is_flag=True, help="warnings fail the check too")
@click.option("--json", "as_json", is_flag=True)
def check_cmd(dtbs, iomem, dmesg, ram, arch, kernel, strict, as_json) -> None:
    """Lint DTBs; exit 1 when a finding is an error (or a warning with --strict)."""
    failing = {Level.ERROR} | ({Level.WARNING} if strict else set())
    results, worst = [], 0
    for path in dtbs:
        loaded = load(Options(dtb=path, iomem=iomem, dmesg=dmesg, ram=tuple(ram), arch=arch, kernel=kernel))
        bad = [f for f in loaded.mm.findings if f.level in failing]
        worst = max(worst, 1 if bad else 0)
        results.append({"file": path, "ok": not bad,
                        "findings": [f.as_dict() for f in loaded.mm.findings]})
        if not as_json:
            status = click.style("FAIL", fg="red") if bad else click.style("ok", fg="green")
            click.echo(f"{status} {path}")
            for f in loaded.mm.findings:
                click.echo(f"  {f.level}: [{f.code}] {f.message}")
    if as_json:
        click.echo(json.dumps({"schema": "memmap-tui/check/1", "results": results}, indent=1))
    sys.exit(worst)


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
    options = build_options(**kw, default_demo=False)
    loaded = load(options)
    from memmap_tui.export import run_export
    result = run_export(options.dtb, output=output, overlay=overlay, dts=dts, dts_patch=dts_patch,
                        include_dirs=options.include_dirs, dts_root=dts_root,
                        dtsi_override=dtsi_override, mm=loaded.mm,
                        no_dump=options.no_dump, dump=options.dump)
    for path in result.written:
        click.echo(f"wrote {path}")
    for w in result.warnings:
        click.echo(f"{w.level}: {w.message}", err=True)


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="memmap-tui", standalone_mode=False)
    except InputError as e:
        click.echo(f"memmap-tui: {e}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    except click.exceptions.Abort:
        sys.exit(130)
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
