"""Matrix games min_x max_y y^T A x over two simplices, as finite-sum monotone inclusions: the
policeman-and-burglar generator of the authors' code, random normal games, the LP reference (HiGHS)
and the norm estimate the default steps need."""

from __future__ import annotations

import math

import numpy as np

from ..resolvents import Product, Simplex
from ..validation import as_int, as_matrix, as_real
from .operator import FiniteSumOperator


class MatrixGame(FiniteSumOperator):
    """min over x in the simplex of max over y in the simplex of y^T A x, A of shape (p, q).

    z = (x, y) in R^{q + p}, F(z) = (A^T y, -A x), G = normal cone of the two simplices (so the
    resolvent is the pair of simplex projections). Components (the official coordinate
    sampling extended to rectangular A): with N = max(p, q) components,
    F_i(z) = N (y_i A[i, :]^T [i < p], -x_i A[:, i] [i < q]); their mean is F.

    ``duality_gap(z) = max_i (A x)_i - min_j (A^T y)_j`` (0 exactly at equilibrium) and
    ``reference_solution()`` solves the two LPs with HiGHS.
    """

    def __init__(self, A: np.ndarray, *, x0: np.ndarray | None = None, name: str | None = None) -> None:
        A = as_matrix(A, "A", allow_sparse=False)
        p, q = A.shape
        if p < 1 or q < 1:
            raise ValueError(f"A must have at least one row and one column, got shape {A.shape}")
        self.A = A
        self.AT = np.ascontiguousarray(A.T)  # contiguous columns for the component oracles and compiled kernels
        self.rows, self.cols = p, q
        N = max(p, q)
        if x0 is None:
            x0 = np.concatenate([np.full(q, 1.0 / q), np.full(p, 1.0 / p)])
        self._row_norms = np.linalg.norm(A, axis=1)
        self._col_norms = np.linalg.norm(A, axis=0)
        super().__init__(
            None,
            dim=p + q,
            n=N,
            resolvent=Product([(q, Simplex()), (p, Simplex())]),
            lipschitz=max(spectral_norm(A), 1e-300),
            mean_lipschitz=max(math.sqrt(N) * max(self._row_norms.max(), self._col_norms.max()), 1e-300),
            x0=x0,
            name=name or f"matrix-game({p}x{q})",
        )
        self.frobenius = float(np.linalg.norm(A))
        self._reference: tuple[np.ndarray, float] | None = None

    @classmethod
    def policeman_burglar(cls, n: int = 100, seed: int = 1, theta: float = 0.8) -> MatrixGame:
        """Nemirovski's policeman-and-burglar game as in the official ``matrix_game.py``.

        Legacy ``numpy.random.RandomState(seed)`` (the script's ``np.random.seed``): ``w = abs(randn(n))``,
        ``A[i, j] = w_j (1 - exp(-theta abs(i - j)))`` (numpy broadcasting puts w on the columns).
        """
        n = as_int(n, "n", low=1)
        theta = as_real(theta, "theta", low=0.0, low_open=True)
        w = np.abs(np.random.RandomState(as_int(seed, "seed", low=0)).randn(n))
        i = np.arange(n)
        A = w[None, :] * (1.0 - np.exp(-theta * np.abs(i[:, None] - i[None, :])))
        return cls(A, name=f"pb-game(n={n})")

    @classmethod
    def random(cls, n: int, m: int, seed: int | np.random.Generator = 0) -> MatrixGame:
        """A random n x m game with standard normal payoffs (``numpy.random.default_rng(seed)``)."""
        n, m = as_int(n, "n", low=1), as_int(m, "m", low=1)
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(as_int(seed, "seed", low=0))
        return cls(rng.standard_normal((n, m)), name=f"random-game({n}x{m})")

    # ------------------------------------------------------------------ blocks
    def split(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) from z = (x, y)."""
        return z[: self.cols], z[self.cols :]

    def _weighted_sum(self, idx: np.ndarray, weights: np.ndarray, z: np.ndarray) -> np.ndarray:
        x, y = self.split(z)
        scale = self.n * weights
        out = np.empty(self.dim)
        if idx.size == 1:  # the per-sample loops of VR-EG / VR-FoRB: O(p + q), no masks
            i, s = int(idx[0]), float(scale[0])
            out[: self.cols] = s * y[i] * self.A[i] if i < self.rows else 0.0
            out[self.cols :] = -s * x[i] * self.AT[i] if i < self.cols else 0.0
            return out
        r = idx < self.rows
        out[: self.cols] = (scale[r] * y[idx[r]]) @ self.A[idx[r]]
        c = idx < self.cols
        out[self.cols :] = -((scale[c] * x[idx[c]]) @ self.AT[idx[c]])
        return out

    def _weighted_diff(self, idx: np.ndarray, weights: np.ndarray, z: np.ndarray, z2: np.ndarray) -> np.ndarray:
        return self._weighted_sum(idx, weights, z - z2)

    def _full(self, z: np.ndarray) -> np.ndarray:
        x, y = self.split(z)
        return np.concatenate([self.A.T @ y, -(self.A @ x)])

    # ------------------------------------------------------------------ game quantities
    def duality_gap(self, z: np.ndarray) -> float:
        """max_i (A x)_i - min_j (A^T y)_j for the simplex parts of z (>= 0, 0 at equilibrium)."""
        x, y = self.split(z)
        return float(np.max(self.A @ x) - np.min(self.A.T @ y))

    #: games with more payoff entries than this get the ``gap`` column only once ``reference_solution()``
    #: has been called (the LP can take minutes there; a first-order run never pays for it silently)
    report_lp_limit = 250_000

    def report(self, z: np.ndarray) -> dict[str, float]:
        """Reporting column ``gap``: the worse player's loss against the game value v* of the LP
        (HiGHS, solved once), ``max(max_i (A x)_i - v*, v* - min_j (A^T y)_j) / max(1, abs(v*))``; empty on
        games above ``report_lp_limit`` entries until ``reference_solution()`` has been called."""
        if self._reference is None and self.A.size > self.report_lp_limit:
            return {}
        x, y = self.split(z)
        _, value = self.reference_solution()
        worst = max(float(np.max(self.A @ x)) - value, value - float(np.min(self.A.T @ y)))
        return {"gap": max(worst, 0.0) / max(1.0, abs(value))}

    def payoff(self, z: np.ndarray) -> float:
        """y^T A x."""
        x, y = self.split(z)
        return float(y @ self.A @ x)

    def reference_solution(self) -> tuple[np.ndarray, float]:
        """(z*, v*): an equilibrium and the game value from the two LPs (scipy HiGHS).

        min_{x in simplex, t} t s.t. A x <= t 1, and max_{y in simplex, s} s s.t. A^T y >= s 1.
        """
        if self._reference is None:
            from scipy.optimize import linprog

            p, q = self.A.shape
            primal = linprog(
                np.r_[np.zeros(q), 1.0],
                A_ub=np.c_[self.A, -np.ones(p)],
                b_ub=np.zeros(p),
                A_eq=np.r_[np.ones(q), 0.0][None],
                b_eq=[1.0],
                bounds=[(0, None)] * q + [(None, None)],
                method="highs",
            )
            dual = linprog(
                np.r_[np.zeros(p), -1.0],
                A_ub=np.c_[-self.A.T, np.ones(q)],
                b_ub=np.zeros(q),
                A_eq=np.r_[np.ones(p), 0.0][None],
                b_eq=[1.0],
                bounds=[(0, None)] * p + [(None, None)],
                method="highs",
            )
            if primal.status != 0 or dual.status != 0:  # pragma: no cover - LPs of games are always solvable
                raise RuntimeError(f"HiGHS failed: {primal.message}; {dual.message}")
            z = np.concatenate([primal.x[:q], dual.x[:p]])
            self._reference = (z, 0.5 * (primal.fun - dual.fun))
        return self._reference[0].copy(), self._reference[1]


def spectral_norm(A: np.ndarray, rtol: float = 1e-3) -> float:
    """An upper estimate of ||A||_2: exact (LAPACK) for small matrices, else Lanczos (ARPACK ``svds``,
    a few dozen products with A and A^T, O(p q) each) to relative accuracy ``rtol``, times (1 + rtol)."""
    if min(A.shape) <= 100:
        return float(np.linalg.norm(A, 2))
    from scipy.sparse.linalg import svds

    top = svds(A, k=1, tol=rtol, return_singular_vectors=False, random_state=0)[0]
    return float(top) * (1.0 + rtol)


def policeman_burglar_game(n: int = 100, seed: int = 1, theta: float = 0.8) -> MatrixGame:
    """Policeman-and-burglar matrix game of the official code (n x n, RandomState(seed))."""
    return MatrixGame.policeman_burglar(n, seed=seed, theta=theta)


def random_game(n: int = 50, m: int = 60, seed: int = 0) -> MatrixGame:
    """Random n x m matrix game with standard normal payoffs."""
    return MatrixGame.random(n, m, seed)
