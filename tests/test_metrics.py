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
    PairedGain,
    Weights,
    equal_work_steps,
    log_errors,
    metric_arrays,
    paired_gain,
    problem_losses,
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


def test_stability_is_counted_at_equal_work():
    at_steps = crafted_scores([[1e-6, 1e-6], [1e-6, 1e-6]], [[OK, OK], [OK, OK]], [True, True])
    at_eq = crafted_scores([[1e-5, 1e-5], [1e-5, np.inf]], [[OK, OK], [OK, UNSTABLE]], [True, True])
    m = metric_arrays(at_steps, at_eq)
    np.testing.assert_allclose(m.stability, [1.0, 0.5])  # the run with RK4's evaluation budget
    np.testing.assert_array_equal(m.n_unstable, [0, 0])  # unstable counts stay those at n_steps


def test_problem_losses_reproduce_the_weighted_score_by_hand():
    errors_steps = [[1e-6, 1e-8, 1e-4, np.inf], [1e-7, 1e-9, 1e-3, 1e-2]]
    errors_eq = [[1e-5, 1e-7, 1e-3, np.inf], [1e-6, 1e-8, np.inf, 1e-1]]
    stiff = [False, False, True, True]
    at_steps = crafted_scores(errors_steps, [[OK, OK, OK, UNSTABLE], [OK, OK, OK, OK]], stiff)
    at_eq = crafted_scores(errors_eq, [[OK, OK, OK, UNSTABLE], [OK, OK, UNSTABLE, OK]], stiff)
    w = Weights(0.5, 0.3, 0.2)
    loss = problem_losses(at_steps, at_eq, w)
    # problem 3 of tableau 1 (stiff, bounded at equal work): 0.5*(-2) + 0.3*(-1) - 0.2*10*(4/2)*1
    assert loss[1, 3] == pytest.approx(-1.0 - 0.3 - 4.0)
    assert loss[0, 0] == pytest.approx(0.5 * -6 + 0.3 * -5)  # non-stiff: no stability term
    m = metric_arrays(at_steps, at_eq)
    score = weighted_score(m, type(m)(*(a[:1] for a in m)), w)
    assert paired_gain(loss[1], loss[0]).gain == pytest.approx(score[1] - score[0], abs=1e-12)


def test_paired_gain_matches_a_paired_t_test():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=50), rng.normal(size=50) + 0.3
    g = paired_gain(a, b)  # a has the lower loss: a positive gain
    assert g.gain == pytest.approx(np.mean(b - a), rel=1e-12)
    assert g.gain / g.stderr == pytest.approx(stats.ttest_rel(b, a).statistic, rel=1e-12)
    assert g.n == 50 and g.to_dict() == {"gain": g.gain, "stderr": g.stderr, "n": 50}
    assert paired_gain(a, a) == PairedGain(0.0, 0.0, 50)
    assert not paired_gain(a, a).exceeds(0.0)  # no gain is not a gain, even at z = 0


@pytest.mark.parametrize(
    ("gain", "z", "expected"),
    [((0.1, 0.04, 9), 2.0, True), ((0.1, 0.06, 9), 2.0, False), ((0.01, 1.0, 9), 0.0, True)],
)
def test_paired_gain_exceeds_z_standard_errors(gain, z, expected):
    assert PairedGain(*gain).exceeds(z) is expected


def test_paired_gain_rejects_mismatched_rows():
    with pytest.raises(RKInputError, match="equal-length 1-D"):
        paired_gain(np.zeros(3), np.zeros((2, 3)))
    with pytest.raises(RKInputError, match="equal-length 1-D"):
        paired_gain(np.zeros(0), np.zeros(0))


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


def test_evaluate_paired_gains_equal_score_differences(split):
    names = ("heun", "rk4", "dopri5", "ssprk54")
    result = evaluate([rkcore.method(n) for n in names], split, 12, weights=Weights(0.4, 0.4, 0.2))
    assert result.losses.shape == (len(names) + 1, split.n_problems)
    for i in range(len(names)):
        for j in (*range(len(names)), -1):
            want = result.cards[i].score - (result.cards[j] if j >= 0 else result.baseline).score
            assert result.paired_gain(i, j).gain == pytest.approx(want, abs=1e-12)
    g = result.paired_gain(2, 0)  # dopri5 over heun: many problems, all of them in dopri5's favour
    assert g.n == split.n_problems and g.stderr > 0 and g.exceeds(2.0)


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
