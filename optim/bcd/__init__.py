"""Greedy block coordinate descent (Nutini, Laradji, Schmidt, JMLR 2022): ``BCD`` (method "bcd"),
the linear-time forest solve and the forest / colouring constructions used by its tree rules."""

from .forest import forest_partition, forest_solve, greedy_colouring, greedy_forest
from .solver import BCD, FIXED_PARTITIONS, PARTITIONS, SELECTIONS, UPDATES

__all__ = [
    "BCD",
    "forest_solve",
    "forest_partition",
    "greedy_colouring",
    "greedy_forest",
    "PARTITIONS",
    "FIXED_PARTITIONS",
    "SELECTIONS",
    "UPDATES",
]
