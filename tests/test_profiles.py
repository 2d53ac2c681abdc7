"""Run profiles: the built-ins match issue 4's table, validation gives one-line errors."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from rkml.errors import ProfileError
from rkml.profile import (
    DatasetSection,
    Profile,
    StageRange,
    builtin_profiles,
    load_profile,
    max_explicit_order,
)

# Literal copy of the table in issue 4 -- the specification of the built-in profiles.
ISSUE_TABLE = """
| profile | ODEs | stiff | stages (default) | t_end | hidden units | w_acc | w_eff | w_stab | epochs |
|---|---|---|---|---|---|---|---|---|---|
| balanced | 1000 | 300 | 4–6 (4) | 0.10 | 256 | 0.50 | 0.30 | 0.20 | 400 |
| efficiency | 1000 | 300 | 4–6 (4) | 0.10 | 256 | 0.35 | 0.55 | 0.10 | 400 |
| efficiency-v2 | 1200 | 400 | 3–5 (4) | 0.12 | 320 | 0.30 | 0.60 | 0.10 | 300 |
| accuracy | 1500 | 600 | 4–7 (5) | 0.20 | 512 | 0.70 | 0.20 | 0.10 | 500 |
| stability | 1200 | 800 | 3–6 (4) | 0.15 | 384 | 0.30 | 0.20 | 0.50 | 350 |
| mixed | 2000 | 1000 | 3–8 (5) | 0.25 | 640 | 0.45 | 0.35 | 0.20 | 600 |
"""


def _issue_rows() -> dict[str, dict]:
    rows = {}
    for line in ISSUE_TABLE.strip().splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        name, n, stiff, stages, t_end, hidden, w_acc, w_eff, w_stab, epochs = cells
        span, default = stages.split(" ")
        lo, hi = span.split("–")
        rows[name] = dict(
            n_problems=int(n), n_stiff=int(stiff), min=int(lo), max=int(hi), default=int(default.strip("()")),
            t_end=float(t_end), hidden_units=int(hidden), w_acc=float(w_acc), w_eff=float(w_eff),
            w_stab=float(w_stab), epochs=int(epochs),
        )
    return rows


ROWS = _issue_rows()


def test_builtins_are_exactly_the_issue_profiles():
    assert set(builtin_profiles()) == set(ROWS)
    assert len(ROWS) == 6


@pytest.mark.parametrize("name", sorted(ROWS))
def test_builtin_matches_issue_table(name):
    p = load_profile(name)
    row = ROWS[name]
    assert p.name == name
    got = dict(
        n_problems=p.dataset.n_problems, n_stiff=p.dataset.n_stiff, min=p.stages.min, max=p.stages.max,
        default=p.stages.default, t_end=p.dataset.t_end, hidden_units=p.model.hidden_units,
        w_acc=p.objective.w_acc, w_eff=p.objective.w_eff, w_stab=p.objective.w_stab,
        epochs=4 * p.training.generations,
    )
    # The seed document's epochs became CMA-ES generations per elite member: a quarter of them.
    assert got["epochs"] == pytest.approx(row["epochs"], abs=2)
    got["epochs"] = row["epochs"]
    assert got == row
    assert p.overrides == ()
    assert p.stages.counts == tuple(range(row["min"], row["max"] + 1))
    # min_order must be reachable by the smallest stage count of the range.
    assert 3 <= p.objective.min_order <= max_explicit_order(p.stages.min)


def test_builtins_differ_pairwise():
    profiles = [load_profile(n) for n in builtin_profiles()]
    for i, a in enumerate(profiles):
        for b in profiles[i + 1:]:
            assert a != b
            assert a.hash() != b.hash()
    # Deriving one profile leaves the others (and a fresh load) untouched: no shared state.
    changed = profiles[0].with_overrides(["training.generations=7"])
    assert changed.training.generations == 7
    assert load_profile(profiles[0].name) == profiles[0]
    assert profiles[0].training.generations != 7


def test_max_explicit_order_follows_butcher_barriers():
    # Butcher: order p needs s >= p stages for p <= 4, 6 for p = 5, 7 for p = 6, 9 for p = 7, 11 for p = 8.
    assert [max_explicit_order(s) for s in range(1, 12)] == [1, 2, 3, 4, 4, 5, 6, 6, 7, 7, 8]


# --------------------------------------------------------------------------- hash, round trips


def test_hash_is_stable_and_short_hash_is_its_prefix():
    p = load_profile("efficiency-v2")
    assert p.hash() == load_profile("efficiency-v2").hash()
    data = p.to_dict()
    del data["overrides"]
    expected = hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    assert p.hash() == expected
    assert p.short_hash() == expected[:8]


def test_hash_follows_settings_not_provenance():
    p = load_profile("balanced")
    assert p.with_seed(0).hash() == p.hash()  # same settings, only recorded differently
    assert p.with_seed(0).overrides == ("--seed 0",)
    assert p.with_seed(1).hash() != p.hash()
    assert p.with_overrides(["training.sigma=0.1"]).hash() != p.hash()


@pytest.mark.parametrize("name", sorted(ROWS))
def test_toml_round_trip(name):
    p = load_profile(name).with_overrides(["dataset.families=a,b"]).with_seed(5).smoke()
    text = p.to_toml()
    assert Profile.from_dict(tomllib.loads(text)) == p
    assert Profile.from_dict(json.loads(json.dumps(p.to_dict()))) == p


def test_profile_is_frozen():
    p = load_profile("balanced")
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.name = "x"
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.objective.w_acc = 1.0


# --------------------------------------------------------------------------- derived profiles


def test_overrides_parse_by_type_and_are_recorded():
    p = load_profile("stability").with_overrides(
        [
            "objective.w_acc=0.4",
            "objective.w_eff = 0.4",
            "objective.w_stab=0.2",
            "training.generations=12",
            "dataset.split=[0.5, 0.25, 0.25]",
            "dataset.families=van_der_pol,robertson",
            'description="hello there"',
        ]
    )
    assert (p.objective.w_acc, p.objective.w_eff, p.objective.w_stab) == (0.4, 0.4, 0.2)
    assert p.training.generations == 12 and isinstance(p.training.generations, int)
    assert p.dataset.split == (0.5, 0.25, 0.25)
    assert p.dataset.families == ("van_der_pol", "robertson")
    assert p.description == "hello there"
    assert p.overrides[1] == "objective.w_eff=0.4"
    assert len(p.overrides) == 7
    assert p.with_overrides([]) is p


def test_with_stages_restricts_and_records():
    p = load_profile("mixed").with_stages(6)
    assert (p.stages.min, p.stages.max, p.stages.default) == (6, 6, 6)
    assert p.overrides == ("--stages 6",)
    with pytest.raises(ProfileError, match=r"--stages .* 3\.\.8"):
        load_profile("mixed").with_stages(9)


@pytest.mark.parametrize("name", sorted(ROWS))
def test_smoke_shrinks_budget_only(name):
    p = load_profile(name).with_seed(2)
    s = p.smoke()
    assert s.overrides == ("--seed 2", "--smoke")
    assert s.dataset.n_problems == 60
    assert s.dataset.n_stiff == round(60 * p.dataset.n_stiff / p.dataset.n_problems)
    assert s.stages.counts == (p.stages.default,)
    t = s.training
    assert (t.generations, t.starts, t.elite, t.candidates) == (5, 50, 1, 8)
    # Everything that defines the run's character is kept.
    assert s.objective == p.objective and s.model == p.model and s.name == p.name
    assert s.dataset.t_end == p.dataset.t_end and s.training.seed == 2


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "assignments, expected",
    [
        (["objective.w_ac=0.3"], "unknown key 'objective.w_ac'; did you mean 'objective.w_acc'?"),
        (["training.w_acc=0.3"], "did you mean 'objective.w_acc'?"),
        (["generations=3"], "unknown key 'generations'; did you mean 'training.generations'?"),
        (["training.epochs=3"], "it was replaced by 'training.generations'"),
        (["training.learning_rate=0.1"], "CMA-ES search adapts its own step size"),
        (["trainig.generation=3"], "did you mean 'training.generations'?"),
        (["objective.w_acc=0.4"], "objective.w_acc + objective.w_eff + objective.w_stab must sum to 1"),
        (
            ["objective.w_acc=-0.1", "objective.w_eff=0.9", "objective.w_stab=0.2"],
            "objective.w_acc must be >= 0",
        ),
        (["dataset.n_stiff=1001"], "dataset.n_stiff must be between 0 and dataset.n_problems = 1000"),
        (["dataset.n_problems=0"], "dataset.n_problems must be >= 1"),
        (["dataset.t_end=0"], "dataset.t_end must be > 0"),
        (["dataset.split=0.5,0.5"], "dataset.split must be a list of 3 values"),
        (["dataset.split=0.5,0.4,0.2"], "dataset.split must be three positive fractions"),
        (["stages.min=7"], "stages.max must be >= stages.min = 7"),
        (["stages.default=7"], "stages.default must lie in the stage range 4..6"),
        (["stages.min=0"], "stages.min must be >= 1"),
        (["stages.max=40"], "stages.max must be <= 16"),
        (["training.generations=0"], "training.generations must be >= 1"),
        (["training.generations=3.5"], "training.generations: expected an integer, got '3.5'"),
        (["training.sigma=fast"], "training.sigma: expected a number"),
        (["training.candidates=1"], "training.candidates must be >= 4"),
        (["training.sigma=0"], "training.sigma must lie in (0, 1]"),
        (["training.elite=0"], "training.elite must be >= 1"),
        (["objective.min_order=0"], "objective.min_order must be >= 1"),
        (["objective.min_order=5"], "objective.min_order = 5 is unreachable with stages.min = 4"),
        (["objective.target_error=0"], "objective.target_error = 0 is outside [1e-12, 0.1]"),
        (["objective.eval_steps=40"], "it was replaced by 'objective.target_error'"),
        (["model.hidden_units=0"], "model.hidden_units must be >= 1"),
        (["name=bad name"], "name must be letters, digits"),
        (["no_equals_sign"], "--set expects section.key=value"),
    ],
)
def test_validation_errors_are_one_line_and_name_the_key(assignments, expected):
    with pytest.raises(ProfileError) as info:
        load_profile("balanced").with_overrides(assignments)
    message = str(info.value)
    assert expected in message
    assert "\n" not in message


def test_seed_must_be_a_non_negative_integer():
    with pytest.raises(ProfileError, match="training.seed must be >= 0"):
        load_profile("balanced").with_seed(-1)
    with pytest.raises(ProfileError, match="training.seed must be an integer"):
        load_profile("balanced").with_seed(1.5)


def test_sections_check_types_on_construction():
    with pytest.raises(ProfileError, match="dataset.n_problems must be an integer, got bool"):
        DatasetSection(n_problems=True, n_stiff=0, t_end=0.1)
    with pytest.raises(ProfileError, match="dataset.n_problems must be an integer, got float 1000.0"):
        DatasetSection(n_problems=1000.0, n_stiff=0, t_end=0.1)
    with pytest.raises(ProfileError, match="dataset.t_end must be finite"):
        DatasetSection(n_problems=10, n_stiff=0, t_end=float("inf"))
    assert DatasetSection(n_problems=10, n_stiff=0, t_end=1).t_end == 1.0  # int accepted as a number
    assert StageRange(min=2, max=2, default=2).counts == (2,)


def test_unknown_builtin_lists_known_profiles():
    with pytest.raises(ProfileError) as info:
        load_profile("balance")
    message = str(info.value)
    assert "unknown profile 'balance'" in message and "did you mean 'balanced'?" in message
    for name in builtin_profiles():
        assert name in message
    assert "\n" not in message


# --------------------------------------------------------------------------- custom files

CUSTOM = """
description = "my run"
[dataset]
n_problems = 100
n_stiff = 10
t_end = 0.5
[stages]
min = 3
max = 4
default = 3
[model]
hidden_units = 16
[objective]
w_acc = 0.2
w_eff = 0.2
w_stab = 0.6
[training]
generations = 2
"""


def test_custom_profile_from_path_uses_documented_defaults(tmp_path):
    path = tmp_path / "my-run.toml"
    path.write_text(CUSTOM)
    p = load_profile(path)
    assert p.name == "my-run" and p.description == "my run"
    assert p.dataset.seed == 2024 and p.dataset.families == () and p.dataset.split == (0.4, 0.4, 0.2)
    assert p.model.layers == 2 and p.objective.min_order == 3 and p.objective.target_error == 1e-6
    assert (p.training.seed, p.training.starts, p.training.elite, p.training.candidates) == (0, 1000, 4, 16)
    assert (p.training.sigma, p.training.selection_z) == (0.05, 3.0)
    assert load_profile(str(path)) == p
    # `profiles show` output of a custom profile loads back as the same profile.
    shown = tmp_path / "shown.toml"
    shown.write_text(p.with_seed(4).to_toml())
    assert load_profile(shown) == p.with_seed(4)


@pytest.mark.parametrize(
    "text, expected",
    [
        (CUSTOM.replace("w_acc", "w_ac"), "unknown key 'objective.w_ac'; did you mean 'objective.w_acc'?"),
        (
            CUSTOM.replace("[model]", "[modle]"),
            "unknown section [modle]; did you mean [model]? "
            "(the sections are [dataset], [stages], [model], [objective], [training])",
        ),
        (CUSTOM.replace("generations = 2", ""), "missing key 'training.generations'"),
        (CUSTOM.replace("[model]\nhidden_units = 16\n", ""), "missing section [model]"),
        (
            CUSTOM.replace("[model]\nhidden_units = 16\n", "").replace("[dataset]", "model = 3\n[dataset]"),
            "[model] must be a table",
        ),
        (CUSTOM.replace("n_problems = 100", 'n_problems = "100"'), "dataset.n_problems must be an integer"),
        (CUSTOM.replace("t_end = 0.5", 't_end = "long"'), "dataset.t_end must be a number, got str"),
        (CUSTOM.replace("n_stiff = 10", "n_stiff = 1000"), "dataset.n_stiff must be between 0 and"),
        (CUSTOM.replace("default = 3", "default = 9"), "stages.default must lie in the stage range 3..4"),
        (CUSTOM.replace("w_stab = 0.6", "w_stab = 0.7"), "must sum to 1"),
        (CUSTOM.replace("max = 4", "max = 2"), "stages.max must be >= stages.min = 3"),
        (CUSTOM.replace("[training]\n", ""), "'objective.generations'; did you mean 'training.generations'?"),
    ],
)
def test_custom_profile_errors_name_file_and_key(tmp_path, text, expected):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    message = str(info.value)
    assert expected in message
    assert str(path) in message
    assert "\n" not in message


def test_malformed_toml_names_file_and_line(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text(CUSTOM.replace("hidden_units = 16", "hidden_units = = 16"))
    line = CUSTOM.splitlines().index("hidden_units = 16") + 1
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    message = str(info.value)
    assert str(path) in message and "invalid TOML" in message and f"line {line}" in message
    assert "\n" not in message


SECTIONS = "[dataset], [stages], [model], [objective], [training]"


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"", "is empty; a profile needs the sections " + SECTIONS),
        (b"   \n\n", "is empty; a profile needs the sections " + SECTIONS),
        (b"# nothing but a comment\n", "is empty; a profile needs the sections " + SECTIONS),
        (
            CUSTOM.replace("[model]", "[junk]").encode(),
            f"unknown section [junk] (the sections are {SECTIONS})",
        ),
        (
            ('extends = "balanced"\n' + CUSTOM).encode(),
            "unknown key 'extends': a profile cannot extend or include another profile; "
            "copy one with 'rkml profiles show NAME > my.toml' and edit the copy",
        ),
        (
            CUSTOM.replace("[dataset]", '[dataset]\ninclude = "balanced"').encode(),
            "unknown key 'dataset.include': a profile cannot extend or include another profile",
        ),
        (
            CUSTOM.replace("t_end = 0.5", "t_end = 0.5\nt_end = 0.6").encode(),
            "duplicate key 'dataset.t_end' (lines 6 and 7); keep one of them",
        ),
        (
            (CUSTOM + "generations = 3").encode(),  # last line, no newline: tomllib gives no line number
            "duplicate key 'training.generations' (lines 18 and 19); keep one of them",
        ),
        (
            (CUSTOM + "[model]\nlayers = 3\n").encode(),
            "section [model] appears twice (lines 11 and 19); merge them",
        ),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "is not a UTF-8 TOML text file (byte 0x89 at offset 0"),
        ("name = 'x'\n".encode("utf-16"), "is not a UTF-8 TOML text file"),
        (b"name = 'x'\x00\n", "is not a UTF-8 TOML text file (it contains NUL bytes)"),
    ],
)
def test_profile_file_message_gaps_are_one_clear_line(tmp_path, content, expected):
    path = tmp_path / "mine.toml"
    path.write_bytes(content)
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    message = str(info.value)
    assert expected in message and str(path) in message and "\n" not in message
    assert "did you mean 'dataset.t_end'" not in message and "codec" not in message


def test_extends_through_set_says_there_is_no_inheritance():
    with pytest.raises(ProfileError, match="a profile cannot extend or include another profile"):
        load_profile("balanced").with_overrides(["extends=accuracy"])


def test_missing_file_is_one_line_error(tmp_path):
    missing = tmp_path / "nope.toml"
    with pytest.raises(ProfileError, match="does not exist"):
        load_profile(missing)
    with pytest.raises(ProfileError, match="does not exist"):
        load_profile(str(missing))


# --------------------------------------------------------------------------- bridges to rkcore


def test_weights_bridge():
    metrics = pytest.importorskip("rkcore.metrics")
    w = load_profile("stability").weights()
    assert isinstance(w, metrics.Weights)
    assert w.as_tuple() == (0.30, 0.20, 0.50)


def test_dataset_spec_bridge():
    datasets = pytest.importorskip("rkcore.datasets")
    p = load_profile("efficiency-v2")
    spec = p.dataset_spec()
    assert isinstance(spec, datasets.DatasetSpec)
    assert (spec.n_problems, spec.n_stiff, spec.t_end, spec.seed) == (1200, 400, 0.12, 2024)
    assert tuple(spec.split) == (0.4, 0.4, 0.2)
    # A different profile gives a different dataset specification.
    assert load_profile("mixed").dataset_spec().hash() != spec.hash()


def test_dataset_spec_errors_name_the_profile_section():
    pytest.importorskip("rkcore.datasets")
    with pytest.raises(ProfileError) as info:
        load_profile("stability").with_overrides(["dataset.families=van_der_pol"]).dataset_spec()
    message = str(info.value)
    assert message.startswith("profile 'stability' [dataset]: dataset.n_stiff") and "\n" not in message


def test_profile_module_does_not_import_torch():
    assert "rkml.profile" in sys.modules
    import subprocess

    code = "import rkml, rkml.profile, rkml.runs, sys; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
