"""Non-stiff oscillators: exponential, harmonic, damped, pendulum, Duffing, Van der Pol, FPU chain.

Every family follows :mod:`rkcore.problems.base`: ``rhs(t, y, p, dydt)`` for one ODE,
``rhs_block(t, Y, P, dYdt)`` for a state-major block (dim, m) with the loop over the
``m`` ODEs innermost, a ``sample(rng, n)`` drawing ``(params (n, k), y0 (n, d))`` and,
where one exists, ``exact(t, y0, params, t0=0.0)``.  Stiffness measures quoted here are
``rho(J)``, the spectral radius of the Jacobian at the sampled initial states.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._sampling import pack, signed, uniform
from .base import Family

# --------------------------------------------------------------------------- exponential


@njit(cache=True, error_model="numpy")
def _exponential_rhs(t, y, p, dydt):
    dydt[0] = p[0] * y[0]


@njit(cache=True, error_model="numpy")
def _exponential_block(t, Y, P, dYdt):
    for j in range(Y.shape[1]):
        dYdt[0, j] = P[0, j] * Y[0, j]


def _exponential_sample(rng, n):
    lam = uniform(rng, -2.0, 2.0, n)
    y0 = signed(rng, 0.5, 2.0, n)
    return pack(lam), pack(y0)


def _exponential_exact(t, y0, params, t0=0.0):
    return y0 * np.exp(params[:, :1] * (t - t0))


EXPONENTIAL = Family(
    name="exponential",
    dim=1,
    n_params=1,
    stiff=False,
    rhs=_exponential_rhs,
    rhs_block=_exponential_block,
    sample=_exponential_sample,
    exact=_exponential_exact,
    param_ranges={"lam": (-2.0, 2.0), "|y0|": (0.5, 2.0)},
    stiffness="rho(J) = |lam| <= 2",
    description="y' = lam*y (decay or growth); exact y0*exp(lam*t)",
    rho_range=(0.0, 2.0),
    param_names=("lam",),
)

# --------------------------------------------------------------------------- harmonic


@njit(cache=True, error_model="numpy")
def _harmonic_rhs(t, y, p, dydt):
    w = p[0]
    dydt[0] = y[1]
    dydt[1] = -w * w * y[0]


@njit(cache=True, error_model="numpy")
def _harmonic_block(t, Y, P, dYdt):
    for j in range(Y.shape[1]):
        w = P[0, j]
        dYdt[0, j] = Y[1, j]
        dYdt[1, j] = -w * w * Y[0, j]


def _harmonic_sample(rng, n):
    w = uniform(rng, 0.5, 5.0, n)
    amp = uniform(rng, 0.5, 1.5, n)
    phase = uniform(rng, 0.0, 2.0 * np.pi, n)
    return pack(w), pack(amp * np.cos(phase), -amp * w * np.sin(phase))


def _harmonic_exact(t, y0, params, t0=0.0):
    w = params[:, 0]
    c, s = np.cos(w * (t - t0)), np.sin(w * (t - t0))
    q0, p0 = y0[:, 0], y0[:, 1]
    return pack(q0 * c + p0 / w * s, -q0 * w * s + p0 * c)


HARMONIC = Family(
    name="harmonic",
    dim=2,
    n_params=1,
    stiff=False,
    rhs=_harmonic_rhs,
    rhs_block=_harmonic_block,
    sample=_harmonic_sample,
    exact=_harmonic_exact,
    param_ranges={"omega": (0.5, 5.0), "amplitude": (0.5, 1.5)},
    stiffness="eigenvalues +-i*omega, rho(J) = omega in [0.5, 5]",
    description="q' = p, p' = -omega^2 q; exact rotation",
    rho_range=(0.5, 5.0),
    param_names=("omega",),
)

# --------------------------------------------------------------------------- damped oscillator


@njit(cache=True, error_model="numpy")
def _damped_rhs(t, y, p, dydt):
    zeta = p[0]
    w = p[1]
    dydt[0] = y[1]
    dydt[1] = -2.0 * zeta * w * y[1] - w * w * y[0]


@njit(cache=True, error_model="numpy")
def _damped_block(t, Y, P, dYdt):
    for j in range(Y.shape[1]):
        zeta = P[0, j]
        w = P[1, j]
        dYdt[0, j] = Y[1, j]
        dYdt[1, j] = -2.0 * zeta * w * Y[1, j] - w * w * Y[0, j]


def _damped_sample(rng, n):
    zeta = uniform(rng, 0.05, 0.9, n)
    w = uniform(rng, 0.5, 5.0, n)
    x0 = signed(rng, 0.5, 1.5, n)
    v0 = uniform(rng, -2.0, 2.0, n)
    return pack(zeta, w), pack(x0, v0)


def _damped_exact(t, y0, params, t0=0.0):
    zeta, w = params[:, 0], params[:, 1]
    dt = t - t0
    wd = w * np.sqrt(1.0 - zeta * zeta)
    decay = np.exp(-zeta * w * dt)
    c, s = np.cos(wd * dt), np.sin(wd * dt)
    x0, v0 = y0[:, 0], y0[:, 1]
    x = decay * (x0 * c + (v0 + zeta * w * x0) / wd * s)
    v = decay * (v0 * c - (w * w * x0 + zeta * w * v0) / wd * s)
    return pack(x, v)


DAMPED_OSCILLATOR = Family(
    name="damped_oscillator",
    dim=2,
    n_params=2,
    stiff=False,
    rhs=_damped_rhs,
    rhs_block=_damped_block,
    sample=_damped_sample,
    exact=_damped_exact,
    param_ranges={"zeta": (0.05, 0.9), "omega": (0.5, 5.0), "|x0|": (0.5, 1.5), "v0": (-2.0, 2.0)},
    stiffness="eigenvalues -zeta*omega +- i*omega*sqrt(1-zeta^2), rho(J) = omega in [0.5, 5]",
    description="x' = v, v' = -2 zeta omega v - omega^2 x (underdamped); exact",
    rho_range=(0.5, 5.0),
    param_names=("zeta", "omega"),
)

# --------------------------------------------------------------------------- pendulum


@njit(cache=True, error_model="numpy")
def _pendulum_rhs(t, y, p, dydt):
    dydt[0] = y[1]
    dydt[1] = -p[0] * np.sin(y[0])


@njit(cache=True, error_model="numpy")
def _pendulum_block(t, Y, P, dYdt):
    for j in range(Y.shape[1]):
        dYdt[0, j] = Y[1, j]
        dYdt[1, j] = -P[0, j] * np.sin(Y[0, j])


def _pendulum_sample(rng, n):
    g_over_l = uniform(rng, 1.0, 25.0, n)
    theta0 = signed(rng, 0.2, 2.5, n)
    omega0 = uniform(rng, -2.0, 2.0, n)
    return pack(g_over_l), pack(theta0, omega0)


PENDULUM = Family(
    name="pendulum",
    dim=2,
    n_params=1,
    stiff=False,
    rhs=_pendulum_rhs,
    rhs_block=_pendulum_block,
    sample=_pendulum_sample,
    param_ranges={"g_over_l": (1.0, 25.0), "|theta0|": (0.2, 2.5), "omega0": (-2.0, 2.0)},
    stiffness="rho(J) = sqrt(g/l * |cos theta|) <= 5",
    description="theta' = omega, omega' = -(g/l) sin(theta)",
    rho_range=(0.0, 5.0),
    param_names=("g_over_l",),
)

# --------------------------------------------------------------------------- Duffing


@njit(cache=True, error_model="numpy")
def _duffing_rhs(t, y, p, dydt):
    x = y[0]
    v = y[1]
    dydt[0] = v
    dydt[1] = p[3] * np.cos(p[4] * t) - p[0] * v - p[1] * x - p[2] * x * x * x


@njit(cache=True, error_model="numpy")
def _duffing_block(t, Y, P, dYdt):
    for j in range(Y.shape[1]):
        x = Y[0, j]
        v = Y[1, j]
        dYdt[0, j] = v
        dYdt[1, j] = P[3, j] * np.cos(P[4, j] * t) - P[0, j] * v - P[1, j] * x - P[2, j] * x * x * x


def _duffing_sample(rng, n):
    delta = uniform(rng, 0.1, 0.5, n)
    alpha = uniform(rng, -1.0, 1.0, n)
    beta = uniform(rng, 0.5, 2.0, n)
    gamma = uniform(rng, 0.0, 1.0, n)
    omega = uniform(rng, 0.5, 2.0, n)
    x0 = signed(rng, 0.3, 1.5, n)
    v0 = uniform(rng, -1.5, 1.5, n)
    return pack(delta, alpha, beta, gamma, omega), pack(x0, v0)


DUFFING = Family(
    name="duffing",
    dim=2,
    n_params=5,
    stiff=False,
    rhs=_duffing_rhs,
    rhs_block=_duffing_block,
    sample=_duffing_sample,
    param_ranges={
        "delta": (0.1, 0.5),
        "alpha": (-1.0, 1.0),
        "beta": (0.5, 2.0),
        "gamma": (0.0, 1.0),
        "omega": (0.5, 2.0),
        "|x0|": (0.3, 1.5),
        "v0": (-1.5, 1.5),
    },
    stiffness="rho(J) <= sqrt(|alpha| + 3 beta x^2) + delta, about 3.6 at most",
    description="x' = v, v' = gamma cos(omega t) - delta v - alpha x - beta x^3 (forced, non-autonomous)",
    rho_range=(0.0, 4.0),
    param_names=("delta", "alpha", "beta", "gamma", "omega"),
)

# --------------------------------------------------------------------------- Van der Pol


@njit(cache=True, error_model="numpy")
def _van_der_pol_rhs(t, y, p, dydt):
    x = y[0]
    v = y[1]
    dydt[0] = v
    dydt[1] = p[0] * (1.0 - x * x) * v - x


@njit(cache=True, error_model="numpy")
def _van_der_pol_block(t, Y, P, dYdt):
    for j in range(Y.shape[1]):
        x = Y[0, j]
        v = Y[1, j]
        dYdt[0, j] = v
        dYdt[1, j] = P[0, j] * (1.0 - x * x) * v - x


def _van_der_pol_sample(rng, n):
    mu = uniform(rng, 0.1, 2.0, n)
    x0 = signed(rng, 0.5, 2.0, n)
    v0 = uniform(rng, -2.0, 2.0, n)
    return pack(mu), pack(x0, v0)


VAN_DER_POL = Family(
    name="van_der_pol",
    dim=2,
    n_params=1,
    stiff=False,
    rhs=_van_der_pol_rhs,
    rhs_block=_van_der_pol_block,
    sample=_van_der_pol_sample,
    param_ranges={"mu": (0.1, 2.0), "|x0|": (0.5, 2.0), "v0": (-2.0, 2.0)},
    stiffness="rho(J) <= |mu (1 - x^2)| + 2 mu |x v| + 1, below about 8 on the sampled states",
    description="x' = v, v' = mu (1 - x^2) v - x (small mu, non-stiff)",
    rho_range=(0.0, 8.0),
    param_names=("mu",),
)

# --------------------------------------------------------------------------- FPU-beta chain

FPU_MASSES = 8  # a true constant: the chain length fixes the family's dimension


@njit(cache=True, error_model="numpy")
def _fpu_rhs(t, y, p, dydt):
    n = y.shape[0] // 2
    w2 = p[0] * p[0]
    beta = p[1]
    for i in range(n):
        dydt[i] = y[n + i]
    for i in range(n):
        left = y[i] - (y[i - 1] if i > 0 else 0.0)
        right = (y[i + 1] if i < n - 1 else 0.0) - y[i]
        dydt[n + i] = w2 * (right - left) + beta * (right * right * right - left * left * left)


@njit(cache=True, error_model="numpy")
def _fpu_block(t, Y, P, dYdt):
    n = Y.shape[0] // 2
    m = Y.shape[1]
    for i in range(n):
        for j in range(m):
            dYdt[i, j] = Y[n + i, j]
    for i in range(n):
        # The end masses see a fixed wall; the branch is uniform over j, so LLVM hoists it.
        has_left = i > 0
        has_right = i < n - 1
        for j in range(m):
            w = P[0, j]
            beta = P[1, j]
            left = Y[i, j] - (Y[i - 1, j] if has_left else 0.0)
            right = (Y[i + 1, j] if has_right else 0.0) - Y[i, j]
            dYdt[n + i, j] = w * w * (right - left) + beta * (right * right * right - left * left * left)


def _fpu_sample(rng, n):
    w = uniform(rng, 0.5, 3.0, n)
    beta = uniform(rng, 0.0, 1.0, n)
    q0 = rng.uniform(-1.0, 1.0, size=(n, FPU_MASSES))
    p0 = rng.uniform(-1.0, 1.0, size=(n, FPU_MASSES))
    return pack(w, beta), np.ascontiguousarray(np.concatenate([q0, p0], axis=1))


FPU_CHAIN = Family(
    name="fpu_chain",
    dim=2 * FPU_MASSES,
    n_params=2,
    stiff=False,
    rhs=_fpu_rhs,
    rhs_block=_fpu_block,
    sample=_fpu_sample,
    param_ranges={"omega": (0.5, 3.0), "beta": (0.0, 1.0), "q0, p0": (-1.0, 1.0)},
    stiffness="rho(J) <= 2 sqrt(omega^2 + 3 beta max (dq)^2), below about 9 on the sampled states",
    description=(
        "Fermi-Pasta-Ulam-beta chain of 8 unit masses, fixed ends: q' = p, "
        "p_i' = V'(q_{i+1}-q_i) - V'(q_i-q_{i-1}), V'(r) = omega^2 r + beta r^3; y = (q, p)"
    ),
    rho_range=(0.0, 9.0),
    param_names=("omega", "beta"),
)
