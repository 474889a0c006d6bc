"""Multi-dimensional knapsack (MDKP): ``max p.x`` s.t. ``W x <= c``, ``x`` binary."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from ..loaders_binary import read_mdkp
from ..validation import as_matrix, as_real, as_vector
from .base import BinaryProblem, LinearConstraints, as_bits


class MDKP(BinaryProblem):
    """Multi-dimensional knapsack: ``max p.x  s.t.  W x <= c``, ``x`` binary.

    ``profits`` (n,) >= 0, ``weights`` (m, n) >= 0, ``capacities`` (m,) >= 0.
    """

    sense = "max"

    def __init__(
        self,
        profits: ArrayLike,
        weights: ArrayLike,
        capacities: ArrayLike,
        known_optimum: float | None = None,
        name: str = "mdkp",
    ) -> None:
        super().__init__()
        self.profits = as_vector(profits, "profits")
        n = self.profits.shape[0]
        self.weights = as_matrix(weights, "weights", allow_sparse=False)
        if self.weights.shape[1] != n:
            raise ValueError(f"weights must have {n} columns (one per item), got shape {self.weights.shape}")
        self.capacities = as_vector(capacities, "capacities", size=self.weights.shape[0])
        for arr, label in ((self.profits, "profits"), (self.weights, "weights"), (self.capacities, "capacities")):
            if np.any(arr < 0):
                raise ValueError(f"{label} must be non-negative")
            arr.flags.writeable = False
        self.n_vars, self.m = n, self.weights.shape[0]
        self.known_optimum = None if known_optimum is None else as_real(known_optimum, "known_optimum")
        self.name = name
        c = np.where(self.capacities > 0, self.capacities, np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            load = np.nansum(self.weights / c[:, None], axis=0) + np.where(
                (self.weights[np.isnan(c)] > 0).any(axis=0), np.inf, 0.0
            )
            self._ratio = np.where(load > 0, self.profits / load, np.inf)
        self._add_order = np.argsort(-self._ratio, kind="stable")

    @classmethod
    def from_file(cls, path: str | Path, index: int | None = None) -> MDKP:
        """SAC-94 ``.dat`` (``n m OPT / p / W / c``) or OR-Library mknap (``K`` problems; ``index``
        is 1-based and required when the file holds more than one)."""
        return cls(**read_mdkp(path, index))

    def _cost_terms(self):
        return -self.profits, sp.csr_matrix((self.n_vars, self.n_vars)), 0.0

    def _constraints(self) -> LinearConstraints:
        return LinearConstraints(sp.csr_matrix(self.weights), self.capacities.copy(), np.zeros(self.m, bool))

    def repair(self, x: ArrayLike) -> np.ndarray:
        """Drop the selected item of smallest ``p_i / sum_j W_ji / c_j`` while a row is violated,
        then add unselected items in decreasing ratio while they fit."""
        x = as_bits(x, self.n_vars).copy()
        load = self.weights @ x
        tol = 1e-9 * np.maximum(self.capacities, 1.0)
        if np.any(load > self.capacities + tol):
            chosen = np.flatnonzero(x)
            for i in chosen[np.argsort(self._ratio[chosen], kind="stable")]:
                x[i] = 0
                load -= self.weights[:, i]
                if np.all(load <= self.capacities + tol):
                    break
        room = self.capacities + tol - load
        W = self.weights
        for i in self._add_order:
            if not x[i] and (W[:, i] <= room).all():
                x[i] = 1
                room -= W[:, i]
        return x

    def lp_bound(self) -> float:
        """LP-relaxation optimum (HiGHS), the value the pure Lagrangian dual reaches."""
        from scipy.optimize import linprog

        res = linprog(-self.profits, A_ub=self.weights, b_ub=self.capacities, bounds=(0, 1), method="highs")
        return float(-res.fun)
