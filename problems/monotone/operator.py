"""The finite-sum monotone inclusion 0 in F(x) + G(x), F = (1/n) sum_i F_i: the capability and the
builder ``FiniteSumOperator`` (components as callables, a resolvent of G, the constants of the
assumptions, the sampling law Q and the oracle counters). Instances live next door: ``games``,
``quadratic`` and ``logistic``; the user guide is ``docs/monotone.md``."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import cast

import numpy as np

from ..base import Capability, Problem
from ..resolvents import Resolvent, Zero
from ..validation import as_int, as_real, as_vector

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
        components: Sequence[Callable[[np.ndarray], np.ndarray]]
        | Callable[[np.ndarray, np.ndarray], np.ndarray]
        | None = None,
        *,
        dim: int | None = None,
        n: int | None = None,
        resolvent: Resolvent | None = None,
        lipschitz: float | None = None,
        mean_lipschitz: float | None = None,
        cocoercive_constant: float | None = None,
        sampling: np.ndarray | None = None,
        x0: np.ndarray | None = None,
        check_monotone: int = 0,
        seed: int | np.random.Generator = 0,
        name: str = "finite-sum-operator",
    ) -> None:
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

    def _weighted_diff(self, idx: np.ndarray, weights: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """sum_j weights[j] (F_{idx[j]}(x) - F_{idx[j]}(y)) (linear operators override)."""
        return self._weighted_sum(idx, weights, x) - self._weighted_sum(idx, weights, y)

    def _full(self, x: np.ndarray) -> np.ndarray:
        """F(x) = (1/n) sum_i F_i(x)."""
        return self._weighted_sum(np.arange(self.n), np.full(self.n, 1.0 / self.n), x)

    def _call_component(self, i: int, x: np.ndarray) -> np.ndarray:
        assert self._funcs is not None  # called only when components were given as a sequence
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

    def operator(self, x: np.ndarray) -> np.ndarray:
        """F(x) (cost n)."""
        self.counts.add("component", self.n)
        return self._full(x)

    def weights(self, idx: np.ndarray) -> np.ndarray:
        """Weights 1/(len(idx) n q_i) that make ``weights @ F_idx`` the mean of F_Q,i over idx."""
        if self.sampling is None:
            return np.full(idx.size, 1.0 / idx.size)
        return 1.0 / (idx.size * self.n * self.sampling[idx])

    def component(self, idx: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Mean over i in ``idx`` of F_Q,i(x) = F_i(x)/(n q_i) (cost len(idx))."""
        idx = np.atleast_1d(idx)
        self.counts.add("component", idx.size)
        return self._weighted_sum(idx, self.weights(idx), x)

    def component_diff(self, idx: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
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
            cdf = np.cumsum(cast(np.ndarray, self.sampling))  # called only with a non-uniform sampling
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

    def resolvent(self, x: np.ndarray, step: float) -> np.ndarray:
        """J_{step G}(x) (free)."""
        return self._resolvent(x, step)

    @property
    def resolvent_is_identity(self) -> bool:
        return self._resolvent.is_identity

    def optimality(self, x: np.ndarray) -> float:
        """Natural residual ||x - J_G(x - F(x))|| (step 1, undivided, as in the official plots)."""
        with self.counts.paused():
            return float(np.linalg.norm(x - self.resolvent(x - self._full(x), 1.0)))

    def operator_residual(self, x: np.ndarray, u: np.ndarray, step: float) -> float:
        """||F(x) + (u - x)/step|| for x = J_{step G}(u): an upper bound on dist(0, F(x) + G(x))."""
        with self.counts.paused():
            return float(np.linalg.norm(self._full(x) + (u - x) / step))

    def monotonicity_violation(
        self, samples: int = 20, seed: int | np.random.Generator = 0, scale: float = 1.0
    ) -> float:
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


def _optional_positive(value: float | None, name: str) -> float | None:
    return None if value is None else as_real(value, name, low=0.0, low_open=True)


# ---------------------------------------------------------------------- named builders (catalog)
