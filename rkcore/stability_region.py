"""Area of the linear stability region in the left half-plane.

Kept apart from :mod:`rkcore.stability` because it is a quadrature, not a root
computation.

*Explicit methods: boundary tracing.*  Every bounded component of
``{|R| < 1}`` is simply connected and contains a zero of ``R`` (maximum and
minimum modulus principles), and the zeros it contains are counted by how often
``arg R`` winds along its boundary.  So the region is found completely by tracing
boundary components, started from points inside (the middle of the real stability
interval, then the zeros of ``R``, eigenvalues of ``A - 1bᵀ``), until the windings add
up to the degree of ``R``.  Each component is traced in the phase ``θ = arg R`` and its
share of the area is Green's theorem, integrated from the Taylor series of the curve at
the traced nodes with adaptive Gauss--Kronrod where those do not suffice
(:mod:`rkcore._boundary`); ``R`` is evaluated by the stage recursion throughout, so the
cost grows like ``s²`` per point and the accuracy does not degrade with ``s``.  The error
estimate includes what the rounding of the tableau's entries leaves open.

*Implicit methods, and explicit ones whose boundary cannot be traced: horizontal
slices* of the rational ``R = P/Q``: for fixed ``y`` the stable set on the line
``Im z = y`` is a union of intervals whose ends are the real roots of
``|P(x+iy)|² - |Q(x+iy)|²``, and the lengths are integrated adaptively.  Trusted only
where Horner's rule on ``P, Q`` is accurate over the region.  Tracing fails at pinch
points, where two components of the region touch at a saddle of ``|R|`` (the lobes of
a pure Chebyshev polynomial); for a few stages the slices still give the area, for many
stages the area is reported as unverified.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np

from ._boundary import (
    G7_WEIGHTS,
    GK15_NODES,
    GK15_WEIGHTS,
    HERMITE_HI,
    HERMITE_LO,
    HERMITE_MID,
    TRACE_CLOSED,
    TRACE_PANELS_PER_PANEL,
    component_area,
    solve_level,
    trace_component,
)
from ._polyroots import real_roots
from ._stages import horner_noise, stability_degree, stage_value
from .order import _check_tableau
from .stability import (
    StabilityFigure,
    _check_rtol,
    _explicit_poly,
    real_stability_figure,
    stability_function_coefficients,
)
from .tableau import Tableau
from .threads import blas_threads

MAX_TRACE_STEPS = 20_000
"""Nodes per traced component; beyond this the area is reported as unverified."""
MAX_PANELS = 100_000
"""Gauss--Kronrod panels per component."""
HERMITE = (HERMITE_HI, HERMITE_MID, HERMITE_LO)


# ---------------------------------------------------------------------------- explicit: boundary tracing
class _Component:
    """A traced boundary component: nodes ``θ_k, z_k, z'_k`` and its winding number."""

    def __init__(self, thetas: np.ndarray, zs: np.ndarray, dzs: np.ndarray, winding: int) -> None:
        self.thetas, self.zs, self.dzs, self.winding = thetas, zs, dzs, winding

    def contains(self, p: complex) -> bool:
        """Even-odd test against the polygon of the nodes (for points well inside or outside)."""
        x, y = self.zs.real, self.zs.imag
        x2, y2 = np.roll(x, -1), np.roll(y, -1)
        crosses = (y > p.imag) != (y2 > p.imag)
        with np.errstate(divide="ignore", invalid="ignore"):
            xc = x + (p.imag - y) * (x2 - x) / (y2 - y)
        return bool(np.count_nonzero(crosses & (p.real < xc)) % 2)

    def passes_through(self, A, b, z: complex, theta: float, scale: float, K, dK) -> bool:
        """True when ``z`` (with ``arg R(z) = θ``) is a point of this component."""
        t0, t1 = self.thetas[0], self.thetas[-1]
        first = theta + 2.0 * np.pi * np.ceil((t0 - theta) / (2.0 * np.pi))
        for target in np.arange(first, t1, 2.0 * np.pi):
            k = int(np.clip(np.searchsorted(self.thetas, target) - 1, 0, self.thetas.size - 2))
            ta, tb = self.thetas[k], self.thetas[k + 1]
            h = tb - ta
            tau = (target - ta) / h
            za, zb, da, db = self.zs[k], self.zs[k + 1], self.dzs[k], self.dzs[k + 1]
            guess = (
                (2 * tau**3 - 3 * tau**2 + 1) * za
                + (tau**3 - 2 * tau**2 + tau) * h * da
                + (-2 * tau**3 + 3 * tau**2) * zb
                + (tau**3 - tau**2) * h * db
            )
            p, _, _ = solve_level(A, b, np.exp(1j * target), guess, 1e-14 * scale, 8, K, dK)
            if abs(p - z) <= 1e-6 * scale:
                return True
        return False


def _zeros(A: np.ndarray, b: np.ndarray, P: np.ndarray, K, dK) -> np.ndarray:
    """Zeros of ``R``, each polished by damped Newton on the stage recursion.

    Candidates: ``R(z) = det(I - z(A - 1bᵀ))``, so ``z = 1/μ`` for the eigenvalues ``μ``
    (poor for large zeros of a non-normal ``A``, where ``μ`` is small), and the companion
    roots of the coefficients (poor for many stages); the union goes to Newton with
    backtracking on ``|R|``.  Duplicates are harmless: they only seed the tracing.
    """
    with blas_threads(1):  # small problems: OpenBLAS workers only slow them down
        mu = np.linalg.eigvals(A - np.outer(np.ones(b.shape[0]), b))
        companion = np.empty(0)
        top = np.flatnonzero(P != 0.0)
        if 1 <= top[-1] <= 40:  # beyond, the coefficients span too many decades to help
            with np.errstate(all="ignore"):
                monic = P[: top[-1] + 1][::-1] / P[top[-1]]
            if np.all(np.isfinite(monic)):
                companion = np.roots(monic)
    mu = mu[mu != 0.0]
    candidates = np.concatenate([1.0 / mu, companion])
    out = []
    for z in candidates[np.isfinite(candidates)]:
        f = abs(stage_value(A, b, z, K, dK)[0])
        for _ in range(60):
            if f <= 1e-12:
                break
            R, dR = stage_value(A, b, z, K, dK)
            if dR == 0.0:
                break
            step = R / dR
            for _ in range(30):  # backtrack until |R| decreases
                f_new = abs(stage_value(A, b, z - step, K, dK)[0])
                if f_new < f:
                    break
                step *= 0.5
            else:
                break
            z, f = z - step, f_new
        out.append(z)
    return np.array(out, dtype=np.complex128)


def _boundary_point(A, b, seed: complex, direction: complex, scale: float, K, dK) -> complex | None:
    """A point of ``|R| = 1`` on the ray ``seed + t·direction`` (first exit found by doubling)."""

    def mag(t: float) -> float:
        return abs(stage_value(A, b, seed + t * direction, K, dK)[0])

    lo, hi = 0.0, 1e-3 * scale
    while mag(hi) <= 1.0:
        lo, hi = hi, 2.0 * hi
        if hi > 1e6 * scale:
            return None
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:
            break
        if mag(mid) <= 1.0:
            lo = mid
        else:
            hi = mid
    return seed + hi * direction


def _left_area_estimate(zs: np.ndarray) -> float:
    """Trapezoidal ``∮ min(x, 0) dy`` over the node polygon (sets the quadrature tolerance)."""
    x = np.minimum(zs.real, 0.0)
    y = zs.imag
    return float(0.5 * np.sum((x[1:] + x[:-1]) * (y[1:] - y[:-1])))


def _explicit_area(t: Tableau, rtol: float, real_interval: float | None) -> tuple[StabilityFigure, float]:
    """Boundary tracing; also returns a lower bound on the region's extent (for the slices)."""
    A = np.ascontiguousarray(t.A)
    b = np.ascontiguousarray(t.b)
    s = t.stages
    P, Perr = _explicit_poly(A, b)
    if not (np.all(np.isfinite(P)) and np.all(np.isfinite(A)) and np.all(np.isfinite(b))):
        return StabilityFigure(np.nan, np.inf, "boundary"), 0.0
    degree = int(stability_degree(A, b, *np.empty((4, s))))
    if degree == 0:
        return StabilityFigure(np.inf, 0.0, "boundary"), 0.0  # R = 1: every z is stable
    K = np.empty(s, dtype=np.complex128)
    dK = np.empty(s, dtype=np.complex128)
    zeros = _zeros(A, b, P, K, dK)
    zeros = zeros[np.isfinite(zeros)]
    if real_interval is None:
        real_interval = real_stability_figure(t).value
    scale = max(1.0, float(np.max(np.abs(zeros), initial=0.0)))
    seeds: list[complex] = []
    if np.isfinite(real_interval) and real_interval > 0.0:
        scale = max(scale, float(real_interval))
        middle = complex(-0.5 * real_interval, 0.0)
        if abs(stage_value(A, b, middle, K, dK)[0]) < 1.0:
            seeds.append(middle)
    depth = np.array([abs(stage_value(A, b, z, K, dK)[0]) for z in zeros])
    inside = zeros[np.argsort(depth)][np.sort(depth) < 0.5]
    seeds.extend(inside.tolist())
    # every zero lies in the region: a lower bound on its extent (for the slices' check)
    reach = max(float(np.max(np.abs(zeros), initial=0.0)), abs(seeds[0]) if seeds else 0.0)

    components: list[_Component] = []
    wound = 0
    buf_t = np.empty(MAX_TRACE_STEPS + 1)
    buf_z = np.empty(MAX_TRACE_STEPS + 1, dtype=np.complex128)
    buf_d = np.empty(MAX_TRACE_STEPS + 1, dtype=np.complex128)
    for seed in seeds:
        if wound >= degree:
            break
        if any(c.contains(seed) for c in components):
            continue
        for direction in (1j, -1j, 1.0, -1.0):
            zb = _boundary_point(A, b, seed, direction, scale, K, dK)
            if zb is None:
                continue
            theta = float(np.angle(stage_value(A, b, zb, K, dK)[0]))
            zb, _, ok = solve_level(A, b, np.exp(1j * theta), zb, 1e-14 * scale, 8, K, dK)
            if not ok or any(c.passes_through(A, b, zb, theta, scale, K, dK) for c in components):
                continue
            n, winding, status = trace_component(
                A, b, zb, theta, scale, degree, MAX_TRACE_STEPS, buf_t, buf_z, buf_d
            )
            if status != TRACE_CLOSED:
                return StabilityFigure(np.nan, np.inf, "boundary"), reach
            components.append(_Component(buf_t[:n].copy(), buf_z[:n].copy(), buf_d[:n].copy(), winding))
            wound += winding
            break
    if wound != degree:
        # a component was missed (or counted twice): the figure cannot be trusted
        return StabilityFigure(np.nan, np.inf, "boundary"), reach
    estimate = sum(abs(_left_area_estimate(c.zs)) for c in components)
    tol = rtol * max(estimate, 1e-300)
    area = 0.0
    error = 0.0
    for c in components:
        share = tol * abs(_left_area_estimate(c.zs)) / max(estimate, 1e-300)
        a, e = component_area(
            A, b, c.thetas, c.zs, c.dzs, c.thetas.size, scale, max(share, 1e-3 * tol), MAX_PANELS,
            TRACE_PANELS_PER_PANEL, HERMITE, GK15_NODES, GK15_WEIGHTS, G7_WEIGHTS,
        )  # fmt: skip
        area += a
        error += e
    if area == 0.0:
        error = 0.0  # no arc of the boundary in the left half-plane: nothing to integrate
    return StabilityFigure(float(area), float(error), "boundary"), reach


# ---------------------------------------------------------------------------- implicit: slices
def _effective_degree(c: np.ndarray, err: np.ndarray) -> int:
    nz = np.flatnonzero(np.abs(c) > err)
    return int(nz[-1]) if nz.size else 0


def _escape_radius(P: np.ndarray, Q: np.ndarray) -> float:
    """A radius beyond which ``|P(z)| > |Q(z)|`` (P has the dominant leading term); inf if none is found."""
    d = P.shape[0] - 1
    radius = 1.0
    with np.errstate(over="ignore", invalid="ignore"):
        while radius < 1e100:
            powers = radius ** np.arange(max(d, Q.shape[0] - 1) + 1)
            lower = abs(P[d]) * powers[d] - np.abs(P[:d]) @ powers[:d]
            if lower > np.abs(Q) @ powers[: Q.shape[0]]:
                return radius
            radius *= 2.0
    return float("inf")


class _SlicePolynomial:
    """``f_y(x) = |P(x+iy)|² - |Q(x+iy)|²`` as a polynomial in real ``x`` for fixed ``y``."""

    def __init__(self, P: np.ndarray, Q: np.ndarray) -> None:
        self.P, self.Q = P, Q
        k = np.arange(max(P.shape[0], Q.shape[0]))
        self.expo = np.clip(k[:, None] - k[None, :], 0, None)
        self.binom = np.where(k[:, None] >= k[None, :], _binomials(k.shape[0]), 0.0)

    def _shift(self, c: np.ndarray, y: float) -> np.ndarray:
        n = c.shape[0]
        return (c[:, None] * self.binom[:n, :n] * (1j * y) ** self.expo[:n, :n]).sum(axis=0)

    def coefficients(self, y: float) -> np.ndarray:
        a = self._shift(self.P, y)
        q = self._shift(self.Q, y)
        f = np.convolve(a, np.conj(a)).real
        g = np.convolve(q, np.conj(q)).real
        f[: g.shape[0]] -= g
        return f

    def stable(self, x: float, y: float) -> bool:
        z = complex(x, y)
        return abs(np.polyval(self.P[::-1], z)) <= abs(np.polyval(self.Q[::-1], z))


def _binomials(n: int) -> np.ndarray:
    out = np.zeros((n, n))
    for k in range(n):
        out[k, 0] = 1.0
        for j in range(1, k + 1):
            out[k, j] = out[k - 1, j - 1] + (out[k - 1, j] if j < k else 0.0)
    return out


def _slice_length(poly: _SlicePolynomial, y: float, radius: float, extent: list[float]) -> float:
    """Length of ``{x in [-radius, 0]: |R(x + iy)| <= 1}``; ``extent[0]`` grows to the farthest stable |z|."""
    c = poly.coefficients(y)
    cuts = [-radius, *real_roots(c, np.zeros_like(c), -radius, 0.0).tolist(), 0.0]
    length = 0.0
    for lo, hi in itertools.pairwise(cuts):
        if hi > lo and poly.stable(0.5 * (lo + hi), y):
            length += hi - lo
            extent[0] = max(extent[0], abs(complex(lo, y)))
    return length


def _slice_area(t: Tableau, rtol: float, reach: float = 0.0) -> StabilityFigure:
    """Slices; ``reach`` is a known lower bound on the region's extent (its zeros, its real interval)."""
    from scipy.integrate import quad  # lazily: scipy.integrate costs ~0.25 s to import

    c = stability_function_coefficients(t)

    def horner_ok(radius: float) -> bool:
        # The cuts are roots of coefficient polynomials: trusted only where Horner's rule is
        # accurate, i.e. out to the farthest stable point.
        noise = horner_noise(c.numerator, c.numerator_err, radius)
        return noise + horner_noise(c.denominator, c.denominator_err, radius) <= 1e-10

    if not horner_ok(reach):
        return StabilityFigure(np.nan, np.inf, "slices")
    dp = _effective_degree(c.numerator, c.numerator_err)
    dq = _effective_degree(c.denominator, c.denominator_err)
    P, Q = c.numerator[: dp + 1], c.denominator[: dq + 1]
    # |R(∞)| >= 1 (within round-off, as for Gauss methods where |R(∞)| = 1): unbounded region
    if dp < dq or (dp == dq and abs(P[dp]) <= abs(Q[dq]) + c.numerator_err[dp] + c.denominator_err[dq]):
        return StabilityFigure(np.inf, 0.0, "slices")
    radius = _escape_radius(P, Q)
    if not np.isfinite(radius):
        return StabilityFigure(np.inf, 0.0, "slices")
    poly = _SlicePolynomial(P, Q)
    extent = [0.0]
    epsabs = rtol * radius**2
    for _ in range(3):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # non-convergence is reported through the error instead
            half, abserr, _info, *trouble = quad(
                lambda y: _slice_length(poly, y, radius, extent),
                0.0,
                radius,
                epsabs=epsabs,
                epsrel=rtol,
                limit=400,
                full_output=1,
            )
        if trouble:  # quad appends a message only when it did not converge
            return StabilityFigure(2.0 * half, np.inf, "slices")
        if abserr <= rtol * abs(half) or half == 0.0:
            break
        epsabs = 0.5 * rtol * abs(half)  # the bounding box was too generous a scale
    if not horner_ok(max(reach, 1.01 * extent[0])):
        return StabilityFigure(2.0 * half, np.inf, "slices")
    return StabilityFigure(2.0 * half, 2.0 * abserr, "slices")


# ---------------------------------------------------------------------------- public
def stability_area_figure(
    tableau: Tableau, rtol: float = 1e-10, real_interval: float | None = None
) -> StabilityFigure:
    """:func:`stability_area` with its error estimate and method.

    Parameters
    ----------
    tableau : Tableau
    rtol : float
        Target relative accuracy of the quadrature.
    real_interval : float, optional
        The real stability interval when already known (a starting point for tracing).
    """
    t = _check_tableau(tableau)
    rtol = _check_rtol(rtol)
    if not t.is_explicit:
        return _slice_area(t, rtol)
    if not (np.all(np.isfinite(t.A)) and np.all(np.isfinite(t.b))):
        return StabilityFigure(np.nan, np.inf, "boundary")
    fig, reach = _explicit_area(t, rtol, real_interval)
    if np.isfinite(fig.error):
        return fig  # traced: its error is what the tableau's rounding leaves, slices cannot do better
    # Tracing cannot pass a pinch point (two components touching at a saddle of |R|, as
    # between the lobes of a pure Chebyshev polynomial); slices can, where the
    # coefficients are well conditioned -- the few-stage case.
    slices = _slice_area(t, rtol, reach)
    return slices if slices.error < fig.error else fig


def stability_area(tableau: Tableau, rtol: float = 1e-10) -> float:
    """Area of the stability region in the closed left half-plane, ``{z: |R(z)| <= 1, Re z <= 0}``.

    Explicit methods: the boundary ``|R| = 1`` is traced component by component and
    the area is Green's theorem over its arcs in the left half-plane (see the module
    notes); implicit methods (and few-stage explicit ones with pinch points): horizontal
    slices whose stable lengths come from polynomial roots.  Checked against closed forms
    (forward Euler: π; ``(1 + z/m)^m``: π m², m up to 200) to about 1e-12 relative.

    Parameters
    ----------
    tableau : Tableau
    rtol : float
        Requested relative accuracy.

    Returns
    -------
    float
        ``inf`` when the region is unbounded (e.g. A-stable implicit methods); NaN when
        the estimated error exceeds ``rtol`` times the area (the region could not be
        resolved; :func:`stability_area_figure` gives the estimate and its error).
    """
    fig = stability_area_figure(tableau, rtol)
    return fig.value if fig.verified(rtol) else float("nan")
