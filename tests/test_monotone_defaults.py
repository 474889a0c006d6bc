"""Defaults of the monotone family as a new user meets them: one epoch budget, steps that converge on a
bounded game with norms estimated from the data, ``Result.fun`` the duality gap, honest refusals."""

from __future__ import annotations

import numpy as np
import pytest

import optim
from optim.monotone.common import DEFAULT_EPOCHS
from optim.monotone.suite import METHOD_ORDER
from problems.monotone import LogisticOperator, MatrixGame, QuadraticMinMax


@pytest.fixture(scope="module")
def game():
    return MatrixGame(np.random.default_rng(0).standard_normal((20, 30)))


def test_one_default_budget_in_epochs_for_the_whole_family():
    solvers = [optim.registry.make_solver(m) for m in METHOD_ORDER]
    assert {s.budget for s in solvers} == {DEFAULT_EPOCHS}
    assert len({s.max_iter for s in solvers}) == 1 and len({s.tol for s in solvers}) == 1


def test_eg_with_its_defaults_reaches_the_default_tol_on_a_normal_game(game):
    res = optim.solve(game, method="eg")
    _, value = game.reference_solution()  # HiGHS
    assert res.status == "converged" and res.optimality <= 1e-6
    assert res.fun == pytest.approx(game.duality_gap(res.x)) and 0 <= res.fun <= 1e-5
    assert abs(game.payoff(res.x) - value) <= 1e-5


@pytest.mark.parametrize("method", ["eag", "popov", "fbf", "vr-eg", "vr-forb", "inexact-halpern"])
def test_every_listed_method_converges_with_its_default_step(game, method):
    """Defaults but a smaller budget (test time): the residual falls by 10x and ``fun`` is the gap."""
    r0 = game.optimality(game.initial_point())
    res = optim.solve(game, method=method, budget=1500, seed=0)
    assert res.status in ("converged", "budget")
    assert res.optimality <= 0.1 * r0
    assert np.isfinite(res.fun) and res.fun == pytest.approx(game.duality_gap(res.x))


def test_halpern_methods_refuse_a_merely_monotone_problem_without_a_step(game):
    listed = optim.solvers(game)
    assert set(listed) >= {"eg", "eag", "popov", "fbf", "vr-eg", "vr-forb", "inexact-halpern"}
    for method in ("halpern", "vr-halpern"):
        assert method not in listed
        with pytest.raises(ValueError, match="Pass step=... explicitly"):
            optim.solve(game, method=method)
        optim.solve(game, method=method, step=0.05, budget=3)  # an explicit step runs


def test_fun_is_meaningful_on_every_problem_of_the_family():
    qp = QuadraticMinMax(6)
    res = optim.solve(qp, method="eg", budget=10)
    x, y = res.x[:6], res.x[6:]
    A = qp.M[6:, :6]
    H = qp.M[:6, :6]
    saddle = 0.5 * x @ H @ x - qp.c[:6] @ x - (A @ x - qp.c[6:]) @ y
    assert res.fun == pytest.approx(saddle)
    logistic = LogisticOperator(np.eye(3), [1, -1, 1])
    res = optim.solve(logistic, method="vr-halpern", budget=10, seed=0)
    assert res.fun == pytest.approx(logistic.objective(res.x))


def test_norm_estimate_is_an_upper_estimate_close_to_lapack():
    A = np.random.default_rng(3).standard_normal((160, 140))
    game = MatrixGame(A)
    exact = np.linalg.norm(A, 2)
    assert exact <= game.lipschitz <= 1.01 * exact


def test_report_gives_the_gap_to_the_lp_value_apart_from_the_stopping_error(game):
    z, value = game.reference_solution()
    assert game.report(z)["gap"] <= 1e-7
    start = game.report(game.initial_point())["gap"]
    assert start > 0.01 and start <= game.duality_gap(game.initial_point()) / max(1.0, abs(value))
