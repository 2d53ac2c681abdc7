"""Sweeps: many (profile, seed) training runs on a Dask cluster, each its own run folder.

Every job is exactly what ``rkml train`` does for one profile: the resolved profile
(seed applied with :meth:`Profile.with_seed`, then :meth:`Profile.smoke` when asked, the
order :func:`rkml.profile.resolve_profile` uses), :func:`rkml.runs.default_run_dir`,
:func:`rkml.runs.run_lock`, :func:`rkml.runs.prepare_run_dir`, then :func:`rkml.train.train`.
So a sweep's run folders are indistinguishable from hand-made ones, and ``rkml compare
runs/*`` reads both.

Scheduling.  The client hands out work itself (:class:`_Dispatcher`): one task per worker
at a time, the rest waiting in the client, the highest priority first.  A training job's
priority is its estimated wall time (:func:`estimate_cost`: longest job first); the
reference solves of a dataset are chunk tasks whose priority is that of the longest job
waiting for them plus their own estimate.  Dask's own queuing
(``distributed.scheduler.worker-saturation``) is not used: it only queues "root-ish" task
groups larger than twice the thread count, and a sweep's jobs are a handful of distinct keys,
so the scheduler would assign them all to workers at once (where a long job blocks the ones
queued behind it while another worker idles -- the 11 idle minutes of issue 12); nor does it
know a job's length.

References.  Nothing is solved serially in the client: each distinct dataset is built once,
with its reference solves fanned out as Dask tasks (:func:`rkcore.datasets.make_dataset`
with an executor that feeds the dispatcher); the client assembles it, writes its own cache
and ships the cache file's bytes with each training job, which installs them in the worker's
cache (:func:`rkcore.datasets.resolve_cache_dir`) when absent.  So a worker that does not see
the client's cache needs nothing else; a worker that builds a dataset itself (the client's
build failed) solves in its own process (a Dask worker is a daemon and starts no pool).

Parallelism.  By default an embedded ``LocalCluster`` of worker *processes* (one thread
each: training holds the GIL in Python code) runs the jobs; the cores are shared out so that
``workers * numba threads <= cores``.  The numba thread count is set inside the task with
:func:`numba.set_num_threads` (restored afterwards) and recorded in the run's manifest under
``"sweep"``, so no environment variable changes a run unrecorded.  Given a scheduler address,
the jobs go to that cluster instead (the address must answer within
:data:`CONNECT_TIMEOUT_S` seconds), and each worker's numba threads are its host's cores
shared between the workers of that host.  A multi-machine cluster needs the runs folder on a
filesystem every worker and the client see at the same path; the dataset cache may be local.

One writer per run folder: a job holds :func:`rkml.runs.run_lock` from preparing its folder
to its last write; a rescheduled copy of a job whose worker was lost waits up to
:data:`LOCK_WAIT_S` seconds for the first attempt to let go (or for its lock to go stale),
then fails with a one-line :class:`rkml.errors.RunLockedError`.

Reporting.  Lost and joining workers are shown on the board; warnings raised during a run
are recorded on the worker, kept in its :class:`RunOutcome` and shown by the client.  Each
outcome records its worker and wall-clock start and end; :func:`write_timeline` writes them
as ``<runs>/.sweeps/sweep-<UTC time>.json`` (never overwriting; hidden, so that
``rkml compare runs/*`` does not list it as a folder left out).

Re-running a sweep skips complete runs (:func:`rkml.runs.is_complete`), resumes runs that
left a checkpoint, and restarts runs that left neither.  A failed job is reported with a
one-line message and never stops the others.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import datetime as _dt
import heapq
import itertools
import logging
import os
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from rkcore.errors import RKInputError

from . import runs
from .profile import Profile

__all__ = [
    "CONNECT_TIMEOUT_S",
    "LOCK_WAIT_S",
    "RunOutcome",
    "SweepJob",
    "SweepResult",
    "estimate_cost",
    "plan_sweep",
    "share_cores",
    "sweep",
    "write_timeline",
]

#: Seconds a ``--scheduler`` address gets to answer before the sweep gives up.
CONNECT_TIMEOUT_S = 5.0
#: Seconds a job waits for another writer of its run folder (a lost worker's first attempt)
#: before it fails; longer than :func:`rkml.runs.run_lock`'s 60 s staleness of a dead owner's lock.
LOCK_WAIT_S = 75.0

#: Job states shown in the live table, in display order.
STATES = ("running", "queued", "waiting", "failed", "done", "skipped")


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
    """What became of one job: ``status`` is ``"done"``, ``"skipped"`` or ``"failed"``.

    ``start`` and ``end`` are wall-clock times (seconds since the epoch, as ``time.time()``
    on the worker), ``worker`` the Dask address that ran it; ``warnings`` the one-line
    warnings the run raised.
    """

    label: str
    run_dir: Path
    status: str
    message: str = ""
    resumed: bool = False
    wall_s: float | None = None
    numba_threads: int | None = None
    worker: str | None = None
    start: float | None = None
    end: float | None = None
    warnings: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class SweepResult:
    """Outcomes of every job, in submission order, and the sweep's wall time.

    ``timeline`` is what :func:`write_timeline` wrote to ``timeline_path`` (None when nothing
    ran); ``events`` the lost and joined workers, ``{"time", "worker", "event", "jobs"}``.
    """

    outcomes: tuple[RunOutcome, ...]
    wall_s: float
    n_workers: int
    scheduler: str
    timeline: dict[str, Any] | None = None
    timeline_path: Path | None = None
    events: tuple[dict[str, Any], ...] = ()

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


def estimate_cost(profile: Profile) -> float:
    """A rough estimate of a run's wall time in seconds, used only to order the jobs.

    ``2e-6 * sum(stage counts) * (starts + elite * generations * candidates) *
    (non-stiff + 3 * stiff training problems)``: calibrated against single runs of the six
    built-in profiles (2 contended threads: 59 s to 967 s), which it meets within a factor
    of two and orders as measured except for near ties.  Not a prediction to plan by.
    """
    d, t = profile.dataset, profile.training
    stages = sum(range(profile.stages.min, profile.stages.max + 1))
    evaluations = t.starts + t.elite * t.generations * t.candidates
    train = d.n_problems * d.split[0]
    stiff = d.n_stiff * d.split[0]
    return 2e-6 * stages * evaluations * ((train - stiff) + 3.0 * stiff)


def _reference_cost(profile: Profile) -> float:
    """Rough seconds of reference solving for the profile's dataset (0.2 s per problem, one core)."""
    return 0.2 * profile.dataset.n_problems


# ----------------------------------------------------------------- the tasks (run on a worker)


def _remote_threads(client: Any) -> dict[str, int]:
    """Numba threads per worker of a cluster we did not start: each host's cores shared out.

    Returns ``{worker address: threads}`` with ``threads = cores of the host // workers on
    that host`` (at least 1): a sweep runs one job per worker, so the host is not
    oversubscribed when every worker is busy.
    """
    workers = _workers(client)
    cores = client.run(_available_cores)
    per_host: dict[str, int] = {}
    for info in workers.values():
        per_host[info["host"]] = per_host.get(info["host"], 0) + 1
    return {
        addr: max(1, int(cores.get(addr, 1)) // max(1, per_host.get(info["host"], 1)))
        for addr, info in workers.items()
    }


def _workers(client: Any) -> dict[str, dict[str, Any]]:
    """``{address: info}`` of the scheduler's workers, asked of the scheduler now.

    Not ``client.scheduler_info()``: it returns the client's cached identity, which the
    client's own periodic refresh overwrites with a worker-less summary (and keeps stale when
    the scheduler does not answer in time), so a poll could see every worker vanish for a
    moment and report busy workers as lost.
    """
    return dict(client.sync(client.scheduler.identity, n_workers=-1).get("workers", {}))


def _this_worker() -> Any:
    from distributed import get_worker

    try:
        return get_worker()
    except ValueError:  # run outside a worker (tests calling it directly)
        return None


def _threads_here(numba_threads: int | dict[str, int], worker: Any) -> int:
    if isinstance(numba_threads, dict):
        return numba_threads.get(getattr(worker, "address", ""), 1)
    return numba_threads


def _call_chunk(task: Callable[..., Any], args: tuple, numba_threads: int | dict[str, int]) -> Any:
    """One reference chunk on a worker (``task(*args)``), under the worker's numba thread count."""
    from rkcore.threads import numba_threads as scoped_numba_threads

    with scoped_numba_threads(_threads_here(numba_threads, _this_worker())):
        return task(*args)


def _install_dataset(job: SweepJob, blob: bytes | None) -> None:
    """Put the dataset the client built into this worker's cache, unless it is there already."""
    if blob is None:
        return
    from rkcore.datasets import cache_path
    from rkcore.fileio import atomic_write_bytes

    path = cache_path(job.profile.dataset_spec())
    if not path.exists():
        atomic_write_bytes(path, blob)


def _run_job(
    job: SweepJob,
    numba_threads: int | dict[str, int],
    topic: str | None,
    device: str,
    dataset: bytes | None = None,
    lock_wait_s: float = LOCK_WAIT_S,
) -> RunOutcome:
    """Train one job on this worker; never raises for a training error (reported as failed).

    ``numba_threads`` is a count, or a ``{worker address: count}`` map for a remote cluster.
    ``dataset`` is the bytes of the dataset's cache file, installed in this worker's cache
    when absent (:func:`_install_dataset`).  The run folder's lock is held from preparing the
    folder to the last write; another writer is waited for up to ``lock_wait_s`` seconds.
    Warnings raised meanwhile are recorded (one line each) in the outcome.  Under the lock the
    folder is looked at again (:func:`_action`), so a requeued attempt resumes from the first
    attempt's checkpoint rather than wiping it.
    """
    from rkcore.threads import numba_threads as scoped_numba_threads

    start, t0 = time.time(), time.perf_counter()
    worker = _this_worker()
    address = getattr(worker, "address", None)
    if worker is not None and topic is not None:
        worker.log_event(topic, {"label": job.label, "state": "running", "worker": address, "time": start})
    threads = _threads_here(numba_threads, worker)
    resume = job.action == "resume"
    status, message = "done", ""
    with (
        scoped_numba_threads(threads) as threads,
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always", RuntimeWarning)
        warnings.simplefilter("always", UserWarning)
        try:
            from . import train as train_module

            train_module.resolve_device(device)  # a worker without CUDA leaves no empty run folder
            with runs.run_lock(job.run_dir, wait_s=lock_wait_s):
                try:
                    # Looked at again under the lock: an earlier attempt of this job (its worker
                    # lost) may have left a checkpoint to resume, or finished the run.
                    action = _action(job.run_dir)
                    resume = action == "resume"
                    if action == "skip":
                        message = "already complete (finished by an earlier attempt)"
                    else:
                        _install_dataset(job, dataset)
                        # "start" on an existing run folder means it left no checkpoint: nothing to keep.
                        restart = action == "start" and runs.is_run_dir(job.run_dir)
                        run_dir = runs.prepare_run_dir(job.run_dir, resume=resume, force=restart)
                        train_module.train(job.profile, run_dir, device=device, resume=resume, progress=False)
                except Exception as exc:  # one bad run must not take the sweep down; the message says why
                    status, message = "failed", _one_line(exc)
                record = {"numba_threads": threads, "worker": address, "resumed": resume,
                          "wall_s": round(time.perf_counter() - t0, 3), "start": _iso(start),
                          "end": _iso(time.time())}  # fmt: skip
                if runs.is_run_dir(job.run_dir):
                    try:
                        runs.update_manifest(job.run_dir, sweep=record)
                    except (RKInputError, OSError) as exc:
                        if status == "done":
                            status, message = (
                                "failed",
                                f"cannot record the sweep in the manifest: {_one_line(exc)}",
                            )
        except Exception as exc:  # the lock is held by another writer, or no such device
            status, message = "failed", _one_line(exc)
    seen: list[str] = []
    for w in caught:
        text = f"{w.category.__name__}: {' '.join(str(w.message).split())}"
        if text not in seen and len(seen) < 20:
            seen.append(text)
    end = time.time()
    wall = time.perf_counter() - t0
    return RunOutcome(job.label, job.run_dir, status, message, resume, wall, threads, address, start, end,
                      tuple(seen))  # fmt: skip


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or "(no message)"
    return f"{type(exc).__name__}: {text}"


def _iso(t: float | None) -> str | None:
    if t is None:
        return None
    return _dt.datetime.fromtimestamp(t, _dt.timezone.utc).isoformat(timespec="milliseconds")


# ----------------------------------------------------------------- handing out work


@dataclasses.dataclass(order=True)
class _Task:
    sort: tuple[float, int]
    name: str = dataclasses.field(compare=False)
    fn: Callable[..., Any] = dataclasses.field(compare=False)
    args: tuple = dataclasses.field(compare=False)
    on_done: Callable[[Any], None] = dataclasses.field(compare=False)
    kind: str = dataclasses.field(default="job", compare=False)
    cancelled: Callable[[], bool] = dataclasses.field(default=lambda: False, compare=False)


class _Dispatcher:
    """Hands tasks to a Dask cluster one per worker at a time, the highest priority first.

    Tasks wait here, in the client, until a worker is free; each is then pinned to that
    worker (``workers=[address], allow_other_workers=True``: if the worker is lost, Dask
    reschedules the task anywhere).  :meth:`add` is thread-safe; :meth:`run` loops in the
    calling thread until ``finished()`` holds and nothing is queued or running, calling each
    task's ``on_done(future)`` there.  Lost and joined workers go to ``notify`` and
    :attr:`events`; every dispatched task to :attr:`log` (``name, kind, worker, sent, done``).
    """

    def __init__(self, client: Any, notify: Callable[[str], None] | None = None, poll_s: float = 0.2) -> None:
        self.client = client
        self.notify = notify or (lambda text: None)
        self.poll_s = poll_s
        self._heap: list[_Task] = []
        self._lock = threading.Lock()
        self._seq = itertools.count()
        self._tag = uuid.uuid4().hex[:8]
        self.running: dict[Any, tuple[_Task, str | None, dict[str, Any]]] = {}
        self.workers: set[str] = set()
        self.events: list[dict[str, Any]] = []
        self.log: list[dict[str, Any]] = []
        self._waiting_said = False

    def add(
        self, name: str, fn: Callable[..., Any], args: tuple, priority: float, on_done: Callable[[Any], None],
        kind: str = "job", cancelled: Callable[[], bool] | None = None,
    ) -> None:  # fmt: skip
        task = _Task(
            (-float(priority), next(self._seq)), name, fn, args, on_done, kind, cancelled or (lambda: False)
        )
        with self._lock:
            heapq.heappush(self._heap, task)

    def queued(self) -> int:
        with self._lock:
            return len(self._heap)

    def run(self, finished: Callable[[], bool]) -> None:
        from distributed import wait

        while True:
            if self.running:
                try:
                    done, _ = wait(list(self.running), timeout=self.poll_s, return_when="FIRST_COMPLETED")
                except TimeoutError:  # distributed.wait raises when nothing finished meanwhile
                    done = set()
            else:
                time.sleep(self.poll_s / 4)
                done = set()
            for future in done:
                task, _, entry = self.running.pop(future)
                entry["done"] = time.time()
                task.on_done(future)
            self._watch_workers()
            self._hand_out()
            # finished() first: once it holds, every task has been added.
            if finished() and not self.queued() and not self.running:
                return

    def _alive(self) -> set[str]:
        info = _workers(self.client)
        return {addr for addr, w in info.items() if w.get("status", "running") == "running"}

    def _watch_workers(self) -> None:
        alive = self._alive()
        now = time.time()
        for addr in sorted(self.workers - alive):
            jobs = [t.name for t, w, _ in self.running.values() if w == addr]
            self.events.append({"time": _iso(now), "worker": addr, "event": "lost", "jobs": jobs})
            fate = (
                f"its task {', '.join(jobs)} is requeued by Dask" if jobs else "it ran no task of this sweep"
            )
            self.notify(f"worker {addr} lost; {fate}")
            for future, (task, w, entry) in list(self.running.items()):
                if w == addr:
                    self.running[future] = (task, None, entry)
        for addr in sorted(alive - self.workers):
            if self.workers or self.events:
                self.events.append({"time": _iso(now), "worker": addr, "event": "joined", "jobs": []})
                self.notify(f"worker {addr} joined")
        self.workers = alive
        if not alive and self.queued() and not self._waiting_said:
            self._waiting_said = True
            self.notify("no worker is connected to the scheduler; waiting for one to join")

    def _hand_out(self) -> None:
        if not self.queued():
            return
        # Where the tasks of a lost worker went: the scheduler knows.
        if any(w is None for _, w, _ in self.running.values()):
            where = {key: addr for addr, keys in self.client.processing().items() for key in keys}
            for future, (task, w, entry) in list(self.running.items()):
                if w is None and future.key in where:
                    self.running[future] = (task, where[future.key], entry)
        busy = {w for _, w, _ in self.running.values()}
        free = sorted(self.workers - busy)[: max(0, len(self.workers) - len(self.running))]
        for addr in free:
            with self._lock:
                task = None
                while self._heap:
                    candidate = heapq.heappop(self._heap)
                    if not candidate.cancelled():
                        task = candidate
                        break
            if task is None:
                return
            future = self.client.submit(
                task.fn, *task.args, key=f"{task.name}-{self._tag}-{task.sort[1]}", workers=[addr],
                allow_other_workers=True, pure=False, retries=0,
            )  # fmt: skip
            entry = {"name": task.name, "kind": task.kind, "worker": addr, "sent": time.time(), "done": None}
            self.log.append(entry)
            self.running[future] = (task, addr, entry)


class _DispatchExecutor(concurrent.futures.Executor):
    """A ``concurrent.futures`` executor whose tasks wait in a :class:`_Dispatcher`.

    Given to :func:`rkcore.datasets.make_dataset` (from a thread of the client), so that the
    reference chunks of a dataset run on the workers, one per free worker, at ``priority``.
    """

    def __init__(self, dispatcher: _Dispatcher, name: str, priority: float, numba_threads: Any) -> None:
        self.dispatcher, self.name, self.priority, self.threads = dispatcher, name, priority, numba_threads
        self.count = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future:
        if kwargs:
            raise TypeError("keyword arguments are not supported")
        result: concurrent.futures.Future = concurrent.futures.Future()
        self.count += 1

        def on_done(future: Any) -> None:
            if result.done():
                return
            try:
                result.set_result(future.result())
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting make_dataset
                result.set_exception(exc)

        self.dispatcher.add(f"references-{self.name}", _call_chunk, (fn, args, self.threads), self.priority,
                            on_done, kind="references", cancelled=result.cancelled)  # fmt: skip
        return result


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
    timeline: bool = True,
) -> SweepResult:
    """Run every (profile, seed) as its own training run on Dask distributed.

    Parameters
    ----------
    profiles : sequence of Profile
        Resolved profiles, each trained once per seed.
    seeds : sequence of int or None
        Training seeds; ``None`` keeps each profile's own seed.
    runs_dir : path
        Where the run folders go (``<profile>-<seed>-<short hash>``), and the timeline.
    scheduler : str, optional
        Address of an existing Dask scheduler; default: an embedded ``LocalCluster``.
    n_workers : int, optional
        Worker processes of the embedded cluster; default ``min(jobs, cores)``.
    smoke : bool
        Tiny budget for every run (:meth:`Profile.smoke`).
    progress : bool
        Live table of queued / running / done / failed runs, lost workers and warnings.
    device : str
        Passed to :func:`rkml.train.train`.
    console : rich.console.Console, optional
        Where progress goes (default: stderr).
    timeline : bool
        Write ``<runs_dir>/.sweeps/sweep-<UTC time>.json`` (:func:`write_timeline`) when a job ran.

    Returns
    -------
    SweepResult
        One :class:`RunOutcome` per job; failures carry a one-line message.

    Raises
    ------
    RKInputError
        Bad input (see :func:`plan_sweep`), or no scheduler answering at ``scheduler``.
    """
    start, started_at = time.perf_counter(), time.time()
    jobs = plan_sweep(profiles, seeds, runs_dir, smoke=smoke)
    outcomes = {j.label: RunOutcome(j.label, j.run_dir, "skipped", "already complete") for j in jobs}
    to_run = [j for j in jobs if j.action != "skip"]
    board = _Board(jobs, progress, console)
    n_used, events, log, references = 0, [], [], []
    if to_run:
        with _client(scheduler, len(to_run), n_workers) as (client, threads), board:
            n_used = len(threads) if isinstance(threads, dict) else len(_workers(client))
            topic = f"rkml-sweep-{uuid.uuid4().hex}"
            client.subscribe_topic(topic, board.on_event)
            dispatcher = _Dispatcher(client, board.message)
            references = _queue_jobs(dispatcher, to_run, threads, topic, device, board, outcomes)
            dispatcher.run(lambda: all(r["state"] == "finished" for r in references))
            n_used = max(n_used, len(dispatcher.workers))
            events, log = dispatcher.events, dispatcher.log
    else:
        with board:
            pass
    ordered = tuple(outcomes[j.label] for j in jobs)
    wall = time.perf_counter() - start
    result = SweepResult(ordered, wall, n_used, scheduler or "local", events=tuple(events))
    if to_run and timeline:
        record = _timeline(result, started_at, references, log)
        path = write_timeline(record, runs_dir)
        result = dataclasses.replace(result, timeline=record, timeline_path=path)
    return result


def _queue_jobs(
    dispatcher: _Dispatcher,
    jobs: Sequence[SweepJob],
    threads: Any,
    topic: str,
    device: str,
    board: _Board,
    outcomes: dict[str, RunOutcome],
) -> list[dict[str, Any]]:
    """Queue every job: after its dataset (built by a client thread, solves on the workers).

    Returns one record per distinct dataset (``spec``, ``profiles``, ``start``, ``end``,
    ``chunks``, ``state``); the dispatcher is finished when every one is ``"finished"``.
    """
    by_spec: dict[str, tuple[Any, list[SweepJob]]] = {}
    for job in jobs:
        try:
            spec = job.profile.dataset_spec()
        except RKInputError:
            spec = None
        key = spec.hash() if spec is not None else f"none-{job.label}"
        by_spec.setdefault(key, (spec, []))[1].append(job)
    records = []
    for key, (spec, group) in sorted(
        by_spec.items(), key=lambda kv: -max(estimate_cost(j.profile) for j in kv[1][1])
    ):
        record = {"spec": key[:16], "profiles": sorted({j.profile.name for j in group}), "start": None,
                  "end": None, "chunks": 0, "from_cache": None, "state": "building"}  # fmt: skip
        records.append(record)
        for job in group:
            board.set_state(job.label, "waiting", "for references")
        builder = threading.Thread(
            target=_build_then_queue,
            args=(dispatcher, spec, group, record, threads, topic, device, board, outcomes),
            name=f"rkml-sweep-references-{key[:8]}",
            daemon=True,
        )
        builder.start()
    return records


def _build_then_queue(
    dispatcher: _Dispatcher,
    spec: Any,
    group: Sequence[SweepJob],
    record: dict[str, Any],
    threads: Any,
    topic: str,
    device: str,
    board: _Board,
    outcomes: dict[str, RunOutcome],
) -> None:
    """(A client thread.)  Build ``spec``'s dataset with its solves on the workers, then queue its jobs.

    A dataset that fails to build here is left to each job, which then builds it on its worker
    or fails with that message.
    """
    from rkcore.datasets import cache_path, make_dataset

    queued: set[str] = set()
    try:
        blob = None
        top = max(estimate_cost(j.profile) for j in group)
        record["start"] = _iso(time.time())
        if spec is not None:
            name = record["spec"][:8]
            executor = _DispatchExecutor(dispatcher, name, top + _reference_cost(group[0].profile), threads)
            try:
                dataset = make_dataset(spec, progress=False, executor=executor)
                record["from_cache"] = dataset.from_cache
                blob = cache_path(spec).read_bytes()
            except Exception as exc:  # noqa: BLE001 - each job meets it again and reports it
                board.message(
                    f"references for {', '.join(record['profiles'])}: {_one_line(exc)}; left to the runs"
                )
            record["chunks"] = executor.count
            if record["chunks"]:
                board.message(
                    f"references for {', '.join(record['profiles'])} ready ({record['chunks']} chunk tasks)"
                )
        record["end"] = _iso(time.time())

        for job in group:
            board.set_state(job.label, "queued", "resume" if job.action == "resume" else "")

            def on_done(future: Any, job: SweepJob = job) -> None:
                outcomes[job.label] = _collect(future, job)
                board.finish(outcomes[job.label])

            args = (job, threads, topic, device, blob)
            dispatcher.add(job.label, _run_job, args, estimate_cost(job.profile), on_done)
            queued.add(job.label)
    except BaseException as exc:  # noqa: BLE001 - never leave the sweep waiting for this thread
        for job in group:
            if job.label not in queued:
                outcomes[job.label] = RunOutcome(job.label, job.run_dir, "failed", _one_line(exc))
                board.finish(outcomes[job.label])
    finally:
        record["state"] = "finished"


@contextlib.contextmanager
def _client(scheduler: str | None, n_jobs: int, n_workers: int | None) -> Iterator[tuple[Any, Any]]:
    """A Dask client and the numba threads per task (a count, or per worker address).

    Without ``scheduler``: an embedded ``LocalCluster`` of one-thread worker processes,
    closed on exit.  With it: the existing cluster, whose hosts' cores are shared out; an
    address where no scheduler answers within :data:`CONNECT_TIMEOUT_S` is an RKInputError.
    """
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError, ValueError) as exc:
            raise RKInputError(
                f"no Dask scheduler answers at {scheduler} within {CONNECT_TIMEOUT_S:g} s "
                f"({' '.join(str(exc).split())}); start one with 'dask scheduler' and workers with "
                f"'dask worker {scheduler}', or omit --scheduler for a local cluster"
            ) from None
        with client:
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


def _collect(future: Any, job: SweepJob) -> RunOutcome:
    """The job's outcome; a worker that died or a task that could not run becomes ``failed``."""
    try:
        return future.result()
    except Exception as exc:  # KilledWorker, CancelledError, unpicklable results...
        return RunOutcome(job.label, job.run_dir, "failed", _one_line(exc), job.action == "resume")


# ----------------------------------------------------------------- the timeline


def _timeline(
    result: SweepResult, started_at: float, references: list[dict[str, Any]], log: list[dict[str, Any]]
) -> dict[str, Any]:
    runs_ = [
        {
            "label": o.label,
            "status": o.status,
            "worker": o.worker,
            "start": _iso(o.start),
            "end": _iso(o.end),
            "wall_s": None if o.wall_s is None else round(o.wall_s, 3),
            "message": o.message,
            "warnings": list(o.warnings),
        }  # fmt: skip
        for o in result.outcomes
    ]
    busy: dict[str, float] = {}
    for entry in log:
        if entry["worker"] and entry["done"]:
            busy[entry["worker"]] = busy.get(entry["worker"], 0.0) + entry["done"] - entry["sent"]
    return {
        "format": 1,
        "start": _iso(started_at),
        "wall_s": round(result.wall_s, 3),
        "scheduler": result.scheduler,
        "n_workers": result.n_workers,
        "runs": runs_,
        "references": [{k: v for k, v in r.items() if k != "state"} for r in references],
        "worker_busy_s": {w: round(s, 3) for w, s in sorted(busy.items())},
        "events": list(result.events),
    }


def write_timeline(record: dict[str, Any], runs_dir: str | os.PathLike) -> Path:
    """Write ``record`` as ``<runs_dir>/.sweeps/sweep-<UTC time>.json``, atomically, never overwriting.

    The folder is hidden so that ``rkml compare runs/*`` does not meet it.  The file appears
    whole or not at all (written beside, then hard-linked into place, which fails if the name
    exists; a suffix ``-1``, ``-2``, ... is added then).
    """
    from rkcore.fileio import atomic_write_json

    root = Path(runs_dir) / ".sweeps"
    root.mkdir(parents=True, exist_ok=True)
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    tmp = root / f".sweep-{stamp}-{uuid.uuid4().hex[:8]}.tmp"
    atomic_write_json(tmp, record)
    try:
        for n in itertools.count():
            path = root / (f"sweep-{stamp}.json" if n == 0 else f"sweep-{stamp}-{n}.json")
            try:
                os.link(tmp, path)
                return path
            except FileExistsError:
                continue
    finally:
        tmp.unlink(missing_ok=True)
    raise AssertionError("unreachable")  # pragma: no cover


def timeline_lines(record: dict[str, Any]) -> list[str]:
    """The timeline as plain lines: per run its worker and start / end in seconds after the sweep began."""
    t0 = _dt.datetime.fromisoformat(record["start"])

    def rel(stamp: str | None) -> str:
        if stamp is None:
            return "     -"
        return f"{(_dt.datetime.fromisoformat(stamp) - t0).total_seconds():6.1f}"

    lines = []
    for r in record["references"]:
        if r["chunks"]:
            names = ", ".join(r["profiles"])
            lines.append(
                f"{rel(r['start'])} s -> {rel(r['end'])} s  references ({names}): {r['chunks']} chunk tasks"
            )
    for r in sorted(record["runs"], key=lambda r: r["start"] or "~"):
        lines.append(
            f"{rel(r['start'])} s -> {rel(r['end'])} s  {r['label']} on {r['worker'] or '-'}: {r['status']}"
        )
    for e in record["events"]:
        lines.append(f"{rel(e['time'])} s  worker {e['worker']} {e['event']}")
    return lines


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
        self._update(msg["label"], msg["state"], None, f"on {msg['worker']}" if msg.get("worker") else None)

    def set_state(self, label: str, state: str, note: str) -> None:
        """A job that waits for its dataset (``"waiting"``) or is queued for a worker."""
        self._update(label, state, None, note)

    def message(self, text: str) -> None:
        """A line above the table (or among the plain lines): lost workers, warnings, references."""
        if not self.enabled:
            return
        if self._live is not None:
            self._live.console.print(text, markup=False, highlight=False, soft_wrap=True)
        else:
            self._line(f"sweep: {text}")

    def finish(self, outcome: RunOutcome) -> None:
        self._update(outcome.label, outcome.status, outcome)
        for text in outcome.warnings:
            self.message(f"{outcome.label}: warning: {text}")

    def _update(self, label: str, state: str, outcome: RunOutcome | None, note: str | None = None) -> None:
        with self._lock:
            row = self.rows.get(label)
            if (
                row is None
                or row["state"] in ("done", "failed")
                or (row["state"], note) == (state, row["note"])
            ):
                return
            row["state"] = state
            if note is not None:
                row["note"] = note
            if state == "running":
                row["t0"] = time.perf_counter()
            if outcome is not None:
                row["wall"] = outcome.wall_s
                row["note"] = outcome.message or ("resumed" if outcome.resumed else "")
                if outcome.worker:
                    row["note"] = f"{row['note']} (on {outcome.worker})".lstrip()
        if self.enabled and self._live is None:
            if outcome is not None:
                extra = f" ({outcome.message})" if outcome.message else ""
            else:
                extra = f" {note}" if note else ""
            wall = f" in {outcome.wall_s:.1f} s" if outcome is not None and outcome.wall_s else ""
            self._line(f"sweep: {label}: {state}{wall}{extra}")

    def _line(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def render(self) -> Any:
        from rich.markup import escape
        from rich.table import Table

        styles = {
            "queued": "dim",
            "waiting": "yellow",
            "running": "cyan",
            "done": "green",
            "failed": "bold red",
            "skipped": "dim",
        }
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
