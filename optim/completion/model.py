"""``FactorModel``: what a factored completion run returns, and how it predicts.

    prediction(i, j) = mean + row_bias_i + col_bias_j + u_i . v_j      (clipped to the rating range)

An entry whose row or column had no training entry (cold start) gets the documented fallback
``mean + the biases that are known`` (the training mean when the model has neither centering nor
biases): its factor row is zero, and a zero factor of an uncentred model would predict 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class FactorModel:
    U: np.ndarray
    V: np.ndarray
    mean: float = 0.0
    row_bias: np.ndarray | None = None
    col_bias: np.ndarray | None = None
    fallback: float = 0.0
    cold_rows: np.ndarray | None = None  # bool masks: rows / columns without training entries
    cold_cols: np.ndarray | None = None
    rating_range: tuple[float, float] | None = None

    def raw(self, rows, cols) -> np.ndarray:
        """Unclipped predictions at index pairs ``(rows, cols)`` (cold-start fallback applied)."""
        rows = np.asarray(rows, dtype=np.int64)
        cols = np.asarray(cols, dtype=np.int64)
        m, n = self.U.shape[0], self.V.shape[0]
        if rows.shape != cols.shape or rows.ndim != 1:
            raise ValueError("rows and cols must be 1-D arrays of equal length")
        if rows.size and (rows.min() < 0 or rows.max() >= m or cols.min() < 0 or cols.max() >= n):
            raise ValueError(f"rows must lie in [0, {m}) and cols in [0, {n})")
        pred = np.full(rows.shape, self.mean)
        if self.row_bias is not None:
            pred += self.row_bias[rows]
        if self.col_bias is not None:
            pred += self.col_bias[cols]
        step = 1 << 16
        for s in range(0, rows.size, step):
            pred[s : s + step] += np.einsum("ij,ij->i", self.U[rows[s : s + step]], self.V[cols[s : s + step]])
        no_offsets = self.mean == 0.0 and self.row_bias is None and self.col_bias is None
        if no_offsets and self.cold_rows is not None and self.cold_cols is not None:
            cold = self.cold_rows[rows] | self.cold_cols[cols]
            pred[cold] = self.fallback
        return pred

    def predict(self, rows, cols, clip: bool = True) -> np.ndarray:
        """Predictions at ``(rows, cols)``, clipped to the rating range when the problem has one."""
        pred = self.raw(rows, cols)
        if clip and self.rating_range is not None:
            pred = np.clip(pred, *self.rating_range)
        return pred

    @classmethod
    def for_problem(cls, problem, U, V, **offsets) -> FactorModel:
        return cls(
            U=U,
            V=V,
            fallback=float(np.mean(problem.vals)),
            cold_rows=problem.row_counts == 0,
            cold_cols=problem.col_counts == 0,
            rating_range=problem.rating_range,
            **offsets,
        )
