"""The conventions of the solver loop: stopping error vs reporting columns, error names, targets."""

import math

import numpy as np
import pytest

import optim
import problems


class ReportedLeastSquares(problems.LeastSquares):
    """Least squares with a reporting column: the relative gap to the closed-form optimum."""

    def __init__(self, A, b):
        super().__init__(A, b)
        x_star = np.linalg.lstsq(A, b, rcond=None)[0]
        r = A @ x_star - b
        self.f_star = 0.5 * float(r @ r) / A.shape[0]
        self.report_calls = 0

    def report(self, x):
        self.report_calls += 1
        fx = self.objective(x)  # an oracle call: must not be charged to the run
        return {"gap": (fx - self.f_star) / max(1.0, abs(self.f_star)), "label": "not a number"}


@pytest.fixture
def problem():
    rng = np.random.default_rng(5)
    return ReportedLeastSquares(rng.standard_normal((40, 6)), rng.standard_normal(40))


def test_converged_message_names_the_stopping_error(problem):
    r = optim.solve(problem, method="fista", tol=1e-9)
    assert r.status == "converged" and r.success
    assert r.message.startswith("converged: prox-gradient residual")
    assert r.message.endswith(f"<= tol {1e-9:.3g}") and f"{r.optimality:.3g}" in r.message
    assert "target" in optim.STATUS_MESSAGES


def test_reporting_columns_recorded_uncharged_and_in_result(problem):
    plain = optim.solve(problems.LeastSquares(problem.A, problem.b), method="gd", max_iter=30, tol=0)
    r = optim.solve(problem, method="gd", max_iter=30, tol=0)
    assert problem.report_calls == len(r.history["nit"]) == 31
    assert r.counts == plain.counts  # the report's objective calls are not charged
    gap = r.history["gap"]
    assert gap.shape == (31,) and np.all(gap >= -1e-12) and np.all(np.diff(gap) <= 1e-15)
    assert r.report["gap"] == gap[-1] and math.isnan(r.report["label"])
    # the run did not stop on the gap: only the caller's target does that
    assert r.status == "max_iter"


def test_float_target_stops_on_the_objective(problem):
    f0 = problem.objective(np.zeros(6))
    goal = problem.f_star + 1e-3 * (f0 - problem.f_star)
    r = optim.solve(problem, method="gd", target=goal, tol=0, max_iter=100_000)
    assert r.status == "target" and r.success and r.fun <= goal
    assert r.history["fun"][-2] > goal  # it stopped at the first check that met the target
    assert r.message.startswith("target reached: fun")


def test_dict_target_on_a_reporting_column(problem):
    r = optim.solve(problem, method="fista", target={"gap": 1e-6}, tol=0, max_iter=100_000)
    assert r.status == "target" and r.report["gap"] <= 1e-6 < r.history["gap"][-2]
    both = optim.solve(problem, method="fista", target={"gap": 1e-6, "optimality": 1e-12}, tol=0, max_iter=10**5)
    assert both.optimality <= 1e-12 and both.report["gap"] <= 1e-6 and both.nit >= r.nit


@pytest.mark.parametrize(
    "target, exc, match",
    [
        ({"gapp": 1.0}, ValueError, "target names column 'gapp'"),
        ("low", TypeError, "target must be a number"),
        ({}, ValueError, "target must name at least one column"),
        ({"fun": float("nan")}, ValueError, "target"),
    ],
)
def test_bad_targets(problem, target, exc, match):
    with pytest.raises(exc, match=match):
        optim.solve(problem, method="gd", target=target, max_iter=5)


class NoObjective(problems.base.Problem):
    """A smooth quadratic with value/grad but no ``objective(x)``: ``fun`` is NaN on every check."""

    lipschitz = 1.0

    def value(self, x):
        return 0.5 * float(x @ x)

    def grad(self, x):
        self.counts.add("grad")
        return 0.5 * x

    def optimality(self, x):
        return float(np.linalg.norm(x))


def test_target_on_a_column_that_is_nan_on_every_check_is_refused_at_the_start():
    calls = []
    with pytest.raises(ValueError, match="target names column 'fun', which is NaN on every check.*no objective"):
        optim.solve(NoObjective(), method="gd", x0=np.ones(3), target=-1.0, tol=0, max_iter=20, callback=calls.append)
    assert calls == []  # refused before the first step
    seq = problems.ShiftedLaplacianSequence(T=3, seed=0)
    with pytest.raises(ValueError, match="target names column 'optimality'.*no stopping error"):
        optim.solve(seq, method="fixed-omega", target={"optimality": 1.0})
    # the columns those runs do report stay usable
    assert optim.solve(NoObjective(), method="gd", x0=np.ones(3), target={"optimality": 0.5}).status == "target"
    assert optim.solve(seq, method="fixed-omega", target=1.0).status == "target"
