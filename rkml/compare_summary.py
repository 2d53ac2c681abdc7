"""The answer first: the summary block and the cross-profile matrix of the comparison report.

Both read the scores of every headline tableau and library method on the common
cross-check dataset (:mod:`rkml.compare_eval`) under *each run's own* objective weights.
Every score is shown with the standard error of the paired per-problem differences
(:func:`rkcore.metrics.paired_gain`): scores are relative to RK4 (its score is 0), the
s.e. of a score is that of its paired difference from RK4, the s.e. of a matrix cell that
of its paired difference from the column's own headline.

What a run recorded about itself is read through one adapter, :func:`recorded_library_above`,
which tolerates any extra field of ``metrics.json``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

import rkcore
from rkcore.evaluate import Evaluation
from rkcore.metrics import PairedGain

from . import report as rp

if TYPE_CHECKING:
    from .compare import RunRecord
    from .compare_eval import CommonEvaluation

#: How a score's uncertainty is stated wherever one is shown.
SE_NOTE = "± is one standard error of the paired per-problem differences (about a 68 % interval)"
#: Scores are sums of weighted mean log10 errors: differences are in decades of error.
UNIT = "decades"


def recorded_library_above(record: RunRecord) -> dict[str, float]:
    """Library methods that the run's own ``metrics.json`` says score above its headline on test.

    Reads ``library_above`` (a list of names) where the run wrote one, else compares
    ``stages.<s>.test.library.<name>.score`` with ``stages.<s>.test.learned.score`` for the
    headline's stage count ``s``.  Any other field is ignored; a missing or malformed file
    gives ``{}``.

    Returns
    -------
    dict of str to float
        Name -> how much it scores above the headline (NaN where only the name is recorded).
    """
    metrics = record.metrics
    if not isinstance(metrics, Mapping):
        return {}
    stage = (metrics.get("stages") or {}).get(str(record.tableau.stages))
    test = stage.get("test") if isinstance(stage, Mapping) else None
    learned = _number(((test or {}).get("learned") or {}).get("score")) if isinstance(test, Mapping) else None
    out: dict[str, float] = {}
    headline = metrics.get("headline")
    above = headline.get("library_above") if isinstance(headline, Mapping) else None
    above = metrics.get("library_above", above)
    if isinstance(above, Sequence) and not isinstance(above, str):
        out.update({str(n): float("nan") for n in above})
    if isinstance(test, Mapping) and learned is not None:
        for name, card in (test.get("library") or {}).items():
            score = _number(card.get("score")) if isinstance(card, Mapping) else None
            if score is not None and score > learned:
                out[str(name)] = score - learned
    return out


def _number(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else None


def pm(gain: PairedGain | tuple[float, float], digits: int = 2, *, signed: bool = True) -> str:
    """``value ± s.e.`` with the s.e. to ``digits`` significant digits and the value to the same
    decimals (signed: ``+`` on positive values)."""
    value, se = float(gain[0]), float(gain[1])
    if not np.isfinite(value):
        return "–"
    sign = "+" if signed else ""
    if not np.isfinite(se) or se <= 0:
        return f"{value:{sign}.{digits + 1}f} ± 0"
    decimals = max(0, digits - 1 - int(np.floor(np.log10(se))))
    return f"{value:{sign}.{decimals}f} ± {se:.{decimals}f}"


@dataclasses.dataclass(frozen=True)
class Matrix:
    """Every headline and library method under every run's weights on the common dataset.

    Attributes
    ----------
    rows : tuple of str
        Run labels (headlines), then library method names.
    columns : tuple of str
        Run labels: column ``j`` uses run ``j``'s weights.
    n_runs : int
    score : ndarray, shape (len(rows), len(columns))
        Score relative to RK4.
    score_se : ndarray, shape (len(rows), len(columns))
        Standard error of the paired difference from RK4.
    vs_own : ndarray of PairedGain, shape (len(rows), len(columns))
        Row minus the column's own headline.
    evaluations : tuple of Evaluation
        The evaluation behind each column (any paired difference can be taken from it).
    """

    rows: tuple[str, ...]
    columns: tuple[str, ...]
    n_runs: int
    score: np.ndarray
    score_se: np.ndarray
    vs_own: np.ndarray
    evaluations: tuple[Evaluation, ...] = ()

    def headline_gain(self, i: int, j: int) -> PairedGain:
        """Headline ``i`` minus headline ``j`` under column ``j``'s weights."""
        return self.vs_own[i, j]


def build_matrix(records: Sequence[RunRecord], common: CommonEvaluation) -> Matrix:
    """The cross-profile matrix from ``common.by_weights`` (one evaluation per run's weights)."""
    n_rows, n = len(common.labels), len(records)
    score = np.zeros((n_rows, n))
    se = np.zeros((n_rows, n))
    vs_own = np.empty((n_rows, n), dtype=object)
    evaluations = []
    for j, r in enumerate(records):
        ev: Evaluation = common.by_weights[r.profile.weights()]
        evaluations.append(ev)
        for i in range(n_rows):
            base = ev.paired_gain(i, -1)
            score[i, j], se[i, j] = base.gain, base.stderr
            vs_own[i, j] = ev.paired_gain(i, j)
    return Matrix(common.labels, tuple(r.label for r in records), n, score, se, vs_own, tuple(evaluations))


def matrix_sentence(m: Matrix) -> str:
    """The computed answer to "did differently configured runs give genuinely different, genuinely
    better results?".

    ``k`` counts the headlines that no other headline beats by more than one paired s.e. under the
    headline's own weights; two headlines are one behaviour when under every column their paired
    difference is within one s.e. (behaviours are the connected groups of that relation).
    """
    n = m.n_runs
    own_best = sum(
        1 for j in range(n) if all(not m.headline_gain(i, j).exceeds(1.0) for i in range(n) if i != j)
    )
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for a in range(n):
        for b in range(a + 1, n):
            same = all(abs(_diff(m, a, b, j).gain) <= _diff(m, a, b, j).stderr for j in range(n))
            if same:
                parent[find(b)] = find(a)
    behaviours = len({find(i) for i in range(n)})
    beaten = sum(1 for j in range(n) if any(m.vs_own[i, j].exceeds(1.0) for i in range(n, len(m.rows))))
    return (
        f"{own_best} of {n} headlines are the best headline under their own weights (no other headline "
        f"beats them by more than one paired s.e.); the {n} headlines form {behaviours} distinct "
        f"behaviour(s) (pairs within one paired s.e. under every column are one behaviour); in "
        f"{beaten} of {n} columns a library method beats the column's own headline by more than one s.e."
    )


def _diff(m: Matrix, a: int, b: int, j: int) -> PairedGain:
    """Row ``a`` minus row ``b`` under column ``j``, paired on the common problems."""
    return m.evaluations[j].paired_gain(a, b)


def matrix_blocks(m: Matrix) -> list[rp.Block]:
    """The matrix table (best per column in bold) and its computed sentence."""
    rows = []
    for i, label in enumerate(m.rows):
        cells: list[str | rp.Cell] = [rp.Cell(label, bold=i < m.n_runs)]
        for j in range(len(m.columns)):
            best = i == int(np.argmax(m.score[:, j]))
            own = m.vs_own[i, j]
            text = f"{m.score[i, j]:+.3f} ({'own' if i == j else pm(own)})"
            cells.append(rp.Cell(text, bold=best))
        rows.append(tuple(cells))
    header = ("tableau \\ weights of", *m.columns)
    return [
        rp.Heading("Cross-profile matrix"),
        rp.Paragraph(
            "Every headline (bold rows) and library method scored under every run's objective weights "
            "(columns) on the common cross-check dataset no run trained on. Each cell: score relative "
            f"to RK4 in {UNIT}, then in brackets the paired difference from the column's own headline; "
            f"{SE_NOTE}. Best per column in bold."
        ),
        rp.Table(header, tuple(rows), caption="cross-profile matrix"),
        rp.Paragraph("Answer: " + matrix_sentence(m)),
    ]


def summary_blocks(
    records: Sequence[RunRecord], library: Sequence[rkcore.Tableau], m: Matrix
) -> list[rp.Block]:
    """Per run: headline, its score ± s.e. under its own weights, the best library method with the
    headline's stage count and the paired difference, a verdict, and every library method in the
    run's stage range that scores above it (on the common dataset, or on the run's own test split
    per its ``metrics.json``) in red."""
    rows = []
    beaten: list[str] = []
    n = m.n_runs
    for j, r in enumerate(records):
        same = [n + k for k, t in enumerate(library) if t.stages == r.tableau.stages]
        own = pm((m.score[j, j], m.score_se[j, j]))
        if same:
            best = max(same, key=lambda i: m.score[i, j])
            d = m.vs_own[best, j]
            gain = PairedGain(-d.gain, d.stderr, d.n)  # headline minus library method
            if abs(gain.gain) <= gain.stderr:
                verdict = f"indistinguishable from {m.rows[best]} ({pm(gain)} {UNIT}, within one s.e.)"
            else:
                word = "beats" if gain.gain > 0 else "loses to"
                verdict = f"{word} {m.rows[best]} by {pm((abs(gain.gain), gain.stderr)).lstrip('+')} {UNIT}"
            best_text, diff_text = m.rows[best], pm(gain)
        else:
            verdict, best_text, diff_text = "no library method with its stage count", "–", "–"
        # vs_own[i, j] is library method i minus headline j: above zero, it beats the headline
        # Only library methods the run could have been: a stage count in its profile's range.
        span = range(r.profile.stages.min, r.profile.stages.max + 1)
        above = {
            m.rows[i]: f" by {pm(m.vs_own[i, j])} {UNIT}"
            for i in range(n, len(m.rows))
            if m.vs_own[i, j].gain > 0 and library[i - n].stages in span
        }
        for name, by in recorded_library_above(r).items():
            above.setdefault(f"{name} (run's own test split)", "" if np.isnan(by) else f" by {by:.2g} {UNIT}")
        for name, amount in above.items():
            beaten.append(f"{r.label}: {name} scores above the headline{amount}")
        rows.append(
            (
                r.label,
                r.profile.name,
                str(r.tableau.stages),
                own,
                best_text,
                diff_text,
                rp.Cell(verdict, marked=bool(above)),
            )
        )
    blocks: list[rp.Block] = [
        rp.Heading("Summary"),
        rp.Paragraph(
            f"Each run's headline on the common cross-check dataset under the run's own weights; "
            f"scores relative to RK4 in {UNIT} (higher is better); {SE_NOTE}."
        ),
        rp.Table(
            (
                "run",
                "profile",
                "s",
                "score ± s.e.",
                "best library method (same s)",
                "headline − it",
                "verdict",
            ),
            tuple(rows),
            caption="the answer first",
        ),
    ]
    if beaten:
        blocks.append(rp.Alert("beaten", "library methods that beat a headline", tuple(beaten)))
    return blocks
