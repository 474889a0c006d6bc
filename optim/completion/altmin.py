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

import warnings

import numpy as np
import scipy.sparse as sp

from problems.validation import as_choice, as_int, as_real

from .common import FactoredSolver, UnderdeterminedWarning, svd_init, warn_underdetermined
from .sides import Side
from .sketch import SKETCHES, solve_sketched


class AltMin(FactoredSolver):
    """Exact alternating minimization (``method="altmin"``).

    Options: ``rank``; ``mu`` (incoherence bound; None skips clipping of the SVD start) and ``clip``
    ("entry" as in Jain et al., or "row"); ``qr_each_step`` (default True); ``split`` (False; True
    splits Omega into 2T + 1 random parts, T = max_iter, one for the start and one per half-step, as
    analysed, and warns when parts hold fewer than k entries per row or column). Rows or columns with fewer
    than k observations are solved by minimum-norm least squares and reported by an
    ``UnderdeterminedWarning`` (unregularized AM overfits on real data; use ``als``).
    """

    name = "altmin"
    supports_client = True

    def __init__(self, *, rank=None, mu=None, clip="entry", qr_each_step=True, split=False, client=None, **common):
        super().__init__(rank=rank, client=client, **common)
        self.mu = None if mu is None else as_real(mu, "mu", low=1.0)
        self.clip = as_choice(clip, "clip", ["entry", "row"])
        self.qr_each_step = bool(qr_each_step)
        self.split = bool(split)
        if self.split and client is not None:
            raise ValueError("split=True does not run on Dask (client=)")

    def init(self, problem, x0=None):
        state = self.setup(problem)
        warn_underdetermined(problem, state.k, self.name)
        state.t, state.parts = 0, None
        if self.split:
            state.parts = self._split(problem, state)
        start = self.start_factors(problem, state, x0)
        if start is None and self.split:
            U, s, V = svd_init(problem, state.k, state.rng, self.mu, self.clip, observed=self._part(problem, state, 0))
            Uh = U * s
        elif start is None:
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

    def _split(self, problem, state) -> np.ndarray:
        """Sample splitting (the analysed algorithm): each observed entry to one of 2T + 1 parts, T = max_iter."""
        T = max(1, self.max_iter)
        labels = state.rng.integers(0, 2 * T + 1, size=problem.n_obs)
        k, m, n = state.k, problem.m, problem.n
        few_rows = np.bincount(labels * m + problem.rows, minlength=(2 * T + 1) * m).reshape(-1, m)[1:] < k
        few_cols = np.bincount(labels * n + problem.cols, minlength=(2 * T + 1) * n).reshape(-1, n)[1:] < k
        if few_rows.any() or few_cols.any():
            warnings.warn(
                f"{self.name}: sample splitting into 2T + 1 = {2 * T + 1} parts leaves {few_rows.mean():.0%} of the "
                f"rows and {few_cols.mean():.0%} of the columns of a part with fewer than k = {k} entries; those "
                "least-squares problems are under-determined. Use split=False (all of Omega in every step).",
                UnderdeterminedWarning,
                stacklevel=4,
            )
        return labels

    def _part(self, problem, state, index: int) -> sp.csr_matrix:
        keep = state.parts == index
        return sp.csr_matrix((problem.vals[keep], (problem.rows[keep], problem.cols[keep])), shape=problem.shape)

    def half_step(self, problem, state, which: str, F):
        problem.counts.add("pass", 1)
        return self.solve_side(state, which, F)

    def step(self, problem, state):
        state.t += 1
        if self.split:  # step t uses parts t (for V) and T + t (for U)
            T = max(1, self.max_iter)
            cols = self._part(problem, state, min(state.t, T)).tocsc()
            cols.sort_indices()
            rows = self._part(problem, state, T + min(state.t, T))
            rows.sort_indices()
            state.sides = {"cols": Side.from_compressed(cols), "rows": Side.from_compressed(rows)}
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
        k = problem.rank if self.rank is None else self.rank
        if self.s is not None and self.s < k:
            raise ValueError(f"s must be at least the rank k = {k} (a sketch of s rows preconditions k columns)")
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
