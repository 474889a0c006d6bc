"""The online learners for omega (``docs/sor.md``): each exposes ``predict(context=None) -> omega`` and
``update(cost)``, called alternately (``predict`` exactly once before each ``update``).

* ``TsallisINFPolicy``: 1/2-Tsallis-entropy FTRL with importance-weighted loss estimates
  (Zimmert & Seldin, "Tsallis-INF: an optimal algorithm for stochastic and adversarial bandits",
  JMLR 2021, Alg. 1 with the anytime rate ``eta_t = 2/sqrt(t)``), with the loss shift and running
  scale of the official final code (Khodak et al. 2024, commit 973a880).
* ``BinnedTsallisINFPolicy``: one Tsallis-INF per bin of a discretised context (Tsallis-INF-CB).
* ``ChebCBPolicy``: SquareCB inverse-gap weighting (Foster & Rakhlin, "Beyond UCB", ICML 2020) with
  one box-constrained Chebyshev least-squares regressor of cost on context per arm (the paper's
  ChebCB, final code).
* ``FixedPolicy``: always the same omega (omega = 1 is Gauss-Seidel).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import lsq_linear

from problems.validation import as_choice, as_int, as_interval, as_vector


def as_grid(grid, name="grid") -> np.ndarray:
    """A 1-D array of distinct omegas in (0, 2)."""
    g = as_vector(grid, name)
    if g.size == 0 or np.any(g <= 0) or np.any(g >= 2):
        raise ValueError(f"{name} must hold omegas in the open interval (0, 2), got {g}")
    if np.unique(g).size != g.size:
        raise ValueError(f"{name} must not repeat an omega")
    return g


def _sample(rng: np.random.Generator, p: np.ndarray) -> int:
    """Index drawn with probabilities ``p`` (normalised here, so p need only be >= 0)."""
    c = np.cumsum(p)
    return int(min(np.searchsorted(c, rng.random() * c[-1], side="right"), p.size - 1))


class FixedPolicy:
    """Always ``omega``."""

    def __init__(self, omega: float):
        self.omega = float(omega)

    def predict(self, context=None) -> float:
        return self.omega

    def update(self, cost) -> None:
        pass


class TsallisINFPolicy:
    """Tsallis-INF over a grid of omegas (official final code "final", arXiv v1 "v1").

    final (default): ``eta_t = 2/sqrt(t)``; weights ``w_i = 4 / (eta (Lhat_i/s - x))^2`` with the
    normaliser x (``sum_i w_i = 1``) found by Newton ``x <- x - (sum w - 1) / (eta sum w^{3/2})``;
    ``i_t ~ w``; after the cost: ``s = mean(costs) - 1`` (1 if that is <= 0) and
    ``Lhat_{i_t} += (cost - 1) / p_t``.
    ``newton_init="safe"`` (default) starts at ``x = min_i Lhat_i/s - 2/eta`` (right of the root:
    Newton then decreases monotonically onto it; iterate until the step is < 1e-12, at most 50) and
    uses the normalised probability as ``p_t``; ``"code"`` reproduces the official start ``x = -1``
    with exactly 20 steps, sampling from the normalised weights of the 20th step while keeping the
    UN-normalised ``w_{i_t}`` as ``p_t`` (as the official code does; it can land on a spurious branch).
    v1: fixed ``eta = 1/sqrt(horizon)`` (``2/sqrt(t)`` without a horizon), no scale, loss
    ``(cost - 1)/100``. Non-finite weights fall back to uniform sampling with ``p_t = 1/d``.
    """

    def __init__(self, grid, rng: np.random.Generator, variant="final", newton_init="safe", horizon=None):
        self.grid = as_grid(grid)
        self.rng = rng
        self.variant = as_choice(variant, "variant", ("final", "v1"))
        self.newton_init = as_choice(newton_init, "newton_init", ("safe", "code"))
        self.horizon = None if horizon is None else as_int(horizon, "horizon", low=1)
        d = self.grid.size
        self.t = 1
        self.Lhat = np.zeros(d)
        self.scale = 1.0
        self.cost_sum, self.n_costs = 0.0, 0
        self.arm: int | None = None
        self.p_arm: float | None = None
        self.probabilities = np.full(d, 1.0 / d)
        self.normaliser_sum = 1.0  # sum of the weights used in the last round (1 in safe mode)

    def learning_rate(self) -> float:
        if self.variant == "v1" and self.horizon is not None:
            return 1.0 / math.sqrt(self.horizon)
        return 2.0 / math.sqrt(self.t)

    def weights(self, eta: float) -> np.ndarray:
        """The unnormalised Tsallis-INF weights of this round (Newton on the normaliser)."""
        L = self.Lhat / self.scale
        if self.newton_init == "code":
            x = -1.0
            for _ in range(20):
                w = 4.0 / (eta * (L - x)) ** 2
                x -= (w.sum() - 1.0) / (eta * (w**1.5).sum())
            return w
        x = L.min() - 2.0 / eta
        for _ in range(50):
            w = 4.0 / (eta * (L - x)) ** 2
            step = (w.sum() - 1.0) / (eta * (w**1.5).sum())
            x -= step
            if abs(step) < 1e-12:
                break
        return 4.0 / (eta * (L - x)) ** 2

    def predict(self, context=None) -> float:
        d = self.grid.size
        w = self.weights(self.learning_rate())
        total = w.sum()
        if not (np.all(np.isfinite(w)) and total > 0):
            self.probabilities = np.full(d, 1.0 / d)
            self.arm = _sample(self.rng, self.probabilities)
            self.p_arm, self.normaliser_sum = 1.0 / d, math.nan
            return float(self.grid[self.arm])
        self.probabilities = w / total
        self.normaliser_sum = float(total)
        self.arm = _sample(self.rng, self.probabilities)
        self.p_arm = float(w[self.arm] if self.newton_init == "code" else self.probabilities[self.arm])
        return float(self.grid[self.arm])

    def update(self, cost) -> None:
        if self.arm is None or self.p_arm is None:
            raise RuntimeError("call predict() before update()")
        cost = float(cost)
        if self.variant == "v1":
            loss = (cost - 1.0) / 100.0
        else:
            self.cost_sum += cost
            self.n_costs += 1
            s = self.cost_sum / self.n_costs - 1.0
            self.scale = s if s > 0 else 1.0
            loss = cost - 1.0
        self.Lhat[self.arm] += loss / self.p_arm
        self.t += 1
        self.arm = None


class BinnedTsallisINFPolicy:
    """Tsallis-INF-CB (Khodak et al. 2024, Sec. 3): ``bins`` centres ``z_k = a + (b - a)(k - 1/2)/bins`` on the
    context interval ``[a, b]``; each context goes to the nearest centre (first on ties), each bin
    runs its own Tsallis-INF."""

    def __init__(self, grid, rng, interval, bins=5, **tsallis_options):
        a, b = as_interval(interval, "interval")
        self.bins = as_int(bins, "bins", low=1)
        self.centres = a + (b - a) * (np.arange(1, self.bins + 1) - 0.5) / self.bins
        self.learners = [TsallisINFPolicy(grid, rng, **tsallis_options) for _ in range(self.bins)]
        self.grid = self.learners[0].grid
        self.current = None

    def predict(self, context=None) -> float:
        if context is None:
            raise ValueError("Tsallis-INF-CB needs a context for every instance")
        self.current = int(np.argmin(np.abs(self.centres - float(context))))
        return self.learners[self.current].predict()

    def update(self, cost) -> None:
        if self.current is None:
            raise RuntimeError("call predict() before update()")
        self.learners[self.current].update(cost)
        self.current = None


def chebyshev_features(z: float, m: int) -> np.ndarray:
    """``(T_0(z), ..., T_{m-1}(z))`` by the three-term recurrence (no clipping of z)."""
    out = np.empty(m)
    out[0] = 1.0
    if m > 1:
        out[1] = z
    for j in range(2, m):
        out[j] = 2.0 * z * out[j - 1] - out[j - 2]
    return out


def box_lstsq(F: np.ndarray, y: np.ndarray, bound: np.ndarray):
    """argmin ||F theta - y||^2 subject to |theta_k| <= bound_k (BVLS on the R factor of F, which has
    the same minimiser); returns (theta, squared residual norm). Coordinates with bound 0 are 0."""
    theta = np.zeros(F.shape[1])
    free = bound > 0
    if free.any():
        G = F[:, free]
        if G.shape[0] > G.shape[1]:
            Q, R = np.linalg.qr(G)
            A_red, y_red = R, Q.T @ y
        else:
            A_red, y_red = G, y
        theta[free] = lsq_linear(A_red, y_red, bounds=(-bound[free], bound[free]), method="bvls").x
    r = F @ theta - y
    return theta, float(r @ r)


class ChebCBPolicy:
    """ChebCB (official final code; Khodak et al. 2024, Sec. 3): inverse-gap weighting over per-arm
    Chebyshev regressions.

    predict(c): features ``f = (T_0(z), ..., T_{m-1}(z))`` at ``z = 2 (c - a)/(b - a) - 1``;
    ``yhat = theta f``; ``p_j = 1/(d + eta (yhat_j - yhat_min))`` off the greedy arm, the rest on it.
    update(cost): ``K = max ell``, ``Lc = (max ell - min ell)/(b - a)`` (``lipschitz_from=
    "preallocated"``: over the zero-initialised length-``horizon`` array, as the code; ``"observed"``:
    over the costs seen), ``N = 2 + 4 (b - a) Lc/K (1 + ln m)``, ``scale = K N`` (every arm refit
    when it changes, else only the pulled arm); each refit is the min-norm least-squares fit of
    ``(ell - 1)/scale`` on the arm's rows, replaced by the box-constrained fit when it leaves
    ``|theta_0| <= 1/N``, ``|theta_k| <= 2 (b - a) Lc/(scale k)``; then
    ``alpha = (pi + (2/pi) ln(2m + 1)) (b - a) Lc / (2 scale (m + 1))``,
    ``R = sum_s (pred_s - ell_s/(K N))^2`` and ``eta = 2 t sqrt(d t / (R - resnorm + 2 alpha^2 t))``
    (kept unchanged when the radicand is not positive and finite, a guard the code lacks).
    """

    def __init__(self, grid, rng, horizon, interval, m=6, lipschitz_from="preallocated"):
        self.grid = as_grid(grid)
        self.rng = rng
        self.T = as_int(horizon, "horizon", low=1)
        a, b = as_interval(interval, "interval")
        self.a, self.b = a, b
        self.m = as_int(m, "m", low=1)
        self.lipschitz_from = as_choice(lipschitz_from, "lipschitz_from", ("preallocated", "observed"))
        d = self.grid.size
        self.theta = np.zeros((d, self.m))
        self.F = np.zeros((self.T, self.m))
        self.ell = np.zeros(self.T)
        self.actions = np.full(self.T, -1)
        self.pred = np.zeros(self.T)
        self.eta, self.scale, self.t = 0.0, 0.0, 0
        self.probabilities = np.full(d, 1.0 / d)

    def predict(self, context=None) -> float:
        if context is None:
            raise ValueError("ChebCB needs a context for every instance")
        if self.t >= self.T:
            raise RuntimeError(f"ChebCB was built for horizon={self.T} instances")
        z = 2.0 * (float(context) - self.a) / (self.b - self.a) - 1.0
        f = chebyshev_features(z, self.m)
        self.F[self.t] = f
        yhat = self.theta @ f
        best = int(np.argmin(yhat))
        d = self.grid.size
        p = 1.0 / (d + self.eta * (yhat - yhat[best]))
        p[best] = 0.0
        p[best] = 1.0 - p.sum()
        self.probabilities = p
        arm = _sample(self.rng, p)
        self.actions[self.t] = arm
        self.pred[self.t] = self.theta[arm] @ f
        return float(self.grid[arm])

    def update(self, cost) -> None:
        t, m = self.t, self.m
        if t >= self.T or self.actions[t] < 0:  # else arm -1 (the last) would be refit silently
            raise RuntimeError("call predict() before update()")
        self.ell[t] = float(cost)
        seen = self.ell if self.lipschitz_from == "preallocated" else self.ell[: t + 1]
        K = seen.max()
        width = self.b - self.a
        if not K > 0:  # every cost so far is 0: nothing to learn from yet
            self.t += 1
            return
        Lc = (seen.max() - seen.min()) / width
        N = 2.0 + 4.0 * width * Lc / K * (1.0 + math.log(m))
        refit_all = self.scale != K * N
        self.scale = K * N
        ub = np.empty(m)
        ub[0] = 1.0 / N
        ub[1:] = 2.0 * width * Lc / self.scale / np.arange(1, m)
        resnorm = 0.0
        acts = self.actions[: t + 1]
        arms = range(self.grid.size) if refit_all else (int(acts[t]),)
        for j in arms:
            rows = np.flatnonzero(acts == j)
            if rows.size == 0:
                continue
            Fj, y = self.F[rows], (self.ell[rows] - 1.0) / self.scale
            theta = np.linalg.lstsq(Fj, y, rcond=None)[0]
            if np.any(np.abs(theta) > ub):
                theta, resnorm = box_lstsq(Fj, y, ub)
            self.theta[j] = theta
        alpha = (math.pi + (2.0 / math.pi) * math.log(2 * m + 1)) / (2.0 * self.scale * (m + 1)) * width * Lc
        n = t + 1
        resid = self.pred[:n] - self.ell[:n] / (K * N)
        R = float(resid @ resid)
        radicand = self.grid.size * n / (R - resnorm + 2.0 * alpha * alpha * n)
        if math.isfinite(radicand) and radicand > 0:
            self.eta = 2.0 * n * math.sqrt(radicand)
        self.t += 1


def golden_section_omega(cost, starts=(1.0, 1.3, 1.5, 1.75, 1.95), evaluations=12) -> float:
    """The heat experiment's per-instance search of the official code: evaluate ``starts``, bracket the
    best by its neighbours, golden-section search inside the bracket until ``evaluations`` solves in
    all, return the midpoint of the smallest and largest omega with the minimum count."""
    seen = {w: cost(w) for w in starts}
    order = sorted(seen)
    i = min(range(len(order)), key=lambda k: (seen[order[k]], k))
    lo, hi = order[max(i - 1, 0)], order[min(i + 1, len(order) - 1)]
    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    c, d = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    while True:
        for w in (c, d):
            if w not in seen and len(seen) < evaluations:
                seen[w] = cost(w)
        if c not in seen or d not in seen:
            break
        if seen[c] <= seen[d]:
            hi, d = d, c
            c = hi - ratio * (hi - lo)
        else:
            lo, c = c, d
            d = lo + ratio * (hi - lo)
    best = min(seen.values())
    winners = [w for w, k in seen.items() if k == best]
    return 0.5 * (min(winners) + max(winners))
