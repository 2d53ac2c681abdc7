"""SIGTERM stops a training run the way Ctrl-C does.

Python turns Ctrl-C (SIGINT) into :class:`KeyboardInterrupt`, which :func:`rkml.train.train`
catches to save a checkpoint and mark the run ``interrupted``.  SIGTERM -- what ``kill``, batch
schedulers at the end of a time limit and cluster managers send -- would instead end the
process on the spot and leave its manifest saying ``running`` for ever.  While
:func:`raise_on_sigterm` is in force, SIGTERM raises :class:`rkml.errors.RunInterrupted`, a
``KeyboardInterrupt``, so both signals take the same path.  Nothing here is module state: the
previous handler lives in the returned closure.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable

from .errors import RunInterrupted

__all__ = ["raise_on_sigterm"]


def raise_on_sigterm() -> Callable[[], None]:
    """Make SIGTERM raise :class:`~rkml.errors.RunInterrupted` in the main thread until undone.

    Call the returned function (in a ``finally``) to put the previous handler back.  Nothing is
    installed -- and the returned function does nothing -- outside the main thread (signal
    handlers can only be set from there; a Dask worker runs its tasks in other threads), or when
    SIGTERM is ignored or handled outside Python.  The first SIGTERM also puts the previous
    handler back, so a second one acts as before (by default: the process ends at once) should
    the interrupted run hang while saving its checkpoint.

    Returns
    -------
    callable
        ``restore()``: reinstate the handler found on entry; safe to call more than once.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.getsignal(signal.SIGTERM)
    if previous is None or previous is signal.SIG_IGN:
        return lambda: None

    def restore() -> None:
        signal.signal(signal.SIGTERM, previous)

    def handler(signum: int, frame: object) -> None:
        restore()
        raise RunInterrupted(signum)

    signal.signal(signal.SIGTERM, handler)
    return restore
