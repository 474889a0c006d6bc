"""``prune(model_or_problem, density, method=...)``: the one-call front door of the pruners."""

from __future__ import annotations

from problems.pruning import LayerPruning, NetworkPruning

METHODS = ("magnitude", "wanda", "sparsegpt", "cbs", "icbs")


def prune(
    model_or_problem,
    density,
    method: str = "icbs",
    *,
    data=None,
    layers=None,
    test=None,
    loss="cross_entropy",
    **options,
):
    """Prune a ``torch.nn.Module`` (with ``data=(inputs, targets)``), a ``NetworkPruning`` or a
    ``LayerPruning`` to ``density`` with ``method``; ``options`` go to the pruner. Returns the
    ``Result`` (``x`` = flat keep mask, ``masks``, ``weights``, ``per_layer``, ``log``, ``density``).

    Example: ``prune(model, 0.5, "wanda", data=(X, y)).masks["fc1"]``."""
    from optim.registry import make_solver
    from problems.validation import as_choice

    method = as_choice(method, "method", METHODS)
    problem = model_or_problem
    if not isinstance(problem, (LayerPruning, NetworkPruning)):
        problem = NetworkPruning(model_or_problem, layers, loss, data, test=test, density=density)
    elif data is not None or layers is not None or test is not None:
        raise ValueError("data, layers and test are for a torch model; the problem already holds them")
    return make_solver(method, density=density, **options).solve(problem)
