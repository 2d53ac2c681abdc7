"""``rkml sweep`` and ``rkml compare``: registered on the ``rkml`` app by :func:`register`.

    rkml sweep --profile balanced,efficiency-v2,accuracy,stability,mixed [--seed 0,1,2]
               [--set section.key=value ...] [--scheduler ADDRESS] [--workers N] [--smoke]
               [--runs-dir runs] [--device auto|cpu|cuda]
    rkml compare RUN_DIR... [--method rk4,dopri5,...] -o report/ [--strict] [--force]

Both commands resolve their inputs first (every profile, every seed, the method names) and
report bad input in one line with exit code 1 before any work starts (so does a
``--scheduler`` address where no scheduler answers within 5 s).  After a sweep: its table,
its timeline (also written as ``<runs-dir>/.sweeps/sweep-<UTC time>.json``), the warnings the runs
raised and the workers lost on the way.  Exit code 3: some
sweep runs failed, or ``compare --strict`` found guard errors (the report is written).
``--profile``, ``--seed`` and ``--method`` are repeatable and take comma-separated lists;
``--profiles``, ``--seeds`` and ``--methods`` are their deprecated spellings.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cli.common import EXIT_NO_RESULT, App, MethodOption, SetOption, force_flag, split_values, user_errors
from rkcore.errors import RKInputError

EXIT_FAILED = EXIT_NO_RESULT

ReportForceFlag = force_flag("Overwrite an existing report.")


class Device(str, enum.Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


def _split_list(values: list[str] | None, option: str) -> list[str]:
    items = split_values(values)
    if values is not None and not items:
        raise RKInputError(f"{option} is empty; give one or more values (repeat it or separate with commas)")
    return items


def _parse_seeds(values: list[str] | None) -> list[int] | None:
    if not values:
        return None
    seeds = []
    for item in _split_list(values, "--seed"):
        try:
            seed = int(item)
        except ValueError:
            raise RKInputError(f"--seed: {item!r} is not an integer; write e.g. --seed 0,1,2") from None
        if seed < 0:
            raise RKInputError(f"--seed: {seed} is negative; seeds are >= 0")
        seeds.append(seed)
    return seeds


def sweep_command(
    profiles: Annotated[
        list[str],
        typer.Option(
            "--profile",
            "-p",
            metavar="NAME|PATH",
            help="Built-in profile or .toml file; repeatable or comma-separated.",
        ),
    ],
    seeds: Annotated[
        list[str] | None,
        typer.Option(
            "--seed",
            metavar="N",
            help="Training seed, repeatable or comma-separated; default: each profile's own.",
            show_default=False,
        ),
    ] = None,
    set_: SetOption = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            metavar="ADDRESS",
            help="Dask scheduler of an existing cluster; default: a local cluster of processes.",
            show_default=False,
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            help="Worker processes of the local cluster; default min(runs, cores).",
            show_default=False,
        ),
    ] = None,
    smoke: Annotated[
        bool, typer.Option("--smoke", help="Every run on a tiny budget (tests, a quick look).")
    ] = False,
    runs_dir: Annotated[Path, typer.Option("--runs-dir", help="Folder holding the run folders.")] = Path(
        "runs"
    ),
    device: Annotated[
        Device, typer.Option("--device", help="Accepted for compatibility; the search runs on the CPU.")
    ] = Device.auto,
) -> None:
    """Train every (profile, seed) as its own run on Dask; finished runs are skipped, unfinished resumed."""
    from rkml.profile import resolve_profile
    from rkml.sweep import plan_sweep, sweep

    with user_errors():
        resolved = [
            resolve_profile(name, overrides=set_ or ()) for name in _split_list(profiles, "--profile")
        ]
        seed_list = _parse_seeds(seeds)
        plan_sweep(resolved, seed_list, runs_dir, smoke=smoke)  # every folder checked before work starts
        result = sweep(
            resolved,
            seed_list,
            runs_dir,
            scheduler=scheduler,
            n_workers=workers,
            smoke=smoke,
            device=device.value,
        )
    table = Table(
        title=f"rkml sweep: {len(result.outcomes)} run(s) in {result.wall_s:.1f} s "
        f"({result.n_workers} worker(s), {result.scheduler})"
    )
    for column in ("run", "status", "time", "message"):
        table.add_column(column, overflow="fold")
    for o in result.outcomes:
        wall = f"{o.wall_s:.1f} s" if o.wall_s is not None else ""
        table.add_row(o.label, o.status, wall, escape(o.message))
    Console().print(table)
    err = Console(stderr=True, soft_wrap=True, highlight=False)
    if result.timeline is not None:
        from rkml.sweep import timeline_lines

        typer.echo("timeline (seconds after the sweep began):")
        for line in timeline_lines(result.timeline):
            typer.echo(f"  {line}")
        typer.echo(f"timeline: {result.timeline_path}")
    for o in result.outcomes:
        for text in o.warnings:
            err.print(f"[yellow]warning:[/yellow] {escape(o.label)}: {escape(text)}")
    for e in result.events:
        if e["event"] == "lost":
            jobs = f" while running {', '.join(e['jobs'])}" if e["jobs"] else ""
            err.print(f"[yellow]worker lost:[/yellow] {escape(e['worker'])} at {e['time']}{escape(jobs)}")
    if not result.ok:
        for o in result.failed:
            err.print(f"[bold red]failed:[/bold red] {escape(o.label)}: {escape(o.message)}")
        raise typer.Exit(EXIT_FAILED)


def compare_command(
    run_dirs: Annotated[
        list[Path],
        typer.Argument(
            metavar="RUN_DIR...", help="Run folders to compare (runs/* is fine; non-runs are listed)."
        ),
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Report folder (index.md, index.html, PNGs).")
    ] = (Path("report")),
    methods: MethodOption = None,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 3 when the guard finds errors.")] = False,
    force: ReportForceFlag = False,
) -> None:
    """Write a comparison report of finished runs, with the guard against identical results.

    The library methods compared against are those with the learned stage counts unless
    --method names them.
    """
    import rkcore
    from rkml.compare import compare

    with user_errors():
        names = _split_list(methods, "--method") if methods is not None else None
        for name in names or ():
            rkcore.method(name)  # unknown names fail here, before any work
        result = compare(run_dirs, output, methods=names, strict=False, force=force, progress=True)
    err = Console(stderr=True, soft_wrap=True, highlight=False)
    for line in result.rejected:
        err.print(f"[yellow]skipped:[/yellow] {escape(line)}")
    for finding in result.errors:
        err.print(f"[bold red]guard error:[/bold red] {escape(finding.message)}")
    typer.echo(
        f"report: {output / 'index.md'} and {output / 'index.html'} ({len(result.runs)} run(s), "
        f"{len(result.rejected)} folder(s) left out, {len(result.errors)} guard error(s))"
    )
    if strict and result.errors:
        raise typer.Exit(EXIT_FAILED)


def register(app: App) -> None:
    """Add the ``sweep`` and ``compare`` commands to the ``rkml`` app."""
    app.command("sweep", renamed={"--profiles": "--profile", "--seeds": "--seed"})(sweep_command)
    app.command("compare", renamed={"--methods": "--method"})(compare_command)
