"""Method of multipliers on the QUBO-compatible augmented Lagrangian."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from optim.base import State
from problems.validation import as_real

from .base import MultiplierMethod


class AugmentedLagrangian(MultiplierMethod):
    """Method of multipliers on the QUBO-compatible augmented Lagrangian:
    ``lam+ = Pi(lam + rho g(x^))``, ``rho <- min(growth rho, 1e3 rho0)`` when the violation
    ``||max(g_I, 0)|| + ||g_E||`` did not fall below ``0.25`` of the previous one.
    Default inner sampler: ``SimulatedAnnealing`` (the QUBO is quadratic once ``rho > 0``)."""

    name = "augmented-lagrangian"

    def __init__(
        self, rho: float | None = None, growth: float = 2.0, rho_max: float | None = None, **options: Any
    ) -> None:
        super().__init__(rho=rho, **options)
        self.growth = as_real(growth, "growth", low=1.0)
        self.rho_max = None if rho_max is None else as_real(rho_max, "rho_max", low=0.0, low_open=True)

    def default_rho(self, model: Any) -> float:
        scale = model.objective_scale if model.objective_scale > 0 else float(model.n)
        return 0.05 * scale / max(model.m, 1)

    def setup(self, problem: Any, state: State) -> None:
        state.rho_cap = self.rho_max if self.rho_max is not None else 1e3 * max(state.rho, 1e-12)
        state.v_prev = math.inf

    def _violation(self, state: State, g: np.ndarray) -> float:
        ineq = state.model.is_inequality
        return float(np.linalg.norm(np.maximum(g[ineq], 0.0)) + np.linalg.norm(g[~ineq]))

    def step(self, problem: Any, state: State) -> State:
        g = state.s
        state.step_size = state.rho
        state.lam = self.project(state, state.lam + state.rho * g)
        v = self._violation(state, g)
        if v > 0.25 * state.v_prev:
            state.rho = min(self.growth * state.rho, state.rho_cap)
        state.v_prev = v
        state.k += 1
        self._observe(problem, state, state.lam)
        return state
