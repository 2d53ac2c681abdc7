"""Conventions both programs share (cli/common.py ``App``): ``--version``, ``-h``, shell
completion, help that reads at 80 columns, one exit status per outcome, renamed options
kept as hidden deprecated spellings."""

from __future__ import annotations

import enum
import importlib.metadata
import re
from types import SimpleNamespace

import pytest
import typer
from typer.core import TyperOption
from typer.testing import CliRunner

from cli import rkcore_app, rkml_app
from cli.common import EXIT_STATUS
from rkml import runs
from rkml.profile import load_profile

runner = CliRunner()
PROGRAMS = {"rkcore": rkcore_app.app, "rkml": rkml_app.app}


def _commands(group, path: tuple[str, ...] = ()):
    """Every (path, command) below the typer group ``group``, the group itself first."""
    yield path, group
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name), command


ALL_COMMANDS = [
    pytest.param(program, path, command, id=" ".join((program, *path)))
    for program, app in PROGRAMS.items()
    for path, command in _commands(typer.main.get_command(app))
]


def _flat(text: str) -> str:
    """Help text without the panel borders, whitespace collapsed (wrapped lines joined)."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


def _default_text(value) -> str | None:
    if value is None or value is False or value == ():
        return None
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return str(value)


# ----------------------------------------------------------------- version, -h, completion


@pytest.mark.parametrize("program", PROGRAMS)
def test_version_prints_the_package_version_and_exits_0(program):
    result = runner.invoke(PROGRAMS[program], ["--version"], prog_name=program)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{program} {importlib.metadata.version('rk-discovery')}\n"


@pytest.mark.parametrize(("program", "path", "command"), ALL_COMMANDS)
def test_dash_h_is_help_on_every_command(program, path, command):
    long = runner.invoke(PROGRAMS[program], [*path, "--help"], prog_name=program)
    short = runner.invoke(PROGRAMS[program], [*path, "-h"], prog_name=program)
    assert long.exit_code == short.exit_code == 0, short.output
    assert short.stdout == long.stdout and "Usage:" in short.stdout


@pytest.mark.parametrize("program", PROGRAMS)
def test_shell_completion_is_available(program):
    shown = _flat(runner.invoke(PROGRAMS[program], ["--help"], prog_name=program).stdout)
    assert "--install-completion" in shown and "--show-completion" in shown
    result = runner.invoke(PROGRAMS[program], ["--show-completion", "bash"], prog_name=program)
    assert result.exit_code == 0, result.output
    assert f"_{program.upper()}_COMPLETE=complete_bash" in result.stdout


# ----------------------------------------------------------------- help rendering


@pytest.mark.parametrize(("program", "path", "command"), ALL_COMMANDS)
def test_help_at_80_columns_shows_flags_plainly_and_every_default_whole(program, path, command):
    result = runner.invoke(PROGRAMS[program], [*path, "--help"], prog_name=program, env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert all(len(line) <= 80 for line in result.stdout.splitlines())
    assert "<bool>" not in result.stdout  # a flag takes no value
    assert "…" not in result.stdout  # nothing cut off
    shown = _flat(result.stdout)
    for param in command.params:
        if isinstance(param, TyperOption) and not param.hidden and param.show_default is not False:
            expected = _default_text(param.default)
            if expected is not None:
                assert f"[default: {expected}]" in shown, (param.name, shown)


@pytest.mark.parametrize("program", PROGRAMS)
def test_help_epilog_lists_the_exit_statuses(program):
    shown = _flat(runner.invoke(PROGRAMS[program], ["--help"], prog_name=program).stdout)
    codes = (0, 1, 2, 3, 130) if program == "rkml" else (0, 1, 2, 130)
    assert "Exit status" in shown
    for code in codes:
        assert f"{code} {EXIT_STATUS[code]}" in shown
    assert ("3 " + EXIT_STATUS[3] in shown) == (program == "rkml")


# ----------------------------------------------------------------- exit statuses


@pytest.mark.parametrize(
    ("program", "args"),
    [
        ("rkcore", ["analyze", "--bogus"]),
        ("rkcore", ["evaluate", "-m", "rk4", "--problems", "many"]),
        ("rkcore", ["plot-stability", "-m", "rk4"]),  # -o is required
        ("rkcore", ["nosuch"]),
        ("rkml", ["train"]),  # --profile is required
        ("rkml", ["train", "-p", "balanced", "--device", "tpu"]),
        ("rkml", ["profiles", "show"]),
        ("rkml", ["nosuch"]),
    ],
)
def test_usage_errors_exit_2(program, args):
    result = runner.invoke(PROGRAMS[program], args, prog_name=program)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("program", "args", "fragment"),
    [
        ("rkcore", ["analyze", "-m", "rk5"], "unknown method"),
        ("rkml", ["profiles", "show", "nope"], "unknown profile 'nope'"),
    ],
)
def test_bad_input_exits_1_with_one_line(program, args, fragment):
    result = runner.invoke(PROGRAMS[program], args, prog_name=program)
    assert result.exit_code == 1, result.output
    assert result.stderr.count("\n") == 1 and fragment in result.stderr


def test_success_exits_0():
    assert runner.invoke(rkcore_app.app, ["methods", "--json"]).exit_code == 0
    assert runner.invoke(rkml_app.app, ["profiles", "list"]).exit_code == 0


def test_interrupt_in_any_rkml_command_exits_130(monkeypatch):
    received = []

    def interrupted(name, **kwargs):
        received.append((name, kwargs))
        raise KeyboardInterrupt

    monkeypatch.setattr(rkml_app, "resolve_profile", interrupted)
    result = runner.invoke(rkml_app.app, ["profiles", "show", "balanced", "--seed", "3"])
    assert result.exit_code == 130, result.output
    assert result.stderr.strip() == "interrupted"
    assert received == [("balanced", {"overrides": (), "seed": 3})]


# ----------------------------------------------------------------- one name per concept


def _options(command) -> set[str]:
    return {opt for p in command.params if isinstance(p, TyperOption) for opt in (*p.opts, *p.secondary_opts)}


@pytest.mark.parametrize(("program", "path", "command"), ALL_COMMANDS)
def test_renamed_options_point_at_real_options_and_are_hidden(program, path, command):
    renamed = getattr(command, "renamed", {})
    shown = runner.invoke(PROGRAMS[program], [*path, "--help"], prog_name=program, env={"COLUMNS": "200"})
    for old, new in renamed.items():
        assert new in _options(command) and old not in _options(command)
        assert not re.search(rf"{re.escape(old)}(?![\w-])", shown.stdout), old


def test_the_renames():
    commands = {" ".join((prog, *path)): command for prog, path, command in (p.values for p in ALL_COMMANDS)}
    renames = {name: dict(c.renamed) for name, c in commands.items() if getattr(c, "renamed", {})}
    assert renames == {
        "rkcore evaluate": {"--seed": "--dataset-seed"},
        "rkcore work-precision": {"--seed": "--dataset-seed"},
        "rkml sweep": {"--profiles": "--profile", "--seeds": "--seed"},
        "rkml compare": {"--methods": "--method"},
    }
    # Each concept has one spelling everywhere it appears.
    spelling = {"--force": "-f", "--method": "-m", "--profile": "-p", "--output": "-o", "--help": "-h"}
    for name, command in commands.items():
        for param in command.params:
            if isinstance(param, TyperOption) and param.opts[0] in spelling and not param.hidden:
                assert spelling[param.opts[0]] in param.opts, (name, param.opts)
    assert "--seed" not in _options(commands["rkcore evaluate"])


def test_train_force_has_the_short_flag_too(tmp_path, monkeypatch):
    import rkml.train

    calls = []
    monkeypatch.setattr(
        rkml.train,
        "train",
        lambda profile, run_dir, **kw: calls.append((profile, kw)) or SimpleNamespace(summary=""),
    )
    args = ["train", "-p", "balanced", "--runs-dir", str(tmp_path)]
    run_dir = runs.default_run_dir(load_profile("balanced"), tmp_path)
    runs.write_manifest(run_dir, load_profile("balanced"), {"status": "running"})
    assert runner.invoke(rkml_app.app, args).exit_code == 1  # the run folder is in the way
    result = runner.invoke(rkml_app.app, [*args, "-f"])
    assert result.exit_code == 0, result.output
    assert calls[-1] == (
        load_profile("balanced"),
        {"stages": None, "device": "auto", "resume": False, "progress": True},
    )
