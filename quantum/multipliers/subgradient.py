"""Projected subgradient ascent on the Lagrangian dual (dual ascent)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from optim.base import State
from problems.validation import as_choice, as_int, as_real

from .base import MultiplierMethod


class Subgradient(MultiplierMethod):
    """Projected subgradient ascent on the dual (dual ascent): ``lam+ = Pi(lam + t_k s)``.

    Example
    -------
    >>> import optim, problems
    >>> p = problems.MDKP.from_file(problems.instance_path("mdkp", "pet2.dat"))
    >>> r = optim.solve(p, method="subgradient", sampler="exact", step="polyak", max_iter=300, verbose=False)
    >>> abs(r.dual_bound - p.lp_bound()) / p.lp_bound() < 1e-3
    True
    """

    name = "subgradient"
    default_max_iter = 200

    def __init__(
        self,
        step: str = "diminishing",
        eta: float = 2.0,
        patience: int = 20,
        eta_min: float = 1e-6,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.step_rule = as_choice(step, "step", ["diminishing", "constant", "harmonic", "polyak"])
        self.eta0 = as_real(eta, "eta", low=0.0, high=2.0, low_open=True)
        self.patience = as_int(patience, "patience", low=1)
        self.eta_min = as_real(eta_min, "eta_min", low=0.0, low_open=True)

    def setup(self, problem: Any, state: State) -> None:
        state.eta, state.eta_stall = self.eta0, 0

    def step_size(self, state: State, s: np.ndarray) -> float:
        """``t_k`` of the chosen rule (Polyak: ``eta`` halves after ``patience`` iterations without progress)."""
        k, t0 = state.k, state.t0
        if self.step_rule == "polyak" and state.has_feasible:
            if state.stall == 0:
                state.eta_stall = 0
            else:
                state.eta_stall += 1
                if state.eta_stall >= self.patience:
                    state.eta, state.eta_stall = max(state.eta / 2.0, self.eta_min), 0
            return state.eta * max(state.ub - state.theta, 0.0) / max(float(s @ s), 1e-300)
        if self.step_rule == "constant":
            return t0
        if self.step_rule == "harmonic":
            return t0 / (k + 1)
        return t0 / math.sqrt(k + 1)

    def direction(self, problem: Any, state: State) -> np.ndarray:
        """The ascent direction: the subgradient ``s = g(x^)``."""
        return state.s

    def step(self, problem: Any, state: State) -> State:
        s = self.direction(problem, state)
        t = self.step_size(state, s)
        state.step_size = t
        state.lam = self.project(state, state.lam + t * s)
        state.k += 1
        self._observe(problem, state, state.lam)
        return state
