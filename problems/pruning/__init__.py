"""Pruning problems: one layer (``LayerPruning``) or a torch network (``NetworkPruning``)."""

from .layer import BlockTerms, LayerPruning, pruned_count, reconstruction_terms, swap_gap, taylor_terms
from .network import NetworkPruning, digits_pruning, digits_relu_mlp

__all__ = [
    "BlockTerms",
    "LayerPruning",
    "NetworkPruning",
    "digits_pruning",
    "digits_relu_mlp",
    "pruned_count",
    "reconstruction_terms",
    "swap_gap",
    "taylor_terms",
]
