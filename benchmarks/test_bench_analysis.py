"""Speed of the batched analysis against nodepy doing the same work in the same run.

Workloads (issue 2):

(a) order-condition residuals through order 5 (17 trees) for 10,000 random six-stage
    explicit tableaux: ``order_residuals_batch`` against nodepy's
    ``order_condition_residuals(p)`` for p = 1..5 on a subset, scaled per tableau;
(b) stability summary (stability polynomial, real and imaginary stability limits) for
    1,000 random six-stage tableaux: ``stability_summary_batch`` against nodepy's
    ``stability_function()``, ``real_stability_interval()`` and
    ``imaginary_stability_interval()`` in its default (exact-arithmetic) mode on a subset.
    nodepy's faster ``mode='float'`` is timed too and reported as a second ratio; it is not the
    headline because it misreads round-off as roots (see tests/test_analysis_nodepy.py).

The figure is the per-tableau speed ratio, stored in ``benchmark.extra_info`` together with
the absolute per-tableau times, with numba's default thread count and with one thread (on a
busy shared machine the one-thread figure is often the faster and steadier one).
Aim: >= 100x.  The asserts are generous floors (>= 10x) only: the machine is shared and
timings are noisy.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import contextlib  # noqa: E402
import io  # noqa: E402
import time  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from rkcore import order_residuals_batch, stability_summary_batch  # noqa: E402

rk = pytest.importorskip("nodepy.runge_kutta_method")

STAGES = 6
N_ORDER = 10_000
N_STABILITY = 1_000
NODEPY_ORDER_SUBSET = 50
NODEPY_STABILITY_SUBSET = 10
FLOOR = 10.0


def random_batch(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Six-stage explicit tableaux; half are consistent (Σb = 1) so the stability limits vary."""
    rng = np.random.default_rng(seed)
    A = np.tril(rng.uniform(-1, 1, (n, STAGES, STAGES)), -1)
    b = rng.uniform(-1, 1, (n, STAGES))
    b[: n // 2, -1] = 1.0 - b[: n // 2, :-1].sum(axis=1)
    return A, b


def best_time(fn, repeats: int = 5) -> float:
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def single_thread_time(fn) -> float:
    """``best_time`` with numba limited to one thread (restored afterwards)."""
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        return best_time(fn)
    finally:
        numba.set_num_threads(before)


def nodepy_time(A, b, work) -> float:
    methods = [rk.ExplicitRungeKuttaMethod(A=A[k], b=b[k]) for k in range(A.shape[0])]
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        for m in methods:
            work(m)
    return time.perf_counter() - t0


def test_order_residuals_through_order5(benchmark):
    A, b = random_batch(N_ORDER, seed=1)
    order_residuals_batch(A[:4], b[:4], 5)  # compile / load the cached kernel outside the timing

    ours = best_time(lambda: order_residuals_batch(A, b, 5)) / N_ORDER
    ours_1t = single_thread_time(lambda: order_residuals_batch(A, b, 5)) / N_ORDER
    theirs = (
        nodepy_time(
            A[:NODEPY_ORDER_SUBSET],
            b[:NODEPY_ORDER_SUBSET],
            lambda m: [m.order_condition_residuals(p) for p in range(1, 6)],
        )
        / NODEPY_ORDER_SUBSET
    )
    ratio = theirs / ours
    benchmark.extra_info.update(
        {
            "tableaux": N_ORDER,
            "trees": 17,
            "numba_threads": numba.get_num_threads(),
            "rkcore_us_per_tableau": ours * 1e6,
            "rkcore_1thread_us_per_tableau": ours_1t * 1e6,
            "nodepy_us_per_tableau": theirs * 1e6,
            "speedup_per_tableau": ratio,
            "speedup_per_tableau_1thread": theirs / ours_1t,
        }
    )
    benchmark.pedantic(order_residuals_batch, args=(A, b, 5), rounds=5, iterations=1)
    assert ratio >= FLOOR


def test_stability_summary(benchmark):
    A, b = random_batch(N_STABILITY, seed=2)
    stability_summary_batch(A[:4], b[:4])

    ours = best_time(lambda: stability_summary_batch(A, b)) / N_STABILITY
    ours_1t = single_thread_time(lambda: stability_summary_batch(A, b)) / N_STABILITY
    subset = (A[:NODEPY_STABILITY_SUBSET], b[:NODEPY_STABILITY_SUBSET])

    def exact(m):
        m.stability_function()
        m.real_stability_interval()
        m.imaginary_stability_interval()

    def floating(m):
        m.stability_function(mode="float")
        m.real_stability_interval(mode="float")
        m.imaginary_stability_interval(mode="float")

    theirs = nodepy_time(*subset, exact) / NODEPY_STABILITY_SUBSET
    theirs_float = nodepy_time(*subset, floating) / NODEPY_STABILITY_SUBSET
    ratio = theirs / ours
    benchmark.extra_info.update(
        {
            "tableaux": N_STABILITY,
            "numba_threads": numba.get_num_threads(),
            "rkcore_us_per_tableau": ours * 1e6,
            "rkcore_1thread_us_per_tableau": ours_1t * 1e6,
            "nodepy_us_per_tableau": theirs * 1e6,
            "nodepy_float_mode_us_per_tableau": theirs_float * 1e6,
            "speedup_per_tableau": ratio,
            "speedup_per_tableau_1thread": theirs / ours_1t,
            "speedup_vs_nodepy_float_mode": theirs_float / ours,
            "speedup_vs_nodepy_float_mode_1thread": theirs_float / ours_1t,
        }
    )
    benchmark.pedantic(stability_summary_batch, args=(A, b), rounds=5, iterations=1)
    assert ratio >= FLOOR
