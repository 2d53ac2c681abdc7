"""Families of one's own: import paths and entry points, checks, hashes, references, the example."""

from __future__ import annotations

import importlib.metadata
import pickle
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import rkcore
from rkcore import evaluate as evaluation
from rkcore.calibration import make_plan
from rkcore.datasets import DatasetSpec, cache_path, make_dataset
from rkcore.errors import RKInputError
from rkcore.problems.sources import ENTRY_POINT_GROUP, resolve_family
from rkcore.reference import ReferenceSolveError, jacobian_eigenvalues, reference_solution, relative_error
from rkml import runs
from rkml.profile import load_profile

REPO = Path(__file__).resolve().parents[1]
MODULE = "userfam_for_tests"

# A valid family, then variants that are each wrong in one way (one attribute each).
SOURCE = """
import numpy as np
from numba import njit
import rkcore

@njit
def rhs(t, y, p, dydt):
    dydt[0] = -p[0] * y[0]
    dydt[1] = -2.0 * p[0] * y[1]

def sample(rng, n):
    return rng.uniform(0.5, 2.0, (n, 1)), rng.uniform(1.0, 2.0, (n, 2))

def exact(t, y0, params, t0=0.0):
    return y0 * np.exp(-params[:, :1] * np.array([1.0, 2.0]) * (t - t0))

DECAY = rkcore.Family(name="decay", dim=2, n_params=1, stiff=False, rhs=rhs, sample=sample, exact=exact)
# Without a closed form (DOP853 references) and without a block form (derived from rhs).
DECAY_NUMERIC = rkcore.Family(name="decay_numeric", dim=2, n_params=1, stiff=False, rhs=rhs, sample=sample)
NOT_A_FAMILY = 3
TOO_SMALL = rkcore.Family(name="too_small", dim=1, n_params=1, stiff=False, rhs=rhs,
                          sample=lambda rng, n: (rng.uniform(0.5, 2.0, (n, 1)),
                                                 rng.uniform(1.0, 2.0, (n, 1))))
TOO_LARGE = rkcore.Family(name="too_large", dim=3, n_params=1, stiff=False, rhs=rhs,
                          sample=lambda rng, n: (rng.uniform(0.5, 2.0, (n, 1)),
                                                 rng.uniform(1.0, 2.0, (n, 3))))

def nan_sample(rng, n):
    params, y0 = sample(rng, n)
    y0[n // 2, 1] = np.nan
    return params, y0

NAN_SAMPLER = rkcore.Family(name="nan_sampler", dim=2, n_params=1, stiff=False, rhs=rhs, sample=nan_sample)
EMPTY_SAMPLER = rkcore.Family(name="empty_sampler", dim=2, n_params=1, stiff=False, rhs=rhs,
                              sample=lambda rng, n: (np.empty((0, 1)), np.empty((0, 2))))

@njit
def blowup_rhs(t, y, p, dydt):
    dydt[0] = p[0] * y[0] * y[0]

BLOWUP = rkcore.Family(name="blowup", dim=1, n_params=1, stiff=False, rhs=blowup_rhs,
                       sample=lambda rng, n: (rng.uniform(2.0, 3.0, (n, 1)), rng.uniform(1.0, 2.0, (n, 1))),
                       param_names=("k",))
HIDDEN_STIFF = rkcore.Family(name="hidden_stiff", dim=2, n_params=1, stiff=False, rhs=rhs,
                             sample=lambda rng, n: (np.full((n, 1), 1e5), rng.uniform(1.0, 2.0, (n, 2))))
"""


def _write_module(folder: Path, source: str = SOURCE) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{MODULE}.py"
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


@pytest.fixture
def userfam(tmp_path, monkeypatch):
    """The test module on sys.path (forgotten again afterwards); returns its folder."""
    folder = tmp_path / "src"
    _write_module(folder)
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delitem(sys.modules, MODULE, raising=False)
    yield folder
    sys.modules.pop(MODULE, None)


def _spec(*families, n_problems=12, **kwargs):
    return DatasetSpec(n_problems=n_problems, n_stiff=0, t_end=0.5, seed=1, families=families, **kwargs)


# --------------------------------------------------------------------------- resolution


def test_an_import_path_resolves_to_the_family_with_its_source(userfam):
    found = resolve_family(f"{MODULE}:DECAY")
    assert isinstance(found.family, rkcore.Family) and found.family.name == "decay"
    assert found.source.kind == "import"
    assert found.source.origin == str((userfam / f"{MODULE}.py").resolve())
    assert len(found.source.hash) == 64
    builtin = resolve_family("van_der_pol")
    assert builtin.family is rkcore.FAMILIES["van_der_pol"] and builtin.source.hash is None


def test_user_and_builtin_families_share_a_dataset(userfam, tmp_path):
    spec = _spec(f"{MODULE}:DECAY", "harmonic", n_problems=10)
    assert spec.families == ("harmonic", f"{MODULE}:DECAY")  # built-ins first, then by reference
    assert spec.allocation() == {"harmonic": 5, "decay": 5}
    data = make_dataset(spec, cache_dir=tmp_path / "cache", progress=False, workers=1)
    group = data.all.group("decay")
    assert group.ref_method == "exact"
    assert np.allclose(group.y_ref, group.family.exact(0.5, group.y0, group.params))
    assert make_dataset(spec, cache_dir=tmp_path / "cache", progress=False, workers=1).from_cache
    assert pickle.loads(pickle.dumps(spec)) == spec


def test_a_family_without_block_form_or_closed_form_gets_derived_ones(userfam, tmp_path):
    spec = _spec(f"{MODULE}:DECAY_NUMERIC", n_problems=4)
    data = make_dataset(spec, cache_dir=tmp_path / "cache", progress=False, workers=1)
    group = data.all.group("decay_numeric")
    assert group.ref_method == "DOP853"
    exact = group.y0 * np.exp(-group.params * np.array([1.0, 2.0]) * 0.5)
    assert np.max(relative_error(group.y_ref, exact)) < 1e-11
    Y, P, out = np.ascontiguousarray(group.y0.T), np.ascontiguousarray(group.params.T), np.empty((2, 4))
    group.family.rhs_block(0.0, Y, P, out)
    assert np.allclose(out, -P * np.array([[1.0], [2.0]]) * Y)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("no_such_module_xyz:FAM", "module 'no_such_module_xyz' does not import (ModuleNotFoundError"),
        (f"{MODULE}:MISSING", f"module '{MODULE}' has no attribute 'MISSING'; it defines DECAY"),
        (f"{MODULE}:NOT_A_FAMILY", f"{MODULE}.NOT_A_FAMILY is of type int, not an rkcore.Family"),
        (f"{MODULE}:TOO_SMALL", "rhs indexes past its arrays (IndexError"),
        (f"{MODULE}:TOO_LARGE", "rhs leaves dydt[2] unset, but Family.dim = 3"),
        (f"{MODULE}:NAN_SAMPLER", "returned non-finite y0 in row 6"),
        (f"{MODULE}:EMPTY_SAMPLER", "returned params of shape (0, 1), expected (12, 1)"),
        (f"{MODULE}:HIDDEN_STIFF", "is flagged non-stiff but rho(J) * t_end = 1e+05"),
        ("no_such_plugin", "unknown problem family 'no_such_plugin'"),
    ],
)
def test_bad_families_are_one_line_errors_naming_the_reference(userfam, reference, message):
    with pytest.raises(RKInputError) as info:
        _spec(reference)
    text = str(info.value)
    assert text.startswith("DatasetSpec.families: ") and message in text and "\n" not in text
    if reference != "no_such_plugin":
        assert repr(reference) in text


def test_a_family_that_gets_no_problems_is_an_error(userfam):
    with pytest.raises(
        RKInputError, match=rf"family '{MODULE}:DECAY' gets no problems \(2 non-stiff problems"
    ):
        _spec("exponential", "harmonic", f"{MODULE}:DECAY", n_problems=2)


def test_two_families_of_one_name_are_an_error(userfam, tmp_path, monkeypatch):
    other = tmp_path / "other"
    _write_module(other, SOURCE.replace('name="decay"', 'name="harmonic"'))
    monkeypatch.syspath_prepend(str(other))
    sys.modules.pop(MODULE, None)
    with pytest.raises(
        RKInputError, match="'harmonic' and 'userfam_for_tests:DECAY' are both families named"
    ):
        _spec("harmonic", f"{MODULE}:DECAY")


def test_a_failing_reference_solve_names_the_family_and_parameters(userfam, tmp_path):
    spec = _spec(f"{MODULE}:BLOWUP", n_problems=2)
    with pytest.raises(ReferenceSolveError) as info:
        make_dataset(spec, cache_dir=tmp_path / "cache", progress=False, workers=1)
    text = str(info.value)
    assert (
        text.startswith("DOP853 reference of family 'blowup' at k=") and "y0=[" in text and "\n" not in text
    )
    assert not list((tmp_path / "cache").glob("*"))  # nothing written


def test_cli_rejects_a_bad_family_before_training_and_writes_nothing(userfam, tmp_path, monkeypatch):
    from cli.rkml_app import app

    monkeypatch.chdir(tmp_path)
    profile = (REPO / "examples" / "advection.toml").read_text(encoding="utf-8")
    bad = tmp_path / "bad.toml"
    bad.write_text(profile.replace("examples.advection:ADVECTION", f"{MODULE}:TOO_LARGE"), encoding="utf-8")
    result = CliRunner().invoke(app, ["train", "--profile", str(bad), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "rhs leaves dydt[2] unset" in lines[0]
    assert not (tmp_path / "runs").exists()


def test_rkcore_evaluate_rejects_an_attribute_that_is_not_a_family(userfam):
    from cli.rkcore_app import app

    result = CliRunner().invoke(app, ["evaluate", "-m", "rk4", "--families", f"{MODULE}:NOT_A_FAMILY"])
    assert result.exit_code == 1
    assert result.output.strip().startswith("error: --families: family 'userfam_for_tests:NOT_A_FAMILY'")


# --------------------------------------------------------------------------- hashes and provenance


def _profile_text(reference: str) -> str:
    text = (REPO / "examples" / "advection.toml").read_text(encoding="utf-8")
    return text.replace("examples.advection:ADVECTION", reference).replace(
        "n_problems = 400", "n_problems = 12"
    )


def test_profiles_differing_only_in_the_family_source_hash_differently(tmp_path, monkeypatch):
    profile_file = tmp_path / "mine.toml"
    profile_file.write_text(_profile_text(f"{MODULE}:DECAY"), encoding="utf-8")
    hashes, specs = [], []
    for version, source in enumerate((SOURCE, SOURCE.replace("uniform(1.0, 2.0", "uniform(1.0, 2.5"))):
        folder = tmp_path / f"v{version}"
        _write_module(folder, source)
        with monkeypatch.context() as m:
            m.syspath_prepend(str(folder))
            sys.modules.pop(MODULE, None)
            profile = load_profile(profile_file)
            hashes.append(profile.hash())
            specs.append(profile.dataset_spec())
            sys.modules.pop(MODULE, None)
    assert hashes[0] != hashes[1]
    assert specs[0] == specs[1]  # the same settings ...
    assert specs[0].hash() != specs[1].hash()  # ... but different code: different cache keys
    assert cache_path(specs[0], tmp_path) != cache_path(specs[1], tmp_path)


def test_builtin_only_profiles_keep_their_hash():
    profile = load_profile("efficiency-v2")
    assert profile.dataset.family_hashes() == {}
    spec = profile.dataset_spec()
    assert all(source.kind == "builtin" and source.hash is None for source in spec.sources)


def test_the_manifest_records_where_each_family_came_from(userfam, tmp_path):
    profile_file = tmp_path / "mine.toml"
    profile_file.write_text(_profile_text(f"{MODULE}:DECAY"), encoding="utf-8")
    profile = load_profile(profile_file)
    runs.write_manifest(tmp_path, profile)
    (entry,) = runs.read_manifest(tmp_path)["families"]
    assert entry == resolve_family(f"{MODULE}:DECAY").source.to_dict()
    assert entry["kind"] == "import" and entry["origin"].endswith(f"{MODULE}.py")


# --------------------------------------------------------------------------- entry points


def test_a_family_scores_the_same_by_import_path_and_by_entry_point(userfam, tmp_path, monkeypatch):
    plugin = importlib.metadata.EntryPoint(
        name="decay_plugin", value=f"{MODULE}:DECAY", group=ENTRY_POINT_GROUP
    )

    def entry_points(**selection):
        return [plugin] if selection.get("group") == ENTRY_POINT_GROUP else []

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    tableaux = [rkcore.method("rk4"), rkcore.method("dopri5"), rkcore.method("ssprk3")]
    scores = []
    for reference in (f"{MODULE}:DECAY", "decay_plugin"):
        spec = _spec(reference, "harmonic", n_problems=16)
        assert {s.reference: s.kind for s in spec.sources}[reference] == (
            "import" if ":" in reference else "entry_point"
        )
        split = make_dataset(spec, cache_dir=tmp_path / "cache", progress=False, workers=1).test
        result = evaluation.evaluate(tableaux, split, make_plan(split, 1e-6))
        scores.append([card.score for card in result.cards])
    assert scores[0] == scores[1]
    assert resolve_family("decay_plugin").source.origin.endswith(f": {MODULE}:DECAY")


# --------------------------------------------------------------------------- the worked example


def test_the_example_resolves_from_the_working_directory(monkeypatch):
    monkeypatch.chdir(REPO)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(REPO))])
    for name in ("examples", "examples.advection"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    found = resolve_family("examples.advection:ADVECTION")
    assert found.family.name == "advection" and found.family.dim == 24
    assert str(REPO) not in sys.path  # the working directory was on sys.path for the import only


def test_the_example_closed_form_matches_dop853_and_its_spectrum_the_jacobian(monkeypatch):
    monkeypatch.chdir(REPO)
    advection = pytest.importorskip("examples.advection")
    family = advection.ADVECTION
    params, y0 = family.sample(np.random.default_rng(5), 6)
    exact = reference_solution(family, y0, params, 0.0, 1.0)
    numeric = reference_solution(family, y0, params, 0.0, 1.0, method="DOP853")
    assert exact.method == "exact" and numeric.method == "DOP853"
    assert np.max(relative_error(numeric.y, exact.y)) < 1e-11
    # The Fourier-mode eigenvalues behind the closed form are those of the rhs's Jacobian.
    jacobian = jacobian_eigenvalues(family, 0.0, y0[:2], params[:2])
    for row in range(2):
        formula = advection.eigenvalues(*params[row])
        distance = np.abs(jacobian[row][:, None] - formula[None, :])
        assert distance.min(axis=0).max() < 1e-6 and distance.min(axis=1).max() < 1e-6


class _Stop(Exception):
    pass


@pytest.mark.parametrize(
    ("families", "n_stiff"),
    [("examples.advection:ADVECTION", 0), ("heat_1d", 200), ("harmonic,heat_1d", 60), (None, 60)],
)
def test_evaluate_defaults_stiff_by_the_kinds_of_the_families(monkeypatch, families, n_stiff):
    from cli.rkcore_app import app

    monkeypatch.chdir(REPO)
    received = []

    def load_split(spec, *args, **kwargs):
        received.append(spec)
        raise _Stop

    monkeypatch.setattr(evaluation, "load_split", load_split)
    args = ["evaluate", "-m", "rk4", "--problems", "200"] + (["--families", families] if families else [])
    result = CliRunner().invoke(app, args)
    assert isinstance(result.exception, _Stop)
    names = tuple(families.split(",")) if families else None
    assert received == [DatasetSpec(n_problems=200, n_stiff=n_stiff, t_end=0.1, seed=0, families=names)]
