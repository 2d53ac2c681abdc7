"""The ODE problem types: a parametrised family, and one fixed problem of a benchmark set.

A family is a parametrised ODE ``y' = f(t, y; p)`` with ``y`` of dimension ``dim``
and ``p`` of length ``n_params``.  Each family provides two numba-jitted right-hand
sides with the same mathematics:

* ``rhs(t, y, p, dydt)`` -- one ODE: ``y`` (dim,), ``p`` (n_params,), writes ``dydt`` (dim,).
  This is the signature users also write for :func:`rkcore.solve_batch`.
* ``rhs_block(t, Y, P, dYdt)`` -- a block of ``m`` ODEs of the family laid out
  state-major: ``Y`` (dim, m), ``P`` (n_params, m), writes ``dYdt`` (dim, m).  The
  innermost loop runs over the ``m`` ODEs so that the compiler vectorises it.

Stiffness measure (documented per family in ``stiffness``): ``rho(J) * t_end`` where
``rho(J)`` is the spectral radius of the Jacobian along the solution (bounded by the
parameter ranges); a family is flagged ``stiff`` when this is large (>> 1) over its
documented parameter range and the horizons we use.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import RKInputError


# eq=False: a family is compared and hashed by identity (its fields hold dicts and numba
# dispatchers), so it can key a dict; the registry holds exactly one of each.
@dataclasses.dataclass(frozen=True, eq=False)
class Family:
    """A parametrised ODE family: the built-ins are values of this type, and so are yours.

    A family of your own is a module-level value in your own module, named in a dataset or a
    profile by its import path (``families = ["mypkg.advection:ADVECTION"]``) or by an entry
    point of the group ``rk_discovery.families`` (see :mod:`rkcore.problems.sources`)::

        @numba.njit
        def decay_rhs(t, y, p, dydt):          # y (1,), p (1,), writes dydt (1,)
            dydt[0] = -p[0] * y[0]

        def decay_sample(rng, n):               # (params (n, 1), y0 (n, 1)) from the seeded rng
            return rng.uniform(0.5, 2.0, (n, 1)), rng.uniform(1.0, 2.0, (n, 1))

        DECAY = rkcore.Family(name="decay", dim=1, n_params=1, stiff=False, rhs=decay_rhs,
                              sample=decay_sample, param_names=("lam",))

    Only ``name``, ``dim``, ``n_params``, ``stiff``, ``rhs`` and ``sample`` are required;
    ``rhs_block`` defaults to a compiled loop over ``rhs`` and ``exact`` (a closed form) to none,
    in which case references come from scipy (DOP853, or Radau for a stiff family).  ``sample``
    must draw only from the generator it is given, so that the dataset's seed fixes the problems.

    Attributes
    ----------
    name : str
        Registry key (``"van_der_pol"``, ``"linear_spectrum"``...).
    dim : int
        State dimension ``d``.
    n_params : int
        Parameter vector length ``k`` (at least 1; unused slots are zeros).
    stiff : bool
        Whether the family is stiff over its parameter ranges (see ``stiffness``).
    rhs, rhs_block : numba dispatchers
        Right-hand sides, see the module docstring.  ``rhs_block=None`` derives the block
        form from ``rhs`` (a loop over the columns, compiled on first use).
    sample : callable
        ``sample(rng: numpy.random.Generator, n: int) -> (params (n, k), y0 (n, d))``.
    exact : callable or None
        ``exact(t, y0 (n, d), params (n, k), t0=0.0) -> (n, d)`` closed-form solution at time ``t``.
    param_ranges : dict
        Documented ranges, e.g. ``{"mu": (0.1, 2.0)}``.  Keys that match entries of
        ``param_names`` (``fnmatch`` patterns such as ``"lam_*"`` allowed) bound the
        sampled parameter columns (the tests check this); other keys describe ``y0``.
    stiffness : str
        How stiff it is and why (the measure and its range).
    description : str
        The equations, one line.
    rho_range : tuple of float or None
        Range of the spectral radius of the Jacobian, ``rho(J)``, at the initial states
        that ``sample`` draws (checked by the tests); multiply by ``t_end`` for the
        stiffness measure.
    param_names : tuple of str
        Name of each entry of the parameter vector (length ``n_params``).
    """

    name: str
    dim: int
    n_params: int
    stiff: bool
    rhs: Any
    rhs_block: Any = None
    sample: Callable[[np.random.Generator, int], tuple[np.ndarray, np.ndarray]] | None = None
    exact: Callable[..., np.ndarray] | None = None
    param_ranges: dict[str, tuple[float, float]] = dataclasses.field(default_factory=dict)
    stiffness: str = ""
    description: str = ""
    rho_range: tuple[float, float] | None = None
    param_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.name or not self.name.isidentifier():
            raise RKInputError(f"Family.name must be a Python identifier, got {self.name!r}")
        if self.dim < 1:
            raise RKInputError(f"Family.dim must be >= 1 for {self.name!r}, got {self.dim}")
        if self.n_params < 1:
            raise RKInputError(f"Family.n_params must be >= 1 for {self.name!r}, got {self.n_params}")
        if self.param_names and len(self.param_names) != self.n_params:
            raise RKInputError(
                f"Family.param_names must have n_params={self.n_params} entries for {self.name!r}, "
                f"got {len(self.param_names)}"
            )
        if not callable(self.sample):
            raise RKInputError(
                f"Family.sample must be a function sample(rng, n) for {self.name!r}, got {self.sample!r}"
            )
        if self.rhs_block is None:
            from numba.core.dispatcher import Dispatcher

            if not isinstance(self.rhs, Dispatcher):
                raise RKInputError(
                    f"Family.rhs of {self.name!r} must be a @numba.njit function rhs(t, y, p, dydt), "
                    f"got {type(self.rhs).__name__}"
                )
            object.__setattr__(self, "rhs_block", _block_form(self.rhs))
            object.__setattr__(self, "_derived_block", True)

    def __reduce__(self):
        # A registered family unpickles as the registry's object, so identity survives
        # process boundaries (dataset workers, dask); any other family by its fields.
        from . import FAMILIES

        if FAMILIES.get(self.name) is self:
            return (_registered_family, (self.name,))
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        if getattr(self, "_derived_block", False):
            fields["rhs_block"] = None  # derived again on unpickling
        return (Family, tuple(fields.values()))

    @property
    def has_exact(self) -> bool:
        """Whether a closed-form solution is available."""
        return self.exact is not None


def _block_form(rhs: Any) -> Any:
    """A block right-hand side ``rhs_block(t, Y (d, m), P (k, m), dYdt (d, m))`` looping over ``rhs``.

    Compiled lazily for whatever arrays it meets (read-only ones included); ``rhs`` is called
    on the strided columns, which LLVM inlines.
    """
    from numba import njit

    @njit
    def rhs_block(t, Y, P, dYdt):
        for j in range(Y.shape[1]):
            rhs(t, Y[:, j], P[:, j], dYdt[:, j])

    return rhs_block


def _registered_family(name: str) -> Family:
    """Unpickling hook: the registry's family called ``name``."""
    from . import get_family

    return get_family(name)


# --------------------------------------------------------------------------- fixed problems


@dataclasses.dataclass(frozen=True, eq=False)
class FixedProblem:
    """One initial value problem with all its data fixed: ``y' = f(t, y; p)``, ``y(t0) = y0`` on ``[t0, t1]``.

    A member of a benchmark set (:class:`rkcore.problem_sets.ProblemSet`), such as DETEST A1.  Its
    ``family`` supplies the right-hand sides and the closed form (if any) and is a degenerate family:
    ``sample`` returns this one problem ``n`` times.  Build one with :func:`fixed_problem`.

    Attributes
    ----------
    family : Family
        ``family.name`` is the problem's name.
    y0 : ndarray, shape (d,)
    params : ndarray, shape (k,)
    t1 : float
    t0 : float
    """

    family: Family
    y0: np.ndarray
    params: np.ndarray
    t1: float
    t0: float = 0.0

    def __post_init__(self) -> None:
        name = self.family.name
        for field, size in (("y0", self.family.dim), ("params", self.family.n_params)):
            value = np.array(getattr(self, field), dtype=np.float64, copy=True)
            if value.shape != (size,) or not np.all(np.isfinite(value)):
                raise RKInputError(
                    f"FixedProblem.{field} of {name!r} must be {size} finite numbers, got {value!r}"
                )
            value.setflags(write=False)
            object.__setattr__(self, field, value)
        t0, t1 = float(self.t0), float(self.t1)
        if not (math.isfinite(t0) and math.isfinite(t1) and t1 > t0):
            raise RKInputError(
                f"FixedProblem {name!r} needs finite t0 < t1, got t0={self.t0!r}, t1={self.t1!r}"
            )
        object.__setattr__(self, "t0", t0)
        object.__setattr__(self, "t1", t1)

    def __repr__(self) -> str:
        return f"FixedProblem({self.name!r}, dim={self.family.dim}, t=[{self.t0:g}, {self.t1:g}])"

    @property
    def name(self) -> str:
        return self.family.name


def _repeat(y0: np.ndarray, params: np.ndarray, rng: np.random.Generator, n: int):
    """``sample`` of a fixed problem's family: the one problem ``n`` times, (params (n, k), y0 (n, d))."""
    return np.tile(params, (n, 1)), np.tile(y0, (n, 1))


def fixed_problem(
    name: str,
    rhs: Any,
    rhs_block: Any,
    y0: Sequence[float],
    t1: float,
    params: Sequence[float] = (0.0,),
    param_names: tuple[str, ...] = ("unused",),
    exact: Callable[..., np.ndarray] | None = None,
    description: str = "",
    t0: float = 0.0,
) -> FixedProblem:
    """A :class:`FixedProblem` and its (non-stiff) family, from the right-hand sides and the data.

    ``rhs``, ``rhs_block`` and ``exact`` follow the :class:`Family` conventions; ``exact`` must take
    any initial state, not only ``y0`` (the reference error estimate composes it through the midpoint).
    """
    y0 = np.array(y0, dtype=np.float64)
    params = np.array(params, dtype=np.float64)
    for value in (y0, params):
        value.setflags(write=False)  # the family's sample hands out copies of these
    family = Family(
        name=name,
        dim=int(y0.size),
        n_params=int(params.size),
        stiff=False,
        rhs=rhs,
        rhs_block=rhs_block,
        sample=functools.partial(_repeat, y0, params),
        exact=exact,
        stiffness="non-stiff",
        description=description,
        param_names=param_names,
    )
    return FixedProblem(family, y0, params, t1, t0)
