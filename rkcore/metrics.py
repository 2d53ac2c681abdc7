"""Evaluation metrics of Runge--Kutta tableaux on a dataset: the one place where they are defined.

Every metric is a mean of per-problem terms computed from :class:`Observed` (filled by
:func:`rkcore.evaluate.observe`) with plain numpy.  Each problem is scored by what limits an
explicit method's step on it: accuracy and efficiency on the non-stiff problems, stability on
the stiff ones (see :mod:`rkcore.calibration` for why).  Each non-stiff problem ``j`` has a
*baseline step count* ``n_j`` from the dataset's :class:`~rkcore.calibration.ScoringPlan`: by
default the fewest steps (from a sqrt(2) ladder) at which RK4's relative error at ``t_end`` is
at most 1e-6.  So the compared methods' errors sit where users work (1e-3 to 1e-11) rather
than at the reference floor -- with one fixed step count over a short horizon, two thirds of
the errors of order-5 methods were at the floor.  ``rkcore.make_plan(data, None, n_steps=N)``
gives one fixed step count instead.

Per-problem log error
    ``e_ij = log10(clip(error_ij, floor_j, ERROR_CAP))`` for tableau ``i``, problem ``j``,
    with ``floor_j = max(ERROR_FLOOR, ref_error_j)``: below the reference's own error
    estimate (or 1e-14, roughly where rounding over many steps sits) errors cannot be told
    apart.  An unstable trajectory, and any error above ``ERROR_CAP = 1`` (no correct
    digit), counts as ``log10(ERROR_CAP) = 0``.  The *saturation* of a tableau is the
    fraction of its errors (both runs below) at the floor or the cap: errors that carry no
    information about it.

accuracy (decades, lower is better)
    ``mean_j e_ij`` at ``n_j`` steps, over the non-stiff problems of the split (each problem
    weighs the same) or over one family's problems; NaN without any.

efficiency (decades, lower is better) -- error at equal work
    The same mean log error at RK4's budget of ``4 n_j`` right-hand-side evaluations: for a
    tableau of ``w`` evaluations per step (``s``, or ``s - 1`` when first-same-as-last) that
    is ``x = 4 n_j / w`` steps, usually not an integer, so the log error is interpolated
    linearly in ``log n`` between ``floor(x)`` steps and the accuracy run's ``n_j`` (or
    ``floor(x) + 1`` when ``w < 4``), extrapolated when ``x < 1``; :func:`equal_work_bracket`.
    For a 4-stage method it equals accuracy.

stability (higher is better) -- largest stable step per evaluation
    On each stiff problem, ``sigma_ij = h_max * rho_j / w``: the largest step at which every
    eigenvalue of the stiff part of the problem's Jacobian spectrum (at ``t0, y0``; see
    :mod:`rkcore.calibration`) times ``h`` lies in the tableau's stability region, in units
    of ``1 / rho_j`` and per function evaluation.  For a real negative spectrum it is the
    real stability interval per evaluation, ``beta_R / w`` (RK4: 0.696, SSPRK(5,4): 1.07,
    forward Euler: 2); it varies continuously with the coefficients, so a nearly stable
    tableau scores nearly as well as a stable one, and stages bought for stability count as
    the work they cost.  The metric is the geometric mean of ``sigma`` over the split's stiff
    problems (NaN without any); reported with the real-axis interval ``beta_R`` and
    ``beta_R / s``.

Weighted score (higher is better)
    Each metric is turned into a gain over RK4 on the same problems (so RK4 scores exactly
    0)::

        accuracy_gain   = accuracy_RK4   - accuracy          (decades of error gained)
        efficiency_gain = efficiency_RK4 - efficiency        (decades gained at equal work)
        stability_gain  = STABILITY_SCALE * log2(stability / stability_RK4)  (0 if no stiff problems)
        score = w_acc * accuracy_gain + w_eff * efficiency_gain + w_stab * stability_gain

    Why these units.  Accuracy and efficiency are in one unit, decades of error, so equal
    weights on them mean equal importance.  Stability gains are octaves of the stable step
    per evaluation: doubling it halves the work on problems where stability limits the step,
    which for a fourth-order method is worth ``4 log10(2) = 1.2`` decades of error at equal
    work (1.5 for fifth order).  ``STABILITY_SCALE = 1`` rounds that down: one octave of
    stable step per evaluation counts as one decade of error.  So with ``Weights(0.4, 0.4,
    0.2)`` a loss of half a decade of accuracy and efficiency (-0.4) is paid back by a
    stable step four times as long (+0.2 * 2 = +0.4).  Normalising against RK4 on the *same*
    problems removes the dataset's difficulty: +1 means "one decade (or its stability
    equivalent) better than RK4 here".

Use in training: make the plan once per dataset (``rkcore.make_plan``), prepare each split
with it (``rkcore.evaluate.prepare_split(split, plan)``), compute ``baseline =
rkcore.evaluate.baseline_metrics(prepared)`` once, then
``rkcore.evaluate.score_batch(A, b, prepared, weights, baseline).score`` per batch of
candidates (one kernel call at the calibrated steps, at most two more around the equal-work
count, plus these formulas).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from .errors import RKInputError

if TYPE_CHECKING:
    pass

ERROR_FLOOR = 1e-14
ERROR_CAP = 1.0
STABILITY_SCALE = 1.0
BASELINE_EVALS_PER_STEP = 4
"""RK4's evaluations per step: the equal-work budget is ``BASELINE_EVALS_PER_STEP * n_steps``."""

_WEIGHT_SUM_TOL = 1e-9


@dataclasses.dataclass(frozen=True)
class Weights:
    """Weights of the weighted score: non-negative, summing to 1.

    Parameters
    ----------
    accuracy, efficiency, stability : float
    """

    accuracy: float = 0.4
    efficiency: float = 0.4
    stability: float = 0.2

    def __post_init__(self) -> None:
        for field in ("accuracy", "efficiency", "stability"):
            v = getattr(self, field)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise RKInputError(f"Weights.{field} must be a finite number, got {v!r}")
            if v < 0:
                raise RKInputError(f"Weights.{field} = {v!r} is negative; weights must be >= 0")
            object.__setattr__(self, field, float(v))
        total = self.accuracy + self.efficiency + self.stability
        if abs(total - 1.0) > _WEIGHT_SUM_TOL:
            raise RKInputError(
                f"weights (accuracy, efficiency, stability) = ({self.accuracy}, {self.efficiency}, "
                f"{self.stability}) sum to {total:g}; they must sum to 1"
            )

    def as_tuple(self) -> tuple[float, float, float]:
        return (self.accuracy, self.efficiency, self.stability)


def log_errors(error: np.ndarray, ref_error: np.ndarray) -> np.ndarray:
    """Floored and capped ``log10`` errors ``e`` (module docstring).

    Parameters
    ----------
    error : ndarray, shape (T, n)
        Relative errors; ``inf``/NaN for unstable trajectories.
    ref_error : ndarray, shape (n,)

    Returns
    -------
    ndarray, shape (T, n)
        In ``[log10(floor), 0]``.
    """
    floor = np.maximum(ERROR_FLOOR, np.asarray(ref_error, dtype=np.float64))
    err = np.where(np.isfinite(error), error, ERROR_CAP)
    return np.log10(np.minimum(np.maximum(err, floor), ERROR_CAP))


def equal_work_bracket(evals_per_step, base_steps) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two integer step counts around the exact equal-work count ``x = 4 n / w``, and the log-log weight.

    Efficiency is measured at RK4's budget exactly: the log error at ``x`` steps is interpolated
    linearly in ``log n`` between ``lo = floor(x)`` and ``up``, exact when the error behaves like
    ``C n^-p`` there, so a 7-stage method on a 3-step problem is charged for 12/7 of a step
    rather than a rounded count.  ``up`` is the problem's own step count ``n`` when ``lo < n``
    (methods of more than 4 evaluations per step: that run is made for accuracy anyway, so
    efficiency costs one more run, not two), else ``lo + 1``.  Below one step (``x < 1``: a
    problem so easy that RK4 needs a single step) the line through ``lo = 1`` and ``up`` is
    extrapolated, the ``C n^-p`` model's value at ``x``: a fixed-step run cannot take less than
    one step, and a whole step would hand the method more evaluations than RK4's budget.

    Parameters
    ----------
    evals_per_step : array_like of int, shape (T,)
    base_steps : array_like of int, shape (n,)

    Returns
    -------
    lo, up : ndarray of int64, shape (T, n)
    weight : ndarray, shape (T, n)
        Weight of ``up``: ``(log x - log lo) / (log up - log lo)``; 0 where ``x`` is an integer,
        negative where ``x < 1`` (extrapolation).
    """
    w = np.asarray(evals_per_step, dtype=np.float64)[:, None]
    n = np.asarray(base_steps, dtype=np.int64)[None, :]
    x = BASELINE_EVALS_PER_STEP * n / w
    # A hair of slack so that 4 * 6 / 6 is exactly 4 steps, not 3 and a tiny part of 4.
    lo = np.maximum(1, np.floor(x * (1 + 1e-12))).astype(np.int64)
    up = np.where(lo < n, n, lo + 1)
    weight = (np.log(x) - np.log(lo)) / (np.log(up) - np.log(lo))
    weight = np.where(np.abs(weight) < 1e-9, 0.0, np.minimum(weight, 1.0))
    return lo, up, weight


class Observed(NamedTuple):
    """What the metrics are computed from: per (tableau, problem) values, each (T, n) unless noted.

    Attributes
    ----------
    log_error : ndarray
        Floored and capped log10 error at the problem's step count (:func:`log_errors`) on
        non-stiff problems; NaN on stiff ones (not integrated).
    log_error_equal_work : ndarray
        The same at RK4's budget of evaluations (:func:`equal_work_bracket`).
    sigma : ndarray
        Largest linearly stable step per evaluation in units of ``1 / rho`` on stiff problems
        (:mod:`rkcore.calibration`); NaN on non-stiff ones.
    status : ndarray of int8
        Status of the run at the problem's step count (0 ok; 0 on stiff problems).
    nfev : ndarray of int64
        Evaluations of that run (0 on stiff problems).
    log_floor : ndarray, shape (n,)
        ``log10`` of each problem's error floor.
    stiff : ndarray of bool, shape (n,)
    """

    log_error: np.ndarray
    log_error_equal_work: np.ndarray
    sigma: np.ndarray
    status: np.ndarray
    nfev: np.ndarray
    log_floor: np.ndarray
    stiff: np.ndarray

    def saturated(self) -> np.ndarray:
        """Whether each error sits at its floor or at the cap: (T, n, 2) for the two runs
        (False on stiff problems, which have no error)."""
        both = np.stack([self.log_error, self.log_error_equal_work], axis=2)
        at_floor = both <= self.log_floor[None, :, None] + 1e-9
        at_cap = both >= math.log10(ERROR_CAP) - 1e-9
        return at_floor | at_cap


def error_floor(ref_error: np.ndarray) -> np.ndarray:
    """Per-problem floor below which errors cannot be told apart: ``max(ERROR_FLOOR, ref_error)``."""
    return np.maximum(ERROR_FLOOR, np.asarray(ref_error, dtype=np.float64))


def interpolate_log_errors(
    lo: np.ndarray, hi: np.ndarray, weight: np.ndarray, log_floor: np.ndarray
) -> np.ndarray:
    """``(1 - weight) lo + weight hi`` of two log-error arrays, kept within [floor, cap].

    ``hi`` is ignored where ``weight`` is 0; a negative weight extrapolates (see
    :func:`equal_work_bracket`)."""
    mixed = np.clip((1.0 - weight) * lo + weight * hi, log_floor[None, :], math.log10(ERROR_CAP))
    return np.where(weight != 0.0, mixed, lo)


class MetricArrays(NamedTuple):
    """Overall metrics of ``T`` tableaux, each of shape (T,) (see the module docstring)."""

    accuracy: np.ndarray
    efficiency: np.ndarray
    stability: np.ndarray
    n_unstable: np.ndarray
    saturation: np.ndarray


def metric_arrays(observed: Observed) -> MetricArrays:
    """Overall accuracy, efficiency, stability, unstable counts and saturation."""
    plain = ~np.asarray(observed.stiff, dtype=bool)
    return MetricArrays(
        accuracy=_mean_over(observed.log_error, plain),
        efficiency=_mean_over(observed.log_error_equal_work, plain),
        stability=_geometric_stability(observed.sigma, observed.stiff),
        n_unstable=np.count_nonzero(observed.status != 0, axis=1),
        saturation=_mean_over(observed.saturated().mean(axis=2), plain),
    )


def _mean_over(values: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Row means over the ``columns`` mask; NaN without any.

    Row by row: numpy sums a many-row array along its rows in another order than a single row,
    and a tableau's score must not depend on which batch it was scored in (RK4 scores exactly 0).
    """
    if not np.any(columns):
        return np.full(values.shape[0], np.nan)
    return np.array([np.mean(row) for row in values[:, columns]])


def _geometric_stability(sigma: np.ndarray, stiff: np.ndarray) -> np.ndarray:
    if not np.any(stiff):
        return np.full(sigma.shape[0], np.nan)
    return 2.0 ** _mean_over(np.log2(sigma), np.asarray(stiff, dtype=bool))


def gains(metrics: MetricArrays, baseline: MetricArrays) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Accuracy, efficiency and stability gains over a one-tableau baseline, each (T,)."""
    if np.isnan(baseline.accuracy[0]):  # no non-stiff problems
        acc = eff = np.zeros_like(metrics.accuracy)
    else:
        acc = baseline.accuracy[0] - metrics.accuracy
        eff = baseline.efficiency[0] - metrics.efficiency
    if np.isnan(baseline.stability[0]):
        stab = np.zeros_like(acc)
    else:
        stab = STABILITY_SCALE * np.log2(metrics.stability / baseline.stability[0])
    return acc, eff, stab


def problem_losses(observed: Observed, weights: Weights) -> np.ndarray:
    """Per-problem terms of the weighted score: ``score_i = c - mean_j loss_ij``, shape (T, n).

    ``loss_ij = (n / n_plain) (w_acc e_ij + w_eff e'_ij)`` on a non-stiff problem and
    ``- (n / n_stiff) w_stab STABILITY_SCALE log2(sigma_ij)`` on a stiff one, with ``e`` and
    ``e'`` the log errors at the problem's step count and at equal work and ``c`` a constant of
    the baseline (the shares make the mean over all problems the weighted sum of the metrics,
    which are means over their own problems).  The baseline
    cancels in differences, so the score difference of two tableaux on the same problems is the
    mean of their paired per-problem loss differences -- what :func:`paired_gain` uses to tell a
    real improvement from problem-sampling noise.

    Parameters
    ----------
    observed : Observed
    weights : Weights
    """
    stiff = np.asarray(observed.stiff, dtype=bool)
    loss = np.zeros(observed.log_error.shape)
    n_stiff = int(np.count_nonzero(stiff))
    if n_stiff < stiff.size:
        share = stiff.size / (stiff.size - n_stiff)
        loss[:, ~stiff] = share * (
            weights.accuracy * observed.log_error[:, ~stiff]
            + weights.efficiency * observed.log_error_equal_work[:, ~stiff]
        )
    if n_stiff:
        share = STABILITY_SCALE * stiff.size / n_stiff
        loss[:, stiff] = -weights.stability * share * np.log2(observed.sigma[:, stiff])
    return loss


class PairedGain(NamedTuple):
    """Score difference ``gain = score_a - score_b`` on the same problems and its standard error.

    ``stderr`` is the standard error of the mean of the paired per-problem differences (the
    ``t`` statistic of a paired t-test is ``gain / stderr``).  ``n`` is the number of problems.
    """

    gain: float
    stderr: float
    n: int

    def exceeds(self, z: float) -> bool:
        """Whether ``a`` beats ``b`` by more than ``z`` standard errors (``gain > z * stderr``, and
        ``gain > 0`` also when ``z = 0`` or the differences have no spread)."""
        return self.gain > 0 and self.gain > z * self.stderr

    def to_dict(self) -> dict[str, float | int]:
        return {"gain": self.gain, "stderr": self.stderr, "n": self.n}


def paired_gain(loss_a: np.ndarray, loss_b: np.ndarray) -> PairedGain:
    """How much tableau ``a`` scores above ``b`` on the same problems, with its standard error.

    Parameters
    ----------
    loss_a, loss_b : ndarray, shape (n,)
        Rows of :func:`problem_losses` of the two tableaux on one split.

    Returns
    -------
    PairedGain
        ``gain = mean(loss_b - loss_a)`` (equal to the difference of their weighted scores),
        ``stderr = std(loss_b - loss_a, ddof=1) / sqrt(n)`` (0 for a single problem).
    """
    d = np.asarray(loss_b, dtype=np.float64) - np.asarray(loss_a, dtype=np.float64)
    if d.ndim != 1 or d.size == 0:
        raise RKInputError(f"paired_gain needs two equal-length 1-D loss rows, got shape {d.shape}")
    se = float(np.std(d, ddof=1) / math.sqrt(d.size)) if d.size > 1 else 0.0
    return PairedGain(float(d.mean()), se, int(d.size))


def weighted_score(metrics: MetricArrays, baseline: MetricArrays, weights: Weights) -> np.ndarray:
    """``w_acc * accuracy_gain + w_eff * efficiency_gain + w_stab * stability_gain``, shape (T,)."""
    if not isinstance(weights, Weights):
        raise RKInputError(f"weights must be an rkcore.metrics.Weights, got {type(weights).__name__}")
    acc, eff, stab = gains(metrics, baseline)
    return weights.accuracy * acc + weights.efficiency * eff + weights.stability * stab


# ----------------------------------------------------------------------------- report values


@dataclasses.dataclass(frozen=True)
class Metrics:
    """The metrics of one tableau on a set of problems (a family or the whole split).

    Attributes
    ----------
    accuracy, efficiency : float
        Mean log10 error over the non-stiff problems at their step counts and at equal work
        (lower is better); NaN without non-stiff problems.
    stability : float
        Geometric mean over the stiff problems of the largest linearly stable step per
        evaluation, in units of ``1 / rho`` (higher is better); NaN without stiff problems.
    n_problems, n_stiff, n_unstable : int
        ``n_unstable`` counts blow-ups at the problems' step counts.
    nfev : int
        Function evaluations spent at the problems' step counts, summed over the problems.
    saturation : float
        Fraction of the errors (both runs, non-stiff problems) at the floor or the cap:
        errors that say nothing.
    """

    accuracy: float
    efficiency: float
    stability: float
    n_problems: int
    n_stiff: int
    n_unstable: int
    nfev: int
    saturation: float

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        for key in ("accuracy", "efficiency", "stability", "saturation"):
            out[key] = _finite_or_none(out[key])
        return out


def metrics_for(q: int, observed: Observed, columns) -> Metrics:
    """:class:`Metrics` of tableau ``q`` over the problem ``columns`` (index array or slice)."""
    stiff = np.asarray(observed.stiff[columns], dtype=bool)
    row = slice(q, q + 1)
    return Metrics(
        accuracy=float(_mean_over(observed.log_error[row, columns], ~stiff)[0]),
        efficiency=float(_mean_over(observed.log_error_equal_work[row, columns], ~stiff)[0]),
        stability=float(_geometric_stability(observed.sigma[row, columns], stiff)[0]),
        n_problems=int(stiff.shape[0]),
        n_stiff=int(np.count_nonzero(stiff)),
        n_unstable=int(np.count_nonzero(observed.status[q, columns] != 0)),
        nfev=int(observed.nfev[q, columns].sum()),
        saturation=float(_mean_over(observed.saturated()[q, columns].mean(axis=1)[None], ~stiff)[0]),
    )


@dataclasses.dataclass(frozen=True)
class ScoreCard:
    """Everything reported for one tableau on one split.

    Attributes
    ----------
    name : str
    stages : int
    n_steps, n_steps_equal_work : float
        Median over the problems of the step count and of the (fractional) equal-work count.
    overall : Metrics
    families : mapping of str to Metrics
    stability_interval : float
        Real-axis stability interval ``beta_R`` (the method is stable on ``[-beta_R, 0]``).
    stability_interval_per_stage : float
        ``beta_R / s``.
    accuracy_gain, efficiency_gain, stability_gain, score : float
        Gains over RK4 and the weighted score (module docstring).
    weights : Weights
    """

    name: str
    stages: int
    n_steps: float
    n_steps_equal_work: float
    overall: Metrics
    families: Mapping[str, Metrics]
    stability_interval: float
    stability_interval_per_stage: float
    accuracy_gain: float
    efficiency_gain: float
    stability_gain: float
    score: float
    weights: Weights

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "stages": self.stages,
            "n_steps": _finite_or_none(self.n_steps),
            "n_steps_equal_work": _finite_or_none(self.n_steps_equal_work),
            "score": self.score,
            "accuracy_gain": self.accuracy_gain,
            "efficiency_gain": self.efficiency_gain,
            "stability_gain": self.stability_gain,
            "weights": dataclasses.asdict(self.weights),
            "stability_interval": _finite_or_none(self.stability_interval),
            "stability_interval_per_stage": _finite_or_none(self.stability_interval_per_stage),
            "overall": self.overall.to_dict(),
            "families": {k: v.to_dict() for k, v in self.families.items()},
        }


def _finite_or_none(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None
