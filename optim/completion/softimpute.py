"""Spectral baselines: SoftImpute (Mazumder, Hastie and Tibshirani 2010) and singular value projection
(Jain, Meka and Dhillon 2010).

SoftImpute iterates ``Z <- S_lam(P_Omega(M) + P_Omega^perp(Z))`` where ``S_lam`` replaces the
singular values ``s`` by ``max(s - lam, 0)``. ``soft_impute`` follows fancyimpute 0.7.0's choices on
a dense matrix with NaN for missing entries (zero fill, ``lam = sigma_max / 50`` by default, stop when
the relative change of the *missing* entries is below ``convergence_threshold``, observed entries
returned as given), so the two agree to rounding when both use a full SVD. Deviations: sigma_max is
exact (``numpy.linalg.norm(., 2)``) instead of a randomized estimate, and ``max_rank`` uses
``scipy.sparse.linalg.svds`` instead of an unseeded randomized SVD, so runs are deterministic.

SVP iterates ``X <- P_k(X - eta P_Omega(X - M))`` with ``P_k`` the best rank-k approximation,
``X_0 = 0`` and ``eta = 3/(4p)`` (the authors' code; ``1/p`` diverges at a few times the degrees of
freedom, measured at n = 500, k = 5, ``|Omega| = 6.2 k(m + n - k)``), halved down to 1 whenever a step
increases the training error; X is kept factored and the top-k SVD runs on the linear operator
"low rank + sparse", ``O(|Omega| k + (m + n) k^2)`` per Lanczos step.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from problems.validation import as_int, as_real

from .common import FactoredSolver
from .model import FactorModel

DENSE_LIMIT = 4_000_000  # entries; SoftImpute on the problem object works on the dense filled matrix up to this


def _svd(X, max_rank, rng=None):
    if max_rank is None or max_rank >= min(X.shape) - 1:
        U, s, Vt = np.linalg.svd(X, full_matrices=False)
    else:
        v0 = None if rng is None else rng.standard_normal(min(X.shape))
        U, s, Vt = spla.svds(X, k=max_rank, v0=v0)
        order = np.argsort(s)[::-1]
        U, s, Vt = U[:, order], s[order], Vt[order]
    return U, s, Vt


def _shrink(X, lam, max_rank, rng=None):
    U, s, Vt = _svd(X, max_rank, rng)
    s = np.maximum(s - lam, 0.0)
    r = int(np.sum(s > 0))
    return U[:, :r], s[:r], Vt[:r]


def soft_impute(
    X,
    *,
    shrinkage_value: float | None = None,
    convergence_threshold: float = 0.001,
    max_iters: int = 100,
    max_rank: int | None = None,
    min_value: float | None = None,
    max_value: float | None = None,
) -> tuple[np.ndarray, dict]:
    """SoftImpute on a dense matrix with NaN marking missing entries (fancyimpute's conventions).

    Returns ``(filled, info)``: the completed matrix (observed entries unchanged) and
    ``{"iterations", "rank", "shrinkage_value", "converged"}``.
    """
    X = np.array(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D array, got shape {X.shape}")
    missing = np.isnan(X)
    if np.isinf(X).any():
        raise ValueError("X contains infinite entries (use NaN for missing ones)")
    if missing.all():
        raise ValueError("X has no observed entry")
    max_iters = as_int(max_iters, "max_iters", low=1)
    convergence_threshold = as_real(convergence_threshold, "convergence_threshold", low=0.0)
    filled = np.where(missing, 0.0, X)
    if shrinkage_value is None:
        lam = float(np.linalg.norm(filled, 2)) / 50.0
    else:
        lam = as_real(shrinkage_value, "shrinkage_value", low=0.0)
    info = {"iterations": 0, "rank": 0, "shrinkage_value": float(lam), "converged": False}
    for it in range(1, max_iters + 1):
        U, s, Vt = _shrink(filled, lam, max_rank)
        recon = (U * s) @ Vt
        if min_value is not None or max_value is not None:
            recon = np.clip(recon, min_value, max_value)
        old, new = filled[missing], recon[missing]
        old_norm = np.sqrt(np.sum(old**2))
        with np.errstate(divide="ignore", invalid="ignore"):
            change = np.sqrt(np.sum((old - new) ** 2)) / old_norm
        filled[missing] = new
        info.update(iterations=it, rank=len(s))
        if change < convergence_threshold:
            info["converged"] = True
            break
    return filled, info


class SoftImpute(FactoredSolver):
    """SoftImpute on a ``MatrixCompletion`` problem (``method="softimpute"``).

    Options: ``lam`` (default ``sigma_max(P_Omega(M)) / 50``, fancyimpute's), ``max_rank`` (None: full
    SVD of the dense filled matrix, allowed up to 4e6 entries; an int: truncated SVD on the "sparse +
    low rank" operator, any size), ``center`` (subtract the training mean first; predictions add it
    back). Stopping error: relative change of the fit on the unobserved entries
    (dense) or on all entries (truncated path); default ``tol=1e-3``, ``max_iter=100`` as fancyimpute.
    The fitted rank is ``result.rank`` (``x`` stacks ``U sqrt(s)`` and ``V sqrt(s)``).
    """

    name = "softimpute"
    default_max_iter = 100
    error_name = "relative change of the imputed entries"

    def __init__(self, *, lam=None, max_rank=None, center=False, **kw):
        kw.setdefault("tol", 1e-3)
        super().__init__(**kw)
        self.center = bool(center)
        self.lam = None if lam is None else as_real(lam, "lam", low=0.0)
        self.max_rank = None if max_rank is None else as_int(max_rank, "max_rank", low=1)

    def init(self, problem, x0=None):
        self.refuse_start(x0)
        state = self.setup(problem)
        m, n = problem.shape
        state.dense = self.max_rank is None
        if state.dense and m * n > DENSE_LIMIT:
            raise ValueError(
                f"softimpute with max_rank=None needs the dense {m} x {n} matrix (limit {DENSE_LIMIT} entries); "
                "pass max_rank= to use the truncated sparse + low-rank path"
            )
        state.mu = float(np.mean(problem.vals)) if self.center else 0.0
        state.vals = problem.vals - state.mu
        csr = sp.csr_matrix((state.vals, (problem.rows, problem.cols)), shape=problem.shape)
        state.lam = self.lam if self.lam is not None else spla.svds(csr, k=1, v0=np.ones(min(m, n)))[1][0] / 50.0
        state.U, state.s, state.V = np.zeros((m, 0)), np.zeros(0), np.zeros((n, 0))
        if state.dense:
            state.missing = np.ones((m, n), dtype=bool)
            state.missing[problem.rows, problem.cols] = False
        self._store(problem, state)
        self.update_error(problem, state)
        state.error = np.inf
        return state

    def _store(self, problem, state):
        root = np.sqrt(state.s)
        state.k = max(1, len(state.s))
        U, V = state.U * root, state.V * root
        if not len(state.s):
            U, V = np.zeros((problem.m, 1)), np.zeros((problem.n, 1))
        state.x = problem.stack(U, V)

    def step(self, problem, state):
        problem.counts.add("pass", 1)
        old_fit = (state.U, state.s, state.V)
        if state.dense:
            filled = (state.U * state.s) @ state.V.T
            filled[problem.rows, problem.cols] = state.vals
            U, s, Vt = _shrink(filled, state.lam, None)
        else:
            fit = problem.entries(state.U * state.s, state.V, problem.rows, problem.cols)
            R = sp.csr_matrix((state.vals - fit, (problem.rows, problem.cols)), shape=problem.shape)
            Us, V = state.U * state.s, state.V
            op = spla.LinearOperator(
                problem.shape,
                matvec=lambda v: R @ v + Us @ (V.T @ v),
                rmatvec=lambda v: R.T @ v + V @ (Us.T @ v),
                dtype=np.float64,
            )
            k = min(self.max_rank, min(problem.shape) - 1)
            U, s, Vt = spla.svds(op, k=k, v0=state.rng.standard_normal(min(problem.shape)))
            order = np.argsort(s)[::-1]
            U, s, Vt = U[:, order], np.maximum(s[order] - state.lam, 0.0), Vt[order]
            r = int(np.sum(s > 0))
            U, s, Vt = U[:, :r], s[:r], Vt[:r]
        state.U, state.s, state.V = U, s, Vt.T
        state.change = self._change(problem, state, old_fit)
        self._store(problem, state)
        self.update_error(problem, state)
        return state

    def _change(self, problem, state, old_fit):
        Uo, so, Vo = old_fit
        if state.dense:
            old = ((Uo * so) @ Vo.T)[state.missing]
            new = ((state.U * state.s) @ state.V.T)[state.missing]
            den = np.linalg.norm(old)
            return float(np.linalg.norm(old - new) / den) if den > 0 else math.inf
        # ||Z_new - Z_old||_F from the factors (exact: Gram of the stacked factors)
        A = np.hstack([state.U * state.s, -Uo * so])
        B = np.hstack([state.V, Vo])
        diff2 = float(np.sum((A.T @ A) * (B.T @ B)))
        den2 = float(np.sum(so**2)) if len(so) else 0.0
        return math.sqrt(max(diff2, 0.0) / den2) if den2 > 0 else math.inf

    def update_error(self, problem, state) -> None:
        super().update_error(problem, state)
        state.error = getattr(state, "change", math.inf)

    def model(self, problem, state) -> FactorModel:
        U, V = problem.factors(state.x, state.k)
        return FactorModel.for_problem(problem, U, V, mean=state.mu)


class SVP(FactoredSolver):
    """Singular value projection (``method="svp"``): ``X <- P_k(X - eta P_Omega(X - M))``.

    Options: ``rank``; ``step`` (eta; default ``3/(4p)`` as the authors' code, ``p = |Omega| / (m n)``).
    Safeguard: a step that increases the training error is redone with ``eta <- max(1, eta / 2)``
    (with eta <= 1, the inverse Lipschitz constant of the gradient, projected gradient never increases
    it), so the large step of the theory is kept where it works and real data cannot blow up.
    Stopping error: the family's relative training RMSE or its relative change.
    """

    name = "svp"
    default_max_iter = 200

    def __init__(self, *, step=None, **kw):
        super().__init__(**kw)
        self.step_size = None if step is None else as_real(step, "step", low=0.0, low_open=True)

    def init(self, problem, x0=None):
        self.refuse_start(x0)
        state = self.setup(problem)
        state.eta = self.step_size if self.step_size is not None else 0.75 / problem.density
        k = state.k
        state.U, state.s, state.V = np.zeros((problem.m, k)), np.zeros(k), np.zeros((problem.n, k))
        state.x = problem.stack(state.U, state.V)
        self.update_error(problem, state)
        state.error = np.inf
        return state

    def _project(self, problem, state, eta):
        Us, V = state.U * state.s, state.V
        fit = problem.entries(Us, V, problem.rows, problem.cols)
        R = sp.csr_matrix((eta * (problem.vals - fit), (problem.rows, problem.cols)), shape=problem.shape)
        k = state.k
        if k < min(problem.shape) - 1 and min(problem.shape) > 50:
            op = spla.LinearOperator(
                problem.shape,
                matvec=lambda v: R @ v + Us @ (V.T @ v),
                rmatvec=lambda v: R.T @ v + V @ (Us.T @ v),
                dtype=np.float64,
            )
            U, s, Vt = spla.svds(op, k=k, v0=state.rng.standard_normal(min(problem.shape)))
            order = np.argsort(s)[::-1]
            return U[:, order], s[order], Vt[order].T
        U, s, Vt = np.linalg.svd(R.toarray() + Us @ V.T, full_matrices=False)
        return U[:, :k], s[:k], Vt[:k].T

    def step(self, problem, state):
        while True:
            problem.counts.add("pass", 1)
            U, s, V = self._project(problem, state, state.eta)
            rmse = problem.rmse(problem.entries(U * s, V, problem.rows, problem.cols), "train")
            if rmse <= state.rmse * (1 + 1e-12) or state.eta <= 1.0:
                break
            state.eta = max(1.0, state.eta / 2)
        state.U, state.s, state.V = U, s, V
        state.x = problem.stack(U * s, V)
        self.update_error(problem, state)
        return state

    def extra_history(self, problem, state) -> dict:
        return {**super().extra_history(problem, state), "step": state.eta}


def as_dense_with_nan(problem) -> np.ndarray:
    """The observed entries of ``problem`` as a dense matrix with NaN elsewhere (fancyimpute's input)."""
    X = np.full(problem.shape, np.nan)
    X[problem.rows, problem.cols] = problem.vals
    return X
