"""The constrained binary program every problem of the family is, and the helpers they share.

Every problem is a binary program with a quadratic cost and linear constraints::

    min_x  f(x) = c0 + l.x + sum_{i<j} U_ij x_i x_j      s.t.  a_j.x <= b_j  or  a_j.x == b_j,  x in {0,1}^n

stored in minimisation form (maximisation problems negate their objective; ``sense`` says which),
while ``objective(x)`` reports values in the problem's own sense. ``cost_terms()`` returns
``(l, U, c0)`` and ``constraints()`` the rows; that is all an encoding needs (Sharma and Lau,
"Cutting Slack", arXiv 2507.12159). See ``docs/qubo.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from ..base import Capability, Problem

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
        """Row scales ``s_j = max(|b_j|, 1)``: each row is divided by its scale before it is penalised."""
        return np.maximum(np.abs(self.b), 1.0)


def bounded_coefficients(upper: int) -> np.ndarray:
    """Bit weights of an integer in ``[0, upper]``: ``1, 2, ..., 2^(k-1), upper - (2^k - 1)`` with
    ``k = floor(log2 upper)``; ``bit_length(upper)`` bits that never overshoot ``upper``
    (qiskit-optimization's ``IntegerToBinary`` rule)."""
    upper = int(upper)
    if upper <= 0:
        return np.zeros(0)
    k = upper.bit_length() - 1
    coeffs = [2**i for i in range(k)] + [upper - (2**k - 1)]
    return np.array(coeffs, dtype=float)


def as_bits(x: ArrayLike, n: int, name: str = "x") -> np.ndarray:
    """``x`` as an int8 vector of ``n`` bits (``ValueError`` naming ``name`` otherwise)."""
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
    n_vars: int

    def repair(self, x: ArrayLike) -> np.ndarray:
        """A feasible bitstring close to ``x`` (the problem's greedy rule); subclasses implement it."""
        raise NotImplementedError

    def _cost_terms(self) -> tuple[np.ndarray, sp.spmatrix, float]:
        """Subclasses build ``(l, U, c0)`` here; ``cost_terms`` caches it."""
        raise NotImplementedError

    def _constraints(self) -> LinearConstraints:
        """Subclasses build their rows here; ``constraints`` caches them."""
        raise NotImplementedError

    @property
    def dim(self) -> int:
        return self.n_vars

    def initial_point(self) -> np.ndarray:
        return np.zeros(self.n_vars)

    def cost_terms(self) -> tuple[np.ndarray, sp.csr_matrix, float]:
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
    def cost(self, x: ArrayLike) -> float:
        """Minimisation-form cost ``f(x)`` (= objective, negated for maximisation problems)."""
        x = as_bits(x, self.n_vars).astype(float)
        lin, up, c0 = self.cost_terms()
        return float(c0 + lin @ x + (x @ (up @ x) if up.nnz else 0.0))

    def objective(self, x: ArrayLike) -> float:
        """Objective in the problem's own sense (profit, set size, tour length, ...)."""
        c = self.cost(x)
        return -c if self.sense == "max" else c

    def violations(self, x: ArrayLike) -> np.ndarray:
        """``A x - b`` (unscaled)."""
        cons = self.constraints()
        return cons.A @ as_bits(x, self.n_vars).astype(float) - cons.b

    def is_feasible(self, x: ArrayLike) -> bool:
        """Every row holds to ``1e-9`` of its scale."""
        cons = self.constraints()
        v = self.violations(x)
        tol = 1e-9 * cons.scales()
        return bool(np.all(np.where(cons.equality, np.abs(v) <= tol, v <= tol)))

    def gap(self, value: float) -> float:
        """Relative gap ``|value - known_optimum| / max(1, |known_optimum|)`` (NaN if unknown)."""
        if self.known_optimum is None:
            return math.nan
        return abs(value - self.known_optimum) / max(1.0, abs(self.known_optimum))

    def optimality(self, x: ArrayLike) -> float:
        """Total scaled constraint violation ``sum_I max(g_j, 0) + sum_E |g_j|``, ``g_j = (a_j.x - b_j)/s_j``.

        Zero exactly when ``x`` is feasible: from ``x`` and its own data a binary program can certify
        feasibility, not optimality (a solver certifies optimality with a bound; see ``report``).
        """
        cons = self.constraints()
        v = self.violations(x) / cons.scales()
        return float(np.sum(np.where(cons.equality, np.abs(v), np.maximum(v, 0.0))))

    def report(self, x: ArrayLike) -> dict[str, float]:
        """Reporting column ``gap``: relative gap of ``objective(x)`` to ``known_optimum`` (NaN when
        ``x`` is infeasible or no optimum is known). Never used for stopping unless passed as a target."""
        if not self.is_feasible(x):
            return {"gap": math.nan}
        return {"gap": self.gap(self.objective(x))}

    def reference_solution(self, time_limit: float = 60.0) -> tuple[np.ndarray, float]:
        """Exact optimum ``(x*, objective*)`` by scipy's HiGHS MILP (products linearised)."""
        x = milp_reference(self, time_limit=time_limit)
        return x, self.objective(x)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name}, n_vars={self.n_vars})"


def milp_reference(problem: BinaryProblem, time_limit: float = 60.0) -> np.ndarray:
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


def assignment(scores: np.ndarray) -> np.ndarray:
    """Permutation maximising the total score (``linear_sum_assignment``): row i -> column perm[i]."""
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(scores, maximize=True)
    perm = np.empty(len(rows), dtype=int)
    perm[rows] = cols
    return perm


def assignment_rows(n: int) -> tuple[sp.csr_matrix, np.ndarray]:
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
