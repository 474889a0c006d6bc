"""Proximal bundle method on the Lagrangian dual (cvxpy master QP)."""

from __future__ import annotations

from typing import Any

import numpy as np

from optim.base import State
from problems.validation import as_int, as_real

from .base import MultiplierMethod


class Bundle(MultiplierMethod):
    """Proximal bundle method: ``max_{z, lam} z - ||lam - c||^2 / (2t)`` over the cuts (cvxpy, Clarabel);
    serious step if ``theta(lam+) - theta(c) >= m_L delta`` (``m_L = 0.1``), else null step;
    certificate ``delta / (1 + |theta(c)|)`` with ``delta = z* - theta(c)``; at most 50 cuts, a cut
    whose QP multiplier stayed 0 for 5 rounds is dropped."""

    name = "bundle"
    error_name = (
        "certified primal-dual gap (UB - LB) / max(1, |UB|), or the model's predicted dual increase when "
        "smaller (dual converged)"
    )
    default_max_iter = 100

    def __init__(self, t: float | None = None, descent: float = 0.1, max_cuts: int = 50, **options: Any) -> None:
        super().__init__(**options)
        self.t_init = None if t is None else as_real(t, "t", low=0.0, low_open=True)
        self.descent = as_real(descent, "descent", low=0.0, high=1.0, low_open=True, high_open=True)
        self.max_cuts = as_int(max_cuts, "max_cuts", low=2)

    def setup(self, problem: Any, state: State) -> None:
        state.center, state.theta_center = state.lam.copy(), state.theta
        state.t = self.t_init if self.t_init is not None else state.t0
        state.t_min, state.t_max = state.t / 100.0, 100.0 * state.t
        state.cuts = [[state.lam.copy(), state.theta, state.s.copy(), 0]]

    def _master(self, state: State) -> tuple:
        import cvxpy as cp

        m = state.model.m
        lam, z = cp.Variable(m), cp.Variable()
        lam_i = np.array([c[0] for c in state.cuts])
        th = np.array([c[1] for c in state.cuts])
        S = np.array([c[2] for c in state.cuts])
        cuts = [z <= th - np.einsum("ij,ij->i", S, lam_i) + S @ lam]
        cons = cuts + ([lam[np.flatnonzero(state.model.is_inequality)] >= 0] if state.model.is_inequality.any() else [])
        prob = cp.Problem(cp.Maximize(z - cp.sum_squares(lam - state.center) / (2.0 * state.t)), cons)
        solver = "CLARABEL" if "CLARABEL" in cp.installed_solvers() else None
        prob.solve(solver=solver)
        if lam.value is None or z.value is None:
            raise RuntimeError(f"bundle master QP failed: {prob.status}")
        return float(z.value), self.project(state, np.asarray(lam.value)), np.abs(cuts[0].dual_value) > 1e-9

    def step(self, problem: Any, state: State) -> State:
        z, lam, active = self._master(state)
        delta = max(0.0, z - state.theta_center)
        state.certificate = delta / (1.0 + abs(state.theta_center))
        for cut, a in zip(state.cuts, active, strict=False):
            cut[3] = 0 if a else cut[3] + 1
        state.cuts = [c for c in state.cuts if c[3] < 5]
        if len(state.cuts) >= self.max_cuts:
            state.cuts.pop(int(np.argmax([c[3] for c in state.cuts])))
        state.step_size = state.t
        state.lam = lam
        state.k += 1
        self._observe(problem, state, lam)
        state.cuts.append([lam.copy(), state.theta, state.s.copy(), 0])
        if state.theta - state.theta_center >= self.descent * delta:
            state.center, state.theta_center = lam.copy(), state.theta
            state.t = min(2.0 * state.t, state.t_max)
        else:
            state.t = max(state.t / 2.0, state.t_min)
        return state
