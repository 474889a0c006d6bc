"""The Ouyang-Xu hard quadratic min-max instance as a finite-sum monotone operator."""

from __future__ import annotations

import math

import numpy as np

from ..validation import as_int
from .operator import FiniteSumOperator


class QuadraticMinMax(FiniteSumOperator):
    """The Ouyang-Xu hard quadratic min-max instance of the official ``quadratic_programming.py``.

    min_x max_y (1/2) x^T H x - h^T x - <A x - b, y>: A[i, n-1-i] = 1, A[i, n-2-i] = -1, A /= 4,
    H = 2 A^T A, b = ones/4, h = e_n/4, so F(z) = M z - c with M = [[H, -A^T], [A, 0]], c = (h, b),
    G = 0. Component i acts on coordinates {x_i, y_i}: F_i(z) = n M[:, (i, n+i)] z_(i, n+i) - c.
    Not cocoercive (the y block has a zero diagonal); L_F = ||M||_2. Start z0 = ones/n.
    """

    def __init__(self, n: int = 200, *, name: str | None = None) -> None:
        n = as_int(n, "n", low=2)
        A = np.zeros((n, n))
        i = np.arange(n)
        A[i, n - 1 - i] = 1.0
        A[i[:-1], n - 2 - i[:-1]] = -1.0
        A /= 4.0
        H = 2.0 * A.T @ A
        self.M = np.block([[H, -A.T], [A, np.zeros((n, n))]])
        self.c = np.concatenate([np.eye(n)[-1] / 4.0, np.full(n, 0.25)])
        self.half = n
        pair = np.stack([self.M[:, :n], self.M[:, n:]], axis=-1)  # (2n, n, 2): the columns of component i
        pair_norms = np.array([np.linalg.norm(pair[:, k, :], 2) for k in range(n)])
        super().__init__(
            None,
            dim=2 * n,
            n=n,
            lipschitz=float(np.linalg.norm(self.M, 2)),
            mean_lipschitz=math.sqrt(n) * float(pair_norms.max()),
            x0=np.full(2 * n, 1.0 / n),
            name=name or f"quadratic-minmax(n={n})",
        )

    def _linear(self, idx: np.ndarray, weights: np.ndarray, z: np.ndarray) -> np.ndarray:
        cols = np.concatenate([idx, idx + self.half])
        coef = np.concatenate([weights, weights]) * self.n
        return self.M[:, cols] @ (coef * z[cols])

    def _weighted_sum(self, idx: np.ndarray, weights: np.ndarray, z: np.ndarray) -> np.ndarray:
        return self._linear(idx, weights, z) - weights.sum() * self.c

    def _weighted_diff(self, idx: np.ndarray, weights: np.ndarray, z: np.ndarray, z2: np.ndarray) -> np.ndarray:
        return self._linear(idx, weights, z - z2)

    def _full(self, z: np.ndarray) -> np.ndarray:
        return self.M @ z - self.c

    def objective(self, z: np.ndarray) -> float:
        """The saddle function (1/2) x^T H x - h^T x - <A x - b, y> at z = (x, y)."""
        x, y = z[: self.half], z[self.half :]
        n = self.half
        H, A = self.M[:n, :n], self.M[n:, :n]
        return float(0.5 * x @ H @ x - self.c[:n] @ x - (A @ x - self.c[n:]) @ y)

    def reference_solution(self) -> tuple[np.ndarray, float]:
        """(z*, 0): the unique zero z* = M^{-1} c (numpy.linalg.solve)."""
        return np.linalg.solve(self.M, self.c), 0.0


def quadratic_minmax(n: int = 200) -> QuadraticMinMax:
    """Ouyang-Xu quadratic min-max instance (z in R^{2n}) of the official QP script."""
    return QuadraticMinMax(n)
