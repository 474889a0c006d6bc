"""Alternating minimization for low-rank completion: exact (Jain, Netrapalli and Sanghavi, STOC 2013,
Algorithm 2 without sample splitting) and robust, with sketch-preconditioned half-steps (Gu, Song, Yin
and Zhang, "Low Rank Matrix Completion via Robust Alternating Minimization in Nearly Linear Time",
ICLR 2024).

Iteration t (U orthonormal, initialized by the top-k SVD of ``P_Omega(M)/p``):

    V_hat = argmin_V ||P_Omega(U V^T - M)||_F^2       (n least-squares problems, one per column)
    V     = qr(V_hat).Q
    U_hat = argmin_U ||P_Omega(U V^T - M)||_F^2       (m problems, one per row)
    U     = qr(U_hat).Q

and the fit is ``U_hat V^T`` (``x`` stacks ``U_hat`` and ``V``). Every half-step reuses all of Omega
(the paper's sample splitting into 2T+1 parts is a proof device that starves each step at practical
sizes). The robust variant solves each half-step approximately by ``solve_sketched`` with accuracy
relative to the current residual, which keeps the geometric rate.
"""

from __future__ import annotations

import numpy as np

from problems.validation import as_choice, as_int, as_real

from .common import FactoredSolver, warn_underdetermined
from .sketch import SKETCHES, solve_sketched


class AltMin(FactoredSolver):
    """Exact alternating minimization (``method="altmin"``).

    Options: ``rank``; ``mu`` (incoherence bound; None skips clipping of the SVD start) and ``clip``
    ("entry" as in Jain et al., or "row"); ``qr_each_step`` (default True). Rows or columns with fewer
    than k observations are solved by minimum-norm least squares and reported by an
    ``UnderdeterminedWarning`` (unregularized AM overfits on real data; use ``als``).
    """

    name = "altmin"
    supports_client = True

    def __init__(self, *, rank=None, mu=None, clip="entry", qr_each_step=True, client=None, **common):
        super().__init__(rank=rank, client=client, **common)
        self.mu = None if mu is None else as_real(mu, "mu", low=1.0)
        self.clip = as_choice(clip, "clip", ["entry", "row"])
        self.qr_each_step = bool(qr_each_step)

    def init(self, problem, x0=None):
        state = self.setup(problem)
        warn_underdetermined(problem, state.k, self.name)
        start = self.start_factors(problem, state, x0)
        if start is None:
            U, s, V = self.svd(problem, state, mu=self.mu, clip=self.clip)
            Uh = U * s
        else:
            Uh, V = start
            U = self.orthonormalize(state, Uh) if self.qr_each_step else Uh
        problem.counts.add("pass", 1)  # the SVD start reads the observed entries (a few passes in fact)
        state.U, state.x = U, problem.stack(Uh, V)
        self.update_error(problem, state)
        state.error = np.inf
        return state

    def half_step(self, problem, state, which: str, F):
        problem.counts.add("pass", 1)
        return self.solve_side(state, which, F)

    def step(self, problem, state):
        Vh = self.half_step(problem, state, "cols", state.U)
        V = self.orthonormalize(state, Vh) if self.qr_each_step else Vh
        Uh = self.half_step(problem, state, "rows", V)
        state.U = self.orthonormalize(state, Uh) if self.qr_each_step else Uh
        state.x = problem.stack(Uh, V)
        self.update_error(problem, state)
        return state


class AltMinRobust(AltMin):
    """Robust alternating minimization (``method="altmin-robust"``): each half-step by the
    sketch-preconditioned solver (``optim.completion.sketch_lstsq``, batched over rows).

    Options (besides ``AltMin``'s): ``sketch`` ("srht", "countsketch", "gaussian"), ``oversample`` (4:
    s = 4k sketch rows) or ``s``, ``reg_tol`` (residual-excess target per regression, relative to its
    current residual; default 1e-6), ``inner_iters`` (a fixed number of CG steps instead),
    ``reuse_sketch`` (draw the sketches once per side instead of every half-step).
    """

    name = "altmin-robust"

    def __init__(
        self,
        *,
        sketch="srht",
        oversample=4.0,
        s=None,
        reg_tol=1e-6,
        inner_iters=None,
        reuse_sketch=False,
        **options,
    ):
        super().__init__(**options)
        self.sketch = as_choice(sketch, "sketch", SKETCHES)
        self.oversample = as_real(oversample, "oversample", low=1.0)
        self.s = None if s is None else as_int(s, "s", low=1)
        self.reg_tol = as_real(reg_tol, "reg_tol", low=0.0)
        self.inner_iters = None if inner_iters is None else as_int(inner_iters, "inner_iters", low=0)
        self.reuse_sketch = bool(reuse_sketch)

    def init(self, problem, x0=None):
        state = super().init(problem, x0)
        state.sketch_seeds = {w: int(state.rng.integers(2**62)) for w in ("rows", "cols")}
        return state

    def half_step(self, problem, state, which: str, F):
        problem.counts.add("pass", 1)
        rng = np.random.default_rng(state.sketch_seeds[which]) if self.reuse_sketch else state.rng
        opts = dict(
            sketch=self.sketch, s=self.s, oversample=self.oversample, tol=self.reg_tol, inner_iters=self.inner_iters
        )
        if state.dask is not None:
            X, info = state.dask.solve_sketched(which, F, seed=int(rng.integers(2**62)), **opts)
        else:
            X, info = solve_sketched(state.sides[which], F, rng=rng, **opts)
        state.inner = info["inner"] if which == "cols" else max(state.inner, info["inner"])
        state.n_under = max(state.n_under, len(info["under"]))
        return X

    def extra_history(self, problem, state) -> dict:
        return {**super().extra_history(problem, state), "inner_iters": state.inner}
