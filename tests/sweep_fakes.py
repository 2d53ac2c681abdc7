"""Module-level fake sweep tasks for tests/test_sweep.py (imported by the Dask worker processes).

The workers are spawned with the test process's ``sys.path``, so this module, beside the tests,
is importable there by name.
"""

from __future__ import annotations

import time


def timed_job(name: str, seconds: float) -> tuple[str, str, float, float]:
    """Sleep ``seconds``; return ``(name, worker address, start, end)`` (wall-clock times)."""
    from distributed import get_worker

    start = time.time()
    time.sleep(seconds)
    return name, get_worker().address, start, time.time()
