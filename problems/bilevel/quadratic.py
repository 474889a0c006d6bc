"""Synthetic quadratic multi-block bilevel problems with a closed-form solution.

Block i has ``n_samples`` lower samples k and upper samples k:

    g_ik(x, y) = 1/2 y^T A_ik y - y^T (C_ik x + c_ik),     f_ik(x, y) = 1/2 ||y - d_ik||^2 + rho/2 ||x||^2,

with every A_ik symmetric and its spectrum in [mu_g, L_g] (a convex combination of a block matrix
Q_i diag(lambda_i) Q_i^T and a per-sample one), and C_ik, c_ik, d_ik centred Gaussian perturbations
of level ``noise`` around the block's C_i, c_i, d_i. The block means A_i, C_i, c_i, d_i give

    y_i*(x) = A_i^{-1}(C_i x + c_i),   K_i = A_i^{-1} C_i,
    grad F(x) = (1/m) sum_i K_i^T (y_i*(x) - d_i) + rho x,
    x* = solve((1/m) sum K_i^T K_i + rho I, (1/m) sum K_i^T (d_i - A_i^{-1} c_i)).
"""

from __future__ import annotations

import numpy as np

from ..validation import as_generator, as_int, as_real
from .base import BilevelProblem


def _spd(rng, k: int, size: int, low: float, high: float) -> np.ndarray:
    """``k`` random symmetric matrices with eigenvalues uniform in [low, high]."""
    Q, _ = np.linalg.qr(rng.standard_normal((k, size, size)))
    lam = rng.uniform(low, high, size=(k, size))
    lam[:, 0], lam[:, -1] = low, high
    return np.einsum("kij,kj,klj->kil", Q, lam, Q)


class QuadraticBilevel(BilevelProblem):
    """m quadratic blocks with exact y*, F, grad F and x* (see the module docstring).

    Parameters: ``m`` blocks, ``dim_x``, ``dim_y``, ``mu_g`` <= spectrum <= ``L_g`` of every A_ik,
    ``rho`` the upper ridge, ``noise`` in [0, 1) the level of per-sample variation, ``n_samples`` per
    block (lower and upper), ``seed``.
    """

    def __init__(
        self,
        m: int = 20,
        dim_x: int = 10,
        dim_y: int = 5,
        mu_g: float = 1.0,
        L_g: float = 4.0,
        rho: float = 0.1,
        noise: float = 0.5,
        seed=0,
        n_samples: int = 100,
    ):
        super().__init__()
        self.m = as_int(m, "m", low=1)
        self.dim_x = as_int(dim_x, "dim_x", low=1)
        self.dim_y = as_int(dim_y, "dim_y", low=1)
        mu = as_real(mu_g, "mu_g", low=0.0, low_open=True)
        L = as_real(L_g, "L_g", low=mu)
        self.rho = as_real(rho, "rho", low=0.0)
        self.noise = as_real(noise, "noise", low=0.0, high=1.0, high_open=True)
        n = self.n_lower = self.n_upper = as_int(n_samples, "n_samples", low=1)
        rng = as_generator(seed)
        m, dx, dy = self.m, self.dim_x, self.dim_y
        base = _spd(rng, m, dy, mu, L)
        own = _spd(rng, m * n, dy, mu, L).reshape(m, n, dy, dy)
        self.A_s = (1 - self.noise) * base[:, None] + self.noise * own
        C = rng.standard_normal((m, dy, dx)) / np.sqrt(dx)
        c, d = rng.standard_normal((m, dy)), rng.standard_normal((m, dy))

        def centred(shape):
            e = rng.standard_normal((m, n, *shape))
            return self.noise * (e - e.mean(axis=1, keepdims=True))

        self.C_s = C[:, None] + centred((dy, dx))
        self.c_s = c[:, None] + centred((dy,))
        self.d_s = d[:, None] + centred((dy,))
        self.A, self.C, self.c, self.d = self.A_s.mean(1), self.C_s.mean(1), self.c_s.mean(1), self.d_s.mean(1)
        self.mu_g = float(np.linalg.eigvalsh(self.A).min())
        self.L_g = L
        self.name = f"quadratic-m{m}"

    # ------------------------------------------------------------------ batch means
    def _mean(self, arr, blocks, batch):
        if batch is None:
            return arr[blocks].mean(axis=1)
        return arr[blocks[:, None], batch].mean(axis=1)

    def _f(self, blocks, x, Y, batch):
        if batch is None:
            r = Y[:, None, :] - self.d_s[blocks]
        else:
            r = Y[:, None, :] - self.d_s[blocks[:, None], batch]
        return 0.5 * np.mean(np.sum(r * r, axis=2), axis=1) + 0.5 * self.rho * (x @ x)

    def _g(self, blocks, x, Y, batch):
        A, C, c = (self._mean(a, blocks, batch) for a in (self.A_s, self.C_s, self.c_s))
        return 0.5 * np.einsum("ij,ijk,ik->i", Y, A, Y) - np.einsum("ij,ij->i", Y, C @ x + c)

    def _grad_x_f(self, blocks, x, Y, batch):
        return np.broadcast_to(self.rho * x, (blocks.size, self.dim_x)).copy()

    def _grad_y_f(self, blocks, x, Y, batch):
        return Y - self._mean(self.d_s, blocks, batch)

    def _grad_y_g(self, blocks, x, Y, batch):
        A, C, c = (self._mean(a, blocks, batch) for a in (self.A_s, self.C_s, self.c_s))
        return np.einsum("ijk,ik->ij", A, Y) - C @ x - c

    def _hvp(self, blocks, x, Y, V, batch):
        return np.einsum("ijk,ik->ij", self._mean(self.A_s, blocks, batch), V)

    def _jvp(self, blocks, x, Y, V, batch):
        return -np.einsum("ijk,ij->ik", self._mean(self.C_s, blocks, batch), V)

    def _hess(self, blocks, x, Y, batch):
        return self._mean(self.A_s, blocks, batch)

    # ------------------------------------------------------------------ exact quantities
    def y_star(self, x) -> np.ndarray:
        """y_i*(x) = A_i^{-1}(C_i x + c_i), shape (m, dim_y)."""
        return np.linalg.solve(self.A, (self.C @ x + self.c)[..., None])[..., 0]

    def F(self, x) -> float:
        r = self.y_star(x) - self.d
        return float(0.5 * np.mean(np.sum(r * r, axis=1)) + 0.5 * self.rho * (x @ x))

    objective = F

    def hypergrad(self, x) -> np.ndarray:
        K = np.linalg.solve(self.A, self.C)
        r = self.y_star(x) - self.d
        return np.einsum("ijk,ij->k", K, r) / self.m + self.rho * x

    def x_star(self) -> np.ndarray:
        K = np.linalg.solve(self.A, self.C)
        lhs = np.einsum("ijk,ijl->kl", K, K) / self.m + self.rho * np.eye(self.dim_x)
        shift = self.d - np.linalg.solve(self.A, self.c[..., None])[..., 0]
        return np.linalg.solve(lhs, np.einsum("ijk,ij->k", K, shift) / self.m)
