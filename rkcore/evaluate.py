"""Score many tableaux on a dataset split in one call: the evaluator's fast built-in path.

:func:`score_tableaux` integrates ``T`` candidate tableaux on every problem of a split
with fixed steps and returns, per (tableau, problem), the relative error at ``t1``, the
status and the function evaluations.  For each family group of the split it makes one
call of the parallel kernel over (tableaux x blocks of problems), using the family's
``rhs_block`` on state-major blocks so the arithmetic vectorises across ODEs.  This is
what ``rkml`` calls every training step; prepare the split once with
:func:`prepare_split` and pass the result to avoid re-laying-out the problems each call.

:func:`evaluate` is the report-level entry point (library or user tableaux of any stage
count, a dataset or split, the metrics of :mod:`rkcore.metrics` per family and overall).

Error norm (same convention as :mod:`rkcore.reference`)::

    error = |y - y_ref|_inf / max(|y_ref|_inf, REL_SCALE_FLOOR * |y0|_inf)

``inf`` for an unstable trajectory.  The floor keeps the error relative to the size of
the problem when the solution has decayed to (almost) zero.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from .datasets import Dataset, Split
from .errors import RKInputError
from .integrate import (
    UNSTABLE,
    block_layout,
    blowup_bound,
    fixed_step_nfev,
    kernel_coefficients,
    run_kernel,
    to_blocks,
)
from .metrics import (
    MetricArrays,
    Metrics,
    PairedGain,
    ScoreCard,
    Weights,
    equal_work_steps,
    gains,
    metric_arrays,
    metrics_for,
    paired_gain,
    problem_losses,
    weighted_score,
)
from .problems.base import Family
from .tableau import Tableau

REL_SCALE_FLOOR = 1e-6
"""Error denominators never fall below this fraction of ``|y0|_inf``."""

_NOMINAL_STAGES = 8  # block sizes of a prepared split are chosen for methods of up to ~8 stages


@dataclasses.dataclass(frozen=True, eq=False)
class PreparedGroup:
    """One family's problems laid out in kernel blocks (see :func:`prepare_split`).

    Attributes
    ----------
    family : Family
    n : int
    start : int
        Offset of this group's problems along the split's problem axis.
    t0, t1 : float
    y0_blocks : ndarray, shape (n_blocks, d, m)
    params_blocks : ndarray, shape (n_blocks, k, m)
    bound_blocks : ndarray, shape (n_blocks, m)
    y_ref : ndarray, shape (n, d)
    scale : ndarray, shape (n,)
        Error denominators ``max(|y_ref|_inf, REL_SCALE_FLOOR * |y0|_inf)``.
    """

    family: Family
    n: int
    start: int
    t0: float
    t1: float
    y0_blocks: np.ndarray
    params_blocks: np.ndarray
    bound_blocks: np.ndarray
    y_ref: np.ndarray
    scale: np.ndarray


@dataclasses.dataclass(frozen=True, eq=False)
class PreparedSplit:
    """A split laid out for :func:`score_tableaux`; problem ``j`` of every per-problem array is the same.

    Attributes
    ----------
    groups : tuple of PreparedGroup
        In the split's order; group ``g`` covers problems ``start .. start + n``.
    families : tuple of str
        Family names, one per group.
    family_code : ndarray of int64, shape (n_problems,)
        Group number of each problem.
    stiff : ndarray of bool, shape (n_problems,)
    ref_error : ndarray, shape (n_problems,)
        Relative error estimate of each reference.
    index : ndarray of int64, shape (n_problems,)
        Position of each problem in its dataset.
    """

    groups: tuple[PreparedGroup, ...]
    families: tuple[str, ...]
    family_code: np.ndarray
    stiff: np.ndarray
    ref_error: np.ndarray
    index: np.ndarray

    @property
    def n_problems(self) -> int:
        return int(self.family_code.shape[0])


def prepare_split(split: Split | PreparedSplit) -> PreparedSplit:
    """Lay out every group of ``split`` in state-major kernel blocks, once.

    Parameters
    ----------
    split : Split or PreparedSplit
        A prepared split is returned unchanged.

    Returns
    -------
    PreparedSplit
    """
    if isinstance(split, PreparedSplit):
        return split
    if isinstance(split, Dataset):
        raise RKInputError("pass one split of the dataset (dataset.train, .validation, .test or .all)")
    if not isinstance(split, Split):
        raise RKInputError(f"split must be an rkcore Split, got {type(split).__name__}")
    if split.n_problems == 0:
        raise RKInputError("the split has no problems; build the dataset with more problems")
    groups = []
    start = 0
    for g in split.groups:
        if g.n == 0:
            continue
        n_blocks, m = block_layout(g.n, g.family.dim, _NOMINAL_STAGES)
        y0 = np.asarray(g.y0, dtype=np.float64)
        y_ref = np.asarray(g.y_ref, dtype=np.float64)
        scale = np.maximum(np.max(np.abs(y_ref), axis=1), REL_SCALE_FLOOR * np.max(np.abs(y0), axis=1))
        groups.append(
            PreparedGroup(
                family=g.family,
                n=g.n,
                start=start,
                t0=float(g.t0),
                t1=float(g.t1),
                y0_blocks=to_blocks(y0, n_blocks, m),
                params_blocks=to_blocks(np.asarray(g.params, dtype=np.float64), n_blocks, m),
                bound_blocks=np.ascontiguousarray(to_blocks(blowup_bound(y0)[:, None], n_blocks, m)[:, 0]),
                y_ref=y_ref,
                scale=np.maximum(scale, np.finfo(np.float64).tiny),
            )
        )
        start += g.n
    code = np.concatenate([np.full(g.n, i, dtype=np.int64) for i, g in enumerate(groups)])
    present = [g for g in split.groups if g.n > 0]
    return PreparedSplit(
        groups=tuple(groups),
        families=tuple(g.family.name for g in groups),
        family_code=code,
        stiff=np.concatenate([np.full(g.n, bool(g.family.stiff)) for g in groups]),
        ref_error=np.concatenate([np.asarray(g.ref_error, dtype=np.float64) for g in present]),
        index=np.concatenate([np.asarray(g.index, dtype=np.int64) for g in present]),
    )


@dataclasses.dataclass(frozen=True, eq=False)
class TableauScores:
    """Per (tableau, problem) results of :func:`score_tableaux`.

    Attributes
    ----------
    error : ndarray, shape (T, n_problems)
        Relative error at ``t1`` (module docstring); ``inf`` when unstable.
    status : ndarray of int8, shape (T, n_problems)
        :data:`rkcore.integrate.OK` or :data:`~rkcore.integrate.UNSTABLE`.
    nfev : ndarray of int64, shape (T, n_problems)
        Right-hand-side evaluations spent.
    n_steps : ndarray of int64, shape (T,)
    split : PreparedSplit
        Problem order, family codes and stiffness flags of the columns.
    """

    error: np.ndarray
    status: np.ndarray
    nfev: np.ndarray
    n_steps: np.ndarray
    split: PreparedSplit


def _check_batch(A, b) -> tuple[np.ndarray, np.ndarray]:
    A = np.asarray(A)
    b = np.asarray(b)
    if A.dtype.kind not in "biuf" or b.dtype.kind not in "biuf":
        raise RKInputError(f"A and b must hold real numbers, got dtypes {A.dtype} and {b.dtype}")
    if A.ndim != 3 or A.shape[1] != A.shape[2] or A.shape[0] == 0 or A.shape[1] == 0:
        raise RKInputError(f"A must have shape (n_tableaux, s, s) with n_tableaux, s >= 1, got {A.shape}")
    if b.shape != A.shape[:2]:
        raise RKInputError(f"b must have shape {A.shape[:2]} (n_tableaux, s) to match A, got {b.shape}")
    A = np.array(A, dtype=np.float64, order="C")
    b = np.array(b, dtype=np.float64, order="C")
    for name, arr in (("A", A), ("b", b)):
        if not np.all(np.isfinite(arr)):
            idx = [int(i) for i in np.argwhere(~np.isfinite(arr))[0]]
            raise RKInputError(f"{name}{idx} is not finite; tableau coefficients must be finite")
    upper = np.argwhere(np.triu(A) != 0.0)
    if upper.size:
        q, i, j = (int(v) for v in upper[0])
        raise RKInputError(
            f"A[{q}] is implicit (A[{q}][{i}][{j}] = {A[q, i, j]!r} on or above the diagonal); "
            "the explicit kernel needs strictly lower-triangular A"
        )
    return A, b


def _check_steps(n_steps, T: int) -> np.ndarray:
    if isinstance(n_steps, numbers.Integral) and not isinstance(n_steps, bool):
        steps = np.full(T, int(n_steps), dtype=np.int64)
    else:
        arr = np.asarray(n_steps)
        if arr.shape != (T,) or arr.dtype.kind not in "iu":
            raise RKInputError(f"n_steps must be a positive integer or {T} integers (one per tableau)")
        steps = arr.astype(np.int64)
    if np.any(steps < 1):
        raise RKInputError(f"n_steps must be positive, got {int(steps.min())}")
    return np.ascontiguousarray(steps)


def score_tableaux(A, b, split: Split | PreparedSplit, n_steps) -> TableauScores:
    """Integrate ``T`` explicit tableaux of ``s`` stages on every problem of ``split``.

    Parameters
    ----------
    A : array_like, shape (T, s, s)
        Strictly lower-triangular stage matrices (``c`` is their row sums).
    b : array_like, shape (T, s)
    split : Split or PreparedSplit
        Prepare it once with :func:`prepare_split` when scoring repeatedly.
    n_steps : int or array_like of int, shape (T,)
        Fixed steps over ``[t0, t1]``, shared or one per tableau.

    Returns
    -------
    TableauScores
        ``error``, ``status``, ``nfev`` of shape (T, n_problems), in the prepared split's
        problem order.
    """
    from ._kernels import rk_fixed

    A, b = _check_batch(A, b)
    prepared = prepare_split(split)
    T, s = b.shape
    steps = _check_steps(n_steps, T)
    A, b, c, fsal = kernel_coefficients(A, b)
    n = prepared.n_problems
    error = np.empty((T, n))
    status = np.empty((T, n), dtype=np.int8)
    nfev = np.empty((T, n), dtype=np.int64)
    for g in prepared.groups:
        n_blocks, d, m = g.y0_blocks.shape
        Y_out = np.empty((T, n_blocks, d, m))
        steps_out = np.empty((T, n_blocks, m), dtype=np.int64)
        status_out = np.empty((T, n_blocks, m), dtype=np.int8)
        run_kernel(rk_fixed, g.family.rhs_block, A, b, c, fsal, steps, g.y0_blocks, g.params_blocks,
                   g.bound_blocks, g.t0, g.t1, Y_out, steps_out, status_out)  # fmt: skip
        cols = slice(g.start, g.start + g.n)
        y = np.swapaxes(Y_out, 2, 3).reshape(T, n_blocks * m, d)[:, : g.n]
        with np.errstate(invalid="ignore"):
            err = np.max(np.abs(y - g.y_ref), axis=2) / g.scale
        st = status_out.reshape(T, n_blocks * m)[:, : g.n]
        error[:, cols] = np.where(st == UNSTABLE, np.inf, err)
        status[:, cols] = st
        taken = steps_out.reshape(T, n_blocks * m)[:, : g.n]
        for q in range(T):
            nfev[q, cols] = fixed_step_nfev(taken[q], s, bool(fsal[q]))
    return TableauScores(error=error, status=status, nfev=nfev, n_steps=steps, split=prepared)


def tableau_batches(tableaux: Sequence[Tableau]) -> list[tuple[list[int], np.ndarray, np.ndarray]]:
    """Group tableaux by stage count: ``[(positions, A (T_s, s, s), b (T_s, s)), ...]``."""
    by_s: dict[int, list[int]] = {}
    for i, t in enumerate(tableaux):
        if not isinstance(t, Tableau):
            raise RKInputError(f"tableaux[{i}] must be an rkcore.Tableau, got {type(t).__name__}")
        t.require_explicit()
        by_s.setdefault(t.stages, []).append(i)
    return [
        (pos, np.stack([tableaux[i].A for i in pos]), np.stack([tableaux[i].b for i in pos]))
        for pos in by_s.values()
    ]


# ----------------------------------------------------------------------------- metrics drivers


class BatchScores(NamedTuple):
    """Result of :func:`score_batch`.

    Attributes
    ----------
    score : ndarray, shape (T,)
        Weighted score, higher is better (:mod:`rkcore.metrics`).
    metrics : MetricArrays
        Overall accuracy, efficiency, stability and unstable counts, each (T,).
    at_steps, at_equal_work : TableauScores
        The two scoring runs (the same object when the equal-work steps equal ``n_steps``).
    """

    score: np.ndarray
    metrics: MetricArrays
    at_steps: TableauScores
    at_equal_work: TableauScores


def _run_pair(A, b, prepared: PreparedSplit, n_steps: int) -> tuple[TableauScores, TableauScores]:
    """Scores at ``n_steps`` and at equal work (the same object when the step counts agree)."""
    A, b = _check_batch(A, b)
    at_steps = score_tableaux(A, b, prepared, n_steps)
    n_eq = equal_work_steps(b.shape[1] - kernel_coefficients(A, b)[3], n_steps)
    if np.all(n_eq == n_steps):
        return at_steps, at_steps
    return at_steps, score_tableaux(A, b, prepared, n_eq)


def baseline_metrics(
    split: Split | PreparedSplit, n_steps: int, baseline: Tableau | None = None
) -> MetricArrays:
    """Metrics of the baseline (RK4 unless given) on ``split`` at ``n_steps``: one-tableau arrays."""
    base = _baseline_tableau(baseline)
    prepared = prepare_split(split)
    at_steps, at_eq = _run_pair(base.A[None], base.b[None], prepared, _positive(n_steps))
    return metric_arrays(at_steps, at_eq)


def score_batch(A, b, split: Split | PreparedSplit, n_steps: int, weights: Weights,
                baseline: MetricArrays) -> BatchScores:  # fmt: skip
    """Weighted scores of ``T`` tableaux of one stage count (what ``rkml`` optimises).

    Parameters
    ----------
    A : array_like, shape (T, s, s); b : array_like, shape (T, s)
    split : Split or PreparedSplit
    n_steps : int
    weights : Weights
    baseline : MetricArrays
        From :func:`baseline_metrics` on the same split and ``n_steps`` (compute it once).

    Returns
    -------
    BatchScores
    """
    if not isinstance(baseline, MetricArrays) or baseline.accuracy.shape != (1,):
        raise RKInputError(
            "baseline must be the MetricArrays of one tableau, from rkcore.evaluate.baseline_metrics"
        )
    prepared = prepare_split(split)
    at_steps, at_eq = _run_pair(A, b, prepared, _positive(n_steps))
    metrics = metric_arrays(at_steps, at_eq)
    return BatchScores(weighted_score(metrics, baseline, weights), metrics, at_steps, at_eq)


def _positive(n_steps) -> int:
    if isinstance(n_steps, bool) or not isinstance(n_steps, numbers.Integral) or n_steps < 1:
        raise RKInputError(f"n_steps must be a positive integer, got {n_steps!r}")
    return int(n_steps)


def _baseline_tableau(baseline: Tableau | None) -> Tableau:
    if baseline is None:
        from .library import method

        return method("rk4")
    if not isinstance(baseline, Tableau):
        raise RKInputError(f"baseline must be an rkcore.Tableau, got {type(baseline).__name__}")
    return baseline


@dataclasses.dataclass(frozen=True, eq=False)
class Evaluation:
    """Score cards of several tableaux on one split (see :func:`evaluate`).

    Attributes
    ----------
    cards : tuple of ScoreCard
        One per tableau, in the order given.
    baseline : ScoreCard
        RK4 (or the given baseline) on the same problems; its gains and score are 0.
    n_steps : int
    weights : Weights
    n_problems : int
    families : tuple of str
    losses : ndarray, shape (len(cards) + 1, n_problems)
        Per-problem terms of the weighted score (:func:`rkcore.metrics.problem_losses`), one row
        per card and the baseline's last; :meth:`paired_gain` compares two cards with them.
    """

    cards: tuple[ScoreCard, ...]
    baseline: ScoreCard
    n_steps: int
    weights: Weights
    n_problems: int
    families: tuple[str, ...]
    losses: np.ndarray

    def paired_gain(self, i: int, j: int) -> PairedGain:
        """Score of card ``i`` minus card ``j`` with the standard error of the paired per-problem
        differences (:func:`rkcore.metrics.paired_gain`); ``-1`` is the baseline."""
        return paired_gain(self.losses[i], self.losses[j])

    def to_dict(self) -> dict:
        return {
            "n_steps": self.n_steps,
            "n_problems": self.n_problems,
            "families": list(self.families),
            "weights": dataclasses.asdict(self.weights),
            "baseline": self.baseline.to_dict(),
            "tableaux": [c.to_dict() for c in self.cards],
        }


def evaluate(
    tableaux: Sequence[Tableau],
    data: Dataset | Split | PreparedSplit,
    n_steps: int,
    weights: Weights | None = None,
    baseline: Tableau | None = None,
) -> Evaluation:
    """Accuracy, efficiency, stability and weighted score of each tableau, per family and overall.

    Parameters
    ----------
    tableaux : sequence of Tableau
        Explicit methods, any stage counts.
    data : Dataset, Split or PreparedSplit
        A dataset is evaluated on all its problems (``dataset.all``).
    n_steps : int
        Fixed steps over each problem's interval.
    weights : Weights, optional
        Default ``Weights()``.
    baseline : Tableau, optional
        Normalising method, RK4 by default.

    Returns
    -------
    Evaluation
    """
    from .stability_batch import real_stability_interval_batch

    weights = Weights() if weights is None else weights
    if not isinstance(weights, Weights):
        raise RKInputError(f"weights must be an rkcore.metrics.Weights, got {type(weights).__name__}")
    tableaux = list(tableaux)
    if not tableaux:
        raise RKInputError("give at least one tableau to evaluate")
    n_steps = _positive(n_steps)
    prepared = prepare_split(data.all if isinstance(data, Dataset) else data)
    everything = [*tableaux, _baseline_tableau(baseline)]
    spans = [slice(g.start, g.start + g.n) for g in prepared.groups]
    results: list[tuple[Metrics, dict[str, Metrics], int, float]] = [None] * len(everything)  # type: ignore
    losses = np.empty((len(everything), prepared.n_problems))
    for positions, A, b in tableau_batches(everything):
        at_steps, at_eq = _run_pair(A, b, prepared, n_steps)
        beta = real_stability_interval_batch(A, b)
        losses[positions] = problem_losses(at_steps, at_eq, weights)
        for q, pos in enumerate(positions):
            overall = metrics_for(q, at_steps, at_eq, slice(None))
            per_family = {
                name: metrics_for(q, at_steps, at_eq, span)
                for name, span in zip(prepared.families, spans, strict=True)
            }
            results[pos] = (overall, per_family, int(at_eq.n_steps[q]), float(beta[q]))
    arrays = MetricArrays(
        accuracy=np.array([r[0].accuracy for r in results]),
        efficiency=np.array([r[0].efficiency for r in results]),
        stability=np.array([r[0].stability for r in results]),
        n_unstable=np.array([r[0].n_unstable for r in results]),
    )
    base_arrays = MetricArrays(*(a[-1:] for a in arrays))
    acc, eff, stab = gains(arrays, base_arrays)
    score = weighted_score(arrays, base_arrays, weights)
    cards = []
    for i, t in enumerate(everything):
        overall, per_family, n_eq, beta = results[i]
        cards.append(
            ScoreCard(
                name=t.name or f"tableau{i}",
                stages=t.stages,
                n_steps=n_steps,
                n_steps_equal_work=n_eq,
                overall=overall,
                families=per_family,
                stability_interval=beta,
                stability_interval_per_stage=beta / t.stages,
                accuracy_gain=float(acc[i]),
                efficiency_gain=float(eff[i]),
                stability_gain=float(stab[i]),
                score=float(score[i]),
                weights=weights,
            )
        )
    return Evaluation(
        cards=tuple(cards[:-1]),
        baseline=cards[-1],
        n_steps=n_steps,
        weights=weights,
        n_problems=prepared.n_problems,
        families=prepared.families,
        losses=losses,
    )


SPLIT_NAMES = ("all", "train", "validation", "test")


def load_split(spec, split: str = "all", cache_dir=None, progress: bool = True) -> Split:
    """Build (or load from the cache) the dataset of ``spec`` and return one of its splits.

    Parameters
    ----------
    spec : DatasetSpec
    split : {"all", "train", "validation", "test"}
    cache_dir : path, optional
        See :func:`rkcore.datasets.resolve_cache_dir`.
    progress : bool
        Progress bar while references are computed.
    """
    from .datasets import make_dataset

    if split not in SPLIT_NAMES:
        raise RKInputError(f"split must be one of {', '.join(SPLIT_NAMES)}, got {split!r}")
    dataset = make_dataset(spec, cache_dir=cache_dir, progress=progress)
    return getattr(dataset, split)
