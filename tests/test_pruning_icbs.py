"""Iterative CBS: monotone reconstruction BCD, cardinality at every step, schedule, tabu, bad input."""

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from problems.pruning import LayerPruning, NetworkPruning, swap_gap
from quantum.pruning import ICBS, Wanda, step_schedule
from quantum.pruning.blocks import LayerBlocks


def relu_layer(seed=0, m=12, n=48, N=200, density=0.5):
    rng = np.random.default_rng(seed)
    X = np.maximum(rng.normal(size=(N, n)) + rng.normal(size=n), 0.0)
    return LayerPruning(rng.normal(size=(m, n)), X, density=density)


def run_recording(solver, problem):
    seen = []
    solver.callback = lambda info: seen.append(np.array(info.x)) and False
    return solver.solve(problem), seen


@pytest.mark.parametrize("solver", ["swap_descent", "sa_card"])
def test_reconstruction_icbs_is_monotone_and_keeps_the_layer_count(solver):
    lp = relu_layer()
    icbs = ICBS(
        objective="reconstruction",
        block_size=32,
        epochs=3,
        steps_per_epoch=10,
        solver=solver,
        check_every=1,
        seed=0,
        verbose=False,
    )
    res, seen = run_recording(icbs, lp)
    errors = res.history["fun"]
    assert np.all(np.diff(errors) <= 1e-12 * errors[0])
    assert errors[-1] < errors[0]  # and it improves on its Wanda start
    kept = {int(x.sum()) for x in seen}
    assert kept == {res.per_layer["layer"]["kept"]}
    wanda = Wanda(density=0.5, sequential=False, verbose=False).solve(lp)
    assert res.fun < wanda.fun


def test_row_scope_keeps_every_row_count():
    lp = relu_layer(1, density=0.3)
    icbs = ICBS(objective="reconstruction", block_size=12, block_scope="row", epochs=1, check_every=1, verbose=False)
    res, seen = run_recording(icbs, lp)
    rows = {tuple(x.reshape(12, 48).sum(axis=1)) for x in seen}
    assert len(rows) == 1 and res.nit == 12
    assert len({entry["layer"] for entry in res.log}) == 1


def test_taylor_icbs_on_a_layer_with_gradients_keeps_cardinality():
    rng = np.random.default_rng(2)
    lp = LayerPruning(rng.normal(size=(6, 20)), rng.normal(size=(40, 20)), grads=rng.normal(size=(30, 6, 20)))
    res, seen = run_recording(ICBS(block_size=16, epochs=2, steps_per_epoch=5, check_every=1, verbose=False), lp)
    assert {int(x.sum()) for x in seen} == {60}
    assert all(entry["predicted_change"] <= 1e-9 for entry in res.log)


@settings(max_examples=25, deadline=None)
@given(
    sizes=st.lists(st.integers(10, 10**7), min_size=1, max_size=8),
    steps=st.integers(1, 60),
    min_steps=st.integers(0, 5),
    seed=st.integers(0, 100),
)
def test_schedule_sums_and_respects_minimum(sizes, steps, min_steps, seed):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        counts = step_schedule(sizes, steps, min_steps, np.random.default_rng(seed))
    assert counts.sum() == steps and np.all(counts >= 0)
    if len(sizes) * min_steps <= steps:
        assert np.all(counts >= min_steps)


def test_schedule_is_log10_proportional():
    counts = step_schedule([8192, 8192, 640], 30, 1, np.random.default_rng(0))
    assert counts.sum() == 30 and counts[0] == counts[1] > counts[2] >= 1


def test_tabu_blocks_avoid_recent_indices():
    rng = np.random.default_rng(0)
    w0 = rng.normal(size=(10, 30))
    blocks = LayerBlocks(w0, np.abs(w0), 0.5, "row", 0.0, 0.0)
    blocks.set_tabu(0.4, 16)
    assert blocks.tabu_len == 120
    history = []
    for _ in range(20):
        block, k = blocks.select(rng.random(300), 16, 8, "layer", rng)
        recent = set(history[-blocks.tabu_len :])
        assert not recent & set(block.tolist())
        assert np.all(blocks.pruned[block[:k]]) and not np.any(blocks.pruned[block[k:]])
        blocks.visited(block)
        history += block.tolist()


def test_fixing_fractions():
    w0 = np.random.default_rng(1).normal(size=(8, 50))
    blocks = LayerBlocks(w0, np.abs(w0), 0.5, "row", 0.42, 0.35)
    assert blocks.n_free == 8 * (50 - round(0.42 * 25) - round(0.35 * 25))
    a, free, pruned = np.abs(w0), blocks.free.reshape(8, 50), blocks.pruned.reshape(8, 50)
    for r in range(8):  # per row: the fixed pruned are the lowest scores, the fixed kept the highest
        assert a[r, ~free[r] & pruned[r]].max() <= a[r, free[r] & pruned[r]].min()
        assert a[r, ~free[r] & ~pruned[r]].min() >= a[r, free[r] & ~pruned[r]].max()


def tiny_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))


def test_bad_input_is_named():
    lp = relu_layer()
    X, y = torch.randn(20, 5), torch.randint(0, 3, (20,))
    for bad in (0.0, 1.5, -0.1):
        with pytest.raises(ValueError, match="density"):
            LayerPruning(np.ones((2, 2)), density=bad)
        with pytest.raises(ValueError, match="density"):
            ICBS(density=bad)
    with pytest.raises(ValueError, match="block_size .* larger than the .* free weights"):
        ICBS(objective="reconstruction", block_size=400, verbose=False).solve(lp)
    with pytest.raises(ValueError, match="k must be <= block_size"):
        ICBS(block_size=8, k=9)
    with pytest.raises(ValueError, match="layers must be one of"):
        NetworkPruning(tiny_model(), ["fc9"], data=(X, y))
    with pytest.raises(ValueError, match="no prunable layers"):
        NetworkPruning(torch.nn.Sequential(torch.nn.ReLU()), data=(X, y))
    X_nan = X.clone()
    X_nan[3, 2] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        NetworkPruning(tiny_model(), data=(X_nan, y))
    with pytest.raises(ValueError, match="inputs contains NaN"):
        LayerPruning(np.ones((2, 3)), np.full((4, 3), np.nan))
    with pytest.raises(ValueError, match="grads"):
        ICBS(verbose=False).solve(lp)  # taylor objective without gradients


def test_gradients_of_a_layer_agree_across_routes():
    X, y = torch.randn(30, 5, dtype=torch.float64), torch.randint(0, 3, (30,))
    p = NetworkPruning(tiny_model().double(), data=(X, y), batch_size=30)
    batch = p.batch(0)
    A, D = p.per_sample_factors("2", p.w0, batch)
    G = p.per_sample_grads("2", p.w0, batch)  # torch.func vmap(grad), an independent route
    np.testing.assert_allclose(np.einsum("sm,sn->smn", D, A).reshape(30, -1), G, atol=1e-12)
    block = np.array([0, 5, 9, 17])
    g, H = p.loss_hessian_block("2", p.w0, batch, block)
    np.testing.assert_allclose(g, G.mean(0)[block], atol=1e-12)
    eps, w = 1e-6, {k: v.copy() for k, v in p.w0.items()}  # central differences of the gradient
    w["2"].reshape(-1)[block[1]] += eps
    gp = p.per_sample_grads("2", w, batch).mean(0)[block]
    w["2"].reshape(-1)[block[1]] -= 2 * eps
    gm = p.per_sample_grads("2", w, batch).mean(0)[block]
    np.testing.assert_allclose(H[:, 1], (gp - gm) / (2 * eps), rtol=1e-5, atol=1e-8)


class CountingNetwork(NetworkPruning):
    """Counts the per-sample gradient oracles (the exact-Hessian path must not call them)."""

    per_sample_calls = 0

    def per_sample_grads(self, *args, **kwargs):
        CountingNetwork.per_sample_calls += 1
        return super().per_sample_grads(*args, **kwargs)

    def per_sample_factors(self, *args, **kwargs):
        CountingNetwork.per_sample_calls += 1
        return super().per_sample_factors(*args, **kwargs)


def test_exact_hessian_computes_no_per_sample_gradients_and_its_score_gradient_is_the_batch_mean():
    X, y = torch.randn(24, 5, dtype=torch.float64), torch.randint(0, 3, (24,))
    p = CountingNetwork(tiny_model().double(), data=(X, y), batch_size=12)
    CountingNetwork.per_sample_calls = 0
    res = ICBS(hessian="exact", block_size=8, epochs=1, steps_per_epoch=3, verbose=False, seed=0).solve(p)
    assert CountingNetwork.per_sample_calls == 0 and len(res.log) == 3
    batch = p.batch(1)
    np.testing.assert_allclose(  # the one-backward mean gradient against the vmap per-sample route
        p.loss_grad("2", p.w0, batch), p.per_sample_grads("2", p.w0, batch).mean(0), atol=1e-12
    )


class CountingMean(np.ndarray):
    """An array that counts the ``mean`` calls over all of its columns (a block's columns are a view
    with fewer columns: their O(N b) mean per block is expected)."""

    calls = 0
    columns = 0

    def mean(self, *args, **kwargs):
        CountingMean.calls += self.shape[-1] == CountingMean.columns
        return np.asarray(self).mean(*args, **kwargs)


def test_layer_gradient_mean_is_taken_once_not_per_block():
    rng = np.random.default_rng(2)
    lp = LayerPruning(rng.normal(size=(6, 20)), rng.normal(size=(40, 20)), grads=rng.normal(size=(30, 6, 20)))
    reference = ICBS(block_size=16, epochs=2, steps_per_epoch=5, verbose=False, seed=0).solve(lp)
    lp.grads = lp.grads.view(CountingMean)
    CountingMean.calls, CountingMean.columns = 0, lp.grads.shape[1]
    res = ICBS(block_size=16, epochs=2, steps_per_epoch=5, verbose=False, seed=0).solve(lp)
    assert CountingMean.calls == 1 and len(res.log) == 10
    np.testing.assert_array_equal(res.x, reference.x)  # same masks as without the counting


def test_unknown_solver_option_is_named():
    with pytest.raises(ValueError, match="solver_options has 'restart', which the 'sa_card' inner solver"):
        ICBS(solver="sa_card", solver_options={"restart": 3})
    with pytest.raises(ValueError, match="solver_options has 'seed'"):
        ICBS(solver_options={"seed": 1})
    assert ICBS(solver="sa_card", solver_options={"restarts": 3}).solver_options == {"restarts": 3}


@pytest.mark.parametrize("seed", range(30))
def test_cbs_scan_without_an_accepted_swap_keeps_the_mask(seed):
    """Duplicated weights make swaps whose change is exactly zero; with eps = 0 rounding can leave the
    window scan with no accepted swap. The selection then stops with the mask it has (no IndexError),
    keeps the pruned count and never raises Phi."""
    from quantum.pruning.cbs import cbs_select

    rng = np.random.default_rng(seed)
    N, p = int(rng.integers(3, 40)), int(rng.integers(4, 30))
    U = rng.standard_normal((N, p))
    k = p // 2
    U[:, k : 2 * k] = U[:, :k]
    pruned = np.zeros(p, dtype=bool)
    pruned[:k] = True
    _, phi0, phi = cbs_select(U, pruned, 0.0, 3, 2, 50)
    assert pruned.sum() == k and phi <= phi0 * (1 + 1e-9) + 1e-12
    # an optimal mask (the pruned set sums to zero) is kept as it is
    V = np.hstack([U[:, :2], -U[:, :2], U[:, :2] * 5])
    mask = np.array([True, True, True, True, False, False])
    assert cbs_select(V, mask, 0.0, 3, 2, 50)[0] == 0 and mask.tolist() == [True] * 4 + [False] * 2


def _best_single_swap_decrease(w0, keep, gram, same_row_only):
    """Brute force: the largest decrease of the layer's reconstruction error by one swap (0 if none)."""

    def error(mask):
        d = w0 * (1 - mask)
        return float(np.sum((d @ gram) * d))

    base, best = error(keep), 0.0
    for a in zip(*np.nonzero(keep == 0), strict=True):
        for b in zip(*np.nonzero(keep == 1), strict=True):
            if same_row_only and a[0] != b[0]:
                continue
            trial = keep.copy()
            trial[a], trial[b] = 1.0, 0.0
            best = max(best, base - error(trial))
    return best


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 4), st.integers(2, 5), st.integers(0, 10_000))
def test_swap_gap_equals_brute_force_for_row_and_layer_scopes(m, n, seed):
    rng = np.random.default_rng(seed)
    w0 = rng.normal(size=(m, n))
    X = rng.normal(size=(3 * n, n)) * rng.uniform(0.2, 3.0, size=n)
    gram = X.T @ X
    keep = (rng.random((m, n)) < 0.5).astype(float)
    scale = float(np.sum((np.abs(w0) @ np.abs(gram)) * np.abs(w0)))
    for scope, row_only in (("row", True), ("layer", False)):
        want = _best_single_swap_decrease(w0, keep, gram, row_only)
        assert abs(swap_gap(w0, keep, gram, scope=scope) - want) <= 1e-10 * scale


def test_layer_scope_icbs_does_not_claim_a_swap_local_optimum_that_a_layer_swap_improves():
    # the per-row Wanda start was within-row swap-optimal, so the run stopped "converged" at iteration 0
    # although a swap between rows (a move layer-scope iCBS makes) lowered the error by 6.5% of ||X W0^T||^2
    rng = np.random.default_rng(4)
    w0 = rng.standard_normal((5, 6)) * rng.uniform(0.2, 3, size=(5, 1))
    X = rng.standard_normal((30, 6)) @ np.diag(rng.uniform(0.2, 3, 6))
    lp = LayerPruning(w0, X, density=0.5)
    res = ICBS(objective="reconstruction", block_size=4, epochs=2, seed=4, verbose=False).solve(lp)
    gram = X.T @ X
    keep = np.asarray(res.x).reshape(w0.shape)
    gap = _best_single_swap_decrease(w0, keep, gram, same_row_only=False) / float(np.sum((w0 @ gram) * w0))
    assert res.optimality == pytest.approx(gap, abs=1e-12)
    assert res.status != "converged" or gap <= 1e-12


def test_default_blocks_take_all_free_weights_of_a_small_layer():
    # prune(model, d) refused any model whose head has fewer than 64 free weights (here 16 -> 3: 30 free);
    # with the default block size such a layer's block is all its free weights, as documented
    from quantum.pruning import prune

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    X, y = torch.randn(40, 8), torch.randint(0, 3, (40,))
    res = prune(model, 0.5, data=(X, y), epochs=1, steps_per_epoch=6, seed=0, verbose=False)
    assert res.per_layer["0"]["kept"] == 64 and res.per_layer["2"]["kept"] == 24
    assert {entry["layer"] for entry in res.log} == {"0", "2"}
