"""Block bookkeeping of iterative CBS (Rosenberg et al., 2024): scores, initial masks with fixing, the
log10 step schedule, block selection with a tabu list.
"""

from __future__ import annotations

import warnings
from collections import deque

import numpy as np

from problems.pruning.layer import pruned_count


def step_schedule(sizes, steps: int, min_steps: int, rng) -> np.ndarray:
    """Steps per layer, proportional to ``log10(numel)``: ``round(frac S)``, raised to ``min_steps``,
    then the total fixed to ``S`` by +-1 on a random largest (or smallest) entry, never below
    ``min_steps`` while that is feasible (a warning says when ``layers * min_steps > S``)."""
    sizes = np.asarray(sizes, dtype=float)
    logs = np.log10(np.maximum(sizes, 10.0))
    counts = np.round(logs / logs.sum() * steps).astype(np.int64)
    feasible = len(sizes) * min_steps <= steps
    if not feasible:
        warnings.warn(
            f"{len(sizes)} layers x min_steps_per_layer {min_steps} > steps_per_epoch {steps}; "
            "some layers get fewer steps",
            stacklevel=3,
        )
    floor = min_steps if feasible else 0
    counts = np.maximum(counts, floor)
    while counts.sum() > steps:
        cand = np.flatnonzero((counts == counts.max()) & (counts > floor))
        if cand.size == 0:
            cand = np.flatnonzero(counts > floor)
        counts[rng.choice(cand)] -= 1
    while counts.sum() < steps:
        counts[rng.choice(np.flatnonzero(counts == counts.min()))] += 1
    return counts


class LayerBlocks:
    """Per-layer state: prune indicator, free (not fixed) weights, tabu deque, ever-optimized set."""

    def __init__(self, w0, score, density, granularity, fix_prune, fix_keep):
        m, n = w0.shape
        self.shape = (m, n)
        groups = [np.arange(r * n, (r + 1) * n) for r in range(m)] if granularity == "row" else [np.arange(m * n)]
        flat = score.reshape(-1)
        self.pruned = np.zeros(m * n, dtype=bool)
        self.free = np.ones(m * n, dtype=bool)
        for g in groups:
            order = g[np.argsort(flat[g], kind="stable")]  # ascending score
            p = pruned_count(g.size, density)
            low, high = order[:p], order[p:]
            self.pruned[low] = True
            self.free[low[: int(round(fix_prune * p))]] = False
            fixed_keep = int(round(fix_keep * high.size))
            if fixed_keep:
                self.free[high[high.size - fixed_keep :]] = False
        self.n_free = int(self.free.sum())
        self.tabu = deque()
        self.tabu_count = np.zeros(m * n, dtype=np.int32)  # occurrences of each index in the tabu deque
        self.tabu_len = 0
        self.optimized = np.zeros(m * n, dtype=bool)
        self.row = 0

    def set_tabu(self, tabu_frac: float, block_size: int) -> None:
        self.tabu_len = int(round(tabu_frac * self.n_free))
        if self.n_free - self.tabu_len < block_size:  # tabu off where it would starve the blocks
            self.tabu_len = 0

    def select(self, score, block_size: int, k: int, scope: str, rng, random: bool = False):
        """Block = the ``k`` highest-scoring free pruned weights followed by the ``b - k`` lowest-scoring
        free kept weights (tabu entries skipped; shuffled instead of sorted when ``random``). Returns
        (block, k_eff)."""
        m, n = self.shape
        if scope == "row":  # O(n) per step: only the current row is looked at
            idx = self.row * n + np.arange(n)
            self.row = (self.row + 1) % m
        else:
            idx = np.arange(m * n)
        idx = idx[self.free[idx]]
        if block_size >= idx.size:
            block = np.concatenate([idx[self.pruned[idx]], idx[~self.pruned[idx]]])
            return block, int(self.pruned[idx].sum())
        if self.tabu_len:
            idx = idx[self.tabu_count[idx] == 0]
        pr, kp = idx[self.pruned[idx]], idx[~self.pruned[idx]]
        if random:
            pr, kp = rng.permutation(pr), rng.permutation(kp)
        else:
            pr = pr[np.argsort(-score[pr], kind="stable")]
            kp = kp[np.argsort(score[kp], kind="stable")]
        take_p = min(k, pr.size)
        take_k = min(block_size - take_p, kp.size)
        take_p = min(block_size - take_k, pr.size)
        return np.concatenate([pr[:take_p], kp[:take_k]]), take_p

    def visited(self, block) -> None:
        self.optimized[block] = True
        if self.tabu_len:
            self.tabu.extend(block.tolist())
            self.tabu_count[block] += 1
            while len(self.tabu) > self.tabu_len:
                self.tabu_count[self.tabu.popleft()] -= 1


def fraction_optimized(layers) -> float:
    total = sum(b.optimized.size for b in layers)
    return sum(int(b.optimized.sum()) for b in layers) / max(total, 1)


def free_per_scope(blocks: LayerBlocks, scope: str) -> int:
    if scope == "layer":
        return blocks.n_free
    m, n = blocks.shape
    return int(min(blocks.free.reshape(m, n).sum(axis=1)))


__all__ = ["LayerBlocks", "fraction_optimized", "free_per_scope", "step_schedule"]
