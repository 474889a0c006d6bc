"""Kelley's cutting-plane method on the Lagrangian dual (HiGHS master LP)."""

from __future__ import annotations

from typing import Any

import numpy as np

from optim.base import State
from problems.validation import as_int, as_real

from .base import MultiplierMethod


def default_box(state: State, lam_max: float | None) -> float:
    """The multiplier box half-width: ``lam_max`` or ``10 max|l_i| max_j s_j``."""
    if lam_max is not None:
        return lam_max
    model = state.model
    q = np.abs(model.f_linear)
    qmax = q.max() if q.size and q.max() > 0 else 1.0
    if model.f_upper.nnz:
        qmax = max(qmax, np.abs(model.f_upper.data).max())
    return 10.0 * qmax * float(model.scales.max())


class CuttingPlane(MultiplierMethod):
    """Kelley's cutting-plane method on the dual; the master LP is solved by HiGHS (``linprog``).

    Box ``0 <= lam_I <= lam_max``, ``|lam_E| <= lam_max`` (default ``10 max|l_i| max_j s_j``);
    certificate: ``(z* - theta_best) / max(1, |theta_best|)``; at most ``max_cuts`` (100) cuts.
    """

    name = "cutting-plane"
    error_name = (
        "certified primal-dual gap (UB - LB) / max(1, |UB|), or the model's predicted dual increase when "
        "smaller (dual converged)"
    )
    default_max_iter = 100

    def __init__(self, lam_max: float | None = None, max_cuts: int = 100, **options: Any) -> None:
        super().__init__(**options)
        self.lam_max = None if lam_max is None else as_real(lam_max, "lam_max", low=0.0, low_open=True)
        self.max_cuts = as_int(max_cuts, "max_cuts", low=2)

    def setup(self, problem: Any, state: State) -> None:
        state.box = default_box(state, self.lam_max)
        state.cuts = [(state.lam.copy(), state.theta, state.s.copy())]

    def _master(self, state: State) -> tuple:
        from scipy.optimize import linprog

        m = state.model.m
        lam_i = np.array([c[0] for c in state.cuts])
        th = np.array([c[1] for c in state.cuts])
        S = np.array([c[2] for c in state.cuts])
        A = np.hstack([np.ones((len(th), 1)), -S])  # z - s_i.lam <= theta_i - s_i.lam_i
        b = th - np.einsum("ij,ij->i", S, lam_i)
        lo = np.where(state.model.is_inequality, 0.0, -state.box)
        bounds = [(None, None)] + [(lo[j], state.box) for j in range(m)]
        res = linprog(np.r_[-1.0, np.zeros(m)], A_ub=A, b_ub=b, bounds=bounds, method="highs")
        if res.status != 0:
            raise RuntimeError(f"cutting-plane master LP failed: {res.message}")
        return res.x[0], res.x[1:], np.abs(res.ineqlin.marginals) > 1e-12

    def step(self, problem: Any, state: State) -> State:
        z, lam, binding = self._master(state)
        state.certificate = max(0.0, (z - state.theta_best) / max(1.0, abs(state.theta_best)))
        if len(state.cuts) >= self.max_cuts:
            drop = next((i for i, b in enumerate(binding) if not b), 0)
            state.cuts.pop(drop)
        state.step_size = float(np.linalg.norm(lam - state.lam))
        state.lam = lam
        state.k += 1
        self._observe(problem, state, lam)
        state.cuts.append((lam.copy(), state.theta, state.s.copy()))
        return state
