"""Stability limits on the real and imaginary axes without monomial coefficients.

The eigenvalue problems are small (``s`` or ``2s`` square) and run on one BLAS thread
(:func:`rkcore.threads.blas_threads`): on a busy machine OpenBLAS's workers would slow
them down a hundredfold.

Used by :mod:`rkcore.stability` for explicit tableaux whose stability polynomial is
too ill-conditioned for the root-based limits (many stages, or a large region): the
result of those is checked against its own round-off, and this module takes over when
the check fails.

Method, for the ray ``z = d·t``, ``t >= 0`` (``d = -1`` or ``d = i``):

1. *Candidates.*  Every point where ``|R(dt)| = 1`` solves an equation whose roots
   are eigenvalues of matrices made of tableau entries -- backward stable, no
   monomials.  Real axis: ``R(z) = -1`` at ``z = 1/μ``, ``μ`` an eigenvalue of
   ``A - 1bᵀ/2`` (because ``R(z) + 1 = 2 det(I - z(A - 1bᵀ/2))``); ``R(z) = 1``,
   ``z != 0``, where ``bᵀ(I - zA)⁻¹1 = 0``, a matrix pencil (:func:`_unit_roots`).
   Imaginary axis: ``|R(iy)|² = R(iy)R(-iy)``, and ``R(z)R(-z)`` is the stability
   function of the ``2s``-stage composition of the method with its own negative-step
   version, whose ``R = 1`` roots are the candidates.  Every eigenvalue near the ray
   gives a cut (its real part on the real axis, its imaginary part on the imaginary
   axis); extra cuts only add checks.
2. *Walk.*  The gaps between consecutive cuts are checked at their midpoints with
   ``R`` evaluated by the stage recursion (:mod:`rkcore._stages`) together with its
   round-off estimate; the first gap where ``|R| - 1`` exceeds that estimate ends the
   stable segment.  A value within round-off of 1 counts as stable: a pure Chebyshev
   polynomial touches ``|R| = 1`` at every interior extremum.
3. *Polish.*  In the bracket [last stable midpoint, first unstable midpoint] the
   crossing of ``|R|² - 1`` is found by safeguarded regula falsi; its error estimate is
   the effect of the tableau's own rounding (``2·eps`` in every entry) on ``|R|²``,
   divided by the slope.

Whether the segment is stable right next to 0 is decided beforehand from the lowest
Taylor coefficients (well conditioned: they describe ``R`` near 0), exactly as the
root-based path does.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._stages import stage_value_cond
from .threads import blas_threads

# Walk status codes.
WALK_OK = 0
WALK_NO_EXIT = 1  # no unstable point beyond the last cut: candidates or round-off are inconclusive
WALK_UNRESOLVED = 2  # a gap could be neither confirmed stable nor unstable: R is too ill-conditioned


@njit(cache=True)
def _level(A, b, d, t, W, Wabs):
    """``f = |R(dt)|² - 1``, ``df/dt`` and the round-off threshold of ``f``; scratch W (3, s), Wabs (s,).

    The threshold is ``(s + 2)·eps·X_f`` with ``X_f = 2|R|X + 2|R|²`` (:func:`stage_value_cond`).
    """
    eps = 2.220446049250313e-16
    R, dR, cond = stage_value_cond(A, b, d * t, W[0], W[1], W[2], Wabs)
    a2 = R.real * R.real + R.imag * R.imag
    df = 2.0 * (R.conjugate() * dR * d).real
    return a2 - 1.0, df, (b.shape[0] + 2) * eps * (2.0 * abs(R) * cond + 2.0 * a2)


@njit(cache=True)
def _crossing(A, b, d, lo, hi, glo, ghi, shift, W, Wabs):
    """Bracket ``[lo, hi]`` of a sign change of ``g = |R|² - 1 + shift·noise`` shrunk to a few ulps.

    ``g(lo) <= 0 < g(hi)`` on entry.  Regula falsi with the Illinois modification, and a
    bisection whenever three steps have not halved the bracket.
    """
    eps = 2.220446049250313e-16
    side = 0
    width_then = hi - lo
    for it in range(300):
        if hi - lo <= 4.0 * eps * hi:
            break
        if it % 3 == 2:
            if hi - lo > 0.5 * width_then:
                t = 0.5 * (lo + hi)
            else:
                t = (lo * ghi - hi * glo) / (ghi - glo)
            width_then = hi - lo
        else:
            t = (lo * ghi - hi * glo) / (ghi - glo)
        if not (lo < t < hi):
            t = 0.5 * (lo + hi)
        f, _, fn = _level(A, b, d, t, W, Wabs)
        g = f + shift * fn
        if g > 0.0:
            hi, ghi = t, g
            if side == 1:
                glo *= 0.5
            side = 1
        else:
            lo, glo = t, g
            if side == -1:
                ghi *= 0.5
            side = -1
    return lo, hi


@njit(cache=True)
def axis_walk(A, b, d, cuts, touch):
    """Largest ``β`` with ``|R(dt)| <= 1`` (up to round-off) on ``[0, β]``, and its error.

    A gap counts as stable when ``|R|² - 1`` at its midpoint is below minus its round-off
    threshold, or within that threshold when the threshold itself is at most ``touch``
    (``|R|`` touching 1, as at the extrema of a Chebyshev polynomial).  A midpoint whose
    threshold exceeds ``touch`` and whose value lies within it decides nothing: the walk
    stops with ``WALK_UNRESOLVED``.

    Parameters
    ----------
    A : (s, s) float64, strictly lower triangular
    b : (s,) float64
    d : complex
        Direction of the ray, ``-1`` or ``1j``.
    cuts : (n,) float64, sorted ascending, positive
        Candidate crossings.
    touch : float
        Largest round-off threshold (on ``|R|² - 1``) accepted for an undecided gap.

    Returns
    -------
    (float, float, int)
        ``β``, the estimated absolute error of ``β`` and a status: ``WALK_OK``,
        ``WALK_NO_EXIT`` (no unstable point found beyond the last cut) or
        ``WALK_UNRESOLVED``; the error is ``inf`` unless the status is ``WALK_OK``.
    """
    eps = 2.220446049250313e-16
    s = b.shape[0]
    W = np.empty((3, s), dtype=np.complex128)
    Wabs = np.empty(s)
    prev = 0.0
    stable_at = 0.0
    n = cuts.shape[0]
    i = 0
    probe = 0
    while True:
        last = i >= n
        if last:
            # beyond the last crossing |R| only grows: the first probe clear of round-off decides
            if probe == 4:
                return np.inf, np.inf, 1
            mid = prev * (1.0 + 10.0 ** (probe - 3)) if prev > 0.0 else 10.0**probe
            probe += 1
        else:
            t = cuts[i]
            i += 1
            if t <= prev * (1.0 + 1e-13):
                continue
            mid = 0.5 * (prev + t)
        f, _, fn = _level(A, b, d, mid, W, Wabs)
        if f > fn:
            break
        if f >= -fn and fn > touch:
            if last:
                continue
            return mid, np.inf, 2
        if not last:
            stable_at = mid
            prev = t
    # |R| exceeds 1 beyond round-off at `mid`, and is within round-off of <= 1 at `stable_at`.
    unstable_at = mid
    f_hi, _, fn_hi = _level(A, b, d, unstable_at, W, Wabs)
    f_lo, _, fn_lo = _level(A, b, d, stable_at, W, Wabs)
    # first point from which |R| > 1 beyond round-off
    _, t_hi = _crossing(A, b, d, stable_at, unstable_at, f_lo - fn_lo, f_hi - fn_hi, -1.0, W, Wabs)
    if f_lo > 0.0:
        # |R| is above 1 (within round-off) all the way from `stable_at`: the limit is there
        return stable_at, t_hi - stable_at + 2.0 * eps * t_hi, 0
    f_t, _, _ = _level(A, b, d, t_hi, W, Wabs)
    lo, hi = _crossing(A, b, d, stable_at, t_hi, f_lo, f_t, 0.0, W, Wabs)
    beta = 0.5 * (lo + hi)
    _, df, fn = _level(A, b, d, beta, W, Wabs)
    # realistic error: the tableau's own rounding, 2 eps X_f, over the slope
    est = 2.0 / (b.shape[0] + 2) * fn / max(abs(df), 1e-300)
    return beta, est + (hi - lo) + 2.0 * eps * beta, 0


# ---------------------------------------------------------------------------- candidates
def _unit_roots(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Roots ``z != 0`` of ``R(z) = 1``, i.e. of ``g(z) = bᵀ(I - zA)⁻¹1``, as eigenvalues.

    ``g(z) = det([[I - zA, -1], [bᵀ, 0]])``, a linear pencil in ``z``.  When ``g(0) = Σb``
    is not small against ``Σ|b|`` the pencil is reduced to a standard eigenproblem: a root
    has a stage vector ``v = (I - zA)⁻¹1`` (up to scale) with ``bᵀv = 0``, and the
    projector ``Π = I - 1bᵀ/Σb`` turns ``v - zAv ∈ span(1)`` into ``ΠAv = v/z``, so the
    roots are ``1/μ`` for the non-zero eigenvalues ``μ`` of ``ΠA``.  Otherwise (as for
    the composition used on the imaginary axis, where ``Σb = 0``) the pencil goes to QZ.
    """
    s = b.shape[0]
    total = float(b.sum())
    if abs(total) >= 0.1 * float(np.abs(b).sum()) and total != 0.0:
        proj = np.eye(s) - np.outer(np.ones(s), b) / total
        with blas_threads(1):
            mu = np.linalg.eigvals(proj @ A)
        mu = mu[mu != 0.0]
        return 1.0 / mu
    from scipy.linalg import eigvals  # lazily: scipy.linalg costs ~0.2 s to import

    M = np.zeros((s + 1, s + 1))
    M[:s, :s] = np.eye(s)
    M[:s, s] = -1.0
    M[s, :s] = b
    N = np.zeros((s + 1, s + 1))
    N[:s, :s] = A
    with np.errstate(divide="ignore", invalid="ignore"), blas_threads(1):
        z = eigvals(M, N)
    return z[np.isfinite(z)]


def real_axis_cuts(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Candidate ``t > 0`` with ``R(-t) = ±1``, sorted; (n,) float64."""
    with blas_threads(1):
        mu = np.linalg.eigvals(A - 0.5 * np.outer(np.ones(b.shape[0]), b))
    with np.errstate(divide="ignore", invalid="ignore"):
        minus = 1.0 / mu[mu != 0.0]
    z = np.concatenate([minus, _unit_roots(A, b)])
    z = z[np.isfinite(z) & (z.real < 0.0) & (np.abs(z.imag) <= 0.1 * np.abs(z))]
    return np.sort(-z.real)


def imaginary_axis_cuts(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Candidate ``y > 0`` with ``|R(iy)| = 1``, sorted; (n,) float64.

    ``R(z)R(-z)`` is the stability function of the composition of ``(A, b)`` with the
    negative-step method ``(-A, -b)``: ``[[A, 0], [1bᵀ, -A]]``, ``[b, -b]``.
    """
    s = b.shape[0]
    Ac = np.zeros((2 * s, 2 * s))
    Ac[:s, :s] = A
    Ac[s:, :s] = np.outer(np.ones(s), b)
    Ac[s:, s:] = -A
    z = _unit_roots(Ac, np.concatenate([b, -b]))
    z = z[(np.abs(z.real) <= 0.1 * np.abs(z)) & (z.imag != 0.0)]
    return np.sort(np.abs(z.imag))
