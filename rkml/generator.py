"""The tableau generator: an MLP mapping (stage count, objective weights) to an explicit tableau.

Parametrisation
---------------
An explicit ``s``-stage tableau has ``s(s-1)/2`` free entries below the diagonal of ``A`` and
``s`` weights ``b``; ``c`` is the row sums of ``A``.  The *free-parameter vector* of an
``s``-stage tableau is::

    x = [A[1,0], A[2,0], A[2,1], A[3,0], ...,  b[0], ..., b[s-1]]     (row-major strict lower part, then b)

The network emits one padded vector for the largest stage count ``S`` of the profile.  Because the
strict lower part is stored row-major, the entries of the top-left ``s x s`` block are exactly the
first ``s(s-1)/2`` of the ``S`` layout, so :func:`free_index` picks an ``s``-stage tableau out of
the padded output without any scatter.

The generator's output for stage count ``s`` is the *mean* of a Gaussian search distribution over
``x`` (its standard deviation is the profile's ``training.sigma``, fixed); training moves the mean.
The mean is ``base(s) + MLP(condition(s)) - MLP_0(condition(s))`` where ``MLP_0`` is the
untrained network's output, recorded at construction: the untrained generator proposes exactly
the base, and what training changes is what moves the mean away from it.  The base is, by
default, :func:`anchor`, a fixed explicit tableau built from interpolatory quadrature on equally
spaced nodes (close to the low-order conditions); training passes a *warm start* instead where
one scores better (the best same-stage library method, see :func:`rkml.train.choose_starts`).
So the initialisation a result must beat is that warm start itself, not a perturbed copy of it
(an untrained offset of 0.01--0.03 costs a tuned tableau such as butcher5 up to 0.4 decades, a
bar too low to mean anything).  Bases and offsets are buffers, so a checkpoint carries them.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def n_free_params(stages: int) -> int:
    """Number of free parameters of an explicit ``stages``-stage tableau (strict lower A, then b)."""
    return stages * (stages - 1) // 2 + stages


def free_index(stages: int, max_stages: int) -> np.ndarray:
    """Positions, in the padded output of length ``n_free_params(max_stages)``, of the free
    parameters of a ``stages``-stage tableau.

    Returns
    -------
    numpy.ndarray of int64, shape (n_free_params(stages),)
    """
    if not 1 <= stages <= max_stages:
        raise ValueError(f"stages={stages} must lie in 1..max_stages={max_stages}")
    n_lower_max = max_stages * (max_stages - 1) // 2
    n_lower = stages * (stages - 1) // 2
    return np.concatenate([np.arange(n_lower), n_lower_max + np.arange(stages)]).astype(np.int64)


def unflatten(x: np.ndarray, stages: int) -> tuple[np.ndarray, np.ndarray]:
    """Free parameters to arrays (numpy).

    Parameters
    ----------
    x : array_like, shape (n, n_free_params(stages)) or (n_free_params(stages),)

    Returns
    -------
    A : numpy.ndarray, shape (n, s, s) (or (s, s)), strictly lower triangular
    b : numpy.ndarray, shape (n, s) (or (s,))
    """
    x = np.asarray(x, dtype=np.float64)
    single = x.ndim == 1
    x = np.atleast_2d(x)
    _check_width(x.shape[-1], stages)
    rows, cols = np.tril_indices(stages, -1)
    A = np.zeros((x.shape[0], stages, stages))
    A[:, rows, cols] = x[:, : rows.size]
    b = np.ascontiguousarray(x[:, rows.size :])
    return (A[0], b[0]) if single else (A, b)


def unflatten_torch(x: torch.Tensor, stages: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Free parameters to tensors, differentiably.  ``x`` (n, n_free_params(s)) -> A (n, s, s), b (n, s).

    ``A`` is built by a product with a constant 0/1 scatter matrix rather than by indexed
    assignment, so the function composes with ``torch.func`` transforms (``jacrev``, ``vmap``).
    """
    _check_width(x.shape[-1], stages)
    rows, cols = np.tril_indices(stages, -1)
    scatter = np.zeros((rows.size, stages * stages))
    scatter[np.arange(rows.size), rows * stages + cols] = 1.0
    scatter_t = torch.as_tensor(scatter, dtype=x.dtype, device=x.device)
    A = (x[..., : rows.size] @ scatter_t).reshape(*x.shape[:-1], stages, stages)
    return A, x[..., rows.size :]


def flatten(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Inverse of :func:`unflatten`: A (..., s, s), b (..., s) -> x (..., n_free_params(s)).

    Entries of ``A`` on or above the diagonal are ignored (the tableau is taken as explicit).
    """
    A = np.asarray(A, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    s = A.shape[-1]
    rows, cols = np.tril_indices(s, -1)
    return np.concatenate([A[..., rows, cols], b], axis=-1)


def anchor(stages: int) -> np.ndarray:
    """The fixed explicit tableau the generator's mean is offset from (free-parameter vector).

    Equally spaced abscissae ``c_i = i/(s-1)``; row ``i`` of ``A`` holds the interpolatory
    quadrature weights of the nodes ``c_0..c_{i-1}`` on ``[0, c_i]`` and ``b`` those of all nodes on
    ``[0, 1]`` (Newton--Cotes weights).  Every row then integrates polynomials of degree ``< i``
    exactly, which satisfies the bushy-tree conditions ``b.c^(k-1) = 1/k`` (k <= s) and nearly
    satisfies the others: the low-order conditions are close, so the Newton polish
    (:mod:`rkml.polish`) converges from it and from small offsets around it.

    Returns
    -------
    numpy.ndarray, shape (n_free_params(stages),)
    """
    s = stages
    if s == 1:
        return np.ones(1)
    c = np.linspace(0.0, 1.0, s)
    A = np.zeros((s, s))
    for i in range(1, s):
        A[i, :i] = _quadrature_weights(c[:i], c[i])
    return flatten(A, _quadrature_weights(c, 1.0))


def _quadrature_weights(nodes: np.ndarray, upper: float) -> np.ndarray:
    """Weights ``w`` with ``sum_j w_j nodes_j^k = upper^(k+1)/(k+1)`` for ``k < len(nodes)``."""
    m = nodes.size
    vander = np.vander(nodes, m, increasing=True).T
    moments = upper ** np.arange(1, m + 1) / np.arange(1, m + 1)
    return np.linalg.solve(vander, moments)


def _check_width(width: int, stages: int) -> None:
    if width != n_free_params(stages):
        raise ValueError(
            f"parameter vector has {width} entries; a {stages}-stage explicit tableau needs "
            f"{n_free_params(stages)} (strict lower A then b)"
        )


class TableauGenerator(nn.Module):
    """MLP from a conditioning input to the mean free-parameter vector of an explicit tableau.

    Parameters
    ----------
    min_stages, max_stages : int
        Stage-count range the generator serves (the profile's ``stages.min``/``stages.max``).
    weights : sequence of 3 floats
        Objective weights ``(w_acc, w_eff, w_stab)``, part of the conditioning input.
    hidden_units : int
        Width of every hidden layer (the profile's ``model.hidden_units``).
    layers : int
        Number of hidden layers (the profile's ``model.layers``), at least 1.
    bases : dict of int -> numpy.ndarray, optional
        Free-parameter vector the mean is offset from, per stage count (default :func:`anchor`).
    output_scale : float
        Factor on the output layer's default initial weights and bias.  The untrained output is
        subtracted (the untrained mean is the base), so this only sets how strongly the head
        responds at first: at 0.1 the first Adam steps move the mean by about sigma or less.

    Notes
    -----
    Conditioning input (``condition(s)``, shape (n_cond,)): one-hot of ``s`` over
    ``min_stages..max_stages``, then ``s / max_stages``, then the three weights.
    The weights are constant within one profile; feeding them in makes the generator a function of
    the objective (and makes two profiles with different weights start from different points even
    with equal seeds and widths).  Parameters are created by PyTorch's default initialisation, so
    callers seed torch (``torch.manual_seed``) before construction; nothing here touches global RNG.
    """

    def __init__(
        self,
        min_stages: int,
        max_stages: int,
        weights: tuple[float, float, float],
        hidden_units: int,
        layers: int,
        bases: dict[int, np.ndarray] | None = None,
        output_scale: float = 0.1,
    ) -> None:
        super().__init__()
        if not 1 <= min_stages <= max_stages:
            raise ValueError(f"stage range {min_stages}..{max_stages} is empty or starts below 1")
        if hidden_units < 1 or layers < 1:
            raise ValueError(f"hidden_units={hidden_units} and layers={layers} must both be at least 1")
        if len(weights) != 3:
            raise ValueError(f"weights must be (w_acc, w_eff, w_stab), got {len(weights)} values")
        self.min_stages = int(min_stages)
        self.max_stages = int(max_stages)
        self.register_buffer("weights", torch.tensor([float(w) for w in weights], dtype=torch.float32))
        n_cond = (max_stages - min_stages + 1) + 1 + 3
        blocks: list[nn.Module] = []
        width_in = n_cond
        for _ in range(layers):
            blocks += [nn.Linear(width_in, hidden_units), nn.Tanh()]
            width_in = hidden_units
        head = nn.Linear(width_in, n_free_params(max_stages))
        with torch.no_grad():
            head.weight.mul_(output_scale)
            head.bias.mul_(output_scale)
        blocks.append(head)
        self.net = nn.Sequential(*blocks)
        for stages in range(min_stages, max_stages + 1):
            base = anchor(stages) if not bases or stages not in bases else np.asarray(bases[stages])
            _check_width(base.size, stages)
            self.register_buffer(f"base_s{stages}", torch.as_tensor(base, dtype=torch.float64))
            with torch.no_grad():
                untrained = self.forward(self.condition(stages)[None, :])[0].to(torch.float64)
            self.register_buffer(f"offset_s{stages}", untrained)

    @classmethod
    def from_profile(cls, profile, bases: dict[int, np.ndarray] | None = None) -> TableauGenerator:
        """Build the generator a profile describes (``stages``, ``model`` and ``objective`` sections)."""
        o = profile.objective
        return cls(
            profile.stages.min,
            profile.stages.max,
            (o.w_acc, o.w_eff, o.w_stab),
            profile.model.hidden_units,
            profile.model.layers,
            bases=bases,
        )

    @torch.no_grad()
    def rebase(self, stages: int) -> None:
        """Make the current network propose exactly the base for ``stages`` again (record its output
        as the offset).  Training calls this when a stage count starts: the network is shared, so
        training the previous stage counts has moved every stage count's mean."""
        raw = self.forward(self.condition(stages)[None, :])[0].to(torch.float64)
        getattr(self, f"offset_s{stages}").copy_(raw)

    def condition(self, stages: int) -> torch.Tensor:
        """Conditioning input for ``stages``, shape (n_cond,), on the module's device."""
        if not self.min_stages <= stages <= self.max_stages:
            raise ValueError(
                f"stages={stages} is outside the generator's range {self.min_stages}..{self.max_stages}"
            )
        onehot = torch.zeros(self.max_stages - self.min_stages + 1, device=self.weights.device)
        onehot[stages - self.min_stages] = 1.0
        frac = torch.tensor([stages / self.max_stages], device=self.weights.device)
        return torch.cat([onehot, frac, self.weights])

    def forward(self, cond: torch.Tensor) -> torch.Tensor:
        """Padded raw output, ``cond`` (n, n_cond) -> (n, n_free_params(max_stages)) (no anchor)."""
        return self.net(cond)

    def mean(self, stages: int) -> torch.Tensor:
        """Mean free-parameter vector of the search distribution for ``stages``.

        Returns
        -------
        torch.Tensor, float64, shape (n_free_params(stages),)
            Differentiable with respect to the generator's parameters.
        """
        raw = self.forward(self.condition(stages)[None, :])[0].to(torch.float64)
        idx = torch.as_tensor(free_index(stages, self.max_stages), device=raw.device)
        base = getattr(self, f"base_s{stages}")
        return base + (raw - getattr(self, f"offset_s{stages}"))[idx]
