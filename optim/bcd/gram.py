"""The Gram-form engine: greedy BCD on quadratic problems with the gradient kept current.

For f(x) = x^T H x / 2 - c^T x + const (least squares: H = w A^T A + l2 I, c = w A^T y; label
propagation: H = Q), the engine keeps g = H x - c and after a block step x_b += d updates it by
g += H[:, b] d. Columns of H come from (in that order of preference):

* a sparse H (label propagation): each step costs O(sum of the block's degrees);
* the whole H built once by a symmetric rank-m product (``dsyrk``) for a smooth least squares whose
  p x p matrix fits in ``gram_budget_mb``: such a run touches every coordinate;
* a cache of columns computed on demand, up to ``gram_budget_mb``, in batches: the missing column plus
  the best-ranked uncached coordinates (by the rule's score, or by the distance to the L1 threshold
  where a proximal rule scores 0), by one compiled pass for a sparse A (a dense copy when A is at least
  ``DENSE_COLUMNS_DENSITY`` dense) or one matrix product for a dense A, evicting the least recently used
  columns when the budget is full; past n/2 computed columns (when all fit) the rest come in one batch.
  Greedy rules on a Lasso touch about the support of the solution, so the whole Gram matrix (m p^2
  work) is never formed;
* the whole H from ``gram()`` for problems that offer no columns.

The selection, update and gradient maintenance run in the numba kernel ``kernels.greedy_run``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.sparse as sp
from numba import njit

from .kernels import RULE_CODES, CscCsr, coordinate_score, csc_csr_arrays, greedy_run, mirror_upper, sparse_gram_columns

GRAM_UPDATES = ("gradient", "prox_gradient", "pg_nn")
#: a sparse A at least this dense gets a dense copy for its Gram columns: a column by the compiled sparse
#: pass costs about m p d^2 scattered multiply-adds, by a matrix product m p at BLAS-3 speed; measured
#: crossover (one thread, m = 1000, p = 10^4): d between 0.15 (sparse 0.7x the product's time) and 0.25 (2.3x)
DENSE_COLUMNS_DENSITY = 0.2


def gram_eligible(selection: str, update: str, partition: str, bp: Any) -> bool:
    """Whether the compiled Gram-form path runs this combination on ``bp``."""
    return (
        selection in RULE_CODES
        and update in GRAM_UPDATES
        and partition in ("vb", "order", "random", "sort", "avg")
        and bool(getattr(bp, "is_quadratic", False))
        and hasattr(bp, "linear_term")
        and (hasattr(bp, "gram") or hasattr(bp, "gram_columns"))
    )


def gram_form(bp: Any, budget_mb: float) -> str:
    """How the Gram columns of a least-squares problem are obtained (``docs/bcd.md``, "Gram form"):
    ``"full"``, the whole H = w A^T A + l2 I built once (a symmetric rank-m product), when it fits in the
    budget and the rule will touch every coordinate (no L1 term and no sign constraint: the iterates of a
    smooth least squares leave no coordinate at zero), otherwise ``"columns"``, computed on demand."""
    n = bp.dim
    smooth = not (bp.l1 > 0 or bp.nonnegative)
    return "full" if smooth and 8.0 * n * n <= budget_mb * 1e6 and hasattr(bp, "A") else "columns"


def full_gram(bp: Any) -> np.ndarray:
    """H = w A^T A + l2 I: one symmetric rank-m update (BLAS ``dsyrk``, m p^2 multiply-adds, half of a
    general product) for a dense A, a sparse product for a sparse A."""
    A = bp.A
    if sp.issparse(A):
        return bp.gram()
    from scipy.linalg.blas import dsyrk

    H = dsyrk(float(bp.w), np.asfortranarray(A, dtype=float), trans=1)  # upper triangle of w A^T A
    mirror_upper(H)
    H[np.diag_indices_from(H)] += bp.l2
    return H.T  # symmetric: the C-ordered view of the same numbers, no copy


class GramEngine:
    """Gradient, Gram columns and kernel buffers of one run (lives in the solver's state).

    ``prefetch`` (default: 32 columns with a dense A, where a wider matrix product runs closer to the
    machine's peak, 16 otherwise) is the number of best-ranked uncached columns computed with a missing
    one. When the cache can hold every column, the first batch that brings the count past n/2 computes
    all the rest (most columns are then needed, and one product is cheaper than many)."""

    def __init__(self, bp: Any, x: np.ndarray, *, budget_mb: float, tau: int, prefetch: int | None = None) -> None:
        n = bp.dim
        self.bp = bp
        self.c = np.asarray(bp.linear_term(), dtype=float)
        self.const = float(bp.constant_term())
        self.columns_computed = 0
        A = getattr(bp, "A", None)
        self.dense_A = None  # a dense copy of a sparse A whose columns are cheaper by matrix products
        if A is not None and sp.issparse(A) and hasattr(bp, "w") and hasattr(bp, "gram_columns"):
            m = A.shape[0]
            if A.nnz >= DENSE_COLUMNS_DENSITY * m * n and 8.0 * m * n <= 0.5 * budget_mb * 1e6:
                self.dense_A = np.asfortranarray(A.toarray(), dtype=float)
                budget_mb -= 8.0 * m * n / 1e6
        if prefetch is None:
            prefetch = 32 if A is not None and (self.dense_A is not None or not sp.issparse(A)) else 16
        self.prefetch = max(1, int(prefetch))
        self.complete_at: int | None = None
        if not hasattr(bp, "gram_columns"):
            H, self.form = bp.gram(), "problem"
        elif gram_form(bp, budget_mb) == "full":
            H, self.form = full_gram(bp), "full"
        else:
            H = None
            sparse_pass = A is not None and sp.issparse(A) and self.dense_A is None
            self.form = "columns (sparse pass)" if sparse_pass else "columns (matrix products)"
        empty_i, empty_f = np.zeros(1, np.int64), np.zeros(1)
        if H is not None and sp.issparse(H):
            H = sp.csc_matrix(H)
            H.sort_indices()
            self.dense = False
            self.indptr, self.indices = H.indptr.astype(np.int64), H.indices.astype(np.int64)
            self.data = np.asarray(H.data, dtype=float)
            self.cols, self.slot, self.last_used = np.zeros((1, 1)), np.zeros(n, np.int64), np.zeros(1, np.int64)
        else:
            self.dense = True
            self.indptr, self.indices, self.data = empty_i, empty_i, empty_f
            if H is not None:
                self.cols = np.ascontiguousarray(H)  # symmetric: row j = column j
                self.slot = np.arange(n, dtype=np.int64)
                self.columns_computed = n
            else:
                cap = int(max(tau, min(n, budget_mb * 1e6 // (8.0 * n))))  # a block's columns must fit
                self.cols = np.zeros((cap, n))
                self.slot = np.full(n, -1, dtype=np.int64)
                self.owner = np.full(cap, -1, dtype=np.int64)
                self.free = cap
                if cap >= n:
                    self.complete_at = n // 2
            self.last_used = np.zeros(len(self.cols), np.int64)
        self.full = H is not None
        self._csr: CscCsr | None = None  # the sparse A in both layouts, built on the first column request
        self.resync(x)
        self.scores = np.zeros(n + tau)
        self.block = np.zeros(tau, dtype=np.int64)

    # ------------------------------------------------------------------ gradient and value
    def resync(self, x: np.ndarray) -> None:
        """g = grad f(x) recomputed exactly (at start and before a convergence verdict)."""
        bp = self.bp
        A = getattr(bp, "A", None)
        if A is not None and hasattr(bp, "w") and hasattr(bp, "gram_columns") and hasattr(bp.model, "b"):
            # least squares: g = w A^T (A_S x_S - y) + l2 x over the support S, one pass over A instead of two
            S = np.flatnonzero(x)
            if len(S) == 0:  # A^T (0 - y) is exactly -A^T y: g = -c with no pass over A
                self.g = bp.l2 * x - self.c
                return
            r = np.asarray(A[:, S] @ x[S]).ravel() - bp.model.b
            self.g = bp.w * np.asarray(A.T @ r, dtype=float).ravel() + bp.l2 * x
        elif hasattr(bp, "model"):
            with bp.counts.paused():
                self.g = np.array(bp.model.grad(x), dtype=float)
        else:
            self.g = np.asarray(bp.Q @ x - self.c, dtype=float)

    def value(self, x: np.ndarray) -> float:
        """f(x) = x^T (g - c) / 2 + const, O(n) from the current gradient."""
        return 0.5 * float(x @ (self.g - self.c)) + self.const

    # ------------------------------------------------------------------ columns on demand
    def _columns(self, js: np.ndarray, rows: np.ndarray, out: np.ndarray) -> None:
        """out[rows[k]] = H[:, js[k]]: for a sparse A by a compiled pass over the rows the column touches,
        for a dense A by one matrix product, otherwise through the problem's ``gram_columns``."""
        bp = self.bp
        A = getattr(bp, "A", None) if self.dense_A is None else self.dense_A
        if A is not None and sp.issparse(A) and hasattr(bp, "w"):
            if self._csr is None:
                model_A = getattr(getattr(bp, "model", None), "A", None)
                csc = sp.csc_matrix(A)
                csr = model_A if sp.isspmatrix_csr(model_A) else sp.csr_matrix(A)
                self._csr = csc_csr_arrays(csc, csr)
            sparse_gram_columns(*self._csr, js.astype(np.int64), rows.astype(np.int64), float(bp.w), float(bp.l2), out)
        elif A is not None and hasattr(bp, "w"):
            out[rows] = bp.w * (A[:, js].T @ A)
            out[rows, js] += bp.l2
        else:
            out[rows] = bp.gram_columns(js).T

    def _fill(self, need: np.ndarray, st: Any, rule: str) -> None:
        """Compute the missing columns of the block ``need`` plus the best-ranked uncached coordinates into
        the cache (evicting the least recently used columns outside the block when it is full)."""
        bp = self.bp
        block, need = need, np.unique(need[self.slot[need] < 0])
        uncached = int(np.count_nonzero(self.slot < 0)) - len(need)
        held = int(np.count_nonzero(self.slot[np.unique(block)] >= 0))  # the block's cached columns stay
        k: int = min(self.prefetch, uncached, len(self.cols) - len(need) - held)
        if self.complete_at is not None and self.columns_computed + len(need) + k >= self.complete_at:
            k = uncached  # most columns are needed anyway: compute all the rest in this batch
        extra = np.empty(max(k, 0), dtype=np.int64)
        if k == uncached:
            mask = self.slot < 0
            mask[need] = False
            extra = np.flatnonzero(mask)
        elif k > 0:
            r = st.rowsums if st.rowsums is not None else st.L
            rank_uncached(
                RULE_CODES[rule], self.g, st.x, st.L, r, float(bp.l1), bool(bp.nonnegative), self.slot, need, extra
            )
        js = np.sort(np.concatenate([need, extra]))
        if self.free < len(js):  # evict the least recently used slots not holding the needed columns
            protect = np.zeros(len(self.cols), bool)
            protect[self.slot[block][self.slot[block] >= 0]] = True
            order = np.argsort(np.where(protect | (self.owner < 0), np.iinfo(np.int64).max, self.last_used))
            victims = order[: len(js) - self.free]
            self.slot[self.owner[victims]] = -1
            self.owner[victims] = -1
            self.free += len(victims)
        targets = np.flatnonzero(self.owner < 0)[: len(js)]
        self._columns(js, targets, self.cols)
        self.slot[js], self.owner[targets] = targets, js
        self.last_used[targets] = self.clock
        self.free -= len(js)
        self.columns_computed += len(js)

    def run(self, n_iter: int, x: np.ndarray, st: Any, rule: str, prox: bool, norm2: bool) -> int:
        """``n_iter`` kernel iterations on x (in place); returns the iterations done."""
        bp, done = self.bp, 0
        self.clock = int(st.info[0])
        fixed = st.index is not None
        index = st.index if fixed else np.zeros((1, 1), np.int64)
        Lb = st.Lb if st.Lb is not None else np.ones(1)
        r = st.rowsums if st.rowsums is not None else st.L
        while done < n_iter:
            done += greedy_run(
                n_iter - done, x, self.g, st.L, r, index, Lb, RULE_CODES[rule], st.tau, fixed, norm2,
                float(bp.l1), bool(bp.nonnegative), prox, self.dense, self.cols, self.slot, self.last_used,
                self.indptr, self.indices, self.data, st.track, st.support_u8, st.has_ref, st.ref_u8,
                st.info, self.scores, self.block,
            )  # fmt: skip
            if st.info[4] < 0:
                break
            self._fill(self.block[: st.info[5]].copy(), st, rule)
        return done


@njit(cache=True)
def rank_uncached(rule, g, x, L, r, l1, nonneg, slot, need, out):
    """The ``len(out)`` best-ranked coordinates with no cached column and not in ``need`` into ``out`` (one
    pass, ties: the smaller index first): ranked by the rule's score where it is positive and, for the
    coordinates a proximal rule scores 0 (x_j = 0 inside the L1 threshold), by minus the distance to the
    threshold, ``-(l1 - |g_j|) / sqrt(L_j)`` (``-(g_j + l1) / sqrt(L_j)`` when x >= 0)."""
    k = out.shape[0]
    best = np.full(k, -np.inf)
    out[:] = -1
    proximal = l1 > 0 or nonneg
    for i in range(g.shape[0]):
        if slot[i] >= 0:
            continue
        skip = False
        for j in need:
            skip = skip or j == i
        if skip:
            continue
        v = coordinate_score(rule, g[i], x[i], L[i], r[i], l1, nonneg)
        if proximal and not v > 0:
            gap = (g[i] + l1) if nonneg else (l1 - abs(g[i]))
            v = -max(gap, 0.0) / math.sqrt(L[i])
        if v != v:
            v = -np.inf
        if out[k - 1] >= 0 and not v > best[k - 1]:
            continue
        t = k - 1
        while t > 0 and (out[t - 1] < 0 or v > best[t - 1]):
            best[t], out[t] = best[t - 1], out[t - 1]
            t -= 1
        best[t], out[t] = v, i
