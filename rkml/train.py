"""Training of the tableau generator: ``train(profile, run_dir, ...)``, the one entry point.

Method
------
For each stage count ``s`` of the profile the generator (:mod:`rkml.generator`) gives the mean
``mu`` of a Gaussian search distribution ``N(mu, sigma^2 I)`` over the free parameters of an
explicit ``s``-stage tableau.  One *epoch* is one update of the generator from one minibatch of
training problems (an ES generation), so ``training.epochs`` updates are made per stage count:

1. **Centre.**  ``mu`` is projected onto the order-``p`` conditions by minimum-norm
   Gauss--Newton with path tracking (:mod:`rkml.polish`): ``centre = P(mu)``.  ``p`` is the
   highest order within reach for ``s`` stages and never below ``objective.min_order``
   (:func:`rkml.polish.order_target`: ``s`` for ``s <= 4``, else 4).
2. **Candidates.**  ``h = candidates // 2`` directions ``eps_k ~ N(0, I)`` give the mirrored
   (antithetic) candidates ``P(centre +- sigma eps_k)`` -- projected too, so *every scored
   candidate has verified order >= p*; one that cannot be projected ranks last.
3. **Fitness.**  Each candidate is integrated by rkcore's fixed-step kernel
   (:func:`rkcore.evaluate.score_batch`) on ``batch_problems`` training problems drawn without
   replacement, each at its calibrated step count (``objective.target_error``,
   :mod:`rkcore.calibration`); its fitness is the
   profile's weighted objective (accuracy, efficiency at equal work, stability; each a gain over
   RK4 on the same problems, :mod:`rkcore.metrics`).
4. **Update.**  Fitness is replaced by centred ranks and the antithetic search gradient
   ``g = sum_k (f+_k - f-_k) eps_k / (2 h sigma)`` is formed (Salimans et al. 2017, "Evolution
   Strategies as a Scalable Alternative to Reinforcement Learning"; rank shaping from Wierstra
   et al. 2014, "Natural Evolution Strategies"; with a Gaussian policy this is REINFORCE,
   Williams 1992).  It is pushed through the network by the chain rule, together with the
   differentiable order-condition penalty ``||r(mu)||^2 / sigma^2`` on the trees of
   :func:`rkcore.rooted_trees` (Butcher 2016, sec. 31): the loss is
   ``-(mu . g) + ||r(mu)||^2 / sigma^2``, minimised by Adam at ``training.learning_rate``.
   The penalty keeps ``mu`` within about ``sigma`` of the order manifold, so the projection in
   step 1 stays short; dividing by ``sigma^2`` measures residuals in units of the exploration
   noise, so no extra weight needs choosing.
5. **Selection.**  Every few epochs the centre and the step's best candidate are scored on the
   whole validation split together with the best so far (the untrained, polished initialisation
   is the first); a challenger replaces the best only if it beats it by more than
   ``training.selection_z`` standard errors of the paired per-problem score differences
   (:func:`rkcore.metrics.paired_gain`), so that the kept tableau is not merely the luckiest of
   some 80 looks at a few hundred problems.  "No improvement" means the initialisation is kept -- and
   then the stage count publishes nothing, and a run where no stage count improved is rejected.

Why this design: the objective comes from integrating ODEs with a compiled kernel and is not
differentiable in the coefficients (blow-ups, error floors, step counts), so a score-function
(ES/REINFORCE) estimate is the natural gradient signal; the order conditions *are* polynomial,
so they are enforced exactly by projection rather than hoped for by a penalty alone, and the
result is guaranteed a verified order instead of an approximate one.

After training, each stage count's best tableau is polished once more, its order is verified by
:func:`rkcore.order.order` with tolerance 1e-12, and the train / validation / test scores of it,
of its polished initialisation and of every library method with the same stage count and at
least the minimum order are written to ``metrics.json`` (the curves to ``history.json`` and
``training_curve.png``).  The headline ``tableau.json`` is the best on validation among the
stage counts that beat their initialisation there by more than ``selection_z`` standard errors,
preferring those that beat every same-stage library method so.  Gates
(:class:`rkml.errors.TrainingRejected`, nothing written as a result): no stage count beats its
initialisation so, or any result fails its order.

Randomness: the generator's initial weights come from ``torch.manual_seed(training.seed)``
(inside ``torch.random.fork_rng``, so the caller's RNG is untouched); everything drawn afterwards
(directions, minibatches) comes from one ``numpy.random.Generator(PCG64(training.seed))`` whose
state is checkpointed.  With deterministic torch algorithms and per-candidate independent
scoring, the same profile and seed give a bit-identical tableau on the same machine, and a
resumed run gives the same tableau as an uninterrupted one.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import time
import warnings
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

import rkcore
from rkcore.calibration import make_plan
from rkcore.datasets import make_dataset
from rkcore.errors import RKInputError
from rkcore.metrics import PairedGain, paired_gain, problem_losses
from rkcore.order import order, order_conditions
from rkcore.progress import progress_bar
from rkml import runs
from rkml.errors import TrainingRejected
from rkml.generator import TableauGenerator, flatten, n_free_params, unflatten, unflatten_torch
from rkml.interrupts import raise_on_sigterm
from rkml.objective import (
    centered_ranks,
    es_gradient,
    library_rivals,
    order_penalty,
    problem_set,
    score_points,
    scorecards,
    split_rows,
    tree_program,
)
from rkml.plots import plot_training_curves
from rkml.polish import (
    ACCEPT_RESIDUAL,
    PolishFailed,
    Target,
    max_residual,
    order_target,
    polish,
    project_batch,
    tangent_projector,
)
from rkml.profile import Profile


@dataclasses.dataclass(frozen=True)
class StageResult:
    """The outcome for one stage count.

    Attributes
    ----------
    stages : int
    tableau : rkcore.Tableau
        Polished, order-verified best tableau on validation.
    order : int
        Verified order (all residuals through it <= 1e-12).
    initialisation : rkcore.Tableau
        The untrained generator's output (the warm start itself), polished the same way.
    validation_score : float
        Weighted objective on the validation split (RK4 = 0, higher is better).
    """

    stages: int
    tableau: rkcore.Tableau
    order: int
    initialisation: rkcore.Tableau
    validation_score: float


@dataclasses.dataclass(frozen=True)
class TrainResult:
    """What :func:`train` returns (everything is also written to ``run_dir``).

    Attributes
    ----------
    run_dir : pathlib.Path
    tableau : rkcore.Tableau
        The headline tableau (best on validation across stage counts).
    stages : int
    order : int
    results : tuple of StageResult
        One per trained stage count.
    metrics : dict
        The content of ``metrics.json``.
    beats_library : bool
        Whether the headline beats every same-stage library method on the test split.
    wall_time : float
        Seconds spent in this call.
    """

    run_dir: Path
    tableau: rkcore.Tableau
    stages: int
    order: int
    results: tuple[StageResult, ...]
    metrics: dict
    beats_library: bool
    wall_time: float


# --------------------------------------------------------------------------- small helpers


def resolve_device(device: str) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; ``"cpu"``/``"cuda"`` as asked."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device not in ("cpu", "cuda"):
        raise RKInputError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise RKInputError("device 'cuda' asked for but torch sees no CUDA device; use --device cpu or auto")
    return torch.device(device)


MAX_TRAINED_ORDER = 5
"""Highest order a stage count is trained on (see :func:`choose_starts`)."""


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


def validation_interval(profile: Profile) -> int:
    """Epochs between validation checks: about 40 checks per stage count."""
    return max(1, profile.training.epochs // 40)


def checkpoint_interval(profile: Profile) -> int:
    """Epochs between periodic checkpoints: about 10 per stage count."""
    return max(1, profile.training.epochs // 10)


class Start(NamedTuple):
    """Where one stage count's search starts: ``name`` ("anchor" or a library key), the order it is
    trained on and the point ``x`` (free parameters)."""

    name: str
    order: int
    x: np.ndarray
    validation_score: float


def choose_starts(targets: dict[int, Target], validation, weights, min_order: int) -> dict[int, Start]:
    """Warm starts: per stage count, the best on validation of the polished anchor and every library
    method of that stage count with at least ``min_order``.

    Starting from the best hand-made tableau means training has to *improve on* it to publish
    anything: the untrained generator proposes exactly the start, the recorded initialisation.
    A library start also sets the order the stage count is trained on: its verified order, capped
    at 5 (projection onto the order-6 conditions does not converge reliably); from the anchor the
    order is that of :func:`rkml.polish.order_target`.  Deterministic: it depends only on the
    validation split.
    """
    starts = {}
    for s, target in targets.items():
        pool = {"anchor": (target.order, target.origin)}
        for name, t in library_rivals(s, min_order).items():
            q = min(order(t), MAX_TRAINED_ORDER)
            x = flatten(t.A, t.b)
            if q >= target.order and max_residual(x[None], s, q)[0] <= ACCEPT_RESIDUAL:
                pool[name] = (q, x)
        names = list(pool)
        scores = score_points(np.stack([pool[n][1] for n in names]), s, validation, weights).score
        k = int(np.argmax(scores))
        q, x = pool[names[k]]
        starts[s] = Start(names[k], q, x, float(scores[k]))
    return starts


def significant_best(score: np.ndarray, loss: np.ndarray, z: float) -> int | None:
    """Index of the best of ``1..T-1`` among those beating row 0 by more than ``z`` standard errors.

    Parameters
    ----------
    score : numpy.ndarray, shape (T,)
        Weighted validation scores; row 0 is the incumbent.
    loss : numpy.ndarray, shape (T, n)
        Their per-problem losses on the same problems (:func:`rkcore.metrics.problem_losses`).
    z : float
        ``training.selection_z``.

    Returns
    -------
    int or None
        ``None`` when no challenger beats the incumbent significantly.
    """
    winners = [i for i in range(1, len(score)) if paired_gain(loss[i], loss[0]).exceeds(z)]
    return max(winners, key=lambda i: score[i]) if winners else None


def _beats(gain: dict[str, float], z: float) -> bool:
    return PairedGain(gain["gain"], gain["stderr"], gain["n"]).exceeds(z)


def improved_on_initialisation(r: StageResult, metrics: dict[str, Any], z: float) -> bool:
    """Whether training moved the stage count's tableau and it beats its initialisation on
    validation by more than ``z`` standard errors of the paired per-problem differences."""
    gain = metrics["stages"][str(r.stages)]["validation"]["gain_over"]["initialisation"]
    moved = not r.tableau.equals(r.initialisation, tol=1e-12)
    return moved and _beats(gain, z)


def choose_headline(results: list[StageResult], metrics: dict[str, Any], z: float) -> StageResult:
    """The headline: best on *validation* among the stage counts where training measurably improved
    on the initialisation, preferring those that also measurably beat every same-stage library
    method there.

    "Measurably" means by more than ``z`` (``training.selection_z``) standard errors of the
    paired per-problem score differences on the validation split: a gain of 0.05 decades over
    a few hundred problems is often sampling noise, and a headline chosen on noise loses on the test split.
    The library test is not implied by the first: the initialisation is the best library method
    on *validation*, but the runner-up is often within noise of it and ahead on other problems
    (accuracy, seed 0: a 6-stage result 0.05 +- 0.015 above butcher5 and 0.12 +- 0.06 above
    cashkarp on validation trailed cashkarp by 0.07 on test).  So a headline claims to beat the
    library only where validation shows it; a higher-scoring stage count that does not is still
    published as ``tableau-sN.json``.
    Only the validation split decides, so the test-split comparison in ``metrics.json`` stays an
    honest hold-out check.  A stage count whose best is still its initialisation has learned
    nothing and is never the headline, whatever its score.

    Raises
    ------
    TrainingRejected
        No stage count improved on its initialisation.
    """
    learned = []
    for r in results:
        if not improved_on_initialisation(r, metrics, z):
            continue
        gains = metrics["stages"][str(r.stages)]["validation"]["gain_over"]["library"]
        beats = all(_beats(g, z) for g in gains.values())
        learned.append((beats, r))
    if not learned:
        raise TrainingRejected(
            f"no stage count's tableau beats its initialisation on validation by more than {z:g} "
            "standard errors: training found nothing measurably better (more epochs, a larger "
            "learning_rate or sigma)"
        )
    preferred = [r for beats, r in learned if beats] or [r for _, r in learned]
    return max(preferred, key=lambda r: r.validation_score)


def summary_line(result: TrainResult) -> str:
    """One line on the headline's test-split score next to its initialisation and the best
    same-stage library method (the hold-out comparison a user wants to see first)."""
    test = result.metrics["stages"][str(result.stages)]["test"]
    line = (
        f"headline: {result.stages} stages, order {result.order}; test score {test['learned']['score']:+.3f} "
        f"(initialisation {test['initialisation']['score']:+.3f}"
    )
    if test["library"]:
        name, card = max(test["library"].items(), key=lambda kv: kv[1]["score"])
        line += f", best same-stage library method {name} {card['score']:+.3f}"
    return line + "; RK4 = 0, higher is better)"


def _tensor(x: np.ndarray) -> torch.Tensor:
    return torch.tensor(np.asarray(x, dtype=np.float64))


def _tableau(x: np.ndarray, s: int, name: str, info: dict[str, Any] | None = None) -> rkcore.Tableau:
    A, b = unflatten(np.asarray(x, dtype=np.float64), s)
    return rkcore.Tableau(A=A, b=b, name=name, info=info or {})


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
    """Train the generator of ``profile`` and write the run's results to ``run_dir``.

    Parameters
    ----------
    profile : rkml.profile.Profile
        The only source of settings.
    run_dir : path
        Prepared run folder (:func:`rkml.runs.prepare_run_dir`).
    stages : int, optional
        Train only this stage count (must lie in the profile's range).
    device : {"auto", "cpu", "cuda"}
        Where the generator runs; scoring is rkcore on the CPU.
    resume : bool
        Continue from ``run_dir``'s checkpoint (same profile required).
    progress : bool
        Show progress on stderr (epoch, stage count, best validation score, verified order): a
        live bar on a terminal, a plain line every 5 % otherwise (:func:`rkcore.progress.progress_bar`).
    dataset_cache : path, optional
        Dataset cache folder (default: rkcore's, see :func:`rkcore.datasets.resolve_cache_dir`).

    Returns
    -------
    TrainResult

    Raises
    ------
    rkml.errors.TrainingRejected
        The headline equals its initialisation, or a result fails its order; no result written.
    KeyboardInterrupt
        Ctrl-C, or :class:`rkml.errors.RunInterrupted` for SIGTERM (only handled when called from
        the main thread).  The manifest then says ``status: interrupted``, the ``signal`` and
        whether the run is ``resumable``.  Once set-up is done (dataset, warm starts) a
        checkpoint always exists -- the state at the start of the interrupted epoch -- and
        ``resume=True`` continues to the tableau an uninterrupted run gives; interrupted during
        set-up, nothing is saved (``resumable: false``) and
        :func:`rkml.runs.prepare_run_dir` lets the run start afresh without ``force``.
    """
    # ---------------------------------------------------------------- set-up
    started = time.perf_counter()
    run_dir = Path(run_dir)
    counts = stage_counts(profile, stages)
    dev = resolve_device(device)
    sigma = profile.training.sigma
    half = profile.training.candidates // 2
    weights = profile.weights()
    checkpoint = runs.load_checkpoint(run_dir) if resume else None
    if checkpoint is not None:
        _check_resumable(checkpoint, profile, counts, run_dir)
    manifest_extra = {"status": "running", "device": str(dev), "stage_counts": list(counts)}
    if dev.type == "cuda":
        # cuBLAS is only deterministic with a fixed workspace; must be set before its first use.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        manifest_extra["cublas_workspace_config"] = os.environ["CUBLAS_WORKSPACE_CONFIG"]
    if checkpoint is not None:
        manifest_extra["start_time"] = runs.read_manifest(run_dir).get("start_time", runs.now_iso())
        manifest_extra["resumed_at"] = runs.now_iso()
    else:
        manifest_extra["start_time"] = runs.now_iso()

    previous_determinism = torch.are_deterministic_algorithms_enabled()
    restore_sigterm = raise_on_sigterm()
    try:
        torch.use_deterministic_algorithms(True)
        runs.write_manifest(run_dir, profile, manifest_extra)
        dataset = make_dataset(profile.dataset_spec(), cache_dir=dataset_cache, progress=progress)
        plan = make_plan(dataset, profile.objective.target_error)
        validation = problem_set(dataset.validation, plan)
        try:
            targets = {s: order_target(s, profile.objective.min_order) for s in counts}
        except PolishFailed as exc:
            raise TrainingRejected(str(exc)) from None
        starts = choose_starts(targets, validation, weights, profile.objective.min_order)
        targets = {s: Target(start.order, start.x) for s, start in starts.items()}
        n_train = dataset.train.n_problems
        batch = min(profile.training.batch_problems, n_train)

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(profile.training.seed)
            bases = {s: start.x for s, start in starts.items() if start.name != "anchor"}
            generator = TableauGenerator.from_profile(profile, bases=bases)
        generator.to(dev)
        rng = np.random.Generator(np.random.PCG64(profile.training.seed))

        if checkpoint is None:
            state = _fresh_state(generator, targets, validation, weights)
            # Saved at once, so that from here on an interruption always leaves a resumable run.
            runs.save_checkpoint(run_dir, _payload(profile, counts, _snapshot(state, generator, None, rng)))
        else:
            state = _restore_state(checkpoint, generator, rng)

        bar = progress_bar(
            len(counts) * profile.training.epochs,
            initial=state["stage_index"] * profile.training.epochs + state["step"],
            enabled=progress,
            desc=profile.name,
            unit="epoch",
        )
        snapshot = _snapshot(state, generator, None, rng)
        try:
            # ------------------------------------------------------------ loop
            while state["stage_index"] < len(counts):
                s = counts[state["stage_index"]]
                p = targets[s].order
                program = tree_program(p)
                optimizer = torch.optim.Adam(generator.parameters(), lr=profile.training.learning_rate)
                if state.get("optimizer") is not None:
                    optimizer.load_state_dict(state.pop("optimizer"))
                if state["centre"] is None:
                    # A fresh stage count starts at its initialisation: the shared network was moved
                    # by the stage counts before it, so its offset is re-recorded (checkpointed).
                    generator.rebase(s)
                    state["centre"] = state["init_centre"][s].copy()
                best = state["best"][s]
                curve = state["curves"][s]
                while state["step"] < profile.training.epochs:
                    epoch = state["step"]
                    snapshot = _snapshot(state, generator, optimizer, rng)

                    mu = generator.mean(s)
                    mu_np = mu.detach().cpu().numpy()
                    centred = project_batch(mu_np[None], s, p, origin=state["centre"])
                    if centred.converged[0]:
                        state["centre"] = centred.x[0]
                    centre = state["centre"]

                    # Directions in the tangent space of the order-p manifold at the centre.
                    tangent = tangent_projector(centre, s, program)
                    eps = rng.standard_normal((half, n_free_params(s))) @ tangent
                    mirrored = np.concatenate([centre + sigma * eps, centre - sigma * eps])
                    cands = project_batch(mirrored, s, p, origin=centre)
                    rows = np.sort(rng.choice(n_train, size=batch, replace=False))
                    minibatch = problem_set(split_rows(dataset.train, rows), plan)
                    fitness = np.full(2 * half, -np.inf)
                    ok = np.flatnonzero(cands.converged)
                    points = np.concatenate([cands.x[ok], centre[None]])
                    scores = score_points(points, s, minibatch, weights).score
                    fitness[ok] = scores[:-1]

                    grad = es_gradient(eps, centered_ranks(fitness), sigma)
                    A_mu, b_mu = unflatten_torch(mu[None], s)
                    penalty = order_penalty(A_mu, b_mu, program) / sigma**2
                    loss = -(mu * torch.as_tensor(grad, device=mu.device)).sum() + penalty
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()

                    curve["step"].append(epoch)
                    curve["train"].append(float(scores[-1]))
                    curve["penalty"].append(float(penalty.detach()))
                    state["step"] += 1

                    # ---------------------------------------------------- evaluation
                    last = state["step"] == profile.training.epochs
                    if state["step"] % validation_interval(profile) == 0 or last:
                        # The incumbent best is re-scored with the challengers (per-candidate
                        # scoring is independent, so its score is unchanged) for paired differences.
                        pool = [best["x"], centre]
                        if ok.size:
                            pool.append(cands.x[ok[int(np.argmax(scores[:-1]))]])
                        checked = score_points(np.stack(pool), s, validation, weights)
                        loss = problem_losses(checked.observed, weights)
                        k = significant_best(checked.score, loss, profile.training.selection_z)
                        if k is not None:
                            best.update(x=pool[k].copy(), score=float(checked.score[k]), step=epoch)
                            best["order"] = order(_tableau(pool[k], s, "best"), tol=ACCEPT_RESIDUAL)
                        curve["val_step"].append(epoch)
                        curve["validation"].append(float(checked.score[1]))
                        curve["best"].append(best["score"])
                    bar.set_postfix(
                        s=s, epoch=f"{epoch + 1}/{profile.training.epochs}",
                        best=f"{best['score']:+.3f}", order=best["order"],
                    )  # fmt: skip
                    bar.update(1)

                    # ---------------------------------------------------- checkpoint
                    if state["step"] % checkpoint_interval(profile) == 0 and not last:
                        snap = _snapshot(state, generator, optimizer, rng)
                        runs.save_checkpoint(run_dir, _payload(profile, counts, snap))
                state.update(stage_index=state["stage_index"] + 1, step=0, centre=None)
                snap = _snapshot(state, generator, None, rng)
                runs.save_checkpoint(run_dir, _payload(profile, counts, snap))
        except KeyboardInterrupt:
            # The snapshot is the state at the start of the interrupted epoch: a clean boundary.
            runs.save_checkpoint(run_dir, _payload(profile, counts, snapshot))
            raise
        finally:
            bar.close()

        # ---------------------------------------------------------------- results
        results = [_finish_stage(s, state, profile, targets[s].order) for s in counts]
        metrics = _metrics(results, dataset, plan, profile, starts)
        z = profile.training.selection_z
        headline = choose_headline(results, metrics, z)
        beats_library = metrics["stages"][str(headline.stages)]["beats_library"]
        beats_init = metrics["stages"][str(headline.stages)]["beats_initialisation"]
        metrics["headline"] = {
            "stages": headline.stages,
            "order": headline.order,
            "beats_library": beats_library,
            "beats_initialisation": beats_init,
        }
        higher = []
        for r in results:
            if r.validation_score <= headline.validation_score:
                continue
            if improved_on_initialisation(r, metrics, z):
                why = (f"is published as tableau-s{r.stages}.json but does not beat every same-stage "
                       f"library method on validation by {z:g} standard errors")  # fmt: skip
            else:
                why = (f"is its initialisation ({starts[r.stages].name}): training did not measurably "
                       "improve on it, so it is not published as learned")  # fmt: skip
            higher.append({"stages": r.stages, "validation_score": r.validation_score, "why": why})
            warnings.warn(
                f"the {r.stages}-stage result scores higher on validation ({r.validation_score:+.3f}) than "
                f"the headline ({headline.validation_score:+.3f}); it {why}",
                RuntimeWarning,
                stacklevel=2,
            )
        metrics["headline"]["higher_scoring_stage_counts"] = higher
        if not beats_library:
            warnings.warn(
                f"the headline {headline.stages}-stage tableau does not beat every same-stage library "
                "method on the test split (recorded as beats_library: false in metrics.json)",
                RuntimeWarning,
                stacklevel=2,
            )

        # ---------------------------------------------------------------- write
        for r in results:
            # A stage count that learned nothing publishes no tableau: its best is its initialisation.
            entry = metrics["stages"][str(r.stages)]
            entry["learned"] = improved_on_initialisation(r, metrics, z)
            if entry["learned"]:
                rkcore.save_tableau(r.tableau, run_dir / f"tableau-s{r.stages}.json")
            else:
                entry["tableau"] = None
        rkcore.fileio.atomic_write_json(run_dir / "metrics.json", metrics)
        history = {"stages": {str(s): curve for s, curve in state["curves"].items()}}
        rkcore.fileio.atomic_write_json(run_dir / "history.json", history)
        plot_training_curves(
            state["curves"], run_dir / "training_curve.png", title=f"{profile.name} ({profile.short_hash()})",
            baseline=0.0,
        )  # fmt: skip
        rkcore.save_tableau(headline.tableau, run_dir / "tableau.json")
        wall = time.perf_counter() - started
        runs.update_manifest(
            run_dir, status="complete", end_time=runs.now_iso(), wall_time_s=round(wall, 2),
            headline={"stages": headline.stages, "order": headline.order, "beats_library": beats_library},
        )  # fmt: skip
        return TrainResult(
            run_dir, headline.tableau, headline.stages, headline.order, tuple(results), metrics,
            beats_library, wall,
        )  # fmt: skip
    except TrainingRejected as exc:
        _record(run_dir, status="rejected", reason=str(exc), end_time=runs.now_iso())
        raise
    except KeyboardInterrupt as exc:
        signal_name = getattr(exc, "signal_name", "SIGINT")
        resumable = runs.has_checkpoint(run_dir)
        _record(run_dir, status="interrupted", interrupted_at=runs.now_iso(), signal=signal_name,
                resumable=resumable)  # fmt: skip
        raise
    except BaseException:
        _record(run_dir, status="failed", end_time=runs.now_iso())
        raise
    finally:
        restore_sigterm()
        torch.use_deterministic_algorithms(previous_determinism)


def _record(run_dir: Path, **fields: Any) -> None:
    """Set the run's final status, if its manifest was written (an interrupt can come before)."""
    if runs.is_run_dir(run_dir):
        runs.update_manifest(run_dir, **fields)


# --------------------------------------------------------------------------- state and checkpoints


def _fresh_state(generator, targets: dict[int, Target], validation, weights) -> dict[str, Any]:
    """Training state before the first epoch: the polished initialisations are the first 'best'."""
    with torch.no_grad():
        init = {s: generator.mean(s).cpu().numpy() for s in targets}
    init_centre, best, curves = {}, {}, {}
    for s, (p, origin) in targets.items():
        # The untrained mean is the start itself (rkml.generator), so this only polishes it.
        projected = project_batch(init[s][None], s, p, origin=origin)
        if not projected.converged[0]:
            raise TrainingRejected(
                f"the {s}-stage start cannot be polished onto order {p} "
                f"(residual {projected.residual[0]:.2g})"
            )
        init_centre[s] = projected.x[0]
        score = float(score_points(init_centre[s][None], s, validation, weights).score[0])
        best[s] = {
            "x": init_centre[s].copy(),
            "score": score,
            "step": -1,
            "order": order(_tableau(init_centre[s], s, "init"), tol=ACCEPT_RESIDUAL),
        }
        curves[s] = {
            "step": [], "train": [], "penalty": [], "val_step": [-1], "validation": [score], "best": [score],
        }  # fmt: skip
    return {
        "stage_index": 0,
        "step": 0,
        "centre": None,
        "optimizer": None,
        "init": init,
        "init_centre": init_centre,
        "best": best,
        "curves": curves,
    }


def _snapshot(state, generator, optimizer, rng) -> dict[str, Any]:
    """A deep copy of everything a resumed run needs, taken at an epoch boundary."""
    return {
        "stage_index": state["stage_index"],
        "step": state["step"],
        "centre": None if state["centre"] is None else state["centre"].copy(),
        "init": state["init"],  # never modified after set-up
        "init_centre": state["init_centre"],
        "best": copy.deepcopy(state["best"]),
        "curves": copy.deepcopy(state["curves"]),
        "generator": copy.deepcopy(generator.state_dict()),
        "optimizer": None if optimizer is None else copy.deepcopy(optimizer.state_dict()),
        "rng": copy.deepcopy(rng.bit_generator.state),
    }


def _payload(profile: Profile, counts, snap: dict[str, Any]) -> dict[str, Any]:
    """The checkpoint dict: numpy arrays as float64 tensors (``torch.load(weights_only=True)``)."""
    return {
        "profile": profile.to_dict(),
        "profile_hash": profile.hash(),
        "stage_counts": list(counts),
        "stage_index": snap["stage_index"],
        "step": snap["step"],
        "centre": None if snap["centre"] is None else _tensor(snap["centre"]),
        "init": {s: _tensor(x) for s, x in snap["init"].items()},
        "init_centre": {s: _tensor(x) for s, x in snap["init_centre"].items()},
        "best": {s: {**b, "x": _tensor(b["x"])} for s, b in snap["best"].items()},
        "curves": snap["curves"],
        "generator": snap["generator"],
        "optimizer": snap["optimizer"],
        "rng": snap["rng"],
    }


def _check_resumable(checkpoint: dict[str, Any], profile: Profile, counts, run_dir: Path) -> None:
    """Refuse a checkpoint made with another profile or other stage counts (one-line input error)."""
    if checkpoint.get("profile_hash") != profile.hash():
        raise RKInputError(
            f"{run_dir}: the checkpoint was made with profile hash "
            f"{str(checkpoint.get('profile_hash'))[:8]}, not {profile.short_hash()}; "
            "resume with the same profile or start afresh with --force"
        )
    if list(checkpoint["stage_counts"]) != list(counts):
        raise RKInputError(
            f"{run_dir}: the checkpoint trains stage counts {checkpoint['stage_counts']}, "
            f"not {list(counts)}; resume with the same --stages"
        )


def _restore_state(checkpoint: dict[str, Any], generator, rng) -> dict[str, Any]:
    """Load generator weights and the RNG state; return the training state of the checkpoint."""
    generator.load_state_dict(checkpoint["generator"])
    rng.bit_generator.state = checkpoint["rng"]
    return {
        "stage_index": int(checkpoint["stage_index"]),
        "step": int(checkpoint["step"]),
        "centre": None if checkpoint["centre"] is None else checkpoint["centre"].numpy(),
        "optimizer": checkpoint["optimizer"],
        "init": {s: x.numpy() for s, x in checkpoint["init"].items()},
        "init_centre": {s: x.numpy() for s, x in checkpoint["init_centre"].items()},
        "best": {s: {**b, "x": b["x"].numpy()} for s, b in checkpoint["best"].items()},
        "curves": checkpoint["curves"],
    }


# --------------------------------------------------------------------------- results


def _finish_stage(s: int, state: dict[str, Any], profile: Profile, p: int) -> StageResult:
    """Polish the stage's best tableau to order ``p``, verify its order with rkcore, label it."""
    best = state["best"][s]
    name = f"{profile.name}-s{s}"
    try:
        tableau = polish(_tableau(best["x"], s, name), p)
    except PolishFailed as exc:
        raise TrainingRejected(f"the {s}-stage result fails its order: {exc}") from None
    verified = order(tableau, tol=ACCEPT_RESIDUAL)
    worst = float(np.max(np.abs(order_conditions(tableau, max(verified, 1)))))
    if verified < max(p, profile.objective.min_order) or worst > ACCEPT_RESIDUAL:
        raise TrainingRejected(
            f"the {s}-stage result verifies order {verified} (max residual {worst:.2g}), below the "
            f"order {p} it was trained on (minimum order {profile.objective.min_order})"
        )
    info = {
        "order": verified,
        "profile": profile.name,
        "profile_hash": profile.hash(),
        "stages": s,
        "seed": profile.training.seed,
        "source": "rkml train",
        "validation_score": best["score"],
        "selected_at_epoch": best["step"],
    }
    init = _tableau(state["init_centre"][s], s, f"{name}-init")
    init = init.replace(info={"order": order(init, tol=ACCEPT_RESIDUAL), "source": "rkml initialisation"})
    return StageResult(s, tableau.replace(info=info), verified, init, float(best["score"]))


def _metrics(results, dataset, plan, profile: Profile, starts: dict[int, Start]) -> dict[str, Any]:
    """Train / validation / test scores of each result, its initialisation and the library rivals."""
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
        rivals = library_rivals(r.stages, p)
        out["stages"][str(r.stages)] = {
            "order": r.order,
            "tableau": f"tableau-s{r.stages}.json",
            "initialisation_tableau": r.initialisation.to_dict(),
            "start": starts[r.stages].name,
            "library_methods": sorted(rivals),
            **scorecards(r.tableau, r.initialisation, rivals, dataset, plan, weights),
        }
    return out
