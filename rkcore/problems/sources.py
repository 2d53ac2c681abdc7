"""Where the families of a dataset come from: the built-in registry, an import path, a plugin.

A dataset (:class:`rkcore.DatasetSpec`) and a profile (``dataset.families``) name each family
by a *reference*, one of

``"van_der_pol"``
    A built-in family, a key of :data:`rkcore.FAMILIES`.
``"mypkg.advection:ADVECTION"``
    An import path ``module:attribute`` (the convention of entry points, uvicorn and typer):
    ``module`` is imported with :func:`importlib.import_module` and ``attribute`` must be a
    :class:`~rkcore.problems.base.Family`.  The module is looked up on ``sys.path`` with the
    current working directory in front, so ``examples.advection:ADVECTION`` works from the
    root of a clone whether the program is ``python -m ...`` or an installed console script.
``"advection"`` (not a built-in name)
    An installed plugin: an entry point of that name in the group :data:`ENTRY_POINT_GROUP`
    (``rk_discovery.families``), declared in the plugin's ``pyproject.toml`` as
    ``[project.entry-points."rk_discovery.families"] advection = "mypkg.advection:ADVECTION"``.

Nothing is discovered implicitly: a family takes part only when a reference names it.
Every reference resolves to a :class:`FamilySource` recording how it was found and a hash of
its definition, which enters the dataset's hash (so its cache key) and a run's profile hash:
two datasets built from different user code never share a cache file or a run folder.

The definition hash is the SHA-256 of the reference, the source bytes of the module that
holds the family and of every module defining its ``rhs``, ``rhs_block``, ``sample`` and
``exact``, and, for a plugin, the distribution's name and version.  Code that those modules
import from elsewhere is not hashed.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import hashlib
import importlib
import inspect
import os
import sys
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ..errors import RKInputError
from .base import Family

ENTRY_POINT_GROUP = "rk_discovery.families"
#: Largest rho(J) * t_end of a problem of a family of one's own flagged non-stiff: its DOP853
#: reference would need ~rho * t_end / 3 steps at the stability limit (the built-ins stay below 25).
NON_STIFF_RHO_T_MAX = 1000.0
KINDS = ("builtin", "import", "entry_point")

__all__ = [
    "ENTRY_POINT_GROUP",
    "FamilySource",
    "ResolvedFamily",
    "check_rhs",
    "check_sample",
    "resolve_family",
]


@dataclasses.dataclass(frozen=True)
class FamilySource:
    """How one family reference was resolved; recorded in run manifests as provenance.

    Attributes
    ----------
    reference : str
        The reference as written (``"van_der_pol"``, ``"mypkg.advection:ADVECTION"``...).
    name : str
        ``Family.name`` of the resolved family (keys its problems in a dataset).
    kind : {"builtin", "import", "entry_point"}
    origin : str
        ``"rkcore"`` for a built-in; the module's file for an import path; for an entry point
        ``"<distribution> <version>: <module:attribute>"``.
    hash : str or None
        SHA-256 (hex) of the family's definition (module docstring); ``None`` for a built-in,
        whose code the package version and git commit already pin.
    """

    reference: str
    name: str
    kind: str
    origin: str
    hash: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of the fields."""
        return dataclasses.asdict(self)


class ResolvedFamily(NamedTuple):
    """A family and where it came from."""

    family: Family
    source: FamilySource


def resolve_family(reference: str) -> ResolvedFamily:
    """The family that ``reference`` names (see the module docstring) and its source.

    Parameters
    ----------
    reference : str
        A built-in name, ``"module:attribute"``, or the name of an entry point in
        :data:`ENTRY_POINT_GROUP`.

    Returns
    -------
    ResolvedFamily

    Raises
    ------
    RKInputError
        A module that does not import, a missing attribute, an attribute that is not a
        :class:`Family`, an unknown name (suggesting the closest built-in), a module
        without a source file to hash.
    """
    from . import FAMILIES

    if not isinstance(reference, str) or not reference.strip():
        raise RKInputError(f"a family reference must be a non-empty string, got {reference!r}")
    reference = reference.strip()
    if reference in FAMILIES:
        family = FAMILIES[reference]
        return ResolvedFamily(family, FamilySource(reference, family.name, "builtin", "rkcore"))
    if ":" in reference:
        family, module = _load_import_path(reference)
        source = FamilySource(reference, family.name, "import", _module_file(module, reference),
                              _definition_hash(reference, family, module))  # fmt: skip
        return ResolvedFamily(family, source)
    entry_point = _entry_point(reference)
    if entry_point is None:
        close = difflib.get_close_matches(reference, list(FAMILIES), n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise RKInputError(
            f"unknown problem family {reference!r}; {hint}give a built-in name (rkcore.FAMILIES), an "
            f"import path 'module:attribute', or the name of an installed '{ENTRY_POINT_GROUP}' entry point"
        )
    try:
        family = entry_point.load()
    except Exception as exc:  # whatever the plugin's import raises
        raise RKInputError(
            f"family {reference!r}: entry point {entry_point.value!r} does not load: {_first_line(exc)}"
        ) from None
    _check_is_family(family, reference, f"entry point {entry_point.value!r}")
    dist = getattr(entry_point, "dist", None)
    version = f"{dist.name} {dist.version}" if dist is not None else "unknown distribution"
    module = sys.modules.get(entry_point.value.partition(":")[0].strip())
    salt = f"{version}\n{entry_point.value}"
    source = FamilySource(reference, family.name, "entry_point", f"{version}: {entry_point.value}",
                          _definition_hash(reference, family, module, salt))  # fmt: skip
    return ResolvedFamily(family, source)


# --------------------------------------------------------------------------- import paths


def _load_import_path(reference: str):
    """``(family, module)`` of ``"module:attribute"``."""
    module_name, _, attribute = reference.partition(":")
    module_name, attribute = module_name.strip(), attribute.strip()
    if not module_name or not attribute:
        raise RKInputError(
            f"family {reference!r}: an import path is 'module:attribute', e.g. 'mypkg.odes:MINE'"
        )
    module = _import_module(module_name, reference)
    try:
        family = functools.reduce(getattr, attribute.split("."), module)
    except AttributeError:
        public = [name for name, value in vars(module).items() if isinstance(value, Family)]
        hint = f"; it defines {', '.join(public)}" if public else "; it defines no Family"
        raise RKInputError(
            f"family {reference!r}: module {module_name!r} has no attribute {attribute!r}{hint}"
        ) from None
    _check_is_family(family, reference, f"{module_name}.{attribute}")
    return family, module


def _import_module(name: str, reference: str):
    """Import ``name`` with the working directory at the front of ``sys.path`` for the import only."""
    cwd = os.getcwd()
    added = cwd not in sys.path and "" not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(name)
    except Exception as exc:  # a user module may raise anything at import time
        raise RKInputError(
            f"family {reference!r}: module {name!r} does not import ({_first_line(exc)}); "
            f"it is looked up from the working directory {cwd} and sys.path"
        ) from None
    finally:
        if added:
            sys.path.remove(cwd)


def _check_is_family(value: Any, reference: str, where: str) -> None:
    if not isinstance(value, Family):
        raise RKInputError(
            f"family {reference!r}: {where} is of type {type(value).__name__}, not an rkcore.Family; "
            "build it with rkcore.Family(name=..., dim=..., ...)"
        )


def _entry_point(name: str):
    """The entry point ``name`` of :data:`ENTRY_POINT_GROUP`, or None."""
    found = metadata.entry_points(group=ENTRY_POINT_GROUP)
    matches = [ep for ep in found if ep.name == name]
    return matches[0] if matches else None


# --------------------------------------------------------------------------- hashing


def _module_file(module, reference: str) -> str:
    path = getattr(module, "__file__", None)
    if not path or not Path(path).is_file():
        raise RKInputError(
            f"family {reference!r}: module {module.__name__!r} has no source file to hash; "
            "define the family in a .py file"
        )
    return str(Path(path).resolve())


def _definition_hash(reference: str, family: Family, module, salt: str = "") -> str:
    """SHA-256 of the reference, ``salt`` and the source of the family's modules (sorted by path)."""
    modules = {module} if module is not None else set()
    for part in (family.rhs, family.rhs_block, family.sample, family.exact):
        owner = inspect.getmodule(_unwrap(part)) if part is not None else None
        if owner is not None:
            modules.add(owner)
    files = sorted({_module_file(m, reference) for m in modules if getattr(m, "__file__", None)})
    digest = hashlib.sha256(f"{reference}\n{salt}\n".encode())
    for path in files:
        digest.update(Path(path).name.encode() + b"\n")
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()


def _unwrap(func: Any) -> Any:
    """The Python function behind a numba dispatcher or a ``functools.partial``."""
    while True:
        if isinstance(func, functools.partial):
            func = func.func
        elif hasattr(func, "py_func"):
            func = func.py_func
        else:
            return func


def _first_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


# --------------------------------------------------------------------------- checks


def check_family(
    found: ResolvedFamily, count: int, rng: np.random.Generator, t_end: float, share: tuple[int, int]
) -> None:
    """Check a family of one's own on the ``count`` problems a dataset draws from ``rng``.

    Parameters
    ----------
    found : ResolvedFamily
    count : int
        Problems the dataset gives the family.
    rng : numpy.random.Generator
        The family's sampling stream, as the dataset build uses it.
    t_end : float
    share : (int, int)
        Problems of the family's kind and families of that kind (for the message when
        ``count`` is 0).

    Raises
    ------
    RKInputError
        No problems, a bad sample (:func:`check_sample`), a bad rhs (:func:`check_rhs`), or a
        non-stiff flag on problems with ``rho(J) * t_end > NON_STIFF_RHO_T_MAX`` (no closed form).
    """
    from ..reference import spectral_radius

    source, family = found.source, found.family
    if count == 0:
        kind = "stiff" if family.stiff else "non-stiff"
        raise RKInputError(
            f"family {source.reference!r} gets no problems ({share[0]} {kind} problems for {share[1]} "
            f"{kind} families); raise {'n_stiff' if family.stiff else 'n_problems'} or drop it"
        )
    params, y0 = check_sample(source, family, rng, count)
    check_rhs(source, family, params, y0)
    if not family.stiff and not family.has_exact:
        rho_t = spectral_radius(family, 0.0, y0, params) * t_end
        worst = int(np.argmax(rho_t))
        if rho_t[worst] > NON_STIFF_RHO_T_MAX:
            raise RKInputError(
                f"family {source.reference!r} is flagged non-stiff but rho(J) * t_end = {rho_t[worst]:.3g} "
                f"at params {params[worst].tolist()}, too stiff for its DOP853 reference; set stiff=True "
                "(Radau reference) or shorten t_end"
            )


def check_sample(source: FamilySource, family: Family, rng: np.random.Generator, n: int):
    """``family.sample(rng, n)`` as float64 arrays ``(params (n, k), y0 (n, d))``, checked.

    Raises
    ------
    RKInputError
        The sampler raises, returns the wrong shapes (including no rows), or non-finite values.
    """
    where = f"family {source.reference!r}"
    try:
        params, y0 = family.sample(rng, n)
        params = np.asarray(params, dtype=np.float64)
        y0 = np.asarray(y0, dtype=np.float64)
    except Exception as exc:  # a user sampler may raise anything
        raise RKInputError(
            f"{where}: sample(rng, {n}) fails ({_first_line(exc)}); it must return (params, y0)"
        ) from None
    for label, value, width, field in (
        ("params", params, family.n_params, "n_params"),
        ("y0", y0, family.dim, "dim"),
    ):
        if value.shape != (n, width):
            raise RKInputError(
                f"{where}: sample(rng, {n}) returned {label} of shape {value.shape}, expected ({n}, {width}) "
                f"(n rows, Family.{field} = {width} columns)"
            )
        bad = np.flatnonzero(~np.all(np.isfinite(value), axis=1))
        if bad.size:
            raise RKInputError(
                f"{where}: sample(rng, {n}) returned non-finite {label} in row {bad[0]} "
                f"({value[bad[0]].tolist()}); the sampler must give finite numbers"
            )
    return np.ascontiguousarray(params), np.ascontiguousarray(y0)


def check_rhs(source: FamilySource, family: Family, params: np.ndarray, y0: np.ndarray) -> None:
    """Probe ``rhs`` and ``rhs_block`` on the first sampled problems against ``Family.dim``.

    ``rhs`` runs first as plain Python (its ``py_func``) on arrays of exactly ``dim`` and
    ``n_params`` entries, where numpy checks every index -- compiled numba code does not, and
    would read or write foreign memory instead.  Then the compiled ``rhs`` and ``rhs_block``
    must agree with it.

    Parameters
    ----------
    params : ndarray, shape (n, k)
    y0 : ndarray, shape (n, d)

    Raises
    ------
    RKInputError
        ``rhs`` is not a numba function, indexes past ``dim``, leaves a component of ``dydt``
        unset, gives non-finite values, fails to compile, or ``rhs_block`` disagrees.
    """
    from numba.core.dispatcher import Dispatcher

    where, d = f"family {source.reference!r}", family.dim
    for label in ("rhs", "rhs_block"):
        if not isinstance(getattr(family, label), Dispatcher):
            raise RKInputError(
                f"{where}: {label} must be a @numba.njit function, "
                f"got {type(getattr(family, label)).__name__}"
            )
    python_rhs = _unwrap(family.rhs)
    outputs = []
    for fill in (np.nan, _SENTINEL):
        out = np.full(d, fill)
        try:
            python_rhs(0.0, y0[0].copy(), params[0].copy(), out)
        except IndexError as exc:
            raise RKInputError(
                f"{where}: rhs indexes past its arrays ({_first_line(exc)}) with Family.dim = {d}, "
                f"Family.n_params = {family.n_params}; make them match what the rhs reads and writes"
            ) from None
        except Exception as exc:
            raise RKInputError(
                f"{where}: rhs fails on the first sampled problem ({_first_line(exc)})"
            ) from None
        outputs.append(out)
    unset = np.flatnonzero(np.isnan(outputs[0]) & (outputs[1] == _SENTINEL))
    if unset.size:
        raise RKInputError(
            f"{where}: rhs leaves dydt[{unset[0]}] unset, but Family.dim = {d}; "
            "make dim the number of components the rhs writes"
        )
    expected = outputs[0]
    if not np.all(np.isfinite(expected)):
        raise RKInputError(
            f"{where}: rhs gives a non-finite dydt on the first sampled problem (params {params[0].tolist()})"
        )
    m = min(4, len(y0))
    compiled = np.empty(d)
    block = np.empty((d, m))
    try:
        family.rhs(0.0, np.ascontiguousarray(y0[0]), np.ascontiguousarray(params[0]), compiled)
        family.rhs_block(0.0, np.ascontiguousarray(y0[:m].T), np.ascontiguousarray(params[:m].T), block)
    except Exception as exc:  # numba raises many types (TypingError, LoweringError, ...)
        raise RKInputError(
            f"{where}: rhs or rhs_block does not compile or run ({_first_line(exc)})"
        ) from None
    scale = max(1.0, float(np.max(np.abs(expected))))
    for label, got in (("rhs", compiled), ("rhs_block", block[:, 0])):
        if not np.max(np.abs(got - expected)) <= 1e-9 * scale:
            raise RKInputError(f"{where}: compiled {label} disagrees with rhs on the first sampled problem")


_SENTINEL = -7.0e300
