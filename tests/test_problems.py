"""Problem oracles: gradients against finite differences, Lipschitz bounds, validation."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import approx_fprime

import optim
import problems

KINDS = ["least_squares", "logistic", "multinomial"]


def _build(kind, n, p, seed, sparse, l2, scale):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, p))
    if sparse:
        A[rng.random((n, p)) < 0.5] = 0.0
        A = sp.csr_matrix(A)
    if kind == "least_squares":
        return problems.LeastSquares(A, rng.standard_normal(n), l2=l2, scale=scale)
    if kind == "logistic":
        return problems.Logistic(A, rng.choice([-1.0, 1.0], n), l2=l2, scale=scale)
    y = np.arange(n) % 3  # every class present
    return problems.MultinomialLogistic(A, rng.permutation(y), l2=l2, scale=scale)


@settings(max_examples=40, deadline=None)
@given(
    kind=st.sampled_from(KINDS),
    n=st.integers(3, 12),
    p=st.integers(1, 6),
    seed=st.integers(0, 10_000),
    sparse=st.booleans(),
    l2=st.sampled_from([0.0, 0.3]),
    scale=st.sampled_from(["mean", "sum"]),
)
def test_gradient_matches_finite_differences(kind, n, p, seed, sparse, l2, scale):
    problem = _build(kind, n, p, seed, sparse, l2, scale)
    x = np.random.default_rng(seed + 1).standard_normal(problem.dim)
    fd = approx_fprime(x, problem.value, 1e-6)
    np.testing.assert_allclose(problem.grad(x), fd, rtol=1e-4, atol=1e-5)
    f, g = problem.value_and_grad(x)
    assert f == pytest.approx(problem.value(x), rel=1e-12)
    np.testing.assert_allclose(g, problem.grad(x), rtol=1e-12, atol=1e-14)


@settings(max_examples=25, deadline=None)
@given(kind=st.sampled_from(KINDS), seed=st.integers(0, 10_000))
def test_lipschitz_bounds_the_gradient(kind, seed):
    problem = _build(kind, 10, 4, seed, False, 0.1, "mean")
    rng = np.random.default_rng(seed)
    for _ in range(20):
        u, v = rng.standard_normal((2, problem.dim)) * 3
        lhs = np.linalg.norm(problem.grad(u) - problem.grad(v))
        assert lhs <= problem.lipschitz * np.linalg.norm(u - v) * (1 + 1e-9)


def test_prox_is_soft_thresholding_and_optimality_vanishes_at_reference(lasso_diabetes):
    z = np.array([-2.0, -0.5, 0.0, 0.3, 4.0])
    np.testing.assert_array_equal(problems.soft_threshold(z, 1.0), [-1.0, 0.0, 0.0, 0.0, 3.0])
    x_star, _ = lasso_diabetes.reference_solution()
    # cvxpy's optimum satisfies the natural residual up to its own accuracy
    assert lasso_diabetes.optimality(x_star) < 1e-4 * np.abs(lasso_diabetes.grad(np.zeros(10))).max()


def test_counts_count_and_reset():
    p = _build("least_squares", 5, 3, 0, False, 0.0, "mean")
    x = np.zeros(3)
    p.grad(x), p.grad(x), p.value(x)
    assert p.counts["grad"] == 2 and p.counts["value"] == 1 and p.work == 2
    with p.counts.paused():
        p.grad(x)
    assert p.counts["grad"] == 2
    p.counts.reset()
    assert p.work == 0


def test_caller_arrays_are_not_mutated_or_aliased():
    rng = np.random.default_rng(0)
    A, b = rng.standard_normal((6, 3)), rng.standard_normal(6)
    A0, b0 = A.copy(), b.copy()
    p = problems.LeastSquares(A, b, l1=0.1)
    x0 = np.ones(3)
    optim.solve(p, method="fista", x0=x0, max_iter=50)
    A[0, 0] = 99.0
    assert p.A[0, 0] == A0[0, 0]
    np.testing.assert_array_equal(x0, np.ones(3))
    np.testing.assert_array_equal(b, b0)


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: problems.LeastSquares(np.ones((4, 2)), np.ones(3)), "b has 3 entries"),
        (lambda: problems.LeastSquares(np.ones((4, 2)), np.ones(4), l1=-1.0), "l1 must be >= 0"),
        (lambda: problems.LeastSquares(np.ones((4, 2)), np.ones(4), l2=float("nan")), "l2 must be finite"),
        (lambda: problems.LeastSquares([[1.0, np.nan]], [1.0]), "A contains NaN"),
        (lambda: problems.LeastSquares(np.ones(4), np.ones(4)), "A must be a 2-D array"),
        (lambda: problems.Logistic(np.ones((3, 2)), [0, 1, 2]), "labels in"),
        (lambda: problems.MultinomialLogistic(np.ones((3, 2)), [1, 1, 1]), "at least 2 classes"),
        (lambda: problems.LeastSquares(np.ones((2, 2)), np.ones(2), scale="total"), "scale must be one of"),
    ],
)
def test_bad_problem_input_raises_value_error(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_bad_types_raise_type_error():
    with pytest.raises(TypeError, match="A must hold real numbers"):
        problems.LeastSquares([["a", "b"]], [1.0])
    with pytest.raises(TypeError, match="l1 must be a real number"):
        problems.LeastSquares(np.ones((2, 2)), np.ones(2), l1="big")
