"""Differentiable order conditions in torch, and the evolution-strategies fitness shaping.

Order conditions (Butcher)
--------------------------
For a rooted tree ``t`` the elementary weight of an explicit tableau ``(A, b)`` is
``Phi(t) = b . g(t)`` with stage vectors defined recursively: ``g(leaf) = 1`` and
``g([t1, ..., tm]) = prod_i (A @ g(t_i))`` (elementwise product).  A method has order ``p`` when
``Phi(t) = 1 / gamma(t)`` for every tree with at most ``p`` vertices (Butcher, *Numerical Methods
for Ordinary Differential Equations*, 3rd ed., 2016, sec. 31-32).  The trees, their children and
their densities come from :func:`rkcore.rooted_trees` -- rkcore is the one source of truth; this
module only evaluates the same recursion in torch so the order residuals can be differentiated
(a penalty on the generator's mean) and their Jacobian taken (the Newton polish, ``rkml.polish``).

Scoring
-------
:class:`ProblemSet` and :func:`score_points` put candidate free-parameter vectors through
:func:`rkcore.evaluate.score_batch` (the fixed-step kernel at each problem's calibrated step
count, :mod:`rkcore.calibration`, and the weighted score of :mod:`rkcore.metrics`, normalised
against RK4 on the same problems); :func:`split_rows` cuts a training minibatch out of a split.

Fitness shaping (Wierstra et al. 2014; Salimans et al. 2017)
-------------------------------------------------------------
:func:`centered_ranks` replaces raw objective values by their ranks scaled to ``[-0.5, 0.5]``,
which makes the update invariant to monotone transformations of the objective and insensitive
to outliers (a candidate that blows up on a stiff problem).  :func:`es_gradient` is the
antithetic (mirrored) search-gradient estimate of ``E[F(mu + sigma * eps)]`` with respect to
``mu``; with a Gaussian policy this is REINFORCE (Williams 1992) with a rank baseline.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

import rkcore
from rkcore.calibration import ScoringPlan
from rkcore.datasets import Dataset, Split
from rkcore.evaluate import BatchScores, PreparedSplit, baseline_metrics, evaluate, prepare_split, score_batch
from rkcore.metrics import MetricArrays, PairedGain, Weights
from rkcore.trees import rooted_trees

from .generator import unflatten


class TreeProgram(NamedTuple):
    """The rooted trees through ``max_order`` as a flat evaluation program.

    Attributes
    ----------
    max_order : int
    children : tuple of tuple of int
        ``children[k]`` lists the indices (into the same program) of the children of tree ``k``,
        with repetition; children always precede their parent.
    inv_gamma : numpy.ndarray, shape (n_trees,)
        ``1 / gamma(t)`` per tree.
    orders : numpy.ndarray of int, shape (n_trees,)
        Number of vertices of each tree.
    """

    max_order: int
    children: tuple[tuple[int, ...], ...]
    inv_gamma: np.ndarray
    orders: np.ndarray

    @property
    def n_trees(self) -> int:
        return len(self.children)


def tree_program(max_order: int) -> TreeProgram:
    """Build the evaluation program of every rooted tree with at most ``max_order`` vertices.

    The trees are :func:`rkcore.trees.rooted_trees` in its order, so residual ``k`` here is residual
    ``k`` of :func:`rkcore.order.order_conditions`.
    """
    if max_order < 1:
        raise ValueError(f"max_order={max_order} must be at least 1")
    trees = rooted_trees(max_order)
    position = {tree: k for k, tree in enumerate(trees)}
    children = tuple(tuple(position[ch] for ch in tree.children) for tree in trees)
    for k, ch in enumerate(children):
        if any(j >= k for j in ch):
            raise ValueError("rkcore.rooted_trees must list every tree after its children")
    inv_gamma = np.array([1.0 / tree.gamma for tree in trees])
    orders = np.array([tree.order for tree in trees], dtype=np.int64)
    return TreeProgram(int(max_order), children, inv_gamma, orders)


def order_residuals_torch(A: torch.Tensor, b: torch.Tensor, program: TreeProgram) -> torch.Tensor:
    """Order-condition residuals ``Phi(t) - 1/gamma(t)`` for a batch of tableaux, differentiably.

    Parameters
    ----------
    A : torch.Tensor, shape (n, s, s)
    b : torch.Tensor, shape (n, s)
    program : TreeProgram

    Returns
    -------
    torch.Tensor, shape (n, program.n_trees), dtype of ``A``
    """
    n, s = b.shape
    g: list[torch.Tensor] = []
    Ag: dict[int, torch.Tensor] = {}
    ones = b.new_ones((n, s))
    for children in program.children:
        vec = ones
        for j in children:
            if j not in Ag:
                Ag[j] = torch.einsum("nij,nj->ni", A, g[j])
            vec = vec * Ag[j]
        g.append(vec)
    phi = torch.stack([(b * gk).sum(dim=1) for gk in g], dim=1)
    return phi - torch.as_tensor(program.inv_gamma, dtype=phi.dtype, device=phi.device)


def order_penalty(A: torch.Tensor, b: torch.Tensor, program: TreeProgram) -> torch.Tensor:
    """Mean over the batch of the sum of squared order residuals, a scalar ``>= 0``."""
    r = order_residuals_torch(A, b, program)
    return (r * r).sum(dim=1).mean()


def centered_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks of ``values`` mapped linearly onto ``[-0.5, 0.5]`` (higher value -> higher rank).

    Ties are broken by position (stable sort), so the result is deterministic; non-finite values
    rank lowest.

    Parameters
    ----------
    values : array_like, shape (n,)

    Returns
    -------
    numpy.ndarray, shape (n,)
    """
    v = np.asarray(values, dtype=np.float64)
    v = np.where(np.isfinite(v), v, -np.inf)
    n = v.size
    if n == 1:
        return np.zeros(1)
    ranks = np.empty(n)
    ranks[np.argsort(v, kind="stable")] = np.arange(n)
    return ranks / (n - 1) - 0.5


def es_gradient(eps: np.ndarray, fitness: np.ndarray, sigma: float) -> np.ndarray:
    """Antithetic search-gradient estimate of ``d E[F(mu + sigma eps)] / d mu``.

    Parameters
    ----------
    eps : numpy.ndarray, shape (h, d)
        Half of the perturbations; candidates are ``mu + sigma eps`` then ``mu - sigma eps``.
    fitness : numpy.ndarray, shape (2h,)
        Shaped fitness (e.g. :func:`centered_ranks`) of the ``2h`` candidates in that order.
    sigma : float

    Returns
    -------
    numpy.ndarray, shape (d,)
        ``sum_k (f+_k - f-_k) eps_k / (2 h sigma)`` -- ascent direction.
    """
    h = eps.shape[0]
    diff = fitness[:h] - fitness[h:]
    return (diff @ eps) / (2.0 * h * sigma)


# --------------------------------------------------------------------------- scoring


class ProblemSet(NamedTuple):
    """Problems laid out for scoring, with RK4's metrics on them (the normalising baseline).

    Attributes
    ----------
    prepared : rkcore.evaluate.PreparedSplit
        Prepared with the run's scoring plan (per-problem step counts and stiff spectra).
    baseline : rkcore.metrics.MetricArrays
        RK4 on the same problems.
    """

    prepared: PreparedSplit
    baseline: MetricArrays


def problem_set(split: Split, plan: ScoringPlan) -> ProblemSet:
    """Prepare ``split`` with the dataset's scoring ``plan`` and score RK4 on it once."""
    prepared = prepare_split(split, plan)
    return ProblemSet(prepared, baseline_metrics(prepared))


def split_rows(split: Split, rows: np.ndarray) -> Split:
    """The sub-split of the problems at positions ``rows`` (0-based, in the split's group order).

    Parameters
    ----------
    split : rkcore.datasets.Split
    rows : numpy.ndarray of int, shape (k,)
        Sorted, distinct positions in ``0 .. split.n_problems - 1``.
    """
    groups = []
    start = 0
    for g in split.groups:
        mine = rows[(rows >= start) & (rows < start + g.n)] - start
        if mine.size:
            groups.append(g.take(mine))
        start += g.n
    return Split(tuple(groups))


def score_points(x: np.ndarray, stages: int, problems: ProblemSet, weights: Weights) -> BatchScores:
    """Weighted objective (higher is better, RK4 = 0) of explicit tableaux given by free parameters.

    Parameters
    ----------
    x : numpy.ndarray, shape (T, n_free_params(stages))
        Finite free-parameter vectors (e.g. projected candidates).
    stages : int
    problems : ProblemSet
    weights : rkcore.metrics.Weights

    Returns
    -------
    rkcore.evaluate.BatchScores
        ``score`` (T,) and the overall ``metrics``.
    """
    A, b = unflatten(np.atleast_2d(x), stages)
    return score_batch(A, b, problems.prepared, weights, problems.baseline)


TEST_Z = 2.0
"""Paired standard errors by which a tableau must lead on the test split to *beat* another."""


def _card(card) -> dict:
    out = card.to_dict()
    out.pop("families", None)
    out.pop("weights", None)
    return out


def scorecards(
    learned: rkcore.Tableau,
    initialisation: rkcore.Tableau,
    rivals: dict[str, rkcore.Tableau],
    dataset: Dataset,
    plan: ScoringPlan,
    weights: Weights,
) -> dict:
    """Score a learned tableau, its initialisation and its rivals on the train, validation and test splits.

    Returns
    -------
    dict
        ``{"train"|"validation"|"test": {"learned", "initialisation", "library": {name: card},
        "rk4", "gain_over": {"initialisation": gain, "library": {name: gain}}}, "beats_initialisation":
        bool, "beats_library": bool}`` where a card is :meth:`rkcore.metrics.ScoreCard.to_dict`
        without the per-family breakdown, a gain is the learned tableau's score minus the other's
        with the standard error of the paired per-problem differences
        (:meth:`rkcore.metrics.PairedGain.to_dict`), and the two flags say whether the learned
        tableau *beats* the other on the *test* split: ahead by more than :data:`TEST_Z` paired
        standard errors.
    """
    tableaux = [learned, initialisation, *rivals.values()]
    out: dict = {}
    for split_name in ("train", "validation", "test"):
        ev = evaluate(tableaux, getattr(dataset, split_name), plan, weights)
        out[split_name] = {
            "learned": _card(ev.cards[0]),
            "initialisation": _card(ev.cards[1]),
            "library": {n: _card(c) for n, c in zip(rivals, ev.cards[2:], strict=True)},
            "rk4": _card(ev.baseline),
            "gain_over": {
                "initialisation": ev.paired_gain(0, 1).to_dict(),
                "library": {n: ev.paired_gain(0, 2 + i).to_dict() for i, n in enumerate(rivals)},
            },
        }
    test = out["test"]["gain_over"]
    out["beats_initialisation"] = PairedGain(**test["initialisation"]).exceeds(TEST_Z)
    out["beats_library"] = all(PairedGain(**g).exceeds(TEST_Z) for g in test["library"].values())
    return out
