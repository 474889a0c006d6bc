"""Compiled (numba) inner loops of the stochastic methods on matrix games, over the game's rows and columns.

For a game z = (x, y), x in R^q, y in R^p, payoff A (p x q) with N = max(p, q) components, the component
difference F_i(z) - F_i(z') = N ((y_i - y'_i) A[i, :], -(x_i - x'_i) A[:, i]) touches one row and one
column of A: O(p + q) work. Each kernel runs a block of stochastic steps on pre-generated draws (indices
and uniform coins drawn from the run's Generator before the block) and returns where it stopped, so that
the caller can refresh a snapshot with one BLAS mat-vec. The arithmetic is the numpy path's, operation
for operation (``compiled=False`` in the solvers), so both paths give the same iterates for a seed.
The resolvent of the game is the pair of simplex projections of ``problems.resolvents``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from problems.resolvents import project_simplex_loop

_project = njit(cache=True)(project_simplex_loop)


@njit(cache=True)
def _resolvent(v, q):
    """J(v) = (P_simplex(v[:q]), P_simplex(v[q:]))."""
    out = np.empty_like(v)
    out[:q] = _project(v[:q].copy(), 1.0)
    out[q:] = _project(v[q:].copy(), 1.0)
    return out


@njit(cache=True)
def _component_diff(A, AT, scale, i, dz, out):
    """out = F_i(z) - F_i(z') for dz = z - z' (the weight N/(size of the batch) in ``scale``)."""
    p, q = A.shape
    if i < p:
        c = scale * dz[q + i]
        for j in range(q):
            out[j] = c * A[i, j]
    else:
        out[:q] = 0.0
    if i < q:
        c = -scale * dz[i]
        for j in range(p):
            out[q + j] = c * AT[i, j]
    else:
        out[q:] = 0.0


@njit(cache=True)
def vr_eg_block(A, AT, N, x, w, Fw, tau, p, idx, coins, t, stop):
    """Loopless VR-EG steps t, t+1, ... < stop (x updated in place); returns the next t, after a step
    whose coin asks for a snapshot refresh (coins[t - 1] < p) or at ``stop``."""
    q = A.shape[1]
    d = x.size
    out = np.empty(d)
    arg = np.empty(d)
    while t < stop:
        xbar = (1.0 - p) * x + p * w
        for j in range(d):
            arg[j] = xbar[j] - tau * Fw[j]
        y = _resolvent(arg, q)
        _component_diff(A, AT, float(N) * 1.0, idx[t], y - w, out)
        for j in range(d):
            arg[j] = xbar[j] - tau * (Fw[j] + out[j])
        x[:] = _resolvent(arg, q)
        t += 1
        if coins[t - 1] < p:
            return t
    return t


@njit(cache=True)
def forb_block(A, AT, N, v, w, w_old, Phi_w, scale, anchored, alpha, gamma, p, idx, coins, t, stop):
    """Loopless VR-FoRB steps on Phi(v) = scale F(v) (+ v - u when anchored), in place on v and w_old;
    returns the next t, after a step whose coin asks for a refresh or at ``stop``."""
    q = A.shape[1]
    d = v.size
    out = np.empty(d)
    arg = np.empty(d)
    beta = 1.0 - alpha
    while t < stop:
        _component_diff(A, AT, float(N) * 1.0, idx[t], v - w_old, out)
        for j in range(d):
            dj = Phi_w[j] + scale * out[j]
            if anchored:
                dj = dj + (v[j] - w_old[j])
            arg[j] = (alpha * v[j] + beta * w[j]) - gamma * dj
        w_old[:] = w
        v[:] = _resolvent(arg, q)
        t += 1
        if coins[t - 1] < p:
            return t
    return t


@njit(cache=True)
def snapshot_probability_k(k, n):
    """The PAGE switch of VR-Halpern (see ``halpern.snapshot_probability``)."""
    if k <= 1:
        return 1.0
    if k - 1 <= math.sqrt(n):
        return 4.0 / (k + 4)
    return 4.0 / (math.sqrt(n) + 5)


@njit(cache=True)
def vr_halpern_block(
    A, AT, N, x0, x, x_prev, est, k, step, official_schedule, official_form, coins, batches, work_left
):
    """VR-Halpern steps k, k+1, ... on the game, one per row of ``batches`` (and coin), until the rows
    run out or the component evaluations reach ``work_left``; x, x_prev, est in place.
    Returns (steps, full evaluations, batch steps, last step was full)."""
    p, q = A.shape
    d = x.size
    b = batches.shape[1]
    tmp = np.empty(d)
    out = np.empty(d)
    arg = np.empty(d)
    n_full, n_batch, last_full, spent = 0, 0, False, 0
    scale = N * (1.0 / b)
    for t in range(batches.shape[0]):
        if spent >= work_left:
            return t, n_full, n_batch, last_full
        pk = snapshot_probability_k(k + t, N)
        last_full = pk >= 1.0 or coins[t] < pk
        if last_full:
            est[:q] = np.dot(AT, x[q:].copy())
            est[q:] = -np.dot(A, x[:q].copy())
            n_full += 1
            spent += N
        else:
            dz = x - x_prev
            tmp[:] = 0.0
            for r in range(b):
                _component_diff(A, AT, scale, batches[t, r], dz, out)
                for j in range(d):
                    tmp[j] += out[j]
            for j in range(d):
                est[j] = est[j] + tmp[j]
            n_batch += 1
            spent += 2 * b
        lam = 2.0 / (k + t + 4) if official_schedule else 1.0 / (k + t + 2)
        x_prev[:] = x
        if official_form:
            for j in range(d):
                arg[j] = lam * x0[j] + (1.0 - lam) * x[j] - step * est[j]
            x[:] = _resolvent(arg, q)
        else:
            for j in range(d):
                arg[j] = x[j] - step * est[j]
            y = _resolvent(arg, q)
            for j in range(d):
                x[j] = lam * x0[j] + (1.0 - lam) * y[j]
    return batches.shape[0], n_full, n_batch, last_full


@njit(cache=True)
def floyd_batches(u, n):
    """One uniform sample of b distinct indices of range(n) per row of u (m x b uniforms in [0, 1)),
    by Floyd's algorithm: for j = n - b, ..., n - 1 draw t uniform in {0..j}; take t unless taken, else j."""
    m, b = u.shape
    out = np.empty((m, b), dtype=np.int64)
    taken = np.zeros(n, dtype=np.bool_)
    for r in range(m):
        for c in range(b):
            j = n - b + c
            t = min(int(u[r, c] * (j + 1)), j)
            if taken[t]:
                t = j
            taken[t] = True
            out[r, c] = t
        for c in range(b):
            taken[out[r, c]] = False
    return out
