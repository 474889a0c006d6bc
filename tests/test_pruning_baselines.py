"""Magnitude, Wanda and SparseGPT against independent transcriptions of their published rules."""

import math

import numpy as np
import pytest
import torch

from problems.pruning import LayerPruning, pruned_count
from quantum.pruning import Magnitude, SparseGPT, Wanda, prune, sparsegpt_layer


def layer(seed=0, m=16, n=40, N=120):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, n)) * rng.uniform(0.1, 3.0, size=n)
    return rng.normal(size=(m, n)), X


def test_rounding_rule_avoids_float_traps():
    assert pruned_count(100, 0.9) == 10  # int(100 * (1 - 0.9)) would give 9
    assert pruned_count(64, 0.3) == 44 and pruned_count(640, 0.3) == 448 and pruned_count(7, 1.0) == 0


def test_wanda_equals_transcription_per_row():
    W, X = layer()
    for d in (0.7, 0.5, 0.3):
        res = Wanda(density=d, verbose=False).solve(LayerPruning(W, X))
        # Sun et al. (2024): metric |W| * ||X_j||_2, sort each row, prune the lowest int(n * sparsity)
        metric = np.abs(W) * np.linalg.norm(X, axis=0)[None, :]
        expect = np.ones_like(W, dtype=bool)
        for r in range(W.shape[0]):
            expect[r, np.argsort(metric[r], kind="stable")[: math.floor(W.shape[1] * (1 - d) + 1e-9)]] = False
        np.testing.assert_array_equal(res.masks["layer"], expect)
        assert res.per_layer["layer"]["kept"] == W.shape[0] * (W.shape[1] - pruned_count(W.shape[1], d))


def test_wanda_ties_break_by_stable_sort_and_n_m():
    W = np.ones((2, 8))
    res = Wanda(density=0.5, verbose=False).solve(LayerPruning(W))
    np.testing.assert_array_equal(res.masks["layer"][0], [0, 0, 0, 0, 1, 1, 1, 1])
    W, X = layer(1, 4, 16)
    res = Wanda(density=0.5, n_m=(2, 4), verbose=False).solve(LayerPruning(W, X))
    assert np.all(res.masks["layer"].reshape(4, 4, 4).sum(axis=2) == 2)


def test_magnitude_keeps_exact_counts():
    W, _ = layer(2, 10, 30)
    for d in (0.9, 0.55, 0.1):
        res = Magnitude(density=d, verbose=False).solve(LayerPruning(W))
        assert res.per_layer["layer"]["kept"] == 300 - pruned_count(300, d)
        kept = np.abs(W)[res.masks["layer"]]
        assert kept.min() >= np.abs(W)[~res.masks["layer"]].max()


def sparsegpt_transcription(W, X, sparsity, blocksize=128, percdamp=0.01):
    """Frantar and Alistarh (2023), Algorithm 1, column by column (no lazy batch updates), in torch."""
    W = torch.tensor(W, dtype=torch.float64)
    X = torch.tensor(X, dtype=torch.float64)
    H = 2 * X.T @ X / X.shape[0]
    dead = torch.diag(H) == 0
    H[dead, dead] = 1
    W[:, dead] = 0
    H += percdamp * torch.mean(torch.diag(H)) * torch.eye(H.shape[0], dtype=torch.float64)
    Hinv = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(H)), upper=True)
    mask = torch.zeros_like(W, dtype=torch.bool)
    for j in range(W.shape[1]):
        if j % blocksize == 0:
            cols = slice(j, min(j + blocksize, W.shape[1]))
            score = W[:, cols] ** 2 / torch.diag(Hinv)[cols].reshape(1, -1) ** 2
            flat = torch.argsort(score.flatten(), stable=True)[: int(score.numel() * sparsity + 1e-9)]
            blockmask = torch.zeros(score.numel(), dtype=torch.bool)
            blockmask[flat] = True
            mask[:, cols] = blockmask.reshape(score.shape)
        err = W[:, j].clone() * mask[:, j] / Hinv[j, j]
        W[:, j:] -= torch.outer(err, Hinv[j, j:])
        W[:, j] = torch.where(mask[:, j], 0.0, W[:, j])
    return W.numpy(), ~mask.numpy()


@pytest.mark.parametrize("n", [40, 300])
def test_sparsegpt_equals_transcription(n):
    W, X = layer(3, 12, n, N=400)
    for d in (0.5, 0.3):
        ours, keep = sparsegpt_layer(W, X, d)
        ref, ref_keep = sparsegpt_transcription(W, X, 1 - d)
        np.testing.assert_array_equal(keep.astype(bool), ref_keep)
        np.testing.assert_allclose(ours, ref, atol=1e-6, rtol=0)


def test_sparsegpt_dead_inputs_and_density_per_block():
    W, X = layer(4, 8, 300, N=400)
    X[:, [5, 130, 299]] = 0.0
    res = SparseGPT(density=0.4, verbose=False).solve(LayerPruning(W, X, density=0.4))
    Wn, keep = res.weights["layer"], res.masks["layer"]
    assert np.all(Wn[:, [5, 130, 299]] == 0)
    for start in range(0, 300, 128):
        block = keep[:, start : start + 128]
        assert block.size - block.sum() == pruned_count(block.size, 0.4)
        assert abs(block.mean() - 0.4) <= 1 / (128 * 8) + 1e-12
    assert np.all(Wn[~keep] == 0)
    assert (
        res.per_layer["layer"]["recon_error"]
        < Wanda(density=0.4, verbose=False).solve(LayerPruning(W, X)).per_layer["layer"]["recon_error"]
    )


def test_prune_front_door_on_a_torch_model():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 12), torch.nn.ReLU(), torch.nn.Linear(12, 3))
    before = [p.detach().clone() for p in model.parameters()]
    X = torch.randn(64, 6)
    y = torch.randint(0, 3, (64,))
    res = prune(model, 0.5, "wanda", data=(X, y), verbose=False)
    assert set(res.masks) == {"0", "2"} and res.density == 0.5
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))  # caller untouched
