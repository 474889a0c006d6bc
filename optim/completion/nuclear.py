"""Nuclear-norm minimization through cvxpy (Candes and Recht 2009), for small matrices only.

Exact data (``lam=None``):  minimize ||X||_*  subject to  X_ij = M_ij for (i, j) in Omega.
Noisy data (``lam > 0``):   minimize 0.5 sum_{Omega} (X_ij - M_ij)^2 + lam ||X||_*.

cvxpy turns ||X||_* into a semidefinite program with an (m + n) x (m + n) block, so the size is
limited (``max_size``, default m + n <= 200). One iteration is the whole conic solve.
"""

from __future__ import annotations

import numpy as np

from problems.validation import as_choice, as_int, as_real

from .common import FactoredSolver


class NuclearNorm(FactoredSolver):
    """Nuclear-norm completion by cvxpy (``method="nuclear-norm"``).

    Options: ``lam`` (None: exact constraints; > 0: penalized least squares), ``solver`` ("SCS", default, or
    "CLARABEL", an interior-point method, much slower here), ``eps`` (SCS accuracy, 1e-7), ``max_size``
    (largest m + n accepted, 200). The result keeps
    the full SVD of X (``result.rank`` = min(m, n)); the status "converged" means the conic solver
    reported an optimal solution.
    """

    name = "nuclear-norm"
    default_max_iter = 1
    error_name = "conic solver status (0 = optimal)"

    #: the largest m + n solved with the default options
    default_max_size = 200

    @classmethod
    def accepts(cls, problem) -> bool:
        """Only problems small enough for the default ``max_size`` (so ``optim.solvers(p)`` lists runnable methods)."""
        shape = getattr(problem, "shape", None)
        return super().accepts(problem) and shape is not None and sum(shape) <= cls.default_max_size

    def __init__(self, *, lam=None, solver="SCS", eps=1e-7, max_size=default_max_size, **kw):
        kw.setdefault("tol", 0.0)
        super().__init__(**kw)
        self.lam = None if lam is None else as_real(lam, "lam", low=0.0, low_open=True)
        self.solver = as_choice(solver, "solver", ["CLARABEL", "SCS"])
        self.eps = as_real(eps, "eps", low=0.0, low_open=True)
        self.max_size = as_int(max_size, "max_size", low=2)

    def stop_message(self, status: str | None, values: dict) -> str | None:
        if status == "converged":
            accuracy = f" at eps {self.eps:g}" if self.solver == "SCS" else ""
            return f"converged: cvxpy/{self.solver} reported the conic problem solved to optimality{accuracy}"
        return super().stop_message(status, values)

    def init(self, problem, x0=None):
        self.refuse_start(x0)
        m, n = problem.shape
        if m + n > self.max_size:
            raise ValueError(
                f"nuclear-norm solves an SDP with a ({m} + {n})-square block; m + n = {m + n} exceeds "
                f"max_size={self.max_size} (raise it at your own risk, or use altmin / softimpute)"
            )
        state = self.setup(problem)
        state.k = min(m, n)
        state.x = np.zeros((m + n) * state.k)
        state.solved = False
        self.update_error(problem, state)
        state.error = np.inf
        return state

    def step(self, problem, state):
        import cvxpy as cp

        problem.counts.add("pass", 1)
        X = cp.Variable(problem.shape)
        fit = X[problem.rows, problem.cols]
        if self.lam is None:
            prob = cp.Problem(cp.Minimize(cp.normNuc(X)), [fit == problem.vals])
        else:
            prob = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(fit - problem.vals) + self.lam * cp.normNuc(X)))
        opts = {"eps": self.eps} if self.solver == "SCS" else {}
        prob.solve(solver=self.solver, **opts)
        if X.value is None:
            raise RuntimeError(f"cvxpy/{self.solver} returned no solution (status {prob.status})")
        U, s, Vt = np.linalg.svd(np.asarray(X.value), full_matrices=False)
        root = np.sqrt(s)
        state.x = problem.stack(U * root, Vt.T * root)
        state.status = prob.status
        self.update_error(problem, state)
        state.error = 0.0 if prob.status == cp.OPTIMAL else 1.0
        return state
