"""Helpers shared by the typer apps: one-line errors, shared options, tableau loading.

Every command wraps its body in :func:`user_errors`, which turns the errors a user
can provoke (:class:`~rkcore.errors.RKInputError`, :class:`OSError`) into one line
on stderr and exit code 1 instead of a traceback.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import numpy as np
import typer
from rich.console import Console
from rich.markup import escape

import rkcore
from rkcore.errors import RKInputError

F = TypeVar("F", bound=Callable[..., Any])

# ----------------------------------------------------------------- shared options

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
        help="A library method by name (repeatable); 'rkcore methods' lists them.",
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
ForceFlag = Annotated[bool, typer.Option("--force", "-f", help="Overwrite an existing output file.")]
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
    names = list(names or [])
    if not files and not names:
        raise RKInputError(
            "no tableau given; pass FILE.json arguments or --method NAME (see 'rkcore methods')"
        )
    return [rkcore.load_tableau(path) for path in files] + [rkcore.method(name) for name in names]


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
