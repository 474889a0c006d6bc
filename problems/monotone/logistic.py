"""The gradient of l2-regularised logistic regression as a cocoercive finite-sum operator (a8a)."""

from __future__ import annotations

from typing import cast

import numpy as np
import scipy.sparse as sp
from scipy.special import expit

from ..validation import as_matrix, as_real, as_vector, check_rows
from .operator import FiniteSumOperator


class LogisticOperator(FiniteSumOperator):
    """Gradient operator of l2-regularised logistic regression, a cocoercive finite sum.

    F_i(w) = -y_i a_i sigma(-y_i a_i^T w) + mu w (labels +-1), F = grad f with
    f(w) = (1/n) sum_i log(1 + exp(-y_i a_i^T w)) + (mu/2) ||w||^2, G = 0 (the paper's Section 6 experiment).
    Each F_i is the gradient of a convex (||a_i||^2/4 + mu)-smooth function, so A2 holds with
    L = max_i ||a_i||^2/4 + mu under uniform sampling; L_F = lambda_max(A^T A)/(4n) + mu.
    """

    def __init__(self, A: np.ndarray, y: np.ndarray, mu: float = 1e-3, *, name: str | None = None) -> None:
        A = as_matrix(A, "A")
        y = as_vector(y, "y")
        check_rows(A.shape[0], y, "y")
        labels = np.unique(y)
        if not set(labels) <= {-1.0, 1.0}:
            raise ValueError(f"y must hold labels -1 and 1, got {labels[:5]}")
        # as_matrix returns a CSR matrix for sparse input (A is annotated as the dense case)
        self.A: sp.csr_matrix = sp.csr_matrix(A) if not sp.issparse(A) else cast(sp.csr_matrix, A)
        self.y = y
        self.mu = as_real(mu, "mu", low=0.0)
        n, d = A.shape
        row_sq = np.asarray(self.A.multiply(self.A).sum(axis=1)).ravel()
        from scipy.sparse.linalg import svds

        top = (
            svds(self.A, k=1, return_singular_vectors=False, random_state=0)[0]
            if min(n, d) > 1
            else float(np.sqrt(row_sq.sum()))
        )
        super().__init__(
            None,
            dim=d,
            n=n,
            lipschitz=top**2 / (4 * n) + self.mu,
            mean_lipschitz=float(row_sq.max()) / 4 + self.mu,
            cocoercive_constant=float(row_sq.max()) / 4 + self.mu,
            name=name or f"logistic-operator(n={n}, d={d})",
        )
        self._reference: tuple[np.ndarray, float] | None = None

    def _weighted_sum(self, idx: np.ndarray, weights: np.ndarray, w: np.ndarray) -> np.ndarray:
        rows = self.A[idx]
        yb = self.y[idx]
        coef = -weights * yb * expit(-yb * (rows @ w))
        return rows.T @ coef + weights.sum() * self.mu * w

    def _full(self, w: np.ndarray) -> np.ndarray:
        coef = -self.y * expit(-self.y * (self.A @ w)) / self.n
        return self.A.T @ coef + self.mu * w

    def objective(self, w: np.ndarray) -> float:
        """f(w), the regularised logistic loss whose gradient is F."""
        z = -self.y * (self.A @ w)
        return float(np.mean(np.logaddexp(0.0, z)) + 0.5 * self.mu * (w @ w))

    def reference_solution(self) -> tuple[np.ndarray, float]:
        """(w*, f*) from scipy L-BFGS-B with gtol 1e-13."""
        if self._reference is None:
            from scipy.optimize import minimize

            with self.counts.paused():
                res = minimize(
                    lambda w: (self.objective(w), self._full(w)),
                    np.zeros(self.dim),
                    jac=True,
                    method="L-BFGS-B",
                    options={"gtol": 1e-13, "ftol": 1e-15, "maxiter": 10_000},
                )
            self._reference = (res.x, float(res.fun))
        return self._reference[0].copy(), self._reference[1]


def logistic_operator_a8a(mu: float = 1e-3) -> LogisticOperator:
    """Gradient operator of l2-regularised logistic regression on LIBSVM a8a (22,696 x 123)."""
    from ..datasets import load_dataset

    A, y = load_dataset("a8a")
    return LogisticOperator(A, y, mu=mu, name="logistic-a8a")
