"""``R(z)`` of an explicit tableau by the stage recursion (compiled with numba).

For an explicit method the stage vector ``K = (I - zA)⁻¹1`` is found by forward
substitution, ``K_i = 1 + z Σ_{j<i} A_ij K_j``, and ``R(z) = 1 + z bᵀK``.  This is
backward stable in the tableau itself: the computed value is the exact ``R`` of a
tableau whose entries differ from the given ones by a few ulps each.  Horner's rule on
the monomial coefficients ``b·A^(k-1)·1`` is not: for many-stage methods those
coefficients span hundreds of decades and cancel catastrophically far from the origin
(``(1 + z/s)^s`` at ``z = -2s`` sums terms up to ``3^s``), which is why the stability
limits and the region of a many-stage method are computed from this module.

Every kernel takes its scratch vectors as arguments and reads no module globals.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange


@njit(cache=True)
def stage_value(A, b, z, K, dK):
    """``R(z)`` and ``R'(z)`` by forward substitution.

    Parameters
    ----------
    A : (s, s) float64, strictly lower triangular
    b : (s,) float64
    z : complex
    K, dK : (s,) complex128
        Scratch: the stage vector ``(I - zA)⁻¹1`` and its derivative in ``z``.

    Returns
    -------
    (complex, complex)
    """
    # real and imaginary parts apart: A is real, and four real accumulators run ~1.4x faster
    s = b.shape[0]
    zr = z.real
    zi = z.imag
    rr = 0.0
    ri = 0.0
    dr = 0.0
    di = 0.0
    for i in range(s):
        ar = 0.0
        ai = 0.0
        br = 0.0
        bi = 0.0
        for j in range(i):
            a = A[i, j]
            ar += a * K[j].real
            ai += a * K[j].imag
            br += a * dK[j].real
            bi += a * dK[j].imag
        kr = 1.0 + zr * ar - zi * ai
        ki = zr * ai + zi * ar
        dkr = ar + zr * br - zi * bi
        dki = ai + zr * bi + zi * br
        K[i] = complex(kr, ki)
        dK[i] = complex(dkr, dki)  # d/dz (1 + z Σ A K) = Σ A K + z Σ A K'
        rr += b[i] * kr
        ri += b[i] * ki
        dr += b[i] * dkr
        di += b[i] * dki
    R = complex(1.0 + zr * rr - zi * ri, zr * ri + zi * rr)
    return R, complex(rr + zr * dr - zi * di, ri + zr * di + zi * dr)


@njit(cache=True)
def stage_abs(A, b, zr, zi, Kr, Ki):
    """``|R(z)|`` at ``z = zr + i zi`` by forward substitution in real arithmetic, without the
    derivative (the ray scans of :mod:`rkcore.calibration` call it millions of times).

    Kr, Ki : (s,) float64 scratch for the real and imaginary parts of the stage vector.
    """
    s = b.shape[0]
    sr = 0.0
    si = 0.0
    for i in range(s):
        ar = 0.0
        ai = 0.0
        for m in range(i):
            a = A[i, m]
            if a != 0.0:
                ar += a * Kr[m]
                ai += a * Ki[m]
        Kr[i] = 1.0 + zr * ar - zi * ai
        Ki[i] = zr * ai + zi * ar
        sr += b[i] * Kr[i]
        si += b[i] * Ki[i]
    rr = 1.0 + zr * sr - zi * si
    ri = zr * si + zi * sr
    return math.sqrt(rr * rr + ri * ri)


@njit(cache=True)
def stage_value_cond(A, b, z, K, L, AK, AKabs):
    """``R(z)``, ``R'(z)`` and the sensitivity of ``R(z)`` to round-off in the tableau.

    The sensitivity ``X = 1 + |z||b|ᵀ|K| + |z|²|L|ᵀ|A||K| + |R|`` (adjoint stages
    ``L = (I - zA)⁻ᵀ b``) bounds, to first order, the change of ``R`` when every entry of
    ``A`` and ``b`` moves by a relative ``δ`` (and the final sum is rounded): ``|ΔR| <= δX``.
    Forward substitution has a componentwise backward error ``δ <= (s + 2)·eps``, so
    ``(s + 2)·eps·X`` is the safe threshold for "``|R| > 1`` beyond round-off", while
    ``2·eps·X`` -- the effect of storing the tableau in floating point at all -- is the
    realistic error estimate of anything computed from ``R``.

    Parameters
    ----------
    A : (s, s) float64, strictly lower triangular
    b : (s,) float64
    z : complex
    K, L, AK : (s,) complex128
        Scratch: stages, adjoint stages and ``AK``.
    AKabs : (s,) float64
        Scratch: ``|A||K|``.

    Returns
    -------
    (complex, complex, float)
        ``R(z)``, ``R'(z) = bᵀK + z Lᵀ A K`` and ``X``.
    """
    s = b.shape[0]
    r = 0j
    bk = 0.0
    for i in range(s):
        acc = 0j
        accabs = 0.0
        for j in range(i):
            acc += A[i, j] * K[j]
            accabs += abs(A[i, j]) * AKabs[j]
        AK[i] = acc
        K[i] = 1.0 + z * acc
        AKabs[i] = abs(K[i])  # |K_i| for the rows below; replaced by |A||K| row sum after the loop
        L[i] = accabs
        bk += abs(b[i]) * AKabs[i]
    for i in range(s):
        AKabs[i] = L[i].real
        L[i] = 0j
    # adjoint by rows of A (contiguous): L[k] holds Σ_{m>k} A_mk L_m when row k is reached
    for k in range(s - 1, -1, -1):
        L[k] = b[k] + z * L[k]
        for i in range(k):
            L[i] += A[k, i] * L[k]
    dr = 0j
    sens = 0.0
    for i in range(s):
        r += b[i] * K[i]
        dr += L[i] * AK[i]
        sens += abs(L[i]) * AKabs[i]
    az = abs(z)
    R = 1.0 + z * r
    return R, r + z * dr, 1.0 + az * bk + az * az * sens + abs(R)


@njit(cache=True)
def horner_noise(P, Perr, radius):
    """Bound on the error of Horner's rule for ``Σ P_k z^k`` at ``|z| <= radius``.

    ``P`` carries its own round-off bounds ``Perr`` (:func:`rkcore.stability._stability_poly`).
    """
    eps = 2.220446049250313e-16
    m = P.shape[0] - 1
    noise = 0.0
    for k in range(m, -1, -1):
        noise = noise * radius + Perr[k] + 4.0 * (m + 1) * eps * abs(P[k])
    return noise


@njit(cache=True)
def horner_trusted(P, Perr, radius):
    """True when Horner on the monomial coefficients is accurate to 1e-12 for ``|z| <= radius``."""
    return horner_noise(P, Perr, radius) <= 1e-12


@njit(parallel=True, cache=True)
def abs_r_grid(A, b, P, Perr, re, im, out):
    """``out[k, j, i] = |R_k(re[i] + 1j*im[j])|`` for a batch; prange over (tableau, row) pairs.

    Horner on ``P[k]`` where it is accurate over the whole grid (:func:`horner_trusted`),
    the stage recursion otherwise.

    Parameters
    ----------
    A : (n, s, s) float64
    b : (n, s) float64
    P, Perr : (n, s + 1) float64
        Stability polynomials and their round-off bounds.
    re : (nx,) float64
    im : (ny,) float64
    out : (n, ny, nx) float64
    """
    n, s = b.shape
    deg1 = P.shape[1]
    ny = im.shape[0]
    nx = re.shape[0]
    radius = 0.0
    for i in range(nx):
        for j in range(ny):
            radius = max(radius, abs(complex(re[i], im[j])))
    for kj in prange(n * ny):
        k = kj // ny
        j = kj % ny
        horner = horner_trusted(P[k], Perr[k], radius)
        K = np.empty(s, dtype=np.complex128)
        dK = np.empty(s, dtype=np.complex128)
        for i in range(nx):
            z = complex(re[i], im[j])
            if horner:
                acc = 0j
                for m in range(deg1 - 1, -1, -1):
                    acc = acc * z + P[k, m]
                out[k, j, i] = abs(acc)
            else:
                out[k, j, i] = abs(stage_value(A[k], b[k], z, K, dK)[0])


@njit(parallel=True, cache=True)
def r_values(A, b, z, out):
    """``out[i] = R(z[i])`` by the stage recursion for one tableau; z, out (n,) complex128."""
    s = b.shape[0]
    for i in prange(z.shape[0]):
        K = np.empty(s, dtype=np.complex128)
        dK = np.empty(s, dtype=np.complex128)
        out[i] = stage_value(A, b, z[i], K, dK)[0]


@njit(cache=True)
def stability_degree(A, b, v, vabs, w, wabs):
    """Degree of ``R``: the largest ``k`` with ``b·A^(k-1)·1`` above its round-off bound.

    The same test as the coefficient bounds of :func:`rkcore.stability._stability_poly`,
    but on powers rescaled at every step, because the coefficients of a many-stage
    method underflow (``(1 + z/s)^s`` has ``p_s = s^-s``).  Scratch v, vabs, w, wabs (s,).
    """
    eps = 2.220446049250313e-16
    s = b.shape[0]
    for i in range(s):
        v[i] = 1.0
        vabs[i] = 1.0
    degree = 0
    for k in range(1, s + 1):
        acc = 0.0
        accabs = 0.0
        for i in range(s):
            acc += b[i] * v[i]
            accabs += abs(b[i]) * vabs[i]
        if abs(acc) > 4.0 * (k * s + 1) * eps * accabs:
            degree = k
        top = 0.0
        for i in range(s):
            x = 0.0
            xabs = 0.0
            for j in range(i):
                x += A[i, j] * v[j]
                xabs += abs(A[i, j]) * vabs[j]
            w[i] = x
            wabs[i] = xabs
            top = max(top, xabs)
        if top == 0.0:
            break
        for i in range(s):
            v[i] = w[i] / top
            vabs[i] = wabs[i] / top
    return degree


@njit(cache=True)
def stage_taylor6(A, b, z, W):
    """Taylor coefficients ``R(z + ζ) = Σ_{m<=6} r_m ζ^m`` by forward substitution of the stage series.

    ``K(z + ζ) = Σ K_m ζ^m`` with ``(I - zA) K_0 = 1`` and ``(I - zA) K_m = A K_{m-1}``, all
    seven solved in one sweep over ``A`` (the order is fixed so that the accumulators stay
    in registers); ``r_0 = 1 + z bᵀK_0`` and ``r_m = bᵀK_{m-1} + z bᵀK_m``.

    Parameters
    ----------
    A : (s, s) float64, strictly lower triangular
    b : (s,) float64
    z : complex
    W : (s, 7) complex128
        Scratch: ``W[j, m] = (K_m)_j``.

    Returns
    -------
    ndarray, shape (7,), complex128
    """
    s = b.shape[0]
    zr = z.real
    zi = z.imag
    acc = np.empty(14)
    for i in range(s):
        # real and imaginary parts apart (A is real): fourteen real accumulators
        r0 = i0 = r1 = i1 = r2 = i2 = r3 = i3 = r4 = i4 = r5 = i5 = r6 = i6 = 0.0
        for j in range(i):
            a = A[i, j]
            r0 += a * W[j, 0].real
            i0 += a * W[j, 0].imag
            r1 += a * W[j, 1].real
            i1 += a * W[j, 1].imag
            r2 += a * W[j, 2].real
            i2 += a * W[j, 2].imag
            r3 += a * W[j, 3].real
            i3 += a * W[j, 3].imag
            r4 += a * W[j, 4].real
            i4 += a * W[j, 4].imag
            r5 += a * W[j, 5].real
            i5 += a * W[j, 5].imag
            r6 += a * W[j, 6].real
            i6 += a * W[j, 6].imag
        acc[0], acc[1], acc[2], acc[3], acc[4], acc[5], acc[6] = r0, r1, r2, r3, r4, r5, r6
        acc[7], acc[8], acc[9], acc[10], acc[11], acc[12], acc[13] = i0, i1, i2, i3, i4, i5, i6
        W[i, 0] = complex(1.0 + zr * r0 - zi * i0, zr * i0 + zi * r0)
        for m in range(1, 7):
            pr = acc[m]
            pi = acc[7 + m]
            W[i, m] = complex(acc[m - 1] + zr * pr - zi * pi, acc[6 + m] + zr * pi + zi * pr)
    bk = np.zeros(7, dtype=np.complex128)
    for i in range(s):
        for m in range(7):
            bk[m] += b[i] * W[i, m]
    r = np.empty(7, dtype=np.complex128)
    r[0] = 1.0 + z * bk[0]
    for m in range(1, 7):
        r[m] = bk[m - 1] + z * bk[m]
    return r
