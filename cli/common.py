"""Helpers shared by the typer apps: conventions, one-line errors, shared options, tableau loading.

Every command wraps its body in :func:`user_errors`, which turns the errors a user
can provoke (:class:`~rkcore.errors.RKInputError`, :class:`OSError`) into one line
on stderr and exit code 1 instead of a traceback.

Both programs are built with :class:`App`, which gives every command and sub-command the
same conventions: ``-h`` as well as ``--help``, flags shown without a ``<bool>``
placeholder, ``--version`` and shell completion on the root, Ctrl-C as exit status 130,
and renamed options kept as hidden, deprecated spellings (``renamed=`` of
:meth:`App.command`).  The exit statuses are :data:`EXIT_STATUS`.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import numpy as np
import typer
import typer.core
from rich.console import Console
from rich.markup import escape

import rkcore
from rkcore.errors import RKInputError

F = TypeVar("F", bound=Callable[..., Any])

# ----------------------------------------------------------------- exit statuses

EXIT_BAD_INPUT = 1
EXIT_USAGE = 2  # click's own status for an unknown option, a missing or malformed argument
EXIT_NO_RESULT = 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for Ctrl-C

#: What each exit status means, in both programs (rkcore never exits with 3).
EXIT_STATUS = {
    0: "success",
    EXIT_BAD_INPUT: "bad input, reported in one line on stderr",
    EXIT_USAGE: "usage error: unknown option, missing argument, value of the wrong type",
    EXIT_NO_RESULT: "finished without a valid result",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C)",
}


def exit_status_epilog(codes: Iterable[int], notes: Mapping[int, str] | None = None) -> str:
    """The ``Exit status`` list closing a program's ``--help`` (markdown), with per-program notes."""
    notes = notes or {}
    lines = [f"- **{code}** {EXIT_STATUS[code]}{notes.get(code, '')}" for code in codes]
    return "**Exit status**\n\n" + "\n".join(lines)


# ----------------------------------------------------------------- app conventions

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}


class _Conventions:
    """Behaviour shared by :class:`Command` and :class:`Group` (mixed in before typer's class)."""

    #: Old option spelling -> new one; the old one still works, warns on stderr, and is not
    #: listed in --help.  Set per command with ``App.command(..., renamed={...})``.
    renamed: Mapping[str, str] = {}

    def get_params(self, ctx):
        params = super().get_params(ctx)
        for param in params:
            # typer shows every option's type, so a flag would read "--json <bool>" as if it
            # took a value; an empty metavar leaves the type column blank.
            if isinstance(param, typer.core.TyperOption) and param.is_flag and param.metavar is None:
                param.metavar = ""
        return params

    def parse_args(self, ctx, args):
        return super().parse_args(ctx, _rename_options(args, self.renamed, quiet=ctx.resilient_parsing))


def _rename_options(args: list[str], renamed: Mapping[str, str], *, quiet: bool) -> list[str]:
    """``args`` with deprecated option spellings replaced (``--old``, ``--old=value``)."""
    if not renamed:
        return args
    out: list[str] = []
    warned: set[str] = set()
    for i, arg in enumerate(args):
        if arg == "--":
            return out + args[i:]
        old, sep, value = arg.partition("=")
        if old in renamed:
            if not quiet and old not in warned:
                warned.add(old)
                typer.echo(
                    f"warning: {old} is deprecated and will be removed in the next release; "
                    f"use {renamed[old]}",
                    err=True,
                )
            arg = renamed[old] + sep + value
        out.append(arg)
    return out


class Command(_Conventions, typer.core.TyperCommand):
    """A command with the conventions of :class:`App`."""


class Group(_Conventions, typer.core.TyperGroup):
    """A command group with the conventions of :class:`App`; Ctrl-C in a command exits 130."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            # click would print "Aborted!" and exit 1, the status of bad input.
            Console(stderr=True, highlight=False).print("[bold red]interrupted[/bold red]")
            raise typer.Exit(EXIT_INTERRUPTED) from None


class App(typer.Typer):
    """``typer.Typer`` with the conventions both programs share (module docstring)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("cls", Group)
        kwargs.setdefault("context_settings", CONTEXT_SETTINGS)
        kwargs.setdefault("rich_markup_mode", "markdown")  # reflows docstrings to the terminal
        kwargs.setdefault("pretty_exceptions_show_locals", False)
        super().__init__(**kwargs)

    def command(self, name: str | None = None, *, renamed: Mapping[str, str] | None = None, **kwargs: Any):
        """``typer.Typer.command``; ``renamed`` maps deprecated option spellings to their new names."""
        if "cls" not in kwargs:
            kwargs["cls"] = (
                type("Command", (Command,), {"renamed": dict(renamed), "__module__": __name__})
                if renamed
                else Command
            )
        return super().command(name, **kwargs)


def package_version() -> str:
    """The installed version of the ``rk-discovery`` distribution."""
    try:
        return importlib.metadata.version("rk-discovery")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - run from a bare checkout
        return "unknown (not installed)"


def _print_version(ctx: typer.Context, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        typer.echo(f"{ctx.find_root().info_name} {package_version()}")
        raise typer.Exit()


# ----------------------------------------------------------------- shared options

VersionFlag = Annotated[
    bool,
    typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
]

TableauFiles = Annotated[
    list[Path] | None,
    typer.Argument(
        metavar="FILE.json",
        help='Tableau JSON files: {"name": ..., "A": [[...]], "b": [...], "c": [...], "b_hat": [...]}.',
        show_default=False,
    ),
]
MethodOption = Annotated[
    list[str] | None,
    typer.Option(
        "--method",
        "-m",
        metavar="NAME",
        help="Library method, repeatable or comma-separated (`rkcore methods` lists them).",
        show_default=False,
    ),
]
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="SECTION.KEY=VALUE",
        help="Override one profile setting, e.g. --set objective.w_acc=0.4 (repeatable; recorded).",
        show_default=False,
    ),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of a report.")]


def force_flag(help: str) -> Any:
    """The ``--force/-f`` flag (one spelling in every command) with a command's own help text."""
    return Annotated[bool, typer.Option("--force", "-f", help=help)]


ForceFlag = force_flag("Overwrite an existing output file.")
OutputOption = Annotated[
    Path,
    typer.Option("--output", "-o", help="File to write; an existing file is kept unless --force is given."),
]


# ----------------------------------------------------------------- errors


def fail(message: str) -> NoReturn:
    """Print ``error: message`` as one line on stderr and exit with status 1."""
    console = Console(stderr=True, soft_wrap=True, highlight=False)
    console.print(f"[bold red]error:[/bold red] {escape(' '.join(message.split()))}")
    raise typer.Exit(1)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        where = exc.filename if exc.filename is not None else ""
        return f"{where}: {exc.strerror}" if where else exc.strerror
    return str(exc) or exc.__class__.__name__


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn :class:`RKInputError` and :class:`OSError` raised inside the block into :func:`fail`."""
    try:
        yield
    except (RKInputError, OSError) as exc:
        fail(_describe(exc))


def handles_user_errors(func: F) -> F:
    """Decorator form of :func:`user_errors` for a whole command."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with user_errors():
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


# ----------------------------------------------------------------- inputs and outputs


def load_tableaux(files: Sequence[Path] | None, names: Sequence[str] | None) -> list[rkcore.Tableau]:
    """The tableaux named on a command line: JSON files first, then library methods.

    Raises
    ------
    RKInputError
        When nothing was given, a file is unreadable or invalid, or a name is unknown.
    """
    files = list(files or [])
    names = split_values(names)
    if not files and not names:
        raise RKInputError(
            "no tableau given; pass FILE.json arguments or --method NAME (see 'rkcore methods')"
        )
    return [rkcore.load_tableau(path) for path in files] + [rkcore.method(name) for name in names]


def split_values(values: Iterable[str] | None) -> list[str]:
    """Values of a repeatable option, each of which may also be a comma-separated list.

    ``["rk4,dopri5", "ssprk3"]`` -> ``["rk4", "dopri5", "ssprk3"]``; blanks are dropped.
    """
    return [item.strip() for value in values or () for item in value.split(",") if item.strip()]


def check_output_path(path: Path, force: bool) -> None:
    """Refuse to replace an existing file unless ``force`` (we never overwrite results silently)."""
    if path.is_dir():
        raise RKInputError(f"{path}: is a folder; pass a file path to -o/--output")
    if path.exists() and not force:
        raise RKInputError(f"{path}: file exists; pass --force to overwrite it or choose another -o/--output")


def _plain(value: Any) -> Any:
    """JSON-ready copy: numpy scalars/arrays to Python, non-finite floats to null."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def to_json(obj: Any) -> str:
    """Serialise ``obj`` (dicts/lists of numbers, numpy values allowed) as indented JSON."""
    return json.dumps(_plain(obj), indent=2, allow_nan=False)
