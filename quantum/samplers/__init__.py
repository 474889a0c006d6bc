"""Samplers with dimod's signature: ``sampler.sample(qubo, num_reads=..., seed=..., **parameters)``
returns a ``SampleSet`` sorted by energy (``.first.sample``, ``.first.energy``)."""

from .annealing import ParallelTempering, SimulatedAnnealing
from .base import Sample, Sampler, SampleSet, default_beta_range
from .exact import Exact, all_energies
from .tabu import Tabu
from .variational import QAOA, VQE

__all__ = [
    "Exact",
    "SimulatedAnnealing",
    "ParallelTempering",
    "Tabu",
    "QAOA",
    "VQE",
    "Sampler",
    "SampleSet",
    "Sample",
    "default_beta_range",
    "all_energies",
]
