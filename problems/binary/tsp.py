"""Travelling salesman as a binary program: the position (Lucas 2014) and MTZ arc formulations."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from ..loaders_binary import read_tsplib
from ..validation import as_choice, as_matrix, as_real
from .base import BinaryProblem, LinearConstraints, as_bits, assignment, assignment_rows, bounded_coefficients


def _two_opt(tour: list, d: np.ndarray) -> list:
    """2-opt until no improving move (first improvement)."""
    tour = list(tour)
    n = len(tour)
    improved = True
    while improved:
        improved = False
        for i in range(n - 1):
            for j in range(i + 2, n if i else n - 1):
                a, b, c, e = tour[i], tour[i + 1], tour[j], tour[(j + 1) % n]
                if d[a, c] + d[b, e] < d[a, b] + d[c, e] - 1e-12:
                    tour[i + 1 : j + 1] = tour[i + 1 : j + 1][::-1]
                    improved = True
    return tour


class TSP(BinaryProblem):
    """Travelling salesman on a distance matrix, in one of two binary formulations.

    ``formulation="position"`` (Lucas 2014): ``x[v, t] = 1`` iff city v is visited at step t;
    cost ``sum_{u != v} d_uv sum_t x[u,t] x[v,t+1]``; each city once and each step one city. With
    ``pin_first`` city 0 sits at step 0 and ``(n-1)^2`` bits remain.
    ``formulation="mtz"``: arcs ``x_uv`` (``n(n-1)`` bits), out/in-degree equalities, and order
    variables ``u_i in [1, n-1]`` (binary expansions, ``bounded_coefficients(n-2)``) with the
    Miller-Tucker-Zemlin rows ``u_i - u_j + n x_ij <= n - 1`` for ``i != j`` in ``1..n-1``.
    """

    sense = "min"

    def __init__(
        self,
        distances: ArrayLike,
        formulation: str = "position",
        pin_first: bool = True,
        known_optimum: float | None = None,
        name: str = "tsp",
    ) -> None:
        super().__init__()
        d = as_matrix(distances, "distances", allow_sparse=False)
        if d.shape[0] != d.shape[1] or d.shape[0] < 3:
            raise ValueError(f"distances must be a square matrix of at least 3 cities, got shape {d.shape}")
        d.flags.writeable = False
        self.distances, self.num_cities = d, d.shape[0]
        self.formulation = as_choice(formulation, "formulation", ["position", "mtz"])
        if not isinstance(pin_first, bool):
            raise TypeError(f"pin_first must be a bool, got {type(pin_first).__name__}")
        self.pin_first = pin_first
        self.known_optimum = None if known_optimum is None else as_real(known_optimum, "known_optimum")
        self.name = name
        n = self.num_cities
        if self.formulation == "position":
            self._k = n - 1 if pin_first else n
            self.n_vars = self._k * self._k
        else:
            self._order_bits = bounded_coefficients(n - 2)
            self.n_vars = n * (n - 1) + (n - 1) * len(self._order_bits)

    @classmethod
    def from_file(cls, path: str | Path, formulation: str = "position", pin_first: bool = True) -> TSP:
        """TSPLIB file (EUC_2D, GEO, or EXPLICIT with a matrix section)."""
        return cls(**read_tsplib(path), formulation=formulation, pin_first=pin_first)

    # -- position encoding helpers
    def _pos_index(self, v, t):
        """Bit index of (city v, step t), or None when pinned (value 1 iff v == t == 0)."""
        if not self.pin_first:
            return v * self.num_cities + t
        if v == 0 or t == 0:
            return None
        return (v - 1) * self._k + (t - 1)

    def arc_index(self, u: int, v: int) -> int:
        """The variable of the arc u -> v (u != v): row u of the n x (n - 1) arc matrix without its diagonal."""
        return u * (self.num_cities - 1) + (v if v < u else v - 1)

    def _cost_terms(self):
        n, d = self.num_cities, self.distances
        lin = np.zeros(self.n_vars)
        rows, cols, vals = [], [], []
        c0 = 0.0
        if self.formulation == "mtz":
            for u in range(n):
                for v in range(n):
                    if u != v:
                        lin[self.arc_index(u, v)] = d[u, v]
            up = sp.csr_matrix((self.n_vars, self.n_vars))
        else:
            for t in range(n):
                s = (t + 1) % n
                for u in range(n):
                    a = self._pos_index(u, t)
                    if a is None and not (u == 0 and t == 0):
                        continue
                    for v in range(n):
                        if u == v:
                            continue
                        b = self._pos_index(v, s)
                        if b is None and not (v == 0 and s == 0):
                            continue
                        if a is None and b is None:
                            c0 += d[u, v]
                        elif a is None:
                            lin[b] += d[u, v]
                        elif b is None:
                            lin[a] += d[u, v]
                        else:
                            i, j = min(a, b), max(a, b)
                            rows.append(i)
                            cols.append(j)
                            vals.append(d[u, v])
            up = sp.csr_matrix((vals, (rows, cols)), shape=(self.n_vars, self.n_vars))
        return lin, up, c0

    def _constraints(self) -> LinearConstraints:
        n = self.num_cities
        if self.formulation == "position":
            A, b = assignment_rows(self._k)
            return LinearConstraints(A, b, np.ones(len(b), bool))
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        rhs: list[float] = []
        eq: list[bool] = []

        def add(entries: list[tuple[int, float]], b: float, is_eq: bool) -> None:
            r = len(rhs)
            for c, v in entries:
                rows.append(r)
                cols.append(c)
                vals.append(v)
            rhs.append(b)
            eq.append(is_eq)

        for u in range(n):
            add([(self.arc_index(u, v), 1.0) for v in range(n) if v != u], 1.0, True)
        for v in range(n):
            add([(self.arc_index(u, v), 1.0) for u in range(n) if u != v], 1.0, True)
        kb = self._order_bits
        base = n * (n - 1)
        for i in range(1, n):
            for j in range(1, n):
                if i != j:
                    ent = [(base + (i - 1) * len(kb) + b, kb[b]) for b in range(len(kb))]
                    ent += [(base + (j - 1) * len(kb) + b, -kb[b]) for b in range(len(kb))]
                    add(ent + [(self.arc_index(i, j), float(n))], float(n - 1), False)
        A = sp.csr_matrix((vals, (rows, cols)), shape=(len(rhs), self.n_vars))
        return LinearConstraints(A, np.array(rhs), np.array(eq))

    # -- tours
    def tour_length(self, tour: ArrayLike) -> float:
        t = np.asarray(tour)
        return float(self.distances[t, np.roll(t, -1)].sum())

    def tour(self, x: ArrayLike) -> list[int] | None:
        """The tour (cities in visiting order, starting at city 0) encoded by ``x``, or None."""
        x = as_bits(x, self.n_vars)
        n = self.num_cities
        if self.formulation == "position":
            X = self.position_matrix(x)
            if not (np.all(X.sum(0) == 1) and np.all(X.sum(1) == 1)):
                return None
            order = list(np.argmax(X, axis=0))
            k = order.index(0)
            return order[k:] + order[:k]
        succ = {}
        for u in range(n):
            outs = [v for v in range(n) if v != u and x[self.arc_index(u, v)]]
            if len(outs) != 1:
                return None
            succ[u] = outs[0]
        tour, c = [0], succ[0]
        while c != 0 and len(tour) <= n:
            tour.append(c)
            c = succ[c]
        return tour if len(tour) == n else None

    def position_matrix(self, x: ArrayLike) -> np.ndarray:
        """(city, step) 0/1 matrix of a position-encoded ``x`` (pinned entries filled in)."""
        n = self.num_cities
        X = np.zeros((n, n), dtype=np.int8)
        if self.pin_first:
            X[0, 0] = 1
            X[1:, 1:] = np.asarray(x).reshape(self._k, self._k)
        else:
            X[:] = np.asarray(x).reshape(n, n)
        return X

    def encode_tour(self, tour: Sequence[int] | np.ndarray) -> np.ndarray:
        """Bits of a tour (a permutation of the cities; rotated so that city 0 comes first)."""
        order = [int(c) for c in tour]
        n = self.num_cities
        if sorted(order) != list(range(n)):
            raise ValueError(f"tour must be a permutation of 0..{n - 1}")
        k = order.index(0)
        tour = order[k:] + order[:k]
        x = np.zeros(self.n_vars, dtype=np.int8)
        if self.formulation == "position":
            for t, v in enumerate(tour):
                idx = self._pos_index(v, t)
                if idx is not None:
                    x[idx] = 1
            return x
        for t, u in enumerate(tour):
            x[self.arc_index(u, tour[(t + 1) % n])] = 1
        kb, base = self._order_bits, n * (n - 1)
        for t, v in enumerate(tour[1:], start=1):  # order u_v = t in [1, n-1]: bits of t - 1
            rest = t - 1
            for b in range(len(kb) - 1, -1, -1):
                if kb[b] <= rest:
                    x[base + (v - 1) * len(kb) + b] = 1
                    rest -= kb[b]
        return x

    def objective(self, x: ArrayLike) -> float:
        return self.cost(x)

    def repair(self, x: ArrayLike) -> np.ndarray:
        """Position: assignment (``linear_sum_assignment`` on the bits as scores), then 2-opt.
        MTZ: the assignment on the arc bits gives a cycle cover, whose subtours are merged by
        cheapest insertion of whole cycles,, then 2-opt."""
        x = as_bits(x, self.n_vars)
        n, d = self.num_cities, self.distances
        if self.formulation == "position":
            step_of_city = assignment(self.position_matrix(x).astype(float))
            tour = [int(c) for c in np.argsort(step_of_city)]
        else:
            scores = np.full((n, n), -1.0)
            for u in range(n):
                for v in range(n):
                    if u != v:
                        scores[u, v] = x[self.arc_index(u, v)] - 1e-6 * d[u, v]
            succ = assignment(scores)
            cycles, seen = [], np.zeros(n, bool)
            for s in range(n):
                if not seen[s]:
                    cyc, c = [], s
                    while not seen[c]:
                        seen[c] = True
                        cyc.append(c)
                        c = succ[c]
                    cycles.append(cyc)
            tour = cycles[0]
            for cyc in cycles[1:]:
                best: tuple[float, int, int] | None = None
                for i in range(len(tour)):
                    a, b = tour[i], tour[(i + 1) % len(tour)]
                    for j in range(len(cyc)):
                        c, e = cyc[j], cyc[j - 1]  # enter cyc at c, leave from its predecessor e
                        delta = d[a, c] + d[e, b] - d[a, b] - d[e, c]
                        if best is None or delta < best[0]:
                            best = (delta, i, j)
                assert best is not None  # every cycle has an edge to insert
                _, i, j = best
                tour = tour[: i + 1] + cyc[j:] + cyc[:j] + tour[i + 1 :]
        return self.encode_tour(_two_opt(tour, d))

    def reference_solution(self, time_limit: float = 60.0) -> tuple[np.ndarray, float]:
        """Exact optimal tour by HiGHS on the MTZ arc formulation (continuous orders)."""
        from scipy.optimize import Bounds, LinearConstraint, milp

        n, d = self.num_cities, self.distances
        arcs = [(u, v) for u in range(n) for v in range(n) if u != v]
        na = len(arcs)
        c = np.r_[[d[u, v] for u, v in arcs], np.zeros(n - 1)]
        A: list[Any] = []
        lo: list[float] = []
        hi: list[float] = []
        for city in range(n):
            A.append([1.0 if u == city else 0.0 for u, v in arcs] + [0.0] * (n - 1))
            A.append([1.0 if v == city else 0.0 for u, v in arcs] + [0.0] * (n - 1))
            lo += [1, 1]
            hi += [1, 1]
        for k, (i, j) in enumerate(arcs):
            if i and j:
                row = np.zeros(na + n - 1)
                row[k] = n
                row[na + i - 1] += 1
                row[na + j - 1] -= 1
                A.append(row)
                lo.append(-np.inf)
                hi.append(n - 1)
        res = milp(
            c,
            constraints=LinearConstraint(np.array(A), lo, hi),
            integrality=np.r_[np.ones(na), np.zeros(n - 1)],
            bounds=Bounds(np.r_[np.zeros(na), np.ones(n - 1)], np.r_[np.ones(na), np.full(n - 1, n - 1)]),
            options={"time_limit": float(time_limit)},
        )
        if res.x is None or res.status != 0:
            raise RuntimeError(f"HiGHS MILP did not prove an optimum for {self.name}: {res.message}")
        succ = {u: v for (u, v), val in zip(arcs, res.x[:na], strict=False) if val > 0.5}
        tour, cnode = [0], succ[0]
        while cnode != 0:
            tour.append(cnode)
            cnode = succ[cnode]
        x = self.encode_tour(tour)
        return x, self.objective(x)
