"""BSVRB (Hu, Qiu, Guo, Zhang and Yang, "Blockwise Stochastic Variance-Reduced Methods with Parallel
Speedup for Multi-Block Bilevel Optimization", ICML 2023), versions 1 and 2, and two ablations.

Per iteration t: sample I blocks J_t and, per block, a lower batch and an upper batch. For i in J_t the
MSVR estimators (Jiang et al., NeurIPS 2022) move as

    e_i <- (1 - alpha) e_i + (alpha + gamma) Q_i(x_t, y_i,t) - gamma Q_i(x_t-1, y_i,t-1)

(the same batch at the current and the previous point): u_i tracks grad_y g_i; version 1 tracks
H_i ~ grad^2_yy g_i (then projected), version 2 tracks s_i ~ grad^2_yy g_i v_i - grad_y f_i. With
Phi_i = grad_x f_i - grad^2_xy g_i q_i (q_i = H_i^{-1} grad_y f_i in v1, q_i = v_i in v2) the upper
direction is the STORM estimator z_t = (1 - beta)(z_t-1 - mean Phi_old) + mean Phi_new (z_0 = mean
Phi_new), x_t+1 = x_t - eta z_t, y_i <- y_i - tau u_i and, in v2, v_i <- Pi_R(v_i - tau_v s_i).
"""

from __future__ import annotations

import numpy as np

from problems.validation import as_choice, as_real

from ..base import State
from .common import BilevelSolver
from .upper_optim import UpperOptimizer, check_upper_optimizer, parameter_shapes

CODE_FAITHFUL = {
    1: dict(upper_step=1e-3, lower_step=0.5, alpha=0.9, gamma=1.0, beta=0.9, projection="frobenius", hessian_bound=10.0,
            hessian_lag=1, init="code", lower_update="all", sampling="epochs", batch_size=32, blocks_per_iter=10,
            legacy_rng=True),
    2: dict(upper_step=1e-3, lower_step=1.0, alpha=0.9, gamma=1.0, beta=0.9, radius=10.0, init="code",
            lower_update="lazy", sampling="epochs", batch_size=32, blocks_per_iter=10, legacy_rng=True),
}  # fmt: skip


def code_faithful_options(version: int) -> dict:
    """The options of the official hyper-parameter-optimisation scripts (m = 100, I = 10, B = 32), with the
    official random stream: ``seed=s`` here draws what ``np.random.seed(s)`` draws there."""
    return dict(CODE_FAITHFUL[int(as_choice(version, "version", (1, 2)))])


def project_hessians(H, mode: str, floor: float, cap: float, bound: float, blocks=None) -> np.ndarray:
    """The v1 safeguard on a stack of tracked Hessians (I, d, d).

    "eig": symmetrise and clip the eigenvalues into [floor, cap] (skipped when a Cholesky factor of
    H - (1 - 1e-9) floor I exists and cap is infinite); "frobenius": the official code's floor H <- bound H / ||H||_F
    when ||H||_F < bound; "none": symmetrise and require positive definiteness.
    """
    if mode == "frobenius":
        norms = np.linalg.norm(H, axis=(1, 2))
        low = norms < bound
        if not low.any():
            return H  # nothing to floor: H itself
        scale = np.where(low, bound / np.maximum(norms, 1e-300), 1.0)
        return H * scale[:, None, None]
    S = 0.5 * (H + H.transpose(0, 2, 1))
    eye = np.eye(S.shape[1])
    if mode == "none":
        try:
            np.linalg.cholesky(S)
        except np.linalg.LinAlgError:
            bad = [int(b) for b, h in zip(blocks if blocks is not None else range(len(S)), S, strict=True)
                   if np.linalg.eigvalsh(h)[0] <= 0]  # fmt: skip
            raise ValueError(
                f"the tracked lower Hessian of block(s) {bad} is not positive definite; "
                "use projection='eig' (or 'frobenius')"
            ) from None
        return S
    if np.isinf(cap):
        try:
            np.linalg.cholesky(S - (1.0 - 1e-9) * floor * eye)
            return S
        except np.linalg.LinAlgError:
            pass
    lam, Q = np.linalg.eigh(S)
    return np.matmul(Q * np.clip(lam, floor, cap)[:, None, :], Q.transpose(0, 2, 1))


class BSVRB(BilevelSolver):
    """BSVRB v1/v2 (module docstring). Options beyond ``BilevelSolver``'s:

    - ``version``: 1 (tracked Hessians, solve with H_i) or 2 (tracked Hessian-vector products, no inverse)
    - ``alpha``, ``gamma``: MSVR weights (``gamma="theory"``: (m - I)/(I (1 - alpha)) + (1 - alpha));
      ``beta``: STORM weight
    - ``v_step``: tau_v of v2 (default tau); ``radius``: R of the ball Pi_R of v2
    - ``lower_update``: "all" (every y_i steps on its stored u_i, the official v1 code), "sampled" (only
      the sampled blocks) or "lazy" (a sampled block steps (k_i + 1) tau after k_i skipped iterations,
      the official v2 code)
    - ``hessian_lag``: 0 (Phi_new uses H_t, Phi_old H_t-1) or 1 (the official code: H_t-1 and H_t-2)
    - ``projection``: v1 safeguard "eig" (eigenvalues clipped into [hessian_floor, hessian_cap], default
      floor mu_g), "frobenius" (the official floor with ``hessian_bound``) or "none"
    - ``init``: "minibatch" (``x_-1 = x_0``, estimators from one batch per block, v = 0), "zeros" or
      "code" (the official code: every variable and estimator i.i.d. U[0, 1), z too, drawn in the official
      order ``x_-1, y_-1, v_-1, H_-1, x_0, y_0, v_0, u, s, H_0, z``)
    - ``legacy_rng``: draw everything from ``numpy.random.RandomState(seed)`` in the official script's call
      order (needs an int ``seed``, ``init="code"`` and ``sampling="epochs"``), so that seed s reproduces the
      official run started with ``np.random.seed(s)`` draw for draw
    - ``upper_optimizer``: None (x <- x - eta z), "adam", "sgd" or a factory ``params -> torch.optim.Optimizer``:
      a torch optimizer steps the model's parameters with z as their gradient (problems declaring
      ``parameter_shapes`` only, e.g. ``TopKNDCG``); ``upper_optimizer_options``: keyword arguments of
      ``torch.optim.Adam``/``SGD`` (``lr`` defaults to ``upper_step``)
    - ``upper_correction``: None (STORM) or c >= 0: z_t = mean Phi_new - c mean Phi_old, the direction the
      released top-K NDCG script hands to Adam (c = 0.01 there)
    """

    name = "bsvrb-v2"
    default_version = 2

    def __init__(
        self,
        *,
        version=None,
        alpha=0.9,
        gamma=1.0,
        beta=0.5,
        v_step=None,
        radius=10.0,
        lower_update="sampled",
        hessian_lag=0,
        projection="eig",
        hessian_floor=None,
        hessian_cap=None,
        hessian_bound=10.0,
        init="minibatch",
        moving_average=False,
        legacy_rng=False,
        upper_optimizer=None,
        upper_optimizer_options=None,
        upper_correction=None,
        **options,
    ):
        super().__init__(**options)
        self.version = as_choice(self.default_version if version is None else version, "version", (1, 2))
        self.alpha = as_real(alpha, "alpha", low=0.0, high=1.0, low_open=True)
        self.gamma = "theory" if gamma == "theory" else as_real(gamma, "gamma", low=0.0)
        if self.gamma == "theory" and self.alpha == 1.0:
            raise ValueError('gamma="theory" needs alpha < 1')
        self.beta = as_real(beta, "beta", low=0.0, high=1.0, low_open=True)
        self.v_step = None if v_step is None else as_real(v_step, "v_step", low=0.0, low_open=True)
        self.radius = as_real(radius, "radius", low=0.0, low_open=True)
        self.lower_update = as_choice(lower_update, "lower_update", ("all", "sampled", "lazy"))
        self.hessian_lag = as_choice(hessian_lag, "hessian_lag", (0, 1))
        self.projection = as_choice(projection, "projection", ("eig", "frobenius", "none"))
        self.hessian_floor = None if hessian_floor is None else as_real(hessian_floor, "hessian_floor", low=0.0)
        self.hessian_cap = np.inf if hessian_cap is None else as_real(hessian_cap, "hessian_cap", low=0.0)
        self.hessian_bound = as_real(hessian_bound, "hessian_bound", low=0.0, low_open=True)
        self.init_mode = as_choice(init, "init", ("minibatch", "zeros", "code"))
        self.moving_average = bool(moving_average)
        self.upper_optimizer, self.upper_optimizer_options = check_upper_optimizer(
            upper_optimizer, upper_optimizer_options
        )
        self.upper_correction = (
            None if upper_correction is None else as_real(upper_correction, "upper_correction", low=0.0)
        )
        if self.upper_correction is not None and self.moving_average:
            raise ValueError("upper_correction replaces the upper estimator; bsvrb-ma fixes a moving average")
        self.legacy_rng = bool(legacy_rng)
        if self.legacy_rng:
            if isinstance(self.seed, np.random.Generator):
                raise ValueError("legacy_rng=True needs an int seed (the argument of np.random.seed) or None")
            if self.init_mode != "code" or self.sampling != "epochs":
                raise ValueError('legacy_rng=True needs init="code" and sampling="epochs" (the official run)')

    def setup(self, problem) -> State:
        """``BilevelSolver.setup``; under ``legacy_rng`` the random source is ``RandomState(seed)``."""
        st = super().setup(problem)
        if self.legacy_rng:
            st.rng = np.random.RandomState(None if self.seed is None else int(self.seed))
        return st

    # ------------------------------------------------------------------ helpers
    def _project(self, st, H, blocks):
        return project_hessians(H, self.projection, st.floor, self.hessian_cap, self.hessian_bound, blocks)

    def _solve(self, H, rhs):
        return np.linalg.solve(H, rhs[..., None])[..., 0]

    def _solve_lagged(self, H_1, H_2, gf_new, gf_old, same):
        """H_1^{-1} gf_new and H_2^{-1} gf_old, with one two-column solve where H_1 = H_2 (``same``);
        ``H_2`` holds H_t-2 on the other blocks only."""
        if same.all():
            q = np.linalg.solve(H_1, np.stack([gf_new, gf_old], axis=2))
            return q[..., 0], q[..., 1]
        q_new, q_old = np.empty_like(gf_new), np.empty_like(gf_old)
        if same.any():
            q = np.linalg.solve(H_1[same], np.stack([gf_new[same], gf_old[same]], axis=2))
            q_new[same], q_old[same] = q[..., 0], q[..., 1]
        diff = ~same
        if diff.any():
            k = int(diff.sum())
            q = self._solve(np.concatenate([H_1[diff], H_2]), np.concatenate([gf_new[diff], gf_old[diff]]))
            q_new[diff], q_old[diff] = q[:k], q[k:]
        return q_new, q_old

    def init(self, problem, x0=None) -> State:
        st = self.setup(problem)
        st.x, st.Y = self.start(problem, x0)
        st.upper_opt = None
        if self.upper_optimizer is not None:
            shapes, opts = parameter_shapes(problem), self.upper_optimizer_options
            st.upper_opt = UpperOptimizer(self.upper_optimizer, opts, self.upper_step, shapes, st.x)
        m, d = problem.m, problem.dim_y
        st.gamma = (m - st.I) / (st.I * (1 - self.alpha)) + (1 - self.alpha) if self.gamma == "theory" else self.gamma
        st.floor = problem.mu_g if self.hessian_floor is None else self.hessian_floor
        st.tau_v = st.tau if self.v_step is None else self.v_step
        st.k = np.zeros(m, dtype=int)
        st.last = None
        st.touched = None  # rows the last lower update changed (None: Y_prev may differ anywhere)
        st.z = None
        if self.init_mode == "code":
            self._code_init(problem, st, x0)
            return st
        st.x_prev, st.Y_prev = st.x.copy(), st.Y.copy()
        if self.version == 2:
            st.V, st.V_prev = np.zeros((m, d)), np.zeros((m, d))
        if self.init_mode == "zeros":
            st.U = np.zeros((m, d))
            if self.version == 1:
                st.H = self._project(st, np.zeros((m, d, d)), np.arange(m))
            else:
                st.S = np.zeros((m, d))
        else:
            allb = np.arange(m)
            bg, bf = problem.sample_lower(allb, st.B, st.rng), problem.sample_upper(allb, st.Bf, st.rng)
            st.U = problem.grad_y_g(allb, st.x, st.Y, bg)
            if self.version == 1:
                st.H = self._project(st, problem.hess_yy_g(allb, st.x, st.Y, bg), allb)
            else:
                st.S = problem.hvp_yy_g(allb, st.x, st.Y, st.V, bg) - problem.grad_y_f(allb, st.x, st.Y, bf)
        if self.version == 1:
            st.H_prev = st.H.copy()
        return st

    def _code_init(self, problem, st, x0) -> None:
        """The official initialisation: every variable and estimator i.i.d. U[0, 1), drawn in the official
        order (the official script draws v and the Hessians for both versions; the stream follows it where
        ``legacy_rng`` asks for it, otherwise only what this version uses is drawn)."""
        r, (m, d) = st.rng.random, (problem.m, problem.dim_y)
        v1, full = self.version == 1, self.legacy_rng
        st.x_prev, st.Y_prev = r(problem.dim_x), r((m, d))
        V_prev = r((m, d)) if full or not v1 else None
        H_prev = r((m, d, d)) if full or v1 else None
        x, st.Y = r(problem.dim_x), r((m, d))
        st.x = x if x0 is None else st.x
        V = r((m, d)) if full or not v1 else None
        st.U = r((m, d))
        S = r((m, d)) if full or not v1 else None
        H = r((m, d, d)) if full or v1 else None
        st.z = r(problem.dim_x)
        if v1:
            st.H_prev, st.H = H_prev, H
        else:
            st.V_prev, st.V, st.S = V_prev, V, S

    def step(self, problem, st: State) -> State:
        J, bg, bf = self.sample(problem, st)
        J, bg, bf, rows = self.local_blocks(st, J, bg, bf)
        phi_new, phi_old = self.block_directions(problem, st, J, bg, bf, rows)
        g_new, g_old = self.reduce_sums(st, phi_new.sum(axis=0), phi_old.sum(axis=0))
        self.upper_update(st, g_new / st.I, g_old / st.I)
        self.lower_update_(st, rows)
        st.t += 1
        return st

    def local_blocks(self, st, J, bg, bf):
        """The sampled blocks this process handles and their rows in the state (all of them here)."""
        return J, bg, bf, J

    def reduce_sums(self, st, g_new, g_old):
        """Sum of the per-process sums of Phi_new and Phi_old (one process: nothing to add)."""
        return g_new, g_old

    def block_directions(self, problem, st, J, bg, bf, rows=None):
        """Refresh the estimators of the blocks J (state rows ``rows``); return Phi_new and Phi_old,
        each of shape ``(len(J), dim_x)``."""
        a, g = self.alpha, st.gamma
        if rows is None:
            rows = J
        x, xp, Yj, Ypj = st.x, st.x_prev, st.Y[rows], st.Y_prev[rows]
        gy_new, gy_old = problem.grad_y_g(J, x, Yj, bg), problem.grad_y_g(J, xp, Ypj, bg)
        st.U[rows] = (1 - a) * st.U[rows] + (a + g) * gy_new - g * gy_old
        gf_new, gf_old = problem.grad_y_f(J, x, Yj, bf), problem.grad_y_f(J, xp, Ypj, bf)
        if self.version == 1:
            H_1 = st.H[rows]  # H_t-1 on J; H_t-2 (gathered below where it differs) is read before H_prev moves
            # H_t-2 = H_t-1 for a block not refreshed at t-1: one factorisation serves both solves
            if st.last is None:
                same = np.zeros(len(rows), bool)
                H_2 = st.H_prev[rows]
                st.H_prev = st.H.copy()
            else:
                same = ~np.isin(rows, st.last)
                H_2 = st.H_prev[rows[~same]] if self.hessian_lag == 1 and not same.all() else None
                st.H_prev[st.last] = st.H[st.last]
            pair = getattr(problem, "hess_yy_g_pair", None)  # fused where the problem has it
            if pair is not None:
                Hn = pair(J, x, Yj, xp, Ypj, a + g, -g, bg)
            else:
                Hn = (a + g) * problem.hess_yy_g(J, x, Yj, bg) - g * problem.hess_yy_g(J, xp, Ypj, bg)
            Hn += (1 - a) * H_1
            Hn = self._project(st, Hn, J)
            st.H[rows] = Hn
            if self.hessian_lag == 0:
                q = self._solve(np.concatenate([Hn, H_1]), np.concatenate([gf_new, gf_old]))
                q_new, q_old = q[: len(J)], q[len(J) :]
            else:
                q_new, q_old = self._solve_lagged(H_1, H_2, gf_new, gf_old, same)
        else:
            q_new, q_old = st.V[rows], st.V_prev[rows]
            s_new = problem.hvp_yy_g(J, x, Yj, q_new, bg) - gf_new
            s_old = problem.hvp_yy_g(J, xp, Ypj, q_old, bg) - gf_old
            st.S[rows] = (1 - a) * st.S[rows] + (a + g) * s_new - g * s_old
        phi_new = problem.grad_x_f(J, x, Yj, bf) - problem.jvp_xy_g(J, x, Yj, q_new, bg)
        phi_old = problem.grad_x_f(J, xp, Ypj, bf) - problem.jvp_xy_g(J, xp, Ypj, q_old, bg)
        st.last = rows
        return phi_new, phi_old

    def upper_update(self, st, g_new, g_old) -> None:
        """z by STORM (or a moving average), then x_t+1 = x_t - eta z_t."""
        b = self.beta
        if st.z is None:
            st.z = g_new.copy()
        elif self.upper_correction is not None:
            st.z = g_new - self.upper_correction * g_old
        elif self.moving_average:
            st.z = (1 - b) * st.z + b * g_new
        else:
            st.z = (1 - b) * (st.z - g_old) + g_new
        st.x_prev = st.x
        if st.upper_opt is None:
            st.x = st.x - self.upper_step * st.z
        else:  # a torch optimizer on the model's tensors, z as their gradient
            st.x = st.upper_opt.step(st.x, st.z)

    def lower_update_(self, st, J) -> None:
        """y_i (and v_i) steps; ``Y_prev``/``V_prev`` become the values before this step. Only the rows
        changed by the last step or about to change are copied, so a "sampled"/"lazy" step is O(I d)."""
        if self.lower_update == "all" or st.touched is None:
            sync: slice | np.ndarray = slice(None)
        else:
            sync = np.union1d(st.touched, J)
        st.Y_prev[sync] = st.Y[sync]
        if self.version == 2:
            st.V_prev[sync] = st.V[sync]
        st.touched = np.asarray(J)
        if self.lower_update == "all":
            idx, mult = slice(None), st.tau
        elif self.lower_update == "sampled":
            idx, mult = J, st.tau
        else:
            st.k += 1
            idx, mult = J, st.tau * st.k[J][:, None]
            st.k[J] = 0
        st.Y[idx] -= mult * st.U[idx]
        if self.version == 2:
            Vn = st.V[idx] - (mult / st.tau) * st.tau_v * st.S[idx]
            norms = np.linalg.norm(Vn, axis=1, keepdims=True)
            st.V[idx] = Vn * np.minimum(1.0, self.radius / np.maximum(norms, 1e-300))


class BSVRBv1(BSVRB):
    """BSVRB version 1: tracked Hessian matrices, one d_y x d_y solve per sampled block."""

    name = "bsvrb-v1"
    default_version = 1


class BSVRBv2(BSVRB):
    """BSVRB version 2: tracked Hessian-vector products; no inverse of any Hessian."""

    name = "bsvrb-v2"
    default_version = 2


class BSGD(BSVRB):
    """No-variance-reduction ablation: plain minibatch estimators (alpha = 1, gamma = 0, beta = 1)."""

    name = "bsgd"

    def __init__(self, **options):
        for key in ("alpha", "gamma", "beta"):
            if key in options:
                raise ValueError(f"bsgd fixes {key}; use bsvrb-v1/bsvrb-v2 to set it")
        super().__init__(alpha=1.0, gamma=0.0, beta=1.0, **options)


class BSVRBMovingAverage(BSVRB):
    """Moving-average ablation: gamma = 0 in every MSVR estimator and z = (1 - beta) z + beta mean Phi_new.
    An ablation of BSVRB, not the published BSGM method."""

    name = "bsvrb-ma"

    def __init__(self, **options):
        if "gamma" in options:
            raise ValueError("bsvrb-ma fixes gamma = 0")
        super().__init__(gamma=0.0, moving_average=True, **options)
