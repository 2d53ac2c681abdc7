"""Fixed benchmark sets of ODE problems with references: for reporting, never for training.

A :class:`ProblemSet` is a named tuple of :class:`~rkcore.problems.base.FixedProblem` values (one
right-hand side, one parameter vector, one initial value and interval each).  Its
:meth:`~ProblemSet.split` is an ordinary :class:`~rkcore.datasets.Split`, one group per problem in
the set's order, so whatever scores a dataset split scores a problem set with the same metric
definitions: ``rkcore.evaluate.evaluate(tableaux, rkcore.detest_problems(), n_steps)`` reports
accuracy and efficiency per problem and overall (stability is NaN, the sets here being non-stiff).
Nothing in ``rkml`` draws from a problem set: it measures, it is not optimised against.

References (``ProblemGroup.ref_method``, relative max-norm error estimate ``ref_error``):

``"exact"``
    The problem's closed form, with the error estimate of :func:`rkcore.reference.reference_solution`
    (the closed form composed through the midpoint).
``"DOP853"``
    ``scipy.integrate.solve_ivp(method="DOP853", rtol=2.5e-14, atol=1e-14 max(1, |y0|_inf))``, just
    above the 100 eps that scipy accepts.  Error estimate: the distance to an independent solve,
    rkcore's fixed-step ``verner65`` with :data:`CHECK_STEPS` steps.  On DETEST that check is within
    9e-14 of 30-digit Taylor-series solutions (B1, E2, E3) and of the published end values (C5), so
    the estimate is the DOP853 error to within 15 % where that error is large (B1: 5.5e-13 for an
    error of 6.4e-13; E3: 5.1e-13 for 5.8e-13) and stays below 2e-14 where it is small (C5, E2).  A
    second DOP853 solve at ``rtol=1e-13`` would understate B1's error five-fold.

A set's references take a few seconds to compute (DETEST: 3 s on 2 cores, 15 s the first time, while
numba compiles the right-hand sides into its disk cache) and are kept for the life of the process;
they are not written to disk.

Registry: :data:`PROBLEM_SETS` (``"detest"``), :func:`get_problem_set`, :func:`detest_problems`.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
from collections.abc import Mapping
from types import MappingProxyType

import numpy as np

from .datasets import ProblemGroup, Split
from .errors import RKInputError
from .integrate import _solve_fixed_blocks
from .library import method
from .problems.base import FixedProblem
from .reference import _solve, reference_solution, relative_error, spectral_radius

REFERENCE_RTOL = 2.5e-14
CHECK_METHOD = "verner65"
CHECK_STEPS = 8192
"""Steps of the fixed-step check of a DOP853 reference.  On DETEST B1, C5, E2, E3 its error is at the
rounding level (1e-14 to 9e-14) from about 4000 to 16000 steps; at 2000 the order-6 truncation error
still shows (up to 7e-12)."""


@dataclasses.dataclass(frozen=True, eq=False)
class ProblemSet:
    """A named, fixed list of problems, scored like a dataset split but never trained on.

    Attributes
    ----------
    name : str
        Registry key (``"detest"``).
    problems : tuple of FixedProblem
        In report order; names are unique.
    default_steps : int
        Fixed steps per problem when the caller gives none (see the set's description).
    description : str
        What the set is, where it comes from and why ``default_steps``.
    """

    name: str
    problems: tuple[FixedProblem, ...]
    default_steps: int
    description: str = ""

    def __post_init__(self) -> None:
        problems = tuple(self.problems)
        if not problems or not all(isinstance(p, FixedProblem) for p in problems):
            raise RKInputError(f"ProblemSet {self.name!r} needs one or more FixedProblem values")
        names = [p.name for p in problems]
        if len(set(names)) != len(names):
            raise RKInputError(f"ProblemSet {self.name!r} names a problem twice: {names}")
        steps = self.default_steps
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
            raise RKInputError(f"ProblemSet.default_steps must be a positive integer, got {steps!r}")
        object.__setattr__(self, "problems", problems)
        object.__setattr__(self, "default_steps", int(steps))

    def __repr__(self) -> str:
        return f"ProblemSet({self.name!r}, {len(self.problems)} problems, default_steps={self.default_steps})"

    @property
    def names(self) -> tuple[str, ...]:
        """Problem names, in order."""
        return tuple(p.name for p in self.problems)

    def problem(self, name: str) -> FixedProblem:
        """The problem called ``name``."""
        for p in self.problems:
            if p.name == name:
                return p
        raise RKInputError(
            f"problem set {self.name!r} has no problem {name!r}; it has {', '.join(self.names)}"
        )

    def split(self) -> Split:
        """Every problem with its reference: a :class:`~rkcore.datasets.Split` of one group per problem.

        Computed on the first call (a few seconds) and kept for the life of the process.
        """
        return _split(self)


@functools.cache
def _split(problem_set: ProblemSet) -> Split:
    groups = []
    for index, problem in enumerate(problem_set.problems):
        y_ref, error, ref_method = problem_reference(problem)
        family, y0, params = problem.family, problem.y0[None], problem.params[None]
        groups.append(
            ProblemGroup(
                family=family,
                y0=y0,
                params=params,
                y_ref=y_ref[None],
                t0=problem.t0,
                t1=problem.t1,
                ref_error=np.array([error]),
                index=np.array([index]),
                rho=spectral_radius(family, problem.t0, y0, params),
                ref_method=ref_method,
            )
        )
    return Split(tuple(groups))


def problem_reference(problem: FixedProblem) -> tuple[np.ndarray, float, str]:
    """Reference of one problem at ``t1`` (module docstring).

    Returns
    -------
    y : ndarray, shape (d,)
    error : float
        Relative max-norm error estimate of ``y``.
    method : {"exact", "DOP853"}
    """
    family, t0, t1 = problem.family, problem.t0, problem.t1
    y0, params = problem.y0[None], problem.params[None]
    if family.has_exact:
        ref = reference_solution(family, y0, params, t0, t1)
        return ref.y[0], float(ref.error[0]), "exact"
    y = _solve(family, problem.y0, problem.params, t0, t1, "DOP853", REFERENCE_RTOL, 0)
    check = _solve_fixed_blocks(method(CHECK_METHOD), family.rhs_block, y0, params, t0, t1, CHECK_STEPS)
    if check.status[0] != 0:
        raise RuntimeError(f"the {CHECK_METHOD} check of problem {problem.name!r} did not stay bounded")
    error = max(float(relative_error(y[None], check.y)[0]), float(np.finfo(float).eps))
    return y, error, "DOP853"


# --------------------------------------------------------------------------- registry


DETEST_DEFAULT_STEPS = 200
"""Fixed steps over [0, 20] for DETEST when none are given (h = 0.1; RK4's budget is 800 evaluations).

DETEST mixes problems that decay to a steady state (B2, C2: rk4, dopri5 and verner65 are at the
1e-14 floor by 500 steps) with eccentric orbits (D4, D5: at the error cap
below 200-1000 steps).  Measured over 100..500 steps, 150-250 keep the most problems informative
for every library method of order 2 to 6 (heun, bs3, rk4, rkf45, cashkarp, dopri5, tsit5,
verner65: 20 to 24 of the 25 with errors more than a factor 2 from both the floor and the cap);
at 1000 steps only 15 and 14 are for dopri5 and verner65 (the rest mostly at the floor), at 100
D4 and D5 are at the cap for all of them.
"""


def _detest() -> ProblemSet:
    from .problems.detest import DETEST_PROBLEMS

    return ProblemSet(
        name="detest",
        problems=DETEST_PROBLEMS,
        default_steps=DETEST_DEFAULT_STEPS,
        description=(
            "The 25 non-stiff DETEST problems A1-E5 on [0, 20] (Hull, Enright, Fellen & Sedgwick 1972; "
            "Enright & Pryce 1987, ACM TOMS Algorithm 648); see rkcore.problems.detest."
        ),
    )


DETEST = _detest()
"""The non-stiff DETEST problems A1..E5 (:mod:`rkcore.problems.detest`)."""

PROBLEM_SETS: Mapping[str, ProblemSet] = MappingProxyType({DETEST.name: DETEST})


def get_problem_set(name: str) -> ProblemSet:
    """The problem set registered as ``name``.

    Raises
    ------
    RKInputError
        Unknown name; the message suggests the closest registered one.
    """
    try:
        return PROBLEM_SETS[name]
    except (KeyError, TypeError):
        pass
    close = difflib.get_close_matches(str(name), list(PROBLEM_SETS), n=1, cutoff=0.0)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise RKInputError(f"unknown problem set {name!r}{hint} (see rkcore.problem_sets.PROBLEM_SETS)")


def detest_problems() -> ProblemSet:
    """The non-stiff DETEST problem set (25 problems, classes A-E); score it with
    ``rkcore.evaluate.evaluate(tableaux, rkcore.detest_problems(), n_steps)``."""
    return DETEST
