"""The ``rkcore`` command: list, analyse and plot Runge--Kutta tableaux.

    rkcore methods [--json]
    rkcore analyze [FILE.json ...] [--method NAME ...] [--json]
    rkcore plot-stability [FILE.json ...] [--method NAME ...] -o regions.png [--force]
    rkcore evaluate ... / rkcore work-precision ...   (registered from :mod:`cli.rkcore_eval`)

Tableaux come from JSON files (in the order given) followed by library methods.
Bad input prints one line on stderr and exits with status 1; the exit statuses are
listed in ``rkcore --help`` (:data:`cli.common.EXIT_STATUS`).
"""

from __future__ import annotations

import math
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

import rkcore
from cli.common import (
    EXIT_BAD_INPUT,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    App,
    ForceFlag,
    JsonFlag,
    MethodOption,
    OutputOption,
    TableauFiles,
    VersionFlag,
    check_output_path,
    exit_status_epilog,
    fail,
    handles_user_errors,
    load_tableaux,
    to_json,
)
from rkcore.errors import RKInputError

app = App(
    name="rkcore",
    help="Analyse and evaluate explicit Runge-Kutta methods: library, order and stability, scores, plots.",
    epilog=exit_status_epilog(
        (0, EXIT_BAD_INPUT, EXIT_USAGE, EXIT_INTERRUPTED),
        {EXIT_BAD_INPUT: " (missing or malformed file, unknown method, bad option value)"},
    ),
    no_args_is_help=True,
)


@app.callback()
def _root(version: VersionFlag = False) -> None:
    pass  # --version acts in its own callback; the help text is the app's


# ----------------------------------------------------------------- methods


@app.command("methods")
@handles_user_errors
def methods_command(json_output: JsonFlag = False) -> None:
    """List the library of classical methods (name, stages, stated order, embedded order, source)."""
    rows = [
        {
            "name": name,
            "stages": t.stages,
            "order": t.stated_order,
            "embedded_order": t.info.get("embedded_order"),
            "source": t.info.get("source", ""),
        }
        for name, t in ((name, rkcore.method(name)) for name in rkcore.methods())
    ]
    if json_output:
        typer.echo(to_json(rows))
        return
    table = Table(title="rkcore method library", title_justify="left")
    table.add_column("name", style="bold")
    table.add_column("stages", justify="right")
    table.add_column("order", justify="right")
    table.add_column("embedded", justify="right")
    table.add_column("source", overflow="fold")
    for row in rows:
        embedded = "" if row["embedded_order"] is None else str(row["embedded_order"])
        table.add_row(row["name"], str(row["stages"]), str(row["order"]), embedded, escape(row["source"]))
    Console().print(table)


# ----------------------------------------------------------------- analyze


@app.command("analyze")
@handles_user_errors
def analyze_command(
    files: TableauFiles = None, method: MethodOption = None, json_output: JsonFlag = False
) -> None:
    """Report order, stage order, principal error norm and stability of tableaux.

    Give tableau JSON files, library methods (--method rk4), or both.  With --json
    the output is one JSON object for one tableau and a JSON list for several
    (non-finite numbers are written as null).  Stability figures are printed to the
    digits their error estimates support; a figure that cannot be verified is not
    printed, and the command then ends with a one-line error and exit status 1.
    """
    tableaux = load_tableaux(files, method)
    reports = [rkcore.analyze(t).to_dict() for t in tableaux]
    if json_output:
        typer.echo(to_json(reports[0] if len(reports) == 1 else reports))
    else:
        console = Console()
        for i, (tableau, report) in enumerate(zip(tableaux, reports, strict=True)):
            if i:
                console.print()
            _print_report(console, tableau, report)
    unverified = [
        f"{report.get('name') or tableau.name or '(unnamed)'}: "
        + ", ".join(_FIGURE_LABELS.get(key, key) for key in report["unverified"])
        for tableau, report in zip(tableaux, reports, strict=True)
        if report.get("unverified")
    ]
    if unverified:
        fail(
            "stability figures could not be verified in floating point (see the notes): "
            + "; ".join(unverified)
        )


_FIGURE_LABELS = {
    "real_stability_interval": "real stability interval",
    "imaginary_stability_interval": "imaginary stability interval",
    "stability_area": "stability area",
}


def _print_report(console: Console, tableau: rkcore.Tableau, report: dict[str, Any]) -> None:
    title = report.get("name") or tableau.name or "(unnamed)"
    kind = "explicit" if tableau.is_explicit else "implicit"
    if tableau.is_fsal:
        kind += ", FSAL"
    console.print(f"[bold]{escape(title)}[/bold]  {tableau.stages} stages, {kind}")
    # soft_wrap: a wide tableau must not get line breaks inserted inside its rows.
    console.print(escape(rkcore.butcher_layout(tableau)), highlight=False, soft_wrap=True)

    summary = Table(show_header=False, box=None, pad_edge=False)
    summary.add_column(style="cyan")
    summary.add_column()
    order_text = str(report["order"])
    if tableau.stated_order is not None and tableau.stated_order != report["order"]:
        order_text += f"  (stated {tableau.stated_order})"
    summary.add_row("order", order_text)
    if report.get("first_failed_condition") is not None:
        residual = report.get("first_failed_residual")
        detail = "" if residual is None else f"  (residual {residual:.3e})"
        summary.add_row("first failed condition", f"{report['first_failed_condition']}{detail}")
    summary.add_row("stage order", str(report["stage_order"]))
    summary.add_row("principal error norm", _number(report["principal_error_norm"]))
    if tableau.has_embedded:
        summary.add_row("embedded order", str(report.get("embedded_order")))
    if report.get("stability_polynomial") is not None:
        summary.add_row("stability polynomial", "R(z) = " + _polynomial(report["stability_polynomial"]))
    else:
        numerator = _polynomial(report.get("stability_numerator"))
        denominator = _polynomial(report.get("stability_denominator"))
        summary.add_row("stability function", f"R(z) = ({numerator}) / ({denominator})")
    unverified = set(report.get("unverified", ()))
    errors = report.get("stability_errors") or {}

    def figure(key: str) -> str | None:
        """The figure to its verified digits; None when it was not verified."""
        if key in unverified:
            return None
        return _number(report[key], errors.get(key))

    real = figure("real_stability_interval")
    summary.add_row("real stability interval", "not verified" if real is None else f"[-{real}, 0]")
    imag = report["imaginary_stability_interval"]
    imag_num = figure("imaginary_stability_interval")
    if imag_num is None:
        imag_text = "not verified"
    elif imag == 0:
        imag_text = "0 (no stable segment)"
    else:
        imag_text = f"[-{imag_num}i, {imag_num}i]"
    summary.add_row("imaginary stability interval", imag_text)
    area = figure("stability_area")
    summary.add_row("stability area (Re z <= 0)", "not verified" if area is None else area)
    for note in report.get("notes", ()):
        summary.add_row("note", escape(note))
    console.print(summary, highlight=False)


def _number(x: Any, error: Any = None) -> str:
    """``x`` to 10 significant digits, or fewer when its estimated absolute ``error`` says so."""
    # analyze() writes unbounded intervals and areas as None (JSON has no infinity).
    if x is None:
        return "unbounded"
    x = float(x)
    digits = 10
    if error is not None and error > 0.0 and x != 0.0:
        digits = int(min(10, max(1, math.floor(-math.log10(float(error) / abs(x))))))
    return f"{x:.{digits}g}"


_TINY = 1e-290
"""Below this a float64 has lost relative precision to underflow (it is within 2^52 of the
subnormal range): such coefficients -- the top ones of a many-stage method -- are not printed."""


def _polynomial(coefficients: Any) -> str:
    """``1 + z + 0.5 z^2 + ...`` from ascending coefficients."""
    if coefficients is None:
        return "?"
    terms = []
    hidden = 0
    for k, a in enumerate(coefficients):
        a = float(a)
        if hidden or 0.0 < abs(a) < _TINY:
            hidden += 1  # from the first underflowing coefficient on, zeros are underflow too
            continue
        if a == 0.0:
            continue
        power = "" if k == 0 else ("z" if k == 1 else f"z^{k}")
        coef = f"{abs(a):.6g}"
        if k > 0 and coef == "1":
            coef = ""
        body = f"{coef} {power}".strip()
        terms.append(("- " if a < 0 else "+ ") + body)
    if hidden:
        terms.append(f"+ ... ({hidden} further coefficients below {_TINY:g}, not representable accurately)")
    text = " ".join(terms) or "0"
    return text[2:] if text.startswith("+ ") else text


# ----------------------------------------------------------------- plot-stability


@app.command("plot-stability")
@handles_user_errors
def plot_stability_command(
    output: OutputOption,
    files: TableauFiles = None,
    method: MethodOption = None,
    force: ForceFlag = False,
) -> None:
    """Plot the stability regions {z : |R(z)| <= 1} of tableaux, overlaid, into a PNG file.

    An existing output file is kept (exit 1) unless --force is given.
    """
    if output.suffix.lower() != ".png":
        raise RKInputError(f"{output}: the plot is a PNG image; give an output path ending in .png")
    check_output_path(output, force)
    tableaux = load_tableaux(files, method)
    written = rkcore.plot_stability_regions(tableaux, output)
    typer.echo(f"wrote {written if written is not None else output} ({len(tableaux)} tableaux)")


# ----------------------------------------------------------------- evaluation commands (issue 3)

from cli import rkcore_eval  # noqa: E402  (after the commands above, so `--help` lists them first)

rkcore_eval.register(app)


def main() -> None:
    """Console-script entry point (``rkcore``)."""
    app(prog_name="rkcore")


if __name__ == "__main__":
    main()
