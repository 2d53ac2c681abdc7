"""``rkml compare``: report contents, the guard, bad input, CLI exit codes.

Run folders are crafted here (manifest via rkml.runs, tableaux via rkcore.save_tableau) from
Kutta's two-parameter family of 4-stage, order-4 methods, so no training is needed and
every case (identical results, result equal to its initialisation, edited manifest) can be
made on purpose.  The common dataset is shrunk to a few dozen problems.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import rkcore
from cli.common import App
from cli.rkml_sweep import register
from rkcore.datasets import DatasetSpec
from rkml import runs
from rkml.compare import GuardError, compare, guard, load_run, profile_rows
from rkml.compare_eval import CROSS_CHECK_SEED, analysis_row, cross_check_spec
from rkml.profile import load_profile

SPEC = DatasetSpec(n_problems=24, n_stiff=12, t_end=0.1, seed=CROSS_CHECK_SEED)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("RKCORE_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "rkcore-cache"))


def kutta4(c2: float, c3: float) -> rkcore.Tableau:
    """Butcher (2016, sec. 322): the 4-stage order-4 method with abscissae c2, c3 and c4 = 1."""
    b = [
        0.5 + (1 - 2 * (c2 + c3)) / (12 * c2 * c3),
        (2 * c3 - 1) / (12 * c2 * (c3 - c2) * (1 - c2)),
        (1 - 2 * c2) / (12 * c3 * (c3 - c2) * (1 - c3)),
        0.5 + (2 * (c2 + c3) - 3) / (12 * (1 - c2) * (1 - c3)),
    ]
    a32 = c3 * (c3 - c2) / (2 * c2 * (1 - 2 * c2))
    den = 6 * c2 * c3 - 4 * (c2 + c3) + 3
    a42 = (1 - c2) * (c2 + c3 - 1 - (2 * c3 - 1) ** 2) / (2 * c2 * (c3 - c2) * den)
    a43 = (1 - 2 * c2) * (1 - c2) * (1 - c3) / (c3 * (c3 - c2) * den)
    A = np.zeros((4, 4))
    A[1, 0] = c2
    A[2, :2] = (c3 - a32, a32)
    A[3, :3] = (1 - a42 - a43, a42, a43)
    return rkcore.Tableau(A, b)


def make_run(root: Path, profile, tableau: rkcore.Tableau, *, init=None, claim=None, history=True) -> Path:
    """A finished run folder as rkml train writes it (manifest, tableaux, history)."""
    run_dir = runs.prepare_run_dir(runs.default_run_dir(profile, root))
    runs.write_manifest(
        run_dir,
        profile,
        {"status": "complete", "device": "cpu", "start_time": runs.now_iso(), "end_time": runs.now_iso()},
    )
    info = {
        "order": rkcore.order(tableau) if claim is None else claim,
        "profile": profile.name,
        "profile_hash": profile.hash(),
    }
    t = tableau.replace(name=profile.name, info=info)
    rkcore.save_tableau(t, run_dir / "tableau.json")
    rkcore.save_tableau(t, run_dir / f"tableau-s{t.stages}.json")
    if init is not None:
        rkcore.save_tableau(init, run_dir / f"init-s{init.stages}.json")
    if history:
        steps = list(range(12))
        curve = {
            "step": steps,
            "train": [-1 + 0.1 * k for k in steps],
            "val_step": steps[::4],
            "validation": [-1 + 0.1 * k for k in steps[::4]],
        }
        (run_dir / "history.json").write_text(json.dumps({"stages": {str(t.stages): curve}}))
    return run_dir


def smoke(name: str, seed: int = 0):
    return load_profile(name).with_seed(seed).smoke()


def test_kutta_family_is_order_four():
    for c2, c3 in [(0.3, 0.7), (0.4, 0.6), (0.25, 0.75)]:
        assert rkcore.order(kutta4(c2, c3)) == 4


@pytest.fixture
def three_runs(tmp_path):
    root = tmp_path / "runs"
    return [
        make_run(root, smoke("balanced"), kutta4(0.3, 0.7), init=kutta4(0.35, 0.65)),
        make_run(root, smoke("stability"), kutta4(0.4, 0.6)),
        make_run(root, smoke("efficiency-v2"), kutta4(0.25, 0.75), history=False),
    ]


def test_report_of_distinct_runs(tmp_path, three_runs):
    out = tmp_path / "report"
    result = compare(three_runs, out, cross_check=SPEC)
    assert result.ok and not result.rejected and len(result.runs) == 3
    md = (out / "index.md").read_text()
    html = (out / "index.html").read_text()
    assert "ERROR" not in md
    for section in (
        "Key differences",
        "Learned tableaux",
        "Stability regions",
        "Cross-check",
        "Work-precision",
        "Trade-off",
        "Training curves",
    ):
        assert section in md and section in html
    for run_dir in three_runs:
        assert run_dir.name in md
    # differing settings are marked, equal ones are not
    assert re.search(r"\*\*objective\.w_acc\*\* ⚠", md)
    assert re.search(r"^\| objective\.target_error \|", md, re.M)
    # every figure exists as a PNG and is embedded in the HTML, which links no file
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == [
        "generalisation.png",
        "stability_regions.png",
        "tradeoff.png",
        "training_curves.png",
        "work_precision.png",
    ]
    for name in pngs:
        assert (out / name).read_bytes().startswith(PNG_MAGIC)
        assert f"]({name})" in md
    assert html.count("data:image/png;base64,") == 5 and '.png"' not in html
    # the cross-check dataset is the one asked for, and named in the report
    assert f"dataset seed {SPEC.seed}" in md
    # the Butcher layout of each learned tableau is printed, decimal-aligned
    from rkml.report import Butcher, butcher_text

    assert butcher_text(Butcher.of(load_run(three_runs[0]).tableau)) in md


def _error_block_first(md: str) -> None:
    assert md.index("**ERROR:") < md.index("## Runs")


def test_guard_identical_tableaux(tmp_path):
    root = tmp_path / "runs"
    same = kutta4(0.3, 0.7)
    a = make_run(root, smoke("balanced"), same)
    b = make_run(root, smoke("efficiency-v2"), same)
    result = compare([a, b], tmp_path / "report", cross_check=SPEC)
    assert [f.kind for f in result.errors] == ["identical"]
    assert a.name in result.errors[0].message and b.name in result.errors[0].message
    md = (tmp_path / "report" / "index.md").read_text()
    _error_block_first(md)
    assert (
        result.errors[0].message in md
        and result.errors[0].message in (tmp_path / "report" / "index.html").read_text()
    )
    with pytest.raises(GuardError) as info:
        compare([a, b], tmp_path / "report", cross_check=SPEC, strict=True, force=True)
    assert (info.value.result.out_dir / "index.html").is_file()


def test_guard_ignores_copies_of_one_run(tmp_path):
    import shutil

    a = make_run(tmp_path / "runs", smoke("balanced"), kutta4(0.3, 0.7))
    b = tmp_path / "copy" / a.name
    shutil.copytree(a, b)
    assert guard([load_run(a), load_run(b)]) == ()


def test_guard_different_seeds_same_tableau(tmp_path):
    t = kutta4(0.3, 0.7)
    records = [load_run(make_run(tmp_path / "runs", smoke("balanced", seed), t)) for seed in (0, 1)]
    assert [f.kind for f in guard(records)] == ["identical"]


def test_guard_tableau_equals_initialisation(tmp_path):
    t, u = kutta4(0.3, 0.7), kutta4(0.4, 0.6)
    moved = load_run(make_run(tmp_path / "runs", smoke("balanced"), t, init=kutta4(0.3 + 1e-9, 0.7)))
    stuck = load_run(make_run(tmp_path / "runs", smoke("stability"), u, init=u))
    found = guard([moved, stuck])
    assert [(f.kind, stuck.label in f.message) for f in found] == [("initialisation", True)]


def test_guard_profile_hash_mismatch(tmp_path):
    run = make_run(tmp_path / "runs", smoke("balanced"), kutta4(0.3, 0.7))
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["profile"]["objective"].update(w_acc=0.4, w_eff=0.4)  # edited settings, stale hash
    (run / "manifest.json").write_text(json.dumps(manifest))
    found = guard([load_run(run)])
    assert [f.kind for f in found] == ["hash"] and "is not the hash" in found[0].message


def test_guard_tableau_from_another_run(tmp_path):
    a = make_run(tmp_path / "runs", smoke("balanced"), kutta4(0.3, 0.7))
    b = make_run(tmp_path / "runs", smoke("stability"), kutta4(0.4, 0.6))
    (a / "tableau.json").write_bytes((b / "tableau.json").read_bytes())
    found = guard([load_run(a)])
    assert [f.kind for f in found] == ["hash"] and "mixes two runs" in found[0].message


def test_guard_claimed_order_is_verified(tmp_path):
    record = load_run(make_run(tmp_path / "runs", smoke("balanced"), kutta4(0.3, 0.7), claim=5))
    assert [f.kind for f in guard([record])] == ["order"]
    assert analysis_row("x", record.tableau)[2] == "4 (claims 5)"


def test_bad_folders_are_listed_and_the_rest_reported(tmp_path, three_runs):
    root = tmp_path / "runs"
    not_a_run = root / "notes"
    not_a_run.mkdir()
    a_file = root / "README.txt"
    a_file.write_text("hello")
    running = runs.prepare_run_dir(root / "running")
    runs.write_manifest(running, smoke("accuracy"), {"status": "running"})
    truncated = make_run(tmp_path / "other", smoke("accuracy"), kutta4(0.4, 0.6))
    text = (truncated / "manifest.json").read_text()
    (truncated / "manifest.json").write_text(text[: len(text) // 2])
    bad = [not_a_run, a_file, running, truncated]
    result = compare([*three_runs, *bad], tmp_path / "report", cross_check=SPEC)
    assert len(result.runs) == 3 and result.ok
    assert len(result.rejected) == 4
    for path, line in zip(bad, result.rejected, strict=False):
        assert line.startswith(str(path)) and "\n" not in line
    assert "not a run folder" in result.rejected[0]
    assert "not a folder" in result.rejected[1]
    assert "still in progress" in result.rejected[2]
    assert "truncated" in result.rejected[3]
    md = (tmp_path / "report" / "index.md").read_text()
    for line in result.rejected:
        assert line in md


def test_no_valid_run_is_an_input_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(rkcore.RKInputError, match="none of the 1 folders"):
        compare([tmp_path / "empty"], tmp_path / "report", cross_check=SPEC)
    assert not (tmp_path / "report").exists()


def test_existing_report_needs_force(tmp_path, three_runs):
    out = tmp_path / "report"
    compare(three_runs[:1], out, cross_check=SPEC)
    before = (out / "index.md").read_text()
    with pytest.raises(rkcore.RKInputError, match="--force"):
        compare(three_runs, out, cross_check=SPEC)
    assert (out / "index.md").read_text() == before
    compare(three_runs, out, cross_check=SPEC, force=True)
    assert (out / "index.md").read_text() != before


def test_key_differences_mark_exactly_the_differing_settings(tmp_path):
    base = smoke("balanced")
    other = base.with_overrides(["objective.w_acc=0.4", "objective.w_eff=0.4"])
    root = tmp_path / "runs"
    profiles = ((base, 0.3), (base.with_seed(1), 0.32), (other, 0.35))
    records = [load_run(make_run(root, p, kutta4(c2, 0.7))) for p, c2 in profiles]
    _, rows = profile_rows(records)
    by_key = {row[0].text: row for row in rows}
    marked = {key for key, row in by_key.items() if row[0].marked}
    assert marked == {"objective.w_acc", "objective.w_eff", "training.seed", "overrides"}
    # only the cells that differ from the row's common value, never the identity rows
    assert [c.marked for c in by_key["objective.w_acc"][1:]] == [False, False, True]
    assert [c.marked for c in by_key["training.seed"][1:]] == [False, True, False]
    for key in ("name", "description", "profile hash", "dataset.seed"):
        assert not any(c.marked for c in by_key[key])
    assert len({c.text for c in by_key["profile hash"][1:]}) == 3
    # two runs that differ: both values differ from each other, both marked
    _, rows = profile_rows([records[0], records[2]])
    row = next(r for r in rows if r[0].text == "objective.w_acc")
    assert all(c.marked for c in row)


def test_cross_check_avoids_the_runs_datasets(tmp_path):
    p = load_profile("balanced").with_overrides([f"dataset.seed={CROSS_CHECK_SEED}"]).smoke()
    record = load_run(make_run(tmp_path / "runs", p, kutta4(0.3, 0.7)))
    spec = cross_check_spec([record])
    assert spec.seed != p.dataset.seed and spec.n_stiff == spec.n_problems // 2
    assert spec.t_end == p.dataset.t_end


# ----------------------------------------------------------------- CLI


@pytest.fixture
def app():
    app = App()
    register(app)
    return app


def _fake_compare(calls, errors):
    from rkml.compare import CompareResult, Finding

    def fake(run_dirs, out_dir, **kwargs):
        calls.append((list(run_dirs), out_dir, kwargs))
        return CompareResult(
            Path(out_dir),
            (),
            (),
            ("x: not a run folder",),
            tuple(Finding("identical", f"guard says {i}") for i in range(errors)),
        )

    return fake


@pytest.mark.parametrize("errors, strict, code", [(0, True, 0), (1, False, 0), (1, True, 3)])
@pytest.mark.parametrize(
    "selection",
    [
        ["--method", "rk4, dopri5", "--force"],
        ["-m", "rk4", "-m", "dopri5", "-f"],
        ["--methods", "rk4,dopri5", "-f"],  # deprecated spelling
    ],
)
def test_cli_compare_calls_the_library(tmp_path, app, monkeypatch, errors, strict, code, selection):
    import rkml.compare

    calls = []
    monkeypatch.setattr(rkml.compare, "compare", _fake_compare(calls, errors))
    args = ["compare", "runs/a", "runs/b", "-o", str(tmp_path / "rep"), *selection]
    result = CliRunner().invoke(app, args + (["--strict"] if strict else []))
    assert result.exit_code == code, result.output
    deprecation = "warning: --methods is deprecated and will be removed in the next release; use --method"
    assert (deprecation in result.stderr.splitlines()) == ("--methods" in selection)
    assert calls == [
        (
            [Path("runs/a"), Path("runs/b")],
            tmp_path / "rep",
            {"methods": ["rk4", "dopri5"], "strict": False, "force": True, "progress": True},
        )
    ]
    assert "skipped: x: not a run folder" in result.output
    assert ("guard error: guard says 0" in result.output) == bool(errors)


def test_cli_compare_end_to_end(tmp_path, app, monkeypatch, three_runs):
    import rkml.compare_eval

    monkeypatch.setattr(rkml.compare_eval, "cross_check_spec", lambda records: SPEC)
    out = tmp_path / "report"
    result = CliRunner().invoke(
        app, ["compare", *map(str, three_runs), str(tmp_path), "-o", str(out), "--strict"]
    )
    assert result.exit_code == 0, result.output
    assert "3 run(s), 1 folder(s) left out, 0 guard error(s)" in result.output
    again = CliRunner().invoke(app, ["compare", *map(str, three_runs), "-o", str(out)])
    assert again.exit_code == 1 and "--force" in again.output


def test_cli_compare_unknown_method(tmp_path, app, three_runs):
    result = CliRunner().invoke(
        app, ["compare", str(three_runs[0]), "-o", str(tmp_path / "r"), "--method", "rk4,nosuch"]
    )
    assert result.exit_code == 1 and "nosuch" in result.output
    assert not (tmp_path / "r").exists()


# ----------------------------------------------------------------- summary and cross-profile matrix


def _losing_metrics(run_dir: Path, stages: int = 4) -> None:
    """A metrics.json whose test split has a library method above the headline (plus a field
    the compare code does not know, which it must ignore)."""
    card = lambda score: {"score": score, "accuracy": 0.0}  # noqa: E731
    test = {
        "learned": card(0.10),
        "initialisation": card(0.0),
        "library": {"ssprk104": card(0.35), "rk4": card(0.0)},
        "gain_over": {"library": {"ssprk104": {"gain": -0.25, "stderr": 0.03, "n": 40}}},
    }
    metrics = {
        "headline": stages,
        "stages": {str(stages): {"test": test, "validation": test}},
        "new_field": [1],
    }
    (run_dir / "metrics.json").write_text(json.dumps(metrics))


def test_summary_comes_first_and_warns_in_red_when_a_library_method_wins(tmp_path, three_runs):
    _losing_metrics(three_runs[1])
    out = tmp_path / "report"
    compare(three_runs, out, cross_check=SPEC)
    md = (out / "index.md").read_text()
    html = (out / "index.html").read_text()
    assert md.index("## Summary") < md.index("## Runs") < md.index("## Cross-profile matrix")
    assert "**BEATEN: library methods that beat a headline**" in md
    warning = (
        f"{three_runs[1].name}: ssprk104 (run's own test split) scores above the headline by 0.25 decades"
    )
    assert warning in md
    assert '<div class="alert beaten">' in html and html.index("alert beaten") < html.index("<h2>Runs</h2>")
    assert ".alert.beaten { border-color: #c62828" in html
    # every headline's score carries its paired s.e.
    summary = md[md.index("## Summary") : md.index("## Runs")]
    for run_dir in three_runs:
        row = next(line for line in summary.splitlines() if line.startswith(f"| {run_dir.name} |"))
        assert re.search(r"\| [+-]\d+\.\d+ ± \d+\.\d+ \|", row)


def test_matrix_sentence_changes_when_a_headline_is_swapped(tmp_path):
    import dataclasses

    from rkml import compare_eval as ce
    from rkml import compare_summary as cs

    root = tmp_path / "runs"
    records = [
        load_run(make_run(root, smoke("balanced"), kutta4(0.3, 0.7))),
        load_run(make_run(root, smoke("stability"), kutta4(0.2, 0.55))),
        load_run(make_run(root, smoke("accuracy"), kutta4(0.45, 0.8))),
    ]
    library = [rkcore.method("rk4")]
    m = cs.build_matrix(records, ce.evaluate_all(records, library, SPEC))
    sentence = cs.matrix_sentence(m)
    assert re.match(r"\d of 3 headlines .* form \d distinct behaviour", sentence)
    swapped = [records[0], dataclasses.replace(records[1], tableau=records[0].tableau), records[2]]
    m2 = cs.build_matrix(swapped, ce.evaluate_all(swapped, library, SPEC))
    assert cs.matrix_sentence(m2) != sentence
    # two identical headlines are one behaviour
    n_before = int(re.search(r"form (\d) distinct", sentence).group(1))
    n_after = int(re.search(r"form (\d) distinct", cs.matrix_sentence(m2)).group(1))
    assert n_after <= n_before and n_after < 3


def test_recorded_library_above_tolerates_extra_and_missing_fields(tmp_path):
    from rkml.compare_summary import recorded_library_above

    run = make_run(tmp_path / "runs", smoke("balanced"), kutta4(0.3, 0.7))
    assert recorded_library_above(load_run(run)) == {}
    (run / "metrics.json").write_text(json.dumps({"library_above": ["dopri5"], "stages": {"4": "junk"}}))
    above = recorded_library_above(load_run(run))
    assert list(above) == ["dopri5"] and np.isnan(above["dopri5"])
    _losing_metrics(run)
    assert recorded_library_above(load_run(run)) == pytest.approx({"ssprk104": 0.25})


def test_pm_rounds_value_to_the_error():
    from rkml.compare_summary import pm

    assert pm((0.1234, 0.0312)) == "+0.123 ± 0.031"
    assert pm((-1.5, 0.26)) == "-1.50 ± 0.26"


def test_every_table_is_written_as_csv_and_latex(tmp_path, three_runs):
    import csv

    out = tmp_path / "report"
    result = compare(three_runs, out, cross_check=SPEC)
    csvs, texs = sorted(out.glob("table-*.csv")), sorted(out.glob("table-*.tex"))
    assert len(csvs) == len(texs) >= 5 and [p.stem for p in csvs] == [p.stem for p in texs]
    assert set(csvs + texs) <= set(result.files)
    summary = next(p for p in csvs if "answer-first" in p.name)
    rows = list(csv.reader(summary.open()))
    assert rows[0][0] == "run" and len(rows) == 4
    # value ± s.e. columns come back as two numeric columns
    assert rows[0][3:5] == ["score", "score s.e."] and rows[0][6:8] == ["headline − it", "headline − it s.e."]
    assert all(float(r[3]) == float(r[3]) and float(r[4]) >= 0 for r in rows[1:])
    tex = summary.with_suffix(".tex").read_text()
    assert r"\begin{tabular}" in tex and r"$\pm$" in tex and tex.rstrip().endswith(r"\end{tabular}")
    # an SVG beside every PNG, and a decimal-aligned Butcher tableau per learned tableau
    assert sorted(p.stem for p in out.glob("*.svg")) == sorted(p.stem for p in out.glob("*.png"))
    butcher = sorted(out.glob("butcher-*.tex"))
    assert len(butcher) == 3 and all(p.with_suffix(".csv").is_file() for p in butcher)
    assert r"\begin{tabular}{r@{.}l|r@{.}lr@{.}lr@{.}lr@{.}l}" in butcher[0].read_text()


def test_guard_allows_a_shared_side_stage_count_when_the_headlines_differ(tmp_path):
    # Weightings that differ only where a stage count cannot tell candidates apart (4 stages,
    # order 4) legitimately give the same side tableau; the headlines are what must differ.
    root = tmp_path / "runs"
    side = rkcore.method("kutta3")
    a = make_run(root, smoke("balanced"), kutta4(0.3, 0.7))
    b = make_run(root, smoke("efficiency-v2"), kutta4(0.4, 0.6))
    for run in (a, b):
        rkcore.save_tableau(side, run / "tableau-s3.json")
    assert guard([load_run(a), load_run(b)]) == ()


# ----------------------------------------------------------------- tables and figures for print


def test_butcher_tableaux_are_decimal_aligned():
    from rkml.report import Butcher, butcher_latex, butcher_text, render_html, split_decimal

    t = kutta4(0.3, 0.7)
    block = Butcher.of(t, caption="kutta")
    text = butcher_text(block)
    lines = [line for line in text.splitlines() if not line.startswith("-")]
    assert len(lines) == 5
    # every entry of a column has its decimal point in the same character column
    for line in lines:
        left, _, body = line.partition(" | ")
        assert "." not in left or left.index(".") == lines[1].partition(" | ")[0].index(".")
    # the weight row has a point in every column: every other row's points fall on those columns
    columns = {k for k, ch in enumerate(lines[-1]) if ch == "."}
    assert len(columns) == 4
    for line in lines[:-1]:
        assert {k for k, ch in enumerate(line) if ch == "."} <= columns | {lines[1].index(".")}, text
    assert split_decimal(-0.125) == ("-0", ".125") and split_decimal(1.0) == ("1", "") == split_decimal(1)
    assert split_decimal(None) == ("", "") and split_decimal(0.0) == ("0", "")
    html = render_html([block], ".", "t")
    assert '<table class="butcher">' in html and "td.i { text-align: right" in html.replace(
        "table.butcher ", ""
    )
    assert html.count('<td class="i">') == html.count('<td class="f">') + html.count('<td class="f sep">')
    tex = butcher_latex(block)
    assert r"\begin{tabular}{r@{.}l|r@{.}lr@{.}lr@{.}lr@{.}l}" in tex and r"\hline" in tex
    assert "0 & 3 & 0 & 3" in tex  # c2 = 0.3 and a21 = 0.3, each split at the point
    # blanks span both halves (no stray point), integers keep the point's width
    assert tex.splitlines()[2].startswith(r"\multicolumn{1}{r@{\phantom{.}}}{0} &  & \multicolumn{2}{c}{}")
    assert r"\multicolumn{2}{c|}{}" in tex.splitlines()[-2]


def test_number_columns_share_one_format_and_mark_the_best():
    from rkml.report import best_indices, fmt_column

    assert fmt_column([-7.3, -7.841]) == ["-7.300", "-7.841"]
    assert fmt_column([9.483e-4, 0.00137]) == ["9.483e-04", "1.370e-03"]
    assert fmt_column([1, 2, None]) == ["1", "2", "–"]
    assert fmt_column([float("inf"), 2.5, None]) == ["∞", "2.500", "–"]
    assert best_indices([0.1, 0.3, None, float("nan")]) == {1}
    assert best_indices([0.1, 0.3], higher=False) == {0} and best_indices([0.2]) == set()
    assert best_indices([0.3, 0.1, 0.3]) == {0, 2} and best_indices([0.5, 0.5]) == set()


@pytest.fixture(scope="module")
def full_report(tmp_path_factory):
    """One report of three crafted runs, shared by the checks below (scoring once keeps them fast);
    the progress it writes (not a terminal here) is kept in ``stderr``."""
    import contextlib
    import io

    root = tmp_path_factory.mktemp("full")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RKCORE_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "rkcore-cache"))
        run_dirs = [
            make_run(root / "runs", smoke("balanced"), kutta4(0.3, 0.7), init=kutta4(0.35, 0.65)),
            make_run(root / "runs", smoke("stability"), kutta4(0.4, 0.6)),
            make_run(root / "runs", smoke("efficiency-v2"), kutta4(0.25, 0.75)),
        ]
        _losing_metrics(run_dirs[1])
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            result = compare(run_dirs, root / "report", cross_check=SPEC, progress=True)
    return result, err.getvalue()


def _table(md: str, caption: str) -> list[list[str]]:
    """Body rows of the Markdown table under ``*caption*``, as lists of cell texts."""
    start = md.index(f"*{caption}")
    lines = md[start:].split("\n\n", 2)[1].splitlines()
    return [[c.strip() for c in line.strip("|").split(" | ")] for line in lines[2:]]


SCORE = re.compile(r"^\**[+-]?\d+\.\d+ ± \d+(\.\d+)?\**$")


def test_every_score_carries_its_paired_standard_error(full_report):
    result, _ = full_report
    md = (result.out_dir / "index.md").read_text()
    summary = _table(md, "the answer first")
    assert all(SCORE.match(row[3]) and SCORE.match(row[5]) for row in summary)
    # number columns right-aligned in Markdown too
    assert "| run | profile | s | score ± s.e. |" in md and "|---|---|---:|---:|---|---:|---|" in md
    cross = _table(md, "learned headline tableaux in bold names")
    assert len(cross) >= 4 and all(SCORE.match(row[-1]) for row in cross)
    general = _table(md, "does the headline tableau generalise?")
    assert all(SCORE.match(row[2]) and SCORE.match(row[4]) and SCORE.match(row[5]) for row in general)
    matrix = _table(md, "cross-profile matrix")
    assert all(
        re.match(r"^\**[+-]\d\.\d{3} \((own|[+-]\d+\.\d+ ± \d+\.\d+)\)\**$", c) for r in matrix for c in r[1:]
    )
    own = _table(md, f"scores of {result.runs[1].label} on its own dataset (4 stages")
    assert any(re.match(r"^[+-]\d+\.\d+ ± \d+\.\d+$", row[-1]) for row in own)
    # best per column in bold, one per numeric column of the cross-check table
    assert sum(row[-1].startswith("**") for row in cross) == 1
    # the statement of what ± means is next to every table with one
    assert md.count("one s.e. of the paired per-problem differences") >= 3


def test_numbers_are_right_aligned_in_html(full_report):
    result, _ = full_report
    html = (result.out_dir / "index.html").read_text()
    assert "td.num { text-align: right; font-variant-numeric: tabular-nums" in html
    cells = re.findall(r"<td([^>]*)>(?:<strong>)?([+-]?\d+\.\d+ ± \d+\.\d+)", html)
    assert len(cells) > 10 and all('class="num"' in attrs for attrs, _ in cells)


def test_every_figure_is_written_as_png_and_svg_and_progress_is_shown(full_report):
    result, stderr = full_report
    out = result.out_dir
    pngs = sorted(p.stem for p in out.glob("*.png"))
    assert pngs == ["generalisation", "stability_regions", "tradeoff", "training_curves", "work_precision"]
    assert sorted(p.stem for p in out.glob("*.svg")) == pngs
    for stem in pngs:
        assert (out / f"{stem}.svg").read_text().lstrip().startswith(("<?xml", "<svg"))
        assert out / f"{stem}.svg" in result.files
    # the HTML shows each figure at two thirds of its pixel width (print-like font size on screen)
    html = (out / "index.html").read_text()
    widths = [int(w) for w in re.findall(r'<img src="data:image/png;base64,[^"]+" width="(\d+)"', html)]
    assert len(widths) == len(pngs) and all(300 <= w <= 1000 for w in widths)
    # plain progress lines when stderr is not a terminal, for the scoring and the figures
    assert "compare: scoring" in stderr and "compare: figures" in stderr and "\r" not in stderr


def _figures(n_learned: int = 6):
    """The three per-method figures drawn from one style map, on made-up data."""
    from rkml import compare_plots as cp

    names = ["accuracy", "balanced", "efficiency", "efficiency-v2", "mixed", "stability"]
    labels = [f"{names[k % 6]}-{k}-ffa8532{k}" for k in range(n_learned)]
    labels += ["rk4", "ssprk104", "dopri5", "kutta3", "rk38"]
    learned = [k < n_learned for k in range(len(labels))]
    styles = cp.method_styles(labels, learned)
    nfev = np.array([40.0, 80, 160, 320])
    curves = [cp.Curve(lab, nfev, 1e-3 * (nfev / 40) ** -4 * (1 + 0.01 * k), flag)
              for k, (lab, flag) in enumerate(zip(labels, learned, strict=True))]  # fmt: skip
    points = [cp.Point(lab, 0.01 * k, 0.02 * k, 0.3 + 0.001 * k, flag)
              for k, (lab, flag) in enumerate(zip(labels, learned, strict=True))]  # fmt: skip
    tableaux = [kutta4(0.3 + 0.01 * k, 0.7) for k in range(3)] + [rkcore.method("rk4")]
    gains = [cp.Gain(lab, "rk4", 0.1 * k - 0.2, 0.05) for k, lab in enumerate(labels[:n_learned])]
    figs = {
        "generalisation": cp.draw_generalisation(gains, title="g", styles=styles),
        "work_precision": cp.draw_work_precision(curves, title="wp", styles=styles),
        "tradeoff": cp.draw_tradeoff(points, title="t", styles=styles),
        "stability": cp.draw_stability_regions(tableaux, labels[:3] + ["rk4"], styles, title="s"),
    }
    return cp, styles, figs


def _legend_styles(fig) -> dict[str, tuple]:
    from matplotlib.colors import to_hex

    legend = fig.legends[0]
    out = {}
    for handle, text in zip(legend.legend_handles, legend.get_texts(), strict=True):
        label = text.get_text().split(" (")[0]  # "(off scale below)", "(+3 identical)"
        out[label] = (to_hex(handle.get_color()), handle.get_marker(), handle.get_linestyle())
    return out


def test_one_colour_and_marker_per_method_in_every_figure():
    from matplotlib.colors import to_hex

    _, styles, figs = _figures()
    gen = figs.pop("generalisation")  # no legend: its rows are named on the y axis
    marked = [line for line in gen.axes[0].get_lines() if line.get_marker() not in ("None", "", None)]
    markers = [(to_hex(line.get_color()), line.get_marker()) for line in marked]
    expected = [(to_hex(st["color"]), st["marker"]) for st in list(styles.values())[:6]]
    assert [m for m in markers if m[1] != "|"] == expected
    seen = {name: _legend_styles(fig) for name, fig in figs.items()}
    assert all(len(legend) == len(figs[name].legends[0].get_texts()) for name, legend in seen.items())
    for name, legend in seen.items():
        for label, (color, marker, _) in legend.items():
            assert color == to_hex(styles[label]["color"]), (name, label)
            if name != "stability":
                assert marker == styles[label]["marker"], (name, label)
    # no two methods share colour and marker; learned and library methods differ in line style
    pairs = [(to_hex(st["color"]), st["marker"]) for st in styles.values()]
    assert len(set(pairs)) == len(pairs)
    assert len({to_hex(st["color"]) for st in styles.values()}) == len(styles)
    assert [st["ls"] for st in styles.values()] == ["-"] * 6 + ["--"] * 5


def test_figures_are_readable_at_column_width_with_legends_outside_the_data():
    from matplotlib.text import Text

    cp, _, figs = _figures()
    curves = [
        {4: {"step": [0, 1, 2], "train": [-1, 0, 1]}, 5 + k % 2: {"step": [0, 1], "train": [0, 1]}}
        for k in range(4)
    ]
    grid = cp.draw_training_grid(
        [(f"run-{k}", c, f"w = ({k}, 0, 0)") for k, c in enumerate(curves)], title="tc"
    )
    for name, fig in {**figs, "training": grid}.items():
        width = fig.get_size_inches()[0]
        assert width <= (cp.TEXT_WIDTH if name == "training" else cp.COLUMN_WIDTH), name
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
        assert texts and min(t.get_fontsize() for t in texts) >= cp.FONT_PT, name
        if not fig.legends:
            continue
        legend_box = fig.legends[0].get_window_extent(renderer)
        assert legend_box.width <= fig.bbox.width, name  # the legend does not widen the figure
        for ax in fig.axes:
            if ax.get_visible():
                assert not legend_box.overlaps(ax.get_window_extent(renderer)), name
    # one colour per stage count, the same in every panel; every panel has its own objective axis
    colors = cp.stage_colors([6, 4, 5])
    lines = {
        ax.get_title(): {line.get_color() for line in ax.get_lines()[:-1]} for ax in grid.axes if ax.lines
    }
    assert lines["run-0"] == {colors[4], colors[5]} and lines["run-1"] == {colors[4], colors[6]}
    assert [ax.get_ylabel().splitlines()[-1] for ax in grid.axes[:2]] == ["w = (0, 0, 0)", "w = (1, 0, 0)"]
    assert all("decades" in ax.get_ylabel() for ax in grid.axes if ax.get_visible())
