"""``QUBO``: a quadratic unconstrained binary model with a separate linear part.

Energy of a bitstring ``x in {0,1}^n``::

    E(x) = offset + sum_i linear_i x_i + sum_{i<j} Q_ij x_i x_j,   Q strictly upper triangular.

The linear part is never folded silently into the diagonal: ``QUBO.from_matrix`` and ``to_matrix``
do that explicitly (``x_i^2 = x_i``). The Ising map uses ``x_i = (1 - z_i) / 2`` (bit 1 <-> z = -1,
the eigenvalue of Pauli Z on that qubit), so

    h_i = -linear_i / 2 - sum_{j != i} Q_ij / 4,   J_ij = Q_ij / 4,
    offset_ising = offset + sum_i linear_i / 2 + sum_{i<j} Q_ij / 4.

Conversion to and from ``dimod.BinaryQuadraticModel`` is available when dimod is installed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from problems.validation import as_matrix, as_real, as_vector


class QUBO:
    """``QUBO(linear, quadratic, offset=0.0)``; ``quadratic`` dense or scipy.sparse, strictly upper.

    Example
    -------
    >>> q = QUBO([1.0, -2.0], [[0.0, 3.0], [0.0, 0.0]], offset=0.5)
    >>> q.energies([[0, 0], [1, 1]]).tolist()
    [0.5, 2.5]
    """

    def __init__(self, linear: ArrayLike, quadratic: Any = None, offset: float = 0.0) -> None:
        self.linear = as_vector(linear, "linear")
        self.linear.flags.writeable = False
        n = self.linear.shape[0]
        if quadratic is None:
            quadratic = sp.csr_matrix((n, n))
        quad = as_matrix(quadratic, "quadratic")
        if quad.shape != (n, n):
            raise ValueError(f"quadratic must have shape ({n}, {n}) to match linear, got {quad.shape}")
        lower = sp.tril(quad) if sp.issparse(quad) else np.tril(quad)
        if lower.count_nonzero() if sp.issparse(lower) else np.count_nonzero(lower):
            raise ValueError(
                "quadratic must be strictly upper triangular (no diagonal, nothing below it); "
                "use QUBO.from_matrix to fold a full matrix explicitly"
            )
        if sp.issparse(quad):
            quad.eliminate_zeros()
            quad.data.flags.writeable = False
        else:
            quad.flags.writeable = False
        self.quadratic = quad
        self.offset = as_real(offset, "offset")
        self.variables: list | None = None  # labels of a model built by ``from_dimod``

    # ------------------------------------------------------------------ construction
    @classmethod
    def unchecked(cls, linear: np.ndarray, quadratic: sp.csr_matrix, offset: float) -> QUBO:
        """Wrap parts the caller guarantees valid (float64 vector, strictly upper CSR) without checks or
        copies: for loops that build one QUBO per iteration from validated pieces."""
        out = cls.__new__(cls)
        out.linear, out.quadratic, out.offset = linear, quadratic, float(offset)
        out.variables = None
        return out

    @classmethod
    def from_matrix(cls, matrix: Any, offset: float = 0.0) -> QUBO:
        """From ``E(x) = offset + x^T M x`` with any square ``M``: the diagonal becomes the linear
        part and ``M_ij + M_ji`` (i<j) the strictly upper quadratic part."""
        mat = as_matrix(matrix, "matrix")
        if mat.shape[0] != mat.shape[1]:
            raise ValueError(f"matrix must be square, got shape {mat.shape}")
        if sp.issparse(mat):
            return cls(mat.diagonal(), sp.triu(mat, 1) + sp.triu(mat.T, 1), offset)
        return cls(np.diag(mat), np.triu(mat, 1) + np.triu(mat.T, 1), offset)

    @classmethod
    def from_dimod(cls, bqm: Any) -> QUBO:
        """From a ``dimod.BinaryQuadraticModel`` (SPIN models are converted to BINARY).

        Variables are taken in the model's order; their labels are kept in ``variables``.
        """
        import dimod

        if not isinstance(bqm, dimod.BinaryQuadraticModel):
            raise TypeError(f"bqm must be a dimod.BinaryQuadraticModel, got {type(bqm).__name__}")
        binary = bqm.change_vartype(dimod.BINARY, inplace=False)
        order = list(binary.variables)
        index = {v: k for k, v in enumerate(order)}
        n = len(order)
        lin = np.array([binary.get_linear(v) for v in order], dtype=float)
        rows, cols, vals = [], [], []
        for (u, v), bias in binary.quadratic.items():
            i, j = sorted((index[u], index[v]))
            rows.append(i)
            cols.append(j)
            vals.append(bias)
        quad = sp.csr_matrix((vals, (rows, cols)), shape=(n, n))
        out = cls(lin, quad, float(binary.offset))
        out.variables = order
        return out

    # ------------------------------------------------------------------ properties
    @property
    def num_variables(self) -> int:
        return self.linear.shape[0]

    def __len__(self) -> int:
        return self.num_variables

    @property
    def is_sparse(self) -> bool:
        return sp.issparse(self.quadratic)

    @property
    def num_interactions(self) -> int:
        q = self.quadratic
        return int(q.count_nonzero() if sp.issparse(q) else np.count_nonzero(q))

    def upper_csr(self) -> sp.csr_matrix:
        """The strictly upper quadratic part as CSR."""
        return sp.csr_matrix(self.quadratic)

    def symmetric_csr(self) -> sp.csr_matrix:
        """``Q + Q^T`` as CSR (zero diagonal): row i holds the couplings of bit i (for local fields)."""
        up = self.upper_csr()
        sym = (up + up.T).tocsr()
        sym.sort_indices()
        return sym

    def to_matrix(self) -> np.ndarray:
        """Dense upper-triangular ``M`` with ``E(x) = offset + x^T M x`` (linear part on the diagonal)."""
        up = self.quadratic.toarray() if self.is_sparse else np.array(self.quadratic)
        return up + np.diag(self.linear)

    # ------------------------------------------------------------------ energies
    def energies(self, X: ArrayLike) -> np.ndarray:
        """Energies of a batch of bitstrings ``X`` (shape (k, n) or (n,)), as float64."""
        X = np.asarray(X)
        single = X.ndim == 1
        X2 = np.atleast_2d(X)
        if X2.ndim != 2 or X2.shape[1] != self.num_variables:
            raise ValueError(f"X must have {self.num_variables} columns (one per variable), got shape {X.shape}")
        if not np.all((X2 == 0) | (X2 == 1)):
            raise ValueError("X must hold only 0 and 1")
        Xf = X2.astype(np.float64)
        e = self.offset + Xf @ self.linear
        if self.is_sparse:
            if self.quadratic.nnz:
                e += np.einsum("ij,ij->i", np.asarray((self.quadratic.T @ Xf.T).T), Xf)
        else:
            e += np.einsum("ij,ij->i", Xf @ self.quadratic, Xf)
        return e[0] if single else e

    def energy(self, x: ArrayLike) -> float:
        return float(self.energies(np.asarray(x)))

    # ------------------------------------------------------------------ conversions
    def to_ising(self) -> tuple[np.ndarray, np.ndarray | sp.csr_matrix, float]:
        """``(h, J, offset)`` with ``E = offset + h.z + sum_{i<j} J_ij z_i z_j`` and ``x = (1 - z)/2``.

        ``J`` has the storage type (dense or CSR) of ``quadratic``.
        """
        up = self.quadratic
        row = np.asarray(up.sum(axis=1)).ravel()
        col = np.asarray(up.sum(axis=0)).ravel()
        h = -self.linear / 2.0 - (row + col) / 4.0
        J = up / 4.0
        offset = self.offset + self.linear.sum() / 2.0 + float(up.sum()) / 4.0
        return h, J, offset

    def to_dimod(self) -> Any:
        """A ``dimod.BinaryQuadraticModel`` (BINARY); variables keep the labels of a model built by
        ``from_dimod``, and are ``0..n-1`` otherwise."""
        import dimod

        up = self.upper_csr().tocoo()
        bqm = dimod.BinaryQuadraticModel.from_numpy_vectors(
            self.linear, (up.row, up.col, up.data), self.offset, dimod.BINARY
        )
        if self.variables is not None:
            bqm.relabel_variables(dict(enumerate(self.variables)), inplace=True)
        return bqm

    def __repr__(self) -> str:
        kind = "sparse" if self.is_sparse else "dense"
        return (
            f"QUBO(num_variables={self.num_variables}, interactions={self.num_interactions}, "
            f"{kind}, offset={self.offset:g})"
        )
