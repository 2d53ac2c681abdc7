"""Typed training state: what :func:`rkml.train.train` carries from step to step and checkpoints.

One :class:`TrainState` holds everything a resumed run needs; it writes and reads its own
checkpoint (:meth:`TrainState.save`, :meth:`TrainState.load`) through
:func:`rkml.runs.save_checkpoint`, as plain Python lists and scalars (what
``torch.load(weights_only=True)`` reads back), so no key list is repeated anywhere else.
Checkpoints are taken between *units* of work (a stage count's exploration, one elite's
refinement); every unit is a deterministic function of its inputs and seed, so resuming re-runs
the interrupted unit and reaches the tableau of an uninterrupted run.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from rkcore.errors import RKInputError
from rkml import runs


def _array(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


@dataclasses.dataclass(frozen=True)
class Start:
    """Where one stage count starts, and what its result must beat: the best on validation of its
    library methods (at least the profile's minimum order) and the polished quadrature anchor.

    Attributes
    ----------
    name : str
        ``"anchor"`` or a library key.
    order : int
        Verified order of the start.
    x : numpy.ndarray, shape (n_free,)
    validation_score : float
    """

    name: str
    order: int
    x: np.ndarray
    validation_score: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "order": self.order,
            "x": self.x.tolist(),
            "validation_score": self.validation_score,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Start:
        return cls(str(d["name"]), int(d["order"]), _array(d["x"]), float(d["validation_score"]))


@dataclasses.dataclass(frozen=True)
class Candidate:
    """A point of one order's manifold with its fitness on the training split (an elite member)."""

    order: int
    x: np.ndarray
    train_score: float

    def to_dict(self) -> dict[str, Any]:
        return {"order": self.order, "x": self.x.tolist(), "train_score": self.train_score}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Candidate:
        return cls(int(d["order"]), _array(d["x"]), float(d["train_score"]))


@dataclasses.dataclass(frozen=True)
class Incumbent:
    """The best tableau on validation so far for one stage count.

    Attributes
    ----------
    x : numpy.ndarray, shape (n_free,)
    order : int
        The order it was searched on (verified again when published).
    validation_score : float
    unit : int
        The elite refinement that produced it; -1 for the start itself.
    """

    x: np.ndarray
    order: int
    validation_score: float
    unit: int

    @property
    def is_start(self) -> bool:
        return self.unit < 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "x": self.x.tolist(),
            "order": self.order,
            "validation_score": self.validation_score,
            "unit": self.unit,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Incumbent:
        return cls(_array(d["x"]), int(d["order"]), float(d["validation_score"]), int(d["unit"]))


@dataclasses.dataclass
class Curve:
    """Learning curve of one stage count: the best training fitness after every CMA generation
    (``step``/``train``), and after every refinement the challenger's validation score and the
    incumbent's (``val_step``/``validation``/``best``).  The layout :func:`rkml.plots.plot_training_curves`
    draws."""

    step: list[int] = dataclasses.field(default_factory=list)
    train: list[float] = dataclasses.field(default_factory=list)
    val_step: list[int] = dataclasses.field(default_factory=list)
    validation: list[float] = dataclasses.field(default_factory=list)
    best: list[float] = dataclasses.field(default_factory=list)

    def to_dict(self) -> dict[str, list]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Curve:
        return cls(**{f.name: list(d[f.name]) for f in dataclasses.fields(cls)})


@dataclasses.dataclass
class StageSearch:
    """Search state of one stage count.

    Attributes
    ----------
    stages : int
    start : Start
    best : Incumbent
    elite : list of Candidate or None
        ``None`` until the stage count's exploration is done.
    refined : int
        Elite members refined so far.
    evaluations : int
        Candidate tableaux scored on the training split so far.
    curve : Curve
    """

    stages: int
    start: Start
    best: Incumbent
    elite: list[Candidate] | None = None
    refined: int = 0
    evaluations: int = 0
    curve: Curve = dataclasses.field(default_factory=Curve)

    @classmethod
    def fresh(cls, stages: int, start: Start) -> StageSearch:
        curve = Curve(val_step=[0], validation=[start.validation_score], best=[start.validation_score])
        return cls(stages, start, Incumbent(start.x, start.order, start.validation_score, -1), curve=curve)

    def done(self, n_elite: int) -> bool:
        return self.elite is not None and self.refined >= min(n_elite, len(self.elite))

    def to_dict(self) -> dict[str, Any]:
        return {
            "stages": self.stages,
            "start": self.start.to_dict(),
            "best": self.best.to_dict(),
            "elite": None if self.elite is None else [c.to_dict() for c in self.elite],
            "refined": self.refined,
            "evaluations": self.evaluations,
            "curve": self.curve.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StageSearch:
        elite = None if d["elite"] is None else [Candidate.from_dict(c) for c in d["elite"]]
        return cls(
            int(d["stages"]), Start.from_dict(d["start"]), Incumbent.from_dict(d["best"]), elite,
            int(d["refined"]), int(d["evaluations"]), Curve.from_dict(d["curve"]),
        )  # fmt: skip


@dataclasses.dataclass
class TrainState:
    """Everything a run has done so far: one :class:`StageSearch` per stage count, in order.

    Attributes
    ----------
    searches : dict of int -> StageSearch
    """

    searches: dict[int, StageSearch]

    def current(self, n_elite: int) -> StageSearch | None:
        """The first stage count not finished yet (``None`` when all are)."""
        return next((st for st in self.searches.values() if not st.done(n_elite)), None)

    def save(self, run_dir: str | Path, profile_hash: str, counts: tuple[int, ...]) -> Path:
        """Write the checkpoint (atomically) with what :meth:`load` checks it against."""
        payload = {
            "format": "rkml-train-state 2",
            "profile_hash": profile_hash,
            "stage_counts": list(counts),
            "searches": [st.to_dict() for st in self.searches.values()],
        }
        return runs.save_checkpoint(run_dir, payload)

    @classmethod
    def load(cls, run_dir: str | Path, profile_hash: str, counts: tuple[int, ...]) -> TrainState:
        """Read ``run_dir``'s checkpoint, refusing one of another profile, stage counts or format.

        Raises
        ------
        RKInputError
            One line naming what differs and what to do.
        """
        payload = runs.load_checkpoint(run_dir)
        if payload.get("format") != "rkml-train-state 2":
            raise RKInputError(
                f"{run_dir}: the checkpoint was written by an earlier rk-discovery (a generator "
                "network's state); it cannot be resumed by this search -- start afresh with --force"
            )
        if payload.get("profile_hash") != profile_hash:
            raise RKInputError(
                f"{run_dir}: the checkpoint was made with profile hash "
                f"{str(payload.get('profile_hash'))[:8]}, not {profile_hash[:8]}; "
                "resume with the same profile or start afresh with --force"
            )
        if list(payload["stage_counts"]) != list(counts):
            raise RKInputError(
                f"{run_dir}: the checkpoint trains stage counts {payload['stage_counts']}, "
                f"not {list(counts)}; resume with the same --stages"
            )
        searches = [StageSearch.from_dict(d) for d in payload["searches"]]
        return cls({st.stages: st for st in searches})
