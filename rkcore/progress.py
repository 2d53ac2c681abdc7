"""Progress that reads well both on a terminal and in a log file.

On a terminal :func:`progress_bar` is tqdm's live bar.  When the stream is not a terminal
(``rkml train ... > out.log 2>&1``, a batch scheduler, a pipe) a live bar would write every
state it passes through, separated by carriage returns; there it prints one plain line each
time another ``step_percent`` of the work is done (and one when it closes short of the total),
so a run adds at most about ``100 / step_percent`` lines to a log.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

__all__ = ["PlainProgress", "progress_bar"]


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def _duration(seconds: float) -> str:
    """``12.3 s`` under a minute, else ``m:ss`` or ``h:mm:ss``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def progress_bar(
    total: int,
    *,
    desc: str,
    unit: str = "it",
    initial: int = 0,
    enabled: bool = True,
    file: TextIO | None = None,
    step_percent: float = 5.0,
) -> Any:
    """Progress over ``total`` units: a live tqdm bar on a terminal, plain lines otherwise.

    Parameters
    ----------
    total : int
        Units of work; nothing is shown when it is 0.
    desc : str
        Label at the start of the bar or line.
    unit : str
        Name of one unit ("problem", "epoch").
    initial : int
        Units already done (a resumed run).
    enabled : bool
        ``False`` shows nothing (the returned object still accepts every call).
    file : text stream, optional
        Where progress goes; default ``sys.stderr`` (looked up at call time).
    step_percent : float
        Without a terminal: a line each time another ``step_percent`` of ``total`` is done.

    Returns
    -------
    tqdm.tqdm or PlainProgress
        Both offer ``update(n)``, ``set_postfix(**values)``, ``close()`` and the context-manager
        protocol.  Call ``set_postfix`` before ``update`` so that a plain line shows the new values.
    """
    stream = sys.stderr if file is None else file
    enabled = enabled and total > 0
    if enabled and not _is_terminal(stream):
        return PlainProgress(total, desc=desc, unit=unit, initial=initial, file=stream, step=step_percent)
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        initial=initial,
        desc=desc,
        unit=unit,
        disable=not enabled,
        file=stream,
        dynamic_ncols=True,
    )


class PlainProgress:
    """Progress written as plain lines (``desc: 40/100 epochs (40%), 12.0 s, eta 18.0 s, key=value``).

    See :func:`progress_bar`, which chooses between this and tqdm.
    """

    def __init__(self, total: int, *, desc: str, unit: str, initial: int, file: TextIO, step: float) -> None:
        if not step > 0:
            raise ValueError(f"step (percent) must be > 0, got {step!r}")
        self.total = int(total)
        self.n = int(initial)
        self.desc = desc
        self.unit = unit
        self.file = file
        self.step_percent = float(step)
        self.postfix: dict[str, Any] = {}
        self._initial = self.n
        self._start = time.perf_counter()
        self._closed = False
        self._printed_n = self.n
        self._printed_step = self._step(self.n)
        self._line()

    def _step(self, n: int) -> int:
        return int(100.0 * n / self.total // self.step_percent)

    def _line(self) -> None:
        elapsed = time.perf_counter() - self._start
        unit = self.unit if self.total == 1 else f"{self.unit}s"
        percent = 100.0 * self.n / self.total
        text = f"{self.desc}: {self.n}/{self.total} {unit} ({percent:.0f}%), {_duration(elapsed)}"
        done = self.n - self._initial
        if 0 < done and self.n < self.total:
            text += f", eta {_duration(elapsed / done * (self.total - self.n))}"
        text += "".join(f", {key}={value}" for key, value in self.postfix.items())
        print(text, file=self.file, flush=True)
        self._printed_n = self.n

    def update(self, n: int = 1) -> None:
        """Count ``n`` more units done; print a line when another ``step_percent`` is complete."""
        self.n += int(n)
        step = self._step(self.n)
        if step > self._printed_step or (self.n >= self.total and self._printed_n < self.total):
            self._printed_step = step
            self._line()

    def set_postfix(
        self, ordered_dict: dict[str, Any] | None = None, refresh: bool = True, **values: Any
    ) -> None:
        """Values shown after the counts on the next line (tqdm's signature; ``refresh`` is ignored)."""
        self.postfix = {**(ordered_dict or {}), **values}

    def close(self) -> None:
        """Print where the work stopped if that was not the last line printed."""
        if self._closed:
            return
        self._closed = True
        if self._printed_n != self.n:
            self._line()

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
