"""Figures of the comparison report (matplotlib on the Agg canvas, PNGs written atomically).

This module draws the four figures of a comparison: the stability regions, the work--precision
diagram, the accuracy / efficiency / stability trade-off and the training curves of several
runs side by side.  They are made for print: one colour and marker per method, fixed for the
whole report (:func:`method_styles`, built once and passed to every figure; learned tableaux
solid with saturated colours, library methods dashed with muted ones), one colour per stage
count in every panel (:func:`stage_colors`), legends outside the data, units on every axis,
fonts of at least :data:`FONT_PT` points at the width the figure is made for
(:data:`COLUMN_WIDTH` for one-panel figures, :data:`TEXT_WIDTH` for the grid), and every
figure written as a :data:`PNG_DPI` PNG and as SVG.  ``draw_*`` build a figure, ``plot_*``
draw and save it.
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


#: Library methods: muted colours, distinct from the saturated ``tab10`` of the learned tableaux.
_LIBRARY_COLORS = (
    "#393b79", "#8c6d31", "#7b4173", "#637939", "#843c39", "#5254a3", "#636363", "#bd9e39",
    "#ad494a", "#6b6ecf", "#8ca252", "#a55194", "#e7969c", "#3182bd", "#e6550d", "#31a354",
    "#756bb1", "#969696", "#9c9ede", "#cedb9c",
)  # fmt: skip
#: Resolution of every PNG (print needs at least 200 dpi).
PNG_DPI = 200
#: Smallest font (points) of any text in a figure, at the width the figure is drawn for.
FONT_PT = 8.0
#: One journal column (inches): the width of the one-panel figures.
COLUMN_WIDTH = 3.5
#: Two columns (inches): the width of the multi-panel training-curve grid.
TEXT_WIDTH = 7.0
#: Markers: learned tableaux take the first seven, library methods the rest.
_MARKERS = ("*", "P", "X", "D", "^", "v", "s", "o", "p", "h", "<", ">", "d", "8")


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=PNG_DPI)
    FigureCanvasAgg(fig)
    return fig


def _rc():
    import matplotlib

    return matplotlib.rc_context(
        {
            "font.size": FONT_PT,
            "axes.titlesize": FONT_PT + 1,
            "axes.labelsize": FONT_PT,
            "xtick.labelsize": FONT_PT,
            "ytick.labelsize": FONT_PT,
            "legend.fontsize": FONT_PT,
            "figure.titlesize": FONT_PT + 2,
            "svg.fonttype": "none",
        }
    )


def _save(fig, path: str | os.PathLike) -> Path:
    """Write the PNG at :data:`PNG_DPI` and, for print, the same figure as SVG beside it."""
    path = Path(path)
    with _rc():
        for fmt, target in (("svg", path.with_suffix(".svg")), ("png", path)):
            buffer = io.BytesIO()
            fig.savefig(buffer, format=fmt, dpi=PNG_DPI, bbox_inches="tight")
            atomic_write_bytes(target, buffer.getvalue())
    return path


def method_styles(labels: Sequence[str], learned: Sequence[bool]) -> dict[str, dict]:
    """One colour, marker and line style per method, fixed for every figure of a report.

    Learned headlines take the saturated ``tab10`` colours and the first seven markers, solid;
    library methods the muted :data:`_LIBRARY_COLORS` and the remaining markers, dashed.  No two
    methods share both colour and marker.
    """
    out: dict[str, dict] = {}
    n_l = n_b = 0
    for label, is_learned in zip(labels, learned, strict=True):
        if label in out:
            continue
        if is_learned:
            out[label] = {"color": f"C{n_l % 10}", "marker": _MARKERS[n_l % 7], "ls": "-"}
            n_l += 1
        else:
            color = _LIBRARY_COLORS[n_b % len(_LIBRARY_COLORS)]
            out[label] = {"color": color, "marker": _MARKERS[7 + n_b % 7], "ls": "--"}
            n_b += 1
    return out


def stage_colors(stage_counts: Sequence[int]) -> dict[int, str]:
    """One colour per stage count (``Dark2``), the same in every panel of the training curves."""
    from matplotlib import colormaps

    cmap = colormaps["Dark2"]
    return {s: cmap(k % 8) for k, s in enumerate(sorted(set(stage_counts)))}


def _legend_below(fig, handles, labels, ncol: int = 2) -> None:
    """A legend under the axes, outside the data."""
    fig.legend(
        handles,
        labels,
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        ncol=ncol,
        frameon=False,
        handlelength=2.2,
        columnspacing=1.0,
    )


def _styles_for(labels: Sequence[str], learned: Sequence[bool], styles: Mapping[str, dict] | None):
    return dict(styles) if styles is not None else method_styles(labels, learned)


# ----------------------------------------------------------------- stability regions


def draw_stability_regions(
    tableaux: Sequence, labels: Sequence[str], styles: Mapping[str, dict], *, title: str = ""
):
    """The regions ``|R(z)| <= 1`` of ``tableaux``, each in its method's colour and line style
    (:func:`rkcore.plotting.draw_stability_regions`, whose coinciding boundaries are dashed in turn)."""
    from rkcore.plotting import _auto_extent
    from rkcore.plotting import draw_stability_regions as draw_regions

    x0, x1, y0, y1 = _auto_extent(tableaux)
    with _rc():
        fig = _figure(COLUMN_WIDTH, COLUMN_WIDTH * float(np.clip((y1 - y0) / (x1 - x0), 0.6, 1.4)) + 0.3)
        ax = fig.add_subplot(1, 1, 1)
        shape = (500, max(50, int(500 * (y1 - y0) / (x1 - x0))))
        handles = draw_regions(
            ax, tableaux, labels, (x0, x1, y0, y1), shape=shape, fill_alpha=0.08, linewidth=1.2,
            colors=[styles[label]["color"] for label in labels],
            linestyles=[styles[label]["ls"] for label in labels],
        )  # fmt: skip
        if title:
            ax.set_title(title)
        fig.tight_layout()
        _legend_below(fig, handles, [h.get_label() for h in handles], ncol=1)
    return fig


def plot_stability_regions(tableaux, labels, styles, path: str | os.PathLike, *, title: str = "") -> Path:
    """:func:`draw_stability_regions`, saved as PNG and SVG."""
    return _save(draw_stability_regions(tableaux, labels, styles, title=title), path)


# ----------------------------------------------------------------- work-precision


def draw_work_precision(curves: Sequence[Curve], *, title: str, styles: Mapping[str, dict] | None = None):
    """Error against function evaluations (log--log), and below it each method's error relative
    to RK4's at the same step count, in decades, which separates curves that coincide above."""
    styles = _styles_for([c.label for c in curves], [c.learned for c in curves], styles)
    ref = next((c for c in curves if c.label == "rk4"), None)
    with _rc():
        fig = _figure(COLUMN_WIDTH, 4.6 if ref is not None else 3.0)
        if ref is not None:
            ax, rel = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": (3, 2)})
        else:
            ax, rel = fig.add_subplot(1, 1, 1), None
        handles = []
        for curve in curves:
            size, width, z = (5, 1.3, 3) if curve.learned else (4, 0.9, 2)
            style = {**styles[curve.label], "ms": size, "lw": width, "zorder": z, "mfc": "none", "mew": 0.9}
            handles.append(ax.loglog(curve.nfev, curve.error, label=curve.label, **style)[0])
            if rel is not None and len(curve.error) == len(ref.error):
                with np.errstate(all="ignore"):
                    rel.semilogx(curve.nfev, np.log10(curve.error / ref.error), **style)
        ax.set_ylabel("relative error at t_end\n(geometric mean)")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        if rel is not None:
            for handle in handles:
                if handle.get_label() in _zoom_on_learned(rel, curves, ref):
                    handle.set_label(f"{handle.get_label()} (off scale)")
            rel.axhline(0.0, color="0.3", lw=0.6)
            rel.set_ylabel("log10(error / RK4 error)\n(decades, lower is better)")
            rel.grid(True, which="both", alpha=0.3)
        (rel or ax).set_xlabel("right-hand-side evaluations per problem")
        fig.tight_layout()
        _legend_below(fig, handles, [h.get_label() for h in handles])
    return fig


def _zoom_on_learned(ax, curves: Sequence[Curve], ref: Curve) -> list[str]:
    """Limit the relative-error panel to the learned curves and RK4 (padded); returns the methods
    left (partly) outside, which the legend marks "off scale"."""
    with np.errstate(all="ignore"):
        rel = {c.label: np.log10(c.error / ref.error) for c in curves if len(c.error) == len(ref.error)}
    keep = [v[np.isfinite(v)] for c in curves if c.learned and (v := rel.get(c.label)) is not None]
    keep.append(np.zeros(1))
    lo, hi = float(min(v.min() for v in keep if v.size)), float(max(v.max() for v in keep if v.size))
    pad = max(0.25 * (hi - lo), 0.05)
    lo, hi = lo - pad, hi + pad
    off = [c.label for c in curves if c.label in rel and np.any((rel[c.label] < lo) | (rel[c.label] > hi))]
    if off:
        ax.set_ylim(lo, hi)
    return off


def plot_work_precision(
    curves: Sequence[Curve], path: str | os.PathLike, *, title: str, styles: Mapping[str, dict] | None = None
) -> Path:
    """:func:`draw_work_precision`, saved as PNG and SVG."""
    return _save(draw_work_precision(curves, title=title, styles=styles), path)


# ----------------------------------------------------------------- trade-off


def draw_tradeoff(points: Sequence[Point], *, title: str, styles: Mapping[str, dict] | None = None):
    """Accuracy gain against efficiency gain (top) and against stability (bottom), each method in
    its own colour and marker, named in the legend below (no labels on the data to pile up)."""
    styles = _styles_for([p.label for p in points], [p.learned for p in points], styles)
    with _rc():
        fig = _figure(COLUMN_WIDTH, 4.8)
        top, bottom = fig.subplots(2, 1, sharex=True)
        acc = np.array([p.accuracy_gain for p in points], dtype=float)
        eff = np.array([p.efficiency_gain for p in points], dtype=float)
        stab = np.array([p.stability if math.isfinite(p.stability) else 0.0 for p in points])
        learned = np.array([p.learned for p in points])
        xlim, ylim_top, ylim_bottom = (_focus(v, learned) for v in (acc, eff, stab))
        handles = []
        for i, p in enumerate(points):
            st = styles[p.label]
            size, z = (7, 3) if p.learned else (5, 2)
            kw = {"color": st["color"], "marker": st["marker"], "ls": "", "ms": size, "zorder": z,
                  "mfc": st["color"] if p.learned else "none", "mec": st["color"], "mew": 1.0, "alpha": 0.9,
                  "clip_on": False}  # fmt: skip
            x = float(np.clip(acc[i], *xlim))
            y_top, y_bottom = float(np.clip(eff[i], *ylim_top)), float(np.clip(stab[i], *ylim_bottom))
            outside = (x, y_top, y_bottom) != (acc[i], eff[i], stab[i])
            label = f"{p.label} (off scale)" if outside else p.label
            handles.append(top.plot([x], [y_top], label=label, **kw)[0])
            bottom.plot([x], [y_bottom], **kw)
        top.set_xlim(*xlim)
        top.set_ylim(*ylim_top)
        bottom.set_ylim(*ylim_bottom)
        for ax in (top, bottom):
            ax.axvline(0.0, color="0.5", lw=0.6, ls=":")
            ax.grid(True, alpha=0.3)
        top.axhline(0.0, color="0.5", lw=0.6, ls=":")
        top.set_ylabel("efficiency gain over RK4\n(decades at equal work)")
        bottom.set_ylabel("stability: stable step per\nevaluation (1/rho)")
        bottom.set_xlabel("accuracy gain over RK4 (decades of error, higher is better)")
        top.set_title(title)
        fig.tight_layout()
        _legend_below(fig, handles, [h.get_label() for h in handles])
    return fig


def _focus(values: np.ndarray, learned: np.ndarray) -> tuple[float, float]:
    """Axis limits around the learned methods and RK4's 0 (for gains), padded: a library method far
    outside would otherwise squeeze every learned point into one spot."""
    finite = np.isfinite(values)
    core = values[learned & finite]
    if not core.size:
        core = values[finite] if finite.any() else np.zeros(1)
    lo, hi = float(core.min()), float(core.max())
    everything = values[finite]
    span = max(hi - lo, 0.05 * max(float(np.ptp(everything)) if everything.size else 0.0, 1e-3), 0.02)
    lo, hi = lo - span, hi + span
    if everything.size and everything.min() >= lo - span and everything.max() <= hi + span:
        lo, hi = min(lo, float(everything.min())), max(hi, float(everything.max()))  # all fit: show all
    pad = 0.06 * (hi - lo)
    return lo - pad, hi + pad


def plot_tradeoff(
    points: Sequence[Point], path: str | os.PathLike, *, title: str, styles: Mapping[str, dict] | None = None
) -> Path:
    """:func:`draw_tradeoff`, saved as PNG and SVG."""
    return _save(draw_tradeoff(points, title=title, styles=styles), path)


# ----------------------------------------------------------------- training curves


def draw_training_grid(
    runs: Sequence[tuple[str, Mapping[int, Mapping[str, Sequence[float]]]] | tuple[str, Mapping, str]],
    *,
    title: str,
    colors: Mapping[int, str] | None = None,
):
    """Training curves of several runs side by side, one panel per run.

    Parameters
    ----------
    runs : sequence of (label, curves) or (label, curves, objective)
        ``curves`` maps a stage count to ``"step"``, ``"train"`` and optionally
        ``"val_step"`` / ``"validation"`` sequences (the layout :mod:`rkml.plots` draws);
        ``objective`` names the run's weights, shown on its own y-axis (runs with different
        objectives get different axes).
    colors : mapping of stage count to colour, optional
        Default :func:`stage_colors` of every stage count shown: the same in every panel.
    """
    from matplotlib.lines import Line2D

    n = max(len(runs), 1)
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    stage_counts = sorted({s for run in runs for s in run[1]})
    colors = dict(colors) if colors is not None else stage_colors(stage_counts)
    with _rc():
        fig = _figure(TEXT_WIDTH, 2.5 * rows + 0.5)
        axes = fig.subplots(rows, cols, sharey=False, squeeze=False)
        for k, run in enumerate(runs):
            label, curves = run[0], run[1]
            objective = run[2] if len(run) > 2 else ""
            ax = axes[k // cols][k % cols]
            for s in sorted(curves):
                data = curves[s]
                ax.plot(data["step"], data["train"], lw=0.8, alpha=0.5, color=colors[s])
                if data.get("validation"):
                    ax.plot(data["val_step"], data["validation"], marker="o", ms=2.5, lw=1.4, color=colors[s])
            ax.axhline(0.0, color="k", lw=0.6, ls="--")
            ax.set_title(label)
            ax.set_xlabel("CMA-ES generation")
            ax.set_ylabel("score vs RK4 (decades)" + (f"\n{objective}" if objective else ""))
            ax.grid(alpha=0.3)
        for k in range(len(runs), rows * cols):
            axes[k // cols][k % cols].set_visible(False)
        fig.suptitle(title)
        fig.tight_layout()
        handles = [Line2D([], [], color=colors[s], lw=1.4, label=f"s = {s}") for s in stage_counts]
        handles += [
            Line2D([], [], color="0.3", lw=0.8, alpha=0.5, label="train split (best of generation)"),
            Line2D([], [], color="0.3", lw=1.4, marker="o", ms=2.5, label="validation"),
            Line2D([], [], color="k", lw=0.6, ls="--", label="RK4 (0)"),
        ]
        _legend_below(fig, handles, [h.get_label() for h in handles], ncol=min(len(handles), 6))
    return fig


def plot_training_grid(
    runs, path: str | os.PathLike, *, title: str, colors: Mapping[int, str] | None = None
) -> Path:
    """:func:`draw_training_grid`, saved as PNG and SVG."""
    return _save(draw_training_grid(runs, title=title, colors=colors), path)


# ----------------------------------------------------------------- the answer as a figure


class Gain(NamedTuple):
    """One row of the generalisation figure: a headline minus its best same-stage library method
    (``rival``) under the run's own weights, with the s.e. of the paired differences."""

    label: str
    rival: str
    gain: float
    stderr: float


def draw_generalisation(gains: Sequence[Gain], *, title: str, styles: Mapping[str, dict] | None = None):
    """Each headline's paired difference from its best same-stage library method: a point with a
    thick bar for ± one s.e. and a thin one for the 95 % interval (± 1.96 s.e.)."""
    styles = _styles_for([g.label for g in gains], [True] * len(gains), styles)
    with _rc():
        fig = _figure(COLUMN_WIDTH, 0.9 + 0.32 * max(len(gains), 1))
        ax = fig.add_subplot(1, 1, 1)
        for k, g in enumerate(gains):
            st = styles[g.label]
            y = len(gains) - 1 - k
            ax.errorbar([g.gain], [y], xerr=[[1.96 * g.stderr], [1.96 * g.stderr]], color=st["color"], lw=0.8,
                        capsize=2)  # fmt: skip
            ax.errorbar([g.gain], [y], xerr=[[g.stderr], [g.stderr]], color=st["color"], lw=2.2,
                        marker=st["marker"], ms=6)  # fmt: skip
        ax.axvline(0.0, color="0.3", lw=0.7, ls="--")
        ax.set_yticks(range(len(gains)))
        ax.set_yticklabels([f"{g.label}\nvs {g.rival}" for g in reversed(gains)])
        ax.set_ylim(-0.6, len(gains) - 0.4)
        ax.set_xlabel(
            "headline − best same-s library method\n(decades, run's own weights; > 0: headline better)"
        )
        ax.set_title(title)
        ax.grid(True, axis="x", alpha=0.3)
        fig.tight_layout()
    return fig


def plot_generalisation(
    gains: Sequence[Gain], path: str | os.PathLike, *, title: str, styles: Mapping[str, dict] | None = None
) -> Path:
    """:func:`draw_generalisation`, saved as PNG and SVG."""
    return _save(draw_generalisation(gains, title=title, styles=styles), path)
