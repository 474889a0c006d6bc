"""Multi-block bilevel problems: exact hypergradients against central differences of the exact F,
oracles against finite differences on a8a minibatches (the true, positive definite Hessian), the
digits instance against its independently computed reference values, and clear errors on bad input."""

import copy

import numpy as np
import pytest
from bilevel_fixtures import digits, one_thread  # noqa: F401  (fixtures)
from hypothesis import given, settings
from hypothesis import strategies as st

from problems.bilevel import HyperparameterLogistic, MultiTaskRidge, QuadraticBilevel


@pytest.fixture(scope="module")
def reduced():
    return HyperparameterLogistic.a8a("reduced")


def check_fd(problem, x, seed=0):
    g = problem.hypergrad(x)
    rng = np.random.default_rng(seed)
    h = 1e-4
    for _ in range(3):
        d = rng.standard_normal(x.size)
        fd = (problem.F(x + h * d) - problem.F(x - h * d)) / (2 * h)
        assert abs(fd - g @ d) <= 1e-6 * np.linalg.norm(g) * np.linalg.norm(d) + 1e-9


def test_quadratic_hypergradient_and_optimum():
    p = QuadraticBilevel(m=20, dim_x=10, dim_y=5, seed=3)
    x = np.random.default_rng(1).standard_normal(10)
    check_fd(p, x)
    xs = p.x_star()
    assert np.linalg.norm(p.hypergrad(xs)) < 1e-12
    # independent check: L-BFGS on the closed-form F lands on the same point
    from scipy.optimize import minimize

    res = minimize(p.F, np.zeros(10), jac=p.hypergrad, method="L-BFGS-B", options={"gtol": 1e-12, "ftol": 0.0})
    assert np.allclose(res.x, xs, atol=1e-6)


@settings(max_examples=5, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.0, 0.9))
def test_quadratic_oracles_are_unbiased_and_consistent(seed, noise):
    p = QuadraticBilevel(m=4, dim_x=3, dim_y=2, noise=noise, seed=seed, n_samples=7)
    rng = np.random.default_rng(seed)
    x, Y, V = rng.standard_normal(3), rng.standard_normal((4, 2)), rng.standard_normal((4, 2))
    b = np.arange(4)
    # the full-data oracles are the block means the closed form uses
    assert np.allclose(p.grad_y_g(b, x, Y), np.einsum("ijk,ik->ij", p.A, Y) - p.C @ x - p.c)
    batch = p.sample_lower(b, 3, rng)
    H = p.hess_yy_g(b, x, Y, batch)
    assert np.all(np.linalg.eigvalsh(H) >= p.mu_g * 0 + 1.0 - 1e-12)  # every sample's spectrum is in [mu_g, L_g]
    assert np.allclose(np.einsum("ijk,ik->ij", H, V), p.hvp_yy_g(b, x, Y, V, batch))
    assert np.allclose(np.einsum("ijk,ik->ij", p.cross_xy_g(b, x, Y, batch), V), p.jvp_xy_g(b, x, Y, V, batch))


def test_digits_reference_values_and_hypergradient(digits):
    x0 = np.zeros(64)
    assert digits.F(x0) == pytest.approx(0.4706870005, abs=1e-9)
    assert np.linalg.norm(digits.hypergrad(x0)) == pytest.approx(4.8406e-2, rel=1e-4)
    xs = digits.x_star()
    assert digits.F(xs) == pytest.approx(0.4623438258, abs=1e-9)
    assert np.linalg.norm(xs) == pytest.approx(0.396446, rel=1e-5)
    check_fd(digits, np.random.default_rng(2).standard_normal(64) * 0.3)


def test_reduced_a8a_hypergradient(reduced):
    assert (reduced.m, reduced.dim_x, reduced.dim_y, reduced.lam) == (5, 2000, 124, 1e-2)
    x = np.random.default_rng(0).standard_normal(2000)
    check_fd(reduced, x)


def test_a8a_oracles_equal_finite_differences(reduced):
    p = reduced
    rng = np.random.default_rng(5)
    b = np.array([1, 3])
    x, Y, V = rng.standard_normal(2000), rng.standard_normal((2, 124)) * 0.1, rng.standard_normal((2, 124))
    bg, bf = p.sample_lower(b, 32, rng), p.sample_upper(b, 32, rng)
    h = 1e-5
    E = np.eye(124)

    def fd(fun, Yc, k):  # central difference of fun along y_k for both blocks
        return (fun(Yc + h * E[k]) - fun(Yc - h * E[k])) / (2 * h)

    gy = p.grad_y_g(b, x, Y, bg)
    fy = p.grad_y_f(b, x, Y, bf)
    H = p.hess_yy_g(b, x, Y, bg)
    for k in rng.choice(124, 8, replace=False):
        assert np.allclose(fd(lambda Z: p.g(b, x, Z, bg), Y, k), gy[:, k], rtol=1e-6, atol=1e-9)
        assert np.allclose(fd(lambda Z: p.f(b, x, Z, bf), Y, k), fy[:, k], rtol=1e-6, atol=1e-9)
        assert np.allclose(fd(lambda Z: p.grad_y_g(b, x, Z, bg), Y, k), H[:, :, k], rtol=1e-6, atol=1e-9)
    assert np.all(np.linalg.eigvalsh(H) >= p.lam * (1 - 1e-9))  # the true Hessian: lam I + PSD data part
    assert np.allclose(np.einsum("ijk,ik->ij", H, V), p.hvp_yy_g(b, x, Y, V, bg), rtol=1e-12, atol=1e-15)
    # cross term: d/dx <grad_y g, v> along random directions
    J = p.jvp_xy_g(b, x, Y, V, bg)
    for _ in range(3):
        d = rng.standard_normal(2000)
        lhs = (np.sum(p.grad_y_g(b, x + h * d, Y, bg) * V, 1) - np.sum(p.grad_y_g(b, x - h * d, Y, bg) * V, 1)) / (
            2 * h
        )
        assert np.allclose(lhs, J @ d, rtol=1e-6, atol=1e-10)
    assert np.all(np.count_nonzero(J, axis=1) <= 32)  # only the rows of the batch


def test_counts_in_samples(digits):
    p = copy.deepcopy(digits)
    p.counts.reset()
    b = np.array([0, 4, 7])
    p.grad_y_g(b, np.zeros(64), np.zeros((3, 64)), p.sample_lower(b, 16, np.random.default_rng(0)))
    p.grad_y_f(b, np.zeros(64), np.zeros((3, 64)))
    assert p.counts["samples"] == 3 * 16 + 3 * 50 and p.work == 198


def test_bad_input(digits):
    x, Y = np.zeros(64), np.zeros((2, 64))
    with pytest.raises(ValueError, match="blocks"):
        digits.grad_y_g(np.array([0, 10]), x, Y)
    with pytest.raises(ValueError, match="batch"):
        digits.grad_y_g(np.array([0, 1]), x, Y, np.array([[0, 1], [2, 100]]))
    with pytest.raises(ValueError, match="batch_size"):
        digits.sample_lower(np.array([0, 1]), 101, np.random.default_rng(0))
    with pytest.raises(ValueError, match="Y"):
        digits.grad_y_g(np.array([0, 1]), x, np.zeros((3, 64)))
    A = np.ones((2, 5, 3))
    bad = A.copy()
    bad[1, 2, 0] = np.nan
    with pytest.raises(ValueError, match="A_train"):
        MultiTaskRidge(bad, np.ones((2, 5)), A, np.ones((2, 5)))
    with pytest.raises(ValueError, match="mu"):
        MultiTaskRidge(A, np.ones((2, 5)), A, np.ones((2, 5)), mu=0.0)
    with pytest.raises(ValueError, match="mu_g"):
        QuadraticBilevel(mu_g=-1.0)
    with pytest.raises(ValueError, match="split"):
        HyperparameterLogistic.a8a("oficial")


def test_sigma_loader_names_the_line(tmp_path):
    from problems.bilevel import load_sigmas

    assert load_sigmas().shape == (100,) and np.all(load_sigmas() > 1.0)
    bad = tmp_path / "sigmas.txt"
    bad.write_text("1.5\nabc\n")
    with pytest.raises(ValueError, match=r"sigmas.txt:2"):
        load_sigmas(bad)
    for text in ("1.5\n2.0\ninf\n", "1.5\n-2\n"):
        bad.write_text(text)
        with pytest.raises(ValueError, match=r"sigmas.txt:[23]: a temperature must be a finite positive"):
            load_sigmas(bad)
    X = np.zeros((4, 3))
    with pytest.raises(ValueError, match="finite positive temperatures"):
        HyperparameterLogistic(X, [1, -1, 1, 1], X, [1, 1, 1, -1], [1.0, np.inf])
    with pytest.raises(ValueError, match="b_train"):
        X = np.zeros((4, 3))
        HyperparameterLogistic(X, [1, -1, 2, 1], X, [1, 1, 1, -1], [1.0, 2.0])


@pytest.mark.parametrize("full", [False, True])
def test_fused_hessian_pair_equals_two_hessians(reduced, full):
    """The fused a H(x, Y) + b H(xp, Yp) (one Gram product) equals the two dense Hessians combined, and is
    charged as two Hessian calls."""
    rng = np.random.default_rng(5)
    J = np.array([0, 3, 4])
    x, xp = rng.normal(size=reduced.dim_x), rng.normal(size=reduced.dim_x)
    Y, Yp = rng.normal(size=(3, reduced.dim_y)), rng.normal(size=(3, reduced.dim_y))
    batch = None if full else reduced.sample_lower(J, 40, rng)
    expect = 1.9 * reduced.hess_yy_g(J, x, Y, batch) - 1.0 * reduced.hess_yy_g(J, xp, Yp, batch)
    before = reduced.counts["hess_yy_g"]
    got = reduced.hess_yy_g_pair(J, x, Y, xp, Yp, 1.9, -1.0, batch)
    assert reduced.counts["hess_yy_g"] - before == 2 * len(J)
    assert np.allclose(got, expect, rtol=1e-12, atol=1e-14 * np.abs(expect).max())
