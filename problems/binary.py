"""Constrained binary problems: MDKP, MIS, TSP, QAP and market split (the ``ConstrainedBinary`` capability).

Every problem is a binary program with a quadratic cost and linear constraints::

    min_x  f(x) = c0 + l.x + sum_{i<j} U_ij x_i x_j      s.t.  a_j.x <= b_j  or  a_j.x == b_j,  x in {0,1}^n

stored in minimisation form (maximisation problems negate their objective; ``sense`` says which),
while ``objective(x)`` reports values in the problem's own sense. ``cost_terms()`` returns
``(l, U, c0)`` and ``constraints()`` the rows; that is all an encoding needs (Sharma and Lau,
"Cutting Slack", arXiv 2507.12159, and "A Comparative Study of Quantum Optimization Techniques",
arXiv 2503.12121; spec ``qubo_lagrangian.md`` sections 1, 2 and 6). Problems never import ``quantum``.

Each problem offers ``is_feasible``, ``repair`` (the greedy rules of spec section 6),
``known_optimum`` (from the instance file or its published table) and ``reference_solution()``,
an exact optimum from scipy's HiGHS MILP for small instances.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .base import Capability, Problem
from .validation import as_choice, as_int, as_matrix, as_real, as_vector

ConstrainedBinary = Capability(
    "ConstrainedBinary",
    ("n_vars", "cost_terms", "constraints", "objective", "is_feasible", "repair", "known_optimum"),
    "a binary program: quadratic cost terms, linear constraints, feasibility and repair",
)


@dataclass(frozen=True)
class LinearConstraints:
    """Rows ``A x <= b`` (``equality[j]`` False) or ``A x == b`` (True); ``A`` is CSR."""

    A: sp.csr_matrix
    b: np.ndarray
    equality: np.ndarray

    @property
    def num_rows(self) -> int:
        return self.A.shape[0]

    def scales(self) -> np.ndarray:
        """Row scales ``s_j = max(|b_j|, 1)`` (spec section 1)."""
        return np.maximum(np.abs(self.b), 1.0)


def bounded_coefficients(upper: int) -> np.ndarray:
    """Bit weights of an integer in ``[0, upper]``: ``1, 2, ..., 2^(k-1), upper - (2^k - 1)`` with
    ``k = floor(log2 upper)``; ``bit_length(upper)`` bits that never overshoot ``upper``
    (qiskit-optimization's ``IntegerToBinary`` rule, spec section 3)."""
    upper = int(upper)
    if upper <= 0:
        return np.zeros(0)
    k = upper.bit_length() - 1
    coeffs = [2**i for i in range(k)] + [upper - (2**k - 1)]
    return np.array(coeffs, dtype=float)


def _as_bits(x, n: int, name: str = "x") -> np.ndarray:
    arr = np.asarray(x)
    if arr.shape != (n,):
        raise ValueError(f"{name} must be a vector of {n} bits, got shape {arr.shape}")
    if not np.all((arr == 0) | (arr == 1)):
        raise ValueError(f"{name} must hold only 0 and 1")
    return arr.astype(np.int8)


class BinaryProblem(Problem):
    """Base class of the constrained binary problems.

    Subclasses set ``n_vars``, ``sense`` ("max" or "min"), ``known_optimum`` and implement
    ``cost_terms``, ``constraints`` and ``repair``.
    """

    sense = "min"
    work_unit = "qubo_solves"
    known_optimum: float | None = None

    @property
    def dim(self) -> int:
        return self.n_vars

    def initial_point(self) -> np.ndarray:
        return np.zeros(self.n_vars)

    def cost_terms(self):
        """``(l, U, c0)`` of the minimisation-form cost, ``U`` strictly upper CSR (cached; read-only)."""
        terms = getattr(self, "_cached_terms", None)
        if terms is None:
            lin, up, c0 = self._cost_terms()
            terms = self._cached_terms = (np.asarray(lin, dtype=float), sp.csr_matrix(up), float(c0))
        return terms

    def constraints(self) -> LinearConstraints:
        """The linear rows (built once, then cached; treat as read-only)."""
        cons = getattr(self, "_cached_constraints", None)
        if cons is None:
            cons = self._cached_constraints = self._constraints()
        return cons

    # ------------------------------------------------------------------ values
    def cost(self, x) -> float:
        """Minimisation-form cost ``f(x)`` (= objective, negated for maximisation problems)."""
        x = _as_bits(x, self.n_vars).astype(float)
        lin, up, c0 = self.cost_terms()
        return float(c0 + lin @ x + (x @ (up @ x) if up.nnz else 0.0))

    def objective(self, x) -> float:
        """Objective in the problem's own sense (profit, set size, tour length, ...)."""
        c = self.cost(x)
        return -c if self.sense == "max" else c

    def to_cost(self, value: float) -> float:
        """An objective value in minimisation form."""
        return -value if self.sense == "max" else value

    def violations(self, x) -> np.ndarray:
        """``A x - b`` (unscaled)."""
        cons = self.constraints()
        return cons.A @ _as_bits(x, self.n_vars).astype(float) - cons.b

    def is_feasible(self, x) -> bool:
        cons = self.constraints()
        v = self.violations(x)
        tol = 1e-9 * cons.scales()
        return bool(np.all(np.where(cons.equality, np.abs(v) <= tol, v <= tol)))

    def gap(self, value: float) -> float:
        """Relative gap ``|value - known_optimum| / max(1, |known_optimum|)`` (NaN if unknown)."""
        if self.known_optimum is None:
            return math.nan
        return abs(value - self.known_optimum) / max(1.0, abs(self.known_optimum))

    def optimality(self, x) -> float:
        """Total scaled constraint violation ``sum_I max(g_j, 0) + sum_E |g_j|``, ``g_j = (a_j.x - b_j)/s_j``.

        Zero exactly when ``x`` is feasible: from ``x`` and its own data a binary program can certify
        feasibility, not optimality (a solver certifies optimality with a bound; see ``report``).
        """
        cons = self.constraints()
        v = self.violations(x) / cons.scales()
        return float(np.sum(np.where(cons.equality, np.abs(v), np.maximum(v, 0.0))))

    def report(self, x) -> dict[str, float]:
        """Reporting column ``gap``: relative gap of ``objective(x)`` to ``known_optimum`` (NaN when
        ``x`` is infeasible or no optimum is known). Never used for stopping unless passed as a target."""
        if not self.is_feasible(x):
            return {"gap": math.nan}
        return {"gap": self.gap(self.objective(x))}

    def reference_solution(self, time_limit: float = 60.0):
        """Exact optimum ``(x*, objective*)`` by scipy's HiGHS MILP (products linearised)."""
        x = milp_reference(self, time_limit=time_limit)
        return x, self.objective(x)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name}, n_vars={self.n_vars})"


def milp_reference(problem, time_limit: float = 60.0) -> np.ndarray:
    """Exact minimiser of ``problem``'s cost subject to its constraints with ``scipy.optimize.milp``.

    Products ``x_i x_j`` get a variable ``y_ij`` with the McCormick rows that bind in the
    direction of its cost (``y >= x_i + x_j - 1`` when ``U_ij > 0``; ``y <= x_i, y <= x_j`` when
    ``U_ij < 0``), which is exact at binary ``x``.
    """
    from scipy.optimize import Bounds, LinearConstraint, milp

    lin, up, c0 = problem.cost_terms()
    up = sp.coo_matrix(up)
    n, k = problem.n_vars, up.nnz
    cons = problem.constraints()
    c = np.concatenate([lin, up.data])
    rows = [sp.hstack([cons.A, sp.csr_matrix((cons.num_rows, k))])]
    lo = [np.where(cons.equality, cons.b, -np.inf)]
    hi = [cons.b]
    if k:
        eye = sp.identity(k, format="csr")
        xi = sp.csr_matrix((np.ones(k), (np.arange(k), up.row)), shape=(k, n))
        xj = sp.csr_matrix((np.ones(k), (np.arange(k), up.col)), shape=(k, n))
        pos, neg = up.data > 0, up.data < 0
        if pos.any():  # x_i + x_j - y <= 1
            rows.append(sp.hstack([(xi + xj)[pos], -eye[pos]]))
            lo.append(np.full(pos.sum(), -np.inf))
            hi.append(np.ones(pos.sum()))
        if neg.any():  # y - x_i <= 0, y - x_j <= 0
            for x_part in (xi, xj):
                rows.append(sp.hstack([-x_part[neg], eye[neg]]))
                lo.append(np.full(neg.sum(), -np.inf))
                hi.append(np.zeros(neg.sum()))
    res = milp(
        c,
        constraints=LinearConstraint(sp.vstack(rows).tocsr(), np.concatenate(lo), np.concatenate(hi)),
        integrality=np.concatenate([np.ones(n), np.zeros(k)]),
        bounds=Bounds(0, 1),
        options={"time_limit": float(time_limit)},
    )
    if res.x is None or res.status != 0:
        raise RuntimeError(f"HiGHS MILP did not prove an optimum for {problem.name}: {res.message}")
    return np.round(res.x[:n]).astype(np.int8)


# ====================================================================== MDKP
class MDKP(BinaryProblem):
    """Multi-dimensional knapsack: ``max p.x  s.t.  W x <= c``, ``x`` binary (spec 2.1).

    ``profits`` (n,) >= 0, ``weights`` (m, n) >= 0, ``capacities`` (m,) >= 0.
    """

    sense = "max"

    def __init__(self, profits, weights, capacities, known_optimum=None, name="mdkp"):
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
    def from_file(cls, path, index=None) -> MDKP:
        """SAC-94 ``.dat`` (``n m OPT / p / W / c``) or OR-Library mknap (``K`` problems; ``index``
        is 1-based and required when the file holds more than one)."""
        from .loaders_binary import read_mdkp

        return read_mdkp(path, index)

    def _cost_terms(self):
        return -self.profits, sp.csr_matrix((self.n_vars, self.n_vars)), 0.0

    def _constraints(self) -> LinearConstraints:
        return LinearConstraints(sp.csr_matrix(self.weights), self.capacities.copy(), np.zeros(self.m, bool))

    def repair(self, x) -> np.ndarray:
        """Drop the selected item of smallest ``p_i / sum_j W_ji / c_j`` while a row is violated,
        then add unselected items in decreasing ratio while they fit (spec section 6)."""
        x = _as_bits(x, self.n_vars).copy()
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
        """LP-relaxation optimum (HiGHS), the value the pure Lagrangian dual reaches (spec 2.1)."""
        from scipy.optimize import linprog

        res = linprog(-self.profits, A_ub=self.weights, b_ub=self.capacities, bounds=(0, 1), method="highs")
        return float(-res.fun)


# ====================================================================== MIS
class MIS(BinaryProblem):
    """Maximum independent set: ``max sum x  s.t.  x_u + x_v <= 1`` for every edge (spec 2.2).

    ``edges``: pairs of 0-based node indices; duplicates and reversed copies are merged,
    self-loops dropped.
    """

    sense = "max"

    def __init__(self, num_nodes, edges, known_optimum=None, name="mis"):
        super().__init__()
        n = as_int(num_nodes, "num_nodes", low=1)
        raw = np.asarray(edges) if len(edges) else np.zeros((0, 2), np.int64)
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
    def from_file(cls, path, known_optimum=None) -> MIS:
        """DIMACS edge format (``p edge n m`` / ``e u v``, 1-based). The optimum is read from a
        QOBLIB ``<name>.opt.sol`` beside the file, or from the shipped table, unless given."""
        from .loaders_binary import read_dimacs

        return read_dimacs(path, known_optimum)

    def _cost_terms(self):
        return -np.ones(self.n_vars), sp.csr_matrix((self.n_vars, self.n_vars)), 0.0

    def _constraints(self) -> LinearConstraints:
        k = len(self.edges)
        A = sp.csr_matrix((np.ones(2 * k), (np.repeat(np.arange(k), 2), self.edges.ravel())), shape=(k, self.n_vars))
        return LinearConstraints(A, np.ones(k), np.zeros(k, bool))

    def repair(self, x) -> np.ndarray:
        """Drop the selected vertex with most selected neighbours (ties: highest degree) while an
        edge is covered twice; then add free vertices, lowest degree first (spec section 6)."""
        x = _as_bits(x, self.n_vars).copy()
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


# ====================================================================== permutation problems
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


def _assignment(scores: np.ndarray) -> np.ndarray:
    """Permutation maximising the total score (``linear_sum_assignment``): row i -> column perm[i]."""
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(scores, maximize=True)
    perm = np.empty(len(rows), dtype=int)
    perm[rows] = cols
    return perm


def _assignment_rows(n: int) -> tuple[sp.csr_matrix, np.ndarray]:
    """Rows ``sum_k x_ik = 1`` and ``sum_i x_ik = 1`` for ``x`` stored as ``i*n + k``."""
    idx = np.arange(n * n).reshape(n, n)
    r = np.repeat(np.arange(n), n)
    A = sp.vstack(
        [
            sp.csr_matrix((np.ones(n * n), (r, idx.ravel())), shape=(n, n * n)),
            sp.csr_matrix((np.ones(n * n), (r, idx.T.ravel())), shape=(n, n * n)),
        ]
    ).tocsr()
    return A, np.ones(2 * n)


class TSP(BinaryProblem):
    """Travelling salesman on a distance matrix, in one of two binary formulations (spec 2.3).

    ``formulation="position"`` (Lucas 2014): ``x[v, t] = 1`` iff city v is visited at step t;
    cost ``sum_{u != v} d_uv sum_t x[u,t] x[v,t+1]``; each city once and each step one city. With
    ``pin_first`` city 0 sits at step 0 and ``(n-1)^2`` bits remain.
    ``formulation="mtz"``: arcs ``x_uv`` (``n(n-1)`` bits), out/in-degree equalities, and order
    variables ``u_i in [1, n-1]`` (binary expansions, ``bounded_coefficients(n-2)``) with the
    Miller-Tucker-Zemlin rows ``u_i - u_j + n x_ij <= n - 1`` for ``i != j`` in ``1..n-1``.
    """

    sense = "min"

    def __init__(self, distances, formulation="position", pin_first=True, known_optimum=None, name="tsp"):
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
    def from_file(cls, path, formulation="position", pin_first=True) -> TSP:
        """TSPLIB file (EUC_2D, GEO, or EXPLICIT with a matrix section)."""
        from .loaders_binary import read_tsplib

        return read_tsplib(path, formulation=formulation, pin_first=pin_first)

    # -- position encoding helpers
    def _pos_index(self, v, t):
        """Bit index of (city v, step t), or None when pinned (value 1 iff v == t == 0)."""
        if not self.pin_first:
            return v * self.num_cities + t
        if v == 0 or t == 0:
            return None
        return (v - 1) * self._k + (t - 1)

    def _arc_index(self, u, v):
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
                        lin[self._arc_index(u, v)] = d[u, v]
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
            A, b = _assignment_rows(self._k)
            return LinearConstraints(A, b, np.ones(len(b), bool))
        rows, cols, vals, rhs, eq = [], [], [], [], []

        def add(entries, b, is_eq):
            r = len(rhs)
            for c, v in entries:
                rows.append(r)
                cols.append(c)
                vals.append(v)
            rhs.append(b)
            eq.append(is_eq)

        for u in range(n):
            add([(self._arc_index(u, v), 1.0) for v in range(n) if v != u], 1.0, True)
        for v in range(n):
            add([(self._arc_index(u, v), 1.0) for u in range(n) if u != v], 1.0, True)
        kb = self._order_bits
        base = n * (n - 1)
        for i in range(1, n):
            for j in range(1, n):
                if i != j:
                    ent = [(base + (i - 1) * len(kb) + b, kb[b]) for b in range(len(kb))]
                    ent += [(base + (j - 1) * len(kb) + b, -kb[b]) for b in range(len(kb))]
                    add(ent + [(self._arc_index(i, j), float(n))], float(n - 1), False)
        A = sp.csr_matrix((vals, (rows, cols)), shape=(len(rhs), self.n_vars))
        return LinearConstraints(A, np.array(rhs), np.array(eq))

    # -- tours
    def tour_length(self, tour) -> float:
        t = np.asarray(tour)
        return float(self.distances[t, np.roll(t, -1)].sum())

    def tour(self, x):
        """The tour (cities in visiting order, starting at city 0) encoded by ``x``, or None."""
        x = _as_bits(x, self.n_vars)
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
            outs = [v for v in range(n) if v != u and x[self._arc_index(u, v)]]
            if len(outs) != 1:
                return None
            succ[u] = outs[0]
        tour, c = [0], succ[0]
        while c != 0 and len(tour) <= n:
            tour.append(c)
            c = succ[c]
        return tour if len(tour) == n else None

    def position_matrix(self, x) -> np.ndarray:
        """(city, step) 0/1 matrix of a position-encoded ``x`` (pinned entries filled in)."""
        n = self.num_cities
        X = np.zeros((n, n), dtype=np.int8)
        if self.pin_first:
            X[0, 0] = 1
            X[1:, 1:] = np.asarray(x).reshape(self._k, self._k)
        else:
            X[:] = np.asarray(x).reshape(n, n)
        return X

    def encode_tour(self, tour) -> np.ndarray:
        """Bits of a tour (a permutation of the cities; rotated so that city 0 comes first)."""
        tour = [int(c) for c in tour]
        n = self.num_cities
        if sorted(tour) != list(range(n)):
            raise ValueError(f"tour must be a permutation of 0..{n - 1}")
        k = tour.index(0)
        tour = tour[k:] + tour[:k]
        x = np.zeros(self.n_vars, dtype=np.int8)
        if self.formulation == "position":
            for t, v in enumerate(tour):
                idx = self._pos_index(v, t)
                if idx is not None:
                    x[idx] = 1
            return x
        for t, u in enumerate(tour):
            x[self._arc_index(u, tour[(t + 1) % n])] = 1
        kb, base = self._order_bits, n * (n - 1)
        for t, v in enumerate(tour[1:], start=1):  # order u_v = t in [1, n-1]: bits of t - 1
            rest = t - 1
            for b in range(len(kb) - 1, -1, -1):
                if kb[b] <= rest:
                    x[base + (v - 1) * len(kb) + b] = 1
                    rest -= kb[b]
        return x

    def objective(self, x) -> float:
        return self.cost(x)

    def repair(self, x) -> np.ndarray:
        """Position: assignment (``linear_sum_assignment`` on the bits as scores), then 2-opt.
        MTZ: the assignment on the arc bits gives a cycle cover, whose subtours are merged by
        cheapest insertion of whole cycles, then 2-opt (spec section 6)."""
        x = _as_bits(x, self.n_vars)
        n, d = self.num_cities, self.distances
        if self.formulation == "position":
            step_of_city = _assignment(self.position_matrix(x).astype(float))
            tour = [int(c) for c in np.argsort(step_of_city)]
        else:
            scores = np.full((n, n), -1.0)
            for u in range(n):
                for v in range(n):
                    if u != v:
                        scores[u, v] = x[self._arc_index(u, v)] - 1e-6 * d[u, v]
            succ = _assignment(scores)
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
                best = None
                for i in range(len(tour)):
                    a, b = tour[i], tour[(i + 1) % len(tour)]
                    for j in range(len(cyc)):
                        c, e = cyc[j], cyc[j - 1]  # enter cyc at c, leave from its predecessor e
                        delta = d[a, c] + d[e, b] - d[a, b] - d[e, c]
                        if best is None or delta < best[0]:
                            best = (delta, i, j)
                _, i, j = best
                tour = tour[: i + 1] + cyc[j:] + cyc[:j] + tour[i + 1 :]
        return self.encode_tour(_two_opt(tour, d))

    def reference_solution(self, time_limit: float = 60.0):
        """Exact optimal tour by HiGHS on the MTZ arc formulation (continuous orders)."""
        from scipy.optimize import Bounds, LinearConstraint, milp

        n, d = self.num_cities, self.distances
        arcs = [(u, v) for u in range(n) for v in range(n) if u != v]
        na = len(arcs)
        c = np.r_[[d[u, v] for u, v in arcs], np.zeros(n - 1)]
        A, lo, hi = [], [], []
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


class QAP(BinaryProblem):
    """Quadratic assignment (Koopmans-Beckmann): ``x[i, k] = 1`` iff facility i is at location k
    (bit ``i*n + k``); cost ``sum_{i,j,k,l} F_ij D_kl x_ik x_jl``, rows and columns sum to 1 (spec 2.4)."""

    sense = "min"

    def __init__(self, flow, distance, known_optimum=None, name="qap"):
        super().__init__()
        self.flow = as_matrix(flow, "flow", allow_sparse=False)
        self.distance = as_matrix(distance, "distance", allow_sparse=False)
        n = self.flow.shape[0]
        if self.flow.shape != (n, n) or self.distance.shape != (n, n):
            raise ValueError(
                f"flow and distance must be square and of equal size, got {self.flow.shape} and {self.distance.shape}"
            )
        self.flow.flags.writeable = False
        self.distance.flags.writeable = False
        self.size, self.n_vars = n, n * n
        self.known_optimum = None if known_optimum is None else as_real(known_optimum, "known_optimum")
        self.name = name

    @classmethod
    def from_file(cls, path) -> QAP:
        """QAPLIB ``.dat``: ``n``, then the ``n x n`` flow and distance matrices (a token stream)."""
        from .loaders_binary import read_qaplib

        return read_qaplib(path)

    def _cost_terms(self):
        M = np.kron(self.flow, self.distance)  # M[(i,k),(j,l)] = F_ij D_kl
        return np.diag(M).copy(), sp.csr_matrix(np.triu(M, 1) + np.triu(M.T, 1)), 0.0

    def _constraints(self) -> LinearConstraints:
        A, b = _assignment_rows(self.size)
        return LinearConstraints(A, b, np.ones(len(b), bool))

    def permutation_cost(self, perm) -> float:
        """``sum_{i,j} F_ij D_{perm(i) perm(j)}``."""
        p = np.asarray(perm)
        return float(np.sum(self.flow * self.distance[np.ix_(p, p)]))

    def encode_permutation(self, perm) -> np.ndarray:
        n = self.size
        x = np.zeros(n * n, dtype=np.int8)
        x[np.arange(n) * n + np.asarray(perm)] = 1
        return x

    def repair(self, x) -> np.ndarray:
        """Assignment on the bits (``linear_sum_assignment``), then pairwise-swap descent (spec 6)."""
        n = self.size
        perm = _assignment(_as_bits(x, self.n_vars).reshape(n, n).astype(float))
        best = self.permutation_cost(perm)
        improved = True
        while improved:
            improved = False
            for i in range(n - 1):
                for j in range(i + 1, n):
                    perm[i], perm[j] = perm[j], perm[i]
                    c = self.permutation_cost(perm)
                    if c < best - 1e-12:
                        best, improved = c, True
                    else:
                        perm[i], perm[j] = perm[j], perm[i]
        return self.encode_permutation(perm)

    def reference_solution(self, time_limit: float = 60.0):
        """Exact optimum: HiGHS MILP (linearised products) for n <= 4, enumeration for n <= 8."""
        if self.size <= 4:
            return super().reference_solution(time_limit)
        if self.size > 8:
            raise ValueError(
                f"reference_solution enumerates permutations and is limited to n <= 8, got n = {self.size}"
            )
        best = min(itertools.permutations(range(self.size)), key=self.permutation_cost)
        x = self.encode_permutation(best)
        return x, self.objective(x)


# ====================================================================== market split
class MarketSplit(BinaryProblem):
    """Market split (Cornuejols-Dawande): find ``x`` with ``A x = d``; ``objective(x)`` is the total
    absolute deviation ``sum_i |a_i.x - d_i|`` (0 exactly at a solution; spec 2.5).

    As a binary program the cost is 0 and the rows are equalities, so the slack-free QUBO is the
    (augmented) Lagrangian ``sum_i mu_i g_i + rho/2 sum_i g_i^2``.
    """

    sense = "min"

    def __init__(self, demands, targets, known_optimum=0.0, name="market-split"):
        super().__init__()
        self.demands = as_matrix(demands, "demands", allow_sparse=False)
        self.targets = as_vector(targets, "targets", size=self.demands.shape[0])
        self.demands.flags.writeable = False
        self.targets.flags.writeable = False
        self.m, self.n_vars = self.demands.shape
        self.known_optimum = None if known_optimum is None else as_real(known_optimum, "known_optimum")
        self.name = name
        self.witness = None

    @classmethod
    def from_file(cls, path) -> MarketSplit:
        """QOBLIB ``.dat`` (``#`` comments, ``m n``, then m rows of n demands and the target)."""
        from .loaders_binary import read_market_split

        return read_market_split(path)

    @classmethod
    def generate(cls, m: int, seed: int = 0) -> MarketSplit:
        """Paper B's generator (``random.Random(seed)``, ``n = 10(m-1)``, demands in [0, 99],
        ``d_i = int(sum_j a_ij / 2)``), reproduced with Python's ``random`` as in their code."""
        m = as_int(m, "m", low=2)
        rng = random.Random(as_int(seed, "seed", low=0))
        n = 10 * (m - 1)
        a = [[rng.randrange(0, 100) for _ in range(n)] for _ in range(m)]
        d = [int(0.5 * sum(row)) for row in a]
        return cls(a, d, known_optimum=None, name=f"msp-m{m}-seed{seed}")

    def _cost_terms(self):
        return np.zeros(self.n_vars), sp.csr_matrix((self.n_vars, self.n_vars)), 0.0

    def _constraints(self) -> LinearConstraints:
        return LinearConstraints(sp.csr_matrix(self.demands), self.targets.copy(), np.ones(self.m, bool))

    def objective(self, x) -> float:
        return float(np.abs(self.violations(x)).sum())

    def is_feasible(self, x) -> bool:
        return self.objective(x) == 0.0

    def optimality(self, x) -> float:
        return self.objective(x)

    def repair(self, x) -> np.ndarray:
        """Single-bit-flip descent (best improvement) on ``sum_i |a_i.x - d_i|`` (spec section 6)."""
        x = _as_bits(x, self.n_vars).copy()
        r = self.demands @ x - self.targets
        A = self.demands
        while True:
            step = np.where(x == 1, -1.0, 1.0)
            new = np.abs(r[:, None] + A * step[None, :]).sum(axis=0)
            k = int(np.argmin(new))
            if new[k] >= np.abs(r).sum() - 1e-12:
                return x
            x[k] ^= 1
            r += A[:, k] * step[k]

    def slack_deviation_bits(self) -> int:
        """Bits of the qiskit slack model ``a_i.x + s_i^+ - s_i^- = d_i`` with integer deviations in
        ``[0, sum_j a_ij]``: ``2 sum_i bit_length(sum_j a_ij)`` (spec 2.5)."""
        return int(2 * sum(int(round(s)).bit_length() for s in self.demands.sum(axis=1)))

    def slack_model(self) -> BinaryProblem:
        """Paper B's model as a binary program: ``min sum_i (s_i^+ + s_i^-)`` s.t.
        ``a_i.x + s_i^+ - s_i^- = d_i``, each deviation an integer in ``[0, sum_j a_ij]`` expanded with
        ``bounded_coefficients``; its first ``n`` variables are ``x``. ``encode_slack`` uses it."""
        n, m = self.n_vars, self.m
        lin, rows = [np.zeros(n)], [self.demands]
        for i in range(m):
            kappa = bounded_coefficients(int(round(self.demands[i].sum())))
            for sign in (1.0, -1.0):
                lin.append(kappa)
                block = np.zeros((m, len(kappa)))
                block[i] = sign * kappa
                rows.append(block)
        return _FixedBinaryProgram(np.concatenate(lin), np.hstack(rows), self.targets, f"{self.name}-deviations")


class _FixedBinaryProgram(BinaryProblem):
    """Linear cost ``c.x`` with equality rows ``A x = b`` (an auxiliary model; no repair)."""

    def __init__(self, cost, A, b, name):
        super().__init__()
        self._c, self._A, self._b = np.asarray(cost, float), np.asarray(A, float), np.asarray(b, float)
        self.n_vars, self.name = len(self._c), name

    def _cost_terms(self):
        return self._c, sp.csr_matrix((self.n_vars, self.n_vars)), 0.0

    def _constraints(self) -> LinearConstraints:
        return LinearConstraints(sp.csr_matrix(self._A), self._b, np.ones(len(self._b), bool))

    def repair(self, x):
        raise NotImplementedError("the deviation model is only an encoding target")
