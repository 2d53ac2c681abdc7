"""rkcore: analysis and evaluation of Runge--Kutta methods (no torch needed).

Public API (each block is owned by one module; keep one source of truth):
"""

from __future__ import annotations

from .errors import RKInputError, TableauError
from .tableau import Tableau, load_tableau, save_tableau

__all__ = [
    "RKInputError",
    "TableauError",
    "Tableau",
    "load_tableau",
    "save_tableau",
]

# --- library (rkcore/library.py)

# --- analysis (rkcore/order.py, rkcore/stability.py)

# --- evaluator (rkcore/problems, rkcore/datasets.py, rkcore/integrate.py, rkcore/metrics.py)
