"""SOR / SSOR-CG against independent references: textbook values, pyamg's compiled sweep, a plain
dense reference loop, scipy's CG with an independently built preconditioner, closed-form spectra."""

import math

import numpy as np
import pyamg
import pytest
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from hypothesis import given, settings
from hypothesis import strategies as st
from pyamg.relaxation.relaxation import sor as pyamg_sor

import optim.linear as L
from problems.linear_systems import poisson2d

WIKI_A = np.array([[4, -1, -6, 0], [-5, -4, 10, 8], [0, 9, 4, -2], [1, 0, -7, 5]], dtype=float)
WIKI_B = np.array([2, 21, -12, -6], dtype=float)


def reference_sor_count(A, b, omega, eps=1e-8, kmax=10_000):
    """The official SOR iteration count with dense triangular solves: x += (D/omega + L)^{-1} (b - A x)."""
    A = np.asarray(A.todense() if sp.issparse(A) else A)
    M = np.tril(A, -1) + np.diag(np.diag(A)) / omega
    x = np.zeros(len(b))
    r = b - A @ x
    nrm0 = np.linalg.norm(r)
    for k in range(1, kmax + 1):
        x = x + sla.solve_triangular(M, r, lower=True)
        r = b - A @ x
        if np.linalg.norm(r) / nrm0 < eps:
            return k
    return kmax


def pyamg_sor_count(A, b, omega, eps=1e-8, kmax=10_000):
    """The same loop over pyamg's compiled forward SOR sweep (fixed in pyamg >= 5.4, issue #410)."""
    x = np.zeros(len(b))
    nrm0 = np.linalg.norm(b)
    for k in range(1, kmax + 1):
        pyamg_sor(A, x, b, omega, iterations=1)
        if np.linalg.norm(b - A @ x) / nrm0 < eps:
            return k
    return kmax


def test_first_sor_iterate_textbook_example():
    x1 = L.sor(WIKI_A, WIKI_B, 0.5, max_iter=1).x
    np.testing.assert_allclose(x1, [0.25, -2.78125, 1.62890625, 0.515234375], atol=1e-12, rtol=0)
    res = L.sor(WIKI_A, WIKI_B, 0.5)
    assert res.converged and res.residual < 1e-8
    np.testing.assert_allclose(res.x, [3, -2, 2, 1], atol=1e-6)


def test_pyamg_docstring_residual_and_poisson_matrix():
    A = pyamg.gallery.poisson((10, 10), format="csr")
    assert abs(A - poisson2d(10)).max() == 0
    res = L.sor(A, np.ones(100), 1.33, rtol=1e-300, max_iter=10)
    assert res.nit == 10 and not res.converged
    assert abs(np.linalg.norm(np.ones(100) - A @ res.x) - 2.0132400778) < 1e-9


# published reference counts of SOR on poisson((10,10)) + c I, b = ones (computed independently)
A3 = {-0.15: [2927, 1950, 1252, 724, 293, 392], 0.0: [223, 145, 88, 43, 89, 383], 0.45: [64, 39, 25, 42, 89, 379]}
A3_OMEGAS = [1.0, 1.2, 1.4, 1.6, 1.8, 1.95]


@pytest.mark.parametrize("c", sorted(A3))
def test_sor_counts_equal_reference_loop_and_pyamg(c):
    A = (poisson2d(10) + c * sp.identity(100)).tocsr()
    b = np.ones(100)
    ours = [L.sor(A, b, w).nit for w in A3_OMEGAS]
    assert ours == [reference_sor_count(A, b, w) for w in A3_OMEGAS]
    assert ours == [pyamg_sor_count(A, b, w) for w in A3_OMEGAS]
    assert ours == A3[c]


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 12), seed=st.integers(0, 2**16), omega=st.floats(0.05, 1.95))
def test_one_sweep_equals_the_splitting_formula(n, seed, omega):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, n)) * (rng.random((n, n)) < 0.5)
    A[np.diag_indices(n)] = rng.uniform(1, 3, n) * rng.choice([-1, 1], n)
    b, x0 = rng.standard_normal(n), rng.standard_normal(n)
    x0_copy = x0.copy()
    x1 = L.sor(A, b, omega, x0=x0, max_iter=1).x
    expected = x0 + sla.solve_triangular(np.tril(A, -1) + np.diag(np.diag(A)) / omega, b - A @ x0, lower=True)
    np.testing.assert_allclose(x1, expected, rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(x0, x0_copy)  # the caller's start is not mutated


def test_capped_run_is_reported():
    A = (poisson2d(10) - 0.15 * sp.identity(100)).tocsr()
    res = L.sor(A, np.ones(100), 1.0, max_iter=100)
    assert res.nit == 100 and not res.converged and res.status == "max_iter" and res.residual > 1e-8


# ------------------------------------------------------------------------------------ spectra
def test_spectral_formulas_closed_form_and_dense_eigenvalues():
    A = poisson2d(10)
    beta = L.rho_jacobi(A)
    assert abs(beta - math.cos(math.pi / 11)) < 1e-10
    assert abs(L.young_omega(beta) - 2 / (1 + math.sin(math.pi / 11))) < 1e-10
    Ad = A.toarray()
    for omega, expected in [(1.0, beta**2), (L.young_omega(beta), 0.5604), (1.8, 0.8)]:
        C = np.eye(100) - np.linalg.solve(np.tril(Ad, -1) + np.diag(np.diag(Ad)) / omega, Ad)
        rho = np.abs(np.linalg.eigvals(C)).max()
        assert abs(rho - expected) < 1e-4 and abs(L.young_rho(omega, beta) - rho) < 1e-3
    for c, w_star in [(-0.15, 1.8536), (0.45, 1.3279)]:
        beta_c = L.rho_jacobi(A + c * sp.identity(100))
        assert abs(beta_c - 3.83797 / (4 + c)) < 1e-5
        assert abs(L.young_omega(beta_c) - w_star) < 1e-4


def test_rho_jacobi_sparse_path_matches_closed_form():
    m = 30  # n = 900 > 500 uses eigsh
    assert abs(L.rho_jacobi(poisson2d(m)) - math.cos(math.pi / (m + 1))) < 1e-8


# ------------------------------------------------------------------------------------ SSOR-CG
def independent_ssor(A, omega, variant):
    """M^{-1} as dense triangular solves (scipy.linalg), built from the matrix formula."""
    Ad = A.toarray()
    D = np.diag(np.diag(Ad))
    Lw, Uw = D + omega * np.tril(Ad, -1), D + omega * np.triu(Ad, 1)
    first, second = (Uw, Lw) if variant == "code" else (Lw, Uw)
    low_first = variant != "code"

    def apply(r):
        y = sla.solve_triangular(first, np.ravel(r), lower=low_first)
        return omega * (2 - omega) * sla.solve_triangular(second, D @ y, lower=not low_first)

    return spla.LinearOperator(A.shape, matvec=apply, dtype=float)


def scipy_count(A, b, M=None):
    count = [0]
    _, info = spla.cg(
        A,
        b,
        x0=np.zeros(len(b)),
        rtol=1e-8,
        atol=0.0,
        maxiter=10_000,
        M=M,
        callback=lambda xk: count.__setitem__(0, count[0] + 1),
    )
    assert info == 0
    return count[0]


# SSOR-CG on pyamg's gallery and example matrices, omegas of the official experiments. The counts are
# compared with scipy's cg run live on the same machine (BLAS kernels and thread counts change a count
# by one where a residual sits near the tolerance, so no count is hard-coded).
A5 = ("poisson10", "poisson24", "airfoil", "bar")
A5_OMEGAS = [1.0, 1.3, 1.5, 1.75, 1.95]


def a5_matrix(name):
    if name.startswith("poisson"):
        m = int(name[len("poisson") :])
        return pyamg.gallery.poisson((m, m), format="csr")
    return sp.csr_matrix(pyamg.gallery.load_example(name)["A"])


@pytest.mark.parametrize("name", A5)
def test_ssor_cg_counts_equal_scipy_cg(name):
    A = a5_matrix(name)
    b = np.ones(A.shape[0])
    assert L.cg(A, b).nit == scipy_count(A, b)
    counts = {}
    for variant in ("code", "textbook"):
        counts[variant] = [L.ssor_cg(A, b, w, variant=variant).nit for w in A5_OMEGAS]
        assert counts[variant] == [scipy_count(A, b, independent_ssor(A, w, variant)) for w in A5_OMEGAS]
    # the two orderings (transposed preconditioners) differ by at most one iteration (docs/sor.md)
    assert max(abs(c - t) for c, t in zip(counts["code"], counts["textbook"], strict=True)) <= 1


def test_ssor_cg_solves_and_warm_start_zero_iterations():
    A = a5_matrix("airfoil")
    b = np.ones(A.shape[0])
    res = L.ssor_cg(A, b, 1.3)
    assert res.converged and np.linalg.norm(b - A @ res.x) <= 1e-7 * np.linalg.norm(b)
    exact = spla.spsolve(A.tocsc(), b)
    assert L.ssor_cg(A, b, 1.3, x0=exact).nit == 0


def test_ssor_preconditioner_equals_independent_operator():
    A = a5_matrix("bar")
    r = np.random.default_rng(0).standard_normal(A.shape[0])
    for variant in ("code", "textbook"):
        np.testing.assert_allclose(
            L.ssor_preconditioner(A, 1.4, variant).matvec(r),
            independent_ssor(A, 1.4, variant).matvec(r),
            rtol=1e-10,
            atol=1e-12,
        )


# ------------------------------------------------------------------------------------ bad input
def test_bad_input_clear_errors():
    A = poisson2d(4)
    b = np.ones(16)
    with pytest.raises(ValueError, match="square"):
        L.sor(np.ones((3, 4)), np.ones(3), 1.0)
    with pytest.raises(ValueError, match="square"):
        L.ssor_cg(np.ones((3, 4)), np.ones(3), 1.0)
    Z = A.toarray()
    Z[2, 2] = 0.0
    with pytest.raises(ValueError, match="zero on the diagonal.*row 2"):
        L.sor(Z, b, 1.0)
    indefinite = np.array([[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(ValueError, match="positive definite"):
        L.ssor_cg(indefinite, np.ones(2), 1.0)
    with pytest.raises(ValueError, match="symmetric"):
        L.ssor_cg(WIKI_A, WIKI_B, 1.0)
    for omega in (0.0, 2.0, -0.5, 2.5, float("nan")):
        with pytest.raises(ValueError, match="omega"):
            L.sor(A, b, omega)
        with pytest.raises(ValueError, match="omega"):
            L.ssor_cg(A, b, omega)
    bad_b = b.copy()
    bad_b[3] = np.nan
    with pytest.raises(ValueError, match="b contains NaN"):
        L.sor(A, bad_b, 1.0)
    with pytest.raises(ValueError, match="b contains NaN"):
        L.ssor_cg(A, bad_b, 1.0)
    with pytest.raises(ValueError, match="b must have length 16"):
        L.sor(A, np.ones(5), 1.0)
    with pytest.raises(TypeError, match="omega must be a real number"):
        L.sor(A, b, "1.5")


def test_large_indefinite_matrix_caught_during_cg():
    n = 2500  # above the dense Cholesky limit: the curvature certificate p^T A p <= 0 fires
    A = sp.lil_matrix(sp.identity(n) + 1e-3 * sp.eye(n, k=1) + 1e-3 * sp.eye(n, k=-1))
    A[n - 2, n - 1] = A[n - 1, n - 2] = 2.0  # the block [[1, 2], [2, 1]] has eigenvalue -1
    with pytest.raises(ValueError, match="not positive definite: CG met a direction"):
        L.ssor_cg(A.tocsr(), np.ones(n), 1.0)


def test_start_at_the_solution_is_converged_at_zero_iterations():
    """A start within rounding of the solution cannot pass a relative test (the residual is rounding
    noise): the absolute floor makes it converged after 0 iterations instead of burning max_iter."""
    A = poisson2d(8)
    b = np.random.default_rng(0).standard_normal(A.shape[0])
    exact = spla.spsolve(A.tocsc(), b)
    res = L.sor(A, b, 1.5, x0=exact, max_iter=50)
    assert (res.status, res.nit, res.converged) == ("converged", 0, True)
    # b = A x0 exactly (integer data): a zero initial residual, converged at nit 0 with residual 0
    ones = np.ones(A.shape[0])
    res = L.sor(A, A @ ones, 1.5, x0=ones, max_iter=50)
    assert (res.status, res.nit, res.residual) == ("converged", 0, 0.0)
    np.testing.assert_array_equal(res.x, ones)
    # CG: an rtol below rounding would otherwise iterate on noise
    for run in (
        lambda: L.cg(A, b, x0=exact, rtol=1e-30, max_iter=50),
        lambda: L.ssor_cg(A, b, 1.5, x0=exact, rtol=1e-30),
    ):
        res = run()
        assert (res.status, res.nit) == ("converged", 0)
    # an ordinary run from 0 is untouched by the floor: the official count
    assert L.sor(A, b, 1.5).nit == reference_sor_count(A, b, 1.5)
