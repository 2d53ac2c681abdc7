"""Seeded datasets of ODE problems with reference solutions, split into train / validation / test.

A :class:`DatasetSpec` ``(n_problems, n_stiff, t_end, seed, families, split)`` determines a
dataset completely:

* **Families** are named by references (:mod:`rkcore.problems.sources`): built-in names,
  import paths ``module:attribute`` of a :class:`~rkcore.problems.base.Family` of your own,
  or entry points of the group ``rk_discovery.families``.  A family of your own is checked
  when the spec is made (its sampler on the problems it will draw, its ``rhs`` against its
  ``dim``), and a hash of its definition enters the spec's hash, hence the cache key.
* **Allocation.**  ``n_stiff`` problems go to the stiff families of the spec and the rest
  to the non-stiff ones, round-robin in the spec's order (built-ins in registry order, then
  the others sorted by reference): each family of a kind gets
  ``count // n_families`` problems and the first ``count % n_families`` get one more.
* **Sampling.**  Family ``f`` draws its parameters and initial values with
  ``f.sample(Generator(PCG64(SeedSequence(seed, spawn_key=(crc32(f.name), 0)))), n_f)``,
  so a family's problems depend only on the seed, its name and its count -- not on the
  other families, the worker count or the machine.  Every problem runs from ``t0 = 0``
  to ``t1 = t_end``.
* **References** come from :func:`rkcore.reference.reference_solution` (closed form,
  else DOP853 / Radau at ``rtol=1e-12``), each with a relative error estimate
  ``ref_error``.  Solver work is spread in chunks over ``workers`` processes, or over any
  ``concurrent.futures`` executor given (a Dask client's, to use a cluster), and is done in
  the calling process when that is a daemon (a Dask worker may not start processes); each
  problem is solved on its own, so the result does not depend on where it ran.
* **Split**, stratified per family: split sizes are the largest-remainder rounding of
  ``n_problems * split``; each family puts the floor or the ceiling of
  ``n_f * fraction`` problems in each split (see ``_split_counts``), and which of its
  problems go where is a permutation drawn from the stream ``spawn_key=(crc32(name), 1)``.

Random draws are bit-for-bit identical on every machine with the same numpy; values
computed from them with sin/cos or BLAS (Kepler and method-of-lines initial states) and
the references may differ in the last bits between machines (``libm``/BLAS builds).

Cache: ``<cache dir>/dataset-<spec hash>.rkds``, where the cache dir is, in order, the
``cache_dir`` argument, the environment variable ``RKCORE_CACHE_DIR``, or
``~/.cache/rkcore`` (see :func:`resolve_cache_dir`).  The file is a header line, the
SHA-256 of the payload and an ``.npz`` payload, written atomically.  A file whose magic,
checksum, contents or shapes do not match is reported with a ``RuntimeWarning`` and rebuilt.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
import os
import warnings
import zlib
from concurrent.futures import Executor
from pathlib import Path

import numpy as np

from ._chunks import solve_chunks
from .errors import RKInputError
from .fileio import atomic_write_bytes
from .problems import FAMILIES
from .problems.base import Family
from .problems.sources import FamilySource, ResolvedFamily, check_family, resolve_family
from .progress import progress_bar
from .reference import reference_method, reference_solution, spectral_radius

DATASET_FORMAT_VERSION = 1
CACHE_ENV_VAR = "RKCORE_CACHE_DIR"
_MAGIC = b"RKCORE-DATASET 1\n"
_SPLIT_NAMES = ("train", "validation", "test")
_CHUNK = 8  # problems per worker task: small enough to balance 2-16 workers


# --------------------------------------------------------------------------- spec


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """What a dataset is made of; frozen and validated on construction.

    Parameters
    ----------
    n_problems : int
        Total number of problems, at least 1.
    n_stiff : int
        How many of them come from stiff families, ``0 <= n_stiff <= n_problems``.
    t_end : float
        Horizon: every problem runs from 0 to ``t_end > 0``.
    seed : int
        Non-negative seed.
    families : sequence of str or None
        References of the families to draw from (default: all of ``rkcore.problems.FAMILIES``):
        built-in names, ``"module:attribute"`` import paths or entry-point names (see
        :mod:`rkcore.problems.sources`).  Stored built-ins first in registry order, then the
        others sorted, so the order given does not matter.
    split : (float, float, float)
        Train / validation / test fractions, non-negative, summing to 1.
    """

    n_problems: int
    n_stiff: int
    t_end: float
    seed: int
    families: tuple[str, ...] | None = None
    split: tuple[float, float, float] = (0.6, 0.2, 0.2)

    def __post_init__(self) -> None:
        for name in ("n_problems", "n_stiff", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise RKInputError(f"DatasetSpec.{name} must be an integer, got {value!r}")
            object.__setattr__(self, name, int(value))
        if self.n_problems < 1:
            raise RKInputError(f"DatasetSpec.n_problems must be >= 1, got {self.n_problems}")
        if not 0 <= self.n_stiff <= self.n_problems:
            raise RKInputError(
                f"DatasetSpec.n_stiff must be between 0 and n_problems={self.n_problems}, got {self.n_stiff}"
            )
        if self.seed < 0:
            raise RKInputError(f"DatasetSpec.seed must be >= 0, got {self.seed}")
        try:
            t_end = float(self.t_end)
        except (TypeError, ValueError):
            raise RKInputError(f"DatasetSpec.t_end must be a number, got {self.t_end!r}") from None
        if not (math.isfinite(t_end) and t_end > 0.0):
            raise RKInputError(f"DatasetSpec.t_end must be finite and > 0, got {self.t_end!r}")
        object.__setattr__(self, "t_end", t_end)
        object.__setattr__(self, "families", self._checked_families())
        object.__setattr__(self, "split", self._checked_split())
        self._check_own_families()

    def __reduce__(self):
        # Rebuilt from the fields: the resolved families (code) are found again, not pickled.
        fields = (self.n_problems, self.n_stiff, self.t_end, self.seed, self.families, self.split)
        return (DatasetSpec, fields)

    def _checked_families(self) -> tuple[str, ...] | None:
        if self.families is None:
            object.__setattr__(self, "_resolved", {name: resolve_family(name) for name in FAMILIES})
            return None
        names = (self.families,) if isinstance(self.families, str) else tuple(self.families)
        if not names:
            raise RKInputError("DatasetSpec.families must name at least one family (or be None for all)")
        if not all(isinstance(name, str) for name in names):
            raise RKInputError(f"DatasetSpec.families must be strings, got {list(names)}")
        names = tuple(name.strip() for name in names)
        resolved = {name: _resolve(name) for name in names}
        if len(set(names)) != len(names):
            raise RKInputError(f"DatasetSpec.families lists a family twice: {list(names)}")
        chosen = tuple(name for name in FAMILIES if name in names)
        chosen += tuple(sorted(name for name in names if name not in FAMILIES))
        by_name: dict[str, ResolvedFamily] = {}
        for reference in chosen:
            found = resolved[reference]
            clash = by_name.get(found.family.name)
            if clash is not None:
                raise RKInputError(
                    f"DatasetSpec.families: {clash.source.reference!r} and {reference!r} are both families "
                    f"named {found.family.name!r}; give one another Family.name"
                )
            by_name[found.family.name] = found
        object.__setattr__(self, "_resolved", by_name)
        n_stiff_fams = sum(found.family.stiff for found in by_name.values())
        if self.n_stiff > 0 and n_stiff_fams == 0:
            raise RKInputError(
                f"DatasetSpec.n_stiff={self.n_stiff} but families has no stiff family; add one"
            )
        if self.n_problems > self.n_stiff and n_stiff_fams == len(chosen):
            raise RKInputError(
                f"DatasetSpec.families has no non-stiff family for n_problems - n_stiff = "
                f"{self.n_problems - self.n_stiff} problems; add one or set n_stiff = n_problems"
            )
        return chosen

    def _check_own_families(self) -> None:
        """Sample every family of one's own as the build will, and probe its rhs on the draws."""
        allocation = self.allocation()
        for name, found in self._resolved.items():
            if found.source.kind != "builtin":
                same_kind = sum(f.family.stiff == found.family.stiff for f in self._resolved.values())
                total = self.n_stiff if found.family.stiff else self.n_problems - self.n_stiff
                try:
                    check_family(found, allocation.get(name, 0), _stream(self.seed, name, 0), self.t_end,
                                 (total, same_kind))  # fmt: skip
                except RKInputError as exc:
                    raise RKInputError(f"DatasetSpec.families: {exc}") from None

    def _checked_split(self) -> tuple[float, float, float]:
        try:
            split = tuple(float(s) for s in self.split)
        except (TypeError, ValueError):
            raise RKInputError(f"DatasetSpec.split must be three numbers, got {self.split!r}") from None
        if len(split) != 3 or not all(math.isfinite(s) and s >= 0.0 for s in split):
            raise RKInputError(f"DatasetSpec.split must be three non-negative fractions, got {self.split!r}")
        if abs(sum(split) - 1.0) > 1e-9:
            raise RKInputError(
                f"DatasetSpec.split must sum to 1 (train, validation, test), got {self.split!r}"
            )
        return split

    @property
    def family_names(self) -> tuple[str, ...]:
        """``Family.name`` of each family drawn from, in the spec's order."""
        return tuple(self._resolved)

    @property
    def families_by_name(self) -> dict[str, Family]:
        """The families drawn from, by ``Family.name``, in the spec's order."""
        return {name: found.family for name, found in self._resolved.items()}

    @property
    def sources(self) -> tuple[FamilySource, ...]:
        """Where each family came from and the hash of its definition, in the spec's order."""
        return tuple(found.source for found in self._resolved.values())

    def to_dict(self) -> dict:
        """JSON-ready dict; ``DatasetSpec(**d)`` rebuilds the spec."""
        return {
            "n_problems": self.n_problems,
            "n_stiff": self.n_stiff,
            "t_end": self.t_end,
            "seed": self.seed,
            "families": None if self.families is None else list(self.families),
            "split": list(self.split),
        }

    def hash(self) -> str:
        """SHA-256 (hex) of the canonical JSON of the spec and the dataset format version.

        With families of one's own, the hashes of their definitions are part of it.
        """
        payload = {"format": DATASET_FORMAT_VERSION, "spec": self.to_dict()}
        own = {source.reference: source.hash for source in self.sources if source.hash is not None}
        if own:
            payload["family_hashes"] = own
        canonical = json.dumps(
            payload,
            sort_keys=True,
            separators=(",", ":"),
            allow_nan=False,
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def allocation(self) -> dict[str, int]:
        """Problems per family (families with none are left out), in registry order."""
        names = self.family_names
        families = self.families_by_name
        counts = {}
        for stiff, total in ((False, self.n_problems - self.n_stiff), (True, self.n_stiff)):
            kind = [name for name in names if families[name].stiff == stiff]
            for i, name in enumerate(kind):
                counts[name] = total // len(kind) + (1 if i < total % len(kind) else 0)
        return {name: counts[name] for name in names if counts.get(name, 0) > 0}


# --------------------------------------------------------------------------- values


def _frozen(a: np.ndarray, dtype=np.float64) -> np.ndarray:
    a = np.array(a, dtype=dtype, order="C", copy=True)
    a.setflags(write=False)
    return a


@dataclasses.dataclass(frozen=True, eq=False)
class ProblemGroup:
    """``n`` problems of one family; arrays are read-only, C-contiguous float64 (index int64).

    Attributes
    ----------
    family : Family
    y0 : ndarray, shape (n, d)
    params : ndarray, shape (n, k)
    y_ref : ndarray, shape (n, d)
        Reference solutions at ``t1``.
    t0, t1 : float
    ref_error : ndarray, shape (n,)
        Relative max-norm error estimate of ``y_ref`` (see :mod:`rkcore.reference`).
    index : ndarray of int64, shape (n,)
        Position of each problem in the whole dataset.
    rho : ndarray, shape (n,)
        Spectral radius of the Jacobian at ``(t0, y0)``; ``rho * (t1 - t0)`` is the stiffness.
    ref_method : str
        ``"exact"``, ``"DOP853"`` or ``"Radau"``.
    """

    family: Family
    y0: np.ndarray
    params: np.ndarray
    y_ref: np.ndarray
    t0: float
    t1: float
    ref_error: np.ndarray
    index: np.ndarray
    rho: np.ndarray
    ref_method: str

    def __post_init__(self) -> None:
        n, d, k = len(self.index), self.family.dim, self.family.n_params
        for name, shape in (("y0", (n, d)), ("params", (n, k)), ("y_ref", (n, d)), ("ref_error", (n,))):
            got = np.shape(getattr(self, name))
            if got != shape:
                raise RKInputError(f"ProblemGroup.{name} must have shape {shape}, got {got}")
        for name in ("y0", "params", "y_ref", "ref_error", "rho"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))
        object.__setattr__(self, "index", _frozen(self.index, np.int64))

    def __repr__(self) -> str:
        return f"ProblemGroup({self.family.name!r}, n={self.n}, t1={self.t1}, ref_method={self.ref_method!r})"

    @property
    def n(self) -> int:
        """Number of problems."""
        return len(self.index)

    def take(self, rows: np.ndarray) -> ProblemGroup:
        """The sub-group of the given rows (positions within this group)."""
        return dataclasses.replace(
            self,
            y0=self.y0[rows],
            params=self.params[rows],
            y_ref=self.y_ref[rows],
            ref_error=self.ref_error[rows],
            index=self.index[rows],
            rho=self.rho[rows],
        )


@dataclasses.dataclass(frozen=True, eq=False)
class Split:
    """A set of problems, one group per family (families without problems are left out)."""

    groups: tuple[ProblemGroup, ...]

    def __repr__(self) -> str:
        return f"Split(n_problems={self.n_problems}, n_stiff={self.n_stiff}, families={len(self.groups)})"

    @property
    def n_problems(self) -> int:
        return sum(g.n for g in self.groups)

    @property
    def n_stiff(self) -> int:
        return sum(g.n for g in self.groups if g.family.stiff)

    @property
    def families(self) -> tuple[str, ...]:
        return tuple(g.family.name for g in self.groups)

    def group(self, name: str) -> ProblemGroup:
        """The group of family ``name``."""
        for g in self.groups:
            if g.family.name == name:
                return g
        raise RKInputError(f"family {name!r} has no problems in this split; it has {list(self.families)}")


@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
    """A built dataset: the spec, its hash, the splits and where it was cached.

    Attributes
    ----------
    spec : DatasetSpec
    hash : str
        ``spec.hash()``.
    train, validation, test : Split
    all : Split
        Every problem, grouped by family, ordered by ``index``.
    cache_path : Path or None
        The cache file read or written (None when caching was off).
    from_cache : bool
        Whether the dataset was loaded from the cache.
    """

    spec: DatasetSpec
    hash: str
    train: Split
    validation: Split
    test: Split
    all: Split
    cache_path: Path | None = None
    from_cache: bool = False

    def __repr__(self) -> str:
        sizes = "/".join(str(s.n_problems) for s in (self.train, self.validation, self.test))
        return f"Dataset({self.spec!r}, train/validation/test={sizes}, from_cache={self.from_cache})"


# --------------------------------------------------------------------------- building


def _stream(seed: int, name: str, purpose: int) -> np.random.Generator:
    """The random stream of one family for one purpose (0: sampling, 1: split)."""
    key = zlib.crc32(name.encode("utf-8"))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(key, purpose))))


def _largest_remainder(total: int, weights: np.ndarray) -> np.ndarray:
    """Integers summing to ``total``, proportional to ``weights`` (Hamilton's method), shape like weights."""
    ideal = total * np.asarray(weights, dtype=np.float64) / np.sum(weights)
    counts = np.floor(ideal).astype(np.int64)
    order = np.argsort(-(ideal - counts), kind="stable")
    counts[order[: total - counts.sum()]] += 1
    return counts


def _split_counts(sizes: list[int], fractions: tuple[float, float, float]) -> np.ndarray:
    """Problems per (family, split), shape (n_families, 3): a controlled rounding.

    Split totals are the largest-remainder rounding of ``n_problems * fractions``; every
    cell is the floor or the ceiling of ``n_f * fraction`` (so each family is split in its
    proportions to within one problem).  The ceilings go first to the cells with the
    largest remainders; augmenting paths fix whatever that greedy pass leaves over (a
    rounding with both margins exact always exists for a two-way table).
    """
    sizes_arr = np.asarray(sizes, dtype=np.int64)
    targets = _largest_remainder(int(sizes_arr.sum()), np.asarray(fractions))
    ideal = sizes_arr[:, None] * np.asarray(fractions)[None, :]
    counts = np.floor(ideal + 1e-9).astype(np.int64)
    open_cell = ideal - counts > 1e-9  # cells that may still be rounded up
    leftover = sizes_arr - counts.sum(axis=1)
    deficit = targets - counts.sum(axis=0)
    up = np.zeros(counts.shape, dtype=bool)
    for f, s in sorted(zip(*np.nonzero(open_cell), strict=True), key=lambda fs: (-(ideal - counts)[fs], fs)):
        if leftover[f] > 0 and deficit[s] > 0:
            up[f, s] = True
            leftover[f] -= 1
            deficit[s] -= 1
    for f in range(len(sizes_arr)):
        while leftover[f] > 0:
            s = _augment(f, open_cell, up, deficit, set())
            if s is None:  # cannot happen for a feasible table; keep the margins anyway
                s = int(np.argmax(deficit))
                counts[f, s] += 1
            leftover[f] -= 1
            deficit[s] -= 1
    return counts + up


def _augment(f: int, open_cell: np.ndarray, up: np.ndarray, deficit: np.ndarray, seen: set) -> int | None:
    """Round one more cell of family ``f`` up (Kuhn's augmenting path); the split that gains, or None.

    A split still short of problems takes the cell directly; a full split ``s`` takes it if
    some family ``g`` rounded up in ``s`` can move its own ceiling to another split.
    """
    for s in range(up.shape[1]):
        if open_cell[f, s] and not up[f, s] and s not in seen:
            seen.add(s)
            if deficit[s] > 0:
                up[f, s] = True
                return s
            for g in np.flatnonzero(up[:, s]):
                gained = _augment(int(g), open_cell, up, deficit, seen)
                if gained is not None:
                    up[g, s], up[f, s] = False, True
                    return gained
    return None


def _split_labels(counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Split label (0 train, 1 validation, 2 test) of each problem of a family, shape (n,) int8.

    Parameters
    ----------
    counts : ndarray, shape (3,)
        Problems of the family in each split.
    """
    labels = np.repeat(np.arange(3, dtype=np.int8), counts)
    return labels[np.argsort(rng.permutation(len(labels)), kind="stable")]


def _resolve(reference: str) -> ResolvedFamily:
    """:func:`resolve_family`, its error naming the spec's field."""
    try:
        return resolve_family(reference)
    except RKInputError as exc:
        raise RKInputError(f"DatasetSpec.families: {exc}") from None


def _reference_task(reference: str, y0: np.ndarray, params: np.ndarray, t0: float, t1: float):
    """Worker entry point (module level so that it pickles): references of one chunk.

    The family travels by reference and is resolved again in the worker.
    """
    ref = reference_solution(resolve_family(reference).family, y0, params, t0, t1)
    return ref.y, ref.error


def _build(spec: DatasetSpec, progress: bool, workers: int | None, executor: Executor | None = None) -> dict:
    """Sample, solve and split; returns the arrays that the cache stores, keyed ``<family>/<field>``."""
    t0, t1 = 0.0, spec.t_end
    arrays: dict[str, np.ndarray] = {}
    tasks = []
    start = 0
    allocation = spec.allocation()
    families = spec.families_by_name
    references = {source.name: source.reference for source in spec.sources}
    split_counts = _split_counts(list(allocation.values()), spec.split)
    for f, (name, count) in enumerate(allocation.items()):
        family = families[name]
        params, y0 = family.sample(_stream(spec.seed, name, 0), count)
        arrays[f"{name}/params"] = np.ascontiguousarray(params, dtype=np.float64)
        arrays[f"{name}/y0"] = np.ascontiguousarray(y0, dtype=np.float64)
        arrays[f"{name}/index"] = np.arange(start, start + count, dtype=np.int64)
        arrays[f"{name}/split"] = _split_labels(split_counts[f], _stream(spec.seed, name, 1))
        arrays[f"{name}/rho"] = spectral_radius(family, t0, y0, params)
        arrays[f"{name}/y_ref"] = np.empty_like(arrays[f"{name}/y0"])
        arrays[f"{name}/ref_error"] = np.empty(count)
        start += count
        chunk = count if family.has_exact else _CHUNK
        tasks += [(name, lo, min(lo + chunk, count)) for lo in range(0, count, chunk)]

    def store(task, result):
        name, lo, hi = task
        arrays[f"{name}/y_ref"][lo:hi], arrays[f"{name}/ref_error"][lo:hi] = result

    def args(task):
        name, lo, hi = task
        return references[name], arrays[f"{name}/y0"][lo:hi], arrays[f"{name}/params"][lo:hi], t0, t1

    # Closed forms are vectorised and instant: evaluate them here; ship only solver work out.
    pending = [task for task in tasks if not families[task[0]].has_exact]
    for task in tasks:
        if families[task[0]].has_exact:
            store(task, _reference_task(*args(task)))
    total = sum(hi - lo for _, lo, hi in pending)
    with progress_bar(total, desc="references", unit="problem", enabled=progress) as bar:
        solve_chunks(_reference_task, pending, args, store, bar, workers, executor)
    return arrays


def _assemble(spec: DatasetSpec, arrays: dict, cache_path: Path | None, from_cache: bool) -> Dataset:
    """Turn the stored arrays into groups and splits."""
    groups, per_split = [], ([], [], [])
    families = spec.families_by_name
    for name in spec.allocation():
        family = families[name]
        group = ProblemGroup(
            family=family,
            y0=arrays[f"{name}/y0"],
            params=arrays[f"{name}/params"],
            y_ref=arrays[f"{name}/y_ref"],
            t0=0.0,
            t1=spec.t_end,
            ref_error=arrays[f"{name}/ref_error"],
            index=arrays[f"{name}/index"],
            rho=arrays[f"{name}/rho"],
            ref_method=reference_method(family),
        )
        groups.append(group)
        labels = arrays[f"{name}/split"]
        for label, bucket in enumerate(per_split):
            rows = np.flatnonzero(labels == label)
            if rows.size:
                bucket.append(group.take(rows))
    train, validation, test = (Split(tuple(bucket)) for bucket in per_split)
    return Dataset(spec, spec.hash(), train, validation, test, Split(tuple(groups)), cache_path, from_cache)


# --------------------------------------------------------------------------- cache


def resolve_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """The dataset cache folder.

    Resolution order: ``cache_dir`` if given, else the environment variable
    ``RKCORE_CACHE_DIR``, else ``~/.cache/rkcore``.  Callers should record the result.
    """
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get(CACHE_ENV_VAR)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "rkcore"


def cache_path(spec: DatasetSpec, cache_dir: str | os.PathLike | None = None) -> Path:
    """Where the dataset of ``spec`` is cached."""
    return resolve_cache_dir(cache_dir) / f"dataset-{spec.hash()}.rkds"


def _encode(spec: DatasetSpec, arrays: dict) -> bytes:
    meta = json.dumps({"format": DATASET_FORMAT_VERSION, "spec": spec.to_dict()}, sort_keys=True)
    buffer = io.BytesIO()
    np.savez(buffer, __meta__=np.frombuffer(meta.encode("utf-8"), dtype=np.uint8), **arrays)
    payload = buffer.getvalue()
    return _MAGIC + hashlib.sha256(payload).hexdigest().encode("ascii") + b"\n" + payload


def _decode(spec: DatasetSpec, blob: bytes) -> dict:
    """The arrays stored in ``blob``; ``ValueError`` naming what is wrong if anything is."""
    header = len(_MAGIC) + 65
    if not blob.startswith(_MAGIC) or len(blob) < header:
        raise ValueError("not a dataset file (bad header)")
    digest, payload = blob[len(_MAGIC) : header - 1].decode("ascii", "replace"), blob[header:]
    if hashlib.sha256(payload).hexdigest() != digest:
        raise ValueError("checksum mismatch (truncated or corrupted)")
    with np.load(io.BytesIO(payload), allow_pickle=False) as npz:
        stored = {key: npz[key] for key in npz.files}
    meta = json.loads(bytes(stored.pop("__meta__")).decode("utf-8"))
    if meta != {"format": DATASET_FORMAT_VERSION, "spec": spec.to_dict()}:
        raise ValueError("stored spec or format differs")
    families = spec.families_by_name
    for name, count in spec.allocation().items():
        d, k = families[name].dim, families[name].n_params
        expected = {
            "params": (count, k),
            "y0": (count, d),
            "y_ref": (count, d),
            "ref_error": (count,),
            "rho": (count,),
            "index": (count,),
            "split": (count,),
        }
        for field, shape in expected.items():
            value = stored.get(f"{name}/{field}")
            if value is None or value.shape != shape:
                raise ValueError(f"{name}/{field} missing or of the wrong shape")
        if not np.all(np.isfinite(stored[f"{name}/y_ref"])):
            raise ValueError(f"{name}/y_ref is not finite")
    return stored


def make_dataset(
    spec: DatasetSpec,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
    workers: int | None = None,
    use_cache: bool = True,
    executor: Executor | None = None,
) -> Dataset:
    """Build (or load from the cache) the dataset that ``spec`` describes.

    Parameters
    ----------
    spec : DatasetSpec
    cache_dir : path, optional
        Cache folder; see :func:`resolve_cache_dir` for the default.
    progress : bool
        Show a progress bar while references are computed.
    workers : int, optional
        Processes for the reference solves (default ``os.cpu_count()``); does not change
        the result.  Workers are started with ``spawn``: a script that calls this at top
        level needs the usual ``if __name__ == "__main__":`` guard (without it the build
        falls back to one process, with a warning).  In a daemonic process (a Dask worker, a
        pool worker), which may not start processes, the references are solved in this process.
    use_cache : bool
        Read and write the cache (False: always build, write nothing).
    executor : concurrent.futures.Executor, optional
        Where the reference solves run instead of a process pool, e.g. a Dask client's
        ``get_executor()`` to spread them over a cluster's workers; ``workers`` is then unused.

    Returns
    -------
    Dataset
    """
    if not isinstance(spec, DatasetSpec):
        raise RKInputError(f"spec must be a DatasetSpec, got {type(spec).__name__}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise RKInputError(f"workers must be a positive integer or None, got {workers!r}")
    path = cache_path(spec, cache_dir) if use_cache else None
    if path is not None and path.exists():
        try:
            return _assemble(spec, _decode(spec, path.read_bytes()), path, True)
        except (ValueError, OSError, KeyError, EOFError, zlib.error) as exc:
            message = f"dataset cache {path} is unusable ({exc}); rebuilding it"
            warnings.warn(message, RuntimeWarning, stacklevel=2)
    arrays = _build(spec, progress, workers, executor)
    if path is not None:
        atomic_write_bytes(path, _encode(spec, arrays))
    return _assemble(spec, arrays, path, False)
