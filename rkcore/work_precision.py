"""Work--precision curves over a dataset: error against function evaluations.

For every tableau a *fixed-step* curve (one point per step count) and, for embedded pairs,
an *adaptive* curve (one point per tolerance, ``rtol = atol = tol``, the controller of
:func:`rkcore.solve_batch_adaptive`).  A point is

* ``nfev``: mean right-hand-side evaluations per problem;
* ``log_error``: mean over problems of the floored and capped ``log10`` relative error at
  ``t_end`` (:func:`rkcore.metrics.log_errors`, error norm of :mod:`rkcore.evaluate`), so the
  curves use the same scale as the accuracy metric; unstable or failed runs count as 0.
"""

from __future__ import annotations

import dataclasses
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .datasets import Dataset, Split
from .errors import RKInputError
from .evaluate import PreparedSplit, prepare_split, score_tableaux, tableau_batches
from .fileio import atomic_write_bytes
from .integrate import OK, error_estimate_order
from .metrics import log_errors
from .tableau import Tableau

DEFAULT_STEPS = (2, 4, 8, 16, 32, 64, 128, 256)
DEFAULT_TOLERANCES = (1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10)
ADAPTIVE_MAX_STEPS = 100_000


@dataclasses.dataclass(frozen=True)
class Curve:
    """One work--precision curve.

    Attributes
    ----------
    name : str
    kind : str
        ``"fixed"`` (settings are step counts) or ``"adaptive"`` (settings are tolerances).
    settings : tuple of float
    nfev : ndarray, shape (n_points,)
        Mean function evaluations per problem.
    log_error : ndarray, shape (n_points,)
        Mean log10 relative error.
    n_failed : ndarray of int, shape (n_points,)
        Problems that were unstable (or, adaptive, hit the step limit).
    """

    name: str
    kind: str
    settings: tuple[float, ...]
    nfev: np.ndarray
    log_error: np.ndarray
    n_failed: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "settings": list(self.settings),
            "nfev": self.nfev.tolist(),
            "log_error": self.log_error.tolist(),
            "n_failed": self.n_failed.tolist(),
        }


@dataclasses.dataclass(frozen=True)
class WorkPrecision:
    """All curves of a sweep, with the problems they were measured on."""

    curves: tuple[Curve, ...]
    n_problems: int
    families: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_problems": self.n_problems,
            "families": list(self.families),
            "curves": [c.to_dict() for c in self.curves],
        }


def _check_settings(values: Sequence, field: str, integer: bool) -> tuple:
    values = tuple(values)
    if not values:
        raise RKInputError(f"{field} must list at least one value")
    for v in values:
        ok = not isinstance(v, bool) and isinstance(v, (int, float, np.integer, np.floating))
        ok = ok and (float(v) == int(v) if integer else np.isfinite(v)) and v > 0
        if not ok:
            kind = "positive integers" if integer else "positive numbers"
            raise RKInputError(f"{field} must be {kind}, got {v!r}")
    return tuple(sorted({int(v) if integer else float(v) for v in values}))


def work_precision(
    tableaux: Sequence[Tableau],
    data: Dataset | Split | PreparedSplit,
    steps: Sequence[int] = DEFAULT_STEPS,
    tolerances: Sequence[float] = DEFAULT_TOLERANCES,
) -> WorkPrecision:
    """Fixed-step curves for every tableau and adaptive curves for embedded pairs.

    Parameters
    ----------
    tableaux : sequence of Tableau
        Explicit methods.
    data : Dataset, Split or PreparedSplit
        A dataset is swept on all its problems.
    steps : sequence of int
        Step counts of the fixed-step sweep.
    tolerances : sequence of float
        ``rtol = atol`` values of the adaptive sweep (empty: no adaptive curves).

    Returns
    -------
    WorkPrecision
    """
    tableaux = list(tableaux)
    if not tableaux:
        raise RKInputError("give at least one tableau for the work-precision sweep")
    steps = _check_settings(steps, "steps", integer=True)
    tolerances = _check_settings(tolerances, "tolerances", integer=False) if len(tolerances) else ()
    prepared = prepare_split(data.all if isinstance(data, Dataset) else data)
    split = data.all if isinstance(data, Dataset) else data
    fixed: dict[int, Curve] = {}
    for positions, A, b in tableau_batches(tableaux):
        runs = [score_tableaux(A, b, prepared, n) for n in steps]
        for q, pos in enumerate(positions):
            logs = [log_errors(r.error[q : q + 1], prepared.ref_error).mean() for r in runs]
            fixed[pos] = Curve(
                name=tableaux[pos].name or f"tableau{pos}",
                kind="fixed",
                settings=tuple(float(n) for n in steps),
                nfev=np.array([r.nfev[q].mean() for r in runs]),
                log_error=np.array(logs),
                n_failed=np.array([int(np.count_nonzero(r.status[q] != OK)) for r in runs]),
            )
    curves: list[Curve] = []
    for pos, tableau in enumerate(tableaux):
        curves.append(fixed[pos])
        if tableau.has_embedded and tolerances:
            if isinstance(split, PreparedSplit):
                raise RKInputError("adaptive curves need the Split itself, not a PreparedSplit")
            curves.append(_adaptive_curve(tableau, split, prepared, tolerances))
    return WorkPrecision(curves=tuple(curves), n_problems=prepared.n_problems, families=prepared.families)


def _adaptive_curve(tableau: Tableau, split: Split, prepared: PreparedSplit, tolerances) -> Curve:
    from .integrate import _solve_adaptive_rows

    q = error_estimate_order(tableau)
    nfev, logs, failed = [], [], []
    for tol in tolerances:
        error = np.empty(prepared.n_problems)
        evals = np.empty(prepared.n_problems)
        n_failed = 0
        for g, pg in zip(split.groups, prepared.groups, strict=True):
            y0 = np.array(g.y0, dtype=np.float64)
            d = y0.shape[1]
            res = _solve_adaptive_rows(
                tableau, q, g.family.rhs_block, y0, np.array(g.params, dtype=np.float64), float(g.t0),
                float(g.t1), np.full(d, tol), np.full(d, tol), 0.0, 0.9, 0.2, 5.0, ADAPTIVE_MAX_STEPS,
            )  # fmt: skip
            cols = slice(pg.start, pg.start + pg.n)
            with np.errstate(invalid="ignore"):
                err = np.max(np.abs(res.y - pg.y_ref), axis=1) / pg.scale
            error[cols] = np.where(res.status == OK, err, np.inf)
            evals[cols] = res.nfev
            n_failed += int(np.count_nonzero(res.status != OK))
        nfev.append(evals.mean())
        logs.append(log_errors(error[None], prepared.ref_error).mean())
        failed.append(n_failed)
    return Curve(
        name=tableau.name or "tableau",
        kind="adaptive",
        settings=tuple(tolerances),
        nfev=np.array(nfev),
        log_error=np.array(logs),
        n_failed=np.array(failed),
    )


def plot_work_precision(result: WorkPrecision, path: str | os.PathLike, title: str | None = None) -> Path:
    """Draw the curves (log10 error against evaluations, log axis) into a PNG, written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.0, 5.0), dpi=120)
    ax = fig.add_subplot()
    colours = {}
    for curve in result.curves:
        colour = colours.setdefault(curve.name, f"C{len(colours) % 10}")
        style = "-o" if curve.kind == "fixed" else "--s"
        label = f"{curve.name} ({'fixed step' if curve.kind == 'fixed' else 'adaptive'})"
        ax.plot(curve.nfev, curve.log_error, style, color=colour, label=label, markersize=4)
    ax.set_xscale("log")
    ax.set_xlabel("function evaluations per problem")
    ax.set_ylabel("mean log10 relative error at t_end")
    ax.set_title(title or f"Work-precision on {result.n_problems} problems")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return atomic_write_bytes(path, buf.getvalue())
