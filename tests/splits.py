"""Hand-built dataset splits from closed-form families, shared by the evaluator tests."""

from __future__ import annotations

import numpy as np

from rkcore.datasets import ProblemGroup, Split
from rkcore.problems import get_family

EXACT_FAMILIES = ("exponential", "harmonic", "kepler", "linear_spectrum", "prothero_robinson", "heat_1d")


def exact_split(n: int = 6, t1: float = 0.1, seed: int = 0, families=EXACT_FAMILIES) -> Split:
    """A split built by hand from families with closed-form solutions (no reference solver needed)."""
    rng = np.random.default_rng(seed)
    groups, start = [], 0
    for name in families:
        fam = get_family(name)
        params, y0 = fam.sample(rng, n)
        groups.append(
            ProblemGroup(
                family=fam,
                y0=y0,
                params=params,
                y_ref=fam.exact(t1, y0, params),
                t0=0.0,
                t1=t1,
                ref_error=np.full(n, 1e-15),
                index=np.arange(start, start + n),
                rho=np.zeros(n),
                ref_method="exact",
            )
        )
        start += n
    return Split(groups=tuple(groups))
