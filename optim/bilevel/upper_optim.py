"""A torch optimizer as the upper step of the BSVRB solvers (for problems whose upper variable is a model).

Instead of x_t+1 = x_t - eta z_t, the upper direction z_t (the STORM estimate of the hypergradient) is written
into the ``.grad`` of the model's parameter tensors and a ``torch.optim.Optimizer`` takes the step. With Adam
(Kingma and Ba, 2015) this is how the released top-K NDCG run of Hu et al. (ICML 2023) trains its recommender:
Adam with learning rate 4e-4 and weight decay 1e-7 on the model, fed a variance-corrected gradient.

A problem qualifies when it declares ``parameter_shapes``: an ordered ``{name: shape}`` whose sizes add up to
``dim_x``, x being the concatenation of the flattened tensors. The parameters are float64 leaf tensors owned by
the solver's state (one per named tensor, so per-tensor parameter groups are possible through a factory); they
are loaded from the iterate before and copied out after every step. Adam and SGD are deterministic, so runs
repeat with a seed.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

NAMED = ("adam", "sgd")


def check_upper_optimizer(choice, options) -> tuple[str | Callable | None, dict]:
    """Validate the ``upper_optimizer`` option ("adam", "sgd", a factory ``params -> Optimizer`` or None) and
    ``upper_optimizer_options`` (a dict of keyword arguments for the named optimizers)."""
    if choice is None:
        if options:
            raise ValueError("upper_optimizer_options needs upper_optimizer ('adam', 'sgd' or a factory)")
        return None, {}
    if isinstance(choice, str):
        choice = choice.lower()
        if choice not in NAMED:
            raise ValueError(f"upper_optimizer must be one of {list(NAMED)} or a callable, got {choice!r}")
    elif not callable(choice):
        raise TypeError(
            f"upper_optimizer must be 'adam', 'sgd' or a callable params -> torch.optim.Optimizer, got {type(choice)}"
        )
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise TypeError(f"upper_optimizer_options must be a dict, got {type(options).__name__}")
    if options and callable(choice):
        raise ValueError("upper_optimizer_options is for 'adam'/'sgd'; a factory sets its own options")
    return choice, dict(options)


def parameter_shapes(problem) -> dict:
    """The problem's ``{name: shape}`` of its model tensors (``TypeError`` when x is not a model's parameters)."""
    shapes = getattr(problem, "parameter_shapes", None)
    if shapes is None:
        raise TypeError(
            f"upper_optimizer needs a problem whose upper variable is a torch model's parameters (one that "
            f"declares parameter_shapes); {type(problem).__name__} does not: use the plain step (upper_step)"
        )
    shapes = dict(shapes)
    if sum(int(np.prod(s)) for s in shapes.values()) != problem.dim_x:
        raise ValueError(f"parameter_shapes of {type(problem).__name__} must add up to dim_x = {problem.dim_x}")
    return shapes


class UpperOptimizer:
    """The model tensors and the torch optimizer of one run; ``step(x, z)`` returns the new flat iterate.

    The parameter tensors are views of one flat float64 buffer and their gradients views of another, so
    loading x and z costs one copy each and reading the result one copy."""

    def __init__(self, choice, options: dict, lr: float, shapes: dict, x: np.ndarray):
        import torch

        self.flat = torch.tensor(np.asarray(x, dtype=float), dtype=torch.float64)
        self.grad = torch.zeros_like(self.flat)
        self.params = []
        at = 0
        for shape in shapes.values():
            size = int(np.prod(shape))
            p = torch.nn.Parameter(self.flat[at : at + size].view(shape))
            p.grad = self.grad[at : at + size].view(shape)
            self.params.append(p)
            at += size
        if callable(choice):
            opt = choice(self.params)
            if not isinstance(opt, torch.optim.Optimizer):
                raise TypeError(f"the upper_optimizer factory must return a torch.optim.Optimizer, got {type(opt)}")
        else:
            cls = torch.optim.Adam if choice == "adam" else torch.optim.SGD
            kwargs = {"lr": lr, **options}
            try:
                opt = cls(self.params, **kwargs)
            except (TypeError, ValueError) as err:
                raise ValueError(
                    f"upper_optimizer_options {options} rejected by torch.optim.{cls.__name__}: {err}"
                ) from None
        self.opt = opt

    def step(self, x: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Load the parameters from x and their gradients from z, take one optimizer step, return the new flat
        x (a fresh array; x and z are not modified)."""
        import torch

        with torch.no_grad():
            self.flat.copy_(torch.from_numpy(np.asarray(x, dtype=float)))
            self.grad.copy_(torch.from_numpy(np.asarray(z, dtype=float)))
        self.opt.step()
        return self.flat.numpy().copy()
