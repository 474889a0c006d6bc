"""Finite-sum monotone inclusions 0 in F(x) + G(x), F = (1/n) sum_i F_i (Cai, Alacaoglu and
Diakonikolas, "Variance Reduced Halpern Iteration for Finite-Sum Monotone Inclusions", ICLR 2024).

``FiniteSumOperator`` is the protocol and the builder: n component operators F_i (a list of
callables, or one vectorised callable ``batch(idx, x)``), a resolvent of G (``problems.resolvents``)
and the constants of the paper's assumptions:

* ``lipschitz`` = L_F, the Lipschitz constant of F (A1);
* ``mean_lipschitz`` = L with E_i ||F_Q,i(x) - F_Q,i(y)||^2 <= L^2 ||x - y||^2 (A3);
* ``cocoercive_constant`` = L with E_i ||F_Q,i(x) - F_Q,i(y)||^2 <= L <F(x) - F(y), x - y> (A2), or
  None when F is only monotone.

Sampling: i ~ Q (uniform unless ``sampling`` gives q), F_Q,i = F_i / (n q_i) is unbiased for F.

Oracles, charged in component evaluations (``counts["component"]``; ``work`` = epochs = that / n):
``operator(x)`` (cost n), ``component(idx, x)`` = mean over idx of F_Q,i(x) (cost len(idx)),
``component_diff(idx, x, y)`` (cost 2 len(idx)), ``resolvent(x, step)`` (free). ``optimality(x)``
is the natural residual ||x - J_G(x - F(x))|| with step 1, the quantity the official code plots
(spec Sect. 1); it is not charged. ``operator_residual(x, u, step)`` gives ||F(x) + (u - x)/step||
for an x = J_{step G}(u), an upper bound on dist(0, F(x) + G(x)).

Instances: ``MatrixGame`` (simplex-constrained bilinear games, the policeman-and-burglar generator
of the official code and random ones), ``QuadraticMinMax`` (the Ouyang-Xu hard instance of the
official QP script), ``LogisticOperator`` (the gradient of l2-regularised logistic regression, a
cocoercive finite sum; a8a from LIBSVM).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from scipy.special import expit

from .base import Capability, Problem
from .resolvents import Product, Resolvent, Simplex, Zero
from .validation import as_int, as_matrix, as_real, as_vector, check_rows

FiniteSum = Capability(
    "FiniteSumOperator",
    ("n", "dim", "operator", "component", "component_diff", "resolvent", "sample", "sample_iid"),
    "a finite sum of operators F = (1/n) sum F_i plus a maximal monotone G given by its resolvent",
)


class FiniteSumOperator(Problem):
    """0 in (1/n) sum_i F_i(x) + G(x), with components counted in the paper's unit.

    Parameters
    ----------
    components : a sequence of n callables ``F_i(x) -> array(dim)``, or one callable
        ``batch(idx, x) -> array(len(idx), dim)`` (then ``n`` is required)
    dim : dimension of x
    n : number of components (taken from ``components`` when it is a sequence)
    resolvent : a ``problems.resolvents.Resolvent`` for G (default ``Zero()``: G = 0)
    lipschitz, mean_lipschitz, cocoercive_constant : the constants of A1, A3, A2 (None if unknown)
    sampling : probabilities q_i (default uniform)
    x0 : the default starting point (default zeros)
    check_monotone : number of random pairs (x, y) on which <F(x) - F(y), x - y> >= 0 is checked at
        construction (0 = no check); a violation raises ``ValueError``
    seed : seed of that check
    """

    work_unit = "epochs"  # component evaluations / n (counted in counts["component"])
    _cdf = None  # (sampling, its cumulative sums) for ``sample``

    def __init__(
        self,
        components=None,
        *,
        dim=None,
        n=None,
        resolvent=None,
        lipschitz=None,
        mean_lipschitz=None,
        cocoercive_constant=None,
        sampling=None,
        x0=None,
        check_monotone=0,
        seed=0,
        name="finite-sum-operator",
    ):
        super().__init__()
        self.name = name
        self.dim = as_int(dim, "dim", low=1)
        self._batch = None
        self._funcs = None
        if components is not None:
            if callable(components):
                if n is None:
                    raise ValueError("n is required when components is one batch callable batch(idx, x)")
                self._batch = components
            elif isinstance(components, Sequence) and len(components) > 0 and all(map(callable, components)):
                self._funcs = list(components)
                if n is not None and as_int(n, "n", low=1) != len(self._funcs):
                    raise ValueError(f"n={n} but {len(self._funcs)} components were given")
                n = len(self._funcs)
            else:
                raise TypeError(
                    "components must be a non-empty sequence of callables F_i(x) or one callable batch(idx, x)"
                )
        if components is None and type(self)._weighted_sum is FiniteSumOperator._weighted_sum:
            raise TypeError("components is required: a sequence of callables F_i(x) or one callable batch(idx, x)")
        self.n = as_int(n, "n", low=1)
        if resolvent is None:
            resolvent = Zero()
        if not isinstance(resolvent, Resolvent):
            raise TypeError(f"resolvent must be a problems.resolvents.Resolvent, got {type(resolvent).__name__}")
        self._resolvent = resolvent
        self.lipschitz = _optional_positive(lipschitz, "lipschitz")
        self.mean_lipschitz = _optional_positive(mean_lipschitz, "mean_lipschitz")
        self.cocoercive_constant = _optional_positive(cocoercive_constant, "cocoercive_constant")
        self.sampling = None
        if sampling is not None:
            q = as_vector(sampling, "sampling", size=self.n)
            if np.any(q <= 0) or not math.isclose(q.sum(), 1.0, rel_tol=1e-9):
                raise ValueError("sampling must be positive probabilities summing to 1")
            self.sampling = q
        self._x0 = np.zeros(self.dim) if x0 is None else as_vector(x0, "x0", size=self.dim)
        if components is not None:
            self._check_shapes()
        checks = as_int(check_monotone, "check_monotone", low=0)
        if checks:
            worst = self.monotonicity_violation(checks, seed=seed)
            if worst > 1e-9:
                raise ValueError(
                    f"the operator is not monotone: <F(x) - F(y), x - y> = -{worst:.3g} "
                    "||F(x) - F(y)|| ||x - y|| on a sampled pair"
                )

    # ------------------------------------------------------------------ component hooks
    def _weighted_sum(self, idx: np.ndarray, weights: np.ndarray, x: np.ndarray) -> np.ndarray:
        """sum_j weights[j] F_{idx[j]}(x) (subclasses vectorise this)."""
        if self._batch is not None:
            vals = np.asarray(self._batch(idx, x), dtype=float)
            if vals.shape != (idx.size, self.dim):
                raise ValueError(
                    f"components batch(idx, x) returned shape {vals.shape}, expected ({idx.size}, {self.dim})"
                )
            return weights @ vals
        out = np.zeros(self.dim)
        for i, w in zip(idx, weights, strict=False):
            out += w * self._call_component(int(i), x)
        return out

    def _weighted_diff(self, idx, weights, x, y) -> np.ndarray:
        """sum_j weights[j] (F_{idx[j]}(x) - F_{idx[j]}(y)) (linear operators override)."""
        return self._weighted_sum(idx, weights, x) - self._weighted_sum(idx, weights, y)

    def _full(self, x: np.ndarray) -> np.ndarray:
        """F(x) = (1/n) sum_i F_i(x)."""
        return self._weighted_sum(np.arange(self.n), np.full(self.n, 1.0 / self.n), x)

    def _call_component(self, i, x):
        val = np.asarray(self._funcs[i](x), dtype=float)
        if val.shape != (self.dim,):
            raise ValueError(f"components[{i}] returned shape {val.shape}, expected ({self.dim},)")
        return val

    def _check_shapes(self) -> None:
        with self.counts.paused():
            x = self._x0.copy()
            self._weighted_sum(np.array([0]), np.ones(1), x)
            if self._funcs is not None and self.n > 1:
                self._call_component(self.n - 1, x)

    # ------------------------------------------------------------------ oracles
    @property
    def work(self) -> float:
        """Epochs: component evaluations / n."""
        return float(self.counts["component"]) / self.n

    def initial_point(self) -> np.ndarray:
        return self._x0.copy()

    def operator(self, x) -> np.ndarray:
        """F(x) (cost n)."""
        self.counts.add("component", self.n)
        return self._full(x)

    def weights(self, idx: np.ndarray) -> np.ndarray:
        """Weights 1/(len(idx) n q_i) that make ``weights @ F_idx`` the mean of F_Q,i over idx."""
        if self.sampling is None:
            return np.full(idx.size, 1.0 / idx.size)
        return 1.0 / (idx.size * self.n * self.sampling[idx])

    def component(self, idx, x) -> np.ndarray:
        """Mean over i in ``idx`` of F_Q,i(x) = F_i(x)/(n q_i) (cost len(idx))."""
        idx = np.atleast_1d(idx)
        self.counts.add("component", idx.size)
        return self._weighted_sum(idx, self.weights(idx), x)

    def component_diff(self, idx, x, y) -> np.ndarray:
        """Mean over i in ``idx`` of F_Q,i(x) - F_Q,i(y) (cost 2 len(idx))."""
        idx = np.atleast_1d(idx)
        self.counts.add("component", 2 * idx.size)
        return self._weighted_diff(idx, self.weights(idx), x, y)

    def sample_iid(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` i.i.d. indices from Q (``rng.integers`` when uniform, else inversion of q's CDF)."""
        if self.sampling is None:
            return rng.integers(self.n, size=size)
        return self._cdf_of_q().searchsorted(rng.random(size), side="right")

    def _cdf_of_q(self) -> np.ndarray:
        if self._cdf is None or self._cdf[0] is not self.sampling:
            cdf = np.cumsum(self.sampling)
            cdf /= cdf[-1]
            self._cdf = (self.sampling, cdf)
        return self._cdf[1]

    def sample(self, rng: np.random.Generator, size: int = 1) -> np.ndarray:
        """``size`` indices: uniform without replacement, or i.i.d. from q when sampling is set."""
        if self.sampling is None:
            if size == 1:
                return np.array([rng.integers(self.n)])
            return rng.choice(self.n, size=size, replace=False)
        # the draws of rng.choice(n, size, p=q), from a cached CDF: rng.choice re-checks and re-sums q
        # on every call, O(n) inside an O(1) stochastic step
        return self._cdf_of_q().searchsorted(rng.random(size), side="right")

    def resolvent(self, x, step: float) -> np.ndarray:
        """J_{step G}(x) (free)."""
        return self._resolvent(x, step)

    @property
    def resolvent_is_identity(self) -> bool:
        return self._resolvent.is_identity

    def optimality(self, x) -> float:
        """Natural residual ||x - J_G(x - F(x))|| (step 1, undivided, as in the official plots)."""
        with self.counts.paused():
            return float(np.linalg.norm(x - self.resolvent(x - self._full(x), 1.0)))

    def operator_residual(self, x, u, step: float) -> float:
        """||F(x) + (u - x)/step|| for x = J_{step G}(u): an upper bound on dist(0, F(x) + G(x))."""
        with self.counts.paused():
            return float(np.linalg.norm(self._full(x) + (u - x) / step))

    def monotonicity_violation(self, samples: int = 20, seed=0, scale: float = 1.0) -> float:
        """max over sampled pairs of -<F(x) - F(y), x - y> / (||F(x) - F(y)|| ||x - y||).

        A cosine in [-1, 1]; <= 0 (up to rounding) for a monotone F. Points x0 + scale N(0, I).
        """
        rng = np.random.default_rng(seed)
        worst = -1.0
        with self.counts.paused():
            for _ in range(as_int(samples, "samples", low=1)):
                x = self._x0 + scale * rng.standard_normal(self.dim)
                y = self._x0 + scale * rng.standard_normal(self.dim)
                d, dF = x - y, self._full(x) - self._full(y)
                denom = float(np.linalg.norm(dF) * np.linalg.norm(d))
                if denom > 0:
                    worst = max(worst, -float(dF @ d) / denom)
        return worst


class MatrixGame(FiniteSumOperator):
    """min over x in the simplex of max over y in the simplex of y^T A x, A of shape (p, q).

    z = (x, y) in R^{q + p}, F(z) = (A^T y, -A x), G = normal cone of the two simplices (so the
    resolvent is the pair of simplex projections). Components (spec Sect. 1, the official coordinate
    sampling extended to rectangular A): with N = max(p, q) components,
    F_i(z) = N (y_i A[i, :]^T [i < p], -x_i A[:, i] [i < q]); their mean is F.

    ``duality_gap(z) = max_i (A x)_i - min_j (A^T y)_j`` (0 exactly at equilibrium) and
    ``reference_solution()`` solves the two LPs with HiGHS.
    """

    def __init__(self, A, *, x0=None, name=None):
        A = as_matrix(A, "A", allow_sparse=False)
        p, q = A.shape
        if p < 1 or q < 1:
            raise ValueError(f"A must have at least one row and one column, got shape {A.shape}")
        self.A = A
        self.AT = np.ascontiguousarray(A.T)  # contiguous columns for the component oracles and compiled kernels
        self.rows, self.cols = p, q
        N = max(p, q)
        if x0 is None:
            x0 = np.concatenate([np.full(q, 1.0 / q), np.full(p, 1.0 / p)])
        self._row_norms = np.linalg.norm(A, axis=1)
        self._col_norms = np.linalg.norm(A, axis=0)
        super().__init__(
            None,
            dim=p + q,
            n=N,
            resolvent=Product([(q, Simplex()), (p, Simplex())]),
            lipschitz=max(spectral_norm(A), 1e-300),
            mean_lipschitz=max(math.sqrt(N) * max(self._row_norms.max(), self._col_norms.max()), 1e-300),
            x0=x0,
            name=name or f"matrix-game({p}x{q})",
        )
        self.frobenius = float(np.linalg.norm(A))
        self._reference = None

    @classmethod
    def policeman_burglar(cls, n: int = 100, seed: int = 1, theta: float = 0.8) -> MatrixGame:
        """Nemirovski's policeman-and-burglar game as in the official ``matrix_game.py``.

        Legacy ``numpy.random.RandomState(seed)`` (the script's ``np.random.seed``): w = |randn(n)|,
        A[i, j] = w_j (1 - exp(-theta |i - j|)) (numpy broadcasting puts w on the columns).
        """
        n = as_int(n, "n", low=1)
        theta = as_real(theta, "theta", low=0.0, low_open=True)
        w = np.abs(np.random.RandomState(as_int(seed, "seed", low=0)).randn(n))
        i = np.arange(n)
        A = w[None, :] * (1.0 - np.exp(-theta * np.abs(i[:, None] - i[None, :])))
        return cls(A, name=f"pb-game(n={n})")

    @classmethod
    def random(cls, n: int, m: int, seed=0) -> MatrixGame:
        """A random n x m game with standard normal payoffs (``numpy.random.default_rng(seed)``)."""
        n, m = as_int(n, "n", low=1), as_int(m, "m", low=1)
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(as_int(seed, "seed", low=0))
        return cls(rng.standard_normal((n, m)), name=f"random-game({n}x{m})")

    # ------------------------------------------------------------------ blocks
    def split(self, z):
        """(x, y) from z = (x, y)."""
        return z[: self.cols], z[self.cols :]

    def _weighted_sum(self, idx, weights, z):
        x, y = self.split(z)
        scale = self.n * weights
        out = np.empty(self.dim)
        if idx.size == 1:  # the per-sample loops of VR-EG / VR-FoRB: O(p + q), no masks
            i, s = int(idx[0]), float(scale[0])
            out[: self.cols] = s * y[i] * self.A[i] if i < self.rows else 0.0
            out[self.cols :] = -s * x[i] * self.AT[i] if i < self.cols else 0.0
            return out
        r = idx < self.rows
        out[: self.cols] = (scale[r] * y[idx[r]]) @ self.A[idx[r]]
        c = idx < self.cols
        out[self.cols :] = -((scale[c] * x[idx[c]]) @ self.AT[idx[c]])
        return out

    def _weighted_diff(self, idx, weights, z, z2):
        return self._weighted_sum(idx, weights, z - z2)

    def _full(self, z):
        x, y = self.split(z)
        return np.concatenate([self.A.T @ y, -(self.A @ x)])

    # ------------------------------------------------------------------ game quantities
    def duality_gap(self, z) -> float:
        """max_i (A x)_i - min_j (A^T y)_j for the simplex parts of z (>= 0, 0 at equilibrium)."""
        x, y = self.split(z)
        return float(np.max(self.A @ x) - np.min(self.A.T @ y))

    def report(self, z) -> dict[str, float]:
        """Reporting column ``gap``: the worse player's loss against the game value v* of the LP
        (HiGHS, solved once), max(max_i (A x)_i - v*, v* - min_j (A^T y)_j) / max(1, |v*|)."""
        x, y = self.split(z)
        _, value = self.reference_solution()
        worst = max(float(np.max(self.A @ x)) - value, value - float(np.min(self.A.T @ y)))
        return {"gap": max(worst, 0.0) / max(1.0, abs(value))}

    def payoff(self, z) -> float:
        """y^T A x."""
        x, y = self.split(z)
        return float(y @ self.A @ x)

    def reference_solution(self):
        """(z*, v*): an equilibrium and the game value from the two LPs (scipy HiGHS).

        min_{x in simplex, t} t s.t. A x <= t 1, and max_{y in simplex, s} s s.t. A^T y >= s 1.
        """
        if self._reference is None:
            from scipy.optimize import linprog

            p, q = self.A.shape
            primal = linprog(
                np.r_[np.zeros(q), 1.0],
                A_ub=np.c_[self.A, -np.ones(p)],
                b_ub=np.zeros(p),
                A_eq=np.r_[np.ones(q), 0.0][None],
                b_eq=[1.0],
                bounds=[(0, None)] * q + [(None, None)],
                method="highs",
            )
            dual = linprog(
                np.r_[np.zeros(p), -1.0],
                A_ub=np.c_[-self.A.T, np.ones(q)],
                b_ub=np.zeros(q),
                A_eq=np.r_[np.ones(p), 0.0][None],
                b_eq=[1.0],
                bounds=[(0, None)] * p + [(None, None)],
                method="highs",
            )
            if primal.status != 0 or dual.status != 0:  # pragma: no cover - LPs of games are always solvable
                raise RuntimeError(f"HiGHS failed: {primal.message}; {dual.message}")
            z = np.concatenate([primal.x[:q], dual.x[:p]])
            self._reference = (z, 0.5 * (primal.fun - dual.fun))
        return self._reference[0].copy(), self._reference[1]


class QuadraticMinMax(FiniteSumOperator):
    """The Ouyang-Xu hard quadratic min-max instance of the official ``quadratic_programming.py``.

    min_x max_y (1/2) x^T H x - h^T x - <A x - b, y>: A[i, n-1-i] = 1, A[i, n-2-i] = -1, A /= 4,
    H = 2 A^T A, b = ones/4, h = e_n/4, so F(z) = M z - c with M = [[H, -A^T], [A, 0]], c = (h, b),
    G = 0. Component i acts on coordinates {x_i, y_i}: F_i(z) = n M[:, (i, n+i)] z_(i, n+i) - c.
    Not cocoercive (the y block has a zero diagonal); L_F = ||M||_2. Start z0 = ones/n.
    """

    def __init__(self, n: int = 200, *, name=None):
        n = as_int(n, "n", low=2)
        A = np.zeros((n, n))
        i = np.arange(n)
        A[i, n - 1 - i] = 1.0
        A[i[:-1], n - 2 - i[:-1]] = -1.0
        A /= 4.0
        H = 2.0 * A.T @ A
        self.M = np.block([[H, -A.T], [A, np.zeros((n, n))]])
        self.c = np.concatenate([np.eye(n)[-1] / 4.0, np.full(n, 0.25)])
        self.half = n
        pair = np.stack([self.M[:, :n], self.M[:, n:]], axis=-1)  # (2n, n, 2): the columns of component i
        pair_norms = np.array([np.linalg.norm(pair[:, k, :], 2) for k in range(n)])
        super().__init__(
            None,
            dim=2 * n,
            n=n,
            lipschitz=float(np.linalg.norm(self.M, 2)),
            mean_lipschitz=math.sqrt(n) * float(pair_norms.max()),
            x0=np.full(2 * n, 1.0 / n),
            name=name or f"quadratic-minmax(n={n})",
        )

    def _linear(self, idx, weights, z):
        cols = np.concatenate([idx, idx + self.half])
        coef = np.concatenate([weights, weights]) * self.n
        return self.M[:, cols] @ (coef * z[cols])

    def _weighted_sum(self, idx, weights, z):
        return self._linear(idx, weights, z) - weights.sum() * self.c

    def _weighted_diff(self, idx, weights, z, z2):
        return self._linear(idx, weights, z - z2)

    def _full(self, z):
        return self.M @ z - self.c

    def objective(self, z) -> float:
        """The saddle function (1/2) x^T H x - h^T x - <A x - b, y> at z = (x, y)."""
        x, y = z[: self.half], z[self.half :]
        n = self.half
        H, A = self.M[:n, :n], self.M[n:, :n]
        return float(0.5 * x @ H @ x - self.c[:n] @ x - (A @ x - self.c[n:]) @ y)

    def reference_solution(self):
        """(z*, 0): the unique zero z* = M^{-1} c (numpy.linalg.solve)."""
        return np.linalg.solve(self.M, self.c), 0.0


class LogisticOperator(FiniteSumOperator):
    """Gradient operator of l2-regularised logistic regression, a cocoercive finite sum.

    F_i(w) = -y_i a_i sigma(-y_i a_i^T w) + mu w (labels +-1), F = grad f with
    f(w) = (1/n) sum_i log(1 + exp(-y_i a_i^T w)) + (mu/2) ||w||^2, G = 0 (spec Sect. 6).
    Each F_i is the gradient of a convex (||a_i||^2/4 + mu)-smooth function, so A2 holds with
    L = max_i ||a_i||^2/4 + mu under uniform sampling; L_F = lambda_max(A^T A)/(4n) + mu.
    """

    def __init__(self, A, y, mu: float = 1e-3, *, name=None):
        A = as_matrix(A, "A")
        y = as_vector(y, "y")
        check_rows(A.shape[0], y, "y")
        labels = np.unique(y)
        if not set(labels) <= {-1.0, 1.0}:
            raise ValueError(f"y must hold labels -1 and 1, got {labels[:5]}")
        self.A = sp.csr_matrix(A) if not sp.issparse(A) else A
        self.y = y
        self.mu = as_real(mu, "mu", low=0.0)
        n, d = A.shape
        row_sq = np.asarray(self.A.multiply(self.A).sum(axis=1)).ravel()
        from scipy.sparse.linalg import svds

        top = (
            svds(self.A, k=1, return_singular_vectors=False, random_state=0)[0]
            if min(n, d) > 1
            else float(np.sqrt(row_sq.sum()))
        )
        super().__init__(
            None,
            dim=d,
            n=n,
            lipschitz=top**2 / (4 * n) + self.mu,
            mean_lipschitz=float(row_sq.max()) / 4 + self.mu,
            cocoercive_constant=float(row_sq.max()) / 4 + self.mu,
            name=name or f"logistic-operator(n={n}, d={d})",
        )
        self._reference = None

    def _weighted_sum(self, idx, weights, w):
        rows = self.A[idx]
        yb = self.y[idx]
        coef = -weights * yb * expit(-yb * (rows @ w))
        return rows.T @ coef + weights.sum() * self.mu * w

    def _full(self, w):
        coef = -self.y * expit(-self.y * (self.A @ w)) / self.n
        return self.A.T @ coef + self.mu * w

    def objective(self, w) -> float:
        """f(w), the regularised logistic loss whose gradient is F."""
        z = -self.y * (self.A @ w)
        return float(np.mean(np.logaddexp(0.0, z)) + 0.5 * self.mu * (w @ w))

    def reference_solution(self):
        """(w*, f*) from scipy L-BFGS-B with gtol 1e-13 (spec Sect. 6)."""
        if self._reference is None:
            from scipy.optimize import minimize

            with self.counts.paused():
                res = minimize(
                    lambda w: (self.objective(w), self._full(w)),
                    np.zeros(self.dim),
                    jac=True,
                    method="L-BFGS-B",
                    options={"gtol": 1e-13, "ftol": 1e-15, "maxiter": 10_000},
                )
            self._reference = (res.x, float(res.fun))
        return self._reference[0].copy(), self._reference[1]


def spectral_norm(A: np.ndarray, rtol: float = 1e-3) -> float:
    """An upper estimate of ||A||_2: exact (LAPACK) for small matrices, else Lanczos (ARPACK ``svds``,
    a few dozen products with A and A^T, O(p q) each) to relative accuracy ``rtol``, times (1 + rtol)."""
    if min(A.shape) <= 100:
        return float(np.linalg.norm(A, 2))
    from scipy.sparse.linalg import svds

    top = svds(A, k=1, tol=rtol, return_singular_vectors=False, random_state=0)[0]
    return float(top) * (1.0 + rtol)


def _optional_positive(value, name):
    return None if value is None else as_real(value, name, low=0.0, low_open=True)


# ---------------------------------------------------------------------- named builders (catalog)
def policeman_burglar_game(n: int = 100, seed: int = 1, theta: float = 0.8) -> MatrixGame:
    """Policeman-and-burglar matrix game of the official code (n x n, RandomState(seed))."""
    return MatrixGame.policeman_burglar(n, seed=seed, theta=theta)


def random_game(n: int = 50, m: int = 60, seed: int = 0) -> MatrixGame:
    """Random n x m matrix game with standard normal payoffs."""
    return MatrixGame.random(n, m, seed)


def quadratic_minmax(n: int = 200) -> QuadraticMinMax:
    """Ouyang-Xu quadratic min-max instance (z in R^{2n}) of the official QP script."""
    return QuadraticMinMax(n)


def logistic_operator_a8a(mu: float = 1e-3) -> LogisticOperator:
    """Gradient operator of l2-regularised logistic regression on LIBSVM a8a (22,696 x 123)."""
    from .datasets import load_dataset

    A, y = load_dataset("a8a")
    return LogisticOperator(A, y, mu=mu, name="logistic-a8a")


__all__ = [
    "FiniteSum",
    "FiniteSumOperator",
    "MatrixGame",
    "QuadraticMinMax",
    "LogisticOperator",
    "policeman_burglar_game",
    "random_game",
    "quadratic_minmax",
    "logistic_operator_a8a",
]
