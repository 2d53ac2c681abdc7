"""Drive explicit tableaux onto their order conditions: batched minimum-norm Gauss--Newton.

The order conditions through order ``p`` are ``r(x) = 0`` for the free parameters ``x`` of an
explicit tableau (strict lower ``A`` and ``b``; see :mod:`rkml.generator`).  With fewer conditions
than parameters the solution set is a manifold, and the minimum-norm Newton step

    x <- x - J(x)^+ r(x)

(``J^+`` the Moore--Penrose pseudo-inverse) moves to the nearby point of that manifold along the
shortest correction; it converges quadratically to a point of the manifold from a close enough
start (Ben-Israel 1966, "A Newton-Raphson method for the solution of systems of equations";
Deuflhard, *Newton Methods for Nonlinear Problems*, 2011, ch. 4 -- Gauss--Newton for
underdetermined systems).  When there are more conditions than parameters (seven stages, order 6)
the same step is the Gauss--Newton least-squares step.  A backtracking line search on ``||r||``
makes it robust from farther starts.

Residuals come from :func:`rkcore.order.order_residuals_batch` (rkcore is the source of truth for
order); the Jacobian is exact, by forward-mode differentiation of the stage-vector recursion in
float64 numpy (:func:`residual_jacobian`).  Every candidate is iterated
independently, so the result for one candidate does not depend on the others in the batch.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

import rkcore
from rkcore.order import order_residuals_batch
from rkml.errors import TrainingRejected
from rkml.generator import anchor, flatten, unflatten
from rkml.objective import TreeProgram, tree_program
from rkml.profile import max_explicit_order

TARGET_RESIDUAL = 1e-13
"""Newton stops once every residual is at most this (max-abs)."""

ACCEPT_RESIDUAL = 1e-12
"""A polished tableau is accepted when every residual through its order is at most this."""


class PolishFailed(TrainingRejected):
    """Newton could not drive a tableau onto its order conditions (diverged or stalled).

    A subclass of :class:`rkml.errors.TrainingRejected`: a run whose result cannot be polished has no
    valid result.
    """


class PolishResult(NamedTuple):
    """Outcome of :func:`polish_batch`.

    Attributes
    ----------
    x : numpy.ndarray, shape (n, n_free)
        Polished free parameters (the last iterate where not converged).
    residual : numpy.ndarray, shape (n,)
        Max-abs order residual through ``order`` at ``x`` (``inf`` where non-finite).
    converged : numpy.ndarray of bool, shape (n,)
        ``residual <= accept`` and coefficients finite and bounded.
    iterations : numpy.ndarray of int, shape (n,)
        Newton iterations each candidate used.
    """

    x: np.ndarray
    residual: np.ndarray
    converged: np.ndarray
    iterations: np.ndarray


def max_residual(x: np.ndarray, stages: int, order: int) -> np.ndarray:
    """Max-abs order residual through ``order`` of each row of ``x`` (n, n_free), by rkcore."""
    A, b = unflatten(np.atleast_2d(x), stages)
    r = order_residuals_batch(np.ascontiguousarray(A), np.ascontiguousarray(b), order)
    out = np.max(np.abs(r), axis=1)
    return np.where(np.isfinite(out), out, np.inf)


def residual_jacobian(x: np.ndarray, stages: int, program: TreeProgram) -> np.ndarray:
    """Exact Jacobian of the order residuals with respect to the free parameters (forward mode).

    Differentiates the stage-vector recursion of :mod:`rkml.objective` by the product rule,
    vectorised over the batch: for ``u = A g(child)``, ``du/dx_q = (dA/dx_q) g(child) + A dg(child)/dx_q``
    where ``dA/dx_q`` is the unit matrix of the ``q``-th strict-lower entry; and
    ``dPhi/dx_q = b . dg/dx_q`` plus ``g_q`` for the weight parameters.
    (``tests/test_polish.py`` checks it against torch autograd.)

    Parameters
    ----------
    x : numpy.ndarray, shape (n, n_free)
    stages : int
    program : TreeProgram

    Returns
    -------
    numpy.ndarray, shape (n, n_trees, n_free)
    """
    A, b = unflatten(np.atleast_2d(x), stages)
    n, s = b.shape
    rows, cols = np.tril_indices(s, -1)
    m = rows.size
    n_free = m + s
    g: list[np.ndarray] = []
    dg: list[np.ndarray] = []
    Ag: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    jac = np.empty((n, program.n_trees, n_free))
    for k, children in enumerate(program.children):
        vec = np.ones((n, s))
        dvec = np.zeros((n, n_free, s))
        for j in children:
            if j not in Ag:
                u = np.einsum("nij,nj->ni", A, g[j])
                du = np.einsum("nij,npj->npi", A, dg[j])
                du[:, np.arange(m), rows] += g[j][:, cols]
                Ag[j] = (u, du)
            u, du = Ag[j]
            dvec = dvec * u[:, None, :] + vec[:, None, :] * du
            vec = vec * u
        g.append(vec)
        dg.append(dvec)
        jac[:, k, :] = np.einsum("ni,npi->np", b, dvec)
        jac[:, k, m:] += vec
    return jac


def tangent_projector(x: np.ndarray, stages: int, program: TreeProgram) -> np.ndarray:
    """Orthogonal projector onto the null space of the order-condition Jacobian at ``x``.

    Search directions are drawn in this tangent space of the order manifold, so a candidate
    ``x + sigma * eps`` leaves the conditions only at second order and the Newton correction back
    onto them is short and well conditioned -- also at order 5, where the smallest singular values
    of the Jacobian are ~1e-4 and a min-norm projection of an arbitrary perturbation moves the
    point ~1e4 times the perturbation.  Singular values below 1e-8 of the largest count as zero
    (some classical methods sit at rank-deficient points of the manifold).

    Parameters
    ----------
    x : numpy.ndarray, shape (n_free,)
        A point on (or near) the order conditions.
    stages : int
    program : TreeProgram
        The trees through the target order (:func:`rkml.objective.tree_program`).

    Returns
    -------
    numpy.ndarray, shape (n_free, n_free)
    """
    jac = residual_jacobian(np.asarray(x, dtype=np.float64)[None], stages, program)[0]
    _, sv, vt = np.linalg.svd(jac)
    rank = int(np.sum(sv > 1e-8 * sv[0])) if sv.size and sv[0] > 0 else 0
    null = vt[rank:]
    return null.T @ null


def polish_batch(
    x0: np.ndarray,
    stages: int,
    order: int,
    *,
    tol: float = TARGET_RESIDUAL,
    accept: float = ACCEPT_RESIDUAL,
    max_iter: int = 20,
    max_halvings: int = 12,
    max_abs: float = 1e3,
) -> PolishResult:
    """Project each row of ``x0`` onto the order-``order`` conditions by min-norm Gauss--Newton.

    Parameters
    ----------
    x0 : array_like, shape (n, n_free_params(stages))
        Starting free parameters.
    stages, order : int
    tol : float
        Stop iterating a candidate once its max-abs residual is at most ``tol``.
    accept : float
        A candidate counts as converged when its final max-abs residual is at most ``accept``.
    max_iter : int
        Newton iterations at most.
    max_halvings : int
        Backtracking halvings of a step that does not reduce ``||r||_2``.
    max_abs : float
        A candidate whose coefficients leave ``[-max_abs, max_abs]`` is given up (diverged).

    Returns
    -------
    PolishResult
    """
    x = np.array(np.atleast_2d(x0), dtype=np.float64, copy=True)
    n = x.shape[0]
    program = tree_program(order)
    iterations = np.zeros(n, dtype=np.int64)
    alive = np.all(np.isfinite(x), axis=1)
    res_vec = _residual_vectors(x, stages, order)
    for _ in range(max_iter):
        norm_inf = np.max(np.abs(res_vec), axis=1)
        active = alive & (norm_inf > tol)
        if not active.any():
            break
        idx = np.flatnonzero(active)
        jac = residual_jacobian(x[idx], stages, program)
        # rcond cuts directions the conditions do not see; the min-norm step ignores them.
        step = -np.einsum("npt,nt->np", np.linalg.pinv(jac, rcond=1e-12), res_vec[idx])
        base = np.linalg.norm(res_vec[idx], axis=1)
        alpha = np.ones(idx.size)
        pending = np.ones(idx.size, dtype=bool)
        trial_x = x[idx].copy()
        trial_r = res_vec[idx].copy()
        for _h in range(max_halvings + 1):
            p = np.flatnonzero(pending)
            cand = x[idx[p]] + alpha[p, None] * step[p]
            r = _residual_vectors(cand, stages, order)
            trial_x[p] = cand
            trial_r[p] = r
            better = np.isfinite(r).all(axis=1) & (np.linalg.norm(r, axis=1) < base[p])
            pending[p[better]] = False
            if not pending.any():
                break
            alpha[pending] *= 0.5
        x[idx] = trial_x
        res_vec[idx] = trial_r
        iterations[idx] += 1
        bad = ~np.isfinite(trial_x).all(axis=1) | (np.abs(trial_x).max(axis=1) > max_abs)
        alive[idx[bad]] = False
    residual = np.where(alive, np.max(np.abs(res_vec), axis=1), np.inf)
    residual = np.where(np.isfinite(residual), residual, np.inf)
    converged = alive & (residual <= accept)
    return PolishResult(x, residual, converged, iterations)


def project_batch(
    target: np.ndarray,
    stages: int,
    order: int,
    *,
    origin: np.ndarray,
    substeps: tuple[int, ...] = (1, 8, 32),
    **options,
) -> PolishResult:
    """Project points onto the order conditions, by path tracking from a point known to satisfy them.

    Plain Newton from a far start can stall in a local minimum of ``||r||`` or land far away.
    Path tracking walks from ``origin`` (on the conditions) towards ``target`` in ``K`` equal
    increments, re-polishing after each (a predictor--corrector continuation; Allgower & Georg,
    *Introduction to Numerical Continuation Methods*, 2003, ch. 2).  ``K`` is taken from
    ``substeps`` in turn for the candidates that have not converged yet; ``K = 1`` is plain
    Newton from ``target``.

    Parameters
    ----------
    target : array_like, shape (n, n_free)
        Points to project.
    stages, order : int
    origin : array_like, shape (n, n_free) or (n_free,)
        Points that satisfy the conditions (e.g. the polished mean), broadcast over ``target``.
    substeps : tuple of int
        Increment counts tried in turn.
    **options
        Passed to :func:`polish_batch`.

    Returns
    -------
    PolishResult
        Unconverged rows hold their last iterate and ``converged = False``.
    """
    target = np.array(np.atleast_2d(target), dtype=np.float64)
    origin = np.broadcast_to(np.asarray(origin, dtype=np.float64), target.shape)
    n = target.shape[0]
    x_out = target.copy()
    residual = np.full(n, np.inf)
    converged = np.zeros(n, dtype=bool)
    iterations = np.zeros(n, dtype=np.int64)
    for k in substeps:
        idx = np.flatnonzero(~converged)
        if idx.size == 0:
            break
        x = origin[idx].copy()
        delta = (target[idx] - origin[idx]) / k
        ok = np.ones(idx.size, dtype=bool)
        last = None
        for _ in range(k):
            live = np.flatnonzero(ok)
            if live.size == 0:
                break
            last = polish_batch(x[live] + delta[live], stages, order, **options)
            x[live] = last.x
            iterations[idx[live]] += last.iterations
            ok[live] = last.converged
            residual[idx[live]] = last.residual
        x_out[idx] = x
        converged[idx] = ok
    return PolishResult(x_out, residual, converged, iterations)


def _residual_vectors(x: np.ndarray, stages: int, order: int) -> np.ndarray:
    A, b = unflatten(x, stages)
    r = order_residuals_batch(np.ascontiguousarray(A), np.ascontiguousarray(b), order)
    return np.where(np.isfinite(r), r, np.inf)


def polish(tableau: rkcore.Tableau, order: int, **options) -> rkcore.Tableau:
    """Drive one explicit tableau onto its order conditions through ``order``.

    Parameters
    ----------
    tableau : rkcore.Tableau
        Explicit starting point (only the strict lower part of ``A`` and ``b`` are used).
    order : int
        Target order; every residual through it ends at most ``ACCEPT_RESIDUAL``.
    **options
        Passed to :func:`polish_batch`.

    Returns
    -------
    rkcore.Tableau
        Same name and info as ``tableau``, with ``c`` the row sums of the polished ``A``.

    Raises
    ------
    PolishFailed
        When Newton does not reach the conditions (diverged, or stalled above the threshold).
    """
    tableau.require_explicit()
    s = tableau.stages
    result = polish_batch(flatten(tableau.A, tableau.b)[None, :], s, order, **options)
    if not result.converged[0]:
        raise PolishFailed(
            f"could not drive the {s}-stage tableau '{tableau.name or '?'}' onto the order-{order} "
            f"conditions (max residual {result.residual[0]:.3g} after {int(result.iterations[0])} "
            f"Newton steps); start closer to an order-{order} method or lower the order"
        )
    A, b = unflatten(result.x[0], s)
    return tableau.replace(A=A, b=b)


class Target(NamedTuple):
    """The order conditions one stage count is trained on.

    Attributes
    ----------
    order : int
        Every candidate is projected onto the conditions through this order.
    origin : numpy.ndarray, shape (n_free,)
        A point satisfying them (the polished anchor), where projection paths start.
    """

    order: int
    origin: np.ndarray


def order_target(s: int, min_order: int) -> Target:
    """The highest order, at least ``min_order``, that the Newton polish reaches from the anchor.

    Accuracy and efficiency are dominated by the order at the small steps used for scoring, so
    each stage count is trained on the highest-order conditions within reach: order ``s`` for
    ``s <= 4`` and order 4 beyond (from the anchor, Newton stalls in a local minimum of the
    residual for order 5 and up).  Never below the profile's ``objective.min_order``.

    Raises
    ------
    PolishFailed
        When not even ``min_order`` is reached.
    """
    for q in range(max(max_explicit_order(s), min_order), min_order - 1, -1):
        start = polish_batch(anchor(s)[None], s, q)
        if start.converged[0]:
            return Target(q, start.x[0])
    raise PolishFailed(
        f"cannot find any explicit {s}-stage tableau of order {min_order} to start from "
        f"(residual {start.residual[0]:.2g}); lower objective.min_order or raise stages.min"
    )
