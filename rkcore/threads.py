"""Scoped control of numba's thread count (the one place that changes it)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numba


@contextlib.contextmanager
def numba_threads(n: int) -> Iterator[int]:
    """Run the block with ``n`` numba threads (clamped to ``[1, NUMBA_NUM_THREADS]``), restoring
    the previous count afterwards, also on error.  Yields the count in force."""
    # NUMBA_NUM_THREADS (fixed when numba loads) is the ceiling set_num_threads accepts.
    n = max(1, min(int(n), numba.config.NUMBA_NUM_THREADS))
    previous = numba.get_num_threads()
    numba.set_num_threads(n)
    try:
        yield n
    finally:
        numba.set_num_threads(previous)
