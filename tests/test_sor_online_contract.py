"""SOR family contract: divergence reported as such, honest online stopping, no mutation of the
caller's sequence or solver, explicit cost tables, clear errors."""

import copy
import math

import numpy as np
import pytest
import scipy.sparse as sp

import optim
import optim.linear as L
from problems import HeatEquationSequence, ShiftedLaplacianSequence, ShiftedSequence, poisson2d


def test_divergent_sor_returns_diverged_with_last_finite_iterate():
    A = np.array([[1.0, 3.0], [3.0, 1.0]])  # Jacobi/SOR iteration matrix with spectral radius > 1
    res = L.sor(A, np.ones(2), 1.0)
    assert res.status == "diverged" and not res.converged and not res.success
    assert np.all(np.isfinite(res.x)) and math.isfinite(res.residual) and res.nit < 10_000
    # the returned iterate is the one after res.nit sweeps: recompute it independently
    x = np.zeros(2)
    lower = np.tril(A)
    for _ in range(res.nit):
        x = x + np.linalg.solve(lower, np.ones(2) - A @ x)
    np.testing.assert_allclose(res.x, x, rtol=1e-12)
    assert "last finite iterate" in res.message


def test_converging_sor_is_unchanged_by_the_guard():
    A = (poisson2d(6) + 0.1 * sp.identity(36)).tocsr()
    res = L.sor(A, np.ones(36), 1.5)
    assert res.status == "converged" and res.message.startswith("converged: relative residual")
    assert np.linalg.norm(np.ones(36) - A @ res.x) < 1e-8 * 6


def test_diverged_solves_cost_the_cap_in_a_cost_table():
    A = sp.csr_matrix(np.array([[1.0, 3.0], [3.0, 1.0]]))
    res = L.sor(A, np.ones(2), 1.0, max_iter=500)
    assert L.table.charged_iterations(res, 500) == 500


def test_online_run_ends_when_the_sequence_is_exhausted_without_mutating_anything():
    seq = ShiftedLaplacianSequence(variance="low", T=25, seed=2)
    before = copy.deepcopy(vars(seq))
    solver = optim.make_solver("tsallis-inf", seed=0)
    max_iter = solver.max_iter
    table = L.cost_table(seq)
    assert not hasattr(seq, "known_table")
    run = solver.solve(seq)
    assert solver.max_iter == max_iter  # the solver's options are not rewritten
    assert run.status == "max_iter" and run.nit == 25 and run.message.startswith("sequence exhausted")
    assert math.isnan(run.optimality) and "regret" not in run.report
    with_table = optim.solve(seq, method="tsallis-inf", seed=0, table=table)
    np.testing.assert_array_equal(with_table.history["omega"], run.history["omega"])
    prefix_best = np.cumsum(table.costs, axis=0).min(axis=1)
    np.testing.assert_array_equal(with_table.history["regret"][1:], with_table.history["cumulative"][1:] - prefix_best)
    capped = optim.solve(seq, method="tsallis-inf", seed=0, max_iter=10)
    assert capped.nit == 10 and capped.message == optim.STATUS_MESSAGES["max_iter"]
    after = vars(seq)
    assert set(after) == set(before)
    for key, value in before.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(after[key], value)
    # the oracle takes its omega from the given table (no solves of its own)
    oracle = optim.solve(seq, method="best-fixed-omega", table=table)
    assert np.all(oracle.history["omega"][1:] == table.best_fixed()[0]) and oracle.report["regret"] == 0


def test_mismatched_table_and_tol_are_handled():
    seq = ShiftedLaplacianSequence(variance="low", T=5, seed=2)
    other = L.cost_table(ShiftedLaplacianSequence(variance="low", T=6, seed=2))
    with pytest.raises(ValueError, match="table does not match this run"):
        optim.solve(seq, method="fixed-omega", table=other)
    with pytest.raises(TypeError, match="table must be an optim.linear.CostTable"):
        optim.solve(seq, method="fixed-omega", table=np.zeros((5, 20)))
    # no stopping error: a tol never ends an online pass early
    assert optim.solve(seq, method="fixed-omega", tol=1e9).nit == 5


def test_empty_shifts_name_the_argument():
    with pytest.raises(ValueError, match="shifts must hold at least one shift"):
        ShiftedSequence(poisson2d(4), shifts=[])


def test_online_compare_plot_uses_instances_on_linear_axes(tmp_path):
    seq = ShiftedLaplacianSequence(variance="high", T=20, seed=0)
    table = L.cost_table(seq)
    comp = optim.compare({"seq": table}, ["tsallis-inf", "chebcb"], seeds=[0, 1])
    assert all(r["kind"] == "online" for r in comp.records)
    from optim.plotting import plot_runs

    fig = plot_runs(comp.records, "sor")
    left, right = fig.axes
    assert left.get_xlabel() == "instances solved" and left.get_yscale() == "linear"
    assert right.get_ylabel() == "regret (iterations)" and right.get_yscale() == "linear"
    assert len(comp.plot(tmp_path)) == 1


def test_table_of_another_sequence_with_the_same_length_and_grid_is_refused():
    seq = ShiftedLaplacianSequence(variance="low", T=5, seed=2)
    same = L.cost_table(ShiftedLaplacianSequence(variance="low", T=5, seed=2))
    other_seed = L.cost_table(ShiftedLaplacianSequence(variance="low", T=5, seed=3))
    other_rtol = L.cost_table(ShiftedLaplacianSequence(variance="low", T=5, seed=2, rtol=1e-6))
    assert other_seed.T == seq.T and np.array_equal(other_seed.grid, seq.grid)
    for other in (other_seed, other_rtol):
        with pytest.raises(ValueError, match="table was built from another sequence"):
            optim.solve(seq, method="fixed-omega", table=other)
    # a hand-built table records no sequence: it replays, but cannot vouch for a live run's regret
    bare = L.CostTable(same.costs, same.grid, same.contexts, method="sor")
    assert optim.solve(bare, method="fixed-omega").nit == 5
    with pytest.raises(ValueError, match="records no sequence fingerprint"):
        optim.solve(seq, method="fixed-omega", table=bare)
    run = optim.solve(seq, method="fixed-omega", table=same)
    assert run.report["regret"] == run.fun - same.totals().min()
    # heat sequences: the time step is part of the identity; a live pass yields the same systems
    heat = HeatEquationSequence(nx=5, T=3)
    assert L.sequence_fingerprint(heat) == L.sequence_fingerprint(HeatEquationSequence(nx=5, T=3))
    assert L.sequence_fingerprint(heat) != L.sequence_fingerprint(HeatEquationSequence(nx=5, T=3, dt=2e-3))
    # a sequence without its own fingerprint() is identified by one pass over its instances

    class Plain:
        def __init__(self, seed):
            self.inner = ShiftedLaplacianSequence(variance="low", T=4, seed=seed)
            self.T, self.grid, self.method = 4, self.inner.grid, "sor"

        def instances(self):
            return self.inner.instances()

    assert L.sequence_fingerprint(Plain(0)) == L.sequence_fingerprint(Plain(0))
    assert L.sequence_fingerprint(Plain(0)) != L.sequence_fingerprint(Plain(1))
