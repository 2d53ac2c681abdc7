"""``rkcore evaluate --problem-set``: the set and the steps reach the library, dataset options are refused."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_cli_evaluate import Recorder, assert_one_line_error
from typer.testing import CliRunner

import rkcore
from cli.rkcore_app import app
from rkcore import evaluate as evaluation
from rkcore.metrics import Weights
from rkcore.problem_sets import DETEST

runner = CliRunner()


@pytest.fixture(scope="module")
def detest_result() -> evaluation.Evaluation:
    return evaluation.evaluate([rkcore.method("rk4"), rkcore.method("dopri5")], DETEST, 20)


@pytest.mark.parametrize(("extra", "steps"), [([], None), (["--steps", "50"], 50)])
def test_problem_set_passes_the_set_and_its_steps(monkeypatch, detest_result, extra, steps):
    score = Recorder(result=detest_result)
    load = Recorder()
    monkeypatch.setattr(evaluation, "evaluate", score)
    monkeypatch.setattr(evaluation, "load_split", load)
    args = [
        "evaluate",
        "-m",
        "rk4",
        "-m",
        "dopri5",
        "--problem-set",
        "detest",
        "--weights",
        "0.5,0.5,0",
        *extra,
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    assert load.calls == []
    (tableaux, data, plan), kwargs = score.calls[0]
    assert [t.name for t in tableaux] == ["rk4", "dopri5"] and tableaux[0] is rkcore.method("rk4")
    assert data is DETEST.split()  # the set's problems, one family each
    if steps is None:  # default: each problem at the fewest steps where RK4's error is <= 1e-6
        assert plan.target_error == 1e-6 and len(set(plan.steps.tolist())) > 3
    else:
        assert np.isnan(plan.target_error) and set(plan.steps.tolist()) == {steps}
    assert kwargs == {"weights": Weights(0.5, 0.5, 0.0)}
    for text in (
        "detest: log10 relative error",
        "Overall: 25 problems of detest",
        "A1",
        "C5",
        "E5",
        "DOP853",
    ):
        assert text in result.stdout


def test_problem_set_json(monkeypatch, detest_result):
    monkeypatch.setattr(evaluation, "evaluate", Recorder(result=detest_result))
    result = runner.invoke(app, ["evaluate", "-m", "rk4", "--problem-set", "detest", "--json"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["problem_set"] == "detest" and "dataset" not in data
    assert list(data["tableaux"][0]["families"]) == list(DETEST.names)
    assert data["tableaux"][0]["overall"]["stability"] is None


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--t-end", "5"], "--t-end describe a seeded dataset; --problem-set detest is fixed"),
        (["--problems", "10", "--dataset-seed", "1"], "--problems, --dataset-seed describe a seeded dataset"),
        (["--split", "test"], "--split describe a seeded dataset"),
        (["--steps", "0"], "--steps must be a positive integer"),
    ],
)
def test_problem_set_bad_input_is_one_line_and_scores_nothing(monkeypatch, extra, fragment):
    score = Recorder()
    monkeypatch.setattr(evaluation, "evaluate", score)
    result = runner.invoke(app, ["evaluate", "-m", "rk4", "--problem-set", "detest", *extra])
    assert_one_line_error(result, fragment)
    assert score.calls == []


def test_unknown_problem_set_is_a_usage_error():
    result = runner.invoke(app, ["evaluate", "-m", "rk4", "--problem-set", "nope"])
    assert result.exit_code == 2 and "detest" in result.output


def test_a_dataset_defaults_to_calibrated_steps(monkeypatch, detest_result):
    score = Recorder(result=detest_result)
    monkeypatch.setattr(evaluation, "load_split", Recorder(result=DETEST.split()))
    monkeypatch.setattr(evaluation, "evaluate", score)
    result = runner.invoke(app, ["evaluate", "-m", "rk4", "--json"])
    assert result.exit_code == 0, result.stderr
    (_, _, plan), _ = score.calls[0]
    assert plan.target_error == 1e-6
