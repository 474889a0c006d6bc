"""Block update rules of BCD (Nutini, Laradji, Schmidt 2022, Sections 2, 5, 7). Each returns the step delta
(new x_b - old x_b); the solver applies it through the problem's ``block_step`` state hook.

U1 ``gradient``          delta = -g_b / L_b, L_b = lambda_max(M_bb)
U2 ``matrix``            delta = -H_b^{-1} g_b (Cholesky; least squares if H_b is singular)
U3 ``lipschitz_search``  backtracking estimate Lhat_b of L_b, halved then doubled until
                         f(x+) <= f(x) - ||g_b||^2 / (2 Lhat_b) up to rounding, capped at sum_b L_i
U4 ``newton_ls``         p = -(Hessian_bb)^{-1} g_b, Armijo (constant 1e-10) backtracking with quadratic
                         then cubic interpolation, new alpha clamped to [0.01, 0.5] alpha
U5 ``exact_quadratic``   delta = -Q_bb^{-1} g_b, by the O(|b|) tree solve on forest blocks
U6 ``prox_gradient``     x_b+ = prox_{g/L_b}(x_b - g_b / L_b)
U7 ``pg_nn``             x_b+ = max(0, x_b - (g_b + l1) / L_b)
U8 ``tmp_nn``            two-metric projection (Gafni and Bertsekas 1984): diagonally scaled
                         steps on the active set {x_i < 1e-4, gt_i > 0}, Newton on the rest, projected
                         line search along the projection arc (Armijo on gt^T (x(alpha) - x),
                         Bertsekas 1982); falls back to U7 if no decrease is found
U9 ``pn_nn``             exact block minimisation over z >= 0 (projected Newton's fixed point):
                         with Hessian_bb = R^T R, nnls(R, -R^{-T} q); for signed-L1 problems the
                         block Lasso is solved exactly by feature-sign search
U8/U9 on signed-L1 problems project onto the orthant of the current signs (Schmidt et al. 2007).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import scipy.linalg as sla
from scipy.optimize import nnls


def solve_spd(H: np.ndarray, g: np.ndarray) -> np.ndarray:
    """H^{-1} g by Cholesky, falling back to least squares when H is singular."""
    try:
        return sla.cho_solve(sla.cho_factor(H, lower=True, check_finite=False), g, check_finite=False)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(H, g, rcond=None)[0]


def armijo(
    trial: Any, f0: float, slope: float, c: float = 1e-10, max_trials: int = 60, directional: Any | None = None
) -> tuple[float, float]:
    """Backtracking on alpha (start 1) until trial(alpha) <= f0 + c directional(alpha), with
    directional(alpha) = alpha slope by default; a step that leaves f unchanged is only
    accepted at alpha = 1 (so underflow of c alpha slope cannot pass a null step).

    First retry by quadratic interpolation, later ones by cubic interpolation of the last two
    trials, each clamped to [0.01, 0.5] x the current alpha. Returns (alpha, value) or (0, f0)."""
    if not slope < 0:
        return 0.0, f0
    directional = directional or (lambda a: a * slope)
    alpha, f_a = 1.0, trial(1.0)
    prev = None
    for _ in range(max_trials):
        if f_a <= f0 + c * directional(alpha) and (f_a < f0 or alpha == 1.0):
            return alpha, f_a
        if prev is None:
            new = -slope * alpha * alpha / (2.0 * (f_a - f0 - alpha * slope))
        else:
            a0, f0a = prev
            r1, r0 = f_a - f0 - slope * alpha, f0a - f0 - slope * a0
            den = a0 * a0 * alpha * alpha * (alpha - a0)
            a = (a0 * a0 * r1 - alpha * alpha * r0) / den
            b = (-(a0**3) * r1 + alpha**3 * r0) / den
            disc = b * b - 3 * a * slope
            new = (-b + math.sqrt(disc)) / (3 * a) if a != 0 and disc >= 0 else 0.5 * alpha
        if not math.isfinite(new):
            new = 0.5 * alpha
        prev = (alpha, f_a)
        alpha = min(max(new, 0.01 * alpha), 0.5 * alpha)
        f_a = trial(alpha)
    return 0.0, f0


def soft_threshold(z: np.ndarray, t: Any) -> np.ndarray:
    return np.sign(z) * np.maximum(np.abs(z) - t, 0.0)


def prox_step(xb: np.ndarray, gb: np.ndarray, Lb: float, l1: float, nonnegative: bool) -> np.ndarray:
    """U6/U7: prox_{g/L_b}(x_b - g_b/L_b) - x_b for g = 0, l1 |.|, or l1 x + indicator(x >= 0)."""
    z = xb - gb / Lb
    if nonnegative:
        return np.maximum(z - l1 / Lb, 0.0) - xb
    if l1 > 0:
        return soft_threshold(z, l1 / Lb) - xb
    return z - xb


def newton_ls(bp: Any, bs: Any, b: np.ndarray, gb: np.ndarray) -> np.ndarray:
    H = bp.hessian_block(bs, b)
    p = -solve_spd(H, gb)
    f0 = bp.state_value(bs)
    alpha, _ = armijo(lambda a: bp.trial_value(bs, b, a * p), f0, float(gb @ p))
    return alpha * p


def lipschitz_search(
    bp: Any,
    bs: Any,
    b: np.ndarray,
    gb: np.ndarray,
    Lhat: np.ndarray,
    L: np.ndarray | None = None,
    decrease: float = 0.5,
) -> np.ndarray:
    """U3: backtracking estimate of L_b; returns delta and stores the estimate in ``Lhat`` (in place).

    The trial starts at ``decrease`` x max_{i in b} Lhat_i (the estimate may come down again; the
    official code only doubles) and doubles until f(x+) <= f(x) - ||g_b||^2 / (2 Lhat_b) holds up to
    rounding (a slack of 64 machine epsilons of the values compared). It never exceeds sum_{i in b} L_i,
    a valid block Lipschitz constant (Cauchy-Schwarz), for which the test holds in exact arithmetic:
    so a test lost to rounding cannot push the estimate up without bound."""
    cap = float(np.sum(L[b])) if L is not None else np.inf
    Lb = min(float(Lhat[b].max()) * decrease, cap)
    f0 = bp.state_value(bs)
    gg = float(gb @ gb)
    eps = 64 * np.finfo(float).eps
    for _ in range(200):
        delta = -gb / Lb
        target = f0 - gg / (2 * Lb)
        if bp.trial_value(bs, b, delta) <= target + eps * (abs(f0) + gg / (2 * Lb)) or Lb >= cap:
            break
        Lb = min(2.0 * Lb, cap)
    Lhat[b] = Lb
    return delta


def orthant_signs(xb: np.ndarray, gb: np.ndarray, l1: float, nonnegative: bool) -> np.ndarray:
    """The orthant a two-metric / projected-Newton step stays in: +1 for non-negative problems; for
    l1 |x|: sign(x_i), or for x_i = 0 the direction -sign(g_i) when |g_i| > l1 and 0 (stay) otherwise
    (Schmidt, Fung, Rosales, "Fast optimization methods for L1 regularization", ECML 2007)."""
    if nonnegative:
        return np.ones_like(xb)
    s = np.sign(xb)
    zero = s == 0
    s[zero] = np.where(np.abs(gb[zero]) > l1, -np.sign(gb[zero]), 0.0)
    return s


def tmp_nn(bp: Any, bs: Any, b: np.ndarray, gb: np.ndarray, Lc: np.ndarray) -> np.ndarray:
    """U8 (official code ``tmp-nn``): two-metric projection on the block, projected line search.

    gt = g_b + l1 s (s: ``orthant_signs``); coordinates within 1e-4 of the boundary that gt pushes
    onto it take the scaled gradient step -gt / sum(L_i), the others a Newton step on the true block
    Hessian; trial points are projected onto the orthant (max(0, .) for non-negative problems)."""
    l1 = bp.l1
    xb = bs.x[b]
    s = orthant_signs(xb, gb, l1, bp.nonnegative)
    gt = gb + l1 * s
    fixed = s == 0
    active = ~fixed & (np.abs(xb) < 1e-4) & (s * gt > 0)
    work = ~fixed & ~active
    p = np.zeros(len(b))
    if active.any():
        p[active] = -gt[active] / Lc[active].sum()
    if work.any():
        H = bp.hessian_block(bs, b)
        p[work] = -solve_spd(H[np.ix_(work, work)], gt[work])
    f0 = bp.state_value(bs)
    absx = float(np.abs(xb).sum())

    def step(alpha):
        z = xb + alpha * p
        return np.where(s * z > 0, z, 0.0) - xb

    def F(alpha):
        d = step(alpha)
        return bp.trial_value(bs, b, d) + l1 * (float(np.abs(xb + d).sum()) - absx)

    # Armijo along the projection arc (Bertsekas 1982): the decrease is measured on the projected
    # displacement, gt^T (x(alpha) - x), not alpha gt^T p (projected components do not move)
    alpha, _ = armijo(F, f0, float(gt @ step(1.0)), directional=lambda a: float(gt @ step(a)))
    if alpha > 0:
        return step(alpha)
    # (an all-zero block has L_b = 0 and a zero gradient: the floor makes this the exact minimiser)
    return prox_step(xb, gb, max(bp.block_lipschitz(b), np.finfo(float).tiny), l1, bp.nonnegative)


def pn_nn(bp: Any, bs: Any, b: np.ndarray, gb: np.ndarray) -> np.ndarray:
    """U9: exact minimisation of the block objective (a quadratic model, exact for least squares).

    Non-negative: q = g_b + l1 - H x_b, min_{z >= 0} 0.5 z^T H z + q^T z = ||R z + R^{-T} q||^2 / 2
    + const with H = R^T R, by NNLS. Signed l1: min 0.5 z^T H z + q^T z + l1 ||z||_1 with
    q = g_b - H x_b by feature-sign search (``block_lasso``)."""
    xb = bs.x[b]
    H = bp.hessian_block(bs, b)
    if not bp.nonnegative:
        return block_lasso(H, gb - H @ xb, bp.l1, xb) - xb
    q = gb + bp.l1 - H @ xb
    jitter = 0.0
    for _ in range(20):
        try:
            C = np.linalg.cholesky(H + jitter * np.eye(len(b)))
            break
        except np.linalg.LinAlgError:
            jitter = max(1e-14 * np.trace(H), 10 * jitter, 1e-300)  # H = 0 for an all-zero block
    z, _ = nnls(C.T, -sla.solve_triangular(C, q, lower=True), maxiter=50 * len(b))
    return np.maximum(z, 0.0) - xb


def block_lasso(H: np.ndarray, q: np.ndarray, l1: float, z0: np.ndarray, max_iter: int = 500) -> np.ndarray:
    """argmin_z 0.5 z^T H z + q^T z + l1 ||z||_1 (H positive definite) by feature-sign search
    (Lee, Battle, Raina, Ng, NIPS 2006): activate the zero coordinate that most violates
    |r_i| <= l1 (r = H z + q) with sign -sign(r_i), Newton step on the active set with the signs
    fixed, and a line search over the zero crossings of the segment (points projected onto the
    orthant of the signs, so a newly activated coordinate cannot start on the wrong side), keeping the
    best point; when
    that point does not decrease phi, one sweep of exact coordinate minimisation is taken instead.
    Ends when the KKT violation is below 1e-13 relative to max(|q|, l1)."""

    def phi(z):
        return 0.5 * z @ (H @ z) + q @ z + l1 * np.abs(z).sum()

    z = np.array(z0, dtype=float)
    scale = max(float(np.abs(q).max(initial=0.0)), l1, 1e-300)
    for _ in range(max_iter):
        r = H @ z + q
        theta = np.sign(z)
        zero = theta == 0
        viol = np.where(zero, np.abs(r) - l1, np.abs(r + l1 * theta))
        if viol.max(initial=0.0) <= 1e-13 * scale:
            break
        if zero.any():
            i = int(np.argmax(np.where(zero, np.abs(r), -np.inf)))
            if abs(r[i]) > l1:
                theta[i] = -np.sign(r[i])
        act = theta != 0
        target = np.zeros_like(z)
        target[act] = solve_spd(H[np.ix_(act, act)], -(q[act] + l1 * theta[act]))
        d = target - z
        with np.errstate(divide="ignore", invalid="ignore"):
            t_cross = np.where((z != 0) & (np.sign(target) != theta) & (d != 0), -z / d, np.inf)
        candidates = []
        for t in np.append(t_cross[(t_cross > 0) & (t_cross < 1)], 1.0):
            zt = z + t * d
            zt[np.isclose(t_cross, t, rtol=0, atol=1e-15)] = 0.0
            zt[act & (np.sign(zt) == -theta)] = 0.0  # stay in the orthant of theta (new coordinates too)
            candidates.append((phi(zt), zt))
        best = min(candidates, key=lambda c: c[0])
        if best[0] < phi(z):
            z = best[1]
            continue
        for i in range(len(z)):  # safeguard: one sweep of exact coordinate minimisation (never stalls)
            hii = H[i, i]
            # hii = 0 (an all-zero column; H PSD so its row is 0): phi is l1 |z_i| + q_i z_i in z_i,
            # bounded below only if |q_i| <= l1, minimised at 0
            z[i] = soft_threshold(hii * z[i] - (H[i] @ z + q[i]), l1) / hii if hii > 0 else 0.0
    return z


# ---------------------------------------------------------------------------------- strategy objects
@dataclass(frozen=True)
class Update:
    """A named block update. ``problems`` lists the problem kinds it applies to ("smooth", "l1",
    "nonnegative"), ``quadratic`` whether it needs a quadratic f (exact block minimisation),
    ``needs_block_lipschitz`` whether it uses L_b (cached per fixed block)."""

    name: str
    problems: tuple[str, ...]
    quadratic: bool = False
    needs_block_lipschitz: bool = False
    kind: ClassVar[str] = "update"

    def delta(self, solver: Any, bp: Any, st: Any, b: np.ndarray, j: int | None, gb: np.ndarray) -> np.ndarray:
        """The step d = x_b+ - x_b."""
        bs = st.bs
        name = self.name
        if name == "gradient":
            return -gb / solver.block_lipschitz(bp, st, b, j)
        if name in ("prox_gradient", "pg_nn"):
            return prox_step(bs.x[b], gb, solver.block_lipschitz(bp, st, b, j), bp.l1, bp.nonnegative)
        if name == "lipschitz_search":
            return lipschitz_search(bp, bs, b, gb, st.Lhat, st.L)
        if name == "newton_ls":
            return newton_ls(bp, bs, b, gb)
        if name == "tmp_nn":
            return tmp_nn(bp, bs, b, gb, st.L[b])
        if name == "pn_nn":
            return pn_nn(bp, bs, b, gb)
        if solver.partition.startswith("forest"):
            from .forest import forest_solve

            return -forest_solve(bp.sparse_block(b), gb, check_symmetry=False)
        # matrix and exact_quadratic on dense blocks; the factor is cached for fixed blocks
        if j is not None and st.blocks is not None:
            fac = st.chol.get(j)
            if fac is None:
                fac = st.chol[j] = factor(bp.bound_block(b))
            return -solve_factored(fac, gb)
        return -solve_spd(bp.bound_block(b), gb)


SMOOTH, L1, NONNEG = ("smooth",), ("l1",), ("nonnegative",)
UPDATES: dict[str, Update] = {
    "gradient": Update("gradient", SMOOTH, needs_block_lipschitz=True),
    "lipschitz_search": Update("lipschitz_search", SMOOTH),
    "matrix": Update("matrix", SMOOTH),
    "newton_ls": Update("newton_ls", SMOOTH),
    "exact_quadratic": Update("exact_quadratic", SMOOTH, quadratic=True),
    "prox_gradient": Update("prox_gradient", SMOOTH + L1 + NONNEG, needs_block_lipschitz=True),
    "pg_nn": Update("pg_nn", NONNEG, needs_block_lipschitz=True),
    "tmp_nn": Update("tmp_nn", L1 + NONNEG),
    "pn_nn": Update("pn_nn", L1 + NONNEG, quadratic=True),
}


def factor(H: np.ndarray) -> tuple[str, np.ndarray]:
    """Cholesky factor of H, or its pseudo-inverse when H is singular."""
    try:
        return ("chol", np.linalg.cholesky(H))
    except np.linalg.LinAlgError:
        return ("pinv", np.linalg.pinv(H))


def solve_factored(fac: tuple[str, np.ndarray], g: np.ndarray) -> np.ndarray:
    kind, F = fac
    if kind == "pinv":
        return F @ g
    return sla.cho_solve((F, True), g, check_finite=False)
