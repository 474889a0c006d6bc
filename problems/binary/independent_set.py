"""Maximum independent set (MIS): ``max sum x`` s.t. ``x_u + x_v <= 1`` for every edge."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from ..loaders_binary import read_dimacs
from ..validation import as_int, as_real
from .base import BinaryProblem, LinearConstraints, as_bits


class MIS(BinaryProblem):
    """Maximum independent set: ``max sum x  s.t.  x_u + x_v <= 1`` for every edge.

    ``edges``: pairs of 0-based node indices; duplicates and reversed copies are merged,
    self-loops dropped.
    """

    sense = "max"

    def __init__(self, num_nodes: int, edges: ArrayLike, known_optimum: float | None = None, name: str = "mis") -> None:
        super().__init__()
        n = as_int(num_nodes, "num_nodes", low=1)
        raw = np.asarray(edges)
        if raw.size == 0:
            raw = np.zeros((0, 2), np.int64)
        if raw.ndim != 2 or raw.shape[1] != 2:
            raise ValueError(f"edges must be pairs of node indices (an (m, 2) array), got shape {raw.shape}")
        if not (np.issubdtype(raw.dtype, np.integer) or np.all(raw == np.round(raw))):
            raise ValueError("edges must hold integer node indices")
        e = raw.astype(np.int64)
        if e.size and (e.min() < 0 or e.max() >= n):
            raise ValueError(f"edges must hold node indices in [0, {n - 1}]")
        e = np.sort(e, axis=1)
        e = np.unique(e[e[:, 0] != e[:, 1]], axis=0)
        e.flags.writeable = False
        self.n_vars, self.edges = n, e
        adj = sp.csr_matrix((np.ones(2 * len(e)), (np.r_[e[:, 0], e[:, 1]], np.r_[e[:, 1], e[:, 0]])), shape=(n, n))
        self.adjacency = adj
        self.degree = np.asarray(adj.sum(axis=1)).ravel().astype(int)
        self.known_optimum = None if known_optimum is None else as_real(known_optimum, "known_optimum")
        self.name = name

    @classmethod
    def from_file(cls, path: str | Path, known_optimum: float | None = None) -> MIS:
        """DIMACS edge format (``p edge n m`` / ``e u v``, 1-based). The optimum is read from a
        QOBLIB ``<name>.opt.sol`` beside the file, or from the shipped table, unless given."""
        return cls(**read_dimacs(path, known_optimum))

    def _cost_terms(self):
        return -np.ones(self.n_vars), sp.csr_matrix((self.n_vars, self.n_vars)), 0.0

    def _constraints(self) -> LinearConstraints:
        k = len(self.edges)
        A = sp.csr_matrix((np.ones(2 * k), (np.repeat(np.arange(k), 2), self.edges.ravel())), shape=(k, self.n_vars))
        return LinearConstraints(A, np.ones(k), np.zeros(k, bool))

    def repair(self, x: ArrayLike) -> np.ndarray:
        """Drop the selected vertex with most selected neighbours (ties: highest degree) while an
        edge is covered twice; then add free vertices, lowest degree first."""
        x = as_bits(x, self.n_vars).copy()
        adj = self.adjacency
        sel_nbrs = adj @ x.astype(float)
        while True:
            conflict = np.flatnonzero((x == 1) & (sel_nbrs > 0))
            if not len(conflict):
                break
            key = sel_nbrs[conflict] * (self.n_vars + 1) + self.degree[conflict]
            v = conflict[np.argmax(key)]
            x[v] = 0
            sel_nbrs[adj.indices[adj.indptr[v] : adj.indptr[v + 1]]] -= 1
        for v in np.argsort(self.degree, kind="stable"):
            if not x[v] and sel_nbrs[v] == 0:
                x[v] = 1
                sel_nbrs[adj.indices[adj.indptr[v] : adj.indptr[v + 1]]] += 1
        return x
