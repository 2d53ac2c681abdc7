"""Non-stiff nonlinear dynamics: Lotka-Volterra, FitzHugh-Nagumo, Lorenz, Kepler, rigid body.

Conventions as in :mod:`rkcore.problems.oscillators`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._sampling import pack, signed, uniform
from .base import Family

# --------------------------------------------------------------------------- Lotka-Volterra


@njit(cache=True, error_model="numpy")
def _lotka_volterra_rhs(t, y, p, dydt):
    x = y[0]
    z = y[1]
    dydt[0] = p[0] * x - p[1] * x * z
    dydt[1] = p[3] * x * z - p[2] * z


@njit(cache=True, error_model="numpy")
def _lotka_volterra_block(t, Y, P, dYdt):
    for j in range(Y.shape[1]):
        x = Y[0, j]
        z = Y[1, j]
        dYdt[0, j] = P[0, j] * x - P[1, j] * x * z
        dYdt[1, j] = P[3, j] * x * z - P[2, j] * z


def _lotka_volterra_sample(rng, n):
    alpha = uniform(rng, 0.5, 1.5, n)
    beta = uniform(rng, 0.5, 1.5, n)
    gamma = uniform(rng, 0.5, 1.5, n)
    delta = uniform(rng, 0.5, 1.5, n)
    x0 = uniform(rng, 0.5, 2.0, n)
    z0 = uniform(rng, 0.5, 2.0, n)
    return pack(alpha, beta, gamma, delta), pack(x0, z0)


LOTKA_VOLTERRA = Family(
    name="lotka_volterra",
    dim=2,
    n_params=4,
    stiff=False,
    rhs=_lotka_volterra_rhs,
    rhs_block=_lotka_volterra_block,
    sample=_lotka_volterra_sample,
    param_ranges={
        "alpha": (0.5, 1.5),
        "beta": (0.5, 1.5),
        "gamma": (0.5, 1.5),
        "delta": (0.5, 1.5),
        "x0, z0": (0.5, 2.0),
    },
    stiffness="rho(J) <= |alpha - beta z| + |delta x - gamma| + ..., below about 4 on the sampled states",
    description="x' = alpha x - beta x z, z' = delta x z - gamma z (prey x, predator z)",
    rho_range=(0.0, 4.0),
    param_names=("alpha", "beta", "gamma", "delta"),
)

# --------------------------------------------------------------------------- FitzHugh-Nagumo


@njit(cache=True, error_model="numpy")
def _fitzhugh_nagumo_rhs(t, y, p, dydt):
    v = y[0]
    w = y[1]
    dydt[0] = v - v * v * v / 3.0 - w + p[3]
    dydt[1] = p[2] * (v + p[0] - p[1] * w)


@njit(cache=True, error_model="numpy")
def _fitzhugh_nagumo_block(t, Y, P, dYdt):
    for j in range(Y.shape[1]):
        v = Y[0, j]
        w = Y[1, j]
        dYdt[0, j] = v - v * v * v / 3.0 - w + P[3, j]
        dYdt[1, j] = P[2, j] * (v + P[0, j] - P[1, j] * w)


def _fitzhugh_nagumo_sample(rng, n):
    a = uniform(rng, 0.5, 0.9, n)
    b = uniform(rng, 0.6, 0.9, n)
    eps = uniform(rng, 0.05, 0.2, n)
    current = uniform(rng, 0.0, 1.0, n)
    v0 = signed(rng, 0.2, 2.0, n)
    w0 = uniform(rng, -1.0, 1.5, n)
    return pack(a, b, eps, current), pack(v0, w0)


FITZHUGH_NAGUMO = Family(
    name="fitzhugh_nagumo",
    dim=2,
    n_params=4,
    stiff=False,
    rhs=_fitzhugh_nagumo_rhs,
    rhs_block=_fitzhugh_nagumo_block,
    sample=_fitzhugh_nagumo_sample,
    param_ranges={
        "a": (0.5, 0.9),
        "b": (0.6, 0.9),
        "eps": (0.05, 0.2),
        "I": (0.0, 1.0),
        "|v0|": (0.2, 2.0),
        "w0": (-1.0, 1.5),
    },
    stiffness="rho(J) <= |1 - v^2| + 1, below about 3.5 on the sampled states",
    description="v' = v - v^3/3 - w + I, w' = eps (v + a - b w)",
    rho_range=(0.0, 3.5),
    param_names=("a", "b", "eps", "I"),
)

# --------------------------------------------------------------------------- Lorenz


@njit(cache=True, error_model="numpy")
def _lorenz_rhs(t, y, p, dydt):
    dydt[0] = p[0] * (y[1] - y[0])
    dydt[1] = y[0] * (p[1] - y[2]) - y[1]
    dydt[2] = y[0] * y[1] - p[2] * y[2]


@njit(cache=True, error_model="numpy")
def _lorenz_block(t, Y, P, dYdt):
    for j in range(Y.shape[1]):
        x = Y[0, j]
        u = Y[1, j]
        z = Y[2, j]
        dYdt[0, j] = P[0, j] * (u - x)
        dYdt[1, j] = x * (P[1, j] - z) - u
        dYdt[2, j] = x * u - P[2, j] * z


def _lorenz_sample(rng, n):
    sigma = uniform(rng, 8.0, 12.0, n)
    rho = uniform(rng, 20.0, 30.0, n)
    beta = uniform(rng, 2.0, 3.0, n)
    x0 = signed(rng, 1.0, 12.0, n)
    u0 = signed(rng, 1.0, 12.0, n)
    z0 = uniform(rng, 10.0, 35.0, n)
    return pack(sigma, rho, beta), pack(x0, u0, z0)


LORENZ = Family(
    name="lorenz",
    dim=3,
    n_params=3,
    stiff=False,
    rhs=_lorenz_rhs,
    rhs_block=_lorenz_block,
    sample=_lorenz_sample,
    param_ranges={
        "sigma": (8.0, 12.0),
        "rho": (20.0, 30.0),
        "beta": (2.0, 3.0),
        "|x0|, |y0|": (1.0, 12.0),
        "z0": (10.0, 35.0),
    },
    stiffness="rho(J) in about [10, 25]; chaotic, so only short horizons (t_end <= 0.25) are meaningful",
    description="x' = sigma (y - x), y' = x (rho - z) - y, z' = x y - beta z",
    rho_range=(5.0, 25.0),
    param_names=("sigma", "rho", "beta"),
)

# --------------------------------------------------------------------------- Kepler


@njit(cache=True, error_model="numpy")
def _kepler_rhs(t, y, p, dydt):
    qx = y[0]
    qy = y[1]
    r2 = qx * qx + qy * qy
    k = -p[0] / (r2 * np.sqrt(r2))
    dydt[0] = y[2]
    dydt[1] = y[3]
    dydt[2] = k * qx
    dydt[3] = k * qy


@njit(cache=True, error_model="numpy")
def _kepler_block(t, Y, P, dYdt):
    for j in range(Y.shape[1]):
        qx = Y[0, j]
        qy = Y[1, j]
        r2 = qx * qx + qy * qy
        k = -P[0, j] / (r2 * np.sqrt(r2))
        dYdt[0, j] = Y[2, j]
        dYdt[1, j] = Y[3, j]
        dYdt[2, j] = k * qx
        dYdt[3, j] = k * qy


def _kepler_sample(rng, n):
    mu = uniform(rng, 0.5, 2.0, n)
    e = uniform(rng, 0.0, 0.7, n)
    a = uniform(rng, 0.8, 1.25, n)
    anomaly = uniform(rng, 0.0, 2.0 * np.pi, n)
    periapsis = uniform(rng, 0.0, 2.0 * np.pi, n)
    turn = np.where(rng.random(size=n) < 0.5, -1.0, 1.0)
    # Perifocal state from the eccentric anomaly, then a rotation by the argument of periapsis.
    r = a * (1.0 - e * np.cos(anomaly))
    root = np.sqrt(1.0 - e * e)
    x, y = a * (np.cos(anomaly) - e), turn * a * root * np.sin(anomaly)
    vx = -np.sqrt(mu * a) * np.sin(anomaly) / r
    vy = turn * np.sqrt(mu * a) * root * np.cos(anomaly) / r
    c, s = np.cos(periapsis), np.sin(periapsis)
    return pack(mu, e), pack(c * x - s * y, s * x + c * y, c * vx - s * vy, s * vx + c * vy)


def _kepler_exact(t, y0, params, t0=0.0):
    """Lagrange f and g functions; the eccentric-anomaly increment solves Kepler's equation by Newton."""
    mu = params[:, 0]
    q, v = y0[:, :2], y0[:, 2:]
    r0 = np.hypot(q[:, 0], q[:, 1])
    a = 1.0 / (2.0 / r0 - np.sum(v * v, axis=1) / mu)
    n_mean = np.sqrt(mu / a**3)
    e_cos = 1.0 - r0 / a
    e_sin = np.sum(q * v, axis=1) / np.sqrt(mu * a)
    target = n_mean * (t - t0)
    dE = target.copy()
    for _ in range(100):
        f = dE - e_cos * np.sin(dE) + e_sin * (1.0 - np.cos(dE)) - target
        fprime = 1.0 - e_cos * np.cos(dE) + e_sin * np.sin(dE)
        step = f / fprime
        dE -= step
        if np.all(np.abs(step) <= 1e-15 * np.maximum(1.0, np.abs(dE))):
            break
    one_minus_cos = 2.0 * np.sin(0.5 * dE) ** 2
    sin_dE = np.sin(dE)
    r = a * (1.0 - e_cos * np.cos(dE) + e_sin * sin_dE)
    f = 1.0 - a / r0 * one_minus_cos
    g = (t - t0) - (dE - sin_dE) / n_mean
    fdot = -np.sqrt(mu * a) * sin_dE / (r * r0)
    gdot = 1.0 - a / r * one_minus_cos
    qt = f[:, None] * q + g[:, None] * v
    vt = fdot[:, None] * q + gdot[:, None] * v
    return np.ascontiguousarray(np.concatenate([qt, vt], axis=1))


KEPLER = Family(
    name="kepler",
    dim=4,
    n_params=2,
    stiff=False,
    rhs=_kepler_rhs,
    rhs_block=_kepler_block,
    sample=_kepler_sample,
    exact=_kepler_exact,
    param_ranges={
        "mu": (0.5, 2.0),
        "e": (0.0, 0.7),
        "a (semi-major axis of y0)": (0.8, 1.25),
    },
    stiffness="rho(J) = sqrt(2 mu / r^3) <= about 18 at pericentre r = a (1 - e)",
    description=(
        "q'' = -mu q / |q|^3 in the plane, y = (q, q'); p = (mu, e) where e is the eccentricity of "
        "the sampled orbit (the rhs reads mu only); exact via Kepler's equation"
    ),
    rho_range=(0.0, 18.0),
    param_names=("mu", "e"),
)

# --------------------------------------------------------------------------- free rigid body


@njit(cache=True, error_model="numpy")
def _rigid_body_rhs(t, y, p, dydt):
    i1 = p[0]
    i2 = p[1]
    i3 = p[2]
    dydt[0] = (i2 - i3) / (i2 * i3) * y[1] * y[2]
    dydt[1] = (i3 - i1) / (i3 * i1) * y[2] * y[0]
    dydt[2] = (i1 - i2) / (i1 * i2) * y[0] * y[1]


@njit(cache=True, error_model="numpy")
def _rigid_body_block(t, Y, P, dYdt):
    for j in range(Y.shape[1]):
        i1 = P[0, j]
        i2 = P[1, j]
        i3 = P[2, j]
        dYdt[0, j] = (i2 - i3) / (i2 * i3) * Y[1, j] * Y[2, j]
        dYdt[1, j] = (i3 - i1) / (i3 * i1) * Y[2, j] * Y[0, j]
        dYdt[2, j] = (i1 - i2) / (i1 * i2) * Y[0, j] * Y[1, j]


def _rigid_body_sample(rng, n):
    inertia = [uniform(rng, 0.5, 3.0, n) for _ in range(3)]
    y0 = [signed(rng, 0.3, 1.5, n) for _ in range(3)]
    return pack(*inertia), pack(*y0)


RIGID_BODY = Family(
    name="rigid_body",
    dim=3,
    n_params=3,
    stiff=False,
    rhs=_rigid_body_rhs,
    rhs_block=_rigid_body_block,
    sample=_rigid_body_sample,
    param_ranges={"I1": (0.5, 3.0), "I2": (0.5, 3.0), "I3": (0.5, 3.0), "|m0_i|": (0.3, 1.5)},
    stiffness="rho(J) <= |m| max |1/I_i - 1/I_j|, below about 3 on the sampled states",
    description="Euler's equations for angular momentum m: m1' = (1/I3 - 1/I2) m2 m3 and cyclic",
    rho_range=(0.0, 3.0),
    param_names=("I1", "I2", "I3"),
)
