"""Many-stage explicit tableaux with closed-form stability figures, shared by the stability tests.

* :func:`euler_substeps`: ``R(z) = (1 + z/s)^s``, real interval ``2s``, area ``π s²``;
* :func:`chebyshev_tableau`: ``R(z) = T_s(1 + z/s²)`` in Butcher form of the three-term
  recurrence (well conditioned), real interval ``2s²``;
* :func:`rkc1_tableau`: damped first-order Chebyshev (RKC), real interval ``2 w0/w1``;
* :func:`chebyshev_product_tableau`: ``T_s(1 + z/s²)`` as Euler steps ``-1/z_k`` --
  internally unstable as a Butcher array from a few dozen stages on.
"""

from __future__ import annotations

import numpy as np
from numpy.polynomial import chebyshev as C

from rkcore import Tableau


def euler_substeps(s: int) -> Tableau:
    """s forward-Euler substeps of size h/s as one s-stage method: R(z) = (1 + z/s)^s."""
    return Tableau(A=np.tril(np.full((s, s), 1.0 / s), -1), b=np.full(s, 1.0 / s), name=f"euler x{s}")


def chebyshev_tableau(s: int) -> Tableau:
    """Undamped first-order Chebyshev method: stage Y_j = T_j(1 + z/s²) by the three-term recurrence.

    With ``Y_j = y0 + h Σ_l α_j[l] F(Y_{l-1})``: ``α_1 = e_1/s²`` and
    ``α_j = 2α_{j-1} - α_{j-2} + 2e_j/s²``; row ``i`` of ``A`` is ``α_{i-1}``, ``b = α_s``.
    """
    w1 = 1.0 / s**2
    alpha = np.zeros((s + 1, s))
    alpha[1, 0] = w1
    for j in range(2, s + 1):
        alpha[j] = 2.0 * alpha[j - 1] - alpha[j - 2]
        alpha[j, j - 1] += 2.0 * w1
    A = np.tril(np.vstack([np.zeros(s), alpha[1:s]]), -1)
    return Tableau(A=A, b=alpha[s], name=f"chebyshev{s}")


def rkc1_tableau(s: int, damping: float = 0.05) -> tuple[Tableau, float]:
    """Damped first-order Chebyshev (RKC) method and its exact real stability interval 2 w0/w1."""
    w0 = 1.0 + damping / s**2
    ts = [0.0] * s + [1.0]
    w1 = C.chebval(w0, ts) / C.chebval(w0, C.chebder(ts))
    bj = [1.0 / C.chebval(w0, [0.0] * j + [1.0]) for j in range(s + 1)]  # b_j = 1/T_j(w0)
    alpha = np.zeros((s + 1, s))
    alpha[1, 0] = w1 * bj[1]
    for j in range(2, s + 1):
        mu, nu, mut = 2 * w0 * bj[j] / bj[j - 1], -bj[j] / bj[j - 2], 2 * w1 * bj[j] / bj[j - 1]
        alpha[j] = mu * alpha[j - 1] + nu * alpha[j - 2]
        alpha[j, j - 1] += mut
    A = np.tril(np.vstack([np.zeros(s), alpha[1:s]]), -1)
    return Tableau(A=A, b=alpha[s], name=f"rkc{s}"), 2.0 * w0 / w1


def chebyshev_product_tableau(s: int) -> Tableau:
    """T_s(1 + z/s²) as s Euler steps of sizes -1/z_k, greedily ordered to keep partial products small.

    Every prefix product stays below 1 on [-2s², 0], but the suffix products reach 10^49
    (s = 200): as a Butcher array (A_ij = h_j) the method is internally unstable.
    """
    k = np.arange(1, s + 1)
    h = 1.0 / (2.0 * s * s * np.sin((2 * k - 1) * np.pi / (4 * s)) ** 2)  # -1/z_k, z_k the roots
    x = np.linspace(-2.0 * s * s, 0.0, 2001)
    left, partial, order = list(range(s)), np.ones_like(x), []
    while left:
        best = min(left, key=lambda j: np.max(np.abs(partial * (1 + h[j] * x))))
        order.append(best)
        partial = partial * (1 + h[best] * x)
        left.remove(best)
    h = h[order]
    return Tableau(A=np.tril(np.tile(h, (s, 1)), -1), b=h, name=f"chebyshev product {s}")
