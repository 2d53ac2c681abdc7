"""Linear stability of Runge--Kutta methods: R(z), its coefficients, stability intervals.

Applied to ``y' = λy`` a Runge--Kutta step multiplies ``y`` by the stability
function ``R(z) = 1 + z bᵀ(I - zA)⁻¹1`` with ``z = hλ``.  For an explicit
method ``R`` is the polynomial ``Σ_k p_k z^k`` with ``p_0 = 1`` and
``p_k = b·A^(k-1)·1``; for an implicit method it is the rational function
``P(z)/Q(z)`` with ``P(z) = det(I - zA + z 1bᵀ)`` and ``Q(z) = det(I - zA)``.

Everything below works on the ascending coefficient vectors ``P, Q`` of
length ``s + 1`` together with a *round-off bound* for every coefficient.  A
coefficient no larger than its bound is treated as zero: an order-2 method
stored in floating point has ``Σb·c = 0.49999999999999994``, and the exact
method's tangency at ``z = 0`` must not turn into a spurious root at 1e-8.

Stability limits are found from polynomial roots, never by sampling:

* real axis: ``|R(x)| = 1`` where ``P - Q = 0`` or ``P + Q = 0``; every real
  negative root is a candidate boundary, the gaps between them are checked at
  their midpoints, and the first unstable gap ends the interval.  Real roots
  come from :func:`rkcore._polyroots.real_roots` (isolated through the
  derivatives, polished by safeguarded Newton; no eigenvalues).
* imaginary axis: ``|P(iy)|² - |Q(iy)|²`` is a polynomial in ``w = y²`` that
  vanishes at ``w = 0``; the sign of its lowest non-negligible coefficient says
  whether the axis near 0 is stable (0 is returned otherwise, as nodepy does for
  forward Euler and two-stage second-order methods), and its positive roots are
  the candidates scanned as on the real axis.

The batch functions run the same compiled code for many explicit tableaux in
parallel (numba ``prange`` over candidates).  The region's area is in
:mod:`rkcore.stability_region`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit, prange

from ._polyroots import real_roots
from .errors import RKInputError, TableauError
from .order import _as_batch, _check_tableau
from .tableau import Tableau

# ---------------------------------------------------------------------------- compiled cores
# eps is written as a literal inside the kernels: numba freezes module globals at compile time.


@njit(cache=True)
def _stability_poly(A, b, v, vabs, w, wabs, P, Perr):
    """Coefficients ``P[k] = b·A^(k-1)·1`` (``P[0] = 1``) and their round-off bounds.

    Parameters
    ----------
    A : (s, s) float64, strictly lower triangular
    b : (s,) float64
    v, vabs, w, wabs : (s,) float64
        Scratch.
    P, Perr : (s + 1,) float64
        Output coefficients (ascending) and bounds ``~ k s eps |b||A|^(k-1)1``.
    """
    eps = 2.220446049250313e-16
    s = b.shape[0]
    for i in range(s):
        v[i] = 1.0
        vabs[i] = 1.0
    P[0] = 1.0
    Perr[0] = 0.0
    for k in range(1, s + 1):
        acc = 0.0
        accabs = 0.0
        for i in range(s):
            acc += b[i] * v[i]
            accabs += abs(b[i]) * vabs[i]
        P[k] = acc
        Perr[k] = 4.0 * (k * s + 1) * eps * accabs
        if k < s:
            for i in range(s):
                acc = 0.0
                accabs = 0.0
                for j in range(s):
                    acc += A[i, j] * v[j]
                    accabs += abs(A[i, j]) * vabs[j]
                w[i] = acc
                wabs[i] = accabs
            for i in range(s):
                v[i] = w[i]
                vabs[i] = wabs[i]


@njit(cache=True)
def _unstable_at(P, Q, Perr, Qerr, x, y):
    """True when ``|R(x + iy)| > 1`` beyond the evaluation's own round-off."""
    eps = 2.220446049250313e-16
    z = complex(x, y)
    az = abs(z)
    m = P.shape[0] - 1
    pv = 0j
    qv = 0j
    noise = 0.0
    for k in range(m, -1, -1):
        pv = pv * z + P[k]
        qv = qv * z + Q[k]
        noise = noise * az + Perr[k] + Qerr[k] + 4.0 * (m + 1) * eps * (abs(P[k]) + abs(Q[k]))
    return abs(pv) - abs(qv) > 1e-14 * abs(qv) + noise


@njit(cache=True)
def _real_interval(P, Q, Perr, Qerr):
    """Largest β with ``|R(x)| <= 1`` on ``[-β, 0]`` (``inf`` when unbounded, NaN for non-finite input)."""
    eps = 2.220446049250313e-16
    if not (np.all(np.isfinite(P)) and np.all(np.isfinite(Q))):
        return np.nan
    m = P.shape[0] - 1
    D = P[1:] - Q[1:]  # P - Q vanishes at 0 (P0 = Q0 = 1): divide by x exactly
    S = P + Q
    Derr = Perr[1:] + Qerr[1:] + eps * (np.abs(P[1:]) + np.abs(Q[1:]))
    Serr = Perr + Qerr + eps * (np.abs(P) + np.abs(Q))
    r1 = real_roots(D, Derr, -np.inf, 0.0)
    r2 = real_roots(S, Serr, -np.inf, 0.0)
    cand = np.empty(r1.shape[0] + r2.shape[0])
    cnt = 0
    for r in (r1, r2):
        for x in r:
            if x < 0.0:
                cand[cnt] = -x
                cnt += 1
    cand = np.sort(cand[:cnt])
    prev = 0.0
    for t in cand:
        if t <= prev:
            continue
        if _unstable_at(P, Q, Perr, Qerr, -0.5 * (prev + t), 0.0):
            return prev
        prev = t
    probe = 2.0 * prev if prev > 0.0 else 1.0
    if m > 0 and _unstable_at(P, Q, Perr, Qerr, -probe, 0.0):
        return prev
    return np.inf


@njit(cache=True)
def _imag_polynomial(P, Q, Perr, Qerr):
    """Coefficients of ``F(w) = |P(iy)|² - |Q(iy)|²`` in ``w = y²`` and their bounds, shape (m + 1,)."""
    eps = 2.220446049250313e-16
    m = P.shape[0] - 1
    F = np.zeros(m + 1)
    Ferr = np.zeros(m + 1)
    for n2 in range(m + 1):
        n = 2 * n2
        acc = 0.0
        err = 0.0
        mag = 0.0
        for j in range(max(0, n - m), min(n, m) + 1):
            k = n - j
            # Re(i^j conj(i^k)) = i^(j-k) with j - k even: +1 or -1
            sgn = 1.0 if (j - k) % 4 == 0 else -1.0
            acc += sgn * (P[j] * P[k] - Q[j] * Q[k])
            mag += abs(P[j] * P[k]) + abs(Q[j] * Q[k])
            err += Perr[j] * abs(P[k]) + abs(P[j]) * Perr[k] + Perr[j] * Perr[k]
            err += Qerr[j] * abs(Q[k]) + abs(Q[j]) * Qerr[k] + Qerr[j] * Qerr[k]
        F[n2] = acc
        Ferr[n2] = 2.0 * err + 4.0 * (n + 2) * eps * mag
    return F, Ferr


@njit(cache=True)
def _imag_interval(P, Q, Perr, Qerr):
    """Largest β with ``|R(iy)| <= 1`` on ``[0, β]`` (0 if unstable right above 0, ``inf`` if never)."""
    if not (np.all(np.isfinite(P)) and np.all(np.isfinite(Q))):
        return np.nan
    F, Ferr = _imag_polynomial(P, Q, Perr, Qerr)
    m = F.shape[0] - 1
    lo = 1  # F[0] = |P0|² - |Q0|² = 0
    while lo <= m and abs(F[lo]) <= Ferr[lo]:
        lo += 1
    if lo > m:
        return np.inf  # |R(iy)| = 1 on the whole axis (e.g. Gauss methods)
    if F[lo] > 0.0:
        return 0.0
    roots = real_roots(F[1:], Ferr[1:], 0.0, np.inf)
    cand = np.empty(roots.shape[0])
    cnt = 0
    for w in roots:
        if w > 0.0:
            cand[cnt] = np.sqrt(w)
            cnt += 1
    cand = np.sort(cand[:cnt])
    prev = 0.0
    for t in cand:
        if t <= prev:
            continue
        if _unstable_at(P, Q, Perr, Qerr, 0.0, 0.5 * (prev + t)):
            return prev
        prev = t
    probe = 2.0 * prev if prev > 0.0 else 1.0
    if _unstable_at(P, Q, Perr, Qerr, 0.0, probe):
        return prev
    return np.inf


@njit(parallel=True, cache=True)
def _poly_batch_kernel(A, b, V, Vabs, W, Wabs, P, Perr):
    """Stability polynomials of a batch: A (n, s, s), b (n, s), scratch (n, s), P/Perr (n, s + 1)."""
    for k in prange(b.shape[0]):
        _stability_poly(A[k], b[k], V[k], Vabs[k], W[k], Wabs[k], P[k], Perr[k])


@njit(parallel=True, cache=True)
def _intervals_batch_kernel(P, Perr, Q, Qerr, want_real, want_imag, real_out, imag_out):
    """Real and/or imaginary intervals for every row of P (n, m + 1); Q, Qerr (m + 1,) shared."""
    for k in prange(P.shape[0]):
        if want_real:
            real_out[k] = _real_interval(P[k], Q, Perr[k], Qerr)
        if want_imag:
            imag_out[k] = _imag_interval(P[k], Q, Perr[k], Qerr)


@njit(parallel=True, cache=True)
def _grid_kernel(P, re, im, out):
    """``out[k, j, i] = |Σ_m P[k, m] z^m|`` at ``z = re[i] + 1j*im[j]``; prange over (k, j) pairs."""
    n, deg1 = P.shape
    ny = im.shape[0]
    nx = re.shape[0]
    for kj in prange(n * ny):
        k = kj // ny
        j = kj % ny
        for i in range(nx):
            z = complex(re[i], im[j])
            acc = 0j
            for m in range(deg1 - 1, -1, -1):
                acc = acc * z + P[k, m]
            out[k, j, i] = abs(acc)


# ---------------------------------------------------------------------------- coefficients
class StabilityCoefficients(NamedTuple):
    """``R(z) = P(z)/Q(z)`` as ascending coefficient vectors with round-off bounds.

    Attributes
    ----------
    numerator, denominator : ndarray, shape (s + 1,)
        ``P`` and ``Q``; ``Q = [1, 0, ..., 0]`` for an explicit method.
    numerator_err, denominator_err : ndarray, shape (s + 1,)
        Bounds on the round-off in each coefficient; smaller values count as zero.
    """

    numerator: np.ndarray
    denominator: np.ndarray
    numerator_err: np.ndarray
    denominator_err: np.ndarray


def _explicit_poly(A: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = b.shape[0]
    P = np.empty(s + 1)
    Perr = np.empty(s + 1)
    scratch = np.empty((4, s))
    _stability_poly(
        np.ascontiguousarray(A),
        np.ascontiguousarray(b),
        scratch[0],
        scratch[1],
        scratch[2],
        scratch[3],
        P,
        Perr,
    )
    return P, Perr


def stability_function_coefficients(tableau: Tableau) -> StabilityCoefficients:
    """Numerator and denominator of ``R(z)`` for any tableau.

    Explicit: ``P_k = b·A^(k-1)·1`` and ``Q = 1``.  Implicit: ``P`` and ``Q`` are
    interpolated from ``det(I - zA + z1bᵀ)`` and ``det(I - zA)`` at the ``s + 1``
    roots of unity (a well-conditioned discrete Fourier transform).
    """
    t = _check_tableau(tableau)
    s = t.stages
    if t.is_explicit:
        P, Perr = _explicit_poly(t.A, t.b)
        Q = np.zeros(s + 1)
        Q[0] = 1.0
        return StabilityCoefficients(P, Q, Perr, np.zeros(s + 1))
    n = s + 1
    z = np.exp(2j * np.pi * np.arange(n) / n)
    MQ = np.eye(s) - z[:, None, None] * t.A
    MP = MQ + z[:, None, None] * np.outer(np.ones(s), t.b)
    coeffs, errs = [], []
    for M in (MP, MQ):
        vals = np.linalg.det(M)
        c = (np.fft.fft(vals) / n).real
        c[0] = 1.0  # det(I) = 1 exactly; P0 - Q0 must cancel exactly
        hadamard = np.max(np.prod(np.linalg.norm(M, axis=2), axis=1))
        err = np.full(n, 32.0 * n * np.finfo(np.float64).eps * max(hadamard, 1.0))
        err[0] = 0.0
        coeffs.append(c)
        errs.append(err)
    return StabilityCoefficients(coeffs[0], coeffs[1], errs[0], errs[1])


def stability_polynomial(tableau: Tableau) -> np.ndarray:
    """Stability polynomial of an explicit method, ascending powers.

    Returns
    -------
    ndarray, shape (s + 1,)
        ``[1, b·1, b·A1, b·A²1, ..., b·A^(s-1)1]``.

    Raises
    ------
    TableauError
        For an implicit tableau (its ``R`` is rational: see :func:`stability_function_coefficients`).
    """
    t = _check_tableau(tableau)
    if not t.is_explicit:
        raise TableauError(
            f"tableau '{t.name or '?'}' is implicit, so R(z) is rational, not a polynomial; "
            "use stability_function_coefficients() or stability_function()"
        )
    return _explicit_poly(t.A, t.b)[0]


def stability_function(tableau: Tableau, z) -> np.ndarray:
    """``R(z) = 1 + z bᵀ(I - zA)⁻¹1`` at any array of complex points.

    Parameters
    ----------
    tableau : Tableau
    z : complex or array_like of complex, any shape

    Returns
    -------
    complex ndarray, same shape as ``z``
        Horner on the polynomial for explicit methods; ``det(I - zA + z1bᵀ)/det(I - zA)``
        for implicit ones (``inf``/``nan`` exactly at a pole).
    """
    t = _check_tableau(tableau)
    z = np.asarray(z, dtype=np.complex128)
    if t.is_explicit:
        P = stability_polynomial(t)
        out = np.zeros_like(z)
        for coef in P[::-1]:
            out = out * z + coef
        return out
    s = t.stages
    zz = z.reshape(-1)[:, None, None]
    MQ = np.eye(s) - zz * t.A
    num = np.linalg.det(MQ + zz * np.outer(np.ones(s), t.b))
    with np.errstate(divide="ignore", invalid="ignore"):
        return (num / np.linalg.det(MQ)).reshape(z.shape)


def real_stability_interval(tableau: Tableau) -> float:
    """Largest β with ``|R(x)| <= 1`` for all ``x`` in ``[-β, 0]``.

    Returns ``inf`` when the whole negative axis is stable (A-stable implicit methods)
    and 0 when ``|R(x)| > 1`` just left of 0.  Matches nodepy's ``real_stability_interval``.
    """
    c = stability_function_coefficients(tableau)
    return float(_real_interval(c.numerator, c.denominator, c.numerator_err, c.denominator_err))


def imaginary_stability_interval(tableau: Tableau) -> float:
    """Largest β with ``|R(iy)| <= 1`` for all ``y`` in ``[0, β]``.

    0 when ``|R(iy)| > 1`` for small ``y`` (forward Euler, every two-stage second-order
    method: nodepy returns 0 for them too); ``inf`` when the whole axis is stable
    (A-stable implicit methods, where nodepy returns 0).
    """
    c = stability_function_coefficients(tableau)
    return float(_imag_interval(c.numerator, c.denominator, c.numerator_err, c.denominator_err))


# ---------------------------------------------------------------------------- batches
class StabilitySummary(NamedTuple):
    """Stability figures of a batch of explicit tableaux.

    Attributes
    ----------
    polynomial : ndarray, shape (n, s + 1)
        Ascending stability-polynomial coefficients.
    real_interval, imaginary_interval : ndarray, shape (n,)
    """

    polynomial: np.ndarray
    real_interval: np.ndarray
    imaginary_interval: np.ndarray


def _explicit_batch(A, b) -> tuple[np.ndarray, np.ndarray]:
    A, b = _as_batch(A, b)
    upper = np.triu(A).reshape(A.shape[0], -1)
    bad = np.flatnonzero(np.any(upper != 0.0, axis=1))
    if bad.size:
        raise RKInputError(
            f"batch 'A' candidate {int(bad[0])} is not strictly lower triangular; "
            "batched stability needs explicit tableaux"
        )
    return A, b


def _batch_poly(A: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n, s = b.shape
    P = np.empty((n, s + 1))
    Perr = np.empty((n, s + 1))
    scratch = np.empty((4, n, s))
    _poly_batch_kernel(A, b, scratch[0], scratch[1], scratch[2], scratch[3], P, Perr)
    return P, Perr


def _batch_intervals(A, b, want_real: bool, want_imag: bool) -> StabilitySummary:
    A, b = _explicit_batch(A, b)
    n, s = b.shape
    P, Perr = _batch_poly(A, b)
    Q = np.zeros(s + 1)
    Q[0] = 1.0
    real_out = np.full(n, np.nan)
    imag_out = np.full(n, np.nan)
    _intervals_batch_kernel(P, Perr, Q, np.zeros(s + 1), want_real, want_imag, real_out, imag_out)
    return StabilitySummary(P, real_out, imag_out)


def stability_polynomial_batch(A, b) -> np.ndarray:
    """Stability polynomials of a batch of explicit tableaux.

    Parameters
    ----------
    A : array_like, shape (n, s, s), strictly lower triangular
    b : array_like, shape (n, s)

    Returns
    -------
    ndarray, shape (n, s + 1), ascending powers
    """
    A, b = _explicit_batch(A, b)
    return _batch_poly(A, b)[0]


def real_stability_interval_batch(A, b) -> np.ndarray:
    """:func:`real_stability_interval` for a batch of explicit tableaux (numba, parallel).

    Parameters
    ----------
    A : array_like, shape (n, s, s), strictly lower triangular
    b : array_like, shape (n, s)

    Returns
    -------
    ndarray, shape (n,)
        NaN for a candidate with non-finite coefficients (no error is raised, so one bad
        candidate does not stop a batch).
    """
    return _batch_intervals(A, b, True, False).real_interval


def imaginary_stability_interval_batch(A, b) -> np.ndarray:
    """:func:`imaginary_stability_interval` for a batch of explicit tableaux; (n,), NaN where non-finite."""
    return _batch_intervals(A, b, False, True).imaginary_interval


def stability_summary_batch(A, b) -> StabilitySummary:
    """Polynomial, real and imaginary intervals of a batch of explicit tableaux in one pass.

    Parameters
    ----------
    A : array_like, shape (n, s, s), strictly lower triangular
    b : array_like, shape (n, s)

    Returns
    -------
    StabilitySummary
        Intervals are NaN for candidates with non-finite coefficients.
    """
    return _batch_intervals(A, b, True, True)


def stability_grid(A, b, re, im) -> np.ndarray:
    """``|R(z)|`` on the grid ``z = re[i] + 1j*im[j]`` for a batch of explicit tableaux.

    The stability-region kernel: Horner on each stability polynomial, parallel over
    (tableau, grid row) pairs.

    Parameters
    ----------
    A : array_like, shape (n, s, s), strictly lower triangular
    b : array_like, shape (n, s)
    re : array_like, shape (nx,)
    im : array_like, shape (ny,)

    Returns
    -------
    ndarray, shape (n, ny, nx)
        ``out[k, j, i] = |R_k(re[i] + 1j*im[j])|``.
    """
    A, b = _explicit_batch(A, b)
    re = np.ascontiguousarray(re, dtype=np.float64)
    im = np.ascontiguousarray(im, dtype=np.float64)
    if re.ndim != 1 or im.ndim != 1:
        raise RKInputError(f"'re' and 'im' must be 1-D grids, got shapes {re.shape} and {im.shape}")
    P, _ = _batch_poly(A, b)
    out = np.empty((b.shape[0], im.shape[0], re.shape[0]))
    _grid_kernel(P, re, im, out)
    return out
