"""Stability polynomial, R(z), stability limits and area (closed forms, direct formulas, sampling)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rkcore import (
    RKInputError,
    Tableau,
    TableauError,
    imaginary_stability_interval,
    imaginary_stability_interval_batch,
    real_stability_interval,
    real_stability_interval_batch,
    stability_area,
    stability_function,
    stability_grid,
    stability_polynomial,
    stability_polynomial_batch,
    stability_summary_batch,
)

RK4 = Tableau(
    A=[[0, 0, 0, 0], [0.5, 0, 0, 0], [0, 0.5, 0, 0], [0, 0, 1, 0]], b=[1 / 6, 1 / 3, 1 / 3, 1 / 6], name="rk4"
)
KUTTA3 = Tableau(A=[[0, 0, 0], [0.5, 0, 0], [-1, 2, 0]], b=[1 / 6, 2 / 3, 1 / 6], name="kutta3")
EULER = Tableau(A=[[0.0]], b=[1.0], name="euler")
HEUN = Tableau(A=[[0, 0], [1, 0]], b=[0.5, 0.5], name="heun")
BACKWARD_EULER = Tableau(A=[[1.0]], b=[1.0], name="backward euler")
_R = math.sqrt(3) / 6
GL2 = Tableau(A=[[0.25, 0.25 - _R], [0.25 + _R, 0.25]], b=[0.5, 0.5], name="gauss2")
THETA = Tableau(A=[[0.25]], b=[1.0], name="theta 1/4")  # R = (1 + 3z/4)/(1 - z/4)


def euler_substeps(m: int) -> Tableau:
    """m forward-Euler substeps of size h/m as one m-stage method: R(z) = (1 + z/m)^m."""
    return Tableau(A=np.tril(np.full((m, m), 1.0 / m), -1), b=np.full(m, 1.0 / m), name=f"euler x{m}")


def random_explicit_batch(rng: np.random.Generator, n: int, s: int, scale: float = 1.0):
    A = np.tril(rng.uniform(-scale, scale, (n, s, s)), -1)
    b = rng.uniform(-scale, scale, (n, s))
    b[: n // 2, -1] = 1.0 - b[: n // 2, :-1].sum(axis=1)  # half of them consistent (Σb = 1)
    return A, b


def direct_R(t: Tableau, z: complex) -> complex:
    """R(z) = 1 + z bᵀ(I - zA)⁻¹1 by a linear solve."""
    s = t.stages
    return 1.0 + z * (t.b @ np.linalg.solve(np.eye(s) - z * t.A, np.ones(s)))


# ---------------------------------------------------------------------------- closed forms
def test_rk4_figures():
    np.testing.assert_allclose(stability_polynomial(RK4), [1, 1, 1 / 2, 1 / 6, 1 / 24], rtol=1e-15)
    assert real_stability_interval(RK4) == pytest.approx(2.785293563405282, rel=1e-12)
    assert imaginary_stability_interval(RK4) == pytest.approx(2 * math.sqrt(2), rel=1e-13)


def test_kutta3_imaginary_limit_is_sqrt3():
    assert imaginary_stability_interval(KUTTA3) == pytest.approx(math.sqrt(3), rel=1e-13)
    beta = real_stability_interval(KUTTA3)
    assert 1 - beta + beta**2 / 2 - beta**3 / 6 == pytest.approx(-1.0, abs=1e-13)


@pytest.mark.parametrize("m", [1, 2, 3, 4, 6])
def test_euler_substeps_have_disk_regions(m):
    t = euler_substeps(m)
    np.testing.assert_allclose(
        stability_polynomial(t), [math.comb(m, k) / m**k for k in range(m + 1)], rtol=1e-14
    )
    assert real_stability_interval(t) == pytest.approx(2.0 * m, rel=1e-12)
    assert imaginary_stability_interval(t) == 0.0  # the disk only touches the axis at 0
    assert stability_area(t) == pytest.approx(math.pi * m * m, rel=1e-9)


def test_two_stage_second_order_has_zero_imaginary_limit():
    # |R(iy)|² = 1 + y⁴/4 > 1: nodepy also returns 0 here.
    assert imaginary_stability_interval(HEUN) == 0.0
    assert real_stability_interval(HEUN) == pytest.approx(2.0, rel=1e-14)


def test_forward_euler_area_is_pi():
    assert stability_area(EULER) == pytest.approx(math.pi, rel=1e-10)


def test_rk4_area_against_fine_grid_count():
    x = np.linspace(-3.0, 0.0, 1501)
    y = np.linspace(0.0, 3.0, 1501)
    hx, hy = x[1] - x[0], y[1] - y[0]
    z = x[None, :] + 1j * y[:, None]
    inside = (np.abs(np.polyval([1 / 24, 1 / 6, 1 / 2, 1, 1], z)) <= 1.0).astype(float)
    weights = np.ones_like(inside)  # trapezoid weights on the half-plane quarter
    weights[0, :] *= 0.5
    weights[:, -1] *= 0.5
    grid_area = 2.0 * (inside * weights).sum() * hx * hy
    assert stability_area(RK4) == pytest.approx(grid_area, rel=2e-3)


def test_implicit_closed_forms():
    assert real_stability_interval(BACKWARD_EULER) == math.inf
    assert imaginary_stability_interval(BACKWARD_EULER) == math.inf
    assert stability_area(BACKWARD_EULER) == math.inf
    assert imaginary_stability_interval(GL2) == math.inf  # |R(iy)| = 1 on the whole axis
    assert real_stability_interval(GL2) == math.inf
    # theta-method, theta = 1/4: stable on [-4, 0]; region is the disk |z + 2| <= 2.
    assert real_stability_interval(THETA) == pytest.approx(4.0, rel=1e-12)
    assert imaginary_stability_interval(THETA) == 0.0
    assert stability_area(THETA) == pytest.approx(4 * math.pi, rel=1e-9)


def test_implicit_stability_function_is_the_pade_approximant():
    z = np.array([-3.0, -0.5 + 2j, 1j, 0.3 - 0.1j])
    np.testing.assert_allclose(stability_function(BACKWARD_EULER, z), 1 / (1 - z), rtol=1e-14)
    pade22 = (1 + z / 2 + z**2 / 12) / (1 - z / 2 + z**2 / 12)
    np.testing.assert_allclose(stability_function(GL2, z), pade22, rtol=1e-13)
    with pytest.raises(TableauError, match="implicit"):
        stability_polynomial(GL2)


# ---------------------------------------------------------------------------- direct formulas and sampling
@pytest.mark.parametrize("s", [1, 2, 4, 7])
def test_stability_function_matches_linear_solve(s):
    rng = np.random.default_rng(s)
    zs = rng.normal(size=6) * 2 + 1j * rng.normal(size=6) * 2
    explicit = Tableau(A=np.tril(rng.uniform(-1, 1, (s, s)), -1), b=rng.uniform(-1, 1, s))
    implicit = Tableau(A=rng.uniform(-1, 1, (s, s)) / s, b=rng.uniform(-1, 1, s))
    for t in (explicit, implicit):
        got = stability_function(t, zs.reshape(2, 3))
        assert got.shape == (2, 3)
        np.testing.assert_allclose(got.ravel(), [direct_R(t, z) for z in zs], rtol=1e-10)


def test_intervals_bound_the_stable_set_by_sampling():
    rng = np.random.default_rng(21)
    checked = 0
    for s in range(1, 9):
        A, b = random_explicit_batch(rng, 8, s)
        for k in range(8):
            t = Tableau(A=A[k], b=b[k])
            for beta, axis in ((real_stability_interval(t), -1.0), (imaginary_stability_interval(t), 1j)):
                if beta == 0.0:
                    # unstable immediately next to the origin
                    eps = np.geomspace(1e-4, 1e-2, 20)
                    assert np.max(np.abs(stability_function(t, axis * eps))) > 1.0
                    continue
                inside = np.abs(stability_function(t, axis * np.linspace(0, beta, 2001)))
                assert inside.max() <= 1.0 + 1e-9
                outside = np.abs(stability_function(t, axis * beta * (1 + np.geomspace(1e-6, 1e-2, 20))))
                assert outside.max() > 1.0
                checked += 1
    assert checked > 20


# ---------------------------------------------------------------------------- batches
def test_batches_equal_single_tableau_results():
    rng = np.random.default_rng(4)
    for s in (1, 3, 6, 8):
        A, b = random_explicit_batch(rng, 30, s)
        summary = stability_summary_batch(A, b)
        np.testing.assert_array_equal(summary.real_interval, real_stability_interval_batch(A, b))
        np.testing.assert_array_equal(summary.imaginary_interval, imaginary_stability_interval_batch(A, b))
        np.testing.assert_array_equal(summary.polynomial, stability_polynomial_batch(A, b))
        for k in range(30):
            t = Tableau(A=A[k], b=b[k])
            np.testing.assert_allclose(summary.polynomial[k], stability_polynomial(t), rtol=1e-15)
            assert summary.real_interval[k] == pytest.approx(real_stability_interval(t), rel=1e-14)
            assert summary.imaginary_interval[k] == pytest.approx(imaginary_stability_interval(t), rel=1e-14)


def test_stability_grid_equals_abs_R():
    rng = np.random.default_rng(9)
    A, b = random_explicit_batch(rng, 5, 4)
    re = np.linspace(-4, 1, 23)
    im = np.linspace(-3, 3, 17)
    grid = stability_grid(A, b, re, im)
    assert grid.shape == (5, 17, 23)
    z = re[None, :] + 1j * im[:, None]
    for k in range(5):
        np.testing.assert_allclose(
            grid[k], np.abs(stability_function(Tableau(A=A[k], b=b[k]), z)), rtol=1e-13
        )


def test_batch_functions_refuse_implicit_and_bad_shapes():
    A = np.zeros((2, 3, 3))
    A[1, 0, 2] = 0.5
    with pytest.raises(RKInputError, match="candidate 1"):
        real_stability_interval_batch(A, np.ones((2, 3)))
    with pytest.raises(RKInputError, match="'b'"):
        stability_grid(np.zeros((2, 3, 3)), np.ones((2, 4)), [0.0], [0.0])
    with pytest.raises(RKInputError, match="1-D"):
        stability_grid(np.zeros((2, 3, 3)), np.ones((2, 3)), np.zeros((2, 2)), [0.0])


def test_batch_non_finite_candidates_give_nan_not_an_error():
    A = np.tril(np.full((3, 4, 4), 0.5), -1)
    b = np.full((3, 4), 0.25)
    b[1, 2] = np.nan
    A[2, 3, 1] = np.inf
    summary = stability_summary_batch(A, b)
    assert np.isfinite(summary.real_interval[0]) and np.isfinite(summary.imaginary_interval[0])
    assert np.isnan(summary.real_interval[1:]).all() and np.isnan(summary.imaginary_interval[1:]).all()
