"""numba kernels for the cardinality-constrained QUBO (dense symmetric ``S``, fields ``f = q + S x``).

A swap ``a`` (1 -> 0), ``b`` (0 -> 1) changes the energy by ``-f_a + f_b - S_ab`` and updates the fields
by ``f += S[b] - S[a]``. Random numbers: xorshift128+ as in ``quantum.samplers``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..samplers.kernels import xorshift128plus

_SKIP = 40.0
_TWO53 = 9007199254740992.0


@njit(cache=True)
def _setup(x, ones, zeros, pos):
    no = 0
    nz = 0
    for i in range(x.shape[0]):
        if x[i]:
            ones[no] = i
            pos[i] = no
            no += 1
        else:
            zeros[nz] = i
            pos[i] = nz
            nz += 1
    return no, nz


@njit(cache=True, inline="always")
def _apply_swap(S, x, field, ones, zeros, pos, a, b):
    ia = pos[a]
    ib = pos[b]
    ones[ia] = b
    pos[b] = ia
    zeros[ib] = a
    pos[a] = ib
    x[a] = 0
    x[b] = 1
    n = x.shape[0]
    for t in range(n):
        field[t] += S[b, t] - S[a, t]


@njit(cache=True)
def sa_card(S, linear, x0, e0, betas, sweeps, seeds, best):
    """Annealing with swap moves (Rosenberg et al., 2024, the official annealer's schedule): every
    restart starts from ``x0``; per beta, ``sweeps`` sweeps visit i = 0..n-1 and pair i with a uniformly
    random j of the opposite value; Metropolis acceptance; a restart stops after a temperature without an
    accepted non-zero move. ``best`` receives the best state (``x0`` included); returns (energy, proposals)."""
    n = x0.shape[0]
    k = 0
    for i in range(n):
        k += x0[i]
    best[:] = x0
    best_e = e0
    proposals = 0
    if k == 0 or k == n:
        return best_e, proposals
    x = np.empty(n, dtype=np.int8)
    field = np.empty(n)
    ones = np.empty(n, dtype=np.int64)
    zeros = np.empty(n, dtype=np.int64)
    pos = np.empty(n, dtype=np.int64)
    rng = np.empty(2, dtype=np.uint64)
    for r in range(seeds.shape[0]):
        rng[0] = seeds[r, 0]
        rng[1] = seeds[r, 1]
        x[:] = x0
        for i in range(n):
            f = linear[i]
            for j in range(n):
                if x0[j]:
                    f += S[i, j]
            field[i] = f
        no, nz = _setup(x, ones, zeros, pos)
        e = e0
        for t in range(betas.shape[0]):
            beta = betas[t]
            skip = _SKIP / beta
            moved = False
            for _s in range(sweeps):
                for i in range(n):
                    if x[i]:
                        a = i
                        b = zeros[np.int64(xorshift128plus(rng) % np.uint64(nz))]
                    else:
                        b = i
                        a = ones[np.int64(xorshift128plus(rng) % np.uint64(no))]
                    proposals += 1
                    de = field[b] - field[a] - S[a, b]
                    if de > 0.0:
                        if de >= skip:
                            continue
                        if np.exp(-beta * de) * _TWO53 <= float(xorshift128plus(rng)):
                            continue
                    _apply_swap(S, x, field, ones, zeros, pos, a, b)
                    e += de
                    if de != 0.0:
                        moved = True
                    if e < best_e - 1e-12 * (1.0 + abs(best_e)):
                        best_e = e
                        best[:] = x
            if not moved:
                break
    return best_e, proposals


@njit(cache=True)
def swap_descent(S, linear, x, max_iter):
    """Steepest 1-swap descent in place on ``x``; returns (total energy change, swaps made)."""
    n = x.shape[0]
    field = linear + S @ x.astype(np.float64)
    ones = np.empty(n, dtype=np.int64)
    zeros = np.empty(n, dtype=np.int64)
    pos = np.empty(n, dtype=np.int64)
    no, nz = _setup(x, ones, zeros, pos)
    total = 0.0
    it = 0
    while it < max_iter and no > 0 and nz > 0:
        best = 0.0
        ba = -1
        bb = -1
        for u in range(no):
            a = ones[u]
            for v in range(nz):
                b = zeros[v]
                de = field[b] - field[a] - S[a, b]
                if de < best:
                    best = de
                    ba = a
                    bb = b
        if ba < 0 or best > -1e-12 * (1.0 + abs(total)):
            break
        _apply_swap(S, x, field, ones, zeros, pos, ba, bb)
        total += best
        it += 1
    return total, it


@njit(cache=True)
def tabu_swap(S, linear, x, e0, iters, tenure, best):
    """Best non-tabu swap each iteration (both variables tabu for ``tenure`` iterations after moving;
    aspiration when a move beats the best energy). ``best`` receives the best state; returns its energy."""
    n = x.shape[0]
    field = linear + S @ x.astype(np.float64)
    ones = np.empty(n, dtype=np.int64)
    zeros = np.empty(n, dtype=np.int64)
    pos = np.empty(n, dtype=np.int64)
    no, nz = _setup(x, ones, zeros, pos)
    until = np.zeros(n, dtype=np.int64)
    best[:] = x
    best_e = e0
    e = e0
    if no == 0 or nz == 0:
        return best_e
    for it in range(1, iters + 1):
        mv = np.inf
        ba = -1
        bb = -1
        for u in range(no):
            a = ones[u]
            for v in range(nz):
                b = zeros[v]
                de = field[b] - field[a] - S[a, b]
                allowed = until[a] < it and until[b] < it
                if (allowed or e + de < best_e - 1e-12) and de < mv:
                    mv = de
                    ba = a
                    bb = b
        if ba < 0:  # every swap is tabu: take the best one regardless
            for u in range(no):
                for v in range(nz):
                    de = field[zeros[v]] - field[ones[u]] - S[ones[u], zeros[v]]
                    if de < mv:
                        mv = de
                        ba = ones[u]
                        bb = zeros[v]
        _apply_swap(S, x, field, ones, zeros, pos, ba, bb)
        e += mv
        until[ba] = it + tenure
        until[bb] = it + tenure
        if e < best_e - 1e-12 * (1.0 + abs(best_e)):
            best_e = e
            best[:] = x
    return best_e
