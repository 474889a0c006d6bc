"""Deterministic baselines for 0 in F(x) + G(x), each with J = J_{eta G}. Notes in docs/monotone.md.

* ``EG``, extragradient (Korpelevich 1976): y = J(x - eta F(x)), x+ = J(x - eta F(y)); cost 2n;
  default eta = 0.99/L_F.
* ``EAG``, extra-anchored gradient EAG-C (Yoon and Ryu, ICML 2021), with the resolvent
  as in the official code's ``ex_Halpern_update``: a = lambda_k x_0 + (1 - lambda_k) x,
  lambda_k = 1/(k + 2), y = J(a - eta F(x)), x+ = J(a - eta F(y)); cost 2n; default eta = 1/(8 L_F).
* ``Popov``, past extragradient / optimistic gradient (Popov 1980): y_k = J(x_k - eta F(y_{k-1})),
  x_{k+1} = J(x_k - eta F(y_k)); cost n; default eta = 1/(3 L_F).
* ``FBF``, forward-backward-forward (Tseng 2000): y = J(x - eta F(x)), x+ = y - eta (F(y) - F(x));
  cost 2n; default eta = 0.99/L_F.

Each reports the residual at x+ (the point the method returns; the official EG script reports it
at y).
"""

from __future__ import annotations

import numpy as np

from problems.monotone import FiniteSumOperator

from ..base import State
from .common import MonotoneSolver, anchor_weight, constant


class _Deterministic(MonotoneSolver):
    #: default step = factor / L_F
    step_factor = 1.0

    def default_step(self, problem: FiniteSumOperator) -> float:
        return self.step_factor / constant(problem, "lipschitz")

    def init(self, problem: FiniteSumOperator, x0: np.ndarray | None = None) -> State:
        x = self.initial_point(problem, x0)
        return State(x=x, x0=x.copy(), k=0, step=self.resolve_step(problem))


class EG(_Deterministic):
    """Extragradient (Korpelevich 1976); default step 0.99/L_F."""

    name = "eg"
    step_factor = 0.99

    def step(self, problem: FiniteSumOperator, state: State) -> State:
        eta = state.step
        y = problem.resolvent(state.x - eta * problem.operator(state.x), eta)
        state.x = problem.resolvent(state.x - eta * problem.operator(y), eta)
        state.k += 1
        return state


class EAG(_Deterministic):
    """Extra-anchored gradient, EAG-C (Yoon and Ryu 2021), lambda_k = 1/(k+2); default 1/(8 L_F)."""

    name = "eag"
    step_factor = 1.0 / 8.0

    def step(self, problem: FiniteSumOperator, state: State) -> State:
        eta, lam = state.step, anchor_weight(state.k, "classical")
        anchor = lam * state.x0 + state.x - lam * state.x
        y = problem.resolvent(anchor - eta * problem.operator(state.x), eta)
        state.x = problem.resolvent(anchor - eta * problem.operator(y), eta)
        state.k += 1
        return state


class Popov(_Deterministic):
    """Popov's past extragradient (optimistic gradient); one F per iteration; default 1/(3 L_F)."""

    name = "popov"
    step_factor = 1.0 / 3.0

    def init(self, problem: FiniteSumOperator, x0: np.ndarray | None = None) -> State:
        state = super().init(problem, x0)
        state.F_prev = problem.operator(state.x)  # y_{-1} = x_0
        return state

    def step(self, problem: FiniteSumOperator, state: State) -> State:
        eta = state.step
        y = problem.resolvent(state.x - eta * state.F_prev, eta)
        state.F_prev = problem.operator(y)
        state.x = problem.resolvent(state.x - eta * state.F_prev, eta)
        state.k += 1
        return state


class FBF(_Deterministic):
    """Tseng's forward-backward-forward splitting; default step 0.99/L_F."""

    name = "fbf"
    step_factor = 0.99

    def step(self, problem: FiniteSumOperator, state: State) -> State:
        eta = state.step
        Fx = problem.operator(state.x)
        y = problem.resolvent(state.x - eta * Fx, eta)
        state.x = y - eta * (problem.operator(y) - Fx)
        state.k += 1
        return state
