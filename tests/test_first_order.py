"""Acceptance of the first-order baselines against independent references (cvxpy, scikit-learn)."""

import numpy as np
import pytest
from sklearn.linear_model import Lasso, LogisticRegression

import optim
import problems

CASES = ["lasso_diabetes", "logreg_breast_cancer"]
_RUNS = {}


def _run(problem, method):
    """Each (problem, method) run once per session: the slow GD run serves two tests."""
    key = (problem.name, method)
    if key not in _RUNS:
        _RUNS[key] = optim.solve(problem, method=method, tol=1e-9, max_iter=200_000)
    return _RUNS[key]


def _relative_gap(problem, x):
    _, f_star = problem.reference_solution()
    return (problem.objective(x) - f_star) / max(1.0, abs(f_star))


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("method", ["gd", "fista"])
def test_reaches_reference_optimum_and_kkt(case, method, request):
    problem = request.getfixturevalue(case)
    result = _run(problem, method)
    assert result.status == "converged"
    assert abs(_relative_gap(problem, result.x)) <= 1e-8
    assert problem.kkt_violation(result.x) <= 1e-7


@pytest.mark.parametrize("case", CASES)
def test_fista_needs_fewer_gradients_than_gd(case, request):
    problem = request.getfixturevalue(case)
    gd, fista = _run(problem, "gd"), _run(problem, "fista")
    assert fista.counts["grad"] < gd.counts["grad"]
    assert gd.counts["grad"] == gd.nit  # one gradient per proximal-gradient step, as counted


def test_armijo_gd_converges(logreg_breast_cancer):
    result = optim.solve(logreg_breast_cancer, method="gd", step="armijo", tol=1e-9, max_iter=50_000)
    assert result.status == "converged"
    assert abs(_relative_gap(logreg_breast_cancer, result.x)) <= 1e-8
    # the objective never increases under the sufficient-decrease rule
    assert np.all(np.diff(result.history["fun"]) <= 1e-12)


def test_lasso_matches_scikit_learn(lasso_diabetes):
    p = lasso_diabetes
    result = optim.solve(p, method="fista", tol=1e-11, max_iter=100_000)
    peer = Lasso(alpha=p.l1, fit_intercept=False, tol=1e-14, max_iter=1_000_000).fit(p.A, p.b)
    np.testing.assert_allclose(result.x, peer.coef_, rtol=1e-7, atol=1e-7)
    assert p.objective(result.x) <= p.objective(peer.coef_) + 1e-9


def test_multinomial_matches_scikit_learn():
    A, y = problems.load_dataset("digits")
    A, y = A[:400], y[:400]
    l2 = 1e-2
    p = problems.MultinomialLogistic(A, y, l2=l2)
    result = optim.solve(p, method="fista", tol=1e-10, max_iter=50_000)
    assert result.status == "converged"
    # scikit-learn: C * sum(loss) + ||W||^2 / 2  ==  n C [mean loss + (1/(n C)) ||W||^2 / 2]
    peer = LogisticRegression(C=1.0 / (len(y) * l2), fit_intercept=False, tol=1e-12, max_iter=20_000)
    peer.fit(A, y)
    np.testing.assert_allclose(result.x.reshape(64, 10), peer.coef_.T, atol=2e-6)


def test_logistic_l2_matches_scikit_learn():
    A, y = problems.load_dataset("breast_cancer")
    l2 = 1e-2
    p = problems.Logistic(A, y, l2=l2)
    result = optim.solve(p, method="fista", tol=1e-11, max_iter=50_000)
    peer = LogisticRegression(C=1.0 / (len(y) * l2), fit_intercept=False, tol=1e-12, max_iter=20_000)
    peer.fit(A, y)
    np.testing.assert_allclose(result.x, peer.coef_.ravel(), atol=1e-6)


@pytest.mark.parametrize("scale", ["mean", "sum"])
def test_l1_max_zeroes_the_solution(scale):
    A, b = problems.load_dataset("diabetes")
    p = problems.LeastSquares(A, b - b.mean(), scale=scale)
    p.l1 = p.l1_max() * (1 + 1e-9)
    result = optim.solve(p, method="fista", tol=1e-12)
    assert np.all(result.x == 0)
    p.l1 = p.l1_max() * 0.99
    assert np.any(optim.solve(p, method="fista", tol=1e-10, max_iter=50_000).x != 0)


def test_sum_scale_is_n_times_mean_scale():
    A, b = problems.load_dataset("diabetes")
    x = np.linspace(-1, 1, A.shape[1])
    mean = problems.LeastSquares(A, b, l2=0.0)
    total = problems.LeastSquares(A, b, l2=0.0, scale="sum")
    assert total.value(x) == pytest.approx(len(b) * mean.value(x), rel=1e-12)
    assert total.lipschitz == pytest.approx(len(b) * mean.lipschitz, rel=1e-12)
