"""Quadratic assignment (Koopmans-Beckmann) as a binary program on the permutation matrix."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from ..loaders_binary import read_qaplib
from ..validation import as_matrix, as_real
from .base import BinaryProblem, LinearConstraints, as_bits, assignment, assignment_rows


class QAP(BinaryProblem):
    """Quadratic assignment (Koopmans-Beckmann): ``x[i, k] = 1`` iff facility i is at location k
    (bit ``i*n + k``); cost ``sum_{i,j,k,l} F_ij D_kl x_ik x_jl``, rows and columns sum to 1."""

    sense = "min"

    def __init__(
        self, flow: ArrayLike, distance: ArrayLike, known_optimum: float | None = None, name: str = "qap"
    ) -> None:
        super().__init__()
        self.flow = as_matrix(flow, "flow", allow_sparse=False)
        self.distance = as_matrix(distance, "distance", allow_sparse=False)
        n = self.flow.shape[0]
        if self.flow.shape != (n, n) or self.distance.shape != (n, n):
            raise ValueError(
                f"flow and distance must be square and of equal size, got {self.flow.shape} and {self.distance.shape}"
            )
        self.flow.flags.writeable = False
        self.distance.flags.writeable = False
        self.size, self.n_vars = n, n * n
        self.known_optimum = None if known_optimum is None else as_real(known_optimum, "known_optimum")
        self.name = name

    @classmethod
    def from_file(cls, path: str | Path) -> QAP:
        """QAPLIB ``.dat``: ``n``, then the ``n x n`` flow and distance matrices (a token stream)."""
        return cls(**read_qaplib(path))

    def _cost_terms(self):
        M = np.kron(self.flow, self.distance)  # M[(i,k),(j,l)] = F_ij D_kl
        return np.diag(M).copy(), sp.csr_matrix(np.triu(M, 1) + np.triu(M.T, 1)), 0.0

    def _constraints(self) -> LinearConstraints:
        A, b = assignment_rows(self.size)
        return LinearConstraints(A, b, np.ones(len(b), bool))

    def permutation_cost(self, perm: ArrayLike) -> float:
        """``sum_{i,j} F_ij D_{perm(i) perm(j)}``."""
        p = np.asarray(perm)
        return float(np.sum(self.flow * self.distance[np.ix_(p, p)]))

    def encode_permutation(self, perm: ArrayLike) -> np.ndarray:
        """Bits of a permutation (facility i at location ``perm[i]``)."""
        n = self.size
        x = np.zeros(n * n, dtype=np.int8)
        x[np.arange(n) * n + np.asarray(perm)] = 1
        return x

    def repair(self, x: ArrayLike) -> np.ndarray:
        """Assignment on the bits (``linear_sum_assignment``),, then pairwise-swap descent."""
        n = self.size
        perm = assignment(as_bits(x, self.n_vars).reshape(n, n).astype(float))
        best = self.permutation_cost(perm)
        improved = True
        while improved:
            improved = False
            for i in range(n - 1):
                for j in range(i + 1, n):
                    perm[i], perm[j] = perm[j], perm[i]
                    c = self.permutation_cost(perm)
                    if c < best - 1e-12:
                        best, improved = c, True
                    else:
                        perm[i], perm[j] = perm[j], perm[i]
        return self.encode_permutation(perm)

    def reference_solution(self, time_limit: float = 60.0) -> tuple[np.ndarray, float]:
        """Exact optimum: HiGHS MILP (linearised products) for n <= 4, enumeration for n <= 8."""
        if self.size <= 4:
            return super().reference_solution(time_limit)
        if self.size > 8:
            raise ValueError(
                f"reference_solution enumerates permutations and is limited to n <= 8, got n = {self.size}"
            )
        best = min(itertools.permutations(range(self.size)), key=self.permutation_cost)
        x = self.encode_permutation(best)
        return x, self.objective(x)
