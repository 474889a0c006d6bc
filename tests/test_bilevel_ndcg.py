"""Top-K NDCG bilevel problem: ndcg_at_k against scikit-learn (and libauc where it installs), every oracle
against central finite differences, the lower solution against its defining equations, BSVRB v2 with
defaults improving the held-out NDCG@10 on a small MovieLens-100k instance, and clear errors on bad input."""

import numpy as np
import pytest
from bilevel_fixtures import have_movielens, one_thread  # noqa: F401  (autouse fixture)
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import ndcg_score

from problems.bilevel import TopKNDCG, ndcg_at_k
from problems.bilevel.ndcg import ndcg_per_query

needs_data = pytest.mark.skipif(
    not have_movielens(), reason="MovieLens-100k parquet absent (fetch it: python3 benchmarks/fetch_data.py)"
)


def synthetic(m=4, n_items=30, n_pos=6, seed=0, **kw) -> TopKNDCG:
    rng = np.random.default_rng(seed)
    items = np.stack([rng.choice(n_items, n_pos, replace=False) for _ in range(m)])
    ratings = rng.integers(1, 6, size=items.shape).astype(float)
    test = np.zeros((m, n_items))
    for q in range(m):
        rest = np.setdiff1d(np.arange(n_items), items[q])
        test[q, rng.choice(rest, 3, replace=False)] = rng.integers(1, 6, 3)
    return TopKNDCG(items, ratings, n_items, test, k=3, embed_dim=3, init_scale=0.5, seed=seed, **kw)


# ---------------------------------------------------------------------------------------- the metric
@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 4),
    st.integers(2, 12),
    st.integers(1, 12),
    st.integers(0, 2**31 - 1),
    st.booleans(),
)
def test_ndcg_equals_sklearn(n_q, n_items, k, seed, ties):
    rng = np.random.default_rng(seed)
    rel = rng.integers(0, 6, size=(n_q, n_items)).astype(float)
    rel[0, 0] = max(rel[0, 0], 1.0)
    scores = rng.integers(0, 3, size=rel.shape).astype(float) if ties else rng.standard_normal(rel.shape)
    k = min(k, n_items)
    ours = ndcg_at_k(scores, rel, k)
    ref = ndcg_score(2.0**rel - 1.0, scores, k=k)
    assert ours == pytest.approx(ref, rel=1e-12, abs=1e-12)
    ref_nt = ndcg_score(2.0**rel - 1.0, scores, k=k, ignore_ties=True)
    if not ties:
        assert ndcg_at_k(scores, rel, k, ignore_ties=True) == pytest.approx(ref_nt, rel=1e-12, abs=1e-12)


def test_ndcg_properties():
    rel = np.array([[3.0, 0.0, 1.0, 2.0]])
    assert ndcg_at_k(rel, rel, 2) == pytest.approx(1.0)
    assert ndcg_per_query(np.zeros((1, 4)) + np.arange(4), np.zeros((1, 4)), 2)[0] == 0.0
    # hand value: order 2, 1, 0 -> gains 0, 7, 1 at ranks 1..3, ideal 7, 1
    dcg = 7 / np.log2(3) + 1 / np.log2(4)
    assert ndcg_at_k([1.0, 2.0, 3.0], [1.0, 3.0, 0.0], 3) == pytest.approx(dcg / (7 + 1 / np.log2(3)))


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 5), st.integers(1, 6), st.integers(1, 15), st.integers(1, 10), st.integers(0, 2**31 - 1))
def test_ndcg_against_libauc(n_users, n_pos, n_neg, k, seed):
    libauc = pytest.importorskip("libauc.metrics", reason="libauc is not installed (optional peer)")
    rng = np.random.default_rng(seed)
    # libauc's layout: y_true (users, P) ratings of the positives, y_pred (users, P + negatives) with the
    # positives' scores first; ours: one relevance per column (0 for the negatives)
    ratings = rng.integers(1, 6, size=(n_users, n_pos)).astype(float)
    scores = rng.standard_normal((n_users, n_pos + n_neg))
    rel = np.hstack([ratings, np.zeros((n_users, n_neg))])
    ref = libauc.ndcg_at_k(ratings, scores, k=k)
    assert ndcg_at_k(scores, rel, min(k, n_pos + n_neg)) == pytest.approx(ref, rel=1e-12)


def test_ndcg_bad_input():
    with pytest.raises(ValueError, match="same shape"):
        ndcg_at_k(np.zeros((2, 3)), np.zeros((2, 4)), 1)
    with pytest.raises(ValueError, match="relevance"):
        ndcg_at_k(np.zeros(3), [1.0, -1.0, 0.0], 1)
    with pytest.raises(ValueError, match="scores"):
        ndcg_at_k([np.nan, 0.0], [1.0, 0.0], 1)
    with pytest.raises(ValueError, match="k"):
        ndcg_at_k([1.0, 0.0], [1.0, 0.0], 0)


# ---------------------------------------------------------------------------------------- the oracles
@pytest.fixture(scope="module")
def small():
    return synthetic()


def _point(p, rng):
    x = p.initial_point() + 0.1 * rng.standard_normal(p.dim_x)
    Y = np.column_stack([rng.uniform(0.5, 2.0, (p.m, p.P)), rng.normal(0, 0.3, p.m)])
    return x, Y


def test_oracles_match_finite_differences(small):
    p, rng, h = small, np.random.default_rng(3), 1e-6
    x, Y = _point(p, rng)
    J = np.array([0, 2, 3])
    bg, bf = p.sample_lower(J, 10, rng), p.sample_upper(J, 4, rng)
    Yj, V = Y[J], rng.standard_normal((3, p.dim_y))
    dx, dy = rng.standard_normal(p.dim_x), rng.standard_normal(Yj.shape)
    tol = lambda a: 1e-6 * (1 + np.max(np.abs(a)))  # noqa: E731
    # grad_x f and grad_y f against the values of f (per block)
    fd = (p.f(J, x + h * dx, Yj, bf) - p.f(J, x - h * dx, Yj, bf)) / (2 * h)
    np.testing.assert_allclose(p.grad_x_f(J, x, Yj, bf) @ dx, fd, atol=tol(fd))
    fd = (p.f(J, x, Yj + h * dy, bf) - p.f(J, x, Yj - h * dy, bf)) / (2 * h)
    np.testing.assert_allclose(np.sum(p.grad_y_f(J, x, Yj, bf) * dy, axis=1), fd, atol=tol(fd))
    # grad_y g against g, hvp / hess against grad_y g, the cross term against grad_y g moved along x
    fd = (p.g(J, x, Yj + h * dy, bg) - p.g(J, x, Yj - h * dy, bg)) / (2 * h)
    np.testing.assert_allclose(np.sum(p.grad_y_g(J, x, Yj, bg) * dy, axis=1), fd, atol=tol(fd))
    fd = (p.grad_y_g(J, x, Yj + h * V, bg) - p.grad_y_g(J, x, Yj - h * V, bg)) / (2 * h)
    np.testing.assert_allclose(p.hvp_yy_g(J, x, Yj, V, bg), fd, atol=tol(fd))
    np.testing.assert_allclose(np.einsum("ijk,ik->ij", p.hess_yy_g(J, x, Yj, bg), V), fd, atol=tol(fd))
    fd = (p.grad_y_g(J, x + h * dx, Yj, bg) - p.grad_y_g(J, x - h * dx, Yj, bg)) / (2 * h)
    np.testing.assert_allclose(p.jvp_xy_g(J, x, Yj, V, bg) @ dx, np.sum(fd * V, axis=1), atol=tol(fd))
    # the full-data form agrees with an explicit batch holding every sample
    full = np.tile(np.arange(p.n_lower), (3, 1))
    np.testing.assert_allclose(p.grad_y_g(J, x, Yj, None), p.grad_y_g(J, x, Yj, full), rtol=1e-12, atol=1e-14)


def test_lower_level_is_strongly_convex_with_the_exact_solution(small):
    p, rng = small, np.random.default_rng(4)
    x, _ = _point(p, rng)
    Y = p.exact_lower(x)
    blocks = np.arange(p.m)
    assert np.max(np.abs(p.grad_y_g(blocks, x, Y, None))) < 1e-10
    H = p.hess_yy_g(blocks, x, Y, None)
    assert np.min(np.linalg.eigvalsh(H)) >= p.mu_g - 1e-15
    assert np.max(np.linalg.eigvalsh(H)) <= p.L_g + 1e-12
    # u_j* is the squared-hinge rank surrogate: at least the true rank / N
    S = p.scores(x)
    for q in range(p.m):
        s_pos = S[q, p.items[q]]
        true_rank = np.sum(S[q][None, :] >= s_pos[:, None], axis=1)
        assert np.all(p.N * Y[q, :-1] >= true_rank - 1e-9)
    # f is non-negative everywhere (the stopping column is a loss)
    assert np.all(p.f(blocks, x, Y, None) >= 0)


def test_report_is_ndcg_on_held_out(small):
    p, rng = small, np.random.default_rng(5)
    x, _ = _point(p, rng)
    S = p.scores(x)
    val = p.report(x)["test_ndcg@3"]
    per = []
    for q in range(p.m):
        keep = np.setdiff1d(np.arange(p.N), p.items[q])
        per.append(ndcg_score([2.0 ** p.test[q, keep] - 1], [S[q, keep]], k=3))
    assert val == pytest.approx(np.mean(per), rel=1e-12)


def test_bad_input():
    items = np.array([[0, 1], [2, 3]])
    r = np.ones((2, 2))
    with pytest.raises(ValueError, match="train_items"):
        TopKNDCG(np.array([[0, 0], [1, 2]]), r, 5)
    with pytest.raises(ValueError, match="train_items"):
        TopKNDCG(items, r, 3)
    with pytest.raises(ValueError, match="train_ratings"):
        TopKNDCG(items, -r, 5, k=2)
    with pytest.raises(ValueError, match="test_relevance"):
        TopKNDCG(items, r, 5, k=2, test_relevance=np.ones((2, 5)))
    with pytest.raises(ValueError, match="test_relevance"):
        TopKNDCG(items, r, 5, k=2, test_relevance=np.zeros((2, 4)))
    with pytest.raises(ValueError, match="tau1"):
        TopKNDCG(items, r, 5, k=2, tau1=0.0)
    with pytest.raises(ValueError, match="k"):
        TopKNDCG(items, r, 5, k=6)
    p = TopKNDCG(items, r, 5, k=2)
    with pytest.raises(ValueError, match="Y must have shape"):
        p.grad_y_g([0], p.initial_point(), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="blocks"):
        p.f([2], p.initial_point(), np.zeros((1, 3)))


def test_movielens_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        TopKNDCG.movielens(path=tmp_path / "nope.parquet")


# ---------------------------------------------------------------------------------------- MovieLens
@needs_data
def test_movielens_instance_is_reproducible_and_bad_sizes_fail():
    a = TopKNDCG.movielens(n_users=10, n_items=80, n_pos=32, seed=1)
    b = TopKNDCG.movielens(n_users=10, n_items=80, n_pos=32, seed=1)
    assert np.array_equal(a.items, b.items) and np.array_equal(a.test, b.test) and np.array_equal(a.x0, b.x0)
    assert a.dim_y == 33 and a.n_lower == 80 and np.all(a.test.sum(axis=1) > 0)
    with pytest.raises(ValueError, match="n_users"):
        TopKNDCG.movielens(n_users=5000)
    with pytest.raises(ValueError, match="n_items"):
        TopKNDCG.movielens(n_items=1)


@needs_data
def test_bsvrb_v2_defaults_improve_held_out_ndcg():
    from optim import solve

    p = TopKNDCG.movielens(n_users=20, n_items=80, seed=0)
    before = p.report(p.initial_point())["test_ndcg@10"]
    res = solve(p, "bsvrb-v2", max_iter=200, seed=0)
    assert res.status == "max_iter" and np.all(np.isfinite(res.x))
    after = p.report(res.x)["test_ndcg@10"]
    assert after > before + 0.02, (before, after)
