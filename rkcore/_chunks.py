"""Where a dataset's reference solves run: an executor, a pool of processes, or this process.

Kept apart from :mod:`rkcore.datasets` (what a dataset is) so that how the work is spread can
change without touching the dataset definition.  Each chunk is solved on its own, so the
result is the same whichever way it ran.
"""

from __future__ import annotations

import multiprocessing
import os
import warnings
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from typing import Any

__all__ = ["in_daemon", "solve_chunks"]


def in_daemon() -> bool:
    """Whether this process is a daemon (a Dask worker, a pool worker), which may not start children."""
    return bool(multiprocessing.current_process().daemon)


def solve_chunks(
    task: Callable[..., Any],
    pending: list,
    args: Callable[[Any], tuple],
    store: Callable[[Any, Any], None],
    bar: Any,
    workers: int | None,
    executor: Executor | None,
) -> None:
    """Run ``task(*args(chunk))`` for every chunk of ``pending`` and ``store(chunk, result)``.

    Where the work runs: on ``executor`` when one is given (any
    :class:`concurrent.futures.Executor`, e.g. a Dask ``Client.get_executor()``, so the chunks
    spread over a cluster); else in a pool of ``workers`` spawned processes (default
    ``os.cpu_count()``); else -- one worker, or a daemonic process such as a Dask worker, which
    may not have children -- here, one chunk after the other.  Solved chunks are removed from
    ``pending``; ``bar.update(hi - lo)`` counts the problems of each ``(name, lo, hi)`` chunk.

    ``task`` must be a module-level function (it is pickled to the workers).
    """
    if executor is not None:
        _solve_on(executor, task, pending, args, store, bar)
        return
    n_workers = 1 if in_daemon() else min(workers or os.cpu_count() or 1, len(pending))
    if n_workers > 1:
        try:
            # "spawn": a forked child could inherit numba/OpenMP threads of the caller and hang.
            with ProcessPoolExecutor(n_workers, mp_context=get_context("spawn")) as pool:
                _solve_on(pool, task, pending, args, store, bar)
        except BrokenProcessPool as exc:
            # E.g. a script without an ``if __name__ == "__main__":`` guard; same result serially.
            message = f"worker processes failed ({exc}); solving in this process"
            warnings.warn(message, RuntimeWarning, stacklevel=4)
    for chunk in list(pending):
        store(chunk, task(*args(chunk)))
        pending.remove(chunk)
        bar.update(chunk[2] - chunk[1])


def _solve_on(executor: Executor, task, pending: list, args, store, bar) -> None:
    """Submit every chunk to ``executor``; store the results as they come."""
    futures = {executor.submit(task, *args(chunk)): chunk for chunk in pending}
    try:
        for future in as_completed(futures):
            chunk = futures[future]
            store(chunk, future.result())
            pending.remove(chunk)
            bar.update(chunk[2] - chunk[1])
    except BaseException:
        # Ctrl-C or SIGTERM: wait only for the chunks already running, not the queue.
        for future in futures:
            future.cancel()
        raise
