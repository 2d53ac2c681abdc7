"""Training: ``train(profile, run_dir, ...)``, the one entry point.

For each stage count ``s`` of the profile, on the order-``p`` manifolds for the highest order
within reach and the one below it (:func:`rkml.selection.search_orders`):

1. **Start.**  The best on validation of the same-stage library methods and the polished anchor
   (:func:`rkml.selection.choose_start`): what the stage count's result must improve on.
2. **Explore.**  ``training.starts`` random tableaux driven onto each order's conditions, the
   library methods of at most ``s`` stages (embedded) and long tangent excursions from them,
   all scored on the training split (:func:`rkml.search.explore`).
3. **Elite.**  The ``training.elite`` best explored points, pairwise apart
   (:func:`rkml.search.diverse_elite`).
4. **Refine.**  Each elite member by CMA-ES in tangent charts of its manifold for
   ``training.generations`` generations of ``training.candidates`` tableaux (:func:`rkml.search.refine`);
   every candidate has verified order ``p``.
5. **Select.**  After each refinement its best is scored on validation with the incumbent; it
   replaces the incumbent only if it *improved* on it (:mod:`rkml.selection`: by more than
   ``training.selection_z`` paired standard errors).

The headline is the best on validation over every stage count that improved on its start; the
run then scores it on the test split against every library method in its stage range and says
which of them, if any, scores higher (summary line, ``metrics.json``).  A run where no stage count
improved is rejected (:class:`rkml.errors.TrainingRejected`, nothing published).

The search is a plain per-stage-count parameter vector searched by CMA-ES; the torch generator
network that earlier versions trained did not beat such a vector under the same ES search (see
the README's "Search" section), so it is not used by training any more.

Randomness: every unit of work (a stage count's exploration, one refinement) draws from its own
seed, derived from ``training.seed``, the stage count, the order and the unit.  Scoring is
per-candidate independent, so the same profile and seed give a bit-identical tableau, and a run
resumed from its checkpoint (written after every unit, :class:`rkml.train_state.TrainState`)
gives the tableau of an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

import rkcore
from rkcore.calibration import make_plan
from rkcore.datasets import make_dataset
from rkcore.errors import RKInputError
from rkcore.metrics import paired_gain, problem_losses
from rkcore.order import order, order_conditions
from rkcore.progress import progress_bar
from rkml import runs
from rkml.errors import TrainingRejected
from rkml.generator import unflatten
from rkml.interrupts import raise_on_sigterm
from rkml.objective import problem_set, score_points, scorecards
from rkml.plots import plot_training_curves
from rkml.polish import ACCEPT_RESIDUAL, PolishFailed, polish
from rkml.profile import Profile
from rkml.search import Explored, diverse_elite, explore, refine
from rkml.selection import (
    StageResult,
    choose_headline,
    choose_start,
    library_methods,
    search_orders,
    seed_points,
    standing,
    summary_line,
)
from rkml.train_state import Candidate, Incumbent, StageSearch, TrainState

MIN_GAIN = 1e-3
"""Smallest validation gain (decades) that counts as an improvement, whatever its standard error:
on problems where every method of an order gives the same result, rounding-level differences have
a rounding-level spread and would otherwise pass the z-test."""

ELITE_DISTANCE = 0.25
"""Smallest Euclidean distance between two elite members (free-parameter units)."""


@dataclasses.dataclass(frozen=True)
class TrainResult:
    """What :func:`train` returns (everything is also written to ``run_dir``).

    Attributes
    ----------
    run_dir : pathlib.Path
    tableau : rkcore.Tableau
        The headline tableau.
    stages, order : int
    results : tuple of StageResult
    metrics : dict
        The content of ``metrics.json``.
    beats_library : bool
        The headline beats every library method in the stage range on test (``metrics.json``
        ``headline.beats_library``).
    summary : str
        The one-line summary (:func:`rkml.selection.summary_line`).
    wall_time : float
    """

    run_dir: Path
    tableau: rkcore.Tableau
    stages: int
    order: int
    results: tuple[StageResult, ...]
    metrics: dict
    beats_library: bool
    summary: str
    wall_time: float


def resolve_device(device: str) -> str:
    """Check a ``--device`` value.  The search runs on the CPU in rkcore's kernels whatever it says;
    the option is kept so existing command lines keep working."""
    if device not in ("auto", "cpu", "cuda"):
        raise RKInputError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
    return "cpu"


def stage_counts(profile: Profile, stages: int | None) -> tuple[int, ...]:
    """The stage counts to train: the profile's range, or only ``stages``."""
    counts = tuple(profile.stages.counts)
    if stages is None:
        return counts
    if stages not in counts:
        raise RKInputError(
            f"--stages {stages} is outside profile '{profile.name}' range "
            f"{profile.stages.min}..{profile.stages.max}"
        )
    return (int(stages),)


def improved(gain, z: float) -> bool:
    """Whether a paired validation gain counts as an improvement (``z`` s.e. and :data:`MIN_GAIN`)."""
    return gain.gain > MIN_GAIN and gain.exceeds(z)


def _seed(profile: Profile, *key: int) -> np.random.SeedSequence:
    return np.random.SeedSequence([profile.training.seed, *key])


def _tableau(x: np.ndarray, s: int, name: str, info: dict[str, Any] | None = None) -> rkcore.Tableau:
    A, b = unflatten(np.asarray(x, dtype=np.float64), s)
    return rkcore.Tableau(A=A, b=b, name=name, info=info or {})


# --------------------------------------------------------------------------- units of work


def explore_stage(st: StageSearch, profile: Profile, fitness) -> None:
    """Explore every searched order of ``st.stages`` and keep the diverse elite."""
    s = st.stages
    t = profile.training
    pools = []
    for p in search_orders(s, profile.objective.min_order):
        found = explore(_seed(profile, s, p, 0), s, p, seed_points(s, p), t.starts, fitness)
        pools += [Candidate(p, x, float(f)) for x, f in zip(found.x, found.score, strict=True)]
    if not pools:
        st.elite = []
        return
    merged = Explored(np.stack([c.x for c in pools]), np.array([c.train_score for c in pools]))
    st.elite = [pools[i] for i in diverse_elite(merged, t.elite, ELITE_DISTANCE)]
    st.evaluations += len(pools)


def refine_next(st: StageSearch, profile: Profile, fitness, validation, weights) -> None:
    """Refine the next elite member and let it challenge the incumbent on validation."""
    s, t = st.stages, profile.training
    unit = st.refined
    member = st.elite[unit]
    seed = int(_seed(profile, s, member.order, unit + 1).generate_state(1)[0])
    out = refine(
        seed, member.x, s, member.order, fitness,
        generations=t.generations, population=t.candidates, sigma=t.sigma,
    )  # fmt: skip
    checked = score_points(np.stack([st.best.x, out.x]), s, validation, weights)
    loss = problem_losses(checked.observed, weights)
    gain = paired_gain(loss[1], loss[0])
    offset = st.curve.step[-1] + 1 if st.curve.step else 0
    st.curve.step += list(range(offset, offset + len(out.curve)))
    st.curve.train += out.curve
    if improved(gain, t.selection_z):
        st.best = Incumbent(out.x.copy(), member.order, float(checked.score[1]), unit)
    st.curve.val_step.append(offset + len(out.curve))
    st.curve.validation.append(float(checked.score[1]))
    st.curve.best.append(st.best.validation_score)
    st.evaluations += out.evaluations
    st.refined += 1


# --------------------------------------------------------------------------- the entry point


def train(
    profile: Profile,
    run_dir: str | Path,
    *,
    stages: int | None = None,
    device: str = "auto",
    resume: bool = False,
    progress: bool = True,
    dataset_cache: str | Path | None = None,
) -> TrainResult:
    """Search tableaux for ``profile`` and write the run's results to ``run_dir``.

    Parameters
    ----------
    profile : rkml.profile.Profile
        The only source of settings.
    run_dir : path
        Prepared run folder (:func:`rkml.runs.prepare_run_dir`).
    stages : int, optional
        Train only this stage count (must lie in the profile's range).
    device : {"auto", "cpu", "cuda"}
        Accepted for compatibility; the search runs on the CPU (:func:`resolve_device`).
    resume : bool
        Continue from ``run_dir``'s checkpoint (same profile and stage counts required).
    progress : bool
        Progress on stderr, one step per unit of work (a live bar on a terminal, plain lines
        otherwise, :func:`rkcore.progress.progress_bar`).
    dataset_cache : path, optional
        Dataset cache folder (default: rkcore's, see :func:`rkcore.datasets.resolve_cache_dir`).

    Returns
    -------
    TrainResult

    Raises
    ------
    rkml.errors.TrainingRejected
        No stage count improved on its start, or a result fails its order; nothing published.
    KeyboardInterrupt
        Ctrl-C, or :class:`rkml.errors.RunInterrupted` for SIGTERM (main thread only).  The
        manifest then says ``status: interrupted``, the ``signal`` and whether the run is
        ``resumable``; once the starts are chosen a checkpoint always exists.
    """
    started = time.perf_counter()
    run_dir = Path(run_dir)
    counts = stage_counts(profile, stages)
    resolve_device(device)
    t = profile.training
    weights = profile.weights()
    manifest_extra = {
        "status": "running",
        "device": "cpu",
        "stage_counts": list(counts),
        "search": "CMA-ES on the order manifolds, multi-start (rkml.search)",
    }
    if resume:
        manifest_extra["start_time"] = runs.read_manifest(run_dir).get("start_time", runs.now_iso())
        manifest_extra["resumed_at"] = runs.now_iso()
    else:
        manifest_extra["start_time"] = runs.now_iso()

    restore_sigterm = raise_on_sigterm()
    state: TrainState | None = None
    try:
        state = TrainState.load(run_dir, profile.hash(), counts) if resume else None
        runs.write_manifest(run_dir, profile, manifest_extra)
        dataset = make_dataset(profile.dataset_spec(), cache_dir=dataset_cache, progress=progress)
        plan = make_plan(dataset, profile.objective.target_error)
        validation = problem_set(dataset.validation, plan)
        training = problem_set(dataset.train, plan)
        if state is None:
            starts = {s: choose_start(s, profile.objective.min_order, validation, weights) for s in counts}
            state = TrainState({s: StageSearch.fresh(s, starts[s]) for s in counts})
            state.save(run_dir, profile.hash(), counts)

        units = 1 + t.elite
        done = sum((st.elite is not None) + st.refined for st in state.searches.values())
        total = len(counts) * units
        bar = progress_bar(total, initial=done, enabled=progress, desc=profile.name, unit="unit")
        try:
            while (st := state.current(t.elite)) is not None:
                s = st.stages

                def fitness(x, s=s):
                    return score_points(x, s, training, weights).score

                if st.elite is None:
                    explore_stage(st, profile, fitness)
                    bar.update(1 + max(0, t.elite - len(st.elite)))  # units an elite too small skips
                else:
                    refine_next(st, profile, fitness, validation, weights)
                    bar.update(1)
                state.save(run_dir, profile.hash(), counts)
                bar.set_postfix(s=s, best=f"{st.best.validation_score:+.3f}", order=st.best.order)
        finally:
            bar.close()

        results = [finish_stage(st, profile, validation, weights) for st in state.searches.values()]
        headline = choose_headline(results)
        rank = standing(headline.tableau, counts, profile.objective.min_order, dataset, plan, weights)
        summary = summary_line(headline.stages, headline.order, rank, counts)
        metrics = _metrics(results, dataset, plan, profile, state)
        metrics["headline"] = {"stages": headline.stages, "order": headline.order,
                               "validation_score": headline.validation_score, **rank.to_dict(),
                               "summary": summary}  # fmt: skip
        if rank.above:
            warnings.warn(
                f"library methods in the stage range score higher on test than the headline: "
                f"{', '.join(rank.above)} (metrics.json headline.library_above)",
                RuntimeWarning,
                stacklevel=2,
            )
        for r in results:
            entry = metrics["stages"][str(r.stages)]
            entry["learned"] = r.improved
            if r.improved:
                rkcore.save_tableau(r.tableau, run_dir / f"tableau-s{r.stages}.json")
            else:
                entry["tableau"] = None
        rkcore.fileio.atomic_write_json(run_dir / "metrics.json", metrics)
        history = {"stages": {str(s): st.curve.to_dict() for s, st in state.searches.items()}}
        rkcore.fileio.atomic_write_json(run_dir / "history.json", history)
        curves = {s: st.curve.to_dict() for s, st in state.searches.items()}
        plot_training_curves(curves, run_dir / "training_curve.png",
                             title=f"{profile.name} ({profile.short_hash()})", baseline=0.0)  # fmt: skip
        rkcore.save_tableau(headline.tableau, run_dir / "tableau.json")
        wall = time.perf_counter() - started
        runs.update_manifest(
            run_dir, status="complete", end_time=runs.now_iso(), wall_time_s=round(wall, 2),
            headline={"stages": headline.stages, "order": headline.order, "beats_library": rank.beats_library,
                      "library_above": rank.above},
        )  # fmt: skip
        return TrainResult(
            run_dir, headline.tableau, headline.stages, headline.order, tuple(results), metrics,
            rank.beats_library, summary, wall,
        )  # fmt: skip
    except TrainingRejected as exc:
        _record(run_dir, status="rejected", reason=str(exc), end_time=runs.now_iso())
        raise
    except KeyboardInterrupt as exc:
        # The state only changes between units, so it is a clean boundary: save it as it is.
        if state is not None:
            state.save(run_dir, profile.hash(), counts)
        signal_name = getattr(exc, "signal_name", "SIGINT")
        _record(run_dir, status="interrupted", interrupted_at=runs.now_iso(), signal=signal_name,
                resumable=runs.has_checkpoint(run_dir))  # fmt: skip
        raise
    except BaseException:
        _record(run_dir, status="failed", end_time=runs.now_iso())
        raise
    finally:
        restore_sigterm()


def _record(run_dir: Path, **fields: Any) -> None:
    """Set the run's final status, if its manifest was written (an interrupt can come before)."""
    if runs.is_run_dir(run_dir):
        runs.update_manifest(run_dir, **fields)


# --------------------------------------------------------------------------- results


def finish_stage(st: StageSearch, profile: Profile, validation, weights) -> StageResult:
    """Polish the stage count's best onto its order, verify it with rkcore, compare it with the start."""
    s, best = st.stages, st.best
    name = f"{profile.name}-s{s}"
    try:
        tableau = polish(_tableau(best.x, s, name), best.order)
    except PolishFailed as exc:
        raise TrainingRejected(f"the {s}-stage result fails its order: {exc}") from None
    verified = order(tableau, tol=ACCEPT_RESIDUAL)
    worst = float(np.max(np.abs(order_conditions(tableau, max(verified, 1)))))
    if verified < max(best.order, profile.objective.min_order) or worst > ACCEPT_RESIDUAL:
        raise TrainingRejected(
            f"the {s}-stage result verifies order {verified} (max residual {worst:.2g}), below the "
            f"order {best.order} it was searched on (minimum order {profile.objective.min_order})"
        )
    init = _tableau(st.start.x, s, f"{name}-init")
    init = init.replace(info={"order": order(init, tol=ACCEPT_RESIDUAL), "source": f"start: {st.start.name}"})
    checked = score_points(np.stack([st.start.x, best.x]), s, validation, weights)
    loss = problem_losses(checked.observed, weights)
    gain = paired_gain(loss[1], loss[0])
    moved = not tableau.equals(init, tol=1e-12)
    info = {
        "order": verified,
        "profile": profile.name,
        "profile_hash": profile.hash(),
        "stages": s,
        "seed": profile.training.seed,
        "source": "rkml train",
        "validation_score": best.validation_score,
        "selected_in_refinement": best.unit,
    }
    return StageResult(s, tableau.replace(info=info), verified, init, best.validation_score, gain,
                       moved and improved(gain, profile.training.selection_z))  # fmt: skip


def _metrics(results, dataset, plan, profile: Profile, state: TrainState) -> dict[str, Any]:
    """Train / validation / test scores of each result, its start and the same-stage library methods."""
    p = profile.objective.min_order
    weights = profile.weights()
    out: dict[str, Any] = {
        "profile": profile.name,
        "profile_hash": profile.hash(),
        "seed": profile.training.seed,
        "min_order": p,
        "scoring_plan": plan.to_dict(),
        "weights": dataclasses.asdict(weights),
        "score": "weighted objective: gain over RK4 on the same problems (RK4 = 0, higher is better); "
        "see rkcore.metrics",
        "splits": {
            "train": dataset.train.n_problems,
            "validation": dataset.validation.n_problems,
            "test": dataset.test.n_problems,
        },
        "stages": {},
    }
    for r in results:
        st = state.searches[r.stages]
        rivals = library_methods((r.stages,), p)
        out["stages"][str(r.stages)] = {
            "order": r.order,
            "tableau": f"tableau-s{r.stages}.json",
            "initialisation_tableau": r.initialisation.to_dict(),
            "start": st.start.name,
            "improved_on_initialisation": {"validation_gain": r.gain_over_initialisation.to_dict(),
                                           "z": profile.training.selection_z, "min_gain": MIN_GAIN},
            "search": {"orders": list(search_orders(r.stages, p)), "elite": len(st.elite or []),
                       "evaluations": st.evaluations, "selected_in_refinement": st.best.unit},
            "library_methods": sorted(rivals),
            **scorecards(r.tableau, r.initialisation, rivals, dataset, plan, weights),
        }  # fmt: skip
    return out
