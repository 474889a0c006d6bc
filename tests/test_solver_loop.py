"""The shared solver loop: stopping rules, divergence guard, capabilities, reproducibility."""

import numpy as np
import pytest
from scipy.optimize import OptimizeResult

import optim
import problems


@pytest.fixture
def least_squares():
    rng = np.random.default_rng(3)
    return problems.LeastSquares(rng.standard_normal((30, 8)), rng.standard_normal(30))


def test_result_is_an_optimize_result(least_squares):
    result = optim.solve(least_squares, method="fista", tol=1e-10)
    assert isinstance(result, OptimizeResult) and result.success and result.status == "converged"
    x_ls = np.linalg.lstsq(least_squares.A, least_squares.b, rcond=None)[0]  # closed form
    np.testing.assert_allclose(result.x, x_ls, atol=1e-8)
    h = result.history
    assert set(optim.result.BASE_COLUMNS) <= set(h)
    assert len({len(v) for v in h.values()}) == 1 and h["nit"][-1] == result.nit
    assert h["optimality"][-1] == result.optimality <= 1e-10


def test_divergent_step_ends_diverged_with_finite_iterate(least_squares):
    result = optim.solve(least_squares, method="gd", step=100 / least_squares.lipschitz, max_iter=10_000)
    assert result.status == "diverged" and not result.success
    assert np.all(np.isfinite(result.x)) and np.isfinite(result.fun)
    assert result.nit < 10_000


def test_iteration_cap_budget_time_and_callback(least_squares):
    assert optim.solve(least_squares, method="gd", max_iter=7, tol=0).nit == 7
    r = optim.solve(least_squares, method="gd", budget=25, tol=0, max_iter=10_000)
    assert r.status == "budget" and r.counts["grad"] == 25
    r = optim.solve(least_squares, method="gd", time_limit=1e-9, tol=0, max_iter=10**9)
    assert r.status == "time_limit"
    seen = []

    def stop_at_five(info):
        seen.append(info.nit)
        return info.nit >= 5

    r = optim.solve(least_squares, method="gd", callback=stop_at_five, tol=0)
    assert r.status == "callback" and r.nit == 5 and seen == [1, 2, 3, 4, 5]

    def raise_stop(info):
        raise StopIteration

    assert optim.solve(least_squares, method="gd", callback=raise_stop, tol=0).status == "callback"


def test_history_evaluations_are_not_charged(least_squares):
    r = optim.solve(least_squares, method="fista", max_iter=20, tol=0)
    assert r.counts["grad"] == 20 and "value" not in r.counts
    np.testing.assert_array_equal(r.history["work"], np.arange(21))


def test_solver_rejects_problem_without_capability():
    class OnlyOptimality(problems.Problem):
        def optimality(self, x):
            return 0.0

    with pytest.raises(TypeError, match="needs a Smooth problem.*lacks value, grad, lipschitz"):
        optim.solve(OnlyOptimality(), method="gd")
    assert optim.solvers(OnlyOptimality()) == []


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda p: optim.solve(p, method="fsta"), ValueError, "did you mean 'fista'"),
        (lambda p: optim.solve(p, method="gd", stepp=1.0), ValueError, "did you mean 'step'"),
        (lambda p: optim.solve(p, method="gd", step=-1.0), ValueError, "step must be"),
        (lambda p: optim.solve(p, method="gd", tol=-1.0), ValueError, "tol must be >= 0"),
        (lambda p: optim.solve(p, method="gd", max_iter=2.5), TypeError, "max_iter must be an integer"),
        (lambda p: optim.solve(p, method="gd", seed="zero"), TypeError, "seed must be"),
        (lambda p: optim.solve(p, method="gd", x0=np.ones(3)), ValueError, "x0 must have length 8"),
        (lambda p: optim.solve(p, method="gd", x0=np.full(8, np.nan)), ValueError, "x0 contains NaN"),
        (lambda p: optim.solve(p, method=3), TypeError, "method must be a string"),
    ],
)
def test_bad_solver_input(least_squares, call, exc, match):
    with pytest.raises(exc, match=match):
        call(least_squares)


def test_step_by_step_equals_solve(least_squares):
    solver = optim.FISTA(max_iter=15, tol=0)
    state = solver.init(least_squares)
    for _ in range(15):
        state = solver.step(least_squares, state)
    np.testing.assert_array_equal(state.x, solver.solve(least_squares).x)


def _histories_equal_but_time(a, b):
    assert set(a) == set(b)
    for key in a:
        if key != "time":
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_same_seed_same_history_for_every_registered_method(least_squares):
    """Bit-for-bit reproducibility of every method that accepts a least-squares problem."""
    names = optim.solvers(least_squares)
    assert {"gd", "fista"} <= set(names)
    for name in names:
        runs = [optim.solve(least_squares, method=name, seed=7, max_iter=60, tol=0) for _ in range(2)]
        _histories_equal_but_time(runs[0].history, runs[1].history)
        np.testing.assert_array_equal(runs[0].x, runs[1].x)


def test_a_run_stopped_by_its_time_limit_between_checks_returns_a_checked_iterate():
    """With check_every > 1, a time limit that fires between checks still ends on an evaluated iterate."""
    import time

    class SlowGD(optim.GradientDescent):
        def step(self, problem, state):
            time.sleep(0.02)
            return super().step(problem, state)

    p = problems.lasso_diabetes(0.1)
    res = SlowGD(check_every=1000, max_iter=10_000, time_limit=0.1, verbose=False).solve(p)
    assert res.status == "time_limit"
    assert res.nit < 1000
    assert res.history["nit"][-1] == res.nit  # the returned iterate is the last checked one
    assert res.optimality == pytest.approx(p.optimality(res.x), rel=1e-12)
