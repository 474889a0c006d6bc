"""Dask: the completion solvers on a two-worker LocalCluster (processes) equal the in-process runs."""

import numpy as np
import pytest

import optim
from optim.completion.common import svd_init
from problems.completion import synthetic_incoherent

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
