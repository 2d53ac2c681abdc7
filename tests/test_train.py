"""End-to-end training on smoke budgets (rkml.train): artefacts, order, determinism, resume, gates."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import rkcore  # noqa: E402
import rkml.train as train_module  # noqa: E402
from rkcore.order import order, order_conditions  # noqa: E402
from rkml import runs  # noqa: E402
from rkml.errors import TrainingRejected  # noqa: E402
from rkml.profile import load_profile  # noqa: E402
from rkml.train import train  # noqa: E402


def _smoke(name: str):
    """The profile's smoke budget (a few dozen random starts, one elite member, a few generations)."""
    return load_profile(name).smoke()


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One dataset cache for the module, so each smoke dataset's references are solved once."""
    return tmp_path_factory.mktemp("dataset-cache")


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory, cache):
    profile = _smoke("efficiency-v2")
    run_dir = tmp_path_factory.mktemp("runs") / "efficiency-v2-smoke"
    result = train(profile, run_dir, progress=False, dataset_cache=cache)
    return profile, run_dir, result


def _tableau_arrays(path):
    t = rkcore.load_tableau(path)
    return t.A.copy(), t.b.copy()


def test_smoke_run_writes_every_artefact_with_profile_and_verified_order(smoke_run):
    profile, run_dir, result = smoke_run
    s = profile.stages.default
    for name in ("manifest.json", "tableau.json", f"tableau-s{s}.json", "metrics.json", "history.json",
                 "training_curve.png", "training_curve.svg", "checkpoint.pt"):  # fmt: skip
        assert (run_dir / name).is_file(), name
    assert (run_dir / "training_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    manifest = runs.read_manifest(run_dir)
    assert manifest["status"] == "complete"
    assert manifest["profile_hash"] == profile.hash()
    assert "--smoke" in manifest["overrides"]

    data = json.loads((run_dir / "tableau.json").read_text())
    for key in ("order", "profile", "profile_hash", "stages", "seed"):
        assert key in data, key
    assert data["profile"] == profile.name and data["profile_hash"] == profile.hash()
    assert data["seed"] == profile.training.seed and data["stages"] == s

    # The claimed order is checked here by rkcore, independently of what training recorded.
    tableau = rkcore.load_tableau(run_dir / "tableau.json")
    assert tableau.is_explicit
    assert data["order"] >= profile.objective.min_order
    assert order(tableau) >= data["order"]
    assert np.max(np.abs(order_conditions(tableau, data["order"]))) <= 1e-12
    assert not tableau.equals(result.results[0].initialisation, tol=1e-12)

    metrics = json.loads((run_dir / "metrics.json").read_text())
    entry = metrics["stages"][str(s)]
    for split in ("train", "validation", "test"):
        assert set(entry[split]) >= {"learned", "initialisation", "library", "rk4"}
        for card in (entry[split]["learned"], entry[split]["initialisation"]):
            assert {"score", "accuracy_gain", "efficiency_gain", "stability_gain"} <= set(card)
        assert entry[split]["rk4"]["score"] == 0.0
    # Library rivals: every method with the same stage count and at least the minimum order.
    want = sorted(
        n for n in rkcore.methods()
        if rkcore.method(n).stages == s and order(rkcore.method(n)) >= profile.objective.min_order
    )  # fmt: skip
    assert entry["library_methods"] == want and sorted(entry["test"]["library"]) == want
    assert isinstance(metrics["headline"]["beats_library"], bool)
    assert metrics["headline"]["beats_library"] == result.beats_library
    line = result.summary
    score = entry["test"]["learned"]["score"]
    assert line.startswith(f"headline: {s} stages, order {result.order}; test score {score:+.3f}")
    # Paired gains: the score differences, with the standard error that selection_z is applied to.
    for split in ("validation", "test"):
        gains = entry[split]["gain_over"]
        want = entry[split]["learned"]["score"] - entry[split]["initialisation"]["score"]
        assert gains["initialisation"]["gain"] == pytest.approx(want, abs=1e-12)
        assert gains["initialisation"]["stderr"] >= 0
        assert gains["initialisation"]["n"] == metrics["splits"][split]
        assert sorted(gains["library"]) == sorted(entry[split]["library"])


def test_same_profile_and_seed_give_a_bit_identical_tableau(smoke_run, tmp_path, cache):
    profile, run_dir, _ = smoke_run
    train(profile, tmp_path / "again", progress=False, dataset_cache=cache)
    A1, b1 = _tableau_arrays(run_dir / "tableau.json")
    A2, b2 = _tableau_arrays(tmp_path / "again" / "tableau.json")
    np.testing.assert_array_equal(A1, A2)
    np.testing.assert_array_equal(b1, b2)


def test_two_profiles_give_different_tableaux_and_manifests(tmp_path, cache):
    outs = {}
    # (stability's smoke run, 4 stages of order 4 on 8 non-stiff validation problems, finds nothing
    # better than RK4: every 4-stage order-4 method has the same stability polynomial.)
    for name in ("efficiency-v2", "accuracy"):
        profile = _smoke(name)
        train(profile, tmp_path / name, progress=False, dataset_cache=cache)
        tableau = rkcore.load_tableau(tmp_path / name / "tableau.json")
        outs[name] = (runs.read_manifest(tmp_path / name), tableau)
    (m1, t1), (m2, t2) = outs["efficiency-v2"], outs["accuracy"]
    assert m1["profile_hash"] != m2["profile_hash"] and m1["profile"] != m2["profile"]
    assert t1.info["profile"] == "efficiency-v2" and t2.info["profile"] == "accuracy"
    assert t1.stages != t2.stages or not t1.equals(t2, tol=1e-6)


def test_resume_after_an_interruption_reaches_the_uninterrupted_tableau(tmp_path, cache, monkeypatch):
    # Two stage counts, so the interruption and the resume cross a stage boundary.
    profile = _smoke("efficiency-v2").with_overrides(["stages.min=3"])
    assert profile.stages.counts == (3, 4)
    train(profile, tmp_path / "whole", progress=False, dataset_cache=cache)

    real = train_module.refine_next
    calls = {"n": 0}

    def interrupt_second(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:  # the refinement of the second stage count
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(train_module, "refine_next", interrupt_second)
    with pytest.raises(KeyboardInterrupt):
        train(profile, tmp_path / "cut", progress=False, dataset_cache=cache)
    manifest = runs.read_manifest(tmp_path / "cut")
    assert (manifest["status"], manifest["signal"], manifest["resumable"]) == ("interrupted", "SIGINT", True)
    assert not (tmp_path / "cut" / "tableau.json").exists()
    state = runs.load_checkpoint(tmp_path / "cut")
    first, second = state["searches"]
    assert first["refined"] == 1 and second["elite"] is not None and second["refined"] == 0

    monkeypatch.setattr(train_module, "refine_next", real)
    train(profile, tmp_path / "cut", resume=True, progress=False, dataset_cache=cache)
    assert runs.read_manifest(tmp_path / "cut")["status"] == "complete"
    published = sorted(f.name for f in (tmp_path / "whole").glob("tableau*.json"))
    assert published == sorted(f.name for f in (tmp_path / "cut").glob("tableau*.json"))
    assert "tableau.json" in published
    for name in published:
        A1, b1 = _tableau_arrays(tmp_path / "whole" / name)
        A2, b2 = _tableau_arrays(tmp_path / "cut" / name)
        np.testing.assert_array_equal(A1, A2)
        np.testing.assert_array_equal(b1, b2)


def test_result_equal_to_its_initialisation_is_rejected_and_writes_no_tableau(tmp_path, cache, monkeypatch):
    real = train_module.score_points

    def flat_scores(x, stages, problems, weights):
        # Every candidate scores exactly like the initialisation: nothing is ever better.
        scored = real(x, stages, problems, weights)
        return scored._replace(score=np.zeros_like(scored.score))

    monkeypatch.setattr(train_module, "score_points", flat_scores)
    monkeypatch.setattr(train_module, "problem_losses", lambda obs, w: np.zeros(obs.log_error.shape))
    profile = _smoke("efficiency-v2")
    with pytest.raises(TrainingRejected, match="improved on its initialisation"):
        train(profile, tmp_path / "run", progress=False, dataset_cache=cache)
    assert not (tmp_path / "run" / "tableau.json").exists()
    assert not (tmp_path / "run" / "metrics.json").exists()
    assert not (tmp_path / "run" / "history.json").exists()
    manifest = runs.read_manifest(tmp_path / "run")
    assert manifest["status"] == "rejected" and "initialisation" in manifest["reason"]


def test_result_failing_its_order_is_rejected(tmp_path, cache, monkeypatch):
    def broken_polish(tableau, order, **options):
        return tableau.replace(b=tableau.b + 1e-6)  # breaks sum(b) = 1

    monkeypatch.setattr(train_module, "polish", broken_polish)
    profile = _smoke("efficiency-v2")
    with pytest.raises(TrainingRejected, match="verifies order"):
        train(profile, tmp_path / "run", progress=False, dataset_cache=cache)
    assert not (tmp_path / "run" / "tableau.json").exists()


def test_bad_arguments_are_one_line_input_errors(tmp_path):
    profile = _smoke("efficiency-v2")
    with pytest.raises(rkcore.RKInputError, match="outside"):
        train(profile, tmp_path / "a", stages=9, progress=False)
    with pytest.raises(rkcore.RKInputError, match="device"):
        train(profile, tmp_path / "b", device="tpu", progress=False)


def test_minibatch_rows_and_scores_agree_with_rkcore(cache):
    from rkcore.datasets import make_dataset
    from rkml.generator import flatten
    from rkml.objective import problem_set, score_points, split_rows

    profile = _smoke("efficiency-v2")
    dataset = make_dataset(profile.dataset_spec(), cache_dir=cache, progress=False)
    train_split = dataset.train
    rows = np.array([0, 3, train_split.n_problems - 1])
    sub = split_rows(train_split, rows)
    assert sub.n_problems == 3
    all_index = np.concatenate([g.index for g in train_split.groups])
    np.testing.assert_array_equal(np.concatenate([g.index for g in sub.groups]), all_index[rows])

    from rkcore.calibration import make_plan

    plan = make_plan(dataset, profile.objective.target_error)
    problems = problem_set(train_split, plan)
    rk4, rk38 = rkcore.method("rk4"), rkcore.method("rk38")
    x = np.stack([flatten(rk4.A, rk4.b), flatten(rk38.A, rk38.b)])
    scores = score_points(x, 4, problems, profile.weights()).score
    assert scores[0] == 0.0  # RK4 is the normalising baseline
    from rkcore.evaluate import evaluate

    want = evaluate([rk38], train_split, plan, profile.weights()).cards[0].score
    assert scores[1] == pytest.approx(want, abs=1e-12)


def test_improvement_needs_z_standard_errors_and_more_than_rounding():
    from rkcore.metrics import PairedGain
    from rkml.train import MIN_GAIN, improved

    assert improved(PairedGain(0.3, 0.01, 100), 3.0)
    assert not improved(PairedGain(0.05, 0.1, 100), 3.0)  # noise is not an improvement
    # A rounding-level gain with a rounding-level spread passes any z-test but is no improvement.
    assert not improved(PairedGain(8e-10, 1e-11, 100), 3.0)
    assert improved(PairedGain(2 * MIN_GAIN, 0.0, 100), 3.0)


def test_headline_is_the_best_improved_stage_count_on_validation(smoke_run):
    from rkml.selection import choose_headline

    _, _, result = smoke_run
    r = result.results[0]
    higher_unimproved = dataclasses.replace(r, stages=r.stages + 1, validation_score=r.validation_score + 1.0,
                                            improved=False)  # fmt: skip
    higher_improved = dataclasses.replace(higher_unimproved, stages=r.stages + 2, improved=True)
    assert choose_headline([r, higher_unimproved]) is r
    assert choose_headline([r, higher_unimproved, higher_improved]) is higher_improved
    with pytest.raises(TrainingRejected, match="improved on its initialisation"):
        choose_headline([dataclasses.replace(r, improved=False)])


def test_search_orders_and_seed_points_reach_order_six():
    from rkml.polish import max_residual
    from rkml.selection import search_orders, seed_points

    assert search_orders(4, 3) == (4, 3)
    assert search_orders(6, 3) == (5, 4)
    assert search_orders(7, 3) == (6, 5)
    assert search_orders(10, 5) == (6, 5)
    assert search_orders(3, 3) == (3,)
    # Order 6 from 7 to 10 stages: butcher6, verner65, vern6 and vern7 (or embeddings of them).
    for s in (7, 8, 9, 10):
        pts = seed_points(s, 6)
        assert len(pts) >= 1
        assert np.all(max_residual(pts, s, 6) <= 1e-12)


def test_headline_standing_lists_every_better_library_method(smoke_run):
    _, run_dir, result = smoke_run
    metrics = json.loads((run_dir / "metrics.json").read_text())
    head = metrics["headline"]
    lib = head["library_in_range"]
    assert set(lib) == {n for n in rkcore.methods() if rkcore.method(n).stages == result.stages
                        and rkcore.method(n).is_explicit and order(rkcore.method(n)) >= 3}  # fmt: skip
    above = [n for n, e in lib.items() if e["test_score"] > head["test_score"]]
    assert sorted(head["library_above"]) == sorted(above)
    assert head["summary"] == result.summary
    for n in above:
        assert n in result.summary
