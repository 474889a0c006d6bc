"""One half-step of alternating minimization: many small least-squares problems, solved together.

For a fixed factor ``F`` (rows ``f_i``), output row ``j`` solves

    x_j = argmin_x  sum_{i in Omega(j)} (f_i . x - b_ij)^2 + reg_j ||D x||^2

with ``D`` a 0/1 diagonal (``reg_mask``; biases may be left out). ``Side`` holds the observed entries
grouped by output index (a CSR layout of ``P_Omega(M)`` or its transpose). ``solve_exact`` forms all
Gram matrices at once: the row-wise outer products ``f_i f_i^T`` of a chunk of entries are summed per
output by a sparse 0/1 matrix product, then one batched ``numpy.linalg.solve`` handles the ``(n, k, k)``
stack. Cost ``O(|Omega| k^2 + n k^3)``, no Python loop over outputs. Outputs with fewer than ``k``
entries (or a Gram with condition number above 1e12) and no regularization are solved by
``numpy.linalg.lstsq`` (minimum norm) and counted as under-determined; outputs without any entry get 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numba import njit

_CHUNK_FLOATS = 20_000_000  # ~160 MB of float64 per chunk of outer products
COND_LIMIT = 1e12


@dataclass
class Side:
    """Entries grouped by output: output ``j`` owns positions ``indptr[j]:indptr[j+1]`` of ``other``
    (index into the fixed factor) and ``vals``."""

    indptr: np.ndarray
    other: np.ndarray
    vals: np.ndarray

    @classmethod
    def from_compressed(cls, mat) -> Side:
        """From a CSR (outputs = rows) or CSC (outputs = columns) matrix with sorted indices."""
        return cls(np.asarray(mat.indptr, dtype=np.int64), np.asarray(mat.indices, dtype=np.int64), mat.data)

    @property
    def n_out(self) -> int:
        return len(self.indptr) - 1

    @property
    def counts(self) -> np.ndarray:
        return np.diff(self.indptr)

    @property
    def out(self) -> np.ndarray:
        """Output index of every entry."""
        return np.repeat(np.arange(self.n_out), self.counts)

    def with_vals(self, vals) -> Side:
        return Side(self.indptr, self.other, np.asarray(vals, dtype=np.float64))

    def subset(self, outputs) -> Side:
        """The side restricted to ``outputs`` (in that order)."""
        outputs = np.asarray(outputs, dtype=np.int64)
        counts = self.counts[outputs]
        indptr = np.concatenate([[0], np.cumsum(counts)])
        pos = np.repeat(self.indptr[outputs] - indptr[:-1], counts) + np.arange(indptr[-1])
        return Side(indptr, self.other[pos], self.vals[pos])

    def summing(self, lo: int, hi: int) -> sp.csr_matrix:
        """0/1 matrix summing entries ``indptr[lo]:indptr[hi]`` into outputs ``lo:hi``."""
        ptr = self.indptr[lo : hi + 1] - self.indptr[lo]
        nnz = int(ptr[-1])
        return sp.csr_matrix((np.ones(nnz), np.arange(nnz), ptr), shape=(hi - lo, nnz))

    def chunks(self, k: int):
        """Output ranges ``(lo, hi)`` whose entries times ``k^2`` fit the chunk size."""
        limit = max(1, _CHUNK_FLOATS // max(1, k * k))
        lo = 0
        while lo < self.n_out:
            hi = int(np.searchsorted(self.indptr, self.indptr[lo] + limit, side="right")) - 1
            hi = min(self.n_out, max(hi, lo + 1))
            yield lo, hi
            lo = hi


@njit(cache=True)
def _gram_kernel(indptr, other, vals, F, lo, hi):  # pragma: no cover - compiled
    k = F.shape[1]
    gram = np.zeros((hi - lo, k, k))
    rhs = np.zeros((hi - lo, k))
    for j in range(lo, hi):
        g = gram[j - lo]
        h = rhs[j - lo]
        for e in range(indptr[j], indptr[j + 1]):
            f = F[other[e]]
            v = vals[e]
            for a in range(k):
                fa = f[a]
                h[a] += fa * v
                for b in range(a, k):
                    g[a, b] += fa * f[b]
        for a in range(k):
            for b in range(a + 1, k):
                g[b, a] = g[a, b]
    return gram, rhs


def normal_equations(side: Side, F: np.ndarray, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """Gram stack ``(hi-lo, k, k)`` and right-hand sides ``(hi-lo, k)`` for outputs ``lo:hi``
    (a compiled loop over the entries: ``O(nnz k^2)`` flops, no ``nnz x k^2`` temporary)."""
    F = np.ascontiguousarray(F, dtype=np.float64)
    vals = np.ascontiguousarray(side.vals, dtype=np.float64)
    return _gram_kernel(side.indptr, side.other, vals, F, lo, hi)


def solve_exact(side: Side, F: np.ndarray, reg=0.0, reg_mask=None) -> tuple[np.ndarray, np.ndarray]:
    """Solve every output's (ridge) least-squares problem exactly.

    ``reg`` is a scalar or one value per output (``reg_j``); ``reg_mask`` (length k, 0/1) says which
    coordinates are penalized (default all). Returns ``(X, under)``: the ``(n_out, k)`` solutions and
    the indices of outputs solved as under-determined (no regularization and fewer than k entries or
    a numerically singular Gram) and the outputs without any entry (left at 0).
    """
    n_out, k = side.n_out, F.shape[1]
    reg = np.broadcast_to(np.asarray(reg, dtype=np.float64), (n_out,))
    mask = np.ones(k) if reg_mask is None else np.asarray(reg_mask, dtype=np.float64)
    X = np.zeros((n_out, k))
    counts = side.counts
    under = []
    for lo, hi in side.chunks(k):
        gram, rhs = normal_equations(side, F, lo, hi)
        gram = gram + reg[lo:hi, None, None] * np.diag(mask)[None]
        ok = counts[lo:hi] > 0
        small = np.zeros(hi - lo, dtype=bool)
        check = np.flatnonzero(ok & (reg[lo:hi] * mask.min() <= 0))  # ridge rows are positive definite
        if check.size:
            eig = np.linalg.eigvalsh(gram[check])
            small[check] = (eig[:, 0] <= eig[:, -1] / COND_LIMIT) | (eig[:, -1] <= 0)
        bad = ok & small
        good = ok & ~small
        if good.any():
            X[lo:hi][good] = np.linalg.solve(gram[good], rhs[good][:, :, None])[:, :, 0]
        for j in np.flatnonzero(bad) + lo:
            a, b = side.indptr[j], side.indptr[j + 1]
            A, y = F[side.other[a:b]], side.vals[a:b]
            if reg[j] > 0:  # ridge with a singular Gram: stack the penalty rows (still exact)
                A = np.vstack([A, np.sqrt(reg[j]) * np.diag(mask)])
                y = np.concatenate([y, np.zeros(k)])
            X[j] = np.linalg.lstsq(A, y, rcond=None)[0]
            under.append(j)
    empty = np.flatnonzero(counts == 0)
    return X, np.sort(np.concatenate([np.asarray(under, dtype=np.int64), empty]))


def shifted(side: Side, mu: float = 0.0, other_bias=None) -> Side:
    """The side with targets ``vals - mu - other_bias[other]`` (centering, the other side's biases)."""
    if mu == 0.0 and other_bias is None:
        return side
    vals = side.vals - mu
    if other_bias is not None:
        vals = vals - other_bias[side.other]
    return side.with_vals(vals)
