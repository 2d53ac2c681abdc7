"""The built-in ODE families: registry, kernels, samplers, closed forms.

Right-hand sides are checked against independent formulations written here from the
textbook equations (Hamiltonian gradients by finite differences, matrix Laplacians,
unscaled Robertson kinetics...) and, for families with a closed form, against central
differences of that closed form; closed forms are checked against scipy's DOP853.
"""

from __future__ import annotations

import fnmatch

import numpy as np
import pytest
from numba import njit
from scipy.integrate import solve_ivp

from rkcore.errors import RKInputError
from rkcore.problems import FAMILIES, Family, get_family
from rkcore.reference import spectral_radius

NAMES = list(FAMILIES)
EXACT_NAMES = [name for name in NAMES if FAMILIES[name].has_exact]


def _sample(family: Family, n: int, seed: int = 0):
    return family.sample(np.random.default_rng(seed), n)


def _rhs(family: Family, t: float, y: np.ndarray, p: np.ndarray) -> np.ndarray:
    out = np.empty(family.dim)
    family.rhs(t, np.ascontiguousarray(y, dtype=np.float64), p, out)
    return out


def _dop853(family: Family, y0: np.ndarray, p: np.ndarray, t1: float) -> np.ndarray:
    sol = solve_ivp(
        lambda t, y: _rhs(family, t, y, p), (0.0, t1), y0, method="DOP853", rtol=1e-12, atol=1e-14
    )
    assert sol.status == 0
    return sol.y[:, -1]


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


# --------------------------------------------------------------------------- registry


def test_registry_covers_the_brief():
    stiff = [f for f in FAMILIES.values() if f.stiff]
    assert len(FAMILIES) >= 12
    assert len(stiff) >= 5 and len(FAMILIES) - len(stiff) >= 7
    dims = {f.dim for f in FAMILIES.values()}
    assert min(dims) == 1 and max(dims) >= 32
    assert all(name == f.name for name, f in FAMILIES.items())


def test_get_family_suggests_the_closest_name():
    assert get_family("van_der_pol") is FAMILIES["van_der_pol"]
    with pytest.raises(RKInputError, match="did you mean 'van_der_pol'") as info:
        get_family("vanderpol")
    assert "\n" not in str(info.value)


def test_family_validates_its_fields():
    base = FAMILIES["exponential"]
    with pytest.raises(RKInputError, match="dim"):
        Family(**{**base.__dict__, "dim": 0})
    with pytest.raises(RKInputError, match="param_names"):
        Family(**{**base.__dict__, "param_names": ("a", "b")})


# --------------------------------------------------------------------------- per family


@pytest.mark.parametrize("name", NAMES)
def test_documentation_and_kernel_flags(name):
    family = FAMILIES[name]
    assert family.description and family.stiffness and family.param_ranges
    assert len(family.param_names) == family.n_params
    lo, hi = family.rho_range
    if family.stiff:
        assert lo >= 10.0 and 1.0e3 <= hi <= 1.2e4  # explicit methods can still cope at small steps
    else:
        assert hi <= 25.0
    for kernel in (family.rhs, family.rhs_block):
        assert hasattr(kernel, "py_func"), "kernels must be numba dispatchers"
        assert not kernel.targetoptions.get("parallel") and not kernel.targetoptions.get("fastmath")


@pytest.mark.parametrize("name", NAMES)
def test_sample_shapes_ranges_and_determinism(name):
    family = FAMILIES[name]
    params, y0 = _sample(family, 300, seed=1)
    assert params.shape == (300, family.n_params) and y0.shape == (300, family.dim)
    for a in (params, y0):
        assert a.dtype == np.float64 and a.flags.c_contiguous and np.all(np.isfinite(a))
    again = _sample(family, 300, seed=1)
    assert np.array_equal(params, again[0]) and np.array_equal(y0, again[1])
    checked = 0
    for col, pname in enumerate(family.param_names):
        for pattern, (lo, hi) in family.param_ranges.items():
            if fnmatch.fnmatchcase(pname, pattern):
                assert np.all((params[:, col] >= lo) & (params[:, col] <= hi)), (pname, lo, hi)
                checked += 1
    assert checked == family.n_params, "every parameter needs a documented range"


@pytest.mark.parametrize("name", NAMES)
def test_spectral_radius_within_documented_range(name):
    family = FAMILIES[name]
    params, y0 = _sample(family, 200, seed=2)
    rho = spectral_radius(family, 0.0, y0, params)
    lo, hi = family.rho_range
    assert np.all(rho >= lo * 0.99) and np.all(rho <= hi * 1.01), (rho.min(), rho.max())


@pytest.mark.parametrize("name", NAMES)
def test_rhs_block_equals_rhs_column_by_column(name):
    family = FAMILIES[name]
    m = 13  # odd, so that a vector remainder loop runs too
    params, y0 = _sample(family, m, seed=3)
    Y, P = np.ascontiguousarray(y0.T), np.ascontiguousarray(params.T)
    block = np.full((family.dim, m), np.nan)
    family.rhs_block(0.37, Y, P, block)
    for j in range(m):
        single = _rhs(family, 0.37, y0[j], params[j])
        np.testing.assert_allclose(block[:, j], single, rtol=1e-14, atol=1e-14 * np.max(np.abs(single)))


@pytest.mark.parametrize("name", EXACT_NAMES)
def test_rhs_is_the_derivative_of_the_closed_form(name):
    family = FAMILIES[name]
    params, y0 = _sample(family, 6, seed=4)
    rho = spectral_radius(family, 0.0, y0, params)
    t = 0.05
    for i in range(6):
        p, y = params[i : i + 1], y0[i : i + 1]
        h = 1e-3 / max(1.0, rho[i])

        def at(s, p=p, y=y):
            return family.exact(s, y, p)[0]

        fd = (-at(t + 2 * h) + 8 * at(t + h) - 8 * at(t - h) + at(t - 2 * h)) / (12 * h)
        f = _rhs(family, t, at(t), params[i])
        scale = np.max(np.abs(f)) + max(1.0, rho[i]) * np.max(np.abs(at(t)))
        assert np.max(np.abs(fd - f)) <= 1e-8 * scale


@pytest.mark.parametrize("name", EXACT_NAMES)
def test_closed_form_matches_dop853(name):
    family = FAMILIES[name]
    params, y0 = _sample(family, 3, seed=5)
    t1 = 0.25 if family.stiff else 3.0  # long enough for several Kepler/oscillator turns
    for i in range(3):
        exact = family.exact(t1, y0[i : i + 1], params[i : i + 1])[0]
        assert _rel(_dop853(family, y0[i], params[i], t1), exact) < 1e-10


@pytest.mark.parametrize("name", EXACT_NAMES)
def test_closed_form_is_a_flow(name):
    family = FAMILIES[name]
    params, y0 = _sample(family, 20, seed=6)
    np.testing.assert_allclose(family.exact(0.7, y0, params, t0=0.7), y0, rtol=1e-14, atol=1e-14)
    direct = family.exact(0.2, y0, params, t0=0.05)
    composed = family.exact(0.2, family.exact(0.12, y0, params, t0=0.05), params, t0=0.12)
    np.testing.assert_allclose(composed, direct, rtol=1e-12, atol=1e-13)


# --------------------------------------------------------------------------- independent right-hand sides


def _grad(fun, x, h=1e-6):
    """Central-difference gradient of a scalar function, shape like x."""
    g = np.empty_like(x)
    for k in range(x.size):
        e = np.zeros_like(x)
        e[k] = h * max(1.0, abs(x[k]))
        g[k] = (fun(x + e) - fun(x - e)) / (2 * e[k])
    return g


def _hamiltonian_field(hamiltonian, y):
    """(dH/dp, -dH/dq) for y = (q, p)."""
    n = y.size // 2
    g = _grad(hamiltonian, y)
    return np.concatenate([g[n:], -g[:n]])


def _pendulum(t, y, p):
    return _hamiltonian_field(lambda z: 0.5 * z[1] ** 2 - p[0] * np.cos(z[0]), y)


def _fpu(t, y, p):
    w, beta = p

    def energy(z):
        q, mom = z[: z.size // 2], z[z.size // 2 :]
        bonds = np.diff(np.concatenate([[0.0], q, [0.0]]))
        return 0.5 * mom @ mom + np.sum(0.5 * w**2 * bonds**2 + 0.25 * beta * bonds**4)

    return _hamiltonian_field(energy, y)


def _second_order(accel):
    return lambda t, y, p: np.array([y[1], accel(t, y[0], y[1], p)])


def _robertson_unscaled(t, z, p):
    k1, r, k3 = p
    s, k2 = k1 / r, r * r / k1  # z2 = y2 / s with s = sqrt(k1 / k2), r = sqrt(k1 k2)
    y1, y2, y3 = z[0], s * z[1], z[2]
    f = np.array([-k1 * y1 + k3 * y2 * y3, k1 * y1 - k3 * y2 * y3 - k2 * y2**2, k2 * y2**2])
    return np.array([f[0], f[1] / s, f[2]])


def _brusselator(t, y, p):
    a, b, alpha = p
    n = y.size // 2
    lap = (np.diag(np.full(n - 1, 1.0), -1) - 2 * np.eye(n) + np.diag(np.full(n - 1, 1.0), 1)) * (n + 1) ** 2
    wall = np.zeros(n)
    wall[[0, -1]] = (n + 1) ** 2
    u, v = y[:n], y[n:]
    du = a + u**2 * v - (b + 1) * u + alpha * (lap @ u + a * wall)
    dv = b * u - u**2 * v + alpha * (lap @ v + b / a * wall)
    return np.concatenate([du, dv])


INDEPENDENT = {
    "pendulum": _pendulum,
    "fpu_chain": _fpu,
    "duffing": _second_order(lambda t, x, v, p: p[3] * np.cos(p[4] * t) - p[0] * v - p[1] * x - p[2] * x**3),
    "van_der_pol": _second_order(lambda t, x, v, p: p[0] * (1 - x**2) * v - x),
    "van_der_pol_stiff": _second_order(lambda t, x, v, p: p[0] * (1 - x**2) * v - x),
    "lotka_volterra": lambda t, y, p: np.array([y[0] * (p[0] - p[1] * y[1]), y[1] * (p[3] * y[0] - p[2])]),
    "fitzhugh_nagumo": lambda t, y, p: np.array(
        [y[0] - y[0] ** 3 / 3 - y[1] + p[3], p[2] * (y[0] + p[0] - p[1] * y[1])]
    ),
    "lorenz": lambda t, y, p: np.array(
        [p[0] * (y[1] - y[0]), y[0] * (p[1] - y[2]) - y[1], y[0] * y[1] - p[2] * y[2]]
    ),
    "rigid_body": lambda t, m, p: np.cross(m, m / p),  # Euler: m' = m x (I^-1 m)
    "robertson": _robertson_unscaled,
    "brusselator_1d": _brusselator,
}


def test_every_family_without_closed_form_has_an_independent_check():
    assert set(INDEPENDENT) == {name for name in NAMES if not FAMILIES[name].has_exact}


@pytest.mark.parametrize("name", sorted(INDEPENDENT))
def test_rhs_matches_independent_formulation(name):
    family = FAMILIES[name]
    params, y0 = _sample(family, 8, seed=7)
    for i in range(8):
        expected = INDEPENDENT[name](0.3, y0[i], params[i])
        got = _rhs(family, 0.3, y0[i], params[i])
        # Finite-difference gradients (Hamiltonians) are good to ~1e-9; the rest to rounding.
        tol = 1e-7 if name in ("pendulum", "fpu_chain") else 1e-12
        assert np.max(np.abs(got - expected)) <= tol * max(1.0, np.max(np.abs(expected)))


@pytest.mark.parametrize(
    ("name", "invariant"),
    [
        (
            "lotka_volterra",
            lambda y, p: p[3] * y[0] - p[2] * np.log(y[0]) + p[1] * y[1] - p[0] * np.log(y[1]),
        ),  # noqa: E501
        ("robertson", lambda y, p: y[0] + p[0] / p[1] * y[1] + y[2]),
        ("rigid_body", lambda y, p: np.sum(y * y / p)),
        ("kepler", lambda y, p: 0.5 * (y[2] ** 2 + y[3] ** 2) - p[0] / np.hypot(y[0], y[1])),
    ],
)
def test_first_integrals_are_conserved_by_the_rhs(name, invariant):
    family = FAMILIES[name]
    params, y0 = _sample(family, 5, seed=8)
    for i in range(5):
        grad = _grad(lambda y, i=i: invariant(y, params[i]), y0[i])
        f = _rhs(family, 0.0, y0[i], params[i])
        assert abs(grad @ f) <= 1e-7 * np.linalg.norm(grad) * np.linalg.norm(f)


def test_block_kernel_is_callable_from_a_jitted_caller():
    """The evaluator passes ``rhs_block`` into its own njit kernels as a first-class function."""

    @njit
    def euler(rhs_block, Y, P, h, n_steps, scratch):
        for k in range(n_steps):
            rhs_block(k * h, Y, P, scratch)
            for i in range(Y.shape[0]):
                for j in range(Y.shape[1]):
                    Y[i, j] += h * scratch[i, j]

    family = FAMILIES["exponential"]
    params, y0 = _sample(family, 4)
    Y = y0.T.copy()  # for d = 1, ascontiguousarray(y0.T) would be a view of y0
    euler(family.rhs_block, Y, np.ascontiguousarray(params.T), 1e-4, 1000, np.empty_like(Y))
    np.testing.assert_allclose(Y.T, family.exact(0.1, y0, params), rtol=1e-4)
