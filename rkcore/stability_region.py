"""Area of the linear stability region in the left half-plane.

Kept apart from :mod:`rkcore.stability` because it is a quadrature, not a root
computation: the region is cut into horizontal slices whose stable lengths come
from polynomial roots, and the lengths are integrated adaptively.
"""

from __future__ import annotations

import itertools

import numpy as np

from ._polyroots import real_roots
from .stability import stability_function_coefficients
from .tableau import Tableau


def _effective_degree(c: np.ndarray, err: np.ndarray) -> int:
    nz = np.flatnonzero(np.abs(c) > err)
    return int(nz[-1]) if nz.size else 0


def _escape_radius(P: np.ndarray, Q: np.ndarray) -> float:
    """A radius beyond which ``|P(z)| > |Q(z)|`` (P has the dominant leading term); inf if none is found."""
    d = P.shape[0] - 1
    radius = 1.0
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


def _slice_length(poly: _SlicePolynomial, y: float, radius: float) -> float:
    """Length of ``{x in [-radius, 0]: |R(x + iy)| <= 1}``."""
    c = poly.coefficients(y)
    cuts = [-radius, *real_roots(c, np.zeros_like(c), -radius, 0.0).tolist(), 0.0]
    length = 0.0
    for lo, hi in itertools.pairwise(cuts):
        if hi > lo and poly.stable(0.5 * (lo + hi), y):
            length += hi - lo
    return length


def stability_area(tableau: Tableau, rtol: float = 1e-10) -> float:
    """Area of the stability region in the closed left half-plane, ``{z: |R(z)| <= 1, Re z <= 0}``.

    Method: horizontal slices.  For fixed ``y`` the stable set on the line
    ``Im z = y`` is a union of intervals whose ends are the real roots of the
    degree-``2s`` polynomial ``|P(x+iy)|² - |Q(x+iy)|²`` in ``x``; its length
    ``L(y)`` is therefore exact up to root-finding round-off (midpoints decide
    which gaps are stable).  The region is symmetric about the real axis, so the
    area is ``2 ∫_0^Y L(y) dy``, integrated by adaptive Gauss--Kronrod quadrature
    (:func:`scipy.integrate.quad`), which copes with the square-root behaviour of
    ``L`` where the boundary is horizontal.  Checked against closed forms
    (forward Euler: π; ``(1 + z/m)^m``: π m²) to about 1e-10 relative.

    Parameters
    ----------
    tableau : Tableau
    rtol : float
        Relative tolerance handed to the quadrature.

    Returns
    -------
    float
        ``inf`` when the region is unbounded (e.g. A-stable implicit methods).
    """
    from scipy.integrate import quad  # lazily: scipy.integrate costs ~0.25 s to import

    c = stability_function_coefficients(tableau)
    dp = _effective_degree(c.numerator, c.numerator_err)
    dq = _effective_degree(c.denominator, c.denominator_err)
    P, Q = c.numerator[: dp + 1], c.denominator[: dq + 1]
    # |R(∞)| >= 1 (within round-off, as for Gauss methods where |R(∞)| = 1): unbounded region
    if dp < dq or (dp == dq and abs(P[dp]) <= abs(Q[dq]) + c.numerator_err[dp] + c.denominator_err[dq]):
        return float("inf")
    radius = _escape_radius(P, Q)
    if not np.isfinite(radius):
        return float("inf")
    poly = _SlicePolynomial(P, Q)
    half, _ = quad(
        lambda y: _slice_length(poly, y, radius), 0.0, radius, epsabs=rtol * radius**2, epsrel=rtol, limit=400
    )
    return 2.0 * half
