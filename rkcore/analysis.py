"""One-call analysis of a tableau: the figures ``rkcore analyze`` reports.

:func:`analyze` gathers order, stage order, principal error norm, the
stability polynomial and the stability limits into a frozen :class:`Analysis`;
:func:`butcher_layout` renders the tableau in Butcher's layout for the text
report.  Nothing here prints.

Every stability figure comes with an error estimate; a figure whose estimate
exceeds the requested relative tolerance is not reported as a number (NaN in the
:class:`Analysis`, null in its JSON form) and a note says why, so that nothing
unverified reaches a report.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from .order import _check_tableau, first_failed_condition, order, principal_error_norm, stage_order
from .stability import (
    StabilityFigure,
    _check_rtol,
    imaginary_stability_figure,
    real_stability_figure,
    stability_function_coefficients,
)
from .stability_region import stability_area_figure
from .tableau import Tableau


@dataclasses.dataclass(frozen=True)
class Analysis:
    """Analysis of one tableau (see :func:`analyze`).

    Attributes
    ----------
    name : str
    stages : int
    explicit, fsal : bool
    order : int
        Classical order (``rkcore.order``).
    stage_order : int
    principal_error_norm : float
        2-norm of the order ``order + 1`` error coefficients.
    stability_polynomial : tuple of float or None
        Ascending coefficients of ``R(z)`` (length s + 1) for an explicit method;
        None for an implicit one, whose ``R = P/Q`` is in ``stability_numerator`` /
        ``stability_denominator``.
    stability_numerator, stability_denominator : tuple of float
        Ascending coefficients of ``P`` and ``Q`` (``Q = 1`` for explicit methods).
    real_stability_interval, imaginary_stability_interval : float
        ``inf`` when the whole half-axis is stable; NaN when not verified (see ``unverified``).
    stability_area : float or None
        Area of the stability region with ``Re z <= 0``; ``inf`` if unbounded, NaN when
        not verified, None when not computed (``analyze(..., area=False)``).
    embedded_order : int or None
        Order of the embedded method ``(A, b_hat)``; None without ``b_hat``.
    failed_condition : str or None
        The first violated order condition (e.g. ``Σb = 1``), None if all checked hold.
    failed_residual : float or None
        Its residual ``Phi(t) - 1/gamma(t)``.
    real_stability_interval_error, imaginary_stability_interval_error : float
        Estimated absolute errors of the two limits (0 for exact decisions).
    stability_area_error : float or None
        Estimated absolute error of the area (None when not computed).
    unverified : tuple of (str, str)
        ``(figure, reason)`` for every stability figure whose error estimate exceeded the
        tolerance; such a figure is NaN above.
    """

    name: str
    stages: int
    explicit: bool
    fsal: bool
    order: int
    stage_order: int
    principal_error_norm: float
    stability_polynomial: tuple[float, ...] | None
    stability_numerator: tuple[float, ...]
    stability_denominator: tuple[float, ...]
    real_stability_interval: float
    imaginary_stability_interval: float
    stability_area: float | None
    embedded_order: int | None
    failed_condition: str | None
    failed_residual: float | None
    real_stability_interval_error: float = 0.0
    imaginary_stability_interval_error: float = 0.0
    stability_area_error: float | None = None
    unverified: tuple[tuple[str, str], ...] = ()

    @property
    def verified(self) -> bool:
        """True when every stability figure that was computed is verified."""
        return not self.unverified

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict.

        Keys: ``name, stages, explicit, fsal, order, stage_order, principal_error_norm,
        stability_polynomial, real_stability_interval, imaginary_stability_interval,
        stability_area, stability_errors, first_failed_condition, first_failed_residual``,
        plus ``embedded_order`` when the tableau has ``b_hat``, ``stability_numerator`` /
        ``stability_denominator`` for implicit tableaux and ``unverified`` (the names of
        figures that could not be verified) when there are any.  JSON has no infinity: an
        unbounded interval or area is written as None and explained under ``notes``; an
        unverified figure is None too, with the reason under ``notes``.
        """
        notes: list[str] = []
        reasons = dict(self.unverified)

        def finite(key: str, value: float | None) -> float | None:
            if key in reasons:
                notes.append(f"{key} is not verified ({reasons[key]}); written as null")
                return None
            if value is not None and not math.isfinite(value):
                notes.append(f"{key} is unbounded (infinite); written as null")
                return None
            return value

        def error(value: float | None) -> float | None:
            return None if value is None or not math.isfinite(value) else value

        out: dict[str, Any] = {
            "name": self.name,
            "stages": self.stages,
            "explicit": self.explicit,
            "fsal": self.fsal,
            "order": self.order,
            "stage_order": self.stage_order,
            "principal_error_norm": self.principal_error_norm,
            "stability_polynomial": None
            if self.stability_polynomial is None
            else list(self.stability_polynomial),
            "real_stability_interval": finite("real_stability_interval", self.real_stability_interval),
            "imaginary_stability_interval": finite(
                "imaginary_stability_interval", self.imaginary_stability_interval
            ),
            "stability_area": finite("stability_area", self.stability_area),
            "stability_errors": {
                "real_stability_interval": error(self.real_stability_interval_error),
                "imaginary_stability_interval": error(self.imaginary_stability_interval_error),
                "stability_area": error(self.stability_area_error),
            },
            "first_failed_condition": self.failed_condition,
            "first_failed_residual": self.failed_residual,
        }
        if self.embedded_order is not None:
            out["embedded_order"] = self.embedded_order
        if not self.explicit:
            out["stability_numerator"] = list(self.stability_numerator)
            out["stability_denominator"] = list(self.stability_denominator)
            notes.append("implicit method: R(z) = P(z)/Q(z) is rational, so stability_polynomial is null")
        if self.unverified:
            out["unverified"] = [key for key, _ in self.unverified]
        if notes:
            out["notes"] = notes
        return out


def _reason(fig: StabilityFigure) -> str:
    if not (math.isfinite(fig.error) and math.isfinite(fig.value) and fig.value != 0.0):
        return "it could not be resolved in floating point"
    return f"estimated relative error {fig.error / abs(fig.value):.1e}"


def analyze(tableau: Tableau, tol: float = 1e-10, area: bool = True, rtol: float = 1e-6) -> Analysis:
    """Analyse a tableau (explicit or implicit).

    Parameters
    ----------
    tableau : Tableau
    tol : float
        Tolerance of the order conditions (``rkcore.order``) and the stage order.
    area : bool
        Compute the stability-region area (the slowest figure).
    rtol : float
        Stability figures whose estimated relative error exceeds ``rtol`` are reported as
        unverified (NaN, with the reason in ``Analysis.unverified``).

    Returns
    -------
    Analysis
    """
    t = _check_tableau(tableau)
    rtol = _check_rtol(rtol)
    p = order(t, tol)
    failed = first_failed_condition(t, tol)
    coeffs = stability_function_coefficients(t)
    num = tuple(float(x) for x in coeffs.numerator)
    embedded = None
    if t.b_hat is not None:
        embedded = order(Tableau(A=t.A, b=t.b_hat, c=t.c, name=f"{t.name} (embedded)"), tol)
    figures: dict[str, StabilityFigure] = {
        "real_stability_interval": real_stability_figure(t),
        "imaginary_stability_interval": imaginary_stability_figure(t),
    }
    if area:
        real = figures["real_stability_interval"]
        figures["stability_area"] = stability_area_figure(
            t, min(rtol, 1e-10), real.value if real.verified(rtol) else None
        )
    unverified = tuple((key, _reason(fig)) for key, fig in figures.items() if not fig.verified(rtol))
    bad = dict(unverified)

    def value(key: str) -> float:
        return math.nan if key in bad else float(figures[key].value)

    return Analysis(
        name=t.name,
        stages=t.stages,
        explicit=t.is_explicit,
        fsal=t.is_fsal,
        order=p,
        stage_order=stage_order(t, tol),
        principal_error_norm=principal_error_norm(t, p),
        stability_polynomial=num if t.is_explicit else None,
        stability_numerator=num,
        stability_denominator=tuple(float(x) for x in coeffs.denominator),
        real_stability_interval=value("real_stability_interval"),
        imaginary_stability_interval=value("imaginary_stability_interval"),
        stability_area=value("stability_area") if area else None,
        embedded_order=embedded,
        failed_condition=None if failed is None else failed.tree.condition(),
        failed_residual=None if failed is None else failed.residual,
        real_stability_interval_error=float(figures["real_stability_interval"].error),
        imaginary_stability_interval_error=float(figures["imaginary_stability_interval"].error),
        stability_area_error=float(figures["stability_area"].error) if area else None,
        unverified=unverified,
    )


def _fmt(x: float, digits: int) -> str:
    if x == 0.0:
        return "0"
    return f"{x:.{digits}g}"


def butcher_layout(tableau: Tableau, digits: int = 10) -> str:
    """The tableau in Butcher's layout, as plain text::

        c | A
        --+------
          | b
          | b_hat     (when present)

    Entries on and above the diagonal of an explicit method are left blank.

    Parameters
    ----------
    tableau : Tableau
    digits : int
        Significant digits per entry.
    """
    t = _check_tableau(tableau)
    s = t.stages
    explicit = t.is_explicit
    rows: list[list[str]] = []
    for i in range(s):
        rows.append([_fmt(t.A[i, j], digits) if not (explicit and j >= i) else "" for j in range(s)])
    weight_rows = [[_fmt(x, digits) for x in t.b]]
    if t.b_hat is not None:
        weight_rows.append([_fmt(x, digits) for x in t.b_hat])
    cells = rows + weight_rows
    widths = [max(len(r[j]) for r in cells) for j in range(s)]
    c_col = [_fmt(x, digits) for x in t.c]
    c_width = max(len(x) for x in c_col)

    def line(left: str, entries: list[str]) -> str:
        body = "  ".join(e.rjust(w) for e, w in zip(entries, widths, strict=True))
        return f"{left.rjust(c_width)} | {body}".rstrip()

    out = [line(c_col[i], rows[i]) for i in range(s)]
    out.append("-" * (c_width + 1) + "+" + "-" * (sum(widths) + 2 * (s - 1) + 1))
    out.extend(line("", r) for r in weight_rows)
    return "\n".join(out)
