"""DETEST class A: single equations A1--A5 (Hull, Enright, Fellen & Sedgwick 1972).

Definitions and initial values as in the Toronto non-stiff test set, ACM TOMS Algorithm 648
(Enright & Pryce 1987), routines ``FCN`` and ``IVALU``.  Every one has a closed form, valid for
any initial value ``(t0, y0)`` on the problem's own branch.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..base import fixed_problem
from ._common import T_END

# --------------------------------------------------------------------------- A1: y' = -y


@njit(cache=True, error_model="numpy")
def _a1_rhs(t, y, p, dydt):
    dydt[0] = -y[0]


@njit(cache=True, error_model="numpy")
def _a1_block(t, Y, P, dYdt):
    for j in range(Y.shape[1]):
        dYdt[0, j] = -Y[0, j]


def _a1_exact(t, y0, params, t0=0.0):
    return y0 * np.exp(-(t - t0))


# --------------------------------------------------------------------------- A2: y' = -y^3 / 2


@njit(cache=True, error_model="numpy")
def _a2_rhs(t, y, p, dydt):
    dydt[0] = -0.5 * y[0] * y[0] * y[0]


@njit(cache=True, error_model="numpy")
def _a2_block(t, Y, P, dYdt):
    for j in range(Y.shape[1]):
        dYdt[0, j] = -0.5 * Y[0, j] * Y[0, j] * Y[0, j]


def _a2_exact(t, y0, params, t0=0.0):
    return y0 / np.sqrt(1.0 + y0 * y0 * (t - t0))


# --------------------------------------------------------------------------- A3: y' = y cos t


@njit(cache=True, error_model="numpy")
def _a3_rhs(t, y, p, dydt):
    dydt[0] = y[0] * np.cos(t)


@njit(cache=True, error_model="numpy")
def _a3_block(t, Y, P, dYdt):
    c = np.cos(t)
    for j in range(Y.shape[1]):
        dYdt[0, j] = Y[0, j] * c


def _a3_exact(t, y0, params, t0=0.0):
    return y0 * np.exp(np.sin(t) - np.sin(t0))


# --------------------------------------------------------------------------- A4: logistic


@njit(cache=True, error_model="numpy")
def _a4_rhs(t, y, p, dydt):
    dydt[0] = 0.25 * y[0] * (1.0 - y[0] / 20.0)


@njit(cache=True, error_model="numpy")
def _a4_block(t, Y, P, dYdt):
    for j in range(Y.shape[1]):
        dYdt[0, j] = 0.25 * Y[0, j] * (1.0 - Y[0, j] / 20.0)


def _a4_exact(t, y0, params, t0=0.0):
    return 20.0 * y0 / (y0 + (20.0 - y0) * np.exp(-0.25 * (t - t0)))


# --------------------------------------------------------------------------- A5: y' = (y - t) / (y + t)


@njit(cache=True, error_model="numpy")
def _a5_rhs(t, y, p, dydt):
    dydt[0] = (y[0] - t) / (y[0] + t)


@njit(cache=True, error_model="numpy")
def _a5_block(t, Y, P, dYdt):
    for j in range(Y.shape[1]):
        dYdt[0, j] = (Y[0, j] - t) / (Y[0, j] + t)


def _a5_exact(t, y0, params, t0=0.0):
    """The solutions are logarithmic spirals ``r = r0 exp(theta0 - theta)`` in the (t, y) plane.

    So ``F(y) = log(t^2 + y^2) / 2 + atan2(y, t)`` is constant along a solution; ``F`` increases in
    ``y`` on the branch ``y > -t`` that the solution follows.  Brent's method finds ``y(t)`` there,
    and two Newton steps in extended precision remove the rounding of ``F`` (``dy/dF = 21`` at
    ``t = 20``), which would otherwise cost a decade of accuracy.
    """
    from scipy.optimize import brentq  # deferred: importing rkcore should stay cheap

    wide = np.longdouble
    out = np.empty_like(y0)
    for i, start in enumerate(y0[:, 0]):

        def gap(y, start=start, kind=float):
            t_, y_, s_, t0_ = kind(t), kind(y), kind(start), kind(t0)
            return (
                0.5 * np.log((t_ * t_ + y_ * y_) / (t0_ * t0_ + s_ * s_))
                + np.arctan2(y_, t_)
                - np.arctan2(s_, t0_)
            )

        lo = -t * (1.0 - 1e-12)
        hi = abs(t) + np.hypot(t0, start) * np.exp(np.pi)  # |y| <= r0 exp(theta0 - theta), theta > -pi/4
        y = wide(brentq(gap, lo, hi, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=200))
        for _ in range(2):
            y -= (
                gap(y, kind=wide) * (wide(t) * wide(t) + y * y) / (y + wide(t))
            )  # F'(y) = (y + t) / (t^2 + y^2)
        out[i, 0] = float(y)
    return out


CLASS_A = (
    fixed_problem("A1", _a1_rhs, _a1_block, [1.0], T_END, exact=_a1_exact,
                  description="y' = -y, y(0) = 1 (exponential decay)"),
    fixed_problem("A2", _a2_rhs, _a2_block, [1.0], T_END, exact=_a2_exact,
                  description="y' = -y^3/2, y(0) = 1 (special case of a Riccati equation)"),
    fixed_problem("A3", _a3_rhs, _a3_block, [1.0], T_END, exact=_a3_exact,
                  description="y' = y cos t, y(0) = 1 (oscillatory linear equation)"),
    fixed_problem("A4", _a4_rhs, _a4_block, [1.0], T_END, exact=_a4_exact,
                  description="y' = (y/4)(1 - y/20), y(0) = 1 (logistic curve)"),
    fixed_problem("A5", _a5_rhs, _a5_block, [4.0], T_END, exact=_a5_exact,
                  description="y' = (y - t)/(y + t), y(0) = 4 (spiral curve)"),
)  # fmt: skip
