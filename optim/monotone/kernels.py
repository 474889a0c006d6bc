"""Compiled (numba) inner loops of the stochastic methods on matrix games, over the game's rows and columns.

For a game z = (x, y), x in R^q, y in R^p, payoff A (p x q) with N = max(p, q) components, the component
difference F_i(z) - F_i(z') = N ((y_i - y'_i) A[i, :], -(x_i - x'_i) A[:, i]) touches one row and one
column of A: O(p + q) work, plus O(p + q) for the two simplex projections of the resolvent, each a warm-
started threshold search (``problems.resolvents.simplex_threshold``, two passes when the threshold of
the previous projection is close). Work arrays are allocated once per call, none inside the loop.

The kernels draw from the run's ``numpy.random.Generator`` (numba's ``integers`` and ``random`` give
numpy's streams) in the order of the plain per-step loop: VR-EG and VR-FoRB draw the index
i = ``rng.integers(N)`` and then the refresh coin ``rng.random()``, VR-EG inside its kernel, VR-FoRB
(and the inexact-Halpern inner solver, one short run per outer step) ahead of its steps in chunks
(``loopless_draws``); VR-Halpern draws its coin only when the switch probability is below one, then, on a
batch step, the batch of ``rng.choice(N, b, replace=False)`` (numpy's algorithm, reproduced in
``choice_without_replacement``), ahead of its steps in chunks (``halpern_draws``). No draw depends on the
iterates, and numba takes 11 to 15 us to receive a Generator: too much for each block of ten steps. So a seed gives the
same iterates whether the steps run here or in the numpy path (``compiled=False``), up to rounding.
The loopless kernels refresh their snapshot themselves (``full_operator_into``, one pass over A, or over
the rows that the nonzeros of a sparse iterate select). Exact zeros are left out of sums, and sums are
formed four rows at a time: only the order of the sums differs from the plain loops.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from problems.resolvents import SUM_FREELY, simplex_threshold

from .common import anchor_weight, snapshot_probability

_threshold = njit(cache=True, fastmath=SUM_FREELY)(simplex_threshold)
_snapshot_probability = njit(cache=True)(snapshot_probability)
_anchor_weight = njit(cache=True)(anchor_weight)


@njit(cache=True)
def resolvent_into(v, q, taus, out):
    """out = J(v) = (P_simplex(v[:q]), P_simplex(v[q:])), each threshold warm-started at (and stored
    back into) taus[0], taus[1]; a block with a non-finite entry gives NaN."""
    d = v.size
    t0 = _threshold(v, 0, q, 1.0, taus[0])
    t1 = _threshold(v, q, d, 1.0, taus[1])
    if t0 == t0:
        taus[0] = t0
        for j in range(q):
            out[j] = max(v[j] - t0, 0.0)
    else:
        out[:q] = np.nan
    if t1 == t1:
        taus[1] = t1
        for j in range(q, d):
            out[j] = max(v[j] - t1, 0.0)
    else:
        out[q:] = np.nan


@njit(cache=True, fastmath=SUM_FREELY)
def add_rows(M, idx, coef, m, out):
    """out += sum_{r < m} coef[r] M[idx[r], :out.size], four rows a pass (out loaded and stored once
    per four rows)."""
    w = out.size
    r = 0
    while r + 4 <= m:
        m0, m1, m2, m3 = M[idx[r]], M[idx[r + 1]], M[idx[r + 2]], M[idx[r + 3]]
        c0, c1, c2, c3 = coef[r], coef[r + 1], coef[r + 2], coef[r + 3]
        for j in range(w):
            out[j] += (c0 * m0[j] + c1 * m1[j]) + (c2 * m2[j] + c3 * m3[j])
        r += 4
    left = m - r
    if left == 3:
        m0, m1, m2 = M[idx[r]], M[idx[r + 1]], M[idx[r + 2]]
        c0, c1, c2 = coef[r], coef[r + 1], coef[r + 2]
        for j in range(w):
            out[j] += (c0 * m0[j] + c1 * m1[j]) + c2 * m2[j]
    elif left == 2:
        m0, m1, c0, c1 = M[idx[r]], M[idx[r + 1]], coef[r], coef[r + 1]
        for j in range(w):
            out[j] += c0 * m0[j] + c1 * m1[j]
    elif left == 1:
        m0, c0 = M[idx[r]], coef[r]
        for j in range(w):
            out[j] += c0 * m0[j]


#: F(z) skips the zero entries of z when they are at least this fraction of x or of y
SPARSE_FRACTION = 0.875


@njit(cache=True, fastmath=SUM_FREELY)
def full_operator_into(A, AT, z, q, out):
    """out = F(z) = (A^T y, -A x).

    Dense z: one pass over the rows of A, four rows at a time, each row read once for both products
    (two BLAS mat-vecs read A and A^T: twice the memory traffic) and out[:q] loaded and stored once
    per four rows. When x or y is mostly zeros (the iterates are simplex projections, often sparse):
    A^T y = sum over y_i != 0 of y_i A[i, :] and A x = sum over x_j != 0 of x_j A^T[j, :], the terms
    left out being exact zeros. Only the order of the sums differs from the plain loops."""
    rows = A.shape[0]
    x, y = z[:q], z[q:]
    head, tail = out[:q], out[q:]
    live_x, coef_x = np.empty(q, dtype=np.int64), np.empty(q)
    live_y, coef_y = np.empty(rows, dtype=np.int64), np.empty(rows)
    m_x, m_y = 0, 0
    for j in range(q):
        if x[j] != 0.0:  # NaN too
            live_x[m_x], coef_x[m_x] = j, -x[j]
            m_x += 1
    for i in range(rows):
        if y[i] != 0.0:
            live_y[m_y], coef_y[m_y] = i, y[i]
            m_y += 1
    head[:] = 0.0
    if q - m_x >= SPARSE_FRACTION * q or rows - m_y >= SPARSE_FRACTION * rows:
        tail[:] = 0.0
        add_rows(A, live_y, coef_y, m_y, head)
        add_rows(AT, live_x, coef_x, m_x, tail)
        return
    i = 0
    while i + 4 <= rows:
        a0, a1, a2, a3 = A[i], A[i + 1], A[i + 2], A[i + 3]
        y0, y1, y2, y3 = y[i], y[i + 1], y[i + 2], y[i + 3]
        s0, s1, s2, s3 = 0.0, 0.0, 0.0, 0.0
        for j in range(q):
            xj, b0, b1, b2, b3 = x[j], a0[j], a1[j], a2[j], a3[j]
            s0 += b0 * xj
            s1 += b1 * xj
            s2 += b2 * xj
            s3 += b3 * xj
            head[j] += (y0 * b0 + y1 * b1) + (y2 * b2 + y3 * b3)
        tail[i], tail[i + 1], tail[i + 2], tail[i + 3] = -s0, -s1, -s2, -s3
        i += 4
    for r in range(i, rows):
        row, yi, s = A[r], y[r], 0.0
        for j in range(q):
            a = row[j]
            s += a * x[j]
            head[j] += yi * a
        tail[r] = -s


@njit(cache=True)
def vr_eg_block(A, AT, N, x, w, Fw, tau, p, rng, steps, taus):
    """``steps`` loopless VR-EG steps, x, w and Fw in place; a step whose coin asks for it refreshes the
    snapshot (w = x, Fw = F(w), cost N). Returns the number of refreshes."""
    rows, q = A.shape
    d = x.size
    xbar = np.empty(d)
    arg = np.empty(d)
    y = np.empty(d)
    scale = float(N)
    refreshes = 0
    for _ in range(steps):
        i = rng.integers(0, N)
        for j in range(d):
            xbar[j] = (1.0 - p) * x[j] + p * w[j]
            arg[j] = xbar[j] - tau * Fw[j]
        resolvent_into(arg, q, taus, y)
        # arg = xbar - tau (F(w) + F_i(y) - F_i(w)): only row i and column i of A change it
        if i < rows:
            c, row = scale * (y[q + i] - w[q + i]), A[i]  # 1-D views: the loops vectorize
            for j in range(q):
                arg[j] = xbar[j] - tau * (Fw[j] + c * row[j])
        if i < q:
            c, col = -scale * (y[i] - w[i]), AT[i]
            for j in range(rows):
                arg[q + j] = xbar[q + j] - tau * (Fw[q + j] + c * col[j])
        resolvent_into(arg, q, taus, x)
        if rng.random() < p:
            w[:] = x
            full_operator_into(A, AT, w, q, Fw)
            refreshes += 1
    return refreshes


@njit(cache=True)
def forb_block(
    A, AT, N, u, v, w, w_old, Phi_w, scale, anchored, to_anchor, alpha, gamma, p, idx, coins, start, steps, taus
):
    """``steps`` loopless VR-FoRB steps on Phi(v) = scale F(v) (+ v - u when anchored), v, w, w_old and
    Phi_w in place, step t with the index idx[start + t] and the coin coins[start + t]
    (``loopless_draws``); a step whose coin asks for it refreshes the snapshot (w = v, or u when
    ``to_anchor``; Phi_w = Phi(w), cost N). Returns the number of refreshes."""
    rows, q = A.shape
    d = v.size
    arg = np.empty(d)
    beta = 1.0 - alpha
    n_scale = float(N)
    refreshes = 0
    stale = True  # w_old may differ from w: at the start, and for one step after a refresh
    for t in range(steps):
        i = idx[start + t]
        # Phi_w + scale (F_i(v) - F_i(w_old)) (+ v - w_old): the component touches row i and column i
        for j in range(d):
            arg[j] = Phi_w[j]
        if i < rows:
            c, row = n_scale * (v[q + i] - w_old[q + i]), A[i]  # 1-D views: the loops vectorize
            for j in range(q):
                arg[j] = arg[j] + scale * (c * row[j])
        if i < q:
            c, col = -n_scale * (v[i] - w_old[i]), AT[i]
            for j in range(rows):
                arg[q + j] = arg[q + j] + scale * (c * col[j])
        for j in range(d):
            dj = arg[j] + (v[j] - w_old[j]) if anchored else arg[j]
            arg[j] = (alpha * v[j] + beta * w[j]) - gamma * dj
        if stale:
            w_old[:] = w
            stale = False
        resolvent_into(arg, q, taus, v)
        if coins[start + t] < p:
            w[:] = u if to_anchor else v
            full_operator_into(A, AT, w, q, Phi_w)
            for j in range(d):
                Phi_w[j] = scale * Phi_w[j] + (w[j] - u[j]) if anchored else scale * Phi_w[j]
            refreshes += 1
            stale = True
    return refreshes


@njit(cache=True)
def loopless_draws(rng, N, idx, coins):
    """The draws of consecutive loopless steps in the order of the plain loop: the index
    idx[t] = ``rng.integers(N)``, then the refresh coin coins[t] = ``rng.random()``."""
    for t in range(idx.size):
        idx[t] = rng.integers(0, N)
        coins[t] = rng.random()


@njit(cache=True)
def choice_without_replacement(rng, n, b, taken, perm, swaps, out):
    """out = ``rng.choice(n, b, replace=False)``, the same draws in the same order: numpy's tail
    shuffle of range(n) when n > 10000 and b > n // 50 (``perm`` = range(n), restored afterwards;
    ``swaps`` of length n), else Floyd's algorithm followed by a shuffle of the b picks (``taken``
    all False, restored afterwards)."""
    if n > 10000 and b > n // 50:
        first = max(n - b, 1)
        for i in range(n - 1, first - 1, -1):
            j = rng.integers(0, i + 1)
            swaps[n - 1 - i] = j
            perm[i], perm[j] = perm[j], perm[i]
        for c in range(b):
            out[c] = perm[n - b + c]
        for i in range(first, n):  # undo the swaps, last first: O(b), not O(n)
            j = swaps[n - 1 - i]
            perm[i], perm[j] = perm[j], perm[i]
        return
    for c in range(b):
        j = n - b + c
        t = rng.integers(0, j + 1)
        if taken[t]:
            t = j
        taken[t] = True
        out[c] = t
    for c in range(b):
        taken[out[c]] = False
    for i in range(b - 1, 0, -1):
        j = rng.integers(0, i + 1)
        out[i], out[j] = out[j], out[i]


@njit(cache=True)
def halpern_draws(rng, k, N, full, batches):
    """The draws of VR-Halpern steps k, k+1, ..., one per row of ``batches`` (steps x b), in the order of
    the plain loop: full[t] = (p_{k+t} >= 1 or rng.random() < p_{k+t}); on a batch step the row t is
    ``rng.choice(N, b, replace=False)`` (``rng.integers(N)`` when b = 1)."""
    steps, b = batches.shape
    tail = N > 10000 and b > N // 50
    taken = np.zeros(0 if tail else N, dtype=np.bool_)
    perm = np.arange(N if tail else 0)
    swaps = np.empty(N if tail else 0, dtype=np.int64)
    for t in range(steps):
        pk = _snapshot_probability(k + t, N)
        full[t] = pk >= 1.0 or rng.random() < pk
        if not full[t]:
            if b == 1:
                batches[t, 0] = rng.integers(0, N)
            else:
                choice_without_replacement(rng, N, b, taken, perm, swaps, batches[t])


@njit(cache=True)
def vr_halpern_block(
    A,
    AT,
    N,
    x0,
    x,
    x_prev,
    est,
    k,
    step,
    official_schedule,
    official_form,
    full,
    batches,
    start,
    steps,
    work_left,
    taus,
):
    """Up to ``steps`` VR-Halpern steps k, k+1, ... on the game with the draws full[start + t],
    batches[start + t] (``halpern_draws``), stopping early once the component evaluations reach
    ``work_left``; x, x_prev, est in place. Returns (steps, full evaluations, batch steps, last step was full)."""
    rows, q = A.shape
    d = x.size
    b = batches.shape[1]
    tmp = np.empty(d)
    arg = np.empty(d)
    row_idx, col_idx = np.empty(b, dtype=np.int64), np.empty(b, dtype=np.int64)
    row_coef, col_coef = np.empty(b), np.empty(b)
    schedule = "official" if official_schedule else "classical"
    n_full, n_batch, last_full, spent = 0, 0, False, 0.0
    scale = N * (1.0 / b)
    for t in range(steps):
        if spent >= work_left:
            return t, n_full, n_batch, last_full
        last_full = full[start + t]
        if last_full:
            full_operator_into(A, AT, x, q, est)
            n_full += 1
            spent += N
        else:
            batch = batches[start + t]
            m_rows, m_cols = 0, 0
            for r in range(b):
                i = batch[r]
                # a component whose coordinate did not move adds exact zeros: left out
                if i < rows and x[q + i] != x_prev[q + i]:
                    row_idx[m_rows], row_coef[m_rows] = i, scale * (x[q + i] - x_prev[q + i])
                    m_rows += 1
                if i < q and x[i] != x_prev[i]:
                    col_idx[m_cols], col_coef[m_cols] = i, -scale * (x[i] - x_prev[i])
                    m_cols += 1
            tmp[:] = 0.0
            add_rows(A, row_idx, row_coef, m_rows, tmp[:q])
            add_rows(AT, col_idx, col_coef, m_cols, tmp[q:])
            for j in range(d):
                est[j] = est[j] + tmp[j]
            n_batch += 1
            spent += 2 * b
        lam = _anchor_weight(k + t, schedule)
        x_prev[:] = x
        if official_form:
            for j in range(d):
                arg[j] = lam * x0[j] + (1.0 - lam) * x[j] - step * est[j]
            resolvent_into(arg, q, taus, x)
        else:
            for j in range(d):
                arg[j] = x[j] - step * est[j]
            resolvent_into(arg, q, taus, tmp)
            for j in range(d):
                x[j] = lam * x0[j] + (1.0 - lam) * tmp[j]
    return steps, n_full, n_batch, last_full


def new_taus() -> np.ndarray:
    """Warm-start thresholds of the two simplices (NaN: start cold)."""
    return np.full(2, math.nan)
