"""Completion solvers against independent references: exact recovery of incoherent low-rank matrices,
numpy's lstsq, fancyimpute's SoftImpute (fixture made by tests/fixtures/make_softimpute_fixture.py),
cvxpy, and MovieLens baselines."""

import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import optim
from optim.completion import UnderdeterminedWarning, preconditioned_cond, sketch_lstsq, soft_impute
from problems.completion import from_ratings, movielens100k, synthetic_incoherent
from problems.movielens import movielens100k_path

FIXTURE = Path(__file__).parent / "fixtures" / "softimpute_fancyimpute.npz"


def _have_movielens():
    try:
        movielens100k_path()
        return True
    except FileNotFoundError:
        return False


needs_movielens = pytest.mark.skipif(
    not _have_movielens(), reason="MovieLens-100k not fetched (run: python3 benchmarks/fetch_data.py)"
)


def _rel_errors(result):
    return np.asarray(result.report["rel_error"]), np.asarray(result.history["rel_error"])


@pytest.mark.parametrize("size", [(500, 500, 5, 2.0, 0), (200, 200, 3, 3.0, 1)])
@pytest.mark.parametrize("method, options", [("altmin", {}), ("altmin-robust", {"inner_iters": 1})])
def test_alternating_minimization_recovers_the_matrix(size, method, options):
    m, n, k, c, seed = size
    p = synthetic_incoherent(m, n, k, c=c, seed=seed)
    r = optim.solve(p, method=method, max_iter=40, verbose=False, seed=0, **options)
    final, hist = _rel_errors(r)
    assert final <= 1e-8, (r.nit, final)
    assert r.status == "converged" and r.nit <= 40
    # geometric decrease: non-increasing after iteration 3 (10% slack)
    assert np.all(hist[4:] <= 1.1 * hist[3:-1])
    assert np.isfinite(r.U).all() and r.U.shape == (m, k) and r.V.shape == (n, k)


@pytest.mark.parametrize("method, options", [("altmin", {}), ("altmin-robust", {"inner_iters": 1})])
def test_near_the_phase_transition_only_1e6(method, options):
    p = synthetic_incoherent(500, 500, 5, c=0.75, seed=0)
    r = optim.solve(p, method=method, max_iter=60, verbose=False, seed=0, **options)
    assert r.report["rel_error"] < 1e-6


def _ill_conditioned(seed=0, L=2000, k=20):
    rng = np.random.default_rng(seed)
    U = np.linalg.qr(rng.standard_normal((L, k)))[0]
    W = np.linalg.qr(rng.standard_normal((k, k)))[0]
    A = U @ np.diag(np.logspace(0, 3, k)) @ W.T
    b = A @ rng.standard_normal(k) + 0.1 * rng.standard_normal(L)
    return A, b


@pytest.mark.parametrize("sketch", ["srht", "countsketch", "gaussian"])
def test_sketch_lstsq_matches_numpy(sketch):
    A, b = _ill_conditioned()
    best = np.linalg.lstsq(A, b, rcond=None)[0]
    r_star = np.linalg.norm(A @ best - b) ** 2
    x = sketch_lstsq(A, b, sketch=sketch, tol=1e-12, seed=1)
    assert np.linalg.norm(A @ x - b) ** 2 / r_star - 1 <= 1e-10
    again = sketch_lstsq(A, b, sketch=sketch, tol=1e-12, seed=1)
    assert np.array_equal(x, again)  # same seed, bit-identical


def test_sketch_lstsq_short_and_rank_deficient_systems():
    A, b = _ill_conditioned(L=60, k=20)  # L <= 4k: exact path
    x, info = sketch_lstsq(A, b, seed=0, return_info=True)
    assert info["exact"] == 1 and np.allclose(x, np.linalg.lstsq(A, b, rcond=None)[0], rtol=1e-10, atol=1e-12)
    A, b = _ill_conditioned()
    A[:, 3] = A[:, 0]
    x, info = sketch_lstsq(A, b, seed=0, return_info=True)
    assert info["fallback"] == 1 and np.isfinite(x).all()
    ref = np.linalg.lstsq(A, b, rcond=None)[0]
    assert np.isclose(np.linalg.norm(A @ x - b), np.linalg.norm(A @ ref - b), rtol=1e-10)
    with pytest.raises(ValueError, match="sketch must be one of"):
        sketch_lstsq(A, b, sketch="fft")
    with pytest.raises(ValueError, match="b must have length"):
        sketch_lstsq(A, b[:-1])


@settings(max_examples=15, deadline=None)
@given(
    st.integers(1, 8),
    st.integers(1, 60),
    st.sampled_from(["srht", "countsketch", "gaussian"]),
    st.integers(0, 2**16),
)
def test_sketch_lstsq_any_shape(k, extra, sketch, seed):
    rng = np.random.default_rng(seed)
    L = k + extra * 5
    A = rng.standard_normal((L, k)) * np.logspace(0, 2, k)
    b = rng.standard_normal(L)
    x = sketch_lstsq(A, b, sketch=sketch, tol=1e-10, seed=seed)
    best = np.linalg.lstsq(A, b, rcond=None)[0]
    r_star = np.linalg.norm(A @ best - b) ** 2
    assert np.linalg.norm(A @ x - b) ** 2 <= r_star * (1 + 1e-8) + 1e-20


def test_srht_preconditioner_quality():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((2000, 20)) * np.logspace(0, 3, 20)
    conds = [preconditioned_cond(A, sketch="srht", s=80, seed=s) for s in range(10)]
    assert max(conds) < 5
    assert np.linalg.cond(A) > 100  # the preconditioner does real work


@pytest.mark.skipif(not FIXTURE.exists(), reason="fixture missing")
def test_softimpute_equals_fancyimpute():
    d = np.load(FIXTURE)
    for case in "abc":
        opts = {key[len(case) + 5 :]: d[key].item() for key in d.files if key.startswith(case + "_opt_")}
        filled, _ = soft_impute(d[case + "_X"], **opts)
        ref = d[case + "_filled"]
        assert np.linalg.norm(filled - ref) / np.linalg.norm(ref) < 1e-10


def test_nuclear_norm_tiny_case_and_size_limit():
    p = synthetic_incoherent(30, 30, 2, n_obs=540, seed=0)
    r = optim.solve(p, method="nuclear-norm", verbose=False)
    assert r.status == "converged" and r.report["rel_error"] < 1e-4
    assert r.message == "converged: cvxpy/SCS reported the conic problem solved to optimality at eps 1e-07"
    big = synthetic_incoherent(200, 200, 2, c=1, seed=0)
    with pytest.raises(ValueError, match="max_size"):
        optim.solve(big, method="nuclear-norm", verbose=False)


def test_every_method_runs_with_defaults():
    p = synthetic_incoherent(80, 60, 2, c=3, seed=2)
    for method in ["altmin", "altmin-robust", "als", "bias-baseline", "softimpute", "svp", "nuclear-norm"]:
        assert method in optim.solvers(p)
        r = optim.solve(p, method=method, seed=0, verbose=False)
        assert np.isfinite(r.x).all(), method
        assert np.isfinite(r.predict(p.test_rows, p.test_cols)).all()
        assert {"train_rmse", "test_rmse", "rel_error"} <= set(r.report)
    r = optim.solve(p, method="altmin", seed=0, verbose=False)
    assert r.message.startswith("converged: relative training RMSE")


def test_empty_rows_give_finite_factors_and_the_fallback():
    user = np.array([0, 0, 1, 1, 2, 2, 2])
    item = np.array([0, 1, 0, 2, 1, 2, 0])
    p = from_ratings(user, item, [5.0, 3, 4, 2, 1, 4, 3], test=([3, 0], [0, 3], [4.0, 2.0]), rank=2)
    for method, opts in [("als", {"lam": 0.1}), ("als", {"lam": 0.0}), ("altmin", {}), ("altmin-robust", {})]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnderdeterminedWarning)
            r = optim.solve(p, method=method, seed=0, verbose=False, max_iter=5, **opts)
        assert np.isfinite(r.U).all() and np.isfinite(r.V).all(), method
        pred = r.model.raw(p.test_rows, p.test_cols)
        assert np.allclose(pred, np.mean(p.vals)), (method, pred)  # cold-start fallback: the training mean
    with pytest.warns(UnderdeterminedWarning, match="rows"):
        r = optim.solve(p, method="als", lam=0.0, seed=0, verbose=False, max_iter=3)
    assert r.n_underdetermined > 0


@needs_movielens
def test_movielens_als_beats_baselines_and_altmin_warns():
    p = movielens100k("u1")
    mean = np.sqrt(np.mean((np.mean(p.vals) - p.test_vals) ** 2))
    bias = optim.solve(p, method="bias-baseline", verbose=False).report["test_rmse"]
    als = optim.solve(p, method="als", rank=5, lam=0.1, max_iter=15, tol=0.0, seed=0, verbose=False)
    assert als.report["test_rmse"] < bias < mean
    assert 0.9 < als.report["test_rmse"] < 0.96  # GroupLens u1 figures for this model lie at 0.95
    pred = als.predict(p.test_rows, p.test_cols)
    assert pred.min() >= 1 and pred.max() <= 5
    with pytest.warns(UnderdeterminedWarning, match=r"columns \(") as rec:
        am = optim.solve(p, method="altmin", rank=10, max_iter=3, verbose=False, seed=0)
    assert "k = 10" in str(rec[0].message)
    assert am.n_underdetermined > 0 and np.isfinite(am.U).all()


def test_bias_baseline_equals_surprise_baseline_only(tmp_path):
    surprise = pytest.importorskip("surprise")
    from surprise.model_selection import PredefinedKFold

    rng = np.random.default_rng(0)
    pairs = rng.choice(60 * 40, size=900, replace=False)
    user, item = np.divmod(pairs, 40)
    rating = rng.integers(1, 6, size=900).astype(float)
    train, test = np.arange(700), np.arange(700, 900)
    p = from_ratings(user[train], item[train], rating[train], test=(user[test], item[test], rating[test]), rank=2)
    files = []
    for name, idx in (("base", train), ("test", test)):
        path = tmp_path / name
        path.write_text("".join(f"{user[j]}\t{item[j]}\t{int(rating[j])}\t0\n" for j in idx))
        files.append(str(path))
    data = surprise.Dataset.load_from_folds([tuple(files)], surprise.Reader("ml-100k"))
    trainset, testset = next(PredefinedKFold().split(data))
    algo = surprise.BaselineOnly(verbose=False)
    algo.fit(trainset)
    theirs = {(int(u), int(i)): pr.est for (u, i, _), pr in zip(testset, algo.test(testset), strict=True)}
    r = optim.solve(p, method="bias-baseline", verbose=False)
    ours = r.predict(p.test_rows, p.test_cols)
    want = np.array(
        [theirs[(int(p.row_ids[a]), int(p.col_ids[b]))] for a, b in zip(p.test_rows, p.test_cols, strict=True)]
    )
    assert np.allclose(ours, want, rtol=0, atol=1e-10)


def test_sample_splitting_as_analysed():
    p = synthetic_incoherent(200, 200, 3, c=3, seed=1)
    with pytest.warns(UnderdeterminedWarning, match="sample splitting into 2T \\+ 1 = 81 parts"):
        optim.solve(p, method="altmin", split=True, max_iter=40, verbose=False, seed=0)
    dense = synthetic_incoherent(400, 400, 2, n_obs=96_000, seed=0)
    r = optim.solve(dense, method="altmin", split=True, max_iter=4, tol=0.0, verbose=False, seed=0)
    err = r.history["rel_error"]
    assert np.all(np.diff(err) < 0) and err[-1] < 1e-2


@pytest.mark.parametrize("method", ["softimpute", "svp", "bias-baseline", "nuclear-norm"])
def test_a_start_point_is_refused_by_methods_that_take_none(method):
    # these methods build their own start; an x0 (here even of a wrong size) was silently ignored
    p = synthetic_incoherent(30, 25, 2, seed=0)
    with pytest.raises(ValueError, match="x0"):
        optim.solve(p, method=method, x0=np.ones(3), max_iter=1)


@pytest.mark.parametrize("method", ["altmin", "als"])
def test_a_start_point_of_the_wrong_size_is_named_x0(method):
    p = synthetic_incoherent(30, 25, 2, seed=0)
    with pytest.raises(ValueError, match=r"x0 must hold \(m \+ n\) k = 110"):
        optim.solve(p, method=method, x0=np.ones(3), max_iter=1)
