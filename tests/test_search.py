"""The manifold search (rkml.search): embeddings keep the order, exploration and refinement stay on
the order manifold, the elite is diverse, and everything is deterministic."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("cma")

import rkcore  # noqa: E402
from rkcore.order import order  # noqa: E402
from rkml.generator import unflatten  # noqa: E402
from rkml.polish import max_residual  # noqa: E402
from rkml.search import Explored, diverse_elite, embed, explore, refine, tangent_basis  # noqa: E402
from rkml.selection import seed_points  # noqa: E402


@pytest.mark.parametrize("name, stages", [("rk4", 6), ("cashkarp", 7), ("verner65", 9)])
def test_embedding_keeps_the_method_and_its_order(name, stages):
    t = rkcore.method(name)
    A, b = unflatten(embed(t.A, t.b, stages), stages)
    big = rkcore.Tableau(A=A, b=b)
    assert order(big) == order(t)
    assert np.all(b[t.stages :] == 0.0)


def test_tangent_basis_is_orthonormal_and_in_the_null_space():
    t = rkcore.method("cashkarp")
    x = seed_points(6, 5)[0]
    basis = tangent_basis(x, 6, 5)
    assert basis.shape[1] >= 1
    np.testing.assert_allclose(basis.T @ basis, np.eye(basis.shape[1]), atol=1e-12)
    # A small step along the tangent space changes the residuals only to second order.
    step = 1e-4 * basis[:, 0]
    assert max_residual((x + step)[None], 6, 5)[0] < 1e-6
    assert t.stages == 6


def _distance_fitness(target):
    return lambda x: -np.linalg.norm(np.atleast_2d(x) - target, axis=1)


def test_explore_and_refine_stay_on_the_manifold_and_repeat_bit_for_bit():
    s, p = 5, 4
    seeds = seed_points(s, p)
    target = seeds[0] + 0.3
    fitness = _distance_fitness(target)
    found = explore(7, s, p, seeds, 40, fitness, excursions=2)
    assert found.x.shape[0] > seeds.shape[0]
    assert np.all(max_residual(found.x, s, p) <= 1e-12)
    again = explore(7, s, p, seeds, 40, fitness, excursions=2)
    np.testing.assert_array_equal(found.x, again.x)

    start = found.x[int(np.argmax(found.score))]
    out = refine(3, start, s, p, fitness, generations=20, population=8, sigma=0.05)
    assert out.score >= float(fitness(start[None])[0])
    assert max_residual(out.x[None], s, p)[0] <= 1e-12
    assert len(out.curve) <= 20 and all(a <= b for a, b in zip(out.curve, out.curve[1:], strict=False))
    np.testing.assert_array_equal(
        out.x, refine(3, start, s, p, fitness, generations=20, population=8, sigma=0.05).x
    )


def test_refine_leaves_numpys_global_generator_alone():
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    x = seed_points(4, 4)[0]
    refine(1, x, 4, 4, _distance_fitness(x + 0.1), generations=3, population=4, sigma=0.05)
    np.testing.assert_array_equal(np.random.get_state()[1], before)


def test_diverse_elite_keeps_apart_points_and_best_first():
    x = np.array([[0.0, 0.0], [0.01, 0.0], [1.0, 0.0], [2.0, 0.0]])
    pts = Explored(x, np.array([3.0, 2.9, 1.0, 2.0]))
    np.testing.assert_array_equal(diverse_elite(pts, 3, 0.5), [0, 3, 2])
    np.testing.assert_array_equal(diverse_elite(pts, 1, 0.5), [0])
