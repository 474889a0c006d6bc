"""Greedy block coordinate descent (Nutini, Laradji, Schmidt, JMLR 2022): ``BCD`` (method "bcd"), its
strategy objects (``SELECTIONS``, ``UPDATES``, ``PARTITIONS``), the compiled Gram-form kernels, the
linear-time forest solve and the forest / colouring constructions used by its tree rules.
User guide: ``docs/bcd.md``."""

from .forest import forest_partition, forest_solve, greedy_colouring, greedy_forest
from .partitions import PARTITIONS, Partition
from .selections import SELECTIONS, Selection
from .solver import BCD
from .updates import UPDATES, Update

FIXED_PARTITIONS = tuple(name for name, p in PARTITIONS.items() if p.fixed)

__all__ = [
    "BCD",
    "FIXED_PARTITIONS",
    "PARTITIONS",
    "SELECTIONS",
    "UPDATES",
    "Partition",
    "Selection",
    "Update",
    "forest_partition",
    "forest_solve",
    "greedy_colouring",
    "greedy_forest",
]
