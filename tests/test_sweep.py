"""``rkml sweep``: planning, core sharing, a real LocalCluster of processes, the CLI.

The cluster test trains two smoke runs and one run that training rejects (8 stages asked
to reach order 6: no start point exists, ``rkml.train`` raises ``TrainingRejected``), then
re-runs the sweep to see a finished run skipped and an interrupted one resumed.
"""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console
from typer.testing import CliRunner

from cli.common import App
from cli.rkml_sweep import register
from rkcore.errors import RKInputError
from rkml import runs
from rkml.profile import load_profile, resolve_profile
from rkml.sweep import plan_sweep, share_cores, sweep

FAILING = ["stages.min=8", "stages.max=8", "stages.default=8", "objective.min_order=6"]


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    # Inherited by the worker processes, so they load the datasets the sweep prebuilds.
    monkeypatch.setenv("RKCORE_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "rkcore-cache"))


@pytest.mark.parametrize(
    "n_jobs, n_workers, cores, expected",
    [(5, None, 2, (2, 1)), (1, None, 2, (1, 2)), (5, 1, 2, (1, 2)), (3, None, 16, (3, 5)), (4, 8, 4, (8, 1))],
)
def test_share_cores(n_jobs, n_workers, cores, expected):
    workers, threads = share_cores(n_jobs, n_workers, cores)
    assert (workers, threads) == expected
    assert workers * threads <= max(cores, workers)


def test_share_cores_rejects_zero_workers():
    with pytest.raises(RKInputError, match="--workers"):
        share_cores(3, 0, 2)


def test_plan_matches_rkml_train_folders(tmp_path):
    profiles = [load_profile("balanced"), load_profile("stability")]
    jobs = plan_sweep(profiles, [0, 3], tmp_path, smoke=True)
    expected = [
        runs.default_run_dir(resolve_profile(name, seed=seed, smoke=True), tmp_path.resolve())
        for name in ("balanced", "stability")
        for seed in (0, 3)
    ]
    assert [j.run_dir for j in jobs] == expected
    assert [j.profile.hash() for j in jobs] == [
        resolve_profile(n, seed=s, smoke=True).hash() for n in ("balanced", "stability") for s in (0, 3)
    ]
    assert {j.action for j in jobs} == {"start"}


def test_plan_rejects_bad_input(tmp_path):
    balanced = load_profile("balanced")
    with pytest.raises(RKInputError, match="appears twice"):
        plan_sweep([balanced, balanced], [0], tmp_path)
    with pytest.raises(RKInputError, match="the seed list is empty"):
        plan_sweep([balanced], [], tmp_path)
    with pytest.raises(RKInputError, match="no profile given"):
        plan_sweep([], None, tmp_path)
    in_the_way = runs.default_run_dir(balanced, tmp_path)
    in_the_way.mkdir(parents=True)
    (in_the_way / "notes.txt").write_text("mine")
    with pytest.raises(RKInputError, match="not a run folder"):
        plan_sweep([balanced], None, tmp_path)


def test_sweep_on_local_cluster(tmp_path):
    profiles = [
        # (balanced's smoke run, 4 stages on a dozen validation problems, finds nothing better than rk38.)
        load_profile("accuracy"),
        load_profile("efficiency-v2"),
        load_profile("balanced").with_overrides(FAILING),
    ]
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=200)
    result = sweep(profiles, [0], tmp_path, n_workers=2, smoke=True, console=console)
    status = [(o.label, o.status, o.message) for o in result.outcomes]
    done = [o for o in result.outcomes if o.status == "done"]
    failed = result.failed
    assert len(done) == 2 and len(failed) == 1, status
    assert "TrainingRejected" in failed[0].message and "\n" not in failed[0].message
    for o in done:
        manifest = runs.read_manifest(o.run_dir)
        assert manifest["status"] == "complete"
        assert manifest["sweep"]["numba_threads"] == 1 and o.numba_threads == 1
        assert (o.run_dir / "tableau.json").is_file() and (o.run_dir / "metrics.json").is_file()
        assert o.run_dir.name in {
            runs.default_run_dir(resolve_profile(n, seed=0, smoke=True)).name
            for n in ("accuracy", "efficiency-v2")
        }
    assert runs.read_manifest(failed[0].run_dir)["status"] == "rejected"
    log = out.getvalue()
    for state in ("queued", "running", "done", "failed"):
        assert f": {state}" in log
    # The timeline: every run's worker and wall-clock start / end, in runs/.sweeps/sweep-<UTC>.json.
    assert result.timeline_path.parent == tmp_path / ".sweeps"
    assert result.timeline_path.name.startswith("sweep-")
    timeline = json.loads(result.timeline_path.read_text())
    assert {r["label"] for r in timeline["runs"]} == {o.label for o in result.outcomes}
    for r in timeline["runs"]:
        assert r["worker"].startswith("tcp://") and r["start"] < r["end"], r
    assert all(o.worker and o.start < o.end for o in result.outcomes)

    # Re-run: one finished run is skipped, the other made to look interrupted is resumed, the
    # rejected one (no checkpoint) starts afresh and fails again.
    resumed = done[0].run_dir
    runs.update_manifest(resumed, status="interrupted")
    before = json.loads((resumed / "tableau.json").read_text())
    again = sweep(profiles, [0], tmp_path, n_workers=1, smoke=True, progress=False)
    by_dir = {o.run_dir: o for o in again.outcomes}
    assert by_dir[resumed].status == "done" and by_dir[resumed].resumed
    assert json.loads((resumed / "tableau.json").read_text())["A"] == before["A"]
    assert by_dir[done[1].run_dir].status == "skipped"
    assert by_dir[failed[0].run_dir].status == "failed"


# ----------------------------------------------------------------- CLI


@pytest.fixture
def app():
    app = App()
    register(app)
    return app


def test_cli_sweep_passes_resolved_profiles(tmp_path, app, monkeypatch):
    import rkml.sweep
    from rkml.sweep import SweepResult

    calls = []

    def fake(profiles, seeds, runs_dir, **kwargs):
        calls.append((profiles, seeds, runs_dir, kwargs))
        return SweepResult((), 0.0, 1, "local")

    monkeypatch.setattr(rkml.sweep, "sweep", fake)
    expected = [resolve_profile(n, overrides=["training.generations=7"]) for n in ("balanced", "stability")]
    common = ["--set", "training.generations=7", "--runs-dir", str(tmp_path), "--workers", "2", "--smoke"]
    # One call per spelling: comma lists, repeated options, and both mixed.
    for selection in (
        ["--profile", "balanced, stability", "--seed", "0,2"],
        ["-p", "balanced", "-p", "stability", "--seed", "0", "--seed", "2"],
        ["-p", "balanced,stability", "--seed", "0", "--seed", "2"],
    ):
        calls.clear()
        result = CliRunner().invoke(app, ["sweep", *selection, *common])
        assert result.exit_code == 0, result.output
        assert "deprecated" not in result.stderr
        assert calls == [
            (expected, [0, 2], tmp_path, {"scheduler": None, "n_workers": 2, "smoke": True, "device": "auto"})
        ]


def test_cli_sweep_deprecated_profiles_and_seeds_still_work(tmp_path, app, monkeypatch):
    import rkml.sweep
    from rkml.sweep import SweepResult

    calls = []

    def fake(*args, **kwargs):
        calls.append(args)
        return SweepResult((), 0.0, 1, "local")

    monkeypatch.setattr(rkml.sweep, "sweep", fake)
    args = ["sweep", "--profiles", "balanced,stability", "--seeds=0,2", "--runs-dir", str(tmp_path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert calls == [([resolve_profile("balanced"), resolve_profile("stability")], [0, 2], tmp_path)]
    assert result.stderr.splitlines() == [
        "warning: --profiles is deprecated and will be removed in the next release; use --profile",
        "warning: --seeds is deprecated and will be removed in the next release; use --seed",
    ]
    shown = " ".join(CliRunner().invoke(app, ["sweep", "--help"], env={"COLUMNS": "200"}).stdout.split())
    assert "--profile" in shown and "--profiles" not in shown and "--seeds" not in shown


def test_cli_sweep_with_a_failed_run_exits_3(tmp_path, app, monkeypatch):
    import rkml.sweep
    from rkml.sweep import RunOutcome, SweepResult

    failed = RunOutcome("balanced seed 0", tmp_path / "b", "failed", "TrainingRejected: no start point")
    monkeypatch.setattr(rkml.sweep, "sweep", lambda *a, **k: SweepResult((failed,), 1.0, 1, "local"))
    result = CliRunner().invoke(app, ["sweep", "-p", "balanced", "--runs-dir", str(tmp_path)])
    assert result.exit_code == 3, result.output
    assert result.stderr.strip() == "failed: balanced seed 0: TrainingRejected: no start point"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--profile", "balanced,nosuch"], "unknown profile 'nosuch'"),
        (["--profile", "balanced", "--seed", "0,x"], "--seed: 'x' is not an integer"),
        (["--profile", "balanced", "--seed", "-1"], "--seed: -1 is negative"),
        (["--profile", ","], "--profile is empty"),
        (["--profile", "balanced", "--set", "training.nosuch=1"], "training.nosuch"),
    ],
)
def test_cli_sweep_bad_input_before_any_work(tmp_path, app, monkeypatch, args, message):
    import rkml.sweep

    monkeypatch.setattr(rkml.sweep, "sweep", lambda *a, **k: pytest.fail("sweep must not start"))
    result = CliRunner().invoke(app, ["sweep", *args, "--runs-dir", str(tmp_path)])
    assert result.exit_code == 1 and message in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1


def test_threads_of_an_existing_cluster_share_each_hosts_cores():
    from distributed import Client, LocalCluster

    from rkml.sweep import _available_cores, _remote_threads

    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        threads = _remote_threads(client)
        addresses = set(client.scheduler_info()["workers"])
    assert set(threads) == addresses and len(addresses) == 2
    assert all(t == max(1, _available_cores() // 2) for t in threads.values())


# ----------------------------------------------------------------- scheduling, references, writers


def _dispatch(client, durations, notify=None):
    """Run ``timed_job`` for every ``{name: seconds}`` through the sweep's dispatcher."""
    from sweep_fakes import timed_job

    from rkml.sweep import _Dispatcher

    records = []
    dispatcher = _Dispatcher(client, notify)
    for name, seconds in durations.items():
        dispatcher.add(name, timed_job, (name, seconds), seconds, lambda f: records.append(f.result()))
    dispatcher.run(lambda: True)
    return records, dispatcher


def test_longest_job_first_and_no_worker_idles_while_work_is_queued():
    from distributed import Client, LocalCluster

    durations = {"a": 0.4, "b": 3.0, "c": 1.0, "d": 2.0, "e": 0.6, "f": 1.5, "g": 0.8}
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(2)
        records, _ = _dispatch(client, durations)
    assert sorted(r[0] for r in records) == sorted(durations)
    by_start = sorted(records, key=lambda r: r[2])
    # Handed out longest first (the two first ones start together, either order).
    assert [durations[r[0]] for r in by_start[2:]] == sorted(
        (durations[r[0]] for r in by_start[2:]), reverse=True
    )
    assert {r[0] for r in by_start[:2]} == {"b", "d"}
    workers = {r[1] for r in records}
    assert len(workers) == 2
    tol = 1.0  # poll interval, a scheduler round trip and a busy machine
    for worker in workers:
        mine = sorted((r for r in records if r[1] == worker), key=lambda r: r[2])
        assert len(mine) == len({r[2] for r in mine})
        for before, after in zip(mine, mine[1:], strict=False):
            assert after[2] < before[3] + tol, f"{worker} idle between {before[0]} and {after[0]}"
        last_end = mine[-1][3]
        later = [r[0] for r in records if r[2] > last_end + tol]
        assert not later, f"{worker} idle from {last_end} while {later} were queued"
    # One job per worker at a time: no two runs of one worker overlap.
    for worker in workers:
        mine = sorted((r for r in records if r[1] == worker), key=lambda r: r[2])
        assert all(after[2] >= before[3] - 1e-3 for before, after in zip(mine, mine[1:], strict=False))


def test_a_lost_worker_is_reported_and_its_job_requeued():
    import os
    import signal
    import time

    from distributed import Client, LocalCluster

    messages = []
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(2)
        victim = sorted(client.scheduler_info()["workers"])[0]

        pid = client.run(os.getpid, workers=[victim])[victim]

        def kill_soon():
            time.sleep(1.5)
            os.kill(pid, signal.SIGKILL)  # the nanny starts a new worker, at another address

        import threading

        threading.Thread(target=kill_soon, daemon=True).start()
        records, dispatcher = _dispatch(client, {"long": 4.0, "other": 3.5}, messages.append)
    assert sorted(r[0] for r in records) == ["long", "other"]
    lost = [e for e in dispatcher.events if e["event"] == "lost"]
    assert lost and lost[0]["worker"] == victim and len(lost[0]["jobs"]) == 1
    assert any(m.startswith(f"worker {victim} lost; its task ") and "requeued" in m for m in messages), (
        messages
    )


def test_estimated_cost_orders_the_built_in_profiles_as_measured():
    from rkml.sweep import estimate_cost

    cost = {n: estimate_cost(load_profile(n)) for n in ("efficiency-v2", "balanced", "accuracy", "mixed")}
    assert cost["mixed"] > cost["accuracy"] > cost["balanced"] > cost["efficiency-v2"]
    assert estimate_cost(load_profile("stability")) > estimate_cost(load_profile("efficiency"))
    assert 300 < cost["mixed"] < 3000  # seconds, a rough estimate (measured 967 s)


def test_second_writer_of_a_run_folder_is_refused(tmp_path):
    from rkml.sweep import _run_job

    (job,) = plan_sweep([load_profile("efficiency-v2")], [0], tmp_path, smoke=True)
    with runs.run_lock(job.run_dir):
        outcome = _run_job(job, 1, None, "cpu", lock_wait_s=0.0)
    assert outcome.status == "failed"
    assert outcome.message.startswith("RunLockedError: ") and "being written by process" in outcome.message
    assert "\n" not in outcome.message
    assert not job.run_dir.exists()  # the refused writer touched nothing


def test_a_requeued_attempt_looks_at_the_folder_again_under_the_lock(tmp_path, monkeypatch):
    import rkml.train
    from rkml.sweep import _run_job

    calls = []
    monkeypatch.setattr(rkml.train, "train", lambda profile, run_dir, **kw: calls.append(kw["resume"]))
    (job,) = plan_sweep([load_profile("efficiency-v2")], [0], tmp_path, smoke=True)
    assert job.action == "start"
    # The first attempt (its worker lost meanwhile) finished the run: nothing is redone or wiped.
    job.run_dir.mkdir(parents=True)
    runs.write_manifest(job.run_dir, job.profile, {"status": "complete"})
    outcome = _run_job(job, 1, None, "cpu")
    assert (outcome.status, calls) == ("done", []) and "earlier attempt" in outcome.message
    assert runs.is_complete(job.run_dir)


def test_warnings_of_a_run_are_kept_and_shown(tmp_path, monkeypatch):
    import warnings

    import rkml.train
    from rkml.sweep import _Board, _run_job

    def fake_train(profile, run_dir, **kwargs):
        warnings.warn("library methods score higher\n  on test", RuntimeWarning, stacklevel=1)
        warnings.warn("library methods score higher\n  on test", RuntimeWarning, stacklevel=1)

    monkeypatch.setattr(rkml.train, "train", fake_train)
    (job,) = plan_sweep([load_profile("efficiency-v2")], [0], tmp_path, smoke=True)
    outcome = _run_job(job, 1, None, "cpu")
    assert outcome.status == "done", outcome.message
    assert outcome.warnings == ("RuntimeWarning: library methods score higher on test",)
    assert outcome.start <= outcome.end
    out = io.StringIO()
    with _Board([job], True, Console(file=out, force_terminal=False, width=200)) as board:
        board.finish(outcome)
    assert (
        f"sweep: {job.label}: warning: RuntimeWarning: library methods score higher on test" in out.getvalue()
    )


def test_a_worker_with_an_empty_cache_completes_its_run(tmp_path):
    """The worker's RKCORE_CACHE_DIR is empty and not the client's: the dataset travels with the job,
    or (no dataset sent) the worker builds it in its own process, a daemon, with no process pool."""
    from distributed import Client, LocalCluster

    from rkcore.datasets import cache_path
    from rkml.sweep import _run_job

    worker_cache = tmp_path / "worker-cache"
    worker_cache.mkdir()
    env = {"RKCORE_CACHE_DIR": str(worker_cache)}
    profile = load_profile("efficiency-v2").with_overrides(["dataset.seed=7"])  # a spec no other test built
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None, env=env
        ) as cluster,
    ):
        result = sweep([profile], [0], tmp_path / "runs", scheduler=cluster.scheduler_address, smoke=True,
                       progress=False)  # fmt: skip
        assert [o.status for o in result.outcomes] == ["done"], result.outcomes
        spec = profile.smoke().dataset_spec()
        assert (worker_cache / cache_path(spec).name).is_file()  # installed from what the client built
        assert cache_path(spec).is_file() and cache_path(spec).parent != worker_cache

        # No dataset sent: the worker solves the references itself.
        (job,) = plan_sweep([profile], [1], tmp_path / "runs", smoke=True)
        for stale in worker_cache.iterdir():
            stale.unlink()
        with Client(cluster) as client:
            outcome = client.submit(_run_job, job, 1, None, "cpu", None, pure=False).result()
        assert outcome.status == "done", outcome.message
        assert (worker_cache / cache_path(spec).name).is_file()


def test_timeline_is_written_atomically_and_never_overwritten(tmp_path):
    from rkml.sweep import write_timeline

    record = {"format": 1, "runs": []}
    paths = [write_timeline(record, tmp_path) for _ in range(3)]
    assert len(set(paths)) == 3 and all(p.name.startswith("sweep-") and p.suffix == ".json" for p in paths)
    assert all(json.loads(p.read_text()) == record for p in paths)
    assert all(p.parent == tmp_path / ".sweeps" for p in paths)
    left = sorted(p.name for p in (tmp_path / ".sweeps").iterdir())
    assert left == sorted(p.name for p in paths)  # no temporary file left


def test_dead_scheduler_address_fails_fast_with_a_hint(tmp_path, app):
    import socket
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    address = f"tcp://127.0.0.1:{port}"
    t0 = time.perf_counter()
    with pytest.raises(RKInputError, match="no Dask scheduler answers at .* within 5 s") as info:
        sweep([load_profile("efficiency-v2")], [0], tmp_path, scheduler=address, smoke=True, progress=False)
    assert time.perf_counter() - t0 < 10
    assert "dask scheduler" in str(info.value) and "omit --scheduler" in str(info.value)
    t0 = time.perf_counter()
    result = CliRunner().invoke(app, ["sweep", "-p", "efficiency-v2", "--smoke", "--scheduler", address,
                                      "--runs-dir", str(tmp_path)])  # fmt: skip
    assert time.perf_counter() - t0 < 10
    assert result.exit_code == 1 and "no Dask scheduler answers" in result.output
    assert "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1
