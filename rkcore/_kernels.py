"""Numba kernels of the explicit Runge--Kutta integrators (private; see :mod:`rkcore.integrate`).

Every kernel is compiled for one explicit signature, so it is built once (and cached on
disk with ``cache=True``) and serves every right-hand side: the right-hand side arrives
as a first-class function of type :data:`BLOCK_RHS` rather than as a dispatcher (a
dispatcher argument makes numba specialise, and recompile for several seconds, per
function, and such specialisations are never found in the disk cache).  An indirect
call per block of ODEs costs little because each call does ``m`` ODEs' work.

Block layout: a block holds ``m`` ODEs of one family state-major, ``Y`` (d, m), so
every loop over ``j < m`` vectorises across ODEs.  Each ``prange`` iteration owns its
scratch buffers and writes its own output slots.

Status codes written here (named in :mod:`rkcore.integrate`): 0 ok, 1 unstable,
2 max_steps, 3 step size too small.

This module compiles its kernels when it is imported (a cache load after the first
time), so the public wrappers import it lazily.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange, types

_f8 = types.float64
_i8 = types.int64
_C1 = types.Array(_f8, 1, "C")
_C2 = types.Array(_f8, 2, "C")
_C3 = types.Array(_f8, 3, "C")
_C4 = types.Array(_f8, 4, "C")
_I1 = types.Array(_i8, 1, "C")
_I2 = types.Array(_i8, 2, "C")
_I3 = types.Array(_i8, 3, "C")
_S1 = types.Array(types.int8, 1, "C")
_S3 = types.Array(types.int8, 3, "C")

BLOCK_RHS_SIG = types.void(_f8, _C2, _C2, _C2)
"""``rhs_block(t, Y (d, m), P (k, m), dYdt (d, m))`` on C-contiguous float64 arrays."""

BLOCK_RHS = types.FunctionType(BLOCK_RHS_SIG)


@njit(
    types.void(BLOCK_RHS, _C3, _C2, _C2, _I1, _I2, _C3, _C3, _C2, _f8, _f8, _C4, _I3, _S3),
    parallel=True,
    cache=True,
)
def rk_fixed(rhs_block, A, b, c, fsal, n_steps, Y0, P, bound, t0, t1, Y_out, steps_out, status_out):
    """Fixed-step explicit RK for ``T`` tableaux on ``B`` blocks of ``m`` ODEs of one family.

    Parameters
    ----------
    rhs_block : first-class function, see :data:`BLOCK_RHS_SIG`
    A : (T, s, s) strictly lower triangular; b, c : (T, s)
    fsal : (T,) int64
        1 when tableau ``q`` is first-same-as-last: stage 0 of a step reuses the last stage
        of the previous one (same floating-point value, one evaluation saved).
    n_steps : (T, B) int64
        Steps of tableau ``q`` on block ``blk`` (at least 1): every ODE of a block takes the
        same steps, so blocks of problems with different step counts (calibrated scoring,
        :mod:`rkcore.calibration`) run in one call.
    Y0 : (B, d, m); P : (B, k, m); bound : (B, m)
        Initial states, parameters and the blow-up bound on ``max |y|`` per ODE.
    t0, t1 : float
    Y_out : (T, B, d, m)
        Final states; NaN for a trajectory stopped as unstable.
    steps_out : (T, B, m) int64
        Steps completed (``n_steps`` unless stopped early).
    status_out : (T, B, m) int8
        0 ok, 1 unstable.

    Stage values and the update add their nonzero terms left to right, several terms per pass
    over the block (up to three for a stage, four for the update): the rounding is that of one
    pass per term, with fewer loads and stores of the block (15-30% faster on 4- to 9-stage
    tableaux of dense ``A``).
    """
    T = A.shape[0]
    s = A.shape[1]
    B, d, m = Y0.shape
    for pair in prange(T * B):
        q = pair // B
        blk = pair % B
        N = n_steps[q, blk]
        h = (t1 - t0) / N
        # The nonzero coefficients times h, with their stage indices: per row of A, and of b.
        wA = np.empty((s, s))
        iA = np.zeros((s, s), dtype=np.int64)
        nA = np.zeros(s, dtype=np.int64)
        for i in range(s):
            for l in range(i):
                a = h * A[q, i, l]
                if a != 0.0:
                    wA[i, nA[i]] = a
                    iA[i, nA[i]] = l
                    nA[i] += 1
        hb = h * b[q]
        wb = np.empty(s)
        ib = np.zeros(s, dtype=np.int64)
        nb = 0
        for i in range(s):
            if hb[i] != 0.0:
                wb[nb] = hb[i]
                ib[nb] = i
                nb += 1
        cq = c[q]
        reuse = fsal[q] != 0
        K = np.empty((s, d, m))
        Y = Y0[blk].copy()
        Yt = np.empty((d, m))
        Pb = P[blk].copy()
        lim = bound[blk]
        ok = np.empty(m, dtype=np.bool_)
        alive = np.ones(m, dtype=np.bool_)
        steps = np.full(m, N, dtype=np.int64)
        n_alive = m
        for n in range(N):
            t = t0 + n * h
            for i in range(s):
                if i == 0:
                    if reuse and n > 0:
                        K[0, :, :] = K[s - 1]
                    else:
                        rhs_block(t, Y, Pb, K[0])
                    continue
                # Yt = Y + sum_l hA[i, l] K[l] left to right over the nonzero terms, up to three
                # per pass over the block; the first pass reads Y, so that no copy pass is needed.
                na = nA[i]
                u = 0
                while u < na:
                    # Two loops rather than one on "src = Y or Yt": LLVM cannot vectorise a loop
                    # whose source and destination may be the same array (its overlap check
                    # falls back to scalar code when they are).
                    left = na - u
                    if left >= 3:
                        w0, w1, w2 = wA[i, u], wA[i, u + 1], wA[i, u + 2]
                        i0, i1, i2 = iA[i, u], iA[i, u + 1], iA[i, u + 2]
                        if u == 0:
                            for r in range(d):
                                for j in range(m):
                                    v = Y[r, j] + w0 * K[i0, r, j] + w1 * K[i1, r, j]
                                    Yt[r, j] = v + w2 * K[i2, r, j]
                        else:
                            for r in range(d):
                                for j in range(m):
                                    v = Yt[r, j] + w0 * K[i0, r, j] + w1 * K[i1, r, j]
                                    Yt[r, j] = v + w2 * K[i2, r, j]
                        u += 3
                    elif left == 2:
                        w0, w1 = wA[i, u], wA[i, u + 1]
                        i0, i1 = iA[i, u], iA[i, u + 1]
                        if u == 0:
                            for r in range(d):
                                for j in range(m):
                                    Yt[r, j] = Y[r, j] + w0 * K[i0, r, j] + w1 * K[i1, r, j]
                        else:
                            for r in range(d):
                                for j in range(m):
                                    Yt[r, j] = Yt[r, j] + w0 * K[i0, r, j] + w1 * K[i1, r, j]
                        u += 2
                    else:
                        w0 = wA[i, u]
                        i0 = iA[i, u]
                        if u == 0:
                            for r in range(d):
                                for j in range(m):
                                    Yt[r, j] = Y[r, j] + w0 * K[i0, r, j]
                        else:
                            for r in range(d):
                                for j in range(m):
                                    Yt[r, j] = Yt[r, j] + w0 * K[i0, r, j]
                        u += 1
                rhs_block(t + cq[i] * h, Y if na == 0 else Yt, Pb, K[i])
            # Y += sum_i hb[i] K[i] left to right over the nonzero terms, up to four per pass
            # (fewer loads and stores of Y than a pass per term, the same rounding); the last
            # pass also runs the blow-up test.  NaN fails every comparison, so "|y| <= bound"
            # is false for it as well.
            u = 0
            while nb - u > 4:
                w0, w1, w2, w3 = wb[u], wb[u + 1], wb[u + 2], wb[u + 3]
                i0, i1, i2, i3 = ib[u], ib[u + 1], ib[u + 2], ib[u + 3]
                for r in range(d):
                    for j in range(m):
                        v = Y[r, j] + w0 * K[i0, r, j] + w1 * K[i1, r, j]
                        Y[r, j] = v + w2 * K[i2, r, j] + w3 * K[i3, r, j]
                u += 4
            for j in range(m):
                ok[j] = True
            left = nb - u
            if left == 4:
                w0, w1, w2, w3 = wb[u], wb[u + 1], wb[u + 2], wb[u + 3]
                i0, i1, i2, i3 = ib[u], ib[u + 1], ib[u + 2], ib[u + 3]
                for r in range(d):
                    for j in range(m):
                        v = Y[r, j] + w0 * K[i0, r, j] + w1 * K[i1, r, j]
                        v = v + w2 * K[i2, r, j] + w3 * K[i3, r, j]
                        Y[r, j] = v
                        ok[j] = ok[j] & (abs(v) <= lim[j])
            elif left == 3:
                w0, w1, w2 = wb[u], wb[u + 1], wb[u + 2]
                i0, i1, i2 = ib[u], ib[u + 1], ib[u + 2]
                for r in range(d):
                    for j in range(m):
                        v = Y[r, j] + w0 * K[i0, r, j] + w1 * K[i1, r, j] + w2 * K[i2, r, j]
                        Y[r, j] = v
                        ok[j] = ok[j] & (abs(v) <= lim[j])
            elif left == 2:
                w0, w1 = wb[u], wb[u + 1]
                i0, i1 = ib[u], ib[u + 1]
                for r in range(d):
                    for j in range(m):
                        v = Y[r, j] + w0 * K[i0, r, j] + w1 * K[i1, r, j]
                        Y[r, j] = v
                        ok[j] = ok[j] & (abs(v) <= lim[j])
            elif left == 1:
                w0 = wb[u]
                i0 = ib[u]
                for r in range(d):
                    for j in range(m):
                        v = Y[r, j] + w0 * K[i0, r, j]
                        Y[r, j] = v
                        ok[j] = ok[j] & (abs(v) <= lim[j])
            else:
                for r in range(d):
                    for j in range(m):
                        ok[j] = ok[j] & (abs(Y[r, j]) <= lim[j])
            # Blow-ups are rare: a vectorised count decides whether the per-column scan runs.
            n_ok = 0
            for j in range(m):
                n_ok += ok[j]
            if n_ok < m:
                for j in range(m):
                    if not ok[j]:
                        if alive[j]:
                            alive[j] = False
                            steps[j] = n + 1
                            n_alive -= 1
                        # A dead column restarts from y0 so that its (discarded) arithmetic stays finite.
                        for r in range(d):
                            Y[r, j] = Y0[blk, r, j]
            if n_alive == 0:
                break
        for j in range(m):
            steps_out[q, blk, j] = steps[j]
            if alive[j]:
                status_out[q, blk, j] = 0
                for r in range(d):
                    Y_out[q, blk, r, j] = Y[r, j]
            else:
                status_out[q, blk, j] = 1
                for r in range(d):
                    Y_out[q, blk, r, j] = np.nan


@njit(cache=True)
def _rms_scaled(x, y_a, y_b, rtol, atol):
    """sqrt(mean_i (x_i / (atol_i + rtol_i * max(|y_a_i|, |y_b_i|)))^2) over a (d, 1) column."""
    d = x.shape[0]
    acc = 0.0
    for r in range(d):
        sc = atol[r] + rtol[r] * max(abs(y_a[r, 0]), abs(y_b[r, 0]))
        v = x[r, 0] / sc
        acc += v * v
    return np.sqrt(acc / d)


@njit(
    types.void(
        BLOCK_RHS,
        _C2,
        _C1,
        _C1,
        _C1,
        _i8,
        _f8,
        _C2,
        _C2,
        _C1,
        _f8,
        _f8,
        _C1,
        _C1,
        _C1,
        _f8,
        _f8,
        _f8,
        _i8,
        _C2,
        _I1,
        _I1,
        _I1,
        _S1,
    ),
    parallel=True,
    cache=True,
)
def rk_adaptive(
    rhs_block, A, b, e, c, fsal, exponent, Y0, P, bound, t0, t1, rtol, atol, h0,
    safety, fac_min, fac_max, max_steps, Y_out, n_accepted, n_rejected, nfev, status,
):  # fmt: skip
    """Embedded explicit RK with error-per-step control, one ODE per ``prange`` iteration.

    Parameters
    ----------
    rhs_block : first-class function, called on (d, 1) blocks
    A : (s, s); b, e, c : (s,)
        ``e = b - b_hat``: the local error estimate is ``h * sum_i e_i k_i``.
    fsal : int
        1 when the last stage equals the new solution's derivative (reused as stage 0).
    exponent : float
        ``1 / (q + 1)`` with ``q`` the order of the error estimate.
    Y0 : (N, d); P : (N, k); bound : (N,)
    rtol, atol : (d,)
    h0 : (N,)
        Initial step; a value <= 0 selects it automatically (Hairer--Norsett--Wanner I, II.4).
    safety, fac_min, fac_max : float
    max_steps : int
        Limit on attempted (accepted + rejected) steps per ODE.
    Y_out : (N, d); n_accepted, n_rejected, nfev : (N,) int64; status : (N,) int8
        Status 0 ok, 1 unstable (|y| beyond ``bound`` or non-finite), 2 max_steps,
        3 step size underflow; ``Y_out`` is NaN unless ok.
    """
    N, d = Y0.shape
    k = P.shape[1]
    s = A.shape[0]
    direction = t1 - t0
    for i0 in prange(N):
        K = np.empty((s, d, 1))
        Y = np.empty((d, 1))
        Ynew = np.empty((d, 1))
        Yt = np.empty((d, 1))
        Err = np.empty((d, 1))
        Pi = np.empty((k, 1))
        for r in range(d):
            Y[r, 0] = Y0[i0, r]
        for r in range(k):
            Pi[r, 0] = P[i0, r]
        lim = bound[i0]
        t = t0
        rhs_block(t, Y, Pi, K[0])
        evals = 1
        h = h0[i0]
        if h <= 0.0:
            d0 = _rms_scaled(Y, Y, Y, rtol, atol)
            d1 = _rms_scaled(K[0], Y, Y, rtol, atol)
            if d0 < 1e-5 or d1 < 1e-5:
                h_try = 1e-6
            else:
                h_try = 0.01 * d0 / d1
            h_try = min(h_try, direction)
            for r in range(d):
                Yt[r, 0] = Y[r, 0] + h_try * K[0, r, 0]
            rhs_block(t + h_try, Yt, Pi, Ynew)
            evals += 1
            for r in range(d):
                Err[r, 0] = (Ynew[r, 0] - K[0, r, 0]) / h_try
            d2 = _rms_scaled(Err, Y, Y, rtol, atol)
            dmax = max(d1, d2)
            if not np.isfinite(dmax):
                h = 1e-6 * h_try
            elif dmax <= 1e-15:
                h = max(1e-6, h_try * 1e-3)
            else:
                h = (0.01 / dmax) ** exponent
            h = min(100.0 * h_try, h)
        h = min(h, direction)
        acc = 0
        rej = 0
        code = 0
        cap = fac_max
        while True:
            if acc + rej >= max_steps:
                code = 2
                break
            if h < 16.0 * 2.220446049250313e-16 * max(abs(t), abs(t1)):
                code = 3
                break
            last = t + h >= t1
            if last:
                h = t1 - t
            for i in range(1, s):
                for r in range(d):
                    z = 0.0
                    for l in range(i):
                        z += A[i, l] * K[l, r, 0]
                    Yt[r, 0] = Y[r, 0] + h * z
                rhs_block(t + c[i] * h, Yt, Pi, K[i])
            evals += s - 1
            for r in range(d):
                z = 0.0
                ze = 0.0
                for l in range(s):
                    z += b[l] * K[l, r, 0]
                    ze += e[l] * K[l, r, 0]
                Ynew[r, 0] = Y[r, 0] + h * z
                Err[r, 0] = h * ze
            err = _rms_scaled(Err, Y, Ynew, rtol, atol)
            if not np.isfinite(err):
                rej += 1
                h *= fac_min
                cap = 1.0
                continue
            if err > 1.0:
                rej += 1
                h *= max(fac_min, safety * err ** (-exponent))
                # Hairer's rule: no growth right after a rejection.
                cap = 1.0
                continue
            acc += 1
            t = t1 if last else t + h
            blown = False
            for r in range(d):
                Y[r, 0] = Ynew[r, 0]
                if not (abs(Ynew[r, 0]) <= lim):
                    blown = True
            if blown:
                code = 1
                break
            if last:
                break
            if fsal != 0:
                K[0, :, :] = K[s - 1]
            else:
                rhs_block(t, Y, Pi, K[0])
                evals += 1
            fac = fac_max if err == 0.0 else safety * err ** (-exponent)
            h *= min(cap, max(fac_min, fac))
            cap = fac_max
        n_accepted[i0] = acc
        n_rejected[i0] = rej
        nfev[i0] = evals
        status[i0] = code
        for r in range(d):
            Y_out[i0, r] = Y[r, 0] if code == 0 else np.nan
