"""The method library: every named tableau passes the same invariant checks, and every
stated order is verified against nodepy (the independent reference) and rkcore.order.

Also the seed-42 fixture: the four-stage table published by the system we replace.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from nodepy.runge_kutta_method import ExplicitRungeKuttaMethod, loadRKM

import rkcore
from rkcore.library import LIBRARY
from rkcore.order import first_failed_condition, order, principal_error_norm

NAMES = rkcore.methods()
EMBEDDED = tuple(name for name in NAMES if LIBRARY[name].has_embedded)
# rkcore.order's default tolerance; the decimal Tsitouras coefficients meet the
# order-5 conditions only to ~1e-13, so nodepy's own default (1e-14) is too tight.
ORDER_TOL = 1e-10
FIXTURES = Path(__file__).parent / "fixtures"
SEED42 = FIXTURES / "seed42_published.json"

REQUIRED = (
    "euler", "heun", "midpoint", "ralston2", "ralston3", "ralston4", "kutta3", "heun3", "ssprk3", "rk4",
    "rk38", "bs3", "rkf45", "cashkarp", "dopri5", "tsit5", "verner65", "ssprk104", "ssprk22", "bs5", "vern6",
    "vern7", "dop853",
)  # fmt: skip

# Library key -> nodepy key for the methods nodepy also ships: a second, independent
# transcription of the coefficients.  nodepy's Fehlberg45 propagates the fifth-order
# weights, so rkf45's b and b_hat are swapped there.
NODEPY_NAMES = {
    "euler": "FE", "heun": "Heun22", "midpoint": "Mid22", "ssprk22": "SSP22", "heun3": "Heun33",
    "ssprk3": "SSP33", "bs3": "BS3", "rk4": "RK44", "merson4": "Merson43", "rkf45": "Fehlberg45",
    "ssprk54": "SSP54", "ssprk104": "SSP104", "butcher5": "BuRK65", "cashkarp": "CK5", "dopri5": "DP5",
    "tsit5": "Tsit5", "bs5": "BS5",
}  # fmt: skip


def _nodepy_order(A: np.ndarray, b: np.ndarray) -> int:
    return ExplicitRungeKuttaMethod(np.array(A), np.array(b)).order(tol=ORDER_TOL)


# ----------------------------------------------------------------- registry


def test_library_has_the_required_methods():
    assert len(NAMES) >= 20
    missing = [name for name in REQUIRED if name not in NAMES]
    assert missing == []
    assert NAMES == tuple(LIBRARY)


def test_method_lookup_is_case_insensitive_and_returns_the_constant():
    assert rkcore.method("RK4") is LIBRARY["rk4"]
    assert rkcore.method(" dopri5 ") is rkcore.library.DOPRI5


def test_unknown_method_names_the_known_ones_and_the_closest():
    with pytest.raises(rkcore.RKInputError) as err:
        rkcore.method("rk5")
    msg = str(err.value)
    assert msg.startswith("unknown method 'rk5'; known: euler, heun")
    assert "(closest: " in msg and "rk4" in msg.split("(closest: ")[1]
    assert "\n" not in msg


def test_unknown_method_without_close_match_has_no_hint():
    with pytest.raises(rkcore.RKInputError, match="unknown method 'zzzzzzzz'") as err:
        rkcore.method("zzzzzzzz")
    assert "closest" not in str(err.value)


def test_library_is_read_only():
    with pytest.raises(TypeError):
        LIBRARY["mine"] = LIBRARY["rk4"]  # type: ignore[index]
    with pytest.raises(ValueError):
        LIBRARY["rk4"].A[1, 0] = 0.3


# ----------------------------------------------------------------- invariants (STYLE.md item 12)


@pytest.mark.parametrize("name", NAMES)
def test_invariants(name):
    t = rkcore.method(name)
    assert t.name == name
    assert t.is_explicit
    assert t.c[0] == 0.0
    np.testing.assert_allclose(t.c, t.A.sum(axis=1), rtol=0, atol=1e-14)
    # The round-off of a float sum grows with sum |b_i| (vern6's weights reach 176).
    assert abs(t.b.sum() - 1.0) < 1e-14 * max(1.0, np.abs(t.b).sum())
    if t.has_embedded:
        assert abs(t.b_hat.sum() - 1.0) < 1e-14 * max(1.0, np.abs(t.b_hat).sum())
        assert isinstance(t.info["embedded_order"], int)
    else:
        assert "embedded_order" not in t.info
    assert isinstance(t.info["order"], int) and t.stated_order == t.info["order"]


@pytest.mark.parametrize("name", NAMES)
def test_source_is_a_citation(name):
    source = rkcore.method(name).info["source"]
    # Author initials, a title, and a year.
    assert re.match(r"^[A-Z][a-z]?\.", source), source
    assert re.search(r"\b(1[789]|20)\d\d\b", source), source
    assert len(source) > 40


@pytest.mark.parametrize("name", NAMES)
def test_stated_order_verified_by_nodepy(name):
    t = rkcore.method(name)
    assert _nodepy_order(t.A, t.b) == t.stated_order


@pytest.mark.parametrize("name", EMBEDDED)
def test_embedded_order_verified_by_nodepy(name):
    t = rkcore.method(name)
    assert _nodepy_order(t.A, t.b_hat) == t.info["embedded_order"]


@pytest.mark.parametrize("name", NAMES)
def test_stated_order_verified_by_rkcore(name):
    t = rkcore.method(name)
    assert order(t, tol=ORDER_TOL) == t.stated_order


@pytest.mark.parametrize("name", EMBEDDED)
def test_embedded_order_verified_by_rkcore(name):
    t = rkcore.method(name)
    embedded = rkcore.Tableau(A=t.A, b=t.b_hat, name=f"{name} embedded")
    assert order(embedded, tol=ORDER_TOL) == t.info["embedded_order"]


@pytest.mark.parametrize("name", sorted(NODEPY_NAMES))
def test_coefficients_agree_with_nodepy(name):
    t = rkcore.method(name)
    ref = loadRKM(NODEPY_NAMES[name])
    A, b = np.array(ref.A, dtype=float), np.array(ref.b, dtype=float)
    b_hat = np.array(ref.bhat, dtype=float) if hasattr(ref, "bhat") else None
    if name == "rkf45":
        b, b_hat = b_hat, b
    # nodepy's SSP(5,4) is a re-optimised solution 3e-10 away from the 15 digits
    # Spiteri and Ruuth printed; both satisfy the order conditions to 1e-14.
    tol = 1e-9 if name == "ssprk54" else 1e-15
    np.testing.assert_allclose(t.A, A, rtol=0, atol=tol)
    np.testing.assert_allclose(t.b, b, rtol=0, atol=tol)
    if t.has_embedded:
        np.testing.assert_allclose(t.b_hat, b_hat, rtol=0, atol=tol)


def test_fsal_pairs_are_detected():
    fsal = {name for name in NAMES if rkcore.method(name).is_fsal}
    assert fsal == {"bs3", "dopri5", "tsit5", "bs5", "vern6"}


# ----------------------------------------------------------------- DifferentialEquations.jl, scipy pairs

# name -> (stages, order, embedded order, published abscissae c)
HIGH_ORDER = {
    "bs5": (8, 5, 4, [0, 1 / 6, 2 / 9, 3 / 7, 2 / 3, 3 / 4, 1, 1]),
    "vern6": (9, 6, 5, [0, 3 / 50, 1439 / 15000, 1439 / 10000, 4973 / 10000, 389 / 400, 1999 / 2000, 1, 1]),
    "vern7": (
        10, 7, 6,
        [0, 1 / 200, 49 / 450, 49 / 300, 911 / 2000, 3480084980 / 5709648941, 221 / 250, 37 / 40, 1, 1],
    ),
    "dop853": (
        12, 8, 5,
        [
            0, 0.526001519587677318785587544488e-1, 0.789002279381515978178381316732e-1,
            0.118350341907227396726757197510, 0.281649658092772603273242802490, 1 / 3, 1 / 4, 4 / 13,
            0.651282051282051282051282051282, 0.6, 6 / 7, 1,
        ],
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(HIGH_ORDER))
def test_high_order_pairs_have_the_published_shape(name):
    stages, p, q, c = HIGH_ORDER[name]
    t = rkcore.method(name)
    assert (t.stages, t.stated_order, t.info["embedded_order"]) == (stages, p, q)
    # Rows of A sum to the published c, up to the round-off of entries as large as max|A|.
    np.testing.assert_allclose(t.c, c, rtol=0, atol=1e-15 * max(1.0, np.abs(t.A).sum(axis=1).max()))
    # The stated order is the first failing one, not the cap of the check: order p + 1 fails clearly.
    tree, residual = first_failed_condition(t, tol=ORDER_TOL)
    assert tree.order == p + 1 and abs(residual) > 1e-7


def test_verner_pairs_have_the_error_norms_their_names_give():
    # Verner names each coefficient file by its principal error norm:
    # RKV65.IIIXb.Efficient.00000144617 and RKV76.IIa.Efficient.00001675585.
    for name, norm in (("vern6", 1.44617e-6), ("vern7", 1.675585e-5)):
        t = rkcore.method(name)
        assert principal_error_norm(t, t.stated_order) == pytest.approx(norm, rel=5e-6)


def test_dop853_agrees_with_scipy():
    # The library's digits were read from scipy's copy of Hairer's dop853.f; keep the two identical.
    ref = pytest.importorskip("scipy.integrate._ivp.dop853_coefficients")
    t = rkcore.method("dop853")
    assert ref.N_STAGES == t.stages
    np.testing.assert_array_equal(t.A, ref.A[: t.stages, : t.stages])
    np.testing.assert_array_equal(t.b, ref.B)
    np.testing.assert_allclose(t.b_hat, ref.B - ref.E5[: t.stages], rtol=0, atol=1e-16)
    np.testing.assert_allclose(t.c, ref.C[: t.stages], rtol=0, atol=1e-15)
    assert ref.E5[t.stages] == 0.0  # the fifth-order estimator needs no stage beyond the twelfth


# ----------------------------------------------------------------- seed-42 fixture


def _seed42_draws() -> np.ndarray:
    # RandomState(42) is the stream that numpy.random.seed(42) selects, without touching global state.
    return np.random.RandomState(42).uniform(-1, 1, 10)


def test_seed42_fixture_is_the_published_stream():
    draws = _seed42_draws()
    legacy_state = np.random.get_state()
    try:
        np.random.seed(42)
        assert np.array_equal(np.random.uniform(-1, 1, 10), draws)
    finally:
        np.random.set_state(legacy_state)
    data = json.loads(SEED42.read_text())
    A = np.array(data["A"])
    lower = np.tril_indices(4, -1)
    assert np.array_equal(A[lower], draws[:6])
    assert np.array_equal(A[np.triu_indices(4)], np.zeros(10))
    assert np.array_equal(np.array(data["b"]), draws[6:])
    np.testing.assert_allclose(data["c"], A.sum(axis=1), rtol=0, atol=1e-15)
    # The values quoted in issue 2.
    assert data["A"][3] == [0.1973169683940732, -0.687962719115127, -0.6880109593275947, 0.0]
    assert data["b"] == [-0.8838327756636011, 0.7323522915498704, 0.2022300234864176, 0.416145155592091]


def test_seed42_fixture_loads_and_has_order_zero_in_nodepy():
    t = rkcore.load_tableau(SEED42)
    assert t.stages == 4 and t.is_explicit and t.stated_order is None
    assert _nodepy_order(t.A, t.b) == 0


def test_seed42_fixture_fails_sum_b_first_in_rkcore():
    t = rkcore.load_tableau(SEED42)
    assert order(t) == 0
    tree, residual = first_failed_condition(t)
    assert tree.order == 1 and tree.children == () and tree.condition() == "Σb = 1"
    assert residual == pytest.approx(_seed42_draws()[6:].sum() - 1.0, abs=1e-15)


# ----------------------------------------------------------------- documentation


def test_readme_table_lists_exactly_the_library():
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Method library", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([a-z0-9]+)` \| (\d+) \| (\d+)(?:\((\d+)\))? \|", section, re.M)
    assert [row[0] for row in rows] == list(NAMES)
    for name, stages, order_, embedded in rows:
        t = rkcore.method(name)
        assert (int(stages), int(order_)) == (t.stages, t.stated_order)
        assert (int(embedded) if embedded else None) == t.info.get("embedded_order")
