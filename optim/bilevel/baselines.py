"""Baselines for multi-block bilevel problems.

* ``RSVRB`` (Guo, Hu, Zhang and Yang, 2021), as in the official code: STORM trackers with importance
  factor m/I of grad_y g_i (s_i), grad_y f_i (v_i), the cross matrix grad^2_xy g_i (V_i) and grad^2_yy g_i
  (H_i) for the sampled blocks, every tracker of an unsampled block multiplied by (1 - beta), and the
  upper estimate from a second, independent block sample: G = mean_{i in J'} (grad_x f_i - V_i H_i^{-1} v_i).
  Memory m d_x d_y: refused above ``max_floats``.
* ``SOBA`` (Dagreou, Ablin, Vaiter and Moreau, 2022) on the stacked problem (all blocks every iteration):
  y <- y - rho grad_y g, v <- v - rho (grad^2_yy g v - grad_y f), x <- x - eta (grad_x f - grad^2_xy g v).
* ``StocBiO`` (Ji, Yang and Liang, 2021) on the stacked problem: ``inner_steps`` SGD steps on y
  (warm-started), a Neumann series of ``neumann_steps`` terms for H^{-1} grad_y f, one upper step.
* ``HypergradientDescent``: x <- x - eta grad F(x) with the exact hypergradient and Armijo backtracking;
  each exact F or grad F is charged m (n_lower + n_upper) samples (one pass over every block's data).
"""

from __future__ import annotations

import numpy as np

from problems.bilevel.base import ExactHypergradient, MultiBlockBilevel
from problems.validation import as_choice, as_int, as_real

from ..base import Solver, State
from .bsvrb import project_hessians
from .common import EXACT_ERROR, BilevelSolver


class RSVRB(BilevelSolver):
    """RSVRB (module docstring). Options: ``beta`` (STORM weight of every tracker), ``projection``
    ("frobenius" with ``hessian_bound``, the official code, or "eig" with floor mu_g), ``init``
    ("minibatch" or "code"), ``max_floats`` (refuse problems whose m d_x d_y trackers exceed it)."""

    name = "rsvrb"

    def __init__(self, *, beta=0.5, projection="eig", hessian_bound=10.0, init="minibatch", max_floats=5e7, **options):
        super().__init__(**options)
        self.beta = as_real(beta, "beta", low=0.0, high=1.0, low_open=True)
        self.projection = as_choice(projection, "projection", ("eig", "frobenius"))
        self.hessian_bound = as_real(hessian_bound, "hessian_bound", low=0.0, low_open=True)
        self.init_mode = as_choice(init, "init", ("minibatch", "code"))
        self.max_floats = as_real(max_floats, "max_floats", low=1.0)

    def _proj(self, problem, H):
        return project_hessians(H, self.projection, problem.mu_g, np.inf, self.hessian_bound)

    def init(self, problem, x0=None) -> State:
        st = self.setup(problem)
        m, dx, dy = problem.m, problem.dim_x, problem.dim_y
        if m * dx * dy > self.max_floats:
            raise ValueError(
                f"rsvrb keeps m x dim_x x dim_y = {m * dx * dy:.3g} floats of cross-matrix trackers, "
                f"above max_floats = {self.max_floats:.3g}"
            )
        st.x, st.Y = self.start(problem, x0)
        st.x_prev, st.Y_prev, st.z = st.x.copy(), st.Y.copy(), None
        allb = np.arange(m)
        if self.init_mode == "code":
            r = st.rng.random
            st.s, st.v, st.Vx, st.H = r((m, dy)), r((m, dy)), r((m, dx, dy)), r((m, dy, dy))
            st.z = r(dx)
            return st
        bg, bf = problem.sample_lower(allb, st.B, st.rng), problem.sample_upper(allb, st.Bf, st.rng)
        st.s = problem.grad_y_g(allb, st.x, st.Y, bg)
        st.v = problem.grad_y_f(allb, st.x, st.Y, bf)
        st.Vx = problem.cross_xy_g(allb, st.x, st.Y, bg)
        st.H = self._proj(problem, problem.hess_yy_g(allb, st.x, st.Y, bg))
        return st

    def _upper(self, problem, st, J2, bf2, x, Y, v, Vx, H):
        q = np.linalg.solve(self._proj(problem, H), v[..., None])
        return (problem.grad_x_f(J2, x, Y, bf2) - np.matmul(Vx, q)[..., 0]).mean(axis=0)

    def step(self, problem, st: State) -> State:
        m, b = problem.m, self.beta
        J, bg, bf = self.sample(problem, st)
        J2 = np.sort(st.rng.choice(m, st.I, replace=False))
        bf2 = problem.sample_upper(J2, st.Bf, st.rng)
        old = (st.v[J2].copy(), st.Vx[J2].copy(), st.H[J2].copy())
        g_old = self._upper(problem, st, J2, bf2, st.x_prev, st.Y_prev[J2], *old)
        c = m / st.I
        x, xp, Yj, Ypj = st.x, st.x_prev, st.Y[J], st.Y_prev[J]
        pairs = (
            ("s", problem.grad_y_g(J, x, Yj, bg), problem.grad_y_g(J, xp, Ypj, bg)),
            ("v", problem.grad_y_f(J, x, Yj, bf), problem.grad_y_f(J, xp, Ypj, bf)),
            ("Vx", problem.cross_xy_g(J, x, Yj, bg), problem.cross_xy_g(J, xp, Ypj, bg)),
            ("H", problem.hess_yy_g(J, x, Yj, bg), problem.hess_yy_g(J, xp, Ypj, bg)),
        )
        mask = np.ones(m, dtype=bool)
        mask[J] = False
        for key, new, prev in pairs:
            arr = getattr(st, key)
            fresh = (1 - b) * (arr[J] - c * prev) + c * new
            arr[mask] *= 1 - b
            arr[J] = self._proj(problem, fresh) if key == "H" else fresh
        g_new = self._upper(problem, st, J2, bf2, st.x, st.Y[J2], st.v[J2], st.Vx[J2], st.H[J2])
        st.z = g_new if st.z is None else (1 - b) * (st.z - g_old) + g_new
        st.x_prev, st.x = st.x, st.x - self.upper_step * st.z
        st.Y_prev = st.Y.copy()
        st.Y -= st.tau * st.s
        st.t += 1
        return st


class SOBA(BilevelSolver):
    """SOBA on the stacked lower level (every block, every iteration; module docstring).
    ``v_step`` defaults to ``lower_step``."""

    name = "soba"

    def __init__(self, *, v_step=None, **options):
        options.setdefault("blocks_per_iter", None)
        super().__init__(**options)
        self.v_step = None if v_step is None else as_real(v_step, "v_step", low=0.0, low_open=True)

    def init(self, problem, x0=None) -> State:
        st = self.setup(problem)
        st.I = problem.m
        st.x, st.Y = self.start(problem, x0)
        st.V = np.zeros_like(st.Y)
        st.tau_v = st.tau if self.v_step is None else self.v_step
        return st

    def step(self, problem, st: State) -> State:
        J, bg, bf = self.sample(problem, st)
        x, Y, V = st.x, st.Y, st.V
        dy = problem.grad_y_g(J, x, Y, bg)
        gf = problem.grad_y_f(J, x, Y, bf)
        dv = problem.hvp_yy_g(J, x, Y, V, bg) - gf
        dx = (problem.grad_x_f(J, x, Y, bf) - problem.jvp_xy_g(J, x, Y, V, bg)).mean(axis=0)
        st.Y, st.V, st.x = Y - st.tau * dy, V - st.tau_v * dv, x - self.upper_step * dx
        st.t += 1
        return st


class StocBiO(BilevelSolver):
    """stocBiO on the stacked lower level: ``inner_steps`` SGD steps on y, a ``neumann_steps``-term
    Neumann series with step ``neumann_step`` (default 1 / L_g) for H^{-1} grad_y f, one upper step."""

    name = "stocbio"

    def __init__(self, *, inner_steps=5, neumann_steps=10, neumann_step=None, **options):
        super().__init__(**options)
        self.inner_steps = as_int(inner_steps, "inner_steps", low=1)
        self.neumann_steps = as_int(neumann_steps, "neumann_steps", low=0)
        self.neumann_step = None if neumann_step is None else as_real(neumann_step, "neumann_step", low=0.0)

    def init(self, problem, x0=None) -> State:
        st = self.setup(problem)
        st.I = problem.m
        st.x, st.Y = self.start(problem, x0)
        st.eta_n = 1.0 / problem.L_g if self.neumann_step is None else self.neumann_step
        return st

    def step(self, problem, st: State) -> State:
        J = np.arange(problem.m)
        x = st.x
        for _ in range(self.inner_steps):
            st.Y = st.Y - st.tau * problem.grad_y_g(J, x, st.Y, problem.sample_lower(J, st.B, st.rng))
        bf = problem.sample_upper(J, st.Bf, st.rng)
        p = st.eta_n * problem.grad_y_f(J, x, st.Y, bf)
        q = p.copy()
        for _ in range(self.neumann_steps):
            p = p - st.eta_n * problem.hvp_yy_g(J, x, st.Y, p, problem.sample_lower(J, st.B, st.rng))
            q += p
        bg = problem.sample_lower(J, st.B, st.rng)
        d = (problem.grad_x_f(J, x, st.Y, bf) - problem.jvp_xy_g(J, x, st.Y, q, bg)).mean(axis=0)
        st.x = x - self.upper_step * d
        st.t += 1
        return st


class HypergradientDescent(Solver):
    """Exact hypergradient descent with Armijo backtracking on F (a deterministic reference).
    ``upper_step`` is the first trial step of every backtracking search (default 1)."""

    name = "hypergradient-descent"
    requires = (MultiBlockBilevel, ExactHypergradient)
    error_name = EXACT_ERROR
    default_max_iter = 500

    def __init__(self, *, upper_step=1.0, **common):
        super().__init__(**common)
        self.upper_step = as_real(upper_step, "upper_step", low=0.0, low_open=True)

    @classmethod
    def accepts(cls, problem) -> bool:
        return super().accepts(problem) and bool(getattr(problem, "has_exact", True))

    def check(self, problem) -> None:
        super().check(problem)
        if not getattr(problem, "has_exact", True):
            raise TypeError(f"{self.name} needs an exact hypergradient; {problem!r} offers none at this size")

    def init(self, problem, x0=None) -> State:
        x = self.initial_point(problem, x0)
        return State(x=x, F=problem.F(x), g=problem.hypergrad(x), eta=self.upper_step)

    def step(self, problem, st: State) -> State:
        # an exact F or grad F touches every sample of every block at least once
        full = problem.m * (problem.n_lower + problem.n_upper)
        eta, gg = self.upper_step, float(st.g @ st.g)
        g = None
        for _ in range(60):
            x = st.x - eta * st.g
            F = problem.F(x)
            problem.counts.add("samples", full)
            if F <= st.F - 0.5 * eta * gg:
                break
            if abs(F - st.F) <= 1e-12 * max(1.0, abs(st.F)):
                # the decrease is below the rounding of F: test the slope instead (the approximate Armijo
                # condition of Hager and Zhang, 2005, with delta = 1/2: phi'(eta) <= 0 along -g)
                g = problem.hypergrad(x)
                problem.counts.add("samples", full)
                if float(g @ st.g) >= 0.0:
                    break
                g = None
            eta *= 0.5
        st.x, st.F, st.eta = x, F, eta
        st.g = problem.hypergrad(x) if g is None else g
        if g is None:
            problem.counts.add("samples", full)
        return st

    def optimality(self, problem, state: State) -> float:
        return float(np.linalg.norm(state.g))

    def objective(self, problem, state: State) -> float:
        return float(state.F)
