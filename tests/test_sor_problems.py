"""Sequence generators and the Matrix Market loader of problems.linear_systems."""

import math

import numpy as np
import pyamg
import pytest
import scipy.io
import scipy.sparse as sp
import scipy.stats

import optim.linear as L
from problems import HeatEquationSequence, ShiftedLaplacianSequence, load_matrix_market, poisson2d
from problems.catalog import make_problem


def test_poisson_matches_pyamg_and_kron_form():
    for m in (3, 10, 17):
        assert abs(poisson2d(m) - pyamg.gallery.poisson((m, m), format="csr")).max() == 0


def test_shifted_laplacian_sequence_distribution_and_spd():
    seq = ShiftedLaplacianSequence(variance="low", T=400, seed=3)
    c = seq.contexts
    assert c.min() >= -0.15 and c.max() <= 0.45
    # (c + 0.15) / 0.6 ~ Beta(2, 6) (low) and Beta(0.5, 1.5) (high): Kolmogorov-Smirnov
    assert scipy.stats.kstest((c + 0.15) / 0.6, scipy.stats.beta(2, 6).cdf).pvalue > 1e-3
    lam_min = 4 * (1 - math.cos(math.pi / 11))
    for t, (A, b, x0, ctx) in enumerate(seq):
        assert ctx == c[t] and np.all(x0 == 0) and b @ b <= 100
        if t < 3:
            assert abs(np.linalg.eigvalsh(A.toarray())[0] - (lam_min + ctx)) < 1e-10
    again = ShiftedLaplacianSequence(variance="low", T=400, seed=3)
    np.testing.assert_array_equal(again.right_hand_sides(), seq.right_hand_sides())
    assert not np.array_equal(ShiftedLaplacianSequence(variance="low", T=400, seed=4).contexts, c)
    high = ShiftedLaplacianSequence(variance="high", T=400, seed=3).contexts
    assert scipy.stats.kstest((high + 0.15) / 0.6, scipy.stats.beta(0.5, 1.5).cdf).pvalue > 1e-3
    assert scipy.stats.kstest((high + 0.15) / 0.6, scipy.stats.beta(2, 6).cdf).pvalue < 1e-6


def test_jacobi_radius_closed_form():
    seq = ShiftedLaplacianSequence(T=5, seed=0)
    for c in (-0.15, 0.0, 0.3):
        assert abs(seq.jacobi_radius(c) - 4 * math.cos(math.pi / 11) / (4 + c)) < 1e-12


def test_heat_sequence_matches_its_definition():
    seq = HeatEquationSequence(nx=10, T=20)
    assert seq.n == 81 and seq.contexts[0] == 0.0
    k = seq.kappa(np.linspace(0, 5, 5001))
    assert k.min() == 0.0 and abs(k.max() - 10.0) < 1e-9
    u0 = seq.initial_state()
    centre = np.argmin(((seq.points - 0.5) ** 2).sum(axis=1))
    assert abs(u0[centre] - 1.0) < 1e-12 and np.all(u0[((seq.points - 0.5) ** 2).sum(axis=1) >= 0.25**2] == 0)
    u = u0
    for t, (A, b, x0, _ctx) in enumerate(seq):
        h = (t + 0.5) * seq.dt
        lap = -poisson2d(9).toarray() / seq.dx**2
        A_ref = np.eye(81) - 0.5 * seq.dt * seq.kappa(h) * lap
        b_ref = (np.eye(81) + 0.5 * seq.dt * seq.kappa(h) * lap) @ u + seq.dt * seq.forcing(h)
        np.testing.assert_allclose(A.toarray(), A_ref, atol=1e-12)
        np.testing.assert_allclose(b, b_ref, atol=1e-12)
        np.testing.assert_allclose(x0, u, rtol=1e-10, atol=1e-14)  # the state: the last exact solution
        u = np.linalg.solve(A_ref, b_ref)


def test_catalog_entries_build():
    seq = make_problem("shifted-laplacian-low", T=10)
    assert seq.T == 10 and seq.method == "sor"
    assert make_problem("heat-equation", T=5).method == "ssor-cg"


def test_matrix_market_round_trip(tmp_path):
    A = sp.csr_matrix(pyamg.gallery.load_example("airfoil")["A"])
    path = tmp_path / "airfoil.mtx"
    scipy.io.mmwrite(path, A, symmetry="symmetric")
    B = load_matrix_market(path)
    assert abs(A - B).max() < 1e-12 * abs(A).max()
    b = np.ones(A.shape[0])
    assert L.ssor_cg(B, b, 1.3).nit == L.ssor_cg(A, b, 1.3).nit
    general = sp.random(7, 5, density=0.5, random_state=0, format="csr")
    scipy.io.mmwrite(tmp_path / "g.mtx", general)
    assert abs(load_matrix_market(tmp_path / "g.mtx") - general).max() < 1e-12
    scipy.io.mmwrite(tmp_path / "d.mtx", np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(load_matrix_market(tmp_path / "d.mtx").toarray(), np.arange(6.0).reshape(2, 3))


@pytest.mark.parametrize(
    "text, message",
    [
        ("%%MatrixMarket tensor coordinate real general\n2 2 1\n1 1 1.0\n", "line 1: banner"),
        ("hello\n2 2 1\n1 1 1.0\n", "line 1: expected a '%%MatrixMarket"),
        ("%%MatrixMarket matrix coordinate complex general\n2 2 1\n1 1 1.0 0.0\n", "unsupported field 'complex'"),
        ("%%MatrixMarket matrix coordinate real general\n% note\n2 x 1\n1 1 1.0\n", "line 3: size line"),
        ("%%MatrixMarket matrix coordinate real general\n2 2 2\n1 1 1.0\n", "announces 2 entries"),
        ("%%MatrixMarket matrix coordinate real general\n2 2 2\n1 1 1.0\n3 1 2.0\n", r"line 4: index \(3, 1\)"),
        ("%%MatrixMarket matrix coordinate real general\n2 2 2\n1 1 1.0\n2 2 abc\n", "line 4: value 'abc'"),
        ("%%MatrixMarket matrix coordinate real general\n2 2 1\n1 1\n", "line 3: expected 3 fields"),
        ("%%MatrixMarket matrix array real general\n2 2\n1\n2\n3\n", "needs 4 values"),
    ],
)
def test_matrix_market_malformed_files_name_the_line(tmp_path, text, message):
    path = tmp_path / "bad.mtx"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_matrix_market(path)
