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
