"""Classical explicit Runge--Kutta methods as module-level constants.

Every method is a frozen :class:`~rkcore.tableau.Tableau` whose ``info`` records
the ``order`` claimed by its authors, a ``source`` citation and, for embedded
pairs, the ``embedded_order`` of ``b_hat``.  Rational coefficients are written as
Python ``int / int`` expressions, which CPython rounds correctly to the nearest
float64; methods published in decimal (Tsitouras 5(4), SSPRK(5,4)) carry the
published digits.  The test-suite verifies every stated order against nodepy and
against :func:`rkcore.order`.

Look methods up by registry key with :func:`method`; :func:`methods` lists the keys.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Sequence
from types import MappingProxyType

import numpy as np

from .errors import RKInputError
from .tableau import Tableau

__all__ = ["LIBRARY", "method", "methods"]


def _explicit(
    name: str,
    rows: Sequence[Sequence[float]],
    b: Sequence[float],
    *,
    order: int,
    source: str,
    b_hat: Sequence[float] | None = None,
    embedded_order: int | None = None,
) -> Tableau:
    """Build an explicit tableau from the strictly lower rows of ``A`` (row ``i`` has ``i`` entries)."""
    s = len(b)
    A = np.zeros((s, s))
    for i, row in enumerate(rows):
        A[i, : len(row)] = row
    info: dict[str, object] = {"order": order, "source": source}
    if embedded_order is not None:
        info["embedded_order"] = embedded_order
    return Tableau(A=A, b=b, b_hat=b_hat, name=name, info=info)


def _from_shu_osher(alpha: np.ndarray, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Butcher form of an explicit method in Shu--Osher form.

    Parameters
    ----------
    alpha, beta : ndarray, shape (s + 1, s)
        Row ``i`` gives stage ``i`` (row ``s`` the new solution) as
        ``sum_j alpha[i, j] Y_j + h * sum_j beta[i, j] F(Y_j)`` with ``Y_0 = y_n``.

    Returns
    -------
    A : ndarray, shape (s, s)
    b : ndarray, shape (s,)
    """
    s = alpha.shape[1]
    # Each stage is y_n + h * sum_j K[i, j] F(Y_j); substitute the earlier stages.
    K = np.zeros((s + 1, s))
    for i in range(1, s + 1):
        K[i] = beta[i] + alpha[i, :i] @ K[:i]
    return K[:s], K[s]


# ----------------------------------------------------------------- order 1 and 2

EULER = _explicit(
    "euler",
    [[]],
    [1],
    order=1,
    source="L. Euler, Institutionum calculi integralis, vol. 1, St. Petersburg, 1768",
)

HEUN = _explicit(
    "heun",
    [[], [1]],
    [1 / 2, 1 / 2],
    order=2,
    source=(
        "K. Heun, Neue Methode zur approximativen Integration der Differentialgleichungen einer "
        "unabhaengigen Veraenderlichen, Z. Math. Phys. 45 (1900) 23-38 (explicit trapezoidal rule)"
    ),
)

MIDPOINT = _explicit(
    "midpoint",
    [[], [1 / 2]],
    [0, 1],
    order=2,
    source=(
        "C. Runge, Ueber die numerische Aufloesung von Differentialgleichungen, Math. Ann. 46 (1895) 167-178"
    ),
)

RALSTON2 = _explicit(
    "ralston2",
    [[], [2 / 3]],
    [1 / 4, 3 / 4],
    order=2,
    source="A. Ralston, Runge-Kutta methods with minimum error bounds, Math. Comp. 16 (1962) 431-437",
)

SSPRK22 = _explicit(
    "ssprk22",
    [[], [1]],
    [1 / 2, 1 / 2],
    order=2,
    source=(
        "C.-W. Shu and S. Osher, Efficient implementation of essentially non-oscillatory shock-capturing "
        "schemes, J. Comput. Phys. 77 (1988) 439-471 "
        "(optimal two-stage SSP method; same coefficients as heun)"
    ),
)

# ----------------------------------------------------------------- order 3

KUTTA3 = _explicit(
    "kutta3",
    [[], [1 / 2], [-1, 2]],
    [1 / 6, 2 / 3, 1 / 6],
    order=3,
    source=(
        "W. Kutta, Beitrag zur naeherungsweisen Integration totaler Differentialgleichungen, "
        "Z. Math. Phys. 46 (1901) 435-453"
    ),
)

HEUN3 = _explicit(
    "heun3",
    [[], [1 / 3], [0, 2 / 3]],
    [1 / 4, 0, 3 / 4],
    order=3,
    source=(
        "K. Heun, Neue Methode zur approximativen Integration der Differentialgleichungen einer "
        "unabhaengigen Veraenderlichen, Z. Math. Phys. 45 (1900) 23-38"
    ),
)

RALSTON3 = _explicit(
    "ralston3",
    [[], [1 / 2], [0, 3 / 4]],
    [2 / 9, 1 / 3, 4 / 9],
    order=3,
    source="A. Ralston, Runge-Kutta methods with minimum error bounds, Math. Comp. 16 (1962) 431-437",
)

SSPRK3 = _explicit(
    "ssprk3",
    [[], [1], [1 / 4, 1 / 4]],
    [1 / 6, 1 / 6, 2 / 3],
    order=3,
    source=(
        "C.-W. Shu and S. Osher, Efficient implementation of essentially non-oscillatory shock-capturing "
        "schemes, J. Comput. Phys. 77 (1988) 439-471"
    ),
)

BS3 = _explicit(
    "bs3",
    [[], [1 / 2], [0, 3 / 4], [2 / 9, 1 / 3, 4 / 9]],
    [2 / 9, 1 / 3, 4 / 9, 0],
    b_hat=[7 / 24, 1 / 4, 1 / 3, 1 / 8],
    order=3,
    embedded_order=2,
    source=(
        "P. Bogacki and L. F. Shampine, A 3(2) pair of Runge-Kutta formulas, "
        "Appl. Math. Lett. 2 (1989) 321-325"
    ),
)

# ----------------------------------------------------------------- order 4

RK4 = _explicit(
    "rk4",
    [[], [1 / 2], [0, 1 / 2], [0, 0, 1]],
    [1 / 6, 1 / 3, 1 / 3, 1 / 6],
    order=4,
    source=(
        "W. Kutta, Beitrag zur naeherungsweisen Integration totaler Differentialgleichungen, "
        "Z. Math. Phys. 46 (1901) 435-453 (the classical fourth-order method)"
    ),
)

RK38 = _explicit(
    "rk38",
    [[], [1 / 3], [-1 / 3, 1], [1, -1, 1]],
    [1 / 8, 3 / 8, 3 / 8, 1 / 8],
    order=4,
    source=(
        "W. Kutta, Beitrag zur naeherungsweisen Integration totaler Differentialgleichungen, "
        "Z. Math. Phys. 46 (1901) 435-453 (the 3/8 rule)"
    ),
)

_SQRT5 = math.sqrt(5.0)
RALSTON4 = _explicit(
    "ralston4",
    [
        [],
        [2 / 5],
        [(-2889 + 1428 * _SQRT5) / 1024, (3785 - 1620 * _SQRT5) / 1024],
        [(-3365 + 2094 * _SQRT5) / 6040, (-975 - 3046 * _SQRT5) / 2552, (467040 + 203968 * _SQRT5) / 240845],
    ],
    [
        (263 + 24 * _SQRT5) / 1812,
        (125 - 1000 * _SQRT5) / 3828,
        1024 * (3346 + 1623 * _SQRT5) / 5924787,
        (30 - 4 * _SQRT5) / 123,
    ],
    order=4,
    source="A. Ralston, Runge-Kutta methods with minimum error bounds, Math. Comp. 16 (1962) 431-437",
)

MERSON4 = _explicit(
    "merson4",
    [[], [1 / 3], [1 / 6, 1 / 6], [1 / 8, 0, 3 / 8], [1 / 2, 0, -3 / 2, 2]],
    [1 / 6, 0, 0, 2 / 3, 1 / 6],
    b_hat=[1 / 10, 0, 3 / 10, 2 / 5, 1 / 5],
    order=4,
    embedded_order=3,
    source=(
        "R. H. Merson, An operational method for the study of integration processes, Proc. Symp. Data "
        "Processing, Weapons Research Establishment, Salisbury, Australia, 1957, 110-125"
    ),
)

RKF45 = _explicit(
    "rkf45",
    [
        [],
        [1 / 4],
        [3 / 32, 9 / 32],
        [1932 / 2197, -7200 / 2197, 7296 / 2197],
        [439 / 216, -8, 3680 / 513, -845 / 4104],
        [-8 / 27, 2, -3544 / 2565, 1859 / 4104, -11 / 40],
    ],
    # Fehlberg propagates the fourth-order solution; the fifth-order one estimates its error.
    [25 / 216, 0, 1408 / 2565, 2197 / 4104, -1 / 5, 0],
    b_hat=[16 / 135, 0, 6656 / 12825, 28561 / 56430, -9 / 50, 2 / 55],
    order=4,
    embedded_order=5,
    source=(
        "E. Fehlberg, Low-order classical Runge-Kutta formulas with stepsize control and their "
        "application to some heat transfer problems, NASA Technical Report R-315, 1969"
    ),
)

# SSPRK(5,4): Spiteri and Ruuth publish the Shu--Osher form to 15 digits.
_SSP54_ALPHA = np.array(
    [
        [0, 0, 0, 0, 0],
        [1, 0, 0, 0, 0],
        [0.444370493651235, 0.555629506348765, 0, 0, 0],
        [0.620101851488403, 0, 0.379898148511597, 0, 0],
        [0.178079954393132, 0, 0, 0.821920045606868, 0],
        [0, 0, 0.517231671970585, 0.096059710526147, 0.386708617503269],
    ]
)
_SSP54_BETA = np.array(
    [
        [0, 0, 0, 0, 0],
        [0.391752226571890, 0, 0, 0, 0],
        [0, 0.368410593050371, 0, 0, 0],
        [0, 0, 0.251891774271694, 0, 0],
        [0, 0, 0, 0.544974750228521, 0],
        [0, 0, 0, 0.063692468666290, 0.226007483236906],
    ]
)
_SSP54_A, _SSP54_B = _from_shu_osher(_SSP54_ALPHA, _SSP54_BETA)
SSPRK54 = Tableau(
    A=_SSP54_A,
    b=_SSP54_B,
    name="ssprk54",
    info={
        "order": 4,
        "source": (
            "R. J. Spiteri and S. J. Ruuth, A new class of optimal high-order strong-stability-preserving "
            "time discretization methods, SIAM J. Numer. Anal. 40 (2002) 469-491 (SSPRK(5,4))"
        ),
    },
)

SSPRK104 = _explicit(
    "ssprk104",
    # Shu--Osher form: five stages of h/6 Euler steps, a convex restart, four more h/6 steps.
    [[1 / 6] * i for i in range(5)] + [[1 / 15] * 5 + [1 / 6] * k for k in range(5)],
    [1 / 10] * 10,
    order=4,
    source=(
        "D. I. Ketcheson, Highly efficient strong stability-preserving Runge-Kutta methods with "
        "low-storage implementations, SIAM J. Sci. Comput. 30 (2008) 2113-2136 (SSPRK(10,4))"
    ),
)

# ----------------------------------------------------------------- order 5 and 6

NYSTROM5 = _explicit(
    "nystrom5",
    [
        [],
        [1 / 3],
        [4 / 25, 6 / 25],
        [1 / 4, -3, 15 / 4],
        [2 / 27, 10 / 9, -50 / 81, 8 / 81],
        [2 / 25, 12 / 25, 2 / 15, 8 / 75, 0],
    ],
    [23 / 192, 0, 125 / 192, 0, -27 / 64, 125 / 192],
    order=5,
    source=(
        "E. J. Nystroem, Ueber die numerische Integration von Differentialgleichungen, "
        "Acta Soc. Sci. Fennicae 50(13) (1925) 1-55 (Kutta's six-stage fifth-order method, corrected)"
    ),
)

BUTCHER5 = _explicit(
    "butcher5",
    [
        [],
        [1 / 4],
        [1 / 8, 1 / 8],
        [0, 0, 1 / 2],
        [3 / 16, -3 / 8, 3 / 8, 9 / 16],
        [-3 / 7, 8 / 7, 6 / 7, -12 / 7, 8 / 7],
    ],
    [7 / 90, 0, 32 / 90, 12 / 90, 32 / 90, 7 / 90],
    order=5,
    source=(
        "J. C. Butcher, On Runge-Kutta processes of high order, J. Austral. Math. Soc. 4 (1964) 179-194; "
        "six-stage fifth-order example in J. C. Butcher, Numerical Methods for Ordinary Differential "
        "Equations, Wiley, 2008"
    ),
)

CASHKARP = _explicit(
    "cashkarp",
    [
        [],
        [1 / 5],
        [3 / 40, 9 / 40],
        [3 / 10, -9 / 10, 6 / 5],
        [-11 / 54, 5 / 2, -70 / 27, 35 / 27],
        [1631 / 55296, 175 / 512, 575 / 13824, 44275 / 110592, 253 / 4096],
    ],
    [37 / 378, 0, 250 / 621, 125 / 594, 0, 512 / 1771],
    b_hat=[2825 / 27648, 0, 18575 / 48384, 13525 / 55296, 277 / 14336, 1 / 4],
    order=5,
    embedded_order=4,
    source=(
        "J. R. Cash and A. H. Karp, A variable order Runge-Kutta method for initial value problems with "
        "rapidly varying right-hand sides, ACM Trans. Math. Software 16 (1990) 201-222"
    ),
)

DOPRI5 = _explicit(
    "dopri5",
    [
        [],
        [1 / 5],
        [3 / 40, 9 / 40],
        [44 / 45, -56 / 15, 32 / 9],
        [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
        [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
        [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84],
    ],
    [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0],
    b_hat=[5179 / 57600, 0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40],
    order=5,
    embedded_order=4,
    source=(
        "J. R. Dormand and P. J. Prince, A family of embedded Runge-Kutta formulae, "
        "J. Comput. Appl. Math. 6 (1980) 19-26"
    ),
)

# Tsitouras gives b_hat through the differences b_hat - b (last entry exactly 1/66).
_TSIT5_B = [
    0.09646076681806523,
    0.01,
    0.4798896504144996,
    1.379008574103742,
    -3.290069515436081,
    2.324710524099774,
    0.0,
]
_TSIT5_DB = [
    -0.00178001105222577714,
    -0.0008164344596567469,
    0.007880878010261995,
    -0.1447110071732629,
    0.5823571654525552,
    -0.45808210592918697,
    1 / 66,
]
TSIT5 = _explicit(
    "tsit5",
    [
        [],
        [0.161],
        [-0.008480655492356989, 0.335480655492357],
        [2.897153057105493, -6.359448489975075, 4.3622954328695815],
        [5.325864828439257, -11.748883564062828, 7.4955393428898365, -0.09249506636175525],
        [5.86145544294642, -12.92096931784711, 8.159367898576159, -0.071584973281401, -0.028269050394068383],
        _TSIT5_B[:6],
    ],
    _TSIT5_B,
    b_hat=[bi + di for bi, di in zip(_TSIT5_B, _TSIT5_DB, strict=True)],
    order=5,
    embedded_order=4,
    source=(
        "Ch. Tsitouras, Runge-Kutta pairs of order 5(4) satisfying only the first column simplifying "
        "assumption, Comput. Math. Appl. 62 (2011) 770-775"
    ),
)

VERNER65 = _explicit(
    "verner65",
    [
        [],
        [1 / 6],
        [4 / 75, 16 / 75],
        [5 / 6, -8 / 3, 5 / 2],
        [-165 / 64, 55 / 6, -425 / 64, 85 / 96],
        [12 / 5, -8, 4015 / 612, -11 / 36, 88 / 255],
        [-8263 / 15000, 124 / 75, -643 / 680, -81 / 250, 2484 / 10625, 0],
        [3501 / 1720, -300 / 43, 297275 / 52632, -319 / 2322, 24068 / 84065, 0, 3850 / 26703],
    ],
    [3 / 40, 0, 875 / 2244, 23 / 72, 264 / 1955, 0, 125 / 11592, 43 / 616],
    b_hat=[13 / 160, 0, 2375 / 5984, 5 / 16, 12 / 85, 3 / 44, 0, 0],
    order=6,
    embedded_order=5,
    source=(
        "J. H. Verner, Explicit Runge-Kutta methods with estimates of the local truncation error, "
        "SIAM J. Numer. Anal. 15 (1978) 772-790 (the 8-stage 6(5) pair used in DVERK by Hull, Enright "
        "and Jackson, 1976)"
    ),
)

# ----------------------------------------------------------------- registry

LIBRARY = MappingProxyType(
    {
        t.name: t
        for t in (
            EULER,
            HEUN,
            MIDPOINT,
            RALSTON2,
            SSPRK22,
            KUTTA3,
            HEUN3,
            RALSTON3,
            SSPRK3,
            BS3,
            RK4,
            RK38,
            RALSTON4,
            MERSON4,
            SSPRK54,
            RKF45,
            SSPRK104,
            NYSTROM5,
            BUTCHER5,
            CASHKARP,
            DOPRI5,
            TSIT5,
            VERNER65,
        )
    }
)
"""Registry key -> :class:`Tableau`, ordered by stated order then by stage count."""


def methods() -> tuple[str, ...]:
    """Registry keys of the library, in :data:`LIBRARY` order."""
    return tuple(LIBRARY)


def method(name: str) -> Tableau:
    """The library method registered under ``name`` (case-insensitive).

    Raises
    ------
    RKInputError
        For an unknown name; the message lists the known names and the closest matches.
    """
    key = name.strip().lower() if isinstance(name, str) else name
    try:
        return LIBRARY[key]
    except (KeyError, TypeError):
        pass
    close = difflib.get_close_matches(str(key), LIBRARY.keys(), n=3, cutoff=0.5)
    hint = f" (closest: {', '.join(close)})" if close else ""
    raise RKInputError(f"unknown method {name!r}; known: {', '.join(LIBRARY)}{hint}")
