"""Stability figures of many-stage methods (s = 1..200) against closed forms.

Families (issue 9):

* ``s`` forward-Euler substeps of size ``h/s``: ``R(z) = (1 + z/s)^s``, real interval
  ``2s``, imaginary interval 0 (the disk only touches the axis), area ``π s²``;
* the undamped first-order Chebyshev method in Butcher form (stages by the three-term
  recurrence ``Y_j = 2Y_{j-1} - Y_{j-2} + 2h/s² F(Y_{j-1})``): ``R(z) = T_s(1 + z/s²)``,
  real interval ``2s²``, imaginary interval 0;
* the damped first-order Chebyshev method (RKC, damping 0.05): ``R = T_s(w0 + w1 z)/T_s(w0)``,
  real interval ``2 w0 / w1``;
* the same Chebyshev polynomial as a product of Euler steps of sizes ``-1/z_k`` (``z_k`` its
  roots), ordered to keep the partial products small: an internally unstable tableau whose
  ``R`` cannot be evaluated accurately from its entries beyond a few dozen stages -- its
  figures must be reported as unverified, never printed.

The root-based path handled s <= ~17 of the Euler family before (s = 30: area 2368 instead
of 2827; s = 50: real interval "unbounded"; s = 100: 541 instead of 200).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from stability_families import chebyshev_product_tableau, chebyshev_tableau, euler_substeps, rkc1_tableau

import rkcore
from rkcore import (
    analyze,
    imaginary_stability_figure,
    imaginary_stability_interval,
    real_stability_figure,
    real_stability_interval,
    real_stability_interval_batch,
    stability_area,
    stability_area_figure,
    stability_function,
    stability_grid,
    stability_summary_batch,
)

STAGES = range(1, 201)
REL = 1e-8


def worst(rel_errors) -> float:
    return float(np.max(rel_errors))


# ---------------------------------------------------------------------------- closed forms, s = 1..200
def test_euler_substeps_limits_for_1_to_200_stages():
    real_err, imag = [], []
    for s in STAGES:
        t = euler_substeps(s)
        fig = real_stability_figure(t)
        assert fig.verified(REL), (s, fig)
        real_err.append(abs(fig.value - 2 * s) / (2 * s))
        imag.append(imaginary_stability_figure(t))
    assert worst(real_err) <= REL, np.argmax(real_err) + 1
    # the disk |z + s| <= s touches the imaginary axis only at 0: an exact decision
    assert all(f.value == 0.0 and f.error == 0.0 for f in imag)


def test_euler_substeps_area_for_1_to_200_stages():
    errs = []
    for s in STAGES:
        fig = stability_area_figure(euler_substeps(s), real_interval=2.0 * s)
        assert fig.verified(1e-10), (s, fig)
        errs.append(abs(fig.value - math.pi * s * s) / (math.pi * s * s))
        assert abs(fig.value - math.pi * s * s) <= max(fig.error, 1e-14 * fig.value)  # honest estimate
    assert worst(errs) <= REL


def test_chebyshev_limits_for_1_to_200_stages():
    real_err = []
    for s in STAGES:
        t = chebyshev_tableau(s)
        fig = real_stability_figure(t)
        # |R| touches 1 at every interior extremum: these count as stable, the end is 2s²
        assert fig.verified(REL), (s, fig)
        real_err.append(abs(fig.value - 2 * s * s) / (2 * s * s))
        assert imaginary_stability_interval(t) == 0.0
    assert worst(real_err) <= REL, np.argmax(real_err) + 1


@pytest.mark.parametrize("s", [5, 20, 50, 120, 200])
def test_damped_chebyshev_real_interval(s):
    t, beta = rkc1_tableau(s)
    assert real_stability_interval(t) == pytest.approx(beta, rel=1e-10)
    assert imaginary_stability_interval(t) == 0.0


def test_damped_chebyshev_area_is_verified_and_matches_a_grid_count():
    t, beta = rkc1_tableau(20)
    area = stability_area(t)
    assert np.isfinite(area)
    # count grid cells: the region lies in [-beta, 0] x [-h, h]
    x = np.linspace(-beta, 0.0, 4001)
    y = np.linspace(0.0, 20.0, 801)
    inside = np.abs(stability_function(t, x[None, :] + 1j * y[:, None])) <= 1.0
    assert not inside[-1].any()  # the box is tall enough
    grid = 2.0 * inside.sum() * (x[1] - x[0]) * (y[1] - y[0])
    assert area == pytest.approx(grid, rel=5e-3)


# ---------------------------------------------------------------------------- evaluation of R(z)
def test_stability_function_is_accurate_far_from_the_origin():
    s = 200
    t = euler_substeps(s)
    z = np.array([-2.0 * s, -s + 1j * s, -2.0 * s + 3j, -3.0 * s + 0.5j * s, 5.0 - 2j])
    exact = (1.0 + z / s) ** s
    # relative accuracy where |R| >= 1, absolute (backward stability) where R is tiny
    np.testing.assert_allclose(stability_function(t, z), exact, rtol=1e-12, atol=1e-14)
    re = np.array([-2.0 * s, -s, -10.0])
    im = np.array([0.0, 0.5 * s])
    grid = stability_grid(t.A[None], t.b[None], re, im)[0]
    exact = np.abs((1.0 + (re[None, :] + 1j * im[:, None]) / s) ** s)
    np.testing.assert_allclose(grid, exact, rtol=1e-12, atol=1e-14)


def test_many_stage_analysis_raises_no_warnings():
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        a = analyze(euler_substeps(200))
    assert a.verified
    assert a.real_stability_interval == pytest.approx(400.0, rel=REL)
    assert a.imaginary_stability_interval == 0.0
    assert a.stability_area == pytest.approx(math.pi * 200**2, rel=REL)
    d = a.to_dict()
    assert d["stability_errors"]["real_stability_interval"] < 1e-8 * 400
    assert "unverified" not in d


# ---------------------------------------------------------------------------- figures that cannot be trusted
@pytest.mark.parametrize("s", [50, 100])
def test_internally_unstable_tableau_is_reported_unverified(s):
    t = chebyshev_product_tableau(s)
    fig = real_stability_figure(t)
    assert not fig.verified(1e-6) and math.isinf(fig.error)
    assert math.isnan(real_stability_interval(t))
    a = analyze(t, area=False)
    assert not a.verified and math.isnan(a.real_stability_interval)
    assert [key for key, _ in a.unverified] == ["real_stability_interval"]
    d = a.to_dict()
    assert d["real_stability_interval"] is None and d["unverified"] == ["real_stability_interval"]
    assert any(note.startswith("real_stability_interval is not verified") for note in d["notes"])


def test_the_same_polynomial_from_a_well_conditioned_tableau_is_verified():
    # chebyshev_product_tableau(20) still resolves R: both realisations agree
    for t in (chebyshev_product_tableau(20), chebyshev_tableau(20)):
        assert real_stability_interval(t) == pytest.approx(800.0, rel=REL)


def test_area_finds_every_component():
    # Euler steps h and h/100: R = (1 + z)(1 + z/100), two separate near-disks at -1 and -100
    t = rkcore.Tableau(A=[[0.0, 0.0], [1.0, 0.0]], b=[1.0, 0.01])
    fig = stability_area_figure(t)
    assert fig.verified(1e-10)
    grid = 0.0
    for x0, x1, half in ((-2.1, 0.0, 1.1), (-101.2, -98.8, 1.2)):
        x = np.linspace(x0, x1, 2001)
        y = np.linspace(-half, half, 2001)
        inside = np.abs(stability_function(t, x[None, :] + 1j * y[:, None])) <= 1.0
        grid += inside.sum() * (x[1] - x[0]) * (y[1] - y[0])
    assert fig.value == pytest.approx(grid, rel=2e-3)
    assert fig.value > 6.0  # both components (each about π)


def test_area_with_pinch_points_uses_slices_or_says_unverified():
    # T_s(1 + z/s²): the lobes touch at saddles of |R|, where the boundary cannot be traced
    few = stability_area_figure(chebyshev_tableau(3))
    assert few.method == "slices" and few.verified(1e-10)
    many = stability_area_figure(chebyshev_tableau(50))
    assert math.isnan(many.value) or not many.verified(1e-6)
    assert math.isnan(stability_area(chebyshev_tableau(50)))


# ---------------------------------------------------------------------------- batches
def test_batch_with_many_stages_equals_single_tableaux():
    s = 40
    tableaux = [euler_substeps(s), chebyshev_tableau(s), rkc1_tableau(s)[0], chebyshev_product_tableau(s)]
    A = np.stack([t.A for t in tableaux])
    b = np.stack([t.b for t in tableaux])
    summary = stability_summary_batch(A, b)
    expected = [2 * s, 2 * s * s, rkc1_tableau(s)[1]]
    assert summary.real_interval[:3].tolist() == pytest.approx(expected, rel=REL)
    assert np.isnan(summary.real_interval[3])  # internally unstable at s = 40: not verified
    single = [(real_stability_interval(t), imaginary_stability_interval(t)) for t in tableaux]
    np.testing.assert_array_equal(summary.real_interval, [r for r, _ in single])
    np.testing.assert_array_equal(summary.imaginary_interval, [i for _, i in single])
    np.testing.assert_array_equal(real_stability_interval_batch(A, b), summary.real_interval)


def test_rtol_is_validated():
    with pytest.raises(rkcore.RKInputError, match="rtol"):
        real_stability_interval(euler_substeps(3), rtol=0.0)
    with pytest.raises(rkcore.RKInputError, match="rtol"):
        stability_summary_batch(np.zeros((1, 2, 2)), np.ones((1, 2)), rtol=2.0)
