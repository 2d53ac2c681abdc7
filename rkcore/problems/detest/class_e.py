"""DETEST class E: second-order equations E1--E5 (Hull, Enright, Fellen & Sedgwick 1972).

Each is ``y'' = g(t, y, y')`` written as ``(y1, y2) = (y, y')``; definitions and initial values
as in ACM TOMS Algorithm 648 (Enright & Pryce 1987), routines ``FCN`` and ``IVALU``:

* E1: Bessel's equation of order 1/2 in ``x = t + 1``, from ``(J_{1/2}(1), J_{1/2}'(1))`` (the test
  set's decimal values).  ``u = sqrt(x) y`` solves ``u'' = -u``: closed form.
* E2: Van der Pol, ``mu = 1``, from (2, 0).  No closed form.
* E3: Duffing, ``y'' = y^3/6 - y + 2 sin(2.78535 t)``, from (0, 0).  No closed form.
* E4: ``y'' = 0.032 - 0.4 y'^2``, from (30, 0): ``y' = c tanh(k t + atanh(y'(t0)/c))`` with
  ``c = sqrt(0.08)``, ``k = sqrt(0.0128)``, and ``y`` its log-cosh integral.
* E5: ``y'' = sqrt(1 + y'^2) / (25 - t)``, from (0, 0): ``asinh y'`` grows as ``log(25 / (25 - t))``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..base import fixed_problem
from ._common import T_END

# --------------------------------------------------------------------------- E1: Bessel, order 1/2


@njit(cache=True, error_model="numpy")
def _e1_rhs(t, y, p, dydt):
    x = t + 1.0
    dydt[0] = y[1]
    dydt[1] = -(y[1] / x + (1.0 - 0.25 / (x * x)) * y[0])


@njit(cache=True, error_model="numpy")
def _e1_block(t, Y, P, dYdt):
    x = t + 1.0
    damping = 1.0 / x
    stiffness = 1.0 - 0.25 / (x * x)
    for j in range(Y.shape[1]):
        dYdt[0, j] = Y[1, j]
        dYdt[1, j] = -(Y[1, j] * damping + stiffness * Y[0, j])


def _e1_exact(t, y0, params, t0=0.0):
    x0, x, tau = t0 + 1.0, t + 1.0, t - t0
    u0 = np.sqrt(x0) * y0[:, 0]
    du0 = np.sqrt(x0) * y0[:, 1] + 0.5 * y0[:, 0] / np.sqrt(x0)
    u = u0 * np.cos(tau) + du0 * np.sin(tau)
    du = du0 * np.cos(tau) - u0 * np.sin(tau)
    return np.ascontiguousarray(
        np.stack([u / np.sqrt(x), du / np.sqrt(x) - 0.5 * u / (x * np.sqrt(x))], axis=1)
    )


E1_Y0 = (0.79788456080286536 * 0.84147098480789651, 0.79788456080286536 * 0.11956681346419146)
"""``sqrt(2/pi) (sin 1, cos 1 - sin(1)/2)``, written as the test set writes it."""

# --------------------------------------------------------------------------- E2: Van der Pol


@njit(cache=True, error_model="numpy")
def _e2_rhs(t, y, p, dydt):
    dydt[0] = y[1]
    dydt[1] = (1.0 - y[0] * y[0]) * y[1] - y[0]


@njit(cache=True, error_model="numpy")
def _e2_block(t, Y, P, dYdt):
    for j in range(Y.shape[1]):
        dYdt[0, j] = Y[1, j]
        dYdt[1, j] = (1.0 - Y[0, j] * Y[0, j]) * Y[1, j] - Y[0, j]


# --------------------------------------------------------------------------- E3: forced Duffing


@njit(cache=True, error_model="numpy")
def _e3_rhs(t, y, p, dydt):
    dydt[0] = y[1]
    dydt[1] = y[0] * y[0] * y[0] / 6.0 - y[0] + 2.0 * np.sin(2.78535 * t)


@njit(cache=True, error_model="numpy")
def _e3_block(t, Y, P, dYdt):
    force = 2.0 * np.sin(2.78535 * t)
    for j in range(Y.shape[1]):
        dYdt[0, j] = Y[1, j]
        dYdt[1, j] = Y[0, j] * Y[0, j] * Y[0, j] / 6.0 - Y[0, j] + force


# --------------------------------------------------------------------------- E4


@njit(cache=True, error_model="numpy")
def _e4_rhs(t, y, p, dydt):
    dydt[0] = y[1]
    dydt[1] = 0.032 - 0.4 * y[1] * y[1]


@njit(cache=True, error_model="numpy")
def _e4_block(t, Y, P, dYdt):
    for j in range(Y.shape[1]):
        dYdt[0, j] = Y[1, j]
        dYdt[1, j] = 0.032 - 0.4 * Y[1, j] * Y[1, j]


def _log_cosh(x):
    ax = np.abs(x)
    return ax + np.log1p(np.exp(-2.0 * ax)) - np.log(2.0)


def _e4_exact(t, y0, params, t0=0.0):
    """Valid for ``|y'(t0)| < c = sqrt(0.032 / 0.4)`` (from rest ``y'`` rises towards ``c``)."""
    a, b = 0.032, 0.4
    c, k = np.sqrt(a / b), np.sqrt(a * b)
    phase0 = np.arctanh(y0[:, 1] / c)
    phase = phase0 + k * (t - t0)
    y = y0[:, 0] + (_log_cosh(phase) - _log_cosh(phase0)) / b
    return np.ascontiguousarray(np.stack([y, c * np.tanh(phase)], axis=1))


# --------------------------------------------------------------------------- E5


@njit(cache=True, error_model="numpy")
def _e5_rhs(t, y, p, dydt):
    dydt[0] = y[1]
    dydt[1] = np.sqrt(1.0 + y[1] * y[1]) / (25.0 - t)


@njit(cache=True, error_model="numpy")
def _e5_block(t, Y, P, dYdt):
    w = 25.0 - t
    for j in range(Y.shape[1]):
        dYdt[0, j] = Y[1, j]
        dYdt[1, j] = np.sqrt(1.0 + Y[1, j] * Y[1, j]) / w


def _e5_exact(t, y0, params, t0=0.0):
    """With ``w = 25 - t``: ``y' = sinh(phi0 + log(w0 / w))``, ``phi0 = asinh y'(t0)``; for ``t < 25``."""
    w0, w = 25.0 - t0, 25.0 - t
    grow = np.exp(np.arcsinh(y0[:, 1]))  # e^{phi0}
    slope = 0.5 * (grow * w0 / w - w / (grow * w0))
    y = y0[:, 0] + 0.5 * grow * w0 * np.log(w0 / w) - (w0 * w0 - w * w) / (4.0 * grow * w0)
    return np.ascontiguousarray(np.stack([y, slope], axis=1))


CLASS_E = (
    fixed_problem("E1", _e1_rhs, _e1_block, E1_Y0, T_END, exact=_e1_exact,
                  description="y'' = -(y'/(t+1) + (1 - 0.25/(t+1)^2) y), y = J_{1/2}(t+1) (Bessel)"),
    fixed_problem("E2", _e2_rhs, _e2_block, [2.0, 0.0], T_END,
                  description="y'' = (1 - y^2) y' - y, y(0) = 2, y'(0) = 0 (Van der Pol, mu = 1)"),
    fixed_problem("E3", _e3_rhs, _e3_block, [0.0, 0.0], T_END,
                  description="y'' = y^3/6 - y + 2 sin(2.78535 t), y(0) = y'(0) = 0 (Duffing, forced)"),
    fixed_problem("E4", _e4_rhs, _e4_block, [30.0, 0.0], T_END, exact=_e4_exact,
                  description="y'' = 0.032 - 0.4 y'^2, y(0) = 30, y'(0) = 0"),
    fixed_problem("E5", _e5_rhs, _e5_block, [0.0, 0.0], T_END, exact=_e5_exact,
                  description="y'' = sqrt(1 + y'^2)/(25 - t), y(0) = y'(0) = 0"),
)  # fmt: skip
