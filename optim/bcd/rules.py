"""Block partitions and selection rules of greedy BCD (Nutini, Laradji, Schmidt 2022, Sections 3-4).

Every rule sees the current full gradient ``g`` (greedy rules) or nothing (cyclic, random, Lipschitz
sampling) and returns a sorted index array. Fixed-block scores are vectorised over a padded
(n_blocks x tau) index matrix (padding points at a dummy coordinate with zero score); variable-block
rules keep the tau largest per-coordinate scores with ``argpartition`` (O(n)).

Per-coordinate scores (L: coordinate Lipschitz constants, r: row sums of |M|):

====== ======================================= =============================================
rule   fixed blocks, ``block_norm=2`` (paper)   variable blocks (tau largest)
====== ======================================= =============================================
gs     ||g_b||^2                               |g_i|
gsl    ||g_b||^2 / L_b                         |g_i| / sqrt(r_i)  (row-sum "GSL", code GSDHb)
gsd    sum_b g_i^2 / L_i                       |g_i| / sqrt(L_i)
gsq    g_b^T H_b^{-1} g_b (cached Cholesky)    iterative hard thresholding (code IHT)
gs_s   sum_b s_i^2 (s: min-norm subgradient)   s_i
gs_r   sum_b d_i^2 (d: prox-gradient step)     |d_i|
gs_q   sum_b -q_i (q: model decrease)          -q_i
====== ======================================= =============================================

With ``block_norm=1`` the fixed-block sums use 1-norms, sum |g_i| (/ sqrt(L_b)), sum |g_i|/sqrt(L_i),
as the official code does.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def fixed_partition(kind: str, L: np.ndarray, tau: int, rng: Any) -> list[np.ndarray]:
    """Fixed blocks of size tau (the last one ragged if tau does not divide n):
    ``order`` (0..n-1), ``random`` (a permutation), ``sort`` (by L_i ascending, stable sort: ties in
    index order), ``avg`` (sorted, interleaved smallest/largest so blocks have similar mean L)."""
    n = len(L)
    if kind == "order":
        perm = np.arange(n)
    elif kind == "random":
        perm = rng.permutation(n)
    else:
        s = np.argsort(L, kind="stable")
        if kind == "sort":
            perm = s
        else:
            perm = np.empty(n, dtype=np.int64)
            perm[0::2], perm[1::2] = s[: (n + 1) // 2], s[::-1][: n // 2]
    return [np.sort(perm[k : k + tau]) for k in range(0, n, tau)]


def padded(blocks: Any, n: int) -> np.ndarray:
    """(n_blocks x tau) index matrix, short blocks padded with the dummy index n."""
    tau = max(len(b) for b in blocks)
    out = np.full((len(blocks), tau), n, dtype=np.int64)
    for k, b in enumerate(blocks):
        out[k, : len(b)] = b
    return out


def top(score: np.ndarray, tau: int) -> np.ndarray:
    """Sorted indices of the tau largest entries of ``score``, ties broken towards the smaller index
    (as a stable descending sort would), in O(n)."""
    n = len(score)
    if tau >= n:
        return np.arange(n)
    kth = np.partition(score, n - tau)[n - tau]  # the tau-th largest value
    above = np.flatnonzero(score > kth)
    tied = np.flatnonzero(score == kth)[: tau - len(above)]
    return np.sort(np.concatenate([above, tied]))


def block_sums(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    """sum over each padded block of ``values`` (the dummy contributes 0)."""
    return np.append(values, 0.0)[index].sum(axis=1)


def prox_scores(
    g: np.ndarray, x: np.ndarray, L: np.ndarray, l1: float, nonnegative: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-coordinate prox-gradient step d, model decrease q <= 0 and min-norm subgradient s
    (Nutini et al., ICML 2015: GS-s / GS-r / GS-q) for g = 0, l1 |x|, or l1 x + indicator(x >= 0)."""
    if nonnegative:
        gt = g + l1
        d = np.maximum(x - gt / L, 0.0) - x
        q = gt * d + 0.5 * L * d * d
        s = np.where(x > 0, np.abs(gt), np.maximum(-gt, 0.0))
        return d, q, s
    z = x - g / L
    d = np.sign(z) * np.maximum(np.abs(z) - l1 / L, 0.0) - x
    q = g * d + 0.5 * L * d * d + l1 * (np.abs(x + d) - np.abs(x))
    s = np.where(x != 0, np.abs(g + l1 * np.sign(x)), np.maximum(np.abs(g) - l1, 0.0))
    return d, q, s


def iht_block(
    g: np.ndarray, matvec: Any, lam_max: float, L: np.ndarray, tau: int, iters: int, tol: float, init: str
) -> np.ndarray:
    """Approximate GSQ for variable blocks: argmin_{||d||_0 <= tau} g^T d + d^T M d / 2 by iterative
    hard thresholding with step 1/lambda_max(M) (official code ``IHT``). ``init="code"``
    starts from +g/sqrt(L) unthresholded; ``"gsd"`` from -g/L restricted to the GSD block."""
    if init == "code":
        d = g / np.sqrt(L)
    else:
        d = np.zeros_like(g)
        b = top(np.abs(g) / np.sqrt(L), tau)
        d[b] = -g[b] / L[b]
    b = top(np.abs(d), tau)
    d_old = d
    mu = 1.0 / lam_max
    for _ in range(iters):
        d = d - mu * (g + matvec(d))
        b = top(np.abs(d), tau)
        kept = np.zeros_like(d)
        kept[b] = d[b]
        d = kept
        if np.linalg.norm(d - d_old) < tol:
            break
        d_old = d
    return b
