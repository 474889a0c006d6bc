"""Market split (Cornuejols-Dawande): binary ``x`` with ``A x = d``; the slack model of the comparative
study of quantum optimization techniques (arXiv 2503.12121)."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from ..loaders_binary import read_market_split
from ..validation import as_int, as_matrix, as_real, as_vector
from .base import BinaryProblem, LinearConstraints, as_bits, bounded_coefficients


class MarketSplit(BinaryProblem):
    """Market split (Cornuejols-Dawande): find ``x`` with ``A x = d``; ``objective(x)`` is the total
    absolute deviation ``sum_i |a_i.x - d_i|`` (0 exactly at a solution).

    As a binary program the cost is 0 and the rows are equalities, so the slack-free QUBO is the
    (augmented) Lagrangian ``sum_i mu_i g_i + rho/2 sum_i g_i^2``.
    """

    sense = "min"

    def __init__(
        self,
        demands: ArrayLike,
        targets: ArrayLike,
        known_optimum: float | None = 0.0,
        name: str = "market-split",
        witness: ArrayLike | None = None,
    ) -> None:
        super().__init__()
        self.demands = as_matrix(demands, "demands", allow_sparse=False)
        self.targets = as_vector(targets, "targets", size=self.demands.shape[0])
        self.demands.flags.writeable = False
        self.targets.flags.writeable = False
        self.m, self.n_vars = self.demands.shape
        self.known_optimum = None if known_optimum is None else as_real(known_optimum, "known_optimum")
        self.name = name
        self.witness = None if witness is None else as_bits(witness, self.n_vars, "witness")

    @classmethod
    def from_file(cls, path: str | Path) -> MarketSplit:
        """QOBLIB ``.dat`` (``#`` comments, ``m n``, then m rows of n demands and the target); the
        solution of ``<name>.opt.sol`` beside it becomes ``witness``."""
        return cls(**read_market_split(path))

    @classmethod
    def generate(cls, m: int, seed: int = 0) -> MarketSplit:
        """The comparative study's generator (arXiv 2503.12121): ``random.Random(seed)``, ``n = 10(m-1)``,
        demands in [0, 99], ``d_i = int(sum_j a_ij / 2)``, reproduced with Python's ``random`` as in their code."""
        m = as_int(m, "m", low=2)
        rng = random.Random(as_int(seed, "seed", low=0))
        n = 10 * (m - 1)
        a = [[rng.randrange(0, 100) for _ in range(n)] for _ in range(m)]
        d = [int(0.5 * sum(row)) for row in a]
        return cls(a, d, known_optimum=None, name=f"msp-m{m}-seed{seed}")

    def _cost_terms(self):
        return np.zeros(self.n_vars), sp.csr_matrix((self.n_vars, self.n_vars)), 0.0

    def _constraints(self) -> LinearConstraints:
        return LinearConstraints(sp.csr_matrix(self.demands), self.targets.copy(), np.ones(self.m, bool))

    def objective(self, x: ArrayLike) -> float:
        return float(np.abs(self.violations(x)).sum())

    def is_feasible(self, x: ArrayLike) -> bool:
        return self.objective(x) == 0.0

    def optimality(self, x: ArrayLike) -> float:
        """Total absolute deviation (0 exactly at a split)."""
        return self.objective(x)

    def repair(self, x: ArrayLike) -> np.ndarray:
        """Single-bit-flip descent (best improvement) on ``sum_i |a_i.x - d_i|``."""
        x = as_bits(x, self.n_vars).copy()
        r = self.demands @ x - self.targets
        A = self.demands
        while True:
            step = np.where(x == 1, -1.0, 1.0)
            new = np.abs(r[:, None] + A * step[None, :]).sum(axis=0)
            k = int(np.argmin(new))
            if new[k] >= np.abs(r).sum() - 1e-12:
                return x
            x[k] ^= 1
            r += A[:, k] * step[k]

    def slack_deviation_bits(self) -> int:
        """Bits of the qiskit slack model ``a_i.x + s_i^+ - s_i^- = d_i`` with integer deviations in
        ``[0, sum_j a_ij]``: ``2 sum_i bit_length(sum_j a_ij)``."""
        return int(2 * sum(int(round(s)).bit_length() for s in self.demands.sum(axis=1)))

    def slack_model(self) -> BinaryProblem:
        """The comparative study's model as a binary program: ``min sum_i (s_i^+ + s_i^-)`` s.t.
        ``a_i.x + s_i^+ - s_i^- = d_i``, each deviation an integer in ``[0, sum_j a_ij]`` expanded with
        ``bounded_coefficients``; its first ``n`` variables are ``x``. ``encode_slack`` uses it."""
        n, m = self.n_vars, self.m
        lin, rows = [np.zeros(n)], [self.demands]
        for i in range(m):
            kappa = bounded_coefficients(int(round(self.demands[i].sum())))
            for sign in (1.0, -1.0):
                lin.append(kappa)
                block = np.zeros((m, len(kappa)))
                block[i] = sign * kappa
                rows.append(block)
        return _FixedBinaryProgram(np.concatenate(lin), np.hstack(rows), self.targets, f"{self.name}-deviations")


class _FixedBinaryProgram(BinaryProblem):
    """Linear cost ``c.x`` with equality rows ``A x = b`` (an auxiliary model; no repair)."""

    def __init__(self, cost: ArrayLike, A: ArrayLike, b: ArrayLike, name: str) -> None:
        super().__init__()
        self._c, self._A, self._b = np.asarray(cost, float), np.asarray(A, float), np.asarray(b, float)
        self.n_vars, self.name = len(self._c), name

    def _cost_terms(self):
        return self._c, sp.csr_matrix((self.n_vars, self.n_vars)), 0.0

    def _constraints(self) -> LinearConstraints:
        return LinearConstraints(sp.csr_matrix(self._A), self._b, np.ones(len(self._b), bool))

    def repair(self, x: ArrayLike) -> np.ndarray:
        raise NotImplementedError("the deviation model is only an encoding target")
