"""Run folders: never overwritten by accident, atomic manifest, checkpoint round trip."""

from __future__ import annotations

import json
import os
import platform
import re
import socket

import numpy as np
import pytest

from rkcore.errors import RKInputError
from rkml import runs
from rkml.errors import RunExistsError
from rkml.profile import Profile, load_profile


@pytest.fixture
def profile():
    return load_profile("efficiency-v2").with_seed(3)


def _make_run(path, profile, *, checkpoint=False, status="running"):
    path.mkdir(parents=True, exist_ok=True)
    runs.write_manifest(path, profile, {"status": status})
    if checkpoint:
        runs.save_checkpoint(path, {"epoch": 1})
    return path


def test_default_run_dir_names_profile_seed_and_hash(tmp_path, profile):
    path = runs.default_run_dir(profile, tmp_path)
    assert path == tmp_path / f"efficiency-v2-3-{profile.short_hash()}"
    assert runs.default_run_dir(load_profile("accuracy").with_seed(3), tmp_path) != path


def test_prepare_creates_a_new_folder(tmp_path):
    path = runs.prepare_run_dir(tmp_path / "runs" / "a")
    assert path.is_dir() and not any(path.iterdir())
    # An empty folder (e.g. a run killed before it wrote anything) is simply reused.
    assert runs.prepare_run_dir(path) == path


def test_existing_run_is_never_overwritten_without_a_flag(tmp_path, profile):
    path = _make_run(tmp_path / "r", profile, checkpoint=True)
    with pytest.raises(RunExistsError) as info:
        runs.prepare_run_dir(path)
    assert str(info.value) == f"{path} exists; pass --resume to continue or --force to start afresh"
    assert (path / runs.CHECKPOINT_NAME).is_file()


def test_existing_run_messages_fit_its_state(tmp_path, profile):
    no_ckpt = _make_run(tmp_path / "a", profile)
    with pytest.raises(RunExistsError, match="no checkpoint to resume.*--force"):
        runs.prepare_run_dir(no_ckpt)
    complete = _make_run(tmp_path / "b", profile, status="complete")
    with pytest.raises(RunExistsError, match="is a complete run; pass --force"):
        runs.prepare_run_dir(complete)


def test_force_recreates_a_run_folder(tmp_path, profile):
    path = _make_run(tmp_path / "r", profile, checkpoint=True)
    (path / "tableau.json").write_text("{}")
    assert runs.prepare_run_dir(path, force=True) == path
    assert path.is_dir() and not any(path.iterdir())


def test_force_refuses_a_folder_that_is_not_a_run(tmp_path):
    path = tmp_path / "precious"
    path.mkdir()
    (path / "thesis.tex").write_text("years of work")
    for kwargs in ({}, {"force": True}, {"resume": True}):
        with pytest.raises(RKInputError, match="not a run folder"):
            runs.prepare_run_dir(path, **kwargs)
    assert (path / "thesis.tex").read_text() == "years of work"
    file_path = tmp_path / "file"
    file_path.write_text("x")
    with pytest.raises(RKInputError, match="is not a folder"):
        runs.prepare_run_dir(file_path, force=True)


def test_resume_requires_a_checkpoint(tmp_path, profile):
    with pytest.raises(RKInputError, match="no checkpoint to resume; run without --resume"):
        runs.prepare_run_dir(tmp_path / "absent", resume=True)
    path = _make_run(tmp_path / "r", profile)
    with pytest.raises(RKInputError, match="no checkpoint to resume; pass --force"):
        runs.prepare_run_dir(path, resume=True)
    runs.save_checkpoint(path, {"epoch": 4})
    assert runs.prepare_run_dir(path, resume=True) == path
    assert runs.load_checkpoint(path) == {"epoch": 4}  # kept as it was


def test_a_run_interrupted_before_its_first_checkpoint_starts_afresh(tmp_path, profile):
    path = _make_run(tmp_path / "r", profile, status="interrupted")
    assert runs.interrupted_before_checkpoint(path)
    with pytest.raises(RKInputError, match="interrupted before its first checkpoint.*without --resume"):
        runs.prepare_run_dir(path, resume=True)
    assert runs.is_run_dir(path)  # the refusal leaves it as it was
    assert runs.prepare_run_dir(path) == path  # no --force needed: there was nothing to keep
    assert path.is_dir() and not any(path.iterdir())


def test_only_an_interrupted_run_without_checkpoint_counts_as_unsaved(tmp_path, profile):
    # "running" may be a run still going elsewhere; one with a checkpoint has work to keep.
    running = _make_run(tmp_path / "a", profile, status="running")
    saved = _make_run(tmp_path / "b", profile, status="interrupted", checkpoint=True)
    assert not runs.interrupted_before_checkpoint(running)
    assert not runs.interrupted_before_checkpoint(saved)
    assert not runs.interrupted_before_checkpoint(tmp_path / "absent")
    for path in (running, saved):
        with pytest.raises(RunExistsError):
            runs.prepare_run_dir(path)
        assert runs.is_run_dir(path)


def test_resume_and_force_exclude_each_other(tmp_path):
    with pytest.raises(RKInputError, match="exclude each other"):
        runs.prepare_run_dir(tmp_path / "x", resume=True, force=True)


def test_manifest_holds_the_resolved_profile(tmp_path, profile):
    p = profile.with_overrides(["training.generations=9"])
    runs.write_manifest(tmp_path, p, {"status": "running", "start_time": runs.now_iso(), "device": "cpu"})
    manifest = json.loads((tmp_path / runs.MANIFEST_NAME).read_text())
    assert Profile.from_dict(manifest["profile"]) == p
    assert manifest["profile_hash"] == p.hash()
    assert manifest["name"] == "efficiency-v2" and manifest["seed"] == 3
    assert manifest["overrides"] == ["--seed 3", "training.generations=9"]
    assert manifest["versions"]["python"] == platform.python_version()
    assert manifest["versions"]["numpy"] == np.__version__
    assert set(manifest["versions"]) == {"python", "numpy", "numba", "torch"}
    commit = manifest["git_commit"]
    assert commit is None or re.fullmatch(r"[0-9a-f]{40}", commit)
    assert manifest["status"] == "running" and manifest["device"] == "cpu"
    assert runs.read_manifest(tmp_path) == manifest


def test_manifest_write_is_atomic_and_leaves_no_temporaries(tmp_path, profile, monkeypatch):
    runs.write_manifest(tmp_path, profile, {"status": "running"})
    before = (tmp_path / runs.MANIFEST_NAME).read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        runs.write_manifest(tmp_path, profile.with_seed(8), {"status": "complete"})
    monkeypatch.undo()
    assert (tmp_path / runs.MANIFEST_NAME).read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [runs.MANIFEST_NAME]


def test_update_manifest_and_is_complete(tmp_path, profile):
    runs.write_manifest(tmp_path, profile, {"status": "running", "start_time": "t0"})
    assert not runs.is_complete(tmp_path)
    runs.update_manifest(tmp_path, status="complete", end_time="t1")
    manifest = runs.read_manifest(tmp_path)
    assert (manifest["status"], manifest["start_time"], manifest["end_time"]) == ("complete", "t0", "t1")
    assert runs.is_complete(tmp_path)


def test_manifest_rejects_bad_fields(tmp_path, profile):
    with pytest.raises(ValueError, match="status must be one of"):
        runs.write_manifest(tmp_path, profile, {"status": "done"})
    with pytest.raises(ValueError, match="must not set"):
        runs.write_manifest(tmp_path, profile, {"profile_hash": "x"})


def test_truncated_manifest_is_a_one_line_error(tmp_path, profile):
    runs.write_manifest(tmp_path, profile, {"status": "complete"})
    path = tmp_path / runs.MANIFEST_NAME
    path.write_text(path.read_text()[:40])
    with pytest.raises(RKInputError) as info:
        runs.read_manifest(tmp_path)
    assert "not valid JSON" in str(info.value) and "\n" not in str(info.value)
    assert not runs.is_complete(tmp_path)
    with pytest.raises(RKInputError, match="is not a run folder"):
        runs.read_manifest(tmp_path / "nothing")


def test_list_runs_finds_run_folders_only(tmp_path, profile):
    _make_run(tmp_path / "b", profile)
    _make_run(tmp_path / "a", profile, status="complete")
    (tmp_path / "not-a-run").mkdir()
    (tmp_path / "stray.txt").write_text("x")
    assert runs.list_runs(tmp_path) == (tmp_path / "a", tmp_path / "b")
    assert runs.list_runs(tmp_path / "missing") == ()


def test_checkpoint_round_trip(tmp_path, profile):
    torch = pytest.importorskip("torch")
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    model(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    rng = np.random.default_rng(11)
    state = {
        "epoch": 17,
        "profile": profile.to_dict(),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "torch_rng": torch.get_rng_state(),
        "numpy_rng": rng.bit_generator.state,
        "history": [0.5, 0.25],
        "best": None,
    }
    runs.save_checkpoint(tmp_path, state)
    assert runs.has_checkpoint(tmp_path)
    loaded = runs.load_checkpoint(tmp_path)
    assert loaded["epoch"] == 17 and loaded["history"] == [0.5, 0.25] and loaded["best"] is None
    assert Profile.from_dict(loaded["profile"]) == profile
    for key, value in state["model"].items():
        assert torch.equal(loaded["model"][key], value)
    assert torch.equal(loaded["torch_rng"], state["torch_rng"])
    restored = np.random.default_rng()
    restored.bit_generator.state = loaded["numpy_rng"]
    assert restored.random() == rng.random()
    fresh = torch.optim.Adam(model.parameters(), lr=0.1)
    fresh.load_state_dict(loaded["optimizer"])
    assert [p.name for p in tmp_path.iterdir()] == [runs.CHECKPOINT_NAME]


def test_damaged_checkpoint_is_a_one_line_error(tmp_path):
    pytest.importorskip("torch")
    with pytest.raises(RKInputError, match="has no checkpoint"):
        runs.load_checkpoint(tmp_path)
    (tmp_path / runs.CHECKPOINT_NAME).write_bytes(b"not a checkpoint")
    with pytest.raises(RKInputError) as info:
        runs.load_checkpoint(tmp_path)
    assert "cannot load checkpoint" in str(info.value) and "\n" not in str(info.value)


# --------------------------------------------------------------------------- one writer


def test_a_second_writer_is_refused_with_one_line(tmp_path):
    from rkml.errors import RunLockedError

    run_dir = tmp_path / "runs" / "a-0-abc"
    with runs.run_lock(run_dir) as lock:
        assert lock == tmp_path / "runs" / ".a-0-abc.lock" and lock.is_file()
        owner = json.loads(lock.read_text())
        assert owner["pid"] == os.getpid() and owner["host"] == socket.gethostname()
        with pytest.raises(RunLockedError) as caught:
            with runs.run_lock(run_dir):
                pytest.fail("two writers on one run folder")
        message = str(caught.value)
        assert "\n" not in message and f"process {os.getpid()}" in message and str(lock) in message
    assert not lock.exists()
    with runs.run_lock(run_dir):  # released: the next writer gets it
        pass


def test_the_cli_refuses_a_second_writer(tmp_path, profile):
    from typer.testing import CliRunner

    from cli.rkml_app import app

    run_dir = runs.default_run_dir(profile, tmp_path)
    with runs.run_lock(run_dir):
        result = CliRunner().invoke(
            app,
            ["train", "-p", "efficiency-v2", "--seed", "3", "--runs-dir", str(tmp_path), "--device", "cpu"],
        )
    assert result.exit_code == 1, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "is being written by process" in lines[0]
    assert not run_dir.exists()


def test_a_lock_of_a_dead_process_on_this_host_is_taken_over(tmp_path):
    import subprocess
    import sys

    run_dir = tmp_path / "r"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    runs.lock_path(run_dir).write_text(
        json.dumps({"host": socket.gethostname(), "pid": int(dead.stdout), "token": "x", "since": "then"})
    )
    with runs.run_lock(run_dir) as lock:
        assert json.loads(lock.read_text())["pid"] == os.getpid()


def test_an_untouched_lock_of_another_host_goes_stale_and_a_waiting_writer_takes_it(tmp_path):
    from rkml.errors import RunLockedError

    run_dir = tmp_path / "r"
    lock = runs.lock_path(run_dir)
    lock.write_text(json.dumps({"host": "elsewhere", "pid": 1, "token": "x", "since": "then"}))
    with pytest.raises(RunLockedError, match="process 1 on elsewhere"):
        with runs.run_lock(run_dir, stale_s=60.0):
            pass
    old = lock.stat().st_mtime - 120
    os.utime(lock, (old, old))
    with runs.run_lock(run_dir, stale_s=60.0):
        assert json.loads(lock.read_text())["pid"] == os.getpid()
