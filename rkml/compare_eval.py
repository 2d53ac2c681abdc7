"""The numbers and figures of the comparison report (used by :mod:`rkml.compare`).

Everything shown about a tableau is recomputed from its coefficients with rkcore
(:func:`rkcore.analyze`: verified order, principal error norm, stability limits) or read
from the run's own ``metrics.json`` (its train / validation / test scores, which depend
on the run's dataset and weights).  The common evaluation -- the cross-check, the
work--precision diagram and the trade-off picture -- runs every learned headline tableau
and every library method on one dataset that no run trained on
(:func:`cross_check_spec`): a different seed, half of the problems stiff, the longest
horizon any run used.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

import rkcore
from rkcore.calibration import make_plan
from rkcore.datasets import DatasetSpec, make_dataset
from rkcore.errors import RKInputError
from rkcore.evaluate import Evaluation, evaluate, prepare_split
from rkcore.metrics import MetricArrays
from rkcore.progress import progress_bar
from rkcore.work_precision import work_precision

from . import compare_plots as cp
from . import report as rp
from . import runs

if TYPE_CHECKING:
    from .compare import RunRecord

#: Seeds of cross-check datasets start here, far from any profile's dataset seed.
CROSS_CHECK_SEED = 10_000
#: Step counts of the work--precision diagram, as multiples of WORK_PRECISION_BASE_STEPS.
WORK_PRECISION_FACTORS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
#: Fixed steps per problem at factor 1 of the work--precision diagram (the same for every problem,
#: unlike the calibrated scoring: the diagram shows how error falls with work).
WORK_PRECISION_BASE_STEPS = 40


def cross_check_spec(records: Sequence[RunRecord], n_problems: int = 200) -> DatasetSpec:
    """A dataset none of the runs trained on.

    Seed ``CROSS_CHECK_SEED + k`` with the smallest ``k`` no run's dataset uses, every
    family, half of the problems stiff (the profiles use 25--67 %), and the longest horizon
    ``t_end`` of the runs.
    """
    used = {r.profile.dataset.seed for r in records}
    seed = CROSS_CHECK_SEED
    while seed in used:
        seed += 1
    t_end = max(r.profile.dataset.t_end for r in records)
    return DatasetSpec(n_problems=n_problems, n_stiff=n_problems // 2, t_end=t_end, seed=seed)


@dataclasses.dataclass(frozen=True, eq=False)
class CommonEvaluation:
    """Learned headlines and library methods on the cross-check dataset.

    Attributes
    ----------
    spec : DatasetSpec
    target_error : float
        The runs' most common ``objective.target_error``: each problem is scored at the fewest
        steps at which RK4's error is at most this (:mod:`rkcore.calibration`).
    labels : tuple of str
        Run labels, then library method names; ``learned[i]`` says which is which.
    learned : tuple of bool
    evaluation : rkcore.evaluate.Evaluation
        Score cards in ``labels`` order (RK4 baseline, default weights).
    curves : tuple of compare_plots.Curve
        Work--precision lines in ``labels`` order.
    by_weights : mapping of Weights to Evaluation
        The same tableaux scored under each run's objective weights (the cross-profile matrix).
    """

    spec: DatasetSpec
    target_error: float
    labels: tuple[str, ...]
    learned: tuple[bool, ...]
    evaluation: Evaluation
    curves: tuple[cp.Curve, ...]
    by_weights: Mapping[Any, Evaluation] = dataclasses.field(default_factory=dict)

    def arrays(self) -> tuple[MetricArrays, MetricArrays]:
        """Overall metrics of every tableau and of the baseline, for :func:`weighted_score`."""
        cards = self.evaluation.cards
        arrays = MetricArrays(
            accuracy=np.array([c.overall.accuracy for c in cards]),
            efficiency=np.array([c.overall.efficiency for c in cards]),
            stability=np.array([c.overall.stability for c in cards]),
            n_unstable=np.array([c.overall.n_unstable for c in cards]),
            saturation=np.array([c.overall.saturation for c in cards]),
        )
        base = self.evaluation.baseline.overall
        baseline = MetricArrays(
            np.array([base.accuracy]),
            np.array([base.efficiency]),
            np.array([base.stability]),
            np.array([base.n_unstable]),
            np.array([base.saturation]),
        )
        return arrays, baseline


def evaluate_all(
    records: Sequence[RunRecord],
    library: Sequence[rkcore.Tableau],
    spec: DatasetSpec | None = None,
    *,
    progress: bool = False,
) -> CommonEvaluation:
    """Evaluate every headline tableau and library method on the cross-check dataset."""
    spec = cross_check_spec(records) if spec is None else spec
    dataset = make_dataset(spec, progress=progress)
    targets = [r.profile.objective.target_error for r in records]
    target = max(set(targets), key=targets.count)
    tableaux = [r.tableau.replace(name=r.label) for r in records] + list(library)
    labels = tuple(t.name for t in tableaux)
    plan = make_plan(dataset, target)
    prepared = prepare_split(dataset.all, plan)
    weights = list(dict.fromkeys(r.profile.weights() for r in records))
    by_weights: dict[Any, Evaluation] = {}
    with progress_bar(len(weights) + 2, desc="compare: scoring", unit="scoring", enabled=progress) as bar:
        evaluation = evaluate(tableaux, prepared)
        bar.update(1)
        for w in weights:
            by_weights[w] = evaluate(tableaux, prepared, weights=w)
            bar.update(1)
        curves = _work_precision(
            tableaux, dataset.all, WORK_PRECISION_BASE_STEPS, [True] * len(records) + [False] * len(library)
        )
        bar.update(1)
    learned = tuple(c.learned for c in curves)
    return CommonEvaluation(spec, target, labels, learned, evaluation, curves, by_weights)


def _work_precision(tableaux, split, n_steps: int, learned: Sequence[bool]) -> tuple[cp.Curve, ...]:
    """Fixed-step work--precision curves (:func:`rkcore.work_precision.work_precision`) at
    :data:`WORK_PRECISION_FACTORS` times ``n_steps``, as geometric-mean errors."""
    steps = sorted({max(1, round(f * n_steps)) for f in WORK_PRECISION_FACTORS})
    result = work_precision(tableaux, split, steps=steps, tolerances=())
    return tuple(
        cp.Curve(t.name, curve.nfev, 10.0**curve.log_error, bool(flag))
        for t, curve, flag in zip(tableaux, result.curves, learned, strict=True)
    )


# ----------------------------------------------------------------- figures


def write_figures(
    records: Sequence[RunRecord],
    library: Sequence[rkcore.Tableau],
    common: CommonEvaluation,
    out_dir: Path,
    *,
    progress: bool = False,
) -> dict[str, str]:
    """Write every figure as PNG and SVG; returns ``{figure key: PNG file name}``.

    One style map (:func:`rkml.compare_plots.method_styles`) is built here and passed to every
    figure, so a method has the same colour and marker in all of them.
    """
    files: dict[str, str] = {}
    styles = cp.method_styles(common.labels, common.learned)
    curves = [(r.label, c, _objective(r)) for r in records if (c := training_curves(r))]
    gains = generalisation_gains(records, library, common)
    n_figures = 3 + bool(curves) + bool(gains)
    with progress_bar(n_figures, desc="compare: figures", unit="figure", enabled=progress) as bar:
        if gains:
            cp.plot_generalisation(
                gains,
                out_dir / "generalisation.png",
                title="Cross-check data, ± 1 s.e. (thick), 95 % (thin)",
                styles=styles,
            )
            files["generalisation"] = "generalisation.png"
            bar.update(1)
        headlines = [r.tableau.replace(name=r.label) for r in records]
        reference = [t for t in library if t.name == "rk4"]
        cp.plot_stability_regions(
            headlines + reference,
            [t.name for t in headlines + reference],
            styles,
            out_dir / "stability_regions.png",
            title="Stability regions |R(z)| ≤ 1",
        )
        files["stability"] = "stability_regions.png"
        bar.update(1)
        spec = common.spec
        cp.plot_work_precision(
            common.curves,
            out_dir / "work_precision.png",
            title=f"Cross-check data: {spec.n_problems} ODEs, {spec.n_stiff} stiff, seed {spec.seed}",
            styles=styles,
        )
        files["work_precision"] = "work_precision.png"
        bar.update(1)
        points = [
            cp.Point(label, c.accuracy_gain, c.efficiency_gain, c.overall.stability, learned)
            for label, c, learned in zip(common.labels, common.evaluation.cards, common.learned, strict=False)
        ]
        cp.plot_tradeoff(
            points,
            out_dir / "tradeoff.png",
            title=f"Cross-check data, RK4 error {common.target_error:g}",
            styles=styles,
        )
        files["tradeoff"] = "tradeoff.png"
        bar.update(1)
        if curves:
            cp.plot_training_grid(curves, out_dir / "training_curves.png", title="Training curves")
            files["training"] = "training_curves.png"
            bar.update(1)
    return files


def generalisation_gains(
    records: Sequence[RunRecord], library: Sequence[rkcore.Tableau], common: CommonEvaluation
) -> list[cp.Gain]:
    """Per run with a same-stage library method: headline minus the best of them under the run's own
    weights on the cross-check data, with the paired s.e. (the numbers of the generalisation table)."""
    out = []
    n = len(records)
    for i, r in enumerate(records):
        ev = common.by_weights.get(r.profile.weights())
        same = [n + j for j, t in enumerate(library) if t.stages == r.tableau.stages]
        if ev is None or not same:
            continue
        best = max(same, key=lambda j: ev.cards[j].score)
        d = ev.paired_gain(i, best)
        out.append(cp.Gain(r.label, common.labels[best], d.gain, d.stderr))
    return out


def _objective(record: RunRecord) -> str:
    """The run's weights, as its training-curve axis names them."""
    w = record.profile.weights()
    return f"w = ({w.accuracy:g}, {w.efficiency:g}, {w.stability:g})"


def training_curves(record: RunRecord) -> dict[int, dict[str, list[float]]] | None:
    """Per-stage-count training curves (``step``, ``train``, ``val_step``, ``validation``).

    Read from the run's ``history.json`` (``{"<s>": curve}``, optionally under ``"stages"``);
    failing that, from the ``curves`` its checkpoint holds.  None when neither has any.
    """
    source: Any = record.history
    if isinstance(source, Mapping):
        source = source.get("stages", source)
    elif runs.has_checkpoint(record.path):
        try:
            source = runs.load_checkpoint(record.path).get("curves")
        except RKInputError:
            source = None
    if not isinstance(source, Mapping):
        return None
    out: dict[int, dict[str, list[float]]] = {}
    for key, data in source.items():
        if str(key).isdigit() and isinstance(data, Mapping) and data.get("step") and "train" in data:
            out[int(key)] = dict(data)
    return out or None


# ----------------------------------------------------------------- tableau sections


def _interval(x: float | None) -> str:
    if x is None:
        return "–"
    return "∞" if math.isinf(x) else rp.fmt_number(x)


def analysis_values(tableau: rkcore.Tableau) -> tuple[int, str, float, float | None, float | None, float]:
    """Recomputed facts of one tableau: s, verified (claimed) order, error norm, stability limits."""
    a = rkcore.analyze(tableau, area=False)
    claim = tableau.stated_order
    order = str(a.order) if claim is None or claim == a.order else f"{a.order} (claims {claim})"
    real = a.real_stability_interval
    per = real / a.stages if real is not None else None
    return (a.stages, order, a.principal_error_norm, real, a.imaginary_stability_interval, per)


def analysis_row(label: str, tableau: rkcore.Tableau) -> tuple[str, ...]:
    """Recomputed facts of one tableau: name, s, verified (claimed) order, error norm, limits."""
    s, order, norm, real, imag, per = analysis_values(tableau)
    return (label, str(s), order, rp.fmt_number(norm), _interval(real), _interval(imag), _interval(per))


ANALYSIS_HEADER = (
    "method",
    "s",
    "order (verified)",
    "principal error norm",
    "real limit",
    "imaginary limit",
    "real limit / s",
)


def numeric_table(
    header: Sequence[str],
    labels: Sequence[str | rp.Cell],
    columns: Sequence[Sequence[Any]],
    better: Sequence[str | None],
    *,
    stderr: Mapping[int, Sequence[float | None]] | None = None,
    caption: str = "",
) -> rp.Table:
    """A table of number columns, each in one format (:func:`rkcore.report.fmt_column`), the best
    value per column in bold (``better[j]``: ``"high"``, ``"low"`` or None for no marking).

    ``stderr[j]`` gives an s.e. per row for column ``j``: those cells read ``value ± s.e.``, value
    and s.e. to the same decimals (:func:`rkml.compare_summary.pm`).  Non-numeric entries
    (strings) are shown as they are.
    """
    from .compare_summary import pm

    stderr = stderr or {}
    texts: list[list[str]] = []
    bests: list[set[int]] = []
    for j, col in enumerate(columns):
        numbers = [v if rp._is_real(v) else None for v in col]
        if j in stderr:
            texts.append(
                [
                    pm((v, e)) if v is not None and e is not None else rp.fmt_number(v)
                    for v, e in zip(numbers, stderr[j], strict=True)
                ]
            )
        else:
            formatted = rp.fmt_column(numbers)
            texts.append(
                [f if rp._is_real(v) or v is None else str(v) for v, f in zip(col, formatted, strict=True)]
            )
        bests.append(rp.best_indices(numbers, better[j] == "high") if better[j] else set())
    rows = []
    for i, label in enumerate(labels):
        cells = [rp.Cell(texts[j][i], bold=i in bests[j]) for j in range(len(columns))]
        rows.append((label, *cells))
    return rp.Table(tuple(header), tuple(rows), caption=caption)


def analysis_table(rows: Sequence[tuple[str, rkcore.Tableau]], title: str = "") -> rp.Table:
    """:data:`ANALYSIS_HEADER` for ``(label, tableau)`` rows: smallest error norm and largest
    stability limits in bold; ``title`` starts the caption."""
    values = [analysis_values(t) for _, t in rows]
    columns = list(zip(*values, strict=True))
    return numeric_table(
        ANALYSIS_HEADER,
        [label for label, _ in rows],
        columns,
        (None, None, "low", "high", "high", "high"),
        caption=(f"{title}: " if title else "") + "recomputed from the coefficients; best per column in bold",
    )


def tableau_sections(records: Sequence[RunRecord], library: Sequence[rkcore.Tableau]) -> list[rp.Block]:
    """Per run: every learned tableau in Butcher layout, its analysis next to the library
    methods with the same stage count, and the run's own test-split scores."""
    blocks: list[rp.Block] = [rp.Heading("Learned tableaux")]
    for r in records:
        blocks.append(rp.Heading(r.label, 3))
        for s, t in sorted(r.stage_tableaux.items()):
            headline = t.equals(r.tableau) and s == r.tableau.stages
            title = f"{r.label}, {s} stages" + (" (headline)" if headline else "")
            blocks.append(rp.Butcher.of(t, caption=title))
            rows = [(f"{r.label} (learned)", t)]
            if s in r.initial:
                rows.append(("initialisation", r.initial[s]))
            rows += [(m.name, m) for m in library if m.stages == s]
            blocks.append(analysis_table(rows, f"analysis {r.label}, {s} stages"))
            scores = split_scores(r, s)
            if scores:
                blocks.append(
                    rp.Table(
                        ("method", "train score", "validation score", "test score", "learned − it on test"),
                        scores,
                        caption=f"scores of {r.label} on its own dataset ({s} stages, weighted objective vs "
                        "RK4 in decades, higher is better; the run records no s.e. for a single score; the "
                        "last column is the paired difference ± one s.e. of the paired per-problem "
                        "differences)",
                    )
                )
    return blocks


def split_scores(record: RunRecord, stages: int) -> tuple[tuple[str | rp.Cell, ...], ...]:
    """Rows (method, train, validation, test score, learned minus it on test ± s.e.) for one stage
    count from ``metrics.json``.

    Layout written by :func:`rkml.train.train`: ``stages.<s>.<split>`` holds score cards
    ``learned``, ``initialisation``, ``library.<name>`` and ``rk4``, each with a ``score``, and
    ``gain_over.{initialisation, library.<name>}`` with the paired ``gain`` and ``stderr``.
    """
    from .compare_summary import pm

    metrics = record.metrics
    stage = metrics.get("stages", {}).get(str(stages)) if isinstance(metrics, Mapping) else None
    if not isinstance(stage, Mapping):
        return ()
    splits = ("train", "validation", "test")
    names = ["learned", "initialisation"]
    for split in splits:
        for name in (stage.get(split) or {}).get("library") or {}:
            if name not in names:
                names.append(name)
    if "rk4" not in names:
        names.append("rk4")
    labels, values, gains = [], [], []
    for name in names:
        row = [_score(stage.get(split), name) for split in splits]
        if any(v is not None for v in row):
            labels.append("rk4 (baseline)" if name == "rk4" and stages != 4 else name)
            values.append(row)
            gain = _gain(stage.get("test"), name)
            gains.append(pm(gain, signed=True) if gain else "–")
    if not labels:
        return ()
    columns = list(zip(*values, strict=True))
    table = numeric_table(("method", *splits), labels, columns, ("high", "high", "high"))
    return tuple((*row, g) for row, g in zip(table.rows, gains, strict=True))


def _gain(split: Any, name: str) -> tuple[float, float] | None:
    """``gain_over`` entry (learned minus ``name``) of a split, as ``(gain, stderr)``."""
    if not isinstance(split, Mapping) or not isinstance(split.get("gain_over"), Mapping):
        return None
    over = split["gain_over"]
    entry = over.get("initialisation") if name == "initialisation" else (over.get("library") or {}).get(name)
    if not isinstance(entry, Mapping):
        return None
    gain, se = entry.get("gain"), entry.get("stderr")
    if not (rp._is_real(gain) and rp._is_real(se)):
        return None
    return float(gain), float(se)


def _score(split: Any, name: str) -> float | None:
    if not isinstance(split, Mapping):
        return None
    card = (
        split.get(name) if name in ("learned", "initialisation") else (split.get("library") or {}).get(name)
    )
    if card is None and name == "rk4":
        card = split.get("rk4")
    value = card.get("score") if isinstance(card, Mapping) else None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


# ----------------------------------------------------------------- evaluation sections


def evaluation_sections(
    records: Sequence[RunRecord],
    library: Sequence[rkcore.Tableau],
    common: CommonEvaluation,
    files: Mapping[str, str],
) -> list[rp.Block]:
    """Stability plot, cross-check tables, work--precision, trade-off and training curves."""
    spec = common.spec
    seeds = ", ".join(sorted({str(r.profile.dataset.seed) for r in records}))
    blocks: list[rp.Block] = [
        rp.Heading("Stability regions"),
        rp.Image(
            files["stability"],
            "stability regions",
            "Headline tableaux of every run (solid), RK4 for reference (dashed); each method keeps its "
            "colour in every figure. Every s-stage method of order p = s <= 4 has the same stability "
            "polynomial (the Taylor polynomial of exp), so their regions coincide: a boundary shared by "
            "several methods is dashed in each one's colour in turn, and the legend counts the others.",
        ),
        rp.Heading("Cross-check on a dataset no run trained on"),
        rp.Paragraph(
            f"{spec.n_problems} ODEs from every family, {spec.n_stiff} stiff, horizon t_end = "
            f"{spec.t_end:g}, dataset seed {spec.seed} (the runs used seeds {seeds}); each problem at the "
            f"fewest steps at which RK4's error is at most {common.target_error:g}. Accuracy and "
            "efficiency are mean log10 errors (lower is better; efficiency at RK4's evaluation budget); "
            "stability is the geometric mean over the stiff problems of the largest linearly stable step "
            "per function evaluation, in units of 1/rho (higher is better)."
        ),
    ]
    cards = common.evaluation.cards
    score_se = [common.evaluation.paired_gain(i, -1).stderr for i in range(len(cards))]
    columns = [
        [c.stages for c in cards],
        [c.overall.accuracy for c in cards],
        [c.overall.efficiency for c in cards],
        [c.overall.stability for c in cards],
        [c.stability_interval_per_stage for c in cards],
        [c.score for c in cards],
    ]
    labels = [
        rp.Cell(label, bold=learned) for label, learned in zip(common.labels, common.learned, strict=True)
    ]
    blocks.append(
        numeric_table(
            (
                "method",
                "s",
                "accuracy (log10 error)",
                "efficiency (log10 error)",
                "stability (1/rho)",
                "real limit / s",
                "score ± s.e. (default weights, decades)",
            ),
            labels,
            columns,
            (None, "low", "low", "high", "high", "high"),
            stderr={5: score_se},
            caption="learned headline tableaux in bold names; best per column in bold; ± is one s.e. of the "
            "paired per-problem differences from RK4",
        )
    )
    blocks.append(_generalisation_table(records, library, common))
    if "generalisation" in files:
        blocks.append(
            rp.Image(
                files["generalisation"],
                "headline minus the best same-stage library method, with error bars",
                "Each headline minus the best library method with its stage count under the run's own "
                "weights on the cross-check data (the table above): thick bar ± one s.e. of the paired "
                "per-problem differences, thin bar the 95 % interval (± 1.96 s.e.); right of the dashed "
                "line the headline is better.",
            )
        )
    blocks += [
        rp.Heading("Work-precision"),
        rp.Image(
            files["work_precision"],
            "work-precision diagram",
            "Top: geometric-mean relative error at t_end against right-hand-side evaluations on the "
            "cross-check dataset. Bottom: each method's error relative to RK4's at the same step count, "
            "in decades (below 0: more accurate than RK4), which separates curves that coincide above; "
            "the lower panel is zoomed on the learned tableaux, methods marked (off scale) in the legend "
            "leave it.",
        ),
        rp.Heading("Trade-off"),
        rp.Image(
            files["tradeoff"],
            "accuracy, efficiency and stability trade-off",
            "Gains over RK4 on the cross-check dataset, in decades of error: accuracy against efficiency "
            "(top) and against stability (bottom); learned headlines filled, library methods open. The "
            "axes are zoomed on the learned tableaux: a method marked (off scale) in the legend is drawn "
            "at the edge (its values are in the cross-check table).",
        ),
    ]
    blocks.append(rp.Heading("Training curves"))
    if "training" in files:
        blocks.append(
            rp.Image(
                files["training"],
                "training curves",
                "Weighted score against update, one panel per run, each on the axis of its own "
                "objective (weights w = (accuracy, efficiency, stability)); a stage count has one "
                "colour in every panel.",
            )
        )
    else:
        blocks.append(rp.Paragraph("No run recorded a training history (history.json)."))
    return blocks


def _generalisation_table(
    records: Sequence[RunRecord], library: Sequence[rkcore.Tableau], common: CommonEvaluation
) -> rp.Table:
    """Each run's headline under its own weights on the cross-check data, against the best
    library method with the same stage count under the same weights, with paired s.e."""
    from .compare_summary import pm

    rows = []
    n = len(records)
    for i, r in enumerate(records):
        ev = common.by_weights.get(r.profile.weights())
        if ev is None:  # pragma: no cover - evaluate_all scores every run's weights
            continue
        score = [c.score for c in ev.cards]
        own = pm(ev.paired_gain(i, -1))
        same = [n + j for j, t in enumerate(library) if t.stages == r.tableau.stages]
        if same:
            best = max(same, key=lambda j: score[j])
            d = ev.paired_gain(i, best)
            best_name, best_text, diff = common.labels[best], pm(ev.paired_gain(best, -1)), pm(d)
            verdict = "yes" if d.exceeds(1.0) else ("no" if d.gain < -d.stderr else "within one s.e.")
        else:
            best_name, best_text, diff, verdict = "–", "–", "–", "–"
        rows.append(
            (
                r.label,
                str(r.tableau.stages),
                own,
                best_name,
                best_text,
                diff,
                rp.Cell(verdict, verdict == "no"),
            )
        )
    return rp.Table(
        (
            "run",
            "s",
            "score ± s.e.",
            "best same-s library method",
            "its score ± s.e.",
            "headline − it",
            "learned better?",
        ),
        tuple(rows),
        caption="does the headline tableau generalise? (weighted score vs RK4 in decades under each run's "
        "own weights; ± is one s.e. of the paired per-problem differences; better = ahead by more than "
        "one s.e.)",
    )
