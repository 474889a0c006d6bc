"""Pieces every optimizer of ``optim.nn`` shares: argument checks, closures, gradients, weight decay.

Conventions (see ``docs/optimizers.md``): hyper-parameters live in ``param_groups``; ``p.grad``
is never written to (``maximize`` negates into a new tensor); parameters without a gradient are
skipped; decoupled weight decay ``p <- p (1 - lr wd)`` ("lr_coupled", torch AdamW style) or
``p <- p (1 - wd)`` ("fixed", pytorch-optimizer's ``fixed_decay``) is applied before the update.
"""

from __future__ import annotations

import torch

from problems.validation import as_choice, as_real

DECAY_MODES = ("lr_coupled", "fixed")
STATE_DTYPES = (None, torch.bfloat16, torch.float16, torch.float32, torch.float64)


def check_lr(lr):
    """A float ``lr >= 0``, or (as torch.optim accepts) a one-element tensor holding one, kept as a tensor."""
    if isinstance(lr, torch.Tensor):
        if lr.numel() != 1 or not lr.dtype.is_floating_point:
            raise ValueError(f"lr as a tensor must hold one floating-point value, got shape {tuple(lr.shape)}")
        as_real(float(lr), "lr", low=0.0)
        return lr
    return as_real(lr, "lr", low=0.0)


def lr_of(group) -> float:
    """The group's learning rate as a float (a tensor lr is read once per step)."""
    lr = group["lr"]
    return float(lr) if isinstance(lr, torch.Tensor) else lr


def check_beta(beta, name: str) -> float:
    return as_real(beta, name, low=0.0, high=1.0, high_open=True)


def check_betas(betas) -> tuple[float, float]:
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise TypeError(f"betas must be a pair (beta1, beta2), got {betas!r}")
    return check_beta(betas[0], "betas[0]"), check_beta(betas[1], "betas[1]")


def check_common(weight_decay, decay_mode, state_dtype, foreach, maximize) -> dict:
    """Validated shared options, as a dict for ``defaults``."""
    if state_dtype not in STATE_DTYPES:
        raise ValueError(f"state_dtype must be None or a floating torch dtype, got {state_dtype!r}")
    for flag, name in ((foreach, "foreach"), (maximize, "maximize")):
        if flag not in (None, True, False) or (name == "maximize" and flag is None):
            raise TypeError(f"{name} must be {'True, False or None' if name == 'foreach' else 'a bool'}, got {flag!r}")
    return dict(
        weight_decay=as_real(weight_decay, "weight_decay", low=0.0),
        decay_mode=as_choice(decay_mode, "decay_mode", DECAY_MODES),
        state_dtype=state_dtype,
        foreach=foreach,
        maximize=maximize,
    )


def evaluate_closure(closure):
    """Loss from ``closure`` (called with gradients enabled), or None."""
    if closure is None:
        return None
    with torch.enable_grad():
        return closure()


def params_with_grads(group) -> tuple[list, list[torch.Tensor] | tuple[torch.Tensor, ...]]:
    """Parameters of ``group`` that have a gradient, and their gradients (negated copies if maximizing)."""
    params = [p for p in group["params"] if p.grad is not None]
    grads: list[torch.Tensor] | tuple[torch.Tensor, ...] = [p.grad for p in params]
    if any(g.is_sparse for g in grads):
        raise RuntimeError("sparse gradients are not supported")
    if group["maximize"]:
        grads = torch._foreach_neg(grads) if grads else []
    return params, grads


def use_foreach(group, params) -> bool:
    """The ``foreach`` flag resolved. None: foreach on accelerators when all tensors share device and
    dtype (as torch.optim), the for-loop on CPU, where one tensor at a time stays in cache and was
    measured faster than the multi-tensor kernels (benchmarks/optimizers.py)."""
    if group["foreach"] is not None:
        return group["foreach"]
    kinds = {(p.device, p.dtype) for p in params}
    return len(kinds) == 1 and next(iter(kinds))[0].type != "cpu"


def decay_factor(group) -> float | None:
    """Multiplier ``1 - lr wd`` (or ``1 - wd``) of decoupled weight decay, None if there is none."""
    wd = group["weight_decay"]
    if wd == 0:
        return None
    return 1.0 - (lr_of(group) * wd if group["decay_mode"] == "lr_coupled" else wd)


def apply_decay(group, params, foreach: bool) -> None:
    factor = decay_factor(group)
    if factor is None or not params:
        return
    if foreach:
        torch._foreach_mul_(params, factor)
    else:
        for p in params:
            p.mul_(factor)


def state_buffer(optimizer, p, name: str, dtype):
    """The state tensor ``name`` of ``p`` (zeros on first use, in ``dtype`` or the param's dtype)."""
    state = optimizer.state[p]
    if name not in state:
        state[name] = torch.zeros_like(p, dtype=dtype or p.dtype, memory_format=torch.preserve_format)
    return state[name]


def compute_view(buf, p):
    """``buf`` in the parameter's dtype (a float copy when the state is stored in lower precision)."""
    return buf if buf.dtype == p.dtype else buf.to(p.dtype)


def store_back(buf, value) -> None:
    """Write an updated float ``value`` back into a lower-precision state ``buf`` (no-op if same)."""
    if value is not buf:
        buf.copy_(value)


class GroupOptimizer(torch.optim.Optimizer):
    """The step loop of every optimizer here: evaluate the closure, then ``_update(group, params,
    grads)`` for each group with at least one gradient. ``group_checks`` validates per-group overrides."""

    group_checks: dict = {}

    def add_param_group(self, param_group):
        for key, check in self.group_checks.items():
            if key in param_group:
                param_group[key] = check(param_group[key])
        super().add_param_group(param_group)

    @torch.no_grad()
    def step(self, closure=None):
        loss = evaluate_closure(closure)
        for group in self.param_groups:
            params, grads = params_with_grads(group)
            if params:
                self._update(group, params, grads)
        return loss

    def _update(self, group, params, grads):  # pragma: no cover - interface
        raise NotImplementedError
