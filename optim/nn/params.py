"""``split_params``: which parameters a matrix optimizer (Muon, AuON) gets and which go to AdamW."""

from __future__ import annotations

import torch


def split_params(model, *, embed_names=("embed",), head_names=("head", "lm_head")):
    """``(matrix_params, other_params)`` of ``model``.

    ``matrix_params``: parameters with ``ndim >= 2`` in the body of the network (hidden layers);
    ``other_params``: everything else, i.e. biases, norm gains, embeddings (parameters of an
    ``nn.Embedding`` or with a dotted-name component containing one of ``embed_names``) and the output
    head: a dotted-name component equal to one of ``head_names``, or, in an ``nn.Sequential``, the last
    module that holds parameters (its output layer, whatever its name). Tied weights are counted once
    (``named_parameters()`` de-duplicates), in the group of their first name. Frozen parameters
    (``requires_grad=False``) are left out.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    embedding_params = {
        id(p) for m in model.modules() if isinstance(m, torch.nn.Embedding) for p in m.parameters(recurse=False)
    }
    head_params = _sequential_output_params(model)
    matrices, others = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        parts = name.split(".")
        excluded = (
            id(p) in embedding_params
            or id(p) in head_params
            or any(e in part for part in parts for e in embed_names)
            or any(part in head_names for part in parts)
        )
        (others if excluded or p.ndim < 2 else matrices).append(p)
    return matrices, others


def _sequential_output_params(model) -> set[int]:
    """Ids of the parameters of a ``Sequential``'s output layer: the last module owning parameters."""
    if not isinstance(model, torch.nn.Sequential):
        return set()
    last = None
    for module in model.modules():
        if next(module.parameters(recurse=False), None) is not None:
            last = module
    return set() if last is None else {id(p) for p in last.parameters(recurse=False)}
