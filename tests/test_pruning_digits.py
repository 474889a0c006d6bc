"""Acceptance on the ReLU digits MLP: iterative CBS (taylor, Fisher, alpha 0.75, ridge 1e-3, blocks of 64,
10 x 30 steps, swap descent, cutoff "abs") beats one-pass Wanda and magnitude at equal kept counts."""

import numpy as np
import pytest

from problems.pruning import digits_pruning
from quantum.pruning import ICBS, Magnitude, Wanda


@pytest.mark.parametrize("density", [0.5, 0.3])
def test_icbs_beats_wanda_and_magnitude_on_digits(density):
    acc = {"icbs": [], "wanda": [], "magnitude": []}
    for seed in range(3):
        p = digits_pruning(seed, density=density)
        icbs = ICBS(
            objective="taylor",
            hessian="fisher",
            alpha=0.75,
            ridge=1e-3,
            block_size=64,
            epochs=10,
            steps_per_epoch=30,
            solver="swap_descent",
            cutoff_mode="abs",
            seed=seed,
            verbose=False,
        ).solve(p)
        wanda = Wanda(sequential=False, verbose=False).solve(p)
        magnitude = Magnitude(granularity="row", verbose=False).solve(p)  # the same per-row counts
        for layer in p.layers:
            assert icbs.per_layer[layer]["kept"] == wanda.per_layer[layer]["kept"] == magnitude.per_layer[layer]["kept"]
        acc["icbs"].append(icbs.report["accuracy"])
        acc["wanda"].append(wanda.report["accuracy"])
        acc["magnitude"].append(magnitude.report["accuracy"])
    mean = {k: float(np.mean(v)) for k, v in acc.items()}
    assert mean["icbs"] > mean["wanda"] and mean["icbs"] > mean["magnitude"], mean
