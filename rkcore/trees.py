"""Rooted trees: the index set of Runge--Kutta order conditions (Butcher theory).

A rooted tree is a root with a multiset of subtrees hanging from it.  Each tree
``t`` gives one order condition ``Phi(t) = 1/gamma(t)`` on a tableau, where the
elementary weight ``Phi`` is computed from the *stage vector*::

    g(leaf)            = 1                      (all-ones, shape (s,))
    g([t1, ..., tm])   = prod_i (A @ g(t_i))    (elementwise product)
    Phi(t)             = b . g(t)

The trees are generated here by code (multisets of smaller trees), never read
from a generated file, and frozen: a :class:`Tree` is hashable and equal trees
compare equal whatever order their children were given in.

For fast evaluation every tree of order >= 2 is split into its *Butcher
product* ``t = left o right``: ``right`` is the last child of the root in
canonical order and ``left`` is ``t`` with that child removed.  Then
``g(t) = g(left) * (A @ g(right))``, and both parts precede ``t`` in the
canonical list, so a single forward sweep evaluates all trees
(:func:`tree_table` gives the integer encoding used by the numba kernels).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections import Counter
from typing import NamedTuple

import numpy as np

from .errors import RKInputError


@dataclasses.dataclass(frozen=True)
class Tree:
    """A rooted tree, frozen and hashable.

    Parameters
    ----------
    children : tuple of Tree
        The subtrees attached to the root; stored sorted in canonical order, so
        ``Tree((u, v)) == Tree((v, u))``.  ``Tree()`` is the single-vertex tree.

    Attributes
    ----------
    order : int
        Number of vertices.
    gamma : int
        Density ``gamma(t) = order(t) * prod gamma(children)``.
    sigma : int
        Symmetry ``sigma(t) = prod over distinct children u of sigma(u)**m * m!``
        (``m`` = multiplicity of ``u``).
    """

    children: tuple[Tree, ...] = ()
    order: int = dataclasses.field(init=False, compare=False)
    gamma: int = dataclasses.field(init=False, compare=False)
    sigma: int = dataclasses.field(init=False, compare=False)

    def __post_init__(self) -> None:
        kids = tuple(self.children)
        if not all(isinstance(k, Tree) for k in kids):
            raise RKInputError("Tree 'children' must be a tuple of Tree objects")
        kids = tuple(sorted(kids, key=_sort_key))
        order = 1 + sum(k.order for k in kids)
        gamma = order * math.prod(k.gamma for k in kids)
        sigma = 1
        for kid, mult in Counter(kids).items():
            sigma *= kid.sigma**mult * math.factorial(mult)
        object.__setattr__(self, "children", kids)
        object.__setattr__(self, "order", order)
        object.__setattr__(self, "gamma", gamma)
        object.__setattr__(self, "sigma", sigma)

    @property
    def sort_key(self) -> tuple:
        """Canonical sort key: order first, then the children's keys lexicographically."""
        return _sort_key(self)

    def __str__(self) -> str:
        """Butcher bracket notation: ``τ``, ``[τ]``, ``[τ²]``, ``[[τ]τ]`` ..."""
        if not self.children:
            return "τ"
        parts = []
        for kid, mult in _grouped(self.children):
            parts.append(str(kid) + (_superscript(mult) if mult > 1 else ""))
        return "[" + "".join(parts) + "]"

    def __repr__(self) -> str:
        return f"Tree({self}, order={self.order})"

    def condition(self) -> str:
        """The order condition in tableau notation, e.g. ``Σb = 1``, ``b·c² = 1/3``, ``b·Ac = 1/6``."""
        if not self.children:
            return "Σb = 1"
        return f"b·{_wrapped(_stage_factors(self))} = 1/{self.gamma}"


def _sort_key(t: Tree) -> tuple:
    return (t.order, tuple(_sort_key(k) for k in t.children))


def _grouped(kids: tuple[Tree, ...]) -> list[tuple[Tree, int]]:
    out: list[tuple[Tree, int]] = []
    for kid in kids:
        if out and out[-1][0] == kid:
            out[-1] = (kid, out[-1][1] + 1)
        else:
            out.append((kid, 1))
    return out


def _superscript(n: int) -> str:
    return str(n).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))


def _stage_factors(t: Tree) -> list[str]:
    """Factors of the stage vector g(t) (t has children): ``c²``, ``Ac²`` (= A(c²)), ``(Ac)²``."""
    factors = []
    for kid, mult in _grouped(t.children):
        if not kid.children:
            factors.append("c" + (_superscript(mult) if mult > 1 else ""))
            continue
        base = "A" + _wrapped(_stage_factors(kid))
        factors.append(f"({base}){_superscript(mult)}" if mult > 1 else base)
    return factors


def _wrapped(factors: list[str]) -> str:
    return f"({'∘'.join(factors)})" if len(factors) > 1 else factors[0]


LEAF = Tree()


@functools.cache
def trees_of_order(n: int) -> tuple[Tree, ...]:
    """All rooted trees with exactly ``n`` vertices, in canonical order.

    Counts for n = 1, 2, ...: 1, 1, 2, 4, 9, 20, 48, 115, 286, 719 (OEIS A000081).
    """
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise RKInputError(f"tree order must be a positive integer, got {n!r}")
    n = int(n)
    if n == 1:
        return (LEAF,)
    pool = rooted_trees(n - 1)
    found = [Tree(kids) for kids in _multisets(pool, n - 1, 0)]
    return tuple(sorted(found, key=_sort_key))


def _multisets(pool: tuple[Tree, ...], remaining: int, start: int):
    """Non-decreasing index sequences into ``pool`` whose orders sum to ``remaining``."""
    if remaining == 0:
        yield ()
        return
    for i in range(start, len(pool)):
        if pool[i].order > remaining:
            break  # pool is sorted by order, nothing later fits
        for rest in _multisets(pool, remaining - pool[i].order, i):
            yield (pool[i],) + rest


@functools.cache
def rooted_trees(max_order: int) -> tuple[Tree, ...]:
    """All rooted trees of order 1..``max_order``, ordered by order then canonically.

    Parameters
    ----------
    max_order : int
        Highest order (>= 1).  ``rooted_trees(8)`` has 200 trees.

    Returns
    -------
    tuple of Tree, length n_trees
    """
    if not isinstance(max_order, (int, np.integer)) or isinstance(max_order, bool) or max_order < 1:
        raise RKInputError(f"max_order must be a positive integer, got {max_order!r}")
    out: list[Tree] = []
    for n in range(1, int(max_order) + 1):
        out.extend(trees_of_order(n))
    return tuple(out)


class TreeTable(NamedTuple):
    """Integer encoding of ``rooted_trees(max_order)`` for compiled evaluation.

    Attributes
    ----------
    order : ndarray of int64, shape (n_trees,)
        Order of each tree (non-decreasing); slice ``order <= p`` for "through order p".
    left, right : ndarray of int64, shape (n_trees,)
        Butcher-product parts: ``g(t) = g(left) * (A @ g(right))``; both -1 for the leaf.
        Always smaller than the tree's own index.
    inv_gamma : ndarray of float64, shape (n_trees,)
        ``1 / gamma(t)``.
    sigma : ndarray of float64, shape (n_trees,)
        Symmetry ``sigma(t)``.
    needs_ag : ndarray of bool, shape (n_trees,)
        True where ``A @ g(t)`` is needed by a later tree (the tree is someone's ``right`` part).
    """

    order: np.ndarray
    left: np.ndarray
    right: np.ndarray
    inv_gamma: np.ndarray
    sigma: np.ndarray
    needs_ag: np.ndarray


@functools.cache
def tree_table(max_order: int) -> TreeTable:
    """The :class:`TreeTable` for ``rooted_trees(max_order)`` (cached, arrays read-only)."""
    trees = rooted_trees(max_order)
    index = {t: i for i, t in enumerate(trees)}
    n = len(trees)
    left = np.full(n, -1, dtype=np.int64)
    right = np.full(n, -1, dtype=np.int64)
    for i, t in enumerate(trees):
        if t.children:
            left[i] = index[Tree(t.children[:-1])]
            right[i] = index[t.children[-1]]
    needs_ag = np.zeros(n, dtype=bool)
    needs_ag[right[right >= 0]] = True
    table = TreeTable(
        order=np.array([t.order for t in trees], dtype=np.int64),
        left=left,
        right=right,
        inv_gamma=np.array([1.0 / t.gamma for t in trees], dtype=np.float64),
        sigma=np.array([float(t.sigma) for t in trees], dtype=np.float64),
        needs_ag=needs_ag,
    )
    for arr in table:
        arr.setflags(write=False)
    return table
