"""rkcore.metrics formulas and rkcore.evaluate scoring (score_tableaux, evaluate, score_batch)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from splits import exact_split

import rkcore
from rkcore.datasets import Split
from rkcore.errors import RKInputError
from rkcore.evaluate import (
    PreparedSplit,
    TableauScores,
    baseline_metrics,
    evaluate,
    prepare_split,
    score_batch,
    score_tableaux,
)
from rkcore.integrate import OK, UNSTABLE, solve_batch
from rkcore.metrics import (
    ERROR_CAP,
    ERROR_FLOOR,
    STABILITY_SCALE,
    Weights,
    equal_work_steps,
    log_errors,
    metric_arrays,
    weighted_score,
)


@pytest.fixture(scope="module")
def split() -> Split:
    return exact_split()


# ----------------------------------------------------------------------------- formulas


def test_weights_validation_messages_are_one_line():
    assert Weights().as_tuple() == pytest.approx((0.4, 0.4, 0.2))
    assert Weights(1, 0, 0).accuracy == 1.0
    for bad, match in [
        ((-0.1, 0.6, 0.5), "Weights.accuracy = -0.1 is negative"),
        ((0.5, 0.5, 0.5), "sum to 1.5; they must sum to 1"),
        ((float("nan"), 0.5, 0.5), "Weights.accuracy must be a finite number"),
        ((True, 0.0, 0.0), "Weights.accuracy must be a finite number"),
    ]:
        with pytest.raises(RKInputError, match=match) as exc:
            Weights(*bad)
        assert "\n" not in str(exc.value)


def test_log_errors_floor_cap_and_unstable():
    error = np.array([[1e-20, 1e-5, 2.0, np.inf, np.nan, 1e-12]])
    ref_error = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 1e-10])
    got = log_errors(error, ref_error)
    np.testing.assert_allclose(got[0], [np.log10(ERROR_FLOOR), -5.0, 0.0, 0.0, 0.0, -10.0])
    assert np.log10(ERROR_CAP) == 0.0


@pytest.mark.parametrize(
    ("evals", "n", "expected"),
    [(4, 100, 100), (6, 100, 67), (1, 100, 400), (2, 25, 50), (8, 1, 1), (3, 3, 4), (13, 2, 1)],
)
def test_equal_work_steps(evals, n, expected):
    assert int(equal_work_steps(evals, n)) == expected


def crafted_scores(errors, status, stiff) -> TableauScores:
    n = len(stiff)
    prepared = PreparedSplit(
        groups=(),
        families=("a",),
        family_code=np.zeros(n, dtype=np.int64),
        stiff=np.array(stiff),
        ref_error=np.zeros(n),
        index=np.arange(n),
    )
    errors = np.array(errors, dtype=float)
    return TableauScores(
        error=errors,
        status=np.array(status, dtype=np.int8),
        nfev=np.zeros(errors.shape, dtype=np.int64),
        n_steps=np.full(errors.shape[0], 10),
        split=prepared,
    )


def test_metric_arrays_and_weighted_score_by_hand():
    scores = crafted_scores(
        [[1e-6, 1e-8, 1e-4, np.inf], [1e-7, 1e-9, 1e-3, 1e-2]],
        [[OK, OK, OK, UNSTABLE], [OK, OK, OK, OK]],
        [False, False, True, True],
    )
    m = metric_arrays(scores, scores)
    np.testing.assert_allclose(m.accuracy, [-4.5, -5.25])
    np.testing.assert_allclose(m.efficiency, m.accuracy)
    np.testing.assert_allclose(m.stability, [0.5, 1.0])
    np.testing.assert_array_equal(m.n_unstable, [1, 0])
    baseline = type(m)(*(a[:1] for a in m))
    w = Weights(0.5, 0.3, 0.2)
    score = weighted_score(m, baseline, w)
    assert score[0] == 0.0
    assert score[1] == pytest.approx(0.5 * 0.75 + 0.3 * 0.75 + 0.2 * STABILITY_SCALE * 0.5)


def test_stability_gain_is_zero_without_stiff_problems():
    scores = crafted_scores([[1e-6, 1e-8], [1e-7, 1e-7]], [[OK, OK], [OK, OK]], [False, False])
    m = metric_arrays(scores, scores)
    assert np.all(np.isnan(m.stability))
    baseline = type(m)(*(a[:1] for a in m))
    score = weighted_score(m, baseline, Weights(0.0, 0.0, 1.0))
    np.testing.assert_array_equal(score, [0.0, 0.0])


# ----------------------------------------------------------------------------- score_tableaux


def test_score_tableaux_equals_solve_batch_per_problem(split):
    tableaux = [rkcore.method(name) for name in ("kutta3", "heun3", "ssprk3")]
    A = np.stack([t.A for t in tableaux])
    b = np.stack([t.b for t in tableaux])
    n_steps = np.array([5, 9, 30])  # coarse enough that some stiff problems blow up
    scores = score_tableaux(A, b, split, n_steps)
    assert scores.error.shape == (3, split.n_problems)
    seen_unstable = False
    for q, tab in enumerate(tableaux):
        for g, pg in zip(split.groups, prepare_split(split).groups, strict=True):
            res = solve_batch(tab, g.family.rhs, g.y0, g.params, g.t0, g.t1, int(n_steps[q]))
            cols = slice(pg.start, pg.start + pg.n)
            np.testing.assert_array_equal(scores.status[q, cols], res.status)
            np.testing.assert_array_equal(scores.nfev[q, cols], res.nfev)
            scale = np.maximum(np.max(np.abs(g.y_ref), axis=1), 1e-6 * np.max(np.abs(g.y0), axis=1))
            expected = np.max(np.abs(res.y - g.y_ref), axis=1) / scale
            ok = res.status == OK
            np.testing.assert_allclose(scores.error[q, cols][ok], expected[ok], rtol=1e-9, atol=1e-15)
            assert np.all(np.isinf(scores.error[q, cols][~ok]))
            seen_unstable |= bool(np.any(~ok))
    assert seen_unstable


def test_score_tableaux_batch_equals_single_tableau_calls(split):
    prepared = prepare_split(split)
    rng = np.random.default_rng(3)
    rk4 = rkcore.method("rk4")
    A = np.tril(rk4.A[None] + 0.05 * rng.standard_normal((5, 4, 4)), -1)
    b = rk4.b[None] + 0.01 * rng.standard_normal((5, 4))
    together = score_tableaux(A, b, prepared, 20)
    for q in range(5):
        alone = score_tableaux(A[q : q + 1], b[q : q + 1], prepared, 20)
        np.testing.assert_array_equal(together.error[q], alone.error[0])
        np.testing.assert_array_equal(together.status[q], alone.status[0])


def test_score_tableaux_rk4_error_decreases_like_h4(split):
    non_stiff = exact_split(families=("exponential", "harmonic", "kepler"))
    rk4 = rkcore.method("rk4")
    e1 = score_tableaux(rk4.A[None], rk4.b[None], non_stiff, 8).error[0]
    e2 = score_tableaux(rk4.A[None], rk4.b[None], non_stiff, 16).error[0]
    big = e1 > 1e-11  # ignore problems already at rounding level
    ratio = np.median(np.log2(e1[big] / e2[big]))
    assert abs(ratio - 4.0) < 0.3


@pytest.mark.parametrize(
    ("A", "b", "n_steps", "match"),
    [
        (np.zeros((2, 3, 3)), np.zeros((2, 2)), 10, r"b must have shape \(2, 3\)"),
        (np.zeros((3, 3)), np.zeros((1, 3)), 10, r"A must have shape \(n_tableaux, s, s\)"),
        (np.eye(2)[None], np.ones((1, 2)), 10, r"A\[0\] is implicit"),
        (np.full((1, 2, 2), np.nan), np.ones((1, 2)), 10, "A.* is not finite"),
        (np.zeros((1, 2, 2)), np.ones((1, 2)), 0, "n_steps must be positive"),
        (np.zeros((2, 2, 2)), np.ones((2, 2)), [1, 2, 3], "n_steps must be a positive integer or 2 integers"),
    ],
)
def test_score_tableaux_bad_inputs(split, A, b, n_steps, match):
    with pytest.raises(RKInputError, match=match) as exc:
        score_tableaux(A, b, split, n_steps)
    assert "\n" not in str(exc.value)


def test_score_tableaux_needs_a_split():
    with pytest.raises(RKInputError, match="split must be an rkcore Split"):
        score_tableaux(np.zeros((1, 1, 1)), np.ones((1, 1)), [1, 2], 10)


# ----------------------------------------------------------------------------- evaluate / score_batch


def test_evaluate_normalises_rk4_to_zero_and_ranks_methods(split):
    names = ("heun", "rk4", "dopri5")
    result = evaluate([rkcore.method(n) for n in names], split, 20, weights=Weights(0.5, 0.5, 0.0))
    cards = {c.name: c for c in result.cards}
    rk4 = cards["rk4"]
    assert (rk4.accuracy_gain, rk4.efficiency_gain, rk4.stability_gain, rk4.score) == (0.0, 0.0, 0.0, 0.0)
    assert result.baseline.score == 0.0
    assert cards["heun"].accuracy_gain < -1.0 < 1.0 < cards["dopri5"].accuracy_gain
    # dopri5 (FSAL, 6 evaluations per step) runs round(80 / 6) = 13 steps at equal work
    assert cards["dopri5"].n_steps_equal_work == 13
    assert cards["heun"].n_steps_equal_work == 40
    assert set(rk4.families) == set(split.families)
    assert rk4.overall.n_problems == split.n_problems
    assert rk4.overall.n_stiff == split.n_stiff
    assert rk4.stability_interval == pytest.approx(2.785293563405282, rel=1e-9)
    assert rk4.stability_interval_per_stage == pytest.approx(2.785293563405282 / 4, rel=1e-9)
    json.dumps(result.to_dict(), allow_nan=False)


def test_score_batch_matches_evaluate(split):
    tableaux = [rkcore.method(n) for n in ("rk4", "rk38", "ralston4")]
    w = Weights(0.3, 0.3, 0.4)
    result = evaluate(tableaux, split, 15, weights=w)
    prepared = prepare_split(split)
    base = baseline_metrics(prepared, 15)
    batch = score_batch(
        np.stack([t.A for t in tableaux]), np.stack([t.b for t in tableaux]), prepared, 15, w, base
    )
    np.testing.assert_allclose(batch.score, [c.score for c in result.cards], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(batch.metrics.accuracy, [c.overall.accuracy for c in result.cards])
    assert batch.at_equal_work is batch.at_steps  # 4 stages: equal work is n_steps itself


def test_evaluate_rejects_bad_arguments(split):
    with pytest.raises(RKInputError, match="at least one tableau"):
        evaluate([], split, 10)
    with pytest.raises(RKInputError, match="n_steps must be a positive integer"):
        evaluate([rkcore.method("rk4")], split, 0)
    with pytest.raises(RKInputError, match="weights must be an rkcore.metrics.Weights"):
        evaluate([rkcore.method("rk4")], split, 10, weights=(1, 0, 0))
    with pytest.raises(RKInputError, match="implicit"):
        evaluate([rkcore.Tableau(A=[[1.0]], b=[1.0], name="backward_euler")], split, 10)
