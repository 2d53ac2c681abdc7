"""Search on the order-``p`` manifold of explicit ``s``-stage tableaux.

The order conditions through order ``p`` cut a manifold out of the free parameters ``x`` of an
explicit tableau (:mod:`rkml.generator` for the layout, :mod:`rkml.polish` for the projection).
The search has three phases, each a plain function of its inputs and a seed, so that a run is
bit-identical when repeated and when resumed after any phase:

1. **Explore** (:func:`explore`): many points spread over the manifold -- random tableaux
   (random nodes, random rows with the right sums) driven onto the conditions by Newton, the
   library methods and the quadrature anchor, and long tangent-space excursions from each of them
   projected back by path tracking.  Points with coefficients above :data:`MAX_COEFFICIENT` are
   dropped (round-off grows with them).
2. **Diverse elite** (:func:`diverse_elite`): the best points on the training problems, greedily,
   each at least a set distance from those already chosen, so that the refinement starts in
   several basins, not several times in the best one.
3. **Refine** (:func:`refine`): CMA-ES (Hansen & Ostermeier 2001; the ``cma`` package, whose
   step-size and covariance adaptation is exactly what a fixed exploration ``sigma`` lacked) in
   *tangent coordinates*: a candidate ``z`` in the ``k``-dimensional tangent space at a chart
   centre ``x_c`` is the tableau ``P(x_c + U z)``, ``U`` an orthonormal basis of the null space of
   the conditions' Jacobian and ``P`` the path-tracking projection from ``x_c``.  The projection
   moves only along the normal space by a short step, so a candidate never jumps to another
   branch of the manifold; every :data:`CHART_GENERATIONS` generations the chart is re-centred at
   the best point so far (the linearisation stays good) and CMA continues there with its step size.

Why CMA-ES in a tangent chart rather than intrinsic parameters built from simplifying assumptions
(how Dormand--Prince and Verner build their families): the chart works unchanged for every stage
count and order, including the branches with singular Jacobians (butcher5 and cashkarp lie on
branches with tangent dimension 6 and 4), while a simplifying-assumption parametrisation covers
only the sub-family that satisfies those assumptions.  Why not the ES walk with a fixed ``sigma``
around one warm start that training used before: measured on the balanced profile, 6 stages,
order 5, CMA from cashkarp alone gains only +0.024 on validation (a local optimum); the best of
2,000 random starts already lies 0.12 above cashkarp on the training split.

The fitness of a candidate is the profile's weighted objective on the whole training split
(:func:`rkml.objective.score_points`, deterministic); candidates that cannot be projected rank
last.  What is kept is decided on the validation split by the caller (:mod:`rkml.train`).
"""

from __future__ import annotations

from typing import NamedTuple

import cma
import numpy as np

from rkml.generator import flatten, n_free_params
from rkml.objective import tree_program
from rkml.polish import polish_batch, project_batch, residual_jacobian

MAX_COEFFICIENT = 20.0
"""Largest |coefficient| a searched tableau may have (larger ones amplify round-off)."""

CHART_GENERATIONS = 10
"""CMA generations between re-centring the tangent chart."""

EXCURSION_RADII = (0.1, 0.3, 1.0)
"""Lengths of the tangent-space excursions from each seed point during exploration."""


class Explored(NamedTuple):
    """Points on the manifold found by :func:`explore`.

    Attributes
    ----------
    x : numpy.ndarray, shape (n, n_free)
    score : numpy.ndarray, shape (n,)
        Fitness on the training problems.
    """

    x: np.ndarray
    score: np.ndarray


class Refined(NamedTuple):
    """Outcome of :func:`refine`.

    Attributes
    ----------
    x : numpy.ndarray, shape (n_free,)
        Best point on the training problems.
    score : float
        Its fitness.
    curve : list of float
        Best fitness so far after each generation.
    evaluations : int
        Candidates scored.
    """

    x: np.ndarray
    score: float
    curve: list[float]
    evaluations: int


def tangent_basis(x: np.ndarray, stages: int, order: int) -> np.ndarray:
    """Orthonormal basis of the tangent space of the order-``order`` manifold at ``x``.

    Returns
    -------
    numpy.ndarray, shape (n_free, k)
        The right singular vectors of the conditions' Jacobian beyond its numerical rank.
    """
    jac = residual_jacobian(np.asarray(x, dtype=np.float64)[None], stages, tree_program(order))[0]
    _, sv, vt = np.linalg.svd(jac)
    rank = int(np.sum(sv > 1e-8 * sv[0])) if sv.size and sv[0] > 0 else 0
    return vt[rank:].T.copy()


def embed(A: np.ndarray, b: np.ndarray, stages: int) -> np.ndarray:
    """Free parameters of an ``stages``-stage tableau that computes exactly the method (A, b).

    The extra stages evaluate ``f`` at the new solution (their rows are ``b``) and carry weight 0,
    so every order condition keeps its value: a method of fewer stages is a point of the larger
    stage count's manifold, from which the search can move on.
    """
    m = A.shape[0]
    if m > stages:
        raise ValueError(f"cannot embed a {m}-stage method in {stages} stages")
    big = np.zeros((stages, stages))
    big[:m, :m] = A
    for i in range(m, stages):
        big[i, :m] = b
    return flatten(big, np.concatenate([b, np.zeros(stages - m)]))


def random_tableaux(rng: np.random.Generator, stages: int, n: int, scale: float = 1.0) -> np.ndarray:
    """Random explicit tableaux near the low-order conditions: sorted nodes in (0, 1), rows of ``A``
    summing to their node and ``b`` summing to 1, otherwise Gaussian with spread ``scale``.

    Returns
    -------
    numpy.ndarray, shape (n, n_free_params(stages))
    """
    s = stages
    out = np.empty((n, n_free_params(s)))
    for k in range(n):
        c = np.concatenate([[0.0], np.sort(rng.uniform(0.0, 1.0, s - 1))])
        A = np.zeros((s, s))
        for i in range(1, s):
            r = scale * rng.standard_normal(i)
            A[i, :i] = r - r.mean() + c[i] / i
        w = scale * rng.standard_normal(s)
        out[k] = flatten(A, w - w.mean() + 1.0 / s)
    return out


def _usable(x: np.ndarray, converged: np.ndarray) -> np.ndarray:
    return converged & np.all(np.isfinite(x), axis=1) & (np.max(np.abs(x), axis=1) <= MAX_COEFFICIENT)


def explore(
    seed: int | np.random.SeedSequence,
    stages: int,
    order: int,
    seeds: np.ndarray,
    n_random: int,
    fitness,
    excursions: int = 8,
) -> Explored:
    """Spread points over the order-``order`` manifold and score them.

    Parameters
    ----------
    seed : int or numpy.random.SeedSequence
        Randomness of this call (random tableaux, excursion directions).
    stages, order : int
    seeds : numpy.ndarray, shape (m, n_free)
        Points already on the manifold (library methods, the polished anchor, embeddings).
    n_random : int
        Random tableaux driven onto the conditions by Newton (most fail for order 6, whose
        conditions outnumber the free parameters for up to 8 stages; then the seeds carry it).
    fitness : callable
        ``fitness(x (n, n_free)) -> (n,)`` scores, higher is better.
    excursions : int
        Tangent directions per seed and radius.

    Returns
    -------
    Explored
        Every usable point found (seeds included), in a deterministic order.
    """
    rng = np.random.default_rng(seed)
    found = [np.asarray(seeds, dtype=np.float64).reshape(-1, n_free_params(stages))]
    if n_random > 0:
        polished = polish_batch(random_tableaux(rng, stages, n_random), stages, order, max_iter=40)
        found.append(polished.x[_usable(polished.x, polished.converged)])
    for x0 in found[0]:
        basis = tangent_basis(x0, stages, order)
        if basis.shape[1] == 0:
            continue
        for radius in EXCURSION_RADII:
            d = rng.standard_normal((excursions, basis.shape[1]))
            d *= radius * np.sqrt(stages) / np.linalg.norm(d, axis=1, keepdims=True)
            out = project_batch(x0 + d @ basis.T, stages, order, origin=x0)
            found.append(out.x[_usable(out.x, out.converged)])
    x = np.concatenate(found)
    return Explored(x, np.asarray(fitness(x), dtype=np.float64))


def diverse_elite(points: Explored, k: int, min_distance: float) -> np.ndarray:
    """Indices of up to ``k`` best points, each at least ``min_distance`` (Euclidean, in free
    parameters) from every one chosen before it.

    Returns
    -------
    numpy.ndarray of int, shape (<= k,)
    """
    chosen: list[int] = []
    for i in np.argsort(-points.score, kind="stable"):
        if not np.isfinite(points.score[i]):
            break
        if all(np.linalg.norm(points.x[i] - points.x[j]) >= min_distance for j in chosen):
            chosen.append(int(i))
            if len(chosen) == k:
                break
    return np.asarray(chosen, dtype=np.int64)


def refine(
    seed: int,
    x0: np.ndarray,
    stages: int,
    order: int,
    fitness,
    *,
    generations: int,
    population: int,
    sigma: float,
) -> Refined:
    """CMA-ES on the manifold in re-centred tangent charts, from ``x0``.

    Parameters
    ----------
    seed : int
        pycma's seed (its sampling is then deterministic).
    x0 : numpy.ndarray, shape (n_free,)
        Starting point on the manifold.
    stages, order : int
    fitness : callable
        ``fitness(x (n, n_free)) -> (n,)``, higher is better.
    generations : int
        CMA generations in all.
    population : int
        Candidates per generation (at least 4).
    sigma : float
        Initial step size in tangent coordinates (free-parameter units).

    Returns
    -------
    Refined
    """
    # pycma seeds numpy's global generator; the caller's global state is put back afterwards.
    saved = np.random.get_state()
    try:
        return _refine(seed, x0, stages, order, fitness, generations, population, sigma)
    finally:
        np.random.set_state(saved)


def _refine(seed, x0, stages, order, fitness, generations, population, sigma) -> Refined:
    best_x = np.asarray(x0, dtype=np.float64).copy()
    best_f = float(fitness(best_x[None])[0])
    curve: list[float] = []
    evaluations = 1
    step = float(sigma)
    done = 0
    chart = 0
    while done < generations:
        basis = tangent_basis(best_x, stages, order)
        k = basis.shape[1]
        if k == 0:
            break
        centre = best_x.copy()
        opts = {
            "seed": (int(seed) * 1000 + chart) % (2**32 - 2) + 1,
            "popsize": max(4, int(population)),
            "verbose": -9,
            "CMA_diagonal": False,
        }
        # pycma needs k >= 2 for its full covariance model; a 1-D chart is padded with a dead axis.
        pad = k < 2
        es = cma.CMAEvolutionStrategy(np.zeros(max(k, 2)), step, opts)
        for _ in range(min(CHART_GENERATIONS, generations - done)):
            z = np.asarray(es.ask())
            proj = project_batch(centre + z[:, :k] @ basis.T, stages, order, origin=centre, substeps=(1, 4))
            ok = _usable(proj.x, proj.converged)
            f = np.full(z.shape[0], -np.inf)
            if ok.any():
                f[ok] = fitness(proj.x[ok])
            evaluations += int(ok.sum())
            finite = np.isfinite(f)
            worst = float(f[finite].min()) if finite.any() else 0.0
            # pycma minimises; unprojectable candidates rank below every projected one.
            es.tell(list(z), list(np.where(finite, -f, -worst + 1e3)))
            i = int(np.argmax(f))
            if f[i] > best_f:
                best_x, best_f = proj.x[i].copy(), float(f[i])
            curve.append(best_f)
            done += 1
            if es.stop() and not pad:
                break
        step = float(np.clip(es.sigma, 1e-6, 1.0))
        chart += 1
        if es.sigma < 1e-6:
            break
    return Refined(best_x, best_f, curve, evaluations)
