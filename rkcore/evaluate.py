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
import math
import numbers
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from .calibration import PlanRows, ScoringPlan, plan_rows
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
    BASELINE_EVALS_PER_STEP,
    MetricArrays,
    Metrics,
    Observed,
    PairedGain,
    ScoreCard,
    Weights,
    equal_work_bracket,
    error_floor,
    gains,
    interpolate_log_errors,
    log_errors,
    metric_arrays,
    metrics_for,
    paired_gain,
    problem_losses,
    weighted_score,
)
from .problem_sets import ProblemSet
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
    slots : ndarray of int64, shape (n,)
        Where each problem sits among the ``n_blocks * m`` block columns (block ``slot // m``).
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
    slots: np.ndarray


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
    plan : PlanRows or None
        The scoring plan's step counts and stiff spectra of these problems
        (:mod:`rkcore.calibration`); needed by :func:`score_batch` and :func:`evaluate`.
    """

    groups: tuple[PreparedGroup, ...]
    families: tuple[str, ...]
    family_code: np.ndarray
    stiff: np.ndarray
    ref_error: np.ndarray
    index: np.ndarray
    plan: PlanRows | None = None

    @property
    def n_problems(self) -> int:
        return int(self.family_code.shape[0])


def prepare_split(split: Split | PreparedSplit, plan: ScoringPlan | None = None) -> PreparedSplit:
    """Lay out every group of ``split`` in state-major kernel blocks, once.

    Parameters
    ----------
    split : Split or PreparedSplit
        A prepared split is returned unchanged (or, with a ``plan``, re-prepared with it when it
        has none).
    plan : ScoringPlan, optional
        With a plan, problems of one family with the same calibrated step count share blocks
        (so each block runs its own step count) and the plan's rows travel with the split.

    Returns
    -------
    PreparedSplit
    """
    if isinstance(split, PreparedSplit):
        if plan is None or split.plan is not None:
            return split
        raise RKInputError("this split was prepared without a scoring plan; prepare the Split with the plan")
    if isinstance(split, Dataset):
        raise RKInputError("pass one split of the dataset (dataset.train, .validation, .test or .all)")
    if not isinstance(split, Split):
        raise RKInputError(f"split must be an rkcore Split, got {type(split).__name__}")
    if split.n_problems == 0:
        raise RKInputError("the split has no problems; build the dataset with more problems")
    present = [g for g in split.groups if g.n > 0]
    index = np.concatenate([np.asarray(g.index, dtype=np.int64) for g in present])
    rows = None
    if plan is not None:
        rows = plan_rows(plan, index, np.concatenate([np.asarray(g.rho, dtype=np.float64) for g in present]))
    groups = []
    start = 0
    for g in present:
        classes = None if rows is None else rows.steps[start : start + g.n]
        groups.append(_prepare_group(g, start, classes))
        start += g.n
    return PreparedSplit(
        groups=tuple(groups),
        families=tuple(g.family.name for g in groups),
        family_code=np.concatenate([np.full(g.n, i, dtype=np.int64) for i, g in enumerate(groups)]),
        stiff=np.concatenate([np.full(g.n, bool(g.family.stiff)) for g in groups]),
        ref_error=np.concatenate([np.asarray(g.ref_error, dtype=np.float64) for g in present]),
        index=index,
        plan=rows,
    )


def _prepare_group(g, start: int, classes: np.ndarray | None) -> PreparedGroup:
    """Blocks of one family; with ``classes`` (a step count per problem) no block mixes two counts."""
    y0 = np.asarray(g.y0, dtype=np.float64)
    y_ref = np.asarray(g.y_ref, dtype=np.float64)
    params = np.asarray(g.params, dtype=np.float64)
    scale = np.maximum(np.max(np.abs(y_ref), axis=1), REL_SCALE_FLOOR * np.max(np.abs(y0), axis=1))
    bound = blowup_bound(y0)[:, None]
    n_blocks, m = block_layout(g.n, g.family.dim, _NOMINAL_STAGES)
    if classes is None or np.all(classes == classes[0]):
        order = np.arange(g.n)
        slots = np.arange(g.n)
        blocks = [(order, n_blocks, m)]
    else:
        members = [np.flatnonzero(classes == v) for v in np.unique(classes)]
        m = _class_block_width(m, [len(r) for r in members])
        blocks = [(r, -(-len(r) // m), m) for r in members]
        n_blocks = sum(nb for _, nb, _ in blocks)
        slots = np.empty(g.n, dtype=np.int64)
        first = 0
        for r, nb, _ in blocks:
            slots[r] = first + np.arange(len(r))
            first += nb * m

    def lay(x: np.ndarray) -> np.ndarray:
        return np.concatenate([to_blocks(x[r], nb, m) for r, nb, _ in blocks])

    return PreparedGroup(
        family=g.family,
        n=g.n,
        start=start,
        t0=float(g.t0),
        t1=float(g.t1),
        y0_blocks=np.ascontiguousarray(lay(y0)),
        params_blocks=np.ascontiguousarray(lay(params)),
        bound_blocks=np.ascontiguousarray(lay(bound)[:, 0]),
        y_ref=y_ref,
        scale=np.maximum(scale, np.finfo(np.float64).tiny),
        slots=slots,
    )


def _class_block_width(cap: int, sizes: list[int]) -> int:
    """Block width for step classes of the given sizes: least padded work, ``m + 8`` per block
    standing for the loop overhead that makes narrow blocks slow (see ``block_layout``)."""
    best, best_cost = 8, math.inf
    for m in range(8, max(cap, 8) + 1, 8):
        cost = sum(-(-n // m) * (m + 8) for n in sizes)
        if cost < best_cost:
            best, best_cost = m, cost
    return best


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
    n_steps : ndarray of int64, shape (T, n_problems)
        Steps asked for on each problem.
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


def _check_steps(n_steps, T: int, n: int) -> np.ndarray:
    """Step counts as a (T, n) int64 array: one per tableau and problem."""
    if isinstance(n_steps, numbers.Integral) and not isinstance(n_steps, bool):
        steps = np.full((T, n), int(n_steps), dtype=np.int64)
    else:
        arr = np.asarray(n_steps)
        if arr.dtype.kind not in "iu" or arr.shape not in ((T,), (T, n)):
            raise RKInputError(
                f"n_steps must be a positive integer, {T} integers (one per tableau) or a ({T}, {n}) "
                "integer array (one per tableau and problem)"
            )
        steps = np.array(np.broadcast_to(arr.reshape(T, -1), (T, n)), dtype=np.int64)
    if steps.size and np.any(steps < 1):
        raise RKInputError(f"n_steps must be positive, got {int(steps.min())}")
    return steps


def _block_steps(steps: np.ndarray, g: PreparedGroup) -> np.ndarray:
    """(T, n_blocks) step counts of one group from per-problem counts; a block must not mix two."""
    n_blocks, _, m = g.y0_blocks.shape
    cols = steps[:, g.start : g.start + g.n]
    out = np.ones((steps.shape[0], n_blocks), dtype=np.int64)
    blk = g.slots // m
    out[:, blk] = cols
    if not np.array_equal(out[:, blk], cols):
        raise RKInputError(
            "per-problem step counts must be equal within a block; prepare the split with the "
            "ScoringPlan that the step counts come from"
        )
    return out


def score_tableaux(A, b, split: Split | PreparedSplit, n_steps, *, skip_stiff: bool = False) -> TableauScores:
    """Integrate ``T`` explicit tableaux of ``s`` stages on every problem of ``split``.

    Parameters
    ----------
    A : array_like, shape (T, s, s)
        Strictly lower-triangular stage matrices (``c`` is their row sums).
    b : array_like, shape (T, s)
    split : Split or PreparedSplit
        Prepare it once with :func:`prepare_split` when scoring repeatedly.
    n_steps : int, array_like of int of shape (T,), or of shape (T, n_problems)
        Fixed steps over ``[t0, t1]``: shared, one per tableau, or one per tableau and
        problem (then equal within each block: derive them from the split's scoring plan).
    skip_stiff : bool
        Leave the stiff families' problems out (error NaN, status 0, nfev 0): the calibrated
        objective scores them by their spectrum, and a kernel launch costs milliseconds.

    Returns
    -------
    TableauScores
        ``error``, ``status``, ``nfev``, ``n_steps`` of shape (T, n_problems), in the
        prepared split's problem order.
    """
    from ._kernels import rk_fixed

    A, b = _check_batch(A, b)
    prepared = prepare_split(split)
    T, s = b.shape
    n = prepared.n_problems
    steps = _check_steps(n_steps, T, n)
    A, b, c, fsal = kernel_coefficients(A, b)
    error = np.empty((T, n))
    status = np.empty((T, n), dtype=np.int8)
    nfev = np.empty((T, n), dtype=np.int64)
    for g in prepared.groups:
        if skip_stiff and g.family.stiff:
            cols = slice(g.start, g.start + g.n)
            error[:, cols], status[:, cols], nfev[:, cols] = np.nan, 0, 0
            continue
        n_blocks, d, m = g.y0_blocks.shape
        Y_out = np.empty((T, n_blocks, d, m))
        steps_out = np.empty((T, n_blocks, m), dtype=np.int64)
        status_out = np.empty((T, n_blocks, m), dtype=np.int8)
        run_kernel(rk_fixed, g.family.rhs_block, A, b, c, fsal, _block_steps(steps, g), g.y0_blocks,
                   g.params_blocks, g.bound_blocks, g.t0, g.t1, Y_out, steps_out, status_out)  # fmt: skip
        cols = slice(g.start, g.start + g.n)
        y = np.swapaxes(Y_out, 2, 3).reshape(T, n_blocks * m, d)[:, g.slots]
        with np.errstate(invalid="ignore"):
            err = np.max(np.abs(y - g.y_ref), axis=2) / g.scale
        st = status_out.reshape(T, n_blocks * m)[:, g.slots]
        error[:, cols] = np.where(st == UNSTABLE, np.inf, err)
        status[:, cols] = st
        taken = steps_out.reshape(T, n_blocks * m)[:, g.slots]
        nfev[:, cols] = fixed_step_nfev(taken, s, fsal[:, None] != 0)
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
        Overall accuracy, efficiency, stability, unstable counts and saturation, each (T,).
    observed : Observed
        The per (tableau, problem) values the metrics come from.
    """

    score: np.ndarray
    metrics: MetricArrays
    observed: Observed


def _planned(split: Split | PreparedSplit) -> PreparedSplit:
    prepared = prepare_split(split)
    if prepared.plan is None:
        raise RKInputError(
            "scoring needs a split prepared with a ScoringPlan: "
            "prepare_split(split, rkcore.make_plan(dataset)) (see rkcore.calibration)"
        )
    return prepared


def observe(A, b, split: Split | PreparedSplit) -> Observed:
    """Run ``T`` tableaux of one stage count on a planned split: the values of :class:`Observed`.

    One kernel call at the problems' calibrated step counts, one more at the equal-work count
    rounded down (:func:`rkcore.metrics.equal_work_bracket`; none for 4-stage methods, two for
    methods of fewer than 4 evaluations per step), and the stability along each stiff
    problem's spectrum (microseconds).
    """
    from .calibration import stable_step_per_evaluation

    A, b = _check_batch(A, b)
    prepared = _planned(split)
    plan = prepared.plan
    base = plan.steps
    at_steps = score_tableaux(A, b, prepared, np.broadcast_to(base, (A.shape[0], base.size)), skip_stiff=True)
    floor = error_floor(prepared.ref_error)
    log_e = log_errors(at_steps.error, prepared.ref_error)
    w = A.shape[1] - kernel_coefficients(A, b)[3]
    lo, up, weight = equal_work_bracket(w, base)
    n = at_steps.n_steps
    stiff = prepared.stiff
    log_lo = _log_errors_at(A, b, prepared, lo, needed=(lo != n) & ~stiff, same=log_e)
    log_up = _log_errors_at(A, b, prepared, up, needed=(up != n) & (weight != 0.0) & ~stiff, same=log_e)
    log_eq = interpolate_log_errors(log_lo, log_up, weight, np.log10(floor))
    sigma = stable_step_per_evaluation(A, b, w, plan.directions, plan.sizes)
    sigma[:, ~stiff] = np.nan
    # Stiff problems were not integrated: they are scored by sigma alone.
    log_e[:, stiff] = np.nan
    log_eq[:, stiff] = np.nan
    return Observed(
        log_error=log_e,
        log_error_equal_work=log_eq,
        sigma=sigma,
        status=np.where(stiff, 0, at_steps.status).astype(np.int8),
        nfev=np.where(stiff, 0, at_steps.nfev),
        log_floor=np.log10(floor),
        stiff=prepared.stiff,
    )


def _log_errors_at(A, b, prepared: PreparedSplit, steps: np.ndarray, needed: np.ndarray, same: np.ndarray):
    """Log errors at per-problem ``steps`` where ``needed``, else the accuracy run's (``same``): a
    problem that needs no run is given one step, the cheapest the kernel can do."""
    if not np.any(needed):
        return same
    run = score_tableaux(A, b, prepared, np.where(needed, steps, 1), skip_stiff=True)
    return np.where(needed, log_errors(run.error, prepared.ref_error), same)


def baseline_metrics(split: Split | PreparedSplit, baseline: Tableau | None = None) -> MetricArrays:
    """Metrics of the baseline (RK4 unless given) on a planned split: one-tableau arrays."""
    base = _baseline_tableau(baseline)
    return metric_arrays(observe(base.A[None], base.b[None], split))


def score_batch(A, b, split: Split | PreparedSplit, weights: Weights, baseline: MetricArrays) -> BatchScores:
    """Weighted scores of ``T`` tableaux of one stage count (what ``rkml`` optimises).

    Parameters
    ----------
    A : array_like, shape (T, s, s); b : array_like, shape (T, s)
    split : Split or PreparedSplit
        Prepared with a :class:`~rkcore.calibration.ScoringPlan`.
    weights : Weights
    baseline : MetricArrays
        From :func:`baseline_metrics` on the same split (compute it once).

    Returns
    -------
    BatchScores
    """
    if not isinstance(baseline, MetricArrays) or baseline.accuracy.shape != (1,):
        raise RKInputError(
            "baseline must be the MetricArrays of one tableau, from rkcore.evaluate.baseline_metrics"
        )
    observed = observe(A, b, split)
    metrics = metric_arrays(observed)
    return BatchScores(weighted_score(metrics, baseline, weights), metrics, observed)


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
    plan : dict
        How the problems' step counts were chosen (:meth:`ScoringPlan.to_dict` of the
        split's problems): ``target_error`` (None for fixed steps), the median and histogram.
    weights : Weights
    n_problems : int
    families : tuple of str
    losses : ndarray, shape (len(cards) + 1, n_problems)
        Per-problem terms of the weighted score (:func:`rkcore.metrics.problem_losses`), one row
        per card and the baseline's last; :meth:`paired_gain` compares two cards with them.
    """

    cards: tuple[ScoreCard, ...]
    baseline: ScoreCard
    plan: dict
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
            "plan": self.plan,
            "n_problems": self.n_problems,
            "families": list(self.families),
            "weights": dataclasses.asdict(self.weights),
            "baseline": self.baseline.to_dict(),
            "tableaux": [c.to_dict() for c in self.cards],
        }


def _plan_summary(rows, stiff: np.ndarray) -> dict:
    """Target and step counts of the integrated (non-stiff) problems."""
    steps = rows.steps[~stiff]
    levels, counts = np.unique(steps, return_counts=True)
    return {
        "target_error": None if math.isnan(rows.target_error) else rows.target_error,
        "steps_median": float(np.median(steps)) if steps.size else math.nan,
        "steps_histogram": {str(int(n)): int(c) for n, c in zip(levels, counts, strict=True)},
    }


def evaluate(
    tableaux: Sequence[Tableau],
    data: Dataset | Split | PreparedSplit | ProblemSet,
    plan: ScoringPlan | None = None,
    weights: Weights | None = None,
    baseline: Tableau | None = None,
) -> Evaluation:
    """Accuracy, efficiency, stability and weighted score of each tableau, per family and overall.

    Parameters
    ----------
    tableaux : sequence of Tableau
        Explicit methods, any stage counts.
    data : Dataset, Split, PreparedSplit or ProblemSet
        A dataset is evaluated on all its problems (``dataset.all``), a problem set (such as
        ``rkcore.detest_problems()``) on its :meth:`~rkcore.problem_sets.ProblemSet.split`, one
        family per problem.
    plan : ScoringPlan or int, optional
        Step counts and spectra (:func:`rkcore.calibration.make_plan`); an int ``N`` is
        ``make_plan(data, None, n_steps=N)``, the same fixed steps for every non-stiff problem.
        By default made here at the default target error (1e-6), unless ``data`` is a split
        prepared with a plan.
    weights : Weights, optional
        Default ``Weights()``.
    baseline : Tableau, optional
        Normalising method, RK4 by default.

    Returns
    -------
    Evaluation
    """
    from .calibration import make_plan
    from .stability_batch import real_stability_interval_batch

    weights = Weights() if weights is None else weights
    if not isinstance(weights, Weights):
        raise RKInputError(f"weights must be an rkcore.metrics.Weights, got {type(weights).__name__}")
    tableaux = list(tableaux)
    if not tableaux:
        raise RKInputError("give at least one tableau to evaluate")
    if isinstance(data, ProblemSet):
        data = data.split()
    if isinstance(plan, numbers.Integral) and not isinstance(plan, bool):
        if isinstance(data, PreparedSplit):
            raise RKInputError("fixed steps need a Dataset or Split, not a PreparedSplit; pass a ScoringPlan")
        plan = make_plan(data, None, n_steps=int(plan))
    elif plan is None and isinstance(data, (Dataset, Split)):
        plan = make_plan(data)
    if plan is not None and not isinstance(plan, ScoringPlan):
        raise RKInputError(
            f"plan must be an rkcore.calibration.ScoringPlan or a step count, got {type(plan).__name__}"
        )
    prepared = _planned(prepare_split(data.all if isinstance(data, Dataset) else data, plan))
    everything = [*tableaux, _baseline_tableau(baseline)]
    spans = [slice(g.start, g.start + g.n) for g in prepared.groups]
    results: list[tuple[Metrics, dict[str, Metrics], float, float]] = [None] * len(everything)  # type: ignore
    losses = np.empty((len(everything), prepared.n_problems))
    plain = prepared.plan.steps[~prepared.stiff]
    median_steps = float(np.median(plain)) if plain.size else math.nan
    for positions, A, b in tableau_batches(everything):
        observed = observe(A, b, prepared)
        beta = real_stability_interval_batch(A, b)
        losses[positions] = problem_losses(observed, weights)
        w = A.shape[1] - kernel_coefficients(A, b)[3]
        for q, pos in enumerate(positions):
            overall = metrics_for(q, observed, slice(None))
            per_family = {
                name: metrics_for(q, observed, span)
                for name, span in zip(prepared.families, spans, strict=True)
            }
            n_eq = BASELINE_EVALS_PER_STEP * median_steps / float(w[q])
            results[pos] = (overall, per_family, n_eq, float(beta[q]))
    arrays = MetricArrays(
        accuracy=np.array([r[0].accuracy for r in results]),
        efficiency=np.array([r[0].efficiency for r in results]),
        stability=np.array([r[0].stability for r in results]),
        n_unstable=np.array([r[0].n_unstable for r in results]),
        saturation=np.array([r[0].saturation for r in results]),
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
                n_steps=median_steps,
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
        plan=_plan_summary(prepared.plan, prepared.stiff),
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
