"""The tableau generator, its parametrisation, and the torch order conditions (rkml.generator/objective)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import rkcore  # noqa: E402
from rkcore.order import order_conditions  # noqa: E402
from rkml.generator import (  # noqa: E402
    TableauGenerator,
    anchor,
    flatten,
    free_index,
    n_free_params,
    unflatten,
    unflatten_torch,
)
from rkml.objective import (  # noqa: E402
    centered_ranks,
    es_gradient,
    order_penalty,
    order_residuals_torch,
    tree_program,
)
from rkml.profile import load_profile  # noqa: E402


def _random_explicit(rng: np.random.Generator, s: int) -> rkcore.Tableau:
    return rkcore.Tableau(A=np.tril(rng.uniform(-1, 1, (s, s)), -1), b=rng.uniform(-1, 1, s))


@pytest.mark.parametrize("s", [1, 2, 3, 5, 8])
def test_flatten_unflatten_round_trip_is_explicit(s):
    rng = np.random.default_rng(s)
    x = rng.standard_normal((4, n_free_params(s)))
    A, b = unflatten(x, s)
    assert A.shape == (4, s, s) and b.shape == (4, s)
    assert np.all(np.triu(A) == 0.0)
    np.testing.assert_array_equal(flatten(A, b), x)
    At, bt = unflatten_torch(torch.as_tensor(x), s)
    np.testing.assert_array_equal(At.numpy(), A)
    np.testing.assert_array_equal(bt.numpy(), b)


def test_free_index_picks_the_top_left_block_of_the_padded_layout():
    S = 6
    rng = np.random.default_rng(0)
    big_A = np.tril(rng.standard_normal((S, S)), -1)
    big_b = rng.standard_normal(S)
    padded = flatten(big_A, big_b)
    for s in range(1, S + 1):
        A, b = unflatten(padded[free_index(s, S)], s)
        np.testing.assert_array_equal(A, big_A[:s, :s])
        np.testing.assert_array_equal(b, big_b[:s])
    with pytest.raises(ValueError, match="stages"):
        free_index(S + 1, S)


@pytest.mark.parametrize("s", [2, 3, 4, 6, 8])
def test_anchor_is_consistent_and_integrates_polynomials(s):
    A, b = unflatten(anchor(s), s)
    c = A.sum(axis=1)
    np.testing.assert_allclose(c, np.linspace(0, 1, s), atol=1e-12)
    # b and each row of A are interpolatory quadratures: exact for c^k, k < number of nodes.
    for k in range(s):
        assert abs(b @ c**k - 1 / (k + 1)) < 1e-10
    for i in range(1, s):
        for k in range(i):
            assert abs(A[i, :i] @ c[:i] ** k - c[i] ** (k + 1) / (k + 1)) < 1e-10


def test_generator_shapes_and_explicit_tableaux_for_every_stage_count():
    profile = load_profile("mixed")
    torch.manual_seed(0)
    gen = TableauGenerator.from_profile(profile)
    assert gen.net[0].out_features == profile.model.hidden_units
    n_linear = sum(isinstance(m, torch.nn.Linear) for m in gen.net)
    assert n_linear == profile.model.layers + 1
    for s in profile.stages.counts:
        mean = gen.mean(s)
        assert mean.shape == (n_free_params(s),) and mean.dtype == torch.float64
        A, b = unflatten(mean.detach().numpy(), s)
        t = rkcore.Tableau(A=A, b=b)
        assert t.is_explicit and t.stages == s
    with pytest.raises(ValueError, match="outside"):
        gen.mean(profile.stages.max + 1)


def test_untrained_generator_proposes_its_base_and_its_network_is_seeded():
    profile = load_profile("efficiency-v2")

    def generator(seed, weights=(0.3, 0.6, 0.1), bases=None):
        torch.manual_seed(seed)
        return TableauGenerator(3, 5, weights, hidden_units=32, layers=2, bases=bases)

    # The untrained mean is exactly the base (the anchor by default, else the warm start) ...
    np.testing.assert_array_equal(generator(0).mean(4).detach().numpy(), anchor(4))
    rk4 = rkcore.method("rk4")
    start = flatten(rk4.A, rk4.b)
    np.testing.assert_array_equal(generator(1, bases={4: start}).mean(4).detach().numpy(), start)
    # ... while the network itself is seeded and conditioned on the weights.
    cond = generator(0).condition(4)[None, :]
    np.testing.assert_array_equal(generator(0).forward(cond).detach(), generator(0).forward(cond).detach())
    assert not torch.allclose(generator(0).forward(cond), generator(1).forward(cond))
    other = generator(0, weights=(0.3, 0.2, 0.5))
    assert not torch.allclose(generator(0).forward(cond), other.forward(other.condition(4)[None, :]))
    # A training step moves the mean away from the base.
    gen = generator(0)
    (gen.mean(4) ** 2).sum().backward()
    torch.optim.SGD(gen.parameters(), lr=0.1).step()
    assert not np.allclose(gen.mean(4).detach().numpy(), anchor(4))
    # The shared network moved every stage count; rebase puts one back on its base, alone.
    assert not np.allclose(gen.mean(5).detach().numpy(), anchor(5))
    gen.rebase(5)
    np.testing.assert_array_equal(gen.mean(5).detach().numpy(), anchor(5))
    assert not np.allclose(gen.mean(4).detach().numpy(), anchor(4))
    assert TableauGenerator.from_profile(profile).weights.tolist() == pytest.approx([0.3, 0.6, 0.1])


def test_generator_rejects_bad_shapes():
    with pytest.raises(ValueError, match="stage range"):
        TableauGenerator(5, 3, (0.3, 0.3, 0.4), 8, 1)
    with pytest.raises(ValueError, match="hidden_units"):
        TableauGenerator(3, 5, (0.3, 0.3, 0.4), 0, 1)


@pytest.mark.parametrize("name", [n for n in rkcore.methods() if rkcore.method(n).is_explicit])
def test_torch_residuals_equal_rkcore_for_library_methods(name):
    t = rkcore.method(name)
    program = tree_program(6)
    A = torch.tensor(t.A[None], dtype=torch.float64)
    b = torch.tensor(t.b[None], dtype=torch.float64)
    np.testing.assert_allclose(
        order_residuals_torch(A, b, program)[0].numpy(), order_conditions(t, 6), rtol=0, atol=1e-13
    )


def test_torch_residuals_equal_rkcore_for_random_tableaux():
    rng = np.random.default_rng(7)
    for s in range(1, 9):
        tabs = [_random_explicit(rng, s) for _ in range(5)]
        A = torch.as_tensor(np.stack([t.A for t in tabs]))
        b = torch.as_tensor(np.stack([t.b for t in tabs]))
        got = order_residuals_torch(A, b, tree_program(5)).numpy()
        want = np.stack([order_conditions(t, 5) for t in tabs])
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13)


def test_order_penalty_vanishes_on_rk4_and_has_a_gradient_elsewhere():
    program = tree_program(4)
    rk4 = rkcore.method("rk4")
    A = torch.tensor(rk4.A[None])
    b = torch.tensor(rk4.b[None])
    assert order_penalty(A, b, program).item() < 1e-28
    x = torch.as_tensor(anchor(4)[None], dtype=torch.float64).requires_grad_(True)
    pen = order_penalty(*unflatten_torch(x, 4), program)
    pen.backward()
    assert pen.item() > 0 and torch.isfinite(x.grad).all() and x.grad.abs().max() > 0


def test_centered_ranks_are_deterministic_scaled_ranks():
    v = np.array([3.0, -1.0, np.nan, 10.0, 3.0])
    r = centered_ranks(v)
    assert r.min() == -0.5 and r.max() == 0.5
    assert r[2] == -0.5  # non-finite ranks lowest
    assert r[3] == 0.5
    assert r[0] < r[4]  # ties broken by position, deterministically
    np.testing.assert_array_equal(centered_ranks(v), r)
    assert centered_ranks(np.array([1.0])).tolist() == [0.0]


def test_es_gradient_recovers_a_linear_gradient():
    rng = np.random.default_rng(3)
    w = np.array([1.0, -2.0, 0.5])
    sigma = 0.1
    eps = rng.standard_normal((20000, 3))
    mu = np.array([0.2, 0.1, -0.3])
    f = np.concatenate([(mu + sigma * eps) @ w, (mu - sigma * eps) @ w])
    # Antithetic pairs cancel the constant and every even term: the estimate is exact up to sampling.
    np.testing.assert_allclose(es_gradient(eps, f, sigma), w, atol=0.05)
