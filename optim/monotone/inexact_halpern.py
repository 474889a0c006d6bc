"""Inexact Halpern iteration with a VR-FoRB inner solver (Alg. 2 + 3 of Cai, Alacaoglu and
Diakonikolas, ICLR 2024), for F monotone and Lipschitz in mean (A3).

Outer loop: Halpern on the firmly nonexpansive resolvent T = J_{eta (F + G)}::

    x_{k+1} = lambda_k x_0 + (1 - lambda_k) v_k,   v_k ~ J_{eta (F + G)}(x_k),   lambda_k = 1/(k + 2)

v_k solves 0 in Phi_u(v) + eta G(v), Phi_u(v) = eta F(v) + v - u, u = x_k (1-strongly monotone,
(1 + eta L)-Lipschitz in mean), by loopless VR-FoRB (``variance_reduced.forb_run``) started at u.
Defaults from the authors' code: eta = sqrt(n)/L, inner p = 1/n, gamma =
c sqrt(p(1 - p))/(1 + eta L) with c = 0.5 (the official runs use 5 with L = ||A||_F), and
M_k = floor(0.05 n ln(k + 2)) inner steps (``inner_steps="fixed"``).

At small n the official M_k is a handful of inner steps (one at n = 8), too few for the inexact
resolvent, and the outer iteration stalls; raise ``inner_scale`` or use the certified stop there.

``inner_steps="certified"`` (the paper's inexactness condition made checkable): every n inner steps
p^ = J_{eta G}(u - eta F(v)) (cost n) and rho = ||v - p^||; stop once
(2 + eta L_F) rho <= eps_k = inner_tol/(k + 2)^2 (then ||p^ - J(u)|| <= eps_k by strong
monotonicity) and use p^; at most ``max_inner`` steps.

Cost: n for Phi_u(u) at the start of each inner solve (charged, as in the official QP script;
the matrix-game script does not charge it), 2 per inner step, n per refresh or certificate.
``snapshot="anchor"`` reproduces the official refresh w <- u (a deviation of the authors' code from the paper).
Guarantee (paper): E[residual] = O(L ||x_0 - x*|| / (sqrt(n) K)) after K outer iterations,
O~(n + sqrt(n) L / eps) component evaluations.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from problems.monotone import FiniteSumOperator
from problems.validation import as_choice, as_int, as_real

from ..base import State
from .common import MonotoneSolver, anchor_weight, as_probability, constant, positive_or_none
from .variance_reduced import LooplessDraws, forb_factor, forb_run, forb_start


class InexactHalpern(MonotoneSolver):
    """Inexact Halpern with VR-FoRB inner solves (module docstring for every option).

    ``step`` eta of the resolvent (default sqrt(n)/L, L Lipschitz in mean), ``inner_step`` gamma
    (default c sqrt(p(1-p))/(1 + eta L)), ``c`` (0.5), ``probability`` p (1/n), ``inner_scale``
    (0.05: M_k = floor(inner_scale n ln(k+2))), ``inner_steps`` "fixed" | "certified",
    ``inner_tol`` (1.0), ``max_inner`` (default 50 n), ``snapshot`` "iterate" | "anchor", ``compiled``
    (numba inner loop on matrix games, default True; False runs the numpy path, same iterates).
    """

    name = "inexact-halpern"

    def __init__(
        self,
        step: float | None = None,
        inner_step: float | None = None,
        c: float = 0.5,
        probability: float | None = None,
        inner_scale: float = 0.05,
        inner_steps: str = "fixed",
        inner_tol: float = 1.0,
        max_inner: int | None = None,
        snapshot: str = "iterate",
        compiled: bool = True,
        **options: Any,
    ) -> None:
        super().__init__(step=step, **options)
        self.inner_step = positive_or_none(inner_step, "inner_step")
        self.c = as_real(c, "c", low=0.0, low_open=True)
        self.p_given = as_probability(probability, "probability")
        self.inner_scale = as_real(inner_scale, "inner_scale", low=0.0, low_open=True)
        self.inner_steps = as_choice(inner_steps, "inner_steps", ("fixed", "certified"))
        self.inner_tol = as_real(inner_tol, "inner_tol", low=0.0, low_open=True)
        self.max_inner = None if max_inner is None else as_int(max_inner, "max_inner", low=1)
        self.snapshot = as_choice(snapshot, "snapshot", ("iterate", "anchor"))
        if not isinstance(compiled, bool):
            raise TypeError(f"compiled must be True or False, got {compiled!r}")
        self.compiled = compiled

    def default_step(self, problem: FiniteSumOperator) -> float:
        return math.sqrt(problem.n) / constant(problem, "mean_lipschitz", "lipschitz")

    def init(self, problem: FiniteSumOperator, x0: np.ndarray | None = None) -> State:
        x = self.initial_point(problem, x0)
        eta = self.resolve_step(problem)
        p = self.p_given if self.p_given is not None else 1.0 / problem.n
        L = constant(problem, "mean_lipschitz", "lipschitz")
        gamma = self.inner_step if self.inner_step is not None else self.c * forb_factor(p) / (1.0 + eta * L)
        return State(
            x=x, x0=x.copy(), k=0, step=eta, gamma=gamma, p=p, draws=LooplessDraws(self.new_rng()), inner_total=0,
            refreshes=0,
        )  # fmt: skip

    def inner_budget(self, k: int, n: int) -> int:
        """M_k = max(1, floor(inner_scale n ln(k + 2)))."""
        return max(1, int(self.inner_scale * n * np.log(k + 2)))

    def step(self, problem: FiniteSumOperator, state: State) -> State:
        n, eta = problem.n, state.step
        s = forb_start(problem, state.x, scale=eta, anchored=True)
        if self.inner_steps == "fixed":
            steps = self.inner_budget(state.k, n)
            self._inner(problem, s, state, steps)
            v = s.v
        else:
            v, steps = self._certified(problem, s, state)
        state.inner_total += steps
        state.refreshes += s.refreshes
        lam = anchor_weight(state.k, "classical")
        state.x = lam * state.x0 + (1.0 - lam) * v
        state.k += 1
        return state

    def _inner(self, problem: FiniteSumOperator, s: State, state: State, steps: int) -> None:
        forb_run(
            problem, s, state.draws, steps, gamma=state.gamma, p=state.p, snapshot=self.snapshot, compiled=self.compiled
        )

    def _certified(self, problem: FiniteSumOperator, s: State, state: State) -> tuple[np.ndarray, int]:
        n, eta = problem.n, state.step
        eps = self.inner_tol / (state.k + 2) ** 2
        factor = 2.0 + eta * constant(problem, "lipschitz", "mean_lipschitz")
        cap = self.max_inner if self.max_inner is not None else 50 * n
        steps = 0
        while True:
            self._inner(problem, s, state, min(n, cap - steps))
            steps = min(steps + n, cap)
            p_hat = problem.resolvent(s.u - eta * problem.operator(s.v), eta)
            if factor * np.linalg.norm(s.v - p_hat) <= eps or steps >= cap:
                return p_hat, steps

    def extra_history(self, problem: FiniteSumOperator, state: State) -> dict:
        return {
            **super().extra_history(problem, state),
            "inner_steps": state.inner_total,
            "full_snapshots": state.refreshes,
        }
