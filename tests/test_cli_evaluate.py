"""``rkcore evaluate`` and ``rkcore work-precision``: arguments reach the library, errors are one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from splits import exact_split
from typer.testing import CliRunner

import rkcore
from cli.rkcore_app import app
from rkcore import evaluate as evaluation
from rkcore import work_precision as wp
from rkcore.calibration import ScoringPlan, make_plan
from rkcore.datasets import DatasetSpec, Split
from rkcore.metrics import Weights

runner = CliRunner()


@pytest.fixture(scope="module")
def small_split() -> Split:
    return exact_split(n=4, seed=1, families=("harmonic", "linear_spectrum"))


@pytest.fixture()
def tableau_file(tmp_path) -> Path:
    path = tmp_path / "my_heun.json"
    rkcore.save_tableau(rkcore.method("heun").replace(name="my_heun"), path)
    return path


class Recorder:
    """Stands in for a library function: records its arguments, returns a prepared value."""

    def __init__(self, result=None):
        self.calls: list[tuple[tuple, dict]] = []
        self.result = result

    def __call__(self, *args, **kwargs):
        self.calls.append((args, kwargs))
        return self.result


def assert_one_line_error(result, fragment: str) -> None:
    assert result.exit_code == 1, (result.stdout, result.stderr)
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert fragment in lines[0], lines[0]


# ----------------------------------------------------------------------------- evaluate


def test_evaluate_passes_the_resolved_arguments(monkeypatch, small_split, tableau_file, tmp_path):
    load = Recorder(result=small_split)
    real = evaluation.evaluate(
        [rkcore.method("heun"), rkcore.method("rk4")], small_split, make_plan(small_split, None, n_steps=10)
    )
    score = Recorder(result=real)
    monkeypatch.setattr(evaluation, "load_split", load)
    monkeypatch.setattr(evaluation, "evaluate", score)
    args = [
        "evaluate",
        str(tableau_file),
        "--method",
        "rk4",
        "--problems",
        "50",
        "--stiff",
        "10",
        "--t-end",
        "0.2",
        "--steps",
        "30",
        "--dataset-seed",
        "7",
        "--families",
        "harmonic, linear_spectrum",
        "--split",
        "test",
        "--weights",
        "0.5,0.3,0.2",
        "--cache-dir",
        str(tmp_path / "cache"),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    expected_spec = DatasetSpec(
        n_problems=50, n_stiff=10, t_end=0.2, seed=7, families=("harmonic", "linear_spectrum")
    )
    assert load.calls == [((expected_spec, "test"), {"cache_dir": tmp_path / "cache", "progress": True})]
    (tableaux, data, plan), kwargs = score.calls[0]
    assert len(score.calls) == 1
    assert [t.name for t in tableaux] == ["my_heun", "rk4"]
    assert tableaux[0].equals(rkcore.method("heun")) and tableaux[1] is rkcore.method("rk4")
    assert data is small_split and isinstance(plan, ScoringPlan)
    plain = np.concatenate([g.index for g in small_split.groups if not g.family.stiff])
    assert np.all(plan.steps[plain] == 30)
    assert np.isnan(plan.target_error)
    assert kwargs == {"weights": Weights(0.5, 0.3, 0.2)}
    for text in ("By family", "Overall", "harmonic", "linear_spectrum", "heun", "rk4"):
        assert text in result.stdout


def test_evaluate_json_output(monkeypatch, small_split):
    real = evaluation.evaluate([rkcore.method("rk4")], small_split, make_plan(small_split))
    monkeypatch.setattr(evaluation, "load_split", Recorder(result=small_split))
    score = Recorder(result=real)
    monkeypatch.setattr(evaluation, "evaluate", score)
    result = runner.invoke(app, ["evaluate", "--method", "rk4", "--json"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["dataset"] == DatasetSpec(n_problems=1000, n_stiff=300, t_end=0.1, seed=0).to_dict()
    assert data["split"] == "all" and data["plan"]["target_error"] == 1e-6
    assert score.calls[0][0][2].target_error == 1e-6  # the default: calibrated step counts
    assert 0.0 <= data["tableaux"][0]["overall"]["saturation"] <= 1.0
    assert data["tableaux"][0]["name"] == "rk4" and data["tableaux"][0]["score"] == 0.0
    assert set(data["tableaux"][0]["families"]) == {"harmonic", "linear_spectrum"}


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["evaluate"], "no tableau given"),
        (["evaluate", "--method", "rk4", "--steps", "0"], "--steps must be a positive integer"),
        (["evaluate", "--method", "rk4", "--target-error", "2"], "--target-error = 2 is outside"),
        (["evaluate", "--method", "rk4", "--weights", "1,1,1"], "they must sum to 1"),
        (["evaluate", "--method", "rk4", "--weights", "0.5,0.5"], "--weights needs three numbers"),
        (["evaluate", "--method", "rk4", "--weights", "a,b,c"], "--weights must be comma-separated numbers"),
        (["evaluate", "--method", "nope"], "unknown method 'nope'"),
        (["evaluate", "--method", "rk4", "--families", "harmonik"], "unknown problem family 'harmonik'"),
        (
            ["evaluate", "--method", "rk4", "--problems", "10", "--stiff", "20"],
            "error: --stiff must be between 0 and --problems=10, got 20",
        ),
        (["evaluate", "--method", "rk4", "--t-end", "-1"], "error: --t-end must be finite and > 0"),
        (["evaluate", "--method", "rk4", "--dataset-seed", "-1"], "error: --dataset-seed must be >= 0"),
        (["evaluate", "--method", "rk4", "--problems", "0"], "error: --problems must be >= 1"),
        (
            ["evaluate", "--method", "rk4", "--families", "harmonic", "--stiff", "5"],
            "error: --stiff=5 but --families has no stiff family",
        ),
        (["evaluate", "missing.json"], "missing.json"),
    ],
)
def test_evaluate_bad_input_is_one_line_and_builds_nothing(monkeypatch, args, fragment):
    load = Recorder()
    monkeypatch.setattr(evaluation, "load_split", load)
    result = runner.invoke(app, args)
    assert_one_line_error(result, fragment)
    assert load.calls == []


# ----------------------------------------------------------------------------- work-precision


def fake_work_precision() -> wp.WorkPrecision:
    curve = wp.Curve(
        "rk4", "fixed", (2.0, 4.0), np.array([8.0, 16.0]), np.array([-3.0, -4.2]), np.array([0, 0])
    )
    return wp.WorkPrecision(curves=(curve,), n_problems=8, families=("harmonic",))


def test_work_precision_passes_the_resolved_arguments(monkeypatch, small_split, tmp_path):
    load = Recorder(result=small_split)
    sweep = Recorder(result=fake_work_precision())
    out = tmp_path / "wp.png"
    plot = Recorder(result=out)
    monkeypatch.setattr(evaluation, "load_split", load)
    monkeypatch.setattr(wp, "work_precision", sweep)
    monkeypatch.setattr(wp, "plot_work_precision", plot)
    args = [
        "work-precision",
        "--method",
        "rk4",
        "--method",
        "dopri5",
        "-o",
        str(out),
        "--steps",
        "4,8,16",
        "--tolerances",
        "1e-4,1e-6",
        "--problems",
        "30",
        "--stiff",
        "5",
        "--dataset-seed",
        "3",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    assert load.calls == [
        (
            (DatasetSpec(n_problems=30, n_stiff=5, t_end=0.1, seed=3), "all"),
            {"cache_dir": None, "progress": True},
        )
    ]
    (tableaux, data), kwargs = sweep.calls[0]
    assert [t.name for t in tableaux] == ["rk4", "dopri5"] and data is small_split
    assert kwargs == {"steps": [4, 8, 16], "tolerances": [1e-4, 1e-6]}
    assert plot.calls == [((sweep.result, out), {})]
    assert "wrote" in result.stdout


def test_work_precision_defaults_reach_the_library(monkeypatch, small_split, tmp_path):
    sweep = Recorder(result=fake_work_precision())
    monkeypatch.setattr(evaluation, "load_split", Recorder(result=small_split))
    monkeypatch.setattr(wp, "work_precision", sweep)
    monkeypatch.setattr(wp, "plot_work_precision", Recorder(result=tmp_path / "wp.png"))
    result = runner.invoke(app, ["work-precision", "-m", "rk4", "-o", str(tmp_path / "wp.png")])
    assert result.exit_code == 0, result.stderr
    (_, kwargs) = sweep.calls[0]
    assert kwargs == {"steps": list(wp.DEFAULT_STEPS), "tolerances": list(wp.DEFAULT_TOLERANCES)}


@pytest.mark.parametrize("command", ["evaluate", "work-precision"])
@pytest.mark.parametrize("spelling", [["--seed", "5"], ["--seed=5"]])
def test_deprecated_seed_still_sets_the_dataset_seed(monkeypatch, small_split, tmp_path, command, spelling):
    load = Recorder(result=small_split)
    real = evaluation.evaluate([rkcore.method("rk4")], small_split, 10)
    monkeypatch.setattr(evaluation, "load_split", load)
    monkeypatch.setattr(evaluation, "evaluate", Recorder(result=real))
    monkeypatch.setattr(wp, "work_precision", Recorder(result=fake_work_precision()))
    monkeypatch.setattr(wp, "plot_work_precision", Recorder(result=tmp_path / "wp.png"))
    output = ["-o", str(tmp_path / "wp.png")] if command == "work-precision" else []
    args = [command, "-m", "rk4", *spelling, "--problems", "20", "--stiff", "5", *output]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    assert load.calls[0][0][0] == DatasetSpec(n_problems=20, n_stiff=5, t_end=0.1, seed=5)
    assert [ln for ln in result.stderr.splitlines() if "deprecated" in ln] == [
        "warning: --seed is deprecated and will be removed in the next release; use --dataset-seed"
    ]
    shown = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"}).stdout
    assert "--dataset-seed" in shown and "--seed " not in shown


def test_method_takes_a_comma_separated_list(monkeypatch, small_split):
    score = Recorder(result=evaluation.evaluate([rkcore.method("rk4")], small_split, 10))
    monkeypatch.setattr(evaluation, "load_split", Recorder(result=small_split))
    monkeypatch.setattr(evaluation, "evaluate", score)
    result = runner.invoke(app, ["evaluate", "-m", "heun,rk4", "--method", "dopri5", "--json"])
    assert result.exit_code == 0, result.stderr
    (tableaux, _, _), _ = score.calls[0]
    assert [t.name for t in tableaux] == ["heun", "rk4", "dopri5"]


def test_interrupt_exits_130_with_one_line(monkeypatch, small_split):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(evaluation, "load_split", Recorder(result=small_split))
    monkeypatch.setattr(evaluation, "evaluate", interrupted)
    result = runner.invoke(app, ["evaluate", "-m", "rk4"])
    assert result.exit_code == 130, (result.stdout, result.stderr)
    assert result.stderr.strip() == "interrupted"


def test_work_precision_refuses_to_overwrite_without_force(monkeypatch, tmp_path):
    out = tmp_path / "wp.png"
    out.write_bytes(b"keep me")
    load = Recorder()
    monkeypatch.setattr(evaluation, "load_split", load)
    result = runner.invoke(app, ["work-precision", "--method", "rk4", "-o", str(out)])
    assert_one_line_error(result, "pass --force")
    assert out.read_bytes() == b"keep me" and load.calls == []


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["-o", "wp.svg"], "give an output path ending in .png"),
        (["-o", "wp.png", "--steps", "2.5"], "--steps must be positive integers"),
        (["-o", "wp.png", "--tolerances", "x"], "--tolerances must be comma-separated numbers"),
    ],
)
def test_work_precision_bad_input(monkeypatch, tmp_path, extra, fragment):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(evaluation, "load_split", Recorder())
    result = runner.invoke(app, ["work-precision", "--method", "rk4", *extra])
    assert_one_line_error(result, fragment)


# ----------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("rkcore-cache")


def test_end_to_end_evaluate_json(cache_dir):
    args = [
        "evaluate",
        "--method",
        "rk4",
        "--method",
        "heun",
        "--problems",
        "36",
        "--stiff",
        "12",
        "--steps",
        "10",
        "--cache-dir",
        str(cache_dir),
        "--json",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["n_problems"] == 36 and data["dataset"]["n_stiff"] == 12
    rk4, heun = data["tableaux"]
    assert rk4["name"] == "rk4" and rk4["score"] == 0.0 and data["baseline"]["score"] == 0.0
    assert heun["overall"]["accuracy"] > rk4["overall"]["accuracy"]  # log10 errors: heun is worse
    assert heun["n_steps_equal_work"] == 20
    assert rk4["overall"]["nfev"] <= 4 * 10 * 36
    assert 0.0 <= rk4["overall"]["stability"] <= 1.0


def test_end_to_end_work_precision_png(cache_dir, tmp_path):
    out = tmp_path / "wp.png"
    args = [
        "work-precision",
        "--method",
        "rk4",
        "--method",
        "bs3",
        "-o",
        str(out),
        "--problems",
        "36",
        "--stiff",
        "12",
        "--steps",
        "4,8",
        "--tolerances",
        "1e-4,1e-6",
        "--cache-dir",
        str(cache_dir),
        "--json",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads(result.stdout)
    kinds = [(c["name"], c["kind"]) for c in data["curves"]]
    assert kinds == [("rk4", "fixed"), ("bs3", "fixed"), ("bs3", "adaptive")]
    fixed = data["curves"][0]
    assert fixed["nfev"][1] > fixed["nfev"][0] and fixed["log_error"][1] < fixed["log_error"][0]
