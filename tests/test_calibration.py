"""rkcore.calibration: per-problem step counts, stiff spectra, stability along rays, and the
stability metric built on them."""

from __future__ import annotations

import numpy as np
import pytest
from splits import exact_split

import rkcore
from rkcore.calibration import (
    LADDER,
    N_DIRECTIONS,
    direction_angles,
    make_plan,
    ray_limits,
    stable_step_per_evaluation,
)
from rkcore.datasets import DatasetSpec, make_dataset
from rkcore.errors import RKInputError
from rkcore.evaluate import evaluate, observe, prepare_split, score_tableaux
from rkcore.stability import imaginary_stability_interval, real_stability_interval


@pytest.fixture(scope="module")
def split():
    return exact_split(n=8)


@pytest.fixture(scope="module")
def plan(split):
    return make_plan(split)


def _stack(names):
    ts = [rkcore.method(n) for n in names]
    return np.stack([t.A for t in ts]), np.stack([t.b for t in ts])


# ----------------------------------------------------------------------------- rays


def test_forward_euler_rays_match_the_disc():
    # |1 + z| <= 1 along z = t e^{i(pi - phi)}: first exit t = 2 cos(phi).
    A, b = _stack(["euler"])
    got = ray_limits(A, b)[0]
    phi = direction_angles()
    np.testing.assert_allclose(got[:-1], 2 * np.cos(phi[:-1]), rtol=1e-8)  # |R| <= 1 + 1e-12 counts as stable
    assert got[-1] < 1e-2  # the imaginary axis touches the disc only at 0


@pytest.mark.parametrize("name", ["rk4", "ssprk54", "butcher5", "dopri5", "tsit5", "verner65", "ssprk104"])
def test_rays_agree_with_the_real_and_imaginary_intervals(name):
    t = rkcore.method(name)
    got = ray_limits(t.A[None], t.b[None], [0, N_DIRECTIONS - 1])[0]
    assert got[0] == pytest.approx(real_stability_interval(t), rel=1e-9)
    imag = imaginary_stability_interval(t)
    # Along the imaginary axis |R| leaves 1 tangentially, so |R| <= 1 + 1e-12 moves the exit a little.
    if imag > 1e-3:
        assert got[1] == pytest.approx(imag, rel=1e-6)
    else:
        assert got[1] < 0.05


def test_stable_step_is_beta_over_w_on_a_real_spectrum():
    directions = np.array([[0, -1], [0, 45]])
    sizes = np.array([[1.0, 0.0], [1.0, 0.05]])
    for name in ("rk4", "heun", "ssprk54", "euler"):
        t = rkcore.method(name)
        sigma = stable_step_per_evaluation(t.A[None], t.b[None], [t.stages], directions, sizes)
        assert sigma[0, 0] == pytest.approx(real_stability_interval(t) / t.stages, rel=1e-9)


# ----------------------------------------------------------------------------- the stability metric


def test_stability_metric_ranks_like_the_real_interval_per_stage():
    """On linear stiff problems with real spectra: rk4 < heun < ssprk54 < euler (0.70, 1.00, 1.07, 2.00)."""
    linear = exact_split(n=8, families=("prothero_robinson", "heat_1d"))
    result = evaluate(
        [rkcore.method(n) for n in ("rk4", "heun", "ssprk54", "euler")],
        linear,
        make_plan(linear, None, n_steps=50),
    )
    stab = [c.overall.stability for c in result.cards]
    assert stab[0] < stab[1] < stab[2] < stab[3]
    per_stage = [c.stability_interval_per_stage for c in result.cards]
    np.testing.assert_allclose(stab, per_stage, rtol=1e-6)  # real spectra: exactly beta_R / s


def test_stability_metric_varies_smoothly_with_the_coefficients(split, plan):
    # Blend RK4 towards a tableau with a shorter interval: the metric moves continuously.
    prepared = prepare_split(split, plan)
    rk4, other = rkcore.method("rk4"), rkcore.method("rk38")
    rng = np.random.default_rng(0)
    b_dir = rng.standard_normal(4)
    b_dir -= b_dir.mean()  # keep sum(b) = 1
    ts = np.linspace(0, 0.05, 11)
    A = np.stack([rk4.A + t * (other.A - rk4.A) for t in ts])
    b = np.stack([rk4.b + t * b_dir for t in ts])
    sigma = observe(A, b, prepared).sigma[:, prepared.stiff]
    steps = np.abs(np.diff(np.log2(sigma), axis=0))
    assert np.all(np.isfinite(sigma))
    assert steps.max() < 0.05  # no jump from "bounded" to "blown up"


# ----------------------------------------------------------------------------- step counts


def test_calibrated_steps_reach_the_target_with_rk4_and_one_level_fewer_does_not():
    ds = make_dataset(DatasetSpec(n_problems=80, n_stiff=30, t_end=0.1, seed=5), progress=False)
    plan = make_plan(ds, 1e-6)
    rk4 = rkcore.method("rk4")
    prepared = prepare_split(ds.all, plan)
    steps = prepared.plan.steps
    at = score_tableaux(rk4.A[None], rk4.b[None], prepared, steps[None])
    reached = (steps < LADDER[-1]) & ~prepared.stiff  # stiff problems are not integrated
    assert np.all(at.error[0][reached] <= 1e-6)
    assert np.all(at.status[0][~prepared.stiff] == 0)
    # Problems that are not at the first level and not held up by the stiff margin: one level
    # fewer misses the target.
    lower = np.array([LADDER[max(LADDER.index(int(n)) - 1, 0)] for n in steps])
    check = (steps > LADDER[0]) & ~prepared.stiff
    for n in np.unique(lower[check]):
        cols = np.flatnonzero(check & (lower == n))
        uniform = score_tableaux(rk4.A[None], rk4.b[None], prepare_split(ds.all), int(n))
        assert np.all((uniform.error[0][cols] > 1e-6) | (uniform.status[0][cols] != 0))


def test_blocks_with_different_step_counts_match_uniform_runs(split, plan):
    """Per-block step counts give exactly the same errors as a uniform run at that count."""
    prepared = prepare_split(split, plan)
    assert len(np.unique(prepared.plan.steps)) > 2
    A, b = _stack(["rk4", "rk38", "ralston4"])
    got = score_tableaux(A, b, prepared, np.broadcast_to(prepared.plan.steps, (3, split.n_problems)))
    for n in np.unique(prepared.plan.steps):
        cols = np.flatnonzero(prepared.plan.steps == n)
        uniform = score_tableaux(A, b, prepare_split(split), int(n))
        np.testing.assert_array_equal(got.error[:, cols], uniform.error[:, cols])
        np.testing.assert_array_equal(got.nfev[:, cols], uniform.nfev[:, cols])


def test_saturation_is_low_on_a_default_dataset():
    ds = make_dataset(DatasetSpec(n_problems=300, n_stiff=90, t_end=0.1, seed=2024), progress=False)
    result = evaluate([rkcore.method(n) for n in ("rk4", "ssprk54", "butcher5", "cashkarp", "dopri5")], ds)
    for card in result.cards:
        assert card.overall.saturation < 0.10, card.name


def test_plan_rejects_another_dataset_and_bad_targets(split, plan):
    bad = make_plan(exact_split(n=3))
    with pytest.raises(RKInputError, match="another dataset"):
        prepare_split(split, bad)
    for target in (0.0, 1.0, float("nan"), "1e-6"):
        with pytest.raises(RKInputError, match="target_error"):
            make_plan(split, target)
    with pytest.raises(RKInputError, match="exactly one of"):
        make_plan(split, 1e-6, n_steps=10)


def test_mixed_step_counts_within_a_block_are_refused(split):
    prepared = prepare_split(split)
    A, b = _stack(["rk4"])
    steps = np.arange(1, split.n_problems + 1)[None]
    with pytest.raises(RKInputError, match="equal within a block"):
        score_tableaux(A, b, prepared, steps)


def test_the_linearised_stable_step_predicts_what_the_integration_does():
    """Below h_max the stiff problems stay bounded; at twice h_max most lose every digit."""
    ds = make_dataset(DatasetSpec(n_problems=120, n_stiff=120, t_end=0.1, seed=7), progress=False)
    plan = make_plan(ds)
    prepared = prepare_split(ds.all, plan)
    uniform = prepare_split(ds.all)
    rho = plan.rho[prepared.index]
    fam = np.array(prepared.families)[prepared.family_code]
    for name in ("rk4", "ssprk54", "dopri5"):
        t = rkcore.method(name)
        w = t.stages - (1 if t.is_fsal else 0)
        h_max = observe(t.A[None], t.b[None], prepared).sigma[0] * w / rho
        outcome = {}
        for factor in (0.8, 2.0):
            n = np.ceil(0.1 / (factor * h_max)).astype(np.int64)
            bounded, accurate = np.zeros(n.size, bool), np.zeros(n.size, bool)
            for count in np.unique(n):
                cols = np.flatnonzero(n == count)
                run = score_tableaux(t.A[None], t.b[None], uniform, int(count))
                bounded[cols] = run.status[0][cols] == 0
                accurate[cols] = bounded[cols] & (run.error[0][cols] < 1e-2)
            outcome[factor] = (bounded, accurate)
        linear = np.isin(fam, ["linear_spectrum", "prothero_robinson", "heat_1d"])
        assert outcome[0.8][0][linear].all(), name  # linear problems: exactly as predicted
        assert outcome[0.8][0].mean() >= 0.9, name  # Robertson's spectrum keeps growing: a few blow up
        assert outcome[2.0][1].mean() <= 0.35, name  # some stiff modes are barely excited in 0.1
