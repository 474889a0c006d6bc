"""Tabu search (single-flip, best admissible move, aspiration by the best energy found).

Each read starts from a random bitstring and runs ``num_iterations`` moves (default ``100 n``);
a flipped bit stays tabu for ``tenure`` moves (default ``min(20, n // 4)``), the short-term memory
of Glover's tabu search as used for QUBO by Glover, Kochenberger and Alidaee (1998) and
dwave-tabu. Returns the best state of each read.
"""

from __future__ import annotations

import numpy as np

from problems.validation import as_int

from . import kernels
from .base import Sampler, SampleSet, csr_arrays, rng_seeds
from .base import initial_states as start_states


class Tabu(Sampler):
    """Single-flip tabu search."""

    parameters = {
        "num_iterations": "moves per read (default 100 n)",
        "tenure": "moves a flipped bit stays tabu (default min(20, n // 4))",
        "initial_states": "starting bitstrings (rows), default uniformly random",
    }

    def _sample(self, qubo, num_reads, rng, num_iterations=None, tenure=None, initial_states=None):
        n = qubo.num_variables
        num_iterations = as_int(100 * n if num_iterations is None else num_iterations, "num_iterations", low=1)
        tenure = as_int(min(20, n // 4) if tenure is None else tenure, "tenure", low=0, high=max(n - 1, 0))
        states = start_states(qubo, num_reads, rng, initial_states)
        rng_seeds(rng, num_reads)  # keep the stream aligned with the annealers
        best = np.empty_like(states)
        kernels.tabu(*csr_arrays(qubo), qubo.offset, num_iterations, tenure, states, best)
        return SampleSet(best, qubo.energies(best), info={"num_iterations": num_iterations, "tenure": tenure})
