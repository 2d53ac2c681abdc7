"""Stiff PDEs by the method of lines: 1-D Brusselator and heat equation.

Grid: ``N`` interior points ``x_i = i / (N + 1)``, ``i = 1..N``, second differences
``(u_{i-1} - 2 u_i + u_{i+1}) (N + 1)^2`` with Dirichlet boundary values.  The
diffusion spectrum has radius ``4 D (N + 1)^2 sin^2(N pi / (2 (N + 1)))`` for
diffusivity ``D``; that is the stiffness.  Initial states include a small component
along the highest grid mode, so the stiff transient is really excited.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._sampling import loguniform, pack, signed, uniform
from .base import Family

BRUSSELATOR_POINTS = 16  # interior grid points; the state is (u, v), dimension 32
HEAT_POINTS = 32


def _grid(n_points: int) -> np.ndarray:
    """Interior grid points, shape (n_points,)."""
    return np.arange(1, n_points + 1) / (n_points + 1)


def _diffusion_radius(n_points: int) -> float:
    """Spectral radius of the unit-diffusivity Dirichlet Laplacian on ``n_points`` points."""
    return 4.0 * (n_points + 1) ** 2 * np.sin(n_points * np.pi / (2 * (n_points + 1))) ** 2


# --------------------------------------------------------------------------- Brusselator


@njit(cache=True, error_model="numpy")
def _brusselator_rhs(t, y, p, dydt):
    n = y.shape[0] // 2
    a = p[0]
    b = p[1]
    diff = p[2] * float((n + 1) * (n + 1))
    u_wall = a
    v_wall = b / a
    for i in range(n):
        u = y[i]
        v = y[n + i]
        u_left = y[i - 1] if i > 0 else u_wall
        u_right = y[i + 1] if i < n - 1 else u_wall
        v_left = y[n + i - 1] if i > 0 else v_wall
        v_right = y[n + i + 1] if i < n - 1 else v_wall
        uuv = u * u * v
        dydt[i] = a + uuv - (b + 1.0) * u + diff * (u_left - 2.0 * u + u_right)
        dydt[n + i] = b * u - uuv + diff * (v_left - 2.0 * v + v_right)


@njit(cache=True, error_model="numpy")
def _brusselator_block(t, Y, P, dYdt):
    n = Y.shape[0] // 2
    m = Y.shape[1]
    scale = float((n + 1) * (n + 1))
    for i in range(n):
        # Uniform over j, so the boundary branches are hoisted out of the vector loop.
        has_left = i > 0
        has_right = i < n - 1
        for j in range(m):
            a = P[0, j]
            b = P[1, j]
            diff = P[2, j] * scale
            u = Y[i, j]
            v = Y[n + i, j]
            u_left = Y[i - 1, j] if has_left else a
            u_right = Y[i + 1, j] if has_right else a
            v_left = Y[n + i - 1, j] if has_left else b / a
            v_right = Y[n + i + 1, j] if has_right else b / a
            uuv = u * u * v
            dYdt[i, j] = a + uuv - (b + 1.0) * u + diff * (u_left - 2.0 * u + u_right)
            dYdt[n + i, j] = b * u - uuv + diff * (v_left - 2.0 * v + v_right)


def _brusselator_sample(rng, n):
    a = uniform(rng, 0.8, 1.2, n)
    b = uniform(rng, 2.0, 3.5, n)
    alpha = loguniform(rng, 0.02, 5.0, n)
    c_u = signed(rng, 0.2, 0.7, n)
    c_v = uniform(rng, -0.5, 0.5, n)
    c_high = uniform(rng, -0.05, 0.05, n)
    x = _grid(BRUSSELATOR_POINTS)
    high = np.sin(BRUSSELATOR_POINTS * np.pi * x)
    u0 = a[:, None] + c_u[:, None] * np.sin(2.0 * np.pi * x) + c_high[:, None] * high
    v0 = (b / a)[:, None] + c_v[:, None] * np.sin(np.pi * x) - c_high[:, None] * high
    return pack(a, b, alpha), np.ascontiguousarray(np.concatenate([u0, v0], axis=1))


_BRUSSELATOR_RHO = _diffusion_radius(BRUSSELATOR_POINTS)

BRUSSELATOR_1D = Family(
    name="brusselator_1d",
    dim=2 * BRUSSELATOR_POINTS,
    n_params=3,
    stiff=True,
    rhs=_brusselator_rhs,
    rhs_block=_brusselator_block,
    sample=_brusselator_sample,
    param_ranges={
        "A": (0.8, 1.2),
        "B": (2.0, 3.5),
        "alpha": (0.02, 5.0),
        "|c_u|": (0.2, 0.7),
        "c_v": (-0.5, 0.5),
        "c_high": (-0.05, 0.05),
    },
    stiffness=(
        f"rho(J) ~ {_BRUSSELATOR_RHO:.0f} alpha + O(B + u^2), so about [20, 5800] (diffusion on 16 points)"
    ),
    description=(
        "u_t = A + u^2 v - (B+1) u + alpha u_xx, v_t = B u - u^2 v + alpha v_xx on (0, 1), "
        "u = A, v = B/A at both ends, 16 interior points, y = (u, v); "
        "u0 = A + c_u sin(2 pi x) + c_high sin(16 pi x), v0 = B/A + c_v sin(pi x) - c_high sin(16 pi x)"
    ),
    rho_range=(15.0, 5900.0),
    param_names=("A", "B", "alpha"),
)

# --------------------------------------------------------------------------- heat equation


@njit(cache=True, error_model="numpy")
def _heat_rhs(t, y, p, dydt):
    n = y.shape[0]
    diff = p[0] * float((n + 1) * (n + 1))
    for i in range(n):
        left = y[i - 1] if i > 0 else 0.0
        right = y[i + 1] if i < n - 1 else 0.0
        dydt[i] = diff * (left - 2.0 * y[i] + right)


@njit(cache=True, error_model="numpy")
def _heat_block(t, Y, P, dYdt):
    n = Y.shape[0]
    m = Y.shape[1]
    scale = float((n + 1) * (n + 1))
    for i in range(n):
        has_left = i > 0
        has_right = i < n - 1
        for j in range(m):
            left = Y[i - 1, j] if has_left else 0.0
            right = Y[i + 1, j] if has_right else 0.0
            dYdt[i, j] = P[0, j] * scale * (left - 2.0 * Y[i, j] + right)


def _sine_modes(n_points: int) -> np.ndarray:
    """Symmetric DST-I matrix ``S[k, i] = sin((k+1)(i+1) pi / (n_points+1))``; ``S @ S = (N+1)/2 I``."""
    k = np.arange(1, n_points + 1)
    return np.sin(np.outer(k, k) * np.pi / (n_points + 1))


def _heat_sample(rng, n):
    kappa = loguniform(rng, 0.01, 2.3, n)
    k = np.arange(1, HEAT_POINTS + 1)
    coeff = rng.normal(0.0, 0.5, size=(n, HEAT_POINTS)) / k
    coeff[:, 0] = signed(rng, 0.5, 1.5, n)
    coeff[:, -1] = uniform(rng, -0.05, 0.05, n)
    y0 = coeff @ _sine_modes(HEAT_POINTS)
    return pack(kappa), np.ascontiguousarray(y0)


def _heat_exact(t, y0, params, t0=0.0):
    n_points = y0.shape[1]
    modes = _sine_modes(n_points)
    k = np.arange(1, n_points + 1)
    lam = -4.0 * (n_points + 1) ** 2 * np.sin(k * np.pi / (2 * (n_points + 1))) ** 2
    coeff = (y0 @ modes) * (2.0 / (n_points + 1))
    coeff *= np.exp(params[:, :1] * lam[None, :] * (t - t0))
    return np.ascontiguousarray(coeff @ modes)


_HEAT_RHO = _diffusion_radius(HEAT_POINTS)

HEAT_1D = Family(
    name="heat_1d",
    dim=HEAT_POINTS,
    n_params=1,
    stiff=True,
    rhs=_heat_rhs,
    rhs_block=_heat_block,
    sample=_heat_sample,
    exact=_heat_exact,
    param_ranges={"kappa": (0.01, 2.3), "|c_1|": (0.5, 1.5), "c_32": (-0.05, 0.05)},
    stiffness=f"rho(J) = {_HEAT_RHO:.0f} kappa, so about [43, 1.0e4]",
    description=(
        "u_t = kappa u_xx on (0, 1), u = 0 at both ends, 32 interior points; u0 = sum_k c_k sin(k pi x) "
        "with c_1 dominant, c_k ~ N(0, 0.5)/k, a small c_32; exact through the discrete sine modes"
    ),
    rho_range=(40.0, 1.0e4),
    param_names=("kappa",),
)
