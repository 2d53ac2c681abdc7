"""Small samplers shared by the family modules (draw order is part of each family's contract)."""

from __future__ import annotations

import numpy as np


def uniform(rng: np.random.Generator, lo: float, hi: float, n: int) -> np.ndarray:
    """``n`` draws uniform on ``[lo, hi)``, shape (n,)."""
    return rng.uniform(lo, hi, size=n)


def loguniform(rng: np.random.Generator, lo: float, hi: float, n: int) -> np.ndarray:
    """``n`` draws whose logarithm is uniform on ``[log lo, log hi)``, shape (n,)."""
    return np.exp(rng.uniform(np.log(lo), np.log(hi), size=n))


def signed(rng: np.random.Generator, lo: float, hi: float, n: int) -> np.ndarray:
    """``n`` draws with magnitude uniform on ``[lo, hi)`` and a random sign, shape (n,).

    Keeps components away from zero so that relative errors stay meaningful.
    """
    magnitude = rng.uniform(lo, hi, size=n)
    sign = np.where(rng.random(size=n) < 0.5, -1.0, 1.0)
    return magnitude * sign


def pack(*columns: np.ndarray) -> np.ndarray:
    """Stack (n,) columns into a contiguous float64 (n, len(columns)) array."""
    return np.ascontiguousarray(np.stack(columns, axis=1), dtype=np.float64)
