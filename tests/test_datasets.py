"""Datasets: spec validation and hashing, determinism, splits, references, on-disk cache."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from rkcore.datasets import (
    DATASET_FORMAT_VERSION,
    DatasetSpec,
    _split_counts,
    cache_path,
    make_dataset,
    resolve_cache_dir,
)
from rkcore.errors import RKInputError
from rkcore.problems import FAMILIES
from rkcore.reference import reference_solution, relative_error

# Every family, few problems: a handful of Radau solves, a few seconds.
FULL = DatasetSpec(n_problems=48, n_stiff=18, t_end=0.1, seed=11)
# Closed forms and DOP853 only: builds in well under a second, for the cache tests.
CHEAP = DatasetSpec(
    n_problems=40,
    n_stiff=12,
    t_end=0.2,
    seed=3,
    families=("heat_1d", "van_der_pol", "harmonic", "prothero_robinson", "lorenz"),
)
FIELDS = ("y0", "params", "y_ref", "ref_error", "index", "rho")


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    return make_dataset(FULL, cache_dir=tmp_path_factory.mktemp("cache"), progress=False, workers=1)


def _same(a, b) -> bool:
    """Bit-for-bit equality of two datasets, split by split and group by group."""
    for split in ("train", "validation", "test", "all"):
        ga, gb = getattr(a, split).groups, getattr(b, split).groups
        if [g.family.name for g in ga] != [g.family.name for g in gb]:
            return False
        for x, y in zip(ga, gb, strict=True):
            if not all(np.array_equal(getattr(x, f), getattr(y, f)) for f in FIELDS):
                return False
    return True


def _solve(family, y0, p, t1, method):
    def fun(t, y):
        out = np.empty(family.dim)
        family.rhs(t, np.ascontiguousarray(y), p, out)
        return out

    sol = solve_ivp(
        fun, (0.0, t1), y0, method=method, rtol=1e-13 if method == "DOP853" else 1e-12, atol=1e-15
    )
    assert sol.status == 0
    return sol.y[:, -1]


# --------------------------------------------------------------------------- spec


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"n_stiff": 60}, "n_stiff"),
        ({"n_stiff": -1}, "n_stiff"),
        ({"n_problems": 0, "n_stiff": 0}, "n_problems"),
        ({"n_problems": 10.5}, "n_problems"),
        ({"t_end": 0.0}, "t_end"),
        ({"t_end": -1.0}, "t_end"),
        ({"t_end": float("nan")}, "t_end"),
        ({"seed": -3}, "seed"),
        ({"families": ("van_der_poll",)}, "van_der_pol"),
        ({"families": ("harmonic", "harmonic", "heat_1d")}, "families"),
        ({"families": ("harmonic", "pendulum")}, "n_stiff"),
        ({"families": ("heat_1d",)}, "families"),
        ({"families": ()}, "families"),
        ({"split": (0.5, 0.2, 0.2)}, "split"),
        ({"split": (1.2, -0.1, -0.1)}, "split"),
        ({"split": (0.5, 0.5)}, "split"),
    ],
)
def test_spec_rejects_bad_fields_in_one_line(kwargs, field):
    base = {"n_problems": 50, "n_stiff": 10, "t_end": 0.1, "seed": 0}
    with pytest.raises(RKInputError, match=field) as info:
        DatasetSpec(**{**base, **kwargs})
    assert "\n" not in str(info.value)


def test_spec_normalises_and_hashes_canonically():
    a = DatasetSpec(30, 10, 0.1, 5, families=["heat_1d", "harmonic"], split=[0.5, 0.25, 0.25])
    b = DatasetSpec(30, 10, 0.1, 5, families=("harmonic", "heat_1d"), split=(0.5, 0.25, 0.25))
    assert a == b and a.families == ("harmonic", "heat_1d")  # registry order
    canonical = json.dumps(
        {"format": DATASET_FORMAT_VERSION, "spec": a.to_dict()}, sort_keys=True, separators=(",", ":")
    )
    assert a.hash() == b.hash() == hashlib.sha256(canonical.encode()).hexdigest()
    assert DatasetSpec(**a.to_dict()) == a
    assert a.hash() != DatasetSpec(30, 10, 0.1, 6, families=a.families, split=a.split).hash()
    assert a.hash() != DatasetSpec(30, 10, 0.2, 5, families=a.families, split=a.split).hash()


def test_allocation_is_round_robin_within_each_kind():
    alloc = FULL.allocation()
    stiff = [n for name, n in alloc.items() if FAMILIES[name].stiff]
    plain = [n for name, n in alloc.items() if not FAMILIES[name].stiff]
    assert sum(stiff) == FULL.n_stiff and sum(plain) == FULL.n_problems - FULL.n_stiff
    assert max(stiff) - min(stiff) <= 1 and max(plain) - min(plain) <= 1
    assert list(alloc) == [name for name in FAMILIES if name in alloc]


@pytest.mark.parametrize("sizes", [[4, 5, 4, 4, 5], [1] * 7, [10], [3, 3, 3], [100, 7, 1], [0, 2]])
@pytest.mark.parametrize("fractions", [(0.6, 0.2, 0.2), (1.0, 0.0, 0.0), (0.34, 0.33, 0.33)])
def test_split_counts_are_exact_and_stratified(sizes, fractions):
    counts = _split_counts(sizes, fractions)
    assert np.array_equal(counts.sum(axis=1), sizes) and np.all(counts >= 0)
    totals = counts.sum(axis=0)
    ideal = sum(sizes) * np.asarray(fractions)
    assert np.all(np.abs(totals - ideal) < 1.0)
    # No family strays from its share by more than one problem per split.
    assert np.all(np.abs(counts - np.asarray(sizes)[:, None] * np.asarray(fractions)) < 1.0 + 1e-9)


# --------------------------------------------------------------------------- contents


def test_dataset_shapes_counts_and_splits(full):
    assert full.spec == FULL and full.hash == FULL.hash()
    assert full.all.n_problems == FULL.n_problems and full.all.n_stiff == FULL.n_stiff
    assert sum(s.n_stiff for s in (full.train, full.validation, full.test)) == FULL.n_stiff
    sizes = [s.n_problems for s in (full.train, full.validation, full.test)]
    assert sizes == [29, 10, 9]  # largest-remainder rounding of 48 * (0.6, 0.2, 0.2)
    indices = np.concatenate([g.index for s in (full.train, full.validation, full.test) for g in s.groups])
    assert np.array_equal(np.sort(indices), np.arange(FULL.n_problems))
    assert set(full.all.families) == set(FAMILIES)
    for group in full.all.groups:
        assert group.t0 == 0.0 and group.t1 == FULL.t_end
        assert group.y0.shape == group.y_ref.shape == (group.n, group.family.dim)
        assert group.params.shape == (group.n, group.family.n_params)
        for name in FIELDS:
            a = getattr(group, name)
            assert a.flags.c_contiguous and not a.flags.writeable
            assert a.dtype == (np.int64 if name == "index" else np.float64)
        assert np.all(np.isfinite(group.y_ref))


def test_reference_errors_are_far_below_measured_errors(full):
    for group in full.all.groups:
        assert np.all(group.ref_error > 0.0) and np.all(group.ref_error <= 1e-9), group.family.name
        assert group.ref_method == (
            "exact" if group.family.has_exact else "Radau" if group.family.stiff else "DOP853"
        )


def test_references_agree_with_independent_solves(full):
    for group in full.all.groups:
        family = group.family
        if family.has_exact:
            np.testing.assert_array_equal(group.y_ref, family.exact(group.t1, group.y0, group.params))
            # The closed form against an integrator (stiff ones included: DOP853 copes at t = 0.1).
            other = _solve(family, group.y0[0], group.params[0], group.t1, "DOP853")
        else:
            # The other method than the one that made the reference.
            method = "DOP853" if family.stiff else "Radau"
            other = _solve(family, group.y0[0], group.params[0], group.t1, method)
        err = np.max(np.abs(other - group.y_ref[0])) / np.max(np.abs(group.y_ref[0]))
        assert err < 1e-10, (family.name, err)


def test_samples_depend_on_seed_and_family_only(full):
    other_seed = make_dataset(
        DatasetSpec(48, 18, 0.1, 12), progress=False, workers=1, use_cache=False
    ).all.group("harmonic")
    assert not np.array_equal(other_seed.params, full.all.group("harmonic").params)
    # Same seed and count of harmonic problems, different companions: same harmonic problems.
    alone = make_dataset(
        DatasetSpec(3, 0, 0.1, 11, families=("harmonic",)), progress=False, workers=1, use_cache=False
    )
    assert np.array_equal(alone.all.group("harmonic").params, full.all.group("harmonic").params)


# --------------------------------------------------------------------------- determinism


def test_same_spec_is_bit_for_bit_identical_for_any_worker_count(full):
    again = make_dataset(FULL, progress=False, workers=2, use_cache=False)
    assert not again.from_cache and _same(full, again)



def _build_in(queue, spec, cache_dir):
    """Entry point of the daemonic child below (module level: it is pickled by ``spawn``)."""
    try:
        data = make_dataset(spec, cache_dir=cache_dir, progress=False, workers=2)
        queue.put(("ok", {g.family.name: g.y_ref.tolist() for g in data.all.groups}))
    except BaseException as exc:  # report anything, the parent asserts on it
        queue.put(("error", f"{type(exc).__name__}: {exc}"))


def test_a_daemonic_process_solves_its_references_itself(tmp_path):
    # A Dask worker is a daemon, which may not start the process pool (AssertionError:
    # daemonic processes are not allowed to have children): there the solves run in-process.
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=_build_in, args=(queue, CHEAP, str(tmp_path)), daemon=True)
    child.start()
    status, value = queue.get(timeout=120)
    child.join(30)
    assert status == "ok", value
    serial = make_dataset(CHEAP, progress=False, workers=1, use_cache=False)
    assert value == {g.family.name: g.y_ref.tolist() for g in serial.all.groups}


def test_an_executor_runs_the_reference_solves():
    from concurrent.futures import ThreadPoolExecutor

    serial = make_dataset(CHEAP, progress=False, workers=1, use_cache=False)
    with ThreadPoolExecutor(2) as executor:
        again = make_dataset(CHEAP, progress=False, use_cache=False, executor=executor)
    assert _same(serial, again)


# --------------------------------------------------------------------------- cache


def test_cache_dir_resolution(tmp_path, monkeypatch):
    monkeypatch.delenv("RKCORE_CACHE_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert resolve_cache_dir() == tmp_path / "home" / ".cache" / "rkcore"
    monkeypatch.setenv("RKCORE_CACHE_DIR", str(tmp_path / "env"))
    assert resolve_cache_dir() == tmp_path / "env"
    assert resolve_cache_dir(tmp_path / "arg") == tmp_path / "arg"
    built = make_dataset(CHEAP, progress=False, workers=1)
    assert built.cache_path == tmp_path / "env" / f"dataset-{CHEAP.hash()}.rkds" and built.cache_path.exists()


def test_second_call_loads_from_cache(tmp_path):
    first = make_dataset(CHEAP, cache_dir=tmp_path, progress=False, workers=1)
    assert not first.from_cache and first.cache_path == cache_path(CHEAP, tmp_path)
    second = make_dataset(CHEAP, cache_dir=tmp_path, progress=False, workers=1)
    assert second.from_cache and _same(first, second)
    assert [p.name for p in tmp_path.iterdir()] == [first.cache_path.name]  # no temporary files left


def _truncate(blob: bytes) -> bytes:
    return blob[: len(blob) // 2]


def _flip_one_byte(blob: bytes) -> bytes:
    i = len(blob) - 200
    return blob[:i] + bytes([blob[i] ^ 0x01]) + blob[i + 1 :]


def _garbage(blob: bytes) -> bytes:
    return b"not a dataset at all"


@pytest.mark.parametrize("damage", [_truncate, _flip_one_byte, _garbage])
def test_damaged_cache_is_detected_and_rebuilt(tmp_path, damage):
    first = make_dataset(CHEAP, cache_dir=tmp_path, progress=False, workers=1)
    first.cache_path.write_bytes(damage(first.cache_path.read_bytes()))
    with pytest.warns(RuntimeWarning, match="unusable"):
        rebuilt = make_dataset(CHEAP, cache_dir=tmp_path, progress=False, workers=1)
    assert not rebuilt.from_cache and _same(first, rebuilt)
    assert make_dataset(CHEAP, cache_dir=tmp_path, progress=False, workers=1).from_cache


def test_cache_file_of_another_spec_is_not_used(tmp_path):
    other = DatasetSpec(40, 12, 0.2, 4, families=CHEAP.families)
    built = make_dataset(other, cache_dir=tmp_path, progress=False, workers=1)
    cache_path(CHEAP, tmp_path).write_bytes(built.cache_path.read_bytes())
    with pytest.warns(RuntimeWarning, match="spec"):
        rebuilt = make_dataset(CHEAP, cache_dir=tmp_path, progress=False, workers=1)
    assert rebuilt.spec == CHEAP and not rebuilt.from_cache


def test_make_dataset_rejects_bad_arguments(tmp_path):
    with pytest.raises(RKInputError, match="workers"):
        make_dataset(CHEAP, cache_dir=tmp_path, workers=0)
    with pytest.raises(RKInputError, match="DatasetSpec"):
        make_dataset(CHEAP.to_dict(), cache_dir=tmp_path)


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("heat_1d", "Radau"),
        ("linear_spectrum", "Radau"),
        ("prothero_robinson", "Radau"),
        ("kepler", "DOP853"),
    ],
)
def test_reference_error_estimate_bounds_the_true_error(name, method):
    """Solve closed-form families the way the others are solved and compare with the truth."""
    family = FAMILIES[name]
    params, y0 = family.sample(np.random.default_rng(9), 3)
    ref = reference_solution(family, y0, params, 0.0, 0.1, method=method)
    true = relative_error(ref.y, family.exact(0.1, y0, params))
    assert ref.method == method and np.all(ref.error <= 1e-12)
    assert np.all(true <= 10.0 * ref.error + 1e-14), (true, ref.error)
