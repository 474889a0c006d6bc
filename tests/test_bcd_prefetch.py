"""The Gram engine's fixed costs: the compiled prefetch ranking picks the same columns as the ranking
written with the numpy path's scores, the gradient at x = 0 needs no pass over A, and the column norms
read from the CSC entries equal the dense sums of squares."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import problems
from optim.bcd import BCD
from optim.bcd.gram import rank_uncached
from optim.bcd.kernels import RULE_CODES
from optim.bcd.rules import prox_scores
from problems.bcd.linear import _column_sq_norms


def _numpy_priority(rule, g, x, L, r, l1, nonneg):
    """The ranking as documented, from the numpy path's per-coordinate scores."""
    d, q, s = prox_scores(g, x, L, l1, nonneg)
    score = {
        "gs": np.abs(g),
        "gsd": np.abs(g) / np.sqrt(L),
        "gsl": np.abs(g) / np.sqrt(r),
        "gs_s": s,
        "gs_r": np.abs(d),
        "gs_q": -q,
    }[rule]
    if not (l1 > 0 or nonneg):
        return score
    gap = (g + l1) if nonneg else (l1 - np.abs(g))
    return np.where(score > 0, score, -np.maximum(gap, 0.0) / np.sqrt(L))


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    rule=st.sampled_from(sorted(RULE_CODES)),
    penalty=st.sampled_from(["none", "l1", "nonneg"]),
    k=st.integers(1, 12),
)
def test_compiled_prefetch_ranking_equals_the_numpy_ranking(seed, rule, penalty, k):
    rng = np.random.default_rng(seed)
    n = 40
    g = rng.standard_normal(n) * 2.0
    x = np.where(rng.random(n) < 0.4, rng.standard_normal(n), 0.0)
    if penalty == "nonneg":
        x = np.abs(x)
    L, r = rng.uniform(0.5, 3.0, n), rng.uniform(1.0, 5.0, n)
    l1 = 0.0 if penalty == "none" else 1.0
    slot = np.where(rng.random(n) < 0.3, 1, -1).astype(np.int64)  # 1: cached
    need = np.flatnonzero(slot < 0)[:2].astype(np.int64)
    candidates = np.setdiff1d(np.flatnonzero(slot < 0), need)
    k = min(k, len(candidates))
    out = np.empty(k, dtype=np.int64)
    rank_uncached(RULE_CODES[rule], g, x, L, r, l1, penalty == "nonneg", slot, need, out)
    prio = _numpy_priority(rule, g, x, L, r, l1, penalty == "nonneg")[candidates]
    expected = candidates[np.argsort(-prio, kind="stable")[:k]]
    assert set(out.tolist()) == set(expected.tolist())


@pytest.mark.parametrize("sparse", [False, True])
def test_gradient_at_zero_is_the_model_gradient_exactly(sparse):
    rng = np.random.default_rng(3)
    A = rng.standard_normal((25, 15)) * (rng.random((25, 15)) < 0.4)
    data = sp.csr_matrix(A) if sparse else A
    for scale, l2 in (("sum", 0.0), ("mean", 0.3)):
        problem = problems.LeastSquares(data, rng.standard_normal(25), l1=0.2, l2=l2, scale=scale)
        st_ = BCD(engine="compiled", selection="gs_s", update="prox_gradient").configured(problem).init(problem)
        np.testing.assert_allclose(st_.engine.g, problem.grad(np.zeros(15)), rtol=1e-12, atol=1e-12)
        bp = st_.bp  # bit for bit the pass over A it replaces: w A^T (A 0 - y) + l2 0
        np.testing.assert_array_equal(st_.engine.g, bp.w * np.asarray(bp.A.T @ (np.zeros(25) - problem.b)).ravel())


def test_column_norms_from_csc_entries_equal_dense_sums_of_squares():
    rng = np.random.default_rng(4)
    A = rng.standard_normal((30, 20)) * (rng.random((30, 20)) < 0.2)
    A[:, [0, 7, 19]] = 0.0  # empty columns, first and last included
    np.testing.assert_allclose(_column_sq_norms(sp.csc_matrix(A)), (A * A).sum(axis=0), rtol=1e-14, atol=0)
    dup = sp.csc_matrix((np.array([1.0, 2.0]), np.array([3, 3]), np.array([0, 2, 2])), shape=(5, 2))
    assert not dup.has_canonical_format  # a repeated entry counts as the sum of its values
    np.testing.assert_allclose(_column_sq_norms(dup), [9.0, 0.0])
