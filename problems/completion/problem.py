"""``MatrixCompletion``: observed entries of an unknown low-rank matrix, held-out entries, optional truth.

The unknown is ``M in R^{m x n}``; only ``P_Omega(M)`` (entries at the index pairs ``Omega``) is seen.
Factored methods fit ``X = U V^T`` with ``U in R^{m x k}``, ``V in R^{n x k}`` by minimising

    f(U, V) = sum_{(i, j) in Omega} (u_i . v_j - M_ij)^2 .

A solver's iterate ``x`` is the stacked factors ``concatenate([U.ravel(), V.ravel()])``; ``factors(x)``
splits it. Oracles: one half-step of alternating minimization reads every observed entry once, so
the work unit is a **pass** over Omega (``counts["pass"]``). ``optimality(x)`` is the stationarity
residual of ``f`` (zero at every stationary point, computed from the data only)::

    || [P_Omega(U V^T - M) V ; P_Omega(U V^T - M)^T U] ||_F / (||P_Omega(M)||_F (||U||_F + ||V||_F))

Reporting columns (``report(x)``, need outside knowledge): training and test RMSE, relative
Frobenius error against the truth (exact, blockwise, never forming ``U V^T`` whole) and the sine of
the largest principal angle between ``span(U)`` and the true column space.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..base import Capability, Problem
from ..validation import as_int, as_interval, as_vector

MatrixCompletionCapability = Capability(
    "MatrixCompletion",
    ("shape", "rank", "rows", "cols", "vals", "csr", "csc", "train_rmse", "factors"),
    "observed entries (rows, cols, vals) of an m x n matrix and a target rank",
)

_BLOCK = 256  # rows per block in rel_frob_error


def _index(value, name: str, size: int, n: int | None = None) -> np.ndarray:
    arr = np.asarray(value)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of indices, got shape {arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{name} has {arr.shape[0]} entries, expected {n}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not np.issubdtype(arr.dtype, np.floating) or not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise TypeError(f"{name} must hold integer indices, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    bad = np.flatnonzero((arr < 0) | (arr >= size))
    if bad.size:
        raise ValueError(f"{name}[{bad[0]}] = {arr[bad[0]]} is out of range [0, {size})")
    return arr


class MatrixCompletion(Problem):
    """Low-rank matrix completion from observed entries.

    Parameters
    ----------
    shape : (m, n)
    rows, cols, vals : observed entries in COO form (0-based; no duplicate pairs; finite values)
    rank : target rank k given to solvers, 1 <= k <= min(m, n)
    test : optional held-out entries ``(rows, cols, vals)``
    truth : optional factored truth ``(A, B)`` with ``M = A B^T`` (A is m x r, B is n x r)
    rating_range : optional ``(low, high)``; predictions are clipped to it
    meta : free-form dict (generator parameters, source)
    name : label for tables
    """

    work_unit = "pass"
    #: original ids of the rows / columns (set by ``from_ratings``), or None
    row_ids: np.ndarray | None = None
    col_ids: np.ndarray | None = None

    def __init__(
        self,
        shape: tuple[int, int],
        rows,
        cols,
        vals,
        rank: int,
        *,
        test=None,
        truth=None,
        rating_range: tuple[float, float] | None = None,
        meta: dict | None = None,
        name: str = "completion",
    ):
        super().__init__()
        try:
            m, n = shape
        except (TypeError, ValueError):
            raise TypeError(f"shape must be a pair (m, n), got {shape!r}") from None
        self.m, self.n = as_int(m, "shape[0]", low=1), as_int(n, "shape[1]", low=1)
        self.shape = (self.m, self.n)
        self.rank = as_int(rank, "rank", low=1, high=min(self.m, self.n))
        self.vals = as_vector(vals, "vals")
        nobs = self.vals.shape[0]
        if nobs == 0:
            raise ValueError("vals is empty: at least one observed entry is needed")
        self.rows = _index(rows, "rows", self.m, nobs)
        self.cols = _index(cols, "cols", self.n, nobs)
        keys = self.rows * self.n + self.cols
        uniq, first, counts = np.unique(keys, return_index=True, return_counts=True)
        if uniq.size != nobs:
            dup = int(np.flatnonzero(counts > 1)[0])
            i, j = divmod(int(uniq[dup]), self.n)
            raise ValueError(f"duplicate observed entry ({i}, {j}) (first at position {first[dup]}); sum or drop them")
        if test is None:
            test = (np.zeros(0, int), np.zeros(0, int), np.zeros(0))
        try:
            tr, tc, tv = test
        except (TypeError, ValueError):
            raise TypeError("test must be a triple (rows, cols, vals)") from None
        self.test_vals = as_vector(tv, "test vals")
        self.test_rows = _index(tr, "test rows", self.m, self.test_vals.shape[0])
        self.test_cols = _index(tc, "test cols", self.n, self.test_vals.shape[0])
        self.truth = None
        if truth is not None:
            a, b = (np.array(t, dtype=np.float64) for t in truth)
            if a.ndim != 2 or b.ndim != 2 or a.shape[0] != self.m or b.shape[0] != self.n or a.shape[1] != b.shape[1]:
                raise ValueError(f"truth must be (A, B) with A of shape ({self.m}, r) and B of shape ({self.n}, r)")
            if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
                raise ValueError("truth contains NaN or infinite entries")
            self.truth = (a, b)
        self.rating_range = None if rating_range is None else as_interval(rating_range, "rating_range")
        self.meta = dict(meta or {})
        self.name = name
        for arr in (self.rows, self.cols, self.vals, self.test_rows, self.test_cols, self.test_vals):
            arr.flags.writeable = False
        self.row_counts = np.bincount(self.rows, minlength=self.m)
        self.col_counts = np.bincount(self.cols, minlength=self.n)
        self._csr: sp.csr_matrix | None = None
        self._csc: sp.csc_matrix | None = None

    # ------------------------------------------------------------------ sizes and views
    @property
    def n_obs(self) -> int:
        return int(self.vals.shape[0])

    @property
    def dim(self) -> int:
        return (self.m + self.n) * self.rank

    @property
    def density(self) -> float:
        return self.n_obs / (self.m * self.n)

    def csr(self) -> sp.csr_matrix:
        """``P_Omega(M)`` as CSR (indices sorted within rows); built once and kept."""
        if self._csr is None:
            mat = sp.csr_matrix((self.vals, (self.rows, self.cols)), shape=self.shape)
            mat.sort_indices()
            self._csr = mat
        return self._csr

    def csc(self) -> sp.csc_matrix:
        """``P_Omega(M)`` as CSC (indices sorted within columns); built once and kept."""
        if self._csc is None:
            mat = sp.csc_matrix((self.vals, (self.rows, self.cols)), shape=self.shape)
            mat.sort_indices()
            self._csc = mat
        return self._csc

    def factors(self, x, rank: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Split stacked factors ``x`` into ``U`` (m x k) and ``V`` (n x k)."""
        x = np.asarray(x, dtype=np.float64)
        k = self.rank if rank is None else rank
        if x.ndim != 1 or x.shape[0] != (self.m + self.n) * k:
            raise ValueError(f"x must hold (m + n) k = {(self.m + self.n) * k} numbers, got shape {x.shape}")
        return x[: self.m * k].reshape(self.m, k), x[self.m * k :].reshape(self.n, k)

    @staticmethod
    def stack(U, V) -> np.ndarray:
        return np.concatenate([np.asarray(U, dtype=float).ravel(), np.asarray(V, dtype=float).ravel()])

    def initial_point(self) -> np.ndarray:
        return np.zeros(self.dim)

    # ------------------------------------------------------------------ evaluation
    @staticmethod
    def entries(U, V, rows, cols, chunk: int = 1 << 16) -> np.ndarray:
        """``(U V^T)[rows, cols]`` as ``sum(U[r] * V[c], axis=1)``, in chunks (never forms U V^T)."""
        out = np.empty(len(rows))
        for s in range(0, len(rows), chunk):
            r, c = rows[s : s + chunk], cols[s : s + chunk]
            out[s : s + chunk] = np.einsum("ij,ij->i", U[r], V[c])
        return out

    def clip(self, pred: np.ndarray) -> np.ndarray:
        return pred if self.rating_range is None else np.clip(pred, *self.rating_range)

    def train_rmse(self, U, V) -> float:
        """Root mean squared error of ``U V^T`` over the observed entries."""
        return float(np.sqrt(np.mean((self.entries(U, V, self.rows, self.cols) - self.vals) ** 2)))

    def test_rmse(self, U, V, *, clip: bool = True) -> float:
        """RMSE over the held-out entries (clipped to ``rating_range`` if set); ``ValueError`` if there are none."""
        if self.test_vals.size == 0:
            raise ValueError(f"problem {self.name!r} has no held-out entries; test_rmse needs test=(rows, cols, vals)")
        pred = self.entries(U, V, self.test_rows, self.test_cols)
        if clip:
            pred = self.clip(pred)
        return float(np.sqrt(np.mean((pred - self.test_vals) ** 2)))

    def rmse(self, pred, which: str = "test") -> float:
        """RMSE of given predictions on the ``"train"`` or ``"test"`` entries."""
        target = self.vals if which == "train" else self.test_vals
        if target.size == 0:
            raise ValueError(f"problem {self.name!r} has no {which} entries")
        return float(np.sqrt(np.mean((np.asarray(pred) - target) ** 2)))

    def _need_truth(self, what: str) -> tuple[np.ndarray, np.ndarray]:
        if self.truth is None:
            raise ValueError(f"{what} needs the ground truth; problem {self.name!r} has none")
        return self.truth

    def truth_norm(self) -> float:
        """``||M||_F`` from the factored truth (blockwise)."""
        a, b = self._need_truth("truth_norm")
        return float(np.sqrt(sum(np.sum((a[s : s + _BLOCK] @ b.T) ** 2) for s in range(0, self.m, _BLOCK))))

    def rel_frob_error(self, U, V) -> float:
        """``||U V^T - M||_F / ||M||_F``, exact: the difference is formed 256 rows at a time in float64
        (a Gram-matrix identity would cancel catastrophically below ~1e-8)."""
        a, b = self._need_truth("rel_frob_error")
        num = den = 0.0
        for s in range(0, self.m, _BLOCK):
            mb = a[s : s + _BLOCK] @ b.T
            num += float(np.sum((U[s : s + _BLOCK] @ V.T - mb) ** 2))
            den += float(np.sum(mb**2))
        return float(np.sqrt(num / den)) if den > 0 else float(np.sqrt(num))

    def subspace_dist(self, U) -> float:
        """``||Q - U* (U*^T Q)||_2`` with Q an orthonormal basis of span(U) and U* of the true column
        space: the sine of the largest principal angle."""
        a, _ = self._need_truth("subspace_dist")
        ustar = np.linalg.qr(a)[0]
        q = np.linalg.qr(np.asarray(U, dtype=float))[0]
        return float(np.linalg.norm(q - ustar @ (ustar.T @ q), 2))

    def optimality(self, x) -> float:
        """Relative stationarity residual of f(U, V) (see the module docstring)."""
        U, V = self.factors(x)
        resid = self.entries(U, V, self.rows, self.cols) - self.vals
        R = sp.csr_matrix((resid, (self.rows, self.cols)), shape=self.shape)
        g = np.sqrt(np.sum((R @ V) ** 2) + np.sum((R.T @ U) ** 2))
        scale = np.linalg.norm(self.vals) * (np.linalg.norm(U) + np.linalg.norm(V))
        return float(g / scale) if scale > 0 else float(g)

    def report(self, x) -> dict[str, float]:
        """Reporting columns of plain factors ``x`` (no offsets): RMSEs, error and angle against the truth."""
        U, V = self.factors(x)
        return self.report_factors(U, V)

    def report_factors(self, U, V, predict=None) -> dict[str, float]:
        """Reporting columns for factors ``U, V``; ``predict(rows, cols)`` (unclipped) replaces ``U V^T``
        for the RMSEs of a model with offsets (mean, biases). Test predictions are clipped to ``rating_range``."""
        if predict is None:

            def predict(r, c):
                return self.entries(U, V, r, c)

        out = {"train_rmse": self.rmse(predict(self.rows, self.cols), "train")}
        if self.test_vals.size:
            out["test_rmse"] = self.rmse(self.clip(predict(self.test_rows, self.test_cols)), "test")
        if self.truth is not None:
            out["rel_error"] = self.rel_frob_error(U, V)
            out["subspace_dist"] = self.subspace_dist(U)
        return out

    def __repr__(self) -> str:
        return (
            f"MatrixCompletion({self.name}: {self.m} x {self.n}, rank {self.rank}, {self.n_obs} observed, "
            f"{self.test_vals.size} held out)"
        )
