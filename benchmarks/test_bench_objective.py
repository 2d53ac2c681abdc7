"""Cost of the calibrated objective against the fixed-step objective it replaced, in one run.

Workload (issue 10): 64 six-stage candidates (butcher5 perturbed) and 64 four-stage ones (RK4
perturbed) on a 1,000-problem dataset split (300 stiff, t_end 0.1, the built-in profiles' kind).

* ``calibrated_s``: :func:`rkcore.evaluate.score_batch` on a split prepared with the default
  scoring plan (each non-stiff problem at the fewest steps where RK4's error is <= 1e-6, stiff
  problems by their stable step): what training pays per call.
* ``fixed_s``: what the old objective integrated for the same call: every problem at 40 fixed
  steps plus the run at the equal-work step count (``round(160 / w)`` steps).
* ``ratio = calibrated_s / fixed_s``: the goal is at most 2; the assert is a generous floor (the
  machine is shared), the measured figures are in the README.

Run alone on the machine: ``OPENBLAS_NUM_THREADS=1 python -m pytest benchmarks/test_bench_objective.py``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import time  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import rkcore  # noqa: E402
from rkcore.datasets import DatasetSpec, make_dataset  # noqa: E402
from rkcore.evaluate import baseline_metrics, prepare_split, score_batch, score_tableaux  # noqa: E402
from rkcore.metrics import Weights  # noqa: E402

ROUNDS = 5


@pytest.fixture(scope="module")
def data():
    ds = make_dataset(DatasetSpec(n_problems=1000, n_stiff=300, t_end=0.1, seed=0), progress=False)
    return prepare_split(ds.all), prepare_split(ds.all, rkcore.make_plan(ds))


def _candidates(name: str, T: int = 64):
    t = rkcore.method(name)
    rng = np.random.default_rng(0)
    A = np.tril(t.A[None] * (1 + 0.01 * rng.standard_normal((T, t.stages, t.stages))), -1)
    return A, np.repeat(t.b[None], T, axis=0)


def _best(fn) -> float:
    fn()
    times = []
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


@pytest.mark.parametrize("name", ["rk4", "butcher5"])
def test_bench_calibrated_objective_against_fixed_steps(benchmark, data, name):
    uniform, planned = data
    A, b = _candidates(name)
    w = Weights()
    base = baseline_metrics(planned)
    n_eq = max(1, round(160 / A.shape[1]))

    def fixed():
        score_tableaux(A, b, uniform, 40)
        if n_eq != 40:
            score_tableaux(A, b, uniform, n_eq)

    fixed_s = _best(fixed)
    result = benchmark.pedantic(score_batch, args=(A, b, planned, w, base), rounds=ROUNDS, iterations=1,
                                warmup_rounds=1)  # fmt: skip
    calibrated_s = benchmark.stats.stats.min
    ratio = calibrated_s / fixed_s
    benchmark.extra_info.update({"calibrated_s": calibrated_s, "fixed_s": fixed_s, "ratio": ratio})
    print(f"\n{name}: calibrated {calibrated_s * 1e3:.0f} ms, fixed 40 steps {fixed_s * 1e3:.0f} ms, "
          f"ratio {ratio:.2f}")  # fmt: skip
    assert np.all(np.isfinite(result.score))
    assert ratio < 4.0
