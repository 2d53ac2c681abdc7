"""Linear stability of Runge--Kutta methods: R(z), its coefficients, stability intervals.

Applied to ``y' = λy`` a Runge--Kutta step multiplies ``y`` by the stability
function ``R(z) = 1 + z bᵀ(I - zA)⁻¹1`` with ``z = hλ``.  For an explicit
method ``R`` is the polynomial ``Σ_k p_k z^k`` with ``p_0 = 1`` and
``p_k = b·A^(k-1)·1``; for an implicit method it is the rational function
``P(z)/Q(z)`` with ``P(z) = det(I - zA + z 1bᵀ)`` and ``Q(z) = det(I - zA)``.

Two ways to the stability limits, and every result carries an error estimate:

* **Roots of the coefficients** (the fast path, used first).  The ascending
  vectors ``P, Q`` come with a *round-off bound* for every coefficient; a
  coefficient no larger than its bound is treated as zero (an order-2 method
  stored in floating point has ``Σb·c = 0.49999999999999994``, and the exact
  method's tangency at ``z = 0`` must not turn into a spurious root at 1e-8).
  Real axis: ``|R(x)| = 1`` where ``P - Q = 0`` or ``P + Q = 0``; every real
  negative root is a candidate boundary, the gaps between them are checked at
  their midpoints, and the first unstable gap ends the interval (real roots from
  :func:`rkcore._polyroots.real_roots`: isolated through the derivatives, polished
  by safeguarded Newton).  Imaginary axis: ``|P(iy)|² - |Q(iy)|²`` is a polynomial
  in ``w = y²`` that vanishes at ``w = 0``; the sign of its lowest non-negligible
  coefficient says whether the axis near 0 is stable (0 is returned otherwise, as
  nodepy does for forward Euler and two-stage second-order methods), and its
  positive roots are scanned as on the real axis.  The error estimate of a limit
  ``β`` is Horner's round-off bound at ``|z| = β`` divided by the slope there.
* **The stage recursion** (explicit methods whose fast-path estimate is not within
  1e-11 relative while Horner's rule is inaccurate out to the limit).  Monomial
  coefficients of a many-stage method span hundreds of decades and Horner's rule
  cancels catastrophically far from 0 (``(1 + z/s)^s`` at ``z = -2s`` sums terms up to
  ``3^s``), so :mod:`rkcore._axis_limits` finds the crossings as eigenvalues of
  matrices made of tableau entries and checks and polishes them with ``R`` evaluated
  by forward substitution (:mod:`rkcore._stages`), which is backward stable in the
  tableau.

A figure whose error estimate exceeds the requested relative tolerance is not
returned as a number: the scalar functions return NaN, and :func:`rkcore.analyze`
says why.  The batch functions (:mod:`rkcore.stability_batch`) run the fast path
compiled and in parallel and take the second path only for the candidates that
need it.  The region's area is in :mod:`rkcore.stability_region`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from ._axis_limits import WALK_OK, axis_walk, imaginary_axis_cuts, real_axis_cuts
from ._root_limits import (
    imag_error,
    imag_interval,
    imag_side,
    real_error,
    real_interval,
    real_side,
    roots_adequate,
)
from ._stages import horner_trusted, r_values
from .errors import RKInputError, TableauError
from .order import _check_tableau
from .tableau import Tableau

# ---------------------------------------------------------------------------- compiled core
# eps is written as a literal inside the kernel: numba freezes module globals at compile time.


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

    The coefficients are accurate to their round-off bounds, but for a many-stage
    method they are an ill-conditioned description of ``R`` far from 0: evaluate
    ``R`` with :func:`stability_function`, which switches to the stage recursion.

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
        Explicit methods: Horner on the stability polynomial when its round-off bound is
        below 1e-12 at every requested point, the stage recursion (forward substitution,
        backward stable) otherwise.  Implicit: ``det(I - zA + z1bᵀ)/det(I - zA)``
        (``inf``/``nan`` exactly at a pole).
    """
    t = _check_tableau(tableau)
    z = np.asarray(z, dtype=np.complex128)
    if t.is_explicit:
        P, Perr = _explicit_poly(t.A, t.b)
        radius = float(np.abs(z).max()) if z.size else 0.0
        if not horner_trusted(P, Perr, radius):
            flat = np.ascontiguousarray(z.reshape(-1))
            out = np.empty_like(flat)
            r_values(np.ascontiguousarray(t.A), np.ascontiguousarray(t.b), flat, out)
            return out.reshape(z.shape)
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


# ---------------------------------------------------------------------------- stability limits
class StabilityFigure(NamedTuple):
    """A stability limit or area with its estimated absolute error.

    Attributes
    ----------
    value : float
        ``inf`` when unbounded, NaN for non-finite input.
    error : float
        Estimated absolute error: 0 for exact decisions (a limit of 0 read from the
        Taylor coefficients, an unbounded region), ``inf`` when the value could not be
        verified at all.
    method : str
        How it was computed: ``"roots"`` (roots of the coefficients), ``"stages"``
        (eigenvalue candidates checked by the stage recursion), ``"boundary"`` or
        ``"slices"`` (areas, :mod:`rkcore.stability_region`).
    """

    value: float
    error: float
    method: str

    def verified(self, rtol: float) -> bool:
        """True when ``error <= rtol·|value|`` (exact values and unbounded ones included)."""
        if self.error == 0.0:
            return not np.isnan(self.value)
        return bool(np.isfinite(self.value) and self.error <= rtol * abs(self.value))


FAST_PATH_RTOL = 1e-11
"""Root-based limits estimated to be accurate to this (relative) are not recomputed."""
TOUCH_TOLERANCE = 1e-3
"""Largest round-off threshold on ``|R|² - 1`` under which ``|R| = 1`` within it counts as stable.

A pure Chebyshev polynomial touches ``|R| = 1`` at every interior extremum, and a 200-stage
one evaluated from its tableau resolves ``|R|²`` to about 1e-4 there; beyond this tolerance a
gap is undecidable and the limit is reported as unverified instead."""


def _check_rtol(rtol: float) -> float:
    rtol = float(rtol)
    if not (0.0 < rtol < 1.0):
        raise RKInputError(f"rtol must be in (0, 1), got {rtol}")
    return rtol


def _choose(fast: StabilityFigure, adequate: bool, slow) -> StabilityFigure:
    """The root-based figure if adequate, else the stage-recursion one if that is better."""
    if adequate:
        return fast
    other = slow()
    return other if other.error <= fast.error or not np.isfinite(fast.error) else fast


def _stages_real(A: np.ndarray, b: np.ndarray, P: np.ndarray, Perr: np.ndarray) -> StabilityFigure:
    zero = np.zeros_like(P)
    Q = zero.copy()
    Q[0] = 1.0
    side = real_side(P, Q, Perr, zero)
    if side == 1:
        return StabilityFigure(0.0, 0.0, "stages")
    if side == 0:
        return StabilityFigure(np.inf, 0.0, "stages")
    beta, err, status = axis_walk(A, b, complex(-1.0, 0.0), real_axis_cuts(A, b), TOUCH_TOLERANCE)
    return StabilityFigure(float(beta), float(err) if status == WALK_OK else np.inf, "stages")


def _stages_imag(A: np.ndarray, b: np.ndarray, P: np.ndarray, Perr: np.ndarray) -> StabilityFigure:
    zero = np.zeros_like(P)
    Q = zero.copy()
    Q[0] = 1.0
    side = imag_side(P, Q, Perr, zero)
    if side == 1:
        return StabilityFigure(0.0, 0.0, "stages")
    if side == 0:
        return StabilityFigure(np.inf, 0.0, "stages")
    beta, err, status = axis_walk(A, b, complex(0.0, 1.0), imaginary_axis_cuts(A, b), TOUCH_TOLERANCE)
    return StabilityFigure(float(beta), float(err) if status == WALK_OK else np.inf, "stages")


def explicit_limits(
    A: np.ndarray, b: np.ndarray, P: np.ndarray, Perr: np.ndarray, fast_real: float, fast_imag: float
) -> tuple[StabilityFigure, StabilityFigure]:
    """Real and imaginary figures of one explicit tableau from its root-based limits.

    ``fast_real``/``fast_imag`` are the root-based values (NaN: not wanted); each is
    kept when :func:`rkcore._root_limits.roots_adequate`, else recomputed by the stage recursion (and the
    better-estimated of the two is returned).  Shared by the single-tableau functions
    and the batches.
    """
    zero = np.zeros_like(P)
    Q = zero.copy()
    Q[0] = 1.0
    A = np.ascontiguousarray(A)
    b = np.ascontiguousarray(b)
    nan = StabilityFigure(np.nan, np.inf, "roots")
    real = imag = nan
    if not np.isnan(fast_real):
        fast = StabilityFigure(fast_real, float(real_error(P, Q, Perr, zero, fast_real)), "roots")
        ok = roots_adequate(P, Perr, fast.value, fast.error, FAST_PATH_RTOL)
        real = _choose(fast, ok, lambda: _stages_real(A, b, P, Perr))
    if not np.isnan(fast_imag):
        fast = StabilityFigure(fast_imag, float(imag_error(P, Q, Perr, zero, fast_imag)), "roots")
        ok = roots_adequate(P, Perr, fast.value, fast.error, FAST_PATH_RTOL)
        imag = _choose(fast, ok, lambda: _stages_imag(A, b, P, Perr))
    return real, imag


_METHODS = ("auto", "roots", "stages")


def _figure(tableau: Tableau, method: str, axis: str) -> StabilityFigure:
    t = _check_tableau(tableau)
    if method not in _METHODS:
        raise RKInputError(f"method must be one of {', '.join(_METHODS)}; got {method!r}")
    if method == "stages" and not t.is_explicit:
        raise TableauError(
            f"tableau '{t.name or '?'}' is implicit; the stage recursion needs an explicit tableau"
        )
    c = stability_function_coefficients(t)
    args = (c.numerator, c.denominator, c.numerator_err, c.denominator_err)
    if not (np.all(np.isfinite(c.numerator)) and np.all(np.isfinite(c.denominator))):
        return StabilityFigure(np.nan, np.inf, method if method != "auto" else "roots")
    real = axis == "real"
    if method == "stages":
        stages = _stages_real if real else _stages_imag
        return stages(np.ascontiguousarray(t.A), np.ascontiguousarray(t.b), c.numerator, c.numerator_err)
    beta = float(real_interval(*args) if real else imag_interval(*args))
    if t.is_explicit and method == "auto":
        both = explicit_limits(
            t.A, t.b, c.numerator, c.numerator_err, beta if real else np.nan, np.nan if real else beta
        )
        return both[0] if real else both[1]
    if np.isinf(beta) and not t.is_explicit:
        return StabilityFigure(beta, 0.0, "roots")  # A-stable: read off the coefficients as before
    err = real_error(*args, beta) if real else imag_error(*args, beta)
    return StabilityFigure(beta, float(err), "roots")


def real_stability_figure(tableau: Tableau, method: str = "auto") -> StabilityFigure:
    """:func:`real_stability_interval` with its error estimate and the method used.

    Parameters
    ----------
    tableau : Tableau
    method : {"auto", "roots", "stages"}
        ``"auto"``: roots of the coefficients, redone by the stage recursion where those
        are not accurate (explicit methods); the other two force one path (``"stages"``
        for explicit tableaux only).
    """
    return _figure(tableau, method, "real")


def imaginary_stability_figure(tableau: Tableau, method: str = "auto") -> StabilityFigure:
    """:func:`imaginary_stability_interval` with its error estimate and the method used.

    ``method`` as for :func:`real_stability_figure`.
    """
    return _figure(tableau, method, "imaginary")


def real_stability_interval(tableau: Tableau, rtol: float = 1e-6) -> float:
    """Largest β with ``|R(x)| <= 1`` for all ``x`` in ``[-β, 0]``.

    Returns ``inf`` when the whole negative axis is stable (A-stable implicit methods)
    and 0 when ``|R(x)| > 1`` just left of 0.  Matches nodepy's ``real_stability_interval``
    for few-stage methods and stays exact for hundreds of stages (see the module notes).

    Parameters
    ----------
    tableau : Tableau
    rtol : float
        The value is returned only if its estimated relative error is at most ``rtol``;
        otherwise NaN (the figure cannot be trusted in floating point;
        :func:`real_stability_figure` gives the estimate and the error).  The estimate
        is the first-order effect of storing the tableau in floating point and is usually
        far above the actual error (about 1e-15 relative for ``(1 + z/s)^s``, s <= 200).
    """
    rtol = _check_rtol(rtol)
    fig = real_stability_figure(tableau)
    return fig.value if fig.verified(rtol) else float("nan")


def imaginary_stability_interval(tableau: Tableau, rtol: float = 1e-6) -> float:
    """Largest β with ``|R(iy)| <= 1`` for all ``y`` in ``[0, β]``.

    0 when ``|R(iy)| > 1`` for small ``y`` (forward Euler, every two-stage second-order
    method: nodepy returns 0 for them too); ``inf`` when the whole axis is stable
    (A-stable implicit methods, where nodepy returns 0).  NaN when the value cannot be
    verified to ``rtol`` (see :func:`real_stability_interval`).
    """
    rtol = _check_rtol(rtol)
    fig = imaginary_stability_figure(tableau)
    return fig.value if fig.verified(rtol) else float("nan")
