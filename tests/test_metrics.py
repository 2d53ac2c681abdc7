"""rkcore.metrics formulas and rkcore.evaluate scoring (score_tableaux, evaluate, score_batch)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from splits import exact_split

import rkcore
from rkcore.calibration import make_plan
from rkcore.datasets import Split
from rkcore.errors import RKInputError
from rkcore.evaluate import (
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
    Observed,
    PairedGain,
    Weights,
    equal_work_bracket,
    interpolate_log_errors,
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
    ("evals", "n", "lo", "up", "weight"),
    [
        (4, 100, 100, 101, 0.0),  # RK4 itself: its own step count
        (6, 3, 2, 3, 0.0),  # 12 / 6 = 2 steps exactly
        (7, 3, 1, 3, np.log(12 / 7) / np.log(3)),  # 1.714 steps: between 1 and 3 (the accuracy run)
        (5, 10, 8, 10, 0.0),
        (6, 10, 6, 10, np.log(40 / 6 / 6) / np.log(10 / 6)),
        (3, 3, 4, 5, 0.0),  # fewer evaluations than RK4: more steps
        (3, 2, 2, 3, np.log(8 / 3 / 2) / np.log(3 / 2)),
        (8, 1, 1, 2, -1.0),  # half a step: the line through 1 and 2 steps, extrapolated
        (8, 3, 1, 3, np.log(1.5) / np.log(3)),
    ],
)
def test_equal_work_bracket(evals, n, lo, up, weight):
    got_lo, got_up, got_w = equal_work_bracket([evals], [n])
    assert int(got_lo[0, 0]) == lo and int(got_up[0, 0]) == up
    assert got_w[0, 0] == pytest.approx(weight, abs=1e-12)


def test_equal_work_interpolation_is_exact_for_a_power_law():
    # error = C n^-p: the log-log line between lo and up steps passes through the value at x.
    C, p = 3e-4, 5.0
    lo, up, w = equal_work_bracket([6, 7, 8, 3], [3, 3, 1, 2])
    x = 4 * np.array([[3, 3, 1, 2]]) / np.array([[6], [7], [8], [3]])
    got = interpolate_log_errors(np.log10(C * lo**-p), np.log10(C * up**-p), w, np.full(4, -14.0))
    np.testing.assert_allclose(got, np.log10(C * x**-p), rtol=1e-12)


def crafted(log_error, log_eq, sigma, stiff, status=None) -> Observed:
    log_error = np.array(log_error, dtype=float)
    n = log_error.shape[1]
    return Observed(
        log_error=log_error,
        log_error_equal_work=np.array(log_eq, dtype=float),
        sigma=np.array(sigma, dtype=float),
        status=np.zeros(log_error.shape, np.int8) if status is None else np.array(status, np.int8),
        nfev=np.ones(log_error.shape, dtype=np.int64),
        log_floor=np.full(n, -14.0),
        stiff=np.array(stiff),
    )


def test_metric_arrays_and_weighted_score_by_hand():
    nan = float("nan")
    # Problems 0-2 non-stiff (errors), 3-4 stiff (stable steps only; not integrated).
    obs = crafted(
        [[-6, -8, 0, nan, nan], [-7, -9, -14, nan, nan]],
        [[-5, -7, 0, nan, nan], [-6, -8, -2, nan, nan]],
        [[nan, nan, nan, 0.5, 1.0], [nan, nan, nan, 2.0, 2.0]],
        [False, False, False, True, True],
        status=[[OK, OK, UNSTABLE, OK, OK], [OK, OK, OK, OK, OK]],
    )
    m = metric_arrays(obs)
    np.testing.assert_allclose(m.accuracy, [-14 / 3, -10.0])  # over the non-stiff problems
    np.testing.assert_allclose(m.efficiency, [-4.0, -16 / 3])
    np.testing.assert_allclose(m.stability, [np.sqrt(0.5), 2.0])  # geometric means over the stiff ones
    np.testing.assert_array_equal(m.n_unstable, [1, 0])
    np.testing.assert_allclose(m.saturation, [2 / 6, 1 / 6])  # the caps of tableau 0, the floor of 1
    baseline = type(m)(*(a[:1] for a in m))
    w = Weights(0.5, 0.3, 0.2)
    score = weighted_score(m, baseline, w)
    assert score[0] == 0.0
    # stability gain: log2(2 / sqrt(0.5)) = 1.5 octaves
    assert score[1] == pytest.approx(0.5 * (10 - 14 / 3) + 0.3 * (16 / 3 - 4) + 0.2 * STABILITY_SCALE * 1.5)


def test_problem_losses_reproduce_the_weighted_score_by_hand():
    nan = float("nan")
    obs = crafted(
        [[-6, -8, nan, nan], [-7, -9, nan, nan]],
        [[-5, -7, nan, nan], [-6, -8, nan, nan]],
        [[nan, nan, 0.25, 1.0], [nan, nan, 1.0, 4.0]],
        [False, False, True, True],
    )
    w = Weights(0.5, 0.3, 0.2)
    loss = problem_losses(obs, w)
    # Each kind of problem carries its own terms, scaled by its share (4 problems, 2 of each):
    assert loss[1, 3] == pytest.approx(-0.2 * STABILITY_SCALE * (4 / 2) * 2)  # sigma = 4: 2 octaves
    assert loss[0, 0] == pytest.approx((4 / 2) * (0.5 * -6 + 0.3 * -5))  # non-stiff: no stability term
    m = metric_arrays(obs)
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
    nan = float("nan")
    obs = crafted([[-6, -8], [-7, -7]], [[-6, -8], [-7, -7]], [[nan, nan], [nan, nan]], [False, False])
    m = metric_arrays(obs)
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
        (np.zeros((2, 2, 2)), np.ones((2, 2)), [1, 2, 3], "n_steps must be a positive integer, 2 integers"),
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


@pytest.fixture(scope="module")
def fixed20(split):
    return make_plan(split, None, n_steps=20)


def test_evaluate_normalises_rk4_to_zero_and_ranks_methods(split, fixed20):
    names = ("heun", "rk4", "dopri5")
    result = evaluate([rkcore.method(n) for n in names], split, fixed20, weights=Weights(0.5, 0.5, 0.0))
    cards = {c.name: c for c in result.cards}
    rk4 = cards["rk4"]
    assert (rk4.accuracy_gain, rk4.efficiency_gain, rk4.stability_gain, rk4.score) == (0.0, 0.0, 0.0, 0.0)
    assert result.baseline.score == 0.0
    assert cards["heun"].accuracy_gain < -1.0 < 1.0 < cards["dopri5"].accuracy_gain
    # dopri5 (FSAL, 6 evaluations per step) gets 80 / 6 = 13.3 steps at equal work
    assert cards["dopri5"].n_steps_equal_work == pytest.approx(80 / 6)
    assert cards["heun"].n_steps_equal_work == 40
    n_plain = split.n_problems - split.n_stiff
    assert result.plan == {"target_error": None, "steps_median": 20.0, "steps_histogram": {"20": n_plain}}
    assert set(rk4.families) == set(split.families)
    assert rk4.overall.n_problems == split.n_problems
    assert rk4.overall.n_stiff == split.n_stiff
    assert rk4.stability_interval == pytest.approx(2.785293563405282, rel=1e-9)
    assert rk4.stability_interval_per_stage == pytest.approx(2.785293563405282 / 4, rel=1e-9)
    json.dumps(result.to_dict(), allow_nan=False)


def test_evaluate_paired_gains_equal_score_differences(split):
    names = ("heun", "rk4", "dopri5", "ssprk54")
    plan = make_plan(split)
    result = evaluate([rkcore.method(n) for n in names], split, plan, weights=Weights(0.4, 0.4, 0.2))
    assert result.losses.shape == (len(names) + 1, split.n_problems)
    for i in range(len(names)):
        for j in (*range(len(names)), -1):
            want = result.cards[i].score - (result.cards[j] if j >= 0 else result.baseline).score
            assert result.paired_gain(i, j).gain == pytest.approx(want, abs=1e-12)
    g = result.paired_gain(2, 0)  # dopri5 over heun: many problems, all of them in dopri5's favour
    assert g.n == split.n_problems and g.stderr > 0 and g.exceeds(2.0)


def test_score_batch_matches_evaluate(split):
    tableaux = [rkcore.method(n) for n in ("rk4", "rk38", "ralston4", "ssprk54")[:3]]
    w = Weights(0.3, 0.3, 0.4)
    plan = make_plan(split)
    result = evaluate(tableaux, split, plan, weights=w)
    prepared = prepare_split(split, plan)
    base = baseline_metrics(prepared)
    A, b = np.stack([t.A for t in tableaux]), np.stack([t.b for t in tableaux])
    batch = score_batch(A, b, prepared, w, base)
    np.testing.assert_allclose(batch.score, [c.score for c in result.cards], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(batch.metrics.accuracy, [c.overall.accuracy for c in result.cards])
    # 4 stages: equal work is the step count itself
    np.testing.assert_array_equal(batch.observed.log_error_equal_work, batch.observed.log_error)


def test_scoring_needs_a_planned_split(split):
    rk4 = rkcore.method("rk4")
    with pytest.raises(RKInputError, match="prepared with a ScoringPlan"):
        baseline_metrics(prepare_split(split))
    with pytest.raises(RKInputError, match="prepared with a ScoringPlan"):
        evaluate([rk4], prepare_split(split))


def test_evaluate_rejects_bad_arguments(split, fixed20):
    with pytest.raises(RKInputError, match="at least one tableau"):
        evaluate([], split, fixed20)
    with pytest.raises(RKInputError, match="plan must be an rkcore.calibration.ScoringPlan"):
        evaluate([rkcore.method("rk4")], split, 1.5)
    with pytest.raises(RKInputError, match="n_steps must be a positive integer"):
        evaluate([rkcore.method("rk4")], split, 0)
    with pytest.raises(RKInputError, match="weights must be an rkcore.metrics.Weights"):
        evaluate([rkcore.method("rk4")], split, fixed20, weights=(1, 0, 0))
    with pytest.raises(RKInputError, match="implicit"):
        evaluate([rkcore.Tableau(A=[[1.0]], b=[1.0], name="backward_euler")], split, fixed20)
