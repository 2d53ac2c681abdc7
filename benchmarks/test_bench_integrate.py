"""Throughput of the batched RK kernels against a numpy baseline measured in the same run.

Workload (issue 3): 10,000 Van der Pol problems (the built-in ``van_der_pol`` family),
RK4 passed as a generic tableau, 1,000 fixed steps over ``[0, 1]``.  Reported in
``benchmark.extra_info``:

* ``ode_steps_per_s``: the built-in kernel (``score_tableaux``, family ``rhs_block``);
* ``speedup_vs_numpy``: against RK4 in numpy vectorised over the batch (same algorithm,
  timed on fewer steps and scaled);
* ``thread_scaling``: 2 numba threads against 1;
* ``user_rhs_slowdown``: public ``solve_batch`` with a user ``@njit`` rhs against the built-in
  path (target <= 2);
* ``user_block_slowdown``: the same with a user ``rhs_block`` (target <= 1.3);
* ``scoring_s``: 64 tableaux x 1,000 mixed problems (a dataset split) in one ``score_tableaux``.

Targets: >= 8x numpy, >= 1.7x from 1 to 2 threads, >= 3e8 ODE-steps/s.  The asserts are
generous floors only: the machine is shared and timings are noisy.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import sys  # noqa: E402
import time  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import rkcore  # noqa: E402
from rkcore.evaluate import prepare_split, score_tableaux  # noqa: E402
from rkcore.integrate import solve_batch  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from gates import numpy_rk, van_der_pol_split, vdp_user_block, vdp_user_rhs  # noqa: E402

N_PROBLEMS = 10_000
N_STEPS = 1_000
NUMPY_STEPS = 50


def _best_of(fn, repeats: int = 3, clock=time.perf_counter) -> float:
    best = np.inf
    for _ in range(repeats):
        t = clock()
        fn()
        best = min(best, clock() - t)
    return best


def test_bench_van_der_pol_rk4(benchmark):
    rk4 = rkcore.method("rk4")
    A, b = rk4.A[None], rk4.b[None]
    split, y0, params = van_der_pol_split(N_PROBLEMS)
    prepared = prepare_split(split)
    score_tableaux(A, b, prepared, 2)  # compile / load from cache
    solve_batch(rk4, vdp_user_rhs, y0, params, 0.0, 1.0, 2)

    benchmark.pedantic(score_tableaux, args=(A, b, prepared, N_STEPS), rounds=5, iterations=1)
    t_builtin = benchmark.stats.stats.min
    rate = N_PROBLEMS * N_STEPS / t_builtin

    def run_numpy():
        numpy_rk(rk4.A, rk4.b, y0, params[:, 0], 0.0, 1.0, NUMPY_STEPS)

    t_numpy = _best_of(run_numpy, 2)
    numpy_rate = N_PROBLEMS * NUMPY_STEPS / t_numpy
    # CPU time of the calling thread: much less sensitive to other processes on a shared machine.
    numpy_cpu_rate = N_PROBLEMS * NUMPY_STEPS / _best_of(run_numpy, 2, time.thread_time)

    t_user = _best_of(lambda: solve_batch(rk4, vdp_user_rhs, y0, params, 0.0, 1.0, N_STEPS))
    solve_batch(rk4, None, y0, params, 0.0, 1.0, 2, rhs_block=vdp_user_block)
    t_block = _best_of(
        lambda: solve_batch(rk4, None, y0, params, 0.0, 1.0, N_STEPS, rhs_block=vdp_user_block)
    )

    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        t_one = _best_of(lambda: score_tableaux(A, b, prepared, N_STEPS))
        # one numba thread runs on the calling thread, so its CPU time is the kernel's
        one_cpu_rate = (
            N_PROBLEMS
            * N_STEPS
            / _best_of(lambda: score_tableaux(A, b, prepared, N_STEPS), 3, time.thread_time)
        )
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        t_two = _best_of(lambda: score_tableaux(A, b, prepared, N_STEPS))
    finally:
        numba.set_num_threads(threads)

    benchmark.extra_info.update(
        {
            "ode_steps_per_s": rate,
            "numpy_ode_steps_per_s": numpy_rate,
            "speedup_vs_numpy": rate / numpy_rate,
            "thread_scaling": t_one / t_two,
            "user_rhs_ode_steps_per_s": N_PROBLEMS * N_STEPS / t_user,
            "user_rhs_slowdown": t_user / t_builtin,
            "user_block_slowdown": t_block / t_builtin,
            "numba_threads": threads,
            "one_thread_ode_steps_per_cpu_s": one_cpu_rate,
            "numpy_ode_steps_per_cpu_s": numpy_cpu_rate,
            "per_core_speedup_vs_numpy": one_cpu_rate / numpy_cpu_rate,
        }
    )
    print(
        f"\nbuilt-in {rate:.3g} ODE-steps/s, numpy {numpy_rate:.3g} ({rate / numpy_rate:.1f}x), "
        f"1->2 threads {t_one / t_two:.2f}x, user rhs {t_user / t_builtin:.2f}x and user rhs_block "
        f"{t_block / t_builtin:.2f}x the built-in time; "
        f"CPU time per core: kernel {one_cpu_rate:.3g}, numpy {numpy_cpu_rate:.3g} "
        f"({one_cpu_rate / numpy_cpu_rate:.1f}x)"
    )
    assert rate / numpy_rate > 3.0
    assert t_user / t_builtin < 4.0
    assert rate > 5e7


@pytest.fixture(scope="module")
def mixed_split():
    from rkcore.datasets import DatasetSpec, make_dataset

    spec = DatasetSpec(n_problems=1000, n_stiff=300, t_end=0.1, seed=0)
    return prepare_split(make_dataset(spec, progress=False).all)


def test_bench_score_64_tableaux_on_1000_problems(benchmark, mixed_split):
    rng = np.random.default_rng(0)
    rk4 = rkcore.method("rk4")
    T, s = 64, 4
    A = np.tril(rk4.A[None] + 0.05 * rng.standard_normal((T, s, s)), -1)
    b = rk4.b[None] + 0.02 * rng.standard_normal((T, s))
    n_steps = 100
    score_tableaux(A, b, mixed_split, 2)
    result = benchmark.pedantic(score_tableaux, args=(A, b, mixed_split, n_steps), rounds=3, iterations=1)
    t = benchmark.stats.stats.min
    benchmark.extra_info.update(
        {
            "scoring_s": t,
            "tableau_problem_pairs_per_s": T * mixed_split.n_problems / t,
            "ode_steps_per_s": T * mixed_split.n_problems * n_steps / t,
        }
    )
    print(f"\n64 tableaux x {mixed_split.n_problems} problems x {n_steps} steps: {t * 1e3:.1f} ms")
    assert result.error.shape == (T, mixed_split.n_problems)
    assert t < 30.0
