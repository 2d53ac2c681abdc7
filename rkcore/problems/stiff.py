"""Stiff ODE families that explicit methods can still integrate at small steps.

Each family keeps the spectral radius ``rho(J)`` of its Jacobian below about ``1.1e4``
over its parameter ranges, so with the horizons and steps the evaluator uses
(``t_end`` 0.1-0.25, 50-400 steps, ``h`` from 2.5e-4 to 5e-3) ``rho(J) * h`` runs from
well inside to well outside the stability region of a typical explicit method: some
problems are unstable for some methods at some steps, which is what the stability
metric measures.  Stiffness measure: ``rho(J) * t_end``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._sampling import loguniform, pack, signed, uniform
from .base import Family
from .oscillators import _van_der_pol_block, _van_der_pol_rhs

# --------------------------------------------------------------------------- linear, prescribed spectrum

LINEAR_DIM = 32  # first half: real eigenvalues; second half: 2x2 rotation-scaling blocks


@njit(cache=True, error_model="numpy")
def _linear_rhs(t, y, p, dydt):
    d = y.shape[0]
    half = d // 2
    for i in range(half):
        dydt[i] = p[i] * y[i]
    for i in range(half, d, 2):
        alpha = p[i]
        beta = p[i + 1]
        dydt[i] = alpha * y[i] + beta * y[i + 1]
        dydt[i + 1] = alpha * y[i + 1] - beta * y[i]


@njit(cache=True, error_model="numpy")
def _linear_block(t, Y, P, dYdt):
    d = Y.shape[0]
    m = Y.shape[1]
    half = d // 2
    for i in range(half):
        for j in range(m):
            dYdt[i, j] = P[i, j] * Y[i, j]
    for i in range(half, d, 2):
        for j in range(m):
            alpha = P[i, j]
            beta = P[i + 1, j]
            dYdt[i, j] = alpha * Y[i, j] + beta * Y[i + 1, j]
            dYdt[i + 1, j] = alpha * Y[i + 1, j] - beta * Y[i, j]


def _linear_sample(rng, n):
    half, pairs = LINEAR_DIM // 2, LINEAR_DIM // 4
    rho_max = loguniform(rng, 10.0, 1.0e4, n)
    # Magnitudes log-uniform on [1, rho_max]; the ends are pinned so every problem has a slow
    # mode (the solution stays O(1)) and its spectral radius is exactly rho_max.
    mag_real = np.exp(rng.uniform(0.0, 1.0, size=(n, half)) * np.log(rho_max)[:, None])
    mag_real[:, 0] = 1.0
    mag_real[:, 1] = rho_max
    mag_pair = np.exp(rng.uniform(0.0, 1.0, size=(n, pairs)) * np.log(rho_max)[:, None])
    angle = rng.uniform(0.0, 1.4, size=(n, pairs))  # from the negative real axis, up to ~80 degrees
    params = np.empty((n, LINEAR_DIM))
    params[:, :half] = -mag_real
    params[:, half::2] = -mag_pair * np.cos(angle)
    params[:, half + 1 :: 2] = mag_pair * np.sin(angle)
    y0 = rng.uniform(0.5, 1.5, size=(n, LINEAR_DIM)) * np.where(rng.random((n, LINEAR_DIM)) < 0.5, -1, 1)
    return np.ascontiguousarray(params), np.ascontiguousarray(y0)


def _linear_exact(t, y0, params, t0=0.0):
    dt = t - t0
    half = y0.shape[1] // 2
    out = np.empty_like(y0)
    out[:, :half] = y0[:, :half] * np.exp(params[:, :half] * dt)
    alpha, beta = params[:, half::2], params[:, half + 1 :: 2]
    x, z = y0[:, half::2], y0[:, half + 1 :: 2]
    decay = np.exp(alpha * dt)
    c, s = np.cos(beta * dt), np.sin(beta * dt)
    out[:, half::2] = decay * (c * x + s * z)
    out[:, half + 1 :: 2] = decay * (c * z - s * x)
    return out


LINEAR_SPECTRUM = Family(
    name="linear_spectrum",
    dim=LINEAR_DIM,
    n_params=LINEAR_DIM,
    stiff=True,
    rhs=_linear_rhs,
    rhs_block=_linear_block,
    sample=_linear_sample,
    exact=_linear_exact,
    param_ranges={
        "lam_*": (-1.0e4, -1.0),
        "alpha_*": (-1.0e4, -1.0 * np.cos(1.4)),
        "beta_*": (0.0, 1.0e4 * np.sin(1.4)),
        "rho_max": (10.0, 1.0e4),
        "arg from negative real axis": (0.0, 1.4),
        "|y0_i|": (0.5, 1.5),
    },
    stiffness=(
        "rho(J) = rho_max, log-uniform in [10, 1e4]; spectrum log-uniform in magnitude on [1, rho_max], "
        "16 real eigenvalues (-1 and -rho_max always present) and 8 complex pairs"
    ),
    description=(
        "y' = A y, A block-diagonal: y[:16] real modes y_i' = lam_i y_i (p[:16] = lam), y[16:] pairs "
        "(x, z)' = (alpha x + beta z, alpha z - beta x) (p[16::2] = alpha, p[17::2] = beta); "
        "RK methods commute with similarity transforms, so the diagonal form loses nothing; exact"
    ),
    rho_range=(10.0, 1.0e4),
    param_names=tuple(f"lam_{i}" for i in range(LINEAR_DIM // 2))
    + tuple(f"{part}_{i}" for i in range(LINEAR_DIM // 4) for part in ("alpha", "beta")),
)

# --------------------------------------------------------------------------- Prothero-Robinson


@njit(cache=True, error_model="numpy")
def _prothero_robinson_rhs(t, y, p, dydt):
    lam = p[0]
    w = p[1]
    dydt[0] = lam * (y[0] - np.cos(w * t)) - w * np.sin(w * t)


@njit(cache=True, error_model="numpy")
def _prothero_robinson_block(t, Y, P, dYdt):
    for j in range(Y.shape[1]):
        lam = P[0, j]
        w = P[1, j]
        dYdt[0, j] = lam * (Y[0, j] - np.cos(w * t)) - w * np.sin(w * t)


def _prothero_robinson_sample(rng, n):
    lam = -loguniform(rng, 10.0, 1.0e4, n)
    w = uniform(rng, 1.0, 10.0, n)
    offset = signed(rng, 0.1, 1.0, n)
    return pack(lam, w), pack(1.0 + offset)


def _prothero_robinson_exact(t, y0, params, t0=0.0):
    lam, w = params[:, 0], params[:, 1]
    return pack(np.cos(w * t) + (y0[:, 0] - np.cos(w * t0)) * np.exp(lam * (t - t0)))


PROTHERO_ROBINSON = Family(
    name="prothero_robinson",
    dim=1,
    n_params=2,
    stiff=True,
    rhs=_prothero_robinson_rhs,
    rhs_block=_prothero_robinson_block,
    sample=_prothero_robinson_sample,
    exact=_prothero_robinson_exact,
    param_ranges={"lam": (-1.0e4, -10.0), "omega": (1.0, 10.0), "|y0 - 1|": (0.1, 1.0)},
    stiffness="rho(J) = |lam|, log-uniform in [10, 1e4]",
    description="y' = lam (y - cos(omega t)) - omega sin(omega t); exact cos(omega t) + (y0 - 1) e^{lam t}",
    rho_range=(10.0, 1.0e4),
    param_names=("lam", "omega"),
)

# --------------------------------------------------------------------------- Van der Pol, large mu


def _van_der_pol_stiff_sample(rng, n):
    mu = loguniform(rng, 10.0, 1000.0, n)
    x0 = signed(rng, 1.5, 2.5, n)
    # Near the slow manifold v = x / (mu (1 - x^2)), plus a kick that starts a fast transient.
    kick = uniform(rng, -0.2, 0.2, n)
    return pack(mu), pack(x0, x0 / (mu * (1.0 - x0 * x0)) + kick)


VAN_DER_POL_STIFF = Family(
    name="van_der_pol_stiff",
    dim=2,
    n_params=1,
    stiff=True,
    rhs=_van_der_pol_rhs,
    rhs_block=_van_der_pol_block,
    sample=_van_der_pol_stiff_sample,
    param_ranges={"mu": (10.0, 1000.0), "|x0|": (1.5, 2.5), "v0 - slow manifold": (-0.2, 0.2)},
    stiffness="rho(J) ~ mu (x^2 - 1), in about [12, 5300] on the sampled states",
    description="x' = v, v' = mu (1 - x^2) v - x with large mu (same rhs as van_der_pol)",
    rho_range=(10.0, 5500.0),
    param_names=("mu",),
)

# --------------------------------------------------------------------------- Robertson, scaled


@njit(cache=True, error_model="numpy")
def _robertson_rhs(t, y, p, dydt):
    k1 = p[0]
    r = p[1]
    k3 = p[2]
    a = y[0]
    b = y[1]
    c = y[2]
    dydt[0] = -k1 * a + (k1 * k3 / r) * b * c
    dydt[1] = r * (a - b * b) - k3 * b * c
    dydt[2] = k1 * b * b


@njit(cache=True, error_model="numpy")
def _robertson_block(t, Y, P, dYdt):
    for j in range(Y.shape[1]):
        k1 = P[0, j]
        r = P[1, j]
        k3 = P[2, j]
        a = Y[0, j]
        b = Y[1, j]
        c = Y[2, j]
        dYdt[0, j] = -k1 * a + (k1 * k3 / r) * b * c
        dYdt[1, j] = r * (a - b * b) - k3 * b * c
        dYdt[2, j] = k1 * b * b


def _robertson_sample(rng, n):
    k1 = uniform(rng, 0.02, 0.08, n)
    r = loguniform(rng, 30.0, 3000.0, n)
    k3 = loguniform(rng, 100.0, 1.0e4, n)
    a0 = uniform(rng, 0.7, 1.0, n)
    b0 = uniform(rng, 0.2, 1.2, n)
    c0 = uniform(rng, 0.0, 0.3, n)
    return pack(k1, r, k3), pack(a0, b0, c0)


ROBERTSON = Family(
    name="robertson",
    dim=3,
    n_params=3,
    stiff=True,
    rhs=_robertson_rhs,
    rhs_block=_robertson_block,
    sample=_robertson_sample,
    param_ranges={
        "k1": (0.02, 0.08),
        "r": (30.0, 3000.0),
        "k3": (100.0, 1.0e4),
        "a0": (0.7, 1.0),
        "b0": (0.2, 1.2),
        "c0": (0.0, 0.3),
    },
    stiffness="rho(J) ~ 2 r b + k3 c, in about [10, 1.1e4] on the sampled states",
    description=(
        "Robertson kinetics A->B (k1), B+B->C+B (k2), B+C->A+C (k3) with B measured in units of its "
        "quasi-steady level sqrt(k1/k2): a' = -k1 a + (k1 k3 / r) b c, b' = r (a - b^2) - k3 b c, "
        "c' = k1 b^2, r = sqrt(k1 k2); a + (k1/r) b + c is conserved"
    ),
    rho_range=(10.0, 1.1e4),
    param_names=("k1", "r", "k3"),
)
