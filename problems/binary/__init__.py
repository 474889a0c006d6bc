"""Constrained binary problems: MDKP, MIS, TSP, QAP and market split (the ``ConstrainedBinary`` capability).

Each problem offers ``cost_terms`` and ``constraints`` (all an encoding needs), ``is_feasible``,
``repair`` (a greedy rule per problem), ``known_optimum`` (from the instance file or its published
table) and ``reference_solution()``, an exact optimum from scipy's HiGHS MILP for small instances.
Problems never import ``quantum``. See ``docs/qubo.md``.
"""

from .base import BinaryProblem, ConstrainedBinary, LinearConstraints, as_bits, bounded_coefficients, milp_reference
from .independent_set import MIS
from .instances import shipped_market_split, shipped_mdkp, shipped_mis, shipped_qap, shipped_tsp
from .knapsack import MDKP
from .market_split import MarketSplit
from .qap import QAP
from .tsp import TSP

__all__ = [
    "BinaryProblem",
    "ConstrainedBinary",
    "LinearConstraints",
    "MDKP",
    "MIS",
    "QAP",
    "TSP",
    "MarketSplit",
    "as_bits",
    "bounded_coefficients",
    "milp_reference",
    "shipped_market_split",
    "shipped_mdkp",
    "shipped_mis",
    "shipped_qap",
    "shipped_tsp",
]
