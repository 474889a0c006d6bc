"""Samplers checked against exact enumeration, dwave-samplers, published optima and closed forms."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla
import scipy.sparse as sp
from dwave.samplers import SimulatedAnnealingSampler
from published_optima import MIS_OPT

from problems import MIS, instance_path, list_instances
from quantum import QUBO, encode_lagrangian
from quantum.samplers import QAOA, VQE, Exact, ParallelTempering, SimulatedAnnealing, Tabu, default_beta_range
from quantum.samplers.variational import cvar


def random_qubo(n, density, seed, sparse=True):
    rng = np.random.default_rng(seed)
    quad = sp.random(n, n, density=density, random_state=seed, format="csr")
    quad.data = rng.normal(size=quad.nnz)
    quad = sp.triu(quad + quad.T, 1).tocsr()
    return QUBO(rng.normal(size=n), quad if sparse else quad.toarray())


def test_simulated_annealing_finds_every_mis_optimum():
    """Acceptance: 100 reads x 1000 sweeps, seed 0, on -sum x + 2 sum_E x_u x_v."""
    files = list_instances("mis") + list_instances("mis_qoblib")
    assert len(files) == 16
    sa = SimulatedAnnealing()
    for f in files:
        p = MIS.from_file(f)
        best = sa.sample(encode_lagrangian(p, 2.0).qubo, num_reads=100, num_sweeps=1000, seed=0).first
        assert p.is_feasible(best.sample) and p.objective(best.sample) == MIS_OPT[p.name], p.name
        assert best.energy == -MIS_OPT[p.name]


def test_simulated_annealing_matches_dwave_samplers():
    q = random_qubo(150, 0.1, 7)
    br = default_beta_range(q)
    from dwave.samplers.sa.sampler import default_beta_range as dwave_range

    np.testing.assert_allclose(br, dwave_range(q.to_dimod()), rtol=1e-12)
    ours = SimulatedAnnealing().sample(q, num_reads=64, num_sweeps=1000, seed=1)
    theirs = SimulatedAnnealingSampler().sample(
        q.to_dimod(), num_reads=64, num_sweeps=1000, seed=1, beta_range=br, beta_schedule_type="geometric"
    )
    assert ours.first.energy == pytest.approx(theirs.first.energy, abs=1e-9)
    # same schedule, same distribution: mean energies agree within noise
    mean_ours = np.repeat(ours.energies, ours.num_occurrences).mean()
    assert abs(mean_ours - theirs.record.energy.mean()) < 0.01 * abs(theirs.first.energy)
    np.testing.assert_allclose(ours.energies, q.energies(ours.samples))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_heuristic_samplers_reach_the_exact_ground_state(seed):
    q = random_qubo(14, 0.4, seed, sparse=bool(seed % 2))
    ground = Exact().sample(q).first.energy
    assert SimulatedAnnealing().sample(q, num_reads=20, num_sweeps=500, seed=seed).first.energy == pytest.approx(ground)
    assert ParallelTempering().sample(q, num_reads=4, num_sweeps=300, seed=seed).first.energy == pytest.approx(ground)
    assert Tabu().sample(q, num_reads=10, seed=seed).first.energy == pytest.approx(ground)


def test_samplers_are_reproducible_and_validate():
    q = random_qubo(40, 0.2, 3)
    for sampler in (SimulatedAnnealing(), ParallelTempering(), Tabu()):
        a = (
            sampler.sample(q, num_reads=8, num_sweeps=50, seed=5)
            if not isinstance(sampler, Tabu)
            else sampler.sample(q, num_reads=8, num_iterations=200, seed=5)
        )
        b = (
            sampler.sample(q, num_reads=8, num_sweeps=50, seed=5)
            if not isinstance(sampler, Tabu)
            else sampler.sample(q, num_reads=8, num_iterations=200, seed=5)
        )
        np.testing.assert_array_equal(a.samples, b.samples)
        assert a.num_reads == 8
        assert list(a.energies) == sorted(a.energies)
    with pytest.raises(ValueError, match="num_sweep"):
        SimulatedAnnealing().sample(q, num_sweep=10)
    with pytest.raises(ValueError, match="num_reads"):
        SimulatedAnnealing().sample(q, num_reads=0)
    with pytest.raises(ValueError, match="initial_states"):
        SimulatedAnnealing().sample(q, initial_states=np.ones((2, 3)))
    with pytest.raises(ValueError, match="capped at 22"):
        Exact().sample(random_qubo(23, 0.2, 0))
    with pytest.raises(TypeError, match="seed"):
        SimulatedAnnealing().sample(q, seed="x")
    init = np.zeros((1, 40), dtype=np.int8)
    SimulatedAnnealing().sample(q, num_sweeps=5, initial_states=init, seed=0)
    assert not init.any()  # caller's array untouched


def test_sample_set_is_dimod_compatible():
    q = random_qubo(10, 0.3, 0)
    ss = SimulatedAnnealing().sample(q.to_dimod(), num_reads=30, num_sweeps=100, seed=0)
    ds = ss.to_dimod()
    assert ds.first.energy == pytest.approx(ss.first.energy)
    assert [ds.first.sample[i] for i in range(10)] == list(ss.first.sample)
    assert sum(ds.record.num_occurrences) == 30


def test_exact_separable_qubo_in_closed_form():
    lin = np.array([-1.0, 2.0, 0.0, -3.0] * 10)
    ss = Exact().sample(QUBO(lin))
    np.testing.assert_array_equal(ss.first.sample, lin < 0)
    assert ss.first.energy == lin[lin < 0].sum()


# ---------------------------------------------------------------------- QAOA / VQE
def maxcut_qubo(n, edges):
    lin, quad = np.zeros(n), np.zeros((n, n))
    for u, v in edges:  # cut(x) = sum_E x_u + x_v - 2 x_u x_v
        lin[u] += 1
        lin[v] += 1
        quad[min(u, v), max(u, v)] -= 2
    return QUBO(lin, quad)


def test_qaoa_p1_matches_the_closed_form_for_maxcut():
    """Wang, Hadfield, Jiang, Rieffel, PRA 97, 022304 (2018), Theorem 1, with triangles."""
    n, edges = 6, [(0, 1), (1, 2), (0, 2), (2, 3), (3, 4), (1, 4), (4, 5), (0, 5)]
    q = maxcut_qubo(n, edges)
    deg = np.bincount(np.ravel(edges), minlength=n)
    E = {frozenset(e) for e in edges}
    rng = np.random.default_rng(0)
    for g, b in rng.uniform(-np.pi, np.pi, (5, 2)):
        total = 0.0
        for u, v in edges:
            du, dv = deg[u] - 1, deg[v] - 1
            lam = sum(1 for w in range(n) if frozenset((u, w)) in E and frozenset((v, w)) in E)
            total += (
                0.5
                + 0.25 * np.sin(4 * b) * np.sin(g) * (np.cos(g) ** du + np.cos(g) ** dv)
                - 0.25 * np.sin(2 * b) ** 2 * np.cos(g) ** (du + dv - 2 * lam) * (1 - np.cos(2 * g) ** lam)
            )
        assert QAOA(1).expectation(q, [g], [b]) == pytest.approx(total, abs=1e-10)


def test_qaoa_statevector_matches_explicit_matrices():
    rng = np.random.default_rng(4)
    n = 4
    q = QUBO(rng.normal(size=n), np.triu(rng.normal(size=(n, n)), 1))
    X = np.array([[0, 1], [1, 0]])
    # qubit i is bit i of the basis index: it is the i-th factor from the right in the Kronecker product
    B = sum(np.kron(np.kron(np.eye(2 ** (n - 1 - i)), X), np.eye(2**i)) for i in range(n))
    idx = np.arange(2**n)
    C = np.diag(q.energies((idx[:, None] >> np.arange(n)) & 1))
    gam, bet = [0.4, -0.8], [0.3, 0.9]
    psi = np.full(2**n, 2 ** (-n / 2), dtype=complex)
    for g, b in zip(gam, bet, strict=False):
        psi = sla.expm(-1j * b * B) @ (sla.expm(-1j * g * C) @ psi)
    np.testing.assert_allclose(QAOA(2).statevector(q, gam, bet), psi, atol=1e-10)
    assert QAOA(2).expectation(q, gam, bet) == pytest.approx(float(np.real(psi.conj() @ C @ psi)))


def test_qaoa_and_vqe_sample_small_problems():
    p = MIS.from_file(instance_path("mis", "1tc.8.txt"))
    q = encode_lagrangian(p, 2.0).qubo
    ss = QAOA(2, maxiter=100).sample(q, num_reads=500, seed=0)
    assert ss.num_reads == 500 and ss.info["expectation"] < 0 and ss.first.energy == -4
    ss = VQE(reps=2, cvar_alpha=0.25, maxiter=150).sample(q, num_reads=200, seed=0)
    assert ss.first.energy == -4 and ss.info["loss"] <= ss.info["expectation"] + 1e-12
    with pytest.raises(ValueError, match="max_qubits"):
        QAOA(1, max_qubits=8).sample(random_qubo(9, 0.3, 0))


def test_cvar_matches_a_direct_computation():
    rng = np.random.default_rng(0)
    e = np.sort(rng.normal(size=50))
    p = rng.random(50)
    p /= p.sum()
    for alpha in (0.05, 0.25, 0.5, 1.0):
        # draw a fine grid of the quantile function and average its lowest alpha share
        u = (np.arange(200_000) + 0.5) / 200_000 * alpha
        quantile = e[np.minimum(np.searchsorted(np.cumsum(p), u), 49)]
        assert cvar(e, p, alpha) == pytest.approx(quantile.mean(), rel=1e-4, abs=1e-4)
    vqe = VQE(reps=1)
    q = random_qubo(5, 0.5, 1)
    from quantum.samplers import all_energies

    E = all_energies(q)
    th = np.random.default_rng(1).uniform(-3, 3, vqe.num_params(5))
    psi = vqe.state(E, th)
    assert np.linalg.norm(psi) == pytest.approx(1.0)
    assert vqe.loss(E, np.argsort(E), th) == pytest.approx(float(np.abs(psi) ** 2 @ E))
