"""The parallel-speedup grid of the multi-block bilevel benchmark: iterations of BSVRB v2 until
||grad F(x_t)|| <= eps on the synthetic quadratic problem, for I blocks and B samples per iteration.

Cheap path. Every cell runs many independent copies of BSVRB v2 (seeds x step-size pairs) in lockstep, as
one set of stacked numpy arrays: the same update as ``optim.bilevel.BSVRBv2`` with its defaults
(``lower_update="sampled"``, ``init="minibatch"``, alpha = 0.9, gamma = 1, beta = 0.5, R = 10) written for the
quadratic problem's oracles. Each copy draws its blocks and rows from ``numpy.random.default_rng(seed)`` with
the library's calls, so copy (seed, eta, tau) is the library run ``BSVRBv2(seed=seed, upper_step=eta,
lower_step=tau, ...)`` iterate for iterate; ``check_against_library`` asserts it before the grid runs. The
runs that share a seed share its samples (sampling does not depend on the iterate). The exact hypergradient
of a quadratic F is affine, grad F(x) = P x - q, so the stopping test is a 10 x 10 product, evaluated after
every iteration (the first iteration at which ||grad F|| <= eps is recorded).
"""

from __future__ import annotations

import time

import numpy as np

from optim.bilevel import BSVRBv2

ALPHA, GAMMA, BETA, RADIUS = 0.9, 1.0, 0.5, 10.0


def affine_hypergradient(p) -> tuple[np.ndarray, np.ndarray]:
    """(P, q) with grad F(x) = P x - q, from dim_x + 1 exact hypergradients."""
    q = -p.hypergrad(np.zeros(p.dim_x))
    P = np.stack([p.hypergrad(e) + q for e in np.eye(p.dim_x)], axis=1)
    return P, q


def _draw(p, rng, nb, B):
    """The library's uniform sampling: blocks without replacement (sorted), then per block B distinct rows
    for g and B for f."""
    m, n = p.m, p.n_lower
    J = np.arange(m) if nb == m else np.sort(rng.choice(m, nb, replace=False))
    return J, _rows(rng, nb, n, B), _rows(rng, nb, n, B)


def _rows(rng, k, n, B):
    if B == n:
        return np.broadcast_to(np.arange(n), (k, n))
    return np.argpartition(rng.random((k, n)), B - 1, axis=1)[:, :B]


def _means(p, J, bg, bf, full):
    """Batch means (A, C, c) of g on rows bg and d of f on rows bf for the blocks J."""
    if full:
        return p.A[J], p.C[J], p.c[J], p.d[J]
    jj = J[:, None]
    return p.A_s[jj, bg].mean(1), p.C_s[jj, bg].mean(1), p.c_s[jj, bg].mean(1), p.d_s[jj, bf].mean(1)


def run_cell(p, nb, B, seeds, etas, taus, eps, cap, P=None, q=None, record=None):
    """Lockstep BSVRB v2 runs for every (seed, eta, tau); returns hit[seed, eta, tau] (the first iteration with
    ||grad F|| <= eps, inf if not within ``cap`` or diverged), dead[seed, eta, tau] (diverged) and the
    iterations run. Stops once the (eta, tau) pair with the smallest median has finished on every seed
    (``_settled``) or at ``cap``. ``record``: list that receives x after every iteration."""
    if P is None:
        P, q = affine_hypergradient(p)
    m, dx, dy, rho, full = p.m, p.dim_x, p.dim_y, p.rho, B == p.n_lower
    S_, E_, T_ = len(seeds), len(etas), len(taus)
    R = S_ * E_ * T_
    sid = np.repeat(np.arange(S_), E_ * T_)  # run -> seed row
    eta = np.tile(np.repeat(np.asarray(etas, float), T_), S_)[:, None]
    tau = np.tile(np.asarray(taus, float), S_ * E_)[:, None, None]
    rngs = [np.random.default_rng(s) for s in seeds]
    x = np.zeros((R, dx))
    Y, V = np.zeros((R, m, dy)), np.zeros((R, m, dy))
    allb = np.arange(m)
    init = [_means(p, allb, _rows(r, m, p.n_lower, B), _rows(r, m, p.n_upper, B), full) for r in rngs]
    U = np.stack([-C @ np.zeros(dx) - c for _, C, c, _ in init])[sid]  # grad_y g at (0, 0)
    Sv = np.stack([d for *_, d in init])[sid]  # hvp(v = 0) - grad_y f at y = 0
    xp, Yp, Vp, z = x.copy(), Y.copy(), V.copy(), None
    hit, dead = np.full(R, np.inf), np.zeros(R, bool)
    rows = np.arange(R)[:, None]
    t = 0
    with np.errstate(all="ignore"):
        while t < cap:
            draws = [_draw(p, r, nb, B) for r in rngs]
            Js = np.stack([d[0] for d in draws])
            A, C, c, d = (np.stack(a) for a in zip(*[_means(p, *dr, full) for dr in draws], strict=True))
            J, A, C, c, d = Js[sid], A[sid], C[sid], c[sid], d[sid]
            Yj, Ypj, Vj, Vpj = Y[rows, J], Yp[rows, J], V[rows, J], Vp[rows, J]
            Cx, Cxp = np.einsum("rikl,rl->rik", C, x), np.einsum("rikl,rl->rik", C, xp)
            gy_new = np.einsum("rikl,ril->rik", A, Yj) - Cx - c
            gy_old = np.einsum("rikl,ril->rik", A, Ypj) - Cxp - c
            U[rows, J] = (1 - ALPHA) * U[rows, J] + (ALPHA + GAMMA) * gy_new - GAMMA * gy_old
            s_new = np.einsum("rikl,ril->rik", A, Vj) - (Yj - d)
            s_old = np.einsum("rikl,ril->rik", A, Vpj) - (Ypj - d)
            Sv[rows, J] = (1 - ALPHA) * Sv[rows, J] + (ALPHA + GAMMA) * s_new - GAMMA * s_old
            g_new = rho * x + np.einsum("rikl,rik->rl", C, Vj) / nb
            g_old = rho * xp + np.einsum("rikl,rik->rl", C, Vpj) / nb
            z = g_new if z is None else (1 - BETA) * (z - g_old) + g_new
            xp, x = x, x - eta * z
            Yp, Vp = Y.copy(), V.copy()
            Y[rows, J] = Yj - tau * U[rows, J]
            Vn = Vj - tau * Sv[rows, J]
            nrm = np.linalg.norm(Vn, axis=2, keepdims=True)
            V[rows, J] = Vn * np.minimum(1.0, RADIUS / np.maximum(nrm, 1e-300))
            t += 1
            if record is not None:
                record.append(x.copy())
            err = np.linalg.norm(x @ P.T - q, axis=1)
            hit[(err <= eps) & np.isinf(hit)] = t
            dead |= ~np.isfinite(err)
            if _settled(hit.reshape(S_, -1), dead.reshape(S_, -1)):
                break
    return hit.reshape(S_, E_, T_), dead.reshape(S_, E_, T_), t


def _settled(hit, dead) -> bool:
    """Whether the cell's answer is final: the (eta, tau) column with the smallest median first passage
    (fixed as soon as one column has a median: any later median is larger) has every seed reached or diverged."""
    med = np.median(hit, axis=0)
    if not np.isfinite(med).any():
        return False
    k = int(np.argmin(med))
    return bool(np.all(np.isfinite(hit[:, k]) | dead[:, k]))


def check_against_library(p, nb=5, B=4, steps=30) -> float:
    """Largest relative difference between the lockstep iterates and ``BSVRBv2`` (two seeds, two step pairs)."""
    rec: list = []
    seeds, etas, taus = (0, 1), (0.1, 0.3), (0.1, 0.25)
    run_cell(p, nb, B, seeds, etas, taus, eps=-1.0, cap=steps, record=rec)
    worst = 0.0
    for k, (s, e, tt) in enumerate((s, e, tt) for s in seeds for e in etas for tt in taus):
        solver = BSVRBv2(blocks_per_iter=nb, batch_size=B, upper_step=e, lower_step=tt, seed=s)
        st = solver.init(p)
        for i in range(steps):
            solver.step(p, st)
            worst = max(worst, float(np.linalg.norm(st.x - rec[i][k]) / max(np.linalg.norm(st.x), 1e-300)))
    return worst


def speedup_grid(p, Is, Bs, seeds, etas, taus, eps, cap, log=print) -> list[dict]:
    """One row per (I, B): the (eta, tau) with the smallest median iterations over seeds, its iterations
    (median, mean, min, max: inf where a seed did not reach eps within ``cap`` or diverged), samples (median
    iterations x I x 2B: B lower and B upper rows per sampled block) and seconds."""
    P, q = affine_hypergradient(p)
    rows = []
    for nb in Is:
        for B in Bs:
            t0 = time.perf_counter()
            hit, dead, ran = run_cell(p, nb, B, seeds, etas, taus, eps, cap, P, q)
            med = np.median(hit, axis=0)  # (eta, tau)
            e, k = np.unravel_index(int(np.argmin(med)), med.shape)
            best = hit[:, e, k]
            reached = int(np.isfinite(best).sum())
            it = float(med[e, k])
            rows.append({"I": nb, "B": B, "eta": etas[e], "tau": taus[k], "iterations": it,
                         "mean": float(best.mean()), "min": float(best.min()), "max": float(best.max()),
                         "reached": f"{reached}/{len(seeds)}", "diverged": int(dead[:, e, k].sum()),
                         "samples": it * nb * 2 * B, "capped": bool(np.isinf(best).any() and ran >= cap),
                         "ran": ran, "seconds": time.perf_counter() - t0})  # fmt: skip
            log(f"  speedup I={nb} B={B}: {rows[-1]}")
    return rows
