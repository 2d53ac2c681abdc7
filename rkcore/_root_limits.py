"""Compiled kernels of the root-based stability limits (the fast path of :mod:`rkcore.stability`).

Everything works on the ascending coefficient vectors ``P, Q`` of ``R = P/Q`` with a
round-off bound for every coefficient (:func:`rkcore.stability._stability_poly`):

* :func:`real_interval` / :func:`imag_interval`: the limits from the real roots of
  ``P ∓ Q`` and of ``|P(iy)|² - |Q(iy)|²`` in ``y²``, gaps checked at their midpoints;
* :func:`real_side` / :func:`imag_side`: stable or not right next to 0, from the lowest
  non-negligible Taylor coefficient (well conditioned whatever the stage count);
* :func:`real_error` / :func:`imag_error`: the error estimate of a limit -- Horner's
  round-off bound at ``|z| = β`` over the slope -- and :func:`roots_adequate`, whether the
  stage recursion should be asked for a second opinion.

eps is written as a literal inside the kernels: numba freezes module globals at compile time.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._polyroots import real_roots
from ._stages import horner_noise, horner_trusted


@njit(cache=True)
def unstable_at(P, Q, Perr, Qerr, x, y):
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
def first_exit(P, Q, Perr, Qerr, crossings, dx, dy):
    """First ``t`` along the ray ``t (dx + i dy)`` where ``|R|`` leaves the unit disc.

    ``crossings`` are the candidate distances where ``|R| = 1`` (any order, repeats allowed);
    each gap between consecutive ones is tested at its midpoint, and beyond the last at twice
    its distance.  Returns ``inf`` when ``R`` never leaves the disc along the ray.
    """
    prev = 0.0
    for t in np.sort(crossings):
        if t <= prev:
            continue
        mid = 0.5 * (prev + t)
        if unstable_at(P, Q, Perr, Qerr, mid * dx, mid * dy):
            return prev
        prev = t
    probe = 2.0 * prev if prev > 0.0 else 1.0
    if unstable_at(P, Q, Perr, Qerr, probe * dx, probe * dy):
        return prev
    return np.inf


@njit(cache=True)
def real_interval(P, Q, Perr, Qerr):
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
    if m == 0:
        return np.inf
    return first_exit(P, Q, Perr, Qerr, cand[:cnt], -1.0, 0.0)


@njit(cache=True)
def imag_polynomial(P, Q, Perr, Qerr):
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
def imag_interval(P, Q, Perr, Qerr):
    """Largest β with ``|R(iy)| <= 1`` on ``[0, β]`` (0 if unstable right above 0, ``inf`` if never)."""
    if not (np.all(np.isfinite(P)) and np.all(np.isfinite(Q))):
        return np.nan
    F, Ferr = imag_polynomial(P, Q, Perr, Qerr)
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
    return first_exit(P, Q, Perr, Qerr, cand[:cnt], 0.0, 1.0)


@njit(cache=True)
def horner_d(c, z):
    """Value and derivative of the ascending polynomial ``c`` at ``z`` (complex)."""
    f = 0j
    df = 0j
    for k in range(c.shape[0] - 1, -1, -1):
        df = df * z + f
        f = f * z + c[k]
    return f, df


@njit(cache=True)
def real_side(P, Q, Perr, Qerr):
    """Just left of 0: +1 if ``|R(x)| > 1``, -1 if ``|R(x)| < 1``, 0 if ``R = 1`` to round-off.

    Read from the lowest non-negligible coefficient of ``P - Q`` (``R(x) - 1`` near 0):
    the Taylor coefficients at 0 are well conditioned whatever the stage count.
    """
    eps = 2.220446049250313e-16
    for k in range(1, P.shape[0]):
        d = P[k] - Q[k]
        if abs(d) > Perr[k] + Qerr[k] + eps * (abs(P[k]) + abs(Q[k])):
            sgn = d if k % 2 == 0 else -d
            return 1 if sgn > 0.0 else -1
    return 0


@njit(cache=True)
def imag_side(P, Q, Perr, Qerr):
    """Just above 0 on the imaginary axis: +1 unstable, -1 stable, 0 if ``|R(iy)| = 1`` to round-off."""
    F, Ferr = imag_polynomial(P, Q, Perr, Qerr)
    for k in range(1, F.shape[0]):
        if abs(F[k]) > Ferr[k]:
            return 1 if F[k] > 0.0 else -1
    return 0


@njit(cache=True)
def real_error(P, Q, Perr, Qerr, beta):
    """Error estimate of a root-based real limit ``β``: inf when it cannot be trusted.

    0 is exact when :func:`real_side` says unstable; ``inf`` is exact only when
    ``R = 1`` to round-off (explicit) or the caller accepts it (implicit).  A finite
    ``β`` is a root of ``P ∓ Q``; its error is Horner's bound there over the slope.
    """
    eps = 2.220446049250313e-16
    if np.isnan(beta):
        return np.inf
    if beta == 0.0:
        return 0.0 if real_side(P, Q, Perr, Qerr) == 1 else np.inf
    if np.isinf(beta):
        return 0.0 if real_side(P, Q, Perr, Qerr) == 0 else np.inf
    x = complex(-beta, 0.0)
    p, dp = horner_d(P, x)
    q, dq = horner_d(Q, x)
    sigma = 1.0 if p.real * q.real > 0.0 else -1.0
    slope = abs(dp.real - sigma * dq.real)
    noise = horner_noise(P, Perr, beta) + horner_noise(Q, Qerr, beta)
    if slope == 0.0:
        return np.inf
    return noise / slope + 2.0 * eps * beta


@njit(cache=True)
def imag_error(P, Q, Perr, Qerr, beta):
    """Error estimate of a root-based imaginary limit ``β`` (see :func:`real_error`)."""
    eps = 2.220446049250313e-16
    if np.isnan(beta):
        return np.inf
    side = imag_side(P, Q, Perr, Qerr)
    if beta == 0.0:
        return 0.0 if side == 1 else np.inf
    if np.isinf(beta):
        return 0.0 if side == 0 else np.inf
    z = complex(0.0, beta)
    p, dp = horner_d(P, z)
    q, dq = horner_d(Q, z)
    # d/dy |P(iy)|² = 2 Re(conj(P) P'(iy) i)
    slope = abs(2.0 * (p.conjugate() * dp * 1j).real - 2.0 * (q.conjugate() * dq * 1j).real)
    npn = horner_noise(P, Perr, beta)
    nqn = horner_noise(Q, Qerr, beta)
    noise = 2.0 * abs(p) * npn + npn * npn + 2.0 * abs(q) * nqn + nqn * nqn
    noise += 4.0 * eps * (abs(p) ** 2 + abs(q) ** 2)
    if slope == 0.0:
        return np.inf
    return noise / slope + 2.0 * eps * beta


@njit(cache=True)
def roots_adequate(P, Perr, value, error, fast_rtol):
    """Whether a root-based limit needs no second opinion from the stage recursion.

    Yes when its error estimate is within ``fast_rtol``, or when Horner's rule is accurate
    (:func:`rkcore._stages.horner_trusted`) out to the limit: then a large estimate only
    reflects a flat crossing, which the stage recursion cannot sharpen.
    """
    if error == 0.0:
        return not np.isnan(value)
    if not np.isfinite(value):
        return False
    return error <= fast_rtol * abs(value) or horner_trusted(P, Perr, value)
