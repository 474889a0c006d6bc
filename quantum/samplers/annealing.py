"""Simulated annealing and parallel tempering with incremental energy deltas (numba sweeps).

``SimulatedAnnealing().sample(qubo, num_reads=..., num_sweeps=1000, beta_range=None, seed=...)``:
each read starts from a uniformly random bitstring (or ``initial_states``) and does one Metropolis
sweep (bits 0..n-1 in order) per beta of a geometric schedule from ``beta_range[0]`` (hot) to
``beta_range[1]`` (cold); the default range is dwave-samplers' heuristic (``default_beta_range``),
so the same model and schedule can be run through both.

``ParallelTempering``: per read, ``num_replicas`` chains on a geometric beta ladder over the same
range; after each sweep neighbouring temperatures exchange states with probability
``min(1, exp((b_a - b_b)(E_a - E_b)))``; the best state ever visited is returned.
"""

from __future__ import annotations

import numpy as np

from problems.validation import as_int

from . import kernels
from .base import Sampler, SampleSet, beta_schedule, csr_arrays, rng_seeds
from .base import initial_states as start_states


class SimulatedAnnealing(Sampler):
    """Metropolis simulated annealing, dwave-samplers' parameters and default schedule.

    Example
    -------
    >>> from quantum import QUBO
    >>> q = QUBO([-1.0, -1.0], [[0.0, 2.0], [0.0, 0.0]])
    >>> SimulatedAnnealing().sample(q, num_reads=10, num_sweeps=100, seed=0).first.energy
    -1.0
    """

    parameters = {
        "num_sweeps": "sweeps per read (default 1000)",
        "beta_range": "(beta_hot, beta_cold); default: dwave-samplers' heuristic",
        "beta_schedule_type": "'geometric' (default) or 'linear'",
        "initial_states": "starting bitstrings (rows), default uniformly random",
    }

    def _sample(
        self,
        qubo,
        num_reads,
        rng,
        num_sweeps=1000,
        beta_range=None,
        beta_schedule_type="geometric",
        initial_states=None,
    ):
        betas = beta_schedule(qubo, num_sweeps, beta_range, beta_schedule_type)
        states = start_states(qubo, num_reads, rng, initial_states)
        seeds = rng_seeds(rng, num_reads)
        kernels.anneal(*csr_arrays(qubo), betas, states, seeds)
        return SampleSet(
            states,
            qubo.energies(states),
            info={
                "beta_range": (float(betas[0]), float(betas[-1])),
                "num_sweeps": len(betas),
                "spin_updates": num_reads * len(betas) * qubo.num_variables,
            },
        )


class ParallelTempering(Sampler):
    """Replica-exchange Monte Carlo; ``num_replicas`` temperatures (default 16) per read."""

    parameters = {
        "num_sweeps": "sweeps per replica (default 1000)",
        "beta_range": "(beta_hot, beta_cold) of the ladder; default: dwave-samplers' heuristic",
        "num_replicas": "temperatures per read (default 16)",
        "initial_states": "starting bitstrings (rows), default uniformly random",
    }

    def _sample(self, qubo, num_reads, rng, num_sweeps=1000, beta_range=None, num_replicas=16, initial_states=None):
        num_replicas = as_int(num_replicas, "num_replicas", low=2)
        num_sweeps = as_int(num_sweeps, "num_sweeps", low=1)
        betas = beta_schedule(qubo, num_replicas, beta_range)
        n = qubo.num_variables
        states = start_states(qubo, num_reads * num_replicas, rng, initial_states)
        states = np.ascontiguousarray(states.reshape(num_reads, num_replicas, n))
        best = np.empty((num_reads, n), dtype=np.int8)
        seeds = rng_seeds(rng, num_reads)
        kernels.temper(*csr_arrays(qubo), qubo.offset, betas, num_sweeps, states, seeds, best)
        return SampleSet(
            best,
            qubo.energies(best),
            info={"betas": betas, "num_sweeps": num_sweeps, "spin_updates": num_reads * num_replicas * num_sweeps * n},
        )
