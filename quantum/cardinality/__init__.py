"""Cardinality-constrained QUBOs (minimise a QUBO subject to ``sum(x) = k``) and their inner solvers."""

from .model import CUTOFF_MODES, CardinalityQUBO
from .solvers import METHODS, CardinalityResult, sa_betas, solve_cardinality

__all__ = ["CUTOFF_MODES", "METHODS", "CardinalityQUBO", "CardinalityResult", "sa_betas", "solve_cardinality"]
