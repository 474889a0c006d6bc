"""Pruning torch layers: magnitude, Wanda, SparseGPT, CBS selection and iterative CBS (Rosenberg et al.,
2024) with cardinality-constrained QUBO blocks. Imported lazily (``import quantum`` stays torch-free)."""

from .base import Pruner
from .oneshot import Magnitude, SparseGPT, Wanda, keep_lowest_pruned, sparsegpt_layer, wanda_scores

__all__ = ["Magnitude", "Pruner", "SparseGPT", "Wanda", "keep_lowest_pruned", "sparsegpt_layer", "wanda_scores"]
