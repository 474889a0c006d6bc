"""Monotone-inclusion problems and resolvents against independent references: the published
instance facts, HiGHS/cvxpy optima, scikit-learn, and properties the theory guarantees."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import optim
import problems
from problems.monotone import FiniteSumOperator, LogisticOperator, MatrixGame, QuadraticMinMax
from problems.resolvents import L1, Ball, Box, Product, Simplex, Zero, project_simplex


# ---------------------------------------------------------------------- instances
def test_policeman_burglar_matches_the_official_generator_facts():
    game = MatrixGame.policeman_burglar(500, seed=1)
    assert np.linalg.norm(game.A, 2) == pytest.approx(492.3318778562581, rel=1e-12)
    assert game.frobenius == pytest.approx(493.0695535206966, rel=1e-12)
    assert game.A[0, 1] == pytest.approx(0.33687654, rel=1e-7)  # w on the columns (numpy broadcasting)
    assert game.A[1, 0] == pytest.approx(0.89447994, rel=1e-7)
    assert game.dim == 1000 and game.n == 500


@pytest.mark.parametrize("n, value", [(500, 0.0018914828380), (100, 0.0126645989189)])
def test_lp_reference_gives_the_published_game_value(n, value):
    game = MatrixGame.policeman_burglar(n, seed=1)
    z, v = game.reference_solution()
    assert v == pytest.approx(value, abs=1e-9)
    assert game.duality_gap(z) <= 1e-9
    assert game.optimality(z) <= 1e-8
    assert game.payoff(z) == pytest.approx(value, abs=1e-9)


def test_lp_reference_of_a_random_rectangular_game_agrees_with_cvxpy():
    import cvxpy as cp

    game = MatrixGame.random(7, 11, seed=3)
    x = cp.Variable(11, nonneg=True)
    prob = cp.Problem(cp.Minimize(cp.max(game.A @ x)), [cp.sum(x) == 1])
    prob.solve(solver=cp.CLARABEL)
    _, v = game.reference_solution()
    assert v == pytest.approx(prob.value, abs=1e-7)


def test_quadratic_minmax_matches_the_spec_facts():
    qp = QuadraticMinMax(200)
    z0 = qp.initial_point()
    z_star, _ = qp.reference_solution()
    assert qp.lipschitz == pytest.approx(0.80898, abs=1e-5)
    assert np.linalg.norm(z0 - z_star) == pytest.approx(1639.07, abs=0.01)
    assert qp.optimality(z0) == pytest.approx(3.5444, abs=1e-4)  # G = 0: ||F(z0)||
    assert qp.optimality(z_star) <= 1e-9


@pytest.fixture(scope="module")
def a8a():
    return problems.monotone.logistic_operator_a8a(1e-3)


def test_logistic_operator_constants_and_reference_match_sklearn(a8a):
    from sklearn.linear_model import LogisticRegression

    assert a8a.cocoercive_constant == pytest.approx(3.501, abs=1e-9)
    assert a8a.lipschitz == pytest.approx(1.57409, abs=1e-5)
    w_star, f_star = a8a.reference_solution()
    assert f_star == pytest.approx(0.33692198499966, abs=1e-10)
    clf = LogisticRegression(C=1 / (a8a.n * a8a.mu), fit_intercept=False, tol=1e-12, max_iter=10_000)
    clf.fit(a8a.A, a8a.y)
    assert np.linalg.norm(clf.coef_.ravel() - w_star) <= 1e-4
    assert a8a.optimality(w_star) <= 1e-7


# ---------------------------------------------------------------------- components
@settings(max_examples=15, deadline=None)
@given(p=st.integers(1, 9), q=st.integers(1, 9), seed=st.integers(0, 10_000))
def test_game_components_average_to_the_operator(p, q, seed):
    game = MatrixGame.random(p, q, seed=seed)
    z = np.random.default_rng(seed).random(game.dim)
    mean = np.mean([game.component(np.array([i]), z) for i in range(game.n)], axis=0)
    x, y = z[:q], z[q:]
    np.testing.assert_allclose(mean, np.concatenate([game.A.T @ y, -game.A @ x]), atol=1e-12)
    assert game.counts["component"] == game.n


def test_qp_and_logistic_components_average_to_the_operator(a8a):
    qp = QuadraticMinMax(12)
    z = np.random.default_rng(0).standard_normal(qp.dim)
    np.testing.assert_allclose(qp.component(np.arange(qp.n), z), qp.M @ z - qp.c, atol=1e-12)
    w = np.random.default_rng(1).standard_normal(a8a.dim) * 0.1
    idx = np.arange(a8a.n)
    from scipy.special import expit

    grad = -(a8a.A.T @ (a8a.y * expit(-a8a.y * (a8a.A @ w)))) / a8a.n + a8a.mu * w
    np.testing.assert_allclose(a8a.component(idx, w), grad, atol=1e-12)


def test_non_uniform_sampling_is_unbiased():
    game = MatrixGame.random(4, 6, seed=1)
    q = np.arange(1, game.n + 1, dtype=float)
    op = FiniteSumOperator(
        lambda idx, z: np.stack([game.n * game._weighted_sum(np.array([i]), np.ones(1) / game.n, z) for i in idx]),
        n=game.n,
        dim=game.dim,
        sampling=q / q.sum(),
    )
    z = np.random.default_rng(2).random(game.dim)
    expected = sum(q[i] / q.sum() * op.component(np.array([i]), z) for i in range(game.n))
    np.testing.assert_allclose(expected, game.operator(z), atol=1e-12)


class _NoChoice:
    """A Generator whose ``choice`` is refused: with probabilities it re-sums them, O(n) per draw."""

    def __init__(self, seed):
        self._rng = np.random.default_rng(seed)

    def random(self, size=None):
        return self._rng.random(size)

    def choice(self, *args, **kwargs):
        raise AssertionError("rng.choice(n, p=q) costs O(n) per stochastic step")


@pytest.mark.parametrize("size", [1, 5])
def test_non_uniform_sample_draws_like_numpy_choice_in_o_batch(size):
    n = 1000
    q = np.random.default_rng(0).random(n) + 0.01
    op = FiniteSumOperator(lambda idx, x: np.zeros((len(idx), 1)), n=n, dim=1, sampling=q / q.sum())
    ours = np.concatenate([op.sample(_NoChoice(s), size) for s in range(3, 50)])
    ref = np.concatenate(
        [np.random.default_rng(s).choice(n, size=size, replace=True, p=op.sampling) for s in range(3, 50)]
    )
    np.testing.assert_array_equal(ours, ref)


def test_builder_from_callables_matches_the_vectorised_form_and_counts():
    rng = np.random.default_rng(0)
    mats = [rng.standard_normal((3, 3)) for _ in range(4)]
    mats = [m - m.T + np.eye(3) for m in mats]  # monotone components
    funcs = [lambda x, m=m: m @ x for m in mats]
    a = FiniteSumOperator(funcs, dim=3, resolvent=Ball(2.0), check_monotone=10)
    b = FiniteSumOperator(lambda idx, x: np.stack([mats[i] @ x for i in idx]), n=4, dim=3, resolvent=Ball(2.0))
    x = rng.standard_normal(3)
    np.testing.assert_allclose(a.operator(x), sum(mats) @ x / 4, atol=1e-12)
    pair = np.array([1, 3])
    np.testing.assert_allclose(a.component_diff(pair, x, 2 * x), b.component_diff(pair, x, 2 * x))
    assert a.counts["component"] == 4 + 4 and a.work == pytest.approx(2.0)
    a.optimality(x)  # residuals are not charged
    assert a.counts["component"] == 8


# ---------------------------------------------------------------------- resolvents
@settings(max_examples=40, deadline=None)
@given(v=st.lists(st.floats(-50, 50), min_size=1, max_size=25), radius=st.floats(0.1, 10), seed=st.integers(0, 1000))
def test_simplex_projection_satisfies_the_projection_inequality(v, radius, seed):
    v = np.array(v)
    x = project_simplex(v, radius)
    assert np.all(x >= 0) and x.sum() == pytest.approx(radius, rel=1e-9, abs=1e-9)
    others = np.random.default_rng(seed).dirichlet(np.ones(v.size), size=20) * radius
    assert np.all((others - x) @ (v - x) <= 1e-8 * (1 + np.abs(v).max()))  # <v - Pv, y - Pv> <= 0


def test_simplex_projection_ends_on_ties_at_the_threshold():
    """Sixteen entries tie at the threshold (a game's LP solution, z - F(z)): rounding once made the
    kept set grow back and Michelot's passes cycle forever."""
    c = 0.012664598918425887
    v = np.r_[1.007161932838732, np.full(16, c), 0.01816726499811972]
    x = project_simplex(v, 1.0)
    u = np.sort(v)[::-1]  # the sort-based threshold, independently
    css = np.cumsum(u) - 1.0
    rho = np.nonzero(u * np.arange(1, v.size + 1) > css)[0][-1]
    np.testing.assert_allclose(x, np.maximum(v - css[rho] / (rho + 1), 0.0), atol=1e-15)


def test_simplex_projection_keeps_points_of_the_simplex():
    x = np.array([0.2, 0.3, 0.5])  # the authors' projection crashes here
    np.testing.assert_array_equal(project_simplex(x), x)
    np.testing.assert_allclose(project_simplex(np.array([0.0, 0.0, 1.0])), [0, 0, 1])


def test_other_resolvents_against_their_definitions():
    from scipy.optimize import minimize

    rng = np.random.default_rng(0)
    v = rng.standard_normal(6) * 3
    np.testing.assert_allclose(Box(-1, 0.5)(v, 1.0), np.clip(v, -1, 0.5))
    out = Ball(1.5, center=np.ones(6))(v, 7.0)
    assert np.linalg.norm(out - 1) == pytest.approx(1.5)
    np.testing.assert_allclose(out - 1, (v - 1) * 1.5 / np.linalg.norm(v - 1))  # radial
    with pytest.raises(ValueError, match="center has length 6"):
        Ball(1.0, center=np.ones(6))(np.zeros(4), 1.0)
    res = minimize(
        lambda x: 0.5 * np.sum((x - v) ** 2) + 0.3 * 2.0 * np.abs(x).sum(),
        v,
        method="Powell",
        options={"xtol": 1e-10, "ftol": 1e-14},
    )
    np.testing.assert_allclose(L1(0.3)(v, 2.0), res.x, atol=1e-5)
    np.testing.assert_array_equal(Zero()(v, 3.0), v)
    prod = Product([(2, Simplex()), (4, Box(0, 1))])
    out = prod(v, 1.0)
    np.testing.assert_allclose(out[:2], project_simplex(v[:2]))
    np.testing.assert_allclose(out[2:], np.clip(v[2:], 0, 1))


# ---------------------------------------------------------------------- bad input
def test_bad_game_matrices_are_rejected():
    with pytest.raises(ValueError, match="A must be a 2-D array"):
        MatrixGame(np.ones(5))
    with pytest.raises(ValueError, match="A must be a 2-D array"):
        MatrixGame(np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="at least one row"):
        MatrixGame(np.ones((0, 3)))
    with pytest.raises(ValueError, match="NaN"):
        MatrixGame(np.array([[1.0, np.nan]]))
    with pytest.raises(TypeError, match="A must"):
        MatrixGame("payoff")
    with pytest.raises(ValueError, match="n must be >= 1"):
        MatrixGame.policeman_burglar(0)


def test_operator_returning_the_wrong_shape_is_rejected_at_build():
    with pytest.raises(ValueError, match=r"components\[0\] returned shape \(2,\), expected \(3,\)"):
        FiniteSumOperator([lambda x: x[:2], lambda x: x], dim=3)
    with pytest.raises(ValueError, match=r"returned shape \(1, 4\), expected \(1, 3\)"):
        FiniteSumOperator(lambda idx, x: np.zeros((len(idx), 4)), n=5, dim=3)
    with pytest.raises(TypeError, match="components is required"):
        FiniteSumOperator(dim=3, n=2)
    with pytest.raises(TypeError, match="components must be"):
        FiniteSumOperator([1, 2], dim=3)
    with pytest.raises(ValueError, match="n is required"):
        FiniteSumOperator(lambda idx, x: x, dim=3)
    with pytest.raises(TypeError, match="resolvent must be"):
        FiniteSumOperator([lambda x: x], dim=1, resolvent=lambda x, s: x)
    with pytest.raises(ValueError, match="sampling must be positive"):
        FiniteSumOperator([lambda x: x, lambda x: x], dim=1, sampling=[0.7, 0.7])


def test_sampled_monotonicity_check_flags_a_non_monotone_operator():
    with pytest.raises(ValueError, match="not monotone"):
        FiniteSumOperator([lambda x: -x, lambda x: 0.5 * x], dim=4, check_monotone=5)
    skew = np.array([[0.0, 1.0], [-1.0, 0.0]])
    ok = FiniteSumOperator([lambda x: skew @ x], dim=2, check_monotone=20)
    assert ok.monotonicity_violation(20) <= 1e-12  # skew: <F(x) - F(y), x - y> = 0


def test_named_problems_build_from_the_catalog():
    assert isinstance(problems.make_problem("game-pb", n=20), MatrixGame)
    assert isinstance(problems.make_problem("quadratic-minmax", n=10), QuadraticMinMax)
    listed = optim.solvers(problems.make_problem("game-random", n=3, m=4))
    assert "inexact-halpern" in listed and "vr-halpern" not in listed  # no default step on a merely monotone F
    assert "vr-halpern" in optim.solvers(LogisticOperator(np.eye(3), [1, -1, 1]))
    assert "vr-halpern" not in optim.solvers(problems.lasso_diabetes())
    assert isinstance(LogisticOperator(np.eye(3), [1, -1, 1]), FiniteSumOperator)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), step=st.floats(0.05, 5.0))
def test_natural_residual_is_below_the_operator_residual(seed, step):
    """For x = J_{step G}(u), g = (u - x)/step lies in G(x) and ||x - J(x - F(x))|| <= ||F(x) + g||
    for every g in G(x) (the natural residual bounds the operator residual from below)."""
    game = MatrixGame.random(5, 7, seed=seed % 50)
    u = np.random.default_rng(seed).standard_normal(game.dim)
    x = game.resolvent(u, step)
    assert game.optimality(x) <= game.operator_residual(x, u, step) * (1 + 1e-12) + 1e-15


def test_game_gap_column_waits_for_the_lp_on_large_games():
    """Above ``report_lp_limit`` entries the ``gap`` column is left out until the caller solves the LP."""
    game = MatrixGame(np.random.default_rng(0).uniform(-1, 1, (6, 5)))
    game.report_lp_limit = 10  # a "large" game for this test
    z = np.concatenate([np.full(5, 0.2), np.full(6, 1 / 6)])
    assert game.report(z) == {} and game._reference is None
    _, value = game.reference_solution()
    x, y = game.split(z)
    expected = max(np.max(game.A @ x) - value, value - np.min(game.A.T @ y), 0.0) / max(1.0, abs(value))
    assert game.report(z)["gap"] == pytest.approx(expected, rel=1e-12)
