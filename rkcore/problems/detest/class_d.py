"""DETEST class D: orbit equations D1--D5 (Hull, Enright, Fellen & Sedgwick 1972).

The two-body problem ``q'' = -q / |q|^3`` in the plane, ``y = (q1, q2, q1', q2')``, started at
pericentre: ``y(0) = (1 - e, 0, 0, sqrt((1 + e)/(1 - e)))`` with eccentricity ``e`` = 0.1, 0.3,
0.5, 0.7, 0.9 for D1..D5 (period ``2 pi``; as in ACM TOMS Algorithm 648, Enright & Pryce 1987).
The right-hand sides and the closed form (Kepler's equation solved by Newton, Lagrange's f and g)
are those of the ``kepler`` family, with ``params = (mu, e) = (1, e)``.
"""

from __future__ import annotations

import math

from ..base import fixed_problem
from ..dynamics import KEPLER
from ._common import T_END

ECCENTRICITIES = (0.1, 0.3, 0.5, 0.7, 0.9)

CLASS_D = tuple(
    fixed_problem(
        f"D{i}",
        KEPLER.rhs,
        KEPLER.rhs_block,
        [1.0 - e, 0.0, 0.0, math.sqrt((1.0 + e) / (1.0 - e))],
        T_END,
        params=(1.0, e),
        param_names=KEPLER.param_names,
        exact=KEPLER.exact,
        description=f"q'' = -q/|q|^3 in the plane from pericentre, eccentricity {e:g}",
    )  # fmt: skip
    for i, e in enumerate(ECCENTRICITIES, start=1)
)
