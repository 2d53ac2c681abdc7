"""Rooted trees: counts, density, symmetry, canonical form (checked against closed forms and nodepy)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from references import reference

from rkcore import RKInputError
from rkcore.trees import LEAF, Tree, rooted_trees, tree_table, trees_of_order

# OEIS A000081: rooted trees with n vertices.
A000081 = [1, 1, 2, 4, 9, 20, 48, 115, 286, 719]


def parse_nodepy(text: str) -> Tree:
    """Convert nodepy's tree notation ('T', '{T^2{T}}', ...) into a Tree."""

    def parse(i: int) -> tuple[Tree, int]:
        if text[i] == "T":
            return LEAF, i + 1
        assert text[i] == "{"
        kids: list[Tree] = []
        i += 1
        while text[i] != "}":
            kid, i = parse(i)
            mult = 1
            if i < len(text) and text[i] == "^":
                j = i + 1
                while text[j].isdigit():
                    j += 1
                mult = int(text[i + 1 : j])
                i = j
            kids.extend([kid] * mult)
        return Tree(tuple(kids)), i + 1

    tree, end = parse(0)
    assert end == len(text)
    return tree


@pytest.mark.parametrize("n", range(1, 11))
def test_tree_counts_follow_a000081(n):
    trees = trees_of_order(n)
    assert len(trees) == A000081[n - 1]
    assert len(set(trees)) == len(trees)
    assert all(t.order == n for t in trees)


def test_two_hundred_trees_through_order_eight_in_canonical_order():
    trees = rooted_trees(8)
    assert len(trees) == 200
    keys = [t.sort_key for t in trees]
    assert keys == sorted(keys)
    assert [t.order for t in trees] == sorted(t.order for t in trees)


@pytest.mark.parametrize("n", range(1, 9))
def test_gamma_and_sigma_satisfy_counting_identities(n):
    trees = trees_of_order(n)
    # Cayley: n!/sigma(t) labellings of each shape give n^(n-1) labelled rooted trees.
    assert sum(math.factorial(n) // t.sigma for t in trees) == n ** (n - 1)
    # Heap-ordered (monotone) labellings: alpha(t) = n!/(gamma sigma), summing to (n-1)!.
    assert sum(math.factorial(n) // (t.gamma * t.sigma) for t in trees) == math.factorial(n - 1)


@pytest.mark.parametrize("n", range(1, 9))
def test_trees_gamma_sigma_match_nodepy(n):
    rt = reference("nodepy.rooted_trees")
    theirs = {parse_nodepy(str(t)): (int(t.density()), int(t.symmetry())) for t in rt.list_trees(n)}
    ours = {t: (t.gamma, t.sigma) for t in trees_of_order(n)}
    assert ours == theirs


def test_gamma_sigma_spot_checks():
    bushy = Tree((LEAF,) * 4)  # [τ⁴]
    assert (bushy.order, bushy.gamma, bushy.sigma) == (5, 5, 24)
    tall = LEAF
    for _ in range(5):
        tall = Tree((tall,))
    assert (tall.order, tall.gamma, tall.sigma) == (6, math.factorial(6), 1)
    pair = Tree((Tree((LEAF,)), Tree((LEAF,))))  # [[τ]²]
    assert (pair.order, pair.gamma, pair.sigma) == (5, 20, 2)
    mixed = Tree((LEAF, Tree((LEAF,))))  # [τ[τ]]
    assert (mixed.gamma, mixed.sigma) == (8, 1)


def test_trees_are_frozen_hashable_and_order_independent():
    u, v = LEAF, Tree((LEAF,))
    assert Tree((u, v)) == Tree((v, u))
    assert hash(Tree((u, v))) == hash(Tree((v, u)))
    assert Tree((u, v)).children == (u, v)
    with pytest.raises(AttributeError):
        Tree().order = 3  # type: ignore[misc]


def test_tree_rendering():
    names = [str(t) for t in rooted_trees(4)]
    assert names == ["τ", "[τ]", "[τ²]", "[[τ]]", "[τ³]", "[τ[τ]]", "[[τ²]]", "[[[τ]]]"]
    conditions = [t.condition() for t in rooted_trees(4)]
    assert conditions[:4] == ["Σb = 1", "b·c = 1/2", "b·c² = 1/3", "b·Ac = 1/6"]
    assert conditions[5] == "b·(c∘Ac) = 1/8"
    assert Tree((Tree((LEAF,)), Tree((LEAF,)))).condition() == "b·(Ac)² = 1/20"


@pytest.mark.parametrize("max_order", [1, 5, 8])
def test_tree_table_encodes_butcher_products(max_order):
    trees = rooted_trees(max_order)
    table = tree_table(max_order)
    assert table.order.tolist() == [t.order for t in trees]
    np.testing.assert_array_equal(table.inv_gamma, [1.0 / t.gamma for t in trees])
    for i, t in enumerate(trees):
        if i == 0:
            assert table.left[i] == -1 and table.right[i] == -1
            continue
        left, right = trees[table.left[i]], trees[table.right[i]]
        assert table.left[i] < i and table.right[i] < i
        assert Tree(left.children + (right,)) == t
        assert table.needs_ag[table.right[i]]


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "3"])
def test_invalid_order_rejected(bad):
    with pytest.raises(RKInputError, match="positive integer"):
        rooted_trees(bad)
