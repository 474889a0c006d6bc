"""Compiled (numba) kernels of the greedy rules on quadratic problems in Gram form.

The gradient g = H x - c of a quadratic f is kept current by g += H[:, b] d after each block step
(``docs/bcd.md``, "Gram form"), so one iteration costs one O(n) scan for the selection plus
O(n |b|) (dense columns of H) or O(sum of the block's degrees) (sparse H) for the gradient, instead
of a full O(nnz(A)) gradient. ``greedy_run`` performs up to ``n_iter`` iterations of

    b = select(g, x),   d = update(g_b, x_b),   x_b += d,   g += H[:, b] d

with the selection and update rules of ``optim.bcd`` (same formulas, same order of floating-point
operations where possible, so the iterates agree with the numpy implementation to rounding).

Rule codes: 0 "gs", 1 "gsd", 2 "gsl", 3 "gs_s", 4 "gs_r", 5 "gs_q". Update codes: 0 "gradient"
(d = -g_b / L_b), 1 proximal gradient (d = prox(x_b - g_b / L_b) - x_b).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

RULE_CODES = {"gs": 0, "gsd": 1, "gsl": 2, "gs_s": 3, "gs_r": 4, "gs_q": 5}
TINY = np.finfo(float).tiny


@njit(cache=True)
def _prox_terms(gi, xi, Li, l1, nonneg):
    """Per-coordinate prox-gradient step d, model decrease q and min-norm subgradient s."""
    if nonneg:
        gt = gi + l1
        d = max(xi - gt / Li, 0.0) - xi
        q = gt * d + 0.5 * Li * d * d
        s = abs(gt) if xi > 0 else max(-gt, 0.0)
        return d, q, s
    z = xi - gi / Li
    a = abs(z) - l1 / Li
    st = 0.0
    if a > 0.0 and z != 0.0:
        st = a if z > 0 else -a
    d = st - xi
    q = gi * d + 0.5 * Li * d * d + l1 * (abs(xi + d) - abs(xi))
    if xi != 0.0:
        s = abs(gi + l1 * (1.0 if xi > 0 else -1.0))
    else:
        s = max(abs(gi) - l1, 0.0)
    return d, q, s


@njit(cache=True)
def _score(rule, gi, xi, Li, ri, l1, nonneg):
    """Per-coordinate score of a variable-block rule (larger is better)."""
    if rule == 0:
        return abs(gi)
    if rule == 1:
        return abs(gi) / math.sqrt(Li)
    if rule == 2:
        return abs(gi) / math.sqrt(ri)
    d, q, s = _prox_terms(gi, xi, Li, l1, nonneg)
    if rule == 3:
        return s
    if rule == 4:
        return abs(d)
    return -q


@njit(cache=True)
def _contribution(rule, gi, xi, Li, l1, nonneg, norm2):
    """Per-coordinate term of a fixed-block score (summed over the block; "gsl" divides by L_b later)."""
    if rule == 0 or rule == 2:
        return gi * gi if norm2 else abs(gi)
    if rule == 1:
        return gi * gi / Li if norm2 else abs(gi) / math.sqrt(Li)
    d, q, s = _prox_terms(gi, xi, Li, l1, nonneg)
    if rule == 5:
        return -q
    per = s if rule == 3 else abs(d)
    return per * per if norm2 else per


@njit(cache=True)
def _select_variable(rule, tau, g, x, L, r, l1, nonneg, scores, block):
    """The tau largest per-coordinate scores (block sorted ascending); fills ``scores``."""
    n = g.shape[0]
    best_v = np.full(tau, -np.inf)
    best_i = np.full(tau, -1, dtype=np.int64)
    for i in range(n):
        v = _score(rule, g[i], x[i], L[i], r[i], l1, nonneg)
        scores[i] = v
        if v > best_v[tau - 1] or best_i[tau - 1] < 0:
            k = tau - 1
            while k > 0 and (v > best_v[k - 1] or best_i[k - 1] < 0):
                best_v[k] = best_v[k - 1]
                best_i[k] = best_i[k - 1]
                k -= 1
            best_v[k] = v
            best_i[k] = i
    out = np.sort(best_i)
    for k in range(tau):
        block[k] = out[k]
    return tau


@njit(cache=True)
def _select_fixed(rule, index, Lb, g, x, L, l1, nonneg, norm2, block):
    """argmax over the fixed blocks (rows of the padded ``index``; padding n scores 0)."""
    n = g.shape[0]
    nb, tau = index.shape
    best, best_j = -np.inf, 0
    for j in range(nb):
        s = 0.0
        for k in range(tau):
            i = index[j, k]
            if i < n:
                s += _contribution(rule, g[i], x[i], L[i], l1, nonneg, norm2)
        if rule == 2:
            s = s / Lb[j] if norm2 else s / math.sqrt(Lb[j])
        if s > best:
            best, best_j = s, j
    size = 0
    for k in range(tau):
        i = index[best_j, k]
        if i < n:
            block[size] = i
            size += 1
    return best_j, size


@njit(cache=True)
def _gram_entry(dense, cols, slot, indptr, indices, data, i, j):
    if dense:
        return cols[slot[j], i]
    for t in range(indptr[j], indptr[j + 1]):
        if indices[t] == i:
            return data[t]
    return 0.0


@njit(cache=True)
def greedy_run(
    n_iter, x, g, L, r, index, Lb, rule, tau, fixed, norm2, l1, nonneg, prox,
    dense, cols, slot, last_used, indptr, indices, data,
    track, support, has_ref, ref, info, scores, block,
):  # fmt: skip
    """Up to ``n_iter`` greedy iterations in place on x and g. Returns the iterations done.

    ``info`` = [iteration counter, last support change, identification iteration (-1: not yet),
    support mismatch, missing column (-1: none), size of the last block, coordinates updated]. A dense run stops early
    when a column of the selected block is not in the cache (``slot[j] < 0``): the caller computes
    it and calls again (the selection is repeated, deterministically)."""
    n = x.shape[0]
    H = np.empty((tau, tau))
    done = 0
    while done < n_iter:
        if fixed:
            j_block, size = _select_fixed(rule, index, Lb, g, x, L, l1, nonneg, norm2, block)
        else:
            size = _select_variable(rule, tau, g, x, L, r, l1, nonneg, scores, block)
            j_block = -1
        if dense:
            for k in range(size):
                if slot[block[k]] < 0:
                    info[4] = block[k]
                    info[5] = size
                    return done
        # block Lipschitz constant
        if fixed:
            lb = Lb[j_block]
        elif size == 1:
            lb = max(_gram_entry(dense, cols, slot, indptr, indices, data, block[0], block[0]), TINY)
        else:
            Hs = H[:size, :size]
            for a in range(size):
                for c in range(size):
                    Hs[a, c] = _gram_entry(dense, cols, slot, indptr, indices, data, block[a], block[c])
            lb = max(np.linalg.eigvalsh(Hs)[size - 1], TINY)
        for k in range(size):
            i = block[k]
            xi, gi = x[i], g[i]
            if prox:
                z = xi - gi / lb
                if nonneg:
                    d = max(z - l1 / lb, 0.0) - xi
                elif l1 > 0:
                    a = abs(z) - l1 / lb
                    d = ((a if z > 0 else -a) if (a > 0.0 and z != 0.0) else 0.0) - xi
                else:
                    d = z - xi
            else:
                d = -gi / lb
            scores[n + k] = d  # (scratch: scores has n + tau entries)
        for k in range(size):
            i = block[k]
            d = scores[n + k]
            if d == 0.0:
                continue
            was = x[i] != 0.0
            x[i] += d
            if track:
                now = x[i] != 0.0
                if now != was:
                    info[1] = info[0] + 1
                    if has_ref:
                        info[3] += (1 if now != ref[i] else 0) - (1 if was != ref[i] else 0)
                    support[i] = now
            if dense:
                s_ = slot[i]
                last_used[s_] = info[0]
                for t in range(n):
                    g[t] += cols[s_, t] * d
            else:
                for t in range(indptr[i], indptr[i + 1]):
                    g[indices[t]] += data[t] * d
        info[0] += 1
        info[5] = size
        info[6] += size
        done += 1
        if track and has_ref and info[2] < 0 and info[3] == 0:
            info[2] = info[0]
    info[4] = -1
    return done
