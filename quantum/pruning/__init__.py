"""Pruning torch layers: magnitude, Wanda, SparseGPT, CBS selection and iterative CBS (Rosenberg et al.,
2024) with cardinality-constrained QUBO blocks. Imported lazily (``import quantum`` stays torch-free)."""

from .api import prune
from .base import Pruner
from .blocks import step_schedule
from .cbs import CBS, cbs_select
from .icbs import ICBS
from .oneshot import Magnitude, SparseGPT, Wanda, keep_lowest_pruned, sparsegpt_layer, wanda_scores

__all__ = [
    "prune",
    "CBS",
    "cbs_select",
    "ICBS",
    "step_schedule",
    "Magnitude",
    "Pruner",
    "SparseGPT",
    "Wanda",
    "keep_lowest_pruned",
    "sparsegpt_layer",
    "wanda_scores",
]
