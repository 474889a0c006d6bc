"""numba kernels (``cache=True``) for the sequential sweeps: simulated annealing, parallel tempering
and tabu search on a QUBO given by its linear part and the CSR of ``Q + Q^T``.

Local fields ``F_i = linear_i + sum_j Qsym_ij x_j``; flipping bit i changes the energy by
``(1 - 2 x_i) F_i`` and, once accepted, adds ``+-Qsym_ij`` to the neighbours' fields.
Random numbers come from xorshift128+ (Vigna 2017), one stream per read, as in dwave-samplers.
A flip whose ``beta * dE`` exceeds 40 is rejected without drawing (its acceptance probability
exp(-40) < 2^-53 is below the resolution of the uniform draw).
"""

from __future__ import annotations

import numpy as np
from numba import njit

_SKIP = 40.0
_TO_UNIT = 1.0 / 9007199254740992.0  # 2^-53


@njit(cache=True, inline="always")
def xorshift128plus(state):
    """Next 53-bit draw of the xorshift128+ generator whose two-word ``state`` is updated in place."""
    s1 = state[0]
    s0 = state[1]
    state[0] = s0
    s1 ^= s1 << np.uint64(23)
    state[1] = s1 ^ s0 ^ (s1 >> np.uint64(17)) ^ (s0 >> np.uint64(26))
    return (state[1] + s0) >> np.uint64(11)


@njit(cache=True)
def _fields(indptr, indices, data, linear, x, field):
    n = linear.shape[0]
    for i in range(n):
        field[i] = linear[i]
    for i in range(n):
        if x[i]:
            for k in range(indptr[i], indptr[i + 1]):
                field[indices[k]] += data[k]


@njit(cache=True)
def _energy(linear, offset, x, field):
    # E = offset + sum_i x_i (linear_i + F_i) / 2, since F_i - linear_i = sum_j Qsym_ij x_j
    e = offset
    for i in range(linear.shape[0]):
        if x[i]:
            e += 0.5 * (linear[i] + field[i])
    return e


@njit(cache=True, inline="always")
def _flip(indptr, indices, data, x, field, i):
    """Flip bit i and add +-Qsym[i, :] to the neighbours' local fields."""
    d = 1.0 - 2.0 * x[i]
    x[i] = 1 - x[i]
    for k in range(indptr[i], indptr[i + 1]):
        field[indices[k]] += d * data[k]


@njit(cache=True, inline="always")
def _sweep(indptr, indices, data, x, field, beta, rng):
    n = x.shape[0]
    skip = _SKIP / beta
    de_total = 0.0
    for i in range(n):
        de = field[i] if x[i] == 0 else -field[i]
        if de > 0.0:
            if de >= skip:
                continue
            if np.exp(-beta * de) * 9007199254740992.0 <= float(xorshift128plus(rng)):
                continue
        _flip(indptr, indices, data, x, field, i)
        de_total += de
    return de_total


@njit(cache=True)
def anneal(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    linear: np.ndarray,
    betas: np.ndarray,
    states: np.ndarray,
    seeds: np.ndarray,
) -> None:
    """Simulated annealing in place on ``states`` (reads x n), one sweep per beta."""
    n = linear.shape[0]
    field = np.empty(n)
    rng = np.empty(2, dtype=np.uint64)
    for r in range(states.shape[0]):
        x = states[r]
        rng[0] = seeds[r, 0]
        rng[1] = seeds[r, 1]
        _fields(indptr, indices, data, linear, x, field)
        for s in range(betas.shape[0]):
            _sweep(indptr, indices, data, x, field, betas[s], rng)


@njit(cache=True)
def temper(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    linear: np.ndarray,
    offset: float,
    betas: np.ndarray,
    num_sweeps: int,
    states: np.ndarray,
    seeds: np.ndarray,
    best: np.ndarray,
) -> np.ndarray:
    """Parallel tempering: for each read, ``len(betas)`` replicas (rows of ``states[r]``) sweep at
    their temperatures, then neighbours swap with probability ``min(1, exp((b_a - b_b)(E_a - E_b)))``
    (alternating even and odd pairs). ``best[r]`` receives the best state ever seen; returns energies."""
    reads, T, n = states.shape
    fields = np.empty((T, n))
    energy = np.empty(T)
    slot = np.empty(T, dtype=np.int64)  # slot[t] = replica held at temperature t
    rng = np.empty(2, dtype=np.uint64)
    best_e = np.empty(reads)
    for r in range(reads):
        rng[0] = seeds[r, 0]
        rng[1] = seeds[r, 1]
        for t in range(T):
            _fields(indptr, indices, data, linear, states[r, t], fields[t])
            energy[t] = _energy(linear, offset, states[r, t], fields[t])
            slot[t] = t
        b = 0
        for t in range(T):
            if energy[t] < energy[b]:
                b = t
        best_e[r] = energy[b]
        best[r] = states[r, b]
        for s in range(num_sweeps):
            for t in range(T):
                k = slot[t]
                energy[k] += _sweep(indptr, indices, data, states[r, k], fields[k], betas[t], rng)
                if energy[k] < best_e[r] - 1e-12:
                    best_e[r] = energy[k]
                    best[r] = states[r, k]
            for t in range(s % 2, T - 1, 2):
                a, c = slot[t], slot[t + 1]
                arg = (betas[t] - betas[t + 1]) * (energy[a] - energy[c])
                if arg >= 0.0 or np.exp(arg) * 9007199254740992.0 > float(xorshift128plus(rng)):
                    slot[t], slot[t + 1] = c, a
    return best_e


@njit(cache=True)
def tabu(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    linear: np.ndarray,
    offset: float,
    num_iterations: int,
    tenure: int,
    states: np.ndarray,
    best: np.ndarray,
) -> np.ndarray:
    """Single-flip tabu search (best admissible move each iteration; a tabu move is admissible when
    it improves on the best energy found: aspiration). ``best[r]`` gets the best state; returns energies."""
    reads, n = states.shape
    field = np.empty(n)
    until = np.empty(n, dtype=np.int64)
    best_e = np.empty(reads)
    for r in range(reads):
        x = states[r]
        _fields(indptr, indices, data, linear, x, field)
        e = _energy(linear, offset, x, field)
        best_e[r] = e
        best[r] = x
        for i in range(n):
            until[i] = -1
        for it in range(num_iterations):
            pick = -1
            pick_de = np.inf
            for i in range(n):
                de = field[i] if x[i] == 0 else -field[i]
                if until[i] >= it and e + de >= best_e[r] - 1e-12:
                    continue
                if de < pick_de:
                    pick_de = de
                    pick = i
            if pick < 0:
                continue
            _flip(indptr, indices, data, x, field, pick)
            e += pick_de
            until[pick] = it + tenure
            if e < best_e[r] - 1e-12:
                best_e[r] = e
                best[r] = x
    return best_e
