"""The ``rkcore`` command line: arguments reach the library unchanged, real runs give the
published RK4 numbers, and bad input ends in one line on stderr with exit code 1."""

from __future__ import annotations

import json
import math
import os
import re
import shlex
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from nodepy.runge_kutta_method import loadRKM
from stability_families import chebyshev_product_tableau, euler_substeps
from typer.testing import CliRunner

import rkcore
from cli.rkcore_app import app

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
SEED42 = FIXTURES / "seed42_published.json"
runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def assert_one_line_error(result, *fragments: str) -> str:
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert result.stdout == ""
    err = result.stderr
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err
    return err


@pytest.fixture
def analyze_calls(monkeypatch):
    """Replace rkcore.analyze by a recorder returning a fixed, recognisable report."""
    calls: list[rkcore.Tableau] = []

    def fake_analyze(tableau):
        calls.append(tableau)
        return SimpleNamespace(
            to_dict=lambda: {
                "name": tableau.name,
                "stages": tableau.stages,
                "order": 99,
                "stage_order": 1,
                "principal_error_norm": 0.5,
                "stability_polynomial": [1.0, 1.0],
                "real_stability_interval": 2.0,
                "imaginary_stability_interval": 0.0,
                "stability_area": float("inf"),
                "explicit": True,
                "fsal": False,
                "first_failed_condition": "b·c = 1/2",
                "first_failed_residual": 0.25,
            }
        )

    monkeypatch.setattr(rkcore, "analyze", fake_analyze)
    return calls


@pytest.fixture
def plot_calls(monkeypatch):
    calls: list[tuple[list[rkcore.Tableau], Path]] = []

    def fake_plot(tableaux, path, *args, **kwargs):
        calls.append((list(tableaux), path, args, kwargs))
        Path(path).write_bytes(b"fake png")
        return Path(path)

    monkeypatch.setattr(rkcore, "plot_stability_regions", fake_plot)
    return calls


def write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


# ----------------------------------------------------------------- methods


def test_methods_table_lists_the_library():
    result = invoke("methods")
    assert result.exit_code == 0, result.stderr
    for name in rkcore.methods():
        assert name in result.stdout
    assert "Dormand" in result.stdout


def test_methods_json_matches_the_library():
    result = invoke("methods", "--json")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [row["name"] for row in rows] == list(rkcore.methods())
    by_name = {row["name"]: row for row in rows}
    assert by_name["dopri5"] == {
        "name": "dopri5",
        "stages": 7,
        "order": 5,
        "embedded_order": 4,
        "source": rkcore.method("dopri5").info["source"],
    }
    assert by_name["rk4"]["embedded_order"] is None


# ----------------------------------------------------------------- analyze: arguments reach the library


def test_analyze_method_passes_the_library_constant(analyze_calls):
    result = invoke("analyze", "--method", "rk4", "--json")
    assert result.exit_code == 0, result.stderr
    assert len(analyze_calls) == 1 and analyze_calls[0] is rkcore.method("rk4")
    out = json.loads(result.stdout)
    assert isinstance(out, dict) and out["order"] == 99 and out["name"] == "rk4"
    assert out["stability_area"] is None  # inf is not JSON; written as null


def test_analyze_files_then_methods_in_order(analyze_calls, tmp_path):
    heun = rkcore.method("heun").replace(name="my heun")
    path = tmp_path / "mine.json"
    rkcore.save_tableau(heun, path)
    result = invoke("analyze", path, "-m", "RK4", "--method", "dopri5", "--json")
    assert result.exit_code == 0, result.stderr
    assert [t.name for t in analyze_calls] == ["my heun", "rk4", "dopri5"]
    assert analyze_calls[0].equals(heun) and analyze_calls[0].info == heun.info
    assert analyze_calls[2] is rkcore.method("dopri5")
    out = json.loads(result.stdout)
    assert isinstance(out, list) and [d["name"] for d in out] == ["my heun", "rk4", "dopri5"]


def test_analyze_report_shows_the_analysis(analyze_calls):
    result = invoke("analyze", "--method", "bs3")
    assert result.exit_code == 0, result.stderr
    assert analyze_calls == [rkcore.method("bs3")]
    text = result.stdout
    assert "bs3" in text and "4 stages, explicit, FSAL" in text
    assert "99  (stated 3)" in text  # the fake analysis disagrees with the stated order
    assert "embedded order" in text


# ----------------------------------------------------------------- analyze: real end-to-end


def test_analyze_rk4_json_end_to_end():
    result = invoke("analyze", "--method", "rk4", "--json")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    ref = loadRKM("RK44")
    # Closed forms: R(x) = 1 on the real axis at the real root of 1 + x/2 + x^2/6 + x^3/24,
    # and |R(iy)| = 1 at y = 2*sqrt(2).
    roots = np.roots([1 / 24, 1 / 6, 1 / 2, 1])
    real_root = float(-roots[np.abs(roots.imag) < 1e-12].real[0])
    assert out["name"] == "rk4" and out["stages"] == 4
    assert out["order"] == 4 and out["stage_order"] == 1
    assert out["real_stability_interval"] == pytest.approx(real_root, rel=1e-8)
    assert out["imaginary_stability_interval"] == pytest.approx(2 * math.sqrt(2), rel=1e-8)
    assert out["principal_error_norm"] == pytest.approx(ref.principal_error_norm(), rel=1e-8)
    assert f"{out['real_stability_interval']:.8f}".startswith("2.78529356")
    assert f"{out['imaginary_stability_interval']:.8f}".startswith("2.82842712")
    assert f"{out['principal_error_norm']:.7f}".startswith("0.0145046")
    np.testing.assert_allclose(out["stability_polynomial"], [1, 1, 1 / 2, 1 / 6, 1 / 24], rtol=1e-14)
    assert "embedded_order" not in out
    assert out["first_failed_condition"] == "b·c⁴ = 1/5" and out["stability_area"] > 0


def test_analyze_embedded_pair_reports_embedded_order():
    result = invoke("analyze", "--method", "dopri5", "--json")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["order"] == 5 and out["embedded_order"] == 4


def test_analyze_seed42_fixture_is_order_zero_failing_sum_b():
    result = invoke("analyze", SEED42, "--json")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["order"] == 0
    assert out["first_failed_condition"] == "Σb = 1"
    expected = sum(json.loads(SEED42.read_text())["b"]) - 1.0
    assert out["first_failed_residual"] == pytest.approx(expected, abs=1e-15)

    text = invoke("analyze", SEED42)
    assert text.exit_code == 0, text.stderr
    assert "seed42_published" in text.stdout and "Σb = 1" in text.stdout


def test_analyze_readable_report_end_to_end():
    result = invoke("analyze", "--method", "rk4")
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    for label in ("order", "stage order", "principal error norm", "real stability interval",
                  "imaginary stability interval", "stability area"):  # fmt: skip
        assert label in text
    assert "2.78529356" in text and "2.82842712" in text


def test_analyze_a_200_stage_tableau_end_to_end(tmp_path):
    """200 Euler substeps, R = (1 + z/200)^200: exact figures, nothing on stderr (issue 9)."""
    s = 200
    path = tmp_path / "euler200.json"
    rkcore.save_tableau(euler_substeps(s), path)
    result = invoke("analyze", path, "--json")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    out = json.loads(result.stdout)
    assert out["real_stability_interval"] == pytest.approx(2.0 * s, rel=1e-8)
    assert out["imaginary_stability_interval"] == 0.0
    assert out["stability_area"] == pytest.approx(math.pi * s * s, rel=1e-8)
    assert out["stability_errors"]["real_stability_interval"] <= 1e-8 * 2 * s
    assert "unverified" not in out
    text = invoke("analyze", path)
    assert text.exit_code == 0 and text.stderr == ""
    assert "[-400, 0]" in text.stdout and "0 (no stable segment)" in text.stdout
    assert "125663.7061" in text.stdout
    # p_k = C(200, k)/200^k underflows from k = 148 on: those are not printed as numbers
    assert "53 further coefficients below 1e-290" in " ".join(text.stdout.split())
    assert not re.search(r"e-(29[1-9]|3[0-9][0-9])", text.stdout)


def test_analyze_does_not_print_a_figure_it_cannot_verify(tmp_path):
    """An internally unstable 60-stage tableau: R cannot be evaluated from its entries."""
    path = tmp_path / "product60.json"
    rkcore.save_tableau(chebyshev_product_tableau(60), path)
    for args in ((path,), (path, "--json")):
        result = invoke("analyze", *args)
        assert result.exit_code == 1
        err = result.stderr
        assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err
        assert "could not be verified" in err and "real stability interval" in err
    out = json.loads(result.stdout)  # the --json run: the report, with the figure as null
    assert out["real_stability_interval"] is None and "real_stability_interval" in out["unverified"]
    assert any("not verified" in note for note in out["notes"])
    text = invoke("analyze", path).stdout
    assert "not verified" in text
    assert "7200" not in text  # the interval of T_60(1 + z/3600), 2·60², must not appear unverified


# ----------------------------------------------------------------- analyze: bad input


def test_no_tableau_given():
    assert_one_line_error(invoke("analyze"), "no tableau given", "--method")


def test_unknown_method_suggests_the_closest():
    err = assert_one_line_error(invoke("analyze", "--method", "rk5"), "unknown method 'rk5'; known: euler")
    assert "rk4" in err.split("(closest: ")[1]


def test_missing_file(tmp_path):
    assert_one_line_error(invoke("analyze", tmp_path / "absent.json"), "absent.json: no such file")


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        ('{"A": [[0]], "b": [1', ("invalid JSON at line 1",)),
        ('{"A": [[0, 0], [NaN, 0]], "b": [0.5, 0.5]}', ("NaN", "finite")),
        ({"A": [[0, 0], [1]], "b": [0.5, 0.5]}, ("field 'A' is ragged", "row 1")),
        ({"A": [[0, 0], ["one", 0]], "b": [0.5, 0.5]}, ("field 'A[1]' entry 0 is 'one', not a number",)),
        ({"A": [[0, 0], [1, 0]], "b": [0.5, 0.5], "c": [0, 2]}, ("field 'c' row 1",)),
        ({"b": [1]}, ("missing field 'A'",)),
        ([1, 2], ("expected a JSON object",)),
    ],
)
def test_malformed_tableau_files(tmp_path, analyze_calls, content, fragments):
    path = write_json(tmp_path / "bad.json", content)
    assert_one_line_error(invoke("analyze", path), "bad.json", *fragments)
    assert analyze_calls == []


def test_bad_file_stops_before_any_analysis(tmp_path, analyze_calls):
    path = write_json(tmp_path / "bad.json", "[")
    assert_one_line_error(invoke("analyze", path, "--method", "rk4", "--json"), "invalid JSON")
    assert analyze_calls == []


# ----------------------------------------------------------------- plot-stability


def test_plot_stability_passes_tableaux_and_path(plot_calls, tmp_path):
    path = write_json(tmp_path / "mine.json", rkcore.method("heun3").to_dict())
    out = tmp_path / "regions.png"
    result = invoke("plot-stability", path, "--method", "rk4", "-o", out)
    assert result.exit_code == 0, result.stderr
    ((tableaux, target, args, kwargs),) = plot_calls
    assert target == out and args == () and kwargs == {}
    assert tableaux[0].equals(rkcore.method("heun3")) and tableaux[1] is rkcore.method("rk4")
    assert "wrote" in result.stdout and "regions.png" in result.stdout


def test_plot_stability_keeps_an_existing_file_unless_forced(plot_calls, tmp_path):
    out = tmp_path / "regions.png"
    out.write_bytes(b"earlier result")
    assert_one_line_error(invoke("plot-stability", "-m", "rk4", "-o", out), "file exists", "--force")
    assert out.read_bytes() == b"earlier result" and plot_calls == []
    result = invoke("plot-stability", "-m", "rk4", "-o", out, "--force")
    assert result.exit_code == 0, result.stderr
    assert len(plot_calls) == 1 and out.read_bytes() == b"fake png"


def test_plot_stability_errors(plot_calls, tmp_path):
    assert_one_line_error(invoke("plot-stability", "-o", tmp_path / "r.png"), "no tableau given")
    (tmp_path / "dir.png").mkdir()
    assert_one_line_error(invoke("plot-stability", "-m", "rk4", "-o", tmp_path / "dir.png"), "is a folder")
    assert_one_line_error(invoke("plot-stability", "-m", "nope", "-o", tmp_path / "r.png"), "unknown method")
    assert_one_line_error(invoke("plot-stability", "-m", "rk4", "-o", tmp_path / "r.pdf"), "ending in .png")
    assert plot_calls == []


def test_plot_stability_writes_a_png(tmp_path):
    out = tmp_path / "sub" / "regions.png"
    result = invoke("plot-stability", SEED42, "-m", "rk4", "-m", "dopri5", "-o", out)
    assert result.exit_code == 0, result.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ----------------------------------------------------------------- help


@pytest.mark.parametrize(
    ("command", "fragment"),
    [
        ((), "plot-stability"),
        ((), "work-precision"),  # registered from cli/rkcore_eval.py
        (("methods",), "embedded order"),
        (("analyze",), "--method"),
        (("plot-stability",), "--force"),
    ],
)
def test_help(command, fragment):
    result = invoke(*command, "--help")
    assert result.exit_code == 0
    assert fragment in " ".join(result.stdout.split())


# ----------------------------------------------------------------- README quick start and CI


def _quick_start() -> list[str]:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.S)
    return [block.strip() for block in blocks]


def test_readme_quick_start_has_two_commands_and_ci_runs_the_second():
    commands = _quick_start()
    assert len(commands) == 2 and all("\n" not in c for c in commands)
    install_and_run, install_and_test = commands
    assert install_and_run.startswith("python -m pip install -e '.[ml]' && ")
    assert install_and_test.startswith("python -m pip install -e '.[dev,ml]' && ")
    ci = (REPO / ".ci" / "run").read_text()
    assert ci.startswith("#!/usr/bin/env bash") and "set -euo pipefail" in ci
    code_lines = [ln for ln in ci.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    assert code_lines[-1] == install_and_test
    assert os.access(REPO / ".ci" / "run", os.X_OK)


def test_readme_main_command_works(tmp_path):
    command = _quick_start()[0].split(" && ", 1)[1]
    program, *args = shlex.split(command)
    if program == "rkcore":
        result = invoke(*args)
        assert result.exit_code == 0, result.stderr
        assert "order" in result.stdout
    else:  # the main job is rkml train: the CLI must resolve the named profile and call train
        assert program == "rkml"
        from unittest import mock

        from typer.testing import CliRunner

        from cli.rkml_app import app as rkml_app
        from rkml.profile import load_profile

        with mock.patch("rkml.train.train") as train:
            result = CliRunner().invoke(rkml_app, [*args, "--runs-dir", str(tmp_path)])
        assert result.exit_code == 0, result.output
        profile = train.call_args.args[0]
        assert profile == load_profile(args[args.index("--profile") + 1])
