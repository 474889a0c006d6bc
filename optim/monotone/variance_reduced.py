"""Loopless variance-reduced methods of Alacaoglu and Malitsky, "Stochastic Variance Reduction for
Variational Inequality Methods", COLT 2022 (peer code ``ymalitsky/VR_for_VI``). Snapshot w, its
full operator F(w) (cost n), refreshed to the current iterate with probability p (default 1/n);
alpha = 1 - p; i ~ Q; F_Q,i as in ``problems.monotone``.

* ``VREG`` (loopless variance-reduced extragradient)::

      xbar = alpha x + (1 - alpha) w
      y    = J_tau(xbar - tau F(w))
      x+   = J_tau(xbar - tau [F(w) + F_Q,i(y) - F_Q,i(w)])        (cost 2)

  step tau = gamma sqrt(p) / L with gamma < 1 (default 0.99) and L the Lipschitz-in-mean constant.
* ``VRForb`` (loopless variance-reduced forward-reflected-backward)::

      vbar = alpha v + (1 - alpha) w
      v+   = J_gamma(vbar - gamma [F(w) + F_Q,i(v) - F_Q,i(w_old)])  (cost 2)
      w_old <- w;  w <- v+ with probability p

  step gamma = c sqrt(p (1 - p)) / L (default c = 0.5). ``forb_run`` runs the same update on the
  shifted operator Phi_u(v) = eta F(v) + v - u, the resolvent subproblem of ``InexactHalpern``.

Each stochastic step costs 2 component evaluations; a refresh costs n. One solver iteration is a block
of ``block_steps`` stochastic steps (default n, about two epochs). Each step draws from the run's
Generator, in this order: its index i ~ Q (``problem.sample``: ``rng.integers(n)`` when uniform), then
the refresh coin ``rng.random()``. On matrix games with uniform sampling the block runs in a compiled
kernel (``optim.monotone.kernels``) that draws the same numbers; ``compiled=False`` runs the numpy
path, which gives the same iterates up to rounding.
"""

from __future__ import annotations

import math
from typing import Any, cast

import numpy as np

from problems.monotone import FiniteSumOperator, MatrixGame
from problems.validation import as_int, as_real

from ..base import State
from . import kernels
from .common import StochasticSolver, as_probability, constant, keep_unused


def forb_factor(p: float) -> float:
    """sqrt(p (1 - p)) of the VR-FoRB step (1/2 when p = 1, the deterministic FoRB bound)."""
    return math.sqrt(p * (1.0 - p)) if p < 1.0 else 0.5


def uses_kernel(problem: FiniteSumOperator, compiled: bool) -> bool:
    """True on a uniformly sampled matrix game (``A``, ``AT`` arrays) when compiled kernels are asked for."""
    return compiled and getattr(problem, "AT", None) is not None and getattr(problem, "sampling", 1) is None


def forb_start(problem: FiniteSumOperator, u: np.ndarray, scale: float = 1.0, anchored: bool = False) -> State:
    """Inner state at v = w = w_old = u with Phi(w) = scale F(u) (cost n); private arrays."""
    return State(
        v=u.copy(),
        w=u.copy(),
        w_old=u.copy(),
        Phi_w=scale * problem.operator(u),
        u=u,
        scale=scale,
        anchored=anchored,
        refreshes=0,
        taus=kernels.new_taus(),
    )


def _forb_numpy(problem: FiniteSumOperator, s: State, rng: np.random.Generator, gamma: float, p: float) -> bool:
    """One step of the numpy path of ``kernels.forb_block`` (same draws, same arithmetic); True when
    its coin asks for a refresh."""
    alpha = 1.0 - p
    beta = 1.0 - alpha
    d = s.Phi_w + s.scale * problem.component_diff(problem.sample(rng), s.v, s.w_old)
    if s.anchored:
        d = d + (s.v - s.w_old)
    arg = (alpha * s.v + beta * s.w) - gamma * d
    s.w_old = s.w.copy()
    s.v = problem.resolvent(arg, gamma * s.scale)
    return bool(rng.random() < p)


#: loopless steps whose draws the compiled VR-FoRB path generates at once (numba takes ~11 us to receive
#: a Generator: too much for each inner solve of the inexact Halpern method, a few dozen steps at small n)
DRAW_CHUNK = 4096


class LooplessDraws:
    """The run's Generator, and for the compiled path its draws (index, coin) generated ahead in the
    plain loop's order (``kernels.loopless_draws``), ``DRAW_CHUNK`` steps or more at a time; rows
    not used yet are kept for the next run. Only the runs handed this object draw from ``rng``."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.idx, self.coins, self.pos = np.empty(0, dtype=np.int64), np.empty(0), 0

    def take(self, steps: int, n: int) -> tuple[np.ndarray, np.ndarray, int]:
        """(indices, coins, first row) of the next ``steps`` steps."""
        if self.idx.size - self.pos < steps:
            (self.idx, self.coins), left = keep_unused((self.idx, self.coins), self.pos, max(DRAW_CHUNK, steps))
            kernels.loopless_draws(self.rng, n, self.idx[left:], self.coins[left:])
            self.pos = 0
        start = self.pos
        self.pos += steps
        return self.idx, self.coins, start


def forb_run(
    problem: FiniteSumOperator,
    s: State,
    draws: LooplessDraws,
    steps: int,
    *,
    gamma: float,
    p: float,
    snapshot: str = "iterate",
    compiled: bool = True,
) -> int:
    """``steps`` loopless VR-FoRB steps on Phi(v) = scale F(v) (+ v - u when anchored), resolvent
    J_{gamma scale G}. ``snapshot="anchor"`` resets w to u on a refresh, as the authors' inner solver
    does; "iterate" (VR-FoRB proper) sets w to the new v. Returns the number of refreshes."""
    if uses_kernel(problem, compiled):
        game = cast(MatrixGame, problem)  # uses_kernel: a uniformly sampled matrix game
        idx, coins, start = draws.take(steps, problem.n)
        refreshes = kernels.forb_block(
            game.A, game.AT, problem.n, s.u, s.v, s.w, s.w_old, s.Phi_w, float(s.scale), bool(s.anchored),
            snapshot == "anchor", 1.0 - p, float(gamma), float(p), idx, coins, start, steps, s.taus,
        )  # fmt: skip
        problem.counts.add("component", 2 * steps + problem.n * refreshes)
        s.refreshes += refreshes
        return refreshes
    rng = draws.rng
    refreshes = 0
    for _ in range(steps):
        if _forb_numpy(problem, s, rng, gamma, p):
            s.w = s.v.copy() if snapshot == "iterate" else s.u.copy()
            s.Phi_w = s.scale * problem.operator(s.w)
            if s.anchored:
                s.Phi_w = s.Phi_w + (s.w - s.u)
            refreshes += 1
    s.refreshes += refreshes
    return refreshes


class _Loopless(StochasticSolver):
    def __init__(
        self,
        step: float | None = None,
        probability: float | None = None,
        block_steps: int | None = None,
        compiled: bool = True,
        **options: Any,
    ) -> None:
        super().__init__(step=step, **options)
        self.p_given = as_probability(probability, "probability")
        self.block_steps = None if block_steps is None else as_int(block_steps, "block_steps", low=1)
        if not isinstance(compiled, bool):
            raise TypeError(f"compiled must be True or False, got {compiled!r}")
        self.compiled = compiled

    def snapshot_p(self, problem: FiniteSumOperator) -> float:
        return self.p_given if self.p_given is not None else 1.0 / problem.n

    def steps_now(self, problem: FiniteSumOperator, state: State) -> int:
        """The block's length, cut so that the run stops at its epoch budget."""
        steps = state.block
        if self.budget is not None:
            left = (self.budget - problem.work) * problem.n
            steps = max(1, min(steps, math.ceil(left / 2)))
        return steps

    def extra_history(self, problem: FiniteSumOperator, state: State) -> dict:
        return {**super().extra_history(problem, state), "full_snapshots": state.refreshes}


class VREG(_Loopless):
    """Loopless VR extragradient (Alacaoglu and Malitsky 2022).

    ``step`` tau (default gamma sqrt(p)/L, L = Lipschitz in mean), ``gamma`` (default 0.99),
    ``probability`` p of a snapshot refresh (default 1/n), ``block_steps`` stochastic steps per
    iteration (default n), ``compiled`` (numba kernel on matrix games, default True).
    """

    name = "vr-eg"

    def __init__(
        self, step: float | None = None, gamma: float = 0.99, probability: float | None = None, **options: Any
    ) -> None:
        super().__init__(step=step, probability=probability, **options)
        self.gamma = as_real(gamma, "gamma", low=0.0, high=1.0, low_open=True, high_open=True)

    def default_step(self, problem: FiniteSumOperator) -> float:
        p = self.snapshot_p(problem)
        return self.gamma * math.sqrt(p) / constant(problem, "mean_lipschitz", "lipschitz")

    def init(self, problem: FiniteSumOperator, x0: np.ndarray | None = None) -> State:
        x = self.initial_point(problem, x0)
        return State(
            x=x,
            w=x.copy(),
            Fw=problem.operator(x),
            p=self.snapshot_p(problem),
            step=self.resolve_step(problem),
            rng=self.new_rng(),
            refreshes=0,
            block=self.block_steps or problem.n,
            taus=kernels.new_taus(),
        )

    def step(self, problem: FiniteSumOperator, state: State) -> State:
        steps, tau, p = self.steps_now(problem, state), state.step, state.p
        if uses_kernel(problem, self.compiled):
            game = cast(MatrixGame, problem)  # uses_kernel: a uniformly sampled matrix game
            refreshes = kernels.vr_eg_block(
                game.A, game.AT, problem.n, state.x, state.w, state.Fw, float(tau), float(p), state.rng, steps,
                state.taus,
            )  # fmt: skip
            problem.counts.add("component", 2 * steps + problem.n * refreshes)
            state.refreshes += refreshes
            return state
        for _ in range(steps):
            if self._numpy_step(problem, state):
                state.w = state.x.copy()
                state.Fw = problem.operator(state.w)
                state.refreshes += 1
        return state

    @staticmethod
    def _numpy_step(problem: FiniteSumOperator, state: State) -> bool:
        """One step of the numpy path of ``kernels.vr_eg_block`` (same draws); True when its coin asks
        for a refresh."""
        tau, p = state.step, state.p
        xbar = (1.0 - p) * state.x + p * state.w
        y = problem.resolvent(xbar - tau * state.Fw, tau)
        d = state.Fw + problem.component_diff(problem.sample(state.rng), y, state.w)
        state.x = problem.resolvent(xbar - tau * d, tau)
        return bool(state.rng.random() < p)


class VRForb(_Loopless):
    """Loopless VR forward-reflected-backward (Alacaoglu and Malitsky 2022).

    ``step`` gamma (default c sqrt(p(1-p))/L, L = Lipschitz in mean), ``c`` (default 0.5),
    ``probability`` p (default 1/n), ``snapshot`` "iterate" (default) or "anchor", ``block_steps``
    (default n) and ``compiled`` as for ``VREG``.
    """

    name = "vr-forb"

    def __init__(
        self, step: float | None = None, c: float = 0.5, probability: float | None = None, **options: Any
    ) -> None:
        super().__init__(step=step, probability=probability, **options)
        self.c = as_real(c, "c", low=0.0, low_open=True)

    def default_step(self, problem: FiniteSumOperator) -> float:
        return self.c * forb_factor(self.snapshot_p(problem)) / constant(problem, "mean_lipschitz", "lipschitz")

    def init(self, problem: FiniteSumOperator, x0: np.ndarray | None = None) -> State:
        x = self.initial_point(problem, x0)
        inner = forb_start(problem, x)
        return State(
            x=inner.v.copy(),
            inner=inner,
            p=self.snapshot_p(problem),
            step=self.resolve_step(problem),
            draws=LooplessDraws(self.new_rng()),
            refreshes=0,
            block=self.block_steps or problem.n,
        )

    def step(self, problem: FiniteSumOperator, state: State) -> State:
        steps = self.steps_now(problem, state)
        forb_run(problem, state.inner, state.draws, steps, gamma=state.step, p=state.p, compiled=self.compiled)
        state.x, state.refreshes = state.inner.v.copy(), state.inner.refreshes
        return state
