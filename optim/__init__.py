"""Optarium solvers: how problems are solved.

``optim.solve(problem, method=...)`` runs a registered solver and returns a ``Result``;
``optim.solvers(problem)`` lists the methods that accept a problem; ``optim.compare(...)`` runs
several side by side. Solver families live in sub-packages and are imported on first use.
"""

from .base import Solver, State, as_generator
from .compare import Comparison, Suite, compare
from .first_order import FISTA, GradientDescent
from .registry import METHODS, SUITES, make_solver, solve, solver_class, solvers, suite
from .result import STATUS_MESSAGES, History, Result

__all__ = [
    "Solver",
    "State",
    "as_generator",
    "Comparison",
    "Suite",
    "compare",
    "FISTA",
    "GradientDescent",
    "METHODS",
    "SUITES",
    "make_solver",
    "solve",
    "solver_class",
    "solvers",
    "suite",
    "STATUS_MESSAGES",
    "History",
    "Result",
]
__version__ = "0.1.0"
