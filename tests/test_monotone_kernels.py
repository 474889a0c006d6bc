"""The compiled kernels of the stochastic monotone methods against their numpy path: same draws from the
same Generator, same iterates (a pure-numpy reference: ``compiled=False``)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import optim
from optim.monotone.kernels import floyd_batches
from problems.monotone import MatrixGame


@pytest.fixture(scope="module")
def games():
    return [MatrixGame.random(23, 31, seed=2), MatrixGame.random(40, 17, seed=3), MatrixGame.policeman_burglar(30)]


def run(game, method, compiled, **options):
    fro = game.frobenius
    steps = {"vr-eg": 3 / (math.sqrt(game.n) * fro), "vr-forb": 2 / (math.sqrt(game.n) * fro), "vr-halpern": 2 / fro}
    if method in steps:
        options.setdefault("step", steps[method])
    solver = optim.registry.make_solver(method, seed=11, compiled=compiled, tol=0.0, **options)
    game.counts.reset()
    state = solver.init(game, None)
    xs = []
    for _ in range(6):
        state = solver.step(game, state)
        xs.append(np.array(state.x, copy=True))
    return np.array(xs), game.counts["component"]


@pytest.mark.parametrize(
    "method, options",
    [
        ("vr-eg", {"probability": 0.1}),
        ("vr-forb", {"probability": 0.1}),
        ("vr-halpern", {}),
        ("vr-halpern", {"schedule": "classical"}),
        ("inexact-halpern", {"inner_scale": 2.0}),
        ("inexact-halpern", {"snapshot": "anchor", "probability": 0.2}),
    ],
)
def test_compiled_kernels_give_the_numpy_iterates_and_counts(games, method, options):
    for game in games:
        fast, fast_count = run(game, method, True, **options)
        ref, ref_count = run(game, method, False, **options)
        assert fast_count == ref_count
        # same draws, same branches, same arithmetic up to the compiler's rounding (inlined projections,
        # the batch sum of VR-Halpern in another order than numpy's mat-vec)
        np.testing.assert_allclose(fast, ref, rtol=0, atol=1e-12)
        assert not np.allclose(fast[0], fast[-1])  # the runs moved


def test_floyd_batches_are_distinct_and_uniform():
    rng = np.random.default_rng(0)
    batches = floyd_batches(rng.random((20_000, 3)), 7)
    assert all(len(set(row)) == 3 for row in batches[:500])
    freq = np.bincount(batches.ravel(), minlength=7) / batches.size
    assert np.abs(freq - 1 / 7).max() < 0.01
    pairs = {tuple(sorted(r)) for r in batches[:5000]}
    assert len(pairs) == math.comb(7, 3)  # every 3-subset occurs
