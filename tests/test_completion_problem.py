"""MatrixCompletion problem object: validation, builders, and metrics against dense references."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from problems.completion import MatrixCompletion, from_ratings, synthetic_incoherent


def small(**kw):
    rows, cols, vals = np.array([0, 1, 2, 0]), np.array([0, 1, 2, 2]), np.array([1.0, 2.0, 3.0, 4.0])
    args = dict(shape=(3, 4), rows=rows, cols=cols, vals=vals, rank=2)
    args.update(kw)
    return MatrixCompletion(**args)


def test_sizes_follow_the_generator_rule():
    p = synthetic_incoherent(500, 500, 5, c=2, seed=0)
    assert p.n_obs == 31_073 and p.test_vals.size == 10_000
    assert synthetic_incoherent(200, 200, 3, c=3, seed=1).n_obs == 9_537
    # held-out entries are unobserved
    obs = set(zip(p.rows.tolist(), p.cols.tolist(), strict=True))
    assert not obs & set(zip(p.test_rows.tolist(), p.test_cols.tolist(), strict=True))
    # observed values equal the truth
    a, b = p.truth
    assert np.allclose(np.sum(a[p.rows] * b[p.cols], axis=1), p.vals)


@pytest.mark.parametrize(
    "kw, exc, match",
    [
        (dict(rows=np.array([0, 0, 2, 0]), cols=np.array([0, 0, 2, 2])), ValueError, "duplicate observed entry"),
        (dict(rows=np.array([0, 3, 2, 0])), ValueError, "rows.*out of range"),
        (dict(cols=np.array([0, 1, 2, -1])), ValueError, "cols.*out of range"),
        (dict(rank=0), ValueError, "rank must be >= 1"),
        (dict(rank=4), ValueError, "rank must be <= 3"),
        (dict(vals=np.array([1.0, np.nan, 3.0, 4.0])), ValueError, "vals contains NaN"),
        (dict(vals=np.array([1.0, np.inf, 3.0, 4.0])), ValueError, "vals contains NaN"),
        (dict(vals=np.array([1.0, 2.0])), ValueError, "rows has 4 entries, expected 2"),
        (dict(rows=np.array([0.5, 1, 2, 0])), TypeError, "integer indices"),
        (dict(test=(np.array([0]), np.array([1]), np.array([np.nan]))), ValueError, "test vals contains NaN"),
    ],
)
def test_bad_input_is_named(kw, exc, match):
    with pytest.raises(exc, match=match):
        small(**kw)


def test_caller_arrays_are_not_mutated_and_views_are_cached():
    rows = np.array([0, 1, 2, 0])
    p = small(rows=rows)
    assert p.rows is not rows and not p.rows.flags.writeable
    assert p.csr() is p.csr() and p.csc() is p.csc()
    assert np.array_equal(p.csr().toarray(), p.csc().toarray())


def test_empty_test_set_raises_when_a_test_metric_is_asked():
    p = small()
    with pytest.raises(ValueError, match="no held-out entries"):
        p.test_rmse(np.ones((3, 2)), np.ones((4, 2)))
    with pytest.raises(ValueError, match="ground truth"):
        p.rel_frob_error(np.ones((3, 2)), np.ones((4, 2)))


@settings(max_examples=10, deadline=None)
@given(st.integers(1, 600), st.integers(1, 40), st.integers(1, 4), st.integers(0, 2**16))
def test_metrics_match_dense_formulas(m, n, k, seed):
    k = min(k, m, n)
    p = synthetic_incoherent(m, n, k, n_obs=max(1, m * n // 3), n_test=20, seed=seed)
    rng = np.random.default_rng(seed)
    U, V = rng.standard_normal((m, k)), rng.standard_normal((n, k))
    a, b = p.truth
    M, X = a @ b.T, U @ V.T
    assert np.isclose(p.rel_frob_error(U, V), np.linalg.norm(X - M) / np.linalg.norm(M), rtol=1e-10)
    assert np.isclose(p.train_rmse(U, V), np.sqrt(np.mean((X[p.rows, p.cols] - p.vals) ** 2)), rtol=1e-10)
    # subspace distance: sine of the largest principal angle (scipy's subspace_angles as reference)
    from scipy.linalg import subspace_angles

    assert np.isclose(p.subspace_dist(U), np.sin(subspace_angles(U, a).max()), atol=1e-8)


def test_relative_error_is_exact_far_below_1e8():
    p = synthetic_incoherent(300, 200, 3, c=2, seed=3)
    a, b = p.truth
    U = a * (1 + 1e-12)
    assert np.isclose(p.rel_frob_error(U, b), 1e-12, rtol=1e-3)


def test_from_ratings_maps_ids_and_keeps_cold_start_entries():
    user = np.array([10, 10, 20, 30])
    item = np.array(["a", "b", "a", "c"])
    p = from_ratings(user, item, [5, 3, 4, 1], test=([40, 10], ["a", "d"], [3, 2]), rank=2)
    assert p.shape == (4, 4) and list(p.row_ids) == [10, 20, 30, 40] and list(p.col_ids) == ["a", "b", "c", "d"]
    assert p.row_counts[3] == 0 and p.col_counts[3] == 0 and p.meta["cold_test_entries"] == 2
    assert p.rating_range == (1.0, 5.0)
    with pytest.raises(ValueError, match="duplicate"):
        from_ratings([1, 1], [2, 2], [3, 4], rank=1)
    with pytest.raises(ValueError, match="rank must be <= 3"):
        from_ratings(user, item, [5, 3, 4, 1], rank=4)
    with pytest.raises(ValueError, match="rating contains NaN"):
        from_ratings([1, 2], [2, 2], [3, np.nan], rank=1)


def test_sketch_size_below_the_rank_and_negative_shrinkage_are_named():
    import optim
    from optim.completion import sketch_lstsq
    from optim.completion.softimpute import soft_impute

    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"\bs\b"):
        sketch_lstsq(rng.standard_normal((100, 10)), rng.standard_normal(100), s=5)
    p = synthetic_incoherent(60, 50, 3, c=2.0, seed=0)
    with pytest.raises(ValueError, match="s must be at least the rank"):
        optim.solve(p, method="altmin-robust", s=2, max_iter=2)
    X = rng.standard_normal((6, 5))
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="shrinkage_value"):
        soft_impute(X, shrinkage_value=-5.0)
