"""``rkcore evaluate`` and ``rkcore work-precision``: score tableaux on a seeded ODE dataset.

    rkcore evaluate [FILE.json ...] [--method NAME ...] [--problems 1000] [--stiff 300]
        [--t-end 0.1] [--target-error 1e-6 | --steps N] [--dataset-seed 0] [--families a,b]
        [--split all]
        [--weights 0.4,0.4,0.2] [--cache-dir DIR] [--json]
    rkcore evaluate [FILE.json ...] [--method NAME ...] --problem-set detest [--steps 200]
        [--weights 0.4,0.4,0.2] [--json]
    rkcore work-precision [FILE.json ...] [--method NAME ...] -o wp.png [--force]
        [--steps 2,4,...] [--tolerances 1e-3,...] [dataset options] [--json]

The metrics are defined in :mod:`rkcore.metrics`; :func:`register` adds both commands to
the ``rkcore`` typer app.  ``--seed`` is the deprecated spelling of ``--dataset-seed``
(``rkml``'s ``--seed`` is the training seed).
"""

from __future__ import annotations

import enum
import math
import re
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cli.common import (
    App,
    ForceFlag,
    JsonFlag,
    MethodOption,
    TableauFiles,
    check_output_path,
    handles_user_errors,
    load_tableaux,
    to_json,
)
from rkcore import evaluate as evaluation
from rkcore import work_precision as wp
from rkcore.calibration import check_target_error, make_plan
from rkcore.datasets import DatasetSpec
from rkcore.errors import RKInputError
from rkcore.metrics import Metrics, Weights
from rkcore.problem_sets import PROBLEM_SETS, ProblemSet, get_problem_set


class SplitName(str, enum.Enum):
    all = "all"
    train = "train"
    validation = "validation"
    test = "test"


ProblemSetName = enum.Enum("ProblemSetName", {name: name for name in PROBLEM_SETS}, type=str)

DATASET_STEPS = 100
"""``--steps`` on a seeded dataset when none is given (a problem set has its own default)."""
# Options that describe a seeded dataset, by parameter name; none applies to a problem set.
_DATASET_PARAMETERS = {  # parameter name -> the option the user types
    "problems": "--problems",
    "stiff": "--stiff",
    "t_end": "--t-end",
    "seed": "--dataset-seed",
    "families": "--families",
    "split": "--split",
    "cache_dir": "--cache-dir",
}


ProblemsOption = Annotated[int, typer.Option("--problems", help="Problems in the dataset.")]
StiffOption = Annotated[
    int | None,
    typer.Option(
        "--stiff",
        help="How many of them come from stiff families (default: 30% of --problems; all of them "
        "when --families names only stiff families, none when only non-stiff ones).",
        show_default=False,
    ),
]
TEndOption = Annotated[float, typer.Option("--t-end", help="Integration horizon of every problem.")]
DatasetSeedOption = Annotated[
    int, typer.Option("--dataset-seed", help="Which problems are drawn (same seed, same problems).")
]
FamiliesOption = Annotated[
    str | None,
    typer.Option(
        "--families",
        metavar="A,B,...",
        help="Comma-separated families (default: every built-in one): built-in names, import paths "
        "module:attribute of an rkcore.Family of your own (from the working directory or sys.path), "
        "or rk_discovery.families entry points.",
    ),
]
SplitOption = Annotated[
    SplitName,
    typer.Option("--split", metavar="SPLIT", help="Part of the dataset: all, train, validation or test."),
]
CacheDirOption = Annotated[
    Path | None,
    typer.Option("--cache-dir", help="Dataset cache folder (default: $RKCORE_CACHE_DIR or ~/.cache/rkcore)."),
]
OutputOption = Annotated[Path, typer.Option("--output", "-o", help="PNG file to write.")]


def _families(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    if not names:
        raise RKInputError("--families is empty; give comma-separated family names or leave it out")
    return names


def _numbers(text: str, option: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise RKInputError(f"{option} must be comma-separated numbers, got {text!r}") from None


def _weights(text: str) -> Weights:
    values = _numbers(text, "--weights")
    if len(values) != 3:
        raise RKInputError(f"--weights needs three numbers accuracy,efficiency,stability, got {text!r}")
    return Weights(*values)


#: The option behind each DatasetSpec field, so that an error names what the user typed.
_SPEC_OPTIONS = {
    "n_problems": "--problems",
    "n_stiff": "--stiff",
    "t_end": "--t-end",
    "seed": "--dataset-seed",
    "families": "--families",
}
_SPEC_FIELD_RE = re.compile(r"(?<![\w-])(?:DatasetSpec\.)?(" + "|".join(_SPEC_OPTIONS) + r")\b")


#: Share of stiff problems when ``--stiff`` is not given and the families are of both kinds.
DEFAULT_STIFF_SHARE = 0.3


def _default_stiff(problems: int, names: tuple[str, ...] | None) -> int:
    """``--stiff`` when not given: 30 % of the problems, all or none if the families are of one kind."""
    from rkcore.problems.sources import resolve_family

    try:
        kinds = {True, False} if names is None else {resolve_family(name).family.stiff for name in names}
    except RKInputError as exc:
        raise RKInputError(f"--families: {exc}") from None
    if kinds == {True}:
        return problems
    if kinds == {False}:
        return 0
    return round(DEFAULT_STIFF_SHARE * problems)


def _spec(problems: int, stiff: int | None, t_end: float, seed: int, families: str | None) -> DatasetSpec:
    names = _families(families)
    if stiff is None:
        stiff = _default_stiff(problems, names)
    try:
        return DatasetSpec(n_problems=problems, n_stiff=stiff, t_end=t_end, seed=seed, families=names)
    except RKInputError as exc:
        message = str(exc)
        if "DatasetSpec." not in message:  # e.g. an unknown family: already in the user's words
            raise
        raise RKInputError(_SPEC_FIELD_RE.sub(lambda m: _SPEC_OPTIONS[m.group(1)], message)) from None


# ----------------------------------------------------------------- evaluate


def evaluate_command(
    ctx: typer.Context,
    files: TableauFiles = None,
    method: MethodOption = None,
    problems: ProblemsOption = 1000,
    stiff: StiffOption = None,
    t_end: TEndOption = 0.1,
    target_error: Annotated[
        float,
        typer.Option(
            "--target-error",
            help="Score each problem at the fewest steps at which RK4's error is at most this.",
        ),
    ] = 1e-6,
    steps: Annotated[
        int | None,
        typer.Option("--steps", help="Instead of --target-error: the same fixed steps for every problem."),
    ] = None,
    seed: DatasetSeedOption = 0,
    families: FamiliesOption = None,
    split: SplitOption = SplitName.all,
    weights: Annotated[
        str,
        typer.Option("--weights", metavar="A,E,S", help="Score weights: accuracy, efficiency, stability."),
    ] = "0.4, 0.4, 0.2",
    cache_dir: CacheDirOption = None,
    problem_set: Annotated[
        ProblemSetName | None,
        typer.Option(
            "--problem-set",
            help="Score on a fixed benchmark set instead of a seeded dataset (detest: the 25 non-stiff "
            "DETEST problems A1-E5 on [0, 20]); the dataset options do not apply.",
            show_default=False,
        ),
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Accuracy, efficiency, stability and weighted score of tableaux on a seeded dataset.

    Each problem is integrated at the fewest steps at which RK4's error is at most
    --target-error (or at --steps steps).  Accuracy is the mean log10 relative error at t_end
    over the non-stiff problems, efficiency the same at the function-evaluation budget of RK4,
    stability the geometric mean over the stiff problems of the largest linearly stable step
    per evaluation (units of 1/rho); sat is the share of errors at the floor or the cap, which
    say nothing.  The score is the weighted gain over RK4 on the same problems (see
    rkcore.metrics).  One table per family and one overall, tableaux side by side.  With
    --problem-set, the same on a fixed set of problems, one row per problem.
    """
    tableaux = load_tableaux(files, method)
    if steps is not None and steps < 1:
        raise RKInputError(f"--steps must be a positive integer, got {steps}")
    try:
        check_target_error(target_error)
    except RKInputError as exc:
        raise RKInputError(str(exc).replace("target_error", "--target-error", 1)) from None
    if problem_set is not None:
        chosen = get_problem_set(problem_set.value)
        given = [flag for name, flag in _DATASET_PARAMETERS.items() if _given_on_command_line(ctx, name)]
        if given:
            message = f"{', '.join(given)} describe a seeded dataset; --problem-set {chosen.name} is fixed"
            raise RKInputError(message)
        _evaluate_problem_set(tableaux, chosen, target_error, steps, _weights(weights), json_output)
        return
    spec = _spec(problems, stiff, t_end, seed, families)
    score_weights = _weights(weights)
    data = evaluation.load_split(spec, split.value, cache_dir=cache_dir, progress=not json_output)
    result = evaluation.evaluate(tableaux, data, _plan(data, target_error, steps), weights=score_weights)
    if json_output:
        typer.echo(to_json({"dataset": spec.to_dict(), "split": split.value, **result.to_dict()}))
        return
    _print_evaluation(result, spec, split.value)


def _fmt(x: float, spec: str = ".2f") -> str:
    return "-" if x is None or not math.isfinite(x) else format(x, spec)


def _metric_cells(m: Metrics) -> list[str]:
    stab = "-" if math.isnan(m.stability) else f"{m.stability:.3f}"
    sat = "-" if math.isnan(m.saturation) else f"{100 * m.saturation:.0f}%"
    return [_fmt(m.accuracy), _fmt(m.efficiency), stab, str(m.n_unstable), sat, f"{m.nfev:,}"]


def _cards_with_baseline(result: evaluation.Evaluation) -> list:
    """The score cards, with RK4's (the baseline) appended unless it was among the tableaux."""
    cards = list(result.cards)
    if not any(c.name == result.baseline.name for c in cards):
        cards.append(result.baseline)
    return cards


def _print_evaluation(result: evaluation.Evaluation, spec: DatasetSpec, split: str) -> None:
    console = Console()
    cards = _cards_with_baseline(result)
    by_family = Table(
        title=(
            f"By family: acc = mean log10 error at {_how(result.plan)}, eff = the same at equal work "
            "(RK4's evaluations), stab = largest stable step per evaluation (1/rho), "
            "sat = errors at the floor or cap"
        ),
        title_justify="left",
    )
    by_family.add_column("family", style="cyan", min_width=max(len(f) for f in result.families))
    by_family.add_column("tableau", style="bold", no_wrap=True)
    for col in ("acc", "eff", "stab", "unstable", "sat", "nfev"):
        by_family.add_column(col, justify="right")
    for i, family in enumerate(result.families):
        if i:
            by_family.add_section()
        for card in cards:
            m = card.families[family]
            label = escape(family) if card is cards[0] else ""
            by_family.add_row(label, escape(card.name), *_metric_cells(m))
    console.print(by_family)

    w = result.weights
    stiff = result.baseline.overall.n_stiff
    console.print(
        _overall_table(
            cards,
            f"Overall: {result.n_problems} problems, {stiff} stiff ({split} split of {spec.n_problems}, "
            f"seed {spec.seed}, "
            f"t_end {spec.t_end:g}); score = {w.accuracy:g} acc + {w.efficiency:g} eff "
            f"+ {w.stability:g} stab, gains over rk4",
        )
    )


def _overall_table(cards: list, title: str) -> Table:
    """Overall metrics and score, one row per score card."""
    metric_columns = ("accuracy", "efficiency", "stability", "unstable", "sat", "nfev")
    overall = Table(title=title, title_justify="left")
    overall.add_column("tableau", style="bold", no_wrap=True)
    overall.add_column("s", justify="right")
    for col in metric_columns:
        overall.add_column(col, justify="right")
    overall.add_column("beta_R/s", justify="right")
    overall.add_column("score", justify="right", style="bold", min_width=6)
    for card in cards:
        overall.add_row(
            escape(card.name),
            str(card.stages),
            *_metric_cells(card.overall),
            _fmt(card.stability_interval_per_stage, ".3f"),
            _fmt(card.score, "+.3f"),
        )
    return overall


def _given_on_command_line(ctx: typer.Context, name: str) -> bool:
    # By name: typer ships its own copy of click, whose ParameterSource is not click's.
    source = ctx.get_parameter_source(name)
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


def _plan(split, target_error: float, steps: int | None):
    """The scoring plan the options ask for: calibrated to --target-error, or --steps fixed steps."""
    return make_plan(split, target_error) if steps is None else make_plan(split, None, n_steps=steps)


def _how(plan: dict) -> str:
    if plan["target_error"] is None:
        return f"{plan['steps_median']:g} fixed steps"
    target, median = plan["target_error"], plan["steps_median"]
    return f"the fewest steps at which RK4's error <= {target:g} (median {median:g})"


def _evaluate_problem_set(
    tableaux: list,
    chosen: ProblemSet,
    target_error: float,
    steps: int | None,
    weights: Weights,
    json_output: bool,
) -> None:
    split = chosen.split()  # cached: the references evaluate() scores against
    result = evaluation.evaluate(tableaux, split, _plan(split, target_error, steps), weights=weights)
    if json_output:
        typer.echo(to_json({"problem_set": chosen.name, **result.to_dict()}))
        return
    console = Console()
    cards = _cards_with_baseline(result)
    per_problem = Table(
        title=(
            f"{chosen.name}: log10 relative error at t_end per problem; acc at {_how(result.plan)}, "
            "eff at equal work (RK4's evaluations); 0 = no correct digit or blown up"
        ),
        title_justify="left",
    )
    per_problem.add_column("problem", style="cyan")
    per_problem.add_column("dim", justify="right")
    per_problem.add_column("reference")
    for card in cards:
        for col in ("acc", "eff"):
            per_problem.add_column(f"{escape(card.name)} {col}", justify="right")
    for group in split.groups:
        name = group.family.name
        cells = [
            _fmt(m) for card in cards for m in (card.families[name].accuracy, card.families[name].efficiency)
        ]
        per_problem.add_row(escape(name), str(group.family.dim), group.ref_method, *cells)
    console.print(per_problem)
    w = result.weights
    console.print(
        _overall_table(
            cards,
            f"Overall: {result.n_problems} problems of {chosen.name}; score = {w.accuracy:g} acc "
            f"+ {w.efficiency:g} eff, gains over rk4 (none is stiff, so stability does not count)",
        )
    )


# ----------------------------------------------------------------- work-precision


def work_precision_command(
    output: OutputOption,
    files: TableauFiles = None,
    method: MethodOption = None,
    force: ForceFlag = False,
    steps: Annotated[
        str, typer.Option("--steps", metavar="N,N,...", help="Step counts of the fixed-step sweep.")
    ] = ", ".join(str(n) for n in wp.DEFAULT_STEPS),
    tolerances: Annotated[
        str,
        typer.Option("--tolerances", metavar="TOL,...", help="rtol = atol values of the adaptive sweep."),
    ] = ", ".join(f"{t:g}" for t in wp.DEFAULT_TOLERANCES),
    problems: ProblemsOption = 200,
    stiff: StiffOption = None,
    t_end: TEndOption = 0.1,
    seed: DatasetSeedOption = 0,
    families: FamiliesOption = None,
    split: SplitOption = SplitName.all,
    cache_dir: CacheDirOption = None,
    json_output: JsonFlag = False,
) -> None:
    """Plot error against function evaluations over a dataset into a PNG.

    Every tableau gets a fixed-step curve; embedded pairs also an adaptive curve
    (rtol = atol = each tolerance).  An existing output file is kept unless --force.
    """
    if output.suffix.lower() != ".png":
        raise RKInputError(f"{output}: the plot is a PNG image; give an output path ending in .png")
    check_output_path(output, force)
    tableaux = load_tableaux(files, method)
    step_counts = _numbers(steps, "--steps")
    if any(n != int(n) or n < 1 for n in step_counts):
        raise RKInputError(f"--steps must be positive integers, got {steps!r}")
    tols = _numbers(tolerances, "--tolerances")
    spec = _spec(problems, stiff, t_end, seed, families)
    data = evaluation.load_split(spec, split.value, cache_dir=cache_dir, progress=not json_output)
    result = wp.work_precision(tableaux, data, steps=[int(n) for n in step_counts], tolerances=tols)
    written = wp.plot_work_precision(result, output)
    if json_output:
        typer.echo(to_json({"dataset": spec.to_dict(), "split": split.value, "output": str(written),
                            **result.to_dict()}))  # fmt: skip
        return
    typer.echo(f"wrote {written} ({len(result.curves)} curves over {result.n_problems} problems)")


#: Deprecated spellings, accepted (with a warning) for one release.
RENAMED = {"--seed": "--dataset-seed"}


def register(app: App) -> None:
    """Add ``evaluate`` and ``work-precision`` to the ``rkcore`` app."""
    app.command("evaluate", renamed=RENAMED)(handles_user_errors(evaluate_command))
    app.command("work-precision", renamed=RENAMED)(handles_user_errors(work_precision_command))
