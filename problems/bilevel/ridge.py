"""Multi-task ridge regression with a shared prior mean (closed form, real data).

Block i has training rows (A_i, b_i) for g and validation rows (A'_i, b'_i) for f:

    g_i(x, y) = 1/(2 n) ||A_i y - b_i||^2 + mu/2 ||y - x||^2,
    f_i(x, y) = 1/(2 n') ||A'_i y - b'_i||^2 + rho/2 ||x||^2,

so y_i*(x) = M_i (A_i^T b_i / n + mu x) with M_i = (A_i^T A_i / n + mu I)^{-1}, grad^2_xy g_i = -mu I and
grad F(x) = rho x + (mu/m) sum_i M_i grad_y f_i(x, y_i*(x)). One sample is one row.
``MultiTaskRidge.digits`` builds the ten one-vs-rest tasks on scikit-learn's digits.
"""

from __future__ import annotations

import numpy as np

from ..validation import as_generator, as_real
from .base import BilevelProblem


def _stack(value, name: str) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite entries")
    return np.array(arr)


class MultiTaskRidge(BilevelProblem):
    """Ridge tasks tied to a shared prior mean x (see the module docstring).

    Parameters: ``A_train`` (m, n, d), ``b_train`` (m, n), ``A_val`` (m, n', d), ``b_val`` (m, n'),
    ``mu`` > 0 (the lower level's strong convexity), ``rho`` >= 0.
    """

    def __init__(self, A_train, b_train, A_val, b_val, mu: float = 1.0, rho: float = 0.05, name: str = "ridge"):
        super().__init__()
        self.At, self.bt = _stack(A_train, "A_train"), _stack(b_train, "b_train")
        self.Av, self.bv = _stack(A_val, "A_val"), _stack(b_val, "b_val")
        if self.At.ndim != 3 or self.Av.ndim != 3:
            raise ValueError("A_train and A_val must have shape (m, n, d)")
        m, n, d = self.At.shape
        if self.bt.shape != (m, n):
            raise ValueError(f"b_train must have shape {(m, n)}, got {self.bt.shape}")
        if self.Av.shape[0] != m or self.Av.shape[2] != d or self.bv.shape != self.Av.shape[:2]:
            raise ValueError("A_val must be (m, n', d) and b_val (m, n') with the m and d of A_train")
        self.mu = as_real(mu, "mu", low=0.0, low_open=True)
        self.rho = as_real(rho, "rho", low=0.0)
        self.m, self.dim_x, self.dim_y = m, d, d
        self.n_lower, self.n_upper = n, self.Av.shape[1]
        gram = np.einsum("inj,ink->ijk", self.At, self.At) / n
        self.M = np.linalg.inv(gram + self.mu * np.eye(d))
        self.rhs = np.einsum("inj,in->ij", self.At, self.bt) / n
        eig = np.linalg.eigvalsh(gram)
        self.mu_g = float(eig.min() + self.mu)
        self.L_g = float(np.max(np.sum(self.At**2, axis=2)) + self.mu)
        self.name = name

    @classmethod
    def digits(cls, mu: float = 1.0, rho: float = 0.05, seed=0) -> MultiTaskRidge:
        """Ten one-vs-rest tasks on scikit-learn's digits: pixels / 16, centred over all 1,797 rows;
        perm = default_rng(seed).permutation(1797); task i trains on perm[150 i : 150 i + 100] and
        validates on perm[150 i + 100 : 150 i + 150]; targets +1 for digit i, -1 otherwise."""
        from sklearn.datasets import load_digits

        data = load_digits()
        X = data.data / 16.0
        X = X - X.mean(axis=0)
        perm = as_generator(seed).permutation(X.shape[0])
        tr = np.stack([perm[150 * i : 150 * i + 100] for i in range(10)])
        va = np.stack([perm[150 * i + 100 : 150 * i + 150] for i in range(10)])
        sign = lambda idx, i: np.where(data.target[idx] == i, 1.0, -1.0)  # noqa: E731
        bt = np.stack([sign(tr[i], i) for i in range(10)])
        bv = np.stack([sign(va[i], i) for i in range(10)])
        return cls(X[tr], bt, X[va], bv, mu=mu, rho=rho, name="ridge-digits")

    def _rows(self, A, b, blocks, batch):
        if batch is None:
            return A[blocks], b[blocks]
        return A[blocks[:, None], batch], b[blocks[:, None], batch]

    def _f(self, blocks, x, Y, batch):
        A, b = self._rows(self.Av, self.bv, blocks, batch)
        r = np.matmul(A, Y[..., None])[..., 0] - b
        return 0.5 * np.mean(r * r, axis=1) + 0.5 * self.rho * (x @ x)

    def _g(self, blocks, x, Y, batch):
        A, b = self._rows(self.At, self.bt, blocks, batch)
        r = np.matmul(A, Y[..., None])[..., 0] - b
        return 0.5 * np.mean(r * r, axis=1) + 0.5 * self.mu * np.sum((Y - x) ** 2, axis=1)

    def _grad_x_f(self, blocks, x, Y, batch):
        return np.broadcast_to(self.rho * x, (blocks.size, self.dim_x)).copy()

    def _grad_y_f(self, blocks, x, Y, batch):
        A, b = self._rows(self.Av, self.bv, blocks, batch)
        r = np.matmul(A, Y[..., None])[..., 0] - b
        return np.matmul(r[:, None, :], A)[:, 0] / A.shape[1]

    def _grad_y_g(self, blocks, x, Y, batch):
        A, b = self._rows(self.At, self.bt, blocks, batch)
        r = np.matmul(A, Y[..., None])[..., 0] - b
        return np.matmul(r[:, None, :], A)[:, 0] / A.shape[1] + self.mu * (Y - x)

    def _hvp(self, blocks, x, Y, V, batch):
        A, _ = self._rows(self.At, self.bt, blocks, batch)
        return np.matmul(np.matmul(A, V[..., None]).transpose(0, 2, 1), A)[:, 0] / A.shape[1] + self.mu * V

    def _jvp(self, blocks, x, Y, V, batch):
        return -self.mu * V

    def _hess(self, blocks, x, Y, batch):
        A, _ = self._rows(self.At, self.bt, blocks, batch)
        return np.matmul(A.transpose(0, 2, 1), A) / A.shape[1] + self.mu * np.eye(self.dim_y)

    # ------------------------------------------------------------------ exact quantities
    def y_star(self, x) -> np.ndarray:
        return np.einsum("ijk,ik->ij", self.M, self.rhs + self.mu * x)

    def F(self, x) -> float:
        with self.counts.paused():
            return float(np.mean(self._f(np.arange(self.m), x, self.y_star(x), None)))

    objective = F

    def hypergrad(self, x) -> np.ndarray:
        gy = self._grad_y_f(np.arange(self.m), x, self.y_star(x), None)
        return self.rho * x + self.mu * np.einsum("ijk,ik->j", self.M, gy) / self.m

    def x_star(self) -> np.ndarray:
        """grad F is affine in x: solve the linear system built from its values at 0 and e_j."""
        g0 = self.hypergrad(np.zeros(self.dim_x))
        J = np.stack([self.hypergrad(e) - g0 for e in np.eye(self.dim_x)], axis=1)
        return np.linalg.solve(J, -g0)
