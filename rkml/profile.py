"""Run profiles: one frozen, validated value holding every setting of a training run.

A :class:`Profile` is built from a TOML file -- a built-in one shipped in
``rkml/profiles/`` (the single source of truth for the six runs of the seed document) or a
user's own file -- and is then passed *as an argument* into dataset building, the scorer,
the generator and the objective.  There is no module-level configuration: a different
profile can only reach training through the arguments, which is what stops two runs with
different profiles from silently sharing one set of settings.

Profile TOML layout (every key; the defaults apply to a custom file that leaves a key out,
the built-in files spell out every value)::

    name = "efficiency-v2"          # required in spirit; defaults to the file's stem
    description = "..."             # default ""
    [dataset]
    n_problems = 1200               # required: ODEs in the dataset (train + validation + test)
    n_stiff = 400                   # required: how many come from stiff families (<= n_problems)
    t_end = 0.12                    # required: integration horizon [0, t_end] of every ODE
    seed = 2024                     # default 2024: which ODEs are drawn (the run's seed is training.seed)
    families = []                   # default []: family references; empty = every built-in family.
                                    #   A built-in name ("van_der_pol"), an import path
                                    #   "module:attribute" of an rkcore.Family of your own (looked
                                    #   up from the working directory, then sys.path), or the name
                                    #   of an installed "rk_discovery.families" entry point; the
                                    #   hash of a family of your own is part of the profile's hash
    split = [0.4, 0.4, 0.2]         # default: train / validation / test fractions (positive, sum 1);
                                    #   validation decides what training keeps, so it is large
    [stages]
    min = 3                         # required: every stage count min..max is trained
    max = 5                         # required
    default = 4                     # required: min <= default <= max; the count used by --smoke
    [model]
    hidden_units = 320              # required: width of the generator MLP
    layers = 2                      # default 2: hidden layers
    [objective]
    w_acc = 0.30                    # required: weights of the three scores, >= 0, sum to 1
    w_eff = 0.60                    # required
    w_stab = 0.10                   # required
    min_order = 3                   # default 3: minimum verified order; must be reachable with
                                    #   stages.min stages (explicit RK: s stages reach order s for
                                    #   s <= 4, then 4, 5, 6, 6, 7, 7, 8 for s = 5..11)
    target_error = 1e-6             # default 1e-6: each problem is scored at the fewest steps (of a
                                    #   sqrt(2) ladder) at which RK4's error is at most this
                                    #   (rkcore.calibration; in [1e-12, 0.1])
    [training]
    generations = 100               # required: CMA-ES generations per elite member (rkml.search)
    seed = 0                        # default 0: every random draw of the search (random starts, CMA)
    starts = 1000                   # default 1000: random tableaux driven onto each order's conditions
                                    #   per stage count (the global exploration; >= 0)
    elite = 4                       # default 4: diverse best explored points refined by CMA-ES (>= 1)
    candidates = 16                 # default 16: CMA-ES population, tableaux per generation (>= 4)
    sigma = 0.05                    # default 0.05: CMA-ES initial step in tangent coordinates
    selection_z = 3.0               # default 3.0: a new best, and a published tableau, must beat the
                                    #   one it replaces on the validation split by this many standard
                                    #   errors of the paired per-problem score differences (0: by any
                                    #   margin); a handful of looks per stage count at a one-sided
                                    #   0.1% level each

``overrides`` (a list of strings) may also appear: it records how a resolved profile was
derived (``--set`` strings, ``--seed N``, ``--stages N``, ``--smoke``), so that the output of
``rkml profiles show`` and the profile stored in a manifest load back to an equal value.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import math
import re
import sys
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any, get_type_hints

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

from rkcore.errors import RKInputError

from .errors import ProfileError

__all__ = [
    "DatasetSection",
    "ModelSection",
    "ObjectiveSection",
    "Profile",
    "StageRange",
    "TrainingSection",
    "builtin_profiles",
    "load_profile",
    "max_explicit_order",
    "resolve_profile",
]

#: Tolerance on "weights sum to 1" and "split sums to 1".
SUM_TOL = 1e-9

#: Highest order an explicit Runge--Kutta method with ``s`` stages can reach (Butcher's
#: barriers: order 5 needs 6 stages, 6 needs 7, 7 needs 9, 8 needs 11).  Index = stages.
_MAX_ORDER_BY_STAGES = (0, 1, 2, 3, 4, 4, 5, 6, 6, 7, 7, 8)

#: Largest stage count a profile may ask for (the generator's output grows as s^2).
MAX_STAGES = 16

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def max_explicit_order(stages: int) -> int:
    """Highest order reachable by an explicit RK method with ``stages`` stages.

    Beyond 11 stages the exact bound is not known; 8 is returned (a safe lower bound).
    """
    if stages < 1:
        raise ProfileError(f"stage count must be >= 1, got {stages}")
    return _MAX_ORDER_BY_STAGES[min(stages, len(_MAX_ORDER_BY_STAGES) - 1)]


# --------------------------------------------------------------------------- field checks


def _type_name(tp: Any) -> str:
    return {int: "an integer", float: "a number", str: "a string"}.get(tp, "a list")


def _coerce(where: str, value: Any, tp: Any) -> Any:
    """Return ``value`` converted to the field type ``tp``, or raise a one-line ProfileError.

    Integers are accepted where a float is expected; booleans and floats are never taken as
    integers (``1000.0`` for a count is almost always a mistake in a hand-written file).
    """
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ProfileError(f"{where} must be an integer, got {type(value).__name__} {value!r}")
        return int(value)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ProfileError(f"{where} must be a number, got {type(value).__name__} {value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise ProfileError(f"{where} must be finite, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ProfileError(f"{where} must be a string, got {type(value).__name__} {value!r}")
        return value
    # tuple[X, ...] or tuple[X, X, X]
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise ProfileError(f"{where} must be a list, got {type(value).__name__} {value!r}")
    args = tp.__args__
    if len(args) == 2 and args[1] is Ellipsis:
        return tuple(_coerce(f"{where}[{i}]", v, args[0]) for i, v in enumerate(value))
    if len(value) != len(args):
        raise ProfileError(f"{where} must be a list of {len(args)} values, got {len(value)}")
    return tuple(_coerce(f"{where}[{i}]", v, a) for i, (v, a) in enumerate(zip(value, args, strict=True)))


class _Section:
    """Shared machinery of the frozen profile sections: type coercion on construction."""

    SECTION = ""

    def __post_init__(self) -> None:
        hints = get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value = _coerce(f"{self.SECTION}.{f.name}", getattr(self, f.name), hints[f.name])
            object.__setattr__(self, f.name, value)
        self._check()

    def _check(self) -> None:
        raise NotImplementedError

    def _require(self, ok: bool, key: str, message: str) -> None:
        if not ok:
            raise ProfileError(f"{self.SECTION}.{key} {message}")

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


# --------------------------------------------------------------------------- sections


@dataclasses.dataclass(frozen=True)
class DatasetSection(_Section):
    """Which ODEs a run trains and is scored on (see :meth:`Profile.dataset_spec`)."""

    SECTION = "dataset"
    n_problems: int
    n_stiff: int
    t_end: float
    seed: int = 2024
    families: tuple[str, ...] = ()
    split: tuple[float, float, float] = (0.4, 0.4, 0.2)

    def _check(self) -> None:
        self._require(self.n_problems >= 1, "n_problems", f"must be >= 1, got {self.n_problems}")
        self._require(
            0 <= self.n_stiff <= self.n_problems,
            "n_stiff",
            f"must be between 0 and dataset.n_problems = {self.n_problems}, got {self.n_stiff}",
        )
        self._require(self.t_end > 0, "t_end", f"must be > 0, got {self.t_end}")
        self._require(self.seed >= 0, "seed", f"must be >= 0, got {self.seed}")
        for name in self.families:
            self._require(bool(name.strip()), "families", "must not contain empty names")
        self._require(
            len(set(self.families)) == len(self.families),
            "families",
            f"must not repeat a family, got {list(self.families)}",
        )
        self._require(
            all(f > 0 for f in self.split) and abs(sum(self.split) - 1.0) <= SUM_TOL,
            "split",
            f"must be three positive fractions (train, validation, test) summing to 1, "
            f"got {list(self.split)}",
        )

    def family_hashes(self) -> dict[str, str]:
        """Definition hash of each family of one's own (import path or entry point), by reference.

        See :mod:`rkcore.problems.sources`; built-in families have none (the code's version pins them).
        """
        from rkcore.problems import FAMILIES
        from rkcore.problems.sources import resolve_family

        own = {}
        for reference in self.families:
            if reference.strip() not in FAMILIES:
                try:
                    own[reference] = resolve_family(reference).source.hash
                except RKInputError as exc:
                    raise ProfileError(f"dataset.families: {exc}") from None
        return own


@dataclasses.dataclass(frozen=True)
class StageRange(_Section):
    """Stage counts to train: every ``s`` in ``min..max``; ``default`` when one is wanted."""

    SECTION = "stages"
    min: int
    max: int
    default: int

    def _check(self) -> None:
        self._require(self.min >= 1, "min", f"must be >= 1, got {self.min}")
        self._require(
            self.max >= self.min,
            "max",
            f"must be >= stages.min = {self.min}, got {self.max} (empty or inverted stage range)",
        )
        self._require(self.max <= MAX_STAGES, "max", f"must be <= {MAX_STAGES}, got {self.max}")
        self._require(
            self.min <= self.default <= self.max,
            "default",
            f"must lie in the stage range {self.min}..{self.max}, got {self.default}",
        )

    @property
    def counts(self) -> tuple[int, ...]:
        """Every stage count of the range, ascending."""
        return tuple(range(self.min, self.max + 1))


@dataclasses.dataclass(frozen=True)
class ModelSection(_Section):
    """Size of the generator network."""

    SECTION = "model"
    hidden_units: int
    layers: int = 2

    def _check(self) -> None:
        self._require(self.hidden_units >= 1, "hidden_units", f"must be >= 1, got {self.hidden_units}")
        self._require(self.layers >= 1, "layers", f"must be >= 1, got {self.layers}")


@dataclasses.dataclass(frozen=True)
class ObjectiveSection(_Section):
    """What a good tableau is: score weights, minimum order, scoring steps."""

    SECTION = "objective"
    w_acc: float
    w_eff: float
    w_stab: float
    min_order: int = 3
    target_error: float = 1e-6

    def _check(self) -> None:
        for key in ("w_acc", "w_eff", "w_stab"):
            self._require(getattr(self, key) >= 0, key, f"must be >= 0, got {getattr(self, key)}")
        total = self.w_acc + self.w_eff + self.w_stab
        if abs(total - 1.0) > SUM_TOL:
            raise ProfileError(
                "objective.w_acc + objective.w_eff + objective.w_stab must sum to 1, "
                f"got {self.w_acc:g} + {self.w_eff:g} + {self.w_stab:g} = {total:.12g}; "
                "when overriding one weight set all three, e.g. --set objective.w_acc=0.4 "
                "--set objective.w_eff=0.4 --set objective.w_stab=0.2"
            )
        self._require(self.min_order >= 1, "min_order", f"must be >= 1, got {self.min_order}")
        from rkcore.calibration import check_target_error

        try:
            check_target_error(self.target_error)
        except RKInputError as exc:
            raise ProfileError(f"objective.{exc}") from None


@dataclasses.dataclass(frozen=True)
class TrainingSection(_Section):
    """Optimisation budget and randomness of a run."""

    SECTION = "training"
    generations: int
    seed: int = 0
    starts: int = 1000
    elite: int = 4
    candidates: int = 16
    sigma: float = 0.05
    selection_z: float = 3.0

    def _check(self) -> None:
        self._require(self.generations >= 1, "generations", f"must be >= 1, got {self.generations}")
        self._require(self.seed >= 0, "seed", f"must be >= 0, got {self.seed}")
        self._require(self.starts >= 0, "starts", f"must be >= 0, got {self.starts}")
        self._require(self.elite >= 1, "elite", f"must be >= 1, got {self.elite}")
        self._require(self.candidates >= 4, "candidates", f"must be >= 4, got {self.candidates}")
        self._require(0 < self.sigma <= 1, "sigma", f"must lie in (0, 1], got {self.sigma}")
        self._require(self.selection_z >= 0, "selection_z", f"must be >= 0, got {self.selection_z}")


_SECTIONS: dict[str, type[_Section]] = {
    "dataset": DatasetSection,
    "stages": StageRange,
    "model": ModelSection,
    "objective": ObjectiveSection,
    "training": TrainingSection,
}
_TOP_LEVEL = ("name", "description")


def _all_keys() -> list[str]:
    keys = list(_TOP_LEVEL)
    for section, cls in _SECTIONS.items():
        keys += [f"{section}.{f.name}" for f in dataclasses.fields(cls)]
    return keys


_RETIRED = {
    "training.epochs": "it was replaced by 'training.generations' in rk-discovery 0.3: CMA-ES "
    "generations per elite member of the search (rkml.search)",
    "training.learning_rate": "it was retired in rk-discovery 0.3 (the CMA-ES search adapts its own step "
    "size); remove the key",
    "training.batch_problems": "it was retired in rk-discovery 0.3 (every candidate is scored on the "
    "whole training split); remove the key",
    "objective.eval_steps": "it was replaced by 'objective.target_error' in rk-discovery 0.2: each "
    "problem gets its own step count, the fewest at which RK4's error is at most target_error "
    "(default 1e-6)",
}


def _suggest(key: str, extra: Iterable[str] = ()) -> str:
    """``"; did you mean 'x.y'?"`` for the closest known key (across sections), or ``""``."""
    if key in _RETIRED:
        return f"; {_RETIRED[key]}"
    known = _all_keys() + list(extra)
    leaf = key.rsplit(".", 1)[-1]
    # The right key in the wrong section is the commonest slip.
    same_leaf = [k for k in known if k.rsplit(".", 1)[-1] == leaf]
    if same_leaf:
        return f"; did you mean '{same_leaf[0]}'?"
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if not close:
        by_leaf = {k.rsplit(".", 1)[-1]: k for k in known}
        leaves = difflib.get_close_matches(leaf, list(by_leaf), n=1, cutoff=0.6)
        close = [by_leaf[leaves[0]]] if leaves else []
    return f"; did you mean '{close[0]}'?" if close else ""


#: Keys people write to derive one profile from another; TOML profiles have no such thing.
_INHERITANCE_KEYS = frozenset(
    "extends extend inherits inherit inherit_from base based_on parent include includes import imports "
    "template".split()
)


def _unknown_key(key: str, extra: Iterable[str] = ()) -> str:
    """``"unknown key 'x'; did you mean 'y'?"``, or why there is no inheritance key."""
    if key.rsplit(".", 1)[-1].lower() in _INHERITANCE_KEYS:
        return (
            f"unknown key '{key}': a profile cannot extend or include another profile; "
            "copy one with 'rkml profiles show NAME > my.toml' and edit the copy, "
            "or change single settings with --set section.key=value"
        )
    return f"unknown key '{key}'{_suggest(key, extra)}"


def _section_list() -> str:
    return ", ".join(f"[{name}]" for name in _SECTIONS)


# --------------------------------------------------------------------------- the profile


@dataclasses.dataclass(frozen=True)
class Profile:
    """Every setting of one training run; frozen, validated on construction.

    Build one with :func:`load_profile` (or :meth:`from_dict`); derive variants with
    :meth:`with_overrides`, :meth:`with_seed`, :meth:`with_stages` and :meth:`smoke`, each of
    which records what it did in ``overrides``.
    """

    name: str
    dataset: DatasetSection
    stages: StageRange
    model: ModelSection
    objective: ObjectiveSection
    training: TrainingSection
    description: str = ""
    overrides: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME_RE.match(self.name):
            raise ProfileError(
                f"name must be letters, digits, '.', '_' or '-' (it names the run folder), got {self.name!r}"
            )
        if not isinstance(self.description, str):
            raise ProfileError(f"description must be a string, got {self.description!r}")
        for section, cls in _SECTIONS.items():
            if not isinstance(getattr(self, section), cls):
                raise ProfileError(f"{section} must be a {cls.__name__}, got {getattr(self, section)!r}")
        object.__setattr__(self, "overrides", _coerce("overrides", self.overrides, tuple[str, ...]))
        reachable = max_explicit_order(self.stages.min)
        if self.objective.min_order > reachable:
            raise ProfileError(
                f"objective.min_order = {self.objective.min_order} is unreachable with stages.min = "
                f"{self.stages.min} (an explicit {self.stages.min}-stage method reaches at most order "
                f"{reachable}); lower objective.min_order or raise stages.min"
            )

    # ----------------------------------------------------------------- construction

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "profile") -> Profile:
        """Build a profile from its dict form (``to_dict()`` output or a parsed TOML file).

        Unknown sections or keys are errors with a suggestion; missing required keys are
        errors naming ``section.key``.
        """
        if not isinstance(data, Mapping):
            raise ProfileError(f"{source}: a profile must be a table of sections, got {type(data).__name__}")
        allowed_top = set(_TOP_LEVEL) | {"overrides"} | set(_SECTIONS)
        for key, value in data.items():
            if key in allowed_top:
                continue
            if isinstance(value, Mapping) and str(key).lower() not in _INHERITANCE_KEYS:
                close = difflib.get_close_matches(str(key), list(_SECTIONS), n=1, cutoff=0.6)
                hint = f"; did you mean [{close[0]}]?" if close else ""
                raise ProfileError(
                    f"{source}: unknown section [{key}]{hint} (the sections are {_section_list()})"
                )
            raise ProfileError(f"{source}: {_unknown_key(str(key), extra=[*_SECTIONS, 'overrides'])}")
        kwargs: dict[str, Any] = {}
        for section, scls in _SECTIONS.items():
            table = data.get(section)
            if table is None:
                raise ProfileError(f"{source}: missing section [{section}]")
            if not isinstance(table, Mapping):
                raise ProfileError(f"{source}: [{section}] must be a table, got {table!r}")
            names = {f.name for f in dataclasses.fields(scls)}
            for key in table:
                if key not in names:
                    raise ProfileError(f"{source}: {_unknown_key(f'{section}.{key}')}")
            for f in dataclasses.fields(scls):
                if f.name not in table and f.default is dataclasses.MISSING:
                    raise ProfileError(f"{source}: missing key '{section}.{f.name}'")
            try:
                kwargs[section] = scls(**table)
            except ProfileError as exc:
                raise ProfileError(f"{source}: {exc}") from None
        try:
            return cls(
                name=data.get("name", "custom"),
                description=data.get("description", ""),
                overrides=data.get("overrides", ()),
                **kwargs,
            )
        except ProfileError as exc:
            raise ProfileError(f"{source}: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/TOML-ready form; ``Profile.from_dict(p.to_dict()) == p``."""
        out: dict[str, Any] = {"name": self.name, "description": self.description}
        for section in _SECTIONS:
            out[section] = getattr(self, section).to_dict()
        out["overrides"] = list(self.overrides)
        return out

    def to_toml(self) -> str:
        """The resolved profile as TOML text (loads back to an equal profile)."""
        import tomli_w

        data = self.to_dict()
        overrides = data.pop("overrides")
        # Top-level keys must precede the tables in TOML.
        head = {"name": data.pop("name"), "description": data.pop("description"), "overrides": overrides}
        return tomli_w.dumps(head) + "\n" + tomli_w.dumps(data)

    def hash(self) -> str:
        """sha256 (hex) of the canonical JSON of every setting, name and description.

        ``overrides`` is provenance, not a setting, and is left out: the same settings reached
        by different routes (``--seed 0`` or ``--set training.seed=0``) share a hash and so a
        run folder.  The definition hash of every family of one's own in ``dataset.families``
        is part of it (:meth:`DatasetSection.family_hashes`): a profile naming
        ``"mypkg.odes:MINE"`` changes hash, and run folder, when that code changes.
        """
        data = self.to_dict()
        del data["overrides"]
        own = self.dataset.family_hashes()
        if own:
            data["family_hashes"] = own
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def short_hash(self) -> str:
        """First 8 hex digits of :meth:`hash` (used in the run folder's name)."""
        return self.hash()[:8]

    # ----------------------------------------------------------------- derived profiles

    def with_overrides(self, assignments: Iterable[str]) -> Profile:
        """Apply ``"section.key=value"`` strings; values parse by the field's type.

        All assignments are applied first and the result validated once, so several
        interdependent keys (the three weights) can be changed together.  Each string is
        recorded in ``overrides``.
        """
        assignments = list(assignments)
        if not assignments:
            return self
        data = self.to_dict()
        recorded = []
        for text in assignments:
            key, value = _parse_assignment(text)
            if "." in key:
                section, leaf = key.split(".", 1)
                data[section][leaf] = value
            else:
                data[key] = value
            recorded.append(f"{key}={text.split('=', 1)[1].strip()}")
        data["overrides"] = list(self.overrides) + recorded
        return Profile.from_dict(data, source="--set")

    def with_seed(self, seed: int) -> Profile:
        """Same profile with ``training.seed = seed``, recorded as ``--seed N``."""
        training = _replace_section(self.training, "--seed", seed=seed)
        return dataclasses.replace(self, training=training, overrides=self.overrides + (f"--seed {seed}",))

    def with_stages(self, stages: int) -> Profile:
        """Same profile restricted to one stage count from its range, recorded as ``--stages N``."""
        if not isinstance(stages, int) or isinstance(stages, bool) or not (
            self.stages.min <= stages <= self.stages.max
        ):
            raise ProfileError(
                f"--stages must be a stage count in profile '{self.name}' range "
                f"{self.stages.min}..{self.stages.max} (stages.min..stages.max), got {stages!r}"
            )
        return dataclasses.replace(
            self,
            stages=StageRange(min=stages, max=stages, default=stages),
            overrides=self.overrides + (f"--stages {stages}",),
        )

    def smoke(self) -> Profile:
        """Same profile on a tiny budget (same code paths), recorded as ``--smoke``.

        60 problems (the stiff fraction kept), the default stage count only, 50 random starts,
        one elite member refined for 5 generations of 8 candidates, ``selection_z = 0`` (a dozen
        validation problems cannot show a significant gain; the smoke run tests the code paths,
        not the result).
        """
        n_problems = min(60, self.dataset.n_problems)
        n_stiff = round(n_problems * self.dataset.n_stiff / self.dataset.n_problems)
        s = self.stages.default
        return dataclasses.replace(
            self,
            dataset=_replace_section(self.dataset, "--smoke", n_problems=n_problems, n_stiff=n_stiff),
            stages=StageRange(min=s, max=s, default=s),
            training=_replace_section(
                self.training,
                "--smoke",
                generations=min(5, self.training.generations),
                starts=min(50, self.training.starts),
                elite=1,
                candidates=min(8, self.training.candidates),
                selection_z=0.0,
            ),
            overrides=self.overrides + ("--smoke",),
        )

    # ----------------------------------------------------------------- bridges to rkcore

    def dataset_spec(self):
        """The :class:`rkcore.datasets.DatasetSpec` of this profile's dataset."""
        from rkcore.datasets import DatasetSpec

        d = self.dataset
        try:
            return DatasetSpec(
                n_problems=d.n_problems,
                n_stiff=d.n_stiff,
                t_end=d.t_end,
                seed=d.seed,
                families=d.families or None,
                split=d.split,
            )
        except RKInputError as exc:
            message = str(exc).replace("DatasetSpec.", "dataset.")
            raise ProfileError(f"profile '{self.name}' [dataset]: {message}") from exc

    def weights(self):
        """The :class:`rkcore.metrics.Weights` of this profile's objective."""
        from rkcore.metrics import Weights

        o = self.objective
        return Weights(accuracy=o.w_acc, efficiency=o.w_eff, stability=o.w_stab)


def _replace_section(section: _Section, origin: str, **changes: Any) -> Any:
    try:
        return dataclasses.replace(section, **changes)
    except ProfileError as exc:
        raise ProfileError(f"{origin}: {exc}") from exc


# --------------------------------------------------------------------------- --set parsing


def _field_type(key: str) -> Any:
    if key in _TOP_LEVEL:
        return str
    section, _, leaf = key.partition(".")
    cls = _SECTIONS.get(section)
    if cls is None or leaf not in {f.name for f in dataclasses.fields(cls)}:
        raise ProfileError(_unknown_key(key))
    return get_type_hints(cls)[leaf]


def _parse_assignment(text: str) -> tuple[str, Any]:
    """``"objective.w_acc=0.4"`` -> ``("objective.w_acc", 0.4)``, parsed by the field's type."""
    if not isinstance(text, str) or "=" not in text:
        raise ProfileError(f"--set expects section.key=value, got {text!r}")
    key, raw = (part.strip() for part in text.split("=", 1))
    tp = _field_type(key)
    try:
        if tp is int:
            return key, int(raw)
        if tp is float:
            return key, float(raw)
        if tp is str:
            return key, raw[1:-1] if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"" else raw
        # A list: TOML syntax "[0.7, 0.2, 0.1]" or comma-separated "0.7,0.2,0.1".
        if raw.startswith("["):
            items = tomllib.loads(f"v = {raw}")["v"]
        else:
            items = [item.strip() for item in raw.split(",") if item.strip()]
        elem = tp.__args__[0]
        return key, [elem(item) if isinstance(item, str) and elem is not str else item for item in items]
    except (ValueError, tomllib.TOMLDecodeError):
        raise ProfileError(f"--set {key}: expected {_type_name(tp)}, got {raw!r}") from None


# --------------------------------------------------------------------------- loading


def _builtin_dir():
    return resources.files("rkml") / "profiles"


def builtin_profiles() -> tuple[str, ...]:
    """Names of the built-in profiles (the TOML files shipped in ``rkml/profiles/``), sorted."""
    return tuple(
        sorted(p.name[: -len(".toml")] for p in _builtin_dir().iterdir() if p.name.endswith(".toml"))
    )


def _looks_like_path(text: str) -> bool:
    return text.endswith(".toml") or "/" in text or "\\" in text


def _parse_toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        duplicate = _first_duplicate(text) if str(exc).startswith("Cannot ") else None
        if duplicate is not None:
            raise ProfileError(f"{source}: {duplicate}") from None
        raise ProfileError(f"{source}: invalid TOML: {exc}") from None


_TABLE_RE = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(?:#.*)?$")
_KEY_RE = re.compile(r"^\s*([A-Za-z0-9_.\-\"' ]+?)\s*=")


def _dotted(text: str) -> str:
    """``'dataset . "t_end"'`` -> ``'dataset.t_end'`` (quoted keys with dots inside are not handled)."""
    return ".".join(part.strip().strip("\"'") for part in text.split("."))


def _first_duplicate(text: str) -> str | None:
    """Name the key or table that ``text`` defines twice, for tomllib's bare "Cannot overwrite".

    A line-based scan, good enough for profile files: ``[table]`` headers and ``key = ...``
    lines.  ``None`` when it finds no duplicate (the caller then reports tomllib's message).
    """
    tables: dict[str, int] = {}
    keys: dict[str, int] = {}
    table = ""
    for lineno, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith("[["):
            return None  # arrays of tables are not part of the profile layout
        header = _TABLE_RE.match(line)
        if header:
            table = _dotted(header.group(1))
            if table in tables:
                return f"section [{table}] appears twice (lines {tables[table]} and {lineno}); merge them"
            tables[table] = lineno
            continue
        key = _KEY_RE.match(line)
        if key:
            full = f"{table}.{_dotted(key.group(1))}" if table else _dotted(key.group(1))
            if full in keys:
                return f"duplicate key '{full}' (lines {keys[full]} and {lineno}); keep one of them"
            keys[full] = lineno
    return None


def load_profile(name_or_path: str | Path) -> Profile:
    """Load a built-in profile by name, or a custom profile from a ``.toml`` path.

    Parameters
    ----------
    name_or_path : str or Path
        ``"balanced"``, ``"efficiency-v2"``... (see :func:`builtin_profiles`), or a path to a
        TOML file in the profile layout (module docstring).  A custom file without ``name``
        is named after its stem.

    Raises
    ------
    ProfileError
        Unknown profile (the message lists the known ones), missing file, malformed TOML
        (file and line), unknown key (with the closest known key), invalid value.
    """
    known = builtin_profiles()
    text_name = str(name_or_path)
    if isinstance(name_or_path, Path) or _looks_like_path(text_name) or (
        text_name not in known and Path(text_name).is_file()
    ):
        path = Path(name_or_path)
        if not path.is_file():
            raise ProfileError(f"profile file '{path}' does not exist (or is not a file)")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ProfileError(
                f"profile file '{path}' is not a UTF-8 TOML text file "
                f"(byte 0x{exc.object[exc.start]:02x} at offset {exc.start} is not UTF-8)"
            ) from None
        except OSError as exc:
            raise ProfileError(f"cannot read profile file '{path}': {exc.strerror or exc}") from None
        if "\x00" in text:
            raise ProfileError(f"profile file '{path}' is not a UTF-8 TOML text file (it contains NUL bytes)")
        data = _parse_toml(text, str(path))
        if not data:
            raise ProfileError(
                f"profile file '{path}' is empty; a profile needs the sections {_section_list()} "
                "(start from a copy: rkml profiles show balanced > my.toml)"
            )
        data.setdefault("name", path.stem)
        return Profile.from_dict(data, source=str(path))
    if text_name not in known:
        close = difflib.get_close_matches(text_name, known, n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise ProfileError(
            f"unknown profile '{text_name}'; {hint}known profiles: {', '.join(known)} "
            "(or pass a path to a .toml file)"
        )
    source = f"built-in profile '{text_name}'"
    return Profile.from_dict(_parse_toml((_builtin_dir() / f"{text_name}.toml").read_text("utf-8"), source),
                             source=source)



def resolve_profile(
    name_or_path: str | Path,
    *,
    overrides: Iterable[str] = (),
    seed: int | None = None,
    stages: int | None = None,
    smoke: bool = False,
) -> Profile:
    """The profile a run uses: load, then ``--set`` overrides, seed, stage count, smoke budget.

    This is the one place where command-line options become a :class:`Profile`; the CLI calls
    it once per run and passes the result down.  Every step is recorded in ``overrides``.
    The dataset settings are also checked against rkcore's problem registry (family names,
    a stiff family when ``n_stiff > 0``), so such a mistake fails here, before a run starts.
    """
    profile = load_profile(name_or_path).with_overrides(overrides)
    if seed is not None:
        profile = profile.with_seed(seed)
    if stages is not None:
        profile = profile.with_stages(stages)
    if smoke:
        profile = profile.smoke()
    profile.dataset_spec()
    return profile
