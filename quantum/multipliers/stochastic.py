"""Stochastic subgradient ascent: one sampled subgradient, or a random half of the rows."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from optim.base import State
from problems.validation import as_choice

from .subgradient import Subgradient


class StochasticSubgradient(Subgradient):
    """Stochastic subgradient: ``s`` from one sample drawn in proportion to its count
    (``noise="sample"``) or restricted to a random half of the rows (``noise="constraints"``);
    diminishing steps.

    Averaging (suffix averaging of the second half of the run): the multipliers of iterations
    ``k >= max_iter / 2`` are summed as they come; at ``k = max_iter`` the iterate is replaced by their
    mean and the oracle is called there once more, so the dual value of the averaged multipliers joins
    the best-bound and best-multiplier bookkeeping (the reported bound is the best dual value evaluated,
    the average included). Until then the history's ``dual_value`` is the dual at the current iterate.
    A run that ends before ``max_iter`` (the certified gap below ``tol``, a ``target``, ``budget`` or
    ``time_limit``) never evaluates the average: its answer is the best iterate."""

    name = "stochastic-subgradient"

    def __init__(self, noise: str = "sample", **options: Any) -> None:
        options.setdefault("step", "diminishing")
        super().__init__(**options)
        self.noise = as_choice(noise, "noise", ["sample", "constraints"])

    def setup(self, problem: Any, state: State) -> None:
        super().setup(problem, state)
        state.lam_sum, state.lam_count = np.zeros_like(state.lam), 0

    def _observe(self, problem: Any, state: State, lam: np.ndarray) -> dict:
        out = super()._observe(problem, state, lam)
        state.last = out
        return out

    def direction(self, problem: Any, state: State) -> np.ndarray:
        out = state.last
        if self.noise == "sample":
            counts = out["samples"].num_occurrences.astype(float)
            if len(counts) == 1:  # drawn with probability 1 (e.g. the exact oracle): no draw needed
                return out["violations"][0]
            k = state.rng.choice(len(counts), p=counts / counts.sum())
            return out["violations"][k]
        mask = np.zeros(state.model.m, bool)
        mask[state.rng.choice(state.model.m, size=math.ceil(state.model.m / 2), replace=False)] = True
        return np.where(mask, out["s"], 0.0)

    def step(self, problem: Any, state: State) -> State:
        state = super().step(problem, state)
        if state.k >= self.max_iter / 2:
            state.lam_sum += state.lam
            state.lam_count += 1
        if state.k >= self.max_iter and state.lam_count:
            state.lam = state.lam_sum / state.lam_count
            self._observe(problem, state, state.lam)
        return state
