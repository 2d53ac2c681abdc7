"""The ``rkml`` command: run profiles and training of the tableau generator.

    rkml profiles list
    rkml profiles show NAME|PATH [--set section.key=value ...] [--seed N]
    rkml train --profile NAME|PATH [--set section.key=value ...] [--seed N] [--stages N]
               [--device auto|cpu|cuda] [--smoke] [--resume] [--force] [--runs-dir runs]

Each command resolves the profile once (:func:`rkml.profile.resolve_profile`) and passes
that value to the library; nothing here holds a setting of its own.  Exit codes: 0 done,
1 bad input (one line on stderr), 2 usage error (click), 3 training finished without a
valid result, 130 interrupted by Ctrl-C and 143 by SIGTERM (the message says whether a
checkpoint was saved for ``--resume``); see :data:`cli.common.EXIT_STATUS`.  torch is imported
only when a run starts, so ``--help`` and ``profiles`` stay fast.
"""

from __future__ import annotations

import contextlib
import enum
import warnings
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cli.common import (
    EXIT_BAD_INPUT,
    EXIT_INTERRUPTED,
    EXIT_NO_RESULT,
    EXIT_USAGE,
    App,
    SetOption,
    VersionFlag,
    exit_status_epilog,
    force_flag,
    handles_user_errors,
    user_errors,
)
from rkml import runs
from rkml.errors import TrainingRejected
from rkml.profile import builtin_profiles, load_profile, resolve_profile

app = App(
    name="rkml",
    help="Train explicit Runge-Kutta tableau generators from run profiles.",
    epilog=exit_status_epilog(
        (0, EXIT_BAD_INPUT, EXIT_USAGE, EXIT_NO_RESULT, EXIT_INTERRUPTED),
        {
            EXIT_BAD_INPUT: " (a profile, an override, a run folder in the way)",
            EXIT_NO_RESULT: " (train: rejected; sweep: a run failed; compare --strict: guard errors)",
            EXIT_INTERRUPTED: "; train saves a checkpoint first, continue with --resume",
        },
    ),
    no_args_is_help=True,
)
profiles_app = App(help="List and inspect run profiles.", no_args_is_help=True)
app.add_typer(profiles_app, name="profiles")
# Issue 5 registers `sweep` and `compare` on `app` from their own modules.

EXIT_REJECTED = EXIT_NO_RESULT


@app.callback()
def _root(version: VersionFlag = False) -> None:
    pass  # --version acts in its own callback; the help text is the app's


class Device(str, enum.Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


# ----------------------------------------------------------------- shared options

SeedOption = Annotated[
    int | None,
    typer.Option("--seed", help="Training seed (training.seed); default: the profile's.", show_default=False),
]
ProfileArgument = Annotated[
    str, typer.Argument(metavar="NAME|PATH", help="A built-in profile name or a path to a .toml file.")
]


# ----------------------------------------------------------------- profiles


@profiles_app.command("list")
@handles_user_errors
def list_profiles() -> None:
    """Table of the built-in profiles."""
    table = Table(title="rkml built-in profiles")
    for header in ("profile", "ODEs", "stiff", "stages (default)", "t_end", "hidden units"):
        table.add_column(header, justify="left" if header == "profile" else "right", no_wrap=True)
    for header in ("w_acc", "w_eff", "w_stab", "generations"):
        table.add_column(header, justify="right", no_wrap=True)
    for name in builtin_profiles():
        p = load_profile(name)
        table.add_row(
            name,
            str(p.dataset.n_problems),
            str(p.dataset.n_stiff),
            f"{p.stages.min}–{p.stages.max} ({p.stages.default})",
            f"{p.dataset.t_end:.2f}",
            str(p.model.hidden_units),
            f"{p.objective.w_acc:.2f}",
            f"{p.objective.w_eff:.2f}",
            f"{p.objective.w_stab:.2f}",
            str(p.training.generations),
        )
    console = Console()
    # Piped output (and tests) would otherwise get rich's 80-column default and wrapped cells.
    (console if console.is_terminal else Console(width=120)).print(table)


@profiles_app.command("show")
@handles_user_errors
def show_profile(profile: ProfileArgument, set_: SetOption = None, seed: SeedOption = None) -> None:
    """Print the resolved profile as TOML (loadable with --profile PATH)."""
    resolved = resolve_profile(profile, overrides=set_ or (), seed=seed)
    typer.echo(f"# profile hash: {resolved.hash()}")
    typer.echo(f"# run folder:   {runs.default_run_dir(resolved).name}")
    typer.echo(resolved.to_toml(), nl=False)


# ----------------------------------------------------------------- train


def _exit_with(code: int, label: str, message: str) -> None:
    console = Console(stderr=True, soft_wrap=True, highlight=False)
    console.print(f"[bold red]{label}:[/bold red] {escape(' '.join(message.split()))}")
    raise typer.Exit(code)


ProfileOption = Annotated[
    str, typer.Option("--profile", "-p", metavar="NAME|PATH", help="Built-in profile name or a .toml file.")
]
StagesOption = Annotated[
    int | None,
    typer.Option(
        "--stages", help="Train only this stage count (within the profile's range).", show_default=False
    ),
]
DeviceOption = Annotated[
    Device, typer.Option("--device", help="Accepted for compatibility; the search runs on the CPU.")
]
SmokeFlag = Annotated[bool, typer.Option("--smoke", help="Same code on a tiny budget (tests, a quick look).")]
ResumeFlag = Annotated[bool, typer.Option("--resume", help="Continue the run from its checkpoint.")]
ForceFlag = force_flag("Delete an existing run folder and start afresh.")
RunsDirOption = Annotated[Path, typer.Option("--runs-dir", help="Folder holding the run folders.")]


@app.command()
def train(
    profile: ProfileOption,
    set_: SetOption = None,
    seed: SeedOption = None,
    stages: StagesOption = None,
    device: DeviceOption = Device.auto,
    smoke: SmokeFlag = False,
    resume: ResumeFlag = False,
    force: ForceFlag = False,
    runs_dir: RunsDirOption = Path("runs"),
) -> None:
    """Train a tableau generator for every stage count of a profile; results go to a run folder.

    Ctrl-C or SIGTERM (kill, a scheduler's time limit) stops the run cleanly: it saves a
    checkpoint of the last finished epoch, marks the run "interrupted" in its manifest and
    exits with 130 (Ctrl-C) or 143 (SIGTERM); --resume continues to the same tableau an
    uninterrupted run gives.  Stopped while the dataset is still being built, nothing is saved:
    the message says so, and the same command (without --resume) starts the run afresh.

    Progress goes to stderr: a live bar on a terminal, a plain line every 5 % in a log file.
    """
    with contextlib.ExitStack() as hold:
        with user_errors():
            resolved = resolve_profile(profile, overrides=set_ or (), seed=seed, stages=stages, smoke=smoke)
            # Imported here: torch and the generator load only when a run really starts.
            import rkml.train

            rkml.train.resolve_device(device.value)  # before the run folder exists: nothing written on error
            # One writer per run folder, held from preparing the folder to the last result written.
            run_dir = runs.default_run_dir(resolved, runs_dir)
            hold.enter_context(runs.run_lock(run_dir))
            run_dir = runs.prepare_run_dir(run_dir, resume=resume, force=force)
        typer.echo(f"profile {resolved.name} ({resolved.short_hash()}), run folder {run_dir}")
        try:
            with user_errors():
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always", RuntimeWarning)
                    result = rkml.train.train(
                        resolved, run_dir, stages=stages, device=device.value, resume=resume, progress=True
                    )
            for w in caught:
                typer.echo(f"warning: {w.message}", err=True)
            typer.echo(result.summary)
        except TrainingRejected as exc:
            _exit_with(EXIT_REJECTED, "rejected", f"{exc} (run folder {run_dir})")
        except KeyboardInterrupt as exc:  # Ctrl-C, or rkml.errors.RunInterrupted for SIGTERM
            code = getattr(exc, "exit_code", EXIT_INTERRUPTED)
            if runs.has_checkpoint(run_dir):
                _exit_with(code, "interrupted", f"checkpoint in {run_dir}; continue with --resume")
            _exit_with(code, "interrupted", f"before the first checkpoint, nothing was saved in {run_dir}; "
                       "run the same command again (without --resume) to start afresh")  # fmt: skip
        typer.echo(f"done: results in {run_dir}")


from cli.rkml_sweep import register as register_sweep_compare  # noqa: E402  (issue 5: sweep, compare)

register_sweep_compare(app)


def main() -> None:
    """Console-script entry point (``rkml``)."""
    app(prog_name="rkml")


if __name__ == "__main__":
    main()
