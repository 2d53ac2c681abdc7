"""Run folders: where a training run writes its manifest, checkpoint and results.

A run folder is ``<root>/<profile name>-<training seed>-<short profile hash>/``
(:func:`default_run_dir`), so two different profiles can never share one.  An existing run
folder is never overwritten: :func:`prepare_run_dir` refuses unless the caller asks to
``resume`` (a checkpoint must be there) or to ``force`` a fresh start (only a folder that
really is a run -- it holds ``manifest.json`` -- is ever deleted).  The one exception is a run
interrupted before its first checkpoint: it holds nothing but its manifest, so running it
again starts afresh without ``force``.

Every file is written atomically (:mod:`rkcore.fileio`), so a killed run leaves either the
previous version of a file or the new one, never half of one.  torch is imported only
inside the checkpoint helpers.

One writer per run folder: :func:`run_lock` holds ``<root>/.<run name>.lock`` (next to the
folder, so that ``--force`` deleting the folder cannot delete the lock, and hidden from
``runs/*``) for as long as a run prepares and writes its folder.  A second writer is refused
with :class:`rkml.errors.RunLockedError` naming the owner's host and process id.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import io
import json
import os
import platform
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

from rkcore.errors import RKInputError
from rkcore.fileio import atomic_write_bytes, atomic_write_json

from .errors import RunExistsError, RunLockedError
from .profile import Profile

__all__ = [
    "CHECKPOINT_NAME",
    "MANIFEST_NAME",
    "RUN_STATUSES",
    "default_run_dir",
    "git_commit",
    "has_checkpoint",
    "interrupted_before_checkpoint",
    "is_complete",
    "is_run_dir",
    "list_runs",
    "load_checkpoint",
    "lock_path",
    "run_lock",
    "now_iso",
    "prepare_run_dir",
    "read_manifest",
    "save_checkpoint",
    "update_manifest",
    "versions",
    "write_manifest",
]

MANIFEST_NAME = "manifest.json"
CHECKPOINT_NAME = "checkpoint.pt"
#: Values of a manifest's ``status``: ``interrupted`` = stopped by Ctrl-C or SIGTERM (the
#: manifest's ``resumable`` says whether a checkpoint was saved), ``rejected`` = finished
#: without a valid result (:class:`rkml.errors.TrainingRejected`).
RUN_STATUSES = ("running", "interrupted", "failed", "rejected", "complete")

_MANIFEST_CORE_KEYS = (
    "profile", "profile_hash", "name", "seed", "overrides", "families", "versions", "git_commit"
)


def default_run_dir(profile: Profile, root: str | os.PathLike = "runs") -> Path:
    """``root / "<name>-<seed>-<short hash>"`` for ``profile``."""
    return Path(root) / f"{profile.name}-{profile.training.seed}-{profile.short_hash()}"


def is_run_dir(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a run folder (a directory holding ``manifest.json``)."""
    return (Path(path) / MANIFEST_NAME).is_file()


def has_checkpoint(run_dir: str | os.PathLike) -> bool:
    """Whether ``run_dir`` holds a checkpoint to resume from."""
    return (Path(run_dir) / CHECKPOINT_NAME).is_file()


def interrupted_before_checkpoint(run_dir: str | os.PathLike) -> bool:
    """Whether ``run_dir`` is a run stopped (Ctrl-C, SIGTERM) before it saved any checkpoint.

    Such a folder holds only its manifest (``status: interrupted``); a run that is still going,
    or died without saying so (``status: running``), is never taken for one.
    """
    try:
        status = read_manifest(run_dir).get("status")
    except RKInputError:
        return False
    return status == "interrupted" and not has_checkpoint(run_dir)


def prepare_run_dir(path: str | os.PathLike, *, resume: bool = False, force: bool = False) -> Path:
    """Make ``path`` ready for a run, never overwriting an existing run by accident.

    * absent or empty folder: created (with ``resume``: error, there is nothing to resume);
    * a run folder (holds ``manifest.json``): ``force`` deletes and recreates it, ``resume``
      keeps it (a checkpoint must be there), neither flag: :class:`RunExistsError` -- except for
      a run interrupted before its first checkpoint (:func:`interrupted_before_checkpoint`),
      which holds nothing to keep and is recreated;
    * anything else (a file, a non-empty folder that is not a run): error, never deleted.

    Returns
    -------
    Path
        The run folder (exists on return).

    Raises
    ------
    RunExistsError
        The folder is an existing run and neither flag was given.
    RKInputError
        ``resume`` without a checkpoint, both flags, or a non-empty folder that is not a run.
    """
    path = Path(path)
    if resume and force:
        raise RKInputError("--resume and --force exclude each other; pass one of them")
    if path.exists() and not path.is_dir():
        raise RKInputError(f"{path} exists and is not a folder; choose another --runs-dir")
    empty = path.is_dir() and not any(path.iterdir())
    if not path.exists() or empty:
        if resume:
            raise RKInputError(f"{path} has no checkpoint to resume; run without --resume")
        path.mkdir(parents=True, exist_ok=True)
        return path
    if not is_run_dir(path):
        raise RKInputError(
            f"{path} exists and is not a run folder (no {MANIFEST_NAME}); refusing to touch it, "
            "choose another --runs-dir or remove it yourself"
        )
    if force:
        shutil.rmtree(path)
        path.mkdir(parents=True)
        return path
    if resume:
        if interrupted_before_checkpoint(path):
            raise RKInputError(
                f"{path} was interrupted before its first checkpoint, so there is nothing to resume; "
                "run again without --resume to start afresh"
            )
        if not has_checkpoint(path):
            raise RKInputError(f"{path} has no checkpoint to resume; pass --force to start afresh")
        return path
    if interrupted_before_checkpoint(path):
        shutil.rmtree(path)
        path.mkdir(parents=True)
        return path
    if is_complete(path):
        raise RunExistsError(f"{path} is a complete run; pass --force to start afresh")
    if has_checkpoint(path):
        raise RunExistsError(f"{path} exists; pass --resume to continue or --force to start afresh")
    raise RunExistsError(f"{path} exists (no checkpoint to resume); pass --force to start afresh")


# --------------------------------------------------------------------------- one writer


def lock_path(run_dir: str | os.PathLike) -> Path:
    """The lock file of ``run_dir``: ``<parent>/.<name>.lock``."""
    run_dir = Path(run_dir)
    return run_dir.parent / f".{run_dir.name}.lock"


@contextlib.contextmanager
def run_lock(
    run_dir: str | os.PathLike,
    *,
    wait_s: float = 0.0,
    heartbeat_s: float = 5.0,
    stale_s: float = 60.0,
) -> Iterator[Path]:
    """Hold the lock of ``run_dir`` for the block: no other process writes the folder meanwhile.

    The lock file is created exclusively (``O_EXCL``) and holds the owner's ``host``, ``pid``,
    a random ``token`` and ``since`` (UTC); a thread touches it every ``heartbeat_s`` seconds.
    An existing lock is *stale*, and taken over, when its owner is a process of this host
    that no longer exists, or when it has not been touched for ``stale_s`` seconds (an owner on
    another host that died, e.g. a lost Dask worker; ``stale_s`` must exceed the clock skew
    between the hosts sharing the runs folder).  Otherwise this waits up to ``wait_s`` seconds
    for the owner to finish (a rescheduled sweep job whose first attempt is still winding
    down), then refuses.

    Parameters
    ----------
    run_dir : path
        The run folder (need not exist yet; its parent is created).
    wait_s : float
        How long to wait for a live owner; 0 refuses at once.
    heartbeat_s, stale_s : float
        Touch interval of a held lock, and the age after which an untouched lock is stale.

    Yields
    ------
    Path
        The lock file.

    Raises
    ------
    RunLockedError
        Another live process holds the lock (one line: who, since when, which file).
    """
    path = lock_path(run_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    owner = {"host": socket.gethostname(), "pid": os.getpid(), "token": uuid.uuid4().hex, "since": now_iso()}
    deadline = time.monotonic() + max(0.0, float(wait_s))
    while True:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _read_lock(path)
            if _stale(path, holder, stale_s):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                continue
            if time.monotonic() >= deadline:
                who = holder or {}
                raise RunLockedError(
                    f"{run_dir} is being written by process {who.get('pid', '?')} on "
                    f"{who.get('host', '?')} (since {who.get('since', '?')}; lock {path}); wait for it "
                    "to finish, or delete the lock if that process is gone"
                ) from None
            time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(owner, handle)
        break
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(path, owner["token"], heartbeat_s, stop), daemon=True)
    beat.start()
    try:
        yield path
    finally:
        stop.set()
        beat.join()
        if (_read_lock(path) or {}).get("token") == owner["token"]:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def _read_lock(path: Path) -> dict[str, Any] | None:
    """The lock's owner record; None when it is gone or not (yet) readable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _stale(path: Path, holder: dict[str, Any] | None, stale_s: float) -> bool:
    """Whether the lock at ``path`` belongs to nobody alive (see :func:`run_lock`)."""
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return False  # released meanwhile: the next O_EXCL attempt takes it
    if age > stale_s:
        return True
    if holder is None or holder.get("host") != socket.gethostname():
        return False  # being written right now, or another host's: only the heartbeat tells
    pid = holder.get("pid")
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError):
        return False
    return False


def _heartbeat(path: Path, token: str, every_s: float, stop: threading.Event) -> None:
    while not stop.wait(every_s):
        if (_read_lock(path) or {}).get("token") != token:
            return  # taken over (this process was frozen past stale_s): never touch theirs
        with contextlib.suppress(OSError):
            os.utime(path)


# --------------------------------------------------------------------------- manifest


def now_iso() -> str:
    """Current UTC time, ISO 8601 with seconds (for ``start_time`` / ``end_time``)."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def versions() -> dict[str, str | None]:
    """Versions of python, numpy, numba and torch (``None`` for a package that is absent).

    Read from the installed distributions' metadata, so torch is not imported.
    """
    out: dict[str, str | None] = {"python": platform.python_version()}
    for package in ("numpy", "numba", "torch"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = None
    return out


def git_commit() -> str | None:
    """``git rev-parse HEAD`` of the checkout holding this code, or ``None`` when unavailable."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and commit else None


def write_manifest(run_dir: str | os.PathLike, profile: Profile, extra: dict[str, Any] | None = None) -> Path:
    """Write ``run_dir/manifest.json`` atomically.

    Holds the full resolved profile (``profile``, loadable with ``Profile.from_dict``), its
    ``profile_hash``, ``name``, ``seed``, ``overrides``, ``families`` (where each dataset
    family came from and the hash of its definition, see
    :class:`rkcore.problems.sources.FamilySource`), ``versions`` and ``git_commit``, followed
    by ``extra`` (e.g. ``status``, ``start_time``, ``end_time``, ``device``).

    Raises
    ------
    ValueError
        ``extra`` repeats a core key, or holds a ``status`` not in :data:`RUN_STATUSES`.
    """
    extra = dict(extra or {})
    clash = sorted(set(extra) & set(_MANIFEST_CORE_KEYS))
    if clash:
        raise ValueError(f"write_manifest: extra must not set {clash}; they come from the profile")
    if "status" in extra and extra["status"] not in RUN_STATUSES:
        raise ValueError(f"write_manifest: status must be one of {RUN_STATUSES}, got {extra['status']!r}")
    manifest = {
        "name": profile.name,
        "seed": profile.training.seed,
        "profile_hash": profile.hash(),
        "overrides": list(profile.overrides),
        "profile": profile.to_dict(),
        "families": [source.to_dict() for source in profile.dataset_spec().sources],
        "versions": versions(),
        "git_commit": git_commit(),
        **extra,
    }
    return atomic_write_json(Path(run_dir) / MANIFEST_NAME, manifest)


def read_manifest(run_dir: str | os.PathLike) -> dict[str, Any]:
    """The parsed ``manifest.json`` of ``run_dir``.

    Raises
    ------
    RKInputError
        Missing, unreadable or truncated manifest (one line naming the folder).
    """
    path = Path(run_dir) / MANIFEST_NAME
    if not path.is_file():
        raise RKInputError(f"{run_dir} is not a run folder (no {MANIFEST_NAME})")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise RKInputError(f"{path}: cannot read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise RKInputError(f"{path}: not valid JSON (truncated?): {exc}") from None
    if not isinstance(data, dict):
        raise RKInputError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def update_manifest(run_dir: str | os.PathLike, **fields: Any) -> Path:
    """Set ``fields`` (e.g. ``status="complete", end_time=now_iso()``) in an existing manifest."""
    if "status" in fields and fields["status"] not in RUN_STATUSES:
        raise ValueError(f"update_manifest: status must be one of {RUN_STATUSES}, got {fields['status']!r}")
    clash = sorted(set(fields) & set(_MANIFEST_CORE_KEYS))
    if clash:
        raise ValueError(f"update_manifest: {clash} come from the profile; use write_manifest")
    manifest = read_manifest(run_dir)
    manifest.update(fields)
    return atomic_write_json(Path(run_dir) / MANIFEST_NAME, manifest)


def is_complete(run_dir: str | os.PathLike) -> bool:
    """Whether ``run_dir`` holds a run whose manifest says ``status == "complete"``."""
    try:
        return read_manifest(run_dir).get("status") == "complete"
    except RKInputError:
        return False


def list_runs(root: str | os.PathLike = "runs") -> tuple[Path, ...]:
    """Run folders directly under ``root`` (those holding a manifest), sorted by name."""
    root = Path(root)
    if not root.is_dir():
        return ()
    return tuple(sorted(p for p in root.iterdir() if p.is_dir() and is_run_dir(p)))


# --------------------------------------------------------------------------- checkpoints


def save_checkpoint(run_dir: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Write ``state`` to ``run_dir/checkpoint.pt`` atomically (``torch.save``).

    ``state`` may hold tensors, ``state_dict()`` results, Python scalars, strings, ``None``
    and lists / tuples / dicts of these (what ``torch.load(weights_only=True)`` reads back);
    store numpy arrays as tensors or lists.  A numpy ``Generator``'s
    ``bit_generator.state`` dict is fine.
    """
    import torch

    if not isinstance(state, dict):
        raise TypeError(f"save_checkpoint: state must be a dict, got {type(state).__name__}")
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return atomic_write_bytes(Path(run_dir) / CHECKPOINT_NAME, buffer.getvalue())


def load_checkpoint(run_dir: str | os.PathLike, *, map_location: Any = "cpu") -> dict[str, Any]:
    """Read the state saved by :func:`save_checkpoint` (tensors mapped to ``map_location``).

    Raises
    ------
    RKInputError
        No checkpoint, or one that cannot be read (one line naming the file).
    """
    import torch

    path = Path(run_dir) / CHECKPOINT_NAME
    if not path.is_file():
        raise RKInputError(f"{run_dir} has no checkpoint ({CHECKPOINT_NAME})")
    try:
        # weights_only: a checkpoint is data, never code, even when the folder came from elsewhere.
        state = torch.load(io.BytesIO(path.read_bytes()), map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises several unrelated types for a damaged file
        first_line = (str(exc).splitlines() or [""])[0]
        raise RKInputError(f"{path}: cannot load checkpoint: {type(exc).__name__}: {first_line}") from None
    if not isinstance(state, dict):
        raise RKInputError(f"{path}: checkpoint holds {type(state).__name__}, expected a dict")
    return state
