"""Scoped control of thread counts: numba's (the one place that changes it) and OpenBLAS's."""

from __future__ import annotations

import contextlib
import ctypes
from collections.abc import Iterator

import numba

# (getter, setter) symbol pairs of the OpenBLAS builds numpy and scipy ship
_OPENBLAS_SYMBOLS = (
    ("openblas_get_num_threads", "openblas_set_num_threads"),
    ("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
    ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"),
)


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


def _loaded_openblas() -> list[tuple[ctypes._CFuncPtr, ctypes._CFuncPtr]]:
    """Thread-count controls of every OpenBLAS loaded in this process (Linux; empty elsewhere)."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower()}
    except OSError:
        return []
    controls = []
    for path in sorted(p for p in paths if p.startswith("/")):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for get_name, set_name in _OPENBLAS_SYMBOLS:
            getter, setter = getattr(lib, get_name, None), getattr(lib, set_name, None)
            if getter is not None and setter is not None:
                getter.restype = ctypes.c_int
                controls.append((getter, setter))
                break
    return controls


@contextlib.contextmanager
def blas_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` OpenBLAS threads in every loaded OpenBLAS, restoring the counts.

    For small dense problems (eigenvalues of ``s x s`` matrices, ``s`` up to a few hundred)
    worker threads gain nothing, and on a busy machine they slow such solves down 10-100x.
    A no-op where OpenBLAS cannot be found (another BLAS, another OS).
    """
    controls = _loaded_openblas()
    previous = [getter() for getter, _ in controls]
    for _, setter in controls:
        setter(int(n))
    try:
        yield
    finally:
        for (_, setter), count in zip(controls, previous, strict=True):
            setter(count)
