"""rkcore.integrate: convergence orders, agreement with scipy, blow-ups, input errors, adaptive control."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from scipy.integrate import solve_ivp

import rkcore
from rkcore.errors import RKInputError, TableauError
from rkcore.integrate import (
    MAX_STEPS,
    OK,
    UNSTABLE,
    block_layout,
    from_blocks,
    solve_batch,
    solve_batch_adaptive,
    to_blocks,
)
from rkcore.tableau import Tableau

# ----------------------------------------------------------------------------- right-hand sides


@numba.njit
def exp_rhs(t, y, p, dydt):
    dydt[0] = p[0] * y[0]


@numba.njit
def harmonic_rhs(t, y, p, dydt):
    dydt[0] = y[1]
    dydt[1] = -p[0] * p[0] * y[0]


@numba.njit
def forced_rhs(t, y, p, dydt):
    # y' = -y + sin(t): exercises the stage times c_i * h
    dydt[0] = -p[0] * y[0] + np.sin(t)


@numba.njit
def vdp_rhs(t, y, p, dydt):
    dydt[0] = y[1]
    dydt[1] = p[0] * (1.0 - y[0] * y[0]) * y[1] - y[0]


@numba.njit
def sqrt_rhs(t, y, p, dydt):
    # NaN once y goes negative: a non-finite blow-up
    dydt[0] = -np.sqrt(y[0]) * p[0]


@numba.njit
def writes_beyond_rhs(t, y, p, dydt):
    dydt[0] = y[0]
    dydt[1] = 0.0


@numba.njit
def reads_y_1_rhs(t, y, p, dydt):
    dydt[0] = y[0] + y[1]


@numba.njit
def reads_param_1_rhs(t, y, p, dydt):
    dydt[0] = p[1] * y[0]


def harmonic_exact(t, y0, w):
    c, s = np.cos(w * t), np.sin(w * t)
    return np.stack([y0[:, 0] * c + y0[:, 1] / w * s, -y0[:, 0] * w * s + y0[:, 1] * c], axis=1)


def forced_exact(t, y0, lam):
    # y' = -lam y + sin t, y(0) = y0
    a = lam / (lam * lam + 1.0)
    b = -1.0 / (lam * lam + 1.0)
    return (y0[:, 0] - b) * np.exp(-lam * t) + a * np.sin(t) + b * np.cos(t)


# ----------------------------------------------------------------------------- convergence

ORDER_CASES = [
    ("euler", 1),
    ("heun", 2),
    ("midpoint", 2),
    ("kutta3", 3),
    ("rk4", 4),
    ("rk38", 4),
    ("dopri5", 5),
]


def observed_order(errors: np.ndarray, n_steps: np.ndarray) -> float:
    """Least-squares slope of log(error) against log(h)."""
    return float(-np.polyfit(np.log(n_steps), np.log(errors), 1)[0])


@pytest.mark.parametrize(("name", "order"), ORDER_CASES)
def test_observed_order_harmonic_matches_stated_order(name, order):
    tab = rkcore.method(name)
    assert tab.stated_order == order
    y0 = np.array([[1.0, 0.5], [-0.3, 1.2], [0.8, -0.7]])
    w = np.array([[1.0], [2.0], [1.5]])
    t1 = 2.0
    exact = harmonic_exact(t1, y0, w[:, 0])
    n_steps = np.array([40, 80, 160]) if order >= 4 else np.array([100, 200, 400, 800])
    errors = []
    for n in n_steps:
        res = solve_batch(tab, harmonic_rhs, y0, w, 0.0, t1, int(n))
        assert np.all(res.status == OK)
        errors.append(np.max(np.abs(res.y - exact)))
    p = observed_order(np.array(errors), n_steps)
    assert abs(p - order) <= 0.2, f"{name}: observed order {p:.3f}, stated {order}"


@pytest.mark.parametrize(("name", "order"), [("heun", 2), ("kutta3", 3), ("rk4", 4), ("dopri5", 5)])
def test_observed_order_non_autonomous_and_decay(name, order):
    tab = rkcore.method(name)
    lam = np.array([0.5, 2.0, -0.7])
    y0 = np.array([[1.0], [-0.5], [2.0]])
    n_steps = np.array([20, 40, 80]) if order >= 4 else np.array([40, 80, 160])
    errs_forced, errs_exp = [], []
    for n in n_steps:
        forced = solve_batch(tab, forced_rhs, y0, lam[:, None], 0.0, 3.0, int(n))
        errs_forced.append(np.max(np.abs(forced.y[:, 0] - forced_exact(3.0, y0, lam))))
        decay = solve_batch(tab, exp_rhs, y0, -lam[:, None], 0.0, 3.0, int(n))
        errs_exp.append(np.max(np.abs(decay.y[:, 0] - y0[:, 0] * np.exp(-lam * 3.0))))
    for errs in (errs_forced, errs_exp):
        p = observed_order(np.array(errs), n_steps)
        assert abs(p - order) <= 0.25, f"{name}: observed {p:.3f}"


NON_STIFF = [name for name, fam in rkcore.FAMILIES.items() if not fam.stiff]


@pytest.mark.parametrize("family", NON_STIFF)
def test_rk4_self_convergence_order_on_every_non_stiff_family(family):
    # Observed order from successive differences y_n - y_2n (no reference solution involved).
    fam = rkcore.get_family(family)
    params, y0 = fam.sample(np.random.default_rng(5), 6)
    ys = [solve_batch(rkcore.method("rk4"), fam.rhs, y0, params, 0.0, 1.0, n).y for n in (40, 80, 160)]
    coarse = np.max(np.abs(ys[0] - ys[1]), axis=1)
    fine = np.max(np.abs(ys[1] - ys[2]), axis=1)
    p = float(np.median(np.log2(coarse / fine)))
    assert abs(p - 4.0) <= 0.2, f"{family}: observed order {p:.3f}"


def test_solve_batch_matches_scipy_dop853_on_van_der_pol():
    rng = np.random.default_rng(7)
    y0 = rng.uniform(-2.0, 2.0, (5, 2))
    mu = rng.uniform(0.2, 2.0, (5, 1))
    res = solve_batch(rkcore.method("rk4"), vdp_rhs, y0, mu, 0.0, 1.5, 3000)
    for i in range(5):
        ref = solve_ivp(
            lambda t, y, m=mu[i, 0]: [y[1], m * (1 - y[0] ** 2) * y[1] - y[0]],
            (0.0, 1.5),
            y0[i],
            method="DOP853",
            rtol=1e-13,
            atol=1e-13,
        )
        np.testing.assert_allclose(res.y[i], ref.y[:, -1], rtol=1e-10, atol=1e-10)
    assert np.all(res.nfev == 4 * 3000)
    assert np.all(res.steps_taken == 3000)


def test_fsal_tableau_saves_one_evaluation_per_step_without_changing_the_result():
    dopri = rkcore.method("dopri5")
    assert dopri.is_fsal
    y0 = np.array([[1.0, 0.0], [0.2, 0.3]])
    w = np.array([[1.0], [3.0]])
    res = solve_batch(dopri, harmonic_rhs, y0, w, 0.0, 1.0, 50)
    assert np.all(res.nfev == 7 + 6 * 49)
    # Same method with the FSAL structure hidden (b_hat dropped does not matter; perturb nothing):
    # integrate step by step from outside, one step per call, which cannot reuse stages.
    y = y0.copy()
    for n in range(50):
        y = solve_batch(dopri, harmonic_rhs, y, w, n / 50, (n + 1) / 50, 1).y
    np.testing.assert_allclose(res.y, y, rtol=1e-13, atol=1e-14)


# ----------------------------------------------------------------------------- blow-ups


def test_unstable_trajectories_are_reported_and_others_unaffected():
    rk4 = rkcore.method("rk4")
    lam = np.array([[-1.0], [-1000.0], [-2.0], [60.0], [0.5]])
    y0 = np.array([[1.0], [1.0], [0.3], [1.0], [-2.0]])
    res = solve_batch(rk4, exp_rhs, y0, lam, 0.0, 1.0, 100)
    # h * lam = -10 is outside RK4's real stability interval (about -2.785); exp(60) > 1e10 * 2.
    np.testing.assert_array_equal(res.status, [OK, UNSTABLE, OK, UNSTABLE, OK])
    assert np.all(np.isnan(res.y[[1, 3]]))
    assert np.all(res.steps_taken[[1, 3]] < 100)
    np.testing.assert_array_equal(res.nfev, 4 * res.steps_taken)
    good = [0, 2, 4]
    alone = solve_batch(rk4, exp_rhs, y0[good], lam[good], 0.0, 1.0, 100)
    np.testing.assert_array_equal(res.y[good], alone.y)
    np.testing.assert_allclose(res.y[good, 0], y0[good, 0] * np.exp(lam[good, 0]), rtol=1e-8)


def test_non_finite_rhs_is_unstable_not_an_exception():
    y0 = np.array([[1.0], [1.0]])
    p = np.array([[0.1], [5.0]])  # the second one reaches y < 0, where sqrt gives NaN
    res = solve_batch(rkcore.method("heun"), sqrt_rhs, y0, p, 0.0, 2.0, 40)
    assert res.status[0] == OK and res.status[1] == UNSTABLE
    assert np.isfinite(res.y[0, 0])


@numba.njit
def pole_rhs(t, y, p, dydt):
    # y' = 1 / (t_pole - t) with a pole at t = p[0]; t hits it exactly for p[0] = 0.5, h = 0.1
    dydt[0] = 1.0 / (p[0] - t)


@numba.njit
def raising_rhs(t, y, p, dydt):
    if t > 0.5:
        raise ValueError("boom")
    dydt[0] = -y[0]


def test_division_by_zero_in_rhs_is_unstable_not_an_exception():
    res = solve_batch(
        rkcore.method("euler"), pole_rhs, np.zeros((2, 1)), np.array([[0.5], [3.0]]), 0.0, 1.0, 10
    )
    np.testing.assert_array_equal(res.status, [UNSTABLE, OK])
    np.testing.assert_allclose(res.y[1, 0], np.log(3.0 / 2.0), rtol=0.1)


def test_exception_raised_by_rhs_is_one_line_input_error():
    with pytest.raises(RKInputError, match="rhs raised ValueError: boom during the integration") as exc:
        solve_batch(rkcore.method("euler"), raising_rhs, np.ones((3, 1)), None, 0.0, 1.0, 10)
    _one_line(exc)


def test_all_unstable_block_stops_early():
    y0 = np.ones((70, 1))
    res = solve_batch(rkcore.method("euler"), exp_rhs, y0, np.full((70, 1), -1e6), 0.0, 1.0, 10_000)
    assert np.all(res.status == UNSTABLE)
    assert res.steps_taken.max() < 100


# ----------------------------------------------------------------------------- input errors


def _one_line(exc_info) -> str:
    msg = str(exc_info.value)
    assert "\n" not in msg
    return msg


def test_implicit_tableau_is_rejected():
    implicit = Tableau(A=[[0.5]], b=[1.0], name="implicit_midpoint")
    with pytest.raises(TableauError, match="implicit") as exc:
        solve_batch(implicit, exp_rhs, np.ones((2, 1)), np.ones((2, 1)), 0.0, 1.0, 10)
    _one_line(exc)


@pytest.mark.parametrize(
    ("y0", "params", "match"),
    [
        (np.ones(3), np.ones((3, 1)), "y0 must be 2-D"),
        (np.ones((3, 1)), np.ones((2, 1)), "params has 2 rows but y0 has 3"),
        (np.ones((3, 1)), np.ones(3), "params must be 2-D"),
        (np.array([[1.0], [np.nan]]), np.ones((2, 1)), "y0 has a non-finite value in row 1"),
        (np.ones((2, 1)), np.array([[1.0], [np.inf]]), "params has a non-finite"),
        (np.array([["a"]]), np.ones((1, 1)), "y0 must hold real numbers"),
        (np.ones((0, 1)), np.ones((0, 1)), "at least one row"),
    ],
)
def test_bad_problem_arrays(y0, params, match):
    with pytest.raises(RKInputError, match=match) as exc:
        solve_batch(rkcore.method("rk4"), exp_rhs, y0, params, 0.0, 1.0, 10)
    _one_line(exc)


@pytest.mark.parametrize(
    ("rhs", "d", "k", "match"),
    [
        (reads_y_1_rhs, 1, 1, r"reads y beyond its d=1"),
        (harmonic_rhs, 1, 1, r"writes dydt\[1\] but y0 has only d=1"),
        (exp_rhs, 2, 1, r"leaves dydt\[1\] unset"),
        (writes_beyond_rhs, 1, 1, r"writes dydt\[1\] but y0 has only d=1"),
        (reads_param_1_rhs, 1, 1, r"reads p beyond its k=1"),
    ],
)
def test_rhs_dimension_mismatch_is_detected(rhs, d, k, match):
    with pytest.raises(RKInputError, match=match) as exc:
        solve_batch(rkcore.method("rk4"), rhs, np.ones((4, d)), np.ones((4, k)), 0.0, 1.0, 10)
    _one_line(exc)


def test_rhs_must_be_numba():
    def plain(t, y, p, dydt):
        dydt[0] = -y[0]

    with pytest.raises(RKInputError, match="must be a @numba.njit function"):
        solve_batch(rkcore.method("rk4"), plain, np.ones((1, 1)), np.ones((1, 1)), 0.0, 1.0, 10)


@pytest.mark.parametrize(
    ("t0", "t1", "n_steps", "match"),
    [
        (0.0, 1.0, 0, "n_steps must be a positive integer"),
        (0.0, 1.0, -3, "n_steps must be a positive integer"),
        (0.0, 1.0, 2.5, "n_steps must be a positive integer"),
        (0.0, 1.0, True, "n_steps must be a positive integer"),
        (1.0, 1.0, 10, "t1 = 1.0 must be greater than t0 = 1.0"),
        (0.0, float("nan"), 10, "t1 must be a finite number"),
    ],
)
def test_bad_interval_or_steps(t0, t1, n_steps, match):
    with pytest.raises(RKInputError, match=match):
        solve_batch(rkcore.method("rk4"), exp_rhs, np.ones((1, 1)), np.ones((1, 1)), t0, t1, n_steps)


def test_rhs_that_does_not_compile_is_an_input_error():
    @numba.njit
    def wrong(t, y, p, dydt):
        dydt[0] = "text"

    with pytest.raises(RKInputError, match="rhs cannot be compiled") as exc:
        solve_batch(rkcore.method("rk4"), wrong, np.ones((1, 1)), None, 0.0, 1.0, 10)
    _one_line(exc)


def test_params_may_be_none_for_parameterless_rhs():
    @numba.njit
    def decay(t, y, p, dydt):
        dydt[0] = -y[0]

    res = solve_batch(rkcore.method("rk4"), decay, np.ones((3, 1)), None, 0.0, 1.0, 200)
    np.testing.assert_allclose(res.y[:, 0], np.exp(-1.0), rtol=1e-10)


def test_read_only_and_non_contiguous_inputs_are_accepted():
    y0 = np.ones((4, 3))[:, :1]
    params = np.broadcast_to(np.array([-1.0]), (4, 1))
    y0.setflags(write=False)
    fixed = solve_batch(rkcore.method("rk4"), exp_rhs, y0, params, 0.0, 1.0, 100)
    adaptive = solve_batch_adaptive(
        rkcore.method("dopri5"), exp_rhs, y0, params, 0.0, 1.0, rtol=1e-9, atol=1e-12
    )
    np.testing.assert_allclose(fixed.y[:, 0], np.exp(-1.0), rtol=1e-8)
    np.testing.assert_allclose(adaptive.y[:, 0], np.exp(-1.0), rtol=1e-7)


# ----------------------------------------------------------------------------- block layout


@pytest.mark.parametrize(("n", "d", "s"), [(1, 1, 4), (7, 2, 4), (100, 2, 4), (10_000, 2, 4), (43, 32, 7)])
def test_block_layout_covers_every_problem_and_round_trips(n, d, s):
    n_blocks, m = block_layout(n, d, s)
    assert n_blocks * m >= n and (n_blocks - 1) * m < n
    x = np.arange(n * d, dtype=float).reshape(n, d)
    blocks = to_blocks(x, n_blocks, m)
    assert blocks.shape == (n_blocks, d, m) and blocks.flags.c_contiguous
    np.testing.assert_array_equal(from_blocks(blocks, n), x)


# ----------------------------------------------------------------------------- adaptive


def test_adaptive_reaches_tolerance_on_harmonic():
    dopri = rkcore.method("dopri5")
    y0 = np.array([[1.0, 0.0], [0.5, -1.0], [-1.0, 2.0]])
    w = np.array([[1.0], [2.0], [4.0]])
    exact = harmonic_exact(3.0, y0, w[:, 0])
    errors = []
    for tol in (1e-4, 1e-7, 1e-10):
        res = solve_batch_adaptive(dopri, harmonic_rhs, y0, w, 0.0, 3.0, rtol=tol, atol=tol)
        assert np.all(res.status == OK)
        err = np.max(np.abs(res.y - exact))
        # global error is within a modest multiple of the local tolerance over this horizon
        assert err < 50 * tol
        errors.append(err)
        assert np.all(res.n_accepted >= 1) and np.all(res.n_rejected >= 0)
        # FSAL: f(t0, y0), one extra for the initial step, then 6 per attempted step
        np.testing.assert_array_equal(res.nfev, 2 + 6 * (res.n_accepted + res.n_rejected))
    assert errors[0] > errors[1] > errors[2]


def test_adaptive_step_counts_scale_with_tolerance_and_order():
    dopri = rkcore.method("dopri5")
    y0 = np.array([[2.0, 0.0]])
    mu = np.array([[1.0]])
    loose = solve_batch_adaptive(dopri, vdp_rhs, y0, mu, 0.0, 5.0, rtol=1e-5, atol=1e-8)
    tight = solve_batch_adaptive(dopri, vdp_rhs, y0, mu, 0.0, 5.0, rtol=1e-10, atol=1e-13)
    # step counts grow like tol^(-1/5) for a 5(4) pair: 1e5 ratio -> about 10x
    ratio = tight.n_accepted[0] / loose.n_accepted[0]
    assert 5 < ratio < 25
    ref = solve_ivp(
        lambda t, y: [y[1], (1 - y[0] ** 2) * y[1] - y[0]],
        (0, 5),
        y0[0],
        method="DOP853",
        rtol=1e-13,
        atol=1e-14,
    )
    np.testing.assert_allclose(tight.y[0], ref.y[:, -1], rtol=1e-8, atol=1e-9)


def test_adaptive_non_fsal_pair_counts_and_h0():
    tab = rkcore.method("cashkarp")
    assert not tab.is_fsal
    y0 = np.array([[1.0], [2.0]])
    lam = np.array([[-1.0], [0.5]])
    res = solve_batch_adaptive(tab, exp_rhs, y0, lam, 0.0, 2.0, rtol=1e-8, atol=1e-10, h0=0.01)
    assert np.all(res.status == OK)
    np.testing.assert_allclose(res.y[:, 0], y0[:, 0] * np.exp(2.0 * lam[:, 0]), rtol=1e-6)
    # f(t0, y0), s - 1 = 5 per attempt, and f at the new point after every accepted step but the last
    attempts = res.n_accepted + res.n_rejected
    np.testing.assert_array_equal(res.nfev, 1 + 5 * attempts + (res.n_accepted - 1))


def test_adaptive_blow_up_and_max_steps_are_statuses():
    dopri = rkcore.method("dopri5")
    y0 = np.array([[1.0], [1.0], [1.0]])
    lam = np.array([[50.0], [-1.0], [-1.0]])
    res = solve_batch_adaptive(dopri, exp_rhs, y0, lam, 0.0, 1.0, rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(res.status, [UNSTABLE, OK, OK])
    assert np.isnan(res.y[0, 0]) and np.isfinite(res.y[1:]).all()
    capped = solve_batch_adaptive(
        dopri, exp_rhs, y0[1:], lam[1:], 0.0, 1.0, rtol=1e-12, atol=1e-14, max_steps=3
    )
    assert np.all(capped.status == MAX_STEPS)
    assert np.all(capped.n_accepted + capped.n_rejected == 3)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rtol": 0.0}, "rtol must be positive"),
        ({"rtol": -1e-6}, "rtol must be positive"),
        ({"atol": -1.0}, "atol must be positive"),
        ({"atol": [1e-6, 1e-6]}, "atol must be a number or have d=1 entries"),
        ({"h0": 2.0}, r"h0 must lie in \(0.0, 1.0\]"),
        ({"safety": 1.5}, "safety must lie in"),
        ({"fac_min": 1.0}, "fac_min must lie in"),
        ({"fac_max": 0.5}, "fac_max must lie in"),
        ({"max_steps": 0}, "max_steps must be a positive integer"),
    ],
)
def test_adaptive_bad_options(kwargs, match):
    with pytest.raises(RKInputError, match=match) as exc:
        solve_batch_adaptive(
            rkcore.method("dopri5"), exp_rhs, np.ones((2, 1)), np.ones((2, 1)), 0.0, 1.0, **kwargs
        )
    _one_line(exc)


def test_adaptive_needs_an_embedded_pair():
    with pytest.raises(RKInputError, match="has no b_hat") as exc:
        solve_batch_adaptive(rkcore.method("rk4"), exp_rhs, np.ones((1, 1)), np.ones((1, 1)), 0.0, 1.0)
    _one_line(exc)


# ----------------------------------------------------------------------------- block right-hand sides


@numba.njit
def vdp_block(t, Y, P, dY):
    for j in range(Y.shape[1]):
        dY[0, j] = Y[1, j]
        dY[1, j] = P[0, j] * (1.0 - Y[0, j] * Y[0, j]) * Y[1, j] - Y[0, j]


@numba.njit
def forced_block(t, Y, P, dY):
    for j in range(Y.shape[1]):
        dY[0, j] = -P[0, j] * Y[0, j] + np.sin(t)


@numba.njit
def block_writes_row_2(t, Y, P, dY):
    vdp_block(t, Y, P, dY)
    for j in range(Y.shape[1]):
        dY[2, j] = 0.0


@numba.njit
def block_leaves_row_1(t, Y, P, dY):
    for j in range(Y.shape[1]):
        dY[0, j] = Y[1, j]


@numba.njit
def block_skips_last_column(t, Y, P, dY):
    for j in range(Y.shape[1] - 1):
        dY[0, j] = -Y[0, j]


@numba.njit
def block_reads_y_row_2(t, Y, P, dY):
    for j in range(Y.shape[1]):
        dY[0, j] = Y[1, j] + Y[2, j]
        dY[1, j] = -Y[0, j]


@numba.njit
def block_reads_p_row_1(t, Y, P, dY):
    for j in range(Y.shape[1]):
        dY[0, j] = P[1, j] * Y[0, j]


def test_block_rhs_gives_the_per_ode_results():
    rng = np.random.default_rng(3)
    y0 = rng.uniform(-2.0, 2.0, (300, 2))
    mu = rng.uniform(0.1, 2.0, (300, 1))
    for name in ("rk4", "dopri5"):
        tab = rkcore.method(name)
        per_ode = solve_batch(tab, vdp_rhs, y0, mu, 0.0, 1.5, 200)
        block = solve_batch(tab, None, y0, mu, 0.0, 1.5, 200, rhs_block=vdp_block)
        np.testing.assert_allclose(block.y, per_ode.y, rtol=1e-14, atol=1e-14)
        np.testing.assert_array_equal(block.nfev, per_ode.nfev)
        np.testing.assert_array_equal(block.status, per_ode.status)
    lam = np.array([[0.5], [2.0], [-0.7]])
    y1 = np.array([[1.0], [-0.5], [2.0]])
    forced = solve_batch(rkcore.method("rk4"), None, y1, lam, 0.0, 3.0, 80, rhs_block=forced_block)
    np.testing.assert_allclose(forced.y[:, 0], forced_exact(3.0, y1, lam[:, 0]), rtol=1e-6)


def test_block_rhs_matches_scipy_dop853():
    rng = np.random.default_rng(7)
    y0 = rng.uniform(-2.0, 2.0, (5, 2))
    mu = rng.uniform(0.2, 2.0, (5, 1))
    res = solve_batch(rkcore.method("rk4"), None, y0, mu, 0.0, 1.5, 3000, rhs_block=vdp_block)
    for i in range(5):
        ref = solve_ivp(
            lambda t, y, m=mu[i, 0]: [y[1], m * (1 - y[0] ** 2) * y[1] - y[0]],
            (0.0, 1.5),
            y0[i],
            method="DOP853",
            rtol=1e-13,
            atol=1e-13,
        )
        np.testing.assert_allclose(res.y[i], ref.y[:, -1], rtol=1e-10, atol=1e-10)


def test_block_rhs_in_the_adaptive_solver():
    rng = np.random.default_rng(5)
    y0 = rng.uniform(-2.0, 2.0, (20, 2))
    mu = rng.uniform(0.1, 2.0, (20, 1))
    dopri = rkcore.method("dopri5")
    per_ode = solve_batch_adaptive(dopri, vdp_rhs, y0, mu, 0.0, 2.0, rtol=1e-9, atol=1e-12)
    block = solve_batch_adaptive(dopri, None, y0, mu, 0.0, 2.0, rtol=1e-9, atol=1e-12, rhs_block=vdp_block)
    np.testing.assert_allclose(block.y, per_ode.y, rtol=1e-14, atol=1e-14)
    np.testing.assert_array_equal(block.n_accepted, per_ode.n_accepted)


@pytest.mark.parametrize(
    ("rhs_block", "d", "k", "match"),
    [
        (block_writes_row_2, 2, 1, r"rhs_block writes dY row 2 but y0 has only d=2"),
        (vdp_block, 1, 1, r"rhs_block writes dY row 1 but y0 has only d=1"),
        (block_leaves_row_1, 2, 1, r"rhs_block leaves dY\[1, 0\] unset for y0 with d=2"),
        (block_skips_last_column, 1, 0, r"rhs_block leaves dY\[0, 2\] unset"),
        (block_reads_y_row_2, 2, 0, r"rhs_block reads Y beyond its d=2 rows"),
        (block_reads_p_row_1, 1, 1, r"rhs_block reads P beyond its k=1 rows"),
    ],
)
def test_block_rhs_dimension_mismatch_is_detected(rhs_block, d, k, match):
    with pytest.raises(RKInputError, match=match) as exc:
        solve_batch(
            rkcore.method("rk4"), None, np.ones((4, d)), np.ones((4, k)), 0.0, 1.0, 10, rhs_block=rhs_block
        )
    _one_line(exc)


def test_exactly_one_of_rhs_and_rhs_block():
    y0, mu = np.ones((2, 2)), np.ones((2, 1))
    with pytest.raises(RKInputError, match="not both"):
        solve_batch(rkcore.method("rk4"), vdp_rhs, y0, mu, 0.0, 1.0, 10, rhs_block=vdp_block)
    with pytest.raises(RKInputError, match="give a right-hand side"):
        solve_batch(rkcore.method("rk4"), None, y0, mu, 0.0, 1.0, 10)

    def plain(t, Y, P, dY):
        dY[:] = 0.0

    with pytest.raises(RKInputError, match="rhs_block must be a @numba.njit function"):
        solve_batch(rkcore.method("rk4"), None, y0, mu, 0.0, 1.0, 10, rhs_block=plain)

    @numba.njit
    def wrong(t, Y, P, dY):
        dY[0, 0] = "text"

    with pytest.raises(RKInputError, match="rhs_block cannot be compiled") as exc:
        solve_batch(rkcore.method("rk4"), None, y0, mu, 0.0, 1.0, 10, rhs_block=wrong)
    _one_line(exc)
