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
from typing import Any

import numpy as np
from numba import njit

RULE_CODES = {"gs": 0, "gsd": 1, "gsl": 2, "gs_s": 3, "gs_r": 4, "gs_q": 5}
TINY = np.finfo(float).tiny

#: one sparse matrix in both layouts, as the kernels take it:
#: (CSC indptr, indices, data, CSR indptr, indices, data), indices int64 and data float64
CscCsr = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def csc_csr_arrays(csc: Any, csr: Any) -> CscCsr:
    """The kernels' arrays of a sparse matrix given as a CSC and a CSR copy (no copy when the dtypes match)."""
    return (
        np.asarray(csc.indptr, dtype=np.int64),
        np.asarray(csc.indices, dtype=np.int64),
        np.asarray(csc.data, dtype=float),
        np.asarray(csr.indptr, dtype=np.int64),
        np.asarray(csr.indices, dtype=np.int64),
        np.asarray(csr.data, dtype=float),
    )


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


coordinate_score = _score  # the public name (the prefetch ranking of ``optim.bcd.gram`` uses it)


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
def argmax_score(rule, g, x, L, r, l1, nonneg):
    """The single best coordinate (ties: the smaller index), one specialised pass per rule."""
    n = g.shape[0]
    best, best_i = -np.inf, 0
    if rule == 0:
        for i in range(n):
            v = abs(g[i])
            if v > best:
                best, best_i = v, i
    elif rule == 1 or rule == 2:
        w = L if rule == 1 else r
        for i in range(n):
            v = abs(g[i]) / math.sqrt(w[i])
            if v > best:
                best, best_i = v, i
    elif rule == 3 and not nonneg:
        for i in range(n):
            xi, gi = x[i], g[i]
            if xi != 0.0:
                v = abs(gi + l1) if xi > 0 else abs(gi - l1)
            else:
                v = abs(gi) - l1
                if v < 0.0:
                    v = 0.0
            if v > best:
                best, best_i = v, i
    else:
        for i in range(n):
            v = _score(rule, g[i], x[i], L[i], 0.0, l1, nonneg)
            if v > best:
                best, best_i = v, i
    if best == -np.inf:  # all scores -inf or NaN: fall back to the first coordinate
        best_i = 0
    return best_i


@njit(cache=True)
def _select_variable(rule, tau, g, x, L, r, l1, nonneg, scores, block):
    """The tau largest per-coordinate scores (block sorted ascending; ties: smaller index first)."""
    n = g.shape[0]
    if tau == 1:
        block[0] = argmax_score(rule, g, x, L, r, l1, nonneg)
        return 1
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
def _insert(v, i, tau, best_v, best_i):
    """Insert (v, i) into the descending top-tau lists (equal values keep the earlier index first)."""
    k = tau - 1
    while k > 0 and v > best_v[k - 1]:
        best_v[k] = best_v[k - 1]
        best_i[k] = best_i[k - 1]
        k -= 1
    best_v[k] = v
    best_i[k] = i


@njit(cache=True, fastmath=True)
def _max(v):
    """max of a vector (a vectorised reduction; the scores are finite or the run has diverged)."""
    best = -np.inf
    for t in range(v.shape[0]):
        best = max(best, v[t])
    return best


@njit(cache=True)
def _update_and_select(rule, tau, slots, ds, m, cols, g, x, L, r, l1, nonneg, best_v, best_i, block, scratch):
    """One pass over the coordinates: g += sum_k cols[slots[k]] ds[k] (k < m) and the tau best scores
    of the updated gradient into ``block`` (sorted ascending). Returns False if no score was finite."""
    n = g.shape[0]
    best_v[:] = -np.inf
    best_i[:] = -1
    if tau == 1 and m == 1:
        c, d = cols[slots[0]], ds[0]
        sc = scratch[:n]
        if rule == 3 and not nonneg:  # branch-free, so the pass vectorises
            for t in range(n):
                gt = g[t] + c[t] * d
                g[t] = gt
                xt = x[t]
                sgn = (1.0 if xt > 0 else 0.0) - (1.0 if xt < 0 else 0.0)
                v0 = max(abs(gt) - l1, 0.0)
                v1 = abs(gt + l1 * sgn)
                sc[t] = v1 if xt != 0.0 else v0
        elif rule == 5 and not nonneg:  # GS-q, branch-free: -q of the prox-gradient step
            for t in range(n):
                gt = g[t] + c[t] * d
                g[t] = gt
                xt, Lt = x[t], L[t]
                z = xt - gt / Lt
                st = math.copysign(max(abs(z) - l1 / Lt, 0.0), z)
                dt = st - xt
                sc[t] = -(gt * dt + 0.5 * Lt * dt * dt + l1 * (abs(xt + dt) - abs(xt)))
        elif rule == 0:
            for t in range(n):
                gt = g[t] + c[t] * d
                g[t] = gt
                sc[t] = abs(gt)
        else:
            for t in range(n):
                gt = g[t] + c[t] * d
                g[t] = gt
                sc[t] = _score(rule, gt, x[t], L[t], r[t], l1, nonneg)
        best = _max(sc)
        for t in range(n):  # the first coordinate attaining the maximum
            if sc[t] == best:
                block[0] = t
                return True
        return False
    for t in range(n):
        gt = g[t]
        for k in range(m):
            gt += cols[slots[k], t] * ds[k]
        g[t] = gt
        v = _score(rule, gt, x[t], L[t], r[t], l1, nonneg)
        if v > best_v[tau - 1]:
            _insert(v, t, tau, best_v, best_i)
    for k in range(tau):
        if best_i[k] < 0:
            return False
        block[k] = best_i[k]
    for a in range(1, tau):  # insertion sort: blocks are reported in ascending order
        v = block[a]
        c_ = a - 1
        while c_ >= 0 and block[c_] > v:
            block[c_ + 1] = block[c_]
            c_ -= 1
        block[c_ + 1] = v
    return True


@njit(cache=True)
def sparse_gram_columns(
    csc_ptr: np.ndarray,
    csc_idx: np.ndarray,
    csc_val: np.ndarray,
    csr_ptr: np.ndarray,
    csr_idx: np.ndarray,
    csr_val: np.ndarray,
    js: np.ndarray,
    rows: np.ndarray,
    w: float,
    l2: float,
    out: np.ndarray,
) -> None:
    """out[rows[k]] = w A^T A[:, js[k]] + l2 e_{js[k]} for a sparse A given as CSC and CSR: for each
    nonzero a_ij of column j, add a_ij times row i. Cost: sum over the column's nonzeros of the row
    lengths."""
    for k in range(js.shape[0]):
        j = js[k]
        row = out[rows[k]]
        row[:] = 0.0
        for t in range(csc_ptr[j], csc_ptr[j + 1]):
            i, a = csc_idx[t], csc_val[t]
            for u in range(csr_ptr[i], csr_ptr[i + 1]):
                row[csr_idx[u]] += a * csr_val[u]
        if w != 1.0:  # (w = 1: a sum-scaled least squares, no pass)
            for u in range(row.shape[0]):
                row[u] *= w
        row[j] += l2


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
    support mismatch, missing column (-1: none), size of the last block, coordinates updated]. A dense
    run stops early when a column of the selected block is not in the cache (``slot[j] < 0``): the caller computes
    it and calls again (the selection is repeated, deterministically)."""
    n = x.shape[0]
    H = np.empty((tau, tau))
    done = 0
    fuse = dense and not fixed and tau <= n
    pending = False  # variable blocks: the next block was found while the gradient was updated
    best_v = np.empty(tau)
    best_i = np.empty(tau, dtype=np.int64)
    slots = np.empty(tau, dtype=np.int64)
    ds = np.empty(tau)
    while done < n_iter:
        if fixed:
            j_block, size = _select_fixed(rule, index, Lb, g, x, L, l1, nonneg, norm2, block)
        elif pending:
            size, j_block = tau, -1
        else:
            size = _select_variable(rule, tau, g, x, L, r, l1, nonneg, scores, block)
            j_block = -1
        pending = False
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
        m = 0
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
                slots[m] = slot[i]
                last_used[slot[i]] = info[0]
            else:
                slots[m] = i
            ds[m] = d
            m += 1
        info[0] += 1
        info[5] = size
        info[6] += size
        done += 1
        if dense and m > 0:
            if fuse:  # one pass: the gradient update and the next selection
                pending = _update_and_select(
                    rule, tau, slots, ds, m, cols, g, x, L, r, l1, nonneg, best_v, best_i, block, scores
                )
            else:
                for k in range(m):
                    c = cols[slots[k]]
                    for t in range(n):
                        g[t] += c[t] * ds[k]
        elif m > 0:
            for k in range(m):
                i = slots[k]
                for t in range(indptr[i], indptr[i + 1]):
                    g[indices[t]] += data[t] * ds[k]
        if track and has_ref and info[2] < 0 and info[3] == 0:
            info[2] = info[0]
    info[4] = -1
    return done


@njit(cache=True)
def mirror_upper(U: np.ndarray) -> None:
    """U[j, i] = U[i, j] for i < j in place (the lower triangle from the upper one), in 64 x 64 tiles so
    the strided side of the copy stays in cache."""
    n = U.shape[0]
    for jb in range(0, n, 64):
        for ib in range(0, jb + 64, 64):
            for j in range(jb, min(jb + 64, n)):
                for i in range(ib, min(ib + 64, j)):
                    U[j, i] = U[i, j]
