"""Evaluation metrics of Runge--Kutta tableaux on a dataset: the one place where they are defined.

All metrics are computed from :class:`rkcore.evaluate.TableauScores` (relative errors at
``t_end`` per tableau and problem, see :mod:`rkcore.evaluate` for the error norm) with
plain numpy, so they cost microseconds next to the integration.

Per-problem log error
    ``e_ij = log10(clip(error_ij, floor_j, ERROR_CAP))`` for tableau ``i``, problem ``j``,
    with ``floor_j = max(ERROR_FLOOR, ref_error_j)``: below the reference's own error
    estimate (or 1e-14, roughly where rounding over many steps sits) errors cannot be told
    apart.  An unstable trajectory, and any error above ``ERROR_CAP = 1`` (no correct
    digit), counts as ``log10(ERROR_CAP) = 0``.

accuracy (decades, lower is better)
    ``mean_j e_ij`` at the given step count ``n_steps``, over all problems of the split
    (each problem weighs the same) or over one family's problems.

efficiency (decades, lower is better) -- error at equal work
    The same mean log error, but each tableau runs ``n_eq = max(1, round(4 * n_steps / w))``
    steps, where ``w`` is its evaluations per step (``s``, or ``s - 1`` for a
    first-same-as-last tableau): every method gets the budget of right-hand-side
    evaluations that RK4 (4 per step) spends in ``n_steps`` steps.  For a 4-stage method
    it equals accuracy; a 6-stage method runs 2/3 of the steps.

stability (fraction, higher is better)
    Fraction of the *stiff* problems whose trajectory stays bounded (status ok) at equal
    work, i.e. in the same run as efficiency (``n_eq`` steps); NaN when the split has no
    stiff problems.  Measured at equal work because stages cost evaluations: a method with
    more stages and a longer stability interval must keep problems bounded with the larger
    steps its budget allows, so what is rewarded is stability per function evaluation
    (the interval per stage), not stability bought with extra stages.  Reported with the real-axis
    stability interval ``beta_R`` (from :func:`rkcore.real_stability_interval`) and
    ``beta_R / s``, the interval per function evaluation.

Weighted score (higher is better)
    Each metric is turned into a gain over RK4 run on the same split with the same
    ``n_steps`` (so RK4 scores exactly 0)::

        accuracy_gain   = accuracy_RK4   - accuracy          (decades of error gained)
        efficiency_gain = efficiency_RK4 - efficiency        (decades gained at equal work)
        stability_gain  = STABILITY_SCALE * (stability - stability_RK4)   (0 if no stiff problems)
        score = w_acc * accuracy_gain + w_eff * efficiency_gain + w_stab * stability_gain

    Why these units.  Accuracy and efficiency are already in one unit, decades of error,
    so equal weights on them mean equal importance.  Stability is a fraction of the stiff
    problems; between methods of similar cost it typically differs by 0.05--0.3.
    ``STABILITY_SCALE = 10`` makes one unit of stability gain "10 percentage points more of
    the stiff problems stay bounded", which we rate as worth one decade of error: keeping
    one stiff problem in ten from blowing up matters about as much to a user as one more
    correct digit on every problem.  (The accuracy metric already charges a blown-up
    problem as error 1, but diluted by the non-stiff share of the dataset; the stability
    term states the preference explicitly.)  So with ``Weights(0.4, 0.4, 0.2)`` a loss of
    one decade of accuracy (-0.4) is compensated by 20 percentage points of stiff problems
    kept bounded (+0.2 * 10 * 0.2 = +0.4).  Normalising against RK4 on the *same* dataset
    and step count removes the dataset's difficulty from the score: +1 means "one decade
    (or its stability equivalent) better than RK4 here".

Use in training: compute ``baseline = rkcore.evaluate.baseline_metrics(split, n_steps)``
once, then ``rkcore.evaluate.score_batch(A, b, split, n_steps, weights, baseline).score``
per batch of candidates (one :func:`rkcore.evaluate.score_tableaux` call, two when the
equal-work step count differs from ``n_steps``, plus these formulas).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from .errors import RKInputError

if TYPE_CHECKING:
    from .evaluate import TableauScores

ERROR_FLOOR = 1e-14
ERROR_CAP = 1.0
STABILITY_SCALE = 10.0
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


def equal_work_steps(evals_per_step, n_steps: int) -> np.ndarray:
    """Steps that spend RK4's budget ``4 * n_steps`` evaluations: ``max(1, round(4 n / w))``.

    Parameters
    ----------
    evals_per_step : int or array_like of int, shape (T,)
        ``s``, or ``s - 1`` for FSAL tableaux.
    n_steps : int

    Returns
    -------
    ndarray of int64, shape (T,) (or () for a scalar input)
    """
    w = np.asarray(evals_per_step, dtype=np.float64)
    # floor(x + 0.5): round half up, independent of numpy's round-half-even.
    return np.maximum(1, np.floor(BASELINE_EVALS_PER_STEP * n_steps / w + 0.5)).astype(np.int64)


class MetricArrays(NamedTuple):
    """Overall metrics of ``T`` tableaux, each of shape (T,) (see the module docstring)."""

    accuracy: np.ndarray
    efficiency: np.ndarray
    stability: np.ndarray
    n_unstable: np.ndarray


def metric_arrays(at_steps: TableauScores, at_equal_work: TableauScores) -> MetricArrays:
    """Overall accuracy, efficiency, stability and unstable counts from two scoring runs.

    Parameters
    ----------
    at_steps : TableauScores
        The run at ``n_steps``.
    at_equal_work : TableauScores
        The run at :func:`equal_work_steps` (the same object when those equal ``n_steps``).
    """
    ref = at_steps.split.ref_error
    acc = log_errors(at_steps.error, ref).mean(axis=1)
    eff = acc if at_equal_work is at_steps else log_errors(at_equal_work.error, ref).mean(axis=1)
    return MetricArrays(
        accuracy=acc,
        efficiency=eff,
        stability=_bounded_fraction(at_equal_work.status, at_steps.split.stiff),
        n_unstable=np.count_nonzero(at_steps.status != 0, axis=1),
    )


def _bounded_fraction(status: np.ndarray, stiff: np.ndarray) -> np.ndarray:
    if not np.any(stiff):
        return np.full(status.shape[0], np.nan)
    return np.mean(status[:, stiff] == 0, axis=1)


def gains(metrics: MetricArrays, baseline: MetricArrays) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Accuracy, efficiency and stability gains over a one-tableau baseline, each (T,)."""
    acc = baseline.accuracy[0] - metrics.accuracy
    eff = baseline.efficiency[0] - metrics.efficiency
    if np.isnan(baseline.stability[0]):
        stab = np.zeros_like(acc)
    else:
        stab = STABILITY_SCALE * (metrics.stability - baseline.stability[0])
    return acc, eff, stab


def problem_losses(at_steps: TableauScores, at_equal_work: TableauScores, weights: Weights) -> np.ndarray:
    """Per-problem terms of the weighted score: ``score_i = c - mean_j loss_ij``, shape (T, n).

    ``loss_ij = w_acc e_ij + w_eff e'_ij - w_stab * STABILITY_SCALE * (n / n_stiff) * bounded_ij``
    (the last term on stiff problems only), with ``e`` and ``e'`` the log errors at ``n_steps``
    and at equal work and ``c`` a constant of the baseline.  The baseline cancels in differences,
    so the score difference of two tableaux on the same problems is the mean of their paired
    per-problem loss differences -- what :func:`paired_gain` uses to tell a real improvement
    from problem-sampling noise.

    Parameters
    ----------
    at_steps, at_equal_work : TableauScores
        As for :func:`metric_arrays`.
    weights : Weights
    """
    ref = at_steps.split.ref_error
    stiff = np.asarray(at_steps.split.stiff, dtype=bool)
    loss = weights.accuracy * log_errors(at_steps.error, ref)
    loss = loss + weights.efficiency * log_errors(at_equal_work.error, ref)
    n_stiff = int(np.count_nonzero(stiff))
    if n_stiff:
        share = STABILITY_SCALE * stiff.size / n_stiff
        loss[:, stiff] -= weights.stability * share * (at_equal_work.status[:, stiff] == 0)
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
        Mean log10 error at ``n_steps`` and at equal work (lower is better).
    stability : float
        Fraction of stiff problems bounded at ``n_steps``; NaN without stiff problems.
    n_problems, n_stiff, n_unstable : int
    nfev : int
        Function evaluations spent at ``n_steps``, summed over the problems.
    """

    accuracy: float
    efficiency: float
    stability: float
    n_problems: int
    n_stiff: int
    n_unstable: int
    nfev: int

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["stability"] = None if math.isnan(self.stability) else self.stability
        return out


def metrics_for(q: int, at_steps: TableauScores, at_equal_work: TableauScores, columns) -> Metrics:
    """:class:`Metrics` of tableau ``q`` over the problem ``columns`` (index array or slice)."""
    ref = at_steps.split.ref_error[columns]
    stiff = at_steps.split.stiff[columns]
    status = at_steps.status[q, columns]
    status_eq = at_equal_work.status[q, columns]
    return Metrics(
        accuracy=float(log_errors(at_steps.error[q : q + 1, columns], ref).mean()),
        efficiency=float(log_errors(at_equal_work.error[q : q + 1, columns], ref).mean()),
        stability=float(_bounded_fraction(status_eq[None], stiff)[0]),
        n_problems=int(status.shape[0]),
        n_stiff=int(np.count_nonzero(stiff)),
        n_unstable=int(np.count_nonzero(status != 0)),
        nfev=int(at_steps.nfev[q, columns].sum()),
    )


@dataclasses.dataclass(frozen=True)
class ScoreCard:
    """Everything reported for one tableau on one split.

    Attributes
    ----------
    name : str
    stages : int
    n_steps, n_steps_equal_work : int
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
    n_steps: int
    n_steps_equal_work: int
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
            "n_steps": self.n_steps,
            "n_steps_equal_work": self.n_steps_equal_work,
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
