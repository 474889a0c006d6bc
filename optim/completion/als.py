"""Ridge alternating least squares, what recommender libraries ship (Zhou, Wilkinson, Schreiber and Pan
2008, "ALS-WR"; Spark MLlib's explicit-feedback ALS).

Model ``r_ij ~ mu + b_i + c_j + u_i . v_j`` (``mu`` the training mean when ``center``; biases ``b, c``
when ``biases``), fitted by minimising

    sum_{(i,j) in Omega} (r_ij - mu - b_i - c_j - u_i . v_j)^2
        + lam ( sum_i w_i (||u_i||^2 + b_i^2) + sum_j w_j (||v_j||^2 + c_j^2) )

with ``w_i = |Omega(i)|`` (``weighting="count"``, as Spark multiplies ``regParam`` by the number of
ratings of a row) or ``w_i = 1`` (``"none"``). Each half-step is exact: with the other side fixed,
every row solves ``(sum_j f_j f_j^T + lam w_i I) [u_i; b_i] = sum_j (r_ij - mu - c_j) f_j`` with
``f_j = [v_j; 1]`` (batched, ``optim.completion.sides``). Rows without training ratings get zero
factors and biases, so they predict ``mu`` (the cold-start fallback). Defaults follow Spark's
``pyspark.ml.recommendation.ALS``: rank 10, ``regParam`` 0.1, 10 iterations, random start.
"""

from __future__ import annotations

import numpy as np

from problems.validation import as_choice, as_real

from .common import FactoredSolver, warn_underdetermined
from .model import FactorModel


class ALS(FactoredSolver):
    """Count-weighted ridge ALS (``method="als"``).

    Options: ``rank``; ``lam`` (0.1); ``weighting`` ("count" or "none"); ``center`` (subtract the
    training mean, default True); ``biases`` (fit user/item biases, default False); ``init``
    ("random": N(0, init_scale^2) entries, scale 0.1; or "svd": the SVD start of ``altmin``).
    """

    name = "als"
    supports_client = True
    default_max_iter = 10

    def __init__(
        self, *, rank=None, lam=0.1, weighting="count", center=True, biases=False, init="random", init_scale=0.1, **kw
    ):
        kw.setdefault("tol", 1e-6)
        super().__init__(rank=rank, **kw)
        self.lam = as_real(lam, "lam", low=0.0)
        self.weighting = as_choice(weighting, "weighting", ["count", "none"])
        self.center = bool(center)
        self.biases = bool(biases)
        self.init_kind = as_choice(init, "init", ["random", "svd"])
        self.init_scale = as_real(init_scale, "init_scale", low=0.0)

    def init(self, problem, x0=None):
        state = self.setup(problem)
        if self.lam == 0:
            warn_underdetermined(problem, state.k + self.biases, self.name)
        m, n, k = problem.m, problem.n, state.k
        state.mu = float(np.mean(problem.vals)) if self.center else 0.0
        state.b, state.c = np.zeros(m), np.zeros(n)
        start = self.start_factors(problem, state, x0)
        if start is not None:
            U, V = (f.copy() for f in start)
        elif self.init_kind == "svd":
            U, s, V = self.svd(problem, state)
            U, V = U * np.sqrt(s), V * np.sqrt(s)
        else:
            U = self.init_scale * state.rng.standard_normal((m, k))
            V = self.init_scale * state.rng.standard_normal((n, k))
        U[problem.row_counts == 0] = 0.0
        V[problem.col_counts == 0] = 0.0
        weights = {"rows": problem.row_counts, "cols": problem.col_counts}
        state.reg = {
            w: self.lam * (c if self.weighting == "count" else np.where(c > 0, 1.0, 0.0)) for w, c in weights.items()
        }
        state.x = problem.stack(U, V)
        self.update_error(problem, state)
        state.error = np.inf
        return state

    def _half(self, problem, state, which, F, other_bias):
        """Solve side ``which`` with the fixed factor F (and the other side's biases)."""
        problem.counts.add("pass", 1)
        if self.biases:
            F = np.hstack([F, np.ones((F.shape[0], 1))])
        X = self.solve_side(
            state, which, F, reg=state.reg[which], mu=state.mu, other_bias=other_bias if self.biases else None
        )
        if self.biases:
            return X[:, :-1], X[:, -1]
        return X, None

    def step(self, problem, state):
        U, V = problem.factors(state.x, state.k)
        V, c = self._half(problem, state, "cols", U, state.b)
        U, b = self._half(problem, state, "rows", V, c if c is not None else state.c)
        if self.biases:
            state.b, state.c = b, c
        state.x = problem.stack(U, V)
        self.update_error(problem, state)
        return state

    def model(self, problem, state) -> FactorModel:
        U, V = problem.factors(state.x, state.k)
        offsets = {"mean": state.mu}
        if self.biases:
            offsets.update(row_bias=state.b, col_bias=state.c)
        return FactorModel.for_problem(problem, U, V, **offsets)

    def objective(self, problem, state) -> float:
        U, V = problem.factors(state.x, state.k)
        pen = np.sum(state.reg["rows"] * (np.sum(U**2, axis=1) + state.b**2))
        pen += np.sum(state.reg["cols"] * (np.sum(V**2, axis=1) + state.c**2))
        return float(state.rmse**2 * problem.n_obs + pen)


class BiasBaseline(FactoredSolver):
    """User and item biases only, ``r_ij ~ mu + b_i + c_j`` (``method="bias-baseline"``), by
    alternating ridge updates as Surprise's ``BaselineOnly`` (Koren 2010, Sect. 2.1)::

        c_j = sum_i (r_ij - mu - b_i) / (reg_item + |Omega(j)|)
        b_i = sum_j (r_ij - mu - c_j) / (reg_user + |Omega(i)|)

    Defaults ``reg_item=10``, ``reg_user=15``, 10 iterations (Surprise's). The factors are zero.
    """

    name = "bias-baseline"
    default_max_iter = 10

    def __init__(self, *, reg_user=15.0, reg_item=10.0, **kw):
        kw.setdefault("tol", 0.0)
        super().__init__(**kw)
        self.reg_user = as_real(reg_user, "reg_user", low=0.0)
        self.reg_item = as_real(reg_item, "reg_item", low=0.0)

    def init(self, problem, x0=None):
        self.refuse_start(x0)
        state = self.setup(problem)
        state.k = 1
        state.mu = float(np.mean(problem.vals))
        state.b, state.c = np.zeros(problem.m), np.zeros(problem.n)
        state.x = np.zeros(problem.m + problem.n)
        self.update_error(problem, state)
        state.error = np.inf
        return state

    def step(self, problem, state):
        problem.counts.add("pass", 2)
        r, c, v = problem.rows, problem.cols, problem.vals - state.mu
        num = np.bincount(c, weights=v - state.b[r], minlength=problem.n)
        state.c = num / (self.reg_item + problem.col_counts)
        num = np.bincount(r, weights=v - state.c[c], minlength=problem.m)
        state.b = num / (self.reg_user + problem.row_counts)
        state.x = np.concatenate([state.b, state.c])
        self.update_error(problem, state)
        return state

    def model(self, problem, state) -> FactorModel:
        U, V = np.zeros((problem.m, 1)), np.zeros((problem.n, 1))
        return FactorModel.for_problem(problem, U, V, mean=state.mu, row_bias=state.b, col_bias=state.c)
