"""The ODE problem-family type: one source of truth for every built-in family.

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
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import RKInputError


# eq=False: a family is compared and hashed by identity (its fields hold dicts and numba
# dispatchers), so it can key a dict; the registry holds exactly one of each.
@dataclasses.dataclass(frozen=True, eq=False)
class Family:
    """A parametrised ODE family.

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
        Right-hand sides, see the module docstring.
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
    rhs_block: Any
    sample: Callable[[np.random.Generator, int], tuple[np.ndarray, np.ndarray]]
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

    def __reduce__(self):
        # A registered family unpickles as the registry's object, so identity survives
        # process boundaries (dataset workers, dask); any other family by its fields.
        from . import FAMILIES

        if FAMILIES.get(self.name) is self:
            return (_registered_family, (self.name,))
        return (Family, tuple(getattr(self, f.name) for f in dataclasses.fields(self)))

    @property
    def has_exact(self) -> bool:
        """Whether a closed-form solution is available."""
        return self.exact is not None


def _registered_family(name: str) -> Family:
    """Unpickling hook: the registry's family called ``name``."""
    from . import get_family

    return get_family(name)
