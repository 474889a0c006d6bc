"""Nesterov's simple dual averaging (Math. Program. 2009) on the Lagrangian dual."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from optim.base import State
from problems.validation import as_real

from .subgradient import Subgradient


class DualAveraging(Subgradient):
    """Nesterov's simple dual averaging: ``S += s``, ``lam+ = Pi(lam0 + S / (gamma sqrt(k+1)))``,
    ``gamma = 1 / (3 t0)`` by default."""

    name = "dual-averaging"

    def __init__(self, gamma: float | None = None, **options: Any) -> None:
        super().__init__(**options)
        self.gamma = None if gamma is None else as_real(gamma, "gamma", low=0.0, low_open=True)

    def setup(self, problem: Any, state: State) -> None:
        state.S = np.zeros_like(state.lam)
        state.gamma = self.gamma if self.gamma is not None else 1.0 / (3.0 * state.t0)

    def step(self, problem: Any, state: State) -> State:
        state.S = state.S + state.s
        beta = state.gamma * math.sqrt(state.k + 1)
        state.step_size = 1.0 / beta
        state.lam = self.project(state, state.lam0 + state.S / beta)
        state.k += 1
        self._observe(problem, state, state.lam)
        return state
