"""Classical explicit Runge--Kutta methods as module-level constants.

Every method is a frozen :class:`~rkcore.tableau.Tableau` whose ``info`` records
the ``order`` claimed by its authors, a ``source`` citation and, for embedded
pairs, the ``embedded_order`` of ``b_hat``.  Rational coefficients are written as
Python ``int / int`` expressions, which CPython rounds correctly to the nearest
float64; methods published in decimal (Tsitouras 5(4), SSPRK(5,4), DOP853) carry
the published digits.  The test-suite verifies every stated order against nodepy and
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

# Bogacki and Shampine give two fourth-order estimators; b_hat is the one that uses the FSAL stage.
_BS5_B = [587 / 8064, 0, 4440339 / 15491840, 24353 / 124800, 387 / 44800, 2152 / 5985, 7267 / 94080, 0]
BS5 = _explicit(
    "bs5",
    [
        [],
        [1 / 6],
        [2 / 27, 4 / 27],
        [183 / 1372, -162 / 343, 1053 / 1372],
        [68 / 297, -4 / 11, 42 / 143, 1960 / 3861],
        [597 / 22528, 81 / 352, 63099 / 585728, 58653 / 366080, 4617 / 20480],
        [
            174197 / 959244,
            -30942 / 79937,
            8152137 / 19744439,
            666106 / 1039181,
            -29421 / 29068,
            482048 / 414219,
        ],
        _BS5_B[:7],
    ],
    _BS5_B,
    b_hat=[
        2479 / 34992,
        0,
        123 / 416,
        612941 / 3411720,
        43 / 1440,
        2272 / 6561,
        79937 / 1113912,
        3293 / 556956,
    ],
    order=5,
    embedded_order=4,
    source=(
        "P. Bogacki and L. F. Shampine, An efficient Runge-Kutta (4,5) pair, Comput. Math. Appl. 32(6) "
        "(1996) 15-28 (the 8-stage FSAL pair; BS5 in DifferentialEquations.jl)"
    ),
)

BUTCHER6 = _explicit(
    "butcher6",
    [
        [],
        [1 / 3],
        [0, 2 / 3],
        [1 / 12, 1 / 3, -1 / 12],
        [-1 / 16, 9 / 8, -3 / 16, -3 / 8],
        [0, 9 / 8, -3 / 8, -3 / 4, 1 / 2],
        [9 / 44, -9 / 11, 63 / 44, 18 / 11, 0, -16 / 11],
    ],
    [11 / 120, 0, 27 / 40, 27 / 40, -4 / 15, -4 / 15, 11 / 120],
    order=6,
    source=(
        "J. C. Butcher, On Runge-Kutta processes of high order, J. Austral. Math. Soc. 4 (1964) 179-194; "
        "the seven-stage sixth-order method (seven stages are the fewest for order 6), as given in "
        "J. C. Butcher, Numerical Methods for Ordinary Differential Equations, Wiley, 2016, sec. 325"
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

# Verner's "efficient" 6(5) pair is FSAL: stage 9 evaluates f at the sixth-order solution and only
# b_hat weights it.  Its coefficients reach 208 in size, so rounded to float64 they meet the order
# conditions only to ~3e-11 (the published rationals meet them exactly): rkcore.order's default
# tolerance of 1e-10 verifies order 6, a tolerance of 1e-12 finds order 1.
_VERN6_B = [
    382735282417 / 11129397249634,
    0,
    0,
    5535620703125000 / 21434089949505429,
    13867056347656250 / 32943296570459319,
    626271188750 / 142160006043,
    -51160788125000 / 289890548217,
    163193540017 / 946795234,
    0,
]
VERN6 = _explicit(
    "vern6",
    [
        [],
        [3 / 50],
        [519479 / 27000000, 2070721 / 27000000],
        [1439 / 40000, 0, 4317 / 40000],
        [109225017611 / 82828840000, 0, -417627820623 / 82828840000, 43699198143 / 10353605000],
        [
            -8036815292643907349452552172369 / 191934985946683241245914401600,
            0,
            246134619571490020064824665 / 1543816496655405117602368,
            -13880495956885686234074067279 / 113663489566254201783474344,
            755005057777788994734129 / 136485922925633667082436,
        ],
        [
            -1663299841566102097180506666498880934230261 / 30558424506156170307020957791311384232000,
            0,
            130838124195285491799043628811093033 / 631862949514135618861563657970240,
            -3287100453856023634160618787153901962873 / 20724314915376755629135711026851409200,
            2771826790140332140865242520369241 / 396438716042723436917079980147600,
            -1799166916139193 / 96743806114007800,
        ],
        [
            -832144750039369683895428386437986853923637763 / 15222974550069600748763651844667619945204887,
            0,
            818622075710363565982285196611368750 / 3936576237903728151856072395343129,
            -9818985165491658464841194581385463434793741875 / 61642597962658994069869370923196463581866011,
            31796692141848558720425711042548134769375 / 4530254033500045975557858016006308628092,
            -14064542118843830075 / 766928748264306853644,
            -1424670304836288125 / 2782839104764768088217,
        ],
        _VERN6_B[:8],
    ],
    _VERN6_B,
    b_hat=[
        124310637869885675646798613 / 2890072468789466426596827670,
        0,
        0,
        265863151737164990361330921875 / 1113197271463372303940319369579,
        3075493557174030806536302953125 / 6843749922042323876546949699876,
        67798000008733879813263055 / 29532792147666737550036372,
        -1099436585155390846238326375 / 15055706496446408859196167,
        26171252653086373181571802 / 368794478890732346033505,
        1 / 30,
    ],
    order=6,
    embedded_order=5,
    source=(
        "J. H. Verner, Numerically optimal Runge-Kutta pairs with interpolants, Numer. Algorithms 53 "
        "(2010) 383-396 (the 9-stage FSAL 6(5) pair RKV65.IIIXb Efficient of Verner's coefficient "
        "pages; Vern6 in DifferentialEquations.jl)"
    ),
)

# ----------------------------------------------------------------- order 7 and 8

# Verner's "efficient" 7(6) pair is not FSAL: stage 10 (c = 1) is weighted only by b_hat.
VERN7 = _explicit(
    "vern7",
    [
        [],
        [1 / 200],
        [-4361 / 4050, 2401 / 2025],
        [49 / 1200, 0, 49 / 400],
        [2454451729 / 3841600000, 0, -9433712007 / 3841600000, 4364554539 / 1920800000],
        [
            -6187101755456742839167388910402379177523537620 / 2324599620333464857202963610201679332423082271,
            0,
            27569888999279458303270493567994248533230000 / 2551701010245296220859455115479340650299761,
            -37368161901278864592027018689858091583238040000 / 4473131870960004275166624817435284159975481033,
            1392547243220807196190880383038194667840000000 / 1697219131380493083996999253929006193143549863,
        ],
        [
            11272026205260557297236918526339 / 1857697188743815510261537500000,
            0,
            -48265918242888069 / 1953194276993750,
            26726983360888651136155661781228 / 1308381343805114800955157615625,
            -2090453318815827627666994432 / 1096684189897834170412307919,
            1148577938985388929671582486744843844943428041509
            / 1141532118233823914568777901158338927629837500000,
        ],
        [
            1304457204588839386329181466225966641 / 108211771565488329642169667802016000,
            0,
            -1990261989751005 / 40001418792832,
            2392691599894847687194643439066780106875 / 58155654089143548047476915856270826016,
            -1870932273351008733802814881998561250 / 419326053051486744762255151208232123,
            1043329047173803328972823866240311074041739158858792987034783181
            / 510851127745017966999893975119259285040213723744255237522144000,
            -311918858557595100410788125 / 3171569057622789618800376448,
        ],
        [
            17579784273699839132265404100877911157 / 1734023495717116205617154737841023480,
            0,
            -18539365951217471064750 / 434776548575709731377,
            447448655912568142291911830292656995992000 / 12511202807447096607487664209063950964109,
            -65907597316483030274308429593905808000000 / 15158061430635748897861852383197382130691,
            273847823027445129865693702689010278588244606493753883568739168819449761
            / 136252034448398939768371761610231099586032870552034688235302796640584360,
            694664732797172504668206847646718750 / 1991875650119463976442052358853258111,
            -19705319055289176355560129234220800 / 72595753317320295604316217197876507,
        ],
        [
            -511858190895337044664743508805671 / 11367030248263048398341724647960,
            0,
            2822037469238841750 / 15064746656776439,
            -23523744880286194122061074624512868000 / 152723005449262599342117017051789699,
            10685036369693854448650967542704000000 / 575558095977344459903303055137999707,
            -6259648732772142303029374363607629515525848829303541906422993
            / 876479353814142962817551241844706205620792843316435566420120,
            17380896627486168667542032602031250 / 13279937889697320236613879977356033,
            0,
            0,
        ],
    ],
    [
        96762636172307789 / 2051985304794103980,
        0,
        0,
        312188947591288252500000 / 1212357694274963646019729,
        13550580884964304000000000000 / 51686919683339547115937980629,
        72367769693133178898676076432831566019684378142853445230956642801
        / 475600216991873963561768100160364792981629064220601844848928537580,
        1619421054120605468750 / 3278200730370057108183,
        -66898316144057728000 / 227310933007074849597,
        181081444637946577 / 2226845467039736466,
        0,
    ],
    b_hat=[
        117807213929927 / 2640907728177740,
        0,
        0,
        4758744518816629500000 / 17812069906509312711137,
        1730775233574080000000000 / 7863520414322158392809673,
        2682653613028767167314032381891560552585218935572349997
        / 12258338284789875762081637252125169126464880985167722660,
        40977117022675781250 / 178949401077111131341,
        0,
        0,
        2152106665253777 / 106040260335225546,
    ],
    order=7,
    embedded_order=6,
    source=(
        "J. H. Verner, Numerically optimal Runge-Kutta pairs with interpolants, Numer. Algorithms 53 "
        "(2010) 383-396 (the 10-stage 7(6) pair RKV76.IIa Efficient of Verner's coefficient pages; "
        "Vern7 in DifferentialEquations.jl)"
    ),
)

# DOP853 is published in 30-digit decimals.  Of its two error estimators (orders 5 and 3) b_hat holds
# the fifth-order formula, given through the published differences b - b_hat.
_DOP853_B = [
    5.42937341165687622380535766363e-2,
    0,
    0,
    0,
    0,
    4.45031289275240888144113950566,
    1.89151789931450038304281599044,
    -5.8012039600105847814672114227,
    3.1116436695781989440891606237e-1,
    -1.52160949662516078556178806805e-1,
    2.01365400804030348374776537501e-1,
    4.47106157277725905176885569043e-2,
]
_DOP853_E5 = [
    0.1312004499419488073250102996e-1,
    0,
    0,
    0,
    0,
    -0.1225156446376204440720569753e1,
    -0.4957589496572501915214079952,
    0.1664377182454986536961530415e1,
    -0.3503288487499736816886487290,
    0.3341791187130174790297318841,
    0.8192320648511571246570742613e-1,
    -0.2235530786388629525884427845e-1,
]
DOP853 = _explicit(
    "dop853",
    [
        [],
        [5.26001519587677318785587544488e-2],
        [1.97250569845378994544595329183e-2, 5.91751709536136983633785987549e-2],
        [2.95875854768068491816892993775e-2, 0, 8.87627564304205475450678981324e-2],
        [
            2.41365134159266685502369798665e-1,
            0,
            -8.84549479328286085344864962717e-1,
            9.24834003261792003115737966543e-1,
        ],
        [
            3.7037037037037037037037037037e-2,
            0,
            0,
            1.70828608729473871279604482173e-1,
            1.25467687566822425016691814123e-1,
        ],
        [
            3.7109375e-2,
            0,
            0,
            1.70252211019544039314978060272e-1,
            6.02165389804559606850219397283e-2,
            -1.7578125e-2,
        ],
        [
            3.70920001185047927108779319836e-2,
            0,
            0,
            1.70383925712239993810214054705e-1,
            1.07262030446373284651809199168e-1,
            -1.53194377486244017527936158236e-2,
            8.27378916381402288758473766002e-3,
        ],
        [
            6.24110958716075717114429577812e-1,
            0,
            0,
            -3.36089262944694129406857109825,
            -8.68219346841726006818189891453e-1,
            2.75920996994467083049415600797e1,
            2.01540675504778934086186788979e1,
            -4.34898841810699588477366255144e1,
        ],
        [
            4.77662536438264365890433908527e-1,
            0,
            0,
            -2.48811461997166764192642586468,
            -5.90290826836842996371446475743e-1,
            2.12300514481811942347288949897e1,
            1.52792336328824235832596922938e1,
            -3.32882109689848629194453265587e1,
            -2.03312017085086261358222928593e-2,
        ],
        [
            -9.3714243008598732571704021658e-1,
            0,
            0,
            5.18637242884406370830023853209,
            1.09143734899672957818500254654,
            -8.14978701074692612513997267357,
            -1.85200656599969598641566180701e1,
            2.27394870993505042818970056734e1,
            2.49360555267965238987089396762,
            -3.0467644718982195003823669022,
        ],
        [
            2.27331014751653820792359768449,
            0,
            0,
            -1.05344954667372501984066689879e1,
            -2.00087205822486249909675718444,
            -1.79589318631187989172765950534e1,
            2.79488845294199600508499808837e1,
            -2.85899827713502369474065508674,
            -8.87285693353062954433549289258,
            1.23605671757943030647266201528e1,
            6.43392746015763530355970484046e-1,
        ],
    ],
    _DOP853_B,
    b_hat=[bi - ei for bi, ei in zip(_DOP853_B, _DOP853_E5, strict=True)],
    order=8,
    embedded_order=5,
    source=(
        "E. Hairer, S. P. Norsett and G. Wanner, Solving Ordinary Differential Equations I: Nonstiff "
        "Problems, 2nd ed., Springer, 1993, Sec. II.10 (DOP853, the 12-stage 8(5,3) method built on "
        "P. J. Prince and J. R. Dormand, High order embedded Runge-Kutta formulae, J. Comput. Appl. "
        "Math. 7 (1981) 67-75; coefficients as in Hairer's dop853.f and scipy.integrate.DOP853)"
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
            BS5,
            BUTCHER6,
            VERNER65,
            VERN6,
            VERN7,
            DOP853,
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
