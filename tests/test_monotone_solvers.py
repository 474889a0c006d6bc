"""Acceptance of the monotone-inclusion solvers (issue 7): Halpern's exact worst case,
the official EG/EAG trajectories, VR-Halpern against the LP equilibrium, a8a against scikit-learn,
oracle accounting, reproducibility and bad input."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import optim
from optim.monotone import anchor_weight, official_options, snapshot_probability
from problems.monotone import FiniteSumOperator, MatrixGame, QuadraticMinMax, logistic_operator_a8a
from problems.resolvents import Ball


def linear_operator(M, c=None, n_split=1, resolvent=None, x0=None):
    """F(x) = M x - c as a sum of n_split identical components (the solution is known in closed form)."""
    M = np.asarray(M, dtype=float)
    c = np.zeros(M.shape[0]) if c is None else c
    return FiniteSumOperator(
        lambda idx, x: np.tile(M @ x - c, (len(idx), 1)),
        n=n_split,
        dim=M.shape[0],
        lipschitz=np.linalg.norm(M, 2),
        mean_lipschitz=np.linalg.norm(M, 2),
        resolvent=resolvent,
        x0=x0,
    )


def halpern_residual(problem, N, step=2.0):
    """x_N and ||x_N - T x_N|| for classical Halpern with T = J(I - step F), stepped N times (the
    solver loop would stop early at an odd N on T = -I, where x_N = 0 solves the problem exactly)."""
    solver = optim.registry.make_solver("halpern", step=step, schedule="classical")
    state = solver.init(problem)
    for _ in range(N):
        state = solver.step(problem, state)
    T = problem.resolvent(state.x - step * problem.operator(state.x), step)
    return state, float(np.linalg.norm(state.x - T))


# ---------------------------------------------------------------------- C4: Halpern's exact bound
def test_halpern_on_minus_identity_attains_the_closed_form():
    x0 = np.eye(5)[0]
    problem = linear_operator(np.eye(5), x0=x0)  # F = I, step 2: T = -I
    for N in (10, 2, 40):
        res, r = halpern_residual(problem, N)
        np.testing.assert_allclose(res.x, x0 / (N + 1), atol=1e-15)
        assert r**2 == pytest.approx(4 / (N + 1) ** 2, rel=1e-12)
    assert halpern_residual(problem, 10)[1] ** 2 == pytest.approx(0.0330578512, abs=1e-10)


def test_halpern_rotation_attains_the_odd_worst_case():
    """N = 25: a planar rotation T (F = (I - T)/2 is 1-cocoercive) attains 4/(N+1)^2 (PEPit: 0.0059173)."""
    best = 0.0
    for theta in np.linspace(0.30, 0.42, 121):
        R = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
        problem = linear_operator((np.eye(2) - R) / 2, x0=np.array([1.0, 0.0]))
        best = max(best, halpern_residual(problem, 25)[1] ** 2)
    assert best <= 4 / 26**2 + 1e-12
    assert best == pytest.approx(0.0059171594, rel=1e-4)


@settings(max_examples=15, deadline=None)
@given(d=st.integers(2, 6), N=st.integers(1, 40), seed=st.integers(0, 10_000))
def test_halpern_obeys_liebers_bound_on_random_nonexpansive_maps(d, N, seed):
    """||x_N - T x_N|| <= 2 ||x0 - x*|| / (N + 1) for any nonexpansive T (Lieder 2021); x* = 0."""
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    T = Q * rng.uniform(0.3, 1.0)  # nonexpansive linear map
    x0 = rng.standard_normal(d)
    _, r = halpern_residual(linear_operator((np.eye(d) - T) / 2, x0=x0), N)
    assert r <= 2 * np.linalg.norm(x0) / (N + 1) * (1 + 1e-10)


def test_anchor_and_snapshot_schedules_follow_the_official_code():
    assert [anchor_weight(k) for k in range(4)] == [1 / 2, 2 / 5, 1 / 3, 2 / 7]
    assert [anchor_weight(k, "classical") for k in range(3)] == [1 / 2, 1 / 3, 1 / 4]
    n = 100  # floor(sqrt(n)) + 1 = 11
    assert [snapshot_probability(k, n) for k in (0, 1, 2, 3, 11)] == [1, 1, 4 / 6, 4 / 7, 4 / 15]
    assert snapshot_probability(12, n) == snapshot_probability(500, n) == 4 / 15


# ---------------------------------------------------------------------- C1: the official trajectories
@pytest.fixture(scope="module")
def pb500():
    return MatrixGame.policeman_burglar(500, seed=1)


@pytest.mark.parametrize(
    "method, residual, gap",
    [("eg", 0.0173859844534553, 0.0094234207432701), ("eag", 0.0223924244027672, 0.0115362404350446)],
)
def test_eg_and_eag_reproduce_the_official_residuals(pb500, method, residual, gap):
    step = 5 / np.linalg.norm(pb500.A, 2)
    res = optim.solve(pb500, method=method, step=step, max_iter=1000, tol=0.0, check_every=100)
    assert res.optimality == pytest.approx(residual, rel=1e-9)
    assert pb500.duality_gap(res.x) == pytest.approx(gap, rel=1e-9)
    assert res.counts["component"] == 2 * 500 * 1000 and res.counts["work"] == 2000


def test_eg_extrapolated_point_matches_the_official_log(pb500):
    """The official script logs the residual at y = J(x - eta F(x))."""
    step = 5 / np.linalg.norm(pb500.A, 2)
    seen = {}
    for N, expected in [(1, 0.19559101994), (100, 0.07776514824)]:
        x = optim.solve(pb500, method="eg", step=step, max_iter=N - 1, tol=0.0, check_every=1000).x
        y = pb500.resolvent(x - step * pb500.operator(x), step)
        seen[N] = pb500.optimality(y)
        assert seen[N] == pytest.approx(expected, rel=1e-9)


# ---------------------------------------------------------------------- C2: the n = 100 game
@pytest.fixture(scope="module")
def pb100():
    return MatrixGame.policeman_burglar(100, seed=1)


def epochs_to(result, threshold):
    hit = np.nonzero(result.history["optimality"] <= threshold)[0]
    return result.history["epochs"][hit[0]] if hit.size else math.inf


@pytest.fixture(scope="module")
def deterministic_epochs_to_1e3(pb100):
    """Epochs EG and Halpern-FB need to reach residual 1e-3 (official steps; published: 1174 and 1765)."""
    out = {}
    for method in ("eg", "halpern"):
        res = optim.solve(pb100, method=method, budget=2500, tol=1e-3, **official_options(pb100)[method])
        assert res.status == "converged"
        out[method] = res.counts["work"]
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vr_halpern_reaches_the_lp_equilibrium_on_the_n100_game(pb100, seed, deterministic_epochs_to_1e3):
    opts = official_options(pb100)["vr-halpern"]
    res = optim.solve(pb100, method="vr-halpern", budget=1000, tol=0.0, seed=seed, **opts)
    _, value = pb100.reference_solution()  # HiGHS
    assert epochs_to(res, 1e-3) <= 1000
    assert 1000 <= res.history["epochs"][-1] <= 1001
    assert pb100.duality_gap(res.x) <= 1e-3
    assert abs(pb100.payoff(res.x) - value) <= 1e-3
    assert epochs_to(res, 1e-3) < min(deterministic_epochs_to_1e3.values())


def test_the_quick_suite_runs_every_method(pb100):
    comparison = optim.registry.suite("monotone", quick=True).run()
    by_method = {r["method"]: r for r in comparison.records}
    assert set(by_method) == {
        "eg",
        "eag",
        "popov",
        "fbf",
        "halpern",
        "vr-halpern",
        "vr-eg",
        "vr-forb",
        "inexact-halpern",
    }
    assert all(r["work"] >= 1000 for r in comparison.records)
    assert by_method["vr-halpern"]["optimality"] < 1e-3 < by_method["halpern"]["optimality"]


CONVERGENT_ON_MONOTONE = ["eg", "popov", "fbf", "vr-eg"]  # linear-rate or O(1/k) methods with a guarantee


# inexact Halpern: the official M_k = floor(0.05 n ln(k+2)) is one inner step at n = 8, too few for
# the inexact resolvent; with 1 n ln(k+2) steps or the certified stop it converges
SMALL_GAME_RUNS = [(m, {}, 3000) for m in CONVERGENT_ON_MONOTONE + ["eag", "vr-forb"]] + [
    ("inexact-halpern", {"inner_scale": 1.0}, 3000),
    ("inexact-halpern", {"inner_steps": "certified", "inner_tol": 1.0}, 6000),
]


@pytest.mark.parametrize("method, options, budget", SMALL_GAME_RUNS)
def test_monotone_methods_solve_a_small_random_game_with_their_default_steps(method, options, budget):
    """Default (theory) steps on a 6 x 8 game, compared with the HiGHS equilibrium. Halpern and
    VR-Halpern are left out: a bilinear game is not cocoercive, so they have no guarantee there."""
    game = MatrixGame.random(6, 8, seed=4)
    _, value = game.reference_solution()
    r0 = game.optimality(game.initial_point())
    res = optim.solve(game, method=method, budget=budget, tol=1e-6, seed=0, **options)
    if method in CONVERGENT_ON_MONOTONE:
        assert res.status == "converged"
        assert game.duality_gap(res.x) <= 1e-5 and abs(game.payoff(res.x) - value) <= 1e-5
    else:  # the anchored / tiny-step methods: steady progress within the budget
        assert res.optimality <= 0.05 * r0 and game.duality_gap(res.x) <= 0.02


def strongly_monotone_problem(mu=0.5):
    """F(x) = M x - c + 4 C_i x with skew C_i summing to 0 and M = mu I + skew: mu-strongly monotone,
    hence (mu / L^2)-cocoercive (A2 with L_mean^2 / mu); the zero is M^{-1} c."""
    rng = np.random.default_rng(5)
    B = rng.standard_normal((6, 6))
    M = mu * np.eye(6) + (B - B.T)
    c = rng.standard_normal(6)
    comps = [rng.standard_normal((6, 6)) for _ in range(3)]
    comps = [C - C.T for C in comps]
    comps.append(-sum(comps))
    L_mean = max(np.linalg.norm(M + 4 * C, 2) for C in comps)
    problem = FiniteSumOperator(
        lambda idx, x: np.stack([M @ x - c + 4 * comps[i] @ x for i in idx]),
        n=4,
        dim=6,
        lipschitz=np.linalg.norm(M, 2),
        mean_lipschitz=L_mean,
        cocoercive_constant=L_mean**2 / mu,
    )
    return problem, np.linalg.solve(M, c)


@pytest.mark.parametrize(
    "method", ["eg", "eag", "popov", "fbf", "halpern", "vr-halpern", "vr-eg", "vr-forb", "inexact-halpern"]
)
def test_every_method_approaches_the_zero_of_a_strongly_monotone_operator(method):
    problem, x_star = strongly_monotone_problem()
    r0 = problem.optimality(problem.initial_point())
    budget = {"eag": 3_000, "inexact-halpern": 3_000, "halpern": 10_000}.get(method, 20_000)
    res = optim.solve(problem, method=method, budget=budget, tol=1e-7, seed=1)
    # strong monotonicity: ||x - x*|| <= ||F(x)|| / mu (G = 0, residual = ||F(x)||)
    assert np.linalg.norm(res.x - x_star) <= res.optimality / 0.5 * (1 + 1e-9) + 1e-12
    if method in CONVERGENT_ON_MONOTONE + ["vr-forb"]:
        assert res.status == "converged"
        np.testing.assert_allclose(res.x, x_star, atol=1e-6)
    else:  # anchoring caps the rate at O(1/k)
        assert res.optimality <= 0.25 * r0


def test_certified_inner_solve_is_within_its_tolerance_of_the_exact_resolvent():
    """One outer step of inexact Halpern with the certified inner stop: v is eps_0-close to
    J_{eta F}(x0) = (I + eta M)^{-1}(x0 + eta c), computed by a linear solve."""
    problem, _ = strongly_monotone_problem()
    solver = optim.registry.make_solver(
        "inexact-halpern", inner_steps="certified", inner_tol=1e-4, max_inner=200_000, seed=0
    )
    state = solver.init(problem)
    x0 = state.x.copy()
    state = solver.step(problem, state)
    v = 2 * state.x - x0  # x1 = (x0 + v)/2
    eta = state.step
    M_full = np.stack([problem.operator(e) - problem.operator(np.zeros(6)) for e in np.eye(6)], axis=1)
    c = -problem.operator(np.zeros(6))
    exact = np.linalg.solve(np.eye(6) + eta * M_full, x0 + eta * c)
    assert state.inner_total < 200_000
    assert np.linalg.norm(v - exact) <= 1e-4 / 4


def test_constrained_problem_with_a_ball_resolvent():
    """0 in x - c + N_B(x): the solution is the projection of c onto the ball."""
    c = np.array([3.0, 4.0])
    problem = FiniteSumOperator(
        [lambda x: x - c, lambda x: x - c],
        dim=2,
        resolvent=Ball(1.0),
        lipschitz=1.0,
        mean_lipschitz=1.0,
        cocoercive_constant=1.0,
    )
    for method in ("vr-halpern", "halpern", "eg", "vr-forb"):
        res = optim.solve(problem, method=method, tol=1e-10, budget=50_000, seed=0)
        np.testing.assert_allclose(res.x, [0.6, 0.8], atol=1e-8)


# ---------------------------------------------------------------------- C3: a8a, within the theory
def test_vr_halpern_on_a8a_logistic_regression_beats_halpern_and_reaches_sklearns_optimum():
    from sklearn.linear_model import LogisticRegression

    p = logistic_operator_a8a(1e-3)
    clf = LogisticRegression(C=1 / (p.n * p.mu), fit_intercept=False, tol=1e-10, max_iter=10_000)
    w_star = clf.fit(p.A, p.y).coef_.ravel()
    vr = optim.solve(p, method="vr-halpern", step=1 / p.lipschitz, budget=300, tol=0.0, seed=1, check_every=500)
    det = optim.solve(p, method="halpern", step=1 / p.lipschitz, budget=300, tol=0.0, check_every=50)
    assert vr.optimality <= 5e-3 and vr.optimality <= 0.25 * det.optimality
    assert np.linalg.norm(vr.x - w_star) <= 0.5


# ---------------------------------------------------------------------- oracle accounting
def test_vr_halpern_charges_exactly_the_branch_taken(pb100):
    solver = optim.registry.make_solver("vr-halpern", step=5 / pb100.frobenius, seed=3, block_steps=1)
    pb100.counts.reset()
    state = solver.init(pb100, None)
    b, n = state.batch, pb100.n
    assert b == 10 and pb100.counts["component"] == 0
    fulls_late, steps_late = 0, 0
    for k in range(3000):
        before = pb100.counts["component"]
        state = solver.step(pb100, state)
        cost = pb100.counts["component"] - before
        assert cost == (n if state.last_full else 2 * b)
        if k <= 1:
            assert state.last_full
        if k > math.sqrt(n) + 1:
            steps_late += 1
            fulls_late += state.last_full
    assert pb100.counts["component"] == n * state.n_full + 2 * b * state.n_batch
    p = 4 / (math.sqrt(n) + 5)
    assert abs(fulls_late - p * steps_late) <= 4 * math.sqrt(steps_late * p * (1 - p))


@pytest.mark.parametrize("method", ["vr-eg", "vr-forb"])
def test_loopless_methods_charge_two_per_step_plus_n_per_refresh(pb100, method):
    solver = optim.registry.make_solver(method, seed=0, probability=0.05, block_steps=40)
    pb100.counts.reset()
    state = solver.init(pb100, None)
    assert pb100.counts["component"] == pb100.n
    for _ in range(100):  # 100 iterations of 40 stochastic steps
        state = solver.step(pb100, state)
    assert pb100.counts["component"] == pb100.n * (1 + state.refreshes) + 2 * 4000
    assert abs(state.refreshes - 0.05 * 4000) <= 4 * math.sqrt(4000 * 0.05 * 0.95)


def test_inexact_halpern_charges_the_inner_solve(pb100):
    solver = optim.registry.make_solver("inexact-halpern", seed=0)
    pb100.counts.reset()
    state = solver.init(pb100, None)
    for k in range(5):
        before, refreshes = pb100.counts["component"], state.refreshes
        state = solver.step(pb100, state)
        M = int(0.05 * 100 * np.log(k + 2))
        assert pb100.counts["component"] - before == 100 + 2 * M + 100 * (state.refreshes - refreshes)


def test_history_reports_epochs_residuals_and_gaps(pb100):
    res = optim.solve(pb100, method="vr-halpern", step=5 / pb100.frobenius, budget=50, tol=0.0, seed=0)
    h = res.history
    assert {"epochs", "optimality", "gap", "full_snapshots"} <= set(h)
    assert np.all(np.diff(h["epochs"]) > 0) and h["epochs"][-1] >= 50
    np.testing.assert_allclose(h["epochs"][-1], res.counts["component"] / 100)
    assert h["gap"][-1] == pytest.approx(pb100.duality_gap(res.x))


# ---------------------------------------------------------------------- reproducibility, divergence, bad input
def test_same_seed_same_run_and_different_seed_differs(pb100):
    step = 5 / pb100.frobenius
    runs = [optim.solve(pb100, method="vr-halpern", step=step, budget=30, tol=0.0, seed=s).x for s in (7, 7, 8)]
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


def test_a_too_large_step_ends_diverged_with_the_last_finite_iterate():
    qp = QuadraticMinMax(10)
    res = optim.solve(qp, method="fbf", step=50.0, max_iter=5000, tol=0.0)
    assert res.status == "diverged" and np.all(np.isfinite(res.x))


def test_bad_solver_arguments_are_rejected(pb100):
    for method in ("vr-halpern", "eg", "inexact-halpern", "vr-eg"):
        with pytest.raises(ValueError, match="step must be > 0"):
            optim.solve(pb100, method=method, step=0.0)
        with pytest.raises(ValueError, match="step must be > 0"):
            optim.solve(pb100, method=method, step=-1e-3)
    with pytest.raises(ValueError, match="batch_size must be <= n"):
        optim.solve(pb100, method="vr-halpern", step=0.01, batch_size=101, max_iter=1)
    with pytest.raises(ValueError, match="schedule must be one of"):
        optim.solve(pb100, method="halpern", schedule="harmonic")
    with pytest.raises(ValueError, match="probability must be <= 1"):
        optim.solve(pb100, method="vr-eg", probability=2.0)
    with pytest.raises(ValueError, match="takes no option 'batch'"):
        optim.solve(pb100, method="vr-halpern", batch=3)
    with pytest.raises(TypeError, match="needs a FiniteSumOperator problem"):
        optim.solve(__import__("problems").lasso_diabetes(), method="vr-halpern")
    with pytest.raises(ValueError, match="x0 must have length 200"):
        optim.solve(pb100, method="eg", x0=np.ones(3))


def test_caller_arrays_are_not_mutated(pb100):
    x0 = pb100.initial_point()
    keep = x0.copy()
    optim.solve(pb100, method="vr-halpern", step=0.01, x0=x0, budget=5, tol=0.0, seed=0)
    np.testing.assert_array_equal(x0, keep)
