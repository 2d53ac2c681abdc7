"""Newton polish onto the order conditions (rkml.polish), checked by rkcore's own order analysis."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import rkcore  # noqa: E402
from rkcore.order import order, order_conditions  # noqa: E402
from rkml.generator import anchor, flatten, n_free_params, unflatten, unflatten_torch  # noqa: E402
from rkml.objective import order_residuals_torch, tree_program  # noqa: E402
from rkml.polish import (  # noqa: E402
    ACCEPT_RESIDUAL,
    PolishFailed,
    order_target,
    polish,
    polish_batch,
    project_batch,
    residual_jacobian,
)


@pytest.mark.parametrize("s,p", [(3, 3), (4, 4), (6, 5), (8, 6)])
def test_forward_mode_jacobian_matches_torch_autograd(s, p):
    rng = np.random.default_rng(s)
    x = rng.uniform(-1, 1, (6, n_free_params(s)))
    program = tree_program(p)

    def summed(z):
        return order_residuals_torch(*unflatten_torch(z, s), program).sum(dim=0)

    want = torch.func.jacrev(summed)(torch.as_tensor(x)).permute(1, 0, 2).numpy()
    np.testing.assert_allclose(residual_jacobian(x, s, program), want, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("name", ["rk4", "rk38", "ralston4"])
def test_polish_brings_a_perturbed_order4_method_back_to_order4(name):
    t = rkcore.method(name)
    rng = np.random.default_rng(1)
    A = t.A + np.tril(rng.normal(0, 0.02, t.A.shape), -1)
    start = rkcore.Tableau(A=A, b=t.b + rng.normal(0, 0.02, t.stages), name="perturbed")
    assert order(start) < 4
    polished = polish(start, 4)
    assert np.max(np.abs(order_conditions(polished, 4))) <= ACCEPT_RESIDUAL
    assert order(polished, tol=ACCEPT_RESIDUAL) >= 4
    assert polished.name == "perturbed" and polished.is_explicit
    # The minimum-norm step stays close to where it started.
    assert np.max(np.abs(flatten(polished.A, polished.b) - flatten(start.A, start.b))) < 0.2


@pytest.mark.parametrize("s,p", [(3, 3), (4, 3), (4, 4), (5, 4)])
def test_project_batch_from_random_starts_reaches_the_order(s, p):
    origin = polish_batch(anchor(s)[None], s, p)
    assert origin.converged[0]
    rng = np.random.default_rng(100 + s)
    target = anchor(s) + rng.normal(0, 0.25, (24, n_free_params(s)))
    result = project_batch(target, s, p, origin=origin.x[0])
    assert result.converged.all()
    assert np.all(result.residual <= ACCEPT_RESIDUAL)
    A, b = unflatten(result.x, s)
    for Ai, bi in zip(A, b, strict=True):
        t = rkcore.Tableau(A=Ai, b=bi)
        assert np.max(np.abs(order_conditions(t, p))) <= ACCEPT_RESIDUAL
        assert order(t) >= p


def test_each_candidate_is_projected_independently_of_the_batch():
    s, p = 4, 4
    origin = polish_batch(anchor(s)[None], s, p).x[0]
    rng = np.random.default_rng(5)
    target = origin + rng.normal(0, 0.1, (10, n_free_params(s)))
    whole = project_batch(target, s, p, origin=origin)
    alone = project_batch(target[3:4], s, p, origin=origin)
    np.testing.assert_array_equal(whole.x[3], alone.x[0])


def test_polish_raises_when_the_order_is_out_of_reach():
    # No explicit 5-stage method has order 5 (Butcher's barrier).
    start = rkcore.Tableau(*unflatten(anchor(5), 5), name="five")
    with pytest.raises(PolishFailed, match="order-5"):
        polish(start, 5)


def test_non_finite_and_diverging_candidates_are_flagged_not_raised():
    s, p = 3, 3
    x = np.stack([anchor(s), np.full(n_free_params(s), np.nan), np.full(n_free_params(s), 1e6)])
    result = polish_batch(x, s, p)
    assert result.converged.tolist() == [True, False, False]
    assert np.isinf(result.residual[1:]).all()


@pytest.mark.parametrize("s,min_order,want", [(3, 3, 3), (4, 3, 4), (5, 3, 4), (6, 4, 4), (8, 3, 4)])
def test_order_target_is_the_highest_order_reached_and_never_below_the_minimum(s, min_order, want):
    target = order_target(s, min_order)
    assert target.order == want
    origin = rkcore.Tableau(*unflatten(target.origin, s))
    assert order(origin, tol=ACCEPT_RESIDUAL) >= want
    with pytest.raises(PolishFailed, match="order 5"):
        order_target(5, 5)
