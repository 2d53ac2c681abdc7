"""Linear advection--diffusion by the method of lines: a family of one's own, worked through.

``u_t + a u_x = nu u_xx`` on the periodic interval ``[0, 2 pi)``, discretised on ``N = 24``
equispaced points with central differences (``dx = 2 pi / N``)::

    du_i/dt = -a (u_{i+1} - u_{i-1}) / (2 dx) + nu (u_{i+1} - 2 u_i + u_{i-1}) / dx^2

The system is linear with a circulant matrix, so its eigenvectors are the discrete Fourier
modes ``exp(i j x)``, ``j = 0..N-1``, with eigenvalues (``theta = 2 pi j / N``)::

    lambda_j = -i a sin(theta) / dx - 4 nu sin^2(theta / 2) / dx^2

an ellipse in the left half-plane: imaginary extent ``a / dx`` (advection, up to 7.6 here),
real extent ``4 nu / dx^2`` (diffusion, up to 2.9).  A method suited to it needs a stability
region that reaches far along the imaginary axis and somewhat to the left of it; with
``t_end = 1`` the problems are not stiff (``rho(J) t_end`` at most about 8).  The closed
form evolves each Fourier mode by ``exp(lambda_j t)`` (:func:`advection_exact`, by FFT).

Parameters ``p = (a, nu)``: speed ``a`` uniform on ``[0.5, 2]``, diffusivity ``nu``
log-uniform on ``[0.005, 0.05]``.  Initial states: ``1 + `` a random combination of the
Fourier modes 1..4 (amplitudes decaying as ``1/j``) plus a small one of mode ``N/2 - 1``, so
the fast end of the spectrum is excited too.

Name it in a profile as ``families = ["examples.advection:ADVECTION"]`` and score the
library on it with ``rkcore evaluate --families examples.advection:ADVECTION -m rk4``, both
from the root of the clone.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from rkcore import Family

POINTS = 24  # grid points, the state dimension
SPEED = (0.5, 2.0)
DIFFUSIVITY = (0.005, 0.05)


@njit(cache=True)
def advection_rhs(t, y, p, dydt):
    """One ODE: ``y`` (N,), ``p`` = (a, nu), writes ``dydt`` (N,)."""
    n = y.shape[0]
    dx = 2.0 * np.pi / n
    advect = p[0] / (2.0 * dx)
    diffuse = p[1] / (dx * dx)
    for i in range(n):
        left = y[i - 1]  # i = 0 wraps to y[n - 1]: periodic
        right = y[(i + 1) % n]
        dydt[i] = -advect * (right - left) + diffuse * (right - 2.0 * y[i] + left)


@njit(cache=True)
def advection_block(t, Y, P, dYdt):
    """A block of ODEs, state-major: ``Y`` (N, m), ``P`` (2, m), writes ``dYdt`` (N, m)."""
    n, m = Y.shape
    dx = 2.0 * np.pi / n
    for i in range(n):
        left = i - 1 if i > 0 else n - 1
        right = i + 1 if i < n - 1 else 0
        for j in range(m):  # innermost over the ODEs, so that it vectorises
            advect = P[0, j] / (2.0 * dx)
            diffuse = P[1, j] / (dx * dx)
            u_left, u, u_right = Y[left, j], Y[i, j], Y[right, j]
            dYdt[i, j] = -advect * (u_right - u_left) + diffuse * (u_right - 2.0 * u + u_left)


def eigenvalues(a: float, nu: float, n: int = POINTS) -> np.ndarray:
    """The spectrum ``lambda_j``, ``j = 0..n-1``, of the discretised operator, shape (n,) complex."""
    dx = 2.0 * np.pi / n
    theta = 2.0 * np.pi * np.arange(n) / n
    return -1j * a * np.sin(theta) / dx - 4.0 * nu * np.sin(theta / 2.0) ** 2 / dx**2


def advection_exact(t, y0, params, t0=0.0):
    """Closed form at ``t``: each Fourier mode times ``exp(lambda_j (t - t0))``.

    Parameters
    ----------
    t, t0 : float
    y0 : ndarray, shape (n, N)
    params : ndarray, shape (n, 2)

    Returns
    -------
    ndarray, shape (n, N)
    """
    y0 = np.asarray(y0, dtype=np.float64)
    n_points = y0.shape[1]
    dx = 2.0 * np.pi / n_points
    theta = 2.0 * np.pi * np.arange(n_points) / n_points
    a, nu = params[:, :1], params[:, 1:2]
    lam = -1j * a * np.sin(theta) / dx - 4.0 * nu * np.sin(theta / 2.0) ** 2 / dx**2
    # numpy's FFT: the shift u_{i+1} multiplies mode j by exp(+i theta_j), as lambda_j assumes.
    return np.fft.ifft(np.exp(lam * (t - t0)) * np.fft.fft(y0, axis=1), axis=1).real


def advection_sample(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` problems from the seeded ``rng``: ``(params (n, 2), y0 (n, N))``."""
    a = rng.uniform(*SPEED, size=n)
    nu = np.exp(rng.uniform(np.log(DIFFUSIVITY[0]), np.log(DIFFUSIVITY[1]), size=n))
    x = 2.0 * np.pi * np.arange(POINTS) / POINTS
    modes = np.arange(1, 5)
    cos_amp = rng.uniform(-1.0, 1.0, size=(n, modes.size)) / modes
    sin_amp = rng.uniform(-1.0, 1.0, size=(n, modes.size)) / modes
    fast = rng.uniform(-0.05, 0.05, size=(n, 1))
    y0 = (
        1.0
        + cos_amp @ np.cos(np.outer(modes, x))
        + sin_amp @ np.sin(np.outer(modes, x))
        + fast * np.cos((POINTS // 2 - 1) * x)
    )
    return np.stack([a, nu], axis=1), np.ascontiguousarray(y0)


def _rho(a: float, nu: float) -> float:
    return float(np.max(np.abs(eigenvalues(a, nu))))


ADVECTION = Family(
    name="advection",
    dim=POINTS,
    n_params=2,
    stiff=False,
    rhs=advection_rhs,
    rhs_block=advection_block,
    sample=advection_sample,
    exact=advection_exact,
    param_ranges={"a": SPEED, "nu": DIFFUSIVITY},
    stiffness=f"non-stiff at t_end ~ 1: rho(J) t_end from {_rho(SPEED[0], DIFFUSIVITY[0]):.1f} "
    f"to {_rho(SPEED[1], DIFFUSIVITY[1]):.1f}",
    description="u_t + a u_x = nu u_xx, periodic on [0, 2 pi), 24 points, central differences",
    rho_range=(_rho(SPEED[0], DIFFUSIVITY[0]), _rho(SPEED[1], DIFFUSIVITY[1])),
    param_names=("a", "nu"),
)
