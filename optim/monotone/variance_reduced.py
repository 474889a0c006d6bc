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

  step gamma = c sqrt(p (1 - p)) / L (default c = 0.5). ``forb_step`` runs the same update on the
  shifted operator Phi_u(v) = eta F(v) + v - u, the resolvent subproblem of ``InexactHalpern``.

Each stochastic step costs 2 component evaluations; a refresh costs n.
"""

from __future__ import annotations

import math

from problems.validation import as_real

from ..base import State
from .common import StochasticSolver, as_probability, constant


def forb_factor(p: float) -> float:
    """sqrt(p (1 - p)) of the VR-FoRB step (1/2 when p = 1, the deterministic FoRB bound)."""
    return math.sqrt(p * (1.0 - p)) if p < 1.0 else 0.5


def forb_start(problem, u, scale=1.0, anchored=False) -> State:
    """Inner state at v = w = w_old = u with Phi(w) = scale F(u) (cost n)."""
    return State(
        v=u.copy(), w=u, w_old=u, Phi_w=scale * problem.operator(u), u=u, scale=scale, anchored=anchored, refreshes=0
    )


def forb_step(problem, s: State, rng, *, gamma, p, snapshot="iterate") -> None:
    """One loopless VR-FoRB step on Phi(v) = scale F(v) (+ v - u when anchored), resolvent
    J_{gamma scale G}. ``snapshot="anchor"`` resets w to u on a refresh, as the official
    ``subsolver_FoRB`` does (spec Sect. 3); "iterate" (VR-FoRB proper) sets w to the new v."""
    alpha = 1.0 - p
    vbar = alpha * s.v + (1.0 - alpha) * s.w
    d = s.Phi_w + s.scale * problem.component_diff(problem.sample(rng), s.v, s.w_old)
    if s.anchored:
        d = d + (s.v - s.w_old)
    s.v = problem.resolvent(vbar - gamma * d, gamma * s.scale)
    s.w_old = s.w
    if rng.random() < p:
        s.w = s.v if snapshot == "iterate" else s.u
        s.Phi_w = s.scale * problem.operator(s.w)
        if s.anchored:
            s.Phi_w = s.Phi_w + (s.w - s.u)
        s.refreshes += 1


class _Loopless(StochasticSolver):
    def __init__(self, step=None, probability=None, **options):
        super().__init__(step=step, **options)
        self.p_given = as_probability(probability, "probability")

    def snapshot_p(self, problem) -> float:
        return self.p_given if self.p_given is not None else 1.0 / problem.n

    def extra_history(self, problem, state):
        return {**super().extra_history(problem, state), "full_snapshots": state.refreshes}


class VREG(_Loopless):
    """Loopless VR extragradient (Alacaoglu and Malitsky 2022).

    ``step`` tau (default gamma sqrt(p)/L, L = Lipschitz in mean), ``gamma`` (default 0.99),
    ``probability`` p of a snapshot refresh (default 1/n). ``check_every`` defaults to n steps.
    """

    name = "vr-eg"

    def __init__(self, step=None, gamma=0.99, probability=None, **options):
        super().__init__(step=step, probability=probability, **options)
        self.gamma = as_real(gamma, "gamma", low=0.0, low_open=True)

    def default_step(self, problem):
        p = self.snapshot_p(problem)
        return self.gamma * math.sqrt(p) / constant(problem, "mean_lipschitz", "lipschitz")

    def init(self, problem, x0=None):
        x = self.initial_point(problem, x0)
        self.set_check_every(problem, problem.n)
        return State(
            x=x,
            w=x.copy(),
            Fw=problem.operator(x),
            p=self.snapshot_p(problem),
            step=self.resolve_step(problem),
            rng=self.new_rng(),
            refreshes=0,
        )

    def step(self, problem, state):
        tau, p = state.step, state.p
        xbar = (1.0 - p) * state.x + p * state.w
        y = problem.resolvent(xbar - tau * state.Fw, tau)
        d = state.Fw + problem.component_diff(problem.sample(state.rng), y, state.w)
        state.x = problem.resolvent(xbar - tau * d, tau)
        if state.rng.random() < p:
            state.w = state.x
            state.Fw = problem.operator(state.w)
            state.refreshes += 1
        return state


class VRForb(_Loopless):
    """Loopless VR forward-reflected-backward (Alacaoglu and Malitsky 2022).

    ``step`` gamma (default c sqrt(p(1-p))/L, L = Lipschitz in mean), ``c`` (default 0.5),
    ``probability`` p (default 1/n), ``snapshot`` "iterate" (default) or "anchor".
    """

    name = "vr-forb"

    def __init__(self, step=None, c=0.5, probability=None, **options):
        super().__init__(step=step, probability=probability, **options)
        self.c = as_real(c, "c", low=0.0, low_open=True)

    def default_step(self, problem):
        return self.c * forb_factor(self.snapshot_p(problem)) / constant(problem, "mean_lipschitz", "lipschitz")

    def init(self, problem, x0=None):
        x = self.initial_point(problem, x0)
        self.set_check_every(problem, problem.n)
        inner = forb_start(problem, x)
        return State(
            x=inner.v,
            inner=inner,
            p=self.snapshot_p(problem),
            step=self.resolve_step(problem),
            rng=self.new_rng(),
            refreshes=0,
        )

    def step(self, problem, state):
        forb_step(problem, state.inner, state.rng, gamma=state.step, p=state.p)
        state.x, state.refreshes = state.inner.v, state.inner.refreshes
        return state
