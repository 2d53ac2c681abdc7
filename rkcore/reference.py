"""Reference solutions at ``t1`` with an error estimate for each problem.

How a reference is made (``Reference.method``):

``"exact"``
    The family's closed form.  Error estimate: the closed form evaluated straight to
    ``t1`` against the same closed form composed through the midpoint
    (``y(t1; y(tm; y0))``), which exposes rounding and, for Kepler, the Newton solve of
    Kepler's equation.
``"DOP853"`` (non-stiff families)
    ``scipy.integrate.solve_ivp(method="DOP853", rtol=1e-12, atol=1e-14 * max(1, |y0|_inf))``.
    Error estimate: distance to a second DOP853 solve at ``rtol=1e-13``.
``"Radau"`` (stiff families)
    ``solve_ivp(method="Radau", rtol=1e-12, atol=1e-14 * max(1, |y0|_inf))``.  Error
    estimate: distance to an independent DOP853 solve at ``rtol=1e-12`` with
    ``max_step = 1 / rho(J(y0))``.  The step cap keeps the explicit method inside its
    stability region, where its error estimator is reliable; without it DOP853 rides the
    stability boundary and is off by up to 1e-10 on the Brusselator.

Every error is relative in the max norm, ``|y - y_check|_inf / |y_check|_inf``, and
floored at machine epsilon (two solves agreeing to the last bit are not exact); other
norms differ by at most a factor ``sqrt(dim)``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .errors import RKInputError
from .problems.base import Family

REFERENCE_RTOL = 1e-12
CHECK_RTOL = 1e-13
ATOL_PER_SCALE = 1e-14


class Reference(NamedTuple):
    """Reference solutions of ``n`` problems of one family.

    Attributes
    ----------
    y : ndarray, shape (n, d)
        Solutions at ``t1``.
    error : ndarray, shape (n,)
        Relative max-norm error estimate of each row of ``y`` (see the module docstring).
    method : str
        ``"exact"``, ``"DOP853"`` or ``"Radau"``.
    """

    y: np.ndarray
    error: np.ndarray
    method: str


def relative_error(y: np.ndarray, y_ref: np.ndarray) -> np.ndarray:
    """Relative max-norm distance of rows: ``|y - y_ref|_inf / |y_ref|_inf``, shape (n,).

    Parameters
    ----------
    y, y_ref : ndarray, shape (n, d)
    """
    scale = np.maximum(np.max(np.abs(y_ref), axis=1), np.finfo(float).tiny)
    return np.max(np.abs(y - y_ref), axis=1) / scale


def reference_method(family: Family) -> str:
    """The method :func:`reference_solution` uses for ``family``."""
    if family.has_exact:
        return "exact"
    return "Radau" if family.stiff else "DOP853"


def reference_solution(
    family: Family, y0: np.ndarray, params: np.ndarray, t0: float, t1: float, method: str | None = None
) -> Reference:
    """Reference solutions at ``t1`` of ``n`` problems of ``family``.

    Parameters
    ----------
    family : Family
    y0 : ndarray, shape (n, d)
        Initial values at ``t0``.
    params : ndarray, shape (n, k)
    t0, t1 : float
        Start and end of the horizon.
    method : {"exact", "DOP853", "Radau"}, optional
        Override :func:`reference_method` (the tests solve closed-form families
        numerically to check the error estimates against the truth).

    Returns
    -------
    Reference

    Raises
    ------
    RKInputError
        Shapes that do not match the family.
    ReferenceSolveError
        A solver failed to reach ``t1``, the right-hand side raised, or the closed form gave
        non-finite values or the wrong shape (one line naming the family and the parameters).
    """
    y0 = np.ascontiguousarray(y0, dtype=np.float64)
    params = np.ascontiguousarray(params, dtype=np.float64)
    n = y0.shape[0]
    if y0.ndim != 2 or y0.shape[1] != family.dim:
        raise RKInputError(f"y0 must have shape (n, {family.dim}) for {family.name!r}, got {y0.shape}")
    if params.shape != (n, family.n_params):
        raise RKInputError(
            f"params must have shape ({n}, {family.n_params}) for {family.name!r}, got {params.shape}"
        )
    method = reference_method(family) if method is None else method
    if method not in ("exact", "DOP853", "Radau") or (method == "exact" and not family.has_exact):
        raise RKInputError(
            f"method must be 'DOP853', 'Radau' or, with a closed form, 'exact'; got {method!r}"
        )
    if method == "exact":
        y = _exact(family, t1, y0, params, t0)
        tm = 0.5 * (t0 + t1)
        composed = _exact(family, t1, _exact(family, tm, y0, params, t0), params, tm)
        error = np.maximum(relative_error(composed, y), np.finfo(float).eps)
        return Reference(np.ascontiguousarray(y), error, method)
    y = np.empty_like(y0)
    error = np.empty(n)
    rho = spectral_radius(family, t0, y0, params) if method == "Radau" else np.zeros(n)
    for i in range(n):
        y[i] = _solve(family, y0[i], params[i], t0, t1, method, REFERENCE_RTOL, i)
        if method == "DOP853":
            check = _solve(family, y0[i], params[i], t0, t1, "DOP853", CHECK_RTOL, i)
        else:
            max_step = 1.0 / rho[i] if rho[i] > 0.0 else np.inf
            check = _solve(family, y0[i], params[i], t0, t1, "DOP853", REFERENCE_RTOL, i, max_step)
        error[i] = relative_error(y[i : i + 1], check[None, :])[0]
    return Reference(y, np.maximum(error, np.finfo(float).eps), method)


class ReferenceSolveError(RKInputError):
    """A reference that could not be computed; the message names the family and the parameters."""


def _where(family: Family, p: np.ndarray, y0: np.ndarray | None = None) -> str:
    names = family.param_names or tuple(f"p[{i}]" for i in range(family.n_params))
    text = ", ".join(f"{name}={value:.6g}" for name, value in zip(names, p, strict=True))
    if y0 is not None and y0.size <= 4:
        text += f", y0={np.asarray(y0).tolist()}"
    return f"family {family.name!r} at {text}"


def _exact(family: Family, t: float, y0: np.ndarray, params: np.ndarray, t0: float) -> np.ndarray:
    """``family.exact`` at ``t``, checked for shape (n, d) and finiteness."""
    try:
        y = np.asarray(family.exact(t, y0, params, t0), dtype=np.float64)
    except Exception as exc:  # a user closed form may raise anything
        where = _where(family, params[0])
        raise ReferenceSolveError(f"closed form of {where} fails: {_first_line(exc)}") from None
    if y.shape != y0.shape:
        raise ReferenceSolveError(
            f"closed form of family {family.name!r} returns shape {y.shape}, expected {y0.shape} (n, dim)"
        )
    bad = np.flatnonzero(~np.all(np.isfinite(y), axis=1))
    if bad.size:
        where = _where(family, params[bad[0]], y0[bad[0]])
        raise ReferenceSolveError(f"closed form of {where} is not finite")
    return y


def _solve(family, y0, p, t0, t1, method, rtol, row, max_step=np.inf):
    """One ``solve_ivp`` run to ``t1``, shape (d,)."""
    from scipy.integrate import solve_ivp  # deferred: importing rkcore should stay cheap

    rhs, dim = family.rhs, family.dim

    def fun(t, y):
        out = np.empty(dim)
        rhs(t, np.ascontiguousarray(y, dtype=np.float64), p, out)
        return out

    atol = ATOL_PER_SCALE * max(1.0, float(np.max(np.abs(y0))))
    try:
        sol = solve_ivp(
            fun, (t0, t1), y0, method=method, rtol=rtol, atol=atol, t_eval=(t1,), max_step=max_step
        )
    except Exception as exc:  # the rhs raised (a user rhs may raise anything)
        raise ReferenceSolveError(
            f"{method} reference of {_where(family, p, y0)} (problem {row}) failed: {_first_line(exc)}"
        ) from None
    if sol.status != 0 or not np.all(np.isfinite(sol.y)):
        stiff_hint = "" if family.stiff else "; if the family is stiff, set stiff=True (Radau)"
        raise ReferenceSolveError(
            f"{method} reference of {_where(family, p, y0)} (problem {row}) failed: {sol.message}{stiff_hint}"
        )
    return sol.y[:, -1]


def _first_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def jacobian_eigenvalues(family: Family, t: float, y: np.ndarray, params: np.ndarray) -> np.ndarray:
    """Eigenvalues of the Jacobian ``df/dy`` at ``(t, y)``, by central differences, shape (n, d).

    Parameters
    ----------
    family : Family
    t : float
    y : ndarray, shape (n, d)
    params : ndarray, shape (n, k)
    """
    Y = np.ascontiguousarray(np.asarray(y, dtype=np.float64).T)
    P = np.ascontiguousarray(np.asarray(params, dtype=np.float64).T)
    d, n = Y.shape
    jac = np.empty((n, d, d))
    plus, minus = np.empty((d, n)), np.empty((d, n))
    for k in range(d):
        h = 1e-6 * np.maximum(1.0, np.abs(Y[k]))
        Yp, Ym = Y.copy(), Y.copy()
        Yp[k] += h
        Ym[k] -= h
        family.rhs_block(t, Yp, P, plus)
        family.rhs_block(t, Ym, P, minus)
        jac[:, :, k] = ((plus - minus) / (2.0 * h)).T
    return np.linalg.eigvals(jac)


def spectral_radius(family: Family, t: float, y: np.ndarray, params: np.ndarray) -> np.ndarray:
    """Spectral radius of the Jacobian ``df/dy`` at ``(t, y)``, by central differences, shape (n,).

    Parameters
    ----------
    family : Family
    t : float
    y : ndarray, shape (n, d)
    params : ndarray, shape (n, k)
    """
    return np.max(np.abs(jacobian_eigenvalues(family, t, y, params)), axis=1)
