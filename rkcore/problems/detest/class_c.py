"""DETEST class C: moderate systems C1--C5 (Hull, Enright, Fellen & Sedgwick 1972).

Definitions and initial values as in the Toronto non-stiff test set, ACM TOMS Algorithm 648
(Enright & Pryce 1987), routines ``FCN`` and ``IVALU``:

* C1 (radioactive decay chain, 10 equations) and C2 (the chain with rates 1..9), both from
  ``y = e_1``; C3 (10 equations) and C4 (51 equations): the tridiagonal ``y_i' = y_{i-1} - 2 y_i
  + y_{i+1}`` with zero ends, from ``y = e_1``.  All four are linear with constant coefficients:
  closed form ``expm(M (t - t0)) y0`` (``scipy.linalg.expm``, which agrees with 40-digit values
  to 4e-15 in the max norm).
* C5: five outer planets (Jupiter, Saturn, Uranus, Neptune, Pluto) around the Sun, the inner
  planets' mass added to it: 15 second-order equations written as 30 first-order ones, state
  ``(q_1 .. q_5, q_1' .. q_5')`` with ``q_i`` the 3 heliocentric coordinates of planet ``i``,
  ``q_i'' = k2 (-(m0 + m_i) q_i / |q_i|^3 + sum_{j != i} m_j ((q_j - q_i) / |q_j - q_i|^3 - q_j / |q_j|^3))``.
  ``params = (k2, m0, m1, ..., m5)`` with the test set's gravitational constant and masses in
  solar units (time in units of 100 days, hence ``k2 = 2.959...`` rather than ``2.959e-4``).
  No closed form.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..base import fixed_problem
from ._common import T_END

# --------------------------------------------------------------------------- C1: radioactive decay chain


@njit(cache=True, error_model="numpy")
def _c1_rhs(t, y, p, dydt):
    n = y.shape[0]
    dydt[0] = -y[0]
    for i in range(1, n - 1):
        dydt[i] = y[i - 1] - y[i]
    dydt[n - 1] = y[n - 2]


@njit(cache=True, error_model="numpy")
def _c1_block(t, Y, P, dYdt):
    n = Y.shape[0]
    for j in range(Y.shape[1]):
        dYdt[0, j] = -Y[0, j]
        dYdt[n - 1, j] = Y[n - 2, j]
    for i in range(1, n - 1):
        for j in range(Y.shape[1]):
            dYdt[i, j] = Y[i - 1, j] - Y[i, j]


# --------------------------------------------------------------------------- C2: chain with rates 1..9


@njit(cache=True, error_model="numpy")
def _c2_rhs(t, y, p, dydt):
    n = y.shape[0]
    dydt[0] = -y[0]
    for i in range(1, n - 1):
        dydt[i] = i * y[i - 1] - (i + 1) * y[i]
    dydt[n - 1] = (n - 1) * y[n - 2]


@njit(cache=True, error_model="numpy")
def _c2_block(t, Y, P, dYdt):
    n = Y.shape[0]
    for j in range(Y.shape[1]):
        dYdt[0, j] = -Y[0, j]
        dYdt[n - 1, j] = (n - 1) * Y[n - 2, j]
    for i in range(1, n - 1):
        for j in range(Y.shape[1]):
            dYdt[i, j] = i * Y[i - 1, j] - (i + 1) * Y[i, j]


# --------------------------------------------------------------------------- C3, C4: tridiagonal


@njit(cache=True, error_model="numpy")
def _tridiagonal_rhs(t, y, p, dydt):
    n = y.shape[0]
    dydt[0] = -2.0 * y[0] + y[1]
    for i in range(1, n - 1):
        dydt[i] = y[i - 1] - 2.0 * y[i] + y[i + 1]
    dydt[n - 1] = y[n - 2] - 2.0 * y[n - 1]


@njit(cache=True, error_model="numpy")
def _tridiagonal_block(t, Y, P, dYdt):
    n = Y.shape[0]
    for j in range(Y.shape[1]):
        dYdt[0, j] = -2.0 * Y[0, j] + Y[1, j]
        dYdt[n - 1, j] = Y[n - 2, j] - 2.0 * Y[n - 1, j]
    for i in range(1, n - 1):
        for j in range(Y.shape[1]):
            dYdt[i, j] = Y[i - 1, j] - 2.0 * Y[i, j] + Y[i + 1, j]


def _chain_matrix(n: int, rates: np.ndarray) -> np.ndarray:
    """``y_1' = -r_1 y_1``, ``y_i' = r_{i-1} y_{i-1} - r_i y_i``, ``y_n' = r_{n-1} y_{n-1}``: (n, n)."""
    return np.diag(-np.append(rates, 0.0)) + np.diag(rates, -1)


def _tridiagonal_matrix(n: int) -> np.ndarray:
    return np.diag(np.full(n, -2.0)) + np.diag(np.ones(n - 1), 1) + np.diag(np.ones(n - 1), -1)


class _LinearExact:
    """``exact`` of ``y' = M y``: ``expm(M (t - t0)) y0`` row by row (a picklable callable)."""

    def __init__(self, matrix: np.ndarray):
        self.matrix = np.array(matrix, dtype=np.float64)
        self.matrix.setflags(write=False)

    def __call__(self, t, y0, params, t0=0.0):
        from scipy.linalg import expm

        return np.ascontiguousarray(y0 @ expm(self.matrix * (t - t0)).T)


# --------------------------------------------------------------------------- C5: five outer planets


@njit(cache=True, error_model="numpy")
def _c5_rhs(t, y, p, dydt):
    k2 = p[0]
    m0 = p[1]
    for i in range(15):
        dydt[i] = y[15 + i]
    for i in range(5):
        qi0 = y[3 * i]
        qi1 = y[3 * i + 1]
        qi2 = y[3 * i + 2]
        ri2 = qi0 * qi0 + qi1 * qi1 + qi2 * qi2
        central = -(m0 + p[2 + i]) / (ri2 * np.sqrt(ri2))
        a0 = central * qi0
        a1 = central * qi1
        a2 = central * qi2
        for j in range(5):
            if j == i:
                continue
            qj0 = y[3 * j]
            qj1 = y[3 * j + 1]
            qj2 = y[3 * j + 2]
            d0 = qj0 - qi0
            d1 = qj1 - qi1
            d2 = qj2 - qi2
            dij2 = d0 * d0 + d1 * d1 + d2 * d2
            rj2 = qj0 * qj0 + qj1 * qj1 + qj2 * qj2
            mj = p[2 + j]
            direct = mj / (dij2 * np.sqrt(dij2))
            indirect = mj / (rj2 * np.sqrt(rj2))  # the Sun's acceleration towards planet j
            a0 += direct * d0 - indirect * qj0
            a1 += direct * d1 - indirect * qj1
            a2 += direct * d2 - indirect * qj2
        dydt[15 + 3 * i] = k2 * a0
        dydt[15 + 3 * i + 1] = k2 * a1
        dydt[15 + 3 * i + 2] = k2 * a2


@njit(cache=True, error_model="numpy")
def _c5_block(t, Y, P, dYdt):
    # One problem per block in practice (a fixed problem), so no vectorisation across columns.
    for j in range(Y.shape[1]):
        _c5_rhs(t, Y[:, j], P[:, j], dYdt[:, j])


C5_PARAMS = (
    2.95912208286,  # k2, the gravitational constant
    1.00000597682,  # m0, the Sun with the inner planets
    0.954786104043e-3,  # Jupiter
    0.285583733151e-3,  # Saturn
    0.437273164546e-4,  # Uranus
    0.517759138449e-4,  # Neptune
    0.277777777778e-5,  # Pluto
)
C5_Y0 = (
    # positions (Jupiter, Saturn, Uranus, Neptune, Pluto; x, y, z each)
    3.42947415189, 3.35386959711, 1.35494901715,
    6.64145542550, 5.97156957878, 2.18231499728,
    11.2630437207, 14.6952576794, 6.27960525067,
    -30.1552268759, 1.65699966404, 1.43785752721,
    -21.1238353380, 28.4465098142, 15.3882659679,
    # velocities, same order
    -0.557160570446, 0.505696783289, 0.230578543901,
    -0.415570776342, 0.365682722812, 0.169143213293,
    -0.325325669158, 0.189706021964, 0.0877265322780,
    -0.0240476254170, -0.287659532608, -0.117219543175,
    -0.176860753121, -0.216393453025, -0.0148647893090,
)  # fmt: skip


def _unit(n: int) -> list[float]:
    return [1.0] + [0.0] * (n - 1)


CLASS_C = (
    fixed_problem("C1", _c1_rhs, _c1_block, _unit(10), T_END,
                  exact=_LinearExact(_chain_matrix(10, np.ones(9))),
                  description="y1' = -y1, yi' = y(i-1) - yi (i = 2..9), y10' = y9, y(0) = e1 (decay chain)"),
    fixed_problem("C2", _c2_rhs, _c2_block, _unit(10), T_END,
                  exact=_LinearExact(_chain_matrix(10, np.arange(1.0, 10.0))),
                  description="y1' = -y1, yi' = (i-1) y(i-1) - i yi (i = 2..9), y10' = 9 y9, y(0) = e1"),
    fixed_problem("C3", _tridiagonal_rhs, _tridiagonal_block, _unit(10), T_END,
                  exact=_LinearExact(_tridiagonal_matrix(10)),
                  description="yi' = y(i-1) - 2 yi + y(i+1), y0 = y11 = 0, 10 equations, y(0) = e1"),
    fixed_problem("C4", _tridiagonal_rhs, _tridiagonal_block, _unit(51), T_END,
                  exact=_LinearExact(_tridiagonal_matrix(51)),
                  description="yi' = y(i-1) - 2 yi + y(i+1), y0 = y52 = 0, 51 equations, y(0) = e1"),
    fixed_problem("C5", _c5_rhs, _c5_block, C5_Y0, T_END, params=C5_PARAMS,
                  param_names=("k2", "m0", "m_jupiter", "m_saturn", "m_uranus", "m_neptune", "m_pluto"),
                  description="five outer planets about the Sun: 15 second-order equations, 30 first-order"),
)  # fmt: skip
