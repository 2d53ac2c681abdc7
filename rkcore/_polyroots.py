"""Real roots of a real polynomial, without eigenvalues (compiled with numba).

Used by the stability limits (:mod:`rkcore.stability`) and the region area
(:mod:`rkcore.stability_region`).  Companion-matrix eigenvalues (``np.roots``) lose
the small roots of polynomials whose coefficients span many decades, which is the
normal case for stability polynomials (1 ... 1e-10); isolating the roots through
the derivatives and polishing them by safeguarded Newton keeps every real root
accurate to a few ulps.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def horner_real(c, lo, hi, x):
    """Value and derivative of ``Σ_{k=lo}^{hi} c[k] x^(k-lo)``."""
    f = 0.0
    df = 0.0
    for k in range(hi, lo - 1, -1):
        df = df * x + f
        f = f * x + c[k]
    return f, df


@njit(cache=True)
def bracketed_root(g, deg, a, b, fa):
    """Root of the ascending polynomial ``g[:deg + 1]``, monotone on ``[a, b]`` with a sign change.

    Newton's method safeguarded by bisection (a step leaving the bracket, or one that
    does not at least halve the previous step, is replaced by bisection), so wide
    brackets shrink geometrically and the end game converges quadratically.
    """
    eps = 2.220446049250313e-16
    dx_old = b - a
    dx = dx_old
    x = 0.5 * (a + b)
    f, df = horner_real(g, 0, deg, x)
    for _ in range(400):
        if f == 0.0:
            return x
        if (f < 0.0) == (fa < 0.0):
            a = x
        else:
            b = x
        newton_ok = df != 0.0 and ((x - b) * df - f) * ((x - a) * df - f) < 0.0
        if newton_ok and abs(2.0 * f) <= abs(dx_old * df):
            dx_old = dx
            dx = f / df
            x = x - dx
        else:
            dx_old = dx
            dx = 0.5 * (b - a)
            x = a + dx
        if abs(dx) <= 2.0 * eps * abs(x) or b - a <= 2.0 * eps * max(abs(a), abs(b)):
            return x
        f, df = horner_real(g, 0, deg, x)
    return x


@njit(cache=True)
def real_roots(c, cerr, lower, upper):
    """Real roots of the ascending polynomial ``c`` strictly inside ``(lower, upper)``, 0 excluded.

    Coefficients within their bound ``cerr`` at either end are dropped (a zero low
    coefficient is a root at 0, a zero top coefficient lowers the degree).  The roots
    are found without eigenvalues: the roots of the derivative (found the same way,
    from the highest derivative down) cut the axis into pieces on which the polynomial
    is monotone, and each piece with a sign change holds exactly one root, found by
    bracketed Newton to full precision.  Roots where the polynomial only touches zero
    without changing sign may be missed; they never end a stability interval.

    Returns
    -------
    ndarray, shape (n_roots,), sorted ascending
    """
    n = c.shape[0]
    lo = 0
    while lo < n and abs(c[lo]) <= cerr[lo]:
        lo += 1
    hi = n - 1
    while hi > lo and abs(c[hi]) <= cerr[hi]:
        hi -= 1
    if lo >= n or hi <= lo:
        return np.empty(0)
    d = hi - lo
    # Fujiwara's bound holds every root and, by Gauss-Lucas, every critical point.
    bound = 0.0
    for k in range(1, d + 1):
        ratio = abs(c[hi - k] / c[hi])
        if k == d:
            ratio *= 0.5
        bound = max(bound, ratio ** (1.0 / k))
    bound = 2.0 * bound * (1.0 + 1e-12) + 1e-300
    left = max(lower, -bound)
    right = min(upper, bound)
    # D[j] = j-th derivative of x^-lo * c(x), normalised to a monic polynomial of degree d - j
    D = np.zeros((d + 1, d + 1))
    for k in range(d + 1):
        D[0, k] = c[lo + k] / c[hi]
    for j in range(1, d + 1):
        for k in range(d - j + 1):
            D[j, k] = D[j - 1, k + 1] * (k + 1)
        top = D[j, d - j]
        for k in range(d - j + 1):
            D[j, k] /= top
    crit = np.empty(d + 2)
    found = np.empty(d + 2)
    n_crit = 0
    for j in range(d - 1, -1, -1):
        deg = d - j
        g = D[j]
        n_found = 0
        a = left
        fa, _ = horner_real(g, 0, deg, a)
        for i in range(n_crit + 1):
            b = crit[i] if i < n_crit else right
            if b <= a:
                continue
            fb, _ = horner_real(g, 0, deg, b)
            if fa == 0.0 and a > left:
                found[n_found] = a
                n_found += 1
            elif (fa < 0.0) != (fb < 0.0) and fb != 0.0:
                found[n_found] = bracketed_root(g, deg, a, b, fa)
                n_found += 1
            a, fa = b, fb
        for i in range(n_found):
            crit[i] = found[i]
        n_crit = n_found
    return crit[:n_crit].copy()
