"""Stopping a run (Ctrl-C, SIGTERM), a sweep job asking for CUDA without it, progress in a log.

The signal tests run the real ``rkml train`` in a fresh interpreter and signal it at a known
point: a wrapper makes one function of :mod:`rkml.train` print ``PAUSED`` on stderr and sleep
on its n-th call, without changing what it computes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

import pytest
from typer.testing import CliRunner

torch = pytest.importorskip("torch")

import rkml.train as train_module  # noqa: E402
from cli.rkml_app import app  # noqa: E402
from rkml import runs  # noqa: E402
from rkml.errors import RunInterrupted  # noqa: E402
from rkml.interrupts import raise_on_sigterm  # noqa: E402
from rkml.profile import resolve_profile  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PROFILE = ("--profile", "efficiency-v2", "--smoke", "--device", "cpu")

WRAPPER = """
import signal, sys, time

# As in an interactive shell, whatever the test runner's own signal dispositions are.
signal.signal(signal.SIGINT, signal.default_int_handler)
signal.signal(signal.SIGTERM, signal.SIG_DFL)

import rkml.train

name, at = sys.argv[1], int(sys.argv[2])
if name != "-":
    real = getattr(rkml.train, name)
    calls = [0]

    def paused(*args, **kwargs):
        calls[0] += 1
        if calls[0] == at:
            print("PAUSED", file=sys.stderr, flush=True)
            time.sleep(60)
        return real(*args, **kwargs)

    setattr(rkml.train, name, paused)

from cli.rkml_app import app

app(["train", *sys.argv[3:]], prog_name="rkml")
"""


def _env(cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["RKCORE_CACHE_DIR"] = str(cache)
    env.pop("COLUMNS", None)
    return env


def _rkml_train(cache: Path, runs_dir: Path, *args: str, pause: tuple[str, int] = ("-", 0), send=None):
    """Run ``rkml train`` with stderr piped (not a terminal); ``send`` the signal once it is PAUSED.

    Returns ``(exit code, stdout, stderr)``.
    """
    pause_args = [pause[0], str(pause[1])]
    command = [sys.executable, "-c", WRAPPER, *pause_args, *PROFILE, "--runs-dir", str(runs_dir), *args]
    proc = subprocess.Popen(
        command, cwd=REPO, env=_env(cache), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    seen = []
    if send is not None:
        for line in proc.stderr:
            seen.append(line)
            if line.strip() == "PAUSED":
                proc.send_signal(send)
                break
    try:
        out, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    return proc.returncode, out, "".join(seen) + err


def _run_dir(runs_dir: Path) -> Path:
    return runs.default_run_dir(resolve_profile("efficiency-v2", smoke=True), runs_dir)


def _coefficients(path: Path) -> dict:
    data = json.loads(path.read_text())
    return {key: data[key] for key in ("A", "b", "c")}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A dataset cache of the module's own, empty at first: the first run builds its references."""
    return tmp_path_factory.mktemp("dataset-cache")


@pytest.fixture(scope="module")
def whole(tmp_path_factory, cache):
    """An uninterrupted ``rkml train`` whose stderr goes to a pipe, as in ``> out.log 2>&1``."""
    runs_dir = tmp_path_factory.mktemp("whole")
    code, out, err = _rkml_train(cache, runs_dir)
    assert code == 0, err
    return _run_dir(runs_dir), err


# --------------------------------------------------------------------------- progress in a log


def test_progress_in_a_log_is_plain_lines(whole):
    _, err = whole
    assert "\r" not in err
    lines = err.splitlines()
    assert len(lines) <= 50, err
    assert any(line.startswith("references: 0/") for line in lines), err  # the references were built
    assert any(line.startswith("references: ") and "(100%)" in line for line in lines), err
    final = [line for line in lines if line.startswith("efficiency-v2: 2/2 units (100%)")]
    assert len(final) == 1 and "best=" in final[0] and "order=4" in final[0], err


# --------------------------------------------------------------------------- signals


def test_sigterm_mid_run_saves_a_checkpoint_and_resume_gives_the_uninterrupted_tableau(
    whole, cache, tmp_path
):
    whole_dir, _ = whole
    # Paused as the first refinement starts: the explored elite is the state the checkpoint must hold.
    code, _, err = _rkml_train(cache, tmp_path, pause=("refine_next", 1), send=signal.SIGTERM)
    assert code == 143, err
    run_dir = _run_dir(tmp_path)
    last = err.strip().splitlines()[-1]
    assert last == f"interrupted: checkpoint in {run_dir}; continue with --resume"
    manifest = runs.read_manifest(run_dir)
    assert (manifest["status"], manifest["signal"], manifest["resumable"]) == ("interrupted", "SIGTERM", True)
    assert not (run_dir / "tableau.json").exists()
    state = runs.load_checkpoint(run_dir)
    (search,) = state["searches"]
    assert search["elite"] is not None and search["refined"] == 0

    code, out, err = _rkml_train(cache, tmp_path, "--resume")
    assert code == 0, err
    assert runs.read_manifest(run_dir)["status"] == "complete"
    assert "efficiency-v2: 1/2 units (50%)" in err  # the progress resumed where the run stopped
    assert _coefficients(run_dir / "tableau.json") == _coefficients(whole_dir / "tableau.json")


def test_ctrl_c_before_the_first_checkpoint_says_nothing_was_saved(whole, cache, tmp_path, monkeypatch):
    code, _, err = _rkml_train(cache, tmp_path, pause=("make_dataset", 1), send=signal.SIGINT)
    assert code == 130, err
    run_dir = _run_dir(tmp_path)
    last = err.strip().splitlines()[-1]
    assert last.startswith("interrupted: before the first checkpoint, nothing was saved")
    assert "run the same command again (without --resume) to start afresh" in last
    manifest = runs.read_manifest(run_dir)
    assert (manifest["status"], manifest["signal"], manifest["resumable"]) == ("interrupted", "SIGINT", False)
    assert sorted(p.name for p in run_dir.iterdir()) == ["manifest.json"]

    runner = CliRunner()
    args = ["train", *PROFILE, "--runs-dir", str(tmp_path)]
    result = runner.invoke(app, [*args, "--resume"])
    assert result.exit_code == 1
    assert "nothing to resume; run again without --resume to start afresh" in result.stderr

    # The same command as before starts the run afresh, without --force.
    calls = []
    monkeypatch.setattr(
        train_module,
        "train",
        lambda *a, **k: calls.append((a, k)) or types.SimpleNamespace(summary="headline"),
    )
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert calls[0][0][1] == run_dir and calls[0][1]["resume"] is False
    assert not any(run_dir.iterdir())


def test_interrupt_during_set_up_is_recorded_and_the_sigterm_handler_restored(tmp_path, monkeypatch):
    def custom(signum, frame):  # pragma: no cover - never called
        pass

    seen = {}

    def interrupted(*args, **kwargs):
        seen["handler"] = signal.getsignal(signal.SIGTERM)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, custom)
    try:
        monkeypatch.setattr(train_module, "make_dataset", interrupted)
        profile = resolve_profile("efficiency-v2", smoke=True)
        with pytest.raises(KeyboardInterrupt):
            train_module.train(profile, tmp_path / "run", device="cpu", progress=False)
        assert seen["handler"] is not custom
        assert signal.getsignal(signal.SIGTERM) is custom
    finally:
        signal.signal(signal.SIGTERM, previous)
    manifest = runs.read_manifest(tmp_path / "run")
    assert (manifest["status"], manifest["signal"], manifest["resumable"]) == ("interrupted", "SIGINT", False)
    assert runs.interrupted_before_checkpoint(tmp_path / "run")
    assert runs.prepare_run_dir(tmp_path / "run") == tmp_path / "run" and not any(
        (tmp_path / "run").iterdir()
    )


def test_sigterm_raises_run_interrupted_while_installed():
    before = signal.getsignal(signal.SIGTERM)
    restore = raise_on_sigterm()
    try:
        with pytest.raises(RunInterrupted) as caught:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler runs at the latest when the sleep is interrupted
        assert (caught.value.signal_name, caught.value.exit_code) == ("SIGTERM", 143)
        assert isinstance(caught.value, KeyboardInterrupt)
        assert signal.getsignal(signal.SIGTERM) is before  # a second SIGTERM acts as before
    finally:
        restore()
    assert signal.getsignal(signal.SIGTERM) is before


def test_no_handler_is_installed_outside_the_main_thread():
    """A Dask worker runs tasks in threads, where signal.signal would raise ValueError."""
    before = signal.getsignal(signal.SIGTERM)
    outcome = {}

    def task():
        try:
            restore = raise_on_sigterm()
            outcome["during"] = signal.getsignal(signal.SIGTERM)
            restore()
        except Exception as exc:  # pragma: no cover - the failure being tested for
            outcome["error"] = exc

    thread = threading.Thread(target=task)
    thread.start()
    thread.join()
    assert "error" not in outcome and outcome["during"] is before
