"""What a run keeps and publishes: starts, the headline, and its standing against the library.

Two kinds of comparison, one name each:

- **improved** (validation, decides): a tableau *improved on* another when its validation score
  exceeds the other's by more than ``training.selection_z`` standard errors of the paired
  per-problem differences (:meth:`rkcore.metrics.PairedGain.exceeds`).  Training replaces its best
  and publishes a stage count only on that.
- **beats** (test, reports): a tableau *beats* another when its test score exceeds the other's by
  more than :data:`TEST_Z` paired standard errors.  This is the hold-out check written to
  ``metrics.json``; it never decides anything, so the test split stays a fair hold-out.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

import rkcore
from rkcore.evaluate import evaluate
from rkcore.metrics import PairedGain
from rkcore.order import order
from rkml.errors import TrainingRejected
from rkml.generator import anchor, flatten
from rkml.objective import TEST_Z, score_points
from rkml.polish import ACCEPT_RESIDUAL, max_residual, polish_batch
from rkml.profile import max_explicit_order
from rkml.search import embed
from rkml.train_state import Start

MAX_TRAINED_ORDER = 6
"""Highest order searched (order 6 needs 7 stages; order 7 would need 9 and 85 conditions)."""


def search_orders(stages: int, min_order: int) -> tuple[int, ...]:
    """Orders searched for ``stages``: the highest within reach (capped at 6) and the one below it,
    never below ``min_order`` -- one order lower leaves room for a larger stability region."""
    top = min(max_explicit_order(stages), MAX_TRAINED_ORDER)
    return tuple(q for q in (top, top - 1) if q >= max(min_order, 1))


def library_methods(stages: range | tuple[int, ...], min_order: int) -> dict[str, rkcore.Tableau]:
    """Explicit library methods whose stage count lies in ``stages`` and whose verified order is at
    least ``min_order``, in :func:`rkcore.methods` order."""
    out = {}
    for name in rkcore.methods():
        t = rkcore.method(name)
        if t.is_explicit and t.stages in stages and order(t) >= min_order:
            out[name] = t
    return out


def seed_points(stages: int, order_: int) -> np.ndarray:
    """Known points of the order-``order_`` manifold for ``stages`` stages: every library method of at
    most ``stages`` stages and at least that order (embedded, :func:`rkml.search.embed`) and the
    quadrature anchor, each polished onto the conditions; those that do not converge are left out.

    Returns
    -------
    numpy.ndarray, shape (m, n_free)
    """
    raw = [embed(t.A, t.b, stages) for t in library_methods(range(1, stages + 1), order_).values()]
    raw.append(anchor(stages))
    polished = polish_batch(np.stack(raw), stages, order_)
    return polished.x[polished.converged]


def choose_start(stages: int, min_order: int, validation, weights) -> Start:
    """The start of a stage count, and what its result must improve on: the best on validation of
    its library methods (order at least ``min_order``) and the anchor polished to the highest order
    it reaches.

    Raises
    ------
    TrainingRejected
        Nothing of ``min_order`` with ``stages`` stages can be found to start from.
    """
    pool: dict[str, tuple[int, np.ndarray]] = {}
    for name, t in library_methods((stages,), min_order).items():
        q = min(order(t), MAX_TRAINED_ORDER)
        x = flatten(t.A, t.b)
        if max_residual(x[None], stages, q)[0] > ACCEPT_RESIDUAL:
            polished = polish_batch(x[None], stages, q)  # float64 transcriptions a little off (vern6)
            if not polished.converged[0]:
                continue
            x = polished.x[0]
        pool[name] = (q, x)
    for q in range(min(max_explicit_order(stages), MAX_TRAINED_ORDER), min_order - 1, -1):
        polished = polish_batch(anchor(stages)[None], stages, q)
        if polished.converged[0]:
            pool["anchor"] = (q, polished.x[0])
            break
    if not pool:
        raise TrainingRejected(
            f"cannot find any explicit {stages}-stage tableau of order {min_order} to start from; "
            "lower objective.min_order or raise stages.min"
        )
    names = list(pool)
    scores = score_points(np.stack([pool[n][1] for n in names]), stages, validation, weights).score
    k = int(np.argmax(scores))
    return Start(names[k], pool[names[k]][0], pool[names[k]][1], float(scores[k]))


@dataclasses.dataclass(frozen=True)
class StageResult:
    """The outcome for one stage count.

    Attributes
    ----------
    stages : int
    tableau : rkcore.Tableau
        Polished, order-verified best tableau on validation.
    order : int
        Verified order (all residuals through it <= 1e-12).
    initialisation : rkcore.Tableau
        The stage count's start (best library method or anchor), polished the same way.
    validation_score : float
        Weighted objective on the validation split (RK4 = 0, higher is better).
    gain_over_initialisation : rkcore.metrics.PairedGain
        On validation.
    improved : bool
        Training moved the tableau and it improved on its initialisation (validation, ``selection_z``).
    """

    stages: int
    tableau: rkcore.Tableau
    order: int
    initialisation: rkcore.Tableau
    validation_score: float
    gain_over_initialisation: PairedGain
    improved: bool


def choose_headline(results: list[StageResult]) -> StageResult:
    """The headline: the best on validation among the stage counts that improved on their
    initialisation, whatever their stage count (scores are at equal work where efficiency counts).

    Raises
    ------
    TrainingRejected
        No stage count improved on its initialisation.
    """
    learned = [r for r in results if r.improved]
    if not learned:
        raise TrainingRejected(
            "no stage count's tableau improved on its initialisation on validation by more than "
            "training.selection_z standard errors: the search found nothing measurably better "
            "(more training.starts, training.elite or training.generations)"
        )
    return max(learned, key=lambda r: r.validation_score)


@dataclasses.dataclass(frozen=True)
class Standing:
    """The headline against every library method in the run's stage range, on the test split.

    Attributes
    ----------
    score : float
        The headline's test score.
    library : dict of name -> (stages, test score, PairedGain of the headline over it)
    """

    score: float
    library: dict[str, tuple[int, float, PairedGain]]

    @property
    def above(self) -> list[str]:
        """Library methods whose test score is higher than the headline's, best first."""
        names = [n for n, (_, sc, _) in self.library.items() if sc > self.score]
        return sorted(names, key=lambda n: -self.library[n][1])

    @property
    def beats_library(self) -> bool:
        """Whether the headline beats every one of them (test, :data:`TEST_Z`)."""
        return all(g.exceeds(TEST_Z) for _, _, g in self.library.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "test_score": self.score,
            "beats_library": self.beats_library,
            "beats_means": f"test score ahead by more than {TEST_Z:g} paired standard errors",
            "library_above": self.above,
            "library_in_range": {
                n: {"stages": s, "test_score": sc, "gain": g.to_dict()}
                for n, (s, sc, g) in self.library.items()
            },
        }


def standing(
    headline: rkcore.Tableau, counts: tuple[int, ...], min_order: int, dataset, plan, weights
) -> Standing:
    """Score the headline and every library method with a stage count in ``counts`` on the test split."""
    rivals = library_methods(counts, min_order)
    ev = evaluate([headline, *rivals.values()], dataset.test, plan, weights)
    library = {
        n: (t.stages, float(ev.cards[1 + i].score), ev.paired_gain(0, 1 + i))
        for i, (n, t) in enumerate(rivals.items())
    }
    return Standing(float(ev.cards[0].score), library)


def summary_line(stages: int, order_: int, st: Standing, counts: tuple[int, ...]) -> str:
    """One line: the headline's test score and every library method in range that scores higher."""
    span = f"{counts[0]}-{counts[-1]}" if len(counts) > 1 else str(counts[0])
    line = (
        f"headline: {stages} stages, order {order_}; test score {st.score:+.3f} (RK4 = 0, higher is better); "
    )
    if not st.library:
        return line + f"no library method has {span} stages"
    if st.above:
        worse = ", ".join(f"{n} {st.library[n][1]:+.3f}" for n in st.above)
        return line + f"library methods with {span} stages scoring higher on test: {worse}"
    best = max(st.library, key=lambda n: st.library[n][1])
    g = st.library[best][2]
    verdict = "beats" if st.beats_library else "is ahead of, within noise,"
    return line + (
        f"{verdict} every library method with {span} stages; nearest {best} "
        f"{st.library[best][1]:+.3f} (gain {g.gain:+.3f} ± {g.stderr:.3f})"
    )
