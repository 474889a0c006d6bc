"""QUBO encodings of ``ConstrainedBinary`` problems: slack-based (the qiskit-optimization baseline)
and slack-free Lagrangian / augmented Lagrangian (Sharma and Lau,
"Cutting Slack", arXiv 2507.12159; see ``docs/qubo.md``).

``encode_slack(problem)`` follows qiskit-optimization 0.7's ``QuadraticProgramToQubo`` step by step
without importing qiskit:

1. ``LinearInequalityToPenalty``: rows ``sum_{i in S} x_i <= 1`` (|S| >= 2) become ``P sum_{i<j} x_i x_j``,
   ``x - y <= 0`` becomes ``P (x - x y)``, ``-sum_{i in S} x_i <= -(|S|-1)`` becomes
   ``P sum_{i<j} (1 - x_i)(1 - x_j)``, all without slack;
2. ``InequalityToEquality``: any other ``a.x <= b`` gets an integer slack ``s in [0, floor(b) - min a.x]``
   (none if that bound is <= 0);
3. ``IntegerToBinary``: the slack is expanded with ``bounded_coefficients`` (``bit_length`` bits);
4. ``LinearEqualityToPenalty``: ``P (a.x + k.y - b)^2`` per row, with ``P = 1 + sum |l_i| + sum |U_ij|``
   (the objective's range over binaries) or ``1e5`` if a constraint coefficient or bound is not an integer.

Slack bits are appended after the problem's variables, per constraint in constraint order. A problem
with a ``slack_model()`` (market split) is encoded through that model (the integer
deviation variables of the comparative study of quantum optimization techniques, arXiv 2503.12121).

``encode_lagrangian(problem, multipliers, rho=0.0)`` builds the slack-free QUBO::

    H(x; lambda, rho) = f(x) + sum_j lambda_j g_j(x) + (rho/2) sum_j g_j(x)^2,   g_j = (a_j.x - b_j) / s_j,

``s_j = max(|b_j|, 1)``, on the problem's own ``n`` bits. With ``relaxation="product"`` (the default
for problems whose rows are all pair-packing rows ``x_u + x_v <= 1``, such as MIS) the violation is
``g_e = x_u x_v`` instead (the product form). The untruncated square is the QUBO-compatible
augmented Lagrangian, algebraically the unbalanced penalisation of Montanez-Barrera et al. (2024),
``-l1 h + l2 h^2`` with ``h = -s_j g_j``, ``l1 = lambda_j / s_j``, ``l2 = rho / (2 s_j^2)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from problems.base import require
from problems.binary import ConstrainedBinary, bounded_coefficients
from problems.validation import as_choice, as_real, as_vector

from .qubo import QUBO


@dataclass
class Encoding:
    """A QUBO for a problem plus the map back: ``decode(bits)`` returns the problem's ``x``."""

    problem: Any
    qubo: QUBO
    kind: str
    penalty: float | None = None
    multipliers: np.ndarray | None = None
    rho: float = 0.0
    info: dict = field(default_factory=dict)

    @property
    def num_qubits(self) -> int:
        return self.qubo.num_variables

    def decode(self, bits: ArrayLike) -> np.ndarray:
        """The problem's variables from a bitstring (or a batch) of the QUBO: the first ``n_vars`` bits."""
        arr = np.asarray(bits)
        if arr.shape[-1] != self.num_qubits:
            raise ValueError(f"bits must have {self.num_qubits} entries (one per qubit), got shape {arr.shape}")
        return arr[..., : self.problem.n_vars].astype(np.int8)


def _check_problem(problem, who: str) -> None:
    require(problem, ConstrainedBinary, solver=who)


# ====================================================================== slack-based
def _is_int(values) -> bool:
    v = np.asarray(values, dtype=float)
    return bool(np.all(v == np.round(v)))


def qiskit_penalty(problem: Any) -> float:
    """qiskit-optimization's automatic penalty (its ``LinearEqualityToPenalty`` step)."""
    lin, up, _ = problem.cost_terms()
    cons = problem.constraints()
    if not (_is_int(cons.A.data) and _is_int(cons.b)):
        return 1e5
    return 1.0 + float(np.abs(lin).sum()) + float(np.abs(sp.csr_matrix(up).data).sum())


def encode_slack(problem: Any, penalty: float | None = None) -> Encoding:
    """Slack-based QUBO with qiskit-optimization's qubit count and default penalty (see module doc).

    ``penalty``: a positive number, or None for qiskit's automatic value.
    """
    _check_problem(problem, "encode_slack")
    original = problem
    if hasattr(problem, "slack_model"):  # e.g. market split: the integer-deviation model
        problem = problem.slack_model()
    P = qiskit_penalty(problem) if penalty is None else as_real(penalty, "penalty", low=0.0, low_open=True)
    lin, up, c0 = problem.cost_terms()
    cons = problem.constraints()
    n = problem.n_vars
    A = cons.A.tocsr()
    lin_terms: dict[int, float] = {}
    quad_terms: dict[tuple[int, int], float] = {}
    const = float(c0)
    rows_sq = []  # (indices, coefficients, rhs) of squared equality rows
    slack_count = 0
    pattern_rows = 0

    def add_q(i: int, j: int, v: float) -> None:
        key = (i, j) if i < j else (j, i)
        quad_terms[key] = quad_terms.get(key, 0.0) + v

    for r in range(cons.num_rows):
        idx = A.indices[A.indptr[r] : A.indptr[r + 1]]
        coef = A.data[A.indptr[r] : A.indptr[r + 1]]
        b = float(cons.b[r])
        if not cons.equality[r]:
            if len(idx) >= 2 and np.all(coef == 1) and b == 1:
                for a in range(len(idx)):
                    for c in range(a + 1, len(idx)):
                        add_q(idx[a], idx[c], P)
                pattern_rows += 1
                continue
            if len(idx) == 2 and b == 0 and sorted(coef) == [-1.0, 1.0]:
                x, y = (idx[0], idx[1]) if coef[0] == 1 else (idx[1], idx[0])  # x <= y
                lin_terms[x] = lin_terms.get(x, 0.0) + P
                add_q(x, y, -P)
                pattern_rows += 1
                continue
            if len(idx) >= 2 and np.all(coef == -1) and b == -(len(idx) - 1):
                k = len(idx)
                for a in range(k):
                    for c in range(a + 1, k):
                        const += P
                        lin_terms[idx[a]] = lin_terms.get(idx[a], 0.0) - P
                        lin_terms[idx[c]] = lin_terms.get(idx[c], 0.0) - P
                        add_q(idx[a], idx[c], P)
                pattern_rows += 1
                continue
            if not (_is_int(coef) and _is_int([b])):
                raise ValueError(
                    f"encode_slack: row {r} has non-integer coefficients or bound; qiskit's "
                    f"integer slack conversion does not apply"
                )
            upper = math.floor(b) - float(np.minimum(coef, 0).sum())
            kappa = bounded_coefficients(int(upper)) if upper > 0 else np.zeros(0)
            slack_idx = n + slack_count + np.arange(len(kappa))
            slack_count += len(kappa)
            rows_sq.append((np.r_[idx, slack_idx], np.r_[coef, kappa], b))
        else:
            rows_sq.append((idx, coef, b))
    N = n + slack_count
    linear = np.zeros(N)
    linear[:n] += lin
    for i, v in lin_terms.items():
        linear[i] += v
    up0 = sp.coo_matrix(up)
    rr, cc, vv = list(up0.row), list(up0.col), list(up0.data)
    for (i, j), v in quad_terms.items():
        rr.append(i)
        cc.append(j)
        vv.append(v)
    for idx, coef, b in rows_sq:  # P (a.x - b)^2 = P [sum (a_i^2 - 2 b a_i) x_i + 2 sum_{i<j} a_i a_j x_i x_j + b^2]
        linear[idx] += P * (coef**2 - 2.0 * b * coef)
        const += P * b * b
        iu, ju = np.triu_indices(len(idx), 1)
        rr.extend(idx[iu])
        cc.extend(idx[ju])
        vv.extend(2.0 * P * coef[iu] * coef[ju])
    ri, ci = np.array(rr, dtype=np.int64), np.array(cc, dtype=np.int64)
    lo, hi = np.minimum(ri, ci), np.maximum(ri, ci)
    quad = sp.csr_matrix((np.array(vv, dtype=float), (lo, hi)), shape=(N, N))
    quad.sum_duplicates()
    qubo = QUBO(linear, quad, const)
    return Encoding(
        original, qubo, "slack", penalty=P, info={"slack_qubits": N - original.n_vars, "penalty_rows": pattern_rows}
    )


# ====================================================================== slack-free
def _is_pair_packing(cons) -> bool:
    A = cons.A
    counts = np.diff(A.indptr)
    return bool(
        cons.num_rows
        and not cons.equality.any()
        and np.all(counts == 2)
        and np.all(A.data == 1)
        and np.all(cons.b == 1)
    )


class LagrangianModel:
    """Precomputed pieces of ``H(x; lambda, rho)`` for one problem, so that a multiplier loop builds
    each QUBO in O(nnz): ``qubo(lam, rho)``, ``violations(X)`` (the ``g_j``, one row per bitstring),
    ``is_inequality`` (the rows whose multipliers are projected onto ``lambda >= 0``).

    ``relaxation``: "linear" (``g_j = (a_j.x - b_j)/s_j``), "product" (``g_e = x_u x_v`` for pair-packing
    rows) or "auto" (product when every row is a pair-packing row, linear otherwise).
    """

    def __init__(self, problem: Any, relaxation: str = "auto") -> None:
        _check_problem(problem, "LagrangianModel")
        self.problem = problem
        cons = problem.constraints()
        relaxation = as_choice(relaxation, "relaxation", ["auto", "linear", "product"])
        packing = _is_pair_packing(cons)
        if relaxation == "auto":
            relaxation = "product" if packing else "linear"
        if relaxation == "product" and not packing:
            raise ValueError("relaxation='product' needs every constraint to be a pair-packing row x_u + x_v <= 1")
        self.relaxation = relaxation
        self.n = problem.n_vars
        self.m = cons.num_rows
        lin, up, c0 = problem.cost_terms()
        self.f_linear, self.f_upper, self.f_offset = np.asarray(lin, float), sp.csr_matrix(up, copy=True), float(c0)
        self.f_upper.eliminate_zeros()  # nnz then counts couplings (separability tests below rely on it)
        self.is_inequality = ~cons.equality
        if relaxation == "product":
            self.pairs = cons.A.indices.reshape(-1, 2)
            u, v = np.minimum(self.pairs[:, 0], self.pairs[:, 1]), np.maximum(self.pairs[:, 0], self.pairs[:, 1])
            self.pair_map = sp.csr_matrix(
                (np.ones(self.m), (np.arange(self.m), u * self.n + v)), shape=(self.m, self.n * self.n)
            )
            self._u, self._v = u, v
            gram = sp.csr_matrix((np.ones(self.m), (u, v)), shape=(self.n, self.n))  # g_e^2 = x_u x_v
            self.scales = np.ones(self.m)
            self.A_scaled: Any = None
            self.rho_linear = np.zeros(self.n)
            self.rho_upper = gram
            self.rho_offset = 0.0
        else:
            self.scales = cons.scales()
            self.A_scaled = (sp.diags(1.0 / self.scales) @ cons.A.tocsr()).tocsr()
            if self.m * self.n <= 200_000:
                self.A_scaled = self.A_scaled.toarray()  # dense is faster for small rows
            self.b_scaled = cons.b / self.scales
            gram = sp.csr_matrix(self.A_scaled.T @ self.A_scaled)
            # (1/2) sum_j g_j^2 = (1/2) x'G x - btilde'A x + |btilde|^2/2 with G = A'A
            self.rho_linear = 0.5 * gram.diagonal() - self.A_scaled.T @ self.b_scaled
            self.rho_upper = sp.triu(gram, 1).tocsr()
            self.rho_upper.eliminate_zeros()  # couplings that cancel in A'A are not couplings
            self.rho_offset = 0.5 * float(self.b_scaled @ self.b_scaled)
        self.objective_scale = float(np.abs(self.f_linear).sum() + np.abs(self.f_upper.data).sum())
        # sum over inequality rows of max g_j(x)^2 on {x binary : g_j(x) <= 0}, i.e. (min_x g_j)^2 when
        # that minimum is negative: what the untruncated square can add at a feasible point (0 for
        # equality rows and for the product form, where g vanishes at every feasible point)
        self.plain_is_separable = relaxation == "linear" and self.f_upper.nnz == 0
        if relaxation == "product":
            self.feasible_square_max = 0.0
        else:
            A = self.A_scaled
            neg = np.asarray(A.minimum(0).sum(axis=1)).ravel() if sp.issparse(A) else np.minimum(A, 0.0).sum(axis=1)
            lowest = np.minimum(neg - self.b_scaled, 0.0)
            self.feasible_square_max = float(np.sum(lowest[self.is_inequality] ** 2))

    def bound_offset(self, rho: float) -> float:
        """``(rho/2) sum_{j in I} max_{x feasible} g_j(x)^2``: subtracting it from ``min_x H(x; lam, rho)``
        gives a lower bound on the optimum for every ``lam`` with ``lam_I >= 0``, because at a feasible
        ``x*`` the multiplier term is <= 0 and the square term is at most this much."""
        return 0.5 * float(rho) * self.feasible_square_max

    def multipliers(self, value: float | ArrayLike) -> np.ndarray:
        """A multiplier vector from a scalar (all rows) or one value per row; inequality rows >= 0."""
        if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
            lam = np.full(self.m, as_real(value, "multipliers"))
        else:
            lam = as_vector(value, "multipliers", size=self.m)
        if np.any(lam[self.is_inequality] < 0):
            raise ValueError("multipliers of inequality constraints must be >= 0")
        return lam

    def qubo(self, lam: ArrayLike, rho: float = 0.0) -> QUBO:
        """``H(.; lam, rho)`` as a QUBO on the problem's bits."""
        lam = np.asarray(lam, dtype=float)
        if self.relaxation == "product":
            w = lam + 0.5 * rho  # g_e^2 = g_e for a 0/1 product
            quad = (self.f_upper + sp.csr_matrix((w, (self._u, self._v)), shape=(self.n, self.n))).tocsr()
            quad.eliminate_zeros()
            return QUBO.unchecked(self.f_linear, quad, self.f_offset)
        linear = self.f_linear + self.A_scaled.T @ lam + rho * self.rho_linear
        offset = self.f_offset - float(lam @ self.b_scaled) + rho * self.rho_offset
        quad = (self.f_upper + rho * self.rho_upper).tocsr() if rho else self.f_upper
        return QUBO.unchecked(np.asarray(linear, dtype=float), quad, offset)

    def violations(self, X: ArrayLike) -> np.ndarray:
        """``g(x)`` for each row of ``X`` (shape (k, m)) or for one bitstring (shape (m,))."""
        X = np.asarray(X, dtype=float)
        if self.relaxation == "product":
            return X[..., self._u] * X[..., self._v]
        if X.ndim == 2:
            return np.asarray((self.A_scaled @ X.T).T) - self.b_scaled
        return self.A_scaled @ X - self.b_scaled

    def costs(self, X: ArrayLike) -> np.ndarray:
        """``f(x)`` for each row of ``X``."""
        X = np.atleast_2d(np.asarray(X, dtype=float))
        out = self.f_offset + X @ self.f_linear
        if self.f_upper.nnz:
            out += np.einsum("ij,ij->i", np.asarray((self.f_upper @ X.T).T), X)
        return out


def encode_lagrangian(
    problem: Any, multipliers: float | ArrayLike, rho: float = 0.0, relaxation: str = "auto"
) -> Encoding:
    """Slack-free (augmented) Lagrangian QUBO ``H(x; multipliers, rho)`` on the problem's own bits.

    ``multipliers``: a scalar for every constraint or one value per constraint (inequality rows
    need values >= 0); ``rho >= 0`` weights the squared violations.
    """
    model = LagrangianModel(problem, relaxation)
    lam = model.multipliers(multipliers)
    rho = as_real(rho, "rho", low=0.0)
    return Encoding(
        problem,
        model.qubo(lam, rho),
        "lagrangian",
        multipliers=lam,
        rho=rho,
        info={"relaxation": model.relaxation, "model": model},
    )
