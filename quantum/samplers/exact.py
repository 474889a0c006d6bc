"""Exact solver: the energies of all ``2^n`` bitstrings by doubling, capped at
``max_variables`` (default 22: 4 M states, 32 MB of float64); a QUBO without quadratic terms is
separable and solved in closed form at any size (``x_i = 1`` iff ``linear_i < 0``; ties give 0).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from problems.validation import as_int

from ..qubo import QUBO
from .base import Sampler, SampleSet

MAX_VARIABLES = 22


def all_energies(qubo: QUBO, max_variables: int = MAX_VARIABLES) -> np.ndarray:
    """``E[k]`` for every basis index ``k = sum_i x_i 2^i`` (bit 0 least significant).

    Doubling: appending bit t maps ``E -> [E, E + q_t + sum_{i<t} Q_it x_i]``, and the linear form
    over the earlier bits is itself built by doubling.
    """
    n = qubo.num_variables
    if n > max_variables:
        raise ValueError(f"exact enumeration is capped at {max_variables} variables (2^n energies); got {n}")
    up = qubo.upper_csr().tocsc()
    E = np.array([qubo.offset])
    for t in range(n):
        col = np.zeros(t)
        rows = up.indices[up.indptr[t] : up.indptr[t + 1]]
        col[rows] = up.data[up.indptr[t] : up.indptr[t + 1]]
        form = np.zeros(1)
        for i in range(t):
            form = np.concatenate([form, form + col[i]])
        E = np.concatenate([E, E + qubo.linear[t] + form])
    return E


def index_bits(index: Any, n: int) -> np.ndarray:
    """Bitstrings (rows, int8) of basis indices (bit i = (k >> i) & 1)."""
    k = np.asarray(index, dtype=np.int64)
    return ((k[:, None] >> np.arange(n)) & 1).astype(np.int8)


class Exact(Sampler):
    """The ``num_reads`` lowest-energy bitstrings (all of them at most), exactly.

    ``num_reads`` here counts distinct states, each with one occurrence.
    """

    parameters = {"max_variables": f"enumeration cap (default {MAX_VARIABLES})"}

    def _sample(self, qubo, num_reads, rng, max_variables=MAX_VARIABLES):
        max_variables = as_int(max_variables, "max_variables", low=0, high=40)
        n = qubo.num_variables
        if qubo.num_interactions == 0:
            x = (qubo.linear < 0).astype(np.int8)[None, :]
            return SampleSet(x, qubo.energies(x), info={"method": "separable"})
        E = all_energies(qubo, max_variables)
        k = min(num_reads, len(E))
        idx = np.argpartition(E, k - 1)[:k] if k < len(E) else np.arange(len(E))
        return SampleSet(index_bits(idx, n), E[idx], info={"method": "enumeration"})
