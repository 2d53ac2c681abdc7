"""Stability figures of many explicit tableaux at once (numba, parallel over candidates).

The training loop scores thousands of few-stage candidates, so the batch runs the
root-based limits of :mod:`rkcore.stability` compiled and in parallel, together with
their error estimates; only the candidates for which these are not adequate
(:func:`rkcore._root_limits.roots_adequate`: many stages, very large regions) are redone
one by one by the stage recursion.  Results are identical to the single-tableau
functions.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit, prange

from ._root_limits import imag_error, imag_interval, real_error, real_interval, roots_adequate
from ._stages import abs_r_grid
from .errors import RKInputError
from .order import _as_batch
from .stability import FAST_PATH_RTOL, _check_rtol, _stability_poly, explicit_limits


@njit(parallel=True, cache=True)
def _poly_batch_kernel(A, b, V, Vabs, W, Wabs, P, Perr):
    """Stability polynomials of a batch: A (n, s, s), b (n, s), scratch (n, s), P/Perr (n, s + 1)."""
    for k in prange(b.shape[0]):
        _stability_poly(A[k], b[k], V[k], Vabs[k], W[k], Wabs[k], P[k], Perr[k])


@njit(parallel=True, cache=True)
def _intervals_batch_kernel(P, Perr, Q, Qerr, want_real, want_imag, fast_rtol, out, adequate):
    """Root-based real and/or imaginary limits and their error estimates for every row of P.

    P, Perr (n, m + 1); Q, Qerr (m + 1,) shared; out (4, n): real, imaginary, their
    errors; adequate (2, n): whether each needs no stage-recursion check.
    """
    for k in prange(P.shape[0]):
        if want_real:
            out[0, k] = real_interval(P[k], Q, Perr[k], Qerr)
            out[2, k] = real_error(P[k], Q, Perr[k], Qerr, out[0, k])
            adequate[0, k] = roots_adequate(P[k], Perr[k], out[0, k], out[2, k], fast_rtol)
        if want_imag:
            out[1, k] = imag_interval(P[k], Q, Perr[k], Qerr)
            out[3, k] = imag_error(P[k], Q, Perr[k], Qerr, out[1, k])
            adequate[1, k] = roots_adequate(P[k], Perr[k], out[1, k], out[3, k], fast_rtol)


class StabilitySummary(NamedTuple):
    """Stability figures of a batch of explicit tableaux.

    Attributes
    ----------
    polynomial : ndarray, shape (n, s + 1)
        Ascending stability-polynomial coefficients.
    real_interval, imaginary_interval : ndarray, shape (n,)
        NaN where the candidate has non-finite entries or the figure cannot be verified.
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


def _batch_intervals(A, b, want_real: bool, want_imag: bool, rtol: float) -> StabilitySummary:
    rtol = _check_rtol(rtol)
    A, b = _explicit_batch(A, b)
    n, s = b.shape
    P, Perr = _batch_poly(A, b)
    Q = np.zeros(s + 1)
    Q[0] = 1.0
    out = np.full((4, n), np.nan)
    adequate = np.ones((2, n), dtype=np.bool_)
    _intervals_batch_kernel(P, Perr, Q, np.zeros(s + 1), want_real, want_imag, FAST_PATH_RTOL, out, adequate)
    real, imag, real_err, imag_err = out
    finite = np.isfinite(P).all(axis=1) & np.isfinite(A).all(axis=(1, 2)) & np.isfinite(b).all(axis=1)
    redo = finite & ~(adequate[0] & adequate[1])
    for k in np.flatnonzero(redo):
        r, i = explicit_limits(
            A[k], b[k], P[k], Perr[k], real[k] if want_real else np.nan, imag[k] if want_imag else np.nan
        )
        real[k], real_err[k] = r.value, r.error
        imag[k], imag_err[k] = i.value, i.error

    def verified(value, err):
        ok = (err == 0.0) | (np.isfinite(value) & (err <= rtol * np.abs(value)))
        return np.where(ok & finite, value, np.nan)

    return StabilitySummary(P, verified(real, real_err), verified(imag, imag_err))


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


def real_stability_interval_batch(A, b, rtol: float = 1e-6) -> np.ndarray:
    """:func:`rkcore.real_stability_interval` for a batch of explicit tableaux (numba, parallel).

    Parameters
    ----------
    A : array_like, shape (n, s, s), strictly lower triangular
    b : array_like, shape (n, s)
    rtol : float
        Values whose estimated relative error exceeds ``rtol`` are NaN.

    Returns
    -------
    ndarray, shape (n,)
        NaN for a candidate with non-finite coefficients or an unverifiable interval (no
        error is raised, so one bad candidate does not stop a batch).
    """
    return _batch_intervals(A, b, True, False, rtol).real_interval


def imaginary_stability_interval_batch(A, b, rtol: float = 1e-6) -> np.ndarray:
    """:func:`rkcore.imaginary_stability_interval` for a batch of explicit tableaux; (n,), NaN as above."""
    return _batch_intervals(A, b, False, True, rtol).imaginary_interval


def stability_summary_batch(A, b, rtol: float = 1e-6) -> StabilitySummary:
    """Polynomial, real and imaginary intervals of a batch of explicit tableaux in one pass.

    Parameters
    ----------
    A : array_like, shape (n, s, s), strictly lower triangular
    b : array_like, shape (n, s)
    rtol : float
        Intervals whose estimated relative error exceeds ``rtol`` are NaN.

    Returns
    -------
    StabilitySummary
        Intervals are NaN for candidates with non-finite coefficients or unverifiable figures.
    """
    return _batch_intervals(A, b, True, True, rtol)


def stability_grid(A, b, re, im) -> np.ndarray:
    """``|R(z)|`` on the grid ``z = re[i] + 1j*im[j]`` for a batch of explicit tableaux.

    The stability-region kernel, parallel over (tableau, grid row) pairs: Horner on a
    stability polynomial whose round-off bound over the grid is below 1e-12, the stage
    recursion (:mod:`rkcore._stages`) for the others.

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
    P, Perr = _batch_poly(A, b)
    out = np.empty((b.shape[0], im.shape[0], re.shape[0]))
    abs_r_grid(A, b, P, Perr, re, im, out)
    return out
