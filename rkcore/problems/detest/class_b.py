"""DETEST class B: small systems B1--B5 (Hull, Enright, Fellen & Sedgwick 1972).

Definitions and initial values as in the Toronto non-stiff test set, ACM TOMS Algorithm 648
(Enright & Pryce 1987), routines ``FCN`` and ``IVALU``.  B1 (Lotka--Volterra) has only a first
integral, so no closed form here; B2--B5 have one for any initial state:

* B2 is linear with the symmetric matrix ``[[-1, 1, 0], [1, -2, 1], [0, 1, -1]]`` (eigenvalues
  0, -1, -3), solved by its spectral projectors.
* B3: ``y1 = y1(t0) e^{-tau}``; ``y2 = u'/u`` turns the Riccati equation into ``u'' = y1 u``, a
  modified Bessel equation of order 0 in ``s = 2 sqrt(y1)``; ``y3`` follows from ``y1 + y2 + y3``
  being conserved.
* B4: in polar form the angle of ``(y1, y2)`` advances as ``t``, ``y3' = cos(angle)`` and the
  radius decreases as ``-y3``.
* B5 (Euler's equations of a rigid body, Krogh): ``(y1, y2, y3) = (A sn, A cn, B dn)(u0 + B tau | k^2)``
  with ``A^2 = y1^2 + y2^2``, ``B^2 = y3^2 + 0.51 y1^2`` and ``k^2 = 0.51 A^2 / B^2``; from (0, 1, 1)
  that is ``(sn, cn, dn)(t | 0.51)``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..base import fixed_problem
from ._common import T_END

B5_M = 0.51  # the parameter k^2 of B5's Jacobi elliptic functions, a literal in its rhs

# --------------------------------------------------------------------------- B1: Lotka-Volterra


@njit(cache=True, error_model="numpy")
def _b1_rhs(t, y, p, dydt):
    dydt[0] = 2.0 * (y[0] - y[0] * y[1])
    dydt[1] = -(y[1] - y[0] * y[1])


@njit(cache=True, error_model="numpy")
def _b1_block(t, Y, P, dYdt):
    for j in range(Y.shape[1]):
        dYdt[0, j] = 2.0 * (Y[0, j] - Y[0, j] * Y[1, j])
        dYdt[1, j] = -(Y[1, j] - Y[0, j] * Y[1, j])


# --------------------------------------------------------------------------- B2: linear chemical reaction


@njit(cache=True, error_model="numpy")
def _b2_rhs(t, y, p, dydt):
    dydt[0] = -y[0] + y[1]
    dydt[1] = y[0] - 2.0 * y[1] + y[2]
    dydt[2] = y[1] - y[2]


@njit(cache=True, error_model="numpy")
def _b2_block(t, Y, P, dYdt):
    for j in range(Y.shape[1]):
        dYdt[0, j] = -Y[0, j] + Y[1, j]
        dYdt[1, j] = Y[0, j] - 2.0 * Y[1, j] + Y[2, j]
        dYdt[2, j] = Y[1, j] - Y[2, j]


def _b2_exact(t, y0, params, t0=0.0):
    tau = t - t0
    mean = y0.mean(axis=1, keepdims=True)  # eigenvalue 0, eigenvector (1, 1, 1)
    slope = 0.5 * (y0[:, :1] - y0[:, 2:])  # eigenvalue -1, eigenvector (1, 0, -1)
    bend = (y0[:, :1] - 2.0 * y0[:, 1:2] + y0[:, 2:]) / 6.0  # eigenvalue -3, eigenvector (1, -2, 1)
    return (
        mean
        + np.exp(-tau) * slope * np.array([1.0, 0.0, -1.0])
        + np.exp(-3.0 * tau) * bend * np.array([1.0, -2.0, 1.0])
    )


# --------------------------------------------------------------------------- B3: nonlinear chemical reaction


@njit(cache=True, error_model="numpy")
def _b3_rhs(t, y, p, dydt):
    dydt[0] = -y[0]
    dydt[1] = y[0] - y[1] * y[1]
    dydt[2] = y[1] * y[1]


@njit(cache=True, error_model="numpy")
def _b3_block(t, Y, P, dYdt):
    for j in range(Y.shape[1]):
        dYdt[0, j] = -Y[0, j]
        dYdt[1, j] = Y[0, j] - Y[1, j] * Y[1, j]
        dYdt[2, j] = Y[1, j] * Y[1, j]


def _b3_exact(t, y0, params, t0=0.0):
    """Needs ``y1(t0) > 0``.  ``u = a I0(s) + b K0(s)`` with ``u(t0) = 1``, ``u'(t0) = y2(t0)``."""
    from scipy import special  # deferred: importing rkcore should stay cheap

    tau = t - t0
    y1_0, y2_0 = y0[:, 0], y0[:, 1]
    y1 = y1_0 * np.exp(-tau)
    s0, s = 2.0 * np.sqrt(y1_0), 2.0 * np.sqrt(y1)
    # The Wronskian I0 K1 + I1 K0 = 1/s gives the coefficients in closed form.
    a = s0 * special.k1(s0) - 2.0 * y2_0 * special.k0(s0)
    b = s0 * special.i1(s0) + 2.0 * y2_0 * special.i0(s0)
    # y2 = u'/u = -(s/2) (a I1(s) - b K1(s)) / (a I0(s) + b K0(s)), since ds/dt = -s/2.
    y2 = -0.5 * s * (a * special.i1(s) - b * special.k1(s)) / (a * special.i0(s) + b * special.k0(s))
    y3 = y0.sum(axis=1) - y1 - y2
    return np.ascontiguousarray(np.stack([y1, y2, y3], axis=1))


# --------------------------------------------------------------------------- B4


@njit(cache=True, error_model="numpy")
def _b4_rhs(t, y, p, dydt):
    r = np.sqrt(y[0] * y[0] + y[1] * y[1])
    dydt[0] = -y[1] - y[0] * y[2] / r
    dydt[1] = y[0] - y[1] * y[2] / r
    dydt[2] = y[0] / r


@njit(cache=True, error_model="numpy")
def _b4_block(t, Y, P, dYdt):
    for j in range(Y.shape[1]):
        r = np.sqrt(Y[0, j] * Y[0, j] + Y[1, j] * Y[1, j])
        dYdt[0, j] = -Y[1, j] - Y[0, j] * Y[2, j] / r
        dYdt[1, j] = Y[0, j] - Y[1, j] * Y[2, j] / r
        dYdt[2, j] = Y[0, j] / r


def _b4_exact(t, y0, params, t0=0.0):
    """Valid while the radius stays positive (from (3, 0, 0) it is 2 + cos t >= 1)."""
    tau = t - t0
    r0 = np.hypot(y0[:, 0], y0[:, 1])
    phi0 = np.arctan2(y0[:, 1], y0[:, 0])
    phi = phi0 + tau
    y3 = y0[:, 2] + np.sin(phi) - np.sin(phi0)
    r = r0 - (y0[:, 2] - np.sin(phi0)) * tau - (np.cos(phi0) - np.cos(phi))
    return np.ascontiguousarray(np.stack([r * np.cos(phi), r * np.sin(phi), y3], axis=1))


# --------------------------------------------------------------------------- B5: Euler's rigid body equations


@njit(cache=True, error_model="numpy")
def _b5_rhs(t, y, p, dydt):
    dydt[0] = y[1] * y[2]
    dydt[1] = -y[0] * y[2]
    dydt[2] = -0.51 * y[0] * y[1]


@njit(cache=True, error_model="numpy")
def _b5_block(t, Y, P, dYdt):
    for j in range(Y.shape[1]):
        dYdt[0, j] = Y[1, j] * Y[2, j]
        dYdt[1, j] = -Y[0, j] * Y[2, j]
        dYdt[2, j] = -0.51 * Y[0, j] * Y[1, j]


def _b5_exact(t, y0, params, t0=0.0):
    """Needs ``y3(t0) != 0`` and ``k^2 <= 1`` (``y3`` never changes sign), as from (0, 1, 1)."""
    from scipy import special

    amp = np.hypot(y0[:, 0], y0[:, 1])
    rate = np.sign(y0[:, 2]) * np.sqrt(y0[:, 2] ** 2 + B5_M * y0[:, 0] ** 2)
    m = B5_M * amp**2 / rate**2
    u0 = special.ellipkinc(np.arctan2(y0[:, 0], y0[:, 1]), m)  # F(am u0 | m): sn u0 = y1/A, cn u0 = y2/A
    sn, cn, dn, _ = special.ellipj(u0 + rate * (t - t0), m)
    return np.ascontiguousarray(np.stack([amp * sn, amp * cn, rate * dn], axis=1))


CLASS_B = (
    fixed_problem("B1", _b1_rhs, _b1_block, [1.0, 3.0], T_END,
                  description="y1' = 2 (y1 - y1 y2), y2' = -(y2 - y1 y2), y(0) = (1, 3) (Lotka-Volterra)"),
    fixed_problem("B2", _b2_rhs, _b2_block, [2.0, 0.0, 1.0], T_END, exact=_b2_exact,
                  description="y1' = -y1 + y2, y2' = y1 - 2 y2 + y3, y3' = y2 - y3, y(0) = (2, 0, 1)"),
    fixed_problem("B3", _b3_rhs, _b3_block, [1.0, 0.0, 0.0], T_END, exact=_b3_exact,
                  description="y1' = -y1, y2' = y1 - y2^2, y3' = y2^2, y(0) = (1, 0, 0)"),
    fixed_problem("B4", _b4_rhs, _b4_block, [3.0, 0.0, 0.0], T_END, exact=_b4_exact,
                  description="y1' = -y2 - y1 y3/r, y2' = y1 - y2 y3/r, y3' = y1/r, r = |y1, y2|, y0 = 3 e1"),
    fixed_problem("B5", _b5_rhs, _b5_block, [0.0, 1.0, 1.0], T_END, exact=_b5_exact,
                  description="y1' = y2 y3, y2' = -y1 y3, y3' = -0.51 y1 y2, y(0) = (0, 1, 1) (rigid body)"),
)  # fmt: skip
