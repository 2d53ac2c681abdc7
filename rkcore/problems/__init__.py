"""Built-in ODE problem families and their registry.

``FAMILIES`` maps a family name to its :class:`~rkcore.problems.base.Family`, in a
stable order (non-stiff first, then stiff); :func:`get_family` looks one up by name.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from types import MappingProxyType

from ..errors import RKInputError
from .base import Family
from .dynamics import FITZHUGH_NAGUMO, KEPLER, LORENZ, LOTKA_VOLTERRA, RIGID_BODY
from .mol import BRUSSELATOR_1D, HEAT_1D
from .oscillators import (
    DAMPED_OSCILLATOR,
    DUFFING,
    EXPONENTIAL,
    FPU_CHAIN,
    HARMONIC,
    PENDULUM,
    VAN_DER_POL,
)
from .stiff import LINEAR_SPECTRUM, PROTHERO_ROBINSON, ROBERTSON, VAN_DER_POL_STIFF

_ALL = (
    EXPONENTIAL,
    HARMONIC,
    DAMPED_OSCILLATOR,
    PENDULUM,
    DUFFING,
    VAN_DER_POL,
    FPU_CHAIN,
    LOTKA_VOLTERRA,
    FITZHUGH_NAGUMO,
    LORENZ,
    KEPLER,
    RIGID_BODY,
    LINEAR_SPECTRUM,
    PROTHERO_ROBINSON,
    VAN_DER_POL_STIFF,
    ROBERTSON,
    BRUSSELATOR_1D,
    HEAT_1D,
)

FAMILIES: Mapping[str, Family] = MappingProxyType({f.name: f for f in _ALL})


def get_family(name: str) -> Family:
    """Return the family registered as ``name``.

    Raises
    ------
    RKInputError
        Unknown name; the message suggests the closest registered one.
    """
    try:
        return FAMILIES[name]
    except (KeyError, TypeError):
        pass
    close = difflib.get_close_matches(str(name), list(FAMILIES), n=1, cutoff=0.0)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise RKInputError(f"unknown problem family {name!r}{hint} (see rkcore.problems.FAMILIES)")


__all__ = ["FAMILIES", "Family", "get_family"]
