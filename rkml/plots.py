"""Training-curve figure of a run (matplotlib, Agg canvas, written atomically)."""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from rkcore.fileio import atomic_write_bytes


def plot_training_curves(
    curves: Mapping[int, Mapping[str, Sequence[float]]],
    path: str | os.PathLike,
    *,
    title: str = "",
    baseline: float | None = None,
) -> Path:
    """Plot per-stage-count training curves to a PNG.

    Parameters
    ----------
    curves : mapping stage count -> mapping
        Each value holds equal-length sequences ``"step"``, ``"train"`` (best weighted objective on the
        training split after that CMA-ES generation) and optionally ``"val_step"`` with ``"validation"``
        (the polished mean on the validation split) and ``"best"`` (best on validation so far,
        candidates included).
    path : path-like
        Output PNG (200 dpi), written atomically, with the same figure as SVG beside it.
    title : str
    baseline : float, optional
        Objective of the reference method (RK4 scores 0 when scores are normalised against it),
        drawn as a horizontal line.

    Returns
    -------
    pathlib.Path
    """
    fig = Figure(figsize=(7.5, 4.5), dpi=200)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for s in sorted(curves):
        data = curves[s]
        line = ax.plot(data["step"], data["train"], lw=0.8, alpha=0.45, label=f"s={s} train split")[0]
        if data.get("validation"):
            ax.plot(
                data["val_step"], data["validation"], marker="o", ms=3, lw=1.6, color=line.get_color(),
                label=f"s={s} validation",
            )
        if data.get("best"):
            ax.step(
                data["val_step"], data["best"], where="post", ls="--", lw=1.2, color=line.get_color(),
                label=f"s={s} best on validation",
            )
    if baseline is not None:
        ax.axhline(baseline, color="k", lw=0.8, ls="--", label="RK4")
    ax.set_xlabel("CMA-ES generation")
    ax.set_ylabel("weighted objective (higher is better)")
    ax.set_title(title or "training curves")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    vector = io.BytesIO()
    fig.savefig(vector, format="svg")
    atomic_write_bytes(Path(path).with_suffix(".svg"), vector.getvalue())
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return atomic_write_bytes(path, buffer.getvalue())
