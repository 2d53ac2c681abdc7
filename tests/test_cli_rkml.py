"""The ``rkml`` CLI: the exact resolved profile reaches ``rkml.train.train`` (STYLE.md item 11)."""

from __future__ import annotations

import inspect
import subprocess
import sys
import types

import pytest
from typer.testing import CliRunner

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

import rkml
from cli.rkml_app import app
from rkml import runs
from rkml.errors import TrainingRejected
from rkml.profile import Profile, builtin_profiles, load_profile

runner = CliRunner()
BUILTINS = builtin_profiles()


class TrainSpy:
    """Stands in for ``rkml.train.train`` and records every call."""

    def __init__(self) -> None:
        self.calls: list[dict] = []
        self.raises: BaseException | None = None
        self.checkpoint_first = False  # save a checkpoint in run_dir before raising

    def __call__(self, profile, run_dir, *, stages=None, device="auto", resume=False, progress=True):
        call = dict(profile=profile, run_dir=run_dir, stages=stages, device=device, resume=resume)
        self.calls.append({**call, "progress": progress})
        if self.raises is not None:
            if self.checkpoint_first:
                runs.save_checkpoint(run_dir, {"step": 1})
            raise self.raises
        return types.SimpleNamespace(summary="headline: (stand-in)")

    @property
    def only_call(self) -> dict:
        assert len(self.calls) == 1
        return self.calls[0]


@pytest.fixture
def spy(monkeypatch):
    try:
        import rkml.train as module
    except ImportError:  # rkml.train not written yet: a stand-in module keeps the CLI test meaningful
        module = types.ModuleType("rkml.train")
        monkeypatch.setitem(sys.modules, "rkml.train", module)
        monkeypatch.setattr(rkml, "train", module, raising=False)
    fake = TrainSpy()
    monkeypatch.setattr(module, "train", fake, raising=False)
    return fake


def _train(tmp_path, *args):
    return runner.invoke(app, ["train", "--runs-dir", str(tmp_path), *args])


@pytest.mark.parametrize("name", BUILTINS)
def test_train_passes_the_exact_builtin_profile(tmp_path, spy, name):
    result = _train(tmp_path, "--profile", name)
    assert result.exit_code == 0, result.output
    call = spy.only_call
    expected = load_profile(name)
    assert isinstance(call["profile"], Profile)
    assert call["profile"] == expected
    assert call["run_dir"] == tmp_path / f"{name}-{expected.training.seed}-{expected.short_hash()}"
    assert call["run_dir"].is_dir()
    assert (call["stages"], call["device"], call["resume"], call["progress"]) == (None, "auto", False, True)


@pytest.mark.parametrize("name", BUILTINS)
def test_train_passes_seed_and_overrides(tmp_path, spy, name):
    result = _train(
        tmp_path,
        "--profile",
        name,
        "--seed",
        "7",
        "--set",
        "training.generations=5",
        "--set",
        "model.layers=3",
    )
    assert result.exit_code == 0, result.output
    expected = load_profile(name).with_overrides(["training.generations=5", "model.layers=3"]).with_seed(7)
    call = spy.only_call
    assert call["profile"] == expected
    assert call["profile"].overrides == ("training.generations=5", "model.layers=3", "--seed 7")
    assert call["run_dir"] == runs.default_run_dir(expected, tmp_path)
    assert str(call["run_dir"]) in result.output


@pytest.mark.parametrize("name", BUILTINS)
def test_train_smoke_stages_and_device(tmp_path, spy, name):
    stages = load_profile(name).stages.max
    result = _train(tmp_path, "--profile", name, "--smoke", "--stages", str(stages), "--device", "cpu")
    assert result.exit_code == 0, result.output
    call = spy.only_call
    assert call["profile"] == load_profile(name).with_stages(stages).smoke()
    assert (call["stages"], call["device"]) == (stages, "cpu")


def test_different_profiles_reach_train_as_different_values(tmp_path, spy):
    for name in BUILTINS:
        assert _train(tmp_path, "--profile", name).exit_code == 0
    profiles = [c["profile"] for c in spy.calls]
    dirs = {c["run_dir"] for c in spy.calls}
    assert len({p.hash() for p in profiles}) == len(BUILTINS) == len(dirs)


def test_train_custom_profile_path(tmp_path, spy):
    path = tmp_path / "mine.toml"
    path.write_text(
        load_profile("accuracy").with_overrides(["name=mine", "training.generations=2"]).to_toml()
    )
    result = _train(tmp_path / "runs", "--profile", str(path))
    assert result.exit_code == 0, result.output
    assert spy.only_call["profile"] == load_profile(path)
    assert spy.only_call["profile"].name == "mine"


def _one_line_error(result, code=1) -> str:
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_set_typo_exits_1_with_a_suggestion(tmp_path, spy):
    result = _train(tmp_path, "--profile", "balanced", "--set", "objective.w_ac=0.4")
    line = _one_line_error(result)
    assert "unknown key 'objective.w_ac'; did you mean 'objective.w_acc'?" in line
    assert spy.calls == []
    assert not any(tmp_path.iterdir())


def test_single_weight_override_exits_1_suggesting_all_three(tmp_path, spy):
    line = _one_line_error(_train(tmp_path, "--profile", "balanced", "--set", "objective.w_acc=0.4"))
    assert "must sum to 1" in line and "set all three" in line
    assert spy.calls == []


def test_unknown_family_fails_before_the_run_starts(tmp_path, spy):
    pytest.importorskip("rkcore.datasets")
    line = _one_line_error(_train(tmp_path, "--profile", "balanced", "--set", "dataset.families=van_der_po"))
    assert "did you mean 'van_der_pol'?" in line
    assert spy.calls == [] and not any(tmp_path.iterdir())


def test_unknown_profile_exits_1_listing_known_ones(tmp_path, spy):
    line = _one_line_error(_train(tmp_path, "--profile", "balance"))
    assert "unknown profile 'balance'" in line
    assert all(name in line for name in BUILTINS)
    assert spy.calls == []


def test_stages_outside_range_exits_1(tmp_path, spy):
    line = _one_line_error(_train(tmp_path, "--profile", "efficiency-v2", "--stages", "8"))
    assert "--stages" in line and "3..5" in line
    assert spy.calls == []


def test_existing_run_dir_needs_resume_or_force(tmp_path, spy):
    assert _train(tmp_path, "--profile", "balanced").exit_code == 0
    run_dir = spy.only_call["run_dir"]
    runs.write_manifest(run_dir, spy.only_call["profile"], {"status": "running"})
    runs.save_checkpoint(run_dir, {"epoch": 3})

    line = _one_line_error(_train(tmp_path, "--profile", "balanced"))
    assert line.endswith(f"{run_dir} exists; pass --resume to continue or --force to start afresh")
    assert len(spy.calls) == 1 and runs.has_checkpoint(run_dir)

    assert _train(tmp_path, "--profile", "balanced", "--resume").exit_code == 0
    assert spy.calls[-1]["resume"] is True and spy.calls[-1]["run_dir"] == run_dir
    assert runs.has_checkpoint(run_dir)

    assert _train(tmp_path, "--profile", "balanced", "--force").exit_code == 0
    assert spy.calls[-1]["resume"] is False and not any(run_dir.iterdir())


def test_resume_without_checkpoint_exits_1(tmp_path, spy):
    line = _one_line_error(_train(tmp_path, "--profile", "balanced", "--resume"))
    assert "no checkpoint to resume" in line
    assert spy.calls == []


def test_rejected_training_exits_3_with_one_line(tmp_path, spy):
    spy.raises = TrainingRejected("the learned 4-stage tableau equals its initialisation")
    line = _one_line_error(_train(tmp_path, "--profile", "balanced"), code=3)
    assert "rejected" in line and "equals its initialisation" in line
    assert spy.only_call["profile"] == load_profile("balanced")


def test_interrupt_exits_130_pointing_at_resume(tmp_path, spy):
    spy.raises, spy.checkpoint_first = KeyboardInterrupt(), True
    line = _one_line_error(_train(tmp_path, "--profile", "balanced"), code=130)
    assert line == f"interrupted: checkpoint in {spy.only_call['run_dir']}; continue with --resume"


def test_interrupt_before_a_checkpoint_says_nothing_was_saved(tmp_path, spy):
    spy.raises = KeyboardInterrupt()
    line = _one_line_error(_train(tmp_path, "--profile", "balanced"), code=130)
    assert line.startswith("interrupted: before the first checkpoint, nothing was saved")
    assert line.endswith("run the same command again (without --resume) to start afresh")


def test_sigterm_exits_143(tmp_path, spy):
    import signal

    from rkml.errors import RunInterrupted

    spy.raises, spy.checkpoint_first = RunInterrupted(signal.SIGTERM), True
    line = _one_line_error(_train(tmp_path, "--profile", "balanced"), code=143)
    assert line.endswith("continue with --resume")


def test_device_option_is_accepted_and_the_search_runs_on_the_cpu(tmp_path, spy):
    # The CMA-ES search has no torch part any more; --device stays accepted for old command lines.
    result = _train(tmp_path / "runs", "--profile", "balanced", "--device", "cuda")
    assert result.exit_code == 0, result.output
    assert spy.only_call["device"] == "cuda"
    import rkml.train

    assert rkml.train.resolve_device("cuda") == "cpu"


def test_train_signature_matches_the_cli_call():
    try:
        import rkml.train as module
    except ImportError:
        pytest.skip("rkml.train not written yet")
    params = inspect.signature(module.train).parameters
    assert list(params)[:2] == ["profile", "run_dir"]
    for keyword in ("stages", "device", "resume", "progress"):
        assert params[keyword].kind in (
            inspect.Parameter.KEYWORD_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        )


# --------------------------------------------------------------------------- profiles


def test_profiles_list_shows_all_six_with_their_values():
    result = runner.invoke(app, ["profiles", "list"])
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): line for line in result.output.splitlines() if line.count("│") > 5}
    assert set(rows) == set(BUILTINS)
    p = load_profile("accuracy")
    cells = [c.strip() for c in rows["accuracy"].split("│")[1:-1]]
    assert cells == [
        "accuracy",
        "1500",
        "600",
        "4–7 (5)",
        "0.20",
        "512",
        "0.70",
        "0.20",
        "0.10",
        str(p.training.generations),
    ]


@pytest.mark.parametrize("name", BUILTINS)
def test_profiles_show_prints_loadable_toml(name):
    result = runner.invoke(app, ["profiles", "show", name])
    assert result.exit_code == 0, result.output
    profile = load_profile(name)
    assert Profile.from_dict(tomllib.loads(result.stdout)) == profile
    assert f"# profile hash: {profile.hash()}" in result.stdout


def test_profiles_show_applies_set_and_seed(tmp_path):
    result = runner.invoke(app, ["profiles", "show", "mixed", "--set", "training.sigma=0.2", "--seed", "4"])
    assert result.exit_code == 0, result.output
    expected = load_profile("mixed").with_overrides(["training.sigma=0.2"]).with_seed(4)
    assert Profile.from_dict(tomllib.loads(result.stdout)) == expected
    # The printed TOML is itself a usable custom profile.
    path = tmp_path / "shown.toml"
    path.write_text(result.stdout)
    assert load_profile(path) == expected


def test_profiles_show_unknown_exits_1():
    line = _one_line_error(runner.invoke(app, ["profiles", "show", "nope"]))
    assert "unknown profile 'nope'" in line


def test_help_does_not_import_torch():
    code = "import sys; from cli.rkml_app import app; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
