"""Dask: the completion solvers on a two-worker LocalCluster (processes) equal the in-process runs."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import optim
from optim.completion.common import svd_init
from problems.completion import from_ratings, synthetic_incoherent

distributed = pytest.importorskip("dask.distributed")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def problem():
    return synthetic_incoherent(300, 200, 3, c=3, seed=1)


def _same_predictions(p, a, b):
    for rows, cols in ((p.rows, p.cols), (p.test_rows, p.test_cols)):
        pa, pb = a.predict(rows, cols), b.predict(rows, cols)
        assert np.max(np.abs(pa - pb)) <= 1e-10 * np.max(np.abs(pa))
    assert np.isclose(a.report["train_rmse"], b.report["train_rmse"], rtol=1e-6, atol=1e-12)
    assert np.isclose(a.report["test_rmse"], b.report["test_rmse"], rtol=1e-6, atol=1e-12)


def test_altmin_on_dask_equals_local(client, problem):
    U, s, V = svd_init(problem, 3, np.random.default_rng(0))
    x0 = problem.stack(U * s, V)
    opts = dict(x0=x0, max_iter=3, tol=0.0, verbose=False)
    local = optim.solve(problem, method="altmin", **opts)
    remote = optim.solve(problem, method="altmin", client=client, **opts)
    _same_predictions(problem, local, remote)


def test_als_with_biases_on_dask_equals_local(client, problem):
    opts = dict(seed=3, max_iter=3, tol=0.0, verbose=False, biases=True)
    _same_predictions(
        problem, optim.solve(problem, method="als", **opts), optim.solve(problem, method="als", client=client, **opts)
    )


def test_dask_svd_start_and_robust_steps_converge(client, problem):
    r = optim.solve(problem, method="altmin-robust", inner_iters=1, client=client, seed=0, max_iter=6, verbose=False)
    err = r.history["rel_error"]
    assert err[-1] < 1e-2 and np.all(np.diff(err[1:]) < 0)  # geometric decrease from the randomized SVD start


def test_client_must_be_a_client(problem):
    with pytest.raises(TypeError, match="client must be a dask.distributed.Client"):
        optim.solve(problem, method="altmin", client="tcp://localhost:8786")
    with pytest.raises(ValueError, match="does not run on Dask"):
        optim.solve(problem, method="svp", client=client_stub())


def client_stub():
    class Stub:
        def submit(self, *a, **k):  # pragma: no cover - never called
            raise AssertionError

    return Stub()


# ---------------------------------------------------------------- ratings as a Dask DataFrame (parquet files)
COLS = dict(user="userId", item="movieId", rating="score")


@pytest.fixture(scope="module")
def ratings_files(tmp_path_factory):
    """A rank-3 ratings table in four parquet files (shuffled rows, string user ids) and a test file."""
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    rng = np.random.default_rng(7)
    m, n, k = 60, 40, 3
    uid = np.array([f"user-{v:03d}" for v in rng.permutation(m)])  # ids unrelated to the sorted order
    iid = 1000 + 7 * rng.permutation(n)
    A, B = rng.standard_normal((m, k)), rng.standard_normal((n, k))
    cells = rng.choice(m * n, size=1150, replace=False)
    r, c = np.divmod(cells, n)
    score = np.round(3 + np.einsum("ij,ij->i", A[r], B[c]) + 0.1 * rng.standard_normal(r.size), 1)
    train = pd.DataFrame({"userId": uid[r[:1000]], "movieId": iid[c[:1000]], "score": score[:1000]})
    test = pd.DataFrame({"userId": uid[r[1000:]], "movieId": iid[c[1000:]], "score": score[1000:]})
    cold = pd.DataFrame({"userId": ["user-new", "user-new"], "movieId": [iid[0], 5], "score": [4.0, 2.0]})
    test = pd.concat([test, cold], ignore_index=True)  # a cold-start user and a cold-start item
    root = tmp_path_factory.mktemp("ratings")
    (root / "train").mkdir()
    for j, piece in enumerate(np.array_split(np.arange(len(train)), 4)):
        train.iloc[piece].to_parquet(root / "train" / f"part.{j}.parquet", index=False)
    test.to_parquet(root / "test.parquet", index=False)
    return root, train, test


def _from_pandas(train, test, **kw):
    triple = [df[c].to_numpy() for df in (train, test) for c in ("userId", "movieId", "score")]
    return from_ratings(*triple[:3], test=tuple(triple[3:]), **kw)


def test_from_parquet_equals_from_ratings(client, ratings_files):
    from problems.completion import from_dask, from_parquet

    dd = pytest.importorskip("dask.dataframe")
    root, train, test = ratings_files
    df = dd.read_parquet(str(root / "train" / "*.parquet"))
    assert df.npartitions == 4
    expected = _from_pandas(train, test, rank=3)
    got = [
        from_parquet(str(root / "train" / "*.parquet"), test=str(root / "test.parquet"), rank=3, client=client, **COLS),
        from_dask(df, test=(test.userId.to_numpy(), test.movieId.to_numpy(), test.score.to_numpy()), rank=3, **COLS),
    ]
    for p in got:
        assert p.shape == expected.shape == (61, 41)
        for attr in ("row_ids", "col_ids", "rows", "cols", "vals", "test_rows", "test_cols", "test_vals"):
            np.testing.assert_array_equal(getattr(p, attr), getattr(expected, attr), err_msg=attr)
        assert p.rating_range == expected.rating_range and p.meta == expected.meta
        assert p.meta["cold_test_entries"] == 2


def test_altmin_on_dask_dataframe_problem_equals_local(client, ratings_files):
    from problems.completion import from_parquet

    root, train, test = ratings_files
    remote_problem = from_parquet(str(root / "train"), test=str(root / "test.parquet"), rank=3, client=client, **COLS)
    local_problem = _from_pandas(train, test, rank=3)
    U, s, V = svd_init(local_problem, 3, np.random.default_rng(0))
    opts = dict(x0=local_problem.stack(U * s, V), max_iter=3, tol=0.0, verbose=False)
    with pytest.warns(UserWarning, match="user-new"):  # the cold-start user has no training entries
        local = optim.solve(local_problem, method="altmin", **opts)
    with pytest.warns(UserWarning, match="user-new"):
        remote = optim.solve(remote_problem, method="altmin", client=client, **opts)
    _same_predictions(local_problem, local, remote)


def test_from_dask_bad_input(ratings_files):
    from problems.completion import from_dask

    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    _, train, test = ratings_files
    df = dd.from_pandas(train, npartitions=2)
    with pytest.raises(ValueError, match=r"df has no column\(s\) \['stars'\]"):
        from_dask(df, user="userId", item="movieId", rating="stars")
    with pytest.raises(ValueError, match=r"test has no column\(s\) \['movieId'\]"):
        from_dask(df, test=dd.from_pandas(test.drop(columns="movieId"), npartitions=1), **COLS)
    with pytest.raises(TypeError, match="must be a dask.dataframe.DataFrame"):
        from_dask(train, **COLS)
    with pytest.raises(TypeError, match="test must be a Dask DataFrame"):
        from_dask(df, test=test, **COLS)
    dup = pd.concat([train, train.iloc[[5]]], ignore_index=True)
    with pytest.raises(ValueError, match="duplicate observed entry") as got:
        from_dask(dd.from_pandas(dup, npartitions=3), **COLS)
    with pytest.raises(ValueError, match="duplicate observed entry") as want:
        from_ratings(dup.userId.to_numpy(), dup.movieId.to_numpy(), dup.score.to_numpy())
    assert str(got.value) == str(want.value)
    holes = train.assign(score=train.score.where(train.index != 3))
    with pytest.raises(ValueError, match=r"missing values .* \{'score': 1\}"):
        from_dask(dd.from_pandas(holes, npartitions=2), **COLS)
    with pytest.raises(TypeError, match="'userId' must be numeric"):
        from_dask(df, user="movieId", item="score", rating="userId")


@settings(max_examples=8, deadline=None)
@given(
    st.integers(min_value=1, max_value=6),
    st.integers(min_value=0, max_value=2**31 - 1),
    st.booleans(),
)
def test_from_dask_equals_from_ratings_property(npartitions, seed, float_ids):
    """Random tables, random partitioning, integer or float ids: the same problem as from_ratings."""
    from problems.completion import from_dask

    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    rng = np.random.default_rng(seed)
    m, n = int(rng.integers(2, 12)), int(rng.integers(2, 12))
    cells = rng.choice(m * n, size=int(rng.integers(2, m * n + 1)), replace=False)
    r, c = np.divmod(cells, n)
    uid = rng.permutation(50)[:m] - 20 + (0.5 if float_ids else 0)
    train = pd.DataFrame({"user": uid[r], "item": rng.permutation(30)[:n][c], "rating": rng.normal(size=r.size)})
    cut = max(1, len(train) * 3 // 4)
    fit, held = train.iloc[:cut], train.iloc[cut:]
    p = from_dask(
        dd.from_pandas(fit, npartitions=npartitions, sort=False),
        test=dd.from_pandas(held, npartitions=2, sort=False),
        rank=1,
    )
    cols = ("user", "item", "rating")
    q = from_ratings(*(fit[k].to_numpy() for k in cols), test=tuple(held[k].to_numpy() for k in cols), rank=1)
    assert p.shape == q.shape and p.rating_range == q.rating_range and p.meta == q.meta
    for attr in ("row_ids", "col_ids", "rows", "cols", "vals", "test_rows", "test_cols", "test_vals"):
        np.testing.assert_array_equal(getattr(p, attr), getattr(q, attr), err_msg=attr)
