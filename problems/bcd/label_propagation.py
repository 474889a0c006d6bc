"""Harmonic label propagation as a sparse quadratic (Nutini, Laradji, Schmidt 2022, Section 6)."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.csgraph  # noqa: F401  (sp.csgraph)
import scipy.sparse.linalg  # noqa: F401  (sp.linalg)

from ..base import Problem, counted
from ..validation import as_matrix, as_vector
from .protocol import BlockBounds, BlockState


class LabelPropagation(BlockBounds, Problem):
    """Harmonic label propagation as a quadratic (paper Section 6; Zhu, Ghahramani, Lafferty 2003).

    Given a weighted undirected graph W (n x n, symmetric, non-negative, zero diagonal), labelled nodes
    S with values y_S, minimise over the unlabelled values x = x_U

        (1/2) sum_{edges {i,j}} w_ij (x_i - x_j)^2  =  (1/2) x^T Q x - c^T x + const,

    Q = (D - W)[U, U] (D = diag of the degrees over ALL nodes), c = W[U, S] y_S. Q is positive definite
    iff every connected component contains a labelled node (checked with a connected-components pass).
    The minimiser is x* = Q^{-1} c (a sparse direct solve), with f* = -c^T x* / 2.

    Block oracles: the state keeps the gradient g = Q x - c and updates it by g += Q[:, b] d,
    O(sum of the block's degrees). ``forest_partitions`` may hold named fixed partitions
    (the lattice's two "combs" and its red-black colouring for data set D).
    ``optimality(x)`` (the stopping error) is the relative gradient norm ||Q x - c||_inf / max(1, ||c||_inf),
    zero exactly at the solution and computed from x alone; ``report(x)`` gives the relative gap
    ``(f(x) - f*)/max(1, |f*|)`` to the direct solve (data set D's entries are ~1e5 and f* ~ -1e9, so
    absolute gaps say little).
    """

    work_unit = "epochs"
    # set only by ``moons_label_propagation`` (data set E): the points, their classes, the seed drawn
    points: np.ndarray
    classes: np.ndarray
    seed_used: int
    is_quadratic = True
    nonnegative = False
    l1 = 0.0

    def __init__(self, W, labelled, y_labelled, name="label-propagation", forest_partitions=None):
        super().__init__()
        W = as_matrix(W, "W")
        n = W.shape[0]
        if W.shape != (n, n) or n < 2:
            raise ValueError(f"W must be a square matrix with at least 2 nodes, got shape {W.shape}")
        W = sp.csr_matrix(W)
        if W.nnz and W.data.min() < 0:
            raise ValueError("W must have non-negative edge weights")
        if abs(W - W.T).max() > 1e-12 * max(1.0, abs(W).max()):
            raise ValueError("W must be symmetric (an undirected graph)")
        if np.any(W.diagonal() != 0):
            raise ValueError("W must have a zero diagonal (no self-loops)")
        labelled = np.asarray(labelled)
        if labelled.ndim != 1 or not np.issubdtype(labelled.dtype, np.integer):
            raise TypeError("labelled must be a 1-D array of integer node indices")
        if len(np.unique(labelled)) != len(labelled) or labelled.min(initial=0) < 0 or labelled.max(initial=0) >= n:
            raise ValueError(f"labelled must hold distinct node indices in [0, {n})")
        if not 0 < len(labelled) < n:
            raise ValueError("labelled must name at least one node and leave at least one unlabelled")
        y = as_vector(y_labelled, "y_labelled", size=len(labelled))
        n_comp, comp = sp.csgraph.connected_components(W, directed=False)
        bad = np.setdiff1d(np.arange(n_comp), comp[labelled])
        if len(bad):
            raise ValueError(
                f"every connected component of W must contain a labelled node; "
                f"{len(bad)} component(s) have none (e.g. nodes "
                f"{np.flatnonzero(comp == bad[0])[:5].tolist()}), so Q is singular"
            )
        self.W, self.labelled, self.y_labelled = W, labelled, y
        self.unlabelled = np.setdiff1d(np.arange(n), labelled)
        deg = np.asarray(W.sum(axis=0)).ravel()
        U, S = self.unlabelled, labelled
        self.Q = (sp.diags(deg[U]) - W[U][:, U]).tocsc()
        self.Q.sort_indices()
        self.c = np.asarray(W[U][:, S] @ y).ravel()
        self.dim = len(U)
        self.name = name
        self.coord_lipschitz = self.Q.diagonal().copy()
        self.forest_partitions = dict(forest_partitions or {})
        self._lambda_max = None
        self._reference = None
        self._graph = None

    # ------------------------------------------------------------ Problem oracles
    @property
    def work(self) -> float:
        """Epochs: coordinate updates / n."""
        return self.counts["coordinates"] / self.dim

    def initial_point(self) -> np.ndarray:
        return np.zeros(self.dim)

    @counted("value")
    def value(self, x: np.ndarray) -> float:
        return float(0.5 * x @ (self.Q @ x) - self.c @ x)

    @counted("grad")
    def grad(self, x: np.ndarray) -> np.ndarray:
        return self.Q @ x - self.c

    def objective(self, x: np.ndarray) -> float:
        return self.value(x)

    @property
    def lipschitz(self) -> float:
        return self.bound_lambda_max()

    def optimality(self, x: np.ndarray) -> float:
        """Stopping error: ||Q x - c||_inf / max(1, ||c||_inf)."""
        return self.stopping_error(x, self.Q @ x - self.c)

    def stopping_error(self, x: np.ndarray, g: np.ndarray) -> float:
        """``optimality(x)`` from a given gradient g = Q x - c."""
        return float(np.max(np.abs(g), initial=0.0)) / max(1.0, float(np.max(np.abs(self.c), initial=0.0)))

    def report(self, x: np.ndarray) -> dict[str, float]:
        """Reporting column: relative gap to the direct solve, ``(f(x) - f*)/max(1, |f*|)``."""
        return {"gap": max(self.suboptimality(x), 0.0)}

    def gradient_residual(self, x: np.ndarray) -> float:
        """||Q x - c||_inf."""
        return float(np.max(np.abs(self.Q @ x - self.c)))

    def reference_solution(self) -> tuple[np.ndarray, float]:
        """(x*, f*) by a sparse direct solve (cached)."""
        if self._reference is None:
            x = sp.linalg.spsolve(self.Q, self.c)
            self._reference = (x, float(-0.5 * self.c @ x))
        x, f = self._reference
        return x.copy(), f

    def suboptimality(self, x: np.ndarray) -> float:
        _, f_star = self.reference_solution()
        return (self.value.__wrapped__(self, x) - f_star) / max(1.0, abs(f_star))

    def all_labels(self, x: np.ndarray) -> np.ndarray:
        """The n node values: x on the unlabelled nodes, y on the labelled ones."""
        out = np.empty(self.W.shape[0])
        out[self.unlabelled], out[self.labelled] = x, self.y_labelled
        return out

    # ------------------------------------------------------------ block oracles
    def block_state(self, x: np.ndarray) -> BlockState:
        x = np.array(x, dtype=float)
        g = self.Q @ x - self.c
        return BlockState(x, g=g, f=float(0.5 * x @ (g - self.c)))

    def state_value(self, state: Any) -> float:
        return state.f  # maintained by block_step: f = x^T (g - c) / 2

    def trial_value(self, state: Any, b: np.ndarray, delta: np.ndarray) -> float:
        Qbb = self.bound_block(b)
        return state.f + float(state.g[b] @ delta + 0.5 * delta @ (Qbb @ delta))

    def _column_entries(self, b):
        """(rows, position in b, value) of the nonzeros of Q[:, b], O(sum of the block's degrees)
        (scipy's fancy indexing of Q[b] walks all of Q)."""
        b = np.asarray(b, dtype=np.int64)
        start, stop = self.Q.indptr[b], self.Q.indptr[b + 1]
        counts = stop - start
        col = np.repeat(np.arange(len(b)), counts)
        idx = np.arange(counts.sum()) + np.repeat(start - (np.cumsum(counts) - counts), counts)
        return self.Q.indices[idx], col, self.Q.data[idx]

    def full_grad(self, state: Any) -> np.ndarray:
        return state.g  # maintained incrementally: no recomputation

    def block_grad(self, state: Any, b: np.ndarray) -> np.ndarray:
        return state.g[b]

    def block_step(self, state: Any, b: np.ndarray, delta: np.ndarray) -> None:
        """x_b += d, g += Q[:, b] d and f += (x^T Q U_b d + d^T (g_b+ - c_b)) / 2, O(degrees)."""
        self.counts.add("coordinates", len(b))
        rows, col, vals = self._column_entries(b)
        dg = vals * delta[col]
        xdg = float(state.x[rows] @ dg)
        state.x[b] += delta
        np.add.at(state.g, rows, dg)
        state.f += 0.5 * (xdg + float(delta @ (state.g[b] - self.c[b])))

    def sparse_block(self, b: np.ndarray) -> Any:
        """Q_bb as a sparse matrix (forest blocks are solved from it by message passing)."""
        return self.Q[b][:, b]

    def bound_block(self, b: np.ndarray) -> np.ndarray:
        """Q_bb (dense), ``O(sum of the block's degrees + |b|^2)``."""
        rows, col, vals = self._column_entries(b)
        b = np.asarray(b, dtype=np.int64)
        order = np.argsort(b, kind="stable")
        k = np.minimum(np.searchsorted(b[order], rows), len(b) - 1)
        hit = b[order][k] == rows
        H = np.zeros((len(b), len(b)))
        H[order[k[hit]], col[hit]] = vals[hit]
        return H

    def hessian_block(self, state: Any, b: np.ndarray) -> np.ndarray:
        return self.bound_block(b)

    def gram(self) -> Any:
        """The constant Hessian Q (sparse CSC)."""
        return self.Q

    def linear_term(self) -> np.ndarray:
        return self.c

    def constant_term(self) -> float:
        return 0.0

    def bound_matvec(self, v: np.ndarray) -> np.ndarray:
        return self.Q @ v

    def bound_rowsums(self) -> np.ndarray:
        return np.asarray(abs(self.Q).sum(axis=1)).ravel()

    def bound_lambda_max(self) -> float:
        if self._lambda_max is None:
            if self.dim <= 500:
                self._lambda_max = float(np.linalg.eigvalsh(self.Q.toarray())[-1])
            else:
                self._lambda_max = float(
                    sp.linalg.eigsh(self.Q, k=1, which="LA", tol=1e-10, return_eigenvectors=False)[0]
                ) * (1 + 1e-10)
        return self._lambda_max

    def dependency_graph(self) -> Any:
        """Off-diagonal pattern of Q as a CSR matrix (the unlabelled part of the graph)."""
        if self._graph is None:
            G = self.Q.tocsr(copy=True)
            G.setdiag(0)
            G.eliminate_zeros()
            G.sort_indices()
            self._graph = G
        return self._graph
