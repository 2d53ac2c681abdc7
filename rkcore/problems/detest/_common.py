"""Constants shared by the DETEST class modules."""

from __future__ import annotations

T_END = 20.0
"""End of the interval of every DETEST problem; all start at ``t0 = 0`` (Hull et al. 1972, Table 1)."""
