"""``CardinalityQUBO``: minimise a QUBO subject to ``sum(x) = k`` (the block problem of iterative CBS).

``E(x) = offset + linear @ x + sum_{i<j} Q_ij x_i x_j`` with ``Q`` strictly upper triangular (dense).
Solvers work on the symmetric form ``S = Q + Q^T`` (zero diagonal) and local fields
``f_i = linear_i + (S x)_i``; swapping ``a`` (1 -> 0) with ``b`` (0 -> 1) changes the energy by
``-f_a + f_b - S_ab``.

``prepared(cutoff_mode)`` applies the official code's post-processing (Rosenberg et al., 2024): scale by
``sigma = 1 / mean |nonzero entries|`` of the full symmetric matrix (linear part on the diagonal, couplings
split in halves), then zero the small entries: ``"abs"`` zeroes ``|entry| <= 1e-12`` (what was meant),
``"signed_official"`` zeroes every entry ``<= 1e-12``, negatives included, as the official code does.
``penalty_qubo(P)`` is the unconstrained model ``E(x) + P (sum x - k)^2``.
"""

from __future__ import annotations

import numpy as np

from problems.validation import as_choice, as_int, as_matrix, as_real, as_vector

from ..qubo import QUBO

CUTOFF_MODES = ("abs", "signed_official", "none")
CUTOFF = 1e-12


class CardinalityQUBO:
    """``CardinalityQUBO(linear, quadratic, offset=0.0, k=...)``; ``quadratic`` dense, strictly upper.

    Example
    -------
    >>> c = CardinalityQUBO([1.0, 2.0, -1.0], np.triu(np.ones((3, 3)), 1), k=1)
    >>> float(c.energy([0, 0, 1]))
    -1.0
    """

    def __init__(self, linear, quadratic=None, offset=0.0, *, k):
        self.linear = as_vector(linear, "linear")
        n = self.linear.size
        quad = np.zeros((n, n)) if quadratic is None else as_matrix(quadratic, "quadratic", allow_sparse=False)
        if quad.shape != (n, n):
            raise ValueError(f"quadratic must have shape ({n}, {n}), got {quad.shape}")
        if np.any(np.tril(quad)):
            raise ValueError("quadratic must be strictly upper triangular")
        self.quadratic = quad
        self.offset = as_real(offset, "offset")
        self.k = as_int(k, "k", low=0)
        if self.k > n:
            raise ValueError(f"k must be <= the block size {n}, got {self.k}")
        self.sym = np.ascontiguousarray(quad + quad.T)

    @classmethod
    def from_terms(cls, terms, check: bool = True) -> CardinalityQUBO:
        """From ``problems.pruning.BlockTerms`` (or any ``(linear, quadratic, offset, k)``); ``check=False``
        skips validation for terms a trusted builder made (float64, strictly upper, 0 <= k <= n)."""
        linear, quadratic, offset, k = terms
        if check:
            return cls(linear, quadratic, offset, k=k)
        out = cls.__new__(cls)
        out.linear, out.quadratic, out.offset, out.k = linear, quadratic, float(offset), int(k)
        out.sym = quadratic + quadratic.T
        return out

    @property
    def num_variables(self) -> int:
        return self.linear.size

    def energies(self, X) -> np.ndarray:
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        return self.offset + X @ self.linear + np.einsum("ri,ij,rj->r", X, self.quadratic, X)

    def energy(self, x) -> float:
        return float(self.energies(x)[0])

    def feasible(self, x) -> bool:
        x = np.asarray(x)
        return bool(np.all((x == 0) | (x == 1)) and int(x.sum()) == self.k)

    def incumbent(self) -> np.ndarray:
        """The first ``k`` variables set: the current mask when a block lists its pruned weights first."""
        x = np.zeros(self.num_variables, dtype=np.int8)
        x[: self.k] = 1
        return x

    def prepared(self, cutoff_mode: str = "abs", scale: bool = True) -> tuple[CardinalityQUBO, float]:
        """Scaled and cut-off copy and the scale ``sigma`` (energies of the copy = sigma x these)."""
        cutoff_mode = as_choice(cutoff_mode, "cutoff_mode", CUTOFF_MODES)
        full = np.diag(self.linear) + self.sym / 2.0
        nz = np.abs(full[full != 0])
        sigma = 1.0 / float(nz.mean()) if scale and nz.size else 1.0
        full = full * sigma
        if cutoff_mode == "abs":
            full[np.abs(full) <= CUTOFF] = 0.0
        elif cutoff_mode == "signed_official":
            full[full <= CUTOFF] = 0.0
        out = CardinalityQUBO.__new__(CardinalityQUBO)
        out.linear = np.diag(full).copy()
        out.quadratic = np.triu(full, 1) + np.triu(full.T, 1)
        out.sym = np.ascontiguousarray(out.quadratic + out.quadratic.T)
        out.offset, out.k = self.offset * sigma, self.k
        return out, sigma

    def penalty_qubo(self, penalty: float | None = None) -> QUBO:
        """``E(x) + P (sum x - k)^2`` as a ``QUBO`` (``x_i^2 = x_i``): linear ``+P(1 - 2k)``, couplings
        ``+2P``, offset ``+P k^2``. Default ``P = 1 + sum |q_i| + sum |Q_ij|`` exceeds any energy
        difference, so every minimiser is feasible."""
        P = self.safe_penalty() if penalty is None else as_real(penalty, "penalty", low=0.0, low_open=True)
        n, k = self.num_variables, self.k
        quad = self.quadratic + 2.0 * P * np.triu(np.ones((n, n)), 1)
        return QUBO(self.linear + P * (1 - 2 * k), quad, self.offset + P * k * k)

    def safe_penalty(self) -> float:
        return 1.0 + float(np.abs(self.linear).sum() + np.abs(self.quadratic).sum())

    def repair(self, x) -> np.ndarray:
        """Greedy repair to ``sum x = k``: while too many ones, unset the one whose removal lowers the
        energy most; while too few, set the best zero (marginal gains from the local fields)."""
        x = np.asarray(x, dtype=np.int8).copy()
        field = self.linear + self.sym @ x
        while x.sum() > self.k:
            ones = np.flatnonzero(x)
            a = ones[np.argmax(field[ones])]
            x[a] = 0
            field -= self.sym[a]
        while x.sum() < self.k:
            zeros = np.flatnonzero(x == 0)
            b = zeros[np.argmin(field[zeros])]
            x[b] = 1
            field += self.sym[b]
        return x

    def __repr__(self) -> str:
        return f"CardinalityQUBO(n={self.num_variables}, k={self.k})"
