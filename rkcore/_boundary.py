"""Tracing the stability boundary ``|R(z)| = 1`` of an explicit method (compiled with numba).

Along the level curve ``|R| = 1`` the phase ``θ = arg R`` is a parameter:
``R(z(θ)) = e^{iθ}`` and ``z'(θ) = i e^{iθ} / R'(z)``.  Every closed component
of the curve is traced by predictor--corrector continuation in ``θ`` (a quadratic
predictor, Newton's method on ``R(z) = e^{iθ}`` with ``R`` and ``R'`` from the stage
recursion) until it returns to its starting point after ``θ`` has grown by ``2πn``;
``n`` is the number of zeros of ``R`` the component encloses.

The area of the region inside the component and in the left half-plane is then
Green's theorem with the form ``-(y - y0) dx``, which vanishes on the imaginary axis
(``dx = 0``), so

    area = -∫_{arcs with Re z <= 0} (Im z(θ) - y0) · Re z'(θ) dθ.

(The form ``x dy`` would need no care at the axis but cancels badly for the long thin
regions of stabilised methods, whose ``|x|`` is thousands of times their width.)  At
every traced node the Taylor series of ``z(θ)`` to order 6 is computed from the Taylor
series of ``R`` (the stage series, :func:`rkcore._stages.stage_taylor6`), and each
traced step is integrated exactly over the two-point Hermite polynomials of degrees 9,
11 and 13 through the two ends' series, which also give the error estimate.  Steps
where they disagree, or that cross the imaginary axis, go to adaptive Gauss--Kronrod
(7, 15), split where the curve crosses the axis, with Newton's method at the nodes.

Every kernel takes its inputs and scratch as arguments; the Kronrod and Hermite tables
arrive as arrays (:data:`GK15_NODES`, :data:`HERMITE_HI` etc., true constants).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ._stages import stage_taylor6, stage_value, stage_value_cond

GK15_NODES = np.array(
    [
        0.991455371120812639206854697526329,
        0.949107912342758524526189684047851,
        0.864864423359769072789712788640926,
        0.741531185599394439863864773280788,
        0.586087235467691130294144845693013,
        0.405845151377397166906606412076961,
        0.207784955007898467600689403773245,
        0.0,
    ]
)
"""Non-negative Kronrod nodes on [-1, 1] (QUADPACK ``dqk15``); odd entries are the Gauss nodes."""
GK15_WEIGHTS = np.array(
    [
        0.022935322010529224963732008058970,
        0.063092092629978553290700663189204,
        0.104790010322250183839876322541518,
        0.140653259715525918745189590510238,
        0.169004726639267902826583426598550,
        0.190350578064785409913256402421014,
        0.204432940075298892414161999234649,
        0.209482141084727828012999174891714,
    ]
)
G7_WEIGHTS = np.array(
    [
        0.129484966168869693270611432679082,
        0.279705391489276667901467771423780,
        0.381830050505118944950369775488975,
        0.417959183673469387755102040816327,
    ]
)
"""Gauss weights at ``GK15_NODES[1], [3], [5], [7]``."""

TAYLOR_ORDER = 6
"""Order of the Taylor series of ``z(θ)`` kept at every traced node (:func:`curve_taylor`)."""


def _taylor_hermite_matrix(m: int) -> np.ndarray:
    """Two-point Hermite interpolation from Taylor data: ascending coefficients in ``τ ∈ [0, 1]``
    from the Taylor coefficients of orders ``0 .. m-1`` at ``τ = 0`` and at ``τ = 1``; (2m, 2m)."""
    V = np.zeros((2 * m, 2 * m))
    for d in range(m):
        V[d, d] = 1.0
        for k in range(d, 2 * m):
            V[m + d, k] = math.comb(k, d)
    return np.linalg.inv(V)


HERMITE_HI = _taylor_hermite_matrix(TAYLOR_ORDER + 1)
"""Degree-13 Hermite through both ends' Taylor coefficients up to order 6."""
HERMITE_MID = _taylor_hermite_matrix(TAYLOR_ORDER)
"""Degree 11 (orders up to 5)."""
HERMITE_LO = _taylor_hermite_matrix(TAYLOR_ORDER - 1)
"""Degree 9 (orders up to 4)."""

# Trace status codes.
TRACE_CLOSED = 0
TRACE_STEP_TOO_SMALL = 1
TRACE_TOO_MANY_STEPS = 2
TRACE_NOT_CLOSED = 3  # θ grew by more than 2π·(degree + 1) without returning


@njit(cache=True)
def solve_level(A, b, w, z, ztol, maxit, K, dK):
    """Newton's method for ``R(z) = w`` from ``z``.

    Converged when a step is below ``ztol``, or when the steps stop shrinking while
    already small (below ``1e6·ztol``): then they are round-off in ``R`` over ``R'``.

    Returns
    -------
    (complex, complex, bool)
        The point, ``R'`` there, and whether Newton converged.
    """
    last = np.inf
    for _ in range(maxit):
        R, dR = stage_value(A, b, z, K, dK)
        if dR == 0.0:
            return z, dR, False
        dz = (R - w) / dR
        z = z - dz
        step = abs(dz)
        if step <= ztol or (step > 0.5 * last and step <= 1e6 * ztol):
            # R' at the final point: the last step moves it by |R''|·ztol, which would show
            # in z' = i R/R' at 1e-12 for hundreds of stages
            R, dR = stage_value(A, b, z, K, dK)
            return z, dR, True
        last = step
    R, dR = stage_value(A, b, z, K, dK)
    return z, dR, False


@njit(cache=True)
def _hermite(za, dza, zb, dzb, h, tau):
    t2 = tau * tau
    t3 = t2 * tau
    return (
        (2.0 * t3 - 3.0 * t2 + 1.0) * za
        + (t3 - 2.0 * t2 + tau) * h * dza
        + (-2.0 * t3 + 3.0 * t2) * zb
        + (t3 - t2) * h * dzb
    )


@njit(cache=True)
def trace_component(A, b, z0, theta0, scale, max_winding, max_steps, thetas, zs, dzs):
    """Trace the component of ``|R| = 1`` through ``z0`` (where ``R(z0) = e^{iθ0}``).

    Parameters
    ----------
    A : (s, s) float64, strictly lower triangular
    b : (s,) float64
    z0 : complex
        A point on the curve.
    theta0 : float
        ``arg R(z0)``.
    scale : float
        Length scale of the region (tolerances are relative to it).
    max_winding : int
        The degree of ``R``: no component winds more often.
    max_steps : int
    thetas : (max_steps + 1,) float64
    zs, dzs : (max_steps + 1,) complex128
        Output nodes: ``θ_k``, ``z(θ_k)`` and ``z'(θ_k)``; the last node repeats ``z0``
        at ``θ0 + 2πn``.

    Returns
    -------
    (int, int, int)
        Number of nodes, winding ``n`` and a status (``TRACE_CLOSED`` on success).
    """
    s = b.shape[0]
    K = np.empty(s, dtype=np.complex128)
    dK = np.empty(s, dtype=np.complex128)
    two_pi = 2.0 * np.pi
    ztol = 1e-14 * scale
    R, dR = stage_value(A, b, z0, K, dK)
    theta = theta0
    z = z0
    dz = 1j * R / dR
    thetas[0] = theta
    zs[0] = z
    dzs[0] = dz
    count = 1
    d2z = 0j
    step = min(0.5, 0.02 * scale / max(abs(dz), 1e-300))
    while count <= max_steps:
        if step < 1e-13 * max(1.0, abs(theta)):
            return count, 0, 1
        pred = z + step * dz + 0.5 * step * step * d2z
        theta_new = theta + step
        w = np.exp(1j * theta_new)
        z_new, dR_new, ok = solve_level(A, b, w, pred, ztol, 8, K, dK)
        move = abs(step * dz)
        if not ok or abs(z_new - pred) > 0.1 * move + ztol or abs(z_new - z) > 0.25 * scale:
            step *= 0.5
            continue
        dz_new = 1j * w / dR_new
        # closure: did θ pass θ0 + 2πm for some m?
        m_old = int(np.floor((theta - theta0) / two_pi + 1e-12))
        m_new = int(np.floor((theta_new - theta0) / two_pi + 1e-12))
        for m in range(m_old + 1, m_new + 1):
            theta_c = theta0 + two_pi * m
            tau = (theta_c - theta) / step
            guess = _hermite(z, dz, z_new, dz_new, step, tau)
            if abs(guess - z0) <= 0.5 * abs(z_new - z) + 1e-6 * scale:
                zc, _, okc = solve_level(A, b, np.exp(1j * theta0), guess, ztol, 8, K, dK)
                if okc and abs(zc - z0) <= 1e-7 * scale:
                    thetas[count] = theta_c
                    zs[count] = z0
                    dzs[count] = dzs[0]
                    return count + 1, m, 0
            if m > max_winding:
                return count, 0, 3
        thetas[count] = theta_new
        zs[count] = z_new
        dzs[count] = dz_new
        count += 1
        d2z = (dz_new - dz) / step
        z = z_new
        dz = dz_new
        theta = theta_new
        if abs(z_new - pred) < 0.02 * move:
            step *= 1.5
        step = min(step, 0.2 * scale / max(abs(dz), 1e-300))
    return count, 0, 2


PANEL_LEFT = 0
PANEL_RIGHT = 1
PANEL_MIXED = 2
PANEL_FAILED = 3
TRACE_PANELS_PER_PANEL = 1
"""Traced steps per initial quadrature panel (every traced node still serves as predictor)."""


@njit(cache=True)
def _point(A, b, thetas, zs, dzs, n_nodes, theta, ztol, K, dK):
    """The curve point at ``θ``: Newton from the cubic Hermite predictor of its traced step.

    Returns ``(z, z'(θ), ok)``; not ok when Newton fails or lands far from the predictor
    (on another branch of ``R = e^{iθ}``).
    """
    k = np.searchsorted(thetas[:n_nodes], theta) - 1
    k = min(max(k, 0), n_nodes - 2)
    ta = thetas[k]
    tb = thetas[k + 1]
    h = tb - ta
    guess = _hermite(zs[k], dzs[k], zs[k + 1], dzs[k + 1], h, (theta - ta) / h)
    w = np.exp(1j * theta)
    z, dR, ok = solve_level(A, b, w, guess, ztol, 8, K, dK)
    chord = abs(zs[k + 1] - zs[k]) + abs(h) * (abs(dzs[k]) + abs(dzs[k + 1]))
    if not ok or abs(z - guess) > 0.1 * chord + ztol:
        return z, 0j, False
    return z, 1j * w / dR, True


@njit(cache=True)
def _panel(A, b, thetas, zs, dzs, n_nodes, ta, za, tb, zb, y0, scale, nodes, wk, wg, K, dK, zmid):
    """Gauss--Kronrod (7, 15) for ``-(Im z - y0)·Re z'·[Re z <= 0]`` over ``[ta, tb]``.

    Returns ``(integral, error, status)`` with QUADPACK's error heuristic; status
    ``PANEL_LEFT``/``PANEL_RIGHT`` when the ends and every node lie on one side of the
    imaginary axis, ``PANEL_MIXED`` otherwise, ``PANEL_FAILED`` when a node could not be
    found.  ``zmid`` (1-element array) receives the curve point at the midpoint.
    """
    eps = 2.220446049250313e-16
    ztol = 1e-14 * scale
    n = nodes.shape[0]
    fvals = np.empty(2 * n - 1)
    # ends exactly on the axis (found crossings) count for neither side
    n_left = (1 if za.real < 0.0 else 0) + (1 if zb.real < 0.0 else 0)
    n_right = (1 if za.real > 0.0 else 0) + (1 if zb.real > 0.0 else 0)
    kron = 0.0
    gauss = 0.0
    m = 0
    for j in range(n):
        for sgn in (-1.0, 1.0):
            if j == n - 1 and sgn > 0.0:
                continue  # the centre node once
            theta = ta + 0.5 * (1.0 + sgn * nodes[j]) * (tb - ta)
            z, dz, ok = _point(A, b, thetas, zs, dzs, n_nodes, theta, ztol, K, dK)
            if not ok:
                return np.nan, np.inf, 3
            f = 0.0
            if z.real <= 0.0:
                n_left += 1
                f = -(z.imag - y0) * dz.real
            else:
                n_right += 1
            fvals[m] = f
            m += 1
            kron += wk[j] * f
            if j % 2 == 1:
                gauss += wg[j // 2] * f
            if j == n - 1:
                zmid[0] = z
    half = 0.5 * (tb - ta)
    mean = 0.5 * kron
    asc = 0.0
    m = 0
    for j in range(n):
        for sgn in (-1.0, 1.0):
            if j == n - 1 and sgn > 0.0:
                continue
            asc += wk[j] * abs(fvals[m] - mean)
            m += 1
    asc *= abs(half)
    err = abs((kron - gauss) * half)
    if asc != 0.0 and err != 0.0:
        err = asc * min(1.0, (200.0 * err / asc) ** 1.5)
    err = max(err, 50.0 * eps * abs(kron * half))
    status = 0 if n_right == 0 else (1 if n_left == 0 else 2)
    return kron * half, err, status


@njit(cache=True)
def _axis_crossing(A, b, thetas, zs, dzs, n_nodes, ta, za, tb, zb, scale, K, dK):
    """θ in ``(ta, tb)`` where the curve crosses ``Re z = 0`` (ends on opposite sides).

    Regula falsi (Illinois) on ``Re z(θ)``; returns ``(θ, z, ok)``.
    """
    ztol = 1e-14 * scale
    lo, hi = ta, tb
    flo, fhi = za.real, zb.real
    z = za
    side = 0
    theta = lo
    for _ in range(100):
        theta = (lo * fhi - hi * flo) / (fhi - flo)
        if not (lo < theta < hi):
            theta = 0.5 * (lo + hi)
        z, _, ok = _point(A, b, thetas, zs, dzs, n_nodes, theta, ztol, K, dK)
        if not ok:
            return theta, z, False
        f = z.real
        if f == 0.0 or hi - lo <= 1e-15 * max(1.0, abs(hi)) or abs(f) <= 1e-15 * scale:
            break
        if (f > 0.0) == (fhi > 0.0):
            hi, fhi = theta, f
            if side == 1:
                flo *= 0.5
            side = 1
        else:
            lo, flo = theta, f
            if side == -1:
                fhi *= 0.5
            side = -1
    return theta, z, True


@njit(cache=True)
def curve_taylor(r, w, z):
    """Taylor coefficients of the level curve through ``z``: ``z(θ + t) = Σ a_m t^m``.

    ``r`` are the Taylor coefficients of ``R`` at ``z`` (:func:`rkcore._stages.stage_taylor6`)
    and ``w = e^{iθ}``; ``R(z + ζ(t)) = w e^{it}`` is solved order by order (only ``r_1 a_m``
    contains ``a_m`` at order ``m``), with the powers of ``ζ`` built up as the ``a`` are.
    """
    order = r.shape[0] - 1
    a = np.zeros(order + 1, dtype=np.complex128)
    a[0] = z
    P = np.zeros((order + 1, order + 1), dtype=np.complex128)  # P[j, q]: coefficient of t^q in ζ^j
    fact = 1.0
    ipow = 1.0 + 0j
    for m in range(1, order + 1):
        fact *= m
        ipow *= 1j
        for j in range(2, m + 1):
            acc = 0j
            for q in range(1, m - j + 2):
                acc += a[q] * P[j - 1, m - q]
            P[j, m] = acc
        rest = 0j
        for j in range(2, m + 1):
            rest += r[j] * P[j, m]
        a[m] = (w * ipow / fact - rest) / r[1]
        P[1, m] = a[m]
    return a


@njit(cache=True)
def _hermite_area(M, Ta, Tb, h, y0):
    """``-∫ (y - y0) dx`` over the Hermite polynomial ``M`` builds from the ends' Taylor data.

    ``Ta``/``Tb``: Taylor coefficients of ``z(θ)`` at the ends (``M`` uses the first
    ``M.shape[0] / 2``), ``h`` the θ-length; NaN if the polynomial leaves ``Re z <= 0``.
    """
    n = M.shape[0]
    m = n // 2
    data = np.empty(n, dtype=np.complex128)
    scale = 1.0
    for d in range(m):
        data[d] = Ta[d] * scale
        data[m + d] = Tb[d] * scale
        scale *= h
    za = data[0]
    data[0] = 0.0  # work relative to the first end: exact, and no cancellation of |z|
    data[m] -= za
    c = np.zeros(n, dtype=np.complex128)
    for i in range(n):
        for j in range(n):
            c[i] += M[i, j] * data[j]
    for q in range(17):  # the curve must stay in the closed left half-plane
        tau = (q + 1) / 18.0
        x = 0.0
        for k in range(n - 1, -1, -1):
            x = x * tau + c[k].real
        if za.real + x > 0.0:
            return np.nan
    area = 0.0
    for j in range(n):
        yj = c[j].imag + (za.imag - y0 if j == 0 else 0.0)
        for k in range(1, n):
            area -= yj * k * c[k].real / (j + k)
    return area


@njit(cache=True)
def _group_area(A, b, thetas, zs, T, n_nodes, k0, k1, y0, scale, tol_per_theta, budget, H, nodes, wk, wg):
    """Quadrature over the traced steps ``k0 .. k1``: (area, error; inf on failure).

    A single traced step is first tried with the Hermite polynomials of degrees 9, 11, 13
    through its ends' Taylor series (no new points).  Where they converge the degree-13
    value is taken with the 11-13 difference as its error; where that difference exceeds
    the 9-11 one, the high Taylor orders are round-off (a long step, ``h^6 a_6``) and the
    degree-11 value is taken, with the larger difference as its error.  Accepted within the
    tolerance; otherwise adaptive Gauss--Kronrod with Newton at the nodes.
    """
    dzs = T[:, 1]
    if k1 == k0 + 1 and zs[k0].real <= 0.0 and zs[k1].real <= 0.0:
        h = thetas[k1] - thetas[k0]
        hi = _hermite_area(H[0], T[k0], T[k1], h, y0)
        mid = _hermite_area(H[1], T[k0], T[k1], h, y0)
        lo = _hermite_area(H[2], T[k0], T[k1], h, y0)
        d_hi = abs(hi - mid)
        d_lo = abs(mid - lo)
        val, e = (hi, d_hi) if d_hi <= d_lo else (mid, d_hi)
        if not np.isnan(e) and e <= tol_per_theta * h:
            return val, e
    s = b.shape[0]

    K = np.empty(s, dtype=np.complex128)
    dK = np.empty(s, dtype=np.complex128)
    zmid = np.empty(1, dtype=np.complex128)
    cap = 256
    st_t = np.empty((cap, 2))
    st_z = np.empty((cap, 2), dtype=np.complex128)
    st_t[0, 0] = thetas[k0]
    st_t[0, 1] = thetas[k1]
    st_z[0, 0] = zs[k0]
    st_z[0, 1] = zs[k1]
    top = 1
    used = 0
    area = 0.0
    err = 0.0
    while top > 0:
        top -= 1
        ta = st_t[top, 0]
        tb = st_t[top, 1]
        za = st_z[top, 0]
        zb = st_z[top, 1]
        val, e, status = _panel(
            A, b, thetas, zs, dzs, n_nodes, ta, za, tb, zb, y0, scale, nodes, wk, wg, K, dK, zmid
        )
        used += 1
        tiny = tb - ta <= 1e-12 * max(1.0, abs(tb))
        if status == 1 or (status != 3 and (tiny or (status == 0 and e <= tol_per_theta * (tb - ta)))):
            if status != 1:
                area += val
                err += e
            continue
        if used >= budget or top + 2 > cap or tiny:
            return area, np.inf
        if status == 2 and za.real * zb.real < 0.0:
            tm, zm, ok = _axis_crossing(A, b, thetas, zs, dzs, n_nodes, ta, za, tb, zb, scale, K, dK)
            if not ok or not (ta < tm < tb):
                return area, np.inf
            zm = complex(0.0, zm.imag)  # on the axis, to round-off: neither side
        else:
            tm = 0.5 * (ta + tb)
            if status == 3:
                zm, _, ok = _point(A, b, thetas, zs, dzs, n_nodes, tm, 1e-14 * scale, K, dK)
                if not ok:
                    return area, np.inf
            else:
                zm = zmid[0]
        st_t[top, 0] = tm
        st_t[top, 1] = tb
        st_z[top, 0] = zm
        st_z[top, 1] = zb
        top += 1
        st_t[top, 0] = ta
        st_t[top, 1] = tm
        st_z[top, 0] = za
        st_z[top, 1] = zm
        top += 1
    return area, err


@njit(cache=True)
def component_area(A, b, thetas, zs, dzs, n_nodes, scale, tol, max_panels, group, H, nodes, wk, wg):
    """Area of the traced component's interior in ``Re z <= 0``, with an error estimate.

    Green's theorem with the form ``-(y - y0) dx``: it vanishes on the imaginary axis
    (``dx = 0`` there), so the clipped area is the integral over the arcs of the curve
    with ``Re z <= 0`` alone, and the shift ``y0`` (the mean height of the nodes) keeps
    a component far from the real axis from cancelling large terms.  Panels are split
    exactly where the curve crosses the axis, so every integrand is smooth.

    Each traced step is integrated from the Taylor series of ``z(θ)`` at its ends
    (:func:`_group_area`); a step whose Hermite estimates disagree goes to Gauss--Kronrod
    (7, 15), bisected until its error estimate is below its share (by θ-range) of ``tol``
    or of the round-off part, whichever is larger, and also bisected where its Kronrod
    points cannot be found by Newton.  To the quadrature error is added the round-off
    part: rounding the tableau moves ``R`` by about ``2·eps·X``
    (:func:`rkcore._stages.stage_value_cond`), the boundary by that over ``|R'|``, and the
    area by ``∮ 2·eps·X/|R'| |dz|``.

    Parameters
    ----------
    A, b : tableau (explicit)
    thetas, zs, dzs : traced nodes (:func:`trace_component`), first ``n_nodes`` used
    scale : float
    tol : float
        Absolute tolerance for this component's area.
    max_panels : int
    group : int
        Traced steps per initial panel (:data:`TRACE_PANELS_PER_PANEL`).
    H : tuple of three arrays
        Hermite tables (:data:`HERMITE_HI`, :data:`HERMITE_MID`, :data:`HERMITE_LO`).
    nodes, wk, wg : GK15 tables

    Returns
    -------
    (float, float)
        Area and estimated absolute error (inf when ``max_panels`` ran out or a point
        could not be found).
    """
    eps = 2.220446049250313e-16
    s = b.shape[0]
    total_theta = thetas[n_nodes - 1] - thetas[0]
    T = np.empty((n_nodes, TAYLOR_ORDER + 1), dtype=np.complex128)
    moved = np.zeros(n_nodes)
    for k in range(n_nodes):
        r = stage_taylor6(A, b, zs[k], np.empty((s, 7), dtype=np.complex128))
        T[k] = curve_taylor(r, np.exp(1j * thetas[k]), zs[k])
        if k % 4 == 0 and k < n_nodes - 1:
            # the round-off part is an estimate: X, sampled at every fourth node, varies slowly
            W = np.empty((3, s), dtype=np.complex128)
            _, dR, cond = stage_value_cond(A, b, zs[k], W[0], W[1], W[2], np.empty(s))
            span = thetas[min(k + 4, n_nodes - 1)] - thetas[k]
            moved[k] = 2.0 * eps * cond / max(abs(dR), 1e-300) * abs(dzs[k]) * span
    y0 = 0.0
    rounding = 0.0
    for k in range(n_nodes - 1):
        y0 += zs[k].imag
        rounding += moved[k]
    y0 /= max(n_nodes - 1, 1)
    # no point in resolving the area below what the tableau's own rounding leaves open
    tol = max(tol, rounding)
    n_groups = (n_nodes - 2) // group + 1
    areas = np.zeros(n_groups)
    errs = np.zeros(n_groups)
    budget = max(max_panels // n_groups, 64)
    for g in range(n_groups):
        areas[g], errs[g] = _group_area(
            A, b, thetas, zs, T, n_nodes, g * group, min((g + 1) * group, n_nodes - 1),
            y0, scale, tol / total_theta, budget, H, nodes, wk, wg,
        )  # fmt: skip
    area = 0.0
    err = 0.0
    for g in range(n_groups):
        area += areas[g]
        err += errs[g]
    return area, err + rounding
