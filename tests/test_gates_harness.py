"""The performance gates of benchmarks/test_gates.py fail for a deliberately slowed kernel.

The gates themselves time large workloads and run from ``.ci/run``; here the same harness gets a
small workload and a kernel slowed by a busy wait (CPU time, which the single-thread gates measure)
or confined to one thread, and each gate must raise an AssertionError naming its ratio and floor.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "gates.py"


@pytest.fixture(scope="module")
def gates():
    spec = importlib.util.spec_from_file_location("rk_benchmark_gates", _PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def work(gates):
    return gates.van_der_pol_workload(2000)


def test_check_messages_name_the_ratio_and_its_floor(gates):
    gates.check_floor("x", 2.0, 2.0)
    gates.check_ceiling("y", 1.0, 1.0)
    with pytest.raises(AssertionError, match=r"performance gate x: measured 1.5, below its floor 2"):
        gates.check_floor("x", 1.5, 2.0)
    with pytest.raises(AssertionError, match=r"performance gate y: measured nan, above its ceiling 1.3"):
        gates.check_ceiling("y", float("nan"), 1.3)


def test_slowed_kernel_fails_the_numpy_gate(gates, work):
    slowed = gates.busy_slowed(work.builtin(50), 0.05)
    ratio = gates.speedup_vs_numpy(slowed, work.numpy(5), 2000 * 50, 2000 * 5, 2)
    with pytest.raises(AssertionError, match=r"kernel vs numpy.*below its floor 4"):
        gates.check_floor("kernel vs numpy", ratio, gates.KERNEL_VS_NUMPY_FLOOR)


@pytest.mark.parametrize("form", ["user_block", "user_rhs"])
def test_slowed_user_rhs_fails_its_gate(gates, work, form):
    user = gates.busy_slowed(getattr(work, form)(50), 0.05)
    ratio = gates.slowdown_vs_builtin(user, work.builtin(50), 2)
    ceiling = gates.BLOCK_RHS_CEILING if form == "user_block" else gates.PER_ODE_RHS_CEILING
    with pytest.raises(AssertionError, match=r"above its ceiling"):
        gates.check_ceiling(form, ratio, ceiling)


def test_kernel_confined_to_one_thread_fails_the_scaling_gate(gates, work):
    if not Path("/proc/self/task").is_dir():
        pytest.skip("per-thread CPU clocks need Linux /proc")

    def serial():
        with gates.numba_threads(1):
            gates.busy_slowed(work.builtin(20), 0.02)()

    scaling = gates.thread_scaling(serial, 5)
    with pytest.raises(AssertionError, match=r"2 threads.*below its floor 1.6"):
        gates.check_floor("2 threads vs 1", scaling.parallelism, gates.THREAD_PARALLELISM_FLOOR)
