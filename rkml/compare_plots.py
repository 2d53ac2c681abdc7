"""Figures of the comparison report (matplotlib on the Agg canvas, PNGs written atomically).

Stability regions come from :func:`rkcore.plot_stability_regions`; this module draws the
three figures that only a comparison needs: the work--precision diagram, the
accuracy / efficiency / stability trade-off, and the training curves of several runs side
by side.  Learned tableaux are drawn solid with star markers, library methods dashed with
circles, so the two kinds can be told apart in every figure.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from rkcore.fileio import atomic_write_bytes


class Curve(NamedTuple):
    """One line of the work--precision diagram.

    Attributes
    ----------
    label : str
    nfev : ndarray, shape (k,)
        Mean right-hand-side evaluations per problem at each step count.
    error : ndarray, shape (k,)
        Geometric-mean relative error at ``t_end`` (10 ** mean log10 error).
    learned : bool
        A learned tableau (solid, stars) or a library method (dashed, circles).
    """

    label: str
    nfev: np.ndarray
    error: np.ndarray
    learned: bool


class Point(NamedTuple):
    """One method in the trade-off picture (metrics on the common dataset).

    ``accuracy_gain`` and ``efficiency_gain`` are decades of error gained over RK4 (higher is
    better); ``stability`` is the geometric mean over the stiff problems of the largest linearly
    stable step per evaluation, in units of ``1 / rho`` (:mod:`rkcore.metrics`).
    """

    label: str
    accuracy_gain: float
    efficiency_gain: float
    stability: float
    learned: bool


#: Library methods: muted, dashed, distinct from the saturated colours of the learned tableaux.
_LIBRARY_COLORS = ("0.35", "#8c6d31", "#7b4173", "#637939", "#843c39", "#5254a3", "0.6", "#bd9e39")


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=PNG_DPI)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: str | os.PathLike) -> Path:
    """Write the PNG at :data:`PNG_DPI` and, for print, the same figure as SVG beside it."""
    path = Path(path)
    for fmt, target in (("svg", path.with_suffix(".svg")), ("png", path)):
        buffer = io.BytesIO()
        fig.savefig(buffer, format=fmt, dpi=PNG_DPI, bbox_inches="tight")
        atomic_write_bytes(target, buffer.getvalue())
    return path


#: Resolution of every PNG (print needs at least 200 dpi).
PNG_DPI = 200
#: Markers cycled per method, so methods differ in shape as well as colour (and in greyscale).
_MARKERS = ("*", "P", "X", "D", "^", "v", "s", "p", "h", "<", ">", "o", "d", "8")


def method_styles(labels: Sequence[str], learned: Sequence[bool]) -> dict[str, dict]:
    """One colour and marker per method, fixed for every figure of a report.

    Learned headlines take the saturated ``tab10`` colours and the first markers; library
    methods the muted :data:`_LIBRARY_COLORS`, dashed, with the remaining markers.
    """
    out: dict[str, dict] = {}
    n_l = n_b = 0
    for label, is_learned in zip(labels, learned, strict=True):
        if is_learned:
            out[label] = {"color": f"C{n_l % 10}", "marker": _MARKERS[n_l % 7], "ls": "-"}
            n_l += 1
        else:
            color = _LIBRARY_COLORS[n_b % len(_LIBRARY_COLORS)]
            out[label] = {"color": color, "marker": _MARKERS[7 + n_b % 7], "ls": "--"}
            n_b += 1
    return out


def plot_work_precision(curves: Sequence[Curve], path: str | os.PathLike, *, title: str) -> Path:
    """Error against function evaluations, log--log, one line per method."""
    fig = _figure(7.5, 5.0)
    ax = fig.add_subplot(1, 1, 1)
    styles = method_styles([c.label for c in curves], [c.learned for c in curves])
    for curve in curves:
        size, width, z = (8, 1.8, 3) if curve.learned else (5, 1.0, 2)
        style = {**styles[curve.label], "ms": size, "lw": width, "zorder": z, "mfc": "none"}
        ax.loglog(curve.nfev, curve.error, label=curve.label, **style)
    ax.set_xlabel("right-hand-side evaluations per problem")
    ax.set_ylabel("geometric-mean relative error at t_end")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    fig.tight_layout()
    return _save(fig, path)


def plot_tradeoff(points: Sequence[Point], path: str | os.PathLike, *, title: str) -> Path:
    """Accuracy gain (x) against stability (y), colour = efficiency gain; every method labelled."""
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.lines import Line2D

    fig = _figure(7.5, 5.2)
    ax = fig.add_subplot(1, 1, 1)
    eff = np.array([p.efficiency_gain for p in points], dtype=float)
    finite = eff[np.isfinite(eff)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (-1.0, 1.0)
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    norm = Normalize(lo, hi)
    cmap = colormaps["viridis"]
    stab = np.array([p.stability if math.isfinite(p.stability) else 0.0 for p in points])
    acc = np.array([p.accuracy_gain for p in points], dtype=float)
    for i, p in enumerate(points):
        color = cmap(norm(p.efficiency_gain)) if math.isfinite(p.efficiency_gain) else "0.5"
        marker, size, edge = ("*", 260, "black") if p.learned else ("o", 70, "0.3")
        ax.scatter(
            [acc[i]],
            [stab[i]],
            s=size,
            c=[color],
            marker=marker,
            edgecolors=edge,
            linewidths=0.8,
            zorder=3 if p.learned else 2,
        )
    # Methods that (nearly) coincide share one label instead of printing over each other.
    for members in _clusters(acc, stab):
        names = [points[i].label for i in members if points[i].learned]
        names += [points[i].label for i in members if not points[i].learned]
        anchor = members[0]
        right = acc.size > 1 and acc[anchor] > 0.5 * (acc.min() + acc.max())
        ax.annotate(
            "\n".join(names),
            (acc[anchor], stab[anchor]),
            xytext=(-10 if right else 10, 6),
            textcoords="offset points",
            fontsize=7,
            va="bottom",
            ha="right" if right else "left",
            zorder=5,
            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "alpha": 0.85, "lw": 0},
        )
    bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax)
    bar.set_label("efficiency gain over RK4 (decades at equal work)")
    ax.axvline(0.0, color="0.5", lw=0.7, ls=":")
    ax.set_xlabel("accuracy gain over RK4 (decades of error, higher is better)")
    ax.set_ylabel("stability: stable step per evaluation (1/rho, geometric mean)")
    pad = 0.05 + 0.05 * (float(stab.max() - stab.min()) if stab.size else 0.0)
    ax.set_ylim(float(stab.min()) - pad, float(stab.max()) + pad)
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(
        handles=[
            Line2D(
                [], [], marker="*", ls="", ms=12, mec="black", mfc="white", label="learned (run headline)"
            ),
            Line2D([], [], marker="o", ls="", ms=7, mec="0.3", mfc="white", label="library method"),
        ],
        fontsize=8,
        loc="best",
    )
    fig.tight_layout()
    return _save(fig, path)


def _clusters(x: np.ndarray, y: np.ndarray, frac: float = 0.03) -> list[list[int]]:
    """Group points closer than ``frac`` of the axis spans (greedy, in input order)."""
    span_x = max(float(np.ptp(x)) if x.size else 0.0, 1e-12)
    span_y = max(float(np.ptp(y)) if y.size else 0.0, 1e-12)
    groups: list[list[int]] = []
    for i in range(x.size):
        for g in groups:
            j = g[0]
            if abs(x[i] - x[j]) <= frac * span_x and abs(y[i] - y[j]) <= frac * span_y:
                g.append(i)
                break
        else:
            groups.append([i])
    return groups


def plot_training_grid(
    runs: Sequence[tuple[str, Mapping[int, Mapping[str, Sequence[float]]]]],
    path: str | os.PathLike,
    *,
    title: str,
) -> Path:
    """Training curves of several runs side by side, one panel per run, shared y axis.

    Parameters
    ----------
    runs : sequence of (label, curves)
        ``curves`` maps a stage count to ``"step"``, ``"train"`` and optionally
        ``"val_step"`` / ``"validation"`` sequences (the layout :mod:`rkml.plots` draws).
    """
    n = max(len(runs), 1)
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig = _figure(4.2 * cols, 3.3 * rows + 0.4)
    # runs have different objectives: one y-axis each, and one colour per stage count everywhere
    axes = fig.subplots(rows, cols, sharey=False, squeeze=False)
    for k, (label, curves) in enumerate(runs):
        ax = axes[k // cols][k % cols]
        for s in sorted(curves):
            data = curves[s]
            line = ax.plot(
                data["step"], data["train"], lw=0.8, alpha=0.5, color=f"C{s % 10}", label=f"s={s} train"
            )[0]
            if data.get("validation"):
                ax.plot(
                    data["val_step"],
                    data["validation"],
                    marker="o",
                    ms=3,
                    lw=1.5,
                    color=line.get_color(),
                    label=f"s={s} validation",
                )
        ax.axhline(0.0, color="k", lw=0.7, ls="--")
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("update (epoch)")
        ax.set_ylabel("weighted score vs RK4 (decades)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.22), ncol=2, frameon=False)
    for k in range(len(runs), rows * cols):
        axes[k // cols][k % cols].set_visible(False)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return _save(fig, path)
