"""Order conditions, order, stage order and error coefficients of Runge--Kutta methods.

Every quantity is defined tree by tree (see :mod:`rkcore.trees`)::

    residual(t)          = Phi(t) - 1/gamma(t)
    error coefficient(t) = (Phi(t) - 1/gamma(t)) / sigma(t)

which is exactly nodepy's ``error_coefficient``.  A method has order ``p`` when
every residual of order <= p is within ``tol`` in absolute value (nodepy's
``order(tol)`` test), and its principal error norm is the 2-norm of the error
coefficients of order ``p + 1``.

All evaluation goes through one compiled sweep over the trees
(:func:`_elementary_weights`); :func:`order_residuals_batch` runs it over
thousands of candidate tableaux in parallel.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np
from numba import njit, prange

from .errors import RKInputError
from .tableau import Tableau
from .threads import numba_threads
from .trees import Tree, rooted_trees, tree_table

#: Highest order :func:`order` checks by default (1205 trees).  A method satisfying
#: every condition through it is reported with this order.
MAX_CHECKED_ORDER = 10


class FailedCondition(NamedTuple):
    """The first order condition a tableau violates.

    Attributes
    ----------
    tree : Tree
        The rooted tree of the condition (``tree.condition()`` renders it, e.g. ``Σb = 1``).
    residual : float
        ``Phi(tree) - 1/gamma(tree)``.
    """

    tree: Tree
    residual: float


# ---------------------------------------------------------------------------- kernels
@njit(cache=True)
def _elementary_weights(A, b, left, right, needs_ag, G, AG, phi):
    """Elementary weights of one tableau by a forward sweep over the trees.

    Parameters
    ----------
    A : (s, s) float64
    b : (s,) float64
    left, right : (n_trees,) int64
        Butcher-product encoding (-1 for the leaf).
    needs_ag : (n_trees,) bool
    G, AG : (n_trees, s) float64
        Scratch: stage vectors g(t) and A @ g(t).
    phi : (n_trees,) float64
        Output, ``b @ g(t)``.
    """
    s = b.shape[0]
    for t in range(left.shape[0]):
        if left[t] < 0:
            for i in range(s):
                G[t, i] = 1.0
        else:
            lt = left[t]
            rt = right[t]
            for i in range(s):
                G[t, i] = G[lt, i] * AG[rt, i]
        if needs_ag[t]:
            for i in range(s):
                acc = 0.0
                for j in range(s):
                    acc += A[i, j] * G[t, j]
                AG[t, i] = acc
        acc = 0.0
        for i in range(s):
            acc += b[i] * G[t, i]
        phi[t] = acc


@njit(parallel=True, cache=True)
def _residuals_batch_kernel(A, b, left, right, needs_ag, inv_gamma, G, AG, out):
    """``out[k] = Phi_k - 1/gamma`` for every candidate k.

    Candidates are split into ``G.shape[0]`` contiguous chunks, one scratch slot each.

    Parameters
    ----------
    A : (n, s, s) float64
    b : (n, s) float64
    G, AG : (n_chunks, n_trees, s) float64
        Scratch, one slot per chunk.
    out : (n, n_trees) float64
    """
    n = b.shape[0]
    n_chunks = G.shape[0]
    n_trees = left.shape[0]
    for c in prange(n_chunks):
        start = (c * n) // n_chunks
        stop = ((c + 1) * n) // n_chunks
        for k in range(start, stop):
            _elementary_weights(A[k], b[k], left, right, needs_ag, G[c], AG[c], out[k])
            for t in range(n_trees):
                out[k, t] -= inv_gamma[t]


# ---------------------------------------------------------------------------- helpers
def _check_max_order(max_order: int, name: str = "max_order") -> int:
    if isinstance(max_order, bool) or not isinstance(max_order, (int, np.integer)) or max_order < 1:
        raise RKInputError(f"{name} must be a positive integer, got {max_order!r}")
    return int(max_order)


def _check_tableau(tableau: Tableau) -> Tableau:
    if not isinstance(tableau, Tableau):
        raise RKInputError(
            f"expected an rkcore.Tableau, got {type(tableau).__name__}; build one with Tableau(A, b)"
        )
    return tableau


def _weights(A: np.ndarray, b: np.ndarray, max_order: int) -> np.ndarray:
    table = tree_table(max_order)
    n_trees, s = table.order.shape[0], b.shape[0]
    G = np.empty((n_trees, s))
    AG = np.empty((n_trees, s))
    phi = np.empty(n_trees)
    _elementary_weights(
        np.ascontiguousarray(A, dtype=np.float64),
        np.ascontiguousarray(b, dtype=np.float64),
        table.left,
        table.right,
        table.needs_ag,
        G,
        AG,
        phi,
    )
    return phi


# ---------------------------------------------------------------------------- public API
def elementary_weights(tableau: Tableau, max_order: int) -> np.ndarray:
    """Elementary weights ``Phi(t)`` for all trees of order <= ``max_order``.

    Returns
    -------
    ndarray, shape (n_trees,)
        In the order of :func:`rkcore.trees.rooted_trees`.
    """
    t = _check_tableau(tableau)
    return _weights(t.A, t.b, _check_max_order(max_order))


def order_conditions(tableau: Tableau, max_order: int) -> np.ndarray:
    """Order-condition residuals ``Phi(t) - 1/gamma(t)`` for all trees of order <= ``max_order``.

    Returns
    -------
    ndarray, shape (n_trees,)
        In the order of :func:`rkcore.trees.rooted_trees` (200 entries for ``max_order=8``).
    """
    max_order = _check_max_order(max_order)
    return elementary_weights(tableau, max_order) - tree_table(max_order).inv_gamma


def _order_from_residuals(residuals: np.ndarray, orders: np.ndarray, tol: float, max_order: int) -> int:
    failed = np.abs(residuals) > tol
    failed |= ~np.isfinite(residuals)
    if not failed.any():
        return max_order
    return int(orders[np.argmax(failed)]) - 1


def _check_tol(tol: float) -> float:
    if isinstance(tol, bool) or not isinstance(tol, (int, float, np.floating)) or not tol > 0:
        raise RKInputError(f"tol must be a positive number, got {tol!r}")
    return float(tol)


def order(tableau: Tableau, tol: float = 1e-10, max_order: int = MAX_CHECKED_ORDER) -> int:
    """Classical order: the largest ``p`` with every residual of order <= p within ``tol``.

    Parameters
    ----------
    tableau : Tableau
    tol : float
        Absolute tolerance on ``|Phi(t) - 1/gamma(t)|`` (nodepy's ``order(tol)`` convention).
    max_order : int
        Highest order checked; a method passing everything reports ``max_order``.

    Returns
    -------
    int
        0 when ``Σb = 1`` already fails.
    """
    max_order = _check_max_order(max_order)
    tol = _check_tol(tol)
    res = order_conditions(tableau, max_order)
    return _order_from_residuals(res, tree_table(max_order).order, tol, max_order)


def first_failed_condition(
    tableau: Tableau, tol: float = 1e-10, max_order: int = MAX_CHECKED_ORDER
) -> FailedCondition | None:
    """The first violated condition in canonical tree order, or None if all through ``max_order`` hold.

    Its tree has order ``order(tableau, tol) + 1``.
    """
    max_order = _check_max_order(max_order)
    tol = _check_tol(tol)
    res = order_conditions(tableau, max_order)
    bad = np.flatnonzero((np.abs(res) > tol) | ~np.isfinite(res))
    if bad.size == 0:
        return None
    i = int(bad[0])
    return FailedCondition(tree=rooted_trees(max_order)[i], residual=float(res[i]))


def stage_order(tableau: Tableau, tol: float = 1e-10) -> int:
    """Stage order: the largest ``k`` with the simplifying assumptions B(j) and C(j) for all j <= k.

    ``B(j): b·c^(j-1) = 1/j`` and ``C(j): A c^(j-1) = c^j / j`` (nodepy's ``stage_order``).
    Explicit methods have stage order at most 1.
    """
    t = _check_tableau(tableau)
    tol = _check_tol(tol)
    A, b, c = t.A, t.b, t.c
    k = 0
    # B(j) cannot hold for every j (b·c^(j-1) = 1/j for all j is impossible), so
    # the loop ends; the bound only guards against a tolerance too loose to fail.
    while k < 4 * t.stages + 4:
        j = k + 1
        B = b @ c ** (j - 1) - 1.0 / j
        C = A @ c ** (j - 1) - c**j / j
        if not (abs(B) < tol and np.all(np.abs(C) < tol)):
            break
        k = j
    return k


def error_coefficients(tableau: Tableau, q: int) -> np.ndarray:
    """Error coefficients ``(Phi(t) - 1/gamma(t)) / sigma(t)`` over the trees of order exactly ``q``.

    Returns
    -------
    ndarray, shape (n_trees_q,)
        In the order of :func:`rkcore.trees.trees_of_order` ``(q)``.
    """
    q = _check_max_order(q, "q")
    table = tree_table(q)
    sel = table.order == q
    return order_conditions(tableau, q)[sel] / table.sigma[sel]


def principal_error_norm(tableau: Tableau, p: int | None = None, tol: float = 1e-10) -> float:
    """2-norm of the error coefficients of order ``p + 1`` (nodepy's ``principal_error_norm``).

    Parameters
    ----------
    tableau : Tableau
    p : int, optional
        The method's order; computed with :func:`order` ``(tableau, tol)`` when omitted.
    tol : float
        Tolerance used to find ``p``.
    """
    if p is None:
        p = order(tableau, tol)
    elif isinstance(p, bool) or not isinstance(p, (int, np.integer)) or p < 0:
        raise RKInputError(f"p must be a non-negative integer (the method's order), got {p!r}")
    return float(np.linalg.norm(error_coefficients(tableau, int(p) + 1)))


def _as_batch(A, b) -> tuple[np.ndarray, np.ndarray]:
    A = np.ascontiguousarray(A, dtype=np.float64)
    b = np.ascontiguousarray(b, dtype=np.float64)
    if A.ndim != 3 or A.shape[1] != A.shape[2] or A.shape[1] == 0:
        raise RKInputError(f"batch 'A' must have shape (n, s, s) with s >= 1, got {A.shape}")
    if b.shape != A.shape[:2]:
        raise RKInputError(f"batch 'b' must have shape (n, s) = {A.shape[:2]}, got {b.shape}")
    return A, b


SERIAL_WORK = 200_000
"""Below this many multiply-adds (n * n_trees * s^2) a batch runs on one thread."""


def order_residuals_batch(A, b, max_order: int) -> np.ndarray:
    """Order-condition residuals for a batch of tableaux, in parallel (numba).

    ``c`` is implied as the row sums of ``A`` (the leaf's stage vector is all ones).

    Parameters
    ----------
    A : array_like, shape (n, s, s)
    b : array_like, shape (n, s)
    max_order : int
        Residuals of every tree of order <= ``max_order``.

    Returns
    -------
    ndarray, shape (n, n_trees)
        Column ``j`` is the tree ``rooted_trees(max_order)[j]``; its order is
        ``tree_table(max_order).order[j]`` (slice ``order <= p`` for "through order p").
        Non-finite candidates give non-finite rows rather than an error.
    """
    A, b = _as_batch(A, b)
    max_order = _check_max_order(max_order)
    table = tree_table(max_order)
    n, s = b.shape
    n_trees = table.order.shape[0]
    out = np.empty((n, n_trees))
    if n == 0:
        return out
    # Waking the thread pool costs ~10 ms when the cores are busy (measured: 12 ms vs 13 us for
    # 32 six-stage tableaux through order 5), far more than a small batch's work: run those on one.
    serial = n * n_trees * s * s < SERIAL_WORK
    threads = 1 if serial else numba.get_num_threads()
    n_chunks = min(n, 4 * threads)
    G = np.empty((n_chunks, n_trees, s))
    AG = np.empty((n_chunks, n_trees, s))
    with numba_threads(threads):
        _residuals_batch_kernel(A, b, table.left, table.right, table.needs_ag, table.inv_gamma, G, AG, out)
    return out


def order_batch(A, b, tol: float = 1e-10, max_order: int = 8) -> np.ndarray:
    """Classical order of each tableau in a batch (the rule of :func:`order`).

    Returns
    -------
    ndarray of int64, shape (n,)
    """
    tol = _check_tol(tol)
    max_order = _check_max_order(max_order)
    res = order_residuals_batch(A, b, max_order)
    failed = (np.abs(res) > tol) | ~np.isfinite(res)
    orders = tree_table(max_order).order
    first = np.argmax(failed, axis=1)
    return np.where(failed.any(axis=1), orders[first] - 1, max_order).astype(np.int64)
