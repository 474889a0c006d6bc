"""BCD's defaults come from the problem (issue 10): every problem ``optim.solvers`` lists BCD for runs
with no options; the Lipschitz search survives rounding; nothing is cached on the caller's problem."""

import numpy as np
import pytest

import optim
import problems
from optim.bcd import BCD
from optim.bcd.updates import lipschitz_search
from problems.bcd import BlockState, bcd_paper_problem, block_problem


def test_lasso_defaults_run_and_reach_scikit_learns_lasso():
    """Failed before: selection 'gsl' then update 'gradient' refused on the composite problem."""
    from sklearn.linear_model import Lasso

    p = problems.lasso_diabetes(0.1)
    assert "bcd" in optim.solvers(p)
    r = optim.solve(p, method="bcd", verbose=False)
    assert r.status == "converged" and r.optimality <= 1e-8
    ref = Lasso(alpha=p.l1, fit_intercept=False, tol=1e-14, max_iter=100_000).fit(p.A, p.b)
    assert np.max(np.abs(r.x - ref.coef_)) <= 1e-6 * max(1.0, np.max(np.abs(ref.coef_)))


@pytest.mark.parametrize(
    "make",
    [
        lambda: bcd_paper_problem("A", n_rows=60, n_cols=150),
        lambda: bcd_paper_problem("A-L1", n_rows=60, n_cols=150, l1=2000.0),
        lambda: bcd_paper_problem("B", n_rows=80, n_cols=40),
        lambda: bcd_paper_problem("D", grid=8, n_labelled=6),
        lambda: problems.Logistic(*_logit_data(), l1=0.5, scale="sum", name="l1-logistic"),
        lambda: problems.MultinomialLogistic(_logit_data()[0], np.arange(50) % 3, l2=0.5, name="softmax"),
    ],
    ids=["least-squares", "nn-lasso", "logistic", "lattice", "l1-logistic", "softmax"],
)
def test_defaults_converge_on_every_kind_of_problem(make):
    """Failed before: the smooth default stopped at max_iter with a large optimality."""
    p = make()
    assert BCD.accepts(p) and "bcd" in optim.solvers(p)
    r = optim.solve(p, method="bcd", verbose=False)
    assert r.status == "converged", (r.status, r.optimality, r.nit)
    assert np.isfinite(r.fun) and r.optimality <= 1e-8


def _logit_data():
    rng = np.random.default_rng(3)
    A = rng.standard_normal((50, 12))
    return A, np.sign(A @ rng.standard_normal(12) + 0.5 * rng.standard_normal(50))


def test_accepts_only_problems_it_runs_on():
    assert not BCD.accepts(problems.lasso_diabetes(0.1).A)  # an array: no oracles
    game = optim.solvers(problems.catalog.make_problem("game-pb"))
    assert "bcd" not in game


def test_solver_sets_error_name_and_defaults_are_not_written_back():
    solver = BCD()
    assert isinstance(solver.error_name, str) and solver.error_name
    p = problems.lasso_diabetes(0.1)
    solver.solve(p)
    assert solver.selection is None and solver.update is None and solver.block_size is None


def test_no_cache_is_written_onto_the_callers_problem():
    """Failed before: ``block_problem`` stored ``_block_view`` on the problem."""
    p = problems.LeastSquares(*_logit_data(), l1=0.3, name="lasso")
    before = set(vars(p))
    optim.solve(p, method="bcd", verbose=False, engine="numpy", max_iter=20)
    optim.solve(p, method="bcd", verbose=False, max_iter=20)
    assert block_problem(p) is not block_problem(p)
    assert set(vars(p)) == before


class _RoundingProblem:
    """f(x + d) reported one rounding unit above the exact sufficient-decrease target (a BLAS kernel
    that sums in another order): the test x^+ <= f - ||g||^2 / (2 L) fails at rounding level only."""

    def __init__(self, L):
        self.L = L

    def state_value(self, state):
        return 1.0e6

    def trial_value(self, state, b, delta):
        g = -delta * self.L_used(delta, state)
        exact = 1.0e6 - float(g @ g) / (2 * self.L_used(delta, state))
        return exact * (1 + 4 * np.finfo(float).eps)

    def L_used(self, delta, state):
        return float(-state.gb[0] / delta[0])


def test_lipschitz_search_is_robust_to_rounding_and_comes_down_again():
    """Failed before: the estimate doubled to ~1e14 on a rounding-level failure and never decreased."""
    bp = _RoundingProblem(L=2.0)
    gb = np.array([3.0, -1.0])
    state = BlockState(np.zeros(2), gb=gb)
    Lhat = np.ones(2)
    L = np.array([2.0, 2.0])
    for _ in range(50):
        lipschitz_search(bp, state, np.array([0, 1]), gb, Lhat, L)
    assert Lhat.max() <= L.sum()  # never above the valid bound sum_i L_i
    Lhat[:] = 4.0  # a large estimate comes down again
    lipschitz_search(bp, state, np.array([0, 1]), gb, Lhat, L)
    assert Lhat.max() < 4.0
