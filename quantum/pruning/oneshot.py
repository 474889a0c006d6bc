"""One-shot pruners, one layer per step: magnitude, Wanda (Sun et al., 2024) and SparseGPT (Frantar and
Alistarh, 2023, with its weight update). One rounding rule: a ranking group of ``n`` weights (a row, a
layer, or one of SparseGPT's column blocks) prunes ``floor(n (1 - d) + 1e-9)`` of them; ties break by a
stable sort in float64.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla

from problems.pruning.layer import pruned_count
from problems.validation import as_choice, as_int, as_real

from .base import Pruner

GRANULARITIES = ("row", "layer")


def _n_m(value):
    if value is None:
        return None
    try:
        n, m = (as_int(v, "n_m", low=1) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"n_m must be a pair (N, M) with 1 <= N < M, got {value!r}") from None
    if n >= m:
        raise ValueError(f"n_m must be a pair (N, M) with 1 <= N < M, got {value!r}")
    return n, m


def keep_lowest_pruned(score: np.ndarray, density: float, granularity: str = "row", n_m=None) -> np.ndarray:
    """Keep mask that prunes the lowest scores: ``floor(n (1-d) + 1e-9)`` per row or per layer, or the
    N lowest of every M consecutive inputs of a row (``n_m = (N, M)``)."""
    m, n = score.shape
    keep = np.ones((m, n))
    if n_m is not None:
        N, M = n_m
        for start in range(0, n, M):
            part = score[:, start : start + M]
            order = np.argsort(part, axis=1, kind="stable")[:, : min(N, part.shape[1])]
            np.put_along_axis(keep[:, start : start + M], order, 0.0, axis=1)
        return keep
    if granularity == "row":
        order = np.argsort(score, axis=1, kind="stable")[:, : pruned_count(n, density)]
        np.put_along_axis(keep, order, 0.0, axis=1)
    else:
        order = np.argsort(score.reshape(-1), kind="stable")[: pruned_count(m * n, density)]
        keep.reshape(-1)[order] = 0.0
    return keep


def wanda_scores(w: np.ndarray, X: np.ndarray) -> np.ndarray:
    """``|W_rc| * ||X_:,c||_2 / sqrt(N)`` (Sun et al., 2024; the scale does not change any ranking)."""
    return np.abs(w) * np.sqrt(np.sum(X * X, axis=0) / X.shape[0])[None, :]


class _OneShot(Pruner):
    def plan(self, problem, state) -> list:
        if not self._user_check_every:  # the stopping error is O(weights): evaluate it at the end only
            self.check_every = len(state.net.layers)
        return list(state.net.layers)


class Magnitude(_OneShot):
    """Prune the smallest ``|W|`` per layer (default) or per row."""

    name = "magnitude"

    def __init__(self, *, granularity="layer", **common):
        super().__init__(**common)
        self.granularity = as_choice(granularity, "granularity", GRANULARITIES)

    def prune_step(self, problem, state, layer) -> None:
        w0 = state.net.w0[layer]
        keep = keep_lowest_pruned(np.abs(w0), state.density, self.granularity)
        state.keep[layer], state.weights[layer] = keep, w0 * keep
        state.log.append({"layer": layer, "pruned": int((keep == 0).sum())})


class Wanda(_OneShot):
    """Wanda: prune the lowest ``|W_rc| ||X_c||`` per output row (or per layer, or N:M).

    ``sequential=True`` (the reference code's behaviour) feeds each layer the inputs produced by the
    already pruned earlier layers; ``False`` uses one forward pass of the dense model for all layers."""

    name = "wanda"

    def __init__(self, *, granularity="row", sequential=True, n_m=None, **common):
        super().__init__(**common)
        self.granularity = as_choice(granularity, "granularity", GRANULARITIES)
        self.sequential = bool(sequential)
        self.n_m = _n_m(n_m)

    def prune_step(self, problem, state, layer) -> None:
        net = state.net
        X = (net.layer_inputs(state.weights) if self.sequential else net.dense_inputs())[layer]
        w0 = net.w0[layer]
        keep = keep_lowest_pruned(wanda_scores(w0, X), state.density, self.granularity, self.n_m)
        state.keep[layer], state.weights[layer] = keep, w0 * keep
        state.log.append({"layer": layer, "pruned": int((keep == 0).sum())})


def sparsegpt_layer(w, X, density, blocksize=128, percdamp=0.01, n_m=None):
    """SparseGPT on one layer (Frantar and Alistarh, 2023, Algorithm 1): returns (new weights, keep mask).

    ``H = 2 X^T X / N``; dead inputs (``H_cc = 0``) get ``H_cc = 1`` and a zero column; damping
    ``percdamp * mean(diag H)``; ``U`` = upper Cholesky factor of ``H^{-1}``. Per block of ``blocksize``
    columns the mask prunes the ``floor(numel (1-d) + 1e-9)`` lowest ``w^2 / U_cc^2`` (or N of every M
    inputs of a row); column by column the pruning error ``e = (w_c - q_c) / U_cc`` is propagated,
    ``W[:, c:] -= e U[c, c:]`` inside the block and ``W[:, end:] -= E U[block, end:]`` after it."""
    W = np.array(w, dtype=np.float64)
    m, n = W.shape
    H = 2.0 * (X.T @ X) / X.shape[0]
    dead = np.diag(H) == 0
    H[dead, dead] = 1.0
    W[:, dead] = 0.0
    H[np.diag_indices(n)] += percdamp * np.mean(np.diag(H))
    Hinv = sla.cho_solve(sla.cho_factor(H, lower=True), np.eye(n))
    U = np.linalg.cholesky((Hinv + Hinv.T) / 2.0).T  # upper: Hinv = U^T U
    keep = np.ones((m, n))
    for i1 in range(0, n, blocksize):
        i2 = min(i1 + blocksize, n)
        W1, U1 = W[:, i1:i2].copy(), U[i1:i2, i1:i2]
        Err = np.zeros_like(W1)
        pruned = np.zeros(W1.shape, dtype=bool)
        if n_m is None:
            t = W1**2 / np.diag(U1)[None, :] ** 2
            order = np.argsort(t.reshape(-1), kind="stable")[: pruned_count(W1.size, density)]
            pruned.reshape(-1)[order] = True
        for i in range(i2 - i1):
            if n_m is not None and i % n_m[1] == 0:
                t = W1[:, i : i + n_m[1]] ** 2 / np.diag(U1)[None, i : i + n_m[1]] ** 2
                idx = np.argsort(t, axis=1, kind="stable")[:, : n_m[0]]
                np.put_along_axis(pruned[:, i : i + n_m[1]], idx, True, axis=1)
            q = np.where(pruned[:, i], 0.0, W1[:, i])
            err = (W1[:, i] - q) / U1[i, i]
            W1[:, i:] -= np.outer(err, U1[i, i:])
            W1[:, i] = q
            Err[:, i] = err
        W[:, i1:i2] = W1
        W[:, i2:] -= Err @ U[i1:i2, i2:]
        keep[:, i1:i2] = ~pruned
    return W, keep


class SparseGPT(_OneShot):
    """SparseGPT with its weight update, layers in order on the inputs of the pruned earlier layers."""

    name = "sparsegpt"

    def __init__(self, *, blocksize=128, percdamp=0.01, sequential=True, n_m=None, **common):
        super().__init__(**common)
        self.blocksize = as_int(blocksize, "blocksize", low=1)
        self.percdamp = as_real(percdamp, "percdamp", low=0.0)
        self.sequential = bool(sequential)
        self.n_m = _n_m(n_m)

    def prune_step(self, problem, state, layer) -> None:
        net = state.net
        X = (net.layer_inputs(state.weights) if self.sequential else net.dense_inputs())[layer]
        W, keep = sparsegpt_layer(net.w0[layer], X, state.density, self.blocksize, self.percdamp, self.n_m)
        state.keep[layer], state.weights[layer] = keep, W * keep
        state.log.append({"layer": layer, "pruned": int((keep == 0).sum())})
