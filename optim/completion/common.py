"""What every factored completion solver shares: rank, SVD initialization, the stopping error, the
reporting columns, the result fields (``U``, ``V``, ``model``, ``predict``) and the Dask hook.

Stopping error (the solver's own, from the training data only): with ``rmse_t`` the training RMSE
of the current fit and ``rms`` the RMS of the observed values,

    error_t = min( rmse_t / rms , |rmse_{t-1} - rmse_t| / rmse_{t-1} ),

zero at an exact fit and small once the training RMSE stops moving (noisy or real data).
Errors against a truth and test RMSE are reporting columns only.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import scipy.sparse.linalg as spla

from problems.completion.problem import MatrixCompletionCapability
from problems.validation import as_int

from ..base import Solver, State
from .model import FactorModel
from .sides import Side, shifted, solve_exact


class UnderdeterminedWarning(UserWarning):
    """Rows or columns with fewer observed entries than the rank: unregularized fits overfit there."""


def svd_init(problem, k: int, rng, mu=None, clip: str = "entry", observed=None):
    """Top-k SVD of ``P_Omega(M) / p`` (Jain, Netrapalli and Sanghavi 2013, step 2), optionally
    clipped with the incoherence bound ``mu`` (entries, or whole rows, above ``2 mu sqrt(k/m)`` set to 0).
    ``observed`` (a CSR matrix) replaces ``P_Omega(M)`` (sample splitting uses one part of Omega).

    Returns ``(U, s, V)``, singular values in decreasing order (ARPACK started from a seeded vector).
    """
    m, n = problem.shape
    observed = problem.csr() if observed is None else observed
    mat = observed * (m * n / max(observed.nnz, 1))
    if k < min(m, n) - 1 and min(m, n) > 50:
        v0 = rng.standard_normal(min(m, n))
        U, s, Vt = spla.svds(mat, k=k, v0=v0)
        order = np.argsort(s)[::-1]
        U, s, V = U[:, order], s[order], Vt[order].T
    else:
        U, s, Vt = np.linalg.svd(mat.toarray(), full_matrices=False)
        U, s, V = U[:, :k], s[:k], Vt[:k].T
    if mu is not None:
        U = clip_incoherent(U, mu, k, clip)
    return U, s, V


def clip_incoherent(U: np.ndarray, mu: float, k: int, clip: str = "entry") -> np.ndarray:
    """Zero the entries (``clip="entry"``) or whole rows (``"row"``) of the m x k basis ``U`` above the
    incoherence bound ``2 mu sqrt(k/m)``, then re-orthonormalize (QR). ``U`` itself is not modified."""
    thresh = 2.0 * float(mu) * math.sqrt(k / U.shape[0])
    U = U.copy()
    if clip == "row":
        U[np.linalg.norm(U, axis=1) > thresh] = 0.0
    else:
        U[np.abs(U) > thresh] = 0.0
    return np.linalg.qr(U)[0]


def warn_underdetermined(problem, k: int, method: str) -> None:
    """Warn (``UnderdeterminedWarning``) naming the rows/columns with fewer than k observed entries."""
    parts = []
    for label, counts, ids in (
        ("rows", problem.row_counts, getattr(problem, "row_ids", None)),
        ("columns", problem.col_counts, getattr(problem, "col_ids", None)),
    ):
        few = np.flatnonzero(counts < k)
        if few.size:
            names = few[:8] if ids is None else ids[few[:8]]
            more = ", ..." if few.size > 8 else ""
            parts.append(f"{few.size} {label} ({', '.join(str(v) for v in names)}{more})")
    if parts:
        warnings.warn(
            f"{method}: {' and '.join(parts)} of problem {problem.name!r} have fewer than k = {k} observed "
            "entries; their least-squares problems are under-determined (solved by minimum-norm lstsq, "
            "zero if empty), so the fit overfits there. Use method='als' (ridge, lam > 0) for real data.",
            UnderdeterminedWarning,
            stacklevel=4,
        )


class FactoredSolver(Solver):
    """Base of the factored solvers: ``x`` = stacked factors ``[U.ravel(), V.ravel()]``.

    Options common to the family: ``rank`` (default: the problem's), ``client`` (a
    ``dask.distributed.Client``: half-steps run as maps over row partitions on the cluster, see
    ``docs/completion.md``), plus the loop's ``tol``, ``max_iter``, ``time_limit``, ``seed``, ...
    """

    requires = (MatrixCompletionCapability,)
    default_max_iter = 50
    supports_client = False  # True where half-steps run on Dask
    error_name = "relative training RMSE or its relative change"

    def __init__(self, *, rank=None, client=None, tol=1e-10, **common):
        super().__init__(tol=tol, **common)
        self.rank = None if rank is None else as_int(rank, "rank", low=1)
        if client is not None and not hasattr(client, "submit"):
            raise TypeError(f"client must be a dask.distributed.Client, got {type(client).__name__}")
        self.client = client

    # ------------------------------------------------------------------ helpers for subclasses
    def setup(self, problem) -> State:
        k = problem.rank if self.rank is None else self.rank
        if k > min(problem.shape):
            raise ValueError(f"rank must be <= min(m, n) = {min(problem.shape)}, got {k}")
        state = State(k=k, rng=self.new_rng(), n_under=0, inner=0, error=math.inf, rmse=math.nan)
        state.sides = {"rows": Side.from_compressed(problem.csr()), "cols": Side.from_compressed(problem.csc())}
        state.rms = float(np.sqrt(np.mean(problem.vals**2)))
        state.dask = None
        if self.client is not None and not self.supports_client:
            raise ValueError(f"{self.name} does not run on Dask; client= is accepted by altmin, altmin-robust and als")
        if self.client is not None:
            from .distributed import DaskSides

            state.dask = DaskSides(self.client, state.sides)
        return state

    def start_factors(self, problem, state, x0):
        """``(U, V)`` from ``x0`` (stacked factors) or None."""
        if x0 is None:
            return None
        x0 = np.asarray(x0, dtype=float)
        size = (problem.m + problem.n) * state.k
        if x0.ndim != 1 or x0.shape[0] != size:
            raise ValueError(f"x0 must hold (m + n) k = {size} numbers (stacked U and V), got shape {x0.shape}")
        if not np.all(np.isfinite(x0)):
            raise ValueError("x0 must be finite")
        return problem.factors(x0, state.k)

    def refuse_start(self, x0) -> None:
        """``ValueError`` for a start point given to a method that builds its own (it would be ignored)."""
        if x0 is not None:
            raise ValueError(f"{self.name} builds its own start point; x0 must be None")

    def solve_side(self, state, which: str, F, *, reg=0.0, reg_mask=None, mu=0.0, other_bias=None):
        """Exact (ridge) half-step for side ``which`` ("rows" or "cols") given the fixed factor F; the
        targets are ``vals - mu - other_bias[other index]`` (centering and the other side's biases)."""
        if state.dask is not None:
            X, under = state.dask.solve_exact(which, F, reg=reg, reg_mask=reg_mask, mu=mu, other_bias=other_bias)
        else:
            X, under = solve_exact(shifted(state.sides[which], mu, other_bias), F, reg=reg, reg_mask=reg_mask)
        state.n_under = max(state.n_under, len(under))
        return X

    def orthonormalize(self, state, X):
        if state.dask is not None:
            return state.dask.qr(X)
        return np.linalg.qr(X)[0]

    def svd(self, problem, state, mu=None, clip="entry"):
        if state.dask is not None:
            return state.dask.svd_init(problem, state.k, state.rng, mu=mu, clip=clip)
        return svd_init(problem, state.k, state.rng, mu=mu, clip=clip)

    def model(self, problem, state) -> FactorModel:
        """The fitted model; subclasses with offsets (mean, biases) override."""
        U, V = problem.factors(state.x, state.k)
        return FactorModel.for_problem(problem, U, V)

    def update_error(self, problem, state) -> None:
        """Training RMSE of the current model and the stopping error (see the module docstring)."""
        model = self.model(problem, state)
        rmse = problem.rmse(model.raw(problem.rows, problem.cols), "train")
        prev = state.rmse
        rel = rmse / state.rms if state.rms > 0 else rmse
        change = abs(prev - rmse) / prev if prev > 0 and math.isfinite(prev) else math.inf
        state.rmse, state.error = rmse, min(rel, change)

    # ------------------------------------------------------------------ loop hooks
    def optimality(self, problem, state) -> float:
        return float(state.error if math.isfinite(state.error) else state.rmse / max(state.rms, 1e-300))

    def objective(self, problem, state) -> float:
        """Half the training sum of squared errors (plus the penalty, for regularized methods)."""
        return 0.5 * state.rmse**2 * problem.n_obs

    def report(self, problem, state) -> dict:
        model = self.model(problem, state)
        return problem.report_factors(model.U, model.V, predict=model.raw)

    def extra_history(self, problem, state) -> dict:
        return {"n_underdetermined": state.n_under}

    def make_result(self, problem, state, **kw):
        result = super().make_result(problem, state, **kw)
        model = self.model(problem, state)
        result.U, result.V, result.model, result.predict = model.U, model.V, model, model.predict
        result.rank = state.k
        result.n_underdetermined = state.n_under
        if "report" not in result:
            result.report = self.report(problem, state)
        if result.status == "converged":
            result.message = self.stop_message("converged", {**kw["values"], "optimality": result.optimality})
        return result
