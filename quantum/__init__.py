"""Optarium quantum-inspired optimization: QUBO models, encodings, samplers, pruning.

``QUBO`` (energies, Ising map, dimod conversion); ``encode_slack`` (the qiskit-optimization
baseline) and ``encode_lagrangian`` (slack-free); ``quantum.samplers``; the multiplier methods in
``quantum.multipliers`` are solvers run through ``optim.solve(problem, method=...)``.
"""

from . import samplers
from .encodings import Encoding, LagrangianModel, encode_lagrangian, encode_slack
from .qubo import QUBO

__all__ = ["QUBO", "Encoding", "LagrangianModel", "encode_lagrangian", "encode_slack", "samplers"]
