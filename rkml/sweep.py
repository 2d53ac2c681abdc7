"""Sweeps: many (profile, seed) training runs on a Dask cluster, each its own run folder.

Every job is exactly what ``rkml train`` does for one profile: the resolved profile
(seed applied with :meth:`Profile.with_seed`, then :meth:`Profile.smoke` when asked, the
order :func:`rkml.profile.resolve_profile` uses), :func:`rkml.runs.default_run_dir`,
:func:`rkml.runs.prepare_run_dir`, then :func:`rkml.train.train`.  So a sweep's run folders
are indistinguishable from hand-made ones, and ``rkml compare runs/*`` reads both.

Parallelism.  By default an embedded ``LocalCluster`` of worker *processes* (one thread
each: training holds the GIL in torch and Python code) runs the jobs; the cores are shared
out so that ``workers * numba threads <= cores``.  The numba thread count is set inside the
task with :func:`numba.set_num_threads` (restored afterwards) and recorded in the run's
manifest under ``"sweep"``, so no environment variable changes a run unrecorded.  Given a
scheduler address, the jobs go to that cluster instead, and the thread count of each worker
is derived from the cores of its own host.

Re-running a sweep skips complete runs (:func:`rkml.runs.is_complete`), resumes runs that
left a checkpoint, and restarts runs that left neither.  A failed job is reported with a
one-line message and never stops the others.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from rkcore.errors import RKInputError

from . import runs
from .profile import Profile

__all__ = ["SweepJob", "RunOutcome", "SweepResult", "plan_sweep", "share_cores", "sweep"]

#: Job states shown in the live table, in display order.
STATES = ("running", "queued", "failed", "done", "skipped")


@dataclasses.dataclass(frozen=True)
class SweepJob:
    """One training run of a sweep.

    Attributes
    ----------
    profile : Profile
        Fully resolved (seed and smoke budget applied); its hash names ``run_dir``.
    run_dir : Path
        Absolute path of the run folder (``runs.default_run_dir``).
    action : str
        ``"start"`` (new or restartable folder), ``"resume"`` (checkpoint present) or
        ``"skip"`` (already complete).
    """

    profile: Profile
    run_dir: Path
    action: str

    @property
    def label(self) -> str:
        """The run folder's name, ``<profile>-<seed>-<short hash>``."""
        return self.run_dir.name


@dataclasses.dataclass(frozen=True)
class RunOutcome:
    """What became of one job: ``status`` is ``"done"``, ``"skipped"`` or ``"failed"``."""

    label: str
    run_dir: Path
    status: str
    message: str = ""
    resumed: bool = False
    wall_s: float | None = None
    numba_threads: int | None = None


@dataclasses.dataclass(frozen=True)
class SweepResult:
    """Outcomes of every job, in submission order, and the sweep's wall time."""

    outcomes: tuple[RunOutcome, ...]
    wall_s: float
    n_workers: int
    scheduler: str

    @property
    def failed(self) -> tuple[RunOutcome, ...]:
        return tuple(o for o in self.outcomes if o.status == "failed")

    @property
    def ok(self) -> bool:
        """True when no job failed."""
        return not self.failed


# ----------------------------------------------------------------- planning


def plan_sweep(
    profiles: Sequence[Profile],
    seeds: Sequence[int] | None,
    runs_dir: str | os.PathLike,
    *,
    smoke: bool = False,
) -> tuple[SweepJob, ...]:
    """Resolve every (profile, seed) to a job, before anything runs.

    Parameters
    ----------
    profiles : sequence of Profile
        Resolved profiles (``resolve_profile(name, overrides=...)``); at least one.
    seeds : sequence of int or None
        Training seeds; ``None`` keeps each profile's own ``training.seed``.
    runs_dir : path
        Folder holding the run folders.
    smoke : bool
        Shrink every profile with :meth:`Profile.smoke` (recorded in its overrides).

    Raises
    ------
    RKInputError
        No profile, an empty seed list, two jobs with the same run folder, or a run folder
        in the way that is not a run.
    """
    if not profiles:
        raise RKInputError("no profile given; name at least one with --profile (see 'rkml profiles list')")
    if seeds is not None and len(seeds) == 0:
        raise RKInputError("the seed list is empty; give at least one seed, e.g. --seed 0,1,2")
    root = Path(runs_dir).resolve()
    jobs: list[SweepJob] = []
    seen: dict[Path, str] = {}
    for base in profiles:
        for seed in seeds if seeds is not None else (None,):
            profile = base if seed is None else base.with_seed(int(seed))
            if smoke:
                profile = profile.smoke()
            run_dir = runs.default_run_dir(profile, root)
            if run_dir in seen:
                raise RKInputError(
                    f"profile '{profile.name}' seed {profile.training.seed} appears twice in the sweep "
                    f"(run folder {run_dir.name}); list each profile and seed once"
                )
            seen[run_dir] = profile.name
            jobs.append(SweepJob(profile, run_dir, _action(run_dir)))
    return tuple(jobs)


def _action(run_dir: Path) -> str:
    if not run_dir.exists() or (run_dir.is_dir() and not any(run_dir.iterdir())):
        return "start"
    if not runs.is_run_dir(run_dir):
        raise RKInputError(
            f"{run_dir} exists and is not a run folder; remove it or choose another --runs-dir"
        )
    if runs.is_complete(run_dir):
        return "skip"
    return "resume" if runs.has_checkpoint(run_dir) else "start"


def share_cores(n_jobs: int, n_workers: int | None = None, cores: int | None = None) -> tuple[int, int]:
    """Split ``cores`` between workers so that ``workers * numba threads <= cores``.

    Returns
    -------
    (n_workers, numba_threads) : tuple of int
        ``n_workers`` defaults to ``min(n_jobs, cores)``; each worker gets
        ``cores // n_workers`` numba threads (at least 1).
    """
    cores = cores or _available_cores()
    if n_workers is not None and n_workers < 1:
        raise RKInputError(f"--workers must be at least 1, got {n_workers}")
    workers = n_workers or max(1, min(n_jobs, cores))
    return workers, max(1, cores // workers)


def _available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


# ----------------------------------------------------------------- the task (runs on a worker)


def _remote_threads(client: Any) -> dict[str, int]:
    """Numba threads per worker of a cluster we did not start: each host's cores shared out.

    Returns ``{worker address: threads}`` with ``threads = cores of the host // task slots on
    that host`` (at least 1), so the host is not oversubscribed when every slot is busy.
    """
    workers = client.scheduler_info(n_workers=-1).get("workers", {})
    cores = client.run(_available_cores)
    slots: dict[str, int] = {}
    for info in workers.values():
        slots[info["host"]] = slots.get(info["host"], 0) + int(info.get("nthreads", 1))
    return {
        addr: max(1, int(cores.get(addr, 1)) // max(1, slots.get(info["host"], 1)))
        for addr, info in workers.items()
    }


def _run_job(job: SweepJob, numba_threads: int | dict[str, int], topic: str, device: str) -> RunOutcome:
    """Train one job on this worker; never raises for a training error (reported as failed).

    ``numba_threads`` is a count, or a ``{worker address: count}`` map for a remote cluster.
    """
    from distributed import get_worker

    from rkcore.threads import numba_threads as scoped_numba_threads

    start = time.perf_counter()
    worker = None
    try:
        worker = get_worker()
        worker.log_event(topic, {"label": job.label, "state": "running"})
    except ValueError:  # run outside a worker (tests calling it directly)
        pass
    if isinstance(numba_threads, dict):
        numba_threads = numba_threads.get(getattr(worker, "address", ""), 1)
    resume = job.action == "resume"
    status, message = "done", ""
    with scoped_numba_threads(numba_threads) as threads:
        try:
            from . import train as train_module

            train_module.resolve_device(device)  # a worker without CUDA leaves no empty run folder
            # "start" on an existing run folder means it left no checkpoint: nothing to keep.
            restart = job.action == "start" and runs.is_run_dir(job.run_dir)
            run_dir = runs.prepare_run_dir(job.run_dir, resume=resume, force=restart)
            train_module.train(job.profile, run_dir, device=device, resume=resume, progress=False)
        except Exception as exc:  # one bad run must not take the sweep down; the message says why
            status, message = "failed", _one_line(exc)
    wall = time.perf_counter() - start
    record = {
        "numba_threads": threads,
        "worker": getattr(worker, "address", None),
        "resumed": resume,
        "wall_s": round(wall, 3),
    }
    if runs.is_run_dir(job.run_dir):
        try:
            runs.update_manifest(job.run_dir, sweep=record)
        except (RKInputError, OSError) as exc:
            if status == "done":
                status, message = "failed", f"cannot record the sweep in the manifest: {_one_line(exc)}"
    return RunOutcome(job.label, job.run_dir, status, message, resume, wall, threads)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or "(no message)"
    return f"{type(exc).__name__}: {text}"


# ----------------------------------------------------------------- the sweep


def sweep(
    profiles: Sequence[Profile],
    seeds: Sequence[int] | None,
    runs_dir: str | os.PathLike,
    *,
    scheduler: str | None = None,
    n_workers: int | None = None,
    smoke: bool = False,
    progress: bool = True,
    device: str = "auto",
    console: Any = None,
) -> SweepResult:
    """Run every (profile, seed) as its own training run on Dask distributed.

    Parameters
    ----------
    profiles : sequence of Profile
        Resolved profiles, each trained once per seed.
    seeds : sequence of int or None
        Training seeds; ``None`` keeps each profile's own seed.
    runs_dir : path
        Where the run folders go (``<profile>-<seed>-<short hash>``).
    scheduler : str, optional
        Address of an existing Dask scheduler; default: an embedded ``LocalCluster``.
    n_workers : int, optional
        Worker processes of the embedded cluster; default ``min(jobs, cores)``.
    smoke : bool
        Tiny budget for every run (:meth:`Profile.smoke`).
    progress : bool
        Live table of queued / running / done / failed runs.
    device : str
        Passed to :func:`rkml.train.train`.
    console : rich.console.Console, optional
        Where progress goes (default: stderr).

    Returns
    -------
    SweepResult
        One :class:`RunOutcome` per job; failures carry a one-line message.
    """
    start = time.perf_counter()
    jobs = plan_sweep(profiles, seeds, runs_dir, smoke=smoke)
    outcomes = {j.label: RunOutcome(j.label, j.run_dir, "skipped", "already complete") for j in jobs}
    to_run = [j for j in jobs if j.action != "skip"]
    board = _Board(jobs, progress, console)
    n_used = 0
    if to_run:
        from distributed import as_completed

        _prebuild_datasets(to_run, progress)
        with _client(scheduler, len(to_run), n_workers) as (client, threads):
            n_used = len(threads) if isinstance(threads, dict) else len(client.scheduler_info()["workers"])
            topic = f"rkml-sweep-{uuid.uuid4().hex}"
            with board:
                client.subscribe_topic(topic, board.on_event)
                futures = {
                    client.submit(_run_job, job, threads, topic, device, key=f"{job.label}-{topic[-8:]}",
                                  pure=False, retries=0): job
                    for job in to_run
                }  # fmt: skip
                for future in as_completed(futures):
                    job = futures[future]
                    outcomes[job.label] = _collect(future, job)
                    board.finish(outcomes[job.label])
    else:
        with board:
            pass
    ordered = tuple(outcomes[j.label] for j in jobs)
    return SweepResult(ordered, time.perf_counter() - start, n_used, scheduler or "local")


@contextlib.contextmanager
def _client(scheduler: str | None, n_jobs: int, n_workers: int | None) -> Iterator[tuple[Any, Any]]:
    """A Dask client and the numba threads per task (a count, or per worker address).

    Without ``scheduler``: an embedded ``LocalCluster`` of one-thread worker processes,
    closed on exit.  With it: the existing cluster, whose hosts' cores are shared out.
    """
    from distributed import Client, LocalCluster

    if scheduler is not None:
        with Client(scheduler) as client:
            yield client, _remote_threads(client)
        return
    workers, threads = share_cores(n_jobs, n_workers)
    # silence_logs: a worker that takes a few seconds to exit after its run is killed by the
    # nanny with a warning; its run's files are complete (atomic writes) by then.
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                           silence_logs=logging.ERROR)  # fmt: skip
    try:
        with Client(cluster) as client:
            yield client, threads
    finally:
        cluster.close()


def _prebuild_datasets(jobs: Sequence[SweepJob], progress: bool) -> None:
    """Build each distinct dataset once, here, before the workers start.

    Several runs often share a dataset (one profile, several seeds), and a worker process is a
    daemon that may not start the reference solver's process pool; with the datasets in
    rkcore's cache (:func:`rkcore.datasets.resolve_cache_dir`) every run just loads its own.
    A spec that fails to build is left to its run, which then fails with that message.
    A remote cluster must see the same cache folder (``RKCORE_CACHE_DIR`` on a shared disk).
    """
    from rkcore.datasets import make_dataset

    specs = {}
    for job in jobs:
        try:
            spec = job.profile.dataset_spec()
        except RKInputError:
            continue
        specs.setdefault(spec.hash(), spec)
    for spec in specs.values():
        try:
            make_dataset(spec, progress=progress)
        except (RKInputError, OSError):
            continue


def _collect(future: Any, job: SweepJob) -> RunOutcome:
    """The job's outcome; a worker that died or a task that could not run becomes ``failed``."""
    try:
        return future.result()
    except Exception as exc:  # KilledWorker, CancelledError, unpicklable results...
        return RunOutcome(job.label, job.run_dir, "failed", _one_line(exc), job.action == "resume")


class _Board:
    """Live view of the job states (a rich table on a terminal, one line per change otherwise)."""

    def __init__(self, jobs: Sequence[SweepJob], enabled: bool, console: Any) -> None:
        from rich.console import Console

        self._lock = threading.Lock()
        self.enabled = enabled
        self.console = console or Console(stderr=True)
        self.rows: dict[str, dict[str, Any]] = {
            j.label: {
                "state": "skipped" if j.action == "skip" else "queued",
                "note": "already complete"
                if j.action == "skip"
                else ("resume" if j.action == "resume" else ""),
                "t0": None,
                "wall": None,
            }
            for j in jobs
        }
        self._live = None

    def __enter__(self) -> _Board:
        if not self.enabled:
            return self
        if self.console.is_terminal:
            from rich.live import Live

            self._live = Live(get_renderable=self.render, console=self.console, refresh_per_second=2)
            self._live.__enter__()
        else:
            for label, row in self.rows.items():
                self._line(f"sweep: {label}: {row['state']} {row['note']}".rstrip())
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)
            self._live = None

    def on_event(self, event: Any) -> None:
        """Handler for the workers' ``log_event`` messages (runs in the client's thread)."""
        _, msg = event
        self._update(msg["label"], msg["state"], None)

    def finish(self, outcome: RunOutcome) -> None:
        self._update(outcome.label, outcome.status, outcome)

    def _update(self, label: str, state: str, outcome: RunOutcome | None) -> None:
        with self._lock:
            row = self.rows.get(label)
            if row is None or row["state"] in ("done", "failed"):
                return
            row["state"] = state
            if state == "running":
                row["t0"] = time.perf_counter()
            if outcome is not None:
                row["wall"] = outcome.wall_s
                row["note"] = outcome.message or ("resumed" if outcome.resumed else "")
        if self.enabled and self._live is None:
            note = f" ({outcome.message})" if outcome is not None and outcome.message else ""
            wall = f" in {outcome.wall_s:.1f} s" if outcome is not None and outcome.wall_s else ""
            self._line(f"sweep: {label}: {state}{wall}{note}")

    def _line(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def render(self) -> Any:
        from rich.markup import escape
        from rich.table import Table

        styles = {"queued": "dim", "running": "cyan", "done": "green", "failed": "bold red", "skipped": "dim"}
        table = Table(title="rkml sweep", expand=False)
        table.add_column("run", no_wrap=True)
        table.add_column("state")
        table.add_column("time", justify="right")
        table.add_column("note", overflow="fold")
        now = time.perf_counter()
        with self._lock:
            rows = sorted(self.rows.items(), key=lambda kv: STATES.index(kv[1]["state"]))
            counts = {s: sum(r["state"] == s for _, r in rows) for s in STATES}
            for label, row in rows:
                if row["wall"] is not None:
                    elapsed = f"{row['wall']:.1f} s"
                elif row["t0"] is not None:
                    elapsed = f"{now - row['t0']:.0f} s"
                else:
                    elapsed = ""
                state = row["state"]
                table.add_row(escape(label), f"[{styles[state]}]{state}[/]", elapsed, escape(row["note"]))
        table.caption = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        return table
