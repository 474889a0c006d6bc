"""Cardinality-constrained block QUBOs of iterative CBS and their inner solvers, against brute force,
closed forms and HiGHS."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from problems.pruning import LayerPruning, taylor_terms
from quantum.cardinality import CardinalityQUBO, solve_cardinality


def all_masks(n, k=None):
    for bits in itertools.product((0, 1), repeat=n):
        if k is None or sum(bits) == k:
            yield np.array(bits)


def relu_layer(rng, m, n, N=60):
    X = np.maximum(rng.normal(size=(N, n)), 0.0)
    return LayerPruning(rng.normal(size=(m, n)), X, density=0.5)


def test_penalty_identity():
    c = CardinalityQUBO(np.zeros(5), np.zeros((5, 5)), k=3)
    q = c.penalty_qubo(1.0)
    for x in all_masks(5):
        assert q.energy(x) == pytest.approx((x.sum() - 3) ** 2, abs=1e-12)
    assert [q.energy(np.array(x)) for x in ([1, 1, 1, 0, 0], [1, 1, 0, 0, 0], [1, 0, 0, 0, 0])] == [0, 1, 4]


def test_penalty_route_is_feasible_and_safe_penalty_keeps_minimisers_feasible():
    rng = np.random.default_rng(3)
    c = CardinalityQUBO(rng.normal(size=8), np.triu(rng.normal(size=(8, 8)), 1), k=3)
    q = c.penalty_qubo()
    best = min(all_masks(8), key=q.energy)
    assert best.sum() == 3
    res = solve_cardinality(c, "penalty", seed=0, num_reads=20, num_sweeps=200)
    assert c.feasible(res.x)


def test_reconstruction_block_energy_equals_brute_force_error():
    rng = np.random.default_rng(0)
    lp = relu_layer(rng, 3, 8)
    state = (rng.random(24) < 0.5).astype(int)
    block = np.array([1, 3, 4, 6, 7, 9, 10, 12, 13, 15])  # rows 0 and 1
    terms = lp.block_qubo(block, state, "reconstruction")
    model = CardinalityQUBO.from_terms(terms)
    assert terms.k == state[block].sum()
    for x in all_masks(10, terms.k):
        p = state.copy()
        p[block] = x
        truth = lp.recon_error(1 - p, relative=False)
        assert model.energy(x) == pytest.approx(truth, rel=1e-10, abs=1e-12)


def test_taylor_terms_equal_exact_change_of_a_quadratic_loss():
    rng = np.random.default_rng(1)
    p = 12
    A = rng.normal(size=(p, p))
    H = A @ A.T
    w0 = rng.normal(size=p)
    pruned = rng.random(p) < 0.5
    w = np.where(pruned, 0.0, w0)

    def loss(v):
        return 0.5 * (v - w0) @ H @ (v - w0)

    g = H @ (w - w0)
    block = np.array([0, 2, 3, 5, 7, 8, 11])
    delta = (w - w0)[block]
    terms = taylor_terms(w0[block], delta, g[block], H[np.ix_(block, block)], 1.0, 0.0, int(pruned[block].sum()))
    model = CardinalityQUBO.from_terms(terms)
    for x in all_masks(block.size):
        new = w.copy()
        new[block] = w0[block] * (1 - x)
        assert model.energy(x) == pytest.approx(loss(new) - loss(w), rel=1e-9, abs=1e-9)


@settings(max_examples=6, deadline=None)
@given(n=st.integers(12, 16), seed=st.integers(0, 10_000))
def test_exhaustive_equals_milp(n, seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(1, n))
    c = CardinalityQUBO(rng.normal(size=n), np.triu(rng.normal(size=(n, n)), 1), k=k)
    a, b = solve_cardinality(c, "exhaustive"), solve_cardinality(c, "milp")
    assert c.feasible(a.x) and c.feasible(b.x)
    assert a.energy == pytest.approx(b.energy, rel=1e-7, abs=1e-7)


@pytest.mark.parametrize("method", ["sa_card", "swap_descent", "tabu_swap"])
def test_heuristics_feasible_and_never_worse_than_incumbent(method):
    rng = np.random.default_rng(5)
    lp = relu_layer(rng, 4, 16)
    state = np.zeros(64, dtype=int)
    state[rng.permutation(64)[:32]] = 1
    block = np.concatenate([np.flatnonzero(state)[:20], np.flatnonzero(state == 0)[:20]])
    model = CardinalityQUBO.from_terms(lp.block_qubo(block, state))
    for cutoff in ("abs", "signed_official"):
        scaled, sigma = model.prepared(cutoff)
        res = solve_cardinality(scaled, method, seed=1)
        assert scaled.feasible(res.x) and res.x.sum() == 20
        assert res.energy <= scaled.energy(scaled.incumbent()) + 1e-12
    assert sigma > 0


def test_sa_card_finds_the_optimum_of_16_variable_blocks():
    hits = 0
    for seed in range(5):
        rng = np.random.default_rng(100 + seed)
        lp = relu_layer(rng, 2, 8)
        state = np.tile([1, 0], 8)
        block = np.arange(16)[np.argsort(-state, kind="stable")]
        model, _ = CardinalityQUBO.from_terms(lp.block_qubo(block, state)).prepared("abs")
        best = solve_cardinality(model, "exhaustive").energy
        hits += solve_cardinality(model, "sa_card", seed=seed).energy <= best + 1e-9 * (1 + abs(best))
    assert hits >= 4


def test_signed_official_cutoff_zeroes_negative_entries_and_abs_keeps_them():
    c = CardinalityQUBO([-1.0, 2.0, 0.5], [[0, -3.0, 1e-14], [0, 0, 4.0], [0, 0, 0]], k=1)
    a, _ = c.prepared("abs")
    s, _ = c.prepared("signed_official")
    assert a.linear[0] < 0 and a.quadratic[0, 1] < 0 and a.quadratic[0, 2] == 0
    assert s.linear[0] == 0 and s.quadratic[0, 1] == 0 and np.all(s.linear >= 0)


def test_bad_cardinality_input():
    with pytest.raises(ValueError, match="k must be <= the block size"):
        CardinalityQUBO(np.zeros(4), k=5)
    c = CardinalityQUBO(np.zeros(25), k=3)
    with pytest.raises(ValueError, match="n <= 20"):
        solve_cardinality(c, "exhaustive")
    with pytest.raises(ValueError, match="method must be one of"):
        solve_cardinality(c, "annealing")
    with pytest.raises(ValueError, match="x0 must be"):
        solve_cardinality(c, "swap_descent", x0=np.ones(25))
