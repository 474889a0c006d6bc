"""Problems for greedy block coordinate descent (BCD) and their block oracles.

Nutini, Laradji, Schmidt, "Let's Make Block Coordinate Descent Converge Faster: Faster Greedy Rules,
Message-Passing, Active-Set Complexity, and Superlinear Convergence", JMLR 23(131), 2022. The user guide
is ``docs/bcd.md``.

* ``protocol``: the ``BlockSmooth`` capability, ``BlockState`` and ``block_problem``;
* ``linear``: ``BlockLinearModel`` (block oracles of the foundation's linear models) and
  ``NonnegativeLasso``;
* ``label_propagation``: the harmonic label-propagation quadratic ``LabelPropagation``;
* ``datasets``: the paper's data sets A-E (``bcd_paper_problem``) and the named catalog builders.
"""

from .datasets import (
    PAPER_DATA_SETS,
    bcd_lattice,
    bcd_least_squares,
    bcd_logistic,
    bcd_moons,
    bcd_nonnegative_lasso,
    bcd_paper_problem,
    bcd_softmax,
    knn_graph,
    lattice_label_propagation,
    lattice_partitions,
    moons_label_propagation,
    moons_points,
)
from .label_propagation import LabelPropagation
from .linear import BlockLinearModel, NonnegativeLasso
from .protocol import BlockBounds, BlockSmooth, BlockState, block_problem

__all__ = [
    "PAPER_DATA_SETS",
    "BlockBounds",
    "BlockLinearModel",
    "BlockSmooth",
    "BlockState",
    "LabelPropagation",
    "NonnegativeLasso",
    "bcd_lattice",
    "bcd_least_squares",
    "bcd_logistic",
    "bcd_moons",
    "bcd_nonnegative_lasso",
    "bcd_paper_problem",
    "bcd_softmax",
    "block_problem",
    "knn_graph",
    "lattice_label_propagation",
    "lattice_partitions",
    "moons_label_propagation",
    "moons_points",
]
