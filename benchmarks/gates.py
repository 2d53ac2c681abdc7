"""Harness of the performance gates (``benchmarks/test_gates.py``): workloads, timing, ratio checks.

A gate compares two timings taken in the same run, so that it is a property of the code rather
than of the machine: the kernel against a numpy implementation of the same algorithm, a user
right-hand side against the built-in one, two threads against one.  The timed callables are
arguments, so that a test can hand a gate a deliberately slowed kernel and see it fail
(``tests/test_gates_harness.py``).

Timings are the minimum over interleaved repeats.  The single-thread comparisons use the CPU time
of the calling thread (``time.thread_time``; one numba thread runs on the calling thread), which
other processes on a shared machine disturb much less than wall time.  Thread scaling is judged
by how the work splits between the threads' CPU clocks (:func:`thread_scaling`); the wall-time
speedup is recorded but on a shared machine it says more about the neighbours than the code.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numba
import numpy as np

import rkcore
from rkcore.datasets import ProblemGroup, Split
from rkcore.evaluate import prepare_split, score_tableaux
from rkcore.integrate import solve_batch
from rkcore.problems import get_family
from rkcore.threads import numba_threads  # noqa: F401 - the gates and their tests use it from here

# The gates (floors and the spread measured for them: the docstring of benchmarks/test_gates.py).
KERNEL_VS_NUMPY_FLOOR = 4.0
BLOCK_RHS_CEILING = 1.3
PER_ODE_RHS_CEILING = 2.8
THREAD_PARALLELISM_FLOOR = 1.6


@numba.njit
def vdp_user_rhs(t, y, p, dydt):
    dydt[0] = y[1]
    dydt[1] = p[0] * (1.0 - y[0] * y[0]) * y[1] - y[0]


@numba.njit
def vdp_user_block(t, Y, P, dY):
    for j in range(Y.shape[1]):
        x = Y[0, j]
        v = Y[1, j]
        dY[0, j] = v
        dY[1, j] = P[0, j] * (1.0 - x * x) * v - x


def numpy_rk(A, b, y0, mu, t0, t1, n_steps):
    """Explicit RK vectorised over the batch in numpy: the baseline (same algorithm as the kernel)."""
    h = (t1 - t0) / n_steps
    s = len(b)
    y = y0.copy()
    K = np.empty((s,) + y.shape)

    def f(y, out):
        out[:, 0] = y[:, 1]
        out[:, 1] = mu * (1.0 - y[:, 0] ** 2) * y[:, 1] - y[:, 0]

    for _ in range(n_steps):
        for i in range(s):
            yi = y.copy()
            for j in range(i):
                if A[i, j] != 0.0:
                    yi += (h * A[i, j]) * K[j]
            f(yi, K[i])
        for i in range(s):
            if b[i] != 0.0:
                y += (h * b[i]) * K[i]
    return y


@dataclass(frozen=True)
class Workload:
    """``n`` Van der Pol problems (the built-in family's sampler), RK4 as a generic tableau, [0, 1]."""

    n: int
    rk4: rkcore.Tableau
    A: np.ndarray
    b: np.ndarray
    y0: np.ndarray
    params: np.ndarray
    prepared: object

    def builtin(self, n_steps: int) -> Callable[[], object]:
        """The built-in kernel: ``score_tableaux`` with the family's ``rhs_block``."""
        return lambda: score_tableaux(self.A, self.b, self.prepared, n_steps)

    def user_rhs(self, n_steps: int) -> Callable[[], object]:
        """Public ``solve_batch`` with a per-ODE user ``@njit`` rhs."""
        return lambda: solve_batch(self.rk4, vdp_user_rhs, self.y0, self.params, 0.0, 1.0, n_steps)

    def user_block(self, n_steps: int) -> Callable[[], object]:
        """Public ``solve_batch`` with a user ``rhs_block``."""
        return lambda: solve_batch(
            self.rk4, None, self.y0, self.params, 0.0, 1.0, n_steps, rhs_block=vdp_user_block
        )

    def numpy(self, n_steps: int) -> Callable[[], object]:
        return lambda: numpy_rk(self.rk4.A, self.rk4.b, self.y0, self.params[:, 0], 0.0, 1.0, n_steps)


def van_der_pol_split(n: int) -> tuple[Split, np.ndarray, np.ndarray]:
    """``n`` Van der Pol problems (the built-in family's sampler, seed 2024) on [0, 1] as one split.

    The references are zeros: the benchmarks time the integration, not the error.
    """
    fam = get_family("van_der_pol")
    params, y0 = fam.sample(np.random.default_rng(2024), n)
    group = ProblemGroup(
        family=fam,
        y0=y0,
        params=params,
        y_ref=np.zeros_like(y0),
        t0=0.0,
        t1=1.0,
        ref_error=np.zeros(n),
        index=np.arange(n),
        rho=np.zeros(n),
        ref_method="none",
    )
    return Split(groups=(group,)), y0, params


def van_der_pol_workload(n: int) -> Workload:
    split, y0, params = van_der_pol_split(n)
    rk4 = rkcore.method("rk4")
    work = Workload(n, rk4, rk4.A[None], rk4.b[None], y0, params, prepare_split(split))
    for fn in (work.builtin(2), work.user_rhs(2), work.user_block(2)):
        fn()  # compile, or load from numba's cache
    return work


def min_times(fns: dict[str, Callable[[], object]], repeats: int, clock=time.thread_time) -> dict[str, float]:
    """Minimum time of each callable over ``repeats`` rounds, the callables interleaved in each round."""
    best = dict.fromkeys(fns, np.inf)
    for _ in range(repeats):
        for name, fn in fns.items():
            t = clock()
            fn()
            best[name] = min(best[name], clock() - t)
    return best


def check_floor(name: str, measured: float, floor: float) -> None:
    """The gate: ``measured >= floor``, else an AssertionError naming the ratio and its floor."""
    if not measured >= floor:
        raise AssertionError(f"performance gate {name}: measured {measured:.3g}, below its floor {floor:g}")


def check_ceiling(name: str, measured: float, ceiling: float) -> None:
    """The gate: ``measured <= ceiling``, else an AssertionError naming the ratio and its ceiling."""
    if not measured <= ceiling:
        raise AssertionError(
            f"performance gate {name}: measured {measured:.3g}, above its ceiling {ceiling:g}"
        )


def speedup_vs_numpy(kernel, numpy_fn, kernel_steps: int, numpy_steps: int, repeats: int) -> float:
    """ODE-steps per CPU second of ``kernel`` over those of ``numpy_fn`` (one thread, same problems)."""
    with numba_threads(1):
        t = min_times({"kernel": kernel, "numpy": numpy_fn}, repeats)
    return (kernel_steps / t["kernel"]) / (numpy_steps / t["numpy"])


def slowdown_vs_builtin(user, builtin, repeats: int) -> float:
    """CPU time of ``user`` over that of ``builtin`` (one thread, same steps and problems)."""
    with numba_threads(1):
        t = min_times({"user": user, "builtin": builtin}, repeats)
    return t["user"] / t["builtin"]


def thread_cpu_seconds() -> dict[str, float]:
    """CPU seconds (user + system) of every thread of this process, from ``/proc/self/task`` (Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended
            continue
        out[tid] = (int(fields[11]) + int(fields[12])) / tick
    return out


class ThreadScaling(NamedTuple):
    parallelism: float
    """CPU seconds of all threads over those of the busiest one, in the run on ``threads`` threads:
    2.0 when two threads share the work evenly, 1.0 when one does it all."""
    cpu_overhead: float
    """CPU seconds on ``threads`` threads over those on one (1.0: no work added by threading)."""
    wall_speedup: float
    """Wall time on one thread over wall time on ``threads`` (what a user sees; noisy when shared)."""


def thread_scaling(kernel, calls: int, threads: int = 2) -> ThreadScaling:
    """How ``kernel`` spreads over ``threads`` numba threads, measured on ``calls`` calls each way.

    The first two figures come from per-thread CPU clocks, so other processes competing for the
    cores barely move them; they need about 0.1 s of CPU per thread for the 10 ms clock tick.
    """
    cpu, wall, busiest = {}, {}, {}
    for n in (1, threads):
        with numba_threads(n):
            kernel()
            before = thread_cpu_seconds()
            t = time.perf_counter()
            for _ in range(calls):
                kernel()
            wall[n] = time.perf_counter() - t
            after = thread_cpu_seconds()
        used = [after[tid] - before.get(tid, 0.0) for tid in after]
        cpu[n] = sum(used)
        busiest[n] = max(used)
    return ThreadScaling(cpu[threads] / busiest[threads], cpu[threads] / cpu[1], wall[1] / wall[threads])


def busy_slowed(fn: Callable[[], object], seconds: float) -> Callable[[], object]:
    """``fn`` followed by ``seconds`` of busy waiting on this thread's CPU clock: a deliberately slow kernel.

    (A ``time.sleep`` would not count: the single-thread gates measure CPU time.)
    """

    def slowed():
        out = fn()
        end = time.thread_time() + seconds
        while time.thread_time() < end:
            pass
        return out

    return slowed
