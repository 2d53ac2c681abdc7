"""Analysis against nodepy (the independent reference), plus analyze(), the Butcher layout and plots.

nodepy is used as follows (see the notes in each helper):

* order: ``RungeKuttaMethod.order(tol=1e-10)`` (nodepy's float check, same tolerance as ours);
* principal error norm: nodepy's ``error_coeffs(p + 1)`` norm with nodepy's own order ``p``;
* stability polynomial and the real/imaginary limits: nodepy's default exact mode.  Random
  tableaux are built from small dyadic rationals and handed to nodepy as sympy Rationals, so
  nodepy's figures are exact; library methods whose coefficients are fractions are handed over
  as exact Rationals too.  Methods published in decimals or surds (tsit5, ralston4, ...) are
  handed over in floating point, and for their imaginary limit nodepy gets the stability
  polynomial with every coefficient snapped to a nearby simple fraction (one within 1e-10
  relative), because in floating point nodepy reads round-off of size 1e-16 in |R(iy)|² - 1 as
  a real root (dopri5: 0 from floats, 0.99719 in exact arithmetic).  The window is that wide
  because vern6's weights reach 176: its float64 coefficients put 1.3e-11 relative round-off
  into the polynomial (nodepy reads 0 from it, 2.5842 from the exact rationals, as we do).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
from fractions import Fraction

import numpy as np
import pytest
from references import reference

import rkcore
from rkcore import (
    Tableau,
    analyze,
    butcher_layout,
    imaginary_stability_interval,
    order,
    order_residuals_batch,
    plot_stability_regions,
    principal_error_norm,
    real_stability_interval,
    stability_polynomial,
    stability_summary_batch,
)
from rkcore.trees import tree_table

rk = reference("nodepy.runge_kutta_method")
sf = reference("nodepy.stability_function")
sympy = reference("sympy")

N_RANDOM = 200
REL = 1e-8


# ---------------------------------------------------------------------------- nodepy helpers
def quiet(fn, *args, **kwargs):
    """Call a nodepy function, swallowing its prints ('Apparent order is 0...')."""
    with contextlib.redirect_stdout(io.StringIO()):
        return fn(*args, **kwargs)


def close(ours: float, ref: float) -> bool:
    if math.isinf(ours) or math.isinf(ref):
        return ours == ref
    return abs(ours - ref) <= REL * max(abs(ours), abs(ref)) or abs(ours - ref) <= 1e-14


def snapped(x: float):
    """x as an exact rational: a simple fraction when one lies within round-off of x, else x's exact value."""
    frac = Fraction(x).limit_denominator(10**5)
    if abs(float(frac) - x) <= 1e-10 * max(abs(x), 1e-300):
        return sympy.Rational(frac.numerator, frac.denominator)
    return sympy.Rational(float(x))


def idealised_polynomial(p_float: np.ndarray):
    """nodepy poly1d of exact rationals from float coefficients (see :func:`snapped`)."""
    coeffs = [snapped(float(x)) for x in p_float]
    while len(coeffs) > 1 and coeffs[-1] == 0:
        coeffs.pop()
    return np.poly1d(np.array(coeffs[::-1], dtype=object))


def nodepy_method(t: Tableau):
    """nodepy method for ``t``: exact sympy Rationals when every coefficient is a round-tripping fraction."""
    values = np.concatenate([t.A.ravel(), t.b])
    fracs = [Fraction(x).limit_denominator(10**7) for x in values]
    if all(float(f) == x for f, x in zip(fracs, values, strict=True)):
        r = np.array([sympy.Rational(f.numerator, f.denominator) for f in fracs], dtype=object)
        s = t.stages
        return rk.ExplicitRungeKuttaMethod(A=r[: s * s].reshape(s, s), b=r[s * s :]), True
    return rk.ExplicitRungeKuttaMethod(A=np.array(t.A), b=np.array(t.b)), False


def random_rational_tableau(rng: np.random.Generator, s: int, target: int):
    """Dyadic-rational explicit tableau; b projected so that order >= target (0, 1 or 2) where possible."""
    den = 2 ** int(rng.integers(2, 6))
    A = [[Fraction(0)] * s for _ in range(s)]
    for i in range(s):
        for j in range(i):
            A[i][j] = Fraction(int(rng.integers(-2 * den, 2 * den + 1)), den)
    c = [sum(row) for row in A]
    b = [Fraction(int(rng.integers(-den, den + 1)), den) for _ in range(s)]
    if target >= 2 and len(set(c)) > 1:
        j = next(k for k in range(s) if c[k] != c[0])
        rest = [k for k in range(s) if k not in (0, j)]
        r1 = 1 - sum(b[k] for k in rest)
        r2 = Fraction(1, 2) - sum(b[k] * c[k] for k in rest)
        b[j] = (r2 - c[0] * r1) / (c[j] - c[0])
        b[0] = r1 - b[j]
    elif target >= 1:
        b[-1] = 1 - sum(b[:-1])
    return A, b


def nodepy_figures(m, exact_poly: bool) -> dict:
    p_order = quiet(m.order, tol=1e-10)
    m._p = p_order  # principal_error_norm uses the cached order
    out = {"order": p_order, "pen": float(quiet(m.principal_error_norm)) if p_order > 0 else None}
    try:
        out["real"] = float(quiet(m.real_stability_interval))
    except IndexError:
        out["real"] = None  # nodepy indexes an empty root list when no root lies on the negative axis
    p, _ = quiet(m.stability_function)  # nodepy's default (exact-arithmetic) mode
    out["poly"] = np.array([float(x) for x in p.coeffs[::-1]])
    if exact_poly:
        out["imag"] = float(quiet(m.imaginary_stability_interval))
    else:
        out["imag"] = float(sf.imaginary_stability_interval(idealised_polynomial(out["poly"]), eps=1e-14))
    return out


@pytest.fixture(scope="module")
def random_set():
    """200 random explicit tableaux (s = 1..8, orders 0, 1, 2) with nodepy's exact figures."""
    rng = np.random.default_rng(20240607)
    cases = []
    for n in range(N_RANDOM):
        s = 1 + n % 8
        A, b = random_rational_tableau(rng, s, target=n % 3)
        t = Tableau(A=[[float(x) for x in row] for row in A], b=[float(x) for x in b], name=f"random{n}")
        m = rk.ExplicitRungeKuttaMethod(
            A=np.array(
                [[sympy.Rational(x.numerator, x.denominator) for x in row] for row in A], dtype=object
            ),
            b=np.array([sympy.Rational(x.numerator, x.denominator) for x in b], dtype=object),
        )
        cases.append((t, nodepy_figures(m, exact_poly=True)))
    return cases


# 12 stages: nodepy's figures for dop853 take ~10 s (its order is verified by default in test_library.py).
SLOW_LIBRARY = {"dop853"}


def library_cases():
    names = rkcore.methods() if hasattr(rkcore, "methods") else ()
    return [
        pytest.param(rkcore.method(n), id=n, marks=[pytest.mark.slow] if n in SLOW_LIBRARY else [])
        for n in names
    ]


NODEPY_METHODS = [
    "FE", "Mid22", "Heun22", "SSP22", "MTE22", "Heun33", "SSP33", "NSSP32", "NSSP33", "BS3", "RK44",
    "Merson43", "Fehlberg43", "Zonneveld43", "SS3", "SSP43", "SSP54", "SSP63", "SSP104", "CK5", "DP5",
    "Fehlberg45", "HH5", "BuRK65", "Tsit5", "SSP75", "SSP85", "SSP95", "BS5", "Lambert65", "CMR6",
    pytest.param("PD8", marks=pytest.mark.slow),  # 13 stages: nodepy's exact mode takes ~10 s
]  # fmt: skip
# Not compared: SSP53, published to ten digits (Σb - 1 = 3e-10, so order 0 at tol 1e-10, and its
# imaginary limit is decided by a 3.7e-10 coefficient that nodepy's float evaluation cannot resolve).


# ---------------------------------------------------------------------------- random set
def test_random_set_covers_orders_and_stage_counts(random_set):
    orders = {ref["order"] for _, ref in random_set}
    assert {0, 1, 2} <= orders
    assert {t.stages for t, _ in random_set} == set(range(1, 9))


def test_random_orders_match_nodepy(random_set):
    assert [order(t) for t, _ in random_set] == [ref["order"] for _, ref in random_set]


def test_random_principal_error_norms_match_nodepy(random_set):
    for t, ref in random_set:
        p = ref["order"]
        if p == 0:
            # nodepy evaluates the one-vertex tree as the vector b - 1 ('dot(b,1)' is elementwise),
            # so its order-0 norm is sqrt(Σ(b_i - 1)²); the definition gives |Σb - 1|.
            assert principal_error_norm(t, 0) == pytest.approx(abs(t.b.sum() - 1), rel=1e-13, abs=1e-15)
        else:
            assert principal_error_norm(t, p) == pytest.approx(ref["pen"], rel=REL)


def test_random_stability_polynomials_match_nodepy(random_set):
    for t, ref in random_set:
        ours = stability_polynomial(t)
        theirs = np.zeros_like(ours)
        theirs[: ref["poly"].shape[0]] = ref["poly"]
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)


def test_random_real_intervals_match_nodepy(random_set):
    crashed = 0
    for t, ref in random_set:
        ours = real_stability_interval(t)
        if ref["real"] is None:
            crashed += 1
            # nodepy found no negative root of R = ±1: R(x) leaves [-1, 1] right next to 0
            assert ours == 0.0
            assert abs(stability_polynomial(t) @ (-1e-3) ** np.arange(t.stages + 1)) > 1.0
            continue
        assert close(ours, ref["real"]), (t.name, ours, ref["real"])
    assert crashed < N_RANDOM // 4


def test_random_imaginary_intervals_match_nodepy(random_set):
    for t, ref in random_set:
        assert close(imaginary_stability_interval(t), ref["imag"]), (t.name, ref["imag"])
    assert sum(ref["imag"] > 0 for _, ref in random_set) > 20  # not just zeros


def test_random_batch_figures_equal_single(random_set):
    for s in range(1, 9):
        group = [t for t, _ in random_set if t.stages == s]
        A = np.stack([t.A for t in group])
        b = np.stack([t.b for t in group])
        res = order_residuals_batch(A, b, 5)
        orders = tree_table(5).order
        for k, t in enumerate(group):
            failed = np.abs(res[k]) > 1e-10
            batch_order = int(orders[np.argmax(failed)]) - 1 if failed.any() else 5
            assert batch_order == min(order(t), 5)
        summary = stability_summary_batch(A, b)
        assert summary.real_interval.tolist() == [real_stability_interval(t) for t in group]
        assert summary.imaginary_interval.tolist() == [imaginary_stability_interval(t) for t in group]


# ---------------------------------------------------------------------------- named methods
def compare_named(t: Tableau, ref: dict) -> None:
    assert order(t) == ref["order"]
    assert principal_error_norm(t, ref["order"]) == pytest.approx(ref["pen"], rel=REL)
    ours = stability_polynomial(t)
    theirs = np.zeros_like(ours)
    theirs[: ref["poly"].shape[0]] = ref["poly"]
    np.testing.assert_allclose(ours, theirs, rtol=1e-11, atol=1e-15)
    assert close(real_stability_interval(t), ref["real"])
    assert close(imaginary_stability_interval(t), ref["imag"])
    # the many-stage path (eigenvalue candidates + stage recursion) agrees as well
    assert close(rkcore.real_stability_figure(t, method="stages").value, ref["real"])
    assert close(rkcore.imaginary_stability_figure(t, method="stages").value, ref["imag"])


@pytest.mark.parametrize("name", NODEPY_METHODS)
def test_nodepy_library_methods(name):
    m = rk.loadRKM(name)
    exact = m.A.dtype == object
    t = Tableau(A=np.array(m.A, dtype=float), b=np.array(m.b, dtype=float), name=name)
    compare_named(t, nodepy_figures(m, exact_poly=exact))


@pytest.mark.parametrize("tableau", library_cases())
def test_rkcore_library_methods(tableau):
    m, exact = nodepy_method(tableau)
    compare_named(tableau, nodepy_figures(m, exact_poly=exact))
    if tableau.stated_order is not None:
        assert order(tableau) == tableau.stated_order


def test_float_round_off_does_not_fake_an_imaginary_root():
    """dopri5 in floats: nodepy's float path gives 0, its exact path 0.99719; we give the exact answer."""
    m = rk.loadRKM("DP5")
    exact = float(quiet(m.imaginary_stability_interval))
    floats = rk.ExplicitRungeKuttaMethod(A=np.array(m.A, dtype=float), b=np.array(m.b, dtype=float))
    t = Tableau(A=floats.A, b=floats.b)
    assert exact == pytest.approx(0.99718900863253, rel=1e-12)
    assert imaginary_stability_interval(t) == pytest.approx(exact, rel=1e-10)


# ---------------------------------------------------------------------------- analyze / layout / plot
RK4 = Tableau(
    A=[[0, 0, 0, 0], [0.5, 0, 0, 0], [0, 0.5, 0, 0], [0, 0, 1, 0]], b=[1 / 6, 1 / 3, 1 / 3, 1 / 6], name="rk4"
)


def test_analyze_rk4_report():
    d = analyze(RK4).to_dict()
    assert d["order"] == 4
    assert d["stage_order"] == 1
    assert d["stages"] == 4 and d["explicit"] is True and d["fsal"] is False
    assert d["real_stability_interval"] == pytest.approx(2.78529356, abs=1e-8)
    assert d["imaginary_stability_interval"] == pytest.approx(2.82842712, abs=1e-8)
    assert d["principal_error_norm"] == pytest.approx(0.0145046, abs=1e-7)
    assert d["stability_polynomial"] == pytest.approx([1, 1, 1 / 2, 1 / 6, 1 / 24], rel=1e-15)
    assert 12.0 < d["stability_area"] < 12.5
    assert "embedded_order" not in d
    assert d["first_failed_condition"] == "b·c⁴ = 1/5"
    json.dumps(d, allow_nan=False)


def test_analyze_embedded_pair_and_seed42():
    if hasattr(rkcore, "method"):
        d = analyze(rkcore.method("dopri5"), area=False).to_dict()
        assert (d["order"], d["embedded_order"], d["fsal"]) == (5, 4, True)
        assert d["stability_area"] is None
    np.random.seed(42)
    draws = np.random.uniform(-1, 1, 10)
    A = np.zeros((4, 4))
    A[np.tril_indices(4, -1)] = draws[:6]
    seed = analyze(Tableau(A=A, b=draws[6:], name="seed42")).to_dict()
    assert seed["order"] == 0
    assert seed["first_failed_condition"] == "Σb = 1"
    assert seed["first_failed_residual"] == pytest.approx(draws[6:].sum() - 1)


def test_analyze_implicit_tableau():
    r = math.sqrt(3) / 6
    gl2 = Tableau(A=[[0.25, 0.25 - r], [0.25 + r, 0.25]], b=[0.5, 0.5], name="gauss2")
    a = analyze(gl2)
    assert a.order == 4 and a.stage_order == 2 and not a.explicit
    assert a.stability_polynomial is None
    assert a.real_stability_interval == math.inf
    d = a.to_dict()
    assert d["real_stability_interval"] is None and d["stability_area"] is None
    assert d["stability_numerator"] == pytest.approx([1, 0.5, 1 / 12], abs=1e-13)
    assert d["stability_denominator"] == pytest.approx([1, -0.5, 1 / 12], abs=1e-13)
    assert any("unbounded" in note for note in d["notes"])
    json.dumps(d, allow_nan=False)


def test_butcher_layout_lists_c_a_and_weights():
    emb = RK4.replace(b_hat=[0.25, 0.25, 0.25, 0.25])
    lines = butcher_layout(emb).splitlines()
    assert len(lines) == 4 + 1 + 2
    assert lines[1].split("|")[0].strip() == "0.5"
    assert lines[1].split("|")[1].split() == ["0.5"]
    assert lines[3].split("|")[1].split() == ["0", "0", "1"]
    assert set(lines[4]) <= {"-", "+"}
    assert lines[5].split("|")[1].split() == ["0.1666666667", "0.3333333333", "0.3333333333", "0.1666666667"]
    assert lines[6].split("|")[1].split() == ["0.25"] * 4


def test_plot_stability_regions_writes_png(tmp_path):
    r = math.sqrt(3) / 6
    gl2 = Tableau(A=[[0.25, 0.25 - r], [0.25 + r, 0.25]], b=[0.5, 0.5], name="gauss2")
    euler = Tableau(A=[[0.0]], b=[1.0], name="euler")
    out = plot_stability_regions([RK4, euler, gl2], tmp_path / "sub" / "regions.png")
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    assert not [p for p in out.parent.iterdir() if p.name != "regions.png"]  # no temp files left
    with pytest.raises(rkcore.RKInputError, match="labels"):
        plot_stability_regions([RK4], tmp_path / "x.png", labels=["a", "b"])
    with pytest.raises(rkcore.RKInputError, match="extent"):
        plot_stability_regions(RK4, tmp_path / "x.png", extent=(1, 0, -1, 1))


def test_random_limits_by_the_stage_recursion_match_nodepy(random_set):
    """The many-stage path (eigenvalue candidates + stage recursion), forced on the random set."""
    from rkcore import imaginary_stability_figure, real_stability_figure

    for t, ref in random_set:
        real = real_stability_figure(t, method="stages")
        if ref["real"] is None:
            assert real.value == 0.0
        else:
            assert real.verified(1e-6) and close(real.value, ref["real"]), (t.name, real, ref["real"])
        imag = imaginary_stability_figure(t, method="stages")
        assert imag.verified(1e-6) and close(imag.value, ref["imag"]), (t.name, imag, ref["imag"])
