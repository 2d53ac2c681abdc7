"""Stability-region plots (matplotlib, PNG), written atomically.

matplotlib is imported inside the function so that ``import rkcore`` stays light;
the figure is built on the Agg canvas directly (no pyplot state).
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .errors import RKInputError
from .fileio import atomic_write_bytes
from .order import _check_tableau
from .stability import stability_function
from .tableau import Tableau

_DEFAULT_EXTENT = (-5.0, 1.0, -3.5, 3.5)


def _auto_extent(tableaux: Sequence[Tableau]) -> tuple[float, float, float, float]:
    """A box around the bounded stable sets (coarse scan), padded by 10%."""
    lo_x, hi_x, hi_y = np.inf, -np.inf, 0.0
    for t in tableaux:
        re = np.linspace(-30.0, 6.0, 361)
        im = np.linspace(0.0, 30.0, 301)
        stable = np.abs(stability_function(t, re[None, :] + 1j * im[:, None])) <= 1.0
        if not stable.any() or stable[:, 0].any() or stable[-1, :].any():
            continue  # empty or reaching the scan edge (unbounded): leave it to the default box
        cols = np.flatnonzero(stable.any(axis=0))
        rows = np.flatnonzero(stable.any(axis=1))
        lo_x, hi_x = min(lo_x, re[cols[0]]), max(hi_x, re[cols[-1]])
        hi_y = max(hi_y, im[rows[-1]])
    if not np.isfinite(lo_x):
        return _DEFAULT_EXTENT
    width = hi_x - lo_x
    pad_x = 0.1 * max(width, 1.0)
    pad_y = 0.1 * max(hi_y, 1.0)
    return (float(lo_x - pad_x), float(max(hi_x, 0.0) + pad_x), float(-hi_y - pad_y), float(hi_y + pad_y))


def same_stability_function(tableaux: Sequence[Tableau], tol: float = 1e-9) -> list[list[int]]:
    """For each tableau, the indices of the tableaux with the same stability function (itself
    included, in order), judged at a few points of the complex plane."""
    probe = np.array([-2.0 + 0.5j, -0.7 + 2.1j, -3.1 - 1.3j, 0.4 + 0.9j, -1.5 - 2.7j])
    values = [stability_function(t, probe) for t in tableaux]
    return [[j for j, w in enumerate(values) if np.allclose(v, w, rtol=tol, atol=tol)] for v in values]


def draw_stability_regions(
    ax,
    tableaux: Sequence[Tableau],
    labels: Sequence[str],
    extent: tuple[float, float, float, float],
    *,
    colors: Sequence[str],
    linestyles: Sequence[object] | None = None,
    shape: tuple[int, int],
    filled: bool = True,
    fill_alpha: float = 0.12,
    linewidth: float = 1.6,
) -> list:
    """Draw the boundaries ``|R(z)| = 1`` (and light fills) of ``tableaux`` on ``ax``; return legend handles.

    ``shape`` is the grid (points along Re, along Im).  Tableaux with the same stability function
    share one fill, and their common boundary is dashed in each one's colour in turn, so that none
    hides the others; the first of them names the others in its legend entry.
    """
    from matplotlib.lines import Line2D

    x0, x1, y0, y1 = extent
    re = np.linspace(x0, x1, shape[0])
    im = np.linspace(y0, y1, shape[1])
    z = re[None, :] + 1j * im[:, None]
    linestyles = list(linestyles) if linestyles is not None else ["-"] * len(tableaux)
    groups = same_stability_function(tableaux)
    handles = []
    for k, (t, label) in enumerate(zip(tableaux, labels, strict=True)):
        color, group = colors[k], groups[k]
        with np.errstate(all="ignore"):
            mag = np.abs(stability_function(t, z))
        mag = np.where(np.isfinite(mag), mag, 1e300)
        if filled and group[0] == k:  # one fill per distinct region
            ax.contourf(re, im, mag, levels=[0.0, 1.0], colors=[color], alpha=fill_alpha)
        if len(group) > 1:  # coinciding boundaries: each method's colour in turn along the curve
            dash = 3.0
            ls = (group.index(k) * dash, (dash, dash * (len(group) - 1)))
        else:
            ls = linestyles[k]
        ax.contour(re, im, mag, levels=[1.0], colors=[color], linewidths=linewidth, linestyles=[ls])
        same = [labels[i] for i in group if i != k]
        text = label + (f" (+{len(same)} identical)" if same and k == group[0] else "")
        handles.append(Line2D([], [], color=color, ls=linestyles[k], lw=linewidth, label=text))
    ax.axhline(0.0, color="0.4", lw=0.5)
    ax.axvline(0.0, color="0.4", lw=0.5)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.set_xlabel("Re(z), z = hλ")
    ax.set_ylabel("Im(z)")
    ax.grid(True, lw=0.4, alpha=0.5)
    return handles


def plot_stability_regions(
    tableaux: Sequence[Tableau] | Tableau,
    path: str | os.PathLike,
    extent: tuple[float, float, float, float] | None = None,
    *,
    labels: Sequence[str] | None = None,
    resolution: int = 600,
    title: str | None = "Linear stability regions |R(z)| <= 1",
    filled: bool = True,
    dpi: int = 120,
) -> Path:
    """Overlay the stability regions ``{z: |R(z)| <= 1}`` of several tableaux and save a PNG.

    Parameters
    ----------
    tableaux : Tableau or sequence of Tableau
    path : path-like
        Output PNG file (written atomically).
    extent : (re_min, re_max, im_min, im_max), optional
        Plot window; by default a box around all bounded regions.
    labels : sequence of str, optional
        Legend entries; default the tableau names.
    resolution : int
        Grid points along the longer axis.
    title : str or None
    filled : bool
        Shade each region lightly under its boundary curve.
    dpi : int

    Returns
    -------
    Path
        The written file.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if isinstance(tableaux, Tableau):
        tableaux = [tableaux]
    tableaux = [_check_tableau(t) for t in tableaux]
    if not tableaux:
        raise RKInputError("plot_stability_regions needs at least one tableau")
    if labels is None:
        labels = [t.name or f"tableau {i + 1}" for i, t in enumerate(tableaux)]
    elif len(labels) != len(tableaux):
        raise RKInputError(
            f"got {len(labels)} labels for {len(tableaux)} tableaux; give one label per tableau"
        )
    if extent is None:
        extent = _auto_extent(tableaux)
    x0, x1, y0, y1 = (float(v) for v in extent)
    if not (x1 > x0 and y1 > y0):
        raise RKInputError(f"extent {extent} must be (re_min, re_max, im_min, im_max) with min < max")
    if resolution < 20:
        raise RKInputError(f"resolution must be at least 20 grid points, got {resolution}")

    scale = resolution / max(x1 - x0, y1 - y0)
    shape = (max(20, int(scale * (x1 - x0))), max(20, int(scale * (y1 - y0))))

    fig = Figure(figsize=(7.0, float(np.clip(7.0 * (y1 - y0) / (x1 - x0), 3.0, 9.0))))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    colors = [f"C{i % 10}" for i in range(len(tableaux))]
    handles = draw_stability_regions(
        ax, tableaux, labels, (x0, x1, y0, y1), colors=colors, shape=shape, filled=filled
    )
    if title:
        ax.set_title(title)
    ax.legend(handles=handles, loc="upper left", fontsize="small")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return atomic_write_bytes(path, buf.getvalue())
