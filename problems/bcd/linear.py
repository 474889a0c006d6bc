"""Block oracles for the foundation's linear models, and the non-negative Lasso.

``BlockLinearModel(model)`` gives ``LeastSquares``, ``Logistic`` and ``MultinomialLogistic`` (and
``NonnegativeLasso``) the ``BlockSmooth`` oracles without copying their data twice. For least squares it
also offers the Gram form used by the compiled greedy kernels of ``optim.bcd``: H = w A^T A + l2 I,
c = w A^T y, f(x) = x^T (g - c) / 2 + w ||y||^2 / 2 with g = H x - c.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.special import expit

from ..linear_models import LeastSquares, MultinomialLogistic, RegularizedLinearModel, reference_minimize
from .protocol import BlockBounds, BlockState


def _column_sq_norms(A) -> np.ndarray:
    if sp.issparse(A) and A.format == "csc" and A.has_canonical_format:
        # one pass over the stored entries: per-column sums of the squares (empty columns stay 0)
        out = np.zeros(A.shape[1])
        full = np.diff(A.indptr) > 0
        if np.any(full):
            out[full] = np.add.reduceat(A.data * A.data, A.indptr[:-1][full])
        return out
    if sp.issparse(A):
        return np.asarray(A.multiply(A).sum(axis=0)).ravel()
    return np.einsum("ij,ij->j", A, A)


def _gram_abs_rowsums(A, chunk: int = 512) -> np.ndarray:
    """sum_j |(A^T A)_ij| for every i, in column chunks (never the whole p x p Gram matrix)."""
    p = A.shape[1]
    out = np.empty(p)
    At = A.T.tocsr() if sp.issparse(A) else A.T
    for start in range(0, p, chunk):
        block = At @ A[:, start : start + chunk]
        out[start : start + chunk] = abs(block).sum(axis=0) if sp.issparse(block) else np.abs(block).sum(axis=0)
    return np.asarray(out).ravel()


class BlockLinearModel(BlockBounds):
    """Block oracles and incremental state for a foundation linear model (a view, sharing ``counts``).

    State: the linear predictor Z = A W (m, or m x K for softmax) and the loss derivative at Z,
    cached until the next step. A step on block b costs ``O(m |b|)`` (dense) or O(nnz(A_b)) (sparse):
    Z += A_b d. Curvature bounds (Nutini et al. 2022, Section 2): M = c A^T A (+ l2 I) with c = 1
    (least squares), 1/4 (logistic); softmax: Boehning's 0.5 (I - 11^T/K) kron A^T A, with K replaced
    by K' = min(K, #classes in the block + 1) inside a block [official code]. L_i = c ||a_i||^2 with
    c = 1/4 for both logistic losses [official code].
    """

    def __init__(self, model):
        if not isinstance(model, RegularizedLinearModel):
            raise TypeError(
                f"model must be a LeastSquares, Logistic or MultinomialLogistic problem, got {type(model).__name__}"
            )
        self.model = model
        self.counts = model.counts
        self.name = model.name
        self.A = model.A.tocsc() if sp.issparse(model.A) else np.asfortranarray(model.A)
        self.w, self.l1, self.l2 = model.loss_weight, model.l1, model.l2
        self.nonnegative = bool(getattr(model, "nonnegative", False))
        self.K = model.n_classes if isinstance(model, MultinomialLogistic) else None
        self.dim = model.dim
        self.is_quadratic = isinstance(model, LeastSquares)
        self._bound_curv = 1.0 if isinstance(model, LeastSquares) else 0.25
        coord_curv = 1.0 if isinstance(model, LeastSquares) else 0.25
        col = _column_sq_norms(self.A)
        if self.K is not None:
            col = np.repeat(col, self.K)
        self.coord_lipschitz = coord_curv * self.w * col + self.l2
        self._rowsums = None

    # -------------------------------------------------------------- stopping error and Gram form
    def stopping_error(self, x: np.ndarray, g: np.ndarray) -> float:
        """The model's ``optimality(x)`` (natural residual ||x - prox(x - g)||_inf) from a gradient g."""
        return float(np.max(np.abs(x - self.model.prox(x - g, 1.0)), initial=0.0))

    def linear_term(self) -> np.ndarray:
        """c = w A^T y (least squares: grad f(x) = H x - c)."""
        return self.w * np.asarray(self.A.T @ self.model.b, dtype=float).ravel()

    def constant_term(self) -> float:
        """f(0) = w ||y||^2 / 2 (least squares)."""
        return 0.5 * self.w * float(self.model.b @ self.model.b)

    def gram(self) -> np.ndarray:
        """H = w A^T A + l2 I as a dense p x p array (least squares; p^2 doubles of memory)."""
        G = self.A.T @ self.A
        G = np.asarray(G.toarray() if sp.issparse(G) else G, dtype=float) * self.w
        G[np.diag_indices_from(G)] += self.l2
        return G

    def gram_columns(self, js: np.ndarray) -> np.ndarray:
        """``H[:, js]`` (``p x |js|``) without forming H: ``w A^T A[:, js] + l2 e_js``."""
        cols = self.A.T @ self._columns(js)
        out = np.asarray(cols.toarray() if sp.issparse(cols) else cols, dtype=float) * self.w
        out[js, np.arange(len(js))] += self.l2
        return out

    # -------------------------------------------------------------- plumbing
    def _columns(self, features) -> np.ndarray:
        cols = self.A[:, features]
        return cols.toarray() if sp.issparse(cols) else cols

    def _split(self, b):
        return (b, None) if self.K is None else (b // self.K, b % self.K)

    def _loss_and_dloss(self, state):
        if state.dZ is None:
            state.loss, state.dZ = self.model.loss_and_dloss(state.Z)
        return state.loss, state.dZ

    def _added(self, Z, b, delta):
        """Z + A_b delta (a new array)."""
        f, c = self._split(b)
        if self.K is None:
            return Z + self.A[:, f] @ delta
        D = self._columns(f) * delta
        classes, where = np.unique(c, return_inverse=True)
        out = Z.copy()
        out[:, classes] += D @ (where[:, None] == np.arange(len(classes)))
        return out

    # -------------------------------------------------------------- state hooks
    def block_state(self, x: np.ndarray) -> BlockState:
        x = np.array(x, dtype=float)
        W = x if self.K is None else x.reshape(-1, self.K)
        Z = np.asarray(self.A @ W, dtype=float)
        return BlockState(x, Z=Z, dZ=None, loss=None, xsq=float(x @ x))

    def state_value(self, state: Any) -> float:
        loss, _ = self._loss_and_dloss(state)
        return self.w * loss + 0.5 * self.l2 * state.xsq

    def trial_value(self, state: Any, b: np.ndarray, delta: np.ndarray) -> float:
        loss, _ = self.model.loss_and_dloss(self._added(state.Z, b, delta), need_grad=False)
        xb = state.x[b]
        return self.w * loss + 0.5 * self.l2 * (state.xsq + float((xb + delta) @ (xb + delta) - xb @ xb))

    def full_grad(self, state: Any) -> np.ndarray:
        self.counts.add("grad")
        _, dZ = self._loss_and_dloss(state)
        return self.w * np.asarray(self.A.T @ dZ).ravel() + self.l2 * state.x

    def block_grad(self, state: Any, b: np.ndarray) -> np.ndarray:
        self.counts.add("grad", len(b) / self.dim)
        _, dZ = self._loss_and_dloss(state)
        f, c = self._split(b)
        if self.K is None:
            gb = self.A[:, f].T @ dZ
        else:
            gb = np.einsum("ij,ij->j", self._columns(f), dZ[:, c])
        return self.w * np.asarray(gb).ravel() + self.l2 * state.x[b]

    def block_step(self, state: Any, b: np.ndarray, delta: np.ndarray) -> None:
        self.counts.add("coordinates", len(b))
        xb = state.x[b]
        state.xsq += float((xb + delta) @ (xb + delta) - xb @ xb)
        state.x[b] = xb + delta
        state.Z = self._added(state.Z, b, delta)
        state.dZ = None

    # -------------------------------------------------------------- curvature
    def bound_block(self, b: np.ndarray) -> np.ndarray:
        """H_b = M_bb (``|b| x |b|``), M the global Hessian upper bound."""
        f, c = self._split(b)
        cols = self._columns(f)
        G = self.w * (cols.T @ cols)
        if self.K is None:
            H = self._bound_curv * G
        else:
            K = min(self.K, len(np.unique(c)) + 1)
            H = np.where(c[:, None] == c[None, :], 0.5 * (1 - 1 / K), -0.5 / K) * G
        return H + self.l2 * np.eye(len(b))

    def hessian_block(self, state: Any, b: np.ndarray) -> np.ndarray:
        """The true block Hessian of f at the state's x."""
        f, c = self._split(b)
        cols = self._columns(f)
        if isinstance(self.model, LeastSquares):
            H = cols.T @ cols
        elif self.K is None:
            s = expit(state.Z)
            H = cols.T @ (cols * (s * (1 - s))[:, None])
        else:
            _, dZ = self._loss_and_dloss(state)
            Pb = (dZ + self.model.Y)[:, c]
            CP = cols * Pb
            H = (CP.T @ cols) * (c[:, None] == c[None, :]) - CP.T @ CP
        return self.w * H + self.l2 * np.eye(len(b))

    def bound_matvec(self, v: np.ndarray) -> np.ndarray:
        """M v without forming M."""
        if self.K is None:
            nz = np.flatnonzero(v)
            Av = self.A[:, nz] @ v[nz] if len(nz) < 0.1 * len(v) else self.A @ v  # IHT iterates are sparse
            return self._bound_curv * self.w * np.asarray(self.A.T @ Av).ravel() + self.l2 * v
        T = np.asarray(self.A.T @ (self.A @ v.reshape(-1, self.K)))
        return 0.5 * self.w * (T - T.mean(axis=1, keepdims=True)).ravel() + self.l2 * v

    def bound_rowsums(self) -> np.ndarray:
        """``sum_j |M_ij|`` (the row-sum diagonal bound), computed once in column chunks."""
        if self._rowsums is None:
            rs = _gram_abs_rowsums(self.A)
            if self.K is None:
                self._rowsums = self._bound_curv * self.w * rs + self.l2
            else:
                self._rowsums = np.repeat((1 - 1 / self.K) * self.w * rs, self.K) + self.l2
        return self._rowsums

    def bound_lambda_max(self) -> float:
        """lambda_max(M): c * scale * sigma_max(A)^2 + l2 (the model's own ``lipschitz``)."""
        return float(self.model.lipschitz)

    def dependency_graph(self) -> Any:
        """Sparse pattern of the Hessian (variables i != j interact iff (A^T A)_ij != 0)."""
        A = sp.csc_matrix(self.A)
        G = (abs(A).T @ abs(A)).tocsr()
        if self.K is not None:
            G = sp.kron(G, np.ones((self.K, self.K)), format="csr")
        G.setdiag(0)
        G.eliminate_zeros()
        return G


class NonnegativeLasso(LeastSquares):
    """Non-negative L1 least squares: (s/2)||Ax - y||^2 + l1 sum(x) subject to x >= 0.

    s = 1/m for ``scale="mean"`` (``sklearn.linear_model.Lasso(positive=True)``'s objective with
    alpha = l1) and 1 for ``scale="sum"`` (the paper's Fig. 7 problem, A with l1 = 50000).
    ``prox`` is the projection max(0, x - step * l1), so ``optimality`` (the natural residual) is
    zero exactly at the minimiser.
    """

    nonnegative = True

    def __init__(self, A, y, l1, scale="mean", name=None):
        super().__init__(A, y, l1=l1, l2=0.0, scale=scale, name=name or "nonnegative-lasso")

    def reg_value(self, x: np.ndarray) -> float:
        return self.l1 * float(np.sum(x)) if np.all(np.asarray(x) >= 0) else np.inf

    def prox(self, x: np.ndarray, step: float) -> np.ndarray:
        return np.maximum(np.asarray(x, dtype=float) - step * self.l1, 0.0)

    def kkt_violation(self, x: np.ndarray) -> float:
        """``max_i`` of the KKT violation of x >= 0: ``|grad_i f(x) + l1|`` where x_i > 0,
        ``max(0, -(grad_i f(x) + l1))`` where x_i = 0."""
        with self.counts.paused():
            gt = self.grad(x) + self.l1
        viol = np.where(x > 0, np.abs(gt), np.maximum(-gt, 0.0))
        return float(np.max(viol, initial=0.0))

    def reference_solution(self) -> tuple[np.ndarray, float]:
        """(x*, F*) from cvxpy (Clarabel, tolerances 1e-12), cached."""
        if self._reference is None:
            import cvxpy as cp

            x = cp.Variable(self.dim, nonneg=True)
            obj = self.loss_weight * 0.5 * cp.sum_squares(self.A @ x - self.b) + self.l1 * cp.sum(x)
            x_star = np.maximum(reference_minimize(obj, x), 0.0)
            with self.counts.paused():
                self._reference = (x_star, self.objective(x_star))
        x_star, f_star = self._reference
        return x_star.copy(), f_star
