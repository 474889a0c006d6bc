"""Lion and the Lion-K family.

Lion (X. Chen et al., "Symbolic Discovery of Optimization Algorithms", NeurIPS 2023, Algorithm 2;
google/automl ``lion/``): with m the EMA of gradients (state ``exp_avg``),

    p <- p (1 - lr wd)                        decoupled weight decay, current lr
    c  = beta1 m + (1 - beta1) g              the OLD momentum
    p <- p - lr sign(c)                       sign(0) = 0
    m <- beta2 m + (1 - beta2) g              momentum updated AFTER the parameter

Lion-K (L. Chen, B. Liu, K. Liang, Q. Liu, "Lion Secretly Solves Constrained Optimization: As
Lyapunov Predicts", ICLR 2024, eqs. (1)-(2)) replaces sign by the (sub)gradient of a convex K:
``p <- p (1 - lr wd) - lr grad_K(c)``. With lr-coupled decay it minimises
``f(x) + (1/wd) K*(wd x)``; for a norm K this is ``min f s.t. ||x||_dual <= 1/wd`` (the box
``||x||_inf <= 1/wd`` for Lion). K acts on each parameter tensor as one block.

The paper writes m as an EMA of the NEGATIVE gradient; in torch convention (m = EMA of +g) the two
agree when grad_K is odd, which holds for every built-in K. A user callable is applied as
``-K(-c)``, which is the paper's rule for any K.
"""

from __future__ import annotations

import functools

import torch

from problems.validation import as_real, suggest

from . import _common as C

# ----------------------------------------------------------------------------- the K table
# Each entry maps a (fresh, may be overwritten) tensor v to grad K(v); all are odd.


def _surface_nan(direction, v):
    """``direction + 0 * v``: a NaN or inf in ``v`` becomes NaN in the update (torch's ``sign(nan)`` is 0,
    which would silently freeze the parameter; AdamW lets the NaN reach the parameter)."""
    return direction.add_(v.mul_(0.0))


def _sign(v):
    return _surface_nan(torch.sign(v), v)


def _l2(v):
    """K = ||v||_2 (Frobenius for a matrix): v / ||v|| (0 at v = 0)."""
    return v.div_(torch.linalg.vector_norm(v).clamp_min(torch.finfo(v.dtype).tiny))


def _lp_norm(p):
    """K = ||v||_p: sign(v) (|v| / ||v||_p)^(p-1); constraint ||x||_q <= 1/wd, 1/p + 1/q = 1."""

    def grad_k(v):
        n = torch.linalg.vector_norm(v, ord=p).clamp_min(torch.finfo(v.dtype).tiny)
        return v.abs().div_(n).pow_(p - 1).mul_(v.sign())

    return grad_k


def _lp_power(p):
    """K = (1/p) ||v||_p^p (separable): sign(v) |v|^(p-1); penalty (1/q) ||wd x||_q^q / wd."""

    def grad_k(v):
        return v.abs().pow_(p - 1).mul_(v.sign())

    return grad_k


def _linf(v):
    """K = ||v||_inf: sign(v_i) e_i on the argmax set, ties split evenly; constraint ||x||_1 <= 1/wd."""
    a = v.abs()
    mask = a == a.max()
    return _surface_nan(v.sign().mul_(mask).div_(mask.sum().clamp_min(1)), v)


def _quadratic(v):
    """K = ||v||^2 / 2: the identity (SGD-momentum with weight decay; ridge penalty wd/2 ||x||^2)."""
    return v


def _clip(v):
    """K = sum huber_1(v_i): clip(v, -1, 1); ridge penalty inside the box ||x||_inf <= 1/wd."""
    return v.clamp_(-1.0, 1.0)


def _deadzone(threshold):
    """K = sum max(|v_i| - e, 0): sign(v) 1[|v| > e]; adds e ||x||_1 inside the box."""

    def grad_k(v):
        return _surface_nan(v.sign().mul_(v.abs() > threshold), v)

    return grad_k


def _softsign(delta):
    """K = sum sqrt(v_i^2 + delta^2): v / sqrt(v^2 + delta^2); a smooth barrier version of the box."""

    def grad_k(v):
        return v.div(v.square().add_(delta * delta).sqrt_())

    return grad_k


def _nuclear(v):
    """K = ||V||_* of the matrix view (shape[0], -1): the polar factor U W^T of V = U S W^T
    (exact SVD; Muon approximates it by Newton-Schulz). Constraint ||X||_op <= 1/wd. A vector is
    a 1-row matrix, whose nuclear norm is ||v||_2."""
    if v.ndim < 2:
        return _l2(v)
    m = v.reshape(v.shape[0], -1)
    u, s, wh = torch.linalg.svd(m, full_matrices=False)
    return (u @ wh).mul_((s[0] > 0).to(v.dtype)).reshape(v.shape)


#: name -> (factory taking the options, required option names). ``frobenius`` is ``l2``.
K_TABLE = {
    "sign": (lambda: _sign, ()),
    "l2": (lambda: _l2, ()),
    "frobenius": (lambda: _l2, ()),
    "lp_norm": (_lp_norm, ("p",)),
    "lp_power": (_lp_power, ("p",)),
    "linf": (lambda: _linf, ()),
    "quadratic": (lambda: _quadratic, ()),
    "clip": (lambda: _clip, ()),
    "deadzone": (_deadzone, ("threshold",)),
    "softsign": (_softsign, ("delta",)),
    "nuclear": (lambda: _nuclear, ()),
}

_OPTION_CHECKS = {
    "p": lambda v: as_real(v, "K_options['p']", low=1.0, high=2.0),
    "threshold": lambda v: as_real(v, "K_options['threshold']", low=0.0),
    "delta": lambda v: as_real(v, "K_options['delta']", low=0.0, low_open=True),
}


def check_k(K, K_options) -> dict:
    """Validated ``K`` and ``K_options`` (clear errors for unknown names and missing options)."""
    options = {} if K_options is None else dict(K_options)
    if callable(K):
        if options:
            raise ValueError("K_options only apply to a named K; pass a configured callable instead")
        return options
    if not isinstance(K, str) or K not in K_TABLE:
        raise ValueError(
            f"K must be one of {sorted(K_TABLE)} or a callable, got {K!r}"
            f"{suggest(K, K_TABLE) if isinstance(K, str) else ''}"
        )
    required = K_TABLE[K][1]
    unknown = sorted(set(options) - set(required))
    missing = [name for name in required if name not in options]
    if unknown or missing:
        raise ValueError(
            f"K={K!r} takes K_options {list(required) or 'none'}; "
            f"{'unknown ' + str(unknown) if unknown else 'missing ' + str(missing)}"
        )
    return {name: _OPTION_CHECKS[name](value) for name, value in options.items()}


def direction_function(K, K_options):
    """``v -> grad K(v)`` for a name of ``K_TABLE``, or ``v -> -K(-v)`` for a user callable."""
    if callable(K):
        return lambda v: K(v.neg_()).neg()
    factory = K_TABLE[K][0]
    return factory(**(K_options or {}))


# ----------------------------------------------------------------------------- optimizers
class LionK(C.GroupOptimizer):
    """Lion-K: ``p <- p (1 - lr wd) - lr grad_K(beta1 m + (1 - beta1) g)``, ``m <- beta2 m + (1 - beta2) g``.

    Parameters
    ----------
    params : iterable of tensors or param-group dicts
    lr : learning rate (>= 0); default 1e-4
    betas : (beta1, beta2) in [0, 1): beta1 weights the old momentum in the direction, beta2 the memory
    weight_decay : decoupled decay wd >= 0; with ``decay_mode="lr_coupled"`` the constraint radius is
        1/wd whatever the lr schedule; ``"fixed"`` multiplies by (1 - wd) (radius lr/wd)
    K : a name of ``K_TABLE`` ("sign" (Lion), "l2"/"frobenius", "lp_norm", "lp_power", "linf",
        "quadratic", "clip", "deadzone", "softsign", "nuclear") or a callable grad_K on one tensor
    K_options : options of a named K: ``{"p": ...}`` for lp_norm / lp_power (1 <= p <= 2),
        ``{"threshold": e}`` for deadzone, ``{"delta": d}`` for softsign
    state_dtype : None (param dtype) or e.g. ``torch.bfloat16`` to store ``exp_avg`` in lower
        precision (the update is computed in the param dtype and cast on store)
    foreach : use the multi-tensor ``torch._foreach_*`` kernels (None: on accelerators, not on CPU); the
        for-loop path uses mul/add like google/automl and lion-pytorch (bit-identical to them), the
        foreach path ``lerp`` like pytorch-optimizer (same values up to rounding, fewer passes)
    maximize : ascend instead of descend
    compile : (Lion only) one fused ``torch.compile`` kernel per tensor (read p, g, m; write p, m);
        the first step compiles (tens of seconds on CPU), later steps were ~4x faster than the eager
        paths and slightly faster than torch's fused AdamW on CPU (benchmarks/optimizers.py)

    ``K="sign"`` is Lion bit for bit.
    """

    group_checks = {"lr": C.check_lr, "betas": C.check_betas}

    def __init__(
        self,
        params,
        lr=1e-4,
        betas=(0.9, 0.99),
        weight_decay=0.0,
        K="sign",
        K_options=None,
        *,
        decay_mode="lr_coupled",
        state_dtype=None,
        foreach=None,
        maximize=False,
        compile=False,
    ):
        if not isinstance(compile, bool):
            raise TypeError(f"compile must be a bool, got {compile!r}")
        if compile and K != "sign":
            raise ValueError("compile=True is available for K='sign' (Lion) only")
        defaults = dict(
            lr=C.check_lr(lr),
            betas=C.check_betas(betas),
            K=K,
            K_options=check_k(K, K_options),
            compile=compile,
            **C.check_common(weight_decay, decay_mode, state_dtype, foreach, maximize),
        )
        super().__init__(params, defaults)
        self._lr_tensors = {}

    def add_param_group(self, param_group):
        if "K" in param_group or "K_options" in param_group:
            param_group["K_options"] = check_k(param_group.get("K", self.defaults["K"]), param_group.get("K_options"))
        super().add_param_group(param_group)

    def _update(self, group, params, grads):
        lr, (beta1, beta2) = C.lr_of(group), group["betas"]
        foreach = C.use_foreach(group, params)
        is_sign = group["K"] == "sign"
        direction = direction_function(group["K"], group["K_options"])
        bufs = [C.state_buffer(self, p, "exp_avg", group["state_dtype"]) for p in params]
        if group.get("compile") and is_sign and all(b.dtype == p.dtype for b, p in zip(bufs, params, strict=False)):
            self._compiled_update(group, params, grads, bufs)
            return
        C.apply_decay(group, params, foreach)
        if foreach:
            moms = [C.compute_view(b, p) for b, p in zip(bufs, params, strict=False)]
            c = torch._foreach_lerp(moms, grads, 1.0 - beta1)
            if is_sign:
                signs = torch._foreach_sign(c)
                torch._foreach_mul_(c, 0.0)
                torch._foreach_add_(signs, c)
                c = signs
            else:
                c = [direction(ci) for ci in c]
            torch._foreach_add_(params, c, alpha=-lr)
            torch._foreach_lerp_(moms, grads, 1.0 - beta2)
            for b, m in zip(bufs, moms, strict=False):
                C.store_back(b, m)
            return
        for p, g, b in zip(params, grads, bufs, strict=False):
            m = C.compute_view(b, p)
            c = m * beta1
            c.add_(g, alpha=1.0 - beta1)
            p.add_(direction(c), alpha=-lr)
            m.mul_(beta2).add_(g, alpha=1.0 - beta2)
            C.store_back(b, m)

    def _compiled_update(self, group, params, grads, bufs):
        """One fused pass per tensor (torch.compile); lr and the decay factor are tensors, so an lr
        schedule does not trigger recompilation. Agrees with the eager paths to rounding."""
        key = id(group)
        if key not in self._lr_tensors:
            self._lr_tensors[key] = torch.zeros(2, dtype=torch.float64)
        scalars = self._lr_tensors[key]
        factor = C.decay_factor(group)
        scalars[0], scalars[1] = C.lr_of(group), 1.0 if factor is None else factor
        _fused_lion()(params, grads, bufs, scalars, *group["betas"])


class Lion(LionK):
    """Lion (Chen et al. 2023, Algorithm 2): ``LionK`` with ``K = ||.||_1``, i.e. the sign update.

    Defaults are those of google/automl and lucidrains/lion-pytorch: ``lr=1e-4, betas=(0.9, 0.99),
    weight_decay=0``. Moving from AdamW, use an lr 3-10x smaller and a weight decay 3-10x larger.
    Optimizer state: one tensor ``exp_avg`` per parameter (half of AdamW's).

    Example
    -------
    >>> import torch, optim.nn
    >>> w = torch.nn.Parameter(torch.ones(3))
    >>> opt = optim.nn.Lion([w], lr=0.1)
    >>> w.grad = torch.tensor([1.0, -2.0, 0.0]); _ = opt.step()
    >>> w.detach()
    tensor([0.9000, 1.1000, 1.0000])
    """

    def __init__(
        self,
        params,
        lr=1e-4,
        betas=(0.9, 0.99),
        weight_decay=0.0,
        *,
        decay_mode="lr_coupled",
        state_dtype=None,
        foreach=None,
        maximize=False,
        compile=False,
    ):
        super().__init__(
            params,
            lr=lr,
            betas=betas,
            weight_decay=weight_decay,
            K="sign",
            decay_mode=decay_mode,
            state_dtype=state_dtype,
            foreach=foreach,
            maximize=maximize,
            compile=compile,
        )


@functools.cache
def _fused_lion():
    """The Lion update of a list of tensors, compiled once per process (``torch.compile``)."""

    def update(params, grads, moms, scalars, beta1, beta2):
        lr, factor = scalars[0], scalars[1]
        for p, g, m in zip(params, grads, moms, strict=False):
            c = m * beta1 + g * (1.0 - beta1)
            p.copy_(p * factor.to(p.dtype) - lr.to(p.dtype) * (torch.sign(c) + c * 0.0))
            m.copy_(m * beta2 + g * (1.0 - beta2))

    return torch.compile(update, fullgraph=True)
