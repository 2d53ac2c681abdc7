"""Calibrated scoring: a step count per problem, and the stiff part of each problem's spectrum.

Why.  Scoring every problem at one fixed step count over a short horizon puts most errors of
order-5 methods at the reference floor (about 1e-13), where they say nothing, while stiff
problems either blow up or not at that one step size -- one bit each.  A :class:`ScoringPlan`
fixes both, once per dataset:

Each problem is scored by what limits an explicit method's step on it: accuracy on the
non-stiff problems, stability on the stiff ones.

Step counts (accuracy and efficiency, non-stiff problems)
    For each non-stiff problem ``j`` the *baseline step count* ``n_j`` is the smallest level of
    the geometric ladder :data:`LADDER` (1, 2, 3, 4, 6, 8, 11, 16, ... about sqrt(2) apart, at
    most :data:`N_MAX`) at which RK4 stays bounded and its relative error at ``t_end`` is at
    most ``target_error`` (default 1e-6).  Every compared method is then run at ``n_j`` steps
    (accuracy) and with RK4's budget of ``4 n_j`` evaluations (efficiency,
    :func:`rkcore.metrics.equal_work_bracket`), so their errors fall where users work (about
    1e-3 to 1e-11) instead of at the floor or the cap.  RK4's own error at ``n_j`` lies between
    ``target_error / 4`` and ``target_error`` (one ladder step is a factor of about 4 for a
    fourth-order method), except where ``N_MAX`` steps do not reach it (``n_unreached``) or
    one step already does (easy problems).

Stiff spectrum (stability, stiff problems)
    On a stiff problem an explicit method's step is set by stability, not accuracy: it must
    keep ``h * lambda`` inside its stability region for the stiff eigenvalues, and at such
    steps the error of any stable method is small.  So stiff problems are not integrated (a
    stable integration costs ``rho * t_end / beta`` steps, hundreds here, and says little);
    they are scored by their spectrum.  The eigenvalues ``lambda`` of the Jacobian at
    ``(t0, y0)`` and at ``(t_end, y_ref)`` (central differences, as for the stiffness measure
    ``rho``, which is the spectral radius at ``y0``) are reduced to the *stiff part*: the
    eigenvalues within a factor 10 of the largest, in the closed left half-plane (growing modes
    cannot be damped by any method).  Each is stored by its direction -- the
    angle ``phi`` from the negative real axis, rounded to :data:`N_DIRECTIONS` directions 1
    degree apart (conjugates coincide) -- and its size ``u = |lambda| / rho``.  The largest
    step ``h`` at which every such ``h * lambda`` lies in the tableau's stability region (the
    first exit along each ray, :func:`ray_limits`) gives the stability metric of
    :mod:`rkcore.metrics`: ``sigma = h_max * rho / w`` -- the largest linearly stable step per
    function evaluation in units of ``1 / rho``.  For a real negative spectrum it equals the
    real stability interval per evaluation, ``beta_R / w``; it varies continuously with the
    coefficients, and a nearly stable tableau scores nearly as well as a stable one.  That the
    linearisation at ``y0`` predicts what the integration does is checked in the tests
    (``tests/test_calibration.py``: runs just below ``h_max`` stay bounded, runs well above it
    blow up).

The plan belongs to one dataset: its arrays are indexed by a problem's position in the dataset
(``ProblemGroup.index``), and :func:`plan_rows` checks each problem's stiffness measure against
the split's before using them.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from numba import njit, prange

from ._stages import stage_abs
from .errors import RKInputError

TARGET_ERROR = 1e-6
"""Default RK4 error at a problem's calibrated step count."""

N_MIN = 1
"""Fewest baseline steps (below one step at equal work the error is extrapolated, see metrics)."""

N_MAX = 4096
"""Most baseline steps a problem is calibrated to."""


def _ladder(n_min: int, n_max: int) -> tuple[int, ...]:
    levels = []
    k = 0
    while True:
        n = int(math.floor(n_min * 2.0 ** (k / 2) + 0.5))
        if n > n_max:
            break
        if not levels or n > levels[-1]:
            levels.append(n)
        k += 1
    return tuple(levels)


LADDER = _ladder(N_MIN, N_MAX)
"""Baseline step counts a problem can be calibrated to: 1, 2, 3, 4, 6, 8, 11, 16, ... (ratio sqrt(2))."""

STIFF_STEPS = 1
"""Placeholder step count of stiff problems, which are not integrated (see the module docstring)."""

N_DIRECTIONS = 91
"""Directions of the stiff spectrum: angles 0, 1, ..., 90 degrees from the negative real axis."""

STIFF_PART = 0.1
"""Eigenvalues within this factor of the largest (at either end) form the stiff part of a spectrum."""


@dataclasses.dataclass(frozen=True, eq=False)
class ScoringPlan:
    """Per-problem baseline step counts and stiff spectra of one dataset (module docstring).

    Attributes
    ----------
    target_error : float
        RK4's relative error aimed at by the step counts; NaN for a fixed-step plan.
    steps : ndarray of int64, shape (n_dataset,)
        Baseline step count ``n_j`` of each problem (by position in the dataset);
        :data:`STIFF_STEPS` on stiff problems, which are not integrated.
    rho : ndarray, shape (n_dataset,)
        The problems' stiffness measure ``rho`` (a fingerprint of the problems, checked by
        :func:`plan_rows`); NaN at positions the plan was not made for.
    directions : ndarray of int64, shape (n_dataset, K)
        Direction index (0 .. N_DIRECTIONS - 1) of each stiff eigenvalue kept; -1 pads, and
        non-stiff problems have none.
    sizes : ndarray, shape (n_dataset, K)
        ``|lambda| / rho`` of each kept eigenvalue (0 where padded).
    n_unreached : int
        Non-stiff problems where RK4 does not reach ``target_error`` within ``LADDER[-1]`` steps.
    stiff : ndarray of bool, shape (n_dataset,)
    """

    target_error: float
    steps: np.ndarray
    rho: np.ndarray
    directions: np.ndarray
    sizes: np.ndarray
    n_unreached: int
    stiff: np.ndarray

    def to_dict(self) -> dict:
        """Target and step counts of the integrated (non-stiff) problems, and the stiff count."""
        present = np.isfinite(self.rho)  # a plan of one split leaves the other positions empty
        steps = self.steps[present & ~self.stiff]
        levels, counts = np.unique(steps, return_counts=True)
        return {
            "target_error": None if math.isnan(self.target_error) else self.target_error,
            "n_problems": int(np.count_nonzero(present)),
            "n_stiff": int(np.count_nonzero(self.stiff)),
            "n_unreached": self.n_unreached,
            "steps_median": float(np.median(steps)) if steps.size else None,
            "steps_histogram": {str(int(n)): int(c) for n, c in zip(levels, counts, strict=True)},
        }


def check_target_error(target_error) -> float:
    """``target_error`` as a float in [1e-12, 0.1], else an RKInputError naming it."""
    if isinstance(target_error, bool) or not isinstance(target_error, (int, float)):
        raise RKInputError(f"target_error must be a number, got {target_error!r}")
    t = float(target_error)
    if not (1e-12 <= t <= 1e-1):
        raise RKInputError(f"target_error = {t:g} is outside [1e-12, 0.1]; pick e.g. 1e-6")
    return t


def make_plan(data, target_error: float | None = TARGET_ERROR, n_steps: int | None = None) -> ScoringPlan:
    """Calibrate every problem of ``data`` (module docstring): RK4 runs and Jacobian spectra.

    Parameters
    ----------
    data : rkcore.datasets.Dataset or Split
        The plan is indexed by dataset position, so it serves every split of the dataset.
    target_error : float, optional
        In [1e-12, 0.1]; RK4's error at each problem's step count.
    n_steps : int, optional
        Instead of a target error: the same fixed step count for every non-stiff problem.

    Returns
    -------
    ScoringPlan
    """
    from .datasets import Dataset, Split

    if isinstance(data, Dataset):
        data = data.all
    if not isinstance(data, Split):
        raise RKInputError(f"make_plan needs an rkcore Dataset or Split, got {type(data).__name__}")
    if data.n_problems == 0:
        raise RKInputError("the split has no problems; build the dataset with more problems")
    if (n_steps is None) == (target_error is None):
        raise RKInputError("give exactly one of target_error and n_steps")
    n_total = 1 + max(int(g.index.max()) for g in data.groups if g.n)
    rho = np.full(n_total, np.nan)
    for g in data.groups:
        rho[g.index] = g.rho
    if n_steps is not None:
        if isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or n_steps < 1:
            raise RKInputError(f"n_steps must be a positive integer, got {n_steps!r}")
        steps = np.full(n_total, int(n_steps), dtype=np.int64)
        target, unreached = math.nan, 0
    directions, sizes = _stiff_spectra(data, n_total)
    if n_steps is None:
        target = check_target_error(target_error)
        steps = np.full(n_total, LADDER[-1], dtype=np.int64)
        unreached = _calibrate_steps(data, target, steps, LADDER)
    stiff = np.zeros(n_total, dtype=bool)
    for g in data.groups:
        if g.family.stiff:
            steps[g.index] = STIFF_STEPS
            stiff[g.index] = True
    return ScoringPlan(target, steps, rho, directions, sizes, unreached, stiff)


def _calibrate_steps(split, target: float, steps: np.ndarray, ladder) -> int:
    """Walk the ladder up, each round running RK4 on the non-stiff problems not yet settled."""
    from .datasets import Split
    from .evaluate import prepare_split, score_tableaux
    from .library import method

    rk4 = method("rk4")
    groups = [g for g in split.groups if g.n and not g.family.stiff]
    for n in ladder:
        if not groups:
            break
        prepared = prepare_split(Split(tuple(groups)))
        run = score_tableaux(rk4.A[None], rk4.b[None], prepared, n)
        done = (run.status[0] == 0) & (run.error[0] <= target)
        steps[prepared.index[done]] = n
        remaining = [g.take(np.flatnonzero(~done[pg.start : pg.start + pg.n]))
                     for g, pg in zip(groups, prepared.groups, strict=True)]  # fmt: skip
        groups = [g for g in remaining if g.n]
    return sum(g.n for g in groups)


def _stiff_spectra(split, n_total: int) -> tuple[np.ndarray, np.ndarray]:
    from .reference import jacobian_eigenvalues

    rows: dict[int, dict[int, float]] = {}
    for g in split.groups:
        if not g.family.stiff:
            continue
        # The spectrum at both ends of the interval: on nonlinear problems (Robertson) the stiff
        # eigenvalue grows after t0, and a step stable at y0 alone blows up later.
        lam = np.concatenate([jacobian_eigenvalues(g.family, g.t0, g.y0, g.params),
                              jacobian_eigenvalues(g.family, g.t1, g.y_ref, g.params)], axis=1)  # fmt: skip
        mag = np.abs(lam)
        top = np.maximum(mag.max(axis=1), np.finfo(np.float64).tiny)
        # rho as the stiffness measure defines it: the spectral radius at y0.
        rho = np.maximum(mag[:, : g.family.dim].max(axis=1), np.finfo(np.float64).tiny)
        phi = np.arctan2(np.abs(lam.imag), -lam.real)
        keep = (mag >= STIFF_PART * top[:, None]) & (phi <= np.pi / 2 + 1e-12)
        direction = np.rint(np.minimum(phi, np.pi / 2) / (np.pi / 2) * (N_DIRECTIONS - 1)).astype(np.int64)
        for r in range(g.n):
            entry: dict[int, float] = {}
            for k in np.flatnonzero(keep[r]):
                u = float(mag[r, k] / rho[r])
                entry[int(direction[r, k])] = max(entry.get(int(direction[r, k]), 0.0), u)
            rows[int(g.index[r])] = entry
    width = max([len(e) for e in rows.values()] + [1])
    directions = np.full((n_total, width), -1, dtype=np.int64)
    sizes = np.zeros((n_total, width))
    for i, entry in rows.items():
        for c, (k, u) in enumerate(sorted(entry.items())):
            directions[i, c] = k
            sizes[i, c] = u
    return directions, sizes


@dataclasses.dataclass(frozen=True, eq=False)
class PlanRows:
    """The plan's values for the problems of one prepared split, in its problem order."""

    steps: np.ndarray
    directions: np.ndarray
    sizes: np.ndarray
    target_error: float


def plan_rows(plan: ScoringPlan, index: np.ndarray, rho: np.ndarray) -> PlanRows:
    """Look up the problems at dataset positions ``index``, checking their ``rho`` fingerprints."""
    if not isinstance(plan, ScoringPlan):
        raise RKInputError(f"plan must be an rkcore.calibration.ScoringPlan, got {type(plan).__name__}")
    index = np.asarray(index, dtype=np.int64)
    if index.size and (index.min() < 0 or index.max() >= plan.steps.size):
        raise RKInputError("the scoring plan was made for another dataset (problem index out of range)")
    if not np.allclose(plan.rho[index], rho, rtol=1e-9, atol=0.0, equal_nan=True):
        raise RKInputError("the scoring plan was made for another dataset (problems differ); make it again")
    return PlanRows(plan.steps[index], plan.directions[index], plan.sizes[index], plan.target_error)


# ----------------------------------------------------------------------------- stability along rays


def direction_angles() -> np.ndarray:
    """Angle from the negative real axis of each direction index, radians, shape (N_DIRECTIONS,)."""
    return np.linspace(0.0, np.pi / 2, N_DIRECTIONS)


@njit(parallel=True, cache=True)
def _ray_limits(A, b, cos_phi, sin_phi, t_max, out):
    T = A.shape[0]
    s = A.shape[1]
    D = cos_phi.shape[0]
    for pair in prange(T * D):
        q = pair // D
        k = pair % D
        Kr = np.empty(s)
        Ki = np.empty(s)
        xr = -cos_phi[k]
        xi = sin_phi[k]
        lo = 0.0
        hi = -1.0
        t = 0.05
        # March outwards in 3 % steps until |R| first exceeds 1, then bisect the bracket.  Near
        # the origin R(z) = e^z + O(z^{p+1}) is inside the unit disc for Re z < 0, so an exit
        # below 0.05 (rays close to the imaginary axis) is found by bisecting [0, 0.05].
        while t <= t_max:
            if stage_abs(A[q], b[q], t * xr, t * xi, Kr, Ki) > 1.0 + 1e-12:
                hi = t
                break
            lo = t
            t = t * 1.03
        if hi < 0.0:
            out[q, k] = t_max
            continue
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            if stage_abs(A[q], b[q], mid * xr, mid * xi, Kr, Ki) > 1.0 + 1e-12:
                hi = mid
            else:
                lo = mid
            if hi - lo <= 1e-12 * hi:
                break
        out[q, k] = lo


def ray_limits(A, b, directions=None) -> np.ndarray:
    """First exit ``t*`` of ``|R(t e^{i(pi - phi)})| <= 1`` along rays from the origin.

    The tableau is stable for ``h * lambda`` on the segment from 0 to ``t* e^{i(pi - phi)}``:
    a step ``h`` is linearly stable for an eigenvalue of size ``|lambda|`` in direction ``phi``
    when ``h |lambda| <= t*``.  ``R`` is evaluated by the stage recursion (well conditioned
    at any stage count); the ray is marched in 3 % steps from ``t = 0.05`` and the first exit
    bisected to 1e-12 relative, so an unstable sliver narrower than 3 % of its distance from
    the origin can be missed (none is, for the library methods: the tests compare the real and
    imaginary axes with :mod:`rkcore.stability`).  At most ``t_max = 2 s^2 + 2`` (no explicit
    ``s``-stage method is stable on a longer real interval).

    Parameters
    ----------
    A : array_like, shape (T, s, s); b : array_like, shape (T, s)
    directions : array_like of int, optional
        Direction indices into :func:`direction_angles`; default all.

    Returns
    -------
    ndarray, shape (T, n_directions)
    """
    A = np.ascontiguousarray(A, dtype=np.float64)
    b = np.ascontiguousarray(b, dtype=np.float64)
    if A.ndim != 3 or b.shape != A.shape[:2]:
        raise RKInputError(f"A must be (T, s, s) and b (T, s), got {A.shape} and {b.shape}")
    phi = direction_angles()
    if directions is not None:
        phi = phi[np.asarray(directions, dtype=np.int64)]
    s = A.shape[1]
    out = np.empty((A.shape[0], phi.size))
    if phi.size:
        _ray_limits(A, b, np.cos(phi), np.sin(phi), 2.0 * s * s + 2.0, out)
    return out


SIGMA_FLOOR = 1e-6
"""Smallest stable step per evaluation counted (a tableau unstable along a ray scores this)."""


def stable_step_per_evaluation(A, b, evals_per_step, directions: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """``sigma_qj = min_k t*_q(direction_jk) / size_jk / w_q`` (module docstring), shape (T, n).

    Parameters
    ----------
    A : ndarray, shape (T, s, s); b : ndarray, shape (T, s)
    evals_per_step : ndarray, shape (T,)
    directions, sizes : ndarray, shape (n, K)
        From :class:`PlanRows` (-1 pads).  Rows without an entry get NaN.
    """
    used = np.unique(directions[directions >= 0])
    T = np.asarray(b).shape[0]
    n = directions.shape[0]
    sigma = np.full((T, n), np.nan)
    if used.size == 0:
        return sigma
    limits = ray_limits(A, b, used)  # (T, len(used))
    col = np.searchsorted(used, np.where(directions >= 0, directions, used[0]))
    with np.errstate(divide="ignore"):
        per = limits[:, col] / np.where(directions >= 0, sizes, np.inf)[None]  # (T, n, K)
    per = np.where((directions >= 0)[None], per, np.inf)
    h_rho = per.min(axis=2)
    has = np.any(directions >= 0, axis=1)
    w = np.asarray(evals_per_step, dtype=np.float64)[:, None]
    sigma[:, has] = np.maximum(h_rho[:, has] / w, SIGMA_FLOOR)
    return sigma
