"""The compiled Gram-form path gives the iterates of the numpy path (issue 16): 200 iterations at equal
``check_every``, 1e-10 relative, for every greedy rule it runs, with the whole Gram matrix, with a
column cache that has to evict, and on a sparse graph quadratic."""

import itertools

import numpy as np
import pytest

import problems
from optim.bcd import BCD
from problems.bcd import bcd_paper_problem


def _ls(l1=0.0, nonnegative=False, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((30, 24)) * rng.uniform(0.3, 3.0, 24)
    A[:, 1:] += 0.6 * A[:, :-1]  # correlated neighbours
    y = rng.standard_normal(30)
    if nonnegative:
        return problems.NonnegativeLasso(A, y, l1=l1, scale="sum")
    return problems.LeastSquares(A, y, l1=l1, l2=0.1, scale="sum")


PROBLEMS = {
    "ls": lambda: _ls(),
    "lasso": lambda: _ls(l1=2.0),
    "nn-lasso": lambda: _ls(l1=1.0, nonnegative=True),
    "lattice": lambda: bcd_paper_problem("D", grid=6, n_labelled=5),
}
RULES = {"ls": ("gs", "gsd", "gsl", "gs_s", "gs_r", "gs_q"), "lattice": ("gs", "gsl", "gs_q")}


def _run(problem, engine, **options):
    solver = BCD(engine=engine, max_iter=200, tol=0, check_every=10, verbose=False, seed=0, **options)
    return solver.solve(problem)


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_compiled_iterates_equal_numpy_iterates(name):
    problem = PROBLEMS[name]()
    rules = RULES.get(name, ("gs_s", "gs_r", "gs_q"))
    bad = []
    for rule, (partition, tau), budget in itertools.product(rules, [("vb", 1), ("vb", 3), ("sort", 3)], (256.0, 1e-3)):
        if name == "lattice" and budget < 1:
            continue  # the sparse Q has no column cache
        update = "gradient" if rule in ("gs", "gsd", "gsl") else "prox_gradient"
        opts = dict(selection=rule, update=update, partition=partition, block_size=tau)
        fast = _run(problem, "compiled", gram_budget_mb=budget, **opts)
        ref = _run(problem, "numpy", **opts)
        scale = max(1.0, np.max(np.abs(ref.x)))
        if not np.max(np.abs(fast.x - ref.x)) <= 1e-10 * scale:
            bad.append((rule, partition, tau, budget, np.max(np.abs(fast.x - ref.x))))
        h1, h2 = np.asarray(fast.history["fun"]), np.asarray(ref.history["fun"])
        assert len(h1) == len(h2) and np.allclose(h1, h2, rtol=1e-9, atol=1e-9 * scale)
        assert fast.counts["coordinates"] == ref.counts["coordinates"]
    assert not bad, bad


def test_column_cache_evicts_and_counts_columns():
    problem = _ls(l1=0.5)
    tiny = BCD(engine="compiled", gram_budget_mb=1e-3, max_iter=300, tol=0, verbose=False).solve(problem)
    full = BCD(engine="compiled", max_iter=300, tol=0, verbose=False).solve(problem)
    assert tiny.gram_columns > full.gram_columns  # evicted columns are computed again
    assert np.allclose(tiny.x, full.x, rtol=0, atol=1e-10 * max(1.0, np.max(np.abs(full.x))))


def test_compiled_engine_is_refused_where_it_does_not_apply():
    logit = problems.Logistic(np.eye(3), np.array([1.0, -1.0, 1.0]))
    with pytest.raises(ValueError, match="engine='compiled'"):
        BCD(engine="compiled").solve(logit)


@pytest.mark.parametrize("l1", [0.0, 0.5])
def test_sparse_logistic_kernel_equals_numpy_iterates(l1):
    """Single-coordinate greedy rules on sparse logistic regression, gradient kept current through the
    linear predictor: same iterates as the numpy path (which recomputes A^T s(Ax) every iteration)."""
    B = bcd_paper_problem("B", n_rows=60, n_cols=40, seed=2)
    problem = problems.Logistic(B.A, B.y, l1=l1, l2=0.1, scale="sum")
    for rule in ("gs", "gsd", "gs_s", "gs_q") if l1 == 0 else ("gs_s", "gs_r", "gs_q"):
        update = "gradient" if rule in ("gs", "gsd") else "prox_gradient"
        fast = _run(problem, "compiled", selection=rule, update=update, block_size=1)
        ref = _run(problem, "numpy", selection=rule, update=update, block_size=1)
        assert np.max(np.abs(fast.x - ref.x)) <= 1e-10 * max(1.0, np.max(np.abs(ref.x))), rule
        assert np.allclose(fast.history["fun"], ref.history["fun"], rtol=1e-9)


def test_full_gram_by_symmetric_product_equals_dense_algebra():
    """The whole H = w A^T A + l2 I built once (smooth least squares that fits the budget) by BLAS dsyrk
    (dense A) or a sparse product: equal to numpy's product; a Lasso keeps the on-demand columns."""
    import scipy.sparse as sp

    from optim.bcd.gram import full_gram, gram_form
    from problems.bcd import block_problem

    rng = np.random.default_rng(4)
    A = rng.standard_normal((15, 9))
    for data in (A, sp.csr_matrix(A * (rng.random(A.shape) < 0.4))):
        bp = block_problem(problems.LeastSquares(data, rng.standard_normal(15), l2=0.2, scale="mean"))
        dense = data.toarray() if sp.issparse(data) else data
        np.testing.assert_allclose(full_gram(bp), dense.T @ dense / 15 + 0.2 * np.eye(9), rtol=1e-12, atol=1e-12)
        assert gram_form(bp, 256.0) == "full" and gram_form(bp, 1e-4) == "columns"
    assert gram_form(block_problem(_ls(l1=1.0)), 256.0) == "columns"


def test_dense_copy_of_a_dense_sparse_matrix_gives_the_same_iterates():
    """A sparse A at least DENSE_COLUMNS_DENSITY dense gets its Gram columns from a dense copy by matrix
    products; a sparser one by the compiled sparse pass: both follow the numpy path's iterates."""
    import scipy.sparse as sp

    rng = np.random.default_rng(5)
    A = rng.standard_normal((30, 24))
    for keep, dense_copy in ((0.6, True), (0.1, False)):
        M = sp.csr_matrix(A * (rng.random(A.shape) < keep))
        problem = problems.LeastSquares(M, rng.standard_normal(30), l1=0.5, scale="sum")
        cfg = BCD(engine="compiled", selection="gs_s", update="prox_gradient").configured(problem)
        assert (cfg.init(problem).engine.dense_A is not None) == dense_copy
        for tau in (1, 3):
            opts = dict(selection="gs_s", update="prox_gradient", block_size=tau)
            fast, ref = _run(problem, "compiled", **opts), _run(problem, "numpy", **opts)
            assert np.max(np.abs(fast.x - ref.x)) <= 1e-10 * max(1.0, np.max(np.abs(ref.x)))


def test_exact_gradient_before_a_verdict_equals_the_model_gradient():
    """The resync before a convergence verdict (one pass over A on the support) is the model's gradient."""
    import scipy.sparse as sp

    rng = np.random.default_rng(6)
    A = rng.standard_normal((20, 12))
    y = rng.standard_normal(20)
    for problem in (
        problems.LeastSquares(A, y, l1=0.3, l2=0.2, scale="mean"),
        problems.LeastSquares(sp.csr_matrix(A * (rng.random(A.shape) < 0.3)), y, l1=0.3, scale="sum"),
        problems.NonnegativeLasso(A, y, l1=0.5, scale="sum"),
    ):
        st = BCD(engine="compiled", selection="gs_q", update="prox_gradient").configured(problem).init(problem)
        x = np.where(rng.random(12) < 0.5, np.abs(rng.standard_normal(12)), 0.0)
        st.engine.resync(x)
        np.testing.assert_allclose(st.engine.g, problem.grad(x), rtol=1e-12, atol=1e-12)
